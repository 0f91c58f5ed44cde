//! Restart safety: what the node has done, on disk, and the pure decision of what to do next.
//!
//! One JSON file per (project, account): per round, the CID of the published update file,
//! the commitment, and whether the commit and the reveal went through. The record of a
//! round is written (temp file + rename) **before** `commit_update` is sent, so a node that
//! crashes after committing never trains a second, different update for that round and
//! never commits twice: on restart it finds its record, sees its commitment on chain, and
//! reveals the stored CID. If the chain holds a commitment that is not the stored one (or
//! there is no record of it), the node refuses to reveal anything.

use merit_protocol::abi::{Phase, SlotView};
use merit_protocol::commit::Commitment;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state file {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("state file {path} is not valid")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("state file {path} belongs to project {found_project} / account {found_account}, not {project} / {account}")]
    Mismatch {
        path: PathBuf,
        project: u32,
        account: String,
        found_project: u32,
        found_account: String,
    },
}

/// What the node did in one round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundState {
    /// CID of the update file in IPFS (pinned).
    pub cid: String,
    /// `Committer::commit_update(account, values)`, hex.
    #[serde(with = "hex_commitment")]
    pub commitment: Commitment,
    /// The chain has our commitment for this round.
    pub committed: bool,
    /// The chain has our reveal for this round.
    pub revealed: bool,
    /// What was revealed (our CID, or another slot's under the `copy` behaviour).
    #[serde(default)]
    pub revealed_cid: Option<String>,
}

/// The node's state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeState {
    pub project: u32,
    /// Account id, hex.
    pub account: String,
    pub rounds: BTreeMap<u32, RoundState>,
}

/// A [`NodeState`] bound to its file.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    pub state: NodeState,
}

impl StateFile {
    /// `dir/project-{project}-{account hex}.json`.
    pub fn path_for(dir: &Path, project: u32, account: &[u8; 32]) -> PathBuf {
        dir.join(format!("project-{project}-{}.json", hex::encode(account)))
    }

    /// Opens the state of (project, account) in `dir`, or starts an empty one.
    pub fn open(dir: &Path, project: u32, account: &[u8; 32]) -> Result<Self, StateError> {
        let path = Self::path_for(dir, project, account);
        let account = hex::encode(account);
        let state = match std::fs::read(&path) {
            Ok(bytes) => {
                let s: NodeState =
                    serde_json::from_slice(&bytes).map_err(|source| StateError::Json {
                        path: path.clone(),
                        source,
                    })?;
                if s.project != project || s.account != account {
                    return Err(StateError::Mismatch {
                        path,
                        project,
                        account,
                        found_project: s.project,
                        found_account: s.account,
                    });
                }
                s
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => NodeState {
                project,
                account,
                rounds: BTreeMap::new(),
            },
            Err(source) => return Err(StateError::Io { path, source }),
        };
        Ok(Self { path, state })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn round(&self, round: u32) -> Option<&RoundState> {
        self.state.rounds.get(&round)
    }

    /// Changes one round's record and writes the whole file atomically.
    pub fn update(
        &mut self,
        round: u32,
        f: impl FnOnce(Option<RoundState>) -> RoundState,
    ) -> Result<(), StateError> {
        let old = self.state.rounds.remove(&round);
        self.state.rounds.insert(round, f(old));
        self.save()
    }

    fn save(&self) -> Result<(), StateError> {
        let json = serde_json::to_vec_pretty(&self.state).expect("state serialises");
        write_atomically(&self.path, &json).map_err(|source| StateError::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// Where the node keeps the bytes of its own update file for `round` (for `replay`,
    /// and to re-publish if IPFS lost it).
    pub fn update_file(&self, round: u32) -> PathBuf {
        let stem = self
            .path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("state");
        self.path
            .with_file_name(format!("{stem}-round-{round}.update"))
    }
}

/// Writes `bytes` to `path` via a temporary file in the same directory, fsync, and rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir)?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = dir {
        // Make the rename itself durable; not every platform can open a directory.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// What the node should do now for the current round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing to do in this phase (already done, or not our turn).
    Wait,
    /// Commit phase, no record, nothing on chain: train, publish, record, then commit.
    Prepare,
    /// Commit phase, a record but no commitment on chain (we crashed before or during the
    /// commit): send the stored commitment — no retraining.
    CommitStored(Commitment),
    /// The chain has our stored commitment but the record says not yet: record it.
    MarkCommitted,
    /// Reveal phase, our commitment on chain, nothing revealed yet: reveal this CID.
    Reveal(String),
    /// The chain has our reveal; record it.
    MarkRevealed(Vec<u8>),
    /// The chain holds a commitment we have no matching record of: never reveal.
    Conflict(Conflict),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    /// Committed on chain, but this node has no record of the round (state file lost?).
    NoRecord { on_chain: Commitment },
    /// The stored commitment is not the one on chain.
    Differs {
        stored: Commitment,
        on_chain: Commitment,
    },
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoRecord { on_chain } => write!(
                f,
                "the chain holds commitment {} for this account but the state file has no record of this round; refusing to reveal",
                hex::encode(on_chain.0)
            ),
            Self::Differs { stored, on_chain } => write!(
                f,
                "the stored commitment {} differs from the chain's {}; refusing to reveal",
                hex::encode(stored.0),
                hex::encode(on_chain.0)
            ),
        }
    }
}

/// The decision, from the phase, our slot as the chain shows it this round, and our record.
pub fn decide(phase: Phase, slot: &SlotView, local: Option<&RoundState>) -> Action {
    let on_chain = slot.commitment;
    match (phase, on_chain, local) {
        // A commitment on chain that we cannot account for: whatever the phase, never act.
        (Phase::Commit | Phase::Reveal, Some(c), None) => {
            Action::Conflict(Conflict::NoRecord { on_chain: c })
        }
        (Phase::Commit | Phase::Reveal, Some(c), Some(l)) if l.commitment != c => {
            Action::Conflict(Conflict::Differs {
                stored: l.commitment,
                on_chain: c,
            })
        }
        (Phase::Commit, None, None) => Action::Prepare,
        (Phase::Commit, None, Some(l)) => Action::CommitStored(l.commitment),
        (Phase::Commit, Some(_), Some(l)) if !l.committed => Action::MarkCommitted,
        (Phase::Reveal, Some(_), Some(l)) => match &slot.cid {
            Some(cid) if !l.revealed || !l.committed => Action::MarkRevealed(cid.clone()),
            Some(_) => Action::Wait,
            None => Action::Reveal(l.cid.clone()),
        },
        _ => Action::Wait,
    }
}

mod hex_commitment {
    use merit_protocol::commit::Commitment;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(c: &Commitment, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(c.0))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Commitment, D::Error> {
        let text = String::deserialize(d)?;
        let bytes = hex::decode(&text).map_err(serde::de::Error::custom)?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| serde::de::Error::custom("a commitment is 32 bytes"))?;
        Ok(Commitment(arr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C1: Commitment = Commitment([1; 32]);
    const C2: Commitment = Commitment([2; 32]);

    fn slot(commitment: Option<Commitment>, cid: Option<&str>) -> SlotView {
        SlotView {
            slot: 0,
            trainer: 0,
            account: [7; 32],
            commitment,
            cid: cid.map(|c| c.as_bytes().to_vec()),
            set_aside: false,
            answer_until: 0,
            answered: false,
        }
    }

    fn local(c: Commitment, committed: bool, revealed: bool) -> RoundState {
        RoundState {
            cid: "bafy-mine".into(),
            commitment: c,
            committed,
            revealed,
            revealed_cid: None,
        }
    }

    #[test]
    fn decisions_table() {
        use Action::*;
        let cases: Vec<(Phase, SlotView, Option<RoundState>, Action)> = vec![
            // Fresh round.
            (Phase::Commit, slot(None, None), None, Prepare),
            // Crashed after recording, before the commit reached the chain: commit the
            // stored commitment, never retrain.
            (
                Phase::Commit,
                slot(None, None),
                Some(local(C1, false, false)),
                CommitStored(C1),
            ),
            // Crashed after the chain took the commit, before the record said so.
            (
                Phase::Commit,
                slot(Some(C1), None),
                Some(local(C1, false, false)),
                MarkCommitted,
            ),
            (
                Phase::Commit,
                slot(Some(C1), None),
                Some(local(C1, true, false)),
                Wait,
            ),
            // Reveal what we stored.
            (
                Phase::Reveal,
                slot(Some(C1), None),
                Some(local(C1, true, false)),
                Reveal("bafy-mine".into()),
            ),
            (
                Phase::Reveal,
                slot(Some(C1), None),
                Some(local(C1, false, false)),
                Reveal("bafy-mine".into()),
            ),
            (
                Phase::Reveal,
                slot(Some(C1), Some("bafy-x")),
                Some(local(C1, true, false)),
                MarkRevealed(b"bafy-x".to_vec()),
            ),
            (
                Phase::Reveal,
                slot(Some(C1), Some("bafy-x")),
                Some(local(C1, true, true)),
                Wait,
            ),
            // Missed the commit: nothing to reveal.
            (Phase::Reveal, slot(None, None), None, Wait),
            (
                Phase::Reveal,
                slot(None, None),
                Some(local(C1, false, false)),
                Wait,
            ),
            // Never reveal against a commitment we cannot account for.
            (
                Phase::Reveal,
                slot(Some(C2), None),
                Some(local(C1, true, false)),
                Conflict(super::Conflict::Differs {
                    stored: C1,
                    on_chain: C2,
                }),
            ),
            (
                Phase::Commit,
                slot(Some(C2), None),
                Some(local(C1, false, false)),
                Conflict(super::Conflict::Differs {
                    stored: C1,
                    on_chain: C2,
                }),
            ),
            (
                Phase::Reveal,
                slot(Some(C2), None),
                None,
                Conflict(super::Conflict::NoRecord { on_chain: C2 }),
            ),
            // Other phases: nothing.
            (Phase::Open, slot(None, None), None, Wait),
            (
                Phase::Aggregate,
                slot(Some(C1), Some("bafy-mine")),
                Some(local(C1, true, true)),
                Wait,
            ),
            (Phase::Finished, slot(None, None), None, Wait),
        ];
        for (i, (phase, s, l, want)) in cases.into_iter().enumerate() {
            assert_eq!(decide(phase, &s, l.as_ref()), want, "case {i}: {phase:?}");
        }
    }

    #[test]
    fn state_survives_a_reopen_and_is_per_project_and_account() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = StateFile::open(dir.path(), 3, &[9; 32]).unwrap();
        assert!(s.round(0).is_none());
        s.update(0, |_| local(C1, false, false)).unwrap();
        s.update(0, |r| RoundState {
            committed: true,
            ..r.unwrap()
        })
        .unwrap();
        let again = StateFile::open(dir.path(), 3, &[9; 32]).unwrap();
        assert_eq!(again.round(0), Some(&local(C1, true, false)));
        assert!(StateFile::open(dir.path(), 4, &[9; 32])
            .unwrap()
            .round(0)
            .is_none());
        assert!(StateFile::open(dir.path(), 3, &[8; 32])
            .unwrap()
            .round(0)
            .is_none());
        // No temp files left behind.
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn a_corrupt_or_foreign_state_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = StateFile::path_for(dir.path(), 1, &[1; 32]);
        std::fs::write(&p, b"{not json").unwrap();
        assert!(matches!(
            StateFile::open(dir.path(), 1, &[1; 32]),
            Err(StateError::Json { .. })
        ));
        let foreign = NodeState {
            project: 2,
            account: hex::encode([1; 32]),
            rounds: BTreeMap::new(),
        };
        std::fs::write(&p, serde_json::to_vec(&foreign).unwrap()).unwrap();
        assert!(matches!(
            StateFile::open(dir.path(), 1, &[1; 32]),
            Err(StateError::Mismatch {
                found_project: 2,
                ..
            })
        ));
    }
}
