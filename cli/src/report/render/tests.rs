use super::super::data::{RoundRow, RoundScore, SlotOutcome, TrainerRow, Validation};
use super::chart::round_keys;
use super::format::{amount_exponent, superscript};
use super::*;

const UNIT: u128 = 1_000_000_000_000;

fn score(round: u32, score: u32, outcome: SlotOutcome) -> RoundScore {
    RoundScore {
        round,
        score,
        outcome,
    }
}

fn trainer(
    slot: u32,
    label: &str,
    attacker: bool,
    scores: Vec<RoundScore>,
    reward: u128,
    stake_returned: bool,
) -> TrainerRow {
    let total_score = scores.iter().map(|s| s.score).sum();
    let rejected_rounds = scores
        .iter()
        .filter(|s| s.outcome == SlotOutcome::Rejected)
        .count() as u32;
    let missed_reveal = scores.iter().any(|s| s.outcome == SlotOutcome::Missing);
    TrainerRow {
        slot,
        account: format!("5Grw{slot}vaEd3bFvCeVoa2wNtp7qaJbqq2ZstNkTq6TQ9qTW{slot}"),
        label: Some(label.to_string()),
        attacker,
        scores,
        total_score,
        rejected_rounds,
        missed_reveal,
        reward,
        stake: 50 * UNIT,
        stake_returned,
    }
}

/// 3 rounds, 5 trainers: 2 honest, label-flip (stake lost), free-rider (set aside, then
/// missing), copier.
pub(super) fn sample() -> ReportData {
    use SlotOutcome::*;
    let round = |r: u32, acc: f64, loss: f64, prove: Option<f64>| RoundRow {
        round: r,
        finalized_at_block: 120 + r * 40,
        accepted: 4 - r.min(1),
        model_cid: format!("bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzd{r}"),
        report_cid: (r != 1)
            .then(|| format!("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyk{r}")),
        validation: Some(Validation {
            accuracy: acc,
            loss,
        }),
        prove_seconds: prove,
        ref_time: Some(380_000_000_000 + u64::from(r) * 12_000_000_000),
        proof_size: Some(18_432 + u64::from(r) * 512),
    };
    ReportData {
        project: 7,
        chain: "embedded".into(),
        phase: "Finished".into(),
        rounds_planned: 3,
        spec_cid: "bafkreia3spec5xk6hxtmvjzj2tq7ezyvd3vvl4fiqwrwtdmfq7rbsdtgmy".into(),
        model_cid: "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzd2".into(),
        owner: "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty".into(),
        aggregator: "5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y".into(),
        pool: 1_000 * UNIT,
        trainer_stake: 50 * UNIT,
        initial_validation: Some(Validation {
            accuracy: 0.112,
            loss: 2.302,
        }),
        rounds: vec![
            round(0, 0.714, 0.951, Some(41.2)),
            round(1, 0.842, 0.523, Some(39.8)),
            round(2, 0.883, 0.412, None),
        ],
        trainers: vec![
            trainer(
                0,
                "honest",
                false,
                vec![
                    score(0, 412, Accepted),
                    score(1, 398, Accepted),
                    score(2, 405, Accepted),
                ],
                352 * UNIT,
                true,
            ),
            trainer(
                1,
                "honest",
                false,
                vec![
                    score(0, 388, Accepted),
                    score(1, 402, Accepted),
                    score(2, 391, Accepted),
                ],
                341 * UNIT,
                true,
            ),
            trainer(
                2,
                "label-flip (simulated)",
                true,
                vec![
                    score(0, 0, Rejected),
                    score(1, 0, Rejected),
                    score(2, 12, Rejected),
                ],
                0,
                false,
            ),
            trainer(
                3,
                "free-rider (simulated)",
                true,
                vec![
                    score(0, 35, Accepted),
                    score(1, 0, SetAside),
                    score(2, 0, Missing),
                ],
                10 * UNIT,
                true,
            ),
            trainer(
                4,
                "copier (simulated)",
                true,
                vec![
                    score(0, 165, Accepted),
                    score(1, 200, Accepted),
                    score(2, 192, Accepted),
                ],
                147 * UNIT,
                true,
            ),
        ],
        aggregator_fee: 50 * UNIT,
        owner_refund: 100 * UNIT,
        generated_at: 1_764_183_720,
    }
}

fn empty() -> ReportData {
    ReportData {
        project: 1,
        chain: "node".into(),
        phase: "Commit".into(),
        rounds_planned: 5,
        spec_cid: String::new(),
        model_cid: String::new(),
        owner: "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty".into(),
        aggregator: String::new(),
        pool: 0,
        trainer_stake: 0,
        initial_validation: None,
        rounds: vec![],
        trainers: vec![],
        aggregator_fee: 0,
        owner_refund: 0,
        generated_at: 0,
    }
}

#[test]
fn sample_renders_all_plots_and_labels() {
    let html = render_html(&sample());
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<svg").count(), 4, "one SVG per plot");
    assert!(
        !html.contains("class=\"note\""),
        "no plot fell back to a note"
    );
    for label in [
        "slot 0 · honest",
        "slot 2 · label-flip (simulated)",
        "slot 3 · free-rider (simulated)",
        "slot 4 · copier (simulated)",
        "stake lost",
    ] {
        assert!(html.contains(label), "missing {label:?}");
    }
    assert!(html.contains("Merit — project 7 report"));
    assert!(
        html.contains("1,000,000,000,000,000"),
        "pool with separators"
    );
    assert!(html.contains("amount (×10¹²)"), "scaled axis label");
    assert!(html.contains("2025-11-26 19:02:00 UTC"));
    // Self-contained: no scripts, no external references.
    assert!(!html.contains("<script"));
    for external in ["src=", "href=", "<link", "@import", "url("] {
        assert!(!html.contains(external), "external reference {external:?}");
    }
}

#[test]
fn strings_are_escaped() {
    let mut d = sample();
    d.trainers[4].label = Some("copier <script>alert(\"x\")</script>".into());
    d.phase = "Finished & <b>done</b>".into();
    let html = render_html(&d);
    assert!(!html.contains("<script>"));
    assert!(!html.contains("<b>done"));
    assert!(html.contains("copier &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
    assert!(html.contains("Finished &amp; &lt;b&gt;done&lt;/b&gt;"));
}

#[test]
fn empty_report_renders_notes() {
    let html = render_html(&empty());
    assert!(!html.contains("<svg"));
    assert!(html.contains("No validation data (run the aggregator with --validation)."));
    assert!(html.contains("No trainers joined this project"));
    assert!(html.contains("No proof timings or on-chain weights"));
    assert!(html.contains("No rounds finalised."));
    assert!(html.contains("1970-01-01 00:00:00 UTC"));
}

#[test]
fn degenerate_reports_do_not_panic() {
    // One round, everything else unknown, all scores 0.
    let mut d = sample();
    d.rounds.truncate(1);
    d.rounds[0].validation = None;
    d.rounds[0].prove_seconds = None;
    d.rounds[0].ref_time = None;
    d.rounds[0].proof_size = None;
    d.initial_validation = None;
    for t in &mut d.trainers {
        t.scores.truncate(1);
        t.scores[0].score = 0;
        t.reward = 0;
        t.stake = 0;
    }
    let html = render_html(&d);
    assert_eq!(html.matches("<svg").count(), 2, "scores and payouts only");
    assert!(html.contains("No validation data"));

    // Trainers but no rounds yet; odd floats.
    let mut d = empty();
    d.trainers = sample().trainers;
    for t in &mut d.trainers {
        t.scores.clear();
    }
    d.initial_validation = Some(Validation {
        accuracy: f64::NAN,
        loss: f64::INFINITY,
    });
    let html = render_html(&d);
    assert!(html.contains("No scores recorded yet"));

    // Only an initial validation; only a proof time; huge amounts.
    let mut d = empty();
    d.initial_validation = Some(Validation {
        accuracy: 0.5,
        loss: 1.0,
    });
    d.rounds = vec![sample().rounds[2].clone()];
    d.rounds[0].validation = None;
    d.rounds[0].prove_seconds = Some(3.0);
    d.rounds[0].ref_time = None;
    d.rounds[0].proof_size = None;
    let mut t = sample().trainers[0].clone();
    t.reward = u128::MAX;
    t.stake = u128::MAX;
    d.trainers = vec![t];
    let html = render_html(&d);
    assert_eq!(html.matches("<svg").count(), 4);
    assert!(html.contains("no on-chain weights recorded"));

    // Many trainers and many rounds: the legend grows, labels thin out.
    let mut d = sample();
    let base = d.trainers[0].clone();
    d.trainers = (0..24)
        .map(|i| TrainerRow {
            slot: i,
            attacker: i % 3 == 0,
            label: (i % 5 != 0).then(|| "a rather long label — with ünïcode".into()),
            ..base.clone()
        })
        .collect();
    let html = render_html(&d);
    assert_eq!(html.matches("<svg").count(), 4);
    assert!(!html.contains("could not be drawn"));
}

#[test]
fn json_round_trips() {
    let d = sample();
    let back: ReportData = serde_json::from_str(&render_json(&d)).expect("valid JSON");
    assert_eq!(back, d);
    let e = empty();
    let back: ReportData = serde_json::from_str(&render_json(&e)).expect("valid JSON");
    assert_eq!(back, e);
}

#[test]
fn helpers() {
    assert_eq!(group_thousands(0), "0");
    assert_eq!(group_thousands(999), "999");
    assert_eq!(group_thousands(1_000), "1,000");
    assert_eq!(group_thousands(1_234_567), "1,234,567");
    assert_eq!(amount_exponent(0), 0);
    assert_eq!(amount_exponent(9_999), 0);
    assert_eq!(amount_exponent(10_000), 3);
    assert_eq!(amount_exponent(400 * UNIT), 12);
    assert_eq!(superscript(12), "¹²");
    assert_eq!(utc_text(0), "1970-01-01 00:00:00 UTC");
    assert_eq!(utc_text(951_782_400), "2000-02-29 00:00:00 UTC");
    assert_eq!(utc_text(1_700_000_000), "2023-11-14 22:13:20 UTC");
    assert_eq!(escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
    assert_eq!(round_keys(0.0, 3.0), vec![0.0, 1.0, 2.0, 3.0]);
    assert!(round_keys(1.0, 100.0).len() <= 13);
}
