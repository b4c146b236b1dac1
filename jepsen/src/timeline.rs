//! The nemesis timeline: what faults a run injected, when, and whether they took effect.
//!
//! Every nemesis action is one [`Fault`]: it starts when the nemesis begins to install it and
//! ends when it is healed (`end` is `None` only if the run stopped before healing, which the
//! runner reports as a failure of the harness, not of the cluster). Times are nanoseconds since
//! the run's start, the same clock as [`crate::Op::time`], so the report can shade fault
//! intervals behind the latency and throughput plots. The runner writes the timeline as
//! `nemesis.json` beside `history.jsonl`.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Whether a fault was really put in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultStatus {
    /// The fault was installed (packets dropped, process killed or stopped).
    Installed,
    /// The nemesis chose not to act (e.g. no master to cut while one is already cut).
    Skipped,
    /// The nemesis could not tell whether the fault was installed (a command timed out).
    Indeterminate,
}

/// One fault over an interval of the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// The nemesis that injected it, e.g. `partition-master`.
    pub nemesis: String,
    /// What exactly was done, e.g. `isolate partition-3 (master of shard 1)`.
    pub description: String,
    /// Nanoseconds since the run's start when the nemesis began to install it.
    pub start: u64,
    /// Nanoseconds since the run's start when it was healed.
    pub end: Option<u64>,
    pub status: FaultStatus,
}

/// Every fault of a run, in start order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeline {
    pub faults: Vec<Fault>,
}

impl Timeline {
    /// The faults that were installed (or may have been), which the report shades.
    pub fn effective(&self) -> impl Iterator<Item = &Fault> {
        self.faults.iter().filter(|f| f.status != FaultStatus::Skipped)
    }

    /// Writes the timeline as pretty JSON (`nemesis.json`).
    pub fn write(&self, path: &Path) -> Result<()> {
        let io = |source| Error::Io { context: format!("writing {}", path.display()), source };
        let mut out = BufWriter::new(File::create(path).map_err(io)?);
        serde_json::to_writer_pretty(&mut out, self)
            .map_err(|source| Error::Json { file: path.display().to_string(), source })?;
        out.write_all(b"\n").and_then(|()| out.flush()).map_err(io)
    }

    /// Reads a timeline written by [`Timeline::write`].
    pub fn read(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|source| Error::Io {
            context: format!("reading {}", path.display()),
            source,
        })?;
        serde_json::from_reader(BufReader::new(file))
            .map_err(|source| Error::Json { file: path.display().to_string(), source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeline_round_trips_through_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nemesis.json");
        let timeline = Timeline {
            faults: vec![
                Fault {
                    nemesis: "partition-master".into(),
                    description: "isolate partition-3".into(),
                    start: 1_000,
                    end: Some(9_000),
                    status: FaultStatus::Installed,
                },
                Fault {
                    nemesis: "kill".into(),
                    description: "no proxy left to kill".into(),
                    start: 10_000,
                    end: Some(10_000),
                    status: FaultStatus::Skipped,
                },
            ],
        };
        timeline.write(&path).unwrap();
        let back = Timeline::read(&path).unwrap();
        assert_eq!(back, timeline);
        assert_eq!(back.effective().count(), 1);
    }
}
