//! The whole ceremony as data: phase-1 contributions and final powers, phase-2
//! contributions and final key, with a hash chain over the contributions.
//!
//! Only the final state of each phase is stored, not every intermediate one: the
//! contributions' published elements and proofs of knowledge chain from the start to
//! the final state, and the final state is checked in full (phase 1: consistency with
//! pairings; phase 2: against phase 1 and the circuit by random linear combinations,
//! `check::verify_key`). That proves the final secret is the product of every
//! contributor's secret, and a transcript stays one state's size however many people
//! contribute.

use ark_bn254::{Bn254, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_groth16::{ProvingKey, VerifyingKey};
use ark_relations::gr1cs::ConstraintSynthesizer;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize, Compress, Validate};
use rand::{CryptoRng, Rng};

use crate::check::verify_key;
use crate::derive::{derive_start_from_shape, synthesize, R1csShape};
use crate::error::{CeremonyError, Phase1Check};
use crate::hash::{compressed, Digest};
use crate::phase1::{self, Heads, Phase1Contribution, Phase1State};
use crate::phase2::{self, Phase2Contribution};
use crate::subgroup::{check_g2, decode_then_check};
use rayon::prelude::*;

/// Phase 1: the domain size, every contribution, and the powers after the last one.
#[derive(Clone, Debug, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct Phase1Transcript {
    /// log2 of the domain size.
    pub power: u32,
    /// The contributions, in order.
    pub contributions: Vec<Phase1Contribution>,
    /// The state after the last contribution (the identity state if there is none).
    pub state: Phase1State,
}

impl Phase1Transcript {
    /// A phase 1 nobody has contributed to yet.
    pub fn new(power: u32) -> Result<Self, CeremonyError> {
        Ok(Self {
            power,
            contributions: Vec::new(),
            state: Phase1State::identity(power)?,
        })
    }

    /// The hash chain's head: `initial_hash(power)` folded with each contribution.
    pub fn hash(&self) -> Digest {
        self.contributions.last().map_or_else(
            || phase1::initial_hash(self.power),
            Phase1Contribution::hash,
        )
    }

    /// Adds a contribution with fresh secrets, built on the current state and hash.
    pub fn contribute<R: Rng + CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
    ) -> Result<&Phase1Contribution, CeremonyError> {
        let parent = self.hash();
        let (state, contribution) = phase1::contribute(&self.state, &parent, rng)?;
        Ok(self.push(state, contribution))
    }

    /// Adds a contribution made elsewhere (after the caller checked it with `phase1::verify`).
    pub fn push(
        &mut self,
        state: Phase1State,
        contribution: Phase1Contribution,
    ) -> &Phase1Contribution {
        self.state = state;
        self.contributions.push(contribution);
        self.contributions.last().expect("just pushed")
    }

    /// The canonical encoding (arkworks compressed).
    pub fn to_bytes(&self) -> Vec<u8> {
        compressed(self)
    }

    /// Decodes a phase-1 transcript, checking every point is in its group.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CeremonyError> {
        decode_then_check(bytes, |t: &Self| t.g2_in_subgroup())
    }

    /// The uncompressed encoding, for a party's own copy of a phase 1 it verified
    /// ([`Phase1Transcript::from_own_copy`]): several times faster to read back.
    pub fn to_own_copy(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.uncompressed_size());
        self.serialize_uncompressed(&mut out)
            .expect("writing to a Vec cannot fail");
        out
    }

    /// Reads back [`Phase1Transcript::to_own_copy`], checking only that every point is
    /// on its curve (cheap), not in its subgroup: for a copy this party wrote itself after
    /// verifying the phase 1 in full. A point on its curve is fixed by its compressed
    /// encoding, so a copy that also compresses to the bytes it was made from is exactly
    /// that phase 1.
    pub fn from_own_copy(bytes: &[u8]) -> Result<Self, CeremonyError> {
        let t = Self::deserialize_with_mode(bytes, Compress::No, Validate::No)
            .map_err(|e| CeremonyError::Decode(e.to_string()))?;
        let s = &t.state;
        let g1 = s
            .tau_g1
            .par_iter()
            .chain(&s.alpha_tau_g1)
            .chain(&s.beta_tau_g1)
            .all(|p| p.is_on_curve());
        let g2 = s
            .tau_g2
            .par_iter()
            .chain([&s.beta_g2])
            .all(|p| p.is_on_curve());
        let records = t.contributions.iter().all(|c| {
            [c.tau_g1, c.alpha_g1, c.beta_g1]
                .iter()
                .chain([&c.tau_proof, &c.alpha_proof, &c.beta_proof].map(|p| &p.commitment))
                .all(|p| p.is_on_curve())
        });
        if !(g1 && g2 && records) {
            return Err(CeremonyError::Decode(
                "a point is not on its curve".to_string(),
            ));
        }
        Ok(t)
    }

    /// Every G2 point is in G2 (G1 needs no check: see [`crate::subgroup`]).
    fn g2_in_subgroup(&self) -> bool {
        let s = &self.state;
        check_g2(s.tau_g2.par_iter().chain([&s.beta_g2]))
    }

    /// Checks every contribution's link and the final state's consistency.
    pub fn verify<R: Rng + CryptoRng + ?Sized>(&self, rng: &mut R) -> Result<(), CeremonyError> {
        let last = self
            .contributions
            .len()
            .checked_sub(1)
            .ok_or(CeremonyError::NoContributions { phase: 1 })?;
        let at = |contribution: usize| {
            move |check: Phase1Check| CeremonyError::Phase1 {
                contribution,
                check,
            }
        };
        if self.state.power != self.power {
            return Err(at(last)(Phase1Check::Shape));
        }
        let mut parent = phase1::initial_hash(self.power);
        let mut heads = Heads::identity();
        for (index, contribution) in self.contributions.iter().enumerate() {
            phase1::verify_link(&heads, contribution, &parent).map_err(at(index))?;
            heads = contribution.heads();
            parent = contribution.hash();
        }
        phase1::check_consistency(&self.state, rng).map_err(at(last))?;
        let final_contribution = &self.contributions[last];
        phase1::check_heads(&self.state, final_contribution).map_err(at(last))
    }
}

/// Phase 2 for one circuit: which circuit, every contribution, the final key.
///
/// The derived start is not stored: anyone can re-derive it (`derive_start`), and
/// verification checks the final key against phase 1 directly (`check::verify_key`).
#[derive(Clone, Debug, PartialEq, CanonicalSerialize, CanonicalDeserialize)]
pub struct Phase2Transcript {
    /// The circuit's digest (`R1csShape::digest`).
    pub circuit_digest: Digest,
    /// The contributions, in order.
    pub contributions: Vec<Phase2Contribution>,
    /// The key after the last contribution (the derived start if there is none).
    pub key: ProvingKey<Bn254>,
}

impl Phase2Transcript {
    /// A phase 2 nobody has contributed to yet, from the start derived for `shape`.
    pub fn new(phase1: &Phase1State, shape: &R1csShape) -> Result<Self, CeremonyError> {
        Ok(Self {
            circuit_digest: shape.digest(),
            contributions: Vec::new(),
            key: derive_start_from_shape(phase1, shape)?,
        })
    }

    /// The hash chain's head, given the phase-1 hash it continues.
    pub fn hash(&self, phase1_hash: &Digest) -> Digest {
        self.contributions.last().map_or_else(
            || phase2::initial_hash(phase1_hash, &self.circuit_digest),
            Phase2Contribution::hash,
        )
    }

    /// Adds a contribution with a fresh δ'.
    pub fn contribute<R: Rng + CryptoRng + ?Sized>(
        &mut self,
        phase1_hash: &Digest,
        rng: &mut R,
    ) -> &Phase2Contribution {
        let parent = self.hash(phase1_hash);
        let (key, contribution) = phase2::contribute(&self.key, &parent, rng);
        self.push(key, contribution)
    }

    /// Adds a contribution made elsewhere (after the caller checked it with `phase2::verify`).
    pub fn push(
        &mut self,
        key: ProvingKey<Bn254>,
        contribution: Phase2Contribution,
    ) -> &Phase2Contribution {
        self.key = key;
        self.contributions.push(contribution);
        self.contributions.last().expect("just pushed")
    }

    /// The canonical encoding (arkworks compressed).
    pub fn to_bytes(&self) -> Vec<u8> {
        compressed(self)
    }

    /// Decodes a phase-2 transcript, checking every point is in its group.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CeremonyError> {
        decode_then_check(bytes, |t: &Self| t.g2_in_subgroup())
    }

    /// Every G2 point is in G2 (G1 needs no check: see [`crate::subgroup`]).
    fn g2_in_subgroup(&self) -> bool {
        let vk = &self.key.vk;
        let singles: Vec<&G2Affine> = [&vk.beta_g2, &vk.gamma_g2, &vk.delta_g2]
            .into_iter()
            .chain(self.contributions.iter().map(|c| &c.delta_g2))
            .collect();
        check_g2(singles) && check_g2(&self.key.b_g2_query)
    }

    /// Checks the chain of δ links from the generator, and the final key against
    /// `phase1` (already verified) and the circuit.
    pub fn verify<R: Rng + CryptoRng + ?Sized>(
        &self,
        phase1_hash: &Digest,
        phase1: &Phase1State,
        shape: &R1csShape,
        rng: &mut R,
    ) -> Result<(), CeremonyError> {
        if shape.digest() != self.circuit_digest {
            return Err(CeremonyError::CircuitMismatch);
        }
        let last = self
            .contributions
            .len()
            .checked_sub(1)
            .ok_or(CeremonyError::NoContributions { phase: 2 })?;
        let mut parent = phase2::initial_hash(phase1_hash, &self.circuit_digest);
        let mut delta = G1Affine::generator();
        for (index, contribution) in self.contributions.iter().enumerate() {
            phase2::verify_link(&delta, contribution, &parent).map_err(phase2::at(index))?;
            delta = contribution.delta_g1;
            parent = contribution.hash();
        }
        phase2::check_heads(&self.key, &self.contributions[last]).map_err(phase2::at(last))?;
        verify_key(phase1, shape, &self.key, rng).map_err(|e| match e {
            CeremonyError::Key(check) => phase2::at(last)(check),
            other => other,
        })
    }
}

/// A circuit's whole ceremony.
#[derive(Clone, Debug, PartialEq, CanonicalSerialize, CanonicalDeserialize)]
pub struct Transcript {
    /// The powers of tau (shared by every circuit of its size or smaller).
    pub phase1: Phase1Transcript,
    /// This circuit's phase 2.
    pub phase2: Phase2Transcript,
}

impl Transcript {
    /// Starts phase 2 for `circuit` from a finished phase 1.
    pub fn new<C: ConstraintSynthesizer<ark_bn254::Fr>>(
        phase1: Phase1Transcript,
        circuit: C,
    ) -> Result<Self, CeremonyError> {
        let shape = synthesize(circuit)?;
        let phase2 = Phase2Transcript::new(&phase1.state, &shape)?;
        Ok(Self { phase1, phase2 })
    }

    /// Adds a phase-2 contribution with a fresh δ'.
    pub fn contribute_phase2<R: Rng + CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
    ) -> &Phase2Contribution {
        let phase1_hash = self.phase1.hash();
        self.phase2.contribute(&phase1_hash, rng)
    }

    /// The head of the whole hash chain (phase 1 then phase 2).
    pub fn hash(&self) -> Digest {
        self.phase2.hash(&self.phase1.hash())
    }

    /// The canonical encoding (arkworks compressed).
    pub fn to_bytes(&self) -> Vec<u8> {
        compressed(self)
    }

    /// Where phase 1 ends in a transcript's encoding (phase 1's, then phase 2's), read
    /// from the length prefixes alone; `None` if the bytes end before it does.
    pub fn phase1_len(bytes: &[u8]) -> Option<usize> {
        let g1 = G1Affine::generator().compressed_size();
        let g2 = G2Affine::generator().compressed_size();
        let record = Phase1Contribution::empty().compressed_size();
        // A vector at `at`: its u64 length, then that many items of `item` bytes.
        let vector = |at: usize, item: usize| -> Option<usize> {
            let len = bytes.get(at..at.checked_add(8)?)?;
            let len = usize::try_from(u64::from_le_bytes(len.try_into().ok()?)).ok()?;
            len.checked_mul(item)?.checked_add(8)
        };
        // power, the contributions, then the state: its power, τ G1, τ G2, ατ, βτ, β G2.
        let mut at = 4usize;
        at = at.checked_add(vector(at, record)?)?.checked_add(4)?;
        for item in [g1, g2, g1, g1] {
            at = at.checked_add(vector(at, item)?)?;
        }
        at = at.checked_add(g2)?;
        (at <= bytes.len()).then_some(at)
    }

    /// A transcript from a phase 1 this party verified before and phase 2's encoding,
    /// decoded as [`Phase2Transcript::from_bytes`] does (every point checked).
    pub fn with_phase1(phase1: Phase1Transcript, phase2: &[u8]) -> Result<Self, CeremonyError> {
        let phase2 = Phase2Transcript::from_bytes(phase2)?;
        Ok(Self { phase1, phase2 })
    }

    /// Decodes a transcript, checking every point is on its curve and in its subgroup.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CeremonyError> {
        decode_then_check(bytes, |t: &Self| {
            t.phase1.g2_in_subgroup() && t.phase2.g2_in_subgroup()
        })
    }
}

/// Re-checks a whole transcript for `circuit` and returns the keys it ends with.
///
/// Phase 1: every contribution's proofs of knowledge chain from the generators, and the
/// final powers are consistent. Phase 2: the transcript names this circuit, every δ
/// link is proven from δ = 1, and the final key is the circuit's key from phase 1 over
/// its δ (random linear combinations, no re-derivation). Each phase needs at least one
/// contribution.
pub fn verify_transcript<C, R>(
    transcript: &Transcript,
    circuit: C,
    rng: &mut R,
) -> Result<(ProvingKey<Bn254>, VerifyingKey<Bn254>), CeremonyError>
where
    C: ConstraintSynthesizer<ark_bn254::Fr>,
    R: Rng + CryptoRng + ?Sized,
{
    transcript.phase1.verify(rng)?;
    let shape = synthesize(circuit)?;
    transcript.phase2.verify(
        &transcript.phase1.hash(),
        &transcript.phase1.state,
        &shape,
        rng,
    )?;
    let key = transcript.phase2.key.clone();
    let vk = key.vk.clone();
    Ok((key, vk))
}

/// Decodes and verifies in one step, for callers holding the bytes from IPFS.
pub fn verify_transcript_bytes<C, R>(
    bytes: &[u8],
    circuit: C,
    rng: &mut R,
) -> Result<(ProvingKey<Bn254>, VerifyingKey<Bn254>), CeremonyError>
where
    C: ConstraintSynthesizer<ark_bn254::Fr>,
    R: Rng + CryptoRng + ?Sized,
{
    let transcript = Transcript::from_bytes(bytes)?;
    verify_transcript(&transcript, circuit, rng)
}
