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

#[test]
fn committed_rule_v5_vectors_match_this_build() {
    let have: RuleV5Vectors = serde_json::from_str(RULE_V5_JSON).expect("rule-v5.json parses");
    assert_eq!(
        have,
        rule_v5_vectors(),
        "protocol v5's rule changed: a rule change is a protocol version (SPEC.md §6a)"
    );
    // Each case shows what it is named for.
    let [honest, stale, sybil, turn, edge] = &have.cases[..] else {
        panic!("five cases")
    };
    assert!(honest.rounds[1].stale.iter().all(|s| !s));
    assert!(
        honest.rounds[1].scores.iter().all(|&s| s > 0),
        "{:?}",
        honest.rounds[1]
    );
    assert!(
        stale.rounds[1].stale[5] && stale.rounds[1].stale[4],
        "{:?}",
        stale.rounds[1]
    );
    assert!(!stale.rounds[1].stale[2] && stale.rounds[1].scores[2] > 0);
    assert!(sybil.rounds[0].kappa[4][5] == 1000 && sybil.rounds[0].multiplicity[4] >= 3000);
    assert_eq!(sybil.rounds[1].updates[3], None);
    assert_eq!(turn.rounds[1].consistency[0], 0);
    assert_eq!(turn.rounds[1].scores[0], 0);
    let half = turn.rounds[1].consistency[1];
    assert!(
        half > 0 && half < 1000 && turn.rounds[1].scores[1] > 0,
        "{half}"
    );
    assert!(sybil.rounds[1].consistency.iter().all(|&r| r == 1000));
    stale_thresholds_are_exactly_met_and_just_missed(edge);
}

/// §6a step 1's two cosines recomputed from `case`'s updates: slot 4 exactly on τ_s against
/// slot 5's round-0 reveal, slot 5 one below against slot 4's, slot 6 exactly on τ_p
/// against its `d_6`, slot 7 one below; each marked stale by its own test only.
fn stale_thresholds_are_exactly_met_and_just_missed(case: &RuleV5Case) {
    use crate::rule::signed_cosine;
    assert_eq!(case.name, "stale thresholds, exactly met and just missed");
    let [r0, r1] = &case.rounds[..] else {
        panic!("two rounds")
    };
    let n = case.slots;
    let dot = |a: &[i16], b: &[i16]| -> i64 {
        a.iter()
            .zip(b)
            .map(|(&x, &y)| i64::from(x) * i64::from(y))
            .sum()
    };
    let u = |i: usize| r1.updates[i].as_deref().unwrap_or_default();
    let p = |k: usize| r0.updates[k].as_deref().unwrap_or_default();
    let x = |i: usize, k: usize| dot(u(i), p(k));
    let pp = |k: usize, l: usize| dot(p(k), p(l));
    let norm = |i: usize| dot(u(i), u(i)) as u64;
    let reference = |k: usize| r0.updates[k].is_some() && !r0.stale[k];
    let acc: Vec<usize> = (0..n).filter(|&k| r0.accepted[k]).collect();
    // cos(X_ik, n_i, P_kk) against reference k.
    let copy = |i: usize, k: usize| signed_cosine(x(i, k), norm(i), pp(k, k) as u64);
    let copy_max = |i: usize| {
        (0..n)
            .filter(|&k| k != i && reference(k))
            .map(|k| copy(i, k))
            .max()
            .unwrap()
    };
    // (cos(ud_i, n_i, dd_i), dd_i).
    let public = |i: usize| {
        let mut ud: i64 = acc.iter().map(|&k| x(i, k)).sum();
        let mut dd: i64 = acc
            .iter()
            .flat_map(|&k| acc.iter().map(move |&l| (k, l)))
            .map(|(k, l)| pp(k, l))
            .sum();
        if r0.accepted[i] {
            ud -= x(i, i);
            dd -= 2 * acc.iter().map(|&k| pp(i, k)).sum::<i64>() - pp(i, i);
        }
        let c = if dd > 0 {
            signed_cosine(ud, norm(i), dd as u64)
        } else {
            i32::MIN
        };
        (c, dd)
    };
    let (tau_s, tau_p) = (case.stale_milli as i32, case.public_milli as i32);
    assert_eq!((tau_s, tau_p), (950, 980));
    assert!(reference(4) && reference(5));
    assert_eq!(copy(4, 5), tau_s);
    assert_eq!(copy(5, 4), tau_s - 1);
    assert!(r0.updates[6].is_none() && r0.updates[7].is_none());
    let (c6, dd6) = public(6);
    let (c7, dd7) = public(7);
    assert!(dd6 > 0 && dd7 > 0);
    assert_eq!((c6, c7), (tau_p, tau_p - 1));
    // Each slot on a threshold is there by one test only, and the rest are far from both.
    assert_eq!((copy_max(4), copy_max(5)), (tau_s, tau_s - 1));
    assert!(public(4).0 < tau_p && public(5).0 < tau_p);
    assert!(copy_max(6) < tau_s && copy_max(7) < tau_s);
    for i in 0..4 {
        assert!(
            copy_max(i) < tau_s - 1 && public(i).0 < tau_p - 1,
            "slot {i}"
        );
    }
    assert_eq!(
        r1.stale,
        [false, false, false, false, true, false, true, false]
    );
    for i in 0..n {
        let (c, dd) = public(i);
        assert_eq!(
            r1.stale[i],
            copy_max(i) >= tau_s || (dd > 0 && c >= tau_p),
            "slot {i}"
        );
    }
    // The rule still runs on what is left: slots 0–3, 5 and 7.
    assert!(r1.krum_ran, "{r1:?}");
    assert_eq!(
        r1.candidates,
        [true, true, true, true, false, true, false, true]
    );
}

/// Rewrites rule-v5.json: `cargo test -p merit-protocol -- --ignored write_rule_v5_vectors`.
#[test]
#[ignore]
fn write_rule_v5_vectors() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/test-vectors/rule-v5.json");
    let json = serde_json::to_string(&rule_v5_vectors()).unwrap();
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
    let have: ParamVectors = serde_json::from_str(PARAMS_V2_JSON).expect("params-v2.json parses");
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
    let have: RoundV3Vectors = serde_json::from_str(ROUND_V3_JSON).expect("round-v3.json parses");
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
    use crate::poseidon;
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
        fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
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

#[test]
fn committed_draw_vectors_match_this_build() {
    let have: DrawVectors = serde_json::from_str(DRAW_V1_JSON).expect("draw-v1.json parses");
    assert_eq!(
        have,
        draw_vectors(),
        "the draw or the round seed changed: that is a new draw version (SPEC.md §13)"
    );
    // The 8-slot draw is the 64-slot one's first 8 slots.
    let by_name = |n: &str| have.draws.iter().find(|d| d.name.starts_with(n)).unwrap();
    assert_eq!(by_name("8 of 1000").drawn, by_name("64 of 1000").drawn[..8]);
    assert_eq!(by_name("J < N").drawn, [0, 1, 2]);
    assert!(by_name("N = 0").drawn.is_empty() && by_name("J = 0").drawn.is_empty());
    // Every listed candidate's trainer is the low 64 bits of its hash, reduced.
    for d in &have.draws {
        for c in &d.candidates {
            let h = parse_hex32(&c.hash).unwrap();
            let low = u64::from_le_bytes(h[..8].try_into().unwrap());
            assert_eq!(c.value, low.to_string());
        }
    }
}

/// Rewrites draw-v1.json: `cargo test -p merit-protocol -- --ignored write_draw_vectors`.
#[test]
#[ignore]
fn write_draw_vectors() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/test-vectors/draw-v1.json");
    let json = serde_json::to_string_pretty(&draw_vectors()).unwrap();
    std::fs::write(path, json + "\n").unwrap();
}

#[test]
fn committed_round_v5_vectors_match_this_build() {
    let have: RoundV5Vectors = serde_json::from_str(ROUND_V5_JSON).expect("round-v5.json parses");
    assert_eq!(
        have,
        round_v5_vectors(),
        "the v5 round statement changed: a statement change is a protocol version (SPEC.md §6a)"
    );
    let rules: RuleV5Vectors = serde_json::from_str(RULE_V5_JSON).expect("rule-v5.json parses");
    assert_eq!(have.cases.len(), rules.cases.len());
    for (c, r) in have.cases.iter().zip(&rules.cases) {
        assert_eq!(c.name, r.name);
        assert_eq!(c.rounds.len(), r.rounds.len());
        // Rounds chain: each starts from the model the last one committed to.
        for w in c.rounds.windows(2) {
            assert_eq!(w[1].prev_model_commitment, w[0].new_model_commitment);
        }
    }
    // The stale case publishes its stale slots as non-references.
    assert_eq!(have.cases[1].rounds[1].reference[4..], [false, false]);
}

/// Rewrites round-v5.json: `cargo test -p merit-protocol -- --ignored write_round_v5_vectors`.
#[test]
#[ignore]
fn write_round_v5_vectors() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/test-vectors/round-v5.json");
    let json = serde_json::to_string_pretty(&round_v5_vectors()).unwrap();
    std::fs::write(path, json + "\n").unwrap();
}
