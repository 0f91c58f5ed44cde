//! The page's four plots, each one SVG (or a note when there is nothing to draw): model
//! quality, contribution scores, payouts, and proving time with on-chain weight.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::chart::{
    accuracy_range, area_message, display_round, draw_svg, finite, hatch, last_round, padded_range,
    round_keys, score_points, style_mesh, tick_decimals, trainer_colours, Area, DrawError, Legend,
    Marker, PlotResult, Swatch, Ticked, ACCURACY, ATTACKER_TONES, FONT, HONEST_TONES, INK,
    LEGEND_SPLIT, LOSS, LOST_RED, MUTED, PANEL_H, PROOF_SIZE, PROVE, REF_TIME, STAKE_GREY, WIDE,
};
use super::format::{amount_exponent, note, short_amount, superscript, trainer_name, truncate};
use super::BLOCK_REF_TIME;
use crate::report::data::{ReportData, RoundRow, SlotOutcome};

/// Validation accuracy (%) and loss per round, as two panels in one SVG.
pub fn plot_validation(d: &ReportData) -> String {
    let mut pts: Vec<(f64, f64, f64)> = Vec::new();
    if let Some(v) = d.initial_validation {
        pts.push((0.0, v.accuracy * 100.0, v.loss));
    }
    for r in &d.rounds {
        if let Some(v) = r.validation {
            pts.push((display_round(r.round), v.accuracy * 100.0, v.loss));
        }
    }
    let acc: Vec<(f64, f64)> = pts
        .iter()
        .map(|p| (p.0, p.1))
        .filter(|p| finite(*p))
        .collect();
    let loss: Vec<(f64, f64)> = pts
        .iter()
        .map(|p| (p.0, p.2))
        .filter(|p| finite(*p))
        .collect();
    if acc.is_empty() && loss.is_empty() {
        return note("No validation data (run the aggregator with --validation).");
    }

    let first = if d.initial_validation.is_some() {
        0.0
    } else {
        1.0
    };
    let last = last_round(d).max(first);
    let (acc_lo, acc_hi) = accuracy_range(&acc);
    let (loss_lo, loss_hi) = padded_range(loss.iter().map(|p| p.1), true);
    draw_svg(
        WIDE,
        PANEL_H,
        "validation accuracy and loss per round",
        |root| {
            let (left, right) = root.split_horizontally(WIDE / 2);
            line_panel(
                &left,
                &LinePanel {
                    caption: "Validation accuracy",
                    legend: None,
                    y_desc: "accuracy (%)",
                    x: (first, last),
                    y: (acc_lo, acc_hi),
                    colour: ACCURACY,
                    value: |v| format!("{v:.1}%"),
                },
                &acc,
                "no accuracy recorded",
            )?;
            line_panel(
                &right,
                &LinePanel {
                    caption: "Validation loss",
                    legend: None,
                    y_desc: "loss",
                    x: (first, last),
                    y: (loss_lo, loss_hi),
                    colour: LOSS,
                    value: |v| format!("{v:.3}"),
                },
                &loss,
                "no loss recorded",
            )
        },
    )
}

/// Each trainer's per-mille score per round; marker shape shows the slot's outcome.
pub fn plot_scores(d: &ReportData) -> String {
    if d.trainers.is_empty() {
        return note("No trainers joined this project, so there are no scores to plot.");
    }
    if d.trainers.iter().all(|t| t.scores.is_empty()) {
        return note("No scores recorded yet (no round has been finalised).");
    }
    let last = last_round(d).max(1.0);
    let colours = trainer_colours(&d.trainers);
    let legend_rows = d.trainers.len() + 6;
    let height = (PANEL_H + 60).max(70 + legend_rows as u32 * 24);
    draw_svg(WIDE, height, "trainer scores per round", |root| {
        let (plot, legend) = root.split_horizontally(LEGEND_SPLIT);
        let top = panel_header(&plot, "Contribution score per round", &[])?;
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .margin_top(top)
            .x_label_area_size(44)
            .y_label_area_size(64)
            // A little room below 0 and above 1000 so markers at the limits are not cut.
            .build_cartesian_2d(
                Ticked::new(0.5, last + 0.5, round_keys(1.0, last)),
                Ticked::new(-40.0, 1040.0, vec![0.0, 200.0, 400.0, 600.0, 800.0, 1000.0]),
            )?;
        style_mesh(&mut chart.configure_mesh(), "round", "score (‰)")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()?;

        // Trainers with equal scores would hide each other: dodge them a few pixels apart.
        let px_per_round = f64::from(chart.plotting_area().dim_in_pixel().0) / last;
        let n = d.trainers.len() as f64;
        let step_px = if n > 1.0 {
            (48.0 / (n - 1.0)).min(9.0)
        } else {
            0.0
        };
        let dodge = |i: usize| (i as f64 - (n - 1.0) / 2.0) * step_px / px_per_round;

        for (i, t) in d.trainers.iter().enumerate() {
            let pts = score_points(t, dodge(i));
            let c = colours[i];
            if t.attacker {
                chart.draw_series(DashedLineSeries::new(
                    pts.iter().map(|p| (p.0, p.1)),
                    8,
                    5,
                    c.stroke_width(2),
                ))?;
            } else {
                chart.draw_series(LineSeries::new(
                    pts.iter().map(|p| (p.0, p.1)),
                    c.stroke_width(2),
                ))?;
            }
        }
        // Markers after all lines so no line crosses a marker.
        for (i, t) in d.trainers.iter().enumerate() {
            let pts = score_points(t, dodge(i));
            let c = colours[i];
            let with = |o: SlotOutcome| pts.iter().filter(move |p| p.2 == o).map(|p| (p.0, p.1));
            chart
                .draw_series(with(SlotOutcome::Accepted).map(|p| Circle::new(p, 5, c.filled())))?;
            chart.draw_series(
                with(SlotOutcome::Rejected).map(|p| Cross::new(p, 6, c.stroke_width(3))),
            )?;
            chart.draw_series(with(SlotOutcome::SetAside).map(|p| {
                EmptyElement::at(p)
                    + Rectangle::new([(-5, -5), (5, 5)], WHITE.filled())
                    + Rectangle::new([(-5, -5), (5, 5)], c.stroke_width(2))
            }))?;
            chart.draw_series(with(SlotOutcome::Missing).map(|p| {
                EmptyElement::at(p)
                    + Circle::new((0, 0), 3, WHITE.filled())
                    + Circle::new((0, 0), 3, c.stroke_width(2))
            }))?;
        }

        let mut lg = Legend::new(&legend, 52);
        lg.heading("Trainers")?;
        for (i, t) in d.trainers.iter().enumerate() {
            lg.trainer_line(colours[i], t.attacker, &trainer_name(t))?;
        }
        lg.gap();
        lg.heading("Outcome")?;
        lg.marker(Marker::Filled, "accepted")?;
        lg.marker(Marker::Cross, "rejected")?;
        lg.marker(Marker::Square, "set aside")?;
        lg.marker(Marker::Ring, "missing (at 0)")?;
        Ok(())
    })
}

/// Reward per trainer with the stake stacked on top (grey if returned, hatched red if lost).
pub fn plot_payouts(d: &ReportData) -> String {
    if d.trainers.is_empty() {
        return note("No trainers joined this project, so there are no payouts to plot.");
    }
    let max = d
        .trainers
        .iter()
        .map(|t| t.reward.saturating_add(t.stake))
        .max()
        .unwrap_or(0);
    let exp = amount_exponent(max);
    let scale = 10f64.powi(exp as i32);
    let top = if max == 0 {
        1.0
    } else {
        max as f64 / scale * 1.18
    };
    let n = d.trainers.len();
    let colours = trainer_colours(&d.trainers);
    let y_desc = if exp == 0 {
        "amount".to_string()
    } else {
        format!("amount (×10{})", superscript(exp))
    };
    draw_svg(WIDE, PANEL_H + 20, "reward and stake per trainer", |root| {
        let (plot, legend) = root.split_horizontally(LEGEND_SPLIT);
        let header = panel_header(&plot, "Reward and stake per trainer", &[])?;
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .margin_top(header)
            .x_label_area_size(52)
            .y_label_area_size(72)
            .build_cartesian_2d(-0.6..n as f64 - 0.4, 0.0..top)?;
        let y_dec = tick_decimals(top);
        style_mesh(&mut chart.configure_mesh(), "", &y_desc)
            .disable_x_mesh()
            // Slot labels are drawn per bar below (two lines), not as axis ticks.
            .x_labels(0)
            .y_label_formatter(&|y| format!("{y:.y_dec$}"))
            .draw()?;

        let half = 0.32;
        let bar_px = f64::from(chart.plotting_area().dim_in_pixel().0) / n as f64;
        // ~6.5 px per character at this size in a typical sans-serif.
        let max_chars = ((bar_px - 6.0) / 6.5).max(3.0) as usize;
        // Slot numbers need ~30 px each.
        let label_every = (30.0 / bar_px).ceil().max(1.0) as usize;
        let (_, plot_bottom) = chart.backend_coord(&(0.0, 0.0));
        for (i, t) in d.trainers.iter().enumerate() {
            let x = i as f64;
            let reward = t.reward as f64 / scale;
            let stake = t.stake as f64 / scale;
            if reward > 0.0 {
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x - half, 0.0), (x + half, reward)],
                    colours[i].filled(),
                )))?;
            }
            if stake > 0.0 {
                let rect = [(x - half, reward), (x + half, reward + stake)];
                if t.stake_returned {
                    chart
                        .draw_series(std::iter::once(Rectangle::new(rect, STAKE_GREY.filled())))?;
                } else {
                    let a = chart.backend_coord(&rect[0]);
                    let b = chart.backend_coord(&rect[1]);
                    hatch(root, a, b, LOST_RED)?;
                    chart.draw_series(std::iter::once(Rectangle::new(
                        rect,
                        LOST_RED.stroke_width(2),
                    )))?;
                }
            }
            // Labels above the stack, as much as the bar width allows: the reward, and
            // "stake lost" where it applies (the hatching and legend say it when narrow).
            let (cx, stack_top) = chart.backend_coord(&(x, reward + stake));
            let above = Pos::new(HPos::Center, VPos::Bottom);
            let mut y = stack_top - 6;
            if bar_px >= 60.0 {
                if !t.stake_returned && t.stake > 0 {
                    let lost = if bar_px >= 100.0 {
                        "stake lost"
                    } else {
                        "lost"
                    };
                    root.draw(&Text::new(
                        lost,
                        (cx, y),
                        (FONT, 15, &LOST_RED).into_text_style(root).pos(above),
                    ))?;
                    y -= 18;
                }
                let amount = short_amount(t.reward, scale);
                let text = if bar_px >= 100.0 {
                    format!("reward {amount}")
                } else {
                    amount
                };
                root.draw(&Text::new(
                    text,
                    (cx, y),
                    (FONT, 15, &INK).into_text_style(root).pos(above),
                ))?;
            }
            // Category label: "slot N" and the (shortened) owner label while they fit, else
            // just the slot number on every `label_every`-th bar.
            let below = Pos::new(HPos::Center, VPos::Top);
            if bar_px >= 60.0 {
                root.draw(&Text::new(
                    format!("slot {}", t.slot),
                    (cx, plot_bottom + 8),
                    (FONT, 16, &INK).into_text_style(root).pos(below),
                ))?;
                root.draw(&Text::new(
                    truncate(t.label.as_deref().unwrap_or("unlabelled"), max_chars),
                    (cx, plot_bottom + 28),
                    (FONT, 15, &MUTED).into_text_style(root).pos(below),
                ))?;
            } else if i % label_every == 0 {
                root.draw(&Text::new(
                    t.slot.to_string(),
                    (cx, plot_bottom + 8),
                    (FONT, 16, &INK).into_text_style(root).pos(below),
                ))?;
            }
        }
        if bar_px < 60.0 {
            let (left_x, _) = chart.backend_coord(&(-0.6, 0.0));
            let (right_x, _) = chart.backend_coord(&(n as f64 - 0.4, 0.0));
            root.draw(&Text::new(
                "slot",
                ((left_x + right_x) / 2, plot_bottom + 30),
                (FONT, 17, &INK)
                    .into_text_style(root)
                    .pos(Pos::new(HPos::Center, VPos::Top)),
            ))?;
        }

        let mut lg = Legend::new(&legend, 52);
        lg.heading("Bars")?;
        lg.swatch(Swatch::Fill(HONEST_TONES[0]), "reward (honest)")?;
        lg.swatch(Swatch::Fill(ATTACKER_TONES[0]), "reward (attacker)")?;
        lg.swatch(Swatch::Fill(STAKE_GREY), "stake returned")?;
        lg.swatch(Swatch::Hatched(LOST_RED), "stake lost")?;
        if exp > 0 {
            lg.gap();
            lg.text(&format!("amounts ×10{}", superscript(exp)))?;
            lg.text("chain units")?;
        }
        Ok(())
    })
}

/// Proof time per round, and finalize_round's weight (ref_time % of block, proof size) per round.
pub fn plot_chain_cost(d: &ReportData) -> String {
    let x = |r: &RoundRow| display_round(r.round);
    let prove: Vec<(f64, f64)> = d
        .rounds
        .iter()
        .filter_map(|r| r.prove_seconds.map(|s| (x(r), s)))
        .filter(|p| finite(*p))
        .collect();
    let ref_pct: Vec<(f64, f64)> = d
        .rounds
        .iter()
        .filter_map(|r| {
            r.ref_time
                .map(|t| (x(r), t as f64 / BLOCK_REF_TIME * 100.0))
        })
        .collect();
    let size_kb: Vec<(f64, f64)> = d
        .rounds
        .iter()
        .filter_map(|r| r.proof_size.map(|b| (x(r), b as f64 / 1000.0)))
        .collect();
    if prove.is_empty() && ref_pct.is_empty() && size_kb.is_empty() {
        return note("No proof timings or on-chain weights were recorded for any round.");
    }
    let last = last_round(d).max(1.0);
    let (p_lo, p_hi) = padded_range(prove.iter().map(|p| p.1), true);
    draw_svg(
        WIDE,
        PANEL_H + 20,
        "proof time and on-chain weight per round",
        |root| {
            let (left, right) = root.split_horizontally(WIDE / 2);
            line_panel(
                &left,
                &LinePanel {
                    caption: "Proof time per round",
                    legend: Some("seconds the aggregator spent proving"),
                    y_desc: "proof time (s)",
                    x: (1.0, last),
                    y: (p_lo, p_hi),
                    colour: PROVE,
                    value: |v| format!("{v:.1} s"),
                },
                &prove,
                "no proof timings recorded",
            )?;
            weight_panel(&right, (1.0, last), &ref_pct, &size_kb)
        },
    )
}

/// Top margin of a panel with just a caption, and with a caption plus a legend row.
const HEADER_H: u32 = 40;
const HEADER_LEGEND_H: u32 = 66;

/// A panel's caption, and optionally a one-row legend under it (kept out of the data area).
/// Returns the top margin the chart below must leave.
fn panel_header(area: &Area, caption: &str, legend: &[(Swatch, &str)]) -> Result<u32, DrawError> {
    let (w, _) = area.dim_in_pixel();
    let cx = (w / 2) as i32;
    area.draw(&Text::new(
        caption.to_string(),
        (cx, 12),
        (FONT, 20, &INK)
            .into_text_style(area)
            .pos(Pos::new(HPos::Center, VPos::Top)),
    ))?;
    if legend.is_empty() {
        return Ok(HEADER_H);
    }
    // Centre the row using the same rough text-width estimate plotters uses for layout.
    let entry_w = |s: &str| 34 + (s.chars().count() as i32 * 13 / 2) + 18;
    let total: i32 = legend.iter().map(|(_, s)| entry_w(s)).sum();
    let mut x = cx - total / 2;
    let y = 46;
    for &(sw, s) in legend {
        sw.draw(area, ((x, y - 6), (x + 24, y + 6)), (x, x + 24), y)?;
        area.draw(&Text::new(
            s.to_string(),
            (x + 32, y),
            (FONT, 15, &INK)
                .into_text_style(area)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        x += entry_w(s);
    }
    Ok(HEADER_LEGEND_H)
}

/// A single line-with-markers panel over rounds; used for accuracy, loss and proof time.
struct LinePanel<'a> {
    caption: &'a str,
    /// One legend entry under the caption (keeps panels in one SVG aligned with a neighbour
    /// that needs a legend).
    legend: Option<&'a str>,
    y_desc: &'a str,
    /// First and last round on the x axis (inclusive).
    x: (f64, f64),
    y: (f64, f64),
    colour: RGBColor,
    /// How a point's value is written next to it.
    value: fn(f64) -> String,
}

fn line_panel(area: &Area, p: &LinePanel, pts: &[(f64, f64)], empty: &str) -> PlotResult {
    let legend: Vec<(Swatch, &str)> = p
        .legend
        .map(|l| (Swatch::Line(p.colour), l))
        .into_iter()
        .collect();
    let top = panel_header(area, p.caption, if pts.is_empty() { &[] } else { &legend })?;
    if pts.is_empty() {
        return area_message(area, empty);
    }
    let (y0, y1) = p.y;
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .margin_top(top)
        .x_label_area_size(46)
        .y_label_area_size(68)
        .build_cartesian_2d(
            Ticked::new(p.x.0 - 0.5, p.x.1 + 0.5, round_keys(p.x.0, p.x.1)),
            y0..y1,
        )?;
    let dec = tick_decimals(y1 - y0);
    style_mesh(&mut chart.configure_mesh(), "round", p.y_desc)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.dec$}"))
        .draw()?;
    chart.draw_series(LineSeries::new(
        pts.iter().copied(),
        p.colour.stroke_width(2),
    ))?;
    chart.draw_series(pts.iter().map(|&c| Circle::new(c, 4, p.colour.filled())))?;
    // Value labels only while neighbouring labels (~45 px wide) cannot collide.
    let px_per_round = f64::from(chart.plotting_area().dim_in_pixel().0) / (p.x.1 - p.x.0 + 1.0);
    if px_per_round >= 55.0 {
        let value_style = (FONT, 15, &INK).into_text_style(area);
        let near_top = y1 - (y1 - y0) * 0.12;
        chart.draw_series(pts.iter().map(|&(x, y)| {
            // Below the point when it sits near the top edge, above it otherwise.
            let (dy, v) = if y > near_top {
                (8, VPos::Top)
            } else {
                (-8, VPos::Bottom)
            };
            EmptyElement::at((x, y))
                + Text::new(
                    (p.value)(y),
                    (0, dy),
                    value_style.pos(Pos::new(HPos::Center, v)),
                )
        }))?;
    }
    Ok(())
}

/// ref_time (% of a block, left axis) and proof size (kB, right axis) as paired bars per round:
/// bars side by side stay readable even when both series land at the same height.
fn weight_panel(
    area: &Area,
    rounds: (f64, f64),
    ref_pct: &[(f64, f64)],
    size_kb: &[(f64, f64)],
) -> PlotResult {
    const CAPTION: &str = "On-chain weight of finalize_round";
    if ref_pct.is_empty() && size_kb.is_empty() {
        panel_header(area, CAPTION, &[])?;
        return area_message(area, "no on-chain weights recorded");
    }
    let top = panel_header(
        area,
        CAPTION,
        &[
            (Swatch::Fill(REF_TIME), "ref_time (left)"),
            (Swatch::Fill(PROOF_SIZE), "proof_size (right)"),
        ],
    )?;
    let (_, pct_hi) = padded_range(ref_pct.iter().map(|p| p.1), true);
    let (_, kb_hi) = padded_range(size_kb.iter().map(|p| p.1), true);
    let x_range = rounds.0 - 0.5..rounds.1 + 0.5;
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .margin_top(top)
        .x_label_area_size(46)
        .y_label_area_size(68)
        .right_y_label_area_size(68)
        .build_cartesian_2d(
            Ticked::new(x_range.start, x_range.end, round_keys(rounds.0, rounds.1)),
            0.0..pct_hi,
        )?
        .set_secondary_coord(x_range, 0.0..kb_hi);
    let pct_dec = tick_decimals(pct_hi);
    let kb_dec = tick_decimals(kb_hi);
    style_mesh(
        &mut chart.configure_mesh(),
        "round",
        "ref_time (% of 2·10¹² block)",
    )
    .disable_x_mesh()
    .x_label_formatter(&|x| format!("{x:.0}"))
    .y_label_formatter(&|y| format!("{y:.pct_dec$}"))
    .draw()?;
    chart
        .configure_secondary_axes()
        .y_desc("proof_size (kB)")
        .label_style((FONT, 16, &INK))
        .axis_desc_style((FONT, 17, &INK))
        .axis_style(MUTED)
        .y_label_formatter(&|y| format!("{y:.kb_dec$}"))
        .draw()?;

    let (gap, w) = (0.03, 0.3);
    // Values over the bars only while a round is wide enough for two labels.
    let px_per_round =
        f64::from(chart.plotting_area().dim_in_pixel().0) / (rounds.1 - rounds.0 + 1.0);
    let labels = px_per_round >= 110.0;
    let label_style = |c: &'static RGBColor| {
        (FONT, 14, c)
            .into_text_style(area)
            .pos(Pos::new(HPos::Center, VPos::Bottom))
    };
    chart.draw_series(
        ref_pct
            .iter()
            .map(|&(x, v)| Rectangle::new([(x - gap - w, 0.0), (x - gap, v)], REF_TIME.filled())),
    )?;
    chart.draw_secondary_series(
        size_kb
            .iter()
            .map(|&(x, v)| Rectangle::new([(x + gap, 0.0), (x + gap + w, v)], PROOF_SIZE.filled())),
    )?;
    if labels {
        chart.draw_series(ref_pct.iter().map(|&(x, v)| {
            Text::new(
                format!("{v:.1}%"),
                (x - gap - w / 2.0, v),
                label_style(&REF_TIME),
            )
        }))?;
        chart.draw_secondary_series(size_kb.iter().map(|&(x, v)| {
            Text::new(
                format!("{v:.1} kB"),
                (x + gap + w / 2.0, v),
                label_style(&PROOF_SIZE),
            )
        }))?;
    }
    Ok(())
}
