//! The chart frame both plots share: one size, the same margins and label areas (so the x
//! axis of `latency.svg` and `rate.svg` map a time to the same pixel column and the two can be
//! read one above the other), the fault bands behind the data, the legend beside the plotting
//! area rather than over the points, and the colours and markers of the series.

use plotters::coord::ranged1d::{AsRangedCoord, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::RGBColor;

use super::shading::{self, Band};
use super::{Error, Result};
use crate::history::{Outcome, F};

/// The SVG's size in pixels.
pub(crate) const WIDTH: u32 = 1200;
pub(crate) const HEIGHT: u32 = 600;
/// Blank border around the chart.
pub(crate) const MARGIN: u32 = 10;
/// Left of the plotting area: the y axis's labels and description.
pub(crate) const Y_LABEL_AREA: u32 = 70;
/// Below the plotting area: the x axis's labels and description.
pub(crate) const X_LABEL_AREA: u32 = 45;
/// Right of the plotting area: the legend, kept off the data.
pub(crate) const LEGEND_AREA: u32 = 240;

/// The plotting area's left edge in pixels.
pub(crate) const PLOT_LEFT: u32 = MARGIN + Y_LABEL_AREA;
/// The plotting area's width in pixels.
pub(crate) const PLOT_WIDTH: u32 = WIDTH - PLOT_LEFT - LEGEND_AREA - MARGIN;
/// The plotting area's height in pixels, about: the caption's height is estimated by plotters.
pub(crate) const PLOT_HEIGHT_ABOUT: u32 = HEIGHT - 2 * MARGIN - X_LABEL_AREA - 30;

/// The opacity of a fault band: light enough that points drawn over it stay readable.
pub(crate) const BAND_OPACITY: f64 = 0.2;

/// The caption's font.
pub(crate) const CAPTION_FONT: (&str, u32) = ("sans-serif", 18);
/// The axes' tick labels.
pub(crate) const TICK_FONT: (&str, u32) = ("sans-serif", 13);
/// The axes' descriptions.
pub(crate) const DESC_FONT: (&str, u32) = ("sans-serif", 15);

/// The x axis of both plots in seconds: at least one second, so an empty run still has axes.
pub(crate) fn x_range_secs(run_end: u64) -> std::ops::Range<f64> {
    0.0..secs(run_end).max(1.0)
}

/// Nanoseconds as seconds.
pub(crate) fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// The root drawing area of a plot.
pub(crate) type Root<'b> = DrawingArea<SVGBackend<'b>, Shift>;

/// The chart type of both plots: seconds across, `Y` up.
pub(crate) type Chart<'a, 'b, Y> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, Y>>;

/// Lays out a chart on `root` with the shared frame.
pub(crate) fn build<'a, 'b, Y: AsRangedCoord<Value = f64>>(
    root: &'a Root<'b>,
    file: &'static str,
    caption: &str,
    run_end: u64,
    y: Y,
) -> Result<Chart<'a, 'b, Y::CoordDescType>> {
    ChartBuilder::on(root)
        .margin(MARGIN)
        // A margin, not a label area: a right label area would repeat the y axis there.
        .margin_right(MARGIN + LEGEND_AREA)
        .caption(caption, CAPTION_FONT)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(x_range_secs(run_end), y)
        .map_err(drawing(file))
}

/// The legend, a column right of the plotting area. plotters' own legend can only be drawn
/// inside the plotting area (it clips to it), where it would hide points.
pub(crate) struct Legend {
    file: &'static str,
    /// The baseline of the next entry, in pixels from the top.
    y: i32,
}

impl Legend {
    /// The column the swatches are centred on (headings start a little left of it).
    const SWATCH_X: i32 = (WIDTH - LEGEND_AREA) as i32 + 8;
    /// Where the entries' texts begin: clear of the widest swatch, a line segment.
    const TEXT_X: i32 = Self::SWATCH_X + 28;
    /// Line spacing.
    const LINE: i32 = 17;

    pub(crate) fn new(file: &'static str) -> Legend {
        Legend { file, y: 45 }
    }

    /// A heading over a group of entries.
    pub(crate) fn heading(&mut self, root: &Root<'_>, text: &str) -> Result<()> {
        if self.y > 45 {
            self.y += Self::LINE / 2;
        }
        let style =
            TextStyle::from(("sans-serif", 14).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
        root.draw(&Text::new(text.to_owned(), (Self::SWATCH_X - 6, self.y), style))
            .map_err(drawing(self.file))?;
        self.y += Self::LINE;
        Ok(())
    }

    /// The text of an entry whose swatch the caller drew at [`Legend::at`]; moves down a line.
    pub(crate) fn entry(&mut self, root: &Root<'_>, text: &str) -> Result<()> {
        let style =
            TextStyle::from(("sans-serif", 13).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
        root.draw(&Text::new(text.to_owned(), (Self::TEXT_X, self.y), style))
            .map_err(drawing(self.file))?;
        self.y += Self::LINE;
        Ok(())
    }

    /// Where the next swatch goes.
    pub(crate) fn at(&self) -> (i32, i32) {
        (Self::SWATCH_X, self.y)
    }
}

/// Shades every band across the full height of `chart`, with one legend entry per nemesis.
pub(crate) fn draw_bands<Y: Ranged<ValueType = f64>>(
    root: &Root<'_>,
    chart: &mut Chart<'_, '_, Y>,
    legend: &mut Legend,
    bands: &[Band],
) -> Result<()> {
    let file = legend.file;
    let (y_lo, y_hi) = {
        let range = chart.y_range();
        (range.start, range.end)
    };
    // A fault shorter than a pixel (an instant kill) would vanish: widen it to one pixel.
    let min_width = chart.x_range().end / f64::from(PLOT_WIDTH);
    let colors = shading::colors(bands);
    if !colors.is_empty() {
        legend.heading(root, "faults")?;
    }
    for (nemesis, color) in colors {
        let rects = bands.iter().filter(|b| b.nemesis == nemesis).map(|b| {
            let x0 = secs(b.start);
            let x1 = secs(b.end).max(x0 + min_width);
            Rectangle::new([(x0, y_lo), (x1, y_hi)], color.mix(BAND_OPACITY).filled())
        });
        chart.draw_series(rects).map_err(drawing(file))?;
        let (x, y) = legend.at();
        // The swatch is more opaque than a band: alone on white it must still show.
        let swatch = Rectangle::new([(x - 8, y - 6), (x + 8, y + 6)], color.mix(0.5).filled());
        root.draw(&swatch).map_err(drawing(file))?;
        legend.entry(root, &nemesis)?;
    }
    Ok(())
}

/// Maps a plotters error of drawing `file` to ours.
pub(crate) fn drawing<E: std::fmt::Display>(file: &'static str) -> impl Fn(E) -> Error {
    move |e| Error::Draw { file, message: e.to_string() }
}

/// Outcome colours, Jepsen's: ok blue, fail pink, info orange.
pub(crate) fn outcome_color(outcome: Outcome) -> RGBColor {
    match outcome {
        Outcome::Ok => RGBColor(0x3d, 0x8b, 0xe0),
        Outcome::Fail => RGBColor(0xe0, 0x1e, 0x78),
        Outcome::Info => RGBColor(0xf0, 0x9a, 0x00),
    }
}

/// Every function, in the order series are drawn and listed.
pub(crate) const FUNCTIONS: [F; 6] = [F::Read, F::Write, F::Cas, F::Add, F::Append, F::Incr];
/// Every outcome, in the order series are drawn and listed.
pub(crate) const OUTCOMES: [Outcome; 3] = [Outcome::Ok, Outcome::Fail, Outcome::Info];

/// An outcome's name in legends.
pub(crate) fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Ok => "ok",
        Outcome::Fail => "fail",
        Outcome::Info => "info",
    }
}

/// Evaluates `$body` with `$point` bound to a closure drawing `$f`'s marker centred on a
/// chart coordinate, and `$swatch` to one drawing its legend swatch (with a line through it
/// if `$line`) at a legend position: read ●, write ▲, cas ✕, add ■, append ◆, incr ○.
///
/// A macro rather than a function returning a boxed element: plotters' `DynElement` needs a
/// `'static` backend, and ours borrows the `String` it writes the SVG to. So each arm gets
/// closures of its own concrete element type.
macro_rules! with_marker {
    ($f:expr, $color:expr, $line:expr, |$point:ident, $swatch:ident| $body:expr) => {{
        use plotters::prelude::{Circle, Cross, EmptyElement, PathElement, Polygon};
        use plotters::prelude::{Rectangle, ShapeStyle, TriangleMarker};
        const R: i32 = 3;
        let color: plotters::style::RGBAColor = $color;
        let filled = ShapeStyle::from(color).filled();
        let stroke = ShapeStyle::from(color).stroke_width(1);
        // Without a line the swatch's line is transparent, which plotters does not draw.
        let line_color = if $line { color } else { color.mix(0.0) };
        let line = move || {
            PathElement::new(vec![(-10, 0), (10, 0)], ShapeStyle::from(line_color).stroke_width(2))
        };
        let diamond = move || vec![(0, -R - 1), (R + 1, 0), (0, R + 1), (-R - 1, 0)];
        match $f {
            F::Read => {
                let $point = move |at| EmptyElement::at(at) + Circle::new((0, 0), R, filled);
                let $swatch = move |(x, y): (i32, i32)| {
                    EmptyElement::at((x + 10, y)) + line() + Circle::new((0, 0), R, filled)
                };
                $body
            }
            F::Write => {
                let $point =
                    move |at| EmptyElement::at(at) + TriangleMarker::new((0, 0), R + 1, filled);
                let $swatch = move |(x, y): (i32, i32)| {
                    EmptyElement::at((x + 10, y))
                        + line()
                        + TriangleMarker::new((0, 0), R + 1, filled)
                };
                $body
            }
            F::Cas => {
                let cross = stroke.stroke_width(2);
                let $point = move |at| EmptyElement::at(at) + Cross::new((0, 0), R, cross);
                let $swatch = move |(x, y): (i32, i32)| {
                    EmptyElement::at((x + 10, y)) + line() + Cross::new((0, 0), R, cross)
                };
                $body
            }
            F::Add => {
                let $point =
                    move |at| EmptyElement::at(at) + Rectangle::new([(-R, -R), (R, R)], filled);
                let $swatch = move |(x, y): (i32, i32)| {
                    EmptyElement::at((x + 10, y))
                        + line()
                        + Rectangle::new([(-R, -R), (R, R)], filled)
                };
                $body
            }
            F::Append => {
                let $point = move |at| EmptyElement::at(at) + Polygon::new(diamond(), filled);
                let $swatch = move |(x, y): (i32, i32)| {
                    EmptyElement::at((x + 10, y)) + line() + Polygon::new(diamond(), filled)
                };
                $body
            }
            F::Incr => {
                let $point = move |at| EmptyElement::at(at) + Circle::new((0, 0), R, stroke);
                let $swatch = move |(x, y): (i32, i32)| {
                    EmptyElement::at((x + 10, y)) + line() + Circle::new((0, 0), R, stroke)
                };
                $body
            }
        }
    }};
}
pub(crate) use with_marker;
