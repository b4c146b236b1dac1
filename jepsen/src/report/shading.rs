//! The fault bands: which intervals of the run the plots shade, in which colour, and the
//! `timeline.txt` listing every fault.

use std::fmt::Write as _;

use plotters::style::RGBColor;

use crate::timeline::{FaultStatus, Timeline};

/// One shaded interval: an effective fault, with its end resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Band {
    pub nemesis: String,
    /// ns since the run's start.
    pub start: u64,
    /// ns since the run's start; the run's end for a fault never healed.
    pub end: u64,
    pub status: FaultStatus,
    /// Whether the fault was never healed (its `end` is the run's end).
    pub open: bool,
}

/// The bands to shade: every effective fault (installed or indeterminate; a skipped fault
/// changed nothing, so it is not shaded), in timeline order. A fault with no end lasts until
/// `run_end`; an end before the start (a clock glitch in the runner) is read as an instant.
pub fn shading(timeline: &Timeline, run_end: u64) -> Vec<Band> {
    timeline
        .effective()
        .map(|fault| Band {
            nemesis: fault.nemesis.clone(),
            start: fault.start,
            end: fault.end.unwrap_or(run_end).max(fault.start),
            status: fault.status,
            open: fault.end.is_none(),
        })
        .collect()
}

/// Band colours, light and distinct from the outcome colours of the points.
const PALETTE: [RGBColor; 8] = [
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0x17, 0xbe, 0xcf),
    RGBColor(0xbc, 0xbd, 0x22),
    RGBColor(0x7f, 0x7f, 0x7f),
    RGBColor(0xe3, 0x77, 0xc2),
];

/// One colour per nemesis, in order of first appearance, so the same nemesis has the same
/// colour in both plots; past eight nemeses colours repeat.
pub fn colors(bands: &[Band]) -> Vec<(String, RGBColor)> {
    let mut colors: Vec<(String, RGBColor)> = Vec::new();
    for band in bands {
        if !colors.iter().any(|(name, _)| *name == band.nemesis) {
            let color = PALETTE[colors.len() % PALETTE.len()];
            colors.push((band.nemesis.clone(), color));
        }
    }
    colors
}

/// `timeline.txt`: a header, then one line per fault (skipped ones too, so the reader sees
/// what the nemesis tried): start and end in seconds (`-` for a fault never healed), nemesis,
/// status, description.
pub fn timeline_text(timeline: &Timeline) -> String {
    let width = timeline.faults.iter().map(|f| f.nemesis.len()).max().unwrap_or(0).max(7);
    let mut text =
        format!("#  start_s     end_s  {:width$}  status         description\n", "nemesis");
    for fault in &timeline.faults {
        let end =
            fault.end.map_or_else(|| "-".to_owned(), |end| format!("{:.3}", end as f64 / 1e9));
        let status = match fault.status {
            FaultStatus::Installed => "installed",
            FaultStatus::Skipped => "skipped",
            FaultStatus::Indeterminate => "indeterminate",
        };
        // The description is last: it is free text and may hold spaces.
        let _ = writeln!(
            text,
            "{:10.3} {:>9}  {:width$}  {status:13}  {}",
            fault.start as f64 / 1e9,
            end,
            fault.nemesis,
            fault.description,
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::Fault;

    fn fault(nemesis: &str, start: u64, end: Option<u64>, status: FaultStatus) -> Fault {
        Fault {
            nemesis: nemesis.into(),
            description: format!("{nemesis} at {start}"),
            start,
            end,
            status,
        }
    }

    #[test]
    fn shades_effective_faults_and_extends_open_ones_to_the_end() {
        let timeline = Timeline {
            faults: vec![
                fault("partition-master", 1_000, Some(4_000), FaultStatus::Installed),
                fault("kill", 5_000, Some(6_000), FaultStatus::Skipped),
                fault("pause", 7_000, Some(8_000), FaultStatus::Indeterminate),
                fault("partition-master", 9_000, None, FaultStatus::Installed),
            ],
        };
        let bands = shading(&timeline, 20_000);
        let got: Vec<_> =
            bands.iter().map(|b| (b.nemesis.as_str(), b.start, b.end, b.open)).collect();
        assert_eq!(
            got,
            [
                ("partition-master", 1_000, 4_000, false),
                ("pause", 7_000, 8_000, false),
                ("partition-master", 9_000, 20_000, true),
            ]
        );
        let colors = colors(&bands);
        assert_eq!(colors.len(), 2, "one colour per nemesis, not per fault");
        assert_eq!(colors[0].0, "partition-master");
        assert_eq!(colors[1].0, "pause");
        assert_ne!(colors[0].1, colors[1].1);
    }

    #[test]
    fn an_end_before_the_start_is_an_instant() {
        let timeline =
            Timeline { faults: vec![fault("kill", 5_000, Some(4_000), FaultStatus::Installed)] };
        let bands = shading(&timeline, 9_000);
        assert_eq!((bands[0].start, bands[0].end), (5_000, 5_000));
    }

    #[test]
    fn timeline_text_lists_every_fault() {
        let timeline = Timeline {
            faults: vec![
                fault(
                    "partition-master",
                    1_500_000_000,
                    Some(4_250_000_000),
                    FaultStatus::Installed,
                ),
                fault("kill", 5_000_000_000, Some(5_000_000_000), FaultStatus::Skipped),
                fault("pause", 7_000_000_000, None, FaultStatus::Indeterminate),
            ],
        };
        let text = timeline_text(&timeline);
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with('#'), "{text}");
        let fields: Vec<_> = lines[1].split_whitespace().collect();
        assert_eq!(
            fields,
            [
                "1.500",
                "4.250",
                "partition-master",
                "installed",
                "partition-master",
                "at",
                "1500000000"
            ]
        );
        let fields: Vec<_> = lines[2].split_whitespace().take(4).collect();
        assert_eq!(fields, ["5.000", "5.000", "kill", "skipped"]);
        let fields: Vec<_> = lines[3].split_whitespace().take(4).collect();
        assert_eq!(fields, ["7.000", "-", "pause", "indeterminate"]);
        assert_eq!(timeline_text(&Timeline::default()).lines().count(), 1);
    }
}
