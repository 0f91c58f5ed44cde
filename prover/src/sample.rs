//! Random but realistic rounds, for tests and `merit bench`: honest trainers share a
//! direction plus noise; attackers flip the sign, scale up, send pure noise, copy another
//! slot or send zeros; some slots are absent.

use crate::round::{RoundError, RoundWitness};
use merit_protocol::rule::RuleParams;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

/// What a slot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Honest,
    Absent,
    /// `−u` of an honest update.
    SignFlip,
    /// An honest update times 8 (saturating).
    Scaled,
    /// Gaussian noise with a large deviation.
    Noise,
    /// A copy of slot 0's update.
    Copy,
    Zero,
}

/// Honest signal amplitude and noise, in fixed-point units: two honest updates sit near
/// cosine 0.7, clear of the default duplicate threshold (0.95).
const SIGNAL: f64 = 200.0;
const SIGMA: f64 = 70.0;

fn gaussian(rng: &mut ChaCha20Rng) -> f64 {
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn clamp(x: f64) -> i16 {
    x.round().clamp(-32768.0, 32767.0) as i16
}

/// The norm bound the samples use: twice an honest update's expected squared norm.
pub fn norm_bound_sq(dim: usize) -> u64 {
    (2.0 * dim as f64 * (SIGNAL * SIGNAL / 3.0 + SIGMA * SIGMA)) as u64
}

/// Rule parameters for a sample shape.
pub fn params(slots: usize, dim: usize, byzantine: usize) -> RuleParams {
    RuleParams::new(slots, dim, byzantine, norm_bound_sq(dim))
}

/// A round with these slot kinds.
pub fn round(params: RuleParams, seed: u64, slots: &[Slot]) -> Result<RoundWitness, RoundError> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let d = params.dim;
    let direction: Vec<f64> = (0..d).map(|_| rng.gen_range(-SIGNAL..SIGNAL)).collect();
    let honest = |rng: &mut ChaCha20Rng| -> Vec<i16> {
        direction
            .iter()
            .map(|&t| clamp(t + SIGMA * gaussian(rng)))
            .collect()
    };
    let mut updates: Vec<Option<Vec<i16>>> = Vec::with_capacity(params.slots);
    for (i, kind) in slots.iter().enumerate() {
        let u = match kind {
            Slot::Honest => Some(honest(&mut rng)),
            Slot::Absent => None,
            Slot::SignFlip => Some(
                honest(&mut rng)
                    .iter()
                    .map(|&v| clamp(-f64::from(v)))
                    .collect(),
            ),
            Slot::Scaled => Some(
                honest(&mut rng)
                    .iter()
                    .map(|&v| clamp(8.0 * f64::from(v)))
                    .collect(),
            ),
            Slot::Noise => Some((0..d).map(|_| clamp(400.0 * gaussian(&mut rng))).collect()),
            Slot::Copy => Some(match updates.first() {
                Some(Some(u)) if i > 0 => u.clone(),
                _ => honest(&mut rng),
            }),
            Slot::Zero => Some(vec![0; d]),
        };
        updates.push(u);
    }
    let prev: Vec<i16> = (0..d).map(|_| rng.gen_range(-3000..3000)).collect();
    let trainers = (0..params.slots)
        .map(|i| {
            let mut a = [0u8; 32];
            if !matches!(slots[i], Slot::Absent) || i % 2 == 0 {
                rng.fill(&mut a[..]);
            }
            a
        })
        .collect();
    RoundWitness::new(params, 7, 3, trainers, prev, updates)
}

/// Random slot kinds: mostly honest, up to `f` attackers, sometimes an absent slot.
pub fn random_slots(n: usize, f: usize, seed: u64) -> Vec<Slot> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed ^ 0x5eed);
    let attacks = [
        Slot::SignFlip,
        Slot::Scaled,
        Slot::Noise,
        Slot::Copy,
        Slot::Zero,
        Slot::Absent,
    ];
    let mut out = vec![Slot::Honest; n];
    let bad = rng.gen_range(0..=f.min(n));
    for _ in 0..bad {
        let i = rng.gen_range(0..n);
        out[i] = attacks[rng.gen_range(0..attacks.len())];
    }
    out
}

/// Five slots, f = 1: three honest, one scaled outlier, one absent (the tests' usual round).
pub fn attacked(seed: u64) -> RoundWitness {
    let p = params(5, 31, 1);
    let kinds = [
        Slot::Honest,
        Slot::Scaled,
        Slot::Honest,
        Slot::Absent,
        Slot::Honest,
    ];
    round(p, seed, &kinds).expect("a valid sample round")
}
