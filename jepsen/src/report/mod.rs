//! The run report: the plots of a finished run, drawn from the files the runner left in its
//! folder, as Jepsen draws them.
//!
//! [`render`] reads `history.jsonl` (the [`History`]) and `nemesis.json` (the [`Timeline`]) and
//! writes:
//! - `latency.svg`: Jepsen's `latency-raw` plot: one point per operation at its invoke time,
//!   its latency in ms on a log scale, coloured by outcome, one marker shape per function. An
//!   `info` operation that completed (its outcome became unknown: a timeout, a broken
//!   connection) is drawn at its measured latency; one that never completed is drawn at the
//!   timeout of [`Options::timeout`], or at the top edge without one, as its legend entry says.
//! - `rate.svg`: throughput, completions per second in buckets of [`Options::bucket`], one line
//!   per (function, outcome).
//! - `timeline.txt`: one line per fault of the timeline, skipped ones included.
//!
//! Both plots shade every effective fault ([`Timeline::effective`]: installed or
//! indeterminate) as a translucent band across the full height, one colour per nemesis, named
//! in the legend; a fault never healed extends to the end of the run.
//!
//! Text needs no font: plotters is built without its font features, so it estimates label
//! widths from the font size alone and writes text as SVG `<text>` for the viewer to set.
//!
//! # Layout
//! - this file: [`render`], [`render_with`], [`Options`], [`RenderedReport`], [`Error`], and
//!   the run's extent both plots share.
//! - [`latency`]: the points of the latency plot ([`latency::latency_points`]), their thinning
//!   to a pixel grid when there are too many ([`latency::thin`]), and `latency.svg`.
//! - [`rate`]: the counts per bucket per (function, outcome) ([`rate::buckets`]) and
//!   `rate.svg`.
//! - [`shading`]: the fault bands ([`shading::shading`]) and their colours, and `timeline.txt`.
//! - `frame` (private): the chart frame both plots share (size, margins, x axis in seconds,
//!   bands behind the data, legend outside it) and the colours and markers of the series.

pub mod latency;
pub mod rate;
pub mod shading;

mod frame;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::checker::Counts;
use crate::history::{History, Operation};
use crate::timeline::Timeline;

/// The history file a run's folder holds.
pub const HISTORY_FILE: &str = "history.jsonl";
/// The nemesis timeline file a run's folder holds.
pub const NEMESIS_FILE: &str = "nemesis.json";
/// The latency plot [`render`] writes.
pub const LATENCY_FILE: &str = "latency.svg";
/// The throughput plot [`render`] writes.
pub const RATE_FILE: &str = "rate.svg";
/// The fault list [`render`] writes.
pub const TIMELINE_FILE: &str = "timeline.txt";

/// What can go wrong rendering a report. A malformed input is an error, never a panic.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The history or the timeline could not be read, or the history does not pair up.
    #[error(transparent)]
    Input(#[from] crate::Error),
    /// Writing an output file failed.
    #[error("writing {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// plotters could not draw a plot.
    #[error("drawing {file}: {message}")]
    Draw { file: &'static str, message: String },
    /// The options make no sense (e.g. a zero bucket width).
    #[error("report options: {0}")]
    Options(String),
    /// The run is too long for the bucket width: its times are probably not nanoseconds.
    #[error(
        "a run of {duration:?} in buckets of {bucket:?} needs {buckets} buckets, more than \
         {max}: is the history's clock in nanoseconds?"
    )]
    TooManyBuckets { duration: Duration, bucket: Duration, buckets: u64, max: u64 },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How to draw the plots. The defaults suit a run of a few minutes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Width of the throughput buckets (default 1 s).
    pub bucket: Duration,
    /// The clients' operation timeout. With it, operations that never completed are drawn at
    /// this latency; without it (the default), at the top edge of the latency plot.
    pub timeout: Option<Duration>,
    /// At most this many markers on the latency plot (default 10 000, about 1 MB of SVG);
    /// beyond it points are thinned as [`latency::thin`] says.
    pub max_points: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options { bucket: Duration::from_secs(1), timeout: None, max_points: 10_000 }
    }
}

impl Options {
    /// Rejects options no plot can be drawn with.
    pub fn validate(&self) -> Result<()> {
        if self.bucket.is_zero() {
            return Err(Error::Options("the bucket width must be positive".to_owned()));
        }
        if self.timeout.is_some_and(|t| t.is_zero()) {
            return Err(Error::Options("the timeout must be positive".to_owned()));
        }
        if self.max_points == 0 {
            return Err(Error::Options("max_points must be at least 1".to_owned()));
        }
        Ok(())
    }
}

/// What [`render`] wrote and the figures the runner prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedReport {
    /// The files written, in the order `latency.svg`, `rate.svg`, `timeline.txt`.
    pub files: Vec<PathBuf>,
    /// From the run's start to its last record or fault boundary.
    pub duration: Duration,
    /// Operations on the latency plot by outcome (all of them, before any thinning).
    pub plotted: Counts,
    /// Of the `info` operations, those that never completed (drawn at the timeout or the edge).
    pub never_completed: u64,
    /// Markers actually drawn on the latency plot.
    pub drawn: usize,
    /// The side in pixels of the grid cells points were thinned to, if they were.
    pub thinning_cell: Option<u32>,
    /// Fault bands shaded (effective faults).
    pub faults_shaded: usize,
}

impl fmt::Display for RenderedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = self
            .files
            .iter()
            .map(|p| {
                p.file_name()
                    .map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into())
            })
            .collect();
        write!(
            f,
            "report: {} ({:.1} s; plotted {} ok, {} fail, {} info of which {} never completed; \
             {} faults shaded",
            names.join(", "),
            self.duration.as_secs_f64(),
            self.plotted.ok,
            self.plotted.fail,
            self.plotted.info,
            self.never_completed,
            self.faults_shaded,
        )?;
        if let Some(cell) = self.thinning_cell {
            write!(f, "; thinned to {} markers, one per {cell} px cell", self.drawn)?;
        }
        f.write_str(")")
    }
}

/// Renders the plots of a finished run from the files in `dir`, with the default
/// [`Options`]. A missing `nemesis.json` is a run without faults; a missing or malformed
/// `history.jsonl` is an error.
pub fn render(dir: &Path) -> Result<RenderedReport> {
    render_with(dir, &Options::default())
}

/// [`render`] with explicit options.
pub fn render_with(dir: &Path, options: &Options) -> Result<RenderedReport> {
    options.validate()?;
    let history = History::read_jsonl(&dir.join(HISTORY_FILE))?;
    let ops = history.operations()?;
    let nemesis = dir.join(NEMESIS_FILE);
    // A run with no nemesis may write no timeline; anything else wrong with it is an error.
    let timeline = match nemesis.try_exists() {
        Ok(false) => Timeline::default(),
        _ => Timeline::read(&nemesis)?,
    };
    let plots = draw(&ops, &timeline, options)?;
    let mut files = Vec::new();
    for (name, text) in
        [(LATENCY_FILE, &plots.latency), (RATE_FILE, &plots.rate), (TIMELINE_FILE, &plots.timeline)]
    {
        let path = dir.join(name);
        std::fs::write(&path, text)
            .map_err(|source| Error::Write { path: path.clone(), source })?;
        files.push(path);
    }
    Ok(RenderedReport { files, ..plots.report })
}

/// The texts of the three files and the figures, before anything is written.
struct Plots {
    latency: String,
    rate: String,
    timeline: String,
    /// Everything but `files`.
    report: RenderedReport,
}

fn draw(ops: &[Operation], timeline: &Timeline, options: &Options) -> Result<Plots> {
    let run_end = run_end(ops, timeline);
    let bands = shading::shading(timeline, run_end);
    let points = latency::latency_points(ops);
    let axes = latency::Axes::new(&points, run_end, options.timeout);
    let thinned = latency::thin(&points, &axes, options.max_points);
    let latency = latency::draw(&thinned.points, points.len(), thinned.cell, &bands, &axes)?;
    let series = rate::buckets(ops, options.bucket, run_end)?;
    let rate = rate::draw(&series, options.bucket, run_end, &bands)?;
    let report = RenderedReport {
        files: Vec::new(),
        duration: Duration::from_nanos(run_end),
        plotted: Counts::of(ops),
        never_completed: points.iter().filter(|p| p.latency.is_none()).count() as u64,
        drawn: thinned.points.len(),
        thinning_cell: thinned.cell,
        faults_shaded: bands.len(),
    };
    Ok(Plots { latency, rate, timeline: shading::timeline_text(timeline), report })
}

/// The end of the run in ns since its start: its last record or the last fault boundary,
/// whichever is later, so every band and every point lies within the plots.
pub fn run_end(ops: &[Operation], timeline: &Timeline) -> u64 {
    let ops_end = ops.iter().map(|op| op.end.unwrap_or(op.start)).max().unwrap_or(0);
    let faults_end =
        timeline.faults.iter().map(|f| f.end.unwrap_or(f.start).max(f.start)).max().unwrap_or(0);
    ops_end.max(faults_end)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::history::{Op, Outcome, Recorder, Value, F};
    use crate::timeline::{Fault, FaultStatus};

    const S: u64 = 1_000_000_000;
    const MS: u64 = 1_000_000;

    /// A 10-second run: 4 processes, one operation each every 100 ms with latencies from
    /// 1 to 40 ms, every 10th a cas that fails, every 25th a write that times out at 1 s, and
    /// the last operation of process 3 never completes.
    fn sample_history() -> Vec<(Op, u64)> {
        let mut records = Vec::new();
        for p in 0..4u64 {
            let mut t = p * 7 * MS;
            let mut i = 0u64;
            while t + 1_200 * MS < 10 * S {
                let (f, value) = match i % 3 {
                    0 => (F::Read, Value::Null),
                    1 => (F::Write, Value::Int(i as i64)),
                    _ => (F::Cas, Value::Cas { old: Some(1), new: 2 }),
                };
                let invoke = Op::invoke(p, f, Some("k"), value.clone());
                let latency = (1 + (i * 7 + p) % 40) * MS;
                let done = if i % 25 == 24 && f == F::Write {
                    records.push((invoke.clone(), t));
                    (invoke.info("timeout"), t + S)
                } else if f == F::Cas && i % 10 == 5 {
                    records.push((invoke.clone(), t));
                    (invoke.fail("mismatch"), t + latency)
                } else {
                    records.push((invoke.clone(), t));
                    (invoke.ok(value), t + latency)
                };
                let end = done.1;
                records.push(done);
                t = end + 100 * MS;
                i += 1;
            }
        }
        // Every operation above ended by 9.8 s.
        records.push((Op::invoke(3, F::Read, Some("k"), Value::Null), 9_900 * MS));
        // The last record closes the run at exactly 10 s.
        records.push((Op::invoke(0, F::Read, Some("k"), Value::Null), 9_950 * MS));
        let last = records.last().unwrap().0.clone();
        records.push((last.ok(Value::Null), 10 * S));
        records.sort_by_key(|(_, t)| *t);
        records
    }

    fn sample_timeline() -> Timeline {
        let fault = |nemesis: &str, start, end, status| Fault {
            nemesis: String::from(nemesis),
            description: format!("{nemesis} fault"),
            start,
            end,
            status,
        };
        Timeline {
            faults: vec![
                fault("partition-master", 2 * S, Some(4 * S), FaultStatus::Installed),
                fault("kill", 5 * S, Some(5_500 * MS), FaultStatus::Skipped),
                fault("pause", 7_500 * MS, None, FaultStatus::Indeterminate),
            ],
        }
    }

    /// Writes a run folder: `history.jsonl` of `records` (recorded at their times) and, if
    /// given, `nemesis.json`.
    fn must_write_run(records: &[(Op, u64)], timeline: Option<&Timeline>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let mut recorder = Recorder::create(&dir.path().join(HISTORY_FILE)).unwrap();
        // Completions must refer to the stamped invoke; the recorder stamps indexes itself.
        for (op, time) in records {
            recorder.record_at(op.clone(), *time).unwrap();
        }
        recorder.finish().unwrap();
        if let Some(timeline) = timeline {
            timeline.write(&dir.path().join(NEMESIS_FILE)).unwrap();
        }
        dir
    }

    /// The elements of an SVG in document order, as (name, attributes), checked to be
    /// well-formed enough for a browser: tags nest and close, attributes are quoted, nothing
    /// but whitespace after the root.
    fn must_parse_svg(svg: &str) -> Vec<(String, HashMap<String, String>)> {
        let mut elements = Vec::new();
        let mut open: Vec<String> = Vec::new();
        let mut rest = svg;
        while let Some(at) = rest.find('<') {
            let end = at + rest[at..].find('>').expect("a tag is never closed");
            let tag = &rest[at + 1..end];
            rest = &rest[end + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(open.pop().as_deref(), Some(name.trim()), "mismatched </{name}>");
                continue;
            }
            let self_closing = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let (name, mut text) = tag.split_once(char::is_whitespace).unwrap_or((tag, ""));
            let mut attrs = HashMap::new();
            loop {
                text = text.trim_start();
                if text.is_empty() {
                    break;
                }
                let (key, after) = text.split_once("=\"").expect("an unquoted attribute");
                let (value, after) = after.split_once('"').expect("an unterminated attribute");
                let dup = attrs.insert(key.to_owned(), value.to_owned());
                assert!(dup.is_none(), "duplicate attribute {key} in <{tag}>");
                text = after;
            }
            assert!(
                open.is_empty() == (name == "svg"),
                "<{name}> outside <svg>, or a nested <svg>"
            );
            if !self_closing {
                open.push(name.to_owned());
                // The element's text, as a pseudo-attribute (plotters writes no mixed content).
                let text = &rest[..rest.find('<').unwrap_or(rest.len())];
                attrs.insert("#text".to_owned(), text.trim().to_owned());
            }
            elements.push((name.to_owned(), attrs));
        }
        assert!(open.is_empty(), "unclosed {open:?}");
        assert!(rest.trim().is_empty(), "text after the root: {rest:?}");
        elements
    }

    fn num(attrs: &HashMap<String, String>, key: &str) -> f64 {
        attrs[key].parse().unwrap_or_else(|_| panic!("{key}={:?} is not a number", attrs[key]))
    }

    /// The fault bands of a plot: rects at the band opacity, as (x0, x1, y0, y1, fill).
    fn band_rects(svg: &str) -> Vec<(f64, f64, f64, f64, String)> {
        must_parse_svg(svg)
            .into_iter()
            .filter(|(name, attrs)| {
                name == "rect" && attrs["opacity"] == frame::BAND_OPACITY.to_string()
            })
            .map(|(_, a)| {
                let (x, y) = (num(&a, "x"), num(&a, "y"));
                (x, x + num(&a, "width"), y, y + num(&a, "height"), a["fill"].clone())
            })
            .collect()
    }

    /// The pixel column plotters maps `t` ns to, on an x axis of `run_end` ns.
    fn expected_x(t: u64, run_end: u64) -> f64 {
        let frac = t as f64 / run_end as f64;
        f64::from(frame::PLOT_LEFT) + (f64::from(frame::PLOT_WIDTH - 1) * frac).floor()
    }

    fn assert_near(got: f64, want: f64, what: &str) {
        assert!((got - want).abs() <= 1.0, "{what}: {got}, expected {want} ± 1");
    }

    #[test]
    fn render_writes_the_plots_the_timeline_and_the_figures() {
        let records = sample_history();
        let dir = must_write_run(&records, Some(&sample_timeline()));
        let report = render(dir.path()).unwrap();
        let names: Vec<_> =
            report.files.iter().map(|p| p.strip_prefix(dir.path()).unwrap()).collect();
        assert_eq!(
            names,
            [Path::new(LATENCY_FILE), Path::new(RATE_FILE), Path::new(TIMELINE_FILE)]
        );
        for file in &report.files {
            assert!(std::fs::metadata(file).unwrap().len() > 0, "{}", file.display());
        }
        let ops =
            History::read_jsonl(&dir.path().join(HISTORY_FILE)).unwrap().operations().unwrap();
        let counts = Counts::of(&ops);
        assert!(counts.ok > 100 && counts.fail > 0 && counts.info > 1, "{counts:?}");
        assert_eq!(report.duration, Duration::from_secs(10));
        assert_eq!(report.plotted, counts);
        assert_eq!(report.never_completed, 1);
        assert_eq!((report.drawn, report.thinning_cell), (ops.len(), None));
        assert_eq!(report.faults_shaded, 2, "the skipped kill is not shaded");
        let line = report.to_string();
        assert!(line.contains("latency.svg, rate.svg, timeline.txt"), "{line}");
        assert!(
            line.contains(&format!(
                "plotted {} ok, {} fail, {} info",
                counts.ok, counts.fail, counts.info
            )),
            "{line}"
        );
        let timeline = std::fs::read_to_string(dir.path().join(TIMELINE_FILE)).unwrap();
        assert_eq!(timeline, shading::timeline_text(&sample_timeline()));
        assert_eq!(timeline.lines().count(), 4, "{timeline}");
    }

    #[test]
    fn faults_are_shaded_over_their_interval_across_the_full_height() {
        let dir = must_write_run(&sample_history(), Some(&sample_timeline()));
        render(dir.path()).unwrap();
        let run_end = 10 * S;
        let colors: HashMap<_, _> = shading::colors(&shading::shading(&sample_timeline(), run_end))
            .into_iter()
            .map(|(name, c)| (name, format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)))
            .collect();
        // Drawn at the bottom edge of the plotting area, whose last row is one pixel above
        // the x label area.
        let bottom = f64::from(frame::HEIGHT - frame::MARGIN - frame::X_LABEL_AREA - 1);
        for file in [LATENCY_FILE, RATE_FILE] {
            let svg = std::fs::read_to_string(dir.path().join(file)).unwrap();
            let bands = band_rects(&svg);
            assert_eq!(
                bands.len(),
                2,
                "{file}: one band per effective fault, none for the skipped one"
            );
            let (x0, x1, y0, y1, fill) = &bands[0];
            assert_eq!(*fill, colors["partition-master"], "{file}");
            assert_near(*x0, expected_x(2 * S, run_end), file);
            assert_near(*x1, expected_x(4 * S, run_end), file);
            assert_near(*y1, bottom, file);
            assert!(*y0 > f64::from(frame::MARGIN) && *y0 < 50.0, "{file}: top at {y0}");
            // The pause was never healed: it extends to the right edge, the run's end.
            let (px0, px1, py0, py1, pfill) = &bands[1];
            assert_eq!(*pfill, colors["pause"], "{file}");
            assert_near(*px0, expected_x(7_500 * MS, run_end), file);
            assert_near(*px1, f64::from(frame::PLOT_LEFT + frame::PLOT_WIDTH - 1), file);
            assert_eq!((py0, py1), (y0, y1), "{file}: every band spans the full height");
            // The x axis (its ticks are below the plot) is in seconds over the whole run.
            let tick = |label: &str| {
                let texts = must_parse_svg(&svg);
                let (_, attrs) = texts
                    .iter()
                    .find(|(name, a)| name == "text" && a["#text"] == label && num(a, "y") > bottom)
                    .unwrap_or_else(|| panic!("{file}: no tick {label}"));
                num(attrs, "x")
            };
            assert_near(tick("5.0"), expected_x(5 * S, run_end), file);
            assert_near(tick("10.0"), expected_x(10 * S, run_end), file);
            assert!(svg.contains(">\npartition-master\n</text>"), "{file}: legend");
            assert!(svg.contains(">\npause\n</text>"), "{file}: legend");
            assert!(!svg.contains(">\nkill\n</text>"), "{file}: the skipped kill is in no legend");
        }
    }

    #[test]
    fn the_run_ends_at_its_last_record_or_fault_boundary() {
        let dir = must_write_run(&sample_history(), None);
        let ops =
            History::read_jsonl(&dir.path().join(HISTORY_FILE)).unwrap().operations().unwrap();
        assert_eq!(run_end(&ops, &Timeline::default()), 10 * S);
        let mut timeline = sample_timeline();
        assert_eq!(run_end(&ops, &timeline), 10 * S, "the open pause starts before the end");
        timeline.faults[0].end = Some(12 * S);
        assert_eq!(run_end(&ops, &timeline), 12 * S, "a fault healed after the last record");
        timeline.faults[2].start = 13 * S;
        assert_eq!(run_end(&ops, &timeline), 13 * S, "an open fault begun after it");
        assert_eq!(run_end(&[], &Timeline::default()), 0);
        // An operation that never completed ends the run no earlier than its invoke.
        let invoke = Op::invoke(0, F::Read, None, Value::Null);
        let ops = History::from_ops(vec![Op { time: 7, ..invoke }]).operations().unwrap();
        assert_eq!(run_end(&ops, &Timeline::default()), 7);
    }

    #[test]
    fn an_open_fault_extends_to_the_end_of_the_run() {
        // The run's last record is at 10 s; a fault opened at 5 s and never healed.
        let timeline = Timeline {
            faults: vec![Fault {
                nemesis: "kill".into(),
                description: "kill -9 partition-1".into(),
                start: 5 * S,
                end: None,
                status: FaultStatus::Installed,
            }],
        };
        let dir = must_write_run(&sample_history(), Some(&timeline));
        render(dir.path()).unwrap();
        let svg = std::fs::read_to_string(dir.path().join(LATENCY_FILE)).unwrap();
        let bands = band_rects(&svg);
        assert_eq!(bands.len(), 1);
        assert_near(bands[0].0, expected_x(5 * S, 10 * S), "start");
        assert_near(bands[0].1, f64::from(frame::PLOT_LEFT + frame::PLOT_WIDTH - 1), "end");
    }

    #[test]
    fn an_instant_fault_is_still_a_visible_band() {
        // A kill healed at once: a zero-length interval, which is drawn a pixel wide.
        let timeline = Timeline {
            faults: vec![Fault {
                nemesis: "kill".into(),
                description: "kill -9 proxy-1, restarted".into(),
                start: 5 * S,
                end: Some(5 * S),
                status: FaultStatus::Installed,
            }],
        };
        let dir = must_write_run(&sample_history(), Some(&timeline));
        render(dir.path()).unwrap();
        let svg = std::fs::read_to_string(dir.path().join(RATE_FILE)).unwrap();
        let bands = band_rects(&svg);
        assert_eq!(bands.len(), 1);
        assert_near(bands[0].0, expected_x(5 * S, 10 * S), "start");
        assert_eq!(bands[0].1 - bands[0].0, 1.0, "a pixel wide");
    }

    #[test]
    fn every_operation_is_a_point_where_it_happened() {
        let dir = must_write_run(&sample_history(), Some(&sample_timeline()));
        render(dir.path()).unwrap();
        let ops =
            History::read_jsonl(&dir.path().join(HISTORY_FILE)).unwrap().operations().unwrap();
        let svg = std::fs::read_to_string(dir.path().join(LATENCY_FILE)).unwrap();
        let elements = must_parse_svg(&svg);
        let ok = frame::outcome_color(Outcome::Ok);
        let ok = format!("#{:02X}{:02X}{:02X}", ok.0, ok.1, ok.2);
        // Reads are filled circles; the legend's swatch is the last one.
        let mut circles: Vec<(f64, f64)> = elements
            .iter()
            .filter(|(name, a)| name == "circle" && a["fill"] == ok)
            .map(|(_, a)| (num(a, "cx"), num(a, "cy")))
            .collect();
        let swatch = circles.pop().unwrap();
        assert!(swatch.0 > f64::from(frame::PLOT_LEFT + frame::PLOT_WIDTH), "{swatch:?}");
        let reads: Vec<_> =
            ops.iter().filter(|op| op.f == F::Read && op.outcome == Outcome::Ok).collect();
        assert_eq!(circles.len(), reads.len());
        // Latencies run from 1 ms to 1 s (the info writes): the y axis spans 0.1 ms to 10 s,
        // whole decades with room to spare. The plot's rows are a band's.
        let (_, _, top, bottom, _) = band_rects(&svg)[0].clone();
        for (read, (cx, cy)) in reads.iter().zip(&circles) {
            assert_near(*cx, expected_x(read.start, 10 * S), "x");
            let latency_ms = (read.end.unwrap() - read.start) as f64 / 1e6;
            let up = (latency_ms.log10() + 1.0) / 5.0;
            let want = bottom - (bottom - top) * up;
            assert!((cy - want).abs() <= 2.0, "{read}: y {cy}, expected {want}");
        }
    }

    #[test]
    fn legends_say_where_unfinished_operations_are() {
        let dir = must_write_run(&sample_history(), Some(&sample_timeline()));
        render(dir.path()).unwrap();
        let svg = std::fs::read_to_string(dir.path().join(LATENCY_FILE)).unwrap();
        for series in ["read ok", "write ok", "write info", "cas ok", "cas fail"] {
            assert!(svg.contains(&format!(">\n{series}\n</text>")), "{series}");
        }
        assert!(svg.contains(">\nread info, never completed: at top\n</text>"));
        assert!(!svg.contains(">\nread fail\n</text>"), "no read failed");

        let options = Options { timeout: Some(Duration::from_secs(2)), ..Options::default() };
        render_with(dir.path(), &options).unwrap();
        let svg = std::fs::read_to_string(dir.path().join(LATENCY_FILE)).unwrap();
        assert!(svg.contains(">\nread info, never completed: at 2s\n</text>"));
        let rate = std::fs::read_to_string(dir.path().join(RATE_FILE)).unwrap();
        for series in ["read ok", "write ok", "write info", "cas ok", "cas fail"] {
            assert!(rate.contains(&format!(">\n{series}\n</text>")), "{series}");
        }
        assert!(!rate.contains(">\nread info\n</text>"), "a read that never completed has no rate");
    }

    #[test]
    fn an_empty_history_still_renders() {
        let dir = must_write_run(&[], None);
        let report = render(dir.path()).unwrap();
        assert_eq!(report.files.len(), 3);
        assert_eq!((report.plotted, report.drawn, report.faults_shaded), (Counts::default(), 0, 0));
        assert_eq!(report.duration, Duration::ZERO);
        for file in [LATENCY_FILE, RATE_FILE] {
            let svg = std::fs::read_to_string(dir.path().join(file)).unwrap();
            let elements = must_parse_svg(&svg);
            assert_eq!(elements[0].0, "svg");
            assert!(band_rects(&svg).is_empty());
        }
        let timeline = std::fs::read_to_string(dir.path().join(TIMELINE_FILE)).unwrap();
        assert_eq!(timeline.lines().count(), 1, "only the header: {timeline}");
    }

    #[test]
    fn malformed_inputs_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let err = render(dir.path()).unwrap_err();
        assert!(matches!(err, Error::Input(crate::Error::Io { .. })), "{err}");

        std::fs::write(dir.path().join(HISTORY_FILE), "{\"index\":0}\n").unwrap();
        let err = render(dir.path()).unwrap_err();
        assert!(matches!(err, Error::Input(crate::Error::Parse { line: 1, .. })), "{err}");

        let done = Op::invoke(1, F::Read, None, Value::Null).ok(Value::Null);
        let dir = must_write_run(&[(done, 5)], None);
        let err = render(dir.path()).unwrap_err();
        assert!(matches!(err, Error::Input(crate::Error::CompletionWithoutInvoke { .. })), "{err}");

        let dir = must_write_run(&sample_history(), None);
        std::fs::write(dir.path().join(NEMESIS_FILE), "{\"faults\": 3}").unwrap();
        let err = render(dir.path()).unwrap_err();
        assert!(matches!(err, Error::Input(crate::Error::Json { .. })), "{err}");
        assert!(!dir.path().join(LATENCY_FILE).exists(), "nothing is written on error");
    }

    #[test]
    fn bad_options_are_errors() {
        let dir = must_write_run(&sample_history(), None);
        for options in [
            Options { bucket: Duration::ZERO, ..Options::default() },
            Options { timeout: Some(Duration::ZERO), ..Options::default() },
            Options { max_points: 0, ..Options::default() },
        ] {
            let err = render_with(dir.path(), &options).unwrap_err();
            assert!(matches!(err, Error::Options(_)), "{options:?}: {err}");
        }
        // A clock in the wrong unit: a run "lasting" 300 years.
        let options = Options { bucket: Duration::from_millis(1), ..Options::default() };
        let op = Op::invoke(0, F::Read, None, Value::Null);
        let dir = must_write_run(&[(op.clone(), 0), (op.ok(Value::Null), u64::MAX / 2)], None);
        let err = render_with(dir.path(), &options).unwrap_err();
        assert!(matches!(err, Error::TooManyBuckets { .. }), "{err}");
    }

    #[test]
    fn a_large_history_is_thinned_to_a_small_svg() {
        // 500 000 operations of 50 clients over 5 minutes, latencies over four decades, a
        // partition in the middle: drawn from memory, the file format is tested above.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let ops: Vec<Operation> = (0..500_000u64)
            .map(|i| {
                let start = i * 600_000;
                let latency = 100_000 * (1 + next() % 1000) * (1 + next() % 10);
                let (f, outcome) = match next() % 100 {
                    0 => (F::Write, Outcome::Info),
                    1..=4 => (F::Cas, Outcome::Fail),
                    5..=40 => (F::Write, Outcome::Ok),
                    _ => (F::Read, Outcome::Ok),
                };
                Operation {
                    process: i % 50,
                    f,
                    key: None,
                    value: Value::Null,
                    output: Value::Null,
                    outcome,
                    invoke_index: 2 * i,
                    complete_index: Some(2 * i + 1),
                    start,
                    end: Some(start + latency),
                    error: None,
                }
            })
            .collect();
        let timeline = Timeline {
            faults: vec![Fault {
                nemesis: "partition-halves".into(),
                description: "split".into(),
                start: 100 * S,
                end: Some(160 * S),
                status: FaultStatus::Installed,
            }],
        };
        let plots = draw(&ops, &timeline, &Options::default()).unwrap();
        let report = plots.report;
        assert_eq!(report.plotted.ok + report.plotted.fail + report.plotted.info, 500_000);
        assert!(report.drawn <= 10_000, "{}", report.drawn);
        assert!(report.thinning_cell.is_some());
        assert!(plots.latency.len() < 1_500_000, "latency.svg of {} bytes", plots.latency.len());
        assert!(plots.rate.len() < 200_000, "rate.svg of {} bytes", plots.rate.len());
        assert_eq!(band_rects(&plots.latency).len(), 1);
        assert!(plots.latency.contains("Latency of 500000 operations ("), "the caption says so");
    }
}
