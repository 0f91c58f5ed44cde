//! What the aggregator (and `verify`) reads from chain + IPFS before any round: the spec
//! and its rule parameters, the proving key (checked against the on-chain verifying key),
//! and model files (checked against on-chain commitments).

use crate::error::{AggregatorError, Result};
use merit_chain::Marketplace;
use merit_protocol::abi::{ProjectView, ShapeView};
use merit_protocol::chunked::Scheme;
use merit_protocol::commit::Commitment;
use merit_protocol::format::{Kind, ModelFile};
use merit_protocol::rule::RuleParams;
use merit_protocol::spec::ProjectSpec;
use merit_protocol::verifier;
use merit_prover::ark_bn254::Bn254;
use merit_prover::keys;
use merit_storage::{parse_cid, IpfsStore};
use std::sync::Arc;

pub type ProvingKey = ark_groth16::ProvingKey<Bn254>;

/// Largest spec file read.
pub const MAX_SPEC_BYTES: usize = 1 << 20;

/// Fetches `cid` (bytes from the chain) with a size bound; `what` names it in errors.
pub async fn fetch_bounded(
    ipfs: &IpfsStore,
    cid: &[u8],
    limit: usize,
    what: &str,
) -> Result<Vec<u8>> {
    let text = String::from_utf8_lossy(cid);
    let cid = parse_cid(&text).map_err(AggregatorError::storage(what))?;
    ipfs.get(&cid, limit)
        .await
        .map_err(AggregatorError::storage(format!("{what} {cid}")))
}

/// The project's spec and the round rule it fixes, checked against the on-chain shape.
pub async fn load_spec(ipfs: &IpfsStore, view: &ProjectView) -> Result<(ProjectSpec, RuleParams)> {
    let cid = String::from_utf8_lossy(&view.params.spec_cid).into_owned();
    let bytes = fetch_bounded(ipfs, &view.params.spec_cid, MAX_SPEC_BYTES, "the spec").await?;
    let text = std::str::from_utf8(&bytes).map_err(|e| AggregatorError::BadFile {
        what: format!("the spec {cid}"),
        problem: e.to_string(),
    })?;
    let spec = ProjectSpec::from_json(text).map_err(|source| AggregatorError::Spec {
        cid: cid.clone(),
        source,
    })?;
    let params = rule_params(&spec, view)?;
    Ok((spec, params))
}

/// The rule parameters of `spec`, which must describe the circuit the project posted.
pub fn rule_params(spec: &ProjectSpec, view: &ProjectView) -> Result<RuleParams> {
    let params = RuleParams::from_spec(spec);
    params.check().map_err(AggregatorError::RuleParams)?;
    if let Some(c) = &view.chunked {
        if c.rule(view.params.slots) != params {
            return Err(AggregatorError::Shape(format!(
                "the spec's rule {params:?} is not the chunked statement on chain {c:?}"
            )));
        }
    }
    if params.slots != view.params.slots as usize {
        return Err(AggregatorError::Shape(format!(
            "the spec has {} slots, the project {} slots per round",
            params.slots, view.params.slots
        )));
    }
    Ok(params)
}

/// Fetches a model file and checks it: strict parse, a model, `dim` values, and
/// `commit_model(values) == commitment`.
pub async fn fetch_model(
    ipfs: &IpfsStore,
    cid: &[u8],
    commitment: &Commitment,
    scheme: &Scheme,
    dim: usize,
    limit: usize,
) -> Result<ModelFile> {
    let name = String::from_utf8_lossy(cid).into_owned();
    let bytes = fetch_bounded(ipfs, cid, limit, "the model").await?;
    check_model(&name, &bytes, commitment, scheme, dim)
}

/// The checks of [`fetch_model`] on bytes in hand.
pub fn check_model(
    name: &str,
    bytes: &[u8],
    commitment: &Commitment,
    scheme: &Scheme,
    dim: usize,
) -> Result<ModelFile> {
    let file = ModelFile::parse(bytes).map_err(|source| AggregatorError::Format {
        what: format!("the model {name}"),
        source,
    })?;
    if file.kind != Kind::Model || file.values.len() != dim {
        return Err(AggregatorError::BadFile {
            what: format!("the model {name}"),
            problem: format!(
                "a {:?} file of {} values, expected a model of {dim}",
                file.kind,
                file.values.len()
            ),
        });
    }
    if scheme.commit_model(&file.values).ok() != Some(*commitment) {
        return Err(AggregatorError::ModelMismatch { cid: name.into() });
    }
    Ok(file)
}

/// Whether `pk` belongs to the verifying key stored on chain (`verifier::prepare`'s form).
pub fn proving_key_matches(pk: &ProvingKey, on_chain_prepared: &[u8]) -> Result<bool> {
    let mut compressed = Vec::new();
    ark_serialize::CanonicalSerialize::serialize_compressed(&pk.vk, &mut compressed).map_err(
        |e| AggregatorError::BadFile {
            what: "the proving key's verifying key".into(),
            problem: e.to_string(),
        },
    )?;
    let prepared = verifier::prepare(&compressed).map_err(AggregatorError::VerifyingKey)?;
    Ok(prepared == on_chain_prepared)
}

/// Fetches the key file the project names (`params.proving_key_cid`) and reads it with
/// `read` on a blocking thread; returns its CID and what `read` made of it.
async fn fetch_key_file<T: Send + 'static>(
    ipfs: &IpfsStore,
    view: &ProjectView,
    limit: usize,
    what: &str,
    read: fn(&[u8]) -> std::result::Result<T, keys::KeyError>,
) -> Result<(String, T)> {
    let cid = String::from_utf8_lossy(&view.params.proving_key_cid).into_owned();
    let bytes = fetch_bounded(ipfs, &view.params.proving_key_cid, limit, what).await?;
    let value = tokio::task::spawn_blocking(move || read(&bytes))
        .await
        .expect("reading a key does not panic")
        .map_err(|source| AggregatorError::ProvingKey {
            cid: cid.clone(),
            source,
        })?;
    Ok((cid, value))
}

/// Fetches the proving key named on chain and checks it against the on-chain verifying key.
pub async fn load_proving_key(
    ipfs: &IpfsStore,
    view: &ProjectView,
    limit: usize,
) -> Result<Arc<ProvingKey>> {
    let (cid, pk) =
        fetch_key_file(ipfs, view, limit, "the proving key", keys::read_proving_key).await?;
    if !proving_key_matches(&pk, &view.verifying_key)? {
        return Err(AggregatorError::KeyMismatch { cid });
    }
    Ok(Arc::new(pk))
}

/// The proving keys of a project: its own round circuit's (v3), or its shape's (chunked).
#[derive(Clone)]
pub enum ProvingKeys {
    Whole(Arc<ProvingKey>),
    Chunked {
        chunk_size: usize,
        chunk: Arc<ProvingKey>,
        decision: Arc<ProvingKey>,
    },
}

/// Fetches a shape's key file (the project's `proving_key_cid`, which the contract holds
/// equal to the shape's) and checks both keys against the shape's verifying keys on chain.
pub async fn load_shape_keys(
    ipfs: &IpfsStore,
    view: &ProjectView,
    shape: &ShapeView,
    limit: usize,
) -> Result<ProvingKeys> {
    let (cid, file) =
        fetch_key_file(ipfs, view, limit, "the shape keys", keys::read_shape_keys).await?;
    if (file.slots, file.chunk) != (shape.slots, shape.chunk)
        || !proving_key_matches(&file.chunk_key, &shape.chunk_key)?
        || !proving_key_matches(&file.decision_key, &shape.decision_key)?
    {
        return Err(AggregatorError::KeyMismatch { cid });
    }
    Ok(ProvingKeys::Chunked {
        chunk_size: shape.chunk as usize,
        chunk: Arc::new(file.chunk_key),
        decision: Arc::new(file.decision_key),
    })
}

/// Everything fixed for a project's whole life, loaded once by the node.
#[derive(Clone)]
pub struct ProjectContext {
    pub project: u32,
    pub spec: ProjectSpec,
    pub params: RuleParams,
    pub keys: ProvingKeys,
    /// How updates and models are committed (whole, or in chunks).
    pub scheme: Scheme,
}

impl ProjectContext {
    /// Reads the spec and the proving keys named on chain (the shape's, for a chunked
    /// project) and checks them against the verifying keys on chain.
    pub async fn load(
        market: &Marketplace,
        ipfs: &IpfsStore,
        view: &ProjectView,
        max_key_bytes: usize,
    ) -> Result<Self> {
        let (spec, params) = load_spec(ipfs, view).await?;
        let scheme = Scheme::of(view.chunked.as_ref()).map_err(AggregatorError::Chunking)?;
        let keys = match &view.chunked {
            None => ProvingKeys::Whole(load_proving_key(ipfs, view, max_key_bytes).await?),
            Some(c) => {
                let shape = market.shape(c.shape).await?;
                load_shape_keys(ipfs, view, &shape, max_key_bytes).await?
            }
        };
        tracing::info!(
            project = view.id,
            slots = params.slots,
            dim = params.dim,
            chunked = view.chunked.is_some(),
            "spec and proving keys loaded; they match the verifying keys on chain"
        );
        Ok(Self {
            project: view.id,
            spec,
            params,
            keys,
            scheme,
        })
    }
}
