//! What a project owner prepares before posting: the initial model and the round circuit's
//! trusted setup (docs/design.md: one setup per shape, at project creation; the verifying key
//! goes on chain, the proving key into IPFS for the aggregator).

use anyhow::{bail, Context, Result};
use merit_chain::{Marketplace, Signer};
use merit_protocol::abi::{AccountBytes, ChunkedParams, Deadlines, ProjectParams};
use merit_protocol::chunked::Scheme;
use merit_protocol::commit::Committer;
use merit_protocol::fixed;
use merit_protocol::format::{Kind, ModelFile};
use merit_protocol::spec::ProjectSpec;
use merit_prover::{chunked, keys, round, SetupMode};
use std::time::Instant;

/// A seeded initial model for `spec` (`merit_trainer::learner::init_params`: weights
/// uniform in ±1/√fan_in, PyTorch's default, biases zero), quantised at the spec's scale.
/// Owners with a pretrained model bring their own file instead.
pub fn initial_model(spec: &ProjectSpec, seed: u64) -> Result<ModelFile> {
    let tensors = spec.tensor_shapes();
    let floats = merit_trainer::learner::init_params(spec, seed);
    let values = fixed::quantise_all(&floats, spec.fixed_point.scale_bits)
        .map_err(|e| anyhow::anyhow!("quantising the initial model: {e}"))?;
    Ok(ModelFile {
        kind: Kind::Model,
        scale_bits: spec.fixed_point.scale_bits,
        tensors,
        values,
        floats: Some(floats),
    })
}

/// The round circuit's keys for a spec's shape.
pub struct RoundKeys {
    /// arkworks-compressed verifying key, as `create_project` takes it.
    pub verifying_key: Vec<u8>,
    /// The proving key file (`keys::write_proving_key`), for IPFS.
    pub proving_key_file: Vec<u8>,
    pub seconds: f64,
}

/// Runs a fresh random setup of the round circuit for `spec` (with a spinner: it takes a
/// while for real shapes).
pub fn setup_round(spec: &ProjectSpec) -> Result<RoundKeys> {
    let params = merit_protocol::rule::RuleParams::from_spec(spec);
    let bar = indicatif::ProgressBar::new_spinner().with_message(format!(
        "trusted setup of the round circuit ({} slots × {} parameters)",
        params.slots, params.dim
    ));
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let t = Instant::now();
    let (pk, vk) = round::setup_round(params, SetupMode::Random).context("round circuit setup")?;
    bar.finish_and_clear();
    let mut verifying_key = Vec::new();
    ark_serialize::CanonicalSerialize::serialize_compressed(&vk, &mut verifying_key)
        .context("encoding the verifying key")?;
    Ok(RoundKeys {
        verifying_key,
        proving_key_file: keys::write_proving_key(&pk),
        seconds: t.elapsed().as_secs_f64(),
    })
}

/// Reads a Merit verifying-key file (`keys::write_verifying_key`) and returns the
/// compressed key the contract takes.
pub fn verifying_key_from_file(bytes: &[u8]) -> Result<Vec<u8>> {
    let vk = keys::read_verifying_key(bytes)?;
    let mut out = Vec::new();
    ark_serialize::CanonicalSerialize::serialize_compressed(&vk, &mut out)?;
    Ok(out)
}

/// The on-chain parameters for a spec whose model file is at `model_cid`.
pub struct ParamsFor<'a> {
    pub spec: &'a ProjectSpec,
    pub spec_cid: String,
    pub model: &'a ModelFile,
    pub model_cid: String,
    /// Where the round circuit's proving key file is in IPFS (the aggregator fetches it).
    pub proving_key_cid: String,
    pub min_trainers: u32,
    pub trainer_stake: u128,
    pub aggregator: [u8; 32],
    pub aggregator_fee: u128,
    pub aggregator_bond: u128,
    pub deadlines: Deadlines,
}

pub fn project_params(p: ParamsFor<'_>) -> ProjectParams {
    ProjectParams {
        spec_cid: p.spec_cid.into_bytes(),
        model_cid: p.model_cid.into_bytes(),
        model_commitment: Committer::new().commit_model(&p.model.values),
        proving_key_cid: p.proving_key_cid.into_bytes(),
        rounds: p.spec.rounds,
        min_trainers: p.min_trainers,
        slots: merit_protocol::rule::RuleParams::from_spec(p.spec).slots as u32,
        trainer_stake: p.trainer_stake,
        aggregator: p.aggregator,
        aggregator_fee: p.aggregator_fee,
        aggregator_bond: p.aggregator_bond,
        max_rejected_rounds: p.spec.max_rejected_rounds,
        deadlines: p.deadlines,
    }
}

/// Where the round circuit's keys come from.
pub enum RoundKeysSource {
    /// A fresh trusted setup for the spec's shape now; the proving key goes into IPFS.
    Setup,
    /// An earlier setup of this shape: the verifying-key file's bytes and the CID of the
    /// matching proving key, already in IPFS.
    Existing {
        verifying_key_file: Vec<u8>,
        proving_key_cid: String,
    },
    /// Chunked rounds (protocol v4) in chunks of `chunk` parameters, with the keys of a
    /// proof shape registered on chain, reused with no setup at all: `shape` if given (the
    /// owner trusts whoever ran its setup), else one this owner registered for the spec's
    /// slots and this chunk size; without one, the shape's setup runs now (once for every
    /// later project of the shape), its key file goes into IPFS and the shape is registered.
    Chunked { chunk: u32, shape: Option<u32> },
    /// Chunked rounds in chunks of `chunk` with a new proof shape whose two keys come from
    /// ceremony transcripts (the chunk circuit's and the decision circuit's, each with
    /// where it came from): both are verified against the shape's circuits, go into IPFS,
    /// the shape is registered and its transcripts recorded (`record_shape_setup`).
    ShapeCeremony {
        chunk: u32,
        chunk_transcript: (Vec<u8>, String),
        decision_transcript: (Vec<u8>, String),
    },
    /// Keys derived from a setup ceremony's transcript (`merit ceremony`): it is verified
    /// against the spec's round circuit (every contribution of both phases), then the
    /// transcript and the proving key go into IPFS. `name` says where it came from.
    Ceremony { transcript: Vec<u8>, name: String },
    /// Keys from a ceremony transcript the owner verified, contributed to and put into
    /// IPFS already ([`crate::ceremony::contribute_project_keys`]).
    CeremonyKeys(Box<crate::ceremony::ProjectKeys>),
}

/// A registered shape for chunked rounds (found, or set up and registered now).
pub struct ShapeFor {
    pub id: u32,
    pub keys_cid: String,
    /// Seconds the setup took (`None`: the shape was registered already).
    pub setup_seconds: Option<f64>,
}

/// The shape of `slots` slots and chunks of `chunk`: `chosen` (which must have that
/// shape), else the first one `owner` registered, else a fresh setup of both circuits, put
/// into IPFS and registered by `owner`. Only the owner's own shapes are reused unasked:
/// whoever ran a shape's setup could forge its proofs, so trusting another's is a choice.
pub async fn shape_for(
    market: &Marketplace,
    ipfs: &merit_storage::IpfsStore,
    owner: &Signer,
    slots: u32,
    chunk: u32,
    chosen: Option<u32>,
) -> Result<ShapeFor> {
    let found = |s: &merit_protocol::abi::ShapeView| ShapeFor {
        id: s.id,
        keys_cid: String::from_utf8_lossy(&s.keys_cid).into_owned(),
        setup_seconds: None,
    };
    if let Some(id) = chosen {
        let s = market
            .shape(id)
            .await
            .with_context(|| format!("proof shape {id}"))?;
        if (s.slots, s.chunk) != (slots, chunk) {
            bail!(
                "proof shape {id} is for {} slots in chunks of {}; the project needs {slots} slots in chunks of {chunk}",
                s.slots,
                s.chunk
            );
        }
        return Ok(found(&s));
    }
    let me = merit_chain::account_of(owner).0;
    let shapes = market
        .shapes()
        .await
        .context("reading the registered shapes")?;
    if let Some(s) = shapes
        .iter()
        .find(|s| (s.slots, s.chunk, s.registered_by) == (slots, chunk, me))
    {
        return Ok(found(s));
    }
    let bar = indicatif::ProgressBar::new_spinner().with_message(format!(
        "trusted setup of the proof shape ({slots} slots, chunks of {chunk})"
    ));
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let t = Instant::now();
    let (n, c) = (slots as usize, chunk as usize);
    let keys = tokio::task::spawn_blocking(move || {
        let (chunk_pk, chunk_vk) = chunked::setup_chunk(n, c, SetupMode::Random)?;
        let (decision_pk, decision_vk) = chunked::setup_decision(n, SetupMode::Random)?;
        let file = keys::write_shape_keys(slots, chunk, &chunk_pk, &decision_pk);
        Ok::<_, merit_prover::ProverError>((
            file,
            keys::compressed(&chunk_vk),
            keys::compressed(&decision_vk),
        ))
    })
    .await
    .context("the setup thread")?
    .context("the proof shape's setup")?;
    bar.finish_and_clear();
    let setup_seconds = t.elapsed().as_secs_f64();
    let (file, chunk_vk, decision_vk) = keys;
    let cid = ipfs
        .add(file)
        .await
        .context("putting the shape's key file into IPFS")?
        .to_string();
    let id = market
        .register_shape(owner, slots, chunk, &chunk_vk, &decision_vk, cid.as_bytes())
        .await
        .context("register_shape")?;
    Ok(ShapeFor {
        id,
        keys_cid: cid,
        setup_seconds: Some(setup_seconds),
    })
}

/// Everything `post_project` needs besides the chain and IPFS.
pub struct PostProject {
    pub spec: ProjectSpec,
    /// The initial model; `None`: [`initial_model`] with `seed`.
    pub model: Option<ModelFile>,
    pub seed: u64,
    pub keys: RoundKeysSource,
    pub pool: u128,
    pub min_trainers: u32,
    pub trainer_stake: u128,
    pub aggregator: AccountBytes,
    pub aggregator_fee: u128,
    pub aggregator_bond: u128,
    pub deadlines: Deadlines,
}

/// What `post_project` posted.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Posted {
    pub project: u32,
    pub spec_cid: String,
    pub model_cid: String,
    pub proving_key_cid: String,
    /// Seconds the trusted setup took (`None` when the keys were brought).
    pub setup_seconds: Option<f64>,
    /// The proof shape of a chunked project.
    pub shape: Option<u32>,
    /// The initial model, for the owner's own evaluation.
    #[serde(skip)]
    pub model: ModelFile,
    /// The ceremony the keys come from (`setup_contributions`, `setup_verified`).
    #[serde(flatten)]
    pub setup: crate::ceremony::SetupRecord,
}

/// A CIDv1 of the length real ones have, standing in for those not made yet.
const PLACEHOLDER_CID: &str = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";

/// Every check that costs nothing, before the setup that costs a minute or more: the
/// parameters as the contract will judge them, the IPFS daemon, the owner's funds.
async fn preflight(
    market: &Marketplace,
    ipfs: &merit_storage::IpfsStore,
    owner: &Signer,
    p: &PostProject,
    model: &ModelFile,
) -> Result<()> {
    let params = project_params(ParamsFor {
        spec: &p.spec,
        spec_cid: PLACEHOLDER_CID.into(),
        model,
        model_cid: PLACEHOLDER_CID.into(),
        proving_key_cid: PLACEHOLDER_CID.into(),
        min_trainers: p.min_trainers,
        trainer_stake: p.trainer_stake,
        aggregator: p.aggregator,
        aggregator_fee: p.aggregator_fee,
        aggregator_bond: p.aggregator_bond,
        deadlines: p.deadlines,
    });
    params
        .validate_with_pool(p.pool)
        .map_err(|error| merit_chain::ChainError::Contract {
            message: "create_project",
            error,
        })
        .context("the project's parameters (checked before the setup)")?;
    let who = merit_chain::account_of(owner);
    let funds = market.free_balance(&who).await?;
    if funds < p.pool {
        bail!(
            "the owner {who} holds {funds}, less than the pool {} it would escrow",
            p.pool
        );
    }
    ipfs.version()
        .await
        .context("the IPFS daemon, which will hold the spec, the model and the keys")?;
    Ok(())
}

/// The owner's whole flow: check the model against the spec, run (or take) the round
/// circuit's setup, put the spec, the model and the proving key into IPFS, and escrow the
/// pool with `create_project`. `merit project create` and `merit demo` both post this way.
pub async fn post_project(
    market: &Marketplace,
    ipfs: &merit_storage::IpfsStore,
    owner: &Signer,
    mut p: PostProject,
) -> Result<Posted> {
    let spec = &p.spec;
    spec.validate().context("the project spec")?;
    let model = match p.model.take() {
        Some(m) => {
            if m.values.len() as u64 != spec.parameter_count() {
                bail!(
                    "the initial model holds {} parameters; the spec's model has {}",
                    m.values.len(),
                    spec.parameter_count()
                );
            }
            m
        }
        None => initial_model(spec, p.seed)?,
    };
    preflight(market, ipfs, owner, &p, &model).await?;
    let rule = merit_protocol::rule::RuleParams::from_spec(spec);
    let mut setup = crate::ceremony::SetupRecord::default();
    // What goes on chain about the ceremony, recorded right after creation.
    let mut record = None;
    let (verifying_key, proving_key_cid, setup_seconds, chunked) = match p.keys {
        RoundKeysSource::Chunked { chunk, shape } => {
            let shape = shape_for(market, ipfs, owner, rule.slots as u32, chunk, shape).await?;
            let statement = ChunkedParams::new(shape.id, chunk, &rule);
            (
                Vec::new(),
                shape.keys_cid,
                shape.setup_seconds,
                Some(statement),
            )
        }
        RoundKeysSource::ShapeCeremony {
            chunk,
            chunk_transcript,
            decision_transcript,
        } => {
            let slots = rule.slots as u32;
            let keys = crate::ceremony::shape_keys(
                ipfs,
                (slots, chunk),
                chunk_transcript,
                decision_transcript,
            )
            .await?;
            let cid = ipfs
                .add(keys.key_file)
                .await
                .context("putting the shape's key file into IPFS")?
                .to_string();
            let id = market
                .register_shape(
                    owner,
                    slots,
                    chunk,
                    &keys.chunk_key,
                    &keys.decision_key,
                    cid.as_bytes(),
                )
                .await
                .context("register_shape")?;
            market
                .record_shape_setup(owner, id, &keys.record)
                .await
                .context(
                    "record_shape_setup (the ceremony transcripts the shape's keys come from)",
                )?;
            setup = keys.setup;
            let statement = ChunkedParams::new(id, chunk, &rule);
            (Vec::new(), cid, None, Some(statement))
        }
        RoundKeysSource::Existing {
            verifying_key_file,
            proving_key_cid,
        } => {
            let vk = verifying_key_from_file(&verifying_key_file)?;
            let cid = merit_storage::parse_cid(&proving_key_cid).context("the proving key CID")?;
            (vk, cid.to_string(), None, None)
        }
        RoundKeysSource::Ceremony { transcript, name } => {
            let keys = crate::ceremony::project_keys(ipfs, spec, transcript, &name).await?;
            setup = keys.setup;
            record = Some(keys.record);
            (keys.verifying_key, keys.proving_key_cid, None, None)
        }
        RoundKeysSource::CeremonyKeys(keys) => {
            setup = keys.setup;
            record = Some(keys.record);
            (keys.verifying_key, keys.proving_key_cid, None, None)
        }
        RoundKeysSource::Setup => {
            let keys = setup_round(spec)?;
            let cid = ipfs
                .add(keys.proving_key_file)
                .await
                .context("putting the proving key into IPFS")?;
            (
                keys.verifying_key,
                cid.to_string(),
                Some(keys.seconds),
                None,
            )
        }
    };
    let spec_cid = ipfs
        .add(spec.to_json().into_bytes())
        .await
        .context("putting the spec into IPFS")?
        .to_string();
    let model_cid = ipfs
        .add(model.encode())
        .await
        .context("putting the initial model into IPFS")?
        .to_string();
    let mut params = project_params(ParamsFor {
        spec,
        spec_cid: spec_cid.clone(),
        model: &model,
        model_cid: model_cid.clone(),
        proving_key_cid: proving_key_cid.clone(),
        min_trainers: p.min_trainers,
        trainer_stake: p.trainer_stake,
        aggregator: p.aggregator,
        aggregator_fee: p.aggregator_fee,
        aggregator_bond: p.aggregator_bond,
        deadlines: p.deadlines,
    });
    let project = match &chunked {
        None => market
            .create_project(owner, &params, &verifying_key, p.pool)
            .await
            .context("create_project")?,
        Some(statement) => {
            params.model_commitment = Scheme::of(Some(statement))
                .and_then(|s| s.commit_model(&model.values))
                .context("the model's chunked commitment")?;
            market
                .create_chunked_project(owner, &params, statement, p.pool)
                .await
                .context("create_chunked_project")?
        }
    };
    if let Some(r) = &record {
        // Before anyone can join: trainers check the keys against this before staking.
        market
            .record_setup(owner, project, r)
            .await
            .context("record_setup (the ceremony transcript the keys come from)")?;
    }
    Ok(Posted {
        project,
        spec_cid,
        model_cid,
        proving_key_cid,
        setup_seconds,
        shape: chunked.map(|c| c.shape),
        model,
        setup,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_model_matches_the_spec_and_is_reproducible() {
        let spec = ProjectSpec::from_json(include_str!("../../examples/digits-spec.json")).unwrap();
        let a = initial_model(&spec, 1).unwrap();
        assert_eq!(a.values.len() as u64, spec.parameter_count());
        assert_eq!(ModelFile::parse(&a.encode()).unwrap(), a);
        assert_eq!(initial_model(&spec, 1).unwrap(), a);
        assert_ne!(initial_model(&spec, 2).unwrap().values, a.values);
        // Weights are non-zero somewhere; the first layer's bias (after 64·32 weights) is 0.
        assert!(a.values[..2048].iter().any(|&v| v != 0));
        assert!(a.values[2048..2080].iter().all(|&v| v == 0));
    }

    /// A request that the contract would refuse, or that IPFS could not store, is refused
    /// before the trusted setup runs: here the pool is empty and the IPFS daemon is down,
    /// and the error names the pool (the setup, then IPFS, would have failed first).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cheap_checks_come_before_the_setup() {
        let (_chain, market) = crate::chain::embedded_marketplace(None).await.unwrap();
        let port = crate::process::free_port().unwrap();
        let dead_ipfs = merit_storage::IpfsStore::new(&format!("http://127.0.0.1:{port}")).unwrap();
        let owner = merit_chain::dev_signer("alice").unwrap();
        let spec = ProjectSpec::from_json(include_str!("../../examples/digits-spec.json")).unwrap();
        let post = |pool| PostProject {
            spec: spec.clone(),
            model: None,
            seed: 1,
            keys: RoundKeysSource::Setup,
            pool,
            min_trainers: 2,
            trainer_stake: 1,
            aggregator: [7; 32],
            aggregator_fee: 0,
            aggregator_bond: 0,
            deadlines: Deadlines {
                join: 10,
                commit: 10,
                reveal: 10,
                aggregate: 10,
            },
        };
        let e = post_project(&market, &dead_ipfs, &owner, post(0))
            .await
            .unwrap_err();
        let refused = e
            .chain()
            .find_map(|c| c.downcast_ref::<merit_chain::ChainError>());
        assert!(
            matches!(
                refused,
                Some(merit_chain::ChainError::Contract {
                    error: merit_protocol::abi::MarketError::EmptyPool,
                    ..
                })
            ),
            "{e:#}"
        );
        let e = post_project(&market, &dead_ipfs, &owner, post(5))
            .await
            .unwrap_err();
        let down = e
            .chain()
            .find_map(|c| c.downcast_ref::<merit_storage::StorageError>());
        assert!(
            matches!(down, Some(merit_storage::StorageError::Unreachable { .. })),
            "{e:#}"
        );
        // More than the owner holds: refused by name before the setup.
        let e = post_project(&market, &dead_ipfs, &owner, post(u128::MAX))
            .await
            .unwrap_err();
        assert!(format!("{e:#}").contains("less than the pool"), "{e:#}");
        assert_eq!(market.project_count().await.unwrap(), 0);
    }

    #[test]
    fn a_verifying_key_file_that_is_not_one_is_refused() {
        let e = verifying_key_from_file(b"MERIT-PK\x01\x00garbage").unwrap_err();
        assert!(e.to_string().contains("verifying key"), "{e}");
    }
}
