//! `merit bench prove`: setup, prove and verify one shape and report time and memory.
//!
//! `prove_s` is the bare `Groth16::prove` call (which synthesises the circuit again inside
//! and then runs the witness map, FFTs and MSMs); `check_s` is the separate witness check
//! that [`crate::prove`] runs first, and `synth_s` is one synthesis without matrices, so
//! `prove_s − synth_s` is roughly the cryptographic part. `raw` runs the same on a
//! synthetic circuit of `K` squaring constraints with dense (full-size) witness values.

use crate::round::RoundCircuit;
use crate::{ProverError, SetupMode};
use ark_bn254::{Bn254, Fr};
use ark_ff::UniformRand;
use ark_groth16::Groth16;
use ark_relations::lc;
use ark_relations::r1cs::{
    ConstraintSynthesizer, ConstraintSystem, ConstraintSystemRef, SynthesisError, SynthesisMode,
};
use ark_serialize::CanonicalSerialize;
use ark_snark::SNARK;
use rand::SeedableRng;
use std::time::Instant;

#[derive(Debug, Clone, PartialEq)]
pub struct BenchReport {
    pub constraints: usize,
    pub setup_s: f64,
    pub prove_s: f64,
    pub verify_ms: f64,
    pub proof_bytes: usize,
    pub peak_rss_mib: f64,
    /// One synthesis (witness generation, no matrices).
    pub synth_s: f64,
    /// The witness check before proving (0 for `raw`).
    pub check_s: f64,
    pub witnesses: usize,
}

impl BenchReport {
    pub fn to_json(&self) -> String {
        format!(
            "{{\"constraints\":{},\"setup_s\":{:.3},\"prove_s\":{:.3},\"verify_ms\":{:.3},\"proof_bytes\":{},\"peak_rss_mib\":{:.1},\"synth_s\":{:.3},\"check_s\":{:.3},\"witnesses\":{}}}",
            self.constraints, self.setup_s, self.prove_s, self.verify_ms, self.proof_bytes,
            self.peak_rss_mib, self.synth_s, self.check_s, self.witnesses
        )
    }

    pub fn to_text(&self) -> String {
        format!(
            "constraints   {}\nwitnesses     {}\nsetup         {:.2} s\nsynthesis     {:.2} s\nwitness check {:.2} s\nprove         {:.2} s\nverify        {:.2} ms\nproof         {} bytes\npeak RSS      {:.0} MiB",
            self.constraints, self.witnesses, self.setup_s, self.synth_s, self.check_s,
            self.prove_s, self.verify_ms, self.proof_bytes, self.peak_rss_mib
        )
    }
}

/// Peak resident set size of this process (VmHWM), in MiB; 0 if unavailable.
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Synthesises once without building matrices: (constraints, witnesses, seconds).
pub fn count<C: ConstraintSynthesizer<Fr>>(c: C) -> Result<(usize, usize, f64), ProverError> {
    let t = Instant::now();
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_mode(SynthesisMode::Prove {
        construct_matrices: false,
    });
    c.generate_constraints(cs.clone())?;
    Ok((
        cs.num_constraints(),
        cs.num_witness_variables(),
        t.elapsed().as_secs_f64(),
    ))
}

fn run<C: ConstraintSynthesizer<Fr> + Clone>(
    blank: C,
    circuit: C,
    public: Fr,
    check: bool,
) -> Result<BenchReport, ProverError> {
    let (constraints, witnesses, synth_s) = count(circuit.clone())?;
    let t = Instant::now();
    let (pk, vk) = crate::setup(blank, SetupMode::InsecureDeterministicForTests(1))?;
    let setup_s = t.elapsed().as_secs_f64();
    let mut check_s = 0.0;
    if check {
        let t = Instant::now();
        crate::check_witness(circuit.clone())?;
        check_s = t.elapsed().as_secs_f64();
    }
    let t = Instant::now();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(2);
    let proof = Groth16::<Bn254>::prove(&pk, circuit, &mut rng)?;
    let prove_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let ok = crate::verify(&vk, &proof, &[public])?;
    let verify_ms = t.elapsed().as_secs_f64() * 1e3;
    if !ok {
        return Err(ProverError::Round(
            "the benchmark proof did not verify".into(),
        ));
    }
    Ok(BenchReport {
        constraints,
        setup_s,
        prove_s,
        verify_ms,
        proof_bytes: proof.compressed_size(),
        peak_rss_mib: peak_rss_mib(),
        synth_s,
        check_s,
        witnesses,
    })
}

/// The round circuit for `slots × params` on a random realistic round.
pub fn round(slots: usize, params: usize, seed: u64) -> Result<BenchReport, ProverError> {
    let f = slots.saturating_sub(3) / 4;
    let p = crate::sample::params(slots, params, f);
    let kinds = crate::sample::random_slots(slots, f, seed);
    let w = crate::sample::round(p, seed, &kinds).map_err(|e| ProverError::Round(e.to_string()))?;
    let circuit = RoundCircuit::new(w).map_err(|e| ProverError::Round(e.to_string()))?;
    let blank = RoundCircuit::blank(p).map_err(|e| ProverError::Round(e.to_string()))?;
    let public = circuit.public_input;
    run(blank, circuit, public, true)
}

/// `K` constraints `x_{i+1} = x_i²` from a random start, public `x_K`.
#[derive(Clone)]
pub struct Squarings {
    pub k: usize,
    pub start: Fr,
}

impl Squarings {
    pub fn output(&self) -> Fr {
        let mut x = self.start;
        for _ in 0..self.k {
            x = x * x;
        }
        x
    }
}

impl ConstraintSynthesizer<Fr> for Squarings {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let out = self.output();
        let y = cs.new_input_variable(|| Ok(out))?;
        let mut x = self.start;
        let mut v = cs.new_witness_variable(|| Ok(x))?;
        for i in 0..self.k {
            x = x * x;
            let next = if i + 1 == self.k {
                y
            } else {
                cs.new_witness_variable(|| Ok(x))?
            };
            cs.enforce_constraint(lc!() + v, lc!() + v, lc!() + next)?;
            v = next;
        }
        Ok(())
    }
}

/// The bare prover on `k` constraints.
pub fn raw(k: usize) -> Result<BenchReport, ProverError> {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
    let c = Squarings {
        k: k.max(1),
        start: Fr::rand(&mut rng),
    };
    let public = c.output();
    run(c.clone(), c, public, false)
}

#[cfg(test)]
mod tests {
    #[test]
    fn tiny_benchmarks_run() {
        let r = super::raw(64).unwrap();
        assert_eq!(r.constraints, 64);
        assert_eq!(r.proof_bytes, 128);
        assert!(r.to_json().starts_with("{\"constraints\":64,"));
        let r = super::round(4, 16, 1).unwrap();
        assert!(r.constraints > 1000);
    }
}
