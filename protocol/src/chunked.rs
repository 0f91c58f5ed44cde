//! Chunked rounds (protocol v4, `docs/chunked-rounds.md`): the formats and the
//! checks that let one round be proven by `K` chunk proofs of one shape `(N, C)` and one
//! decision proof of shape `N`, whatever the model's size.
//!
//! ```text
//! chunk k of v          = v[kC .. (k+1)C], zero-padded to C values
//! c_k(v)                = W(TAG_CHUNK, k, C, pack(chunk k of v))
//! commit_update_v4(a, v) = H(TAG_UPDATE, a_lo, a_hi, D, K, c_0(v) … c_{K−1}(v))
//! commit_model_v4(v)     = H(TAG_MODEL, D, K, c_0(v) … c_{K−1}(v))
//! P_k   = H(TAG_CHUNK_ROUND, project, round, k, N, c_k(u_1)…c_k(u_N), c_k(g), c_k(g'),
//!           accept_1…accept_N, G_k)              one per chunk proof
//! P_dec = H(TAG_DECISION, project, round, N, f, B², ρ², τ, present_1…present_N,
//!           G, accept_1…accept_N, score_1…score_N)  the decision proof
//! ```
//! `W` is the wide sponge, `H` the narrow one; `G_k` is the chunk's partial Gram matrix
//! (`⟨u_i[k], u_j[k]⟩` for `i ≤ j`, row by row) and `G = Σ_k G_k`, which the verifier
//! (the contract) sums itself. An absent slot's chunk commitment is 0 in `P_k`.
//!
//! Why this binds a round: the verifier recomputes every present trainer's stored
//! commitment from the submitted `c_k(u_i)` (a dropped, extra, reordered or foreign chunk
//! changes it), and the previous model's likewise; each `P_k` names its index, project and
//! round (a proof of another chunk or round does not verify against it); `G` is summed from
//! the very `G_k` that the chunk proofs bind, and `P_dec` binds `G` (a decision over other
//! totals does not verify). The rule's parameters are in `P_dec`, so one decision shape
//! serves every project with `N` slots and one chunk shape every project with `(N, C)`.

use crate::abi::{AccountBytes, MarketError};
use crate::commit::{account_elements, Commitment};
use crate::pack::pack_chunk;
use crate::pack::VALUES_PER_ELEMENT;
use crate::poseidon::{self, domain_tag};
use crate::rule::{RuleParams, MAX_DIM};
use alloc::vec;
use alloc::vec::Vec;
use ark_bn254::Fr;
use ark_crypto_primitives::sponge::poseidon::{PoseidonConfig, PoseidonSponge};
use ark_crypto_primitives::sponge::{CryptographicSponge, FieldBasedCryptographicSponge};

pub const TAG_CHUNK: &str = "merit/chunk/v4";
pub const TAG_UPDATE: &str = "merit/update/v4";
pub const TAG_MODEL: &str = "merit/model/v4";
pub const TAG_CHUNK_ROUND: &str = "merit/chunk-round/v4";
pub const TAG_DECISION: &str = "merit/decision/v4";

pub use crate::limits::MAX_CHUNK;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkError {
    /// A chunk size of 0 or above `MAX_CHUNK`, or a model of 0 or above `MAX_DIM` values.
    BadShape { dim: usize, chunk: usize },
    /// A vector of the wrong length.
    Length { expected: usize, got: usize },
    /// `expected` chunks, `got` submitted (for a slot, or the models).
    ChunkCount {
        slot: Option<usize>,
        expected: usize,
        got: usize,
    },
    /// Slot lists of different lengths.
    SlotCount { expected: usize, got: usize },
    /// A partial Gram matrix of the wrong size (which chunk; `None`: the totals).
    GramLength { chunk: Option<usize>, got: usize },
    /// A partial Gram entry out of range for its chunk (it cannot come from 16-bit values).
    GramRange { chunk: usize },
    /// A submitted commitment that is not a field element.
    NonCanonical,
    /// A present slot whose chunk commitments do not open its stored commitment.
    UpdateMismatch { slot: usize },
    /// An absent slot with chunk commitments, or a present one without.
    AbsentSlot { slot: usize },
    /// The previous model's chunk commitments do not open the stored model commitment.
    ModelMismatch,
}

impl core::fmt::Display for ChunkError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::BadShape { dim, chunk } => write!(
                f,
                "no chunked shape for {dim} parameters in chunks of {chunk} (chunks 1..={MAX_CHUNK}, models 1..={MAX_DIM})"
            ),
            Self::Length { expected, got } => write!(f, "{got} values where {expected} were expected"),
            Self::ChunkCount { slot: Some(s), expected, got } => {
                write!(f, "slot {s} has {got} chunk commitments; the model has {expected} chunks")
            }
            Self::ChunkCount { slot: None, expected, got } => {
                write!(f, "{got} model chunk commitments; the model has {expected} chunks")
            }
            Self::SlotCount { expected, got } => write!(f, "{got} slot entries for {expected} slots"),
            Self::GramLength { chunk: Some(k), got } => {
                write!(f, "chunk {k}'s partial Gram matrix has {got} entries")
            }
            Self::GramLength { chunk: None, got } => {
                write!(f, "the Gram totals have {got} entries")
            }
            Self::GramRange { chunk } => {
                write!(f, "chunk {chunk}'s partial Gram matrix has an entry no chunk can have")
            }
            Self::NonCanonical => f.write_str("a chunk commitment is not a field element"),
            Self::UpdateMismatch { slot } => write!(
                f,
                "slot {slot}'s chunk commitments do not open its committed update"
            ),
            Self::AbsentSlot { slot } => write!(
                f,
                "slot {slot}: chunk commitments must be given for exactly the revealed slots, and an absent slot's Gram entries are 0"
            ),
            Self::ModelMismatch => {
                f.write_str("the previous model's chunk commitments do not open its commitment")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ChunkError {}

/// How the contract names a refused chunked submission.
impl From<ChunkError> for MarketError {
    fn from(e: ChunkError) -> Self {
        let at = |i: usize| u32::try_from(i).unwrap_or(u32::MAX);
        match e {
            ChunkError::BadShape { .. } => Self::BadShape,
            ChunkError::Length { .. }
            | ChunkError::ChunkCount { .. }
            | ChunkError::SlotCount { .. }
            | ChunkError::GramLength { .. } => Self::BadChunkCount,
            ChunkError::GramRange { chunk } => Self::GramOutOfRange { chunk: at(chunk) },
            ChunkError::NonCanonical => Self::BadCommitment,
            ChunkError::UpdateMismatch { slot } => Self::UpdateChunksMismatch { slot: at(slot) },
            ChunkError::AbsentSlot { slot } => Self::AbsentSlotChunks { slot: at(slot) },
            ChunkError::ModelMismatch => Self::ModelChunksMismatch,
        }
    }
}

/// A model of `dim` values cut into chunks of `chunk` (the last one zero-padded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunking {
    pub dim: usize,
    pub chunk: usize,
}

impl Chunking {
    pub fn new(dim: usize, chunk: usize) -> Result<Self, ChunkError> {
        if chunk == 0 || chunk > MAX_CHUNK || dim == 0 || dim > MAX_DIM {
            return Err(ChunkError::BadShape { dim, chunk });
        }
        Ok(Self { dim, chunk })
    }

    /// `K = ⌈D / C⌉`.
    pub fn count(&self) -> usize {
        self.dim.div_ceil(self.chunk)
    }

    /// Chunk `k` of `values` (which has `dim` values), zero-padded to `chunk` values.
    pub fn slice(&self, values: &[i16], k: usize) -> Vec<i16> {
        let start = (k * self.chunk).min(values.len());
        let end = ((k + 1) * self.chunk).min(values.len());
        let mut out = Vec::with_capacity(self.chunk);
        out.extend_from_slice(&values[start..end]);
        out.resize(self.chunk, 0);
        out
    }

    /// Every chunk's commitment `c_k(values)`.
    pub fn commit_chunks(
        &self,
        wide: &PoseidonConfig<Fr>,
        values: &[i16],
    ) -> Result<Vec<Fr>, ChunkError> {
        if values.len() != self.dim {
            return Err(ChunkError::Length {
                expected: self.dim,
                got: values.len(),
            });
        }
        Ok((0..self.count())
            .map(|k| commit_chunk(wide, k, &self.slice(values, k)))
            .collect())
    }
}

/// `c_k(v) = W(TAG_CHUNK, k, len, pack(v))` for one (padded) chunk `v`.
pub fn commit_chunk(wide: &PoseidonConfig<Fr>, index: usize, values: &[i16]) -> Fr {
    let mut sponge = PoseidonSponge::new(wide);
    sponge.absorb(&domain_tag(TAG_CHUNK));
    sponge.absorb(&Fr::from(index as u64));
    sponge.absorb(&Fr::from(values.len() as u64));
    for part in values.chunks(VALUES_PER_ELEMENT) {
        sponge.absorb(&pack_chunk(part));
    }
    sponge.squeeze_native_field_elements(1)[0]
}

/// How a project commits to updates and models: one wide hash over the whole vector
/// (protocol v3, `commit::Committer`), or a narrow hash over chunk commitments (v4). Every
/// party picks it from the project's view, so trainer, aggregator and contract agree.
#[derive(Clone)]
pub enum Scheme {
    Whole(crate::commit::Committer),
    Chunked {
        chunking: Chunking,
        wide: PoseidonConfig<Fr>,
    },
}

impl Scheme {
    /// The scheme of a project whose statement is `chunked` (None: v3) with models of `dim`.
    pub fn of(chunked: Option<&crate::abi::ChunkedParams>) -> Result<Self, ChunkError> {
        Ok(match chunked {
            None => Self::Whole(crate::commit::Committer::new()),
            Some(c) => Self::Chunked {
                chunking: Chunking::new(c.dim as usize, c.chunk as usize)?,
                wide: poseidon::wide::config(),
            },
        })
    }

    /// A trainer's commitment to its update.
    pub fn commit_update(
        &self,
        account: &AccountBytes,
        values: &[i16],
    ) -> Result<Commitment, ChunkError> {
        match self {
            Self::Whole(c) => Ok(c.commit_update(account, values)),
            Self::Chunked { chunking, wide } => Ok(commit_update(
                account,
                chunking.dim,
                &chunking.commit_chunks(wide, values)?,
            )),
        }
    }

    /// The commitment to a global model.
    pub fn commit_model(&self, values: &[i16]) -> Result<Commitment, ChunkError> {
        match self {
            Self::Whole(c) => Ok(c.commit_model(values)),
            Self::Chunked { chunking, wide } => Ok(commit_model(
                chunking.dim,
                &chunking.commit_chunks(wide, values)?,
            )),
        }
    }
}

/// A trainer's v4 commitment to its update, from its chunk commitments.
pub fn commit_update(account: &AccountBytes, dim: usize, chunks: &[Fr]) -> Commitment {
    let mut e = Vec::with_capacity(chunks.len() + 5);
    e.push(domain_tag(TAG_UPDATE));
    e.extend(account_elements(account));
    e.push(Fr::from(dim as u64));
    e.push(Fr::from(chunks.len() as u64));
    e.extend_from_slice(chunks);
    Commitment::from_field(&poseidon::hash(&poseidon::config(), &e))
}

/// The v4 commitment to a model, from its chunk commitments.
pub fn commit_model(dim: usize, chunks: &[Fr]) -> Commitment {
    let mut e = Vec::with_capacity(chunks.len() + 3);
    e.push(domain_tag(TAG_MODEL));
    e.push(Fr::from(dim as u64));
    e.push(Fr::from(chunks.len() as u64));
    e.extend_from_slice(chunks);
    Commitment::from_field(&poseidon::hash(&poseidon::config(), &e))
}

/// Entries of an `n × n` Gram matrix kept: `i ≤ j`, row by row.
pub const fn gram_len(n: usize) -> usize {
    n * (n + 1) / 2
}

/// The flat Gram matrix (`i ≤ j`, row by row) of equally long vectors.
pub fn partial_gram(vecs: &[&[i16]]) -> Vec<i64> {
    let n = vecs.len();
    let mut out = Vec::with_capacity(gram_len(n));
    for i in 0..n {
        for j in i..n {
            out.push(crate::rule::dot(vecs[i], vecs[j]));
        }
    }
    out
}

/// The full symmetric matrix of a flat Gram matrix of `n` slots.
#[allow(clippy::needless_range_loop)] // (i, j) index pairs mirror the flat layout
pub fn gram_matrix(flat: &[i64], n: usize) -> Vec<Vec<i64>> {
    let mut g = vec![vec![0i64; n]; n];
    let mut at = 0;
    for i in 0..n {
        for j in i..n {
            g[i][j] = flat[at];
            g[j][i] = flat[at];
            at += 1;
        }
    }
    g
}

/// `G = Σ_k G_k`, after checking each partial matrix's size and range (an entry of a chunk
/// of `C` 16-bit values is at most `C · 2^30` in magnitude).
pub fn sum_grams(
    slots: usize,
    chunk: usize,
    partials: &[Vec<i64>],
) -> Result<Vec<i64>, ChunkError> {
    let limit = (chunk as i64) << 30;
    let mut total = vec![0i64; gram_len(slots)];
    for (k, g) in partials.iter().enumerate() {
        if g.len() != total.len() {
            return Err(ChunkError::GramLength {
                chunk: Some(k),
                got: g.len(),
            });
        }
        for (t, &x) in total.iter_mut().zip(g) {
            if x.abs() > limit {
                return Err(ChunkError::GramRange { chunk: k });
            }
            // |Σ| ≤ K · C · 2^30 ≤ 2^(20 + 16 + 30): no overflow.
            *t += x;
        }
    }
    Ok(total)
}

/// An absent slot is the zero vector (SPEC §9): every entry in its row and column of
/// every partial Gram sum is 0. The proofs do not force it; without this check a round the
/// contract accepts could fail to re-verify from the opened updates.
pub fn check_absent_grams(present: &[bool], partials: &[Vec<i64>]) -> Result<(), ChunkError> {
    let n = present.len();
    for g in partials {
        let mut at = 0;
        for i in 0..n {
            for j in i..n {
                let absent = if present[i] { j } else { i };
                if g.get(at).is_some_and(|&x| x != 0) && !(present[i] && present[j]) {
                    return Err(ChunkError::AbsentSlot { slot: absent });
                }
                at += 1;
            }
        }
    }
    Ok(())
}

/// A signed integer (a Gram entry) as the field element the hashes absorb: `r − |x|` for
/// negative `x`. The decision circuit witnesses the totals with this same encoding.
pub fn signed_element(x: i64) -> Fr {
    if x < 0 {
        -Fr::from(x.unsigned_abs())
    } else {
        Fr::from(x as u64)
    }
}

/// What chunk proof `k` hashes into its public input `P_k`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkInputs<'a> {
    pub project: u32,
    pub round: u32,
    pub index: usize,
    /// `c_k(u_i)` per slot; 0 for an absent slot.
    pub updates: &'a [Fr],
    pub prev_model: Fr,
    pub new_model: Fr,
    pub accepted: &'a [bool],
    /// `G_k`, flat.
    pub gram: &'a [i64],
}

/// The field elements `P_k` absorbs, in order (the chunk circuit rebuilds the same).
pub fn chunk_elements(c: &ChunkInputs<'_>) -> Result<Vec<Fr>, ChunkError> {
    let n = c.updates.len();
    if c.accepted.len() != n {
        return Err(ChunkError::SlotCount {
            expected: n,
            got: c.accepted.len(),
        });
    }
    if c.gram.len() != gram_len(n) {
        return Err(ChunkError::GramLength {
            chunk: Some(c.index),
            got: c.gram.len(),
        });
    }
    let mut e = Vec::with_capacity(7 + 2 * n + c.gram.len());
    e.push(domain_tag(TAG_CHUNK_ROUND));
    e.push(Fr::from(c.project));
    e.push(Fr::from(c.round));
    e.push(Fr::from(c.index as u64));
    e.push(Fr::from(n as u64));
    e.extend_from_slice(c.updates);
    e.push(c.prev_model);
    e.push(c.new_model);
    e.extend(c.accepted.iter().map(|&a| Fr::from(a)));
    e.extend(c.gram.iter().map(|&x| signed_element(x)));
    Ok(e)
}

/// `P_k`, the single public input of chunk proof `k`.
pub fn chunk_public_input(c: &ChunkInputs<'_>) -> Result<Fr, ChunkError> {
    Ok(poseidon::hash(&poseidon::config(), &chunk_elements(c)?))
}

/// What the decision proof hashes into its public input `P_dec`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionInputs<'a> {
    pub project: u32,
    pub round: u32,
    pub params: RuleParams,
    pub present: &'a [bool],
    /// `G = Σ_k G_k`, flat.
    pub gram: &'a [i64],
    pub accepted: &'a [bool],
    pub scores: &'a [u32],
}

/// The field elements `P_dec` absorbs, in order (the decision circuit rebuilds the same).
/// The norm bound enters as the rule applies it: `min(B², D · 2^30)`.
pub fn decision_elements(d: &DecisionInputs<'_>) -> Result<Vec<Fr>, ChunkError> {
    let n = d.params.slots;
    for len in [d.present.len(), d.accepted.len(), d.scores.len()] {
        if len != n {
            return Err(ChunkError::SlotCount {
                expected: n,
                got: len,
            });
        }
    }
    if d.gram.len() != gram_len(n) {
        return Err(ChunkError::GramLength {
            chunk: None,
            got: d.gram.len(),
        });
    }
    let p = &d.params;
    let mut e = Vec::with_capacity(8 + 3 * n + d.gram.len());
    e.push(domain_tag(TAG_DECISION));
    e.push(Fr::from(d.project));
    e.push(Fr::from(d.round));
    e.push(Fr::from(n as u64));
    e.push(Fr::from(p.byzantine as u64));
    e.push(Fr::from(p.norm_bound_sq.min(p.max_norm_sq())));
    e.push(Fr::from(p.band_sq_milli));
    e.push(Fr::from(p.duplicate_milli));
    e.extend(d.present.iter().map(|&b| Fr::from(b)));
    e.extend(d.gram.iter().map(|&x| signed_element(x)));
    e.extend(d.accepted.iter().map(|&a| Fr::from(a)));
    e.extend(d.scores.iter().map(|&s| Fr::from(s)));
    Ok(e)
}

/// `P_dec`, the single public input of the decision proof.
pub fn decision_public_input(d: &DecisionInputs<'_>) -> Result<Fr, ChunkError> {
    Ok(poseidon::hash(&poseidon::config(), &decision_elements(d)?))
}

/// `P_dec` straight from the round's vectors (`None`: a slot that is not present, which
/// counts as a zero vector, as in the chunk proofs): the Gram totals of whole vectors are
/// the sum of the chunks' partial ones, zero padding adding nothing. For re-checking a
/// finalised round from the opened updates (`merit verify`).
pub fn decision_input_of_updates(
    project: u32,
    round: u32,
    params: RuleParams,
    updates: &[Option<Vec<i16>>],
    accepted: &[bool],
    scores: &[u32],
) -> Result<Fr, ChunkError> {
    let zeros = vec![0i16; params.dim];
    let vecs: Vec<&[i16]> = updates
        .iter()
        .map(|u| u.as_deref().unwrap_or(&zeros))
        .collect();
    let present: Vec<bool> = updates.iter().map(Option::is_some).collect();
    decision_public_input(&DecisionInputs {
        project,
        round,
        params,
        present: &present,
        gram: &partial_gram(&vecs),
        accepted,
        scores,
    })
}

/// What the aggregator submits for a chunked round (beside the proofs); SCALE-encoded as
/// `submit_chunked_round`'s argument.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    parity_scale_codec::Encode,
    parity_scale_codec::Decode,
    scale_info::TypeInfo,
)]
#[cfg_attr(feature = "ink-layout", derive(ink::storage::traits::StorageLayout))]
pub struct Submission {
    /// Per slot: its `K` chunk commitments, or none for an absent slot.
    pub updates: Vec<Vec<Commitment>>,
    /// `c_k(g)` and `c_k(g')`.
    pub prev_model: Vec<Commitment>,
    pub new_model: Vec<Commitment>,
    /// `G_k` per chunk, flat.
    pub grams: Vec<Vec<i64>>,
    pub accepted: Vec<bool>,
    pub scores: Vec<u32>,
}

/// What the stored round says before the aggregator speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored<'a> {
    pub project: u32,
    pub round: u32,
    pub params: RuleParams,
    pub chunk: usize,
    /// One per slot; the zero account for an unfilled slot.
    pub trainers: &'a [AccountBytes],
    /// The committed update per slot, `None` where the slot revealed nothing.
    pub updates: &'a [Option<Commitment>],
    pub model: Commitment,
}

/// The public inputs a chunked round's proofs must verify against, and the new model's
/// commitment, after every check a verifier makes before any pairing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicInputs {
    pub chunks: Vec<Fr>,
    pub decision: Fr,
    pub new_model: Commitment,
}

/// The contract's side of a chunked round, minus the pairings: recomputes each revealed
/// trainer's commitment and the previous model's from the submitted chunk commitments,
/// sums the partial Gram matrices, and returns `P_0 … P_{K−1}` and `P_dec`.
pub fn public_inputs(s: &Stored<'_>, sub: &Submission) -> Result<PublicInputs, ChunkError> {
    let opened = open_submission(s, sub)?;
    let chunks = (0..sub.grams.len())
        .map(|k| chunk_input(s.project, s.round, sub, k))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PublicInputs {
        chunks,
        decision: opened.decision,
        new_model: opened.new_model,
    })
}

/// What [`open_submission`] establishes: `P_dec` and the new model's commitment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub decision: Fr,
    pub new_model: Commitment,
}

/// `P_k` of an opened submission (after [`open_submission`] accepted it): the contract
/// computes it only when chunk `k`'s proof arrives, so that no one call carries the
/// hashing of every chunk.
pub fn chunk_input(project: u32, round: u32, sub: &Submission, k: usize) -> Result<Fr, ChunkError> {
    let field = |c: &Commitment| c.to_field().ok_or(ChunkError::NonCanonical);
    let count = sub.grams.len();
    let missing = |got| ChunkError::ChunkCount {
        slot: None,
        expected: count,
        got,
    };
    let updates = sub
        .updates
        .iter()
        .map(|u| match u.get(k) {
            Some(c) => field(c),
            None if u.is_empty() => Ok(Fr::from(0u64)),
            None => Err(missing(u.len())),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let at = |v: &[Commitment]| v.get(k).ok_or(missing(v.len())).and_then(field);
    chunk_public_input(&ChunkInputs {
        project,
        round,
        index: k,
        updates: &updates,
        prev_model: at(&sub.prev_model)?,
        new_model: at(&sub.new_model)?,
        accepted: &sub.accepted,
        gram: sub.grams.get(k).ok_or(missing(count))?,
    })
}

/// Every check of [`public_inputs`] but the chunk inputs: the slots' and the previous
/// model's chunk commitments open the stored commitments, the partial sums are in range,
/// and `P_dec` over their totals.
pub fn open_submission(s: &Stored<'_>, sub: &Submission) -> Result<Opened, ChunkError> {
    let n = s.params.slots;
    let shape = Chunking::new(s.params.dim, s.chunk)?;
    let k_count = shape.count();
    for len in [
        s.trainers.len(),
        s.updates.len(),
        sub.updates.len(),
        sub.accepted.len(),
        sub.scores.len(),
    ] {
        if len != n {
            return Err(ChunkError::SlotCount {
                expected: n,
                got: len,
            });
        }
    }
    let field = |c: &Commitment| c.to_field().ok_or(ChunkError::NonCanonical);
    let fields =
        |cs: &[Commitment]| -> Result<Vec<Fr>, ChunkError> { cs.iter().map(field).collect() };
    // Every revealed slot opens its commitment; an absent one submits nothing.
    for i in 0..n {
        match (&s.updates[i], sub.updates[i].is_empty()) {
            (Some(stored), false) => {
                if sub.updates[i].len() != k_count {
                    return Err(ChunkError::ChunkCount {
                        slot: Some(i),
                        expected: k_count,
                        got: sub.updates[i].len(),
                    });
                }
                let cs = fields(&sub.updates[i])?;
                if commit_update(&s.trainers[i], s.params.dim, &cs) != *stored {
                    return Err(ChunkError::UpdateMismatch { slot: i });
                }
            }
            (None, true) => {}
            _ => return Err(ChunkError::AbsentSlot { slot: i }),
        }
    }
    for models in [&sub.prev_model, &sub.new_model] {
        if models.len() != k_count {
            return Err(ChunkError::ChunkCount {
                slot: None,
                expected: k_count,
                got: models.len(),
            });
        }
    }
    let prev = fields(&sub.prev_model)?;
    if commit_model(s.params.dim, &prev) != s.model {
        return Err(ChunkError::ModelMismatch);
    }
    let next = fields(&sub.new_model)?;
    if sub.grams.len() != k_count {
        return Err(ChunkError::ChunkCount {
            slot: None,
            expected: k_count,
            got: sub.grams.len(),
        });
    }
    let total = sum_grams(n, s.chunk, &sub.grams)?;
    let present: Vec<bool> = s.updates.iter().map(Option::is_some).collect();
    check_absent_grams(&present, &sub.grams)?;
    let decision = decision_public_input(&DecisionInputs {
        project: s.project,
        round: s.round,
        params: s.params,
        present: &present,
        gram: &total,
        accepted: &sub.accepted,
        scores: &sub.scores,
    })?;
    Ok(Opened {
        decision,
        new_model: commit_model(s.params.dim, &next),
    })
}

#[cfg(test)]
#[allow(clippy::needless_range_loop)]
mod tests;
