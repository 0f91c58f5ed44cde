//! Test vectors: inputs → quantised values → packed elements → commitments → the round's
//! public input, as JSON (`protocol/test-vectors/v3.json`). Every crate that must agree
//! with `protocol` without re-implementing it (the prover's gadgets, the contract) checks
//! itself against this file.

use crate::commit::{Commitment, Committer, RoundInputs};
use crate::{fixed, pack, poseidon};
use serde::{Deserialize, Serialize};

/// The committed file (protocol v3: commitments with the wide sponge).
pub const VECTORS_JSON: &str = include_str!("../test-vectors/v3.json");
/// The round rule's worked cases (protocol/SPEC.md §6, §8).
pub const RULE_V2_JSON: &str = include_str!("../test-vectors/rule-v2.json");
/// Poseidon's constants and a few bare hashes, for re-implementers (protocol/SPEC.md).
pub const POSEIDON_JSON: &str = include_str!("../test-vectors/poseidon-bn254-t3.json");
/// The same for the wide sponge of vector commitments.
pub const POSEIDON_WIDE_JSON: &str = include_str!("../test-vectors/poseidon-bn254-t17.json");

/// `poseidon-bn254-t3.json` / `-t17.json`: every constant of the permutation, as canonical 32-byte
/// little-endian hex, and example hashes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoseidonConstants {
    /// The BN254 scalar field modulus r, decimal.
    pub modulus: String,
    pub width: usize,
    pub rate: usize,
    pub capacity: usize,
    pub full_rounds: usize,
    pub partial_rounds: usize,
    pub alpha: u64,
    /// One row of `width` round constants per round, `full_rounds + partial_rounds` rows.
    pub ark: Vec<Vec<String>>,
    /// `mds[i][j]`: new `state[i] = Σ_j mds[i][j] · state[j]`.
    pub mds: Vec<Vec<String>>,
    pub examples: Vec<HashExample>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HashExample {
    pub inputs: Vec<String>,
    pub hash: String,
}

/// Computes `poseidon-bn254-t3.json` from the compiled constants.
pub fn poseidon_constants() -> PoseidonConstants {
    constants_of(&poseidon::config(), poseidon::PARTIAL_ROUNDS)
}

/// Computes `poseidon-bn254-t17.json` from the compiled constants.
pub fn poseidon_wide_constants() -> PoseidonConstants {
    constants_of(&poseidon::wide::config(), poseidon::wide::PARTIAL_ROUNDS)
}

fn constants_of(
    c: &ark_crypto_primitives::sponge::poseidon::PoseidonConfig<crate::Fr>,
    partial_rounds: usize,
) -> PoseidonConstants {
    use ark_ff::PrimeField;
    let row =
        |r: &alloc::vec::Vec<crate::Fr>| r.iter().map(|x| hex32(&poseidon::to_bytes(x))).collect();
    let examples = [
        &[][..],
        &[1u64][..],
        &[1, 2][..],
        &[1, 2, 3][..],
        &[1, 2, 3, 0][..],
        &(1..=17).collect::<alloc::vec::Vec<u64>>()[..],
        &(1..=33).collect::<alloc::vec::Vec<u64>>()[..],
    ]
    .iter()
    .map(|xs| {
        let fs: alloc::vec::Vec<crate::Fr> = xs.iter().map(|&x| crate::Fr::from(x)).collect();
        HashExample {
            inputs: fs.iter().map(|x| hex32(&poseidon::to_bytes(x))).collect(),
            hash: hex32(&poseidon::to_bytes(&poseidon::hash(c, &fs))),
        }
    })
    .collect();
    PoseidonConstants {
        modulus: crate::Fr::MODULUS.to_string(),
        width: c.rate + c.capacity,
        rate: c.rate,
        capacity: c.capacity,
        full_rounds: c.full_rounds,
        partial_rounds,
        alpha: c.alpha,
        ark: c.ark.iter().map(row).collect(),
        mds: c.mds.iter().map(row).collect(),
        examples,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vectors {
    pub format: String,
    /// The round hash's sponge.
    pub poseidon: PoseidonParams,
    /// The sponge of update and model commitments (protocol v3).
    pub commitment_poseidon: PoseidonParams,
    pub cases: Vec<Case>,
    pub round: Round,
    /// Rounding ties and saturation of `fixed::quantise` (added after the first release of
    /// v1: absent from older copies of the file, which still parse).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rounding: Vec<RoundingCase>,
    /// More round hashes: absent, set-aside and unfilled slots (added like `rounding`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rounds: Vec<NamedRound>,
}

/// `quantise(float, scale_bits) = value`, where `float = units · 2^-scale_bits` exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundingCase {
    pub scale_bits: u8,
    /// `float · 2^scale_bits`, the exact real number being rounded.
    pub units: f64,
    pub float: f32,
    pub value: i16,
}

/// A round hash with a name that says what it exercises.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedRound {
    pub name: String,
    #[serde(flatten)]
    pub round: Round,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoseidonParams {
    pub width: usize,
    pub rate: usize,
    pub full_rounds: usize,
    pub partial_rounds: usize,
    pub alpha: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub scale_bits: u8,
    pub floats: Vec<f32>,
    pub values: Vec<i16>,
    /// Packed elements, canonical little-endian hex.
    pub packed: Vec<String>,
    pub account: String,
    pub update_commitment: String,
    pub model_commitment: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Round {
    pub project: u32,
    pub round: u32,
    pub prev_model: String,
    pub trainers: Vec<String>,
    pub updates: Vec<String>,
    pub scores: Vec<u32>,
    pub accepted: Vec<bool>,
    pub new_model: String,
    pub public_input: String,
}

pub fn hex32(bytes: &[u8; 32]) -> String {
    hex_encode(bytes)
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses 64 hex digits.
pub fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

pub fn parse_commitment(s: &str) -> Commitment {
    Commitment(parse_hex32(s).expect("64 hex digits"))
}

/// A case's inputs: scale exponent, floats, account.
pub type CaseInput = (u8, Vec<f32>, [u8; 32]);
/// The round's inputs besides the cases: project, round, scores, accept bits.
pub type RoundInput = (u32, u32, Vec<u32>, Vec<bool>);

fn round_vector(c: &Committer, r: &RoundInputs<'_>) -> Round {
    let public_input = c.round_public_input(r).expect("consistent round");
    Round {
        project: r.project,
        round: r.round,
        prev_model: hex32(&r.prev_model.0),
        trainers: r.trainers.iter().map(hex32).collect(),
        updates: r.updates.iter().map(|u| hex32(&u.0)).collect(),
        scores: r.scores.to_vec(),
        accepted: r.accepted.to_vec(),
        new_model: hex32(&r.new_model.0),
        public_input: hex32(&poseidon::to_bytes(&public_input)),
    }
}

/// The rounding cases: ties at ±0.5, ±1.5, ±2.5 units (half to even), a non-tie, and
/// saturation at both ends of i16.
pub fn rounding_cases() -> Vec<RoundingCase> {
    let s = 10u8;
    [
        0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5, 2.25, 32_767.5, -32_768.5, 40_000.0, -40_000.0,
    ]
    .iter()
    .map(|&units: &f64| {
        let float = (units / f64::from(1u32 << s)) as f32;
        RoundingCase {
            scale_bits: s,
            units,
            float,
            value: fixed::quantise(float, s).expect("finite"),
        }
    })
    .collect()
}

/// Extra round hashes: N = 4 with one present accepted slot, one revealed but set aside,
/// one that committed without revealing, and one unfilled slot. The statement cannot tell
/// the middle two apart (both carry the zero commitment, score 0, not accepted); the
/// unfilled slot also has the zero account.
pub fn extra_rounds(cases: &[Case]) -> Vec<NamedRound> {
    let c = Committer::new();
    let account = |k: &Case| parse_hex32(&k.account).expect("hex");
    let trainers = [
        account(&cases[1]),
        account(&cases[2]),
        account(&cases[4]),
        [0u8; 32],
    ];
    let zero = Commitment::default();
    let updates = [
        parse_commitment(&cases[1].update_commitment),
        zero,
        zero,
        zero,
    ];
    let r = RoundInputs {
        project: 3,
        round: 0,
        prev_model: parse_commitment(&cases[1].model_commitment),
        trainers: &trainers,
        updates: &updates,
        scores: &[1000, 0, 0, 0],
        accepted: &[true, false, false, false],
        new_model: parse_commitment(&cases[2].model_commitment),
    };
    vec![NamedRound {
        name: "present, set aside, committed without reveal, unfilled".into(),
        round: round_vector(&c, &r),
    }]
}

/// Computes every derived field of the vectors from their inputs.
pub fn compute(inputs: &[CaseInput], round: RoundInput) -> Vectors {
    let c = Committer::new();
    let cases: Vec<Case> = inputs
        .iter()
        .map(|(s, floats, account)| {
            let values = fixed::quantise_all(floats, *s).expect("finite inputs");
            Case {
                scale_bits: *s,
                floats: floats.clone(),
                packed: pack::pack(&values)
                    .iter()
                    .map(|e| hex32(&poseidon::to_bytes(e)))
                    .collect(),
                account: hex32(account),
                update_commitment: hex32(&c.commit_update(account, &values).0),
                model_commitment: hex32(&c.commit_model(&values).0),
                values,
            }
        })
        .collect();
    let updates: Vec<Commitment> = cases
        .iter()
        .map(|k| parse_commitment(&k.update_commitment))
        .collect();
    let prev = parse_commitment(&cases[0].model_commitment);
    let new = parse_commitment(&cases[cases.len() - 1].model_commitment);
    let trainers: Vec<[u8; 32]> = inputs.iter().map(|(_, _, a)| *a).collect();
    let (project, round_no, scores, accepted) = round;
    let inputs = RoundInputs {
        project,
        round: round_no,
        prev_model: prev,
        trainers: &trainers,
        updates: &updates,
        scores: &scores,
        accepted: &accepted,
        new_model: new,
    };
    let round = round_vector(&c, &inputs);
    Vectors {
        format: "merit test vectors v3".into(),
        poseidon: PoseidonParams {
            width: poseidon::RATE + poseidon::CAPACITY,
            rate: poseidon::RATE,
            full_rounds: poseidon::FULL_ROUNDS,
            partial_rounds: poseidon::PARTIAL_ROUNDS,
            alpha: poseidon::ALPHA,
        },
        commitment_poseidon: PoseidonParams {
            width: poseidon::wide::RATE + poseidon::CAPACITY,
            rate: poseidon::wide::RATE,
            full_rounds: poseidon::wide::FULL_ROUNDS,
            partial_rounds: poseidon::wide::PARTIAL_ROUNDS,
            alpha: poseidon::ALPHA,
        },
        round,
        rounding: rounding_cases(),
        rounds: extra_rounds(&cases),
        cases,
    }
}

/// The inputs of v3.json.
pub fn vector_inputs() -> (Vec<CaseInput>, RoundInput) {
    let mut account = [0u8; 32];
    account
        .iter_mut()
        .enumerate()
        .for_each(|(i, b)| *b = i as u8);
    let cases = vec![
        (10, vec![], [0u8; 32]),
        (10, vec![0.0, 0.5, -0.5, 1.0, -1.0], account),
        (
            12,
            (0..15).map(|i| i as f32 / 100.0 - 0.07).collect(),
            [0xab; 32],
        ),
        (
            8,
            (0..47)
                .map(|i| ((i * 37 % 23) as f32 - 11.0) / 3.0)
                .collect(),
            account,
        ),
        (
            15,
            vec![0.999, -1.0, 2.0, -3.0, 1e-6, -1e-6, 0.000_015_258_789],
            [0xff; 32],
        ),
    ];
    (
        cases,
        (
            7,
            2,
            vec![1000, 0, 731, 0, 12],
            vec![true, false, true, false, true],
        ),
    )
}

/// `rule-v2.json`: inputs and every intermediate of `rule::run` for a few rounds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleVectors {
    pub format: String,
    pub cases: Vec<RuleCase>,
}

/// One round through the rule (protocol/SPEC.md §8 lists the fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleCase {
    pub name: String,
    pub slots: usize,
    pub dim: usize,
    pub byzantine: usize,
    pub norm_bound_sq: u64,
    pub band_sq_milli: u32,
    pub duplicate_milli: u32,
    pub prev: Vec<i16>,
    pub updates: Vec<Option<Vec<i16>>>,
    pub in_bound: Vec<bool>,
    pub median_norm: u64,
    pub eligible: Vec<bool>,
    pub cosines: Vec<Vec<i32>>,
    pub duplicate: Vec<bool>,
    pub byzantine_left: usize,
    pub krum_ran: bool,
    pub krum: Vec<u64>,
    pub accepted: Vec<bool>,
    pub new_model: Vec<i16>,
    pub scores: Vec<u32>,
}

fn rule_case(
    name: &str,
    p: crate::rule::RuleParams,
    prev: Vec<i16>,
    updates: Vec<Option<Vec<i16>>>,
) -> RuleCase {
    let refs: Vec<Option<&[i16]>> = updates.iter().map(|u| u.as_deref()).collect();
    let o = crate::rule::run(&p, &prev, &refs).expect("a valid vector round");
    let mut cosines = o.cosines.clone();
    for (i, row) in cosines.iter_mut().enumerate() {
        row[i] = 0;
    }
    RuleCase {
        name: name.into(),
        slots: p.slots,
        dim: p.dim,
        byzantine: p.byzantine,
        norm_bound_sq: p.norm_bound_sq,
        band_sq_milli: p.band_sq_milli,
        duplicate_milli: p.duplicate_milli,
        prev,
        updates,
        in_bound: o.in_bound,
        median_norm: o.median_norm,
        eligible: o.eligible,
        cosines,
        duplicate: o.duplicate,
        byzantine_left: o.byzantine_left,
        krum_ran: o.krum_ran,
        krum: o.krum,
        accepted: o.accepted,
        new_model: o.new_model,
        scores: o.scores,
    }
}

/// The rounds of `rule-v2.json`: small hand-checked ones, then one of every attack shape.
pub fn rule_vectors() -> RuleVectors {
    use crate::rule::RuleParams;
    let some = |v: &[i16]| Some(v.to_vec());
    let mut cases = vec![
        rule_case(
            "band, opposite direction, absent slot",
            RuleParams::new(6, 2, 1, 1_000_000),
            vec![10, -10],
            vec![
                some(&[3, 0]),
                some(&[3, 1]),
                some(&[2, 2]),
                None,
                some(&[-3, 0]),
                some(&[30, 40]),
            ],
        ),
        rule_case(
            "two identical updates use up the budget",
            RuleParams {
                duplicate_milli: 950,
                ..RuleParams::new(6, 3, 2, u64::MAX)
            },
            vec![0, 0, 0],
            vec![
                some(&[10, 1, 0]),
                some(&[1, 10, 0]),
                some(&[0, 1, 10]),
                some(&[7, 7, 1]),
                some(&[5, 5, 5]),
                some(&[5, 5, 5]),
            ],
        ),
        rule_case(
            "too few candidates: nothing accepted",
            RuleParams::new(5, 2, 1, 100),
            vec![5, 5],
            vec![
                some(&[1, 3]),
                some(&[3, 1]),
                some(&[100, 100]),
                some(&[0, 0]),
                some(&[2, -1]),
            ],
        ),
        rule_case(
            "ties by slot order, negative means",
            RuleParams::new(5, 2, 1, u64::MAX),
            vec![0, 0],
            vec![
                some(&[10, 0]),
                some(&[0, 10]),
                some(&[-10, 0]),
                some(&[0, -10]),
                some(&[-7, -7]),
            ],
        ),
    ];
    // Eight slots, D = 24: five honest around one direction, a sign flip, a scaled copy,
    // noise; a linear congruential generator keeps it reproducible without a crate.
    let mut state: u64 = 0x5eed;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) % 201) as i16 - 100
    };
    let dir: Vec<i16> = (0..24).map(|_| next()).collect();
    let mut ups = Vec::new();
    for _ in 0..5 {
        ups.push(Some(
            dir.iter().map(|&d| d + next() / 2).collect::<Vec<i16>>(),
        ));
    }
    ups.push(Some(dir.iter().map(|&d| -d).collect()));
    ups.push(Some(dir.iter().map(|&d| d * 20).collect()));
    ups.push(Some((0..24).map(|_| next()).collect()));
    cases.push(rule_case(
        "eight slots: honest, sign flip, scale, noise",
        RuleParams::new(8, 24, 2, u64::MAX),
        (0..24).map(|j| j as i16 - 12).collect(),
        ups,
    ));
    RuleVectors {
        format: "merit rule vectors v2".into(),
        cases,
    }
}

/// The protocol-v4 vectors (`test-vectors/v4.json`, protocol/SPEC.md §9).
pub const V4_JSON: &str = include_str!("../test-vectors/v4.json");

/// `v4.json`: chunked rounds (SPEC.md §9, schema in §8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct V4Vectors {
    pub format: String,
    pub chunked_rounds: Vec<ChunkedRoundVector>,
}

/// One chunked round: its inputs (the parameters, the previous model and the updates),
/// what the rule of §6 gives, and every value of §9 a verifier recomputes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkedRoundVector {
    pub name: String,
    pub project: u32,
    pub round: u32,
    /// `N`, `D`, `C`, `K = ⌈D/C⌉`, `f`.
    pub slots: usize,
    pub dim: usize,
    pub chunk: usize,
    pub chunk_count: usize,
    pub byzantine: usize,
    /// `B²`, `ρ²` and `τ` of §6 (integers; `P_dec` hashes `min(B², D·2^30)`, `ρ²`, `τ`).
    pub norm_bound_sq: u64,
    pub band_sq_milli: u32,
    pub duplicate_milli: u32,
    /// One account per slot (32-byte hex).
    pub trainers: Vec<String>,
    /// `g`: D values.
    pub prev: Vec<i16>,
    /// Per slot: D values, or `null` for a slot that is not present.
    pub updates: Vec<Option<Vec<i16>>>,
    /// What §6 gives for these inputs.
    pub accepted: Vec<bool>,
    pub scores: Vec<u32>,
    pub new_model: Vec<i16>,
    /// `c_k(g)`, `c_k(g')`, `c_k(u_i)` (an empty list for a slot that is not present).
    pub prev_chunk_commitments: Vec<String>,
    pub new_chunk_commitments: Vec<String>,
    pub update_chunk_commitments: Vec<Vec<String>>,
    /// `commit_model_v4(g)`, `commit_model_v4(g')`, and `commit_update_v4(account_i, u_i)`
    /// per slot (`null` for a slot that is not present).
    pub prev_model_commitment: String,
    pub new_model_commitment: String,
    pub update_commitments: Vec<Option<String>>,
    /// `G_k` per chunk (`N(N+1)/2` signed integers, `i ≤ j` row by row), and `G = Σ_k G_k`.
    pub grams: Vec<Vec<i64>>,
    pub gram_totals: Vec<i64>,
    /// `P_0 … P_{K−1}` and `P_dec`.
    pub chunk_inputs: Vec<String>,
    pub decision_input: String,
}

/// A chunked round through the rule and the verifier's path (`chunked::public_inputs`, the
/// contract's checks), every value written out.
pub fn chunked_round_vector(
    name: &str,
    (project, round): (u32, u32),
    params: crate::rule::RuleParams,
    chunk: usize,
    trainers: &[[u8; 32]],
    prev: Vec<i16>,
    updates: Vec<Option<Vec<i16>>>,
) -> ChunkedRoundVector {
    use crate::chunked::{self, Chunking, Stored, Submission};
    let refs: Vec<Option<&[i16]>> = updates.iter().map(|u| u.as_deref()).collect();
    let o = crate::rule::run(&params, &prev, &refs).expect("a valid round");
    let shape = Chunking::new(params.dim, chunk).expect("a chunked shape");
    let wide = poseidon::wide::config();
    let fe = |x: &crate::Fr| hex32(&poseidon::to_bytes(x));
    let chunks_of = |v: &[i16]| shape.commit_chunks(&wide, v).expect("D values");
    let as_commitments =
        |cs: &[crate::Fr]| -> Vec<Commitment> { cs.iter().map(Commitment::from_field).collect() };
    let prev_chunks = chunks_of(&prev);
    let new_chunks = chunks_of(&o.new_model);
    let update_chunks: Vec<Vec<crate::Fr>> = updates
        .iter()
        .map(|u| u.as_deref().map(chunks_of).unwrap_or_default())
        .collect();
    let update_commitments: Vec<Option<Commitment>> = updates
        .iter()
        .zip(&update_chunks)
        .zip(trainers)
        .map(|((u, cs), a)| {
            u.as_ref()
                .map(|_| chunked::commit_update(a, params.dim, cs))
        })
        .collect();
    let zero = alloc::vec![0i16; params.dim];
    let grams: Vec<Vec<i64>> = (0..shape.count())
        .map(|k| {
            let slices: Vec<Vec<i16>> = updates
                .iter()
                .map(|u| shape.slice(u.as_deref().unwrap_or(&zero), k))
                .collect();
            chunked::partial_gram(&slices.iter().map(Vec::as_slice).collect::<Vec<_>>())
        })
        .collect();
    let gram_totals =
        chunked::sum_grams(params.slots, chunk, &grams).expect("partial sums in range");
    let sub = Submission {
        updates: update_chunks.iter().map(|cs| as_commitments(cs)).collect(),
        prev_model: as_commitments(&prev_chunks),
        new_model: as_commitments(&new_chunks),
        grams: grams.clone(),
        accepted: o.accepted.clone(),
        scores: o.scores.clone(),
    };
    let prev_model = chunked::commit_model(params.dim, &prev_chunks);
    let inputs = chunked::public_inputs(
        &Stored {
            project,
            round,
            params,
            chunk,
            trainers,
            updates: &update_commitments,
            model: prev_model,
        },
        &sub,
    )
    .expect("an honest submission");
    let from_updates = chunked::decision_input_of_updates(
        project,
        round,
        params,
        &updates,
        &o.accepted,
        &o.scores,
    );
    assert_eq!(from_updates, Ok(inputs.decision), "merit verify's P_dec");
    ChunkedRoundVector {
        name: name.into(),
        project,
        round,
        slots: params.slots,
        dim: params.dim,
        chunk,
        chunk_count: shape.count(),
        byzantine: params.byzantine,
        norm_bound_sq: params.norm_bound_sq,
        band_sq_milli: params.band_sq_milli,
        duplicate_milli: params.duplicate_milli,
        trainers: trainers.iter().map(hex32).collect(),
        prev,
        updates,
        accepted: o.accepted,
        scores: o.scores,
        new_model: o.new_model,
        prev_chunk_commitments: prev_chunks.iter().map(fe).collect(),
        new_chunk_commitments: new_chunks.iter().map(fe).collect(),
        update_chunk_commitments: update_chunks
            .iter()
            .map(|cs| cs.iter().map(fe).collect())
            .collect(),
        prev_model_commitment: hex32(&prev_model.0),
        new_model_commitment: hex32(&inputs.new_model.0),
        update_commitments: update_commitments
            .iter()
            .map(|c| c.map(|c| hex32(&c.0)))
            .collect(),
        grams,
        gram_totals,
        chunk_inputs: inputs.chunks.iter().map(fe).collect(),
        decision_input: fe(&inputs.decision),
    }
}

/// The rounds of `v4.json`. The first: D = 40 in chunks of 16 (K = 3; the last chunk is 8
/// values and 8 of padding, its second element 1 value and 14 of padding), five slots with
/// `f = 1`: three honest updates around one direction, slot 2 committed but is not present,
/// slot 4 flips the sign (Krum drops it; its Gram entries with the others are negative).
/// The second: the same round with no norm ceiling (`B² = 2^64 − 1`, so `P_dec` hashes
/// `D·2^30`), `ρ² = 9000` and `τ = 950` (no pair is that close): the same outcome, the same
/// `P_k`, another `P_dec`.
pub fn v4_vectors() -> V4Vectors {
    use crate::rule::RuleParams;
    let chunk = 16usize;
    let (params, prev, updates, trainers) = sample_round();
    let first = chunked_round_vector(
        "D 40 in chunks of 16, five slots: three honest, one not present, one sign flip",
        (11, 4),
        params,
        chunk,
        &trainers,
        prev.clone(),
        updates.clone(),
    );
    let second = chunked_round_vector(
        "the same round with no norm ceiling (P_dec hashes D·2^30), rho 3, tau 0.95: same outcome",
        (11, 4),
        RuleParams {
            norm_bound_sq: u64::MAX,
            band_sq_milli: 9_000,
            duplicate_milli: 950,
            ..params
        },
        chunk,
        &trainers,
        prev,
        updates,
    );
    V4Vectors {
        format: "merit test vectors v4".into(),
        chunked_rounds: alloc::vec![first, second],
    }
}

/// The round of `v4.json` and `round-v3.json`: its parameters, the previous model, the
/// updates (slot 2 not present) and the accounts.
pub type SampleRound = (
    crate::rule::RuleParams,
    Vec<i16>,
    Vec<Option<Vec<i16>>>,
    Vec<[u8; 32]>,
);

fn sample_round() -> SampleRound {
    let dim = 40usize;
    // A linear congruential generator keeps it reproducible without a crate.
    let mut state: u64 = 0x0004_c4a7;
    let mut next = move |m: i64| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) % (2 * m as u64 + 1)) as i64 - m
    };
    let dir: Vec<i64> = (0..dim).map(|_| next(120)).collect();
    let prev: Vec<i16> = (0..dim).map(|_| next(3000) as i16).collect();
    let mut updates: Vec<Option<Vec<i16>>> = (0..3)
        .map(|_| Some(dir.iter().map(|&d| (d + next(40)) as i16).collect()))
        .collect();
    updates.insert(2, None);
    updates.push(Some(dir.iter().map(|&d| (-d + next(10)) as i16).collect()));
    let trainers: Vec<[u8; 32]> = (0..5u8)
        .map(|i| core::array::from_fn(|j| (j as u8).wrapping_mul(17).wrapping_add(0x31 * i + 1)))
        .collect();
    // A spec's B² (norm_bound 4.5 at scale 2^8: ⌊1152²⌋); ρ = 6; no duplicate filter.
    let params = crate::rule::RuleParams::new(5, dim, 1, 1_327_104);
    (params, prev, updates, trainers)
}

/// The end-to-end v3 round (`test-vectors/round-v3.json`, SPEC.md §4–6).
pub const ROUND_V3_JSON: &str = include_str!("../test-vectors/round-v3.json");

/// `round-v3.json`: rounds from the updates to the public input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundV3Vectors {
    pub format: String,
    pub rounds: Vec<RoundV3Vector>,
}

/// One v3 round: the rule's parameters, the previous model, the accounts and updates (`null`:
/// not present); what §6 gives; the commitments of §4; the public input of §5.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundV3Vector {
    pub name: String,
    pub project: u32,
    pub round: u32,
    pub slots: usize,
    pub dim: usize,
    pub byzantine: usize,
    pub norm_bound_sq: u64,
    pub band_sq_milli: u32,
    pub duplicate_milli: u32,
    pub trainers: Vec<String>,
    pub prev: Vec<i16>,
    pub updates: Vec<Option<Vec<i16>>>,
    pub accepted: Vec<bool>,
    pub scores: Vec<u32>,
    pub new_model: Vec<i16>,
    pub prev_model_commitment: String,
    /// §5's `C_i`: the update's commitment, the zero commitment when not present.
    pub update_commitments: Vec<String>,
    pub new_model_commitment: String,
    pub public_input: String,
}

/// The rounds of `round-v3.json`: `v4.json`'s round, as a v3 project proves it.
pub fn round_v3_vectors() -> RoundV3Vectors {
    let (params, prev, updates, trainers) = sample_round();
    let (project, round) = (11, 4);
    let refs: Vec<Option<&[i16]>> = updates.iter().map(|u| u.as_deref()).collect();
    let o = crate::rule::run(&params, &prev, &refs).expect("a valid round");
    let c = Committer::new();
    let commitments: Vec<Commitment> = updates
        .iter()
        .zip(&trainers)
        .map(|(u, a)| {
            u.as_ref()
                .map_or(Commitment::default(), |u| c.commit_update(a, u))
        })
        .collect();
    let r = RoundInputs {
        project,
        round,
        prev_model: c.commit_model(&prev),
        trainers: &trainers,
        updates: &commitments,
        scores: &o.scores,
        accepted: &o.accepted,
        new_model: c.commit_model(&o.new_model),
    };
    let public_input = c.round_public_input(&r).expect("consistent round");
    RoundV3Vectors {
        format: "merit round vectors v3".into(),
        rounds: alloc::vec![RoundV3Vector {
            name: "D 40, five slots: three honest, one not present, one sign flip".into(),
            project,
            round,
            slots: params.slots,
            dim: params.dim,
            byzantine: params.byzantine,
            norm_bound_sq: params.norm_bound_sq,
            band_sq_milli: params.band_sq_milli,
            duplicate_milli: params.duplicate_milli,
            trainers: trainers.iter().map(hex32).collect(),
            prev: prev.clone(),
            updates: updates.clone(),
            accepted: o.accepted.clone(),
            scores: o.scores.clone(),
            new_model: o.new_model.clone(),
            prev_model_commitment: hex32(&r.prev_model.0),
            update_commitments: commitments.iter().map(|c| hex32(&c.0)).collect(),
            new_model_commitment: hex32(&r.new_model.0),
            public_input: hex32(&poseidon::to_bytes(&public_input)),
        }],
    }
}

/// The model/update file vectors (`test-vectors/file-v1.json`, protocol/SPEC.md §7).
pub const FILE_V1_JSON: &str = include_str!("../test-vectors/file-v1.json");

/// `file-v1.json`: files in their bytes, and files a parser MUST refuse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileVectors {
    pub format: String,
    pub files: Vec<FileVector>,
    pub invalid: Vec<InvalidFile>,
}

/// A valid file: its fields, its bytes, and the v3 commitment its values open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileVector {
    pub name: String,
    /// `"model"` or `"update"`.
    pub kind: String,
    pub scale_bits: u8,
    pub tensors: Vec<TensorVector>,
    pub values: Vec<i16>,
    pub floats: Option<Vec<f32>>,
    /// The trainer's account, for an update.
    pub account: Option<String>,
    /// `commit_update(account, values)` for an update, `commit_model(values)` for a model
    /// (§4, v3).
    pub commitment: String,
    pub bytes: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorVector {
    pub name: String,
    pub dims: Vec<u32>,
}

/// Bytes a strict parser refuses; `error` is this implementation's name for why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidFile {
    pub name: String,
    pub bytes: String,
    pub error: String,
}

fn file_vector(name: &str, f: &crate::format::ModelFile, account: Option<[u8; 32]>) -> FileVector {
    use crate::format::Kind;
    let c = Committer::new();
    let commitment = match (f.kind, account) {
        (Kind::Update, Some(a)) => c.commit_update(&a, &f.values),
        (Kind::Model, None) => c.commit_model(&f.values),
        _ => panic!("an update has an account, a model none"),
    };
    FileVector {
        name: name.into(),
        kind: match f.kind {
            Kind::Model => "model",
            Kind::Update => "update",
        }
        .into(),
        scale_bits: f.scale_bits,
        tensors: f
            .tensors
            .iter()
            .map(|t| TensorVector {
                name: t.name.clone(),
                dims: t.dims.clone(),
            })
            .collect(),
        values: f.values.clone(),
        floats: f.floats.clone(),
        account: account.as_ref().map(hex32),
        commitment: hex32(&commitment.0),
        bytes: hex_encode(&f.encode()),
    }
}

/// The files of `file-v1.json`: a model with floats (two tensors, the MLP's layout), an
/// update without floats (a rank-3 tensor, a non-ASCII name, the extremes of i16), and
/// one small update mutated field by field into files a parser MUST refuse.
pub fn file_vectors() -> FileVectors {
    use crate::format::{Kind, ModelFile, TensorShape};
    let shape = |name: &str, dims: &[u32]| TensorShape {
        name: name.into(),
        dims: dims.to_vec(),
    };
    let floats: Vec<f32> = (0..9).map(|i| (i as f32 - 4.0) / 7.0).collect();
    let model = ModelFile {
        kind: Kind::Model,
        scale_bits: 8,
        tensors: vec![shape("l0.weight", &[3, 2]), shape("l0.bias", &[3])],
        values: fixed::quantise_all(&floats, 8).expect("finite"),
        floats: Some(floats),
    };
    let update = ModelFile {
        kind: Kind::Update,
        scale_bits: 12,
        tensors: vec![shape("Δ/w", &[2, 1, 3])],
        values: vec![-32768, 32767, 0, -1, 1, 4095],
        floats: None,
    };
    let account: [u8; 32] = core::array::from_fn(|i| (i as u8).wrapping_mul(29) ^ 0x5a);
    let small = ModelFile {
        kind: Kind::Update,
        scale_bits: 10,
        tensors: vec![shape("w", &[2])],
        values: vec![1, -1],
        floats: Some(vec![0.001, -0.001]),
    };
    // The small file's layout: magic 0..8, version 8..10, kind 10, scale 11, tensor count
    // 12..14, name length 14..16, name 16, rank 17, dims 18..22, L 22..30, values 30..34,
    // float flag 34, floats 35..43.
    let base = small.encode();
    assert_eq!(base.len(), 43);
    let at = |offset: usize, with: &[u8]| {
        let mut b = base.clone();
        b[offset..offset + with.len()].copy_from_slice(with);
        b
    };
    let mutations: Vec<(&str, Vec<u8>)> = vec![
        ("bad magic", at(0, b"m")),
        ("version 2", at(8, &2u16.to_le_bytes())),
        ("kind 2", at(10, &[2])),
        ("scale 16", at(11, &[16])),
        ("no tensors", at(12, &0u16.to_le_bytes())),
        ("257 tensors", at(12, &257u16.to_le_bytes())),
        ("empty tensor name", at(14, &0u16.to_le_bytes())),
        ("tensor name not UTF-8", at(16, &[0xff])),
        ("rank 0", at(17, &[0])),
        ("rank 9", at(17, &[9])),
        ("a zero dim", at(18, &0u32.to_le_bytes())),
        ("L disagrees with the shapes", at(22, &3u64.to_le_bytes())),
        ("L above 2^24", at(22, &((1u64 << 24) + 1).to_le_bytes())),
        ("float flag 2", at(34, &[2])),
        ("a NaN float", at(35, &f32::NAN.to_le_bytes())),
        (
            "an infinite float",
            at(39, &f32::NEG_INFINITY.to_le_bytes()),
        ),
        ("floats after flag 0", at(34, &[0])),
        ("truncated by one byte", base[..42].to_vec()),
        ("one trailing byte", [&base[..], &[0]].concat()),
        ("empty file", Vec::new()),
    ];
    let invalid = mutations
        .into_iter()
        .map(|(name, bytes)| InvalidFile {
            name: name.into(),
            error: format!(
                "{:?}",
                ModelFile::parse(&bytes).expect_err("a mutated file is refused")
            ),
            bytes: hex_encode(&bytes),
        })
        .collect();
    FileVectors {
        format: "merit file vectors v1".into(),
        files: vec![
            file_vector("model with floats", &model, None),
            file_vector("update without floats", &update, Some(account)),
            file_vector(
                "the small update the invalid files mutate",
                &small,
                Some(account),
            ),
        ],
        invalid,
    }
}

/// The rule's parameters from spec JSON (`test-vectors/params-v2.json`, SPEC.md §6).
pub const PARAMS_V2_JSON: &str = include_str!("../test-vectors/params-v2.json");

/// `params-v2.json`: project specs and the rule parameters §6 derives from them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamVectors {
    pub format: String,
    pub cases: Vec<ParamCase>,
}

/// One spec (JSON text, read as it stands) and what §6 makes of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamCase {
    pub name: String,
    pub spec: String,
    /// `D`, the model's parameter count.
    pub dim: u64,
    /// The least `norm_bound` the spec may have (binary32).
    pub least_norm_bound: f32,
    /// The spec's fields refused by validation, in the order it reports them; empty: valid.
    pub refused: Vec<String>,
    pub slots: usize,
    pub byzantine: usize,
    pub norm_bound_sq: u64,
    pub band_sq_milli: u32,
    pub duplicate_milli: u32,
}

/// The cases of `params-v2.json`: the example spec, the defaults, ties, a decimal whose
/// binary64 reading is a binary32 tie, the edges of the band and the filter, `norm_bound`
/// below and at its least value, saturation, and refused values (whose parameters are still
/// what §6's formulas give).
pub fn param_vectors() -> ParamVectors {
    use crate::rule::RuleParams;
    use crate::spec::ProjectSpec;
    let spec = |clip: &str, scale: u8, hidden: &str, aggregation: &str| {
        format!(
            r#"{{"version": 2, "task": {{"name": "digits", "kind": "classification"}},
 "features": {{"inputs": 64, "classes": 10}},
 "model": {{"type": "mlp", "input": 64, "hidden": [{hidden}], "classes": 10}},
 "training": {{"local_epochs": 1, "batch_size": 32, "learning_rate": 0.05, "optimizer": "sgd", "clip_norm": {clip}}},
 "fixed_point": {{"scale_bits": {scale}}}, "rounds": 3,
 "aggregation": {{"rule": "angular_krum", {aggregation}}},
 "max_rejected_rounds": 1}}"#
        )
    };
    let cases = [
        (
            "the example spec",
            spec(
                "4.0",
                10,
                "32",
                r#""norm_bound": 4.5, "byzantine": 1, "slots": 8, "norm_band": 6.0, "duplicate_cosine": 0.95"#,
            ),
        ),
        (
            "defaults (no norm_band, no duplicate_cosine); B² truncated",
            spec(
                "4.0",
                10,
                "32",
                r#""norm_bound": 4.7, "byzantine": 1, "slots": 8"#,
            ),
        ),
        (
            "ties go away from zero: 1562.5 and 937.5",
            spec(
                "1.0",
                8,
                "16, 8",
                r#""norm_bound": 2.0, "byzantine": 2, "slots": 7, "norm_band": 1.25, "duplicate_cosine": 0.9375"#,
            ),
        ),
        (
            "a decimal just below a binary32 midpoint reads as 0.9375 through binary64",
            spec(
                "1.0",
                8,
                "16, 8",
                r#""norm_bound": 2.0, "byzantine": 2, "slots": 7, "norm_band": 1.25, "duplicate_cosine": 0.9374999701976776123046874999999"#,
            ),
        ),
        (
            "the widest band; 1000.4 per mille rounds to 1000, so the filter stays on",
            spec(
                "0.5",
                12,
                "32",
                r#""norm_bound": 0.6, "byzantine": 0, "slots": 3, "norm_band": 1000.0, "duplicate_cosine": 1.0004"#,
            ),
        ),
        (
            "norm_bound at its least value",
            spec(
                "4.0",
                10,
                "32",
                r#""norm_bound": 4.024, "byzantine": 1, "slots": 8"#,
            ),
        ),
        (
            "norm_bound equal to clip_norm: refused",
            spec(
                "4.0",
                10,
                "32",
                r#""norm_bound": 4.0, "byzantine": 1, "slots": 8"#,
            ),
        ),
        (
            "B² saturates",
            spec(
                "4.0",
                15,
                "32",
                r#""norm_bound": 1e15, "byzantine": 1, "slots": 8, "duplicate_cosine": 2.5"#,
            ),
        ),
        (
            "out of range: band, cosine, Byzantine budget",
            spec(
                "4.0",
                10,
                "32",
                r#""norm_bound": 4.5, "byzantine": 1, "slots": 4, "norm_band": 0.5, "duplicate_cosine": 0.0"#,
            ),
        ),
    ];
    let cases = cases
        .into_iter()
        .map(|(name, text)| {
            let s: ProjectSpec = serde_json::from_str(&text).expect("the spec parses");
            let refused = match s.validate() {
                Ok(()) => Vec::new(),
                Err(crate::spec::SpecError::Invalid(ps)) => {
                    ps.iter().map(|p| p.field.to_string()).collect()
                }
                Err(e) => panic!("{e}"),
            };
            let p = RuleParams::from_spec(&s);
            ParamCase {
                name: name.into(),
                dim: s.parameter_count(),
                least_norm_bound: s.least_norm_bound().expect("clip_norm and scale are valid"),
                refused,
                slots: p.slots,
                byzantine: p.byzantine,
                norm_bound_sq: p.norm_bound_sq,
                band_sq_milli: p.band_sq_milli,
                duplicate_milli: p.duplicate_milli,
                spec: text,
            }
        })
        .collect();
    ParamVectors {
        format: "merit parameter vectors v2".into(),
        cases,
    }
}

/// A Groth16 proof and its verifying key in bytes (`test-vectors/proof-groth16.json`,
/// SPEC.md §12). Written by a test (the prover needs dev-dependencies).
pub const PROOF_JSON: &str = include_str!("../test-vectors/proof-groth16.json");

/// `proof-groth16.json`: one verifying key (one public input) and proofs against it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofVectors {
    pub format: String,
    /// What the toy circuit states (the check of §12 does not depend on it).
    pub statement: String,
    /// The compressed verifying key, hex (`verifier::VK_LEN` bytes).
    pub verifying_key: String,
    pub cases: Vec<ProofCase>,
}

/// A proof, its public input, and what a verifier answers: `"accept"`, `"reject"` (valid
/// points, the pairing equation fails) or `"malformed"` (the bytes are not a proof).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofCase {
    pub name: String,
    pub proof: String,
    pub public_input: String,
    pub result: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_vectors_match_this_build() {
        let (inputs, round) = vector_inputs();
        let want = compute(&inputs, round);
        let have: Vectors = serde_json::from_str(VECTORS_JSON).expect("v3.json parses");
        assert_eq!(
            have, want,
            "protocol output changed: commitments are frozen for protocol v3"
        );
    }

    #[test]
    fn rounding_is_half_to_even_and_saturates() {
        let got: Vec<(f64, i16)> = rounding_cases()
            .iter()
            .map(|r| (r.units, r.value))
            .collect();
        assert_eq!(
            got,
            vec![
                (0.5, 0),
                (1.5, 2),
                (2.5, 2),
                (-0.5, 0),
                (-1.5, -2),
                (-2.5, -2),
                (3.5, 4),
                (2.25, 2),
                (32_767.5, 32_767),
                (-32_768.5, -32_768),
                (40_000.0, 32_767),
                (-40_000.0, -32_768),
            ]
        );
        // Every float is exactly units · 2^-s (so the tie really is a tie).
        for r in rounding_cases() {
            assert_eq!(f64::from(r.float) * 1024.0, r.units);
        }
    }

    #[test]
    fn a_file_without_the_later_additions_still_parses() {
        let mut v: serde_json::Value = serde_json::from_str(VECTORS_JSON).unwrap();
        let o = v.as_object_mut().unwrap();
        assert!(o.remove("rounding").is_some() && o.remove("rounds").is_some());
        let old: Vectors = serde_json::from_value(v).unwrap();
        assert!(old.rounding.is_empty() && old.rounds.is_empty());
    }

    #[test]
    fn absent_and_set_aside_slots_hash_as_zero_commitments() {
        let v: Vectors = serde_json::from_str(VECTORS_JSON).unwrap();
        let r = &v.rounds[0].round;
        let zero = hex32(&[0; 32]);
        assert_eq!(r.updates[1..], [zero.clone(), zero.clone(), zero.clone()]);
        assert_eq!(r.trainers[3], zero);
        assert_ne!(r.public_input, v.round.public_input);
    }

    #[test]
    fn committed_poseidon_constants_match_this_build() {
        let have: PoseidonConstants = serde_json::from_str(POSEIDON_JSON).unwrap();
        assert_eq!(have, poseidon_constants());
        assert_eq!(have.ark.len(), 65);
        // The sponge does not pad: a trailing zero within the rate changes nothing.
        assert_eq!(have.examples[3].hash, have.examples[4].hash);
        let wide: PoseidonConstants = serde_json::from_str(POSEIDON_WIDE_JSON).unwrap();
        assert_eq!(wide, poseidon_wide_constants());
        assert_eq!((wide.width, wide.ark.len()), (17, 76));
        assert_ne!(wide.examples[3].hash, have.examples[3].hash);
    }

    #[test]
    fn committed_rule_vectors_match_this_build() {
        let have: RuleVectors = serde_json::from_str(RULE_V2_JSON).expect("rule-v2.json parses");
        assert_eq!(
            have,
            rule_vectors(),
            "the round rule changed: a rule change is a protocol version (SPEC.md §6)"
        );
        // The eight-slot case exercises the band, the sign flip and Krum at once.
        let c = &have.cases[4];
        assert!(c.krum_ran && !c.eligible[6] && !c.accepted[5], "{c:?}");
    }

    /// Rewrites rule-v2.json: `cargo test -p merit-protocol -- --ignored write_rule_vectors`.
    #[test]
    #[ignore]
    fn write_rule_vectors() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/test-vectors/rule-v2.json");
        let json = serde_json::to_string(&rule_vectors()).unwrap();
        std::fs::write(path, json + "\n").unwrap();
    }

    /// Rewrites poseidon-bn254-t3.json and -t17.json:
    /// `cargo test -p merit-protocol -- --ignored write_poseidon_constants`.
    #[test]
    #[ignore]
    fn write_poseidon_constants() {
        for (file, c) in [
            ("poseidon-bn254-t3.json", poseidon_constants()),
            ("poseidon-bn254-t17.json", poseidon_wide_constants()),
        ] {
            let path = format!("{}/test-vectors/{file}", env!("CARGO_MANIFEST_DIR"));
            let json = serde_json::to_string_pretty(&c).unwrap();
            std::fs::write(path, json + "\n").unwrap();
        }
    }

    /// Rewrites v3.json: `cargo test -p merit-protocol -- --ignored write_vectors`.
    #[test]
    #[ignore]
    fn write_vectors() {
        let (inputs, round) = vector_inputs();
        let v = compute(&inputs, round);
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/test-vectors/v3.json");
        std::fs::write(path, serde_json::to_string_pretty(&v).unwrap() + "\n").unwrap();
    }
    #[test]
    fn committed_v4_vectors_match_this_build() {
        let have: V4Vectors = serde_json::from_str(V4_JSON).expect("v4.json parses");
        assert_eq!(
            have,
            v4_vectors(),
            "protocol v4 output changed: chunk commitments and P_k, P_dec are frozen for v4"
        );
        let r = &have.chunked_rounds[0];
        // The round exercises what it says: padding, an absent slot, a rejected one,
        // negative Gram entries, B² below D·2^30.
        assert_eq!((r.chunk_count, r.dim % r.chunk), (3, 8));
        assert!(r.updates[2].is_none() && r.update_chunk_commitments[2].is_empty());
        assert_eq!(r.accepted, [true, true, false, true, false]);
        assert!(r
            .scores
            .iter()
            .zip(&r.accepted)
            .all(|(&s, &a)| a == (s > 0)));
        assert!(r.gram_totals.iter().any(|&g| g < 0));
        assert!(r.norm_bound_sq < (r.dim as u64) << 30);
        let s = &have.chunked_rounds[1];
        assert_ne!(s.decision_input, r.decision_input);
        assert_eq!(s.chunk_inputs, r.chunk_inputs);
    }

    /// Rewrites v4.json: `cargo test -p merit-protocol -- --ignored write_v4_vectors`.
    #[test]
    #[ignore]
    fn write_v4_vectors() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/test-vectors/v4.json");
        let json = serde_json::to_string_pretty(&v4_vectors()).unwrap();
        std::fs::write(path, json + "\n").unwrap();
    }
    #[test]
    fn committed_file_vectors_match_this_build() {
        let have: FileVectors = serde_json::from_str(FILE_V1_JSON).expect("file-v1.json parses");
        assert_eq!(
            have,
            file_vectors(),
            "the MERITMDL v1 bytes changed: a format change is a new version (SPEC.md §7)"
        );
        for f in &have.files {
            let bytes: Vec<u8> = (0..f.bytes.len() / 2)
                .map(|i| u8::from_str_radix(&f.bytes[2 * i..2 * i + 2], 16).unwrap())
                .collect();
            let parsed = crate::format::ModelFile::parse(&bytes).expect("a valid file");
            assert_eq!(
                (parsed.values, parsed.floats),
                (f.values.clone(), f.floats.clone())
            );
        }
    }

    /// Rewrites file-v1.json: `cargo test -p merit-protocol -- --ignored write_file_vectors`.
    #[test]
    #[ignore]
    fn write_file_vectors() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/test-vectors/file-v1.json");
        let json = serde_json::to_string_pretty(&file_vectors()).unwrap();
        std::fs::write(path, json + "\n").unwrap();
    }
    #[test]
    fn committed_param_vectors_match_this_build() {
        let have: ParamVectors =
            serde_json::from_str(PARAMS_V2_JSON).expect("params-v2.json parses");
        assert_eq!(
            have,
            param_vectors(),
            "the parameters a spec gives changed: that is a rule change (SPEC.md §6)"
        );
        let by_name = |n: &str| have.cases.iter().find(|c| c.name.starts_with(n)).unwrap();
        let ties = by_name("ties");
        assert_eq!((ties.band_sq_milli, ties.duplicate_milli), (1563, 938));
        assert_eq!(by_name("a decimal").duplicate_milli, 938);
        assert!(by_name("norm_bound at").refused.is_empty());
        assert_eq!(
            by_name("norm_bound equal").refused,
            ["aggregation.norm_bound"]
        );
        assert_eq!(by_name("B² saturates").norm_bound_sq, u64::MAX);
    }

    /// Rewrites params-v2.json: `cargo test -p merit-protocol -- --ignored write_param_vectors`.
    #[test]
    #[ignore]
    fn write_param_vectors() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/test-vectors/params-v2.json");
        let json = serde_json::to_string_pretty(&param_vectors()).unwrap();
        std::fs::write(path, json + "\n").unwrap();
    }
    #[test]
    fn committed_round_v3_vectors_match_this_build() {
        let have: RoundV3Vectors =
            serde_json::from_str(ROUND_V3_JSON).expect("round-v3.json parses");
        assert_eq!(
            have,
            round_v3_vectors(),
            "a v3 round's statement changed: v3 is frozen"
        );
        // The same round as v4.json's, the same outcome.
        let v4: V4Vectors = serde_json::from_str(V4_JSON).unwrap();
        let (r, c) = (&have.rounds[0], &v4.chunked_rounds[0]);
        assert_eq!(
            (&r.accepted, &r.scores, &r.new_model),
            (&c.accepted, &c.scores, &c.new_model)
        );
    }

    /// Rewrites round-v3.json: `cargo test -p merit-protocol -- --ignored write_round_v3_vectors`.
    #[test]
    #[ignore]
    fn write_round_v3_vectors() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/test-vectors/round-v3.json");
        let json = serde_json::to_string_pretty(&round_v3_vectors()).unwrap();
        std::fs::write(path, json + "\n").unwrap();
    }
    #[cfg(feature = "groth16")]
    mod proofs {
        use super::super::*;
        use ark_bn254::{Bn254, Fr};
        use ark_groth16::Groth16;
        use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};
        use ark_relations::lc;
        use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
        use ark_snark::SNARK;
        use ark_std::rand::SeedableRng;

        /// "I know x with x·x = y" for the public y.
        #[derive(Clone)]
        struct Square(u64);

        impl ConstraintSynthesizer<Fr> for Square {
            fn generate_constraints(
                self,
                cs: ConstraintSystemRef<Fr>,
            ) -> Result<(), SynthesisError> {
                let x = cs.new_witness_variable(|| Ok(Fr::from(self.0)))?;
                let y = cs.new_input_variable(|| Ok(Fr::from(self.0) * Fr::from(self.0)))?;
                cs.enforce_r1cs_constraint(|| lc!() + x, || lc!() + x, || lc!() + y)
            }
        }

        fn hex(b: &[u8]) -> String {
            b.iter().map(|x| format!("{x:02x}")).collect()
        }

        /// The vectors, from a seeded setup and prover; every case is what
        /// `verifier::verify` answers.
        pub fn proof_vectors() -> ProofVectors {
            let x = 3_000_000_019u64;
            let mut rng = ark_std::rand::rngs::StdRng::seed_from_u64(0x5eed_0029);
            let (pk, vk) = Groth16::<Bn254>::circuit_specific_setup(Square(0), &mut rng).unwrap();
            let proof = Groth16::<Bn254>::prove(&pk, Square(x), &mut rng).unwrap();
            let mut vk_bytes = Vec::new();
            vk.serialize_compressed(&mut vk_bytes).unwrap();
            let bytes = |p: &ark_groth16::Proof<Bn254>| {
                let mut out = Vec::new();
                p.serialize_compressed(&mut out).unwrap();
                out
            };
            let honest = bytes(&proof);
            let negated_a = bytes(&ark_groth16::Proof {
                a: -proof.a,
                ..proof.clone()
            });
            // A's x moved to the next integer that is no curve point's x.
            let mut off_curve = honest.clone();
            loop {
                off_curve[0] = off_curve[0].wrapping_add(1);
                if ark_groth16::Proof::<Bn254>::deserialize_compressed(&off_curve[..]).is_err() {
                    break;
                }
            }
            let y = Fr::from(x) * Fr::from(x);
            let prepared = crate::verifier::prepare(&vk_bytes).unwrap();
            let cases = [
                ("an honest proof", &honest, y),
                ("the same proof for y + 1", &honest, y + Fr::from(1u64)),
                ("A negated (valid points)", &negated_a, y),
                ("A's x is not on the curve", &off_curve, y),
            ]
            .into_iter()
            .map(|(name, p, input)| ProofCase {
                name: name.into(),
                proof: hex(p),
                public_input: hex32(&poseidon::to_bytes(&input)),
                result: match crate::verifier::verify(&prepared, p, &input) {
                    Ok(true) => "accept",
                    Ok(false) => "reject",
                    Err(_) => "malformed",
                }
                .into(),
            })
            .collect();
            ProofVectors {
                format: "merit proof vectors v1".into(),
                statement: format!(
                    "Groth16 over BN254, one constraint x·x = y with the witness x and the public y; x = {x}"
                ),
                verifying_key: hex(&vk_bytes),
                cases,
            }
        }

        #[test]
        fn committed_proof_vectors_match_this_build() {
            let have: ProofVectors = serde_json::from_str(PROOF_JSON).unwrap();
            assert_eq!(have, proof_vectors(), "Groth16 bytes changed");
            let results: Vec<&str> = have.cases.iter().map(|c| c.result.as_str()).collect();
            assert_eq!(results, ["accept", "reject", "reject", "malformed"]);
            assert_eq!(have.verifying_key.len(), 2 * crate::verifier::VK_LEN);
        }

        /// Rewrites proof-groth16.json:
        /// `cargo test -p merit-protocol -- --ignored write_proof_vectors`.
        #[test]
        #[ignore]
        fn write_proof_vectors() {
            let path = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/test-vectors/proof-groth16.json"
            );
            let json = serde_json::to_string_pretty(&proof_vectors()).unwrap();
            std::fs::write(path, json + "\n").unwrap();
        }
    }
}
