//! Text for the page: HTML escaping, notes and dashes, numbers (thousands separators, scaled
//! amounts, superscripts), dates, colours and names.

use plotters::style::RGBColor;

use crate::report::data::TrainerRow;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(super) fn note(msg: &str) -> String {
    format!("<p class=\"note\">{}</p>", escape(msg))
}

pub(super) fn dash() -> String {
    "—".to_string()
}

pub(super) fn or_dash(s: &str) -> &str {
    if s.is_empty() {
        "—"
    } else {
        s
    }
}

pub(super) fn code_or_dash(s: &str) -> String {
    if s.is_empty() {
        dash()
    } else {
        format!("<code>{}</code>", escape(s))
    }
}

pub(super) fn fmt_accuracy(a: f64) -> String {
    format!("{:.2}%", a * 100.0)
}

pub(super) fn fmt_loss(l: f64) -> String {
    format!("{l:.4}")
}

/// `1234567` → `"1,234,567"`.
pub fn group_thousands(v: u128) -> String {
    let digits = v.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// The power of ten (a multiple of 3) that brings `max` into a readable axis range; 0 for
/// amounts that are readable as they are.
pub(super) fn amount_exponent(max: u128) -> u32 {
    let digits = max.checked_ilog10().unwrap_or(0) + 1;
    if digits <= 4 {
        0
    } else {
        (digits - 1) / 3 * 3
    }
}

/// An amount already scaled for the axis, with two decimals (raw when unscaled).
pub(super) fn short_amount(v: u128, scale: f64) -> String {
    if scale <= 1.0 {
        group_thousands(v)
    } else {
        format!("{:.2}", v as f64 / scale)
    }
}

pub(super) fn superscript(n: u32) -> String {
    const SUP: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    n.to_string()
        .chars()
        .map(|c| c.to_digit(10).map_or(c, |d| SUP[d as usize]))
        .collect()
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS UTC` (proleptic Gregorian; days-to-civil after
/// Howard Hinnant's algorithm, so no date crate is needed).
pub fn utc_text(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

pub(super) fn css_hex(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

pub(super) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

pub(super) fn trainer_name(t: &TrainerRow) -> String {
    format!(
        "slot {} · {}",
        t.slot,
        t.label.as_deref().unwrap_or("unlabelled")
    )
}
