//! Helpers for end-to-end tests: a chain (the embedded one, or a substrate-contracts-node
//! devnet where the node is installed) with the marketplace deployed, and a real IPFS
//! daemon, all in a temporary directory on free loopback ports, brought down when the test
//! ends, pass or fail.

use merit_chain::{BackendKind, Marketplace};
use merit_cli::chain::{embedded_marketplace, ChainChoice};
use merit_cli::devnet::{self, DevnetInfo, DevnetOptions, IpfsDaemon, UpOutcome};
use merit_protocol::rule::RuleParams;
use merit_prover::{round, SetupMode};
use merit_storage::IpfsStore;
use std::time::Duration;

/// A round-circuit shape small enough for tests: `slots` × `dim`, no Byzantine budget to
/// speak of, a generous norm bound.
pub fn test_rule(slots: usize, dim: usize) -> RuleParams {
    RuleParams::new(slots, dim, 0, 1 << 20)
}

/// The arkworks-compressed verifying key of that shape's round circuit, from the
/// test-only deterministic setup.
pub fn test_verifying_key(slots: usize, dim: usize) -> Vec<u8> {
    let (_, vk) = round::setup_round(
        test_rule(slots, dim),
        SetupMode::InsecureDeterministicForTests(1),
    )
    .expect("setup");
    let mut out = Vec::new();
    ark_serialize::CanonicalSerialize::serialize_compressed(&vk, &mut out).expect("encode");
    out
}

pub struct TestDevnet {
    pub info: DevnetInfo,
    // Dropped after `down` so the data dir outlives the processes using it.
    dir: tempfile::TempDir,
}

impl TestDevnet {
    /// Brings a fresh devnet up; panics with the devnet's own error if it cannot.
    pub async fn up() -> Self {
        Self::up_with(None).await
    }

    /// [`TestDevnet::up`] on the chain `choice` names (`None`: the node where installed).
    pub async fn up_with(choice: Option<ChainChoice>) -> Self {
        Self::up_configured(|opts| opts.chain = choice).await
    }

    /// [`TestDevnet::up`] with the options `configure` sets (chain, block time, …).
    pub async fn up_configured(configure: impl FnOnce(&mut DevnetOptions)) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("merit-e2e-")
            .tempdir()
            .expect("temp dir");
        let mut opts = DevnetOptions::new(dir.path());
        configure(&mut opts);
        match devnet::up(&opts).await {
            Ok(UpOutcome::Started(info)) => Self { info, dir },
            Ok(UpOutcome::AlreadyRunning(_)) => {
                panic!("a fresh temp dir cannot hold a running devnet")
            }
            Err(e) => {
                let _ = devnet::down(dir.path());
                panic!("devnet up failed: {e}");
            }
        }
    }

    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}

impl Drop for TestDevnet {
    fn drop(&mut self) {
        if let Err(e) = devnet::down(self.dir.path()) {
            eprintln!("devnet down failed: {e}");
        }
    }
}

/// The backends an end-to-end test runs on: always the embedded chain; the node too where
/// it is installed, or only one of them when `MERIT_CHAIN` names it.
pub fn backends() -> Vec<ChainChoice> {
    match std::env::var("MERIT_CHAIN").ok().as_deref() {
        Some("embedded") => vec![ChainChoice::Embedded],
        Some("node") => vec![ChainChoice::Node],
        _ if merit_cli::tools::node_bin(None).is_ok() => {
            vec![ChainChoice::Embedded, ChainChoice::Node]
        }
        _ => {
            eprintln!("substrate-contracts-node is not installed: end-to-end tests run on the embedded chain only");
            vec![ChainChoice::Embedded]
        }
    }
}

/// A deployed marketplace on one backend, and an IPFS daemon.
pub struct TestEnv {
    pub market: Marketplace,
    pub ipfs: IpfsStore,
    // Field order is drop order: the marketplace and store go before their daemons.
    _ipfs_daemon: Option<IpfsDaemon>,
    _devnet: Option<TestDevnet>,
    _dir: tempfile::TempDir,
}

impl TestEnv {
    pub async fn up(choice: ChainChoice) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("merit-e2e-")
            .tempdir()
            .expect("temp dir");
        match choice {
            ChainChoice::Embedded => {
                let daemon = IpfsDaemon::start(dir.path(), Duration::from_secs(90))
                    .await
                    .unwrap_or_else(|e| panic!("IPFS daemon: {e}"));
                let (_, market) = embedded_marketplace(None)
                    .await
                    .unwrap_or_else(|e| panic!("embedded chain: {e}"));
                Self {
                    market,
                    ipfs: daemon.store().expect("IPFS store"),
                    _ipfs_daemon: Some(daemon),
                    _devnet: None,
                    _dir: dir,
                }
            }
            ChainChoice::Node => {
                let net = TestDevnet::up_with(Some(ChainChoice::Node)).await;
                Self {
                    market: net.info.marketplace().await.expect("marketplace"),
                    ipfs: net.info.ipfs().expect("IPFS store"),
                    _ipfs_daemon: None,
                    _devnet: Some(net),
                    _dir: dir,
                }
            }
        }
    }

    pub fn kind(&self) -> BackendKind {
        self.market.backend_kind()
    }
}

/// A model or update file holding `values` as one flat tensor at scale 2^-10, as the
/// end-to-end tests write them.
pub fn flat_file(
    kind: merit_protocol::format::Kind,
    values: Vec<i16>,
) -> merit_protocol::format::ModelFile {
    merit_protocol::format::ModelFile {
        kind,
        scale_bits: 10,
        tensors: vec![merit_protocol::format::TensorShape {
            name: "w".into(),
            dims: vec![values.len() as u32],
        }],
        values,
        floats: None,
    }
}

/// What a test project escrowed, to settle it the protocol's way.
#[derive(Debug, Clone, Copy)]
pub struct Escrow {
    pub pool: u128,
    pub fee: u128,
    pub bond: u128,
    pub stake: u128,
    pub max_rejected_rounds: u32,
}

impl Escrow {
    /// `protocol::reward::settle` of the trainers' totals as the chain reports them.
    pub fn settle(
        &self,
        totals: &[merit_protocol::abi::TrainerView],
        outcome: merit_protocol::reward::Outcome,
    ) -> merit_protocol::reward::Claims {
        use merit_protocol::reward;
        reward::settle(&reward::Settlement {
            pool: self.pool,
            aggregator_fee: self.fee,
            aggregator_bond: self.bond,
            trainers: totals
                .iter()
                .map(|t| reward::TrainerAccount {
                    stake: self.stake,
                    total_score: t.total_score,
                    forfeited: reward::stake_forfeited(
                        t.missed_reveal,
                        t.rejected_rounds,
                        self.max_rejected_rounds,
                    ),
                })
                .collect(),
            outcome,
        })
        .expect("the chain's totals settle")
    }
}

/// Three well-separated Gaussian blobs in 4-d; `seed` makes each trainer's sample private.
pub fn blobs(seed: u64, n: usize) -> merit_trainer::data::Dataset {
    let mut d = merit_trainer::data::Dataset::new(4, 3);
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 33) as f32 / (1u64 << 31) as f32) - 0.5
    };
    for i in 0..n {
        let label = (i % 3) as u32;
        let centre = [
            [1.0, 0.0, 0.0, 0.5],
            [0.0, 1.0, 0.0, -0.5],
            [0.0, 0.0, 1.0, 0.0],
        ][label as usize];
        let row: Vec<f32> = centre.iter().map(|c| c + 0.4 * next()).collect();
        d.push(&row, label);
    }
    d
}

/// The small MLP over [`blobs`] (4-3-3: 27 parameters) as a spec with these settings, so
/// that setup and proofs take seconds.
pub fn blobs_spec(
    rounds: u32,
    slots: u32,
    byzantine: u32,
    local_epochs: u32,
    max_rejected_rounds: u32,
) -> merit_protocol::spec::ProjectSpec {
    let json = format!(
        r#"{{
  "version": 2,
  "task": {{ "name": "blobs", "kind": "classification" }},
  "features": {{ "inputs": 4, "classes": 3 }},
  "model": {{ "type": "mlp", "input": 4, "hidden": [3], "classes": 3 }},
  "training": {{ "local_epochs": {local_epochs}, "batch_size": 8, "learning_rate": 0.1,
                "optimizer": "sgd", "clip_norm": 4.0 }},
  "fixed_point": {{ "scale_bits": 10 }},
  "rounds": {rounds},
  "aggregation": {{ "rule": "angular_krum", "norm_bound": 4.5, "byzantine": {byzantine}, "slots": {slots} }},
  "max_rejected_rounds": {max_rejected_rounds}
}}"#
    );
    merit_protocol::spec::ProjectSpec::from_json(&json).expect("the blobs spec is valid")
}

pub type AggregatorTask = tokio::task::JoinHandle<Result<merit_aggregator::NodeSummary, String>>;
pub type TrainerTask = tokio::task::JoinHandle<Result<merit_trainer::node::Earnings, String>>;

/// Runs the aggregator node for project `id` as a task (state in `state_dir`, polling every
/// `poll`) until the project ends.
pub fn spawn_aggregator(
    market: &Marketplace,
    ipfs: &IpfsStore,
    signer: &merit_chain::Signer,
    id: u32,
    state_dir: std::path::PathBuf,
    poll: Duration,
) -> AggregatorTask {
    let (market, ipfs, signer) = (market.clone(), ipfs.clone(), signer.clone());
    let mut config = merit_aggregator::AggregatorConfig::new(id, state_dir);
    config.poll = poll;
    tokio::spawn(async move {
        let agg = merit_aggregator::Aggregator {
            market: &market,
            ipfs: &ipfs,
            signer: &signer,
            config,
            evaluator: None,
        };
        merit_aggregator::run_aggregator(&agg)
            .await
            .map_err(|e| e.to_string())
    })
}

/// An honest trainer node's configuration for project `id`: state in `state_dir`, seeded
/// `seed`, polling every `poll`, no progress bars.
pub fn trainer_config(
    id: u32,
    state_dir: std::path::PathBuf,
    seed: u64,
    poll: Duration,
) -> merit_trainer::node::NodeConfig {
    let mut cfg = merit_trainer::node::NodeConfig::new(id, state_dir);
    cfg.behaviour = merit_trainer::behaviour::Behaviour::Honest;
    cfg.seed = seed;
    cfg.poll = poll;
    cfg.progress = false;
    cfg
}

/// Runs a trainer node (candle, the spec's model, on `data`) as a task until it has
/// claimed.
pub fn spawn_trainer(
    market: &Marketplace,
    ipfs: &IpfsStore,
    signer: &merit_chain::Signer,
    spec: &merit_protocol::spec::ProjectSpec,
    data: merit_trainer::data::Dataset,
    cfg: merit_trainer::node::NodeConfig,
) -> TrainerTask {
    let (market, ipfs, signer) = (market.clone(), ipfs.clone(), signer.clone());
    let learner = merit_trainer::learner::CandleModel::from_spec(spec);
    tokio::spawn(async move {
        let node =
            merit_trainer::node::TrainerNode::new(&market, &ipfs, &signer, data, learner, cfg)
                .map_err(|e| e.to_string())?;
        merit_trainer::node::run_trainer(node)
            .await
            .map_err(|e| e.to_string())
    })
}

/// An honest project run as tasks: an aggregator node and one trainer node per share.
pub struct Nodes {
    aggregator: AggregatorTask,
    trainers: Vec<TrainerTask>,
}

impl Nodes {
    /// Starts the aggregator node and an honest trainer node per `(signer, data)` for
    /// project `id` (state under `dir`, trainers polling every `poll`, trainer `i` seeded
    /// `i`), then waits until every trainer joined and the aggregator bonded.
    pub async fn start(
        env: &TestEnv,
        id: u32,
        spec: &merit_protocol::spec::ProjectSpec,
        aggregator: &merit_chain::Signer,
        trainers: Vec<(merit_chain::Signer, merit_trainer::data::Dataset)>,
        dir: &std::path::Path,
        poll: Duration,
    ) -> Self {
        let count = trainers.len() as u32;
        let (market, ipfs) = (&env.market, &env.ipfs);
        let every = Duration::from_millis(200);
        let agg = spawn_aggregator(market, ipfs, aggregator, id, dir.join("aggregator"), every);
        let nodes = trainers
            .into_iter()
            .enumerate()
            .map(|(who, (signer, data))| {
                let cfg = trainer_config(id, dir.join(format!("trainer-{who}")), who as u64, poll);
                spawn_trainer(market, ipfs, &signer, spec, data, cfg)
            })
            .collect();
        for _ in 0..1200 {
            let v = env.market.project(id).await.unwrap();
            if v.trainers == count && v.aggregator_bonded {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Self {
            aggregator: agg,
            trainers: nodes,
        }
    }

    /// Waits for every trainer node (each within `trainer_limit`), then the aggregator;
    /// panics naming the one that failed or hung.
    pub async fn finish(
        self,
        trainer_limit: Duration,
    ) -> (
        Vec<merit_trainer::node::Earnings>,
        merit_aggregator::NodeSummary,
    ) {
        let mut earned = Vec::new();
        for n in self.trainers {
            let e = tokio::time::timeout(trainer_limit, n)
                .await
                .expect("a trainer node did not finish")
                .unwrap()
                .unwrap_or_else(|e| panic!("trainer node failed: {e}"));
            earned.push(e);
        }
        let summary = tokio::time::timeout(Duration::from_secs(300), self.aggregator)
            .await
            .expect("the aggregator did not stop")
            .unwrap()
            .unwrap_or_else(|e| panic!("the aggregator failed: {e}"));
        (earned, summary)
    }
}

/// The escrow most end-to-end tests post with (plancks): a pool that outlasts every
/// payout, an aggregator's fee and bond, a trainer's stake.
pub mod amounts {
    pub const POOL: u128 = 9_000_000_000_000_000;
    pub const FEE: u128 = 500_000_000_000_000;
    pub const BOND: u128 = 2_000_000_000_000;
    pub const STAKE: u128 = 1_000_000_000_000;
}
