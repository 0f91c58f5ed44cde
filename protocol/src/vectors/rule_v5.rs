//! `rule-v5.json`: protocol v5's rule (SPEC.md §6a) over short sequences of rounds, every
//! intermediate of `rule::v5::run` (SPEC.md §8).

use crate::rule::v5::{self, V5Params};
use crate::rule::{signed_cosine, RuleParams};
use serde::{Deserialize, Serialize};

/// v5's worked cases (protocol/SPEC.md §6a, §8).
pub const RULE_V5_JSON: &str = include_str!("../../test-vectors/rule-v5.json");

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleV5Vectors {
    pub format: String,
    pub cases: Vec<RuleV5Case>,
}

/// A project's first rounds under v5: round `t > 0` reads round `t − 1`'s reveals and
/// decisions, and starts from its new model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleV5Case {
    pub name: String,
    pub slots: usize,
    pub dim: usize,
    pub byzantine: usize,
    pub norm_bound_sq: u64,
    pub band_sq_milli: u32,
    pub duplicate_milli: u32,
    pub stale_milli: u32,
    pub public_milli: u32,
    pub floor_quantile_milli: u32,
    pub copy_lo_milli: i32,
    pub copy_hi_milli: i32,
    pub self_lo_milli: i32,
    pub self_hi_milli: i32,
    /// The model before the first round.
    pub prev: Vec<i16>,
    pub rounds: Vec<RuleV5Round>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleV5Round {
    pub updates: Vec<Option<Vec<i16>>>,
    pub stale: Vec<bool>,
    pub candidates: Vec<bool>,
    pub byzantine_left: usize,
    pub krum_ran: bool,
    pub floor: u64,
    pub krum: Vec<u64>,
    pub accepted: Vec<bool>,
    pub weights: Vec<u32>,
    pub alignment: Vec<i32>,
    pub kappa: Vec<Vec<i32>>,
    pub multiplicity: Vec<u32>,
    pub consistency: Vec<u32>,
    pub scores: Vec<u32>,
    pub new_model: Vec<i16>,
}

fn case(name: &str, p: V5Params, prev: Vec<i16>, rounds: Vec<Vec<Option<Vec<i16>>>>) -> RuleV5Case {
    let mut model = prev.clone();
    let mut history = v5::Rounds::new(p);
    let mut out = Vec::new();
    for updates in rounds {
        let o = history
            .step(&model, &updates)
            .expect("a valid vector round");
        let d = &o.decision;
        out.push(RuleV5Round {
            updates,
            stale: d.stale.clone(),
            candidates: d.base.candidates.clone(),
            byzantine_left: d.base.byzantine_left,
            krum_ran: d.base.krum_ran,
            floor: d.floor,
            krum: d.krum.clone(),
            accepted: d.accepted.clone(),
            weights: d.weights.clone(),
            alignment: d.alignment.clone(),
            kappa: d.kappa.clone(),
            multiplicity: d.multiplicity.clone(),
            consistency: d.consistency.clone(),
            scores: d.scores.clone(),
            new_model: o.new_model.clone(),
        });
        model = o.new_model;
    }
    let r = p.rule;
    RuleV5Case {
        name: name.into(),
        slots: r.slots,
        dim: r.dim,
        byzantine: r.byzantine,
        norm_bound_sq: r.norm_bound_sq,
        band_sq_milli: r.band_sq_milli,
        duplicate_milli: r.duplicate_milli,
        stale_milli: p.stale_milli,
        public_milli: p.public_milli,
        floor_quantile_milli: p.floor_quantile_milli,
        copy_lo_milli: p.copy_lo_milli,
        copy_hi_milli: p.copy_hi_milli,
        self_lo_milli: p.self_lo_milli,
        self_hi_milli: p.self_hi_milli,
        prev,
        rounds: out,
    }
}

/// The cases of `rule-v5.json`: two-round sequences of every shape v5 reacts to.
pub fn rule_v5_vectors() -> RuleV5Vectors {
    // A linear congruential generator keeps the cases reproducible without a crate.
    let mut state: u64 = 0x5eed_0005;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) % 201) as i16 - 100
    };
    const D: usize = 24;
    let mut rand_vec = |scale: i16| -> Vec<i16> { (0..D).map(|_| next() / scale).collect() };
    // Each honest slot: a shared and a private direction, each moving a little between
    // rounds.
    let shared0 = rand_vec(1);
    let shared1: Vec<i16> = shared0
        .iter()
        .zip(rand_vec(5))
        .map(|(a, b)| a + b)
        .collect();
    let private: Vec<Vec<i16>> = (0..6).map(|_| rand_vec(1)).collect();
    let drift: Vec<Vec<i16>> = (0..6).map(|_| rand_vec(5)).collect();
    let honest = |k: usize, t: usize| -> Vec<i16> {
        let shared = if t == 0 { &shared0 } else { &shared1 };
        (0..D)
            .map(|j| shared[j] + private[k][j] + if t == 0 { 0 } else { drift[k][j] })
            .collect()
    };
    let jitter: Vec<Vec<i16>> = (0..3).map(|_| rand_vec(3)).collect();
    let copy = |v: &[i16], s: usize| -> Vec<i16> {
        v.iter().zip(&jitter[s]).map(|(a, b)| a + b).collect()
    };
    let some = |v: Vec<i16>| Some(v);
    let params = |slots: usize, f: usize| {
        V5Params::new(RuleParams {
            duplicate_milli: 990,
            ..RuleParams::new(slots, D, f, u64::MAX)
        })
    };
    let prev: Vec<i16> = (0..D).map(|j| j as i16 - 12).collect();

    let round =
        |t: usize| -> Vec<Option<Vec<i16>>> { (0..6).map(|k| some(honest(k, t))).collect() };
    let honest_case = case(
        "six honest slots, two rounds",
        params(6, 1),
        prev.clone(),
        vec![round(0), round(1)],
    );

    // Slot 5 copies slot 2's round-0 reveal in round 1; slot 4 sends the public change
    // (round 0's accepted sum without its own reveal, scaled down).
    let r0 = round(0);
    let mut r1 = round(1);
    r1[5] = some(copy(&honest(2, 0), 0));
    let first = {
        let refs: Vec<Option<&[i16]>> = r0.iter().map(|u| u.as_deref()).collect();
        v5::run(&params(6, 1), &prev, &refs, None).expect("round 0")
    };
    let public: Vec<i16> = (0..D)
        .map(|j| {
            (0..6)
                .filter(|&k| k != 4 && first.decision.accepted[k])
                .map(|k| honest(k, 0)[j])
                .sum::<i16>()
                / 3
        })
        .collect();
    r1[4] = some(public);
    let stale_case = case(
        "a stale copy and the public change",
        params(6, 1),
        prev.clone(),
        vec![r0, r1],
    );

    // Slots 4, 5, 6 are jittered copies of slot 0's update; slot 3 is absent in round 1.
    let sybil_round = |t: usize| -> Vec<Option<Vec<i16>>> {
        let mut r: Vec<Option<Vec<i16>>> = (0..4).map(|k| some(honest(k, t))).collect();
        for s in 0..3 {
            r.push(some(copy(&honest(0, t), s)));
        }
        r
    };
    let mut s1 = sybil_round(1);
    s1[3] = None;
    let sybil_case = case(
        "three jittered copies, then an absent slot; no self-consistency ramp",
        V5Params {
            self_hi_milli: 0,
            ..params(7, 2)
        },
        prev.clone(),
        vec![sybil_round(0), s1],
    );

    // Slot 0 turns around in round 1: its own last reveal disagrees with it.
    // Slot 1 half turns: partly paid by the ramp.
    let mut t1 = round(1);
    t1[0] = some(honest(0, 1).iter().map(|&v| -v).collect());
    t1[1] = some(
        honest(1, 1)
            .iter()
            .zip(&private[5])
            .map(|(&a, &b)| a + b)
            .collect(),
    );
    let turn_case = case(
        "updates unlike their own last ones",
        V5Params {
            floor_quantile_milli: 0,
            ..params(6, 1)
        },
        prev.clone(),
        vec![round(0), t1],
    );

    // On the stale thresholds (§6a step 1), slots 6 and 7 absent in round 0: in round 1
    // slot 4 sits exactly on τ_s against slot 5's round-0 reveal (a reference), slot 5
    // one below against slot 4's; slot 6 sits exactly on τ_p against round 0's accepted
    // sum (its `d_6`, as slot 6 was not accepted), slot 7 one below. Slots 0–3 are honest.
    let edge_params = params(8, 1);
    let e0: Vec<Option<Vec<i16>>> = (0..8).map(|k| (k < 6).then(|| honest(k, 0))).collect();
    let first = {
        let refs: Vec<Option<&[i16]>> = e0.iter().map(|u| u.as_deref()).collect();
        v5::run(&edge_params, &prev, &refs, None).expect("round 0")
    };
    let accepted: Vec<&[i16]> = (0..8)
        .filter(|&k| first.decision.accepted[k])
        .filter_map(|k| e0[k].as_deref())
        .collect();
    let sum: Vec<i16> = (0..D)
        .map(|j| accepted.iter().map(|u| u[j]).sum())
        .collect();
    let mean: Vec<i16> = sum.iter().map(|&s| s / accepted.len() as i16).collect();
    let (tau_s, tau_p) = (
        edge_params.stale_milli as i32,
        edge_params.public_milli as i32,
    );
    let mut e1: Vec<Option<Vec<i16>>> = (0..4).map(|k| some(honest(k, 1))).collect();
    e1.push(some(at_cosine(honest(5, 0), &honest(5, 0), tau_s)));
    e1.push(some(at_cosine(honest(4, 0), &honest(4, 0), tau_s - 1)));
    e1.push(some(at_cosine(mean.clone(), &sum, tau_p)));
    e1.push(some(at_cosine(mean, &sum, tau_p - 1)));
    let edge_case = case(
        "stale thresholds, exactly met and just missed",
        edge_params,
        prev,
        vec![e0, e1],
    );
    RuleV5Vectors {
        format: "merit rule vectors v5".into(),
        cases: vec![honest_case, stale_case, sybil_case, turn_case, edge_case],
    }
}

/// `start` moved one unit of one coordinate at a time, each step the one that turns it
/// furthest from `target` without going past `want`, until §6a's
/// `cos(⟨v, target⟩, ‖v‖², ‖target‖²)` is exactly `want` (per mille).
fn at_cosine(start: Vec<i16>, target: &[i16], want: i32) -> Vec<i16> {
    let dot = |a: &[i16], b: &[i16]| -> i64 {
        a.iter()
            .zip(b)
            .map(|(&x, &y)| i64::from(x) * i64::from(y))
            .sum()
    };
    let tt = dot(target, target) as u64;
    let cos = |v: &[i16]| signed_cosine(dot(v, target), dot(v, v) as u64, tt);
    // Whether `a` is at a smaller real cosine to `target` than `b`, exactly:
    // g_a·|g_a|·n_b < g_b·|g_b|·n_a.
    let lower = |a: &[i16], b: &[i16]| -> bool {
        let (ga, na) = (i128::from(dot(a, target)), i128::from(dot(a, a)));
        let (gb, nb) = (i128::from(dot(b, target)), i128::from(dot(b, b)));
        ga * ga.abs() * nb < gb * gb.abs() * na
    };
    let mut v = start;
    assert!(cos(&v) >= want, "the start is already below {want}");
    while cos(&v) > want {
        let mut best: Option<Vec<i16>> = None;
        for j in 0..v.len() {
            for step in [1, -1] {
                let mut w = v.clone();
                w[j] += step;
                if cos(&w) >= want && lower(&w, best.as_deref().unwrap_or(&v)) {
                    best = Some(w);
                }
            }
        }
        v = best.expect("a unit step that turns v without going past want");
    }
    v
}
