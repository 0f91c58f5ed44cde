//! A Groth16 (BN254) setup ceremony in which no single party learns the toxic waste.
//!
//! # Why
//! A Groth16 key built from secrets `τ, α, β, γ, δ` lets whoever knows `α, β, δ` forge a
//! proof of *any* statement: pick `a, b`, set `A = [a]`, `B = [b]`, and
//! `C = [(ab − αβ − Σxᵢ·icᵢ)/δ]` (γ = 1 here). A ceremony makes the secrets the product
//! of every participant's secret, so one honest participant *in each phase* who forgets
//! theirs is enough. Not one in phase 2 alone: whoever knows phase 1's τ, α, β reads
//! `[1/δ]` off the H query (`[Z(τ)/δ]`, `Z(τ) = τⁿ − 1`) and forges whatever δ became.
//!
//! # Phase 1 (powers of tau, [`phase1`])
//! State for `N = 2^k`: `[τⁱ]G1` (i < 2N−1), `[τⁱ]G2` (i < N), `[ατⁱ]G1`, `[βτⁱ]G1`
//! (i < N), `[β]G2`; it starts at τ = α = β = 1 (all generators). A contribution raises
//! every element by fresh `τ', α', β'` and publishes the new `[τ]G1, [α]G1, [β]G1` with a
//! Schnorr proof of knowledge ([`dlog`]) of each ratio to the previous element. What each
//! check proves:
//! - *proofs of knowledge*, challenge bound to the previous transcript hash: the
//!   contributor knows `τ'` with `τ_new = τ'·τ_prev` (likewise α, β), so its secret is
//!   a multiple of the previous one it cannot have chosen to cancel it, and the proof
//!   cannot be replayed from another transcript or position;
//! - `e([τ]G1, G2) = e(G1, [τ]G2)` and `e([β]G1, G2) = e(G1, [β]G2)`: one τ and one β
//!   across both groups;
//! - random linear combination, for each G1 vector `P`: `e(Σρᵢ·Pᵢ, [τ]G2) =
//!   e(Σρᵢ·Pᵢ₊₁, G2)`, and for G2 `e([τ]G1, Σρᵢ·Qᵢ) = e(G1, Σρᵢ·Qᵢ₊₁)`: every element
//!   is τ times the previous one (a single wrong element survives with probability
//!   ~1/r), with two MSMs and two pairings per vector instead of one pairing per element.
//!
//! # Deriving keys ([`mod@derive`])
//! For a circuit whose QAP domain (constraints + public inputs, as arkworks'
//! `LibsnarkReduction` builds it) has `n ≤ N` points, an inverse FFT in the group turns
//! the first n powers into `[Lⱼ(τ)]` (and the α-, β-multiples), and the A, B, C matrices'
//! columns give `[uᵢ(τ)]`, `[vᵢ(τ)]` and `[βuᵢ+αvᵢ+wᵢ]`. With γ = δ = 1 this is a valid
//! Groth16 key that everybody can recompute, but whose δ is public.
//!
//! # Phase 2 (Bowe–Gabizon–Miers, [`phase2`])
//! A contribution multiplies `[δ]G1, [δ]G2` by a fresh δ' and divides the L and H queries
//! by it, and proves knowledge of δ' over the previous `[δ]G1` (challenge bound to the
//! previous hash, whose chain starts from phase 1's hash and the circuit's digest).
//! Checking one step with both keys at hand ([`phase2::verify`]): `e([δ]G1, G2) =
//! e(G1, [δ]G2)`; the proof of knowledge; every other element unchanged; and with random
//! weights over L ‖ H, `e(Σρᵢ·newᵢ, [δ_new]G2) = e(Σρᵢ·oldᵢ, [δ_old]G2)`, i.e. each element
//! was divided by exactly δ'. Only `δ_g2` changes in the verifying key.
//!
//! # Checking a key against phase 1 ([`check`])
//! A whole transcript is checked without re-deriving the start: every query is a linear
//! image `F(T)` of the phase-1 powers, so for random ρ, `⟨ρ, Q⟩ = ⟨Fᵀρ, T⟩`, where `Fᵀρ`
//! costs a sparse matrix product and a *field* inverse FFT. A, B (G1 and G2) and IC are
//! compared as group elements; L ‖ H with one pairing equation against `[δ]G2`; all
//! of it batched with random weights into one 3-pairing product (the separate checks run
//! only to name a failure). Together
//! with the chain of δ proofs from δ = 1 this shows the final key is the circuit's key
//! for τ, α, β of phase 1 and a δ that is the product of every contributor's δ'.
//!
//! # Transcripts ([`transcript`])
//! A transcript keeps each phase's contributions and its final state (not the
//! intermediate ones: the contributions' proofs chain the published `[τ], [α], [β], [δ]`
//! from the start to the final state, and the final state is checked in full); its hash
//! chain is `hₖ = H(hₖ₋₁, contributionₖ)`. [`verify_transcript`] re-checks both phases
//! against the circuit and returns the final keys.
//!
//! # Use
//! - Phase 1, once per domain size: `Phase1Transcript::new(k)`, each party calls
//!   `contribute(rng)` on the current transcript (after `verify(rng)` of what it
//!   received) and publishes it; or, with full states, `phase1::contribute` /
//!   `phase1::verify` one step at a time.
//! - Phase 2, once per circuit: `Transcript::new(phase1, circuit)` derives the start
//!   (expensive: four group FFTs of the circuit's domain; anyone can do it, nobody need
//!   trust it), then each party calls `contribute_phase2(rng)`. The FFTs depend only on
//!   phase 1 and the domain size: `lagrange_basis` once per size, publish it, and
//!   `LagrangeBasis::verify` + `derive_start_with_basis` for each circuit of that size.
//! - A contract can check each phase-2 contribution cheaply with
//!   `phase2::verify_link(prev_delta_g1, contribution, parent)` (a Schnorr check and one
//!   2-pairing product) and record `contribution.hash()` as the chain's new head.
//! - Anyone: `verify_transcript(&transcript, circuit, rng)` (or
//!   `verify_transcript_bytes`) returns the proving and verifying keys.

pub mod check;
pub mod derive;
pub mod dlog;
mod error;
pub mod fft;
mod first;
mod hash;
mod pairing;
pub mod phase1;
pub mod phase2;
pub mod subgroup;
pub mod synthetic;
pub mod transcript;

#[cfg(test)]
mod tests;

pub use check::verify_key;
pub use derive::{
    derive_start, derive_start_from_shape, derive_start_with_basis, lagrange_basis, synthesize,
    LagrangeBasis, R1csShape,
};
pub use dlog::DlogProof;
pub use error::{CeremonyError, Phase1Check, Phase2Check, Secret};
pub use hash::{digest_of, Digest};
pub use phase1::{Phase1Contribution, Phase1State};
pub use phase2::Phase2Contribution;
pub use transcript::{
    verify_transcript, verify_transcript_bytes, Phase1Transcript, Phase2Transcript, Transcript,
};
