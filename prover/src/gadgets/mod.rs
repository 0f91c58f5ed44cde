//! Reusable R1CS gadgets, each the constraint twin of a native function in
//! `merit-protocol` (which stays the definition; tests hold the two together).

pub mod commit;
