//! Reusable R1CS gadgets, each the constraint twin of a native function in
//! `merit-protocol` (which stays the definition; tests hold the two together).
//!
//! - [`num`]: products, bits, comparisons, zero tests on raw variables;
//! - [`vector`]: range-checked fixed-point vectors, packing, packed Gram products, masked sums;
//! - [`poseidon`]: the Poseidon permutation and sponge, linear layers folded ahead of time;
//! - [`commit`]: the Poseidon commitments;
//! - [`select`]: k-smallest sums and lowest-k selection (Multi-Krum);
//! - [`divide`]: floor division with remainder;
//! - [`cosine`]: the contribution score's squared inequalities;
//! - [`v5`]: protocol v5's ramps, mean weights, scores in parts per million and Krum's
//!   distance floor (not yet in a round circuit).

pub mod commit;
pub mod cosine;
pub mod divide;
pub mod num;
pub mod poseidon;
pub mod select;
pub mod v5;
pub mod vector;
