//! `merit bench aggregate`: native Multi-Krum, as Flower's `aggregate_krum` computes it, on
//! f32 and on the protocol's i16 fixed point, timed on the same generated updates.
//!
//! Flower (`flwr.server.strategy.aggregate.aggregate_krum(results, num_malicious,
//! to_keep)`, with `_compute_distances`), for `n` updates and `f = num_malicious`:
//!
//! 1. the `n × n` matrix of squared Euclidean distances `‖u_i − u_k‖²`;
//! 2. `num_closest = max(1, n − f − 2)`; the score of `i` is the sum of its `num_closest`
//!    smallest distances to the *other* updates (Flower drops the first entry of the sorted
//!    row, the distance 0 to itself);
//! 3. with `to_keep > 0` (Multi-Krum; here `to_keep = n − f`) the `to_keep` lowest scores
//!    are kept and their example-weighted mean returned (every weight is 1 here).
//!
//! [`run`] does exactly that, natively: [`krum_f32`] on the f32 updates (distances summed
//! in f32 lanes per block of columns and in f64 across blocks, scores in f64 as Flower's
//! float64 matrix) and [`krum_fixed`] on the same updates quantised at `2^-10`
//! (`merit_protocol::fixed::quantise_all`) in exact integer arithmetic: the Gram matrix
//! `⟨u_i, u_k⟩` with i64 accumulation, `‖u_i − u_k‖² = ‖u_i‖² + ‖u_k‖² − 2⟨u_i, u_k⟩`,
//! scores by `rule::k_smallest` and the selection by `rule::keep_lowest`, then the floored
//! integer mean of the kept updates. Ties go to the lower index (Flower's `np.argsort` is
//! not stable, so on exact ties it may pick differently). Both timings cover distances,
//! scores, selection and the mean of the kept updates, as Flower's call does.
//!
//! Distances are parallel over blocks of columns with rayon: each block of every update fits
//! in L2, so each value is read from memory once, not once per pair.

use merit_protocol::fixed::{quantise_all, QuantError};
use merit_protocol::rule::{k_smallest, keep_lowest};
use rayon::prelude::*;
use serde::Serialize;
use std::io::{self, Read, Write};
use std::time::Instant;

/// The fixed-point scale of the generated updates: `2^-10`.
pub const SCALE_BITS: u8 = 10;

/// Columns per block: 64 updates × 2048 f32 = 512 KiB, inside a 1–2 MiB L2.
const BLOCK: usize = 2048;

/// `n` updates of `d` parameters, row-major, as f32 and as i16 fixed point (`SCALE_BITS`).
#[derive(Debug, Clone)]
pub struct Updates {
    pub trainers: usize,
    pub params: usize,
    /// The last `attackers` rows are attackers.
    pub attackers: usize,
    pub f32s: Vec<f32>,
    pub fixed: Vec<i16>,
}

/// What [`run`] measured.
#[derive(Debug, Clone, Serialize)]
pub struct AggregateBench {
    pub trainers: usize,
    pub params: usize,
    /// `f`, Flower's `num_malicious`.
    pub byzantine: usize,
    /// Updates generated as attackers (the last ones): `−4 ×` the shared direction + noise.
    pub attackers: usize,
    /// `max(1, n − f − 2)`: the distances each score sums.
    pub num_closest: usize,
    /// `n − f`: how many updates Multi-Krum keeps.
    pub to_keep: usize,
    pub scale_bits: u8,
    pub seed: u64,
    /// Repetitions of each timing; the seconds reported are the best (minimum).
    pub reps: usize,
    /// `rayon::current_num_threads()`.
    pub threads: usize,
    /// The instruction set the hot loops ran with (`avx2+fma` when the CPU has both, else
    /// the build's baseline).
    pub simd: &'static str,
    /// Best of `reps`: f32 distances, scores, selection and mean.
    pub krum_f32_s: f64,
    /// Best of `reps`: the same on the fixed-point updates, in exact integers.
    pub krum_fixed_s: f64,
    pub selected_f32: Vec<usize>,
    pub selected_fixed: Vec<usize>,
    pub same_selection: bool,
    /// Attackers among the f32 selection.
    pub attackers_selected: usize,
    /// The f32 Multi-Krum mean (compare with Flower's result).
    #[serde(skip)]
    pub mean_f32: Vec<f32>,
}

/// One Multi-Krum run.
#[derive(Debug, Clone, PartialEq)]
pub struct Krum<S, M> {
    /// The full distance matrix, row-major (`n × n`, zero diagonal).
    pub distances: Vec<S>,
    pub scores: Vec<S>,
    /// Kept updates, in increasing index order.
    pub selected: Vec<usize>,
    /// The mean of the kept updates (f32: sum / count; fixed: floored toward −∞).
    pub mean: Vec<M>,
}

/// Flower's `num_closest`: `max(1, n − f − 2)`, at most `n − 1` (Flower's slice stops
/// at the row's end).
pub fn num_closest(n: usize, f: usize) -> usize {
    n.saturating_sub(f + 2).max(1).min(n.saturating_sub(1))
}

/// SplitMix64: small, fast and fully determined by the seed.
struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }
    /// Fills `out` with standard normals (Box–Muller).
    fn normals(&mut self, out: &mut [f32]) {
        for pair in out.chunks_mut(2) {
            let r = (-2.0 * self.unit().ln()).sqrt();
            let t = std::f64::consts::TAU * self.unit();
            pair[0] = (r * t.cos()) as f32;
            if let Some(x) = pair.get_mut(1) {
                *x = (r * t.sin()) as f32;
            }
        }
    }
    fn stream(seed: u64, i: u64) -> Self {
        let mut s = Self(seed ^ i.wrapping_mul(0xd1b5_4a32_d192_ed03));
        s.next_u64();
        s
    }
}

/// `trainers` updates of `params` values from `seed`: a shared direction `g` (each value
/// `0.01·N(0,1)`), honest update `i` is `g + σ_i·z_i` with `σ_i` uniform in
/// `[0.005, 0.015)` (trainers differ in how noisy they are), and the last `attackers`
/// send `−4g + 0.01·z_i` (a scaled sign flip). Then quantised at `2^-10`.
pub fn generate(
    trainers: usize,
    params: usize,
    attackers: usize,
    seed: u64,
) -> Result<Updates, QuantError> {
    let mut shared = vec![0f32; params];
    SplitMix::stream(seed, 0).normals(&mut shared);
    shared.iter_mut().for_each(|x| *x *= 0.01);
    let mut f32s = vec![0f32; trainers * params];
    f32s.par_chunks_mut(params.max(1))
        .enumerate()
        .for_each(|(i, row)| {
            let mut rng = SplitMix::stream(seed, i as u64 + 1);
            let attacker = i + attackers >= trainers;
            let (a, sigma) = if attacker {
                (-4.0, 0.01)
            } else {
                (1.0, (0.005 + 0.01 * rng.unit()) as f32)
            };
            rng.normals(row);
            for (x, g) in row.iter_mut().zip(&shared) {
                *x = a * g + sigma * *x;
            }
        });
    let fixed = f32s
        .par_chunks(params.max(1))
        .map(|row| quantise_all(row, SCALE_BITS))
        .collect::<Result<Vec<_>, _>>()?
        .concat();
    Ok(Updates {
        trainers,
        params,
        attackers: attackers.min(trainers),
        f32s,
        fixed,
    })
}

/// f32 lanes per pair: enough independent sums to hide the add latency.
const LANES: usize = 32;

/// `‖a₀ − b‖²` and `‖a₁ − b‖²` of a block, summed in f32 lanes: two rows against one
/// halves the loads of `b` (fused multiply-add when `FMA`, which only the AVX2 + FMA
/// instance uses: elsewhere `mul_add` is a libm call).
#[inline(always)]
fn sq_diff2<const FMA: bool>(a0: &[f32], a1: &[f32], b: &[f32]) -> (f32, f32) {
    let (mut s0, mut s1) = ([0f32; LANES], [0f32; LANES]);
    let m = b.len() / LANES * LANES;
    for ((x0, x1), y) in a0[..m]
        .chunks_exact(LANES)
        .zip(a1[..m].chunks_exact(LANES))
        .zip(b[..m].chunks_exact(LANES))
    {
        for l in 0..LANES {
            let (d0, d1) = (x0[l] - y[l], x1[l] - y[l]);
            if FMA {
                s0[l] = d0.mul_add(d0, s0[l]);
                s1[l] = d1.mul_add(d1, s1[l]);
            } else {
                s0[l] += d0 * d0;
                s1[l] += d1 * d1;
            }
        }
    }
    let (mut t0, mut t1) = (s0.iter().sum::<f32>(), s1.iter().sum::<f32>());
    for j in m..b.len() {
        let (d0, d1) = (a0[j] - b[j], a1[j] - b[j]);
        t0 += d0 * d0;
        t1 += d1 * d1;
    }
    (t0, t1)
}

/// `⟨a₀, b⟩` and `⟨a₁, b⟩` of a block, exactly, in i64. Products of neighbouring values
/// are summed in pairs in i32 (the `pmaddwd` pattern): `x₀y₀ + x₁y₁` lies in
/// `[−2³¹ + 2¹⁶, 2³¹]`, so it only wraps for `2³¹` (all four values −32768), which then
/// reads as `i32::MIN`; widening `pair − 1` (wrapping) and adding the 1 back afterwards is
/// exact for all. Wrapping ops only where nothing can overflow (a block's sum stays far
/// inside i64), so debug builds' overflow checks stay out of the loop.
#[inline(always)]
fn dot2(a0: &[i16], a1: &[i16], b: &[i16]) -> (i64, i64) {
    const PAIRS: usize = 16;
    #[inline(always)]
    fn pair(x: &[i16], y: &[i16], l: usize) -> i64 {
        let p = i32::from(x[2 * l])
            .wrapping_mul(i32::from(y[2 * l]))
            .wrapping_add(i32::from(x[2 * l + 1]).wrapping_mul(i32::from(y[2 * l + 1])));
        i64::from(p.wrapping_sub(1))
    }
    let (mut s0, mut s1) = ([0i64; PAIRS], [0i64; PAIRS]);
    let m = b.len() / (2 * PAIRS) * (2 * PAIRS);
    for ((x0, x1), y) in a0[..m]
        .chunks_exact(2 * PAIRS)
        .zip(a1[..m].chunks_exact(2 * PAIRS))
        .zip(b[..m].chunks_exact(2 * PAIRS))
    {
        for l in 0..PAIRS {
            s0[l] = s0[l].wrapping_add(pair(x0, y, l));
            s1[l] = s1[l].wrapping_add(pair(x1, y, l));
        }
    }
    let ones = (m / 2) as i64;
    let (mut t0, mut t1) = (s0.iter().sum::<i64>() + ones, s1.iter().sum::<i64>() + ones);
    for j in m..b.len() {
        t0 += i64::from(a0[j]) * i64::from(b[j]);
        t1 += i64::from(a1[j]) * i64::from(b[j]);
    }
    (t0, t1)
}

/// Adds one column block's squared distances (upper triangle, `i < k`) into `acc`, rows
/// two at a time.
#[inline(always)]
fn f32_block<const FMA: bool>(
    x: &[f32],
    n: usize,
    d: usize,
    c0: usize,
    c1: usize,
    acc: &mut [f64],
) {
    let row = |i: usize| &x[i * d + c0..i * d + c1];
    for i in (0..n).step_by(2) {
        let (a0, a1) = (row(i), row((i + 1).min(n - 1)));
        for k in i + 1..n {
            let (p, q) = sq_diff2::<FMA>(a0, a1, row(k));
            acc[i * n + k] += f64::from(p);
            if k > i + 1 {
                acc[(i + 1) * n + k] += f64::from(q);
            }
        }
    }
}

/// Adds one column block's Gram products (upper triangle with the diagonal) into `acc`,
/// rows two at a time.
#[inline(always)]
fn fixed_block(x: &[i16], n: usize, d: usize, c0: usize, c1: usize, acc: &mut [i64]) {
    let row = |i: usize| &x[i * d + c0..i * d + c1];
    for i in (0..n).step_by(2) {
        let (a0, a1) = (row(i), row((i + 1).min(n - 1)));
        for k in i..n {
            let (p, q) = dot2(a0, a1, row(k));
            acc[i * n + k] += p;
            if k > i {
                acc[(i + 1) * n + k] += q;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn f32_block_avx2(x: &[f32], n: usize, d: usize, c0: usize, c1: usize, acc: &mut [f64]) {
    f32_block::<true>(x, n, d, c0, c1, acc)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn fixed_block_avx2(x: &[i16], n: usize, d: usize, c0: usize, c1: usize, acc: &mut [i64]) {
    fixed_block(x, n, d, c0, c1, acc)
}

fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The instruction set [`krum_f32`] and [`krum_fixed`] use on this CPU.
pub fn simd() -> &'static str {
    if has_avx2() {
        "avx2+fma"
    } else {
        "baseline"
    }
}

/// Sums per-block upper triangles over all column blocks, in parallel.
fn upper_triangle<T, F>(n: usize, d: usize, block: F) -> Vec<T>
where
    T: Copy + Default + Send + std::ops::AddAssign,
    F: Fn(usize, usize, &mut [T]) + Sync,
{
    let blocks = d.div_ceil(BLOCK);
    (0..blocks)
        .into_par_iter()
        .fold(
            || vec![T::default(); n * n],
            |mut acc, b| {
                block(b * BLOCK, ((b + 1) * BLOCK).min(d), &mut acc);
                acc
            },
        )
        .reduce(
            || vec![T::default(); n * n],
            |mut a, b| {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                a
            },
        )
}

/// Multi-Krum on `n` f32 updates of `d` values (row-major `x`), Flower's semantics.
pub fn krum_f32(x: &[f32], n: usize, d: usize, f: usize) -> Krum<f64, f32> {
    assert_eq!(x.len(), n * d);
    let avx2 = has_avx2();
    let mut dist = upper_triangle(n, d, |c0, c1, acc: &mut [f64]| {
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: the CPU has AVX2 and FMA (checked at run time just above).
            unsafe { f32_block_avx2(x, n, d, c0, c1, acc) };
            return;
        }
        let _ = avx2;
        f32_block::<false>(x, n, d, c0, c1, acc)
    });
    for i in 0..n {
        for k in 0..i {
            dist[i * n + k] = dist[k * n + i];
        }
    }
    let k = num_closest(n, f);
    let scores: Vec<f64> = (0..n)
        .map(|i| {
            let mut row: Vec<f64> = (0..n)
                .filter(|&j| j != i)
                .map(|j| dist[i * n + j])
                .collect();
            row.sort_by(f64::total_cmp);
            row.iter().take(k).sum()
        })
        .collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(a.cmp(&b)));
    let mut selected = order[..n.saturating_sub(f).max(1).min(n)].to_vec();
    selected.sort_unstable();
    let mut mean = vec![0f32; d];
    let count = selected.len() as f32;
    mean.par_chunks_mut(BLOCK).enumerate().for_each(|(b, out)| {
        let c0 = b * BLOCK;
        for &i in &selected {
            let row = &x[i * d + c0..i * d + c0 + out.len()];
            out.iter_mut().zip(row).for_each(|(m, v)| *m += v);
        }
        out.iter_mut().for_each(|m| *m /= count);
    });
    Krum {
        distances: dist,
        scores,
        selected,
        mean,
    }
}

/// Multi-Krum on `n` fixed-point updates of `d` values in exact integer arithmetic.
pub fn krum_fixed(x: &[i16], n: usize, d: usize, f: usize) -> Krum<u64, i64> {
    assert_eq!(x.len(), n * d);
    let avx2 = has_avx2();
    let gram = upper_triangle(n, d, |c0, c1, acc: &mut [i64]| {
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: the CPU has AVX2 (checked at run time just above).
            unsafe { fixed_block_avx2(x, n, d, c0, c1, acc) };
            return;
        }
        let _ = avx2;
        fixed_block(x, n, d, c0, c1, acc)
    });
    let norm = |i: usize| gram[i * n + i];
    let mut dist = vec![0u64; n * n];
    for i in 0..n {
        for k in i + 1..n {
            let v = (norm(i) + norm(k) - 2 * gram[i * n + k]) as u64;
            dist[i * n + k] = v;
            dist[k * n + i] = v;
        }
    }
    let k = num_closest(n, f);
    let scores: Vec<u64> = (0..n)
        .map(|i| {
            let row: Vec<u64> = (0..n)
                .filter(|&j| j != i)
                .map(|j| dist[i * n + j])
                .collect();
            k_smallest(&row, k).0
        })
        .collect();
    let keep = keep_lowest(&scores, &vec![true; n], n.saturating_sub(f).max(1));
    let selected: Vec<usize> = (0..n).filter(|&i| keep[i]).collect();
    let mut mean = vec![0i64; d];
    let count = selected.len() as i64;
    mean.par_chunks_mut(BLOCK).enumerate().for_each(|(b, out)| {
        let c0 = b * BLOCK;
        for &i in &selected {
            let row = &x[i * d + c0..i * d + c0 + out.len()];
            out.iter_mut()
                .zip(row)
                .for_each(|(m, &v)| *m += i64::from(v));
        }
        out.iter_mut().for_each(|m| *m = m.div_euclid(count));
    });
    Krum {
        distances: dist,
        scores,
        selected,
        mean,
    }
}

/// Best (minimum) seconds of `reps` runs of `f`, and its last result.
fn best_of<T>(reps: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        let r = std::hint::black_box(f());
        best = best.min(t.elapsed().as_secs_f64());
        last = Some(r);
    }
    (best, last.expect("at least one repetition"))
}

/// Times [`krum_f32`] and [`krum_fixed`] on `u` with `f = byzantine`, best of `reps`.
pub fn run(u: &Updates, byzantine: usize, seed: u64, reps: usize) -> AggregateBench {
    let (n, d) = (u.trainers, u.params);
    let (krum_f32_s, a) = best_of(reps, || krum_f32(&u.f32s, n, d, byzantine));
    let (krum_fixed_s, b) = best_of(reps, || krum_fixed(&u.fixed, n, d, byzantine));
    AggregateBench {
        trainers: n,
        params: d,
        byzantine,
        attackers: u.attackers,
        num_closest: num_closest(n, byzantine),
        to_keep: a.selected.len(),
        scale_bits: SCALE_BITS,
        seed,
        reps: reps.max(1),
        threads: rayon::current_num_threads(),
        simd: simd(),
        krum_f32_s,
        krum_fixed_s,
        same_selection: a.selected == b.selected,
        attackers_selected: a.selected.iter().filter(|&&i| i + u.attackers >= n).count(),
        selected_f32: a.selected,
        selected_fixed: b.selected,
        mean_f32: a.mean,
    }
}

/// Writes f32 values as raw little-endian bytes (what `bench/krum_flower.py` reads).
pub fn write_f32_le(values: &[f32], mut w: impl Write) -> io::Result<()> {
    for chunk in values.chunks(1 << 16) {
        let bytes: Vec<u8> = chunk.iter().flat_map(|v| v.to_le_bytes()).collect();
        w.write_all(&bytes)?;
    }
    w.flush()
}

/// Reads raw little-endian f32 values.
pub fn read_f32_le(mut r: impl Read) -> io::Result<Vec<f32>> {
    let mut bytes = Vec::new();
    r.read_to_end(&mut bytes)?;
    if bytes.len() % 4 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "length is not a multiple of 4",
        ));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// The largest `|a_j − b_j|` (infinite when the lengths differ).
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() {
        return f64::INFINITY;
    }
    a.iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).abs())
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use merit_protocol::rule::{dot, sq_distance};

    /// Krum by the book: every distance directly, every score by sorting.
    fn brute(rows: &[Vec<f64>], f: usize) -> Vec<usize> {
        let n = rows.len();
        let dist = |i: usize, k: usize| -> f64 {
            rows[i]
                .iter()
                .zip(&rows[k])
                .map(|(a, b)| (a - b) * (a - b))
                .sum()
        };
        let k = num_closest(n, f);
        let scores: Vec<f64> = (0..n)
            .map(|i| {
                let mut d: Vec<f64> = (0..n).filter(|&j| j != i).map(|j| dist(i, j)).collect();
                d.sort_by(f64::total_cmp);
                d[..k].iter().sum()
            })
            .collect();
        let mut idx: Vec<usize> = (0..n).collect();
        idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(a.cmp(&b)));
        let mut sel = idx[..n - f].to_vec();
        sel.sort_unstable();
        sel
    }

    #[test]
    fn tiny_example_by_hand() {
        // 5 points on a line (d = 1) at 0, 1, 2, 4 and 100 (the outlier), f = 1:
        // num_closest = 5 − 1 − 2 = 2. Squared distances to the 2 nearest others:
        // 0 → {1, 4} = 5; 1 → {1, 1} = 2; 2 → {1, 4} = 5; 4 → {4, 9} = 13;
        // 100 → {96², 98²} = 18820. Keep n − f = 4: {0, 1, 2, 3}.
        let xs = [0.0f32, 1.0, 2.0, 4.0, 100.0];
        let a = krum_f32(&xs, 5, 1, 1);
        assert_eq!(a.scores, vec![5.0, 2.0, 5.0, 13.0, 18820.0]);
        assert_eq!(a.selected, vec![0, 1, 2, 3]);
        assert_eq!(a.mean, vec![7.0 / 4.0]);
        let q: Vec<i16> = xs.iter().map(|&x| x as i16).collect();
        let b = krum_fixed(&q, 5, 1, 1);
        assert_eq!(b.scores, vec![5, 2, 5, 13, 18820]);
        assert_eq!(b.selected, a.selected);
        assert_eq!(b.mean, vec![1], "⌊7/4⌋");
        // With f = 2 the outlier and the farthest honest point go.
        assert_eq!(krum_f32(&xs, 5, 1, 2).selected, vec![0, 1, 2]);
        assert_eq!(krum_fixed(&q, 5, 1, 2).selected, vec![0, 1, 2]);
    }

    #[test]
    fn matches_brute_force_and_drops_the_attackers() {
        // Odd sizes: a partial column block and a partial 16-lane tail.
        for (n, d, f, seed) in [(7, 37, 2, 1), (10, 2 * BLOCK + 5, 3, 2), (12, 300, 4, 3)] {
            let u = generate(n, d, f, seed).unwrap();
            let rows: Vec<Vec<f64>> = u
                .f32s
                .chunks(d)
                .map(|r| r.iter().map(|&v| f64::from(v)).collect())
                .collect();
            let want = brute(&rows, f);
            let a = krum_f32(&u.f32s, n, d, f);
            let b = krum_fixed(&u.fixed, n, d, f);
            assert_eq!(a.selected, want, "f32, n = {n}");
            assert_eq!(b.selected, want, "fixed, n = {n}");
            assert!(want.iter().all(|&i| i < n - f), "an attacker was kept");
            // Exact integer distances against the protocol's own helpers.
            let q: Vec<&[i16]> = u.fixed.chunks(d).collect();
            for i in 0..n {
                for k in 0..n {
                    assert_eq!(b.distances[i * n + k], sq_distance(q[i], q[k]));
                }
            }
            let fixed_rows: Vec<Vec<f64>> = q
                .iter()
                .map(|r| r.iter().map(|&v| f64::from(v)).collect())
                .collect();
            assert_eq!(brute(&fixed_rows, f), want);
            // The f32 distances agree with f64 ones to f32 precision.
            for i in 0..n {
                for k in 0..n {
                    let exact: f64 = rows[i]
                        .iter()
                        .zip(&rows[k])
                        .map(|(x, y)| (x - y) * (x - y))
                        .sum();
                    assert!((a.distances[i * n + k] - exact).abs() <= 1e-5 * exact.max(1e-12));
                }
            }
            // The means: the kept rows' average, and its floored integer twin.
            for j in [0, d / 2, d - 1] {
                let s: f64 = want.iter().map(|&i| rows[i][j]).sum();
                assert!((f64::from(a.mean[j]) - s / want.len() as f64).abs() < 1e-6);
                let t: i64 = want.iter().map(|&i| i64::from(q[i][j])).sum();
                assert_eq!(b.mean[j], t.div_euclid(want.len() as i64));
            }
        }
    }

    #[test]
    fn block_kernels_are_exact_at_the_extremes() {
        let a = vec![i16::MIN; 100];
        let b: Vec<i16> = (0..100)
            .map(|i| if i % 2 == 0 { i16::MIN } else { i16::MAX })
            .collect();
        assert_eq!(dot2(&a, &b, &a), (dot(&a, &a), dot(&b, &a)));
        assert_eq!(dot2(&b, &b, &b).0, dot(&b, &b));
        let x = krum_fixed(&[a.clone(), b.clone(), a.clone()].concat(), 3, 100, 0);
        assert_eq!(x.distances[1], sq_distance(&a, &b));
    }

    #[test]
    fn baseline_kernels_agree_with_the_dispatched_ones() {
        // This machine may run the AVX2 instances; check the portable ones directly.
        let (n, d) = (9, BLOCK + 77);
        let u = generate(n, d, 3, 4).unwrap();
        let f = upper_triangle(n, d, |c0, c1, acc: &mut [f64]| {
            f32_block::<false>(&u.f32s, n, d, c0, c1, acc)
        });
        let g = upper_triangle(n, d, |c0, c1, acc: &mut [i64]| {
            fixed_block(&u.fixed, n, d, c0, c1, acc)
        });
        let (a, b) = (krum_f32(&u.f32s, n, d, 3), krum_fixed(&u.fixed, n, d, 3));
        let q: Vec<&[i16]> = u.fixed.chunks(d).collect();
        for i in 0..n {
            for k in i..n {
                assert_eq!(g[i * n + k], dot(q[i], q[k]));
                if k > i {
                    let want = a.distances[i * n + k];
                    assert!((f[i * n + k] - want).abs() <= 1e-5 * want);
                    assert_eq!(b.distances[i * n + k], sq_distance(q[i], q[k]));
                }
            }
        }
    }

    #[test]
    fn generation_is_deterministic_and_benchmark_reports() {
        let u = generate(8, 100, 2, 9).unwrap();
        assert_eq!(u.f32s, generate(8, 100, 2, 9).unwrap().f32s);
        assert_ne!(u.f32s, generate(8, 100, 2, 10).unwrap().f32s);
        assert_eq!(u.fixed, quantise_all(&u.f32s, SCALE_BITS).unwrap());
        let r = run(&u, 2, 9, 2);
        assert!(r.same_selection);
        assert_eq!(r.attackers_selected, 0);
        assert_eq!((r.to_keep, r.num_closest), (6, 4));
        assert!(r.krum_f32_s > 0.0 && r.krum_fixed_s > 0.0 && r.threads >= 1);
        let json = serde_json::to_value(&r).unwrap();
        assert!(json.get("krum_f32_s").is_some() && json.get("mean_f32").is_none());
        let mut buf = Vec::new();
        write_f32_le(&u.f32s, &mut buf).unwrap();
        assert_eq!(read_f32_le(&buf[..]).unwrap(), u.f32s);
        assert_eq!(max_abs_diff(&r.mean_f32, &r.mean_f32), 0.0);
    }
}
