//! The trainer node's flow against an in-memory marketplace and content store: a whole
//! project to the claim, crashes around the commit (no retraining, no second commit),
//! a tampered state file (no reveal), transient IPFS failures (retried, not retrained),
//! and the `copy` behaviour revealing another slot's CID.
//!
//! The fake market implements only the phase rules a trainer sees: joining opens the
//! first round once every expected trainer joined; Commit → Reveal once all committed;
//! Reveal → the next round (or Finished) once all committers revealed.

use merit_chain::client::account_of;
use merit_chain::{dev_signer, AccountId32, ChainError, Signer};
use merit_protocol::abi::{
    Deadlines, MarketError, Phase, ProjectParams, ProjectView, SlotView, TrainerView,
};
use merit_protocol::commit::{Commitment, Committer};
use merit_protocol::fixed;
use merit_protocol::format::{Kind, ModelFile};
use merit_protocol::spec::{ModelArch, ProjectSpec};
use merit_storage::StorageError;
use merit_trainer::access::{BlobStore, MarketAccess};
use merit_trainer::behaviour::Behaviour;
use merit_trainer::data::Dataset;
use merit_trainer::learner::{LearnError, Learner, Progress};
use merit_trainer::node::{run_trainer, NodeConfig, NodeError, Step, TrainerNode};
use merit_trainer::state::{Conflict, StateFile};
use merit_trainer::TrainerError;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const STAKE: u128 = 1_000;
const PROJECT: u32 = 0;

// ---------------------------------------------------------------- fakes

#[derive(Default)]
struct Store {
    blobs: Mutex<HashMap<String, Vec<u8>>>,
    /// The next this-many publishes fail as if the daemon were down.
    fail_publishes: AtomicUsize,
    publishes: AtomicUsize,
}

fn cid_of(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    let mh = cid::multihash::Multihash::<64>::wrap(0x12, &digest).unwrap();
    cid::Cid::new_v1(0x55, mh).to_string()
}

impl Store {
    fn put(&self, bytes: Vec<u8>) -> String {
        let cid = cid_of(&bytes);
        self.blobs.lock().unwrap().insert(cid.clone(), bytes);
        cid
    }
}

impl BlobStore for Store {
    async fn publish(&self, bytes: Vec<u8>) -> Result<String, TrainerError> {
        if self
            .fail_publishes
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(TrainerError::Storage(StorageError::Unreachable {
                url: "fake".into(),
                reason: "down".into(),
            }));
        }
        self.publishes.fetch_add(1, Ordering::SeqCst);
        Ok(self.put(bytes))
    }

    async fn fetch(&self, cid: &str, limit: usize) -> Result<Vec<u8>, StorageError> {
        let b = self.blobs.lock().unwrap().get(cid).cloned();
        let b = b.ok_or_else(|| StorageError::Api {
            url: "fake".into(),
            op: "cat",
            reason: format!("{cid} not found"),
        })?;
        if b.len() > limit {
            return Err(StorageError::TooLarge {
                cid: cid.into(),
                limit,
            });
        }
        Ok(b)
    }
}

#[derive(Default, Clone, Copy, PartialEq, Eq, Debug)]
enum CommitFault {
    #[default]
    None,
    /// Apply the commit, then report a dropped connection (the node cannot know it landed).
    LandThenDrop,
    /// Refuse without applying, with a non-transient error (the node stops: a "crash").
    RefuseHard,
    /// Refuse as if the commit deadline had just passed.
    Late,
}

struct Market {
    inner: Mutex<Inner>,
}

struct Inner {
    view: ProjectView,
    expected: u32,
    joined: Vec<[u8; 32]>,
    commits: BTreeMap<(u32, u32), Commitment>,
    reveals: BTreeMap<(u32, u32), Vec<u8>>,
    commit_calls: usize,
    fault: CommitFault,
    claimed: Vec<[u8; 32]>,
}

fn refuse(message: &'static str, error: MarketError) -> ChainError {
    ChainError::Contract { message, error }
}

impl Market {
    fn new(view: ProjectView, expected: u32) -> Self {
        Self {
            inner: Mutex::new(Inner {
                view,
                expected,
                joined: vec![],
                commits: BTreeMap::new(),
                reveals: BTreeMap::new(),
                commit_calls: 0,
                fault: CommitFault::None,
                claimed: vec![],
            }),
        }
    }

    fn set_fault(&self, f: CommitFault) {
        self.inner.lock().unwrap().fault = f;
    }

    fn slot_of(i: &Inner, who: &[u8; 32]) -> Option<u32> {
        i.joined.iter().position(|a| a == who).map(|s| s as u32)
    }
}

impl MarketAccess for Market {
    async fn answer_set_aside(
        &self,
        _signer: &Signer,
        _project: u32,
        _at: (u32, u32),
        _values: &[i16],
        _chunk: Option<usize>,
    ) -> Result<merit_chain::Answered, ChainError> {
        // This fake never sets a reveal aside (the embedded-chain tests do).
        Err(refuse("answer_set_aside", MarketError::NotSetAside))
    }

    async fn project(&self, _id: u32) -> Result<ProjectView, ChainError> {
        let i = self.inner.lock().unwrap();
        let mut v = i.view.clone();
        let r = v.round;
        v.trainers = i.joined.len() as u32;
        v.committed = i.commits.keys().filter(|k| k.0 == r).count() as u32;
        v.revealed = i.reveals.keys().filter(|k| k.0 == r).count() as u32;
        Ok(v)
    }

    async fn trainer_of(&self, _p: u32, who: &[u8; 32]) -> Result<Option<TrainerView>, ChainError> {
        let i = self.inner.lock().unwrap();
        Ok(Self::slot_of(&i, who).map(|s| TrainerView {
            slot: s,
            account: *who,
            total_score: 500,
            rejected_rounds: 0,
            missed_reveal: false,
            rounds_drawn: 0,
        }))
    }

    async fn round_slots(&self, _p: u32, round: u32) -> Result<Vec<SlotView>, ChainError> {
        let i = self.inner.lock().unwrap();
        Ok(i.joined
            .iter()
            .enumerate()
            .map(|(s, a)| SlotView {
                slot: s as u32,
                trainer: s as u32,
                account: *a,
                commitment: i.commits.get(&(round, s as u32)).copied(),
                cid: i.reveals.get(&(round, s as u32)).cloned(),
                set_aside: false,
                answer_until: 0,
                answered: false,
            })
            .collect())
    }

    async fn join(&self, signer: &Signer, _p: u32, stake: u128) -> Result<u32, ChainError> {
        let me = account_of(signer).0;
        let mut i = self.inner.lock().unwrap();
        if i.view.phase != Phase::Open {
            return Err(refuse("join", MarketError::WrongPhase));
        }
        if stake != i.view.params.trainer_stake {
            return Err(refuse("join", MarketError::WrongValue));
        }
        if i.joined.contains(&me) {
            return Err(refuse("join", MarketError::AlreadyJoined));
        }
        i.joined.push(me);
        if i.joined.len() as u32 == i.expected {
            i.view.phase = Phase::Commit;
        }
        Ok(i.joined.len() as u32 - 1)
    }

    async fn commit_update(
        &self,
        signer: &Signer,
        _p: u32,
        round: u32,
        c: Commitment,
    ) -> Result<(), ChainError> {
        let me = account_of(signer).0;
        let mut i = self.inner.lock().unwrap();
        if i.fault == CommitFault::RefuseHard {
            i.fault = CommitFault::None;
            return Err(ChainError::Dispatch {
                call: "commit_update".into(),
                detail: "the node crashed here".into(),
            });
        }
        if i.fault == CommitFault::Late {
            i.fault = CommitFault::None;
            return Err(refuse("commit_update", MarketError::DeadlinePassed));
        }
        if i.view.phase != Phase::Commit || round != i.view.round {
            return Err(refuse("commit_update", MarketError::WrongPhase));
        }
        let slot =
            Self::slot_of(&i, &me).ok_or(refuse("commit_update", MarketError::NotTrainer))?;
        if i.commits.contains_key(&(round, slot)) {
            return Err(refuse("commit_update", MarketError::AlreadyCommitted));
        }
        i.commits.insert((round, slot), c);
        i.commit_calls += 1;
        if i.commits.keys().filter(|k| k.0 == round).count() == i.joined.len() {
            i.view.phase = Phase::Reveal;
        }
        if i.fault == CommitFault::LandThenDrop {
            i.fault = CommitFault::None;
            return Err(ChainError::Rpc(Box::new(
                "connection reset".to_string().into(),
            )));
        }
        Ok(())
    }

    async fn reveal_update(
        &self,
        signer: &Signer,
        _p: u32,
        round: u32,
        cid: &[u8],
    ) -> Result<(), ChainError> {
        let me = account_of(signer).0;
        let mut i = self.inner.lock().unwrap();
        if i.view.phase != Phase::Reveal || round != i.view.round {
            return Err(refuse("reveal_update", MarketError::WrongPhase));
        }
        let slot =
            Self::slot_of(&i, &me).ok_or(refuse("reveal_update", MarketError::NotTrainer))?;
        if !i.commits.contains_key(&(round, slot)) {
            return Err(refuse("reveal_update", MarketError::NotCommitted));
        }
        if i.reveals.contains_key(&(round, slot)) {
            return Err(refuse("reveal_update", MarketError::AlreadyRevealed));
        }
        i.reveals.insert((round, slot), cid.to_vec());
        let committers = i.commits.keys().filter(|k| k.0 == round).count();
        if i.reveals.keys().filter(|k| k.0 == round).count() == committers {
            // The aggregator's part, instantly: the model stays as it is.
            i.view.round += 1;
            i.view.phase = if i.view.round == i.view.params.rounds {
                Phase::Finished
            } else {
                Phase::Commit
            };
        }
        Ok(())
    }

    async fn claimable(&self, _p: u32, who: &AccountId32) -> Result<u128, ChainError> {
        let i = self.inner.lock().unwrap();
        let owed = i.view.phase == Phase::Finished
            && i.joined.contains(&who.0)
            && !i.claimed.contains(&who.0);
        Ok(if owed { STAKE + 100 } else { 0 })
    }

    async fn claim(&self, signer: &Signer, p: u32) -> Result<u128, ChainError> {
        let me = account_of(signer);
        let owed = self.claimable(p, &me).await?;
        if owed == 0 {
            return Err(refuse("claim", MarketError::NothingToClaim));
        }
        self.inner.lock().unwrap().claimed.push(me.0);
        Ok(owed)
    }
}

/// Adds 0.01 × (i mod 5 − 2) to every parameter; counts its calls; may refuse to train.
#[derive(Clone)]
struct FakeLearner {
    calls: Arc<AtomicUsize>,
    forbid: bool,
    params: usize,
}

impl Learner for FakeLearner {
    fn parameter_count(&self) -> usize {
        self.params
    }

    fn train(
        &mut self,
        global: &[f32],
        _data: &Dataset,
        seed: u64,
        progress: Progress<'_>,
    ) -> Result<Vec<f32>, LearnError> {
        assert!(!self.forbid, "this node must not train again");
        self.calls.fetch_add(1, Ordering::SeqCst);
        progress(1, 1);
        Ok(global
            .iter()
            .enumerate()
            .map(|(i, g)| g + 0.01 * ((i as u64 + seed) % 5) as f32 - 0.02)
            .collect())
    }

    fn accuracy(&self, _: &[f32], _: &Dataset) -> Result<f32, LearnError> {
        Ok(1.0)
    }
}

// ---------------------------------------------------------------- world

struct World {
    market: Market,
    store: Store,
    spec: ProjectSpec,
    dir: tempfile::TempDir,
    calls: Arc<AtomicUsize>,
}

fn spec() -> ProjectSpec {
    let mut s = ProjectSpec::from_json(include_str!("../../examples/digits-spec.json")).unwrap();
    s.features.inputs = 4;
    s.features.classes = 3;
    s.model = ModelArch::Mlp {
        input: 4,
        hidden: vec![5],
        classes: 3,
    };
    s.rounds = 2;
    s
}

impl World {
    fn new(trainers: u32, rounds: u32) -> Self {
        let mut spec = spec();
        spec.rounds = rounds;
        spec.max_rejected_rounds = 0;
        let store = Store::default();
        let spec_cid = store.put(spec.to_json().into_bytes());
        let floats: Vec<f32> = (0..spec.parameter_count())
            .map(|i| (i % 7) as f32 * 0.05 - 0.15)
            .collect();
        let values = fixed::quantise_all(&floats, spec.fixed_point.scale_bits).unwrap();
        let model = ModelFile {
            kind: Kind::Model,
            scale_bits: spec.fixed_point.scale_bits,
            tensors: spec.tensor_shapes(),
            values,
            floats: None,
        };
        let commitment = Committer::new().commit_model(&model.values);
        let model_cid = store.put(model.encode());
        let params = ProjectParams {
            spec_cid: spec_cid.into_bytes(),
            model_cid: model_cid.clone().into_bytes(),
            model_commitment: commitment,
            proving_key_cid: b"bafkreiprovingkey".to_vec(),
            rounds,
            min_trainers: trainers,
            slots: 8,
            trainer_stake: STAKE,
            aggregator: [9; 32],
            aggregator_fee: 0,
            aggregator_bond: 0,
            max_rejected_rounds: 0,
            deadlines: Deadlines {
                join: 10,
                commit: 10,
                reveal: 10,
                aggregate: 10,
            },
        };
        let view = ProjectView {
            id: PROJECT,
            owner: [1; 32],
            params,
            pool: 1_000_000,
            phase: Phase::Open,
            round: 0,
            created_at: 1,
            phase_deadline: 11,
            trainers: 0,
            drawn: 0,
            committed: 0,
            revealed: 0,
            aggregator_bonded: true,
            model_cid: model_cid.into_bytes(),
            model_commitment: commitment,
            verifying_key: Vec::new(),
            chunked: None,
        };
        Self {
            market: Market::new(view, trainers),
            store,
            spec,
            dir: tempfile::tempdir().unwrap(),
            calls: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn data(&self) -> Dataset {
        let mut d = Dataset::new(4, 3);
        for i in 0..12 {
            d.push(&[i as f32, 0.0, 1.0, 2.0], (i % 3) as u32);
        }
        d
    }

    fn learner(&self, forbid: bool) -> FakeLearner {
        FakeLearner {
            calls: self.calls.clone(),
            forbid,
            params: self.spec.parameter_count() as usize,
        }
    }

    fn node<'a>(
        &'a self,
        signer: &'a Signer,
        behaviour: Behaviour,
        forbid_training: bool,
    ) -> TrainerNode<'a, FakeLearner, Market, Store> {
        let mut cfg = NodeConfig::new(PROJECT, self.dir.path());
        cfg.behaviour = behaviour;
        cfg.poll = Duration::from_millis(1);
        cfg.progress = false;
        cfg.seed = 3;
        TrainerNode::new(
            &self.market,
            &self.store,
            signer,
            self.data(),
            self.learner(forbid_training),
            cfg,
        )
        .unwrap()
    }

    fn commitment(&self, round: u32, slot: u32) -> Option<Commitment> {
        self.market
            .inner
            .lock()
            .unwrap()
            .commits
            .get(&(round, slot))
            .copied()
    }

    fn revealed(&self, round: u32, slot: u32) -> Option<String> {
        let i = self.market.inner.lock().unwrap();
        i.reveals
            .get(&(round, slot))
            .map(|c| String::from_utf8(c.clone()).unwrap())
    }

    /// The values in the file behind `cid`.
    fn values(&self, cid: &str) -> Vec<i16> {
        let bytes = self.store.blobs.lock().unwrap()[cid].clone();
        let f = ModelFile::parse(&bytes).unwrap();
        assert_eq!(f.kind, Kind::Update);
        assert_eq!(f.tensors, self.spec.tensor_shapes());
        f.values
    }
}

async fn step_until<L: Learner>(
    node: &mut TrainerNode<'_, L, Market, Store>,
    done: impl Fn(&Step) -> bool,
) -> Step {
    for _ in 0..100 {
        let s = node.step().await.unwrap();
        if done(&s) {
            return s;
        }
    }
    panic!("the node never got there");
}

// ---------------------------------------------------------------- tests

#[tokio::test(flavor = "current_thread")]
async fn a_node_runs_a_whole_project_and_claims() {
    let w = World::new(1, 2);
    let bob = dev_signer("bob").unwrap();
    let earned = run_trainer(w.node(&bob, Behaviour::Honest, false))
        .await
        .unwrap();
    assert_eq!(earned.claimed, STAKE + 100);
    assert_eq!((earned.slot, earned.total_score), (Some(0), 500));
    assert_eq!(earned.phase, "Finished");
    assert_eq!(w.calls.load(Ordering::SeqCst), 2, "one training per round");
    let me = account_of(&bob).0;
    let state = StateFile::open(w.dir.path(), PROJECT, &me).unwrap();
    for round in 0..2 {
        let cid = w.revealed(round, 0).expect("revealed");
        let values = w.values(&cid);
        assert!(values.iter().any(|&v| v != 0));
        // The revealed file opens the on-chain commitment, bound to this account.
        assert_eq!(
            Some(Committer::new().commit_update(&me, &values)),
            w.commitment(round, 0)
        );
        let r = state.round(round).unwrap();
        assert!(r.committed && r.revealed);
        assert_eq!(r.cid, cid);
    }
    // Ended projects are claimed once; a rerun finds nothing more.
    let again = run_trainer(w.node(&bob, Behaviour::Honest, true))
        .await
        .unwrap();
    assert_eq!(again.claimed, 0);
}

#[tokio::test(flavor = "current_thread")]
async fn a_commit_that_lands_while_the_connection_drops_is_recorded_not_resent() {
    let w = World::new(1, 1);
    let bob = dev_signer("bob").unwrap();
    w.market.set_fault(CommitFault::LandThenDrop);
    let earned = run_trainer(w.node(&bob, Behaviour::Honest, false))
        .await
        .unwrap();
    assert_eq!(earned.claimed, STAKE + 100);
    assert_eq!(w.calls.load(Ordering::SeqCst), 1, "trained once");
    assert_eq!(w.market.inner.lock().unwrap().commit_calls, 1);
    let cid = w.revealed(0, 0).unwrap();
    assert_eq!(w.store.publishes.load(Ordering::SeqCst), 1);
    assert_eq!(
        Some(Committer::new().commit_update(&account_of(&bob).0, &w.values(&cid))),
        w.commitment(0, 0)
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_restart_after_recording_commits_the_stored_update_without_retraining() {
    let w = World::new(1, 1);
    let bob = dev_signer("bob").unwrap();
    let mut node = w.node(&bob, Behaviour::Honest, false);
    step_until(&mut node, |s| matches!(s, Step::Joined { .. })).await;
    // The commit "crashes" the node after the update was published and recorded.
    w.market.set_fault(CommitFault::RefuseHard);
    let e = node.step().await.unwrap_err();
    assert!(matches!(e, NodeError::Chain(_)), "{e}");
    drop(node);
    assert_eq!(w.calls.load(Ordering::SeqCst), 1);
    assert_eq!(w.commitment(0, 0), None, "nothing reached the chain");
    let recorded = StateFile::open(w.dir.path(), PROJECT, &account_of(&bob).0)
        .unwrap()
        .round(0)
        .cloned()
        .unwrap();
    assert!(!recorded.committed);

    // A fresh node whose learner panics if asked to train.
    let mut node = w.node(&bob, Behaviour::Honest, true);
    let s = step_until(&mut node, |s| matches!(s, Step::Committed { .. })).await;
    assert_eq!(
        s,
        Step::Committed {
            round: 0,
            commitment: recorded.commitment,
            cid: recorded.cid.clone()
        }
    );
    step_until(&mut node, |s| matches!(s, Step::Revealed { .. })).await;
    assert_eq!(w.revealed(0, 0), Some(recorded.cid));
    assert_eq!(w.calls.load(Ordering::SeqCst), 1, "never retrained");
}

#[tokio::test(flavor = "current_thread")]
async fn a_state_file_that_disagrees_with_the_chain_never_reveals() {
    let w = World::new(1, 1);
    let bob = dev_signer("bob").unwrap();
    let mut node = w.node(&bob, Behaviour::Honest, false);
    step_until(&mut node, |s| matches!(s, Step::Committed { .. })).await;
    drop(node);
    // Someone edits the state file: another commitment for round 0.
    let me = account_of(&bob).0;
    let path = StateFile::path_for(w.dir.path(), PROJECT, &me);
    let text = std::fs::read_to_string(&path).unwrap();
    let on_chain = w.commitment(0, 0).unwrap();
    let forged = text.replace(&hex::encode(on_chain.0), &hex::encode([7u8; 32]));
    assert_ne!(forged, text);
    std::fs::write(&path, forged).unwrap();

    let mut node = w.node(&bob, Behaviour::Honest, true);
    let e = node.step().await.unwrap_err();
    assert!(
        matches!(
            &e,
            NodeError::Conflict { round: 0, conflict: Conflict::Differs { on_chain: c, .. } } if *c == on_chain
        ),
        "{e}"
    );
    assert_eq!(w.revealed(0, 0), None);
    // And a node that lost its state file entirely refuses too.
    std::fs::remove_file(&path).unwrap();
    let mut node = w.node(&bob, Behaviour::Honest, true);
    assert!(matches!(
        node.step().await.unwrap_err(),
        NodeError::Conflict {
            conflict: Conflict::NoRecord { .. },
            ..
        }
    ));
}

#[tokio::test(flavor = "current_thread")]
async fn ipfs_outages_are_retried_without_retraining() {
    let w = World::new(1, 1);
    let bob = dev_signer("bob").unwrap();
    w.store.fail_publishes.store(3, Ordering::SeqCst);
    let earned = run_trainer(w.node(&bob, Behaviour::Honest, false))
        .await
        .unwrap();
    assert_eq!(earned.claimed, STAKE + 100);
    assert_eq!(w.calls.load(Ordering::SeqCst), 1);
    assert_eq!(w.store.fail_publishes.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn too_many_outages_in_a_row_give_up_with_the_last_error() {
    let w = World::new(1, 1);
    let bob = dev_signer("bob").unwrap();
    w.store.fail_publishes.store(1_000, Ordering::SeqCst);
    let e = run_trainer(w.node_with_retries(&bob, 2)).await.unwrap_err();
    assert!(matches!(e, NodeError::GaveUp { attempts: 3, .. }), "{e}");
}

impl World {
    fn node_with_retries<'a>(
        &'a self,
        signer: &'a Signer,
        retries: u32,
    ) -> TrainerNode<'a, FakeLearner, Market, Store> {
        let mut cfg = NodeConfig::new(PROJECT, self.dir.path());
        cfg.poll = Duration::from_millis(1);
        cfg.progress = false;
        cfg.max_retries = retries;
        TrainerNode::new(
            &self.market,
            &self.store,
            signer,
            self.data(),
            self.learner(false),
            cfg,
        )
        .unwrap()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn copy_reveals_the_other_slots_cid_and_commits_to_its_own_noise() {
    let w = World::new(2, 1);
    let bob = dev_signer("bob").unwrap();
    let dave = dev_signer("dave").unwrap();
    let mut honest = w.node(&bob, Behaviour::Honest, false);
    let mut copier = w.node(&dave, Behaviour::Copy(0), true);
    step_until(&mut honest, |s| matches!(s, Step::Joined { .. })).await;
    step_until(&mut copier, |s| matches!(s, Step::Joined { .. })).await;
    step_until(&mut copier, |s| matches!(s, Step::Committed { .. })).await;
    step_until(&mut honest, |s| matches!(s, Step::Committed { .. })).await;
    // Reveal phase: the copier waits for slot 0, then reveals its CID.
    assert_eq!(copier.step().await.unwrap(), Step::Waiting);
    step_until(&mut honest, |s| matches!(s, Step::Revealed { .. })).await;
    let Step::Revealed { cid, .. } =
        step_until(&mut copier, |s| matches!(s, Step::Revealed { .. })).await
    else {
        unreachable!()
    };
    let bobs = w.revealed(0, 0).unwrap();
    assert_eq!(cid, bobs);
    assert_eq!(w.revealed(0, 1), Some(bobs.clone()));
    // Its commitment is to fresh noise under its own account (a commitment it never made
    // before, which the contract requires), so the copy cannot open it.
    let zeros = vec![0i16; w.spec.parameter_count() as usize];
    let daves = account_of(&dave).0;
    assert!(w.commitment(0, 1).is_some());
    assert_ne!(
        w.commitment(0, 1),
        Some(Committer::new().commit_update(&daves, &zeros))
    );
    assert_ne!(
        w.commitment(0, 1),
        Some(Committer::new().commit_update(&daves, &w.values(&bobs)))
    );
    assert_eq!(
        w.calls.load(Ordering::SeqCst),
        1,
        "only the honest node trained"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn replay_resends_last_rounds_update_bit_for_bit() {
    let w = World::new(1, 2);
    let bob = dev_signer("bob").unwrap();
    run_trainer(w.node(&bob, Behaviour::Replay, false))
        .await
        .unwrap();
    assert_eq!(w.calls.load(Ordering::SeqCst), 1, "trained in round 0 only");
    let (r0, r1) = (w.revealed(0, 0).unwrap(), w.revealed(1, 0).unwrap());
    assert_eq!(w.values(&r0), w.values(&r1));
    assert_eq!(w.commitment(0, 0), w.commitment(1, 0));
}

#[tokio::test(flavor = "current_thread")]
async fn stale_copy_sends_a_noisy_copy_of_another_trainers_last_update() {
    let w = World::new(2, 2);
    let bob = dev_signer("bob").unwrap();
    let dave = dev_signer("dave").unwrap();
    let (a, b) = tokio::join!(
        run_trainer(w.node(&bob, Behaviour::Honest, false)),
        run_trainer(w.node(&dave, Behaviour::StaleCopy(None), false)),
    );
    a.unwrap();
    b.unwrap();
    assert_eq!(
        w.calls.load(Ordering::SeqCst),
        2,
        "bob trained twice, dave never"
    );
    let bob0 = w.values(&w.revealed(0, 0).unwrap());
    let dave1 = w.values(&w.revealed(1, 1).unwrap());
    assert_ne!(dave1, bob0, "noise was added");
    let dist: f64 = bob0
        .iter()
        .zip(&dave1)
        .map(|(x, y)| f64::from(x - y).powi(2))
        .sum::<f64>()
        .sqrt();
    let norm: f64 = bob0
        .iter()
        .map(|&x| f64::from(x).powi(2))
        .sum::<f64>()
        .sqrt();
    // Noise of max(1 % of the norm, one step per value), plus at most half a step of
    // rounding per value (in units of the step).
    let d = (bob0.len() as f64).sqrt();
    assert!(dist <= (0.01 * norm).max(d) + d / 2.0, "{dist} vs {norm}");
}

/// The commit and reveal halves of a round for a caller that already holds its update
/// (what the aggregator's and the chain's tests do): publish first, so the CID exists
/// before anything is on chain, then commit, then reveal.
#[tokio::test(flavor = "current_thread")]
async fn publish_and_commit_then_reveal_for_callers_holding_an_update() {
    let w = World::new(1, 1);
    let bob = dev_signer("bob").unwrap();
    w.market.join(&bob, PROJECT, STAKE).await.unwrap();
    let update =
        merit_trainer::node::update_file(&w.spec, vec![3; w.spec.parameter_count() as usize]);
    let c = merit_protocol::chunked::Scheme::of(None)
        .unwrap()
        .commit_update(&account_of(&bob).0, &update.values)
        .unwrap();
    let cid = w.store.publish(update.encode()).await.unwrap();
    w.market.commit_update(&bob, PROJECT, 0, c).await.unwrap();
    assert_eq!(w.commitment(0, 0), Some(c));
    assert_eq!(w.values(&cid), update.values);
    w.market
        .reveal_update(&bob, PROJECT, 0, cid.as_bytes())
        .await
        .unwrap();
    assert_eq!(w.revealed(0, 0), Some(cid));
}

#[tokio::test(flavor = "current_thread")]
async fn a_commit_refused_as_too_late_is_not_fatal() {
    let w = World::new(1, 1);
    let bob = dev_signer("bob").unwrap();
    let mut node = w.node(&bob, Behaviour::Honest, false);
    step_until(&mut node, |s| matches!(s, Step::Joined { .. })).await;
    w.market.set_fault(CommitFault::Late);
    assert_eq!(node.step().await.unwrap(), Step::Waiting);
    assert_eq!(w.commitment(0, 0), None);
    // The fake's phase did not actually move, so the recorded update is committed next.
    let s = node.step().await.unwrap();
    assert!(matches!(s, Step::Committed { round: 0, .. }), "{s:?}");
    assert_eq!(w.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn grief_resubmits_the_victims_last_update_and_simulate_only_behaviours_are_refused() {
    let w = World::new(2, 2);
    let bob = dev_signer("bob").unwrap();
    let dave = dev_signer("dave").unwrap();
    let (a, b) = tokio::join!(
        run_trainer(w.node(&bob, Behaviour::Honest, false)),
        run_trainer(w.node(&dave, Behaviour::Grief(0), false)),
    );
    a.unwrap();
    b.unwrap();
    assert_eq!(
        w.calls.load(Ordering::SeqCst),
        2,
        "the griefer never trains"
    );
    let bob0 = w.values(&w.revealed(0, 0).unwrap());
    let dave1 = w.values(&w.revealed(1, 1).unwrap());
    assert_ne!(dave1, bob0, "noise was added");
    let cos = merit_trainer::behaviour::cosine(&bob0, &dave1);
    assert!(cos > 0.99, "cosine {cos} to the victim's previous update");
    for b in [
        "public-copy",
        "lazy:0.1",
        "sybil:3",
        "sybil-search:3",
        "adaptive",
        "exec",
    ] {
        let mut cfg = NodeConfig::new(PROJECT, w.dir.path());
        cfg.behaviour = b.parse().unwrap();
        let e = TrainerNode::new(&w.market, &w.store, &bob, w.data(), w.learner(false), cfg)
            .err()
            .unwrap_or_else(|| panic!("{b} was accepted"));
        assert!(
            matches!(e, NodeError::SimulateOnly(ref s) if s == b),
            "{b}: {e}"
        );
    }
}
