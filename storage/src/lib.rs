//! `merit-storage`: put bytes into IPFS and get them back, through the Kubo RPC API
//! (`/api/v0/…`) via `ipfs-api-backend-hyper`. Works against Kubo's `ipfs daemon` and the
//! js-ipfs daemon the devnet starts on machines where Kubo cannot be installed.
//!
//! Every failure is typed and names what was wrong: a malformed CID, a daemon that does
//! not answer (with its URL), content larger than the caller allows.

use futures::TryStreamExt;
use ipfs_api_backend_hyper::{request, Form, IpfsApi, IpfsClient, TryFromUri};
use ipfs_api_prelude::Backend;
use std::io::Cursor;
use std::str::FromStr;

pub use cid::Cid;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("malformed CID {cid:?}: {reason}")]
    MalformedCid { cid: String, reason: String },
    #[error("bad IPFS API URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("the IPFS daemon at {url} is not answering: {reason} (is it running? `merit devnet status`)")]
    Unreachable { url: String, reason: String },
    #[error("{cid} is larger than the {limit} bytes allowed here")]
    TooLarge { cid: String, limit: usize },
    #[error("the IPFS daemon at {url} refused `{op}`: {reason}")]
    Api {
        url: String,
        op: &'static str,
        reason: String,
    },
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// Parses and validates a CID (v0 `Qm…` or v1 multibase), naming the input if it is not one.
pub fn parse_cid(s: &str) -> Result<Cid> {
    Cid::from_str(s.trim()).map_err(|e| StorageError::MalformedCid {
        cid: s.into(),
        reason: e.to_string(),
    })
}

#[derive(Clone)]
pub struct IpfsStore {
    client: IpfsClient,
    url: String,
}

impl std::fmt::Debug for IpfsStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpfsStore").field("url", &self.url).finish()
    }
}

impl IpfsStore {
    /// A client for the daemon whose RPC API is at `url` (e.g. `http://127.0.0.1:5001`).
    /// Nothing is sent until the first call; use [`IpfsStore::version`] to check it answers.
    pub fn new(url: &str) -> Result<Self> {
        let client = IpfsClient::from_str(url).map_err(|e| StorageError::BadUrl {
            url: url.into(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            client,
            url: url.into(),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn classify(&self, op: &'static str, e: ipfs_api_backend_hyper::Error) -> StorageError {
        use ipfs_api_backend_hyper::Error as E;
        match e {
            E::Client(h) if h.is_connect() || h.is_closed() || h.is_timeout() => {
                StorageError::Unreachable {
                    url: self.url.clone(),
                    reason: h.to_string(),
                }
            }
            E::Client(h) => StorageError::Unreachable {
                url: self.url.clone(),
                reason: h.to_string(),
            },
            other => StorageError::Api {
                url: self.url.clone(),
                op,
                reason: other.to_string(),
            },
        }
    }

    /// The daemon's version string; the cheapest "are you there".
    pub async fn version(&self) -> Result<String> {
        let v = self
            .client
            .version()
            .await
            .map_err(|e| self.classify("version", e))?;
        Ok(v.version)
    }

    /// Adds and pins `bytes` (CIDv1); returns the CID.
    ///
    /// The request goes through the client's raw path and the reply is read leniently:
    /// Kubo sends `"Size"` as a string, js-ipfs as a number, and ipfs-api's typed
    /// `AddResponse` accepts only the former. Only `Hash` matters here.
    pub async fn add(&self, bytes: Vec<u8>) -> Result<Cid> {
        #[derive(serde::Deserialize)]
        struct Added {
            #[serde(rename = "Hash")]
            hash: String,
        }
        let len = bytes.len();
        let opts = request::Add {
            pin: Some(true),
            cid_version: Some(1),
            ..Default::default()
        };
        let mut form = Form::default();
        form.add_reader("path", Cursor::new(bytes));
        let (status, body) = self
            .client
            .request_raw(opts, Some(form))
            .await
            .map_err(|e| self.classify("add", e))?;
        let text = String::from_utf8_lossy(&body);
        if !status.is_success() {
            let reason = format!("{status}: {}", text.trim());
            return Err(StorageError::Api {
                url: self.url.clone(),
                op: "add",
                reason,
            });
        }
        // One JSON object per added file; we add exactly one.
        let last = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default();
        let added: Added = serde_json::from_str(last).map_err(|e| StorageError::Api {
            url: self.url.clone(),
            op: "add",
            reason: format!("unexpected reply {last:?}: {e}"),
        })?;
        tracing::debug!(cid = %added.hash, len, "added to IPFS");
        parse_cid(&added.hash)
    }

    /// Fetches the content of `cid`, refusing (without buffering it all) past `limit` bytes.
    pub async fn get(&self, cid: &Cid, limit: usize) -> Result<Vec<u8>> {
        let key = cid.to_string();
        let mut stream = self.client.cat(&key);
        let mut out = Vec::new();
        while let Some(chunk) = stream
            .try_next()
            .await
            .map_err(|e| self.classify("cat", e))?
        {
            if out.len() + chunk.len() > limit {
                return Err(StorageError::TooLarge { cid: key, limit });
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// Whether `cid` is pinned on this daemon (so it survives garbage collection).
    pub async fn is_pinned(&self, cid: &Cid) -> Result<bool> {
        let key = cid.to_string();
        match self.client.pin_ls(Some(&key), None).await {
            Ok(r) => Ok(!r.keys.is_empty()),
            Err(ipfs_api_backend_hyper::Error::Api(api)) if api.message.contains("not pinned") => {
                Ok(false)
            }
            Err(e) => Err(self.classify("pin/ls", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_cids_parse() {
        assert!(parse_cid("QmRaaUwTNfwgFZpeUy8qrZwrp2dY4kCKmmB5xEqvH3vtD1").is_ok());
        assert!(parse_cid("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy").is_ok());
        assert!(parse_cid("zb2rhcc1wJn2GHDLT2YkmPq5b69cXc2xfRZZmyufbjFUfBkxr").is_ok());
    }

    #[test]
    fn malformed_cid_is_named() {
        for bad in [
            "",
            "Qm",
            "not-a-cid",
            "bafy!!!",
            "QmRaaUwTNfwgFZpeUy8qrZwrp2dY4kCKmmB5xEqvH3vtD",
        ] {
            let e = parse_cid(bad).unwrap_err();
            assert!(
                matches!(&e, StorageError::MalformedCid { cid, .. } if cid == bad),
                "{bad}: {e}"
            );
            assert!(e.to_string().contains("malformed CID"), "{e}");
        }
    }

    #[test]
    fn bad_url_is_refused() {
        let e = IpfsStore::new("not a url").unwrap_err();
        assert!(matches!(e, StorageError::BadUrl { .. }), "{e}");
    }

    #[tokio::test]
    async fn a_daemon_that_is_down_is_reported_with_its_url() {
        // Bind then drop a listener: nothing answers on that port afterwards.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}");
        let store = IpfsStore::new(&url).unwrap();
        let e = store.version().await.unwrap_err();
        assert!(
            matches!(&e, StorageError::Unreachable { url: u, .. } if *u == url),
            "{e}"
        );
        let e = store.add(b"lost?".to_vec()).await.unwrap_err();
        assert!(e.to_string().contains(&url), "{e}");
    }
}
