//! How a trainer shapes its update: `honest`, the path every real node takes, and the
//! simulated attacks that depart from it, **for simulations and tests only**. Every
//! behaviour other than `honest` is logged as such when the node starts and on every
//! round it shapes.
//!
//! | behaviour | commit | reveal |
//! |---|---|---|
//! | `honest` | clip+quantise(local − global) | its own CID |
//! | `label-flip` | trains on labels mapped `l → classes − 1 − l` | its own CID |
//! | `sign-flip` | −(honest delta) | its own CID |
//! | `scale:K` | K × (clipped honest delta), saturating — past the clip on purpose | its own CID |
//! | `noise:SIGMA` | honest delta + Gaussian noise of SIGMA × its norm | its own CID |
//! | `free-rider` | Gaussian noise of half the clip norm, no training | its own CID |
//! | `zero` | the zero vector, no training | its own CID |
//! | `copy:SLOT` | the zero vector, no training | slot SLOT's revealed CID this round |
//! | `replay` | its own previous round's update, bit for bit (round 0: honest) | its own CID |
//! | `stale-copy[:SLOT]` | another slot's previous-round update (SLOT, else the lowest other present slot) + noise of 1 % of its norm, at least one step per value (round 0: as `free-rider`) | its own CID |
//! | `grief:SLOT` | SLOT's previous-round update + noise of 1 % of its norm ([`grief`]; round 0: as `free-rider`), to get SLOT flagged as its duplicate | its own CID |
//! | `public-copy` | last round's public global change rescaled to the median length of last round's reveals, + [`PUBLIC_COPY_JITTER`] noise, no training ([`public_copy`]; `merit simulate` only) | its own CID |
//! | `lazy:FRACTION` | trains one epoch on FRACTION of its rows ([`lazy_rows`]), rescaled to the median length (`merit simulate` only) | its own CID |
//! | `sybil:K` | its honest update from K accounts, each with independent jitter to cosine [`SYBIL_COSINE`] ([`sybil_copies`]; `merit simulate` only) | its own CIDs |
//! | `sybil-search:K` | its honest update from K accounts, each jittered along its own direction kept from round to round (so every copy looks consistent with its last one), at the cosine of [`SYBIL_SEARCH_COSINES`] that the rule pays the group best on public information ([`sybil_copies_along`]; `merit simulate` only) | its own CIDs |
//! | `adaptive` | the candidate that maximises its own score under the rule on public information (`merit simulate` only) | its own CID |
//! | `adaptive:damage` | colluding: the candidate that moves the model furthest against the honest direction while the rule still accepts it and the colluders before it (`merit simulate` only) | its own CID |
//! | `exec` | what `merit simulate --attacker-exec CMD` answers (`merit simulate` only) | its own CID |

use merit_protocol::fixed::{self, ClipError};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use std::fmt;
use std::str::FromStr;

/// Share of the clip norm a free-rider's noise has.
pub const FREE_RIDER_NORM: f64 = 0.5;
/// Share of the copied update's norm that stale-copy adds as noise.
pub const STALE_NOISE: f64 = 0.01;
/// Share of its norm that `public-copy` adds as noise ("a little": cosine ≈ 0.999 to the
/// public change, so two public copiers are still near-duplicates of each other).
pub const PUBLIC_COPY_JITTER: f64 = 0.05;
/// Each `sybil:K` copy's cosine to the original update: issue #23's measured jitter, small
/// enough to keep the copy's pay, large enough that two copies (cosine ≈ 0.93² ≈ 0.86) stay
/// under the example spec's duplicate cosine τ = 0.95.
pub const SYBIL_COSINE: f64 = 0.93;
/// The cosines to the original update that `sybil-search:K` tries each round: from copies
/// that share little (pairwise ≈ 0.36) to copies just under τ = 0.95 of each other.
pub const SYBIL_SEARCH_COSINES: [f64; 6] = [0.6, 0.7, 0.8, 0.9, 0.93, 0.97];
/// The most accounts one `sybil:K` trainer may use.
pub const MAX_SYBILS: u32 = 16;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Behaviour {
    Honest,
    LabelFlip,
    SignFlip,
    Scale(f32),
    Noise(f32),
    FreeRider,
    Zero,
    Copy(u32),
    Replay,
    StaleCopy(Option<u32>),
    /// Resubmits the victim slot's previous-round update plus small noise.
    Grief(u32),
    /// Last round's global change, rescaled and jittered; no training.
    PublicCopy,
    /// Trains one epoch on this fraction of its rows, rescaled to the median length.
    Lazy(f32),
    /// Its honest update from this many accounts, each jittered independently.
    Sybil(u32),
    /// Its honest update from this many accounts, each jittered along a direction it keeps,
    /// at the cosine the rule pays the group best.
    SybilSearch(u32),
    /// Searches public vectors for the update the rule pays best.
    Adaptive,
    /// Colluding: searches for the most damage to the model while staying accepted.
    AdaptiveDamage,
    /// An external program's answer (`merit simulate --attacker-exec`).
    Exec,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown behaviour {0:?}: expected honest, label-flip, sign-flip, scale:K, noise:SIGMA, free-rider, zero, copy:SLOT, replay, stale-copy[:SLOT], grief:SLOT, public-copy, lazy:FRACTION (0 < FRACTION ≤ 1), sybil:K or sybil-search:K (2 ≤ K ≤ 16), adaptive[:damage] or exec")]
pub struct BadBehaviour(pub String);

impl FromStr for Behaviour {
    type Err = BadBehaviour;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadBehaviour(s.into());
        let (name, arg) = match s.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (s, None),
        };
        let finite = |a: Option<&str>| {
            a.and_then(|a| a.parse::<f32>().ok())
                .filter(|x| x.is_finite())
                .ok_or_else(bad)
        };
        let slot = |a: Option<&str>| a.and_then(|a| a.parse::<u32>().ok()).ok_or_else(bad);
        let none = |b: Behaviour| if arg.is_none() { Ok(b) } else { Err(bad()) };
        match name {
            "honest" => none(Self::Honest),
            "label-flip" => none(Self::LabelFlip),
            "sign-flip" => none(Self::SignFlip),
            "free-rider" => none(Self::FreeRider),
            "zero" => none(Self::Zero),
            "replay" => none(Self::Replay),
            "public-copy" => none(Self::PublicCopy),
            "adaptive" => match arg {
                None => Ok(Self::Adaptive),
                Some("damage") => Ok(Self::AdaptiveDamage),
                Some(_) => Err(bad()),
            },
            "exec" => none(Self::Exec),
            "grief" => Ok(Self::Grief(slot(arg)?)),
            "lazy" => Ok(Self::Lazy(
                finite(arg)
                    .ok()
                    .filter(|x| *x > 0.0 && *x <= 1.0)
                    .ok_or_else(bad)?,
            )),
            "sybil" | "sybil-search" => {
                let k = slot(arg)
                    .ok()
                    .filter(|k| (2..=MAX_SYBILS).contains(k))
                    .ok_or_else(bad)?;
                Ok(if name == "sybil" {
                    Self::Sybil(k)
                } else {
                    Self::SybilSearch(k)
                })
            }
            "scale" => Ok(Self::Scale(finite(arg)?)),
            "noise" => Ok(Self::Noise(finite(arg).and_then(|x| {
                if x >= 0.0 {
                    Ok(x)
                } else {
                    Err(bad())
                }
            })?)),
            "copy" => Ok(Self::Copy(slot(arg)?)),
            "stale-copy" => Ok(Self::StaleCopy(match arg {
                None => None,
                a => Some(slot(a)?),
            })),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Behaviour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Honest => write!(f, "honest"),
            Self::LabelFlip => write!(f, "label-flip"),
            Self::SignFlip => write!(f, "sign-flip"),
            Self::Scale(k) => write!(f, "scale:{k}"),
            Self::Noise(s) => write!(f, "noise:{s}"),
            Self::FreeRider => write!(f, "free-rider"),
            Self::Zero => write!(f, "zero"),
            Self::Copy(s) => write!(f, "copy:{s}"),
            Self::Replay => write!(f, "replay"),
            Self::StaleCopy(None) => write!(f, "stale-copy"),
            Self::StaleCopy(Some(s)) => write!(f, "stale-copy:{s}"),
            Self::Grief(s) => write!(f, "grief:{s}"),
            Self::PublicCopy => write!(f, "public-copy"),
            Self::Lazy(x) => write!(f, "lazy:{x}"),
            Self::Sybil(k) => write!(f, "sybil:{k}"),
            Self::SybilSearch(k) => write!(f, "sybil-search:{k}"),
            Self::Adaptive => write!(f, "adaptive"),
            Self::AdaptiveDamage => write!(f, "adaptive:damage"),
            Self::Exec => write!(f, "exec"),
        }
    }
}

impl Behaviour {
    pub fn is_honest(self) -> bool {
        self == Self::Honest
    }

    /// Whether the update comes from local training (possibly on flipped labels).
    pub fn trains(self) -> bool {
        matches!(
            self,
            Self::Honest
                | Self::LabelFlip
                | Self::SignFlip
                | Self::Scale(_)
                | Self::Noise(_)
                | Self::Sybil(_)
                | Self::SybilSearch(_)
        )
    }

    /// Whether a trainer node can play it: the others need what only the simulator has
    /// (the median of every reveal, several accounts, the rule's search, a program).
    pub fn node_plays(self) -> bool {
        !matches!(
            self,
            Self::PublicCopy
                | Self::Lazy(_)
                | Self::Sybil(_)
                | Self::SybilSearch(_)
                | Self::Adaptive
                | Self::AdaptiveDamage
                | Self::Exec
        )
    }

    /// How many accounts (slots) the trainer uses.
    pub fn accounts(self) -> usize {
        match self {
            Self::Sybil(k) | Self::SybilSearch(k) => k as usize,
            _ => 1,
        }
    }
}

/// The label a label-flipping trainer trains on.
pub fn flip_label(label: u32, classes: usize) -> u32 {
    classes as u32 - 1 - label
}

/// A vector of independent standard normals times `sigma`.
pub fn gaussian(len: usize, sigma: f64, rng: &mut impl Rng) -> Vec<f32> {
    (0..len)
        .map(|_| {
            let z: f64 = StandardNormal.sample(rng);
            (z * sigma) as f32
        })
        .collect()
}

/// Gaussian noise rescaled to exactly L2 norm `norm` (zero if `norm` is 0).
pub fn noise_of_norm(len: usize, norm: f64, rng: &mut impl Rng) -> Vec<f32> {
    let g = gaussian(len, 1.0, rng);
    let n = fixed::l2_norm(&g);
    if n == 0.0 || norm == 0.0 {
        return vec![0.0; len];
    }
    g.iter()
        .map(|&x| (f64::from(x) * norm / n) as f32)
        .collect()
}

/// The update a trainer commits to, from its float delta (`local − global`, or zeros when
/// the behaviour does not train): clipped and quantised by the protocol's one rule, then
/// shaped by the behaviour. `Replay` and `StaleCopy` need values from earlier rounds and
/// are handled by the node ([`stale_copy`]); here they quantise `delta` honestly.
pub fn shape_update(
    behaviour: Behaviour,
    delta: &[f32],
    clip_norm: f32,
    scale_bits: u8,
    rng: &mut impl Rng,
) -> Result<Vec<i16>, ClipError> {
    let honest = |d: &[f32]| fixed::clip_and_quantise(d, clip_norm, scale_bits);
    match behaviour {
        // The simulator shapes these from more than one delta; alone they are honest.
        Behaviour::Honest
        | Behaviour::LabelFlip
        | Behaviour::Replay
        | Behaviour::StaleCopy(_)
        | Behaviour::Grief(_)
        | Behaviour::Lazy(_)
        | Behaviour::Sybil(_)
        | Behaviour::SybilSearch(_)
        | Behaviour::Adaptive
        | Behaviour::AdaptiveDamage
        | Behaviour::Exec => honest(delta),
        Behaviour::PublicCopy => honest(&noise_of_norm(
            delta.len(),
            FREE_RIDER_NORM * f64::from(clip_norm),
            rng,
        )),
        Behaviour::SignFlip => honest(&delta.iter().map(|x| -x).collect::<Vec<_>>()),
        Behaviour::Scale(k) => {
            let clipped = fixed::clip(delta, clip_norm)?;
            let scaled: Vec<f32> = clipped.iter().map(|x| x * k).collect();
            Ok(fixed::quantise_all(&scaled, scale_bits)?)
        }
        Behaviour::Noise(sigma) => {
            let norm = fixed::l2_norm(delta);
            let per = f64::from(sigma) * norm / (delta.len().max(1) as f64).sqrt();
            let n = gaussian(delta.len(), per, rng);
            honest(&delta.iter().zip(&n).map(|(d, e)| d + e).collect::<Vec<_>>())
        }
        Behaviour::FreeRider => honest(&noise_of_norm(
            delta.len(),
            FREE_RIDER_NORM * f64::from(clip_norm),
            rng,
        )),
        Behaviour::Zero => Ok(vec![0; delta.len()]),
        // What a copier commits to does not matter (the copied file will not open it), but
        // it must differ every round: the contract refuses a commitment made before.
        Behaviour::Copy(_) => honest(&noise_of_norm(
            delta.len(),
            FREE_RIDER_NORM * f64::from(clip_norm),
            rng,
        )),
    }
}

/// Stale-copy: another trainer's previous-round update (its fixed-point values), plus
/// Gaussian noise of [`STALE_NOISE`] × its norm (at least one quantisation step per value,
/// root-mean-square), clipped and quantised again.
pub fn stale_copy(
    other: &[i16],
    clip_norm: f32,
    scale_bits: u8,
    rng: &mut impl Rng,
) -> Result<Vec<i16>, ClipError> {
    let base = fixed::dequantise_all(other, scale_bits)?;
    // At least one quantisation step per value (rms), so the copy never rounds back to
    // the original: it is a near-duplicate, not a duplicate.
    let step = 1.0 / f64::from(1u32 << scale_bits);
    let floor = (base.len() as f64).sqrt() * step;
    let norm = (STALE_NOISE * fixed::l2_norm(&base)).max(floor);
    let noise = noise_of_norm(base.len(), norm, rng);
    let noisy: Vec<f32> = base.iter().zip(&noise).map(|(b, e)| b + e).collect();
    fixed::clip_and_quantise(&noisy, clip_norm, scale_bits)
}

/// Grief: the victim's previous-round update plus the same small noise as [`stale_copy`];
/// its cosine to the victim's next honest update is about that update's cosine to its own
/// previous one, which is what the duplicate filter tests.
pub fn grief(
    victim_previous: &[i16],
    clip_norm: f32,
    scale_bits: u8,
    rng: &mut impl Rng,
) -> Result<Vec<i16>, ClipError> {
    stale_copy(victim_previous, clip_norm, scale_bits, rng)
}

/// `v` rescaled to L2 norm `norm` (zero stays zero).
pub fn rescale(v: &[f32], norm: f64) -> Vec<f32> {
    let n = fixed::l2_norm(v);
    if n == 0.0 {
        return v.to_vec();
    }
    v.iter()
        .map(|&x| (f64::from(x) * norm / n) as f32)
        .collect()
}

/// Public-copy: `change` (last round's global change, in real units) rescaled to `norm`
/// (the median length of last round's reveals) plus noise of [`PUBLIC_COPY_JITTER`] times
/// that, clipped and quantised.
pub fn public_copy(
    change: &[f32],
    norm: f64,
    clip_norm: f32,
    scale_bits: u8,
    rng: &mut impl Rng,
) -> Result<Vec<i16>, ClipError> {
    let base = rescale(change, norm);
    let noise = noise_of_norm(change.len(), PUBLIC_COPY_JITTER * norm, rng);
    let v: Vec<f32> = base.iter().zip(&noise).map(|(b, e)| b + e).collect();
    fixed::clip_and_quantise(&v, clip_norm, scale_bits)
}

/// The rows a `lazy:FRACTION` trainer trains on: `⌈FRACTION · rows⌉` (at least one) of
/// `0..rows`, drawn without replacement.
pub fn lazy_rows(rows: usize, fraction: f32, rng: &mut impl Rng) -> Vec<usize> {
    // The relative slack absorbs f32's rounding: 0.1f32 · 200 is 20.0000003, not 21 rows.
    let x = f64::from(fraction) * rows as f64;
    let take = ((x - x * 1e-6).ceil() as usize).clamp(1, rows.max(1));
    let mut idx: Vec<usize> = (0..rows).collect();
    rand::seq::SliceRandom::shuffle(idx.as_mut_slice(), rng);
    idx.truncate(take.min(rows));
    idx.sort_unstable();
    idx
}

/// Sybil: `k` copies of `update`, each plus independent Gaussian noise of norm
/// `‖u‖·√(1/c² − 1)` with `c` = [`SYBIL_COSINE`], so each copy has cosine ≈ `c` to it.
pub fn sybil_copies(
    update: &[i16],
    k: usize,
    clip_norm: f32,
    scale_bits: u8,
    rng: &mut impl Rng,
) -> Result<Vec<Vec<i16>>, ClipError> {
    let directions = sybil_directions(k, update.len(), rng);
    sybil_copies_along(update, &directions, SYBIL_COSINE, clip_norm, scale_bits)
}

/// `k` unit jitter directions of length `len`, one per sybil account.
pub fn sybil_directions(k: usize, len: usize, rng: &mut impl Rng) -> Vec<Vec<f32>> {
    (0..k).map(|_| noise_of_norm(len, 1.0, rng)).collect()
}

/// One copy of `update` per unit direction `e_k`: `u + ‖u‖·√(1/c² − 1)·e_k`, whose cosine
/// to `u` is ≈ `c` (exactly `c` for `e_k ⊥ u`; a random direction in many dimensions
/// nearly is). Kept directions make each copy consistent with its own previous one.
pub fn sybil_copies_along(
    update: &[i16],
    directions: &[Vec<f32>],
    cosine: f64,
    clip_norm: f32,
    scale_bits: u8,
) -> Result<Vec<Vec<i16>>, ClipError> {
    let base = fixed::dequantise_all(update, scale_bits)?;
    let norm = fixed::l2_norm(&base) * (1.0 / (cosine * cosine) - 1.0).max(0.0).sqrt();
    directions
        .iter()
        .map(|e| {
            let v: Vec<f32> = base
                .iter()
                .zip(e)
                .map(|(&b, &x)| (f64::from(b) + norm * f64::from(x)) as f32)
                .collect();
            fixed::clip_and_quantise(&v, clip_norm, scale_bits)
        })
        .collect()
}

/// The cosine of two fixed-point vectors (0 if either is zero).
pub fn cosine(a: &[i16], b: &[i16]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng() -> rand::rngs::StdRng {
        rand::rngs::StdRng::seed_from_u64(1)
    }

    fn delta() -> Vec<f32> {
        (0..100).map(|i| ((i % 7) as f32 - 3.0) * 0.01).collect()
    }

    #[test]
    fn behaviours_parse_and_print_back() {
        for s in [
            "honest",
            "label-flip",
            "sign-flip",
            "scale:10",
            "scale:-2.5",
            "noise:0.5",
            "free-rider",
            "zero",
            "copy:3",
            "replay",
            "stale-copy",
            "stale-copy:2",
            "grief:0",
            "public-copy",
            "lazy:0.1",
            "lazy:1",
            "sybil:3",
            "sybil-search:3",
            "adaptive",
            "adaptive:damage",
            "exec",
        ] {
            let b: Behaviour = s.parse().unwrap();
            assert_eq!(b.to_string(), s);
        }
        for bad in [
            "",
            "Honest",
            "scale",
            "scale:x",
            "scale:inf",
            "noise:-1",
            "copy",
            "copy:-1",
            "zero:1",
            "stale-copy:a",
            "sybil",
            "sybil:1",
            "sybil:17",
            "sybil:x",
            "lazy:0",
            "lazy:1.5",
            "lazy:-0.1",
            "grief",
            "public-copy:1",
            "adaptive:2",
        ] {
            assert!(bad.parse::<Behaviour>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sign_flip_negates_the_honest_update() {
        let d = delta();
        let h = shape_update(Behaviour::Honest, &d, 4.0, 10, &mut rng()).unwrap();
        let s = shape_update(Behaviour::SignFlip, &d, 4.0, 10, &mut rng()).unwrap();
        assert!(h.iter().any(|&x| x != 0));
        assert_eq!(s, h.iter().map(|x| -x).collect::<Vec<_>>());
    }

    #[test]
    fn scale_multiplies_after_clipping_and_saturates() {
        let d = delta();
        let h = shape_update(Behaviour::Honest, &d, 4.0, 10, &mut rng()).unwrap();
        let s = shape_update(Behaviour::Scale(10.0), &d, 4.0, 10, &mut rng()).unwrap();
        for (a, b) in h.iter().zip(&s) {
            assert!((i32::from(*b) - 10 * i32::from(*a)).abs() <= 5, "{a} {b}");
        }
        let big = shape_update(Behaviour::Scale(1e6), &d, 4.0, 10, &mut rng()).unwrap();
        assert!(big
            .iter()
            .all(|&x| x == 0 || x == i16::MAX || x == i16::MIN));
    }

    #[test]
    fn noise_has_about_sigma_times_the_honest_norm() {
        let d: Vec<f32> = (0..2_000).map(|i| ((i % 11) as f32 - 5.0) * 0.01).collect();
        let honest = fixed::l2_norm(&d);
        let h = shape_update(Behaviour::Honest, &d, 100.0, 12, &mut rng()).unwrap();
        let n = shape_update(Behaviour::Noise(1.0), &d, 100.0, 12, &mut rng()).unwrap();
        let diff: Vec<f32> = h
            .iter()
            .zip(&n)
            .map(|(a, b)| f32::from(b - a) / 4096.0)
            .collect();
        let ratio = fixed::l2_norm(&diff) / honest;
        assert!((0.9..1.1).contains(&ratio), "noise/honest norm {ratio}");
    }

    #[test]
    fn free_rider_zero_and_copy_ignore_training() {
        let d = delta();
        let f = shape_update(Behaviour::FreeRider, &d, 4.0, 10, &mut rng()).unwrap();
        let back = fixed::dequantise_all(&f, 10).unwrap();
        assert!((fixed::l2_norm(&back) - 2.0).abs() < 0.01);
        let other = shape_update(Behaviour::FreeRider, &[0.0; 100], 4.0, 10, &mut rng());
        assert_eq!(f, other.unwrap(), "does not look at the delta");
        assert_eq!(
            shape_update(Behaviour::Zero, &d, 4.0, 10, &mut rng()).unwrap(),
            vec![0; 100]
        );
        // A copier's own commitment is to fresh noise, different each round.
        let mut r = rng();
        let c1 = shape_update(Behaviour::Copy(0), &d, 4.0, 10, &mut r).unwrap();
        let c2 = shape_update(Behaviour::Copy(0), &d, 4.0, 10, &mut r).unwrap();
        assert_ne!(c1, c2);
        for b in [Behaviour::Zero, Behaviour::Copy(0)] {
            assert!(!b.trains());
        }
    }

    #[test]
    fn stale_copy_stays_close_to_the_copied_update() {
        // Norm about 11.5 in real units, under the clip norm of 100.
        let other: Vec<i16> = (0..400).map(|i| ((i % 50) as i16 - 25) * 40).collect();
        let s = stale_copy(&other, 100.0, 10, &mut rng()).unwrap();
        assert_ne!(s, other, "noise was added");
        let a = fixed::dequantise_all(&other, 10).unwrap();
        let b = fixed::dequantise_all(&s, 10).unwrap();
        let diff: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x - y).collect();
        assert!(fixed::l2_norm(&diff) < 0.03 * fixed::l2_norm(&a));
    }

    #[test]
    fn label_flip_is_a_permutation() {
        let mut seen: Vec<u32> = (0..10).map(|l| flip_label(l, 10)).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        assert_eq!(flip_label(0, 10), 9);
    }

    /// A delta-like vector: a fixed pattern plus seeded noise, 2,000 values.
    fn update(seed: u64) -> Vec<i16> {
        let mut r = rand::rngs::StdRng::seed_from_u64(seed);
        let g = gaussian(2_000, 0.02, &mut r);
        let d: Vec<f32> = g
            .iter()
            .enumerate()
            .map(|(i, e)| ((i % 13) as f32 - 6.0) * 0.01 + e)
            .collect();
        fixed::clip_and_quantise(&d, 4.0, 10).unwrap()
    }

    #[test]
    fn sybil_copies_have_the_stated_cosine_to_the_original_and_differ() {
        let u = update(3);
        let copies = sybil_copies(&u, 3, 4.0, 10, &mut rng()).unwrap();
        assert_eq!(copies.len(), 3);
        for c in &copies {
            let cos = cosine(c, &u);
            assert!((cos - SYBIL_COSINE).abs() < 0.015, "copy cosine {cos}");
        }
        // Independent jitter: each pair ≈ 0.93², under τ = 0.95.
        let pair = cosine(&copies[0], &copies[1]);
        assert!((0.82..0.90).contains(&pair), "pair cosine {pair}");
        assert_eq!(Behaviour::Sybil(3).accounts(), 3);
        assert!(Behaviour::Sybil(3).trains() && !Behaviour::Sybil(3).node_plays());
    }

    #[test]
    fn copies_along_kept_directions_follow_the_cosine_and_the_update() {
        let dirs = sybil_directions(2, 2_000, &mut rng());
        for &c in &SYBIL_SEARCH_COSINES {
            let copies = sybil_copies_along(&update(3), &dirs, c, 4.0, 10).unwrap();
            for copy in &copies {
                let cos = cosine(copy, &update(3));
                assert!((cos - c).abs() < 0.03, "asked {c}, copy cosine {cos}");
            }
        }
        // The same directions in the next round: each copy moves with the update and keeps
        // its own jitter, so it stays consistent with its previous copy (an independent
        // jitter at 0.7 would be at ≈ 0.5 to it).
        let (a, b) = (update(3), update(4));
        let now = sybil_copies_along(&a, &dirs, 0.7, 4.0, 10).unwrap();
        let next = sybil_copies_along(&b, &dirs, 0.7, 4.0, 10).unwrap();
        let (copies, originals) = (cosine(&now[0], &next[0]), cosine(&a, &b));
        assert!(copies > originals, "copies {copies}, originals {originals}");
        let other = sybil_directions(1, 2_000, &mut rand::rngs::StdRng::seed_from_u64(99));
        let fresh = sybil_copies_along(&b, &other, 0.7, 4.0, 10);
        let fresh = cosine(&now[0], &fresh.unwrap()[0]);
        assert!(copies > fresh + 0.3, "kept {copies}, fresh jitter {fresh}");
        let s: Behaviour = "sybil-search:3".parse().unwrap();
        assert_eq!(
            (s, s.to_string().as_str()),
            (Behaviour::SybilSearch(3), "sybil-search:3")
        );
        assert!(s.trains() && !s.node_plays() && s.accounts() == 3);
        assert!("sybil-search:1".parse::<Behaviour>().is_err());
    }

    #[test]
    fn grief_is_within_the_duplicate_cosine_of_the_victims_previous_update() {
        let victim = update(4);
        let g = grief(&victim, 4.0, 10, &mut rng()).unwrap();
        assert_ne!(g, victim, "noise was added");
        let cos = cosine(&g, &victim);
        assert!((0.999..1.0).contains(&cos), "grief cosine {cos}");
        assert!(Behaviour::Grief(0).node_plays() && !Behaviour::Grief(0).trains());
    }

    #[test]
    fn public_copy_follows_the_change_at_the_given_length() {
        let change: Vec<f32> = fixed::dequantise_all(&update(5), 10).unwrap();
        let p = public_copy(&change, 1.5, 4.0, 10, &mut rng()).unwrap();
        let q = fixed::quantise_all(&change, 10).unwrap();
        let cos = cosine(&p, &q);
        // Jitter of 5 % of the length: cosine 1/√(1 + 0.05²) ≈ 0.9988.
        assert!((0.995..0.9999).contains(&cos), "public-copy cosine {cos}");
        let len = fixed::l2_norm(&fixed::dequantise_all(&p, 10).unwrap());
        assert!((len - 1.5).abs() < 0.01, "length {len}");
        assert!(!Behaviour::PublicCopy.trains() && !Behaviour::PublicCopy.node_plays());
    }

    #[test]
    fn lazy_takes_the_stated_fraction_of_distinct_rows() {
        let rows = lazy_rows(200, 0.1, &mut rng());
        assert_eq!(rows.len(), 20);
        assert!(rows.windows(2).all(|w| w[0] < w[1]), "distinct, sorted");
        assert!(rows.iter().all(|&r| r < 200));
        assert_ne!(
            rows,
            (0..20).collect::<Vec<_>>(),
            "drawn, not the first rows"
        );
        assert_eq!(lazy_rows(7, 0.1, &mut rng()).len(), 1, "at least one row");
        assert_eq!(lazy_rows(7, 1.0, &mut rng()).len(), 7);
        assert_eq!(lazy_rows(10, 0.25, &mut rng()).len(), 3, "rounded up");
    }

    #[test]
    fn rescale_sets_the_length_and_keeps_the_direction() {
        let v = vec![3.0_f32, 4.0];
        assert_eq!(rescale(&v, 10.0), vec![6.0, 8.0]);
        assert_eq!(rescale(&[0.0, 0.0], 10.0), vec![0.0, 0.0]);
    }
}
