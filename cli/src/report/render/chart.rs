//! What the plots share: the palette and sizes, the SVG wrapper that turns a drawing into a
//! string (or a note), the axis look and the axis with explicit ticks, hatching, swatches and
//! the hand-drawn legend column, trainer colours, and the maths of the round axes.

use std::panic::{catch_unwind, AssertUnwindSafe};

use plotters::chart::MeshStyle;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::format::{escape, note, truncate};
use crate::report::data::{ReportData, SlotOutcome, TrainerRow};

pub(super) const FONT: &str = "sans-serif";
pub(super) const INK: RGBColor = RGBColor(33, 37, 41);
pub(super) const MUTED: RGBColor = RGBColor(108, 117, 125);
const GRID: RGBColor = RGBColor(233, 236, 239);
pub(super) const STAKE_GREY: RGBColor = RGBColor(173, 181, 189);
pub(super) const LOST_RED: RGBColor = RGBColor(201, 42, 42);
pub(super) const ACCURACY: RGBColor = RGBColor(31, 119, 180);
pub(super) const LOSS: RGBColor = RGBColor(214, 95, 20);
pub(super) const PROVE: RGBColor = RGBColor(103, 65, 217);
pub(super) const REF_TIME: RGBColor = RGBColor(12, 133, 153);
pub(super) const PROOF_SIZE: RGBColor = RGBColor(230, 119, 0);

/// Honest trainers cycle through blue/green tones, attackers through red/orange tones.
pub(super) const HONEST_TONES: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(47, 158, 68),
    RGBColor(21, 170, 191),
    RGBColor(59, 91, 219),
    RGBColor(43, 138, 62),
    RGBColor(16, 152, 173),
];
pub(super) const ATTACKER_TONES: [RGBColor; 5] = [
    RGBColor(224, 49, 49),
    RGBColor(247, 103, 7),
    RGBColor(166, 30, 77),
    RGBColor(240, 140, 0),
    RGBColor(201, 42, 42),
];

/// Plot sizes (px). Dual panels are two ~600×360 plots in one SVG so they stay aligned.
pub(super) const WIDE: u32 = 1200;
pub(super) const PANEL_H: u32 = 360;
/// Width of the plot part of a plot-with-legend SVG; the rest is the legend column.
pub(super) const LEGEND_SPLIT: u32 = 890;

pub(super) type DrawError = Box<dyn std::error::Error>;
pub(super) type PlotResult = Result<(), DrawError>;
pub(super) type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Shared axis/grid look for every chart.
pub(super) fn style_mesh<'m, 'a, 'b, X, Y>(
    m: &'m mut MeshStyle<'a, 'b, X, Y, SVGBackend<'a>>,
    x_desc: &str,
    y_desc: &str,
) -> &'m mut MeshStyle<'a, 'b, X, Y, SVGBackend<'a>>
where
    X: Ranged,
    Y: Ranged,
{
    if !x_desc.is_empty() {
        m.x_desc(x_desc);
    }
    m.y_desc(y_desc)
        .label_style((FONT, 16, &INK))
        .axis_desc_style((FONT, 17, &INK))
        .axis_style(MUTED)
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
}

/// An f64 axis with explicit tick positions (integer rounds, fixed score ticks).
///
/// plotters' own `with_key_points` cannot be used on f64 axes with `configure_mesh` in 0.3.7
/// (the wrapper lacks a `ValueFormatter`), hence this small stand-in.
pub(super) struct Ticked {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl Ticked {
    pub(super) fn new(lo: f64, hi: f64, ticks: Vec<f64>) -> Self {
        Ticked { lo, hi, ticks }
    }
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let span = self.hi - self.lo;
        if !(span.is_finite() && span > 0.0) {
            return (limit.0 + limit.1) / 2;
        }
        let px = f64::from(limit.0) + (v - self.lo) / span * f64::from(limit.1 - limit.0);
        // `as` saturates (and maps NaN to 0), so odd values cannot overflow.
        px.round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        // Only bold ticks; light grid lines are not wanted on these axes.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

/// Draws into a fresh SVG; any plotters error (or panic) becomes an inline note instead.
pub(super) fn draw_svg(
    w: u32,
    h: u32,
    label: &str,
    draw: impl FnOnce(&Area) -> PlotResult,
) -> String {
    let mut buf = String::new();
    let outcome = {
        let root = SVGBackend::with_string(&mut buf, (w, h)).into_drawing_area();
        // A report is a by-product: a plotting bug must not take the CLI command down with it.
        catch_unwind(AssertUnwindSafe(|| -> PlotResult {
            root.fill(&WHITE)?;
            draw(&root)?;
            root.present()?;
            Ok(())
        }))
    };
    match outcome {
        Ok(Ok(())) => buf.replacen(
            "<svg ",
            &format!("<svg role=\"img\" aria-label=\"{}\" ", escape(label)),
            1,
        ),
        Ok(Err(e)) => note(&format!("The {label} plot could not be drawn: {e}")),
        Err(_) => note(&format!(
            "The {label} plot could not be drawn (internal error)."
        )),
    }
}

/// A centred message inside a plot area that has nothing to show.
pub(super) fn area_message(area: &Area, msg: &str) -> PlotResult {
    let (w, h) = area.dim_in_pixel();
    area.draw(&Text::new(
        msg.to_string(),
        ((w / 2) as i32, (h / 2) as i32),
        (FONT, 17, &MUTED)
            .into_text_style(area)
            .pos(Pos::new(HPos::Center, VPos::Center)),
    ))?;
    Ok(())
}

/// Diagonal hatching inside the pixel rectangle spanned by `a` and `b`.
pub(super) fn hatch(area: &Area, a: (i32, i32), b: (i32, i32), colour: RGBColor) -> PlotResult {
    let (l, r) = (a.0.min(b.0), a.0.max(b.0));
    let (t, bt) = (a.1.min(b.1), a.1.max(b.1));
    // Lines x + y = k, clipped to the rectangle.
    let mut k = l + t;
    while k <= r + bt {
        let x0 = l.max(k - bt);
        let x1 = r.min(k - t);
        if x0 < x1 {
            area.draw(&PathElement::new(
                vec![(x0, k - x0), (x1, k - x1)],
                colour.mix(0.7).stroke_width(1),
            ))?;
        }
        k += 7;
    }
    Ok(())
}

#[derive(Clone, Copy)]
pub(super) enum Marker {
    Filled,
    Cross,
    Square,
    Ring,
}

#[derive(Clone, Copy)]
pub(super) enum Swatch {
    Fill(RGBColor),
    Hatched(RGBColor),
    /// A line with a marker, as in a line plot.
    Line(RGBColor),
}

impl Swatch {
    /// Draws the swatch of a legend entry: a fill or hatching inside the box from `a` to `b`,
    /// or for a line a stroke from `line.0` to `line.1` at height `y` with a marker in its
    /// middle.
    pub(super) fn draw(
        self,
        area: &Area,
        (a, b): ((i32, i32), (i32, i32)),
        line: (i32, i32),
        y: i32,
    ) -> PlotResult {
        match self {
            Swatch::Fill(c) => area.draw(&Rectangle::new([a, b], c.filled()))?,
            Swatch::Hatched(c) => {
                hatch(area, a, b, c)?;
                area.draw(&Rectangle::new([a, b], c.stroke_width(2)))?;
            }
            Swatch::Line(c) => {
                area.draw(&PathElement::new(
                    vec![(line.0, y), (line.1, y)],
                    c.stroke_width(2),
                ))?;
                area.draw(&Circle::new(((line.0 + line.1) / 2, y), 4, c.filled()))?;
            }
        }
        Ok(())
    }
}

/// A hand-drawn legend column: plotters' own legend would sit on top of the data.
pub(super) struct Legend<'x, 'a> {
    area: &'x Area<'a>,
    y: i32,
}

impl<'x, 'a> Legend<'x, 'a> {
    const ROW: i32 = 24;
    const TEXT_X: i32 = 52;

    pub(super) fn new(area: &'x Area<'a>, top: i32) -> Self {
        Legend { area, y: top }
    }

    pub(super) fn gap(&mut self) {
        self.y += Self::ROW / 2;
    }

    pub(super) fn heading(&mut self, s: &str) -> PlotResult {
        self.label(12, s, (FONT, 16, FontStyle::Bold, &INK))?;
        self.y += Self::ROW;
        Ok(())
    }

    pub(super) fn text(&mut self, s: &str) -> PlotResult {
        self.label(12, s, (FONT, 14, FontStyle::Normal, &MUTED))?;
        self.y += Self::ROW - 4;
        Ok(())
    }

    fn label(&self, x: i32, s: &str, style: (&str, i32, FontStyle, &RGBColor)) -> PlotResult {
        let ts = TextStyle::from(FontDesc::new(style.0.into(), f64::from(style.1), style.2))
            .color(style.3)
            .pos(Pos::new(HPos::Left, VPos::Center));
        self.area.draw(&Text::new(s.to_string(), (x, self.y), ts))?;
        Ok(())
    }

    pub(super) fn trainer_line(&mut self, c: RGBColor, dashed: bool, name: &str) -> PlotResult {
        let y = self.y;
        if dashed {
            self.area.draw(&DashedPathElement::new(
                vec![(12, y), (42, y)],
                6,
                4,
                c.stroke_width(2),
            ))?;
        } else {
            self.area
                .draw(&PathElement::new(vec![(12, y), (42, y)], c.stroke_width(2)))?;
        }
        self.area.draw(&Circle::new((27, y), 5, c.filled()))?;
        self.label(
            Self::TEXT_X,
            &truncate(name, 34),
            (FONT, 15, FontStyle::Normal, &INK),
        )?;
        self.y += Self::ROW;
        Ok(())
    }

    pub(super) fn marker(&mut self, m: Marker, name: &str) -> PlotResult {
        let c = (27, self.y);
        let grey = RGBColor(73, 80, 87);
        match m {
            Marker::Filled => self.area.draw(&Circle::new(c, 5, grey.filled()))?,
            Marker::Cross => self.area.draw(&Cross::new(c, 6, grey.stroke_width(3)))?,
            Marker::Square => self.area.draw(&Rectangle::new(
                [(c.0 - 5, c.1 - 5), (c.0 + 5, c.1 + 5)],
                grey.stroke_width(2),
            ))?,
            Marker::Ring => self.area.draw(&Circle::new(c, 3, grey.stroke_width(2)))?,
        }
        self.label(Self::TEXT_X, name, (FONT, 15, FontStyle::Normal, &INK))?;
        self.y += Self::ROW;
        Ok(())
    }

    pub(super) fn swatch(&mut self, s: Swatch, name: &str) -> PlotResult {
        s.draw(
            self.area,
            ((14, self.y - 8), (40, self.y + 8)),
            (12, 42),
            self.y,
        )?;
        self.label(Self::TEXT_X, name, (FONT, 15, FontStyle::Normal, &INK))?;
        self.y += Self::ROW;
        Ok(())
    }
}

pub(super) fn trainer_colours(trainers: &[TrainerRow]) -> Vec<RGBColor> {
    let (mut h, mut a) = (0, 0);
    trainers
        .iter()
        .map(|t| {
            if t.attacker {
                a += 1;
                ATTACKER_TONES[(a - 1) % ATTACKER_TONES.len()]
            } else {
                h += 1;
                HONEST_TONES[(h - 1) % HONEST_TONES.len()]
            }
        })
        .collect()
}

/// (x, y, outcome) per score in round order; a missing slot is plotted at 0 whatever the chain
/// recorded.
pub(super) fn score_points(t: &TrainerRow, dx: f64) -> Vec<(f64, f64, SlotOutcome)> {
    let mut pts: Vec<(f64, f64, SlotOutcome)> = t
        .scores
        .iter()
        .map(|s| {
            let y = if s.outcome == SlotOutcome::Missing {
                0.0
            } else {
                f64::from(s.score.min(1000))
            };
            (display_round(s.round) + dx, y, s.outcome)
        })
        .collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    pts
}

pub(super) fn display_round(round: u32) -> f64 {
    f64::from(round) + 1.0
}

/// The last round number shown on round axes (1-based), from rounds and scores alike.
pub(super) fn last_round(d: &ReportData) -> f64 {
    let from_rounds = d.rounds.iter().map(|r| display_round(r.round));
    let from_scores = d
        .trainers
        .iter()
        .flat_map(|t| t.scores.iter().map(|s| display_round(s.round)));
    from_rounds.chain(from_scores).fold(0.0, f64::max)
}

/// Integer tick positions from `first` to `last`, thinned to at most ~12 labels.
pub(super) fn round_keys(first: f64, last: f64) -> Vec<f64> {
    let (first, last) = (first.round() as i64, last.round() as i64);
    let step = ((last - first) / 12 + 1).max(1);
    (first..=last)
        .step_by(step as usize)
        .map(|r| r as f64)
        .collect()
}

pub(super) fn finite(p: (f64, f64)) -> bool {
    p.0.is_finite() && p.1.is_finite()
}

/// Axis range for values: from 0 (when `from_zero` and all values are ≥ 0) to the max plus
/// 15 % headroom; never empty.
pub(super) fn padded_range(values: impl Iterator<Item = f64>, from_zero: bool) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi {
        return (0.0, 1.0);
    }
    let lo = if from_zero && lo >= 0.0 { 0.0 } else { lo };
    let span = if hi > lo { hi - lo } else { hi.abs().max(1.0) };
    (
        lo - if lo < 0.0 { span * 0.1 } else { 0.0 },
        hi + span * 0.15,
    )
}

/// Accuracy axis in %: zoomed to the data in steps of 10, within 0–100.
pub(super) fn accuracy_range(pts: &[(f64, f64)]) -> (f64, f64) {
    let (lo, hi) = pts.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |a, p| {
        (a.0.min(p.1), a.1.max(p.1))
    });
    if lo > hi {
        return (0.0, 100.0);
    }
    let lo = (((lo - 5.0) / 10.0).floor() * 10.0).clamp(0.0, 90.0);
    let hi = (((hi + 5.0) / 10.0).ceil() * 10.0).clamp(lo + 10.0, 100.0);
    (lo, hi)
}

/// Decimals for tick labels on an axis spanning `span`, so that ticks stay distinct.
pub(super) fn tick_decimals(span: f64) -> usize {
    match span.abs() {
        s if s >= 20.0 => 0,
        s if s >= 2.0 => 1,
        s if s >= 0.2 => 2,
        _ => 3,
    }
}
