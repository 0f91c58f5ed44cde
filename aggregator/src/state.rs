//! Restart safety: a JSON state file per project, written atomically (temp file + rename),
//! and the pure decisions that read it.
//!
//! The chain is the source of truth; the state file only saves work. It records, per
//! round, the set-asides sent (with their reasons, for the report) and, once proven, the
//! finalisation arguments with the statement they were proven for. On restart:
//! * a round the chain has moved past is never finalised again ([`decide`] →
//!   `AlreadyFinalized`);
//! * a slot the chain already marks set aside is never set aside again
//!   ([`pending_set_asides`]);
//! * a stored proof is reused only if the statement the chain would rebuild today (round,
//!   previous model, every slot's account and present commitment) is the one it was
//!   proven for ([`decide`] → `Resume`); otherwise it is proven afresh.

use crate::check::SetAsideReason;
use crate::error::{AggregatorError, Result};
use merit_chain::marketplace::{ChunkedProofs, Finalization};
use merit_protocol::abi::{AccountBytes, Phase, SlotView};
use merit_protocol::commit::Commitment;
use parity_scale_codec::{Decode, Encode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const STATE_VERSION: u32 = 1;

/// The statement a proof is for, as far as the chain fixes it before finalisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementKey {
    pub round: u32,
    /// Hex of the previous model commitment.
    pub prev_model: String,
    /// Per slot (N = slots): account hex and, if present, commitment hex.
    pub slots: Vec<(String, Option<String>)>,
}

impl StatementKey {
    /// The key for `round` from the on-chain slots (padded to `n` with unfilled slots).
    pub fn from_chain(round: u32, prev_model: &Commitment, slots: &[SlotView], n: usize) -> Self {
        let mut out = vec![(hex::encode([0u8; 32]), None); n];
        for s in slots {
            if let Some(e) = out.get_mut(s.slot as usize) {
                let c = s.commitment.filter(|_| s.present());
                *e = (hex::encode(s.account), c.map(|c| hex::encode(c.0)));
            }
        }
        Self {
            round,
            prev_model: hex::encode(prev_model.0),
            slots: out,
        }
    }
}

/// `finalize_round`'s arguments, storable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFinalization {
    pub model_cid: String,
    pub model_commitment: String,
    pub scores: Vec<u32>,
    pub accepted: Vec<bool>,
    pub proof: String,
    /// A chunked round's submission and chunk proofs, SCALE-encoded, in hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunked: Option<String>,
}

impl StoredFinalization {
    pub fn from_finalization(f: &Finalization) -> Self {
        Self {
            model_cid: String::from_utf8_lossy(&f.model_cid).into_owned(),
            model_commitment: hex::encode(f.model_commitment.0),
            scores: f.scores.clone(),
            accepted: f.accepted.clone(),
            proof: hex::encode(&f.proof),
            chunked: f.chunked.as_ref().map(|c| hex::encode(c.encode())),
        }
    }

    /// Back to the chain's type; `None` if the file was edited into nonsense.
    pub fn to_finalization(&self, round: u32) -> Option<Finalization> {
        let c: [u8; 32] = hex::decode(&self.model_commitment).ok()?.try_into().ok()?;
        Some(Finalization {
            round,
            model_cid: self.model_cid.clone().into_bytes(),
            model_commitment: Commitment(c),
            scores: self.scores.clone(),
            accepted: self.accepted.clone(),
            proof: hex::decode(&self.proof).ok()?,
            chunked: match &self.chunked {
                None => None,
                Some(h) => Some(ChunkedProofs::decode(&mut &hex::decode(h).ok()?[..]).ok()?),
            },
        })
    }
}

/// A proven round, ready to finalise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prepared {
    pub statement: StatementKey,
    pub finalization: StoredFinalization,
    pub report_cid: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundState {
    /// Slots this node set aside, with why.
    pub set_asides: BTreeMap<u32, SetAsideReason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prepared: Option<Prepared>,
    /// The chain accepted our `finalize_round`.
    pub finalized: bool,
    /// The weight `finalize_round` was given: `(ref_time, proof_size)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<(u64, u64)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectState {
    pub version: u32,
    pub project: u32,
    pub rounds: BTreeMap<u32, RoundState>,
}

impl ProjectState {
    pub fn new(project: u32) -> Self {
        Self {
            version: STATE_VERSION,
            project,
            rounds: BTreeMap::new(),
        }
    }

    pub fn round_mut(&mut self, round: u32) -> &mut RoundState {
        self.rounds.entry(round).or_default()
    }
}

/// Where one project's state lives.
#[derive(Debug, Clone)]
pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    /// `dir/project-<id>.json`.
    pub fn new(dir: &Path, project: u32) -> Self {
        Self {
            path: dir.join(format!("project-{project}.json")),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The stored state, or a fresh one if there is no file yet.
    pub fn load(&self, project: u32) -> Result<ProjectState> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(ProjectState::new(project))
            }
            Err(source) => return Err(self.io(source)),
        };
        let s: ProjectState =
            serde_json::from_slice(&bytes).map_err(|source| AggregatorError::StateJson {
                path: self.path.clone(),
                source,
            })?;
        if s.version != STATE_VERSION || s.project != project {
            return Err(AggregatorError::StateJson {
                path: self.path.clone(),
                source: serde::de::Error::custom(format!(
                    "version {} for project {} (expected version {STATE_VERSION}, project {project})",
                    s.version, s.project
                )),
            });
        }
        Ok(s)
    }

    /// Writes atomically: a temp file in the same directory, fsync, rename over.
    pub fn save(&self, state: &ProjectState) -> Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| self.io(e))?;
        let json =
            serde_json::to_vec_pretty(state).map_err(|source| AggregatorError::StateJson {
                path: self.path.clone(),
                source,
            })?;
        let tmp = self.path.with_extension("json.tmp");
        let mut f = std::fs::File::create(&tmp).map_err(|e| self.io(e))?;
        f.write_all(&json).map_err(|e| self.io(e))?;
        f.sync_all().map_err(|e| self.io(e))?;
        drop(f);
        std::fs::rename(&tmp, &self.path).map_err(|e| self.io(e))
    }

    fn io(&self, source: std::io::Error) -> AggregatorError {
        AggregatorError::StateIo {
            path: self.path.clone(),
            source,
        }
    }
}

/// What to do about `round` given the chain and the state file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The chain's round moved past this one: nothing to send.
    AlreadyFinalized,
    /// Not the aggregation phase (yet, or any more).
    Wait,
    /// A stored proof is for exactly today's statement: send it.
    Resume(Box<Prepared>),
    /// Check, aggregate and prove (again).
    Prove,
}

/// The pure restart decision for `round`.
pub fn decide(
    chain_round: u32,
    phase: Phase,
    round: u32,
    stored: Option<&RoundState>,
    statement: &StatementKey,
) -> Decision {
    if chain_round > round || (phase.is_terminal() && chain_round >= round) {
        return Decision::AlreadyFinalized;
    }
    if chain_round < round || phase != Phase::Aggregate {
        return Decision::Wait;
    }
    match stored.and_then(|s| s.prepared.as_ref()) {
        Some(p) if p.statement == *statement => Decision::Resume(Box::new(p.clone())),
        _ => Decision::Prove,
    }
}

/// The slots still to set aside: those we want set aside that the chain does not already
/// mark (and that still have a reveal to set aside).
pub fn pending_set_asides(slots: &[SlotView], wanted: &[u32]) -> Vec<u32> {
    wanted
        .iter()
        .copied()
        .filter(|&w| {
            slots
                .iter()
                .any(|s| s.slot == w && s.cid.is_some() && !s.set_aside)
        })
        .collect()
}

/// The account of every slot (zeros for an unfilled one), padded to `n`.
pub fn slot_accounts(slots: &[SlotView], n: usize) -> Vec<AccountBytes> {
    let mut out = vec![[0u8; 32]; n];
    for s in slots {
        if let Some(a) = out.get_mut(s.slot as usize) {
            *a = s.account;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(slot: u32, revealed: bool, set_aside: bool) -> SlotView {
        SlotView {
            slot,
            trainer: slot,
            account: [slot as u8 + 1; 32],
            commitment: Some(Commitment([slot as u8 + 10; 32])),
            cid: revealed.then(|| b"bafy".to_vec()),
            set_aside,
            answer_until: 0,
            answered: false,
        }
    }

    fn prepared(statement: StatementKey) -> RoundState {
        RoundState {
            prepared: Some(Prepared {
                statement,
                finalization: StoredFinalization {
                    model_cid: "bafynew".into(),
                    model_commitment: hex::encode([5u8; 32]),
                    scores: vec![1, 0],
                    accepted: vec![true, false],
                    proof: hex::encode([7u8; 128]),
                    chunked: None,
                },
                report_cid: "bafyreport".into(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_moved_on_chain_is_never_finalised_again() {
        let k = StatementKey::from_chain(3, &Commitment([1; 32]), &[slot(0, true, false)], 2);
        let st = prepared(k.clone());
        for phase in [Phase::Commit, Phase::Aggregate, Phase::Finished] {
            assert_eq!(
                decide(4, phase, 3, Some(&st), &k),
                Decision::AlreadyFinalized
            );
        }
        // The last round: the chain stays at round = rounds, Finished.
        assert_eq!(
            decide(3, Phase::Finished, 3, Some(&st), &k),
            Decision::AlreadyFinalized
        );
        assert_eq!(decide(3, Phase::Reveal, 3, Some(&st), &k), Decision::Wait);
        assert_eq!(decide(2, Phase::Aggregate, 3, None, &k), Decision::Wait);
    }

    #[test]
    fn a_stored_proof_is_reused_only_for_the_same_statement() {
        let slots = [slot(0, true, false), slot(1, true, false)];
        let k = StatementKey::from_chain(3, &Commitment([1; 32]), &slots, 3);
        let st = prepared(k.clone());
        assert!(matches!(
            decide(3, Phase::Aggregate, 3, Some(&st), &k),
            Decision::Resume(p) if p.report_cid == "bafyreport"
        ));
        assert_eq!(decide(3, Phase::Aggregate, 3, None, &k), Decision::Prove);
        // Someone else's set-aside (or a late chain change) alters the statement.
        let changed = [slot(0, true, false), slot(1, true, true)];
        let k2 = StatementKey::from_chain(3, &Commitment([1; 32]), &changed, 3);
        assert_ne!(k, k2);
        assert_eq!(
            decide(3, Phase::Aggregate, 3, Some(&st), &k2),
            Decision::Prove
        );
        // Another previous model, too.
        let k3 = StatementKey::from_chain(3, &Commitment([2; 32]), &slots, 3);
        assert_eq!(
            decide(3, Phase::Aggregate, 3, Some(&st), &k3),
            Decision::Prove
        );
    }

    #[test]
    fn a_slot_is_never_set_aside_twice() {
        let slots = [
            slot(0, true, true),
            slot(1, true, false),
            slot(2, false, false),
        ];
        assert_eq!(pending_set_asides(&slots, &[0, 1, 2, 7]), vec![1]);
    }

    #[test]
    fn the_statement_key_pads_and_hides_absent_commitments() {
        let slots = [
            slot(0, true, false),
            slot(1, false, false),
            slot(2, true, true),
        ];
        let k = StatementKey::from_chain(0, &Commitment([1; 32]), &slots, 4);
        assert_eq!(k.slots.len(), 4);
        assert!(k.slots[0].1.is_some());
        assert!(k.slots[1].1.is_none() && k.slots[2].1.is_none());
        assert_eq!(k.slots[3], (hex::encode([0u8; 32]), None));
    }

    #[test]
    fn state_survives_a_save_and_load_and_refuses_another_project() {
        let dir = tempfile::tempdir().unwrap();
        let f = StateFile::new(dir.path(), 5);
        assert_eq!(f.load(5).unwrap(), ProjectState::new(5));
        let mut s = ProjectState::new(5);
        s.round_mut(0)
            .set_asides
            .insert(2, SetAsideReason::WrongCommitment);
        *s.round_mut(1) = prepared(StatementKey::from_chain(1, &Commitment([1; 32]), &[], 2));
        f.save(&s).unwrap();
        assert_eq!(f.load(5).unwrap(), s);
        assert!(!f.path().with_extension("json.tmp").exists());
        let stored = s.rounds[&1].prepared.as_ref().unwrap();
        let fin = stored.finalization.to_finalization(1).unwrap();
        assert_eq!(
            StoredFinalization::from_finalization(&fin),
            stored.finalization
        );
        std::fs::copy(f.path(), StateFile::new(dir.path(), 6).path()).unwrap();
        assert!(StateFile::new(dir.path(), 6).load(6).is_err());
    }
}
