//! What can go wrong, named by phase, contribution and check.

use thiserror::Error;

/// Which secret a phase-1 proof of knowledge is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    /// τ, the point the powers are taken at.
    Tau,
    /// α, which multiplies the `[ατ^i]` powers.
    Alpha,
    /// β, which multiplies the `[βτ^i]` powers and `[β]G2`.
    Beta,
    /// δ, the phase-2 secret.
    Delta,
}

impl core::fmt::Display for Secret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Secret::Tau => "tau",
            Secret::Alpha => "alpha",
            Secret::Beta => "beta",
            Secret::Delta => "delta",
        })
    }
}

/// One check a phase-1 contribution (or the phase-1 state it produced) can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Phase1Check {
    /// The state's vectors do not have the lengths its domain size asks for.
    #[error("the state's vectors have the wrong lengths")]
    Shape,
    /// `[τ^0]G1` or `[τ^0]G2` is not the group's generator.
    #[error("the zeroth powers are not the generators")]
    Generators,
    /// The contribution was built on another transcript (or out of order).
    #[error("the contribution names a different previous transcript hash")]
    Parent,
    /// A secret was zero: the new τ, α or β element is the identity.
    #[error("the new {0} element is the identity")]
    Degenerate(Secret),
    /// The proof of knowledge of a secret's ratio to the previous state fails.
    #[error("the proof of knowledge of {0} does not verify")]
    ProofOfKnowledge(Secret),
    /// The contribution's published elements are not the new state's.
    #[error("the contribution's elements are not the new state's")]
    HeadMismatch,
    /// `[τ]G1` and `[τ]G2` hide different τ.
    #[error("tau differs between G1 and G2")]
    TauG1G2,
    /// The `[τ^i]G1` are not successive powers of τ.
    #[error("the G1 powers of tau are not successive powers")]
    TauPowersG1,
    /// The `[τ^i]G2` are not successive powers of τ.
    #[error("the G2 powers of tau are not successive powers")]
    TauPowersG2,
    /// The `[ατ^i]G1` are not α times successive powers of τ.
    #[error("the alpha powers are not successive powers of tau")]
    AlphaPowers,
    /// The `[βτ^i]G1` are not β times successive powers of τ.
    #[error("the beta powers are not successive powers of tau")]
    BetaPowers,
    /// `[β]G1` and `[β]G2` hide different β.
    #[error("beta differs between G1 and G2")]
    BetaG1G2,
}

/// One check a phase-2 contribution (or the key it produced) can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Phase2Check {
    /// The contribution was built on another transcript (or out of order).
    #[error("the contribution names a different previous transcript hash")]
    Parent,
    /// δ' was zero: the new δ is the identity.
    #[error("the new delta is the identity")]
    Degenerate,
    /// The proof of knowledge of δ' (new δ over previous δ) fails.
    #[error("the proof of knowledge of delta does not verify: the new delta is not linked to the previous one")]
    ProofOfKnowledge,
    /// `[δ]G1` and `[δ]G2` hide different δ.
    #[error("delta differs between G1 and G2")]
    DeltaG1G2,
    /// The contribution's δ is not the key's δ.
    #[error("the contribution's delta is not the key's")]
    HeadMismatch,
    /// Something other than δ, the L query and the H query changed.
    #[error("an element other than delta, L and H changed")]
    Unchanged,
    /// The L and H queries were not divided by exactly the δ the contribution multiplied in
    /// (or, checked against phase 1, are not the circuit's L and H over δ).
    #[error("the L and H queries are not scaled by 1/delta")]
    QueriesNotScaled,
    /// The key's vectors do not have the circuit's lengths.
    #[error("the key's vectors do not have the circuit's lengths")]
    KeyShape,
    /// α, β are not phase 1's, or γ is not the generator.
    #[error("alpha, beta or gamma is not the one phase 1 gives")]
    FixedElements,
    /// The A query is not the circuit's `[uᵢ(τ)]`.
    #[error("the A query is not the circuit's")]
    AQuery,
    /// The B query in G1 is not the circuit's `[vᵢ(τ)]`.
    #[error("the B query in G1 is not the circuit's")]
    BG1Query,
    /// The B query in G2 is not the circuit's `[vᵢ(τ)]`.
    #[error("the B query in G2 is not the circuit's")]
    BG2Query,
    /// The batched check of the key against phase 1 failed but no separate check did
    /// (probability ~1/r for an honest key; a sign of a bug).
    #[error("the key is not the circuit's key from phase 1")]
    NotFromPhase1,
    /// The verifying key's input commitments (IC, γ = 1) are not the circuit's.
    #[error("the verifying key's public-input elements are not the circuit's")]
    IcQuery,
}

/// Any failure of the ceremony library.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CeremonyError {
    /// A phase-1 contribution (numbered from 0) failed a check.
    #[error("phase 1 contribution {contribution}: {check}")]
    Phase1 {
        /// Index of the contribution in the transcript.
        contribution: usize,
        /// The check it failed.
        check: Phase1Check,
    },
    /// A phase-2 contribution (numbered from 0) failed a check.
    #[error("phase 2 contribution {contribution}: {check}")]
    Phase2 {
        /// Index of the contribution in the transcript.
        contribution: usize,
        /// The check it failed.
        check: Phase2Check,
    },
    /// A key checked on its own against phase 1 (`check::verify_key`) failed a check.
    #[error("the key against phase 1: {0}")]
    Key(Phase2Check),
    /// A phase with no contribution: whoever built its start knows its secret (τ = α = β = 1 or δ = 1).
    #[error("phase {phase} has no contribution, so its secrets are public")]
    NoContributions {
        /// 1 or 2.
        phase: u8,
    },
    /// The transcript's phase 2 was run for another circuit.
    #[error("the transcript's phase 2 is for another circuit")]
    CircuitMismatch,
    /// The domain size asked for is not supported.
    #[error("powers of tau for 2^{0} are not supported (1..={max})", max = crate::phase1::MAX_POWER)]
    UnsupportedPower(u32),
    /// A Lagrange basis that is not phase 1's (or not of the circuit's domain size).
    #[error("the Lagrange basis is not phase 1's for this domain")]
    LagrangeBasis,
    /// A phase-1 state whose vectors do not have the lengths its `power` asks for.
    #[error("the phase-1 state's vectors have the wrong lengths")]
    MalformedPhase1,
    /// The circuit needs a larger domain than phase 1 provides.
    #[error("the circuit needs a domain of {needed} points but phase 1 has {available}")]
    DomainTooSmall {
        /// Constraints plus public inputs, rounded up to a power of two.
        needed: usize,
        /// Phase 1's domain size.
        available: usize,
    },
    /// The circuit could not be synthesised or is not a plain R1CS.
    #[error("circuit synthesis: {0}")]
    Synthesis(String),
    /// Bytes that do not decode to a transcript (or a point not in its group).
    #[error("decoding: {0}")]
    Decode(String),
}
