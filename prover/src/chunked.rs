//! Chunked round proofs (protocol v4, `merit_protocol::chunked`): `K` chunk proofs
//! of one shape `(N, C)` and one decision proof of shape `N`, for a model of any size.
//!
//! **Chunk circuit** (public input `P_k`): range-checks and packs the chunk of the previous
//! model, of every slot's update and of the new model; rebuilds their chunk commitments
//! (`c_k`, the slot's masked by its presence bit); computes the chunk's partial Gram matrix
//! `G_k` (packed products, as the round circuit); from the accept bits, the chunk of the
//! new model `g' = g + ⌊Σ a_i u_i / cnt⌋`; and hashes all of it into `P_k`.
//!
//! **Decision circuit** (public input `P_dec`): takes the totals `G = Σ_k G_k`, the
//! presence bits and the rule's parameters as hashed witnesses and proves the rule's
//! selection and scores from them, exactly the round circuit's steps 3 and 5
//! ([`crate::round::select_and_score`]). Its widths are those of the largest model
//! (`MAX_DIM + MAX_CHUNK` values), so the one key serves every project with `N` slots.
//!
//! The verifier's side (what the contract would run) is `merit_protocol::chunked::
//! public_inputs` and `merit_protocol::verifier::verify_batch`; [`verify_chunked`] runs
//! exactly those.

use crate::cs::Cs;
use crate::gadgets::num::{boolean, enforce_eq, mul, witness, Num, Result as GResult};
use crate::gadgets::poseidon::Plan;
use crate::gadgets::vector::{alloc_vector, gram_matrix, pack_var, VecVar};
use crate::keys::compressed;
use crate::round::{
    constant, new_model_var, select_and_score, Hints, RoundWitness, RuleVars, Widths,
};
use crate::{Circuit, Keys, ProverError, SetupMode};
use ark_bn254::{Bn254, Fr};
use ark_groth16::{Proof, ProvingKey, VerifyingKey};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};
use ark_relations::lc;
use merit_protocol::chunked::{
    self as proto, gram_len, ChunkError, ChunkInputs, Chunking, DecisionInputs, Stored, Submission,
    MAX_CHUNK, TAG_CHUNK, TAG_CHUNK_ROUND, TAG_DECISION,
};
use merit_protocol::commit::Commitment;
use merit_protocol::poseidon::{self, domain_tag};
use merit_protocol::rule::{self, Decision, RuleParams, MAX_DIM};
use merit_protocol::verifier::{self, BatchItem, VerifierError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one chunk proof knows: the chunk of every vector, the presence and accept bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkWitness {
    pub project: u32,
    pub round: u32,
    pub index: usize,
    /// `C` values each (zero-padded).
    pub prev: Vec<i16>,
    pub updates: Vec<Vec<i16>>,
    pub new_model: Vec<i16>,
    pub present: Vec<bool>,
    pub accepted: Vec<bool>,
}

impl ChunkWitness {
    /// Zeros of the shape `(slots, chunk)`: what setup synthesises.
    pub fn blank(slots: usize, chunk: usize) -> Self {
        Self {
            project: 0,
            round: 0,
            index: 0,
            prev: vec![0; chunk],
            updates: vec![vec![0; chunk]; slots],
            new_model: vec![0; chunk],
            present: vec![false; slots],
            accepted: vec![false; slots],
        }
    }

    /// `G_k`, flat.
    pub fn gram(&self) -> Vec<i64> {
        proto::partial_gram(
            &self
                .updates
                .iter()
                .map(|u| u.as_slice())
                .collect::<Vec<_>>(),
        )
    }

    /// `P_k` for this chunk, from its own values.
    pub fn public_input(&self) -> Fr {
        let wide = poseidon::wide::config();
        let updates: Vec<Fr> = self
            .updates
            .iter()
            .zip(&self.present)
            .map(|(u, &p)| {
                if p {
                    proto::commit_chunk(&wide, self.index, u)
                } else {
                    Fr::from(0u64)
                }
            })
            .collect();
        let gram = self.gram();
        proto::chunk_public_input(&ChunkInputs {
            project: self.project,
            round: self.round,
            index: self.index,
            updates: &updates,
            prev_model: proto::commit_chunk(&wide, self.index, &self.prev),
            new_model: proto::commit_chunk(&wide, self.index, &self.new_model),
            accepted: &self.accepted,
            gram: &gram,
        })
        .expect("a witness's own lists agree in length")
    }
}

/// The chunk statement.
#[derive(Debug, Clone)]
pub struct ChunkCircuit {
    pub witness: Arc<ChunkWitness>,
    pub public_input: Fr,
}

impl ChunkCircuit {
    pub fn new(witness: ChunkWitness) -> Self {
        let public_input = witness.public_input();
        Self {
            witness: Arc::new(witness),
            public_input,
        }
    }
}

impl Circuit for ChunkCircuit {
    fn synthesize(&self, cs: &Cs) -> Result<(), SynthesisError> {
        synthesize_chunk(cs, &self.witness, self.public_input)
    }
}

impl ConstraintSynthesizer<Fr> for ChunkCircuit {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        synthesize_chunk(&Cs::wrap(cs), &self.witness, self.public_input)
    }
}

/// `c_k(v) = W(TAG_CHUNK, k, len, pack(v))` in-circuit.
fn commit_chunk_var(cs: &Cs, wide: &Plan, index: &Num, v: &VecVar) -> GResult<Num> {
    let mut msg = vec![
        Num::constant(domain_tag(TAG_CHUNK)),
        index.clone(),
        constant(v.len() as u64),
    ];
    msg.extend(pack_var(v));
    wide.hash(cs, &msg)
}

fn synthesize_chunk(cs: &Cs, w: &ChunkWitness, public: Fr) -> GResult<()> {
    let n = w.updates.len();
    let wd = Widths::for_shape(n, w.prev.len());
    let narrow = Plan::new(&poseidon::config());
    let wide = Plan::new(&poseidon::wide::config());
    let public = cs.new_input_variable(|| Ok(public))?;
    let index = witness(cs, Fr::from(w.index as u64))?;

    // Chunks of the previous model and of every update, and their commitments.
    let g = alloc_vector(cs, &w.prev)?;
    let c_prev = commit_chunk_var(cs, &wide, &index, &g)?;
    let mut updates = Vec::with_capacity(n);
    let mut commitments = Vec::with_capacity(n);
    for i in 0..n {
        let u = alloc_vector(cs, &w.updates[i])?;
        let c = commit_chunk_var(cs, &wide, &index, &u)?;
        let present = boolean(cs, w.present[i])?;
        commitments.push(mul(cs, &present, &c)?);
        updates.push(u);
    }

    // The partial Gram matrix.
    let gram = gram_matrix(cs, &updates)?;

    // The chunk of the new model: cnt·(g' − g) + r = Σ a_i u_i, 0 ≤ r < cnt.
    let accept = w
        .accepted
        .iter()
        .map(|&a| boolean(cs, a))
        .collect::<GResult<Vec<_>>>()?;
    let g_new = new_model_var(cs, &accept, &updates, &g, &w.new_model, wd.rem)?;
    let c_new = commit_chunk_var(cs, &wide, &index, &g_new)?;

    // P_k in `merit_protocol::chunked::chunk_elements` order.
    let mut elems = vec![
        Num::constant(domain_tag(TAG_CHUNK_ROUND)),
        witness(cs, Fr::from(w.project))?,
        witness(cs, Fr::from(w.round))?,
        index,
        constant(n as u64),
    ];
    elems.extend(commitments);
    elems.push(c_prev);
    elems.push(c_new);
    elems.extend(accept);
    for i in 0..n {
        elems.extend(gram[i][i..].iter().cloned());
    }
    let h = narrow.hash(cs, &elems)?;
    enforce_eq(cs, &h.lc, &(lc!() + public))
}

/// What the decision proof knows: the totals and the rule's decision on them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionWitness {
    pub project: u32,
    pub round: u32,
    pub params: RuleParams,
    pub present: Vec<bool>,
    /// `G`, flat.
    pub gram: Vec<i64>,
    pub decision: Decision,
}

impl DecisionWitness {
    /// Runs the rule's decision on `gram` (flat totals).
    pub fn new(
        project: u32,
        round: u32,
        params: RuleParams,
        present: Vec<bool>,
        gram: Vec<i64>,
    ) -> Result<Self, ProverError> {
        if gram.len() != gram_len(params.slots) {
            return Err(ProverError::Chunk(ChunkError::GramLength {
                chunk: None,
                got: gram.len(),
            }));
        }
        let full = proto::gram_matrix(&gram, params.slots);
        let decision = rule::decide(&params, &present, &full)
            .map_err(|e| ProverError::Round(e.to_string()))?;
        Ok(Self {
            project,
            round,
            params,
            present,
            gram,
            decision,
        })
    }

    /// Every slot absent: what setup synthesises.
    pub fn blank(slots: usize) -> Result<Self, ProverError> {
        let params = RuleParams::new(slots, 1, 0, 0);
        Self::new(0, 0, params, vec![false; slots], vec![0; gram_len(slots)])
    }

    pub fn inputs(&self) -> DecisionInputs<'_> {
        DecisionInputs {
            project: self.project,
            round: self.round,
            params: self.params,
            present: &self.present,
            gram: &self.gram,
            accepted: &self.decision.accepted,
            scores: &self.decision.scores,
        }
    }

    pub fn public_input(&self) -> Fr {
        proto::decision_public_input(&self.inputs()).expect("a witness's own lists agree")
    }
}

/// The decision statement.
#[derive(Debug, Clone)]
pub struct DecisionCircuit {
    pub witness: Arc<DecisionWitness>,
    pub public_input: Fr,
}

impl DecisionCircuit {
    pub fn new(witness: DecisionWitness) -> Self {
        let public_input = witness.public_input();
        Self {
            witness: Arc::new(witness),
            public_input,
        }
    }
}

impl Circuit for DecisionCircuit {
    fn synthesize(&self, cs: &Cs) -> Result<(), SynthesisError> {
        synthesize_decision(cs, &self.witness, self.public_input)
    }
}

impl ConstraintSynthesizer<Fr> for DecisionCircuit {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        synthesize_decision(&Cs::wrap(cs), &self.witness, self.public_input)
    }
}

#[allow(clippy::needless_range_loop)] // (i, j) index pairs mirror the flat layout
fn synthesize_decision(cs: &Cs, w: &DecisionWitness, public: Fr) -> GResult<()> {
    let p = &w.params;
    let n = p.slots;
    // The totals of any model: D + C − 1 padded values at most.
    let wd = Widths::for_shape(n, MAX_DIM + MAX_CHUNK);
    let narrow = Plan::new(&poseidon::config());
    let public = cs.new_input_variable(|| Ok(public))?;

    let present = w
        .present
        .iter()
        .map(|&b| boolean(cs, b))
        .collect::<GResult<Vec<_>>>()?;
    let flat = w
        .gram
        .iter()
        .map(|&x| witness(cs, proto::signed_element(x)))
        .collect::<GResult<Vec<_>>>()?;
    let mut gram = vec![vec![constant(0); n]; n];
    let mut at = 0;
    for i in 0..n {
        for j in i..n {
            gram[i][j] = flat[at].clone();
            gram[j][i] = flat[at].clone();
            at += 1;
        }
    }
    let rule = RuleVars {
        bound: witness(cs, Fr::from(p.norm_bound_sq.min(p.max_norm_sq())))?,
        band: witness(cs, Fr::from(p.band_sq_milli))?,
        tau: witness(cs, Fr::from(p.duplicate_milli))?,
        budget: witness(cs, Fr::from(p.byzantine as u64))?,
    };
    let hints = Hints::of_decision(&w.decision);
    let (accept, scores) = select_and_score(cs, &present, &gram, &rule, &hints, &wd)?;

    // P_dec in `merit_protocol::chunked::decision_elements` order.
    let mut elems = vec![
        Num::constant(domain_tag(TAG_DECISION)),
        witness(cs, Fr::from(w.project))?,
        witness(cs, Fr::from(w.round))?,
        constant(n as u64),
        rule.budget,
        rule.bound,
        rule.band,
        rule.tau,
    ];
    elems.extend(present);
    elems.extend(flat);
    elems.extend(accept);
    elems.extend(scores);
    let h = narrow.hash(cs, &elems)?;
    enforce_eq(cs, &h.lc, &(lc!() + public))
}

/// Setup for the chunk shape `(slots, chunk)`: once, for every project of that shape.
pub fn setup_chunk(slots: usize, chunk: usize, mode: SetupMode) -> Result<Keys, ProverError> {
    crate::setup(ChunkCircuit::new(ChunkWitness::blank(slots, chunk)), mode)
}

/// Setup for the decision shape `slots`: once, for every project with that many slots.
pub fn setup_decision(slots: usize, mode: SetupMode) -> Result<Keys, ProverError> {
    crate::setup(DecisionCircuit::new(DecisionWitness::blank(slots)?), mode)
}

/// A round cut into chunks: the whole round's witness (the rule run natively) and the cut.
#[derive(Debug, Clone)]
pub struct ChunkedRound {
    pub round: RoundWitness,
    pub chunking: Chunking,
}

impl ChunkedRound {
    pub fn new(round: RoundWitness, chunk: usize) -> Result<Self, ProverError> {
        let chunking = Chunking::new(round.params.dim, chunk).map_err(ProverError::Chunk)?;
        Ok(Self { round, chunking })
    }

    pub fn count(&self) -> usize {
        self.chunking.count()
    }

    pub fn chunk_witness(&self, k: usize) -> ChunkWitness {
        let w = &self.round;
        let s = &self.chunking;
        ChunkWitness {
            project: w.project,
            round: w.round,
            index: k,
            prev: s.slice(&w.prev_model, k),
            updates: w.updates.iter().map(|u| s.slice(u, k)).collect(),
            new_model: s.slice(&w.outcome.new_model, k),
            present: w.present.clone(),
            accepted: w.outcome.decision.accepted.clone(),
        }
    }

    /// The partial Gram matrices, one per chunk.
    pub fn grams(&self) -> Vec<Vec<i64>> {
        (0..self.count())
            .map(|k| self.chunk_witness(k).gram())
            .collect()
    }

    /// The decision on the summed partial Gram matrices (which is the rule's own decision:
    /// `merit_protocol::chunked`'s differential test).
    pub fn decision_witness(&self) -> Result<DecisionWitness, ProverError> {
        let w = &self.round;
        let total = proto::sum_grams(w.params.slots, self.chunking.chunk, &self.grams())
            .map_err(ProverError::Chunk)?;
        DecisionWitness::new(w.project, w.round, w.params, w.present.clone(), total)
    }

    fn commitments(&self, values: &[i16]) -> Vec<Fr> {
        self.chunking
            .commit_chunks(&poseidon::wide::config(), values)
            .expect("the round's vectors have the model's length")
    }

    /// What the contract holds before the round is finalised: each revealed slot's v4
    /// commitment and the model's.
    pub fn stored_commitments(&self) -> (Vec<Option<Commitment>>, Commitment) {
        let w = &self.round;
        let updates = (0..w.params.slots)
            .map(|i| {
                w.present[i].then(|| {
                    proto::commit_update(
                        &w.trainers[i],
                        w.params.dim,
                        &self.commitments(&w.updates[i]),
                    )
                })
            })
            .collect();
        let model = proto::commit_model(w.params.dim, &self.commitments(&w.prev_model));
        (updates, model)
    }

    /// What the round claims, in v4 commitments: the stored ones, the scores and accept
    /// bits, and the new model's commitment (the contract derives the same from the
    /// submission).
    pub fn claims(&self) -> crate::round::RoundClaims {
        let w = &self.round;
        let (updates, prev_model) = self.stored_commitments();
        crate::round::RoundClaims {
            prev_model,
            updates: updates.into_iter().map(Option::unwrap_or_default).collect(),
            scores: w.outcome.decision.scores.clone(),
            accepted: w.outcome.decision.accepted.clone(),
            new_model: proto::commit_model(w.params.dim, &self.commitments(&w.outcome.new_model)),
        }
    }

    /// The aggregator's submission (beside the proofs).
    pub fn submission(&self) -> Submission {
        let w = &self.round;
        let to_commitments = |v: &[i16]| -> Vec<Commitment> {
            self.commitments(v)
                .iter()
                .map(Commitment::from_field)
                .collect()
        };
        Submission {
            updates: (0..w.params.slots)
                .map(|i| {
                    if w.present[i] {
                        to_commitments(&w.updates[i])
                    } else {
                        Vec::new()
                    }
                })
                .collect(),
            prev_model: to_commitments(&w.prev_model),
            new_model: to_commitments(&w.outcome.new_model),
            grams: self.grams(),
            accepted: w.outcome.decision.accepted.clone(),
            scores: w.outcome.decision.scores.clone(),
        }
    }
}

/// A chunked round's proofs and what the aggregator submits with them.
#[derive(Debug, Clone)]
pub struct ChunkedProof {
    pub chunks: Vec<Proof<Bn254>>,
    pub decision: Proof<Bn254>,
    /// `P_dec`, the decision proof's public input.
    pub decision_input: Fr,
    pub submission: Submission,
}

/// Time spent per proof (for `merit bench chunked` and progress lines).
#[derive(Debug, Clone, Default)]
pub struct ChunkTimes {
    pub chunks: Vec<Duration>,
    pub decision: Duration,
}

/// Proves every chunk, one after another (each proof already uses every core; memory
/// stays that of one chunk), then the decision. `progress` is told after each chunk.
pub fn prove_chunked(
    chunk_pk: &ProvingKey<Bn254>,
    decision_pk: &ProvingKey<Bn254>,
    round: &ChunkedRound,
    mut progress: impl FnMut(usize, Duration),
) -> Result<(ChunkedProof, ChunkTimes), ProverError> {
    let mut times = ChunkTimes::default();
    let mut chunks = Vec::with_capacity(round.count());
    for k in 0..round.count() {
        let started = Instant::now();
        let circuit = ChunkCircuit::new(round.chunk_witness(k));
        chunks.push(crate::prove(chunk_pk, &circuit)?);
        let took = started.elapsed();
        times.chunks.push(took);
        progress(k, took);
    }
    let started = Instant::now();
    let witness = round.decision_witness()?;
    let decision_input = witness.public_input();
    let decision = crate::prove(decision_pk, &DecisionCircuit::new(witness))?;
    times.decision = started.elapsed();
    Ok((
        ChunkedProof {
            chunks,
            decision,
            decision_input,
            submission: round.submission(),
        },
        times,
    ))
}

/// Which proof of a chunked round failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofRole {
    Chunk(usize),
    Decision,
}

impl std::fmt::Display for ProofRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Chunk(k) => write!(f, "chunk {k}'s proof"),
            Self::Decision => f.write_str("the decision proof"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkedVerifyError {
    #[error("submission: {0}")]
    Submission(#[from] ChunkError),
    #[error("{expected} chunk proofs expected, {got} given")]
    ProofCount { expected: usize, got: usize },
    #[error("verifying key: {0}")]
    Key(VerifierError),
    #[error("{0}: {1}")]
    Malformed(ProofRole, VerifierError),
    #[error("{0} does not verify against the round's inputs")]
    BadProof(ProofRole),
}

/// A verifying key in the contract's prepared form (`merit_protocol::verifier::prepare`):
/// validated once, `e(α, β)` computed once. Shapes are registered once, so this is not
/// part of a round's check.
pub fn prepare_key(vk: &VerifyingKey<Bn254>) -> Result<Vec<u8>, ChunkedVerifyError> {
    verifier::prepare(&compressed(vk)).map_err(ChunkedVerifyError::Key)
}

/// A chunked round's proofs as the contract receives them: compressed, chunks in order,
/// then the decision proof.
pub fn proof_bytes(proof: &ChunkedProof) -> Vec<Vec<u8>> {
    proof
        .chunks
        .iter()
        .chain(std::iter::once(&proof.decision))
        .map(compressed)
        .collect()
}

/// The contract's check of a chunked round, with keys from [`prepare_key`]: the
/// submission against what it stores (`merit_protocol::chunked::public_inputs`), then
/// every proof in one batched pairing check (`merit_protocol::verifier::verify_batch`).
/// When the batch fails, each proof is checked alone to name the first that does not
/// verify. Returns the new model's commitment.
pub fn verify_chunked(
    chunk_key: &[u8],
    decision_key: &[u8],
    stored: &Stored<'_>,
    submission: &Submission,
    proofs: &[Vec<u8>],
) -> Result<Commitment, ChunkedVerifyError> {
    let inputs = proto::public_inputs(stored, submission)?;
    if proofs.len() != inputs.chunks.len() + 1 {
        return Err(ChunkedVerifyError::ProofCount {
            expected: inputs.chunks.len(),
            got: proofs.len().saturating_sub(1),
        });
    }
    let mut items: Vec<(ProofRole, BatchItem)> = Vec::with_capacity(proofs.len());
    for (k, input) in inputs.chunks.iter().enumerate() {
        items.push((
            ProofRole::Chunk(k),
            BatchItem {
                key: chunk_key,
                proof: &proofs[k],
                input: *input,
            },
        ));
    }
    items.push((
        ProofRole::Decision,
        BatchItem {
            key: decision_key,
            proof: &proofs[inputs.chunks.len()],
            input: inputs.decision,
        },
    ));
    let batch: Vec<BatchItem> = items.iter().map(|(_, b)| *b).collect();
    if verifier::verify_batch(&batch) == Ok(true) {
        return Ok(inputs.new_model);
    }
    for (role, item) in &items {
        match verifier::verify(item.key, item.proof, &item.input) {
            Ok(true) => {}
            Ok(false) => return Err(ChunkedVerifyError::BadProof(*role)),
            Err(e) => return Err(ChunkedVerifyError::Malformed(*role, e)),
        }
    }
    // Every proof verifies alone, so the batch failed on a key.
    Err(ChunkedVerifyError::Key(VerifierError::CorruptStoredKey))
}

#[cfg(test)]
#[allow(clippy::needless_range_loop)]
mod tests {
    use super::*;
    use crate::record;
    use crate::sample::{self, Slot};

    fn stored<'a>(
        r: &'a ChunkedRound,
        held: &'a (Vec<Option<Commitment>>, Commitment),
    ) -> Stored<'a> {
        Stored {
            project: r.round.project,
            round: r.round.round,
            params: r.round.params,
            chunk: r.chunking.chunk,
            trainers: &r.round.trainers,
            updates: &held.0,
            model: held.1,
        }
    }

    #[test]
    fn chunk_and_decision_circuits_hold_on_random_rounds_with_attacks() {
        for seed in 0..6u64 {
            let n = 5;
            let dim = 17 + seed as usize * 5;
            let kinds = sample::random_slots(n, 2, seed);
            let w = sample::round(sample::params(n, dim, 1), seed, &kinds).unwrap();
            let r = ChunkedRound::new(w, 8).unwrap();
            for k in 0..r.count() {
                record(&ChunkCircuit::new(r.chunk_witness(k)))
                    .unwrap_or_else(|e| panic!("seed {seed} chunk {k}: {e}"));
            }
            let d = r.decision_witness().unwrap();
            // The decision on the summed partial sums is the rule's on the whole round.
            assert_eq!(
                d.decision.accepted, r.round.outcome.decision.accepted,
                "seed {seed}"
            );
            assert_eq!(
                d.decision.scores, r.round.outcome.decision.scores,
                "seed {seed}"
            );
            record(&DecisionCircuit::new(d)).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        }
    }

    #[test]
    fn false_chunk_and_decision_claims_are_unsatisfiable() {
        let p = sample::params(4, 30, 0);
        let kinds = [Slot::Honest, Slot::Honest, Slot::Noise, Slot::Honest];
        let r = ChunkedRound::new(sample::round(p, 5, &kinds).unwrap(), 8).unwrap();
        // A new model off by one in one coordinate.
        let mut w = r.chunk_witness(1);
        w.new_model[2] += 1;
        let bad = ChunkCircuit {
            public_input: r.chunk_witness(1).public_input(),
            witness: Arc::new(w),
        };
        assert!(matches!(record(&bad), Err(ProverError::Unsatisfied(_))));
        // Another slot's values under this slot's commitment.
        let honest = r.chunk_witness(0);
        let mut w = honest.clone();
        w.updates[0] = w.updates[2].clone();
        let bad = ChunkCircuit {
            public_input: honest.public_input(),
            witness: Arc::new(w),
        };
        assert!(matches!(record(&bad), Err(ProverError::Unsatisfied(_))));
        // A decision that accepts what the rule rejects.
        let d = r.decision_witness().unwrap();
        let mut forged = d.clone();
        let flip = forged.decision.accepted.iter().position(|a| !a).unwrap();
        forged.decision.accepted[flip] = true;
        let bad = DecisionCircuit {
            public_input: forged.public_input(),
            witness: Arc::new(forged),
        };
        assert!(matches!(record(&bad), Err(ProverError::Unsatisfied(_))));
        // A score raised by one.
        let mut forged = d.clone();
        let s = forged.decision.scores.iter().position(|&s| s > 0).unwrap();
        forged.decision.scores[s] += 1;
        let bad = DecisionCircuit {
            public_input: forged.public_input(),
            witness: Arc::new(forged),
        };
        assert!(matches!(record(&bad), Err(ProverError::Unsatisfied(_))));
    }

    #[test]
    fn a_chunked_round_verifies_and_every_tampering_is_refused_by_name() {
        let p = sample::params(4, 30, 0);
        let kinds = [Slot::Honest, Slot::Honest, Slot::Noise, Slot::Honest];
        let r = ChunkedRound::new(sample::round(p, 5, &kinds).unwrap(), 8).unwrap();
        assert_eq!(r.count(), 4);
        let (cpk, cvk) = setup_chunk(4, 8, SetupMode::InsecureDeterministicForTests(1)).unwrap();
        let (dpk, dvk) = setup_decision(4, SetupMode::InsecureDeterministicForTests(2)).unwrap();
        let mut seen = Vec::new();
        let (proof, _) = prove_chunked(&cpk, &dpk, &r, |k, _| seen.push(k)).unwrap();
        assert_eq!(seen, [0, 1, 2, 3]);
        let held = r.stored_commitments();
        let s = stored(&r, &held);
        let (ckey, dkey) = (prepare_key(&cvk).unwrap(), prepare_key(&dvk).unwrap());
        let verify =
            |p: &ChunkedProof| verify_chunked(&ckey, &dkey, &s, &p.submission, &proof_bytes(p));
        let model = verify(&proof).unwrap();
        let wide = poseidon::wide::config();
        let next = r
            .chunking
            .commit_chunks(&wide, &r.round.outcome.new_model)
            .unwrap();
        assert_eq!(model, proto::commit_model(30, &next));

        // Reordered chunk proofs.
        let mut bad = proof.clone();
        bad.chunks.swap(1, 2);
        assert_eq!(
            verify(&bad),
            Err(ChunkedVerifyError::BadProof(ProofRole::Chunk(1)))
        );
        // A dropped chunk proof.
        let mut bad = proof.clone();
        bad.chunks.pop();
        assert_eq!(
            verify(&bad),
            Err(ChunkedVerifyError::ProofCount {
                expected: 4,
                got: 3
            })
        );
        // A duplicated chunk proof.
        let mut bad = proof.clone();
        bad.chunks[3] = bad.chunks[0].clone();
        assert_eq!(
            verify(&bad),
            Err(ChunkedVerifyError::BadProof(ProofRole::Chunk(3)))
        );
        // A chunk proof of another round of the same project (same data, round + 1).
        let mut other = r.clone();
        other.round.round += 1;
        let foreign = crate::prove(&cpk, &ChunkCircuit::new(other.chunk_witness(2))).unwrap();
        let mut bad = proof.clone();
        bad.chunks[2] = foreign;
        assert_eq!(
            verify(&bad),
            Err(ChunkedVerifyError::BadProof(ProofRole::Chunk(2)))
        );
        // A wrong partial sum, and a partial sum moved between chunks (same totals).
        let mut bad = proof.clone();
        bad.submission.grams[1][3] += 1;
        assert_eq!(
            verify(&bad),
            Err(ChunkedVerifyError::BadProof(ProofRole::Chunk(1)))
        );
        let mut bad = proof.clone();
        bad.submission.grams[0][0] += 7;
        bad.submission.grams[3][0] -= 7;
        assert_eq!(
            verify(&bad),
            Err(ChunkedVerifyError::BadProof(ProofRole::Chunk(0)))
        );
        // A decision proven over other totals (one cross term off by one: same decision).
        let honest = r.decision_witness().unwrap();
        let mut gram = honest.gram.clone();
        gram[1] += 1;
        let other = DecisionWitness::new(
            honest.project,
            honest.round,
            honest.params,
            honest.present.clone(),
            gram,
        )
        .unwrap();
        assert_eq!(other.decision.accepted, honest.decision.accepted);
        assert_eq!(other.decision.scores, honest.decision.scores);
        let mut bad = proof.clone();
        bad.decision = crate::prove(&dpk, &DecisionCircuit::new(other)).unwrap();
        assert_eq!(
            verify(&bad),
            Err(ChunkedVerifyError::BadProof(ProofRole::Decision))
        );
        // A changed score or accept bit, a chunk commitment of another slot.
        let mut bad = proof.clone();
        bad.submission.scores[0] += 1;
        assert!(matches!(verify(&bad), Err(ChunkedVerifyError::BadProof(_))));
        let mut bad = proof.clone();
        bad.submission.updates[0][1] = bad.submission.updates[1][1];
        assert_eq!(
            verify(&bad),
            Err(ChunkedVerifyError::Submission(ChunkError::UpdateMismatch {
                slot: 0
            }))
        );
        // Proofs under swapped keys, and a forged proof.
        assert!(matches!(
            verify_chunked(&dkey, &ckey, &s, &proof.submission, &proof_bytes(&proof)),
            Err(ChunkedVerifyError::BadProof(ProofRole::Chunk(0)))
        ));
        let mut bytes = proof_bytes(&proof);
        bytes[2] = vec![0xff; 128];
        assert_eq!(
            verify_chunked(&ckey, &dkey, &s, &proof.submission, &bytes),
            Err(ChunkedVerifyError::Malformed(
                ProofRole::Chunk(2),
                VerifierError::MalformedProof
            ))
        );
    }
}
