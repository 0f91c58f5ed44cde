//! The page's two HTML tables: one row per round, one per trainer.

use std::fmt::Write as _;

use super::chart::trainer_colours;
use super::format::{code_or_dash, css_hex, dash, escape, fmt_accuracy, fmt_loss, group_thousands};
use super::BLOCK_REF_TIME;
use crate::report::data::ReportData;

pub(super) fn rounds_table(d: &ReportData) -> String {
    let mut s = String::from(
        "<div class=\"scroll\"><table>\n<thead><tr><th class=\"n\">round</th>\
         <th class=\"n\">block</th><th class=\"n\">accepted</th><th class=\"n\">accuracy</th>\
         <th class=\"n\">loss</th><th class=\"n\">prove (s)</th><th class=\"n\">ref_time</th>\
         <th class=\"n\">proof_size</th><th>model CID</th><th>report CID</th>\
         </tr></thead>\n<tbody>\n",
    );
    if let Some(v) = d.initial_validation {
        let _ = writeln!(
            s,
            "<tr class=\"initial\"><td class=\"n\">0 (initial)</td><td class=\"n\">—</td>\
             <td class=\"n\">—</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">—</td><td class=\"n\">—</td><td class=\"n\">—</td>\
             <td>—</td><td>—</td></tr>",
            fmt_accuracy(v.accuracy),
            fmt_loss(v.loss)
        );
    }
    for r in &d.rounds {
        let v = r.validation;
        let _ = writeln!(
            s,
            "<tr><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"cid\">{}</td>\
             <td class=\"cid\">{}</td></tr>",
            u64::from(r.round) + 1,
            group_thousands(u128::from(r.finalized_at_block)),
            r.accepted,
            v.map_or_else(dash, |v| fmt_accuracy(v.accuracy)),
            v.map_or_else(dash, |v| fmt_loss(v.loss)),
            r.prove_seconds.map_or_else(dash, |p| format!("{p:.1}")),
            r.ref_time.map_or_else(dash, |t| format!(
                "{} <span class=\"dim\">({:.1}%)</span>",
                group_thousands(u128::from(t)),
                t as f64 / BLOCK_REF_TIME * 100.0
            )),
            r.proof_size
                .map_or_else(dash, |b| format!("{} B", group_thousands(u128::from(b)))),
            code_or_dash(&r.model_cid),
            code_or_dash(r.report_cid.as_deref().unwrap_or("")),
        );
    }
    if d.rounds.is_empty() && d.initial_validation.is_none() {
        s.push_str("<tr><td colspan=\"10\" class=\"empty\">No rounds finalised.</td></tr>\n");
    }
    s.push_str("</tbody>\n</table></div>");
    s
}

pub(super) fn trainers_table(d: &ReportData) -> String {
    let mut s = String::from(
        "<div class=\"scroll\"><table>\n<thead><tr><th class=\"n\">slot</th><th>account</th>\
         <th>label</th><th class=\"n\">total score</th><th class=\"n\">rejected rounds</th>\
         <th>missed reveal</th><th class=\"n\">reward</th><th class=\"n\">stake</th>\
         <th>stake returned</th></tr></thead>\n<tbody>\n",
    );
    let colours = trainer_colours(&d.trainers);
    for (t, c) in d.trainers.iter().zip(colours) {
        let badge = if t.attacker {
            " <span class=\"badge\">attacker</span>"
        } else {
            ""
        };
        let returned = if t.stake_returned {
            "yes".to_string()
        } else if t.stake == 0 {
            "—".to_string()
        } else {
            "<span class=\"lost\">no — stake lost</span>".to_string()
        };
        let _ = writeln!(
            s,
            "<tr><td class=\"n\"><span class=\"sw\" style=\"background:{}\"></span>{}</td>\
             <td class=\"cid\">{}</td><td>{}{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td>{}</td></tr>",
            css_hex(c),
            t.slot,
            code_or_dash(&t.account),
            t.label.as_deref().map_or_else(dash, escape),
            badge,
            t.total_score,
            t.rejected_rounds,
            if t.missed_reveal { "yes" } else { "no" },
            group_thousands(t.reward),
            group_thousands(t.stake),
            returned,
        );
    }
    if d.trainers.is_empty() {
        s.push_str("<tr><td colspan=\"9\" class=\"empty\">No trainers joined.</td></tr>\n");
    }
    s.push_str("</tbody>\n</table></div>");
    s
}
