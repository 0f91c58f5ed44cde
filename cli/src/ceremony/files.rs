//! The ceremony's files: where one comes from (a path or a CID), reading, writing and
//! publishing it, and decoding it into a phase-1 transcript or a transcript.

use super::{CeremonyCliError, Result, MAX_TRANSCRIPT_BYTES};
use ark_serialize::CanonicalSerialize;
use merit_ceremony::{CeremonyError, Digest, Phase1Transcript, Transcript};
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

/// The phase 1s a node verified in full, remembered by the SHA-256 of their encoding.
///
/// Every project on a domain size shares one phase 1, and checking it is most of the cost
/// of checking a transcript (at 2^17 points, about 45 of 75 CPU-seconds), so a node
/// checks each phase 1 once and keeps its own uncompressed copy under
/// `<data dir>/ceremony/phase1-verified/`; phase 2, each project's own, is checked every
/// time. A copy is used only if it encodes back to the bytes it is named after. Whoever
/// can write the directory can also replace the `merit` binary, so the memo trusts
/// nobody the node did not already trust; processes that share a data directory (the
/// demo's roles) share it.
#[derive(Debug, Clone, Default)]
pub struct Phase1Memo {
    dir: Option<PathBuf>,
}

impl Phase1Memo {
    /// No memo: phase 1 is checked every time (`merit ceremony verify`).
    pub fn none() -> Self {
        Self { dir: None }
    }

    /// The memo of the node whose data directory is `data_dir`.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        Self {
            dir: Some(data_dir.join("ceremony").join("phase1-verified")),
        }
    }

    fn path(&self, digest: &Digest) -> Option<PathBuf> {
        Some(
            self.dir
                .as_ref()?
                .join(format!("{}.bin", hex::encode(digest))),
        )
    }

    /// The phase 1 whose compressed encoding has SHA-256 `digest`, if this node verified it.
    fn recall(&self, digest: &Digest) -> Option<Phase1Transcript> {
        let bytes = std::fs::read(self.path(digest)?).ok()?;
        let p1 = Phase1Transcript::from_own_copy(&bytes).ok()?;
        (sha256(&p1.to_bytes()) == *digest).then_some(p1)
    }

    /// Remembers a phase 1 that verified in full; a failure to write costs only time later.
    fn remember(&self, digest: &Digest, p1: &Phase1Transcript) {
        let Some(path) = self.path(digest) else {
            return;
        };
        if path.exists() {
            return;
        }
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .map_err(|e| e.to_string())
            .and_then(|()| write_file(&path, &p1.to_own_copy()).map_err(|e| e.to_string()));
        if let Err(e) = written {
            eprintln!(
                "not remembering the verified phase 1 in {}: {e}",
                path.display()
            );
        }
        self.forget_all_but(MEMO_KEEPS);
    }

    /// Deletes all but the `keep` newest copies (a 2^17 one is 50 MB; the demo opens a
    /// new phase 1 each run).
    fn forget_all_but(&self, keep: usize) {
        let Some(Ok(entries)) = self.dir.as_ref().map(std::fs::read_dir) else {
            return;
        };
        let mut copies: Vec<_> = entries
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "bin"))
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .collect();
        copies.sort();
        let excess = copies.len().saturating_sub(keep);
        for (_, path) in copies.into_iter().take(excess) {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// How many verified phase 1s a memo keeps (the newest).
pub(super) const MEMO_KEEPS: usize = 4;

/// A transcript as read, and whether its phase 1 is one the node verified before.
pub struct ReadTranscript {
    pub transcript: Transcript,
    /// SHA-256 of phase 1's encoding.
    phase1_digest: Digest,
    /// Phase 1 came from the memo: its checks were passed before.
    pub phase1_verified: bool,
}

impl ReadTranscript {
    /// After the transcript verified in full: its phase 1 need not be checked again.
    pub fn remember_phase1(&self, memo: &Phase1Memo) {
        if !self.phase1_verified {
            memo.remember(&self.phase1_digest, &self.transcript.phase1);
        }
    }
}

/// [`read_transcript`], taking phase 1 from `memo` when the node verified exactly that
/// phase 1 before (only phase 2 is then decoded and checked).
pub fn read_transcript_recalling(
    bytes: &[u8],
    what: &str,
    memo: &Phase1Memo,
) -> Result<ReadTranscript> {
    let split = Transcript::phase1_len(bytes);
    let phase1_digest = sha256(&bytes[..split.unwrap_or(0)]);
    let recalled = split.and_then(|len| Some((len, memo.recall(&phase1_digest)?)));
    if let Some((len, phase1)) = recalled {
        let malformed = |source| CeremonyCliError::Malformed {
            what: what.to_string(),
            expected: "ceremony transcript (phase 1 and phase 2)",
            hint: String::new(),
            source,
        };
        let t = Transcript::with_phase1(phase1, &bytes[len..]).map_err(malformed)?;
        if t.compressed_size() != bytes.len() {
            return Err(malformed(CeremonyError::Decode(format!(
                "{} bytes follow the transcript",
                bytes.len().saturating_sub(t.compressed_size())
            ))));
        }
        return Ok(ReadTranscript {
            transcript: t,
            phase1_digest,
            phase1_verified: true,
        });
    }
    Ok(ReadTranscript {
        transcript: read_transcript(bytes, what)?,
        phase1_digest,
        phase1_verified: false,
    })
}

fn sha256(bytes: &[u8]) -> Digest {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).into()
}
