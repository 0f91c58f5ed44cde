//! The inverse DFT of a vector of group elements, for the Lagrange basis in the exponent.
//!
//! ark-poly's FFT accepts group elements too, but multiplies each by a twiddle with the
//! curve's default scalar multiplication, which for BN254 G2 is plain double-and-add.
//! This radix-2 version takes the multiplication as a parameter (GLV in both groups),
//! skips the twiddle 1 (one butterfly in every block of every stage), and runs the
//! butterflies of a stage in parallel.

use ark_bn254::{Fr, G1Projective, G2Projective};
use ark_ec::scalar_mul::glv::GLVConfig;
use ark_ff::{Field, One};
use ark_poly::{EvaluationDomain, Radix2EvaluationDomain};
use ark_std::ops::{Add, Sub};
use rayon::prelude::*;

/// `s · P` in G1 (GLV: the curve's own multiplication is already GLV for G1).
pub fn mul_g1(point: G1Projective, s: Fr) -> G1Projective {
    point * s
}

/// `s · Q` in G2 with the GLV endomorphism, about 1.7 times faster than the default.
pub fn mul_g2(point: G2Projective, s: Fr) -> G2Projective {
    ark_bn254::g2::Config::glv_mul_projective(point, s)
}

/// In place: `vⱼ ← (1/n) Σᵢ ω^{−ij} vᵢ` over the radix-2 domain of size `v.len()`.
///
/// With `vᵢ = [τⁱ]` this gives `[Lⱼ(τ)]`, the Lagrange basis at τ. Returns `None` when
/// the length is not a power of two the field supports.
pub fn group_ifft<G>(v: &mut [G], mul: impl Fn(G, Fr) -> G + Sync) -> Option<()>
where
    G: Copy + Send + Sync + Add<Output = G> + Sub<Output = G>,
{
    let n = v.len();
    let domain = Radix2EvaluationDomain::<Fr>::new(n).filter(|d| d.size() == n)?;
    bit_reverse(v);
    let omega_inv = domain.group_gen_inv();
    let mut half = 1;
    while half < n {
        let step = omega_inv.pow([(n / (2 * half)) as u64]);
        let twiddles = powers(step, half);
        v.par_chunks_mut(2 * half).for_each(|block| {
            let (low, high) = block.split_at_mut(half);
            low.par_iter_mut()
                .zip(high.par_iter_mut())
                .zip(twiddles.par_iter())
                .for_each(|((a, b), w)| {
                    let t = if w.is_one() { *b } else { mul(*b, *w) };
                    let u = *a;
                    *a = u + t;
                    *b = u - t;
                });
        });
        half *= 2;
    }
    let n_inv = domain.size_inv();
    v.par_iter_mut().for_each(|p| *p = mul(*p, n_inv));
    Some(())
}

/// `[xⁱ]` for i < n.
fn powers(x: Fr, n: usize) -> Vec<Fr> {
    let mut out = Vec::with_capacity(n);
    let mut acc = Fr::one();
    for _ in 0..n {
        out.push(acc);
        acc *= x;
    }
    out
}

/// Permutes `v` into bit-reversed index order (the iterative FFT's input order).
fn bit_reverse<G>(v: &mut [G]) {
    let n = v.len();
    let bits = n.trailing_zeros();
    if bits == 0 {
        return;
    }
    for i in 0..n {
        let j = i.reverse_bits() >> (usize::BITS - bits);
        if i < j {
            v.swap(i, j);
        }
    }
}
