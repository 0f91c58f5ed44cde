//! The trainer's flow on chain and IPFS: join, then per round fetch and check the global
//! model, train, clip + quantise, publish, commit, reveal; claim at the end.
//!
//! [`TrainerNode::step`] reads the project once and does at most one thing, chosen by
//! [`crate::state::decide`] from the chain's view of our slot and the state file; every
//! step is safe to repeat, so [`run_trainer`] retries a failed step (RPC or IPFS down) with
//! backoff and a restarted node carries on where it stopped. The `Marketplace` is built by
//! the caller: this crate never decides how to reach the chain.

use crate::access::{BlobStore, MarketAccess};
use crate::behaviour::{self, Behaviour};
use crate::data::Dataset;
use crate::learner::{LearnError, Learner};
use crate::state::{decide, Action, Conflict, RoundState, StateError, StateFile};
use crate::TrainerError;
use merit_chain::client::account_of;
use merit_chain::{ChainError, Signer};
use merit_protocol::abi::{MarketError, Phase, ProjectView, SlotView};
use merit_protocol::chunked::Scheme;
use merit_protocol::commit::Commitment;
use merit_protocol::fixed::{self, ClipError};
use merit_protocol::format::{FormatError, Kind, ModelFile};
use merit_protocol::spec::{ProjectSpec, SpecError};
use merit_storage::{parse_cid, StorageError};
use rand::SeedableRng;
use std::path::PathBuf;
use std::time::Duration;

/// Largest model, update or spec file the node fetches (far above any provable model).
pub const MAX_FILE_BYTES: usize = 256 << 20;

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// Boxed: `ChainError` is large and most results here never carry it.
    #[error("the chain")]
    Chain(#[source] Box<ChainError>),
    #[error("IPFS")]
    Storage(#[from] StorageError),
    #[error("publishing the update")]
    Publish(#[from] TrainerError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("training")]
    Learn(#[from] LearnError),
    #[error("clipping and quantising the update")]
    Clip(#[from] ClipError),
    #[error("the project's spec {cid}")]
    Spec {
        cid: String,
        #[source]
        source: SpecError,
    },
    #[error("{what} {cid}")]
    Format {
        what: &'static str,
        cid: String,
        #[source]
        source: FormatError,
    },
    #[error("{what} {cid} is not UTF-8 / not a CID")]
    BadCidBytes { what: &'static str, cid: String },
    #[error("behaviour {0} exists only in `merit simulate`: a node cannot play it")]
    SimulateOnly(String),
    #[error("the global model {cid} does not open the on-chain model commitment; refusing to train on it")]
    ModelCommitment { cid: String },
    #[error("the project's chunked statement: {0}")]
    Chunking(merit_protocol::chunked::ChunkError),
    #[error("the global model {cid} does not have the spec's shape: {detail}")]
    ModelShape { cid: String, detail: String },
    #[error("this account has not joined project {project}, and it is {phase:?} (joining is only open while Open)")]
    NotJoined { project: u32, phase: Phase },
    #[error("round {round}: {conflict}")]
    Conflict { round: u32, conflict: Conflict },
    #[error("gave up after {attempts} failed attempts in a row; the last")]
    GaveUp {
        attempts: u32,
        #[source]
        last: Box<NodeError>,
    },
    #[error("local file {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl From<ChainError> for NodeError {
    fn from(e: ChainError) -> Self {
        Self::Chain(Box::new(e))
    }
}

impl NodeError {
    /// This error and each of its causes, once each (`a: b: c`), for a log line: the
    /// `Display` of an error leaves its cause to `source()`.
    pub fn with_causes(&self) -> String {
        merit_chain::with_causes(self)
    }

    /// Failures worth retrying: the node or the IPFS daemon did not answer.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Chain(e) => matches!(**e, ChainError::Rpc(_) | ChainError::Connect { .. }),
            Self::Storage(e) | Self::Publish(TrainerError::Storage(e)) => {
                matches!(e, StorageError::Unreachable { .. })
            }
            _ => false,
        }
    }
}

/// How to run one trainer.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub project: u32,
    pub behaviour: Behaviour,
    /// Directory of the state file (and of the node's own update files).
    pub state_dir: PathBuf,
    /// Seeds batch order and behaviour noise; with the same data and thread count, the
    /// same seed gives bit-identical updates.
    pub seed: u64,
    pub poll: Duration,
    /// Consecutive transient failures tolerated before giving up.
    pub max_retries: u32,
    /// Show an indicatif bar while training.
    pub progress: bool,
}

impl NodeConfig {
    pub fn new(project: u32, state_dir: impl Into<PathBuf>) -> Self {
        Self {
            project,
            behaviour: Behaviour::Honest,
            state_dir: state_dir.into(),
            seed: 0,
            poll: Duration::from_secs(2),
            max_retries: 30,
            progress: true,
        }
    }
}

/// What one [`TrainerNode::step`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Joined {
        slot: u32,
    },
    Committed {
        round: u32,
        commitment: Commitment,
        cid: String,
    },
    Revealed {
        round: u32,
        cid: String,
    },
    /// Recorded what the chain already showed (after a restart).
    Recorded {
        round: u32,
    },
    /// Answered the aggregator's set-aside of our reveal: the slot is back in the round.
    Answered {
        round: u32,
    },
    Waiting,
    /// The project ended; the node claimed what it was owed.
    Ended(Earnings),
}

/// What the node earned, once the project ended (`merit trainer run --json` prints it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Earnings {
    pub project: u32,
    pub phase: String,
    pub slot: Option<u32>,
    pub total_score: u32,
    pub rejected_rounds: u32,
    /// Paid out by this node's `claim` (0 if there was nothing, or it was claimed before).
    pub claimed: u128,
}

/// The current global model, checked against its on-chain commitment.
#[derive(Debug, Clone)]
pub struct GlobalModel {
    pub cid: String,
    pub file: ModelFile,
    /// `dequantise(values)`: the exact model the commitment covers, as f32.
    pub params: Vec<f32>,
}

struct Prepared {
    round: u32,
    values: Vec<i16>,
    bytes: Vec<u8>,
}

/// One trainer on one project.
pub struct TrainerNode<'a, L, M, S> {
    market: &'a M,
    ipfs: &'a S,
    signer: &'a Signer,
    account: [u8; 32],
    data: Dataset,
    learner: L,
    cfg: NodeConfig,
    state: StateFile,
    spec: Option<(Vec<u8>, ProjectSpec)>,
    prepared: Option<Prepared>,
    slot: Option<u32>,
    last_phase: Option<(u32, Phase)>,
    /// Rounds whose set-aside of our slot was answered, or cannot be (logged once).
    answered_rounds: std::collections::BTreeSet<u32>,
    /// The last round whose draw did not pick us (logged once per round).
    last_undrawn: Option<u32>,
}

fn cid_string(what: &'static str, bytes: &[u8]) -> Result<String, NodeError> {
    let s = std::str::from_utf8(bytes).map_err(|_| NodeError::BadCidBytes {
        what,
        cid: String::from_utf8_lossy(bytes).into_owned(),
    })?;
    parse_cid(s)?;
    Ok(s.to_string())
}

async fn fetch(ipfs: &impl BlobStore, cid: &str) -> Result<Vec<u8>, NodeError> {
    Ok(ipfs.fetch(cid, MAX_FILE_BYTES).await?)
}

/// The project's spec, from the CID on chain.
pub async fn load_spec(
    ipfs: &impl BlobStore,
    view: &ProjectView,
) -> Result<ProjectSpec, NodeError> {
    let cid = cid_string("spec CID", &view.params.spec_cid)?;
    let bytes = fetch(ipfs, &cid).await?;
    let text = String::from_utf8_lossy(&bytes);
    ProjectSpec::from_json(&text).map_err(|source| NodeError::Spec { cid, source })
}

/// The current global model from IPFS (the CID in the project view), refused unless it
/// opens the on-chain model commitment and has the spec's shape and scale.
pub async fn load_global(
    ipfs: &impl BlobStore,
    view: &ProjectView,
    spec: &ProjectSpec,
) -> Result<GlobalModel, NodeError> {
    let cid = cid_string("model CID", &view.model_cid)?;
    let bytes = fetch(ipfs, &cid).await?;
    let file = ModelFile::parse(&bytes).map_err(|source| NodeError::Format {
        what: "global model",
        cid: cid.clone(),
        source,
    })?;
    let scheme = commit_scheme(view)?;
    check_global(&cid, &file, view.model_commitment, &scheme, spec)?;
    let params = fixed::dequantise_all(&file.values, file.scale_bits)
        .map_err(|e| NodeError::Clip(e.into()))?;
    Ok(GlobalModel { cid, file, params })
}

/// How the project commits (whole vector, or chunks for a chunked project).
pub fn commit_scheme(view: &ProjectView) -> Result<Scheme, NodeError> {
    Scheme::of(view.chunked.as_ref()).map_err(NodeError::Chunking)
}

/// A global model file is usable iff it opens `commitment` and matches the spec.
pub fn check_global(
    cid: &str,
    file: &ModelFile,
    commitment: Commitment,
    scheme: &Scheme,
    spec: &ProjectSpec,
) -> Result<(), NodeError> {
    let shape = |detail: String| NodeError::ModelShape {
        cid: cid.into(),
        detail,
    };
    let opened = scheme
        .commit_model(&file.values)
        .map_err(|e| shape(e.to_string()))?;
    if opened != commitment {
        return Err(NodeError::ModelCommitment { cid: cid.into() });
    }
    if file.tensors != spec.tensor_shapes() {
        return Err(shape(format!(
            "tensors {:?}",
            file.tensors.iter().map(|t| &t.name).collect::<Vec<_>>()
        )));
    }
    if file.scale_bits != spec.fixed_point.scale_bits {
        return Err(shape(format!(
            "scale 2^-{} but the spec says 2^-{}",
            file.scale_bits, spec.fixed_point.scale_bits
        )));
    }
    Ok(())
}

/// The update file a trainer publishes for `values`.
pub fn update_file(spec: &ProjectSpec, values: Vec<i16>) -> ModelFile {
    ModelFile {
        kind: Kind::Update,
        scale_bits: spec.fixed_point.scale_bits,
        tensors: spec.tensor_shapes(),
        values,
        floats: None,
    }
}

/// A refusal that only means the phase moved on between our read and our write.
fn missed_window(e: MarketError) -> bool {
    matches!(
        e,
        MarketError::WrongPhase
            | MarketError::DeadlinePassed
            | MarketError::WrongRound
            | MarketError::NotDrawn
    )
}

/// Seed of one round's batch order and noise: a function of the node's seed and the
/// (project, round, slot), so every round draws differently and reruns draw the same.
pub fn round_seed(seed: u64, project: u32, round: u32, slot: u32) -> u64 {
    seed ^ (u64::from(project) << 42) ^ (u64::from(slot) << 21) ^ u64::from(round)
}

impl<'a, L: Learner, M: MarketAccess, S: BlobStore> TrainerNode<'a, L, M, S> {
    /// A node for `cfg.project`, opening (or starting) its state file. Label-flipping is
    /// applied to the data here, once.
    pub fn new(
        market: &'a M,
        ipfs: &'a S,
        signer: &'a Signer,
        mut data: Dataset,
        learner: L,
        cfg: NodeConfig,
    ) -> Result<Self, NodeError> {
        if !cfg.behaviour.node_plays() {
            return Err(NodeError::SimulateOnly(cfg.behaviour.to_string()));
        }
        let account = account_of(signer).0;
        let state = StateFile::open(&cfg.state_dir, cfg.project, &account)?;
        if !cfg.behaviour.is_honest() {
            tracing::warn!(behaviour = %cfg.behaviour, "SIMULATED MISBEHAVIOUR: this trainer is not honest (for simulations and tests only)");
        }
        if cfg.behaviour == Behaviour::LabelFlip {
            let classes = data.classes;
            data.labels
                .iter_mut()
                .for_each(|l| *l = behaviour::flip_label(*l, classes));
        }
        Ok(Self {
            market,
            ipfs,
            signer,
            account,
            data,
            learner,
            cfg,
            state,
            spec: None,
            prepared: None,
            slot: None,
            last_phase: None,
            answered_rounds: Default::default(),
            last_undrawn: None,
        })
    }

    pub fn account(&self) -> [u8; 32] {
        self.account
    }

    pub fn state(&self) -> &StateFile {
        &self.state
    }

    async fn spec(&mut self, view: &ProjectView) -> Result<ProjectSpec, NodeError> {
        if let Some((cid, spec)) = &self.spec {
            if *cid == view.params.spec_cid {
                return Ok(spec.clone());
            }
        }
        let spec = load_spec(self.ipfs, view).await?;
        self.spec = Some((view.params.spec_cid.clone(), spec.clone()));
        Ok(spec)
    }

    async fn my_slot(&mut self) -> Result<Option<u32>, NodeError> {
        if self.slot.is_none() {
            let me = self
                .market
                .trainer_of(self.cfg.project, &self.account)
                .await?;
            self.slot = me.map(|t| t.slot);
        }
        Ok(self.slot)
    }

    /// Reads the project once and does at most one thing.
    pub async fn step(&mut self) -> Result<Step, NodeError> {
        let project = self.cfg.project;
        let view = self.market.project(project).await?;
        if self.last_phase != Some((view.round, view.phase)) {
            self.last_phase = Some((view.round, view.phase));
            tracing::info!(
                project,
                round = view.round,
                rounds = view.params.rounds,
                phase = ?view.phase,
                committed = view.committed,
                revealed = view.revealed,
                "project {project}: round {}/{}, {:?}",
                view.round,
                view.params.rounds,
                view.phase
            );
        }
        if view.phase.is_terminal() {
            return Ok(Step::Ended(self.claim(&view).await?));
        }
        let Some(slot) = self.my_slot().await? else {
            if view.phase != Phase::Open {
                return Err(NodeError::NotJoined {
                    project,
                    phase: view.phase,
                });
            }
            let stake = view.params.trainer_stake;
            let slot = match self.market.join(self.signer, project, stake).await {
                Ok(s) => s,
                Err(ChainError::Contract {
                    error: MarketError::AlreadyJoined,
                    ..
                }) => {
                    self.slot = None;
                    return Ok(Step::Waiting);
                }
                Err(e) => return Err(e.into()),
            };
            self.slot = Some(slot);
            tracing::info!(project, slot, stake, "joined with the exact stake");
            return Ok(Step::Joined { slot });
        };
        if view.phase == Phase::Aggregate {
            return self.answer_set_aside(&view, slot).await;
        }
        if !matches!(view.phase, Phase::Commit | Phase::Reveal) {
            return Ok(Step::Waiting);
        }
        let round = view.round;
        // The round's drawn slots; a trainer the draw did not pick waits for a round that
        // does (nothing is lost meanwhile).
        let slots = self.market.round_slots(project, round).await?;
        let Some(mine) = slots.iter().find(|s| s.trainer == slot).cloned() else {
            if self.last_undrawn != Some(round) {
                self.last_undrawn = Some(round);
                tracing::info!(
                    round,
                    "not drawn for round {round}: waiting for the next draw"
                );
            }
            return Ok(Step::Waiting);
        };
        match decide(view.phase, &mine, self.state.round(round)) {
            Action::Wait => Ok(Step::Waiting),
            Action::Conflict(conflict) => Err(NodeError::Conflict { round, conflict }),
            Action::Prepare => self.commit_round(&view, slot).await,
            Action::CommitStored(c) => {
                tracing::info!(round, "re-sending the stored commitment (no retraining)");
                self.send_commit(round, c).await
            }
            Action::MarkCommitted => {
                self.state.update(round, |r| RoundState {
                    committed: true,
                    ..r.expect("decide saw a record")
                })?;
                Ok(Step::Recorded { round })
            }
            Action::Reveal(cid) => self.reveal_round(round, cid, &slots).await,
            Action::MarkRevealed(cid) => {
                let cid = String::from_utf8_lossy(&cid).into_owned();
                self.state.update(round, |r| RoundState {
                    committed: true,
                    revealed: true,
                    revealed_cid: Some(cid),
                    ..r.expect("decide saw a record")
                })?;
                Ok(Step::Recorded { round })
            }
        }
    }

    /// Commit phase, fresh round: fetch and check the global model, compute the update
    /// (train, clip, quantise, shaped by the behaviour), publish it pinned, record it,
    /// then commit on chain.
    pub async fn commit_round(&mut self, view: &ProjectView, slot: u32) -> Result<Step, NodeError> {
        let round = view.round;
        let scheme = commit_scheme(view)?;
        let (values, bytes) = match self.prepared.take().filter(|p| p.round == round) {
            Some(p) => (p.values, p.bytes),
            None => {
                let spec = self.spec(view).await?;
                let global = load_global(self.ipfs, view, &spec).await?;
                let values = self.compute_update(&spec, &global, round, slot).await?;
                let bytes = update_file(&spec, values.clone()).encode();
                (values, bytes)
            }
        };
        // Kept until the commit is recorded, so a failed upload does not retrain.
        self.prepared = Some(Prepared {
            round,
            values: values.clone(),
            bytes: bytes.clone(),
        });
        let cid = self.ipfs.publish(bytes.clone()).await?;
        let commitment = scheme
            .commit_update(&self.account, &values)
            .map_err(NodeError::Chunking)?;
        let path = self.state.update_file(round);
        crate::state::write_atomically(&path, &bytes)
            .map_err(|source| NodeError::Io { path, source })?;
        self.state.update(round, |_| RoundState {
            cid: cid.clone(),
            commitment,
            committed: false,
            revealed: false,
            revealed_cid: None,
        })?;
        self.prepared = None;
        tracing::info!(round, %cid, commitment = %hex::encode(commitment.0), "update published and recorded");
        self.send_commit(round, commitment).await
    }

    async fn send_commit(&mut self, round: u32, c: Commitment) -> Result<Step, NodeError> {
        match self
            .market
            .commit_update(self.signer, self.cfg.project, round, c)
            .await
        {
            Ok(()) => {}
            // An earlier attempt landed after all: the next step records it.
            Err(ChainError::Contract {
                error: MarketError::AlreadyCommitted,
                ..
            }) => return Ok(Step::Waiting),
            // The phase ended while we trained or published: this round is missed, the
            // record stays (unrevealable, harmless), the node goes on with the next one.
            Err(ChainError::Contract { error, .. }) if missed_window(error) => {
                tracing::warn!(round, %error, "missed the commit window");
                return Ok(Step::Waiting);
            }
            Err(e) => return Err(e.into()),
        }
        let cid = self
            .state
            .round(round)
            .map(|r| r.cid.clone())
            .unwrap_or_default();
        self.state.update(round, |r| RoundState {
            committed: true,
            ..r.expect("recorded before committing")
        })?;
        tracing::info!(round, %cid, "committed");
        Ok(Step::Committed {
            round,
            commitment: c,
            cid,
        })
    }

    /// Reveal phase: reveal the stored CID (or, under `copy:SLOT`, that slot's revealed
    /// CID once it is there) and record it.
    pub async fn reveal_round(
        &mut self,
        round: u32,
        own_cid: String,
        slots: &[SlotView],
    ) -> Result<Step, NodeError> {
        let cid = match self.cfg.behaviour {
            Behaviour::Copy(target) if Some(target) != self.slot => {
                match slots
                    .iter()
                    .find(|s| s.trainer == target)
                    .and_then(|s| s.cid.clone())
                {
                    Some(c) => {
                        let c = String::from_utf8_lossy(&c).into_owned();
                        tracing::warn!(round, target, cid = %c, "SIMULATED MISBEHAVIOUR: revealing another trainer's CID");
                        c
                    }
                    None => {
                        tracing::info!(round, target, "copy: waiting for slot {target} to reveal");
                        return Ok(Step::Waiting);
                    }
                }
            }
            _ => own_cid,
        };
        match self
            .market
            .reveal_update(self.signer, self.cfg.project, round, cid.as_bytes())
            .await
        {
            Ok(()) => {}
            Err(ChainError::Contract {
                error: MarketError::AlreadyRevealed,
                ..
            }) => return Ok(Step::Waiting),
            Err(ChainError::Contract { error, .. }) if missed_window(error) => {
                tracing::warn!(round, %error, "missed the reveal window (the stake is forfeited)");
                return Ok(Step::Waiting);
            }
            Err(e) => return Err(e.into()),
        }
        self.state.update(round, |r| RoundState {
            committed: true,
            revealed: true,
            revealed_cid: Some(cid.clone()),
            ..r.expect("decide saw a record")
        })?;
        tracing::info!(round, %cid, "revealed");
        Ok(Step::Revealed { round, cid })
    }

    /// The fixed-point update for `round`, as the behaviour shapes it.
    async fn compute_update(
        &mut self,
        spec: &ProjectSpec,
        global: &GlobalModel,
        round: u32,
        slot: u32,
    ) -> Result<Vec<i16>, NodeError> {
        let seed = round_seed(self.cfg.seed, self.cfg.project, round, slot);
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x006e_6f69_7365);
        let (clip, scale) = (spec.training.clip_norm, spec.fixed_point.scale_bits);
        let b = self.cfg.behaviour;
        // The one hook for the simulated attacks that work from earlier rounds' updates;
        // the honest path never enters it.
        if !b.is_honest() {
            if let Some(v) = self
                .attack_from_history(b, spec, round, slot, global.params.len(), &mut rng)
                .await?
            {
                return Ok(v);
            }
        }
        let delta = if b.trains() || b == Behaviour::Replay {
            let local = self.train(&global.params, seed)?;
            local
                .iter()
                .zip(&global.params)
                .map(|(l, g)| l - g)
                .collect()
        } else {
            tracing::warn!(round, behaviour = %b, "SIMULATED MISBEHAVIOUR: not training");
            vec![0.0; global.params.len()]
        };
        if !b.is_honest() && b.trains() {
            tracing::warn!(round, behaviour = %b, "SIMULATED MISBEHAVIOUR: shaping the update");
        }
        Ok(behaviour::shape_update(b, &delta, clip, scale, &mut rng)?)
    }

    /// A simulated attack built from earlier rounds (`replay`, `stale-copy`, `grief`), or
    /// `None` for every other behaviour. With nothing to copy yet (round 0), a copier
    /// looks like a free-rider.
    async fn attack_from_history(
        &mut self,
        b: Behaviour,
        spec: &ProjectSpec,
        round: u32,
        slot: u32,
        dim: usize,
        rng: &mut rand::rngs::StdRng,
    ) -> Result<Option<Vec<i16>>, NodeError> {
        let (clip, scale) = (spec.training.clip_norm, spec.fixed_point.scale_bits);
        if round > 0 {
            match b {
                Behaviour::Replay => {
                    if let Some(v) = self.own_update(round - 1)? {
                        tracing::warn!(
                            round,
                            "SIMULATED MISBEHAVIOUR: replaying last round's update"
                        );
                        return Ok(Some(v));
                    }
                }
                Behaviour::StaleCopy(target) => {
                    if let Some(v) = self.previous_update_of(round - 1, slot, target).await? {
                        tracing::warn!(
                            round,
                            "SIMULATED MISBEHAVIOUR: stale copy of another trainer's last update"
                        );
                        return Ok(Some(behaviour::stale_copy(&v, clip, scale, rng)?));
                    }
                }
                Behaviour::Grief(victim) => {
                    if let Some(v) = self
                        .previous_update_of(round - 1, slot, Some(victim))
                        .await?
                    {
                        tracing::warn!(
                            round,
                            victim,
                            "SIMULATED MISBEHAVIOUR: resubmitting the victim's last update"
                        );
                        return Ok(Some(behaviour::grief(&v, clip, scale, rng)?));
                    }
                }
                _ => {}
            }
        }
        if matches!(b, Behaviour::StaleCopy(_) | Behaviour::Grief(_)) {
            let zeros = vec![0.0; dim];
            return Ok(Some(behaviour::shape_update(
                Behaviour::FreeRider,
                &zeros,
                clip,
                scale,
                rng,
            )?));
        }
        Ok(None)
    }

    fn train(&mut self, global: &[f32], seed: u64) -> Result<Vec<f32>, NodeError> {
        let bar = if self.cfg.progress {
            indicatif::ProgressBar::new(0)
        } else {
            indicatif::ProgressBar::hidden()
        };
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "training {bar:30} {pos}/{len} batches ({elapsed})",
            )
            .expect("template"),
        );
        let t = std::time::Instant::now();
        let out = self
            .learner
            .train(global, &self.data, seed, &mut |done, total| {
                bar.set_length(total);
                bar.set_position(done);
            })?;
        bar.finish_and_clear();
        tracing::info!(
            rows = self.data.len(),
            seconds = t.elapsed().as_secs_f64(),
            "trained"
        );
        Ok(out)
    }

    /// While the round aggregates: if the aggregator set our reveal aside, answer with the
    /// update we kept, which opens our commitment, so the contract puts the slot back in
    /// the round (SPEC §11). A refusal (window closed, no update kept) is logged once, not
    /// fatal: the node goes on.
    async fn answer_set_aside(&mut self, view: &ProjectView, slot: u32) -> Result<Step, NodeError> {
        let (project, round) = (self.cfg.project, view.round);
        // The simulated copier revealed another's file on purpose; answering with the noise
        // it committed would only make it the free-rider `free-rider` already plays.
        if self.answered_rounds.contains(&round) || matches!(self.cfg.behaviour, Behaviour::Copy(_))
        {
            return Ok(Step::Waiting);
        }
        let slots = self.market.round_slots(project, round).await?;
        let Some(mine) = slots.iter().find(|s| s.trainer == slot && s.set_aside) else {
            return Ok(Step::Waiting);
        };
        // The answer names the round's slot, which the draw gave us.
        let slot = mine.slot;
        tracing::warn!(
            round,
            answer_until = mine.answer_until,
            "the aggregator set our reveal aside; answering with the update we committed to"
        );
        self.answered_rounds.insert(round);
        let Some(values) = self.own_update(round)? else {
            tracing::warn!(round, "no update file kept for this round: cannot answer");
            return Ok(Step::Waiting);
        };
        let chunk = view.chunked.map(|c| c.chunk as usize);
        match self
            .market
            .answer_set_aside(self.signer, project, (round, slot), &values, chunk)
            .await
        {
            Ok(a) => {
                tracing::info!(
                    round,
                    calls = a.weights.len(),
                    "set-aside answered: our slot is back in the round"
                );
                Ok(Step::Answered { round })
            }
            Err(e @ ChainError::Contract { .. }) => {
                tracing::warn!(
                    round,
                    "the set-aside could not be answered: {}",
                    merit_chain::with_causes(&e)
                );
                Ok(Step::Waiting)
            }
            Err(e) => {
                // Unreachable services: try again at the next poll.
                self.answered_rounds.remove(&round);
                Err(e.into())
            }
        }
    }

    /// Our own update file of an earlier round, if we kept it.
    fn own_update(&self, round: u32) -> Result<Option<Vec<i16>>, NodeError> {
        let path = self.state.update_file(round);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(NodeError::Io { path, source }),
        };
        let file = ModelFile::parse(&bytes).map_err(|source| NodeError::Format {
            what: "own update file",
            cid: path.display().to_string(),
            source,
        })?;
        Ok(Some(file.values))
    }

    /// Another slot's revealed update of `round` (the `target`, else the lowest other
    /// present slot), from chain + IPFS.
    async fn previous_update_of(
        &self,
        round: u32,
        me: u32,
        target: Option<u32>,
    ) -> Result<Option<Vec<i16>>, NodeError> {
        let slots = self.market.round_slots(self.cfg.project, round).await?;
        let pick = slots
            .iter()
            .find(|s| s.trainer != me && s.present() && target.is_none_or(|t| t == s.trainer));
        let Some(cid) = pick.and_then(|s| s.cid.as_deref()) else {
            return Ok(None);
        };
        let cid = cid_string("revealed CID", cid)?;
        let bytes = fetch(self.ipfs, &cid).await?;
        let file = ModelFile::parse(&bytes).map_err(|source| NodeError::Format {
            what: "another trainer's update",
            cid,
            source,
        })?;
        Ok(Some(file.values))
    }

    async fn claim(&mut self, view: &ProjectView) -> Result<Earnings, NodeError> {
        let project = self.cfg.project;
        let me = merit_chain::AccountId32(self.account);
        let owed = self.market.claimable(project, &me).await?;
        let claimed = if owed > 0 {
            match self.market.claim(self.signer, project).await {
                Ok(amount) => amount,
                Err(ChainError::Contract {
                    error: MarketError::NothingToClaim,
                    ..
                }) => 0,
                Err(e) => return Err(e.into()),
            }
        } else {
            0
        };
        let me = self.market.trainer_of(project, &self.account).await?;
        let t = me.as_ref();
        let earnings = Earnings {
            project,
            phase: format!("{:?}", view.phase),
            slot: t.map(|t| t.slot),
            total_score: t.map_or(0, |t| t.total_score),
            rejected_rounds: t.map_or(0, |t| t.rejected_rounds),
            claimed,
        };
        tracing::info!(?earnings, "project ended; claimed");
        Ok(earnings)
    }
}

/// Runs `node` until the project ends: one [`TrainerNode::step`] per poll, transient
/// failures retried with exponential backoff (up to `max_retries` in a row). Returns what
/// was earned (and claimed).
pub async fn run_trainer<L: Learner, M: MarketAccess, S: BlobStore>(
    mut node: TrainerNode<'_, L, M, S>,
) -> Result<Earnings, NodeError> {
    let mut failures = 0u32;
    let mut backoff = node.cfg.poll;
    loop {
        match node.step().await {
            Ok(Step::Ended(e)) => return Ok(e),
            Ok(step) => {
                failures = 0;
                backoff = node.cfg.poll;
                if matches!(step, Step::Waiting) {
                    tokio::time::sleep(node.cfg.poll).await;
                }
            }
            Err(e) if e.is_transient() => {
                failures += 1;
                if failures > node.cfg.max_retries {
                    return Err(NodeError::GaveUp {
                        attempts: failures,
                        last: Box::new(e),
                    });
                }
                tracing::warn!(attempt = failures, retry_in = ?backoff, "{}", e.with_causes());
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests;
