//! `merit ceremony` end to end through the real binary, on the tiny spec
//! (`fixtures/tiny-spec.json`: 3 slots × 6 parameters, 9,299 constraints, a domain of 2^14,
//! the smallest any round circuit has):
//! phase 1 new → 2 contributions → phase 2 new → 2 contributions → verify → keys, and a
//! round proven with the derived proving key verifies under the derived verifying key.
//! Then what must be refused: one bit flipped in a contribution (named by check and
//! index), a transcript for another spec, another phase 1, a file of the wrong kind (the
//! library's unit tests, on a small synthetic circuit, cover the other refusals).
//! Last, on an embedded devnet with its IPFS daemon: a contribution published by CID,
//! verified by CID, and `merit project create --ceremony CID` posting the project with the
//! transcript's keys (`setup_contributions`, `setup_verified`); the project's own parties
//! re-randomising its keys on chain (`ceremony contribute`, a trainer node on joining);
//! and a chunked proof shape whose two keys come from a ceremony (`--shape-ceremony`).

use merit_protocol::rule::RuleParams;
use merit_protocol::spec::ProjectSpec;
use merit_prover::sample::{self, Slot};
use merit_prover::{keys, round};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn merit(dir: &Path, args: &[&str]) -> Output {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_merit"))
        .current_dir(dir)
        .arg("--data-dir")
        .arg(dir.join("net"))
        .args(args)
        .env_remove("MERIT_CONFIG")
        .env_remove("MERIT_HOME")
        .env_remove("MERIT_IPFS_API")
        .env("NO_COLOR", "1")
        .output()
        .expect("merit runs");
    eprintln!(
        "[{:6.1} s] merit {}",
        started.elapsed().as_secs_f64(),
        args.join(" ")
    );
    out
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs and requires success; returns stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    let out = merit(dir, args);
    assert!(
        out.status.success(),
        "merit {args:?} failed:\n{}",
        text(&out)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut args = args.to_vec();
    args.push("--json");
    serde_json::from_str(&ok(dir, &args)).unwrap()
}

/// Runs and requires exit status `status` with every one of `says` on stderr.
fn refused(dir: &Path, args: &[&str], status: i32, says: &[&str]) {
    let out = merit(dir, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(status),
        "merit {args:?}:\n{}",
        text(&out)
    );
    for s in says {
        assert!(stderr.contains(s), "merit {args:?}: no {s:?} in\n{stderr}");
    }
}

/// Brings the devnet down however the test ends.
struct Devnet(PathBuf);

impl Drop for Devnet {
    fn drop(&mut self) {
        let _ = merit(&self.0, &["devnet", "down"]);
    }
}

#[test]
fn a_ceremony_gives_keys_that_prove_and_refuses_what_does_not_verify() {
    let tmp = tempfile::Builder::new()
        .prefix("merit-ceremony-")
        .tempdir()
        .unwrap();
    let dir = tmp.path();
    let spec_path = fixture("tiny-spec.json");
    let other_path = fixture("tiny-other-spec.json");
    let (spec, other) = (spec_path.to_str().unwrap(), other_path.to_str().unwrap());

    // Phase 1: a fresh start, two contributions, each verifying what it received.
    let p1 = json(
        dir,
        &[
            "ceremony", "phase1", "new", "--power", "14", "--out", "p1-0.bin",
        ],
    );
    assert_eq!(p1["contributions"], 0);
    ok(
        dir,
        &[
            "ceremony",
            "phase1",
            "contribute",
            "--in",
            "p1-0.bin",
            "--out",
            "p1-1.bin",
        ],
    );
    let c = json(
        dir,
        &[
            "ceremony",
            "phase1",
            "contribute",
            "--in",
            "p1-1.bin",
            "--out",
            "p1-2.bin",
        ],
    );
    assert_eq!(c["received"]["contributions"], 1);
    assert_eq!(c["contributions"], 2);
    let v = ok(dir, &["ceremony", "phase1", "verify", "p1-2.bin"]);
    assert!(
        v.contains("2 contribution(s)") && v.contains(c["hash"].as_str().unwrap()),
        "{v}"
    );
    assert!(v.trim_end().ends_with("OK"), "{v}");
    // Nothing to derive from a phase 1 nobody contributed to.
    refused(
        dir,
        &[
            "ceremony", "phase2", "new", "--spec", spec, "--phase1", "p1-0.bin", "--out", "x.bin",
        ],
        1,
        &["p1-0.bin does not verify", "phase 1 has no contribution"],
    );

    // Phase 2 for the tiny spec's round circuit: derive, two contributions, verify.
    ok(
        dir,
        &[
            "ceremony", "phase2", "new", "--spec", spec, "--phase1", "p1-2.bin", "--out", "t-0.bin",
        ],
    );
    ok(
        dir,
        &[
            "ceremony",
            "phase2",
            "contribute",
            "--spec",
            spec,
            "--in",
            "t-0.bin",
            "--out",
            "t-1.bin",
        ],
    );
    ok(
        dir,
        &[
            "ceremony",
            "phase2",
            "contribute",
            "--spec",
            spec,
            "--in",
            "t-1.bin",
            "--out",
            "t-2.bin",
        ],
    );
    let v = ok(
        dir,
        &[
            "ceremony", "phase2", "verify", "--spec", spec, "--phase1", "p1-2.bin", "t-2.bin",
        ],
    );
    assert!(
        v.contains("phase 2: 2 contribution(s), hash chain head") && v.contains("OK ("),
        "{v}"
    );
    let s = json(
        dir,
        &["ceremony", "phase2", "verify", "--spec", spec, "t-2.bin"],
    );
    assert_eq!(s["verified"], true);
    assert_eq!(s["setup_contributions"], 4);
    assert_eq!(s["phase2_contributions"], 2);
    assert_eq!(s["domain"], 1 << 14);

    // The keys, and a round proven with them.
    let k = json(
        dir,
        &[
            "ceremony",
            "keys",
            "--spec",
            spec,
            "--transcript",
            "t-2.bin",
            "--out-dir",
            "keys",
        ],
    );
    assert_eq!(k["setup_contributions"], 4);
    let pk = keys::read_proving_key(&std::fs::read(dir.join("keys/round.pk")).unwrap()).unwrap();
    let vk = keys::read_verifying_key(&std::fs::read(dir.join("keys/round.vk")).unwrap()).unwrap();
    let params = RuleParams::from_spec(
        &ProjectSpec::from_json(&std::fs::read_to_string(&spec_path).unwrap()).unwrap(),
    );
    let witness = sample::round(params, 3, &[Slot::Honest, Slot::Honest, Slot::Honest]).unwrap();
    let started = Instant::now();
    let (proof, claims, _) = round::prove_round(&pk, witness.clone()).unwrap();
    eprintln!(
        "[{:6.1} s] a round proven with the derived key",
        started.elapsed().as_secs_f64()
    );
    let inputs = claims.inputs(witness.project, witness.round, &witness.trainers);
    assert!(round::verify_round(&vk, &proof, &inputs).unwrap());
    let mut scores = claims.scores.clone();
    scores[0] += 1;
    let forged = merit_protocol::commit::RoundInputs {
        scores: &scores,
        ..inputs
    };
    assert!(!round::verify_round(&vk, &proof, &forged).unwrap());

    // One bit flipped in the second phase-2 contribution's proof: its response sits at
    // 160 bytes into the contribution (parent 32, δ in G1 32 and G2 64, proof commitment
    // 32), after the phase-1 file's bytes, the circuit digest (32) and the length (8).
    let good = std::fs::read(dir.join("t-2.bin")).unwrap();
    let start = std::fs::metadata(dir.join("p1-2.bin")).unwrap().len() as usize + 32 + 8 + 192;
    let mut bad = good.clone();
    bad[start + 160] ^= 1;
    std::fs::write(dir.join("bad.bin"), &bad).unwrap();
    let named = [
        "bad.bin does not verify",
        "phase 2 contribution 1: the proof of knowledge of delta does not verify",
    ];
    refused(
        dir,
        &["ceremony", "phase2", "verify", "--spec", spec, "bad.bin"],
        1,
        &named,
    );
    refused(
        dir,
        &[
            "ceremony",
            "keys",
            "--spec",
            spec,
            "--transcript",
            "bad.bin",
            "--out-dir",
            "bad-keys",
        ],
        1,
        &named,
    );
    assert!(
        !dir.join("bad-keys").exists(),
        "no key from a bad transcript"
    );
    // Another spec's round circuit; another phase 1; a phase-1 file; no file.
    refused(
        dir,
        &["ceremony", "phase2", "verify", "--spec", other, "t-2.bin"],
        1,
        &[
            "t-2.bin is phase 2 of another circuit, not of the round circuit of",
            "tiny-other-spec.json",
        ],
    );
    refused(
        dir,
        &[
            "ceremony", "phase2", "verify", "--spec", spec, "--phase1", "p1-1.bin", "t-2.bin",
        ],
        1,
        &["t-2.bin is built on phase 1"],
    );
    refused(
        dir,
        &["ceremony", "phase2", "verify", "--spec", spec, "p1-2.bin"],
        2,
        &[
            "p1-2.bin is not a ceremony transcript",
            "it is a phase-1 transcript",
        ],
    );
    refused(
        dir,
        &["ceremony", "phase1", "verify", "missing.bin"],
        2,
        &["reading missing.bin"],
    );

    // On IPFS, and into a project: an embedded devnet with its IPFS daemon.
    let bundle = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../contracts/bundle/marketplace.contract")
        .canonicalize()
        .expect("the committed contract bundle");
    let up = merit(
        dir,
        &[
            "devnet",
            "up",
            "--embedded",
            "--block-time",
            "0",
            "--bundle",
            bundle.to_str().unwrap(),
        ],
    );
    let _down = Devnet(dir.to_path_buf());
    assert!(up.status.success(), "devnet up failed:\n{}", text(&up));
    let c = json(
        dir,
        &[
            "ceremony",
            "phase2",
            "contribute",
            "--spec",
            spec,
            "--in",
            "t-2.bin",
            "--out",
            "t-3.bin",
            "--ipfs",
        ],
    );
    let cid = c["cid"].as_str().expect("a CID").to_string();
    let s = json(dir, &["ceremony", "phase2", "verify", "--spec", spec, &cid]);
    assert_eq!(s["setup_contributions"], 5);
    let k = json(
        dir,
        &[
            "ceremony",
            "keys",
            "--spec",
            spec,
            "--transcript",
            &cid,
            "--out-dir",
            "keys3",
            "--ipfs",
        ],
    );
    // A tampered transcript posts nothing.
    refused(
        dir,
        &[
            "project",
            "create",
            "--spec",
            spec,
            "--pool",
            "1000000",
            "--ceremony",
            "bad.bin",
        ],
        1,
        &named,
    );
    let posted = json(
        dir,
        &[
            "project",
            "create",
            "--spec",
            spec,
            "--pool",
            "1000000",
            "--ceremony",
            &cid,
        ],
    );
    assert_eq!(posted["project"], 0, "{posted}");
    assert_eq!(posted["setup_contributions"], 5);
    assert_eq!(posted["setup_verified"], true);
    assert_eq!(posted["setup_transcript_cid"], cid.as_str());
    assert!(
        posted["setup_verify_seconds"].as_f64().is_some(),
        "{posted}"
    );
    assert!(posted["setup_seconds"].is_null(), "no setup ran: {posted}");
    // The proving key posted is the transcript's (same bytes, same CID).
    assert_eq!(posted["proving_key_cid"], k["proving_key_cid"]);
    // The chain records the transcript, and anyone re-checks the project's keys from chain
    // + IPFS alone, as a trainer node does before it stakes.
    let checked = json(dir, &["ceremony", "verify", "--project", "0"]);
    assert_eq!(checked["phase1_contributions"], 2, "{checked}");
    assert_eq!(checked["phase2_contributions"], 3, "{checked}");
    assert_eq!(checked["hash"], s["hash"], "{checked}");
    let status = json(dir, &["project", "status", "0"]);
    assert!(
        status
            .to_string()
            .contains(posted["proving_key_cid"].as_str().unwrap()),
        "{status}"
    );

    // The project's own people re-randomise its keys before it starts. A stranger may not.
    refused(
        dir,
        &["ceremony", "contribute", "--project", "0", "--key", "bob"],
        4,
        &["only the project's owner, its aggregator or a joined trainer"],
    );
    let mine = json(
        dir,
        &["ceremony", "contribute", "--project", "0", "--key", "alice"],
    );
    assert_eq!(mine["phase2_contributions"], 4, "{mine}");
    eprintln!(
        "contribute_setup: ref_time {}, proof_size {}; verify {:.1} s, contribute {:.1} s",
        mine["ref_time"], mine["proof_size"], mine["verify_seconds"], mine["contribute_seconds"]
    );
    assert_ne!(mine["proving_key_cid"], posted["proving_key_cid"]);
    // A trainer node contributes on joining, after checking the keys (min_trainers is 2,
    // so the project stays Open; the node is stopped once it has contributed).
    let rows: String = (0..16)
        .map(|i| format!("{}.0,{}.5,{}\n", i % 3, i % 5, i % 2))
        .collect();
    std::fs::write(dir.join("rows.csv"), rows).unwrap();
    let node = Trainer::start(dir, "dave");
    let said = node.wait_for("contributed to project 0's keys", 240);
    assert!(said.contains("5 phase-2 contributions now"), "{said}");
    drop(node);
    let checked = json(dir, &["ceremony", "verify", "--project", "0"]);
    assert_eq!(checked["phase2_contributions"], 5, "{checked}");
    // The keys as they are now prove a round that verifies under the key the contract
    // stores (`ceremony verify` compared the two), and the old proving key no longer does.
    let now = json(dir, &["project", "status", "0"]);
    let new_pk_cid = now["proving_key_cid"].as_str().expect("a CID").to_string();
    assert_ne!(new_pk_cid, mine["proving_key_cid"].as_str().unwrap());
    let transcript5 = checked["transcript_cid"]
        .as_str()
        .expect("the recorded CID");
    let k5 = json(
        dir,
        &[
            "ceremony",
            "keys",
            "--spec",
            spec,
            "--transcript",
            transcript5,
            "--out-dir",
            "keys5",
            "--ipfs",
        ],
    );
    assert_eq!(k5["proving_key_cid"].as_str(), Some(new_pk_cid.as_str()));
    let vk5 =
        keys::read_verifying_key(&std::fs::read(dir.join("keys5/round.vk")).unwrap()).unwrap();
    let pk5 = keys::read_proving_key(&std::fs::read(dir.join("keys5/round.pk")).unwrap()).unwrap();
    let (proof5, claims5, _) = round::prove_round(&pk5, witness.clone()).unwrap();
    let inputs5 = claims5.inputs(witness.project, witness.round, &witness.trainers);
    assert!(round::verify_round(&vk5, &proof5, &inputs5).unwrap());
    let pk3 = keys::read_proving_key(&std::fs::read(dir.join("keys3/round.pk")).unwrap()).unwrap();
    let (old_proof, _, _) = round::prove_round(&pk3, witness.clone()).unwrap();
    assert!(!round::verify_round(&vk5, &old_proof, &inputs5).unwrap());

    // A chunked proof shape (3 slots, chunks of 4) whose two keys come from ceremonies,
    // each opened in one step (a phase 1 of its own with one contribution, and the start
    // made with its secrets: `ceremony open`, checked like any other by the steps after
    // it). `phase2 new` takes the same circuit flags and is run above for a spec; its
    // group FFT (tens of seconds here) is what `open` avoids.
    for (flag, value, stem) in [
        ("--chunk-shape", "3,4", "c"),
        ("--decision-shape", "3", "d"),
    ] {
        let start = format!("{stem}-0.bin");
        let opened = json(
            dir,
            &[
                "ceremony", "open", flag, value, "--power", "14", "--out", &start,
            ],
        );
        assert_eq!(opened["phase1_contributions"], 1, "{opened}");
        assert_eq!(opened["phase2_contributions"], 0, "{opened}");
        ok(
            dir,
            &[
                "ceremony",
                "phase2",
                "contribute",
                flag,
                value,
                "--in",
                &start,
                "--out",
                &format!("{stem}-1.bin"),
            ],
        );
    }
    refused(
        dir,
        &[
            "ceremony",
            "open",
            "--spec",
            spec,
            "--power",
            "13",
            "--out",
            "small.bin",
        ],
        1,
        &["needs a domain of 16384 points"],
    );
    refused(
        dir,
        &[
            "ceremony",
            "phase2",
            "verify",
            "--decision-shape",
            "3",
            "c-1.bin",
        ],
        1,
        &["c-1.bin is phase 2 of another circuit, not of the decision circuit of 3 slots"],
    );
    // The two transcripts the wrong way round post nothing.
    let create_chunked = |pair: &str| {
        vec![
            "project".to_string(),
            "create".into(),
            "--spec".into(),
            spec.into(),
            "--pool".into(),
            "1000000".into(),
            "--chunk".into(),
            "4".into(),
            "--shape-ceremony".into(),
            pair.into(),
        ]
    };
    let swapped = create_chunked("d-1.bin,c-1.bin");
    refused(
        dir,
        &swapped.iter().map(String::as_str).collect::<Vec<_>>(),
        1,
        &["d-1.bin is phase 2 of another circuit, not of the chunk circuit"],
    );
    let args = create_chunked("c-1.bin,d-1.bin");
    let chunked = json(dir, &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(chunked["project"], 1, "{chunked}");
    assert_eq!(chunked["setup_verified"], true, "{chunked}");
    // The fewer of the two transcripts': the opened one's 1 + 1.
    assert_eq!(chunked["setup_contributions"], 2, "{chunked}");
    let shape_checked = json(dir, &["ceremony", "verify", "--project", "1"]);
    assert_eq!(shape_checked["shape"], chunked["shape"], "{shape_checked}");
    assert_eq!(shape_checked["phase2_contributions"], 1, "{shape_checked}");
    assert_eq!(
        shape_checked["chunk"]["constraints"]
            .as_u64()
            .map(|c| c > 0),
        Some(true)
    );
    // A shape's keys serve every project of the shape: nobody re-randomises them per project.
    refused(
        dir,
        &["ceremony", "contribute", "--project", "1", "--key", "alice"],
        1,
        &["project 1 is chunked: its keys are proof shape"],
    );
}

/// A `merit trainer run` in the background, stopped when dropped.
struct Trainer {
    child: std::process::Child,
    log: PathBuf,
}

impl Trainer {
    fn start(dir: &Path, key: &str) -> Self {
        let log = dir.join(format!("trainer-{key}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_merit"))
            .current_dir(dir)
            .arg("--data-dir")
            .arg(dir.join("net"))
            .args(["trainer", "run", "--project", "0", "--data", "rows.csv"])
            .args(["--key", key, "--state-dir"])
            .arg(dir.join(format!("state-{key}")))
            .env_remove("MERIT_CONFIG")
            .env_remove("MERIT_HOME")
            .env_remove("MERIT_IPFS_API")
            .env("NO_COLOR", "1")
            .stdout(std::fs::File::create(dir.join("trainer.out")).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("merit trainer run starts");
        Self { child, log }
    }

    /// Waits until the node's stderr says `needle`; returns the line.
    fn wait_for(&self, needle: &str, seconds: u64) -> String {
        let started = Instant::now();
        while started.elapsed().as_secs() < seconds {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            if let Some(line) = log.lines().find(|l| l.contains(needle)) {
                return line.to_string();
            }
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        panic!(
            "the trainer never said {needle:?} in {seconds} s:\n{}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }
}

impl Drop for Trainer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
