//! Fetching a revealed update and checking it against its on-chain commitment.
//!
//! A revealed CID comes from the chain, so it is untrusted input: it is parsed strictly,
//! fetched with a hard size bound and a per-attempt timeout, retried with backoff, and
//! the file is parsed strictly (`ModelFile::parse`). A reveal that fails any check is
//! *set aside* (the round counts it as absent) with a [`SetAsideReason`].
//!
//! One failure is deliberately **not** a reason: our own IPFS daemon not answering
//! (`StorageError::Unreachable`). Setting every trainer aside because the aggregator's
//! daemon is down would punish them for our outage, so that is an error of the round
//! (retried by the node loop) instead.

use crate::error::{AggregatorError, Result};
use merit_protocol::abi::AccountBytes;
use merit_protocol::chunked::Scheme;
use merit_protocol::commit::Commitment;
use merit_protocol::format::{Kind, ModelFile};
use merit_storage::{parse_cid, IpfsStore, StorageError};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Why a revealed update was set aside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SetAsideReason {
    /// The revealed bytes are not a CID.
    MalformedCid { detail: String },
    /// The content could not be fetched within the retries (not pinned anywhere we reach).
    Unreachable { detail: String },
    /// The content is larger than the update size bound.
    TooLarge { limit: usize },
    /// Not a valid Merit model/update file.
    Malformed { detail: String },
    /// A valid file, but a model rather than an update.
    WrongKind,
    /// A valid update of the wrong dimension.
    WrongLength { expected: usize, got: usize },
    /// A valid update that does not open the slot's commitment (e.g. a copied file).
    WrongCommitment,
}

impl std::fmt::Display for SetAsideReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MalformedCid { detail } => write!(f, "malformed CID: {detail}"),
            Self::Unreachable { detail } => write!(f, "not retrievable: {detail}"),
            Self::TooLarge { limit } => write!(f, "larger than {limit} bytes"),
            Self::Malformed { detail } => write!(f, "not a valid update file: {detail}"),
            Self::WrongKind => f.write_str("a model file, not an update"),
            Self::WrongLength { expected, got } => {
                write!(f, "{got} values, the model has {expected}")
            }
            Self::WrongCommitment => f.write_str("does not open the slot's commitment"),
        }
    }
}

/// How hard to try fetching from IPFS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchPolicy {
    /// Largest update file accepted (bytes).
    pub max_bytes: usize,
    /// Attempts per CID (at least 1).
    pub attempts: u32,
    /// Wait after the first failed attempt; doubled after each further one.
    pub backoff: Duration,
    /// Limit on one attempt (a CID nobody provides makes `cat` wait forever).
    pub timeout: Duration,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        Self {
            // 16 Mi parameters × 6 bytes (values + floats) plus headers.
            max_bytes: 100 << 20,
            attempts: 3,
            backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(30),
        }
    }
}

/// What fetching one CID came to, before any parsing.
#[derive(Debug)]
pub enum Fetched {
    Bytes(Vec<u8>),
    /// The content failed every attempt in a way that is the content's fault.
    Failed(SetAsideReason),
}

/// Fetches `cid` (revealed bytes from the chain) under `policy`. `Err` only when our own
/// daemon does not answer.
pub async fn fetch_revealed(
    store: &IpfsStore,
    cid: &[u8],
    policy: &FetchPolicy,
) -> Result<Fetched> {
    let text = match std::str::from_utf8(cid) {
        Ok(t) => t,
        Err(e) => {
            return Ok(Fetched::Failed(SetAsideReason::MalformedCid {
                detail: e.to_string(),
            }))
        }
    };
    let cid = match parse_cid(text) {
        Ok(c) => c,
        Err(e) => {
            return Ok(Fetched::Failed(SetAsideReason::MalformedCid {
                detail: e.to_string(),
            }))
        }
    };
    let mut wait = policy.backoff;
    let mut last = String::new();
    for attempt in 1..=policy.attempts.max(1) {
        match tokio::time::timeout(policy.timeout, store.get(&cid, policy.max_bytes)).await {
            Ok(Ok(bytes)) => return Ok(Fetched::Bytes(bytes)),
            Ok(Err(StorageError::TooLarge { limit, .. })) => {
                return Ok(Fetched::Failed(SetAsideReason::TooLarge { limit }))
            }
            Ok(Err(e @ StorageError::Unreachable { .. })) => {
                return Err(AggregatorError::storage(format!("fetching {cid}"))(e))
            }
            Ok(Err(e)) => last = e.to_string(),
            Err(_) => last = format!("no content within {:?}", policy.timeout),
        }
        tracing::debug!(%cid, attempt, reason = %last, "fetch failed");
        if attempt < policy.attempts {
            tokio::time::sleep(wait).await;
            wait = wait.saturating_mul(2);
        }
    }
    Ok(Fetched::Failed(SetAsideReason::Unreachable {
        detail: last,
    }))
}

/// Checks a fetched update for `account`'s slot: strict parse, an update, `dim` values,
/// and `commit_update(account, values) == commitment`. Returns the values.
pub fn check_update(
    scheme: &Scheme,
    account: &AccountBytes,
    commitment: &Commitment,
    dim: usize,
    bytes: &[u8],
) -> Result<Vec<i16>, SetAsideReason> {
    let file = ModelFile::parse(bytes).map_err(|e| SetAsideReason::Malformed {
        detail: e.to_string(),
    })?;
    if file.kind != Kind::Update {
        return Err(SetAsideReason::WrongKind);
    }
    if file.values.len() != dim {
        return Err(SetAsideReason::WrongLength {
            expected: dim,
            got: file.values.len(),
        });
    }
    if scheme.commit_update(account, &file.values).ok() != Some(*commitment) {
        return Err(SetAsideReason::WrongCommitment);
    }
    Ok(file.values)
}

/// Fetches and checks one revealed update.
pub async fn fetch_and_check(
    store: &IpfsStore,
    scheme: &Scheme,
    account: &AccountBytes,
    commitment: &Commitment,
    cid: &[u8],
    dim: usize,
    policy: &FetchPolicy,
) -> Result<Result<Vec<i16>, SetAsideReason>> {
    Ok(match fetch_revealed(store, cid, policy).await? {
        Fetched::Bytes(b) => check_update(scheme, account, commitment, dim, &b),
        Fetched::Failed(r) => Err(r),
    })
}

/// The update that answered `slot`'s set-aside in `round`, read back from the chain, and
/// whether it opens the slot's commitment: the contract checked it; the aggregator and
/// `merit verify` check again rather than trust what the client read.
pub async fn answered_update(
    market: &merit_chain::Marketplace,
    scheme: &Scheme,
    dim: usize,
    (project, round): (u32, u32),
    slot: &merit_protocol::abi::SlotView,
    commitment: &Commitment,
) -> Result<(Vec<i16>, bool)> {
    let chunk = match scheme {
        Scheme::Whole(_) => None,
        Scheme::Chunked { chunking, .. } => Some(chunking.chunk),
    };
    let values = market
        .answered_update(project, (round, slot.slot), dim, chunk)
        .await?;
    let opens = scheme.commit_update(&slot.account, &values).ok() == Some(*commitment);
    Ok((values, opens))
}

#[cfg(test)]
mod tests {
    use super::*;
    use merit_protocol::commit::Committer;
    use merit_protocol::format::TensorShape;

    fn file(kind: Kind, values: Vec<i16>) -> Vec<u8> {
        ModelFile {
            kind,
            scale_bits: 8,
            tensors: vec![TensorShape {
                name: "w".into(),
                dims: vec![values.len() as u32],
            }],
            values,
            floats: None,
        }
        .encode()
    }

    #[test]
    fn each_failed_check_has_its_reason() {
        let c = Committer::new();
        let me = [1u8; 32];
        let other = [2u8; 32];
        let u = vec![3i16, -4, 5];
        let cm = c.commit_update(&me, &u);
        assert_eq!(
            check_update(
                &Scheme::Whole(c.clone()),
                &me,
                &cm,
                3,
                &file(Kind::Update, u.clone())
            ),
            Ok(u.clone())
        );
        // The same values committed by someone else: a copied file does not open.
        let copied = c.commit_update(&other, &u);
        assert_eq!(
            check_update(
                &Scheme::Whole(c.clone()),
                &me,
                &copied,
                3,
                &file(Kind::Update, u.clone())
            ),
            Err(SetAsideReason::WrongCommitment)
        );
        assert_eq!(
            check_update(
                &Scheme::Whole(c.clone()),
                &me,
                &cm,
                3,
                &file(Kind::Model, u.clone())
            ),
            Err(SetAsideReason::WrongKind)
        );
        assert_eq!(
            check_update(
                &Scheme::Whole(c.clone()),
                &me,
                &cm,
                4,
                &file(Kind::Update, u.clone())
            ),
            Err(SetAsideReason::WrongLength {
                expected: 4,
                got: 3
            })
        );
        let mut bytes = file(Kind::Update, u);
        bytes.push(0);
        assert!(matches!(
            check_update(&Scheme::Whole(c.clone()), &me, &cm, 3, &bytes),
            Err(SetAsideReason::Malformed { .. })
        ));
    }

    #[tokio::test]
    async fn a_malformed_cid_is_set_aside_without_touching_the_daemon() {
        // Nothing listens on port 9: a fetch would be an Unreachable error, not a reason.
        let store = IpfsStore::new("http://127.0.0.1:9").unwrap();
        let p = FetchPolicy::default();
        for bad in [&b"Qm-not-a-cid"[..], &[0xff, 0xfe][..]] {
            match fetch_revealed(&store, bad, &p).await.unwrap() {
                Fetched::Failed(SetAsideReason::MalformedCid { .. }) => {}
                other => panic!("{other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn our_own_daemon_down_is_an_error_not_a_set_aside() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let store = IpfsStore::new(&format!("http://127.0.0.1:{port}")).unwrap();
        let cid = b"bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";
        let e = fetch_revealed(&store, cid, &FetchPolicy::default())
            .await
            .unwrap_err();
        assert!(e.is_transient(), "{e}");
    }

    #[test]
    fn reasons_serialise_with_a_tag() {
        let j = serde_json::to_value(SetAsideReason::WrongLength {
            expected: 4,
            got: 3,
        })
        .unwrap();
        assert_eq!(
            j,
            serde_json::json!({"kind": "wrong_length", "expected": 4, "got": 3})
        );
    }
}
