//! `rule-v2.json`: the round rule's worked cases, every intermediate of `rule::run`
//! (protocol/SPEC.md §6, §8).

use serde::{Deserialize, Serialize};

/// The round rule's worked cases (protocol/SPEC.md §6, §8).
pub const RULE_V2_JSON: &str = include_str!("../../test-vectors/rule-v2.json");

/// `rule-v2.json`: inputs and every intermediate of `rule::run` for a few rounds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleVectors {
    pub format: String,
    pub cases: Vec<RuleCase>,
}

/// One round through the rule (protocol/SPEC.md §8 lists the fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleCase {
    pub name: String,
    pub slots: usize,
    pub dim: usize,
    pub byzantine: usize,
    pub norm_bound_sq: u64,
    pub band_sq_milli: u32,
    pub duplicate_milli: u32,
    pub prev: Vec<i16>,
    pub updates: Vec<Option<Vec<i16>>>,
    pub in_bound: Vec<bool>,
    pub median_norm: u64,
    pub eligible: Vec<bool>,
    pub cosines: Vec<Vec<i32>>,
    pub duplicate: Vec<bool>,
    pub byzantine_left: usize,
    pub krum_ran: bool,
    pub krum: Vec<u64>,
    pub accepted: Vec<bool>,
    pub new_model: Vec<i16>,
    pub scores: Vec<u32>,
}

fn rule_case(
    name: &str,
    p: crate::rule::RuleParams,
    prev: Vec<i16>,
    updates: Vec<Option<Vec<i16>>>,
) -> RuleCase {
    let refs: Vec<Option<&[i16]>> = updates.iter().map(|u| u.as_deref()).collect();
    let o = crate::rule::run(&p, &prev, &refs).expect("a valid vector round");
    let mut cosines = o.decision.cosines.clone();
    for (i, row) in cosines.iter_mut().enumerate() {
        row[i] = 0;
    }
    RuleCase {
        name: name.into(),
        slots: p.slots,
        dim: p.dim,
        byzantine: p.byzantine,
        norm_bound_sq: p.norm_bound_sq,
        band_sq_milli: p.band_sq_milli,
        duplicate_milli: p.duplicate_milli,
        prev,
        updates,
        in_bound: o.decision.in_bound,
        median_norm: o.decision.median_norm,
        eligible: o.decision.eligible,
        cosines,
        duplicate: o.decision.duplicate,
        byzantine_left: o.decision.byzantine_left,
        krum_ran: o.decision.krum_ran,
        krum: o.decision.krum,
        accepted: o.decision.accepted,
        new_model: o.new_model,
        scores: o.decision.scores,
    }
}

/// The rounds of `rule-v2.json`: small hand-checked ones, then one of every attack shape.
pub fn rule_vectors() -> RuleVectors {
    use crate::rule::RuleParams;
    let some = |v: &[i16]| Some(v.to_vec());
    let mut cases = vec![
        rule_case(
            "band, opposite direction, absent slot",
            RuleParams::new(6, 2, 1, 1_000_000),
            vec![10, -10],
            vec![
                some(&[3, 0]),
                some(&[3, 1]),
                some(&[2, 2]),
                None,
                some(&[-3, 0]),
                some(&[30, 40]),
            ],
        ),
        rule_case(
            "two identical updates use up the budget",
            RuleParams {
                duplicate_milli: 950,
                ..RuleParams::new(6, 3, 2, u64::MAX)
            },
            vec![0, 0, 0],
            vec![
                some(&[10, 1, 0]),
                some(&[1, 10, 0]),
                some(&[0, 1, 10]),
                some(&[7, 7, 1]),
                some(&[5, 5, 5]),
                some(&[5, 5, 5]),
            ],
        ),
        rule_case(
            "too few candidates: nothing accepted",
            RuleParams::new(5, 2, 1, 100),
            vec![5, 5],
            vec![
                some(&[1, 3]),
                some(&[3, 1]),
                some(&[100, 100]),
                some(&[0, 0]),
                some(&[2, -1]),
            ],
        ),
        rule_case(
            "ties by slot order, negative means",
            RuleParams::new(5, 2, 1, u64::MAX),
            vec![0, 0],
            vec![
                some(&[10, 0]),
                some(&[0, 10]),
                some(&[-10, 0]),
                some(&[0, -10]),
                some(&[-7, -7]),
            ],
        ),
    ];
    // Eight slots, D = 24: five honest around one direction, a sign flip, a scaled copy,
    // noise; a linear congruential generator keeps it reproducible without a crate.
    let mut state: u64 = 0x5eed;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) % 201) as i16 - 100
    };
    let dir: Vec<i16> = (0..24).map(|_| next()).collect();
    let mut ups = Vec::new();
    for _ in 0..5 {
        ups.push(Some(
            dir.iter().map(|&d| d + next() / 2).collect::<Vec<i16>>(),
        ));
    }
    ups.push(Some(dir.iter().map(|&d| -d).collect()));
    ups.push(Some(dir.iter().map(|&d| d * 20).collect()));
    ups.push(Some((0..24).map(|_| next()).collect()));
    cases.push(rule_case(
        "eight slots: honest, sign flip, scale, noise",
        RuleParams::new(8, 24, 2, u64::MAX),
        (0..24).map(|j| j as i16 - 12).collect(),
        ups,
    ));
    RuleVectors {
        format: "merit rule vectors v2".into(),
        cases,
    }
}
