//! `rate.svg`: throughput against time, completions per second in fixed buckets, one line per
//! (function, outcome), as Jepsen's rate plot.

use std::time::Duration;

use plotters::prelude::*;

use super::frame::{self, drawing, outcome_color, outcome_name, with_marker, Legend};
use super::shading::Band;
use super::{Error, Result};
use crate::history::{Operation, Outcome, F};

const FILE: &str = super::RATE_FILE;

/// More buckets than this is a mistake (a bucket of a microsecond, or a clock not in ns), not
/// a plot: refuse rather than allocate without bound.
pub const MAX_BUCKETS: u64 = 100_000;

/// The counts of one (function, outcome) per bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateSeries {
    pub f: F,
    pub outcome: Outcome,
    /// `counts[i]`: operations that completed in `[i·width, (i+1)·width)`; the last bucket also
    /// holds those completed exactly at the run's end.
    pub counts: Vec<u64>,
}

/// Counts completions per bucket of `width` over `[0, run_end]`, one series per (function,
/// outcome) that occurs, in the order read, write, cas, add, append, incr × ok, fail, info.
/// An operation counts at its completion time, as in Jepsen; one that never completed has no
/// completion and is not counted. Every series has the same number of buckets,
/// `⌈run_end / width⌉` (at least one).
pub fn buckets(ops: &[Operation], width: Duration, run_end: u64) -> Result<Vec<RateSeries>> {
    let w = u64::try_from(width.as_nanos()).unwrap_or(u64::MAX);
    if w == 0 {
        return Err(Error::Options("the bucket width must be positive".to_owned()));
    }
    let n = run_end.div_ceil(w).max(1);
    if n > MAX_BUCKETS {
        return Err(Error::TooManyBuckets {
            duration: Duration::from_nanos(run_end),
            bucket: width,
            buckets: n,
            max: MAX_BUCKETS,
        });
    }
    let index = |f: F, outcome: Outcome| {
        let fi = frame::FUNCTIONS.iter().position(|&g| g == f).unwrap_or(0);
        let oi = frame::OUTCOMES.iter().position(|&o| o == outcome).unwrap_or(0);
        fi * frame::OUTCOMES.len() + oi
    };
    let mut table: Vec<Option<Vec<u64>>> =
        vec![None; frame::FUNCTIONS.len() * frame::OUTCOMES.len()];
    for op in ops {
        let Some(end) = op.end else { continue };
        // An op past `run_end` cannot happen when `run_end` came from `super::run_end`; clamp
        // anyway rather than index out of bounds.
        let bucket = (end / w).min(n - 1) as usize;
        table[index(op.f, op.outcome)].get_or_insert_with(|| vec![0; n as usize])[bucket] += 1;
    }
    let mut series = Vec::new();
    for f in frame::FUNCTIONS {
        for outcome in frame::OUTCOMES {
            if let Some(counts) = table[index(f, outcome)].take() {
                series.push(RateSeries { f, outcome, counts });
            }
        }
    }
    Ok(series)
}

/// The points of a series' line: (bucket midpoint in s, ops/s). The midpoint of the last,
/// partial bucket is clamped to the run's end so the line stays inside the plot.
pub fn rate_points(series: &RateSeries, width: Duration, run_end: u64) -> Vec<(f64, f64)> {
    let w = width.as_secs_f64();
    let end = frame::x_range_secs(run_end).end;
    series
        .counts
        .iter()
        .enumerate()
        .map(|(i, &count)| (((i as f64 + 0.5) * w).min(end), count as f64 / w))
        .collect()
}

/// Draws `rate.svg` over `bands`.
pub(crate) fn draw(
    series: &[RateSeries],
    width: Duration,
    run_end: u64,
    bands: &[Band],
) -> Result<String> {
    let lines: Vec<(&RateSeries, Vec<(f64, f64)>)> =
        series.iter().map(|s| (s, rate_points(s, width, run_end))).collect();
    let max = lines.iter().flat_map(|(_, ps)| ps.iter().map(|p| p.1)).fold(0.0, f64::max);
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (frame::WIDTH, frame::HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing(FILE))?;
        let caption = format!("Throughput (completions per second, {width:?} buckets)");
        let y = 0.0..(max * 1.1).max(1.0);
        let mut chart = frame::build(&root, FILE, &caption, run_end, y)?;
        chart
            .configure_mesh()
            .x_desc("time since the run's start (s)")
            .y_desc("throughput (ops/s)")
            .label_style(frame::TICK_FONT)
            .axis_desc_style(frame::DESC_FONT)
            .light_line_style(BLACK.mix(0.04))
            .bold_line_style(BLACK.mix(0.12))
            .draw()
            .map_err(drawing(FILE))?;
        let mut legend = Legend::new(FILE);
        frame::draw_bands(&root, &mut chart, &mut legend, bands)?;
        if !lines.is_empty() {
            legend.heading(&root, "completions")?;
        }
        for (s, points) in &lines {
            let (f, color) = (s.f, outcome_color(s.outcome));
            let style = ShapeStyle::from(color).stroke_width(2);
            // Markers tell the functions apart where lines of one colour cross; about 60 per
            // line, so short buckets over a long run do not bury the lines.
            let every = points.len().div_ceil(60).max(1);
            with_marker!(f, color.to_rgba(), true, |point, swatch| {
                chart
                    .draw_series(LineSeries::new(points.iter().copied(), style))
                    .map_err(drawing(FILE))?;
                root.draw(&swatch(legend.at())).map_err(drawing(FILE))?;
                legend.entry(&root, &format!("{f} {}", outcome_name(s.outcome)))?;
                let markers = points.iter().step_by(every).map(|&at| point(at));
                chart.draw_series(markers).map_err(drawing(FILE))?;
            });
        }
        root.present().map_err(drawing(FILE))?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completed(f: F, outcome: Outcome, end: Option<u64>) -> Operation {
        Operation {
            process: 0,
            f,
            key: None,
            value: crate::Value::Null,
            output: crate::Value::Null,
            outcome,
            invoke_index: 0,
            complete_index: None,
            start: 0,
            end,
            error: None,
        }
    }

    const S: u64 = 1_000_000_000;

    #[test]
    fn counts_completions_per_bucket_per_function_and_outcome() {
        let ops = [
            completed(F::Write, Outcome::Ok, Some(S / 2)),
            completed(F::Read, Outcome::Ok, Some(S / 10)),
            completed(F::Read, Outcome::Ok, Some(S - 1)),
            completed(F::Read, Outcome::Ok, Some(S)),
            completed(F::Read, Outcome::Info, Some(2 * S + 5)),
            completed(F::Read, Outcome::Info, None),
            completed(F::Read, Outcome::Fail, Some(3 * S)),
        ];
        let series = buckets(&ops, Duration::from_secs(1), 3 * S).unwrap();
        let got: Vec<_> = series.iter().map(|s| (s.f, s.outcome, s.counts.clone())).collect();
        assert_eq!(
            got,
            [
                (F::Read, Outcome::Ok, vec![2, 1, 0]),
                (F::Read, Outcome::Fail, vec![0, 0, 1]),
                (F::Read, Outcome::Info, vec![0, 0, 1]),
                (F::Write, Outcome::Ok, vec![1, 0, 0]),
            ]
        );
    }

    #[test]
    fn bucket_width_is_configurable() {
        let ops: Vec<_> =
            (0..10).map(|i| completed(F::Add, Outcome::Ok, Some(i * S / 10))).collect();
        let series = buckets(&ops, Duration::from_millis(250), S).unwrap();
        assert_eq!(series[0].counts, [3, 2, 3, 2]);
        let points = rate_points(&series[0], Duration::from_millis(250), S);
        assert_eq!(points, [(0.125, 12.0), (0.375, 8.0), (0.625, 12.0), (0.875, 8.0)]);
    }

    #[test]
    fn an_empty_history_has_one_empty_bucket_and_no_series() {
        assert_eq!(buckets(&[], Duration::from_secs(1), 0).unwrap(), []);
    }

    #[test]
    fn absurd_bucket_counts_are_an_error() {
        let err = buckets(&[], Duration::from_nanos(1), 60 * S).unwrap_err();
        assert!(matches!(err, Error::TooManyBuckets { buckets: 60_000_000_000, .. }), "{err}");
        let err = buckets(&[], Duration::ZERO, S).unwrap_err();
        assert!(matches!(err, Error::Options(_)), "{err}");
    }
}
