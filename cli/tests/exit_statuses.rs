//! Every exit status the README documents is what the `merit` binary returns: a table of
//! bad inputs and faults, each with the status it must exit with and what its message
//! must say. Status 3 (a stale contract bundle) is left out: only contract sources newer
//! than the committed bundle give it, and those are the repository's own files.
//!
//! The cases that need a chain share one embedded devnet (`--block-time 0`, so nothing
//! moves unless a case sends a transaction) with one small project on it; a copy of its
//! `devnet.json` that points at a dead IPFS port stands for a daemon that went down.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn merit(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_merit"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        // Nothing from the caller's environment or config decides a case.
        .env_remove("MERIT_FROM")
        .env_remove("MERIT_CONFIG")
        .env_remove("MERIT_HOME")
        .env_remove("MERIT_AGGREGATOR")
        .env("NO_COLOR", "1")
        .output()
        .expect("merit runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Brings the devnet down however the test ends.
struct Devnet(PathBuf);

impl Drop for Devnet {
    fn drop(&mut self) {
        let _ = merit(&self.0, &["devnet", "down"]);
    }
}

/// One row of the table: where to run, the arguments, the exit status, what stderr (or
/// stdout, for a report) must contain, and what it must contain exactly once (a cause
/// printed twice is a defect).
struct Case {
    name: &'static str,
    dir: PathBuf,
    args: Vec<String>,
    status: i32,
    says: Vec<&'static str>,
    once: Option<&'static str>,
    on_stdout: bool,
}

fn case(name: &'static str, dir: &Path, args: &[&str], status: i32, says: &[&'static str]) -> Case {
    Case {
        name,
        dir: dir.to_path_buf(),
        args: args.iter().map(|s| s.to_string()).collect(),
        status,
        says: says.to_vec(),
        once: None,
        on_stdout: false,
    }
}

/// The small spec of the CLI tests: 5 slots × 27 parameters, a setup of seconds.
fn small_spec() -> String {
    include_str!("../../examples/digits-spec.json")
        .replace(
            r#""input": 64, "hidden": [32], "classes": 10"#,
            r#""input": 4, "hidden": [3], "classes": 3"#,
        )
        .replace(
            r#""inputs": 64, "classes": 10"#,
            r#""inputs": 4, "classes": 3"#,
        )
        .replace(r#""slots": 8"#, r#""slots": 5"#)
}

#[test]
fn every_documented_exit_status_is_what_the_cli_returns() {
    let tmp = tempfile::Builder::new()
        .prefix("merit-exit-")
        .tempdir()
        .unwrap();
    let root = tmp.path();
    let net = root.join("devnet");
    let empty = root.join("empty");
    let dead_ipfs = root.join("dead-ipfs");
    let configured = root.join("configured");
    for d in [&empty, &dead_ipfs, &configured] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(configured.join("config.toml"), "form = \"alice\"\n").unwrap();
    let spec = root.join("small-spec.json");
    std::fs::write(&spec, small_spec()).unwrap();
    let bad_spec = root.join("bad-spec.json");
    std::fs::write(&bad_spec, r#"{"version": 1}"#).unwrap();
    let csv = root.join("rows.csv");
    std::fs::write(
        &csv,
        (0..30)
            .map(|i| format!("{i},1,2,3,{}\n", i % 3))
            .collect::<String>(),
    )
    .unwrap();
    let not_a_dir = root.join("not-a-dir");
    std::fs::write(&not_a_dir, "a file where a directory should be\n").unwrap();
    let missing = root.join("nowhere").join("missing.csv");
    let shards = root.join("shards");
    let update = root.join("update.mdl");
    let update_file = merit_protocol::format::ModelFile {
        kind: merit_protocol::format::Kind::Update,
        scale_bits: 10,
        tensors: vec![merit_protocol::format::TensorShape {
            name: "w".into(),
            dims: vec![3],
        }],
        values: vec![1, 2, 3],
        floats: None,
    };
    std::fs::write(&update, update_file.encode()).unwrap();
    let update = update.to_str().unwrap().to_owned();
    let update = update.as_str();
    let (spec, bad_spec, csv, missing, shards, not_a_dir) = (
        spec.to_str().unwrap(),
        bad_spec.to_str().unwrap(),
        csv.to_str().unwrap(),
        missing.to_str().unwrap(),
        shards.to_str().unwrap(),
        not_a_dir.to_str().unwrap(),
    );

    // The devnet: the committed contract bundle (whatever state the contract's sources
    // are in), one project on it.
    let bundle = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../contracts/bundle/marketplace.contract")
        .canonicalize()
        .expect("the committed contract bundle");
    let up = merit(
        &net,
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
    let _down = Devnet(net.clone());
    assert!(up.status.success(), "devnet up failed:\n{}", text(&up));
    let created = merit(
        &net,
        &["project", "create", "--spec", spec, "--pool", "123456789"],
    );
    assert!(created.status.success(), "{}", text(&created));
    // The same devnet with its IPFS daemon gone: nothing answers at port 1.
    let mut info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(net.join("devnet.json")).unwrap()).unwrap();
    info["ipfs"]["api_url"] = "http://127.0.0.1:1".into();
    info["ipfs"]["pid"] = serde_json::Value::Null;
    std::fs::write(
        dead_ipfs.join("devnet.json"),
        serde_json::to_vec_pretty(&info).unwrap(),
    )
    .unwrap();

    let charlie = "5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y";
    let mut table = vec![
        // 1: failed.
        Case {
            on_stdout: true,
            ..case(
                "devnet status with a daemon down",
                &dead_ipfs,
                &["devnet", "status"],
                1,
                &["ipfs      DOWN"],
            )
        },
        Case {
            once: Some("(os error 17)"),
            ..case(
                "a split whose output directory is a file",
                &empty,
                &[
                    "data",
                    "split",
                    "--input",
                    csv,
                    "--inputs",
                    "4",
                    "--classes",
                    "3",
                    "--trainers",
                    "2",
                    "--out",
                    not_a_dir,
                ],
                1,
                &["not-a-dir", "(os error 17)"],
            )
        },
        // 2: bad usage or config, naming the flag or file and what is wrong.
        case(
            "a chain URL of no known kind",
            &empty,
            &["--url", "http://127.0.0.1:9944", "project", "status", "0"],
            2,
            &["--url http://127.0.0.1:9944", "expected ws://"],
        ),
        case(
            "a chain URL with no marketplace named or recorded",
            &empty,
            &["--url", "ws://127.0.0.1:9", "project", "shapes"],
            2,
            &[
                "pass --contract",
                "merit contract deploy --url ws://127.0.0.1:9",
            ],
        ),
        case(
            "a marketplace address that is not SS58",
            &empty,
            &[
                "--url",
                "ws://127.0.0.1:9",
                "--contract",
                "5Nope",
                "project",
                "status",
                "0",
            ],
            2,
            &["--contract 5Nope", "not an SS58 address"],
        ),
        case(
            "deploying with no chain named",
            &empty,
            &["contract", "deploy", "--from", "alice"],
            2,
            &["needs --url"],
        ),
        case(
            "an embedded chain with no marketplace at the address",
            &empty,
            &[
                "--url",
                &format!("embedded:{}", empty.join("other.state").display()),
                "--contract",
                "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
                "--ipfs-api",
                "http://127.0.0.1:9",
                "project",
                "status",
                "0",
            ],
            2,
            &["no Merit marketplace answers at 5GrwvaEF"],
        ),
        case(
            "a key that is neither a dev name nor a secret URI",
            &net,
            &["project", "claim", "0", "--from", "nobody at all"],
            2,
            &["--from", "secret URI", "the secret itself is not shown"],
        ),
        case(
            "a bad key is bad usage even without a devnet",
            &empty,
            &[
                "trainer",
                "run",
                "--project",
                "0",
                "--key",
                "not a key",
                "--data",
                csv,
            ],
            2,
            &["--key", "the secret itself is not shown"],
        ),
        case(
            "an aggregator that is no account",
            &net,
            &[
                "project",
                "create",
                "--spec",
                spec,
                "--pool",
                "5",
                "--aggregator",
                "5Gxx",
            ],
            2,
            &["--aggregator", "\"5Gxx\"", "SS58"],
        ),
        Case {
            once: Some("(os error 2)"),
            ..case(
                "a spec file that is not there",
                &net,
                &["project", "create", "--spec", missing, "--pool", "5"],
                2,
                &["--spec", "missing.csv", "(os error 2)"],
            )
        },
        case(
            "a spec file that is not a spec",
            &net,
            &["project", "create", "--spec", bad_spec, "--pool", "5"],
            2,
            &["--spec", "bad-spec.json", "missing field"],
        ),
        Case {
            once: Some("(os error 2)"),
            ..case(
                "a data file that is not there",
                &empty,
                &[
                    "data",
                    "split",
                    "--input",
                    missing,
                    "--trainers",
                    "2",
                    "--out",
                    shards,
                ],
                2,
                &["--input", "missing.csv", "(os error 2)"],
            )
        },
        Case {
            once: Some("(os error 2)"),
            ..case(
                "a trainer's data file that is not there",
                &net,
                &[
                    "trainer",
                    "run",
                    "--project",
                    "0",
                    "--key",
                    "bob",
                    "--data",
                    missing,
                ],
                2,
                &["--data", "missing.csv", "(os error 2)"],
            )
        },
        case(
            "a split among no trainers",
            &empty,
            &[
                "data",
                "split",
                "--input",
                csv,
                "--inputs",
                "4",
                "--classes",
                "3",
                "--trainers",
                "0",
                "--out",
                shards,
            ],
            2,
            &["trainers 0 is out of range"],
        ),
        case(
            "a config file with an unknown setting",
            &configured,
            &["project", "status", "0"],
            2,
            &["unknown setting `form`"],
        ),
        case(
            "verify with a report that is no CID",
            &net,
            &[
                "verify",
                "--project",
                "0",
                "--round",
                "0",
                "--report",
                "not-a-cid",
            ],
            2,
            &["--report", "malformed CID \"not-a-cid\""],
        ),
        case(
            "labels that name no account",
            &net,
            &[
                "project", "report", "0", "--out", shards, "--labels", bad_spec,
            ],
            2,
            &["--labels", "bad-spec.json"],
        ),
        case(
            "verify of a round not finalised",
            &net,
            &["verify", "--project", "0", "--round", "0"],
            2,
            &["round 0 of project 0 is not finalised", "hint:"],
        ),
        case(
            "verify of a project with no finalised round",
            &net,
            &["verify", "--project", "0"],
            2,
            &["no finalised round yet", "hint:"],
        ),
        case(
            "an aggregator node signing as someone else (named in SS58)",
            &net,
            &[
                "aggregator",
                "run",
                "--project",
                "0",
                "--from",
                "bob",
                "--state-dir",
                shards,
            ],
            2,
            &["not project 0's aggregator", charlie],
        ),
        // 4: the contract refused, with a hint.
        case(
            "start of a project that does not exist",
            &net,
            &["project", "start", "99"],
            4,
            &["NoSuchProject", "hint:"],
        ),
        case(
            "status of a project that does not exist",
            &net,
            &["project", "status", "99"],
            4,
            &["NoSuchProject", "hint:"],
        ),
        case(
            "a pool the contract would refuse (checked before the setup)",
            &net,
            &["project", "create", "--spec", spec, "--pool", "0"],
            4,
            &[
                "the project's parameters",
                "the contract refused `create_project`",
            ],
        ),
        case(
            "verify of a project that does not exist",
            &net,
            &["verify", "--project", "99"],
            4,
            &["NoSuchProject", "hint:"],
        ),
        case(
            "verify of a round of a project that does not exist",
            &net,
            &["verify", "--project", "99", "--round", "0"],
            4,
            &["NoSuchProject", "hint:"],
        ),
        case(
            "a trainer refusing keys no ceremony vouches for",
            &net,
            &[
                "trainer",
                "run",
                "--project",
                "0",
                "--key",
                "bob",
                "--data",
                csv,
            ],
            1,
            &["come from no recorded ceremony", "--trust-keys"],
        ),
        case(
            "a project whose keys no ceremony vouches for",
            &net,
            &["ceremony", "verify", "--project", "0"],
            1,
            &["come from no recorded ceremony", "hint:"],
        ),
        case(
            "an answer from an update file that is not there",
            &net,
            &[
                "trainer",
                "answer",
                "--project",
                "0",
                "--slot",
                "0",
                "--update",
                missing,
                "--key",
                "bob",
            ],
            2,
            &["--update", "missing.csv", "(os error 2)"],
        ),
        case(
            "an answer from a file that is not an update",
            &net,
            &[
                "trainer",
                "answer",
                "--project",
                "0",
                "--slot",
                "0",
                "--update",
                bad_spec,
                "--key",
                "bob",
            ],
            2,
            &["--update", "bad-spec.json"],
        ),
        case(
            "an answer to a slot nobody set aside",
            &net,
            &[
                "trainer",
                "answer",
                "--project",
                "0",
                "--slot",
                "0",
                "--update",
                update,
                "--key",
                "bob",
            ],
            4,
            &["the contract refused `answer_set_aside`", "hint:"],
        ),
        case(
            "cancel by someone who may not, yet",
            &net,
            &["project", "cancel", "0", "--from", "bob"],
            4,
            &["the contract refused `cancel`", "hint:"],
        ),
        // 5: the chain or the IPFS daemon is unreachable.
        case(
            "no devnet in the data directory",
            &empty,
            &["project", "status", "0"],
            5,
            &["no devnet in", "merit devnet up"],
        ),
        case(
            "project create with the IPFS daemon down",
            &dead_ipfs,
            &["project", "create", "--spec", spec, "--pool", "5"],
            5,
            &["127.0.0.1:1", "not answering"],
        ),
        case(
            "a trainer whose IPFS daemon is down",
            &dead_ipfs,
            &[
                "trainer",
                "run",
                "--project",
                "0",
                "--key",
                "bob",
                "--data",
                csv,
            ],
            5,
            &["127.0.0.1:1", "not answering"],
        ),
    ];
    // The cheap usage case of clap itself.
    table.push(case(
        "a shell clap does not know",
        &empty,
        &["completions", "cmd.exe"],
        2,
        &["invalid value"],
    ));

    let mut wrong = Vec::new();
    for c in &table {
        let args: Vec<&str> = c.args.iter().map(String::as_str).collect();
        let o = merit(&c.dir, &args);
        let stderr = String::from_utf8_lossy(if c.on_stdout { &o.stdout } else { &o.stderr });
        let mut problems = Vec::new();
        if o.status.code() != Some(c.status) {
            problems.push(format!(
                "exit status {:?}, not {}",
                o.status.code(),
                c.status
            ));
        }
        for s in &c.says {
            if !stderr.contains(s) {
                problems.push(format!("stderr does not say {s:?}"));
            }
        }
        if let Some(s) = c.once {
            if stderr.matches(s).count() != 1 {
                problems.push(format!(
                    "stderr says {s:?} {} times",
                    stderr.matches(s).count()
                ));
            }
        }
        if !problems.is_empty() {
            wrong.push(format!(
                "{} (merit {}): {}\n{}",
                c.name,
                c.args.join(" "),
                problems.join("; "),
                text(&o)
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases wrong:\n\n{}",
        wrong.len(),
        table.len(),
        wrong.join("\n")
    );
    for status in [1, 2, 4, 5] {
        assert!(
            table.iter().any(|c| c.status == status),
            "no case for exit status {status}"
        );
    }
}
