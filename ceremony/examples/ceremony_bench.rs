//! Times the ceremony and prints one JSON object.
//!
//! `cargo run --release -p merit-ceremony --example ceremony_bench -- <power> [constraints]`:
//! phase 1 for a domain of `2^power` points (contribute, verify one step, verify the
//! transcript, sizes), then phase 2 for a synthetic circuit of `constraints` squarings
//! (default `2^power − 3`, which fills the domain; 0 for phase 1 only): derive the
//! start, contribute, verify one step, check the final key against phase 1, verify the
//! whole transcript, sizes.

use std::time::Instant;

use ark_serialize::CanonicalSerialize;
use merit_ceremony::synthetic::Squarings;
use merit_ceremony::{
    derive_start_with_basis, lagrange_basis, phase1, phase2, synthesize, verify_key,
    verify_transcript, Phase1Transcript, Phase2Transcript, Transcript,
};
use rand::rngs::OsRng;
use serde_json::json;

/// Seconds taken by `f`, and its result.
fn timed<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let start = Instant::now();
    let out = f();
    (start.elapsed().as_secs_f64(), out)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let power: u32 = args.next().map_or(Ok(10), |a| a.parse())?;
    let constraints: usize = match args.next() {
        Some(a) => a.parse()?,
        None => (1usize << power) - 3,
    };
    let rng = &mut OsRng;

    // Phase 1: two contributions, the second timed and verified as a step.
    let mut p1 = Phase1Transcript::new(power)?;
    p1.contribute(rng)?;
    let prev = p1.state.clone();
    let parent = p1.hash();
    let (p1_contribute_s, step) = timed(|| phase1::contribute(&prev, &parent, rng));
    let (state, contribution) = step?;
    let (p1_verify_step_s, checked) =
        timed(|| phase1::verify(&prev, &state, &contribution, &parent, rng));
    checked?;
    p1.push(state, contribution);
    let (p1_verify_transcript_s, checked) = timed(|| p1.verify(rng));
    checked?;
    let p1_bytes = p1.compressed_size();
    let p1_contribution_bytes = p1.contributions[0].compressed_size();
    let phase1_report = json!({
        "power": power,
        "domain": 1usize << power,
        "contribute_s": p1_contribute_s,
        "verify_step_s": p1_verify_step_s,
        "verify_transcript_s": p1_verify_transcript_s,
        "transcript_bytes": p1_bytes,
        "contribution_bytes": p1_contribution_bytes,
    });
    if constraints == 0 {
        let report = json!({ "threads": rayon::current_num_threads(), "phase1": phase1_report });
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }

    // Phase 2: the Lagrange basis (group FFTs), the start from it, two contributions.
    let (synthesize_s, shape) = timed(|| synthesize(Squarings::shape(constraints)));
    let shape = shape?;
    let n = shape.domain_size()?;
    let (lagrange_s, basis) = timed(|| lagrange_basis(&p1.state, n));
    let basis = basis?;
    let (lagrange_verify_s, checked) = timed(|| basis.verify(&p1.state, rng));
    checked?;
    let (columns_s, start) = timed(|| derive_start_with_basis(&p1.state, &basis, &shape));
    let start = start?;
    drop(basis);
    let phase1_hash = p1.hash();
    let mut t = Transcript {
        phase1: p1,
        phase2: Phase2Transcript {
            circuit_digest: shape.digest(),
            contributions: Vec::new(),
            key: start.clone(),
        },
    };
    t.contribute_phase2(rng);
    let prev = t.phase2.key.clone();
    let parent = t.phase2.hash(&phase1_hash);
    let (p2_contribute_s, (key, contribution)) = timed(|| phase2::contribute(&prev, &parent, rng));
    let (p2_verify_step_s, checked) =
        timed(|| phase2::verify(&prev, &key, &contribution, &parent, rng));
    checked?;
    t.phase2.push(key, contribution);
    let (p2_verify_link_s, checked) =
        timed(|| phase2::verify_link(&prev.delta_g1, &t.phase2.contributions[1], &parent));
    checked?;
    let (p2_verify_key_s, checked) =
        timed(|| verify_key(&t.phase1.state, &shape, &t.phase2.key, rng));
    checked?;
    let (verify_transcript_s, checked) =
        timed(|| verify_transcript(&t, Squarings::shape(constraints), rng));
    checked?;

    let report = json!({
        "threads": rayon::current_num_threads(),
        "phase1": phase1_report,
        "phase2": {
            "constraints": constraints,
            "l_query": start.l_query.len(),
            "h_query": start.h_query.len(),
            "derive_start_s": lagrange_s + columns_s,
            "of_which_lagrange_basis_s": lagrange_s,
            "of_which_columns_s": columns_s,
            "lagrange_basis_verify_s": lagrange_verify_s,
            "contribute_s": p2_contribute_s,
            "verify_step_s": p2_verify_step_s,
            "verify_link_s": p2_verify_link_s,
            "synthesize_s": synthesize_s,
            "verify_key_against_phase1_s": p2_verify_key_s,
            "key_bytes": start.compressed_size(),
            "contribution_bytes": t.phase2.contributions[0].compressed_size(),
        },
        "transcript": {
            "bytes": t.compressed_size(),
            "verify_s": verify_transcript_s,
        },
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
