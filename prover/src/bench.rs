//! `merit bench prove`: setup, prove and verify one shape and report time and memory.
//!
//! For the round circuit `prove_s` is what [`crate::prove`] costs: [`crate::record`] (one
//! synthesis that evaluates and checks every constraint, no matrices; `prepare_s`) plus
//! [`crate::groth16::prove`] (`groth16_s`: the witness map with its FFTs, `fft_s`, then the
//! five MSMs, each timed). `synth_s` is a bare synthesis. `raw` runs arkworks' own prover
//! ([`crate::prepare`] with matrices, then ark-groth16) on a synthetic circuit of `K`
//! squaring constraints with dense (full-size) witness values: the bare ark-groth16
//! prover, for the ratio.

use crate::groth16::Steps;
use crate::round::RoundCircuit;
use crate::{ProverError, SetupMode};
use ark_bn254::{Bn254, Fr};
use ark_ff::UniformRand;
use ark_groth16::r1cs_to_qap::{LibsnarkReduction, R1CSToQAP};
use ark_groth16::{Proof, ProvingKey};
use ark_poly::GeneralEvaluationDomain;
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};
use ark_relations::lc;
use ark_serialize::CanonicalSerialize;
use rand::SeedableRng;
use serde_json::json;
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
    /// Part of `prove_s`: synthesis with matrices, LC inlining, witness check.
    pub prepare_s: f64,
    /// Part of `prove_s`: witness map (FFTs) and MSMs.
    pub groth16_s: f64,
    /// The witness map alone (timed separately, after the proof).
    pub fft_s: f64,
    /// CPU seconds (all threads) of setup and of proving.
    pub setup_cpu_s: f64,
    pub prove_cpu_s: f64,
    /// Peak RSS while proving (the proving key loaded, setup's memory returned); NaN if
    /// the peak could not be reset after setup.
    pub prove_peak_rss_mib: f64,
    pub witnesses: usize,
    /// Each MSM of the proof (round circuit only; `None` for `raw`).
    pub msms: Option<crate::groth16::Steps>,
}

impl BenchReport {
    /// One JSON object (keys in serde_json's order, alphabetical); seconds to 3 decimals
    /// (CPU seconds 2), MiB to 1, as the text shows them; `msm_s` and
    /// `prove_peak_rss_mib` null where unknown.
    pub fn to_json(&self) -> String {
        let msms = self.msms.map(|m| {
            json!({
                "h": rounded(m.msm_h_s, 3),
                "l": rounded(m.msm_l_s, 3),
                "a": rounded(m.msm_a_s, 3),
                "b_g1": rounded(m.msm_b_g1_s, 3),
                "b_g2": rounded(m.msm_b_g2_s, 3),
            })
        });
        json!({
            "constraints": self.constraints,
            "setup_s": rounded(self.setup_s, 3),
            "prove_s": rounded(self.prove_s, 3),
            "verify_ms": rounded(self.verify_ms, 3),
            "proof_bytes": self.proof_bytes,
            "peak_rss_mib": rounded(self.peak_rss_mib, 1),
            "witnesses": self.witnesses,
            "synth_s": rounded(self.synth_s, 3),
            "prepare_s": rounded(self.prepare_s, 3),
            "groth16_s": rounded(self.groth16_s, 3),
            "fft_s": rounded(self.fft_s, 3),
            "msm_s": msms,
            "setup_cpu_s": rounded(self.setup_cpu_s, 2),
            "prove_cpu_s": rounded(self.prove_cpu_s, 2),
            "prove_peak_rss_mib": known(self.prove_peak_rss_mib, 1),
        })
        .to_string()
    }

    pub fn to_text(&self) -> String {
        let msms = self.msms.map_or(String::new(), |m| {
            format!(
                "\n  MSMs: h {:.2} s, l {:.2} s, a {:.2} s, b (G1) {:.2} s, b (G2) {:.2} s",
                m.msm_h_s, m.msm_l_s, m.msm_a_s, m.msm_b_g1_s, m.msm_b_g2_s
            )
        });
        format!(
            "constraints   {}\nwitnesses     {}\nsetup         {:.2} s\nprove         {:.2} s\n  synthesis + evaluation/matrices + check  {:.2} s\n  witness map + MSMs          {:.2} s (witness map {:.2} s){msms}\n  (bare synthesis {:.2} s)\n  (CPU: setup {:.1} s, prove {:.1} s)\nverify        {:.2} ms\nproof         {} bytes\npeak RSS      {:.0} MiB (while proving {:.0} MiB)",
            self.constraints, self.witnesses, self.setup_s, self.prove_s, self.prepare_s,
            self.groth16_s, self.fft_s, self.synth_s, self.setup_cpu_s, self.prove_cpu_s, self.verify_ms, self.proof_bytes, self.peak_rss_mib, self.prove_peak_rss_mib
        )
    }
}

/// `x` rounded to `decimals` places, as a report's text shows it, for the JSON reports
/// (not finite stays so, and serde_json writes it as null).
pub fn rounded(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
}

/// A measurement that may be unknown (NaN): `None`, which the JSON reports write as null.
fn known(x: f64, decimals: i32) -> Option<f64> {
    (!x.is_nan()).then(|| rounded(x, decimals))
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

/// Resets the peak RSS to the current RSS (Linux ≥ 4.0), so that a later `peak_rss_mib`
/// measures one phase; false if the kernel refused.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// CPU time (user + system) this process has used so far, in seconds; 0 if unavailable.
/// On a loaded machine this is steadier than wall time.
pub fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the command name (which is in parentheses): utime is the 14th
            // field of the line, stime the 15th, in clock ticks (100 per second on Linux).
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        })
        .unwrap_or(0.0)
}

/// Synthesises once without building matrices: (constraints, witnesses, seconds).
pub fn count<C: crate::Circuit>(c: &C) -> Result<(usize, usize, f64), ProverError> {
    let t = Instant::now();
    let cs = crate::cs::Cs::counting();
    c.synthesize(&cs)?;
    Ok((
        cs.constraints(),
        cs.num_witness_variables(),
        t.elapsed().as_secs_f64(),
    ))
}

/// How a benchmark proves: `(proof, prepare_s, groth16_s, fft_s, msms)`.
type Proving<'a> = dyn FnOnce(&ProvingKey<Bn254>) -> Result<(Proof<Bn254>, f64, f64, f64, Option<Steps>), ProverError>
    + 'a;

fn run<C: ConstraintSynthesizer<Fr> + crate::Circuit + Clone>(
    blank: C,
    circuit: C,
    public: Fr,
    proving: Box<Proving<'_>>,
) -> Result<BenchReport, ProverError> {
    let (constraints, witnesses, synth_s) = count(&circuit)?;
    let t = Instant::now();
    let c0 = cpu_seconds();
    let (pk, vk) = crate::setup(blank, SetupMode::InsecureDeterministicForTests(1))?;
    let setup_s = t.elapsed().as_secs_f64();
    let setup_cpu_s = cpu_seconds() - c0;
    drop(circuit);
    let setup_peak_rss_mib = peak_rss_mib();
    let reset = reset_peak_rss();
    let c0 = cpu_seconds();
    let (proof, prepare_s, groth16_s, fft_s, msms) = proving(&pk)?;
    let prove_s = prepare_s + groth16_s;
    let prove_cpu_s = cpu_seconds() - c0;
    let t = Instant::now();
    let ok = crate::verify(&vk, &proof, &[public])?;
    let verify_ms = t.elapsed().as_secs_f64() * 1e3;
    if !ok {
        return Err(ProverError::Round(
            "the benchmark proof did not verify".into(),
        ));
    }
    let prove_peak = peak_rss_mib();
    let (peak_rss_mib, prove_peak_rss_mib) = if reset {
        (setup_peak_rss_mib.max(prove_peak), prove_peak)
    } else {
        (prove_peak, f64::NAN)
    };
    Ok(BenchReport {
        msms,
        constraints,
        setup_s,
        prove_s,
        verify_ms,
        proof_bytes: proof.compressed_size(),
        peak_rss_mib,
        synth_s,
        prepare_s,
        groth16_s,
        fft_s,
        witnesses,
        setup_cpu_s,
        prove_cpu_s,
        prove_peak_rss_mib,
    })
}

/// `merit bench chunked`: one chunked round of `slots × params` in chunks of `chunk`.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkedBenchReport {
    pub chunks: usize,
    pub chunk_constraints: usize,
    pub decision_constraints: usize,
    pub setup_chunk_s: f64,
    pub setup_decision_s: f64,
    /// Peak RSS of the two setups (once per shape).
    pub setup_peak_rss_mib: f64,
    pub chunk_prove_s: Vec<f64>,
    pub decision_prove_s: f64,
    pub prove_s: f64,
    pub prove_cpu_s: f64,
    /// Peak RSS while proving the whole round, both proving keys loaded; NaN if the peak
    /// could not be reset after setup.
    pub prove_peak_rss_mib: f64,
    /// The contract's check of the submission (commitments, sums, `K + 1` hashes).
    pub inputs_ms: f64,
    /// The contract's pairing check: every proof in one batch, keys prepared.
    pub verify_batched_ms: f64,
    /// The same compressed proofs checked one by one with the contract's `verify`.
    pub verify_each_ms: f64,
    pub proof_bytes: usize,
}

impl ChunkedBenchReport {
    /// One JSON object, rounded as [`BenchReport::to_json`]; `prove_peak_rss_mib` null
    /// where unknown.
    pub fn to_json(&self) -> String {
        let chunk_prove_s: Vec<f64> = self.chunk_prove_s.iter().map(|&s| rounded(s, 3)).collect();
        json!({
            "chunks": self.chunks,
            "chunk_constraints": self.chunk_constraints,
            "decision_constraints": self.decision_constraints,
            "setup_chunk_s": rounded(self.setup_chunk_s, 3),
            "setup_decision_s": rounded(self.setup_decision_s, 3),
            "setup_peak_rss_mib": rounded(self.setup_peak_rss_mib, 1),
            "chunk_prove_s": chunk_prove_s,
            "decision_prove_s": rounded(self.decision_prove_s, 3),
            "prove_s": rounded(self.prove_s, 3),
            "prove_cpu_s": rounded(self.prove_cpu_s, 2),
            "prove_peak_rss_mib": known(self.prove_peak_rss_mib, 1),
            "inputs_ms": rounded(self.inputs_ms, 3),
            "verify_batched_ms": rounded(self.verify_batched_ms, 3),
            "verify_each_ms": rounded(self.verify_each_ms, 3),
            "proof_bytes": self.proof_bytes,
        })
        .to_string()
    }

    pub fn to_text(&self) -> String {
        let n = self.chunk_prove_s.len().max(1) as f64;
        let mean = self.chunk_prove_s.iter().sum::<f64>() / n;
        let max = self.chunk_prove_s.iter().cloned().fold(0.0, f64::max);
        format!(
            "chunks        {} (chunk circuit {} constraints, decision circuit {})\nsetup         chunk shape {:.2} s, decision shape {:.2} s (once per shape; peak RSS {:.0} MiB)\nprove         {:.2} s in all (CPU {:.1} s): chunks {:.2} s each on average (slowest {:.2} s), decision {:.2} s\npeak RSS      {} while proving\nverify        submission {:.2} ms, then proofs {:.2} ms batched ({:.2} ms one by one)\nproofs        {} bytes",
            self.chunks, self.chunk_constraints, self.decision_constraints, self.setup_chunk_s,
            self.setup_decision_s, self.setup_peak_rss_mib, self.prove_s, self.prove_cpu_s, mean,
            max, self.decision_prove_s,
            if self.prove_peak_rss_mib.is_nan() { "unknown".to_string() } else { format!("{:.0} MiB", self.prove_peak_rss_mib) },
            self.inputs_ms, self.verify_batched_ms, self.verify_each_ms, self.proof_bytes
        )
    }
}

/// A chunked round of `slots × params` in chunks of `chunk` on a random realistic round:
/// both setups, every proof, and the contract's check (batched, and one by one).
pub fn chunked(
    slots: usize,
    params: usize,
    chunk: usize,
    seed: u64,
) -> Result<ChunkedBenchReport, ProverError> {
    use crate::chunked::{
        prepare_key, proof_bytes, prove_chunked, setup_chunk, setup_decision, verify_chunked,
        ChunkCircuit, ChunkedRound, DecisionCircuit, DecisionWitness,
    };
    use merit_protocol::verifier::{self, BatchItem};
    let f = slots.saturating_sub(3) / 4;
    let p = crate::sample::params(slots, params, f);
    let kinds = crate::sample::random_slots(slots, f, seed);
    let w = crate::sample::round(p, seed, &kinds).map_err(|e| ProverError::Round(e.to_string()))?;
    let round = ChunkedRound::new(w, chunk)?;
    let (chunk_constraints, _, _) = count(&ChunkCircuit::new(round.chunk_witness(0)))?;
    let (decision_constraints, _, _) =
        count(&DecisionCircuit::new(DecisionWitness::blank(slots)?))?;
    let t = Instant::now();
    let (cpk, cvk) = setup_chunk(slots, chunk, SetupMode::InsecureDeterministicForTests(1))?;
    let setup_chunk_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let (dpk, dvk) = setup_decision(slots, SetupMode::InsecureDeterministicForTests(2))?;
    let setup_decision_s = t.elapsed().as_secs_f64();
    let setup_peak_rss_mib = peak_rss_mib();
    let reset = reset_peak_rss();
    let c0 = cpu_seconds();
    let t = Instant::now();
    let (proof, times) = prove_chunked(&cpk, &dpk, &round, |_, _| {})?;
    let prove_s = t.elapsed().as_secs_f64();
    let prove_cpu_s = cpu_seconds() - c0;
    let prove_peak_rss_mib = if reset { peak_rss_mib() } else { f64::NAN };
    let held = round.stored_commitments();
    let stored = merit_protocol::chunked::Stored {
        project: round.round.project,
        round: round.round.round,
        params: round.round.params,
        chunk,
        trainers: &round.round.trainers,
        updates: &held.0,
        model: held.1,
    };
    let (ckey, dkey) = (
        prepare_key(&cvk).map_err(|e| ProverError::Round(e.to_string()))?,
        prepare_key(&dvk).map_err(|e| ProverError::Round(e.to_string()))?,
    );
    let bytes = proof_bytes(&proof);
    verify_chunked(&ckey, &dkey, &stored, &proof.submission, &bytes)
        .map_err(|e| ProverError::Round(format!("the benchmark round did not verify: {e}")))?;
    let t = Instant::now();
    let inputs = merit_protocol::chunked::public_inputs(&stored, &proof.submission)
        .map_err(ProverError::Chunk)?;
    let inputs_ms = t.elapsed().as_secs_f64() * 1e3;
    let mut items: Vec<BatchItem> = inputs
        .chunks
        .iter()
        .zip(&bytes)
        .map(|(x, p)| BatchItem {
            key: &ckey,
            proof: p,
            input: *x,
        })
        .collect();
    items.push(BatchItem {
        key: &dkey,
        proof: &bytes[inputs.chunks.len()],
        input: inputs.decision,
    });
    let t = Instant::now();
    let batched = verifier::verify_batch(&items);
    let verify_batched_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let each = items
        .iter()
        .all(|i| verifier::verify(i.key, i.proof, &i.input) == Ok(true));
    let verify_each_ms = t.elapsed().as_secs_f64() * 1e3;
    if batched != Ok(true) || !each {
        return Err(ProverError::Round(
            "the benchmark proofs did not verify".into(),
        ));
    }
    Ok(ChunkedBenchReport {
        chunks: round.count(),
        chunk_constraints,
        decision_constraints,
        setup_chunk_s,
        setup_decision_s,
        setup_peak_rss_mib,
        chunk_prove_s: times.chunks.iter().map(|d| d.as_secs_f64()).collect(),
        decision_prove_s: times.decision.as_secs_f64(),
        prove_s,
        prove_cpu_s,
        prove_peak_rss_mib,
        inputs_ms,
        verify_batched_ms,
        verify_each_ms,
        proof_bytes: (proof.chunks.len() + 1) * proof.decision.compressed_size(),
    })
}

/// Proving by recording one synthesis, then this crate's Groth16 prover (what the
/// aggregator does), with the MSMs timed one by one.
fn recorded_proving<'a, C: crate::Circuit + 'a>(c: C) -> Box<Proving<'a>> {
    Box::new(move |pk| {
        let t = Instant::now();
        let rec = crate::record(&c)?;
        drop(c);
        let prepare_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(2);
        let (r, s) = (Fr::rand(&mut rng), Fr::rand(&mut rng));
        let (proof, steps) = crate::groth16::prove(pk, rec, r, s)?;
        let groth16_s = t.elapsed().as_secs_f64();
        Ok((
            proof,
            prepare_s,
            groth16_s,
            steps.witness_map_s,
            Some(steps),
        ))
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
    let c = circuit.clone();
    run(blank, circuit, public, recorded_proving(c))
}

/// The protocol v5 round circuit for `slots × params`: the second of two random realistic
/// rounds (so last round's reveals are opened and the stale filter and self-consistency
/// run), with v5's default parameters.
pub fn round_v5(slots: usize, params: usize, seed: u64) -> Result<BenchReport, ProverError> {
    use crate::round_v5::{RoundCircuitV5, RoundWitnessV5};
    use merit_protocol::rule::v5::V5Params;
    let f = slots.saturating_sub(3) / 4;
    let p = crate::sample::params(slots, params, f);
    let v5 = V5Params::new(p);
    let err = |e: crate::round_v5::RoundV5Error| ProverError::Round(e.to_string());
    let sampled = |seed: u64| -> Result<Vec<Option<Vec<i16>>>, ProverError> {
        let kinds = crate::sample::random_slots(slots, f, seed);
        let w =
            crate::sample::round(p, seed, &kinds).map_err(|e| ProverError::Round(e.to_string()))?;
        Ok(w.updates
            .into_iter()
            .zip(w.present)
            .map(|(u, present)| present.then_some(u))
            .collect())
    };
    let trainers: Vec<_> = (0..slots).map(|i| [i as u8 + 1; 32]).collect();
    let first = RoundWitnessV5::new(
        v5,
        1,
        1,
        trainers.clone(),
        vec![0; params],
        sampled(seed)?,
        None,
    )
    .map_err(err)?;
    let w = RoundWitnessV5::new(
        v5,
        1,
        2,
        trainers,
        first.outcome.new_model.clone(),
        sampled(seed + 1)?,
        Some(first.as_last()),
    )
    .map_err(err)?;
    drop(first);
    let circuit = RoundCircuitV5::new(w).map_err(err)?;
    let blank = RoundCircuitV5::blank(v5).map_err(err)?;
    let public = circuit.public_input;
    let c = circuit.clone();
    run(blank, circuit, public, recorded_proving(c))
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
        crate::Circuit::synthesize(&self, &crate::cs::Cs::wrap(cs))
    }
}

impl crate::Circuit for Squarings {
    fn synthesize(&self, cs: &crate::cs::Cs) -> Result<(), SynthesisError> {
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
    let circuit = c.clone();
    run(
        c.clone(),
        c,
        public,
        Box::new(move |pk| {
            // arkworks' own prover, timed in its two phases; the witness map once more on
            // its own to split the second.
            let t = Instant::now();
            let prepared = crate::prepare(circuit)?;
            let prepare_s = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(2);
            let proof = crate::prove_prepared(pk, &prepared, &mut rng)?;
            let groth16_s = t.elapsed().as_secs_f64();
            let t = Instant::now();
            LibsnarkReduction::witness_map_from_matrices::<Fr, GeneralEvaluationDomain<Fr>>(
                &prepared.matrices,
                prepared.num_instance,
                prepared.num_constraints,
                &prepared.assignment,
            )?;
            Ok((proof, prepare_s, groth16_s, t.elapsed().as_secs_f64(), None))
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::{BenchReport, ChunkedBenchReport};
    use crate::groth16::Steps;
    use serde_json::Value;

    fn report(msms: Option<Steps>, prove_peak_rss_mib: f64) -> BenchReport {
        BenchReport {
            constraints: 1000,
            setup_s: 1.23456,
            prove_s: 2.0,
            verify_ms: 3.5,
            proof_bytes: 128,
            peak_rss_mib: 512.34,
            synth_s: 0.25,
            prepare_s: 0.5,
            groth16_s: 1.5,
            fft_s: 0.125,
            setup_cpu_s: 4.567,
            prove_cpu_s: 8.0,
            prove_peak_rss_mib,
            witnesses: 999,
            msms,
        }
    }

    #[test]
    fn json_reports_parse_with_nan_as_null() {
        let steps = Steps {
            witness_map_s: 0.1,
            msm_h_s: 0.2,
            msm_l_s: 0.3,
            msm_a_s: 0.4,
            msm_b_g1_s: 0.5,
            msm_b_g2_s: 0.6,
        };
        let v: Value = serde_json::from_str(&report(Some(steps), 300.06).to_json()).unwrap();
        assert_eq!(v["constraints"], 1000);
        assert_eq!(v["setup_s"], 1.235);
        assert_eq!(v["setup_cpu_s"], 4.57);
        assert_eq!(v["peak_rss_mib"], 512.3);
        assert_eq!(v["prove_peak_rss_mib"], 300.1);
        assert_eq!(v["msm_s"]["b_g2"], 0.6);
        assert_eq!(v.as_object().unwrap().len(), 15);

        let v: Value = serde_json::from_str(&report(None, f64::NAN).to_json()).unwrap();
        assert!(v["msm_s"].is_null());
        assert!(v["prove_peak_rss_mib"].is_null());

        let chunked = ChunkedBenchReport {
            chunks: 2,
            chunk_constraints: 10,
            decision_constraints: 20,
            setup_chunk_s: 1.0,
            setup_decision_s: 2.0,
            setup_peak_rss_mib: 100.0,
            chunk_prove_s: vec![0.1234, 0.5678],
            decision_prove_s: 0.9,
            prove_s: 1.6,
            prove_cpu_s: 3.2,
            prove_peak_rss_mib: f64::NAN,
            inputs_ms: 0.5,
            verify_batched_ms: 4.0,
            verify_each_ms: 8.0,
            proof_bytes: 384,
        };
        let v: Value = serde_json::from_str(&chunked.to_json()).unwrap();
        assert_eq!(v["chunk_prove_s"], serde_json::json!([0.123, 0.568]));
        assert_eq!(v["proof_bytes"], 384);
        assert!(v["prove_peak_rss_mib"].is_null());
        assert_eq!(v.as_object().unwrap().len(), 15);
    }

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
