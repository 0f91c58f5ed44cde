//! The ceremony's files: where one comes from (a path or a CID), reading, writing and
//! publishing it, and decoding it into a phase-1 transcript or a transcript.

use super::{CeremonyCliError, Result, MAX_TRANSCRIPT_BYTES};
use ark_serialize::CanonicalSerialize;
use merit_ceremony::{CeremonyError, Phase1Transcript, Transcript};
use merit_storage::IpfsStore;
use std::path::{Path, PathBuf};

/// Where a file comes from: a path, or a CID in IPFS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    Cid(String),
}

impl Source {
    /// `FILE|CID`: an existing path is a file; otherwise something that parses as a CID is
    /// one; anything else is a file (whose reading will say it is missing).
    pub fn parse(s: &str) -> Self {
        let path = Path::new(s);
        if !path.exists() && merit_storage::parse_cid(s).is_ok() {
            Source::Cid(s.to_string())
        } else {
            Source::File(path.to_path_buf())
        }
    }

    /// How errors name it.
    pub fn describe(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Cid(c) => format!("ipfs://{c}"),
        }
    }

    /// Its bytes: the file's, or the CID's from the store `ipfs` gives (asked only for a CID).
    pub async fn read(
        &self,
        ipfs: impl FnOnce() -> anyhow::Result<IpfsStore>,
    ) -> anyhow::Result<Vec<u8>> {
        match self {
            Source::File(path) => Ok(read_file(path)?),
            Source::Cid(cid) => {
                let store = ipfs()?;
                let parsed = merit_storage::parse_cid(cid).map_err(|e| CeremonyCliError::Ipfs {
                    what: format!("the CID {cid}"),
                    source: e,
                })?;
                Ok(store
                    .get(&parsed, MAX_TRANSCRIPT_BYTES)
                    .await
                    .map_err(|e| CeremonyCliError::Ipfs {
                        what: format!("fetching {cid}"),
                        source: e,
                    })?)
            }
        }
    }
}

/// Reads a whole file, naming it on failure.
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| CeremonyCliError::Read {
        what: path.display().to_string(),
        source: e,
    })
}

/// Writes a file (through a temporary file and a rename, so a half-written transcript is
/// never left under the name).
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let err = |e| CeremonyCliError::Write {
        what: path.display().to_string(),
        source: e,
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

/// Puts `bytes` into IPFS (pinned) and returns the CID.
pub async fn publish(ipfs: &IpfsStore, bytes: Vec<u8>, what: &str) -> Result<String> {
    ipfs.add(bytes)
        .await
        .map(|cid| cid.to_string())
        .map_err(|e| CeremonyCliError::Ipfs {
            what: format!("putting {what}"),
            source: e,
        })
}

/// Decodes a phase-1 transcript: every point checked in its group, no byte left over.
pub fn read_phase1(bytes: &[u8], what: &str) -> Result<Phase1Transcript> {
    let malformed = |source, hint: &str| CeremonyCliError::Malformed {
        what: what.to_string(),
        expected: "phase-1 transcript",
        hint: hint.to_string(),
        source,
    };
    let t = Phase1Transcript::from_bytes(bytes).map_err(|e| malformed(e, ""))?;
    let used = t.compressed_size();
    if used != bytes.len() {
        return Err(malformed(
            CeremonyError::Decode(format!(
                "{} bytes follow the phase-1 transcript",
                bytes.len() - used
            )),
            "; a transcript with a phase 2 begins with its phase 1: phase-1 commands take \
             the phase-1 file",
        ));
    }
    Ok(t)
}

/// Decodes a transcript (phase 1 and phase 2): every point checked in its group, no byte
/// left over. A phase-1 file is named as one.
pub fn read_transcript(bytes: &[u8], what: &str) -> Result<Transcript> {
    let malformed = |source, hint: &str| CeremonyCliError::Malformed {
        what: what.to_string(),
        expected: "ceremony transcript (phase 1 and phase 2)",
        hint: hint.to_string(),
        source,
    };
    match Transcript::from_bytes(bytes) {
        Ok(t) if t.compressed_size() == bytes.len() => Ok(t),
        Ok(t) => Err(malformed(
            CeremonyError::Decode(format!(
                "{} bytes follow the transcript",
                bytes.len() - t.compressed_size()
            )),
            "",
        )),
        Err(e) => {
            let phase1_only = Phase1Transcript::from_bytes(bytes)
                .is_ok_and(|p| p.compressed_size() == bytes.len());
            Err(malformed(
                e,
                if phase1_only {
                    "; it is a phase-1 transcript: start phase 2 from it with `merit ceremony \
                     phase2 new`"
                } else {
                    ""
                },
            ))
        }
    }
}
