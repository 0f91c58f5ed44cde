//! The `adaptive` attacker: each round it searches mixtures and scales of what it may know
//! — last round's public global change, the previous round's reveals (and their mean), its
//! own previous reveal (so that it can look self-consistent, as an honest update is with
//! its own last one), Gaussian noise, and its own cheap training (one epoch on a tenth of
//! its rows) — for the
//! candidate the rule pays it best. Each candidate is scored by the rule itself (a copy of
//! the run's rule: with its history where the rule offers one through `Rule::fork`, as the
//! v5 candidate does; afresh otherwise, so the `reputation` rule forgets its history) on the
//! public information: every other slot's previous-round reveal stands for its unknown
//! update this round, except colluders that already chose this round, whose choices are
//! known to it.
//!
//! `adaptive:damage` colludes for harm instead: among the candidates (now also the
//! negations of those directions, their mixtures with the others, and lengths out to the
//! band's edge) that the rule accepts on the public information, with every colluder that
//! chose before it still accepted, it takes the one whose round moves the model furthest
//! against the honest direction it estimates (its own cheap update plus the others'
//! previous reveals, `ĥ`): the largest `−⟨new − model, ĥ⟩`. With none accepted it sends
//! the best-paid candidate, to stay in the game.

use merit_aggregator::rules::Rule;
use merit_protocol::fixed::{self, ClipError};
use merit_protocol::rule::RuleError;
use merit_trainer::behaviour;
use rand::Rng;

/// The fraction of its rows the adaptive attacker trains on (one epoch).
pub const CHEAP_FRACTION: f32 = 0.1;
/// Weights `a` of `a·x̂ + (1 − a)·ŷ` tried for each pair of directions.
const MIXES: [f64; 4] = [0.25, 0.5, 0.75, 0.9];
/// Lengths tried, as multiples of the median of last round's reveals.
const SCALES: [f64; 3] = [0.7, 1.0, 1.3];
/// More lengths a damaging colluder tries (the example spec's band is ρ = 6).
const DAMAGE_SCALES: [f64; 3] = [2.0, 3.5, 5.5];

/// What the search maximises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// Its own score.
    Pay,
    /// The model's step against the honest direction, while it and the colluders before it
    /// stay accepted.
    Damage,
}

/// What the attacker may know this round.
pub struct Public<'a> {
    /// The global model this round starts from.
    pub model: &'a [i16],
    /// Last round's global change (real units), if there was a last round.
    pub change: Option<&'a [f32]>,
    /// One entry per slot: the previous round's reveal, or a colluder's choice this round.
    pub proxies: &'a [Option<Vec<i16>>],
    /// The median length of last round's reveals (real units).
    pub median: Option<f64>,
}

/// The best candidate and the score the rule gave it on the public information.
pub struct Choice {
    pub update: Vec<i16>,
    pub predicted_score: u32,
    /// `Damage`: the predicted step against the honest direction, fixed-point units (0 for
    /// `Pay`, or when no candidate was accepted and it fell back to the best-paid one).
    pub predicted_damage: f64,
    /// How many candidates were scored.
    pub tried: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("quantising a candidate")]
    Clip(#[from] ClipError),
    #[error("the rule refused a candidate round")]
    Rule(#[from] RuleError),
}

fn unit(v: &[f32]) -> Option<Vec<f64>> {
    let n = fixed::l2_norm(v);
    (n > 0.0).then(|| v.iter().map(|&x| f64::from(x) / n).collect())
}

fn mix(a: f64, x: &[f64], y: &[f64]) -> Vec<f32> {
    x.iter()
        .zip(y)
        .map(|(p, q)| (a * p + (1.0 - a) * q) as f32)
        .collect()
}

/// Searches for the update of `slot` that best serves `goal` under the rule (`build`
/// makes a fresh one for each candidate), given `public` and `own` (its cheap training's
/// delta, real units); `colluders` are the slots whose choices this round are already in
/// the proxies.
#[allow(clippy::too_many_arguments)]
pub fn search(
    build: &dyn Fn() -> Box<dyn Rule>,
    slot: usize,
    public: &Public<'_>,
    own: &[f32],
    goal: Goal,
    colluders: &[usize],
    clip_norm: f32,
    scale_bits: u8,
    rng: &mut impl Rng,
) -> Result<Choice, SearchError> {
    let dim = public.model.len();
    // Directions, as unit vectors.
    let mut dirs: Vec<Vec<f64>> = Vec::new();
    let change = public.change.and_then(unit);
    let own_dir = unit(own);
    let noise = unit(&behaviour::gaussian(dim, 1.0, rng));
    let others: Vec<Vec<f32>> = public
        .proxies
        .iter()
        .enumerate()
        .filter(|(k, _)| *k != slot)
        .filter_map(|(_, u)| u.as_ref())
        .map(|u| fixed::dequantise_all(u, scale_bits))
        .collect::<Result<_, _>>()
        .map_err(ClipError::from)?;
    let mean: Vec<f32> = (0..dim)
        .map(|j| others.iter().map(|o| o[j]).sum::<f32>())
        .collect();
    let mean = unit(&mean);
    // Its own previous reveal (the proxy in its own slot).
    let mine = match &public.proxies[slot] {
        Some(u) => unit(&fixed::dequantise_all(u, scale_bits).map_err(ClipError::from)?),
        None => None,
    };
    let basics: Vec<&Option<Vec<f64>>> = vec![&change, &own_dir, &mean, &mine];
    for d in basics.iter().copied().flatten() {
        dirs.push(d.clone());
    }
    dirs.extend(others.iter().filter_map(|o| unit(o)));
    let pairs = [
        (&change, &own_dir),
        (&change, &noise),
        (&change, &mean),
        (&mean, &own_dir),
        (&mine, &change),
        (&mine, &mean),
        (&mine, &noise),
        (&mine, &own_dir),
    ];
    for (x, y) in pairs {
        if let (Some(x), Some(y)) = (x, y) {
            for a in MIXES {
                dirs.push(mix(a, x, y).iter().map(|&v| f64::from(v)).collect());
            }
        }
    }
    // The honest direction a damaging colluder estimates: its own update and the others'.
    let honest: Option<Vec<f64>> = match (&own_dir, &mean) {
        (Some(o), Some(m)) => unit(&mix(0.5, o, m)),
        (Some(o), None) => Some(o.clone()),
        _ => None,
    };
    let mut scales = SCALES.to_vec();
    if goal == Goal::Damage {
        scales.extend(DAMAGE_SCALES);
        let against: Vec<Vec<f64>> = [&honest, &change, &mean, &own_dir]
            .into_iter()
            .flatten()
            .map(|x| x.iter().map(|v| -v).collect())
            .collect();
        for x in &against {
            dirs.push(x.clone());
            for y in [&change, &mean, &own_dir, &noise].into_iter().flatten() {
                for a in MIXES {
                    dirs.push(mix(a, x, y).iter().map(|&v| f64::from(v)).collect());
                }
            }
        }
    }
    let own_update = || fixed::clip_and_quantise(own, clip_norm, scale_bits);
    // Without a last round there is no length to match: only its own cheap update, as is.
    let Some(median) = public.median.filter(|m| *m > 0.0) else {
        return Ok(Choice {
            update: own_update()?,
            predicted_score: 0,
            predicted_damage: 0.0,
            tried: 0,
        });
    };
    // A damaging colluder is bound by the rule's ceiling, not by the honest clip.
    let clip = match goal {
        Goal::Pay => clip_norm,
        Goal::Damage => f32::MAX,
    };
    // The best-paid candidate, and (for damage) the most damaging admitted one.
    let mut paid: Option<Choice> = None;
    let mut harm: Option<Choice> = None;
    let mut tried = 0;
    for d in &dirs {
        let d: Vec<f32> = d.iter().map(|&x| x as f32).collect();
        for &s in &scales {
            let candidate =
                fixed::clip_and_quantise(&behaviour::rescale(&d, s * median), clip, scale_bits)?;
            let mut updates = public.proxies.to_vec();
            updates[slot] = Some(candidate);
            let out = build().aggregate(public.model, &updates)?;
            tried += 1;
            let score = out.scores[slot];
            let choice = |predicted_damage| Choice {
                update: updates[slot].clone().expect("set above"),
                predicted_score: score,
                predicted_damage,
                tried,
            };
            if paid.as_ref().is_none_or(|b| score > b.predicted_score) {
                paid = Some(choice(0.0));
            }
            if let (Goal::Damage, Some(h)) = (goal, &honest) {
                let admitted = out.accepted[slot] && colluders.iter().all(|&c| out.accepted[c]);
                let damage = -out
                    .new_model
                    .iter()
                    .zip(public.model)
                    .zip(h)
                    .map(|((&n, &m), &h)| f64::from(i32::from(n) - i32::from(m)) * h)
                    .sum::<f64>();
                if admitted && harm.as_ref().is_none_or(|b| damage > b.predicted_damage) {
                    harm = Some(choice(damage));
                }
            }
        }
    }
    Ok(match harm.or(paid) {
        Some(b) => Choice { tried, ..b },
        None => Choice {
            update: own_update()?,
            predicted_score: 0,
            predicted_damage: 0.0,
            tried,
        },
    })
}

/// A sybil group's choice for one round.
pub struct SybilChoice {
    /// The cosine of each copy to the honest update (one of
    /// [`behaviour::SYBIL_SEARCH_COSINES`]).
    pub cosine: f64,
    /// One copy per account of the group, drawn or not.
    pub copies: Vec<Vec<i16>>,
    /// The group's pay the rule gave the chosen copies on the public information.
    pub predicted_pay: u64,
}

/// `sybil-search:K`: the jitter cosine at which the group's drawn copies are paid most,
/// each scored by the rule (`build` makes a fresh one per candidate) with every other slot
/// standing at its proxy (`public.proxies`: last round's reveal). `drawn` pairs each of the
/// group's slots this round with its account's copy index; `directions` are the accounts'
/// kept jitter directions. Ties go to the earlier cosine in the grid.
pub fn sybil_search(
    build: &dyn Fn() -> Box<dyn Rule>,
    public: &Public<'_>,
    drawn: &[(usize, usize)],
    honest: &[i16],
    directions: &[Vec<f32>],
    clip_norm: f32,
    scale_bits: u8,
) -> Result<SybilChoice, SearchError> {
    let mut best: Option<SybilChoice> = None;
    for &cosine in &behaviour::SYBIL_SEARCH_COSINES {
        let copies =
            behaviour::sybil_copies_along(honest, directions, cosine, clip_norm, scale_bits)?;
        let mut updates = public.proxies.to_vec();
        for &(slot, copy) in drawn {
            updates[slot] = Some(copies[copy].clone());
        }
        let out = build().aggregate(public.model, &updates)?;
        let pay = drawn
            .iter()
            .map(|&(slot, _)| u64::from(out.scores[slot]))
            .sum();
        if best.as_ref().is_none_or(|b| pay > b.predicted_pay) {
            best = Some(SybilChoice {
                cosine,
                copies,
                predicted_pay: pay,
            });
        }
    }
    Ok(best.expect("the grid is not empty"))
}
