//! `latency.svg`, Jepsen's `latency-raw` plot: one point per operation, at its invoke time
//! across and its latency up on a log scale, coloured by outcome, one marker per function.
//!
//! Large histories are thinned ([`thin`]): a run of 500 000 operations would otherwise be an
//! SVG of 40 MB that no browser draws smoothly, and most of its points would lie under others.

use std::collections::HashMap;
use std::time::Duration;

use plotters::prelude::*;

use super::frame::{self, drawing, outcome_color, outcome_name, secs, with_marker, Legend};
use super::shading::Band;
use super::Result;
use crate::history::{Operation, Outcome, F};

const FILE: &str = super::LATENCY_FILE;

/// Latencies below a microsecond are drawn at a microsecond: a log scale has no zero.
pub const FLOOR_MS: f64 = 1e-3;

/// One operation on the latency plot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencyPoint {
    pub f: F,
    pub outcome: Outcome,
    /// Invoke time, ns since the run's start (the x axis).
    pub start: u64,
    /// Completion time minus invoke time, ns; `None` for an operation that never completed.
    pub latency: Option<u64>,
}

/// One point per operation, in invoke order. An `info` operation that completed has the
/// latency until its outcome became unknown (for a timeout, the timeout).
pub fn latency_points(ops: &[Operation]) -> Vec<LatencyPoint> {
    ops.iter()
        .map(|op| LatencyPoint {
            f: op.f,
            outcome: op.outcome,
            start: op.start,
            latency: op.end.map(|end| end.saturating_sub(op.start)),
        })
        .collect()
}

/// Where operations that never completed are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unfinished {
    /// At the clients' timeout.
    Timeout(Duration),
    /// At the top edge of the plot (no timeout known).
    TopEdge,
}

/// The axes of the latency plot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Axes {
    /// The run's end, ns: the x axis spans `[0, run_end]` (at least a second).
    pub run_end: u64,
    /// The y axis in ms, whole decades around every latency drawn.
    pub lo_ms: f64,
    pub hi_ms: f64,
    /// Where operations that never completed are drawn.
    pub unfinished: Unfinished,
}

impl Axes {
    /// Axes that hold every point (and the timeout, if operations are drawn at it).
    pub fn new(points: &[LatencyPoint], run_end: u64, timeout: Option<Duration>) -> Axes {
        let mut latencies: Vec<f64> =
            points.iter().filter_map(|p| p.latency).map(|ns| ms(ns).max(FLOOR_MS)).collect();
        let unfinished = match timeout {
            Some(t) => Unfinished::Timeout(t),
            None => Unfinished::TopEdge,
        };
        if let Unfinished::Timeout(t) = unfinished {
            if points.iter().any(|p| p.latency.is_none()) {
                latencies.push((t.as_secs_f64() * 1e3).max(FLOOR_MS));
            }
        }
        let min = latencies.iter().copied().fold(f64::INFINITY, f64::min);
        let max = latencies.iter().copied().fold(0.0, f64::max);
        let (lo_ms, hi_ms) = if latencies.is_empty() {
            (0.1, 1000.0)
        } else {
            // Whole decades, with a fifth to spare, so no point lies on the frame.
            let lo = 10f64.powf((min / 1.2).log10().floor());
            let mut hi = 10f64.powf((max * 1.2).log10().ceil());
            // One decade at least, so a run of equal latencies has an axis.
            if hi <= lo {
                hi = lo * 10.0;
            }
            // Unfinished operations at the top edge must not be confused with the slowest
            // completed ones (a 1 s timeout is exactly a decade): keep those well below it.
            let at_top =
                unfinished == Unfinished::TopEdge && points.iter().any(|p| p.latency.is_none());
            if at_top && max * 2.0 > hi {
                hi *= 10.0;
            }
            (lo, hi)
        };
        Axes { run_end, lo_ms, hi_ms, unfinished }
    }

    /// The y value (ms) `point` is drawn at.
    pub fn y_ms(&self, point: &LatencyPoint) -> f64 {
        match (point.latency, self.unfinished) {
            (Some(ns), _) => ms(ns).max(FLOOR_MS),
            (None, Unfinished::Timeout(t)) => (t.as_secs_f64() * 1e3).max(FLOOR_MS),
            (None, Unfinished::TopEdge) => self.hi_ms,
        }
    }

    /// Roughly where `point` lands in the plotting area, in pixels from its bottom left.
    /// Thinning needs no more than that: the grid is not the exact pixel grid anyway.
    fn pixel(&self, point: &LatencyPoint) -> (f64, f64) {
        let x = secs(point.start) / frame::x_range_secs(self.run_end).end;
        let span = self.hi_ms.log10() - self.lo_ms.log10();
        let y = (self.y_ms(point).log10() - self.lo_ms.log10()) / span;
        (x * f64::from(frame::PLOT_WIDTH), y * f64::from(frame::PLOT_HEIGHT_ABOUT))
    }
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// The points to draw and how they were thinned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thinned {
    pub points: Vec<LatencyPoint>,
    /// The side in pixels of the grid cell, if points were thinned.
    pub cell: Option<u32>,
}

/// Keeps at most `max_points` points (about: see below) without changing the picture much.
///
/// Up to `max_points` every point is drawn. Beyond, a grid is laid over the plotting area and
/// each series (function, outcome, completed or not) keeps one point in each cell it
/// occupies: the cell starts at one pixel and grows by about √2 until at most `max_points`
/// points remain, or a cell covers the whole plot (then one point per series is left).
/// Every occupied cell keeps a point, so a lone outlier is never dropped; what goes are
/// points drawn under or beside another marker of the same series. Kept points keep their
/// exact coordinates and their order.
pub fn thin(points: &[LatencyPoint], axes: &Axes, max_points: usize) -> Thinned {
    if points.len() <= max_points {
        return Thinned { points: points.to_vec(), cell: None };
    }
    let pixels: Vec<(f64, f64)> = points.iter().map(|p| axes.pixel(p)).collect();
    let whole = frame::PLOT_WIDTH.max(frame::PLOT_HEIGHT_ABOUT);
    let mut cell = 1u32;
    loop {
        let size = f64::from(cell);
        // Per occupied cell of a series, the point drawn for it: the one whose index hashes
        // lowest. The first or the last in time would line the kept points up along the
        // cells' edges in a dense region; a hash scatters them like the points they stand for.
        let mut chosen: HashMap<(F, Outcome, bool, i64, i64), usize> = HashMap::new();
        for (i, (p, (x, y))) in points.iter().zip(&pixels).enumerate() {
            let key = (p.f, p.outcome, p.latency.is_none(), (x / size) as i64, (y / size) as i64);
            chosen.entry(key).and_modify(|j| *j = pick(*j, i)).or_insert(i);
        }
        if chosen.len() <= max_points || cell >= whole {
            let mut kept: Vec<usize> = chosen.into_values().collect();
            kept.sort_unstable();
            let points = kept.into_iter().map(|i| points[i]).collect();
            return Thinned { points, cell: Some(cell) };
        }
        // Doubling would overshoot: a cell twice as wide keeps up to four times fewer points.
        cell = (cell + 1).max((size * std::f64::consts::SQRT_2).round() as u32);
    }
}

/// Of two point indexes, the one whose hash (SplitMix64's finaliser) is lower.
fn pick(a: usize, b: usize) -> usize {
    let hash = |i: usize| {
        let mut z = (i as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    if hash(b) < hash(a) {
        b
    } else {
        a
    }
}

/// A latency in ms as an axis label: no trailing zeros, no float noise (`0.001`, `5`, `1000`).
fn label_ms(v: f64) -> String {
    let text = format!("{v:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.to_owned()
}

/// The legend text of a series.
fn series_label(f: F, outcome: Outcome, unfinished: bool, axes: &Axes) -> String {
    let name = format!("{f} {}", outcome_name(outcome));
    match (unfinished, axes.unfinished) {
        (false, _) => name,
        (true, Unfinished::Timeout(t)) => format!("{name}, never completed: at {t:?}"),
        (true, Unfinished::TopEdge) => format!("{name}, never completed: at top"),
    }
}

/// Draws `latency.svg` of (already thinned) `points` over `bands`; `total` is the number of
/// operations before thinning, for the caption.
pub(crate) fn draw(
    points: &[LatencyPoint],
    total: usize,
    cell: Option<u32>,
    bands: &[Band],
    axes: &Axes,
) -> Result<String> {
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (frame::WIDTH, frame::HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing(FILE))?;
        let caption = match cell {
            None => format!("Latency of {total} operations"),
            Some(cell) => format!(
                "Latency of {total} operations ({} drawn: one per series per {cell} px cell)",
                points.len()
            ),
        };
        let y = (axes.lo_ms..axes.hi_ms).log_scale();
        let mut chart = frame::build(&root, FILE, &caption, axes.run_end, y)?;
        chart
            .configure_mesh()
            .x_desc("time since the run's start (s)")
            .y_desc("latency (ms)")
            .y_label_formatter(&|v| label_ms(*v))
            .label_style(frame::TICK_FONT)
            .axis_desc_style(frame::DESC_FONT)
            .light_line_style(BLACK.mix(0.04))
            .bold_line_style(BLACK.mix(0.12))
            .draw()
            .map_err(drawing(FILE))?;
        let mut legend = Legend::new(FILE);
        frame::draw_bands(&root, &mut chart, &mut legend, bands)?;
        if !points.is_empty() {
            legend.heading(&root, "operations")?;
        }
        for f in frame::FUNCTIONS {
            for outcome in frame::OUTCOMES {
                for unfinished in [false, true] {
                    let series: Vec<&LatencyPoint> = points
                        .iter()
                        .filter(|p| {
                            p.f == f && p.outcome == outcome && p.latency.is_none() == unfinished
                        })
                        .collect();
                    if series.is_empty() {
                        continue;
                    }
                    // Translucent, so that dense regions read darker than sparse ones.
                    let color = outcome_color(outcome).mix(0.6);
                    let label = series_label(f, outcome, unfinished, axes);
                    with_marker!(f, color, false, |point, swatch| {
                        let markers = series.iter().map(|p| point((secs(p.start), axes.y_ms(p))));
                        chart.draw_series(markers).map_err(drawing(FILE))?;
                        root.draw(&swatch(legend.at())).map_err(drawing(FILE))?;
                        legend.entry(&root, &label)?;
                    });
                }
            }
        }
        root.present().map_err(drawing(FILE))?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn point(f: F, outcome: Outcome, start: u64, latency: Option<u64>) -> LatencyPoint {
        LatencyPoint { f, outcome, start, latency }
    }

    fn operation(f: F, outcome: Outcome, start: u64, end: Option<u64>) -> Operation {
        Operation {
            process: 0,
            f,
            key: None,
            value: crate::Value::Null,
            output: crate::Value::Null,
            outcome,
            invoke_index: 0,
            complete_index: None,
            start,
            end,
            error: None,
        }
    }

    #[test]
    fn points_have_exact_latencies() {
        let ops = [
            operation(F::Read, Outcome::Ok, 1_000_000, Some(3_500_000)),
            operation(F::Write, Outcome::Fail, 2_000_000, Some(2_000_250)),
            operation(F::Cas, Outcome::Info, 3_000_000, Some(1_003_000_000)),
            operation(F::Write, Outcome::Info, 4_000_000, None),
        ];
        assert_eq!(
            latency_points(&ops),
            [
                point(F::Read, Outcome::Ok, 1_000_000, Some(2_500_000)),
                point(F::Write, Outcome::Fail, 2_000_000, Some(250)),
                point(F::Cas, Outcome::Info, 3_000_000, Some(1_000_000_000)),
                point(F::Write, Outcome::Info, 4_000_000, None),
            ]
        );
    }

    #[test]
    fn axes_span_whole_decades_and_place_unfinished_operations() {
        let points = [
            point(F::Read, Outcome::Ok, 0, Some(2_500_000)),
            point(F::Read, Outcome::Ok, 0, Some(350_000_000)),
            point(F::Read, Outcome::Info, 0, None),
        ];
        let axes = Axes::new(&points, 10, None);
        assert_eq!((axes.lo_ms, axes.hi_ms), (1.0, 1000.0));
        assert_eq!(axes.y_ms(&points[0]), 2.5);
        assert_eq!(axes.y_ms(&points[2]), 1000.0, "at the top edge");

        // With a timeout they are drawn at it, and the axis reaches it.
        let axes = Axes::new(&points, 10, Some(Duration::from_secs(5)));
        assert_eq!((axes.lo_ms, axes.hi_ms), (1.0, 10_000.0));
        assert_eq!(axes.y_ms(&points[2]), 5000.0);

        // A zero latency sits on the floor; no latency at all still gives an axis.
        let axes = Axes::new(&[point(F::Read, Outcome::Ok, 0, Some(0))], 10, None);
        assert_eq!(axes.y_ms(&point(F::Read, Outcome::Ok, 0, Some(0))), FLOOR_MS);
        assert!(axes.lo_ms < FLOOR_MS && axes.hi_ms > FLOOR_MS, "{axes:?}");

        // Latencies on a decade's edge get a decade more, so they do not sit on the frame;
        // equal latencies still get an axis.
        let edges = [
            point(F::Read, Outcome::Ok, 0, Some(MS)),
            point(F::Read, Outcome::Ok, 0, Some(100 * MS)),
        ];
        let axes = Axes::new(&edges, 10, None);
        assert_eq!((axes.lo_ms, axes.hi_ms), (0.1, 1000.0));
        let axes = Axes::new(&edges[..1], 10, None);
        assert_eq!((axes.lo_ms, axes.hi_ms), (0.1, 10.0));
        let axes = Axes::new(&[], 0, None);
        assert!(axes.lo_ms < axes.hi_ms);
    }

    #[test]
    fn few_points_are_not_thinned() {
        let points: Vec<_> =
            (0..100).map(|i| point(F::Read, Outcome::Ok, i, Some(1_000_000))).collect();
        let axes = Axes::new(&points, 1_000_000_000, None);
        let thinned = thin(&points, &axes, 100);
        assert_eq!((thinned.points.len(), thinned.cell), (100, None));
    }

    #[test]
    fn thinning_keeps_one_point_per_cell_per_series_and_every_outlier() {
        // 10 000 reads within the first microsecond at 1 ms: all in one pixel; the same for
        // writes; one slow read elsewhere.
        let mut points = Vec::new();
        for i in 0..10_000 {
            points.push(point(F::Read, Outcome::Ok, i / 10, Some(1_000_000)));
            points.push(point(F::Write, Outcome::Ok, i / 10, Some(1_000_000)));
        }
        let outlier = point(F::Read, Outcome::Ok, 30_000_000_000, Some(900_000_000));
        points.push(outlier);
        let axes = Axes::new(&points, 60_000_000_000, None);
        let thinned = thin(&points, &axes, 10);
        assert_eq!(thinned.cell, Some(1));
        let kept = &thinned.points;
        assert_eq!(kept.len(), 3, "{kept:?}");
        assert_eq!((kept[0].start < 1_000, kept[1].start < 1_000), (true, true), "{kept:?}");
        let mut fs = [kept[0].f, kept[1].f];
        fs.sort_by_key(|f| f.to_string());
        assert_eq!(fs, [F::Read, F::Write], "one per series");
        assert_eq!(kept[2], outlier, "kept, and order is kept");
    }

    #[test]
    fn thinning_bounds_a_large_history() {
        // 100 000 operations spread over a minute and three decades of latency (the
        // 500 000 of a long run are drawn in `report::tests`).
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let points: Vec<_> = (0..100_000u64)
            .map(|i| {
                let f = if i % 3 == 0 { F::Write } else { F::Read };
                let latency = 100_000 + next() % 100_000_000;
                point(f, Outcome::Ok, i * 600_000, Some(latency))
            })
            .collect();
        let axes = Axes::new(&points, 60_000_000_000, None);
        let thinned = thin(&points, &axes, 10_000);
        assert!(thinned.points.len() <= 10_000, "{}", thinned.points.len());
        assert!(thinned.points.len() > 1_000, "{}", thinned.points.len());
        let cell = thinned.cell.unwrap();
        assert!(cell > 1, "{cell}");
        // Both series survive.
        assert!(thinned.points.iter().any(|p| p.f == F::Write));
        assert!(thinned.points.iter().any(|p| p.f == F::Read));
    }

    #[test]
    fn a_tiny_budget_still_terminates() {
        let points: Vec<_> =
            (0..1000).map(|i| point(F::Read, Outcome::Ok, i * 1_000_000, Some(i * 1000))).collect();
        let axes = Axes::new(&points, 1_000_000_000, None);
        let thinned = thin(&points, &axes, 1);
        assert!(thinned.points.len() <= 2, "{:?}", thinned.points);
    }

    #[test]
    fn labels_have_no_float_noise() {
        assert_eq!(label_ms(0.0010000000000000002), "0.001");
        assert_eq!(label_ms(1000.0000000001), "1000");
        assert_eq!(label_ms(2.5), "2.5");
    }
}
