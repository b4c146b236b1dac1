//! The results matrix: every run folder's `results.json` under a directory, grouped by
//! workload × nemesis (with its target) × replication mode, as the Markdown table
//! `jepsen/RESULTS.md` shows (`jepsen table <dir>`).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use crate::checker::Validity;
use crate::error::{Error, Result};
use crate::runner::RunResults;

/// Reads every `<dir>/*/results.json`.
pub fn read_results(dir: &Path) -> Result<Vec<RunResults>> {
    let mut results = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let path = entry.map_err(|e| Error::io(dir, e))?.path().join("results.json");
        if !path.exists() {
            continue; // a run that failed before checking, or another folder
        }
        let text = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let r: RunResults = serde_json::from_slice(&text)
            .map_err(|source| Error::Json { file: path.display().to_string(), source })?;
        results.push(r);
    }
    Ok(results)
}

/// One cell of the matrix.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Cell {
    pub runs: usize,
    pub valid: usize,
    pub invalid: usize,
    pub unknown: usize,
    pub seconds: u64,
    pub ops: u64,
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
    pub faults: usize,
    pub anomalies: usize,
}

/// Groups runs by (workload, nemesis and target, replication).
pub fn cells(results: &[RunResults]) -> BTreeMap<(String, String, String), Cell> {
    let mut cells: BTreeMap<_, Cell> = BTreeMap::new();
    for r in results {
        let nemesis = match r.nemesis.as_str() {
            "kill" | "pause" => format!("{} {}", r.nemesis, r.target),
            _ => r.nemesis.clone(),
        };
        let cell = cells.entry((r.workload.clone(), nemesis, r.replication.clone())).or_default();
        cell.runs += 1;
        match r.valid {
            Validity::Valid => cell.valid += 1,
            Validity::Invalid => cell.invalid += 1,
            Validity::Unknown => cell.unknown += 1,
        }
        cell.seconds += r.time_limit_s as u64;
        cell.ops += r.operations as u64;
        cell.ok += r.counts.ok;
        cell.fail += r.counts.fail;
        cell.info += r.counts.info;
        cell.faults += r.faults.installed;
        cell.anomalies += r.check.anomalies.len();
    }
    cells
}

/// The matrix as a Markdown table.
pub fn markdown(results: &[RunResults]) -> String {
    let mut out = String::from(
        "| workload | nemesis | replication | runs | valid | seconds | operations | ok | fail | info | faults | anomalies |\n\
         |---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for ((workload, nemesis, replication), c) in cells(results) {
        let valid = if c.valid == c.runs {
            format!("{}/{}", c.valid, c.runs)
        } else {
            format!("**{}/{}**", c.valid, c.runs)
        };
        let anomalies =
            if c.anomalies == 0 { "0".to_string() } else { format!("**{}**", c.anomalies) };
        let _ = writeln!(
            out,
            "| {workload} | {nemesis} | {replication} | {} | {valid} | {} | {} | {} | {} | {} | {} | {anomalies} |",
            c.runs, c.seconds, c.ops, c.ok, c.fail, c.info, c.faults
        );
    }
    out
}
