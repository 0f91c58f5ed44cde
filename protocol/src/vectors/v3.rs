//! `v3.json`: inputs → quantised values → packed elements → commitments → the round's
//! public input (protocol v3: commitments with the wide sponge), with the rounding cases
//! of `fixed::quantise` and more round hashes.

use super::{hex32, parse_commitment, parse_hex32};
use crate::commit::{Commitment, Committer, RoundInputs};
use crate::{fixed, pack, poseidon};
use serde::{Deserialize, Serialize};

/// The committed file (protocol v3: commitments with the wide sponge).
pub const VECTORS_JSON: &str = include_str!("../../test-vectors/v3.json");

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
