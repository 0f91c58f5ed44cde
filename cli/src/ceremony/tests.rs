//! The flow on a synthetic circuit of 2^8 points (the round circuit's fixed part alone,
//! its Poseidon hashes, needs 2^14: `cli/tests/ceremony.rs` runs that through the binary).

use super::*;
use ark_serialize::CanonicalSerialize;
use merit_ceremony::synthetic::Squarings;
use merit_ceremony::{Phase1Transcript, Transcript};
use merit_protocol::spec::ProjectSpec;
use merit_prover::ark_bn254::{Bn254, Fr};
use rand::rngs::OsRng;

const TINY: &str = include_str!("../../tests/fixtures/tiny-spec.json");
const OTHER: &str = include_str!("../../tests/fixtures/tiny-other-spec.json");
/// 253 constraints + 3 instance rows: a domain of 2^8.
const SQUARINGS: usize = 253;
const POWER: u32 = 8;

fn squarings(n: usize) -> Circuit {
    Circuit::of(&format!("{n} squarings"), Squarings::shape(n)).unwrap()
}

/// A phase 1 of 2^power with `n` contributions.
fn phase1(power: u32, n: usize) -> Phase1Transcript {
    let mut t = phase1_new(power).unwrap();
    for _ in 0..n {
        phase1_contribute(&mut t).unwrap();
    }
    t
}

/// A transcript for 253 squarings with `p1` and `p2` contributions.
fn transcript(p1: usize, p2: usize) -> Transcript {
    let (mut t, _) = phase2_new(&squarings(SQUARINGS), phase1(POWER, p1), "p1").unwrap();
    for _ in 0..p2 {
        phase2_contribute(&mut t);
    }
    t
}

fn chain(e: CeremonyCliError) -> String {
    format!("{:#}", anyhow::Error::from(e))
}

#[test]
fn the_tiny_shapes_circuits_fit_2_to_the_14() {
    let chunk = Circuit::chunk(3, 6).unwrap();
    let decision = Circuit::decision(3).unwrap();
    eprintln!(
        "chunk {} constraints, decision {} constraints",
        chunk.shape.num_constraints, decision.shape.num_constraints
    );
    assert!(chunk.shape.domain_size().unwrap() <= 1 << 14);
    assert!(decision.shape.domain_size().unwrap() <= 1 << 14);
    assert_ne!(
        chunk.shape.digest(),
        Circuit::chunk(3, 7).unwrap().shape.digest()
    );
}

#[test]
fn the_tiny_specs_round_circuits_differ_and_fit_2_to_the_14() {
    let tiny = Circuit::round(&ProjectSpec::from_json(TINY).unwrap(), "tiny.json").unwrap();
    let other = Circuit::round(&ProjectSpec::from_json(OTHER).unwrap(), "o.json").unwrap();
    assert_eq!(tiny.shape.domain_size().unwrap(), 1 << 14);
    assert_eq!(other.shape.domain_size().unwrap(), 1 << 14);
    assert_ne!(tiny.shape.digest(), other.shape.digest());
    assert_eq!(tiny.name, "the round circuit of tiny.json");
    // A spec that does not validate has no round circuit.
    let mut bad = ProjectSpec::from_json(TINY).unwrap();
    bad.version = 9;
    let e = Circuit::round(&bad, "bad.json").err().unwrap();
    assert!(
        e.to_string().starts_with("the round circuit of bad.json: "),
        "{e}"
    );
}

#[test]
fn a_whole_ceremony_gives_keys_that_prove_and_verify() {
    let circuit = squarings(SQUARINGS);
    // A fresh phase 1 is accepted to contribute to, never to derive from.
    let fresh = phase1(POWER, 0);
    check_phase1(&fresh, "fresh", true).unwrap();
    let e = check_phase1(&fresh, "fresh", false).unwrap_err();
    assert!(
        matches!(
            e,
            CeremonyCliError::Refused {
                source: CeremonyError::NoContributions { phase: 1 },
                ..
            }
        ),
        "{e}"
    );
    assert!(phase2_new(&circuit, fresh, "fresh").is_err());

    let p1 = phase1(POWER, 2);
    let p1 = read_phase1(&p1.to_bytes(), "p1").unwrap();
    assert_eq!(check_phase1(&p1, "p1", false).unwrap().contributions, 2);
    let (mut t, _) = phase2_new(&circuit, p1.clone(), "p1").unwrap();
    let fresh2 = Expect {
        phase1_hash: None,
        allow_fresh_phase2: true,
        phase1_verified: false,
    };
    check_transcript(&t, &circuit, "t", fresh2).unwrap();
    // Keys are never taken from a phase 2 nobody contributed to.
    let e = verified_keys(&t, &circuit, "t", None).unwrap_err();
    assert!(
        matches!(
            e,
            CeremonyCliError::Refused {
                source: CeremonyError::NoContributions { phase: 2 },
                ..
            }
        ),
        "{e}"
    );
    phase2_contribute(&mut t);
    // Contributing to a transcript with contributions checks them all.
    check_transcript(&t, &circuit, "t", fresh2).unwrap();
    phase2_contribute(&mut t);
    let files = key_files(&t.to_bytes(), &circuit, "t").unwrap();
    let s = &files.summary;
    assert_eq!(
        (
            s.phase1_contributions,
            s.phase2_contributions,
            s.setup_contributions
        ),
        (2, 2, 4)
    );
    assert_eq!((s.power, s.domain, s.constraints), (POWER, 256, SQUARINGS));
    assert_eq!(s.hash, hex_digest(&t.hash()));
    let vk = merit_prover::keys::read_verifying_key(&files.verifying_key_file).unwrap();
    let pk = merit_prover::keys::read_proving_key(&files.proving_key_file).unwrap();
    assert_eq!(pk.vk, vk);
    assert_eq!(files.verifying_key, merit_prover::keys::compressed(&vk));
    assert_eq!(vk.delta_g2, t.phase2.contributions[1].delta_g2);

    // The derived keys prove and verify; a false output does not verify.
    let x = Fr::from(3u64);
    let honest = Squarings::honest(SQUARINGS, x);
    let inputs = honest.public_inputs().unwrap();
    let proof =
        ark_groth16::Groth16::<Bn254>::create_random_proof_with_reduction(honest, &pk, &mut OsRng)
            .unwrap();
    assert!(merit_prover::verify(&vk, &proof, &inputs).unwrap());
    let wrong = [inputs[0], inputs[1] + Fr::from(1u64)];
    assert!(!merit_prover::verify(&vk, &proof, &wrong).unwrap());

    // Pinned to its own phase 1: accepted; to another: refused by name.
    verified_keys(&t, &circuit, "t", Some(&p1.hash())).unwrap();
    let other = phase1(POWER, 1).hash();
    let e = verified_keys(&t, &circuit, "t", Some(&other)).unwrap_err();
    assert!(matches!(e, CeremonyCliError::OtherPhase1 { .. }), "{e}");
    // Another circuit: refused by name, before any pairing.
    let e = key_files(&t.to_bytes(), &squarings(100), "t.bin").unwrap_err();
    assert!(matches!(e, CeremonyCliError::WrongCircuit { .. }), "{e}");
    assert!(
        e.to_string()
            .starts_with("t.bin is phase 2 of another circuit, not of 100 squarings"),
        "{e}"
    );
    // A circuit larger than phase 1: deriving says so.
    let e = phase2_new(&squarings(300), p1, "p1.bin").err().unwrap();
    assert!(
        chain(e).contains("needs a domain of 512 points but phase 1 has 256"),
        "domain too small"
    );
}

#[test]
fn a_tampered_or_misplaced_file_is_refused_by_name() {
    let t = transcript(1, 2);
    let good = t.to_bytes();
    // Contribution i of phase 2 starts after phase 1, the circuit digest (32 bytes) and
    // the vector's length (8): parent 32, δ in G1 32 and G2 64, proof 32 + 32.
    let start = t.phase1.compressed_size() + 32 + 8 + 192;

    // The second contribution's proof response, one bit changed: its proof of
    // knowledge fails, and the error names contribution 1 and that check.
    let mut bad = good.clone();
    bad[start + 160] ^= 1;
    let text = chain(key_files(&bad, &squarings(SQUARINGS), "bad.bin").unwrap_err());
    assert!(
        text.starts_with("bad.bin does not verify: phase 2 contribution 1: the proof of knowledge of delta does not verify"),
        "{text}"
    );
    // Its parent hash changed: the link is refused.
    let mut bad = good.clone();
    bad[start] ^= 1;
    let text = chain(key_files(&bad, &squarings(SQUARINGS), "bad.bin").unwrap_err());
    assert!(
        text.contains(
            "phase 2 contribution 1: the contribution names a different previous transcript hash"
        ),
        "{text}"
    );
    // A phase-1 contribution's parent (after the power, 4 bytes, and the length, 8).
    let mut bad = good.clone();
    bad[4 + 8] ^= 1;
    let text = chain(key_files(&bad, &squarings(SQUARINGS), "bad.bin").unwrap_err());
    assert!(text.contains("phase 1 contribution 0: "), "{text}");

    // Files of the wrong kind, truncated, or with bytes left over.
    let e = read_transcript(&t.phase1.to_bytes(), "p1.bin").unwrap_err();
    assert!(e.is_bad_input());
    assert!(e.to_string().contains("it is a phase-1 transcript"), "{e}");
    let e = read_phase1(&good, "t.bin").unwrap_err();
    assert!(e.to_string().contains("phase-1 commands take"), "{e}");
    let e = read_transcript(&good[..good.len() - 1], "cut.bin").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("cut.bin is not a ceremony transcript"),
        "{e}"
    );
    let mut long = good.clone();
    long.push(0);
    assert!(read_transcript(&long, "long.bin")
        .unwrap_err()
        .is_bad_input());
    assert!(read_transcript(b"not a transcript", "x")
        .unwrap_err()
        .is_bad_input());

    // A start with no contribution but a changed state: nobody proved its secret.
    let mut forged = phase1_new(POWER).unwrap();
    forged.state = t.phase1.state.clone();
    let e = check_phase1(&forged, "forged", true).unwrap_err();
    assert!(
        matches!(e, CeremonyCliError::NotFresh { phase: 1, .. }),
        "{e}"
    );
    let mut forged = transcript(1, 0);
    forged.phase2.key = t.phase2.key.clone();
    let fresh2 = Expect {
        phase1_hash: None,
        allow_fresh_phase2: true,
        phase1_verified: false,
    };
    let e = check_transcript(&forged, &squarings(SQUARINGS), "f", fresh2).unwrap_err();
    assert!(
        matches!(e, CeremonyCliError::NotFresh { phase: 2, .. }),
        "{e}"
    );
}

#[test]
fn sources_are_files_or_cids() {
    assert_eq!(
        Source::parse("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"),
        Source::Cid("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy".into())
    );
    assert_eq!(
        Source::parse("no/such/file.bin"),
        Source::File("no/such/file.bin".into())
    );
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        read_file(&dir.path().join("missing")),
        Err(CeremonyCliError::Read { .. })
    ));
    let path = dir.path().join("f.bin");
    write_file(&path, b"abc").unwrap();
    assert_eq!(read_file(&path).unwrap(), b"abc");
}

#[test]
fn a_node_checks_a_phase_1_once_and_every_phase_2_each_time() {
    let dir = tempfile::tempdir().unwrap();
    let memo = Phase1Memo::in_data_dir(dir.path());
    let circuit = squarings(SQUARINGS);
    let t = transcript(1, 1);
    let bytes = t.to_bytes();
    let check = |read: &ReadTranscript| {
        let expect = Expect {
            phase1_verified: read.phase1_verified,
            ..Expect::default()
        };
        verified_keys_as(&read.transcript, &circuit, "t.bin", expect)
    };

    // First read: phase 1 is new, decoded and checked with the rest, then remembered.
    let first = read_transcript_recalling(&bytes, "t.bin", &memo).unwrap();
    assert!(!first.phase1_verified);
    check(&first).unwrap();
    first.remember_phase1(&memo);
    // Next time phase 1 comes from the node's own copy; the transcript is the same.
    let again = read_transcript_recalling(&bytes, "t.bin", &memo).unwrap();
    assert!(again.phase1_verified);
    assert_eq!(again.transcript, t);
    check(&again).unwrap();

    // Phase 2 is still checked in full: a key element changed is refused.
    let mut bad = t.clone();
    bad.phase2.key.h_query.swap(0, 1);
    let read = read_transcript_recalling(&bad.to_bytes(), "bad.bin", &memo).unwrap();
    assert!(read.phase1_verified);
    let e = chain(check(&read).unwrap_err());
    assert!(e.contains("does not verify: phase 2 contribution 0"), "{e}");
    // Bytes left over after phase 2 are refused as ever.
    let mut long = bytes.clone();
    long.push(0);
    let e = read_transcript_recalling(&long, "long.bin", &memo)
        .err()
        .expect("refused");
    assert!(e.is_bad_input(), "{e}");

    // Another phase 1 is not in the memo, and a copy that does not encode back to the
    // bytes it is named after (damaged on disk) is not used.
    let other = transcript(2, 1);
    let read = read_transcript_recalling(&other.to_bytes(), "o.bin", &memo).unwrap();
    assert!(!read.phase1_verified);
    for entry in std::fs::read_dir(dir.path().join("ceremony/phase1-verified")).unwrap() {
        let path = entry.unwrap().path();
        let mut copy = std::fs::read(&path).unwrap();
        let last = copy.len() - 1;
        copy[last] ^= 1;
        std::fs::write(&path, copy).unwrap();
    }
    let read = read_transcript_recalling(&bytes, "t.bin", &memo).unwrap();
    assert!(!read.phase1_verified);
    check(&read).unwrap();

    // No memo: phase 1 is checked every time.
    let none = read_transcript_recalling(&bytes, "t.bin", &Phase1Memo::none()).unwrap();
    assert!(!none.phase1_verified);
}

#[test]
fn a_memo_keeps_only_its_newest_copies() {
    let dir = tempfile::tempdir().unwrap();
    let memo = Phase1Memo::in_data_dir(dir.path());
    for _ in 0..MEMO_KEEPS + 2 {
        let t = transcript(1, 0);
        let read = read_transcript_recalling(&t.to_bytes(), "t", &memo).unwrap();
        read.remember_phase1(&memo);
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let kept = std::fs::read_dir(dir.path().join("ceremony/phase1-verified"))
        .unwrap()
        .count();
    assert_eq!(kept, MEMO_KEEPS);
}
