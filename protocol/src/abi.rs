//! The marketplace contract's ABI: parameters, views, phases and errors, SCALE-encoded.
//!
//! The contract returns these types and the `chain` client decodes them, so a contract
//! error reaches a user under its own name (`MarketError::EmptyPool`, …) instead of a byte.

use alloc::vec::Vec;
use parity_scale_codec::{Decode, Encode};
use scale_info::TypeInfo;

/// A 32-byte account id (sr25519 public key), as the contract and subxt both see it.
pub type AccountBytes = [u8; 32];

/// Longest spec CID the contract stores (a CIDv1 base32 string is ~60 bytes).
pub const MAX_CID_LEN: usize = 128;
/// Most trainer slots a project may have; bounds storage and the circuit shape.
pub const MAX_SLOTS: u32 = 64;
/// Most rounds a project may run.
pub const MAX_ROUNDS: u32 = 1_000;

/// What the owner fixes when posting a project. The reward pool is the value transferred
/// with `create_project`, not a field, so it cannot disagree with what was escrowed.
#[derive(Encode, Decode, TypeInfo, Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "ink-layout", derive(ink::storage::traits::StorageLayout))]
pub struct ProjectParams {
    /// CID (UTF-8 bytes) of the `ProjectSpec` JSON in IPFS.
    pub spec_cid: Vec<u8>,
    pub rounds: u32,
    pub min_trainers: u32,
    pub max_trainers: u32,
    /// Exact value a trainer transfers with `join`.
    pub trainer_stake: u128,
    /// The account allowed to finalise rounds.
    pub aggregator: AccountBytes,
}

impl ProjectParams {
    /// Checks the parameters on their own, the same way on both sides of the chain: the
    /// CLI refuses before paying fees, the contract refuses before touching state.
    pub fn validate(&self) -> Result<(), MarketError> {
        if self.spec_cid.is_empty() || self.spec_cid.len() > MAX_CID_LEN {
            return Err(MarketError::BadSpecCid);
        }
        if self.rounds == 0 || self.rounds > MAX_ROUNDS {
            return Err(MarketError::BadRounds);
        }
        if self.min_trainers == 0
            || self.min_trainers > self.max_trainers
            || self.max_trainers > MAX_SLOTS
        {
            return Err(MarketError::BadTrainerBounds);
        }
        Ok(())
    }
}

/// Where a project stands (DESIGN.md, "Project life cycle").
#[derive(Encode, Decode, TypeInfo, Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "ink-layout", derive(ink::storage::traits::StorageLayout))]
pub enum Phase {
    Open,
    Commit,
    Reveal,
    Aggregate,
    Finished,
    Cancelled,
    Aborted,
}

/// A project as getters return it.
#[derive(Encode, Decode, TypeInfo, Debug, Clone, PartialEq, Eq)]
pub struct ProjectView {
    pub id: u32,
    pub owner: AccountBytes,
    pub params: ProjectParams,
    /// Value escrowed for rewards.
    pub pool: u128,
    pub phase: Phase,
    /// Current round, counted from 0.
    pub round: u32,
    /// Block in which the project was created.
    pub created_at: u32,
}

/// Every way a marketplace message can refuse. A refused message changes nothing.
#[derive(Encode, Decode, TypeInfo, Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarketError {
    /// `create_project` was called without value: there would be nothing to pay out.
    EmptyPool,
    /// The spec CID is empty or longer than `MAX_CID_LEN`.
    BadSpecCid,
    /// Rounds is 0 or above `MAX_ROUNDS`.
    BadRounds,
    /// min/max trainers out of order, zero, or above `MAX_SLOTS`.
    BadTrainerBounds,
    /// No project with that id.
    NoSuchProject,
    /// A counter would overflow.
    Overflow,
}

impl core::fmt::Display for MarketError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let s = match self {
            Self::EmptyPool => "the reward pool is empty: transfer value with create_project",
            Self::BadSpecCid => "the spec CID is empty or too long",
            Self::BadRounds => "rounds must be between 1 and MAX_ROUNDS",
            Self::BadTrainerBounds => {
                "trainer bounds must satisfy 1 <= min_trainers <= max_trainers <= MAX_SLOTS"
            }
            Self::NoSuchProject => "no project with that id",
            Self::Overflow => "a counter would overflow",
        };
        f.write_str(s)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for MarketError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> ProjectParams {
        ProjectParams {
            spec_cid: b"bafkreigh2akiscaildc".to_vec(),
            rounds: 2,
            min_trainers: 2,
            max_trainers: 4,
            trainer_stake: 10,
            aggregator: [7; 32],
        }
    }

    #[test]
    fn valid_params_pass() {
        assert_eq!(params().validate(), Ok(()));
    }

    #[test]
    fn each_bad_field_is_named() {
        let mut p = params();
        p.spec_cid.clear();
        assert_eq!(p.validate(), Err(MarketError::BadSpecCid));
        let mut p = params();
        p.spec_cid = alloc::vec![b'a'; MAX_CID_LEN + 1];
        assert_eq!(p.validate(), Err(MarketError::BadSpecCid));
        let mut p = params();
        p.rounds = 0;
        assert_eq!(p.validate(), Err(MarketError::BadRounds));
        let mut p = params();
        p.min_trainers = 5;
        assert_eq!(p.validate(), Err(MarketError::BadTrainerBounds));
        let mut p = params();
        p.max_trainers = MAX_SLOTS + 1;
        assert_eq!(p.validate(), Err(MarketError::BadTrainerBounds));
    }

    #[test]
    fn view_round_trips_through_scale() {
        let v = ProjectView {
            id: 3,
            owner: [1; 32],
            params: params(),
            pool: 1_000_000,
            phase: Phase::Open,
            round: 0,
            created_at: 12,
        };
        let bytes = v.encode();
        assert_eq!(ProjectView::decode(&mut &bytes[..]).unwrap(), v);
        let r: Result<ProjectView, MarketError> = Err(MarketError::NoSuchProject);
        assert_eq!(
            Result::<ProjectView, MarketError>::decode(&mut &r.encode()[..]).unwrap(),
            r
        );
    }
}
