//! The marketplace contract's ABI: parameters, views, phases, events' payloads and errors,
//! SCALE-encoded.
//!
//! The contract returns these types and the `chain` client decodes them, so a contract
//! error reaches a user under its own name (`MarketError::WrongPhase`, …) instead of a byte.

use crate::commit::Commitment;
use crate::rule::RuleParams;
use alloc::vec::Vec;
use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

/// A 32-byte account id (sr25519 public key), as the contract and subxt both see it.
pub type AccountBytes = [u8; 32];

// The limits, with the arithmetic each keeps safe, are in `limits`.
pub use crate::limits::{
    MAX_CID_LEN, MAX_DEPOSIT, MAX_PHASE_BLOCKS, MAX_ROUNDS, MAX_ROUND_SCORE, MAX_SLOTS,
    TRAINERS_PER_PAGE,
};

/// How long each phase lasts, in blocks. A phase also ends early once every party it waits
/// for has acted (all joined trainers committed; every committer revealed).
#[derive(Encode, Decode, TypeInfo, Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "ink-layout", derive(ink::storage::traits::StorageLayout))]
pub struct Deadlines {
    /// Joining is open for this many blocks after creation; then anyone may `start` (with
    /// enough trainers) or `cancel` (without).
    pub join: u32,
    pub commit: u32,
    pub reveal: u32,
    /// The aggregator must finalise within this many blocks of the reveal phase's end, or
    /// anyone may `abort`.
    pub aggregate: u32,
}

/// What the owner fixes when posting a project. The reward pool is the value transferred
/// with `create_project`, not a field, so it cannot disagree with what was escrowed.
#[derive(Encode, Decode, TypeInfo, Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "ink-layout", derive(ink::storage::traits::StorageLayout))]
pub struct ProjectParams {
    /// CID (UTF-8 bytes) of the `ProjectSpec` JSON in IPFS.
    pub spec_cid: Vec<u8>,
    /// CID of the initial model file, and the commitment to its fixed-point vector.
    pub model_cid: Vec<u8>,
    pub model_commitment: Commitment,
    /// CID of the round circuit's proving key file (`merit_prover::keys::write_proving_key`)
    /// in IPFS; its verifying key is the one `create_project` takes and stores.
    pub proving_key_cid: Vec<u8>,
    pub rounds: u32,
    /// Trainers that must have joined before the project can start (any number may join).
    pub min_trainers: u32,
    /// Slots per round, the circuit's N: every round statement has this many, and each
    /// round draws its trainers for them from everyone who joined (`protocol::draw`).
    pub slots: u32,
    /// Exact value a trainer transfers with `join`.
    pub trainer_stake: u128,
    /// The account allowed to finalise rounds.
    pub aggregator: AccountBytes,
    /// Paid to the aggregator out of the pool, pro rata per finalised round.
    pub aggregator_fee: u128,
    /// Exact value the aggregator deposits with `bond` before the project can start;
    /// forfeited to the owner if the aggregator misses a deadline.
    pub aggregator_bond: u128,
    /// A trainer rejected in more rounds than this forfeits its stake.
    pub max_rejected_rounds: u32,
    pub deadlines: Deadlines,
}

impl ProjectParams {
    /// Checks the parameters on their own, the same way on both sides of the chain: the
    /// CLI refuses before paying fees, the contract refuses before touching state.
    pub fn validate(&self) -> Result<(), MarketError> {
        if self.spec_cid.is_empty() || self.spec_cid.len() > MAX_CID_LEN {
            return Err(MarketError::BadSpecCid);
        }
        if self.model_cid.is_empty() || self.model_cid.len() > MAX_CID_LEN {
            return Err(MarketError::BadCid);
        }
        if self.model_commitment.to_field().is_none() {
            return Err(MarketError::BadCommitment);
        }
        if self.proving_key_cid.is_empty() || self.proving_key_cid.len() > MAX_CID_LEN {
            return Err(MarketError::BadProvingKeyCid);
        }
        if self.rounds == 0 || self.rounds > MAX_ROUNDS {
            return Err(MarketError::BadRounds);
        }
        if self.min_trainers == 0 || self.slots == 0 || self.slots > MAX_SLOTS {
            return Err(MarketError::BadTrainerBounds);
        }
        if self.trainer_stake > MAX_DEPOSIT || self.aggregator_bond > MAX_DEPOSIT {
            return Err(MarketError::DepositTooLarge);
        }
        let d = &self.deadlines;
        if [d.join, d.commit, d.reveal, d.aggregate]
            .iter()
            .any(|&b| b == 0 || b > MAX_PHASE_BLOCKS)
        {
            return Err(MarketError::BadDeadlines);
        }
        Ok(())
    }

    /// `validate`, plus the checks that need the pool (the value sent with the call).
    pub fn validate_with_pool(&self, pool: u128) -> Result<(), MarketError> {
        if pool == 0 {
            return Err(MarketError::EmptyPool);
        }
        self.validate()?;
        if self.aggregator_fee > pool {
            return Err(MarketError::FeeAbovePool);
        }
        Ok(())
    }
}

/// Where a project stands (docs/design.md, "Project life cycle").
#[derive(Encode, Decode, TypeInfo, Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "ink-layout", derive(ink::storage::traits::StorageLayout))]
pub enum Phase {
    Open,
    Commit,
    Reveal,
    Aggregate,
    Finished,
    Cancelled,
    Aborted,
}

impl Phase {
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Finished | Self::Cancelled | Self::Aborted)
    }
}

/// A project as getters return it; phase and deadlines as of the block the read ran in.
#[derive(Encode, Decode, TypeInfo, Debug, Clone, PartialEq, Eq)]
pub struct ProjectView {
    pub id: u32,
    pub owner: AccountBytes,
    pub params: ProjectParams,
    /// Value escrowed for rewards.
    pub pool: u128,
    pub phase: Phase,
    /// Current round, counted from 0 (= rounds finalised so far).
    pub round: u32,
    /// Block in which the project was created.
    pub created_at: u32,
    /// Last block in which the current phase accepts its action (join, commit, …).
    pub phase_deadline: u32,
    /// Trainers joined, indexed 0..trainers in join order.
    pub trainers: u32,
    /// How many trainers the current round drew: min(trainers, slots) once started.
    pub drawn: u32,
    /// Commits and reveals in the current round.
    pub committed: u32,
    pub revealed: u32,
    pub aggregator_bonded: bool,
    /// The current global model (after the last finalised round).
    pub model_cid: Vec<u8>,
    pub model_commitment: Commitment,
    /// The round circuit's verifying key exactly as stored: `verifier::prepare`'s output
    /// (the uncompressed key, then e(α, β)). Pass it to `verifier::verify`; compare a
    /// candidate key with `verifier::prepare(candidate) == verifying_key`.
    /// Empty for a chunked project: its keys are its shape's.
    pub verifying_key: Vec<u8>,
    /// Set for a project whose rounds are proven in chunks (protocol v4).
    pub chunked: Option<ChunkedParams>,
}

/// A chunked project's statement, fixed at creation (protocol v4, SPEC §9). Unlike a v3
/// project, whose rule parameters are constants of its own circuit, a chunked project
/// shares its shape's keys with every project of `N` slots and chunk size `C`, so the
/// contract holds the rule's parameters and hashes them into the decision proof's input.
#[derive(Encode, Decode, TypeInfo, Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "ink-layout", derive(ink::storage::traits::StorageLayout))]
pub struct ChunkedParams {
    /// The registered shape whose keys verify every round.
    pub shape: u32,
    /// C: the shape's chunk size, repeated here so that a trainer can commit from the
    /// project's view alone (the contract checks it against the shape).
    pub chunk: u32,
    /// D: parameters per vector.
    pub dim: u32,
    /// f: Byzantine budget.
    pub byzantine: u32,
    pub norm_bound_sq: u64,
    pub band_sq_milli: u32,
    pub duplicate_milli: u32,
}

impl ChunkedParams {
    /// The statement's parameters for `shape` (chunks of `chunk`), from the rule's.
    pub fn new(shape: u32, chunk: u32, rule: &RuleParams) -> Self {
        Self {
            shape,
            chunk,
            dim: rule.dim as u32,
            byzantine: rule.byzantine as u32,
            norm_bound_sq: rule.norm_bound_sq,
            band_sq_milli: rule.band_sq_milli,
            duplicate_milli: rule.duplicate_milli,
        }
    }

    /// The rule's parameters for a project of `slots` slots.
    pub fn rule(&self, slots: u32) -> RuleParams {
        RuleParams {
            slots: slots as usize,
            dim: self.dim as usize,
            byzantine: self.byzantine as usize,
            norm_bound_sq: self.norm_bound_sq,
            band_sq_milli: self.band_sq_milli,
            duplicate_milli: self.duplicate_milli,
        }
    }
}

/// A registered proof shape (N slots, chunks of C): the verifying keys every chunked
/// project of that shape shares, and where the key files are in IPFS.
#[derive(Encode, Decode, TypeInfo, Debug, Clone, PartialEq, Eq)]
pub struct ShapeView {
    pub id: u32,
    pub slots: u32,
    pub chunk: u32,
    /// CID of the shape's key file (`merit_prover::chunked::write_shape_keys`).
    pub keys_cid: Vec<u8>,
    pub registered_by: AccountBytes,
    /// The chunk and decision circuits' verifying keys as stored (`verifier::prepare`).
    pub chunk_key: Vec<u8>,
    pub decision_key: Vec<u8>,
}

/// Where a project's round keys come from: a setup ceremony's transcript in IPFS, as its
/// owner recorded it before anyone joined (`record_setup`). The contract cannot check a
/// transcript; a trainer does, before it stakes: the transcript must verify and give
/// exactly the verifying key the project stores (`merit ceremony verify --project`).
#[derive(Encode, Decode, TypeInfo, Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "ink-layout", derive(ink::storage::traits::StorageLayout))]
pub struct SetupRecord {
    /// CID of the transcript file (`merit ceremony`'s phase-2 transcript).
    pub transcript_cid: Vec<u8>,
    /// The transcript's hash-chain head (phase 2's last link).
    pub head: [u8; 32],
    /// Contributions in phase 1 and in phase 2.
    pub phase1_contributions: u32,
    pub phase2_contributions: u32,
    /// The key's `[δ]G1` (compressed): the base the next phase-2 link must prove its δ'
    /// over. `record_setup` checks it carries the stored verifying key's δ.
    pub delta_g1: [u8; 32],
}

/// Where a chunked proof shape's two keys come from: one ceremony transcript per circuit,
/// recorded once by whoever registered the shape (`record_shape_setup`). Every project of
/// the shape uses these keys, so nobody re-randomises them per project: a trainer checks
/// both transcripts before it stakes.
#[derive(Encode, Decode, TypeInfo, Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "ink-layout", derive(ink::storage::traits::StorageLayout))]
pub struct ShapeSetup {
    /// The chunk circuit's transcript (for `(slots, chunk)`).
    pub chunk: SetupRecord,
    /// The decision circuit's transcript (for `slots`).
    pub decision: SetupRecord,
}

/// A phase-2 contribution to a project's setup before it starts (`contribute_setup`): the
/// contract checks the link against its recorded head and `[δ]G1` and moves δ in the
/// stored verifying key; the transcript and proving key are the contributor's, in IPFS.
#[derive(Encode, Decode, TypeInfo, Debug, Clone, PartialEq, Eq)]
pub struct SetupContribution {
    /// The link (`setup_link::Link`, 192 bytes): parent, new `[δ]G1`, `[δ]G2`, the proof.
    pub link: Vec<u8>,
    /// CID of the transcript with this contribution appended.
    pub transcript_cid: Vec<u8>,
    /// CID of the proving key file for the new key.
    pub proving_key_cid: Vec<u8>,
}

/// A chunked round between `submit_chunked_round` and `finalize_chunked_round`.
#[derive(Encode, Decode, TypeInfo, Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "ink-layout", derive(ink::storage::traits::StorageLayout))]
pub struct PendingRound {
    pub round: u32,
    pub model_cid: Vec<u8>,
    pub model_commitment: Commitment,
    /// The opened submission; chunk `k`'s public input `P_k` is computed from it when its
    /// proof arrives (`chunked::chunk_input`).
    pub submission: crate::chunked::Submission,
    /// Which chunk proofs have verified.
    pub verified: Vec<bool>,
    /// `P_dec`; its proof verified when the round was submitted.
    pub decision_input: [u8; 32],
}

impl PendingRound {
    /// The first chunk whose proof has not verified yet.
    pub fn first_unverified(&self) -> Option<u32> {
        self.verified.iter().position(|v| !v).map(|k| k as u32)
    }
}

/// A trainer's standing in a project.
#[derive(Encode, Decode, TypeInfo, Debug, Clone, PartialEq, Eq)]
pub struct TrainerView {
    /// Its index in join order. With no more trainers than slots, every round draws
    /// everyone in join order, so this is also its slot in every round.
    pub slot: u32,
    pub account: AccountBytes,
    pub total_score: u32,
    pub rejected_rounds: u32,
    /// Committed without revealing in some round (the stake is forfeited).
    pub missed_reveal: bool,
    /// Proven rounds whose draw picked it (its participations).
    pub rounds_drawn: u32,
}

/// Which trainers a round drew, slot by slot (`protocol::draw`), and the seed it drew
/// them with.
#[derive(Encode, Decode, TypeInfo, Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "ink-layout", derive(ink::storage::traits::StorageLayout))]
pub struct RoundDraw {
    pub seed: [u8; 32],
    /// Per slot: the drawn trainer's index in join order (`TrainerView::slot`).
    pub trainers: Vec<u32>,
}

/// One slot of one round: the trainer the round drew for it, and what it did.
#[derive(Encode, Decode, TypeInfo, Debug, Clone, PartialEq, Eq)]
pub struct SlotView {
    /// The slot (the position in the round statement).
    pub slot: u32,
    /// The drawn trainer's index in join order (`TrainerView::slot`).
    pub trainer: u32,
    pub account: AccountBytes,
    pub commitment: Option<Commitment>,
    /// CID of the revealed update file.
    pub cid: Option<Vec<u8>>,
    /// The aggregator could not open the reveal (the file was missing or did not match
    /// the commitment): the round counts the slot as absent.
    pub set_aside: bool,
    /// Last block in which a set-aside can be answered (`answer_set_aside`; 0 if never set
    /// aside); the round cannot close before it.
    pub answer_until: u32,
    /// A set-aside that was answered: the update opened the commitment on chain, so the
    /// slot is back in the round (`set_aside` is false again).
    pub answered: bool,
}

impl SlotView {
    /// Takes part in the round statement: revealed and not set aside (otherwise the
    /// statement holds the zero commitment for this slot).
    pub fn present(&self) -> bool {
        self.cid.is_some() && !self.set_aside
    }
}

/// What `finalize_round` recorded for a round.
#[derive(Encode, Decode, TypeInfo, Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "ink-layout", derive(ink::storage::traits::StorageLayout))]
pub struct RoundRecord {
    pub model_cid: Vec<u8>,
    pub model_commitment: Commitment,
    /// One per slot (N = slots), in slot order.
    pub scores: Vec<u32>,
    pub accepted: Vec<bool>,
    /// The round hash the proof was checked against (canonical little-endian bytes).
    pub public_input: [u8; 32],
    pub finalized_at: u32,
}

/// Every way a marketplace message can refuse. A refused message changes nothing.
#[derive(Encode, Decode, TypeInfo, Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarketError {
    /// `create_project` was called without value: there would be nothing to pay out.
    EmptyPool,
    /// The spec CID is empty or longer than `MAX_CID_LEN`.
    BadSpecCid,
    /// Rounds is 0 or above `MAX_ROUNDS`.
    BadRounds,
    /// `min_trainers` or `slots` zero, or `slots` above `MAX_SLOTS`.
    BadTrainerBounds,
    /// No project with that id.
    NoSuchProject,
    /// A counter or a balance would overflow.
    Overflow,
    /// A model or update CID is empty or longer than `MAX_CID_LEN`.
    BadCid,
    /// A commitment that is not a canonical field element, or zero.
    BadCommitment,
    /// A phase length is 0 or above `MAX_PHASE_BLOCKS`.
    BadDeadlines,
    /// The aggregator fee exceeds the pool.
    FeeAbovePool,
    /// The verifying key does not decode to valid points.
    BadVerifyingKey,
    /// The verifying key is not for a circuit with exactly one public input.
    WrongInputCount,
    /// The message is not allowed in the project's current phase.
    WrongPhase,
    /// Only the project owner may do this.
    NotOwner,
    /// Only the project's aggregator may do this.
    NotAggregator,
    /// The caller has not joined this project.
    NotTrainer,
    /// The caller has joined already.
    AlreadyJoined,
    /// Retired with sampled rounds (any number may join); kept so that later codes keep
    /// their values.
    ProjectFull,
    /// The transferred value is not exactly what this message takes.
    WrongValue,
    /// The aggregator's bond is already deposited.
    AlreadyBonded,
    /// The project cannot start: too few trainers, or the aggregator has not bonded.
    NotReady,
    /// The deadline this message waits for has not passed yet.
    TooEarly,
    /// The deadline for this message has passed.
    DeadlinePassed,
    /// The round number is not the project's current round.
    WrongRound,
    /// The caller committed already this round.
    AlreadyCommitted,
    /// The caller did not commit this round, so it cannot reveal.
    NotCommitted,
    /// The caller revealed already this round.
    AlreadyRevealed,
    /// Scores or accept bits are not one per slot (`slots`).
    BadLengths,
    /// A score above `MAX_ROUND_SCORE`, or a score or accept bit for a slot that did not
    /// reveal or whose reveal was set aside.
    BadScore,
    /// The proof does not decode to valid points.
    MalformedProof,
    /// The proof does not verify for the round statement the contract rebuilt.
    BadProof,
    /// The caller has nothing to claim in this project.
    NothingToClaim,
    /// The chain refused the payout transfer.
    TransferFailed,
    /// That slot has no reveal in this round, so there is nothing to set aside.
    NotRevealed,
    /// That slot's reveal is already set aside.
    AlreadySetAside,
    /// The proving key CID is empty or longer than `MAX_CID_LEN`.
    BadProvingKeyCid,
    /// The caller committed this exact update in an earlier round of the project (update
    /// commitments are deterministic, so a replay has the same commitment).
    ReplayedUpdate,
    /// No registered shape with that id.
    NoSuchShape,
    /// A shape's slots or chunk size is out of range, or a chunked project does not fit
    /// its shape (other slot count, or a dimension the chunking cannot cut).
    BadShape,
    /// The rule's parameters of a chunked project are out of range (`rule::RuleParams::check`).
    BadRuleParams,
    /// The message is for the other kind of round statement: `finalize_round` on a chunked
    /// project, or a chunked message on a v3 project.
    WrongStatement,
    /// A chunked submission has the wrong number of slots, chunks or Gram entries.
    BadChunkCount,
    /// The slot's submitted chunk commitments do not rebuild its committed update.
    UpdateChunksMismatch { slot: u32 },
    /// Chunk commitments for a slot that is absent from the round, or none for a present one.
    AbsentSlotChunks { slot: u32 },
    /// The previous model's chunk commitments do not rebuild the project's model commitment.
    ModelChunksMismatch,
    /// A partial Gram entry of the chunk is outside `±C · 2^30`, or not canonical.
    GramOutOfRange { chunk: u32 },
    /// The chunk's proof does not verify for its public input `P_k` (a reordered, dropped,
    /// duplicated or foreign chunk, or a wrong partial sum).
    BadChunkProof { chunk: u32 },
    /// The decision proof does not verify for the totals and scores the contract computed.
    BadDecisionProof,
    /// The chunk's proof has verified already.
    ChunkAlreadyVerified { chunk: u32 },
    /// The round cannot be finalised: this chunk's proof has not verified.
    ChunkUnverified { chunk: u32 },
    /// There is no such chunk in the round (index past `K − 1`).
    NoSuchChunk { chunk: u32 },
    /// No chunked submission is pending for this round.
    NothingSubmitted,
    /// The project's owner or aggregator may not join it as a trainer: the aggregator would
    /// score itself, the owner would pay itself.
    ConflictOfInterest,
    /// The trainer stake or the aggregator bond is above `MAX_DEPOSIT`.
    DepositTooLarge,
    /// The slot's reveal was not set aside in that round: there is nothing to answer.
    NotSetAside,
    /// The set-aside was answered already: the slot is back in the round.
    AlreadyAnswered,
    /// The set-aside's answer window (`answer_until`) has passed.
    AnswerWindowClosed,
    /// The posted update does not open the slot's commitment: the set-aside stands.
    AnswerDoesNotOpen,
    /// The answer's piece is out of order or has the wrong length; `expected` is the
    /// piece the contract takes next (0 restarts).
    BadAnswerPiece { expected: u32 },
    /// The round cannot close yet: one of its set-asides can still be answered (until
    /// the slot's `answer_until`).
    AnswerWindowOpen,
    /// A setup is recorded only while the project is Open, nobody has joined, and once.
    SetupNotRecordable,
    /// The project has no recorded setup to contribute to.
    NoSetupRecorded,
    /// Only the owner, the aggregator or a joined trainer may contribute to the setup.
    NotSetupParty,
    /// The link was built on another head than the recorded one (someone contributed
    /// first): build it again on the current transcript.
    StaleSetupLink,
    /// The link does not check: malformed, a δ that is the identity or differs between
    /// G1 and G2, or a proof of knowledge that does not verify.
    BadSetupLink,
    /// The recorded `[δ]G1` does not carry the stored verifying key's δ.
    BadSetupDelta,
    /// Only the account that registered a proof shape records its setup.
    NotShapeRegistrant,
    /// The caller joined, but this round's draw did not pick it: it waits for a round that
    /// does, and loses nothing meanwhile.
    NotDrawn,
}

impl core::fmt::Display for MarketError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let s = match self {
            Self::EmptyPool => "the reward pool is empty: transfer value with create_project",
            Self::BadSpecCid => "the spec CID is empty or too long",
            Self::BadRounds => "rounds must be between 1 and MAX_ROUNDS",
            Self::BadTrainerBounds => {
                "trainer bounds must satisfy 1 <= min_trainers and 1 <= slots <= MAX_SLOTS"
            }
            Self::NoSuchProject => "no project with that id",
            Self::Overflow => "a counter or balance would overflow",
            Self::BadCid => "a CID is empty or too long",
            Self::BadCommitment => "a commitment is zero or not a canonical field element",
            Self::BadDeadlines => "every phase must last between 1 and MAX_PHASE_BLOCKS blocks",
            Self::FeeAbovePool => "the aggregator fee exceeds the pool",
            Self::BadVerifyingKey => "the verifying key is not a valid BN254 Groth16 key",
            Self::WrongInputCount => "the verifying key must take exactly one public input",
            Self::WrongPhase => "not allowed in the project's current phase",
            Self::NotOwner => "only the project owner may do this",
            Self::NotAggregator => "only the project's aggregator may do this",
            Self::NotTrainer => "the caller has not joined this project",
            Self::AlreadyJoined => "the caller has already joined this project",
            Self::ProjectFull => "every trainer slot is taken",
            Self::WrongValue => "the transferred value is not what this message takes",
            Self::AlreadyBonded => "the aggregator's bond is already deposited",
            Self::NotReady => "too few trainers, or the aggregator has not bonded",
            Self::TooEarly => "the deadline this waits for has not passed",
            Self::DeadlinePassed => "the deadline for this has passed",
            Self::WrongRound => "not the project's current round",
            Self::AlreadyCommitted => "already committed this round",
            Self::NotCommitted => "no commitment from the caller this round",
            Self::AlreadyRevealed => "already revealed this round",
            Self::BadLengths => "scores and accept bits must be one per slot",
            Self::BadScore => {
                "a score is out of range or claims a slot that did not reveal or was set aside"
            }
            Self::MalformedProof => "the proof is not a valid compressed Groth16 proof",
            Self::BadProof => "the proof does not verify for this round's statement",
            Self::NothingToClaim => "nothing to claim",
            Self::TransferFailed => "the payout transfer failed",
            Self::NotRevealed => "that slot has not revealed this round",
            Self::AlreadySetAside => "that slot's reveal is already set aside",
            Self::BadProvingKeyCid => "the proving key CID is empty or too long",
            Self::ReplayedUpdate => {
                "this update was committed in an earlier round: train on the new global model"
            }
            Self::NoSuchShape => "no registered proof shape with that id",
            Self::BadShape => "the proof shape's slots or chunk size do not fit",
            Self::BadRuleParams => "the rule's parameters are out of range",
            Self::WrongStatement => {
                "the project's rounds are proven the other way (whole-model or chunked)"
            }
            Self::BadChunkCount => {
                "the chunked submission has the wrong number of slots, chunks or Gram entries"
            }
            Self::UpdateChunksMismatch { slot } => {
                return write!(f, "slot {slot}'s chunk commitments do not rebuild its committed update")
            }
            Self::AbsentSlotChunks { slot } => {
                return write!(f, "slot {slot}: chunk commitments or non-zero Gram entries given for an absent slot, or no commitments for a present one")
            }
            Self::ModelChunksMismatch => {
                "the previous model's chunk commitments do not rebuild the model commitment"
            }
            Self::GramOutOfRange { chunk } => {
                return write!(f, "chunk {chunk}'s partial Gram sums are out of range")
            }
            Self::BadChunkProof { chunk } => {
                return write!(f, "the proof for chunk {chunk} does not verify for that chunk's statement")
            }
            Self::BadDecisionProof => {
                "the decision proof does not verify for the totals and scores submitted"
            }
            Self::ChunkAlreadyVerified { chunk } => {
                return write!(f, "chunk {chunk}'s proof has verified already")
            }
            Self::ChunkUnverified { chunk } => {
                return write!(f, "chunk {chunk}'s proof has not verified yet")
            }
            Self::NoSuchChunk { chunk } => return write!(f, "the round has no chunk {chunk}"),
            Self::NothingSubmitted => "no chunked round is submitted for this round",
            Self::ConflictOfInterest => {
                "the project's owner and aggregator may not join it as trainers"
            }
            Self::DepositTooLarge => "the stake or the bond is above MAX_DEPOSIT (2^96)",
            Self::NotSetAside => "that slot's reveal was not set aside in that round",
            Self::AlreadyAnswered => "that set-aside was answered already",
            Self::AnswerWindowClosed => "the set-aside's answer window has closed",
            Self::AnswerDoesNotOpen => {
                "the posted update does not open the slot's commitment: the set-aside stands"
            }
            Self::BadAnswerPiece { expected } => {
                return write!(
                    f,
                    "the answer's piece is out of order or of the wrong length; piece {expected} is due (0 restarts)"
                )
            }
            Self::SetupNotRecordable => {
                "a setup is recorded once, by the owner, while the project is Open and before anyone joins"
            }
            Self::NoSetupRecorded => "the project has no recorded setup to contribute to",
            Self::NotSetupParty => {
                "only the project's owner, its aggregator or a joined trainer may contribute to its setup"
            }
            Self::StaleSetupLink => {
                "the link was built on another transcript head than the recorded one: contribute again on the current transcript"
            }
            Self::BadSetupLink => {
                "the setup link does not check: malformed, a degenerate delta, or a proof of knowledge that does not verify"
            }
            Self::NotShapeRegistrant => {
                "only the account that registered the proof shape may record its setup"
            }
            Self::NotDrawn => {
                "this round's draw did not pick the caller: it waits for a round that does (nothing is lost)"
            }
            Self::BadSetupDelta => {
                "the recorded [delta]G1 does not carry the stored verifying key's delta"
            }
            Self::AnswerWindowOpen => {
                "a set-aside of this round can still be answered: the round closes after its answer_until"
            }
        };
        f.write_str(s)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for MarketError {}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn params() -> ProjectParams {
        ProjectParams {
            spec_cid: b"bafkreigh2akiscaildc".to_vec(),
            model_cid: b"bafkreimodel".to_vec(),
            model_commitment: Commitment([1; 32]),
            proving_key_cid: b"bafkreiprovingkey".to_vec(),
            rounds: 2,
            min_trainers: 2,
            slots: 4,
            trainer_stake: 10,
            aggregator: [7; 32],
            aggregator_fee: 5,
            aggregator_bond: 3,
            max_rejected_rounds: 1,
            deadlines: Deadlines {
                join: 10,
                commit: 5,
                reveal: 5,
                aggregate: 5,
            },
        }
    }

    #[test]
    fn valid_params_pass() {
        assert_eq!(params().validate(), Ok(()));
        assert_eq!(params().validate_with_pool(5), Ok(()));
    }

    #[test]
    fn each_bad_field_is_named() {
        let check = |f: fn(&mut ProjectParams), want| {
            let mut p = params();
            f(&mut p);
            assert_eq!(p.validate(), Err(want));
        };
        check(|p| p.spec_cid.clear(), MarketError::BadSpecCid);
        check(
            |p| p.spec_cid = alloc::vec![b'a'; MAX_CID_LEN + 1],
            MarketError::BadSpecCid,
        );
        check(|p| p.model_cid.clear(), MarketError::BadCid);
        check(
            |p| p.model_commitment = Commitment([0xff; 32]),
            MarketError::BadCommitment,
        );
        check(|p| p.proving_key_cid.clear(), MarketError::BadProvingKeyCid);
        check(
            |p| p.proving_key_cid = alloc::vec![b'a'; MAX_CID_LEN + 1],
            MarketError::BadProvingKeyCid,
        );
        check(|p| p.rounds = 0, MarketError::BadRounds);
        check(|p| p.rounds = MAX_ROUNDS + 1, MarketError::BadRounds);
        check(|p| p.slots = 0, MarketError::BadTrainerBounds);
        check(|p| p.min_trainers = 0, MarketError::BadTrainerBounds);
        // More trainers than slots may be required: each round draws its slots' trainers.
        let mut more = params();
        more.min_trainers = 40;
        assert_eq!(more.validate(), Ok(()));
        check(|p| p.slots = MAX_SLOTS + 1, MarketError::BadTrainerBounds);
        check(
            |p| p.trainer_stake = u128::MAX,
            MarketError::DepositTooLarge,
        );
        check(
            |p| p.aggregator_bond = MAX_DEPOSIT + 1,
            MarketError::DepositTooLarge,
        );
        check(|p| p.deadlines.reveal = 0, MarketError::BadDeadlines);
        check(
            |p| p.deadlines.join = MAX_PHASE_BLOCKS + 1,
            MarketError::BadDeadlines,
        );
        assert_eq!(params().validate_with_pool(0), Err(MarketError::EmptyPool));
        assert_eq!(
            params().validate_with_pool(4),
            Err(MarketError::FeeAbovePool)
        );
    }

    #[test]
    fn view_round_trips_through_scale() {
        let v = ProjectView {
            id: 3,
            owner: [1; 32],
            params: params(),
            pool: 1_000_000,
            phase: Phase::Open,
            round: 0,
            created_at: 12,
            phase_deadline: 22,
            trainers: 1,
            drawn: 0,
            committed: 0,
            revealed: 0,
            aggregator_bonded: false,
            model_cid: b"bafkreimodel".to_vec(),
            model_commitment: Commitment([1; 32]),
            verifying_key: alloc::vec![9; 5],
            chunked: Some(ChunkedParams {
                shape: 1,
                chunk: 8_192,
                dim: 79_510,
                byzantine: 1,
                norm_bound_sq: 1 << 40,
                band_sq_milli: 36_000,
                duplicate_milli: 1_001,
            }),
        };
        let bytes = v.encode();
        assert_eq!(ProjectView::decode(&mut &bytes[..]).unwrap(), v);
        let r: Result<ProjectView, MarketError> = Err(MarketError::NoSuchProject);
        assert_eq!(
            Result::<ProjectView, MarketError>::decode(&mut &r.encode()[..]).unwrap(),
            r
        );
    }

    #[test]
    fn existing_error_codes_keep_their_scale_index() {
        // Appending variants is fine; moving one renumbers every later code on the wire.
        assert_eq!(MarketError::EmptyPool.encode(), [0]);
        assert_eq!(MarketError::AlreadySetAside.encode(), [34]);
        assert_eq!(MarketError::BadProvingKeyCid.encode(), [35]);
        assert_eq!(MarketError::ReplayedUpdate.encode(), [36]);
        assert_eq!(MarketError::NothingSubmitted.encode(), [51]);
        assert_eq!(MarketError::ConflictOfInterest.encode(), [52]);
        assert_eq!(MarketError::DepositTooLarge.encode(), [53]);
        assert_eq!(MarketError::AnswerWindowOpen.encode(), [59]);
        assert_eq!(MarketError::SetupNotRecordable.encode(), [60]);
        assert_eq!(MarketError::BadSetupDelta.encode(), [65]);
        assert_eq!(MarketError::NotShapeRegistrant.encode(), [66]);
        assert_eq!(MarketError::NotDrawn.encode(), [67]);
        assert_eq!(
            MarketError::BadChunkProof { chunk: 2 }.encode(),
            [46, 2, 0, 0, 0]
        );
    }
}
