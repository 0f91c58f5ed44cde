//! Times one phase-2 contribution and its verification at a real shape's sizes, without
//! deriving the shape's keys from phase 1 first (an hour and more at 2^19 on 2 cores).
//!
//! `cargo run --release -p merit-ceremony --example phase2_step_bench -- <power> <l>`:
//! a proving key whose H query has `2^power − 1` points and whose L query has `l` (the
//! circuit's witnesses), the points distinct multiples of the generator. A contribution
//! rescales exactly those two queries and proves knowledge of δ'; its check is two MSMs
//! over them, a pairing product and the link. Neither depends on which points they are,
//! so this times what a party's machine does at that shape. Prints one JSON object.

use std::time::Instant;

use ark_bn254::{Bn254, G1Affine, G1Projective, G2Affine};
use ark_ec::{AffineRepr, CurveGroup};
use ark_groth16::{ProvingKey, VerifyingKey};
use ark_serialize::CanonicalSerialize;
use merit_ceremony::phase2;
use rand::rngs::OsRng;
use serde_json::json;

fn timed<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let start = Instant::now();
    let out = f();
    (start.elapsed().as_secs_f64(), out)
}

/// `count` distinct points: `G, 2G, 3G, …` by additions, then one batch normalisation.
fn points(count: usize) -> Vec<G1Affine> {
    let g = G1Affine::generator().into_group();
    let mut acc = G1Projective::default();
    let projective: Vec<G1Projective> = (0..count)
        .map(|_| {
            acc += g;
            acc
        })
        .collect();
    G1Projective::normalize_batch(&projective)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let power: u32 = args.next().ok_or("usage: <power> <l>")?.parse()?;
    let l: usize = args.next().ok_or("usage: <power> <l>")?.parse()?;
    let h = (1usize << power) - 1;
    let rng = &mut OsRng;
    let (points_s, (h_query, l_query)) = timed(|| (points(h), points(l)));
    let g1 = G1Affine::generator();
    let g2 = G2Affine::generator();
    let start = ProvingKey::<Bn254> {
        vk: VerifyingKey {
            alpha_g1: g1,
            beta_g2: g2,
            gamma_g2: g2,
            delta_g2: g2,
            gamma_abc_g1: vec![g1; 2],
        },
        beta_g1: g1,
        delta_g1: g1,
        a_query: Vec::new(),
        b_g1_query: Vec::new(),
        b_g2_query: Vec::new(),
        h_query,
        l_query,
    };
    let parent = [7u8; 32];
    let (contribute_s, (next, contribution)) = timed(|| phase2::contribute(&start, &parent, rng));
    let (verify_s, checked) = timed(|| phase2::verify(&start, &next, &contribution, &parent, rng));
    checked?;
    let (link_s, checked) = timed(|| phase2::verify_link(&start.delta_g1, &contribution, &parent));
    checked?;
    let report = json!({
        "threads": rayon::current_num_threads(),
        "power": power,
        "h_query": h,
        "l_query": l,
        "setup_points_s": points_s,
        "contribute_s": contribute_s,
        "verify_step_s": verify_s,
        "verify_link_s": link_s,
        "key_bytes_compressed": next.compressed_size(),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
