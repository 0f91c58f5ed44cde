//! The typed API of the marketplace contract. Selectors come from the bundle; argument and
//! return types come from `merit_protocol::abi`, which the contract itself uses.

use crate::backend::{BackendKind, ChainBackend, ContractEvent};
use crate::bundle::ContractBundle;
use crate::client::{account_of, Signer};
use crate::error::{ChainError, Result};
use merit_protocol::abi::{
    ChunkedParams, MarketError, PendingRound, ProjectParams, ProjectView, RoundDraw, RoundRecord,
    SetupContribution, SetupRecord, ShapeSetup, ShapeView, SlotView, TrainerView,
};
use merit_protocol::answer::Layout;
use merit_protocol::chunked::Submission;
use merit_protocol::commit::Commitment;
use merit_protocol::events;
use parity_scale_codec::{Decode, Encode};
use std::sync::Arc;
use subxt::utils::AccountId32;

/// The contract's events, decoded into the very structs the contract emits
/// (`merit_protocol::events`), named by the signature topic the bundle's metadata gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarketEvent {
    ProjectCreated(events::ProjectCreated),
    AggregatorBonded(events::AggregatorBonded),
    TrainerJoined(events::TrainerJoined),
    ProjectStarted(events::ProjectStarted),
    UpdateCommitted(events::UpdateCommitted),
    UpdateRevealed(events::UpdateRevealed),
    RevealSetAside(events::RevealSetAside),
    SetAsideAnswered(events::SetAsideAnswered),
    SetupRecorded(events::SetupRecorded),
    SetupContributed(events::SetupContributed),
    ShapeSetupRecorded(events::ShapeSetupRecorded),
    RoundFinalized(events::RoundFinalized),
    ProjectEnded(events::ProjectEnded),
    Claimed(events::Claimed),
    ShapeRegistered(events::ShapeRegistered),
    ChunkedRoundSubmitted(events::ChunkedRoundSubmitted),
    ChunkProofsVerified(events::ChunkProofsVerified),
    RoundDrawn(events::RoundDrawn),
}

impl MarketEvent {
    /// Decodes the payload of the event the contract metadata calls `label`.
    fn decode(label: &str, data: &[u8]) -> Result<Option<Self>> {
        fn d<T: Decode>(label: &str, mut data: &[u8]) -> Result<T> {
            T::decode(&mut data).map_err(|e| ChainError::Decode {
                what: format!("event {label}"),
                detail: e.to_string(),
            })
        }
        Ok(Some(match label {
            "ProjectCreated" => Self::ProjectCreated(d(label, data)?),
            "AggregatorBonded" => Self::AggregatorBonded(d(label, data)?),
            "TrainerJoined" => Self::TrainerJoined(d(label, data)?),
            "ProjectStarted" => Self::ProjectStarted(d(label, data)?),
            "UpdateCommitted" => Self::UpdateCommitted(d(label, data)?),
            "UpdateRevealed" => Self::UpdateRevealed(d(label, data)?),
            "RevealSetAside" => Self::RevealSetAside(d(label, data)?),
            "SetAsideAnswered" => Self::SetAsideAnswered(d(label, data)?),
            "SetupRecorded" => Self::SetupRecorded(d(label, data)?),
            "SetupContributed" => Self::SetupContributed(d(label, data)?),
            "ShapeSetupRecorded" => Self::ShapeSetupRecorded(d(label, data)?),
            "RoundFinalized" => Self::RoundFinalized(d(label, data)?),
            "ProjectEnded" => Self::ProjectEnded(d(label, data)?),
            "Claimed" => Self::Claimed(d(label, data)?),
            "ShapeRegistered" => Self::ShapeRegistered(d(label, data)?),
            "ChunkedRoundSubmitted" => Self::ChunkedRoundSubmitted(d(label, data)?),
            "ChunkProofsVerified" => Self::ChunkProofsVerified(d(label, data)?),
            "RoundDrawn" => Self::RoundDrawn(d(label, data)?),
            _ => return Ok(None),
        }))
    }
}

/// What answering a set-aside took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    /// The weight of each call, one per piece.
    pub weights: Vec<crate::client::Weight>,
}

/// What the aggregator submits to close a round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finalization {
    pub round: u32,
    pub model_cid: Vec<u8>,
    pub model_commitment: Commitment,
    /// One per slot (`slots`).
    pub scores: Vec<u32>,
    pub accepted: Vec<bool>,
    /// arkworks-compressed Groth16 proof (`merit_protocol::verifier::PROOF_LEN` bytes);
    /// for a chunked round, the decision proof.
    pub proof: Vec<u8>,
    /// Set for a chunked round: what is submitted beside the decision proof.
    pub chunked: Option<ChunkedProofs>,
}

/// A chunked round's submission and its chunk proofs (one per chunk, in order).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ChunkedProofs {
    pub submission: Submission,
    pub chunk_proofs: Vec<Vec<u8>>,
}

/// How many chunk proofs one `verify_chunk_proofs` call checks: each call stays within a
/// quarter of a block's normal-extrinsic budget (docs/chunked-rounds.md, "On chain").
pub const CHUNK_PROOFS_PER_CALL: usize = 3;

/// The weights of a chunked finalisation, one per extrinsic sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChunkedWeights {
    pub submit: Option<crate::client::Weight>,
    pub verify: Vec<crate::client::Weight>,
    pub finalize: Option<crate::client::Weight>,
}

impl ChunkedWeights {
    /// The heaviest single extrinsic: what must fit in a block.
    pub fn heaviest(&self) -> crate::client::Weight {
        self.submit
            .iter()
            .chain(&self.verify)
            .chain(&self.finalize)
            .max_by_key(|w| w.ref_time)
            .copied()
            .unwrap_or_default()
    }
}

/// `finalize_round`'s arguments, in the message's order.
fn finalize_args(project: u32, f: &Finalization) -> impl Encode + '_ {
    (
        project,
        f.round,
        &f.model_cid,
        f.model_commitment,
        &f.scores,
        &f.accepted,
        &f.proof,
    )
}

#[derive(Clone)]
pub struct Marketplace {
    client: Arc<dyn ChainBackend>,
    bundle: Arc<ContractBundle>,
    address: AccountId32,
    /// Origin of read-only dry-runs (any existing account will do).
    reader: AccountId32,
}

impl Marketplace {
    /// Uploads and instantiates the contract. `salt` makes the address unique per deployment.
    pub async fn deploy(
        client: Arc<dyn ChainBackend>,
        bundle: Arc<ContractBundle>,
        signer: &Signer,
        salt: Vec<u8>,
    ) -> Result<Self> {
        let data = bundle.constructor("new")?.to_vec();
        let address = client
            .instantiate_with_code(signer, &bundle.wasm, data, salt)
            .await?;
        Ok(Self::at(client, bundle, address, account_of(signer)))
    }

    /// A handle on an already deployed contract.
    pub fn at(
        client: Arc<dyn ChainBackend>,
        bundle: Arc<ContractBundle>,
        address: AccountId32,
        reader: AccountId32,
    ) -> Self {
        Self {
            client,
            bundle,
            address,
            reader,
        }
    }

    pub fn address(&self) -> &AccountId32 {
        &self.address
    }

    /// The chain this handle drives.
    pub fn backend(&self) -> &Arc<dyn ChainBackend> {
        &self.client
    }

    /// Which kind of chain: embedded or a node.
    pub fn backend_kind(&self) -> BackendKind {
        self.client.kind()
    }

    /// Lets `n` blocks pass, signed by `signer` where the chain needs a transaction for it.
    pub async fn advance_blocks(&self, signer: &Signer, n: u32) -> Result<()> {
        self.client.advance_blocks(signer, n).await
    }

    pub async fn best_block_number(&self) -> Result<u32> {
        self.client.best_block_number().await
    }

    pub async fn free_balance(&self, who: &AccountId32) -> Result<u128> {
        self.client.free_balance(who).await
    }

    /// Sends `value` from `signer` to `to` on the marketplace's chain.
    pub async fn transfer(&self, signer: &Signer, to: &AccountId32, value: u128) -> Result<()> {
        self.client.transfer(signer, to, value).await
    }

    pub fn bundle(&self) -> &ContractBundle {
        &self.bundle
    }

    fn input(&self, label: &str, args: impl Encode) -> Result<Vec<u8>> {
        let mut input = self.bundle.message(label)?.to_vec();
        args.encode_to(&mut input);
        Ok(input)
    }

    /// Decodes ink!'s `Result<T, LangError>` envelope.
    fn unwrap_lang<T: Decode>(label: &'static str, data: &[u8]) -> Result<T> {
        match <std::result::Result<T, u8>>::decode(&mut &data[..]) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) => Err(ChainError::Dispatch {
                call: label.into(),
                detail: "the contract could not read the input (bundle and deployed code differ?)"
                    .into(),
            }),
            Err(e) => Err(ChainError::Decode {
                what: format!("return of `{label}`"),
                detail: e.to_string(),
            }),
        }
    }

    /// A read-only message.
    async fn read<T: Decode>(&self, label: &'static str, args: impl Encode) -> Result<T> {
        let input = self.input(label, args)?;
        let dry = self
            .client
            .dry_run_call(&self.reader, &self.address, 0, input, label)
            .await?;
        Self::unwrap_lang(label, &dry.result.data)
    }

    /// A state-changing message returning `Result<T, MarketError>`: dry-run first (a refusal
    /// comes back by name and costs nothing), then the signed extrinsic.
    async fn exec<T: Decode>(
        &self,
        signer: &Signer,
        label: &'static str,
        args: impl Encode,
        value: u128,
    ) -> Result<(T, Vec<ContractEvent>)> {
        let (out, events, _) = self.exec_weighed(signer, label, args, value).await?;
        Ok((out, events))
    }

    /// [`Self::exec`], also returning the weight the call was given (the dry-run's
    /// `gas_required`, which is what the call used: pallet-contracts charges no more).
    async fn exec_weighed<T: Decode>(
        &self,
        signer: &Signer,
        label: &'static str,
        args: impl Encode,
        value: u128,
    ) -> Result<(T, Vec<ContractEvent>, crate::client::Weight)> {
        let input = self.input(label, args)?;
        let origin = account_of(signer);
        // A value the signer cannot pay would come back as the pallet's bare
        // `TransferFailed`; say what is short instead, before anything is sent.
        if value > 0 {
            let have = self.client.free_balance(&origin).await?;
            if have < value {
                return Err(ChainError::CannotPay {
                    message: label,
                    account: origin.to_string(),
                    need: value,
                    have,
                });
            }
        }
        let (out, gas) = self
            .dry_run_exec::<T>(&origin, label, &input, value)
            .await?;
        match self
            .client
            .call(signer, &self.address, value, gas, input.clone(), label)
            .await
        {
            Ok(events) => Ok((out, events, gas)),
            // The state moved between the dry-run and inclusion (another transaction got
            // in first: a racing duplicate join, a deadline): ask the contract again, and
            // return its own refusal when it now has one.
            Err(sent) => match self.dry_run_exec::<T>(&origin, label, &input, value).await {
                Err(refused @ ChainError::Contract { .. }) => Err(refused),
                _ => Err(sent),
            },
        }
    }

    /// The dry-run of a write: its decoded result, or the contract's refusal by name.
    async fn dry_run_exec<T: Decode>(
        &self,
        origin: &AccountId32,
        label: &'static str,
        input: &[u8],
        value: u128,
    ) -> Result<(T, crate::client::Weight)> {
        let dry = self
            .client
            .dry_run_call(origin, &self.address, value, input.to_vec(), label)
            .await?;
        let out: std::result::Result<T, MarketError> = Self::unwrap_lang(label, &dry.result.data)?;
        let out = out.map_err(|error| ChainError::Contract {
            message: label,
            error,
        })?;
        if dry.result.reverted() {
            return Err(ChainError::Reverted {
                message: label,
                data: hex::encode(&dry.result.data),
            });
        }
        Ok((out, dry.gas_required))
    }

    /// This contract's events among `events`, decoded.
    pub fn decode_events(&self, events: &[ContractEvent]) -> Result<Vec<MarketEvent>> {
        let mut out = Vec::new();
        for ev in events.iter().filter(|e| e.contract == self.address) {
            let Some(label) = ev.topics.first().and_then(|t| self.bundle.event_label(t)) else {
                continue;
            };
            if let Some(e) = MarketEvent::decode(label, &ev.data)? {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// Reads a getter that returns `Result<T, MarketError>`.
    async fn read_checked<T: Decode>(&self, label: &'static str, args: impl Encode) -> Result<T> {
        let r: std::result::Result<T, MarketError> = self.read(label, args).await?;
        r.map_err(|error| ChainError::Contract {
            message: label,
            error,
        })
    }

    /// Runs a message and returns its value and the contract events it emitted.
    pub async fn exec_events<T: Decode>(
        &self,
        signer: &Signer,
        label: &'static str,
        args: impl Encode,
        value: u128,
    ) -> Result<(T, Vec<MarketEvent>)> {
        let (out, events) = self.exec::<T>(signer, label, args, value).await?;
        Ok((out, self.decode_events(&events)?))
    }

    pub async fn project_count(&self) -> Result<u32> {
        self.read("project_count", ()).await
    }

    pub async fn project(&self, id: u32) -> Result<ProjectView> {
        self.read_checked("project", id).await
    }

    /// Every joined trainer, in join order, read a page (`TRAINERS_PER_PAGE`) at a time.
    pub async fn trainers(&self, project: u32) -> Result<Vec<TrainerView>> {
        let mut all = Vec::new();
        loop {
            let first = u32::try_from(all.len()).unwrap_or(u32::MAX);
            let page: Vec<TrainerView> = self.read_checked("trainers", (project, first)).await?;
            if page.is_empty() {
                return Ok(all);
            }
            all.extend(page);
        }
    }

    /// The trainer `account` joined `project` as, if it did (one read, whatever the number
    /// joined).
    pub async fn trainer_of(
        &self,
        project: u32,
        account: &[u8; 32],
    ) -> Result<Option<TrainerView>> {
        self.read_checked("trainer_of", (project, *account)).await
    }

    /// Every drawn slot of `round`: the trainer drawn for it, its commitment and revealed
    /// CID.
    pub async fn round_slots(&self, project: u32, round: u32) -> Result<Vec<SlotView>> {
        self.read_checked("round_slots", (project, round)).await
    }

    /// Which trainers `round` drew, slot by slot (None before the round is drawn).
    pub async fn round_draw(&self, project: u32, round: u32) -> Result<Option<RoundDraw>> {
        self.read_checked("round_draw", (project, round)).await
    }

    /// What `finalize_round` recorded for `round`, if it has been finalised.
    pub async fn round_record(&self, project: u32, round: u32) -> Result<Option<RoundRecord>> {
        self.read_checked("round_record", (project, round)).await
    }

    /// What `account` can claim from an ended project.
    pub async fn claimable(&self, project: u32, account: &AccountId32) -> Result<u128> {
        self.read_checked("claimable", (project, account.0)).await
    }

    /// Posts a project escrowing `pool`; returns its id. `verifying_key` is the round
    /// circuit's key, arkworks-compressed (the contract validates and prepares it).
    pub async fn create_project(
        &self,
        signer: &Signer,
        params: &ProjectParams,
        verifying_key: &[u8],
        pool: u128,
    ) -> Result<u32> {
        // Refuse locally with the contract's own error before paying any fee.
        params
            .validate_with_pool(pool)
            .map_err(|error| ChainError::Contract {
                message: "create_project",
                error,
            })?;
        let (id, _) = self
            .exec::<u32>(signer, "create_project", (params, verifying_key), pool)
            .await?;
        Ok(id)
    }

    /// The aggregator deposits its bond (exactly `aggregator_bond`).
    pub async fn bond(&self, signer: &Signer, project: u32, bond: u128) -> Result<()> {
        self.exec::<()>(signer, "bond", project, bond).await?;
        Ok(())
    }

    /// Joins with exactly the project's stake; returns the slot. The slot is read from the
    /// `TrainerJoined` event of the block that included the join, not from the dry-run:
    /// another trainer may join in between and take the slot the dry-run saw.
    pub async fn join(&self, signer: &Signer, project: u32, stake: u128) -> Result<u32> {
        let me = account_of(signer).0;
        let (dry_slot, events) = self
            .exec_events::<u32>(signer, "join", project, stake)
            .await?;
        Ok(events
            .iter()
            .find_map(|e| match e {
                MarketEvent::TrainerJoined(j) if j.project == project && j.trainer == me => {
                    Some(j.slot)
                }
                _ => None,
            })
            .unwrap_or(dry_slot))
    }

    pub async fn start(&self, signer: &Signer, project: u32) -> Result<()> {
        self.exec::<()>(signer, "start", project, 0).await?;
        Ok(())
    }

    pub async fn cancel(&self, signer: &Signer, project: u32) -> Result<()> {
        self.exec::<()>(signer, "cancel", project, 0).await?;
        Ok(())
    }

    pub async fn commit_update(
        &self,
        signer: &Signer,
        project: u32,
        round: u32,
        commitment: Commitment,
    ) -> Result<()> {
        let args = (project, round, commitment);
        self.exec::<()>(signer, "commit_update", args, 0).await?;
        Ok(())
    }

    pub async fn reveal_update(
        &self,
        signer: &Signer,
        project: u32,
        round: u32,
        cid: &[u8],
    ) -> Result<()> {
        let args = (project, round, cid);
        self.exec::<()>(signer, "reveal_update", args, 0).await?;
        Ok(())
    }

    /// The aggregator declares `slot`'s reveal unopenable this round (file missing or not
    /// matching its commitment); the round then counts the slot as absent.
    pub async fn set_aside(
        &self,
        signer: &Signer,
        project: u32,
        round: u32,
        slot: u32,
    ) -> Result<()> {
        let args = (project, round, slot);
        self.exec::<()>(signer, "set_aside", args, 0).await?;
        Ok(())
    }

    /// The owner records the ceremony transcript the project's keys come from (once, while
    /// Open, before anyone joins).
    pub async fn record_setup(
        &self,
        signer: &Signer,
        project: u32,
        setup: &SetupRecord,
    ) -> Result<()> {
        self.exec::<()>(signer, "record_setup", (project, setup), 0)
            .await?;
        Ok(())
    }

    /// Adds a phase-2 contribution to the project's setup (owner, aggregator or a joined
    /// trainer; while Open): the contract checks the link and moves δ in the stored key.
    /// Returns the weight the call took.
    pub async fn contribute_setup(
        &self,
        signer: &Signer,
        project: u32,
        contribution: &SetupContribution,
    ) -> Result<crate::client::Weight> {
        let ((), _, weight) = self
            .exec_weighed::<()>(signer, "contribute_setup", (project, contribution), 0)
            .await?;
        Ok(weight)
    }

    /// A proof shape's registrant records the ceremony transcripts of its two keys (once).
    pub async fn record_shape_setup(
        &self,
        signer: &Signer,
        shape: u32,
        setup: &ShapeSetup,
    ) -> Result<()> {
        self.exec::<()>(signer, "record_shape_setup", (shape, setup), 0)
            .await?;
        Ok(())
    }

    /// The ceremony transcripts a proof shape's keys come from, if recorded.
    pub async fn shape_setup(&self, shape: u32) -> Result<Option<ShapeSetup>> {
        self.read_checked("shape_setup", shape).await
    }

    /// The ceremony transcript the project's keys come from, if its owner recorded one.
    pub async fn setup(&self, project: u32) -> Result<Option<SetupRecord>> {
        self.read_checked("setup", project).await
    }

    /// Answers a set-aside with the update `slot` committed to in `round`, in the pieces
    /// of `merit_protocol::answer::Layout` (`chunk`: the project's chunk size, None for v3),
    /// one call each. Every call is dry-run first, so an update that does not open the
    /// commitment comes back as the contract's `AnswerDoesNotOpen` with the last piece
    /// (the earlier ones change nothing that counts: piece 0 restarts).
    pub async fn answer_set_aside(
        &self,
        signer: &Signer,
        project: u32,
        (round, slot): (u32, u32),
        values: &[i16],
        chunk: Option<usize>,
    ) -> Result<Answered> {
        let layout = Layout {
            dim: values.len(),
            chunk,
        };
        let dim = u32::try_from(values.len()).unwrap_or(u32::MAX);
        let mut weights = Vec::new();
        for (k, piece) in layout.split(values).into_iter().enumerate() {
            let args = (project, round, slot, dim, k as u32, piece.to_vec());
            let (_due, _, weight) = self
                .exec_weighed::<u32>(signer, "answer_set_aside", args, 0)
                .await?;
            weights.push(weight);
        }
        Ok(Answered { weights })
    }

    /// The update that answered `slot`'s set-aside in `round`, read back piece by piece
    /// (`dim` values, cut as `Layout { dim, chunk }` cuts them).
    pub async fn answered_update(
        &self,
        project: u32,
        (round, slot): (u32, u32),
        dim: usize,
        chunk: Option<usize>,
    ) -> Result<Vec<i16>> {
        let layout = Layout { dim, chunk };
        let mut out = Vec::with_capacity(dim);
        for k in 0..layout.piece_count() {
            let piece: Vec<i16> = self
                .read_checked("answer_piece", (project, round, slot, k as u32))
                .await?;
            out.extend(piece);
        }
        Ok(out)
    }

    /// Closes a round with its proof; returns the events (RoundFinalized, and ProjectEnded
    /// after the last round).
    pub async fn finalize_round(
        &self,
        signer: &Signer,
        project: u32,
        f: &Finalization,
    ) -> Result<Vec<MarketEvent>> {
        let args = finalize_args(project, f);
        Ok(self
            .exec_events::<()>(signer, "finalize_round", args, 0)
            .await?
            .1)
    }

    /// [`Self::finalize_round`], also returning the weight the call was given (for the
    /// report: ref_time and proof_size against the block's budget).
    pub async fn finalize_round_weighed(
        &self,
        signer: &Signer,
        project: u32,
        f: &Finalization,
    ) -> Result<(Vec<MarketEvent>, crate::client::Weight)> {
        let args = finalize_args(project, f);
        let ((), events, weight) = self
            .exec_weighed::<()>(signer, "finalize_round", args, 0)
            .await?;
        Ok((self.decode_events(&events)?, weight))
    }

    /// The weight a write of `label` (`join`, `start`, `claim`, …) would take now as
    /// `origin`, from a dry-run; a refusal comes back by name. For benchmarks: the write
    /// itself is not sent.
    pub async fn weigh<T: Decode>(
        &self,
        origin: &AccountId32,
        label: &'static str,
        args: impl Encode,
        value: u128,
    ) -> Result<crate::client::Weight> {
        let input = self.input(label, args)?;
        let (_, weight) = self.dry_run_exec::<T>(origin, label, &input, value).await?;
        Ok(weight)
    }

    /// The weight `finalize_round` would use, from a dry-run (a refusal comes back by name).
    pub async fn estimate_finalize(
        &self,
        signer: &Signer,
        project: u32,
        f: &Finalization,
    ) -> Result<crate::client::Weight> {
        let args = finalize_args(project, f);
        self.weigh::<()>(&account_of(signer), "finalize_round", args, 0)
            .await
    }

    /// How many proof shapes were ever registered (ids `0..shape_count`).
    pub async fn shape_count(&self) -> Result<u32> {
        self.read("shape_count", ()).await
    }

    pub async fn shape(&self, id: u32) -> Result<ShapeView> {
        self.read_checked("shape", id).await
    }

    /// Every registered shape, in id order.
    pub async fn shapes(&self) -> Result<Vec<ShapeView>> {
        let mut out = Vec::new();
        for id in 0..self.shape_count().await? {
            out.push(self.shape(id).await?);
        }
        Ok(out)
    }

    /// Registers a proof shape (N slots, chunks of C) with its two verifying keys
    /// (arkworks compressed) and the CID of its key file; returns the shape's id.
    pub async fn register_shape(
        &self,
        signer: &Signer,
        slots: u32,
        chunk: u32,
        chunk_key: &[u8],
        decision_key: &[u8],
        keys_cid: &[u8],
    ) -> Result<u32> {
        let args = (slots, chunk, chunk_key, decision_key, keys_cid);
        let (id, _) = self.exec::<u32>(signer, "register_shape", args, 0).await?;
        Ok(id)
    }

    /// Posts a chunked project on a registered shape, escrowing `pool`; returns its id.
    pub async fn create_chunked_project(
        &self,
        signer: &Signer,
        params: &ProjectParams,
        chunked: &ChunkedParams,
        pool: u128,
    ) -> Result<u32> {
        params
            .validate_with_pool(pool)
            .map_err(|error| ChainError::Contract {
                message: "create_chunked_project",
                error,
            })?;
        let (id, _) = self
            .exec::<u32>(signer, "create_chunked_project", (params, chunked), pool)
            .await?;
        Ok(id)
    }

    /// The current round's chunked submission, while its chunk proofs are due.
    pub async fn pending_round(&self, project: u32) -> Result<Option<PendingRound>> {
        self.read_checked("pending_round", project).await
    }

    /// Opens a chunked round's finalisation: the submission and the decision proof.
    /// Returns the weight the call used.
    pub async fn submit_chunked_round(
        &self,
        signer: &Signer,
        project: u32,
        round: u32,
        model_cid: &[u8],
        submission: &Submission,
        decision_proof: &[u8],
    ) -> Result<crate::client::Weight> {
        let args = (project, round, model_cid, submission, decision_proof);
        let ((), _, weight) = self
            .exec_weighed::<()>(signer, "submit_chunked_round", args, 0)
            .await?;
        Ok(weight)
    }

    /// Verifies chunk proofs `first ..` of the submitted round in one batched check;
    /// returns how many are still due and the weight the call used.
    pub async fn verify_chunk_proofs(
        &self,
        signer: &Signer,
        project: u32,
        round: u32,
        first: u32,
        proofs: &[Vec<u8>],
    ) -> Result<(u32, crate::client::Weight)> {
        let args = (project, round, first, proofs);
        let (remaining, _, weight) = self
            .exec_weighed::<u32>(signer, "verify_chunk_proofs", args, 0)
            .await?;
        Ok((remaining, weight))
    }

    /// Applies a chunked round whose proofs have all verified; returns the events
    /// (RoundFinalized, and ProjectEnded after the last round) and the weight.
    pub async fn finalize_chunked_round(
        &self,
        signer: &Signer,
        project: u32,
        round: u32,
    ) -> Result<(Vec<MarketEvent>, crate::client::Weight)> {
        let ((), events, weight) = self
            .exec_weighed::<()>(signer, "finalize_chunked_round", (project, round), 0)
            .await?;
        Ok((self.decode_events(&events)?, weight))
    }

    /// Closes a chunked round, resuming where an earlier attempt stopped: submits (unless
    /// the chain already holds this very submission), verifies the chunk proofs still due
    /// in calls of `per_call`, then finalises. Returns the events and every call's weight.
    pub async fn finalize_chunked(
        &self,
        signer: &Signer,
        project: u32,
        f: &Finalization,
        per_call: usize,
    ) -> Result<(Vec<MarketEvent>, ChunkedWeights)> {
        let c = f.chunked.as_ref().ok_or_else(|| ChainError::Dispatch {
            call: "finalize_chunked".into(),
            detail: "the finalisation carries no chunk proofs".into(),
        })?;
        let mut weights = ChunkedWeights::default();
        let held = self.pending_round(project).await?.filter(|p| {
            p.round == f.round
                && p.model_cid == f.model_cid
                && p.submission == c.submission
                && p.model_commitment == f.model_commitment
        });
        let verified = match held {
            Some(p) => p.verified,
            None => {
                weights.submit = Some(
                    self.submit_chunked_round(
                        signer,
                        project,
                        f.round,
                        &f.model_cid,
                        &c.submission,
                        &f.proof,
                    )
                    .await?,
                );
                vec![false; c.chunk_proofs.len()]
            }
        };
        let mut k = 0;
        while k < c.chunk_proofs.len() {
            if verified.get(k).copied().unwrap_or(false) {
                k += 1;
                continue;
            }
            let mut end = k;
            while end < c.chunk_proofs.len()
                && end - k < per_call.max(1)
                && !verified.get(end).copied().unwrap_or(false)
            {
                end += 1;
            }
            let (_, w) = self
                .verify_chunk_proofs(signer, project, f.round, k as u32, &c.chunk_proofs[k..end])
                .await?;
            weights.verify.push(w);
            k = end;
        }
        let (events, w) = self
            .finalize_chunked_round(signer, project, f.round)
            .await?;
        weights.finalize = Some(w);
        Ok((events, weights))
    }

    pub async fn abort(&self, signer: &Signer, project: u32) -> Result<()> {
        self.exec::<()>(signer, "abort", project, 0).await?;
        Ok(())
    }

    /// Collects everything the signer is owed by an ended project; returns the amount paid,
    /// as the `Claimed` event of the including block says.
    pub async fn claim(&self, signer: &Signer, project: u32) -> Result<u128> {
        let me = account_of(signer).0;
        let (dry_amount, events) = self
            .exec_events::<u128>(signer, "claim", project, 0)
            .await?;
        Ok(events
            .iter()
            .find_map(|e| match e {
                MarketEvent::Claimed(c) if c.project == project && c.account == me => {
                    Some(c.amount)
                }
                _ => None,
            })
            .unwrap_or(dry_amount))
    }
}
