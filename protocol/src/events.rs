//! The contract's events, defined once: the contract emits these types (as ink! 5
//! standalone events, with feature `ink-events`) and clients decode the very same structs
//! from an event's data (plain SCALE, the fields in this order). Accounts are the 32 raw
//! bytes an `AccountId` encodes to, so topics and data are what an `AccountId` field gives.

use crate::abi::{AccountBytes, Phase};
use crate::commit::Commitment;
use alloc::vec::Vec;
#[cfg(not(feature = "ink-events"))]
use parity_scale_codec::{Decode, Encode};

/// Declares each event once: an ink! event in the contract's build, a SCALE struct
/// elsewhere; `#[topic]` fields are the event's indexed topics.
macro_rules! events {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident { $( $(#[$topic:ident])? $field:ident : $ty:ty ),* $(,)? }
    )*) => {$(
        $(#[doc = $doc])*
        #[cfg_attr(feature = "ink-events", ink::event)]
        #[cfg_attr(not(feature = "ink-events"), derive(Encode, Decode))]
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            $( $(#[cfg_attr(feature = "ink-events", ink($topic))])? pub $field: $ty, )*
        }
    )*};
}

events! {
    /// A project was posted and its pool escrowed.
    ProjectCreated { #[topic] project: u32, #[topic] owner: AccountBytes, #[topic] aggregator: AccountBytes, pool: u128 }
    /// The aggregator deposited its bond.
    AggregatorBonded { #[topic] project: u32, #[topic] aggregator: AccountBytes, bond: u128 }
    /// A trainer staked; `slot` is its index in join order.
    TrainerJoined { #[topic] project: u32, #[topic] trainer: AccountBytes, slot: u32, stake: u128 }
    /// Round 0's commit phase began.
    ProjectStarted { #[topic] project: u32, trainers: u32, commit_deadline: u32 }
    /// A trainer committed to its update for a round.
    UpdateCommitted { #[topic] project: u32, #[topic] trainer: AccountBytes, round: u32, commitment: Commitment }
    /// A trainer revealed where its update is.
    UpdateRevealed { #[topic] project: u32, #[topic] trainer: AccountBytes, round: u32, cid: Vec<u8> }
    /// The aggregator could not open a slot's reveal (file missing, or not matching the
    /// commitment); the round counts the slot as absent. Anyone can re-check the claim:
    /// the CID and the commitment are both on chain.
    RevealSetAside { #[topic] project: u32, #[topic] trainer: AccountBytes, round: u32, slot: u32 }
    /// The proof checked out; scores were added and the model moved on.
    RoundFinalized { #[topic] project: u32, round: u32, model_cid: Vec<u8>, model_commitment: Commitment, scores: Vec<u32>, accepted: Vec<bool> }
    /// The project reached Finished, Cancelled or Aborted; claims are open.
    ProjectEnded { #[topic] project: u32, phase: Phase, rounds_done: u32 }
    /// An account collected what an ended project owed it.
    Claimed { #[topic] project: u32, #[topic] account: AccountBytes, amount: u128 }
    /// A proof shape (N slots, chunks of C) and its verifying keys were registered; every
    /// chunked project of that shape can use them, with no setup of its own.
    ShapeRegistered { #[topic] shape: u32, #[topic] registered_by: AccountBytes, slots: u32, chunk: u32, keys_cid: Vec<u8> }
    /// A chunked round's submission and decision proof checked out; its `chunks` chunk
    /// proofs are due (`verify_chunk_proofs`), then `finalize_chunked_round`.
    ChunkedRoundSubmitted { #[topic] project: u32, round: u32, chunks: u32, model_commitment: Commitment }
    /// A set-aside was answered: the update posted on chain opened the slot's commitment,
    /// so the slot is back in the round and the aggregator has a new aggregation window.
    SetAsideAnswered { #[topic] project: u32, #[topic] trainer: AccountBytes, round: u32, slot: u32 }
    /// The owner recorded the ceremony transcript the project's keys come from.
    SetupRecorded { #[topic] project: u32, transcript_cid: Vec<u8>, head: [u8; 32], phase1_contributions: u32, phase2_contributions: u32 }
    /// A proof shape's registrant recorded the ceremony transcripts of its two keys.
    ShapeSetupRecorded { #[topic] shape: u32, chunk_transcript_cid: Vec<u8>, decision_transcript_cid: Vec<u8> }
    /// A phase-2 contribution's link checked out: δ moved in the project's verifying key,
    /// the chain's head is `head`, the transcript and proving key are the new CIDs.
    SetupContributed { #[topic] project: u32, #[topic] contributor: AccountBytes, head: [u8; 32], phase2_contributions: u32, transcript_cid: Vec<u8> }
    /// A round drew its trainers: slot `k` is trainer `trainers[k]` (index in join order);
    /// only they may commit in `round`.
    RoundDrawn { #[topic] project: u32, round: u32, seed: [u8; 32], trainers: Vec<u32> }
    /// Chunk proofs `first .. first + count` verified; `remaining` are still due.
    ChunkProofsVerified { #[topic] project: u32, round: u32, first: u32, count: u32, remaining: u32 }
}
