//! The `merit` binary as a user runs it: devnet up (the node where installed, else the
//! embedded chain in its file), status, a project created, shown, cancelled and paid back,
//! the config file, completions, exit statuses, up again, down, status.

use std::process::{Command, Output};

fn merit(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_merit"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
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

#[test]
fn devnet_up_status_up_down_leaves_nothing_running() {
    let dir = tempfile::Builder::new()
        .prefix("merit-cli-")
        .tempdir()
        .unwrap();
    let mut up_args = vec!["devnet", "up", "--json"];
    match std::env::var("MERIT_CHAIN").as_deref() {
        Ok("embedded") => up_args.push("--embedded"),
        Ok("node") => up_args.push("--node"),
        _ => {}
    }
    let up = merit(dir.path(), &up_args);
    if !up.status.success() {
        let _ = merit(dir.path(), &["devnet", "down"]);
        panic!("devnet up failed:\n{}", text(&up));
    }
    let info: serde_json::Value = serde_json::from_slice(&up.stdout).expect("--json prints JSON");
    assert_eq!(info["started"], true);
    let node_pid = info["devnet"]["node"]["pid"].as_u64();
    let ipfs_pid = info["devnet"]["ipfs"]["pid"].as_u64().unwrap();
    assert_eq!(
        node_pid.is_some(),
        info["devnet"]["embedded"].is_null(),
        "a node or the embedded chain: {info}"
    );

    let status = merit(dir.path(), &["devnet", "status", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap_or_default();
    let ok = status.status.success()
        && report["node"]["running"] == true
        && report["contract"]["running"] == true;

    // A project from a spec file: validated, put into IPFS with a seeded initial model, the
    // round circuit set up for its shape (a small one: 5 slots × 27 parameters), escrowed,
    // read back as JSON.
    let spec_text = include_str!("../../examples/digits-spec.json")
        .replace(
            r#""input": 64, "hidden": [32], "classes": 10"#,
            r#""input": 4, "hidden": [3], "classes": 3"#,
        )
        .replace(
            r#""inputs": 64, "classes": 10"#,
            r#""inputs": 4, "classes": 3"#,
        )
        .replace(r#""slots": 8"#, r#""slots": 5"#);
    let spec_path = dir.path().join("small-spec.json");
    std::fs::write(&spec_path, &spec_text).unwrap();
    let created = merit(
        dir.path(),
        &[
            "project",
            "create",
            "--spec",
            spec_path.to_str().unwrap(),
            "--pool",
            "123456789",
            "--json",
        ],
    );
    let bad_spec = dir.path().join("bad.json");
    std::fs::write(&bad_spec, r#"{"version": 1}"#).unwrap();
    let refused = merit(
        dir.path(),
        &[
            "project",
            "create",
            "--spec",
            bad_spec.to_str().unwrap(),
            "--pool",
            "5",
        ],
    );
    let shown = merit(dir.path(), &["project", "status", "0", "--json"]);
    let table = merit(dir.path(), &["project", "status", "0"]);
    let missing = merit(dir.path(), &["project", "status", "1"]);
    // Before its join deadline only the owner cancels: a refusal has its own exit status
    // and says what to do; then the owner cancels and everyone's deposit comes back.
    let early = merit(dir.path(), &["project", "cancel", "0", "--from", "bob"]);
    let cancelled = merit(dir.path(), &["project", "cancel", "0", "--from", "//Alice"]);
    // The config file names the signer; a flag would beat it.
    std::fs::write(dir.path().join("config.toml"), "from = \"alice\"\n").unwrap();
    let claimed = merit(dir.path(), &["project", "claim", "0", "--json"]);
    let twice = merit(dir.path(), &["project", "claim", "0", "--from", "alice"]);
    std::fs::write(dir.path().join("config.toml"), "form = \"alice\"\n").unwrap();
    let bad_config = merit(dir.path(), &["project", "status", "0"]);
    std::fs::remove_file(dir.path().join("config.toml")).unwrap();
    let bad_key = merit(
        dir.path(),
        &["project", "claim", "0", "--from", "nobody at all"],
    );
    let report_dir = dir.path().join("report");
    let reported = merit(
        dir.path(),
        &[
            "project",
            "report",
            "0",
            "--out",
            report_dir.to_str().unwrap(),
        ],
    );

    let again = merit(dir.path(), &["devnet", "up"]);
    let down = merit(dir.path(), &["devnet", "down"]);
    assert!(ok, "status was not healthy:\n{}", text(&status));
    assert!(created.status.success(), "{}", text(&created));
    assert!(
        !refused.status.success() && text(&refused).contains("bad.json"),
        "{}",
        text(&refused)
    );
    let project: serde_json::Value = serde_json::from_slice(&shown.stdout).expect("project JSON");
    assert_eq!(project["pool"], "123456789");
    assert_eq!(project["rounds"], 3);
    assert_eq!(project["slots_per_round"], 5);
    let created: serde_json::Value = serde_json::from_slice(&created.stdout).expect("create JSON");
    assert!(created["proving_key_cid"].is_string(), "{created}");
    assert_eq!(project["model_cid"], created["model_cid"]);
    assert_eq!(project["phase"], "Open");
    assert!(
        !missing.status.success() && text(&missing).contains("NoSuchProject"),
        "{}",
        text(&missing)
    );
    assert!(
        text(&table).contains("project 0 · Open") && text(&table).contains("no trainer has joined"),
        "{}",
        text(&table)
    );
    assert_eq!(early.status.code(), Some(4), "{}", text(&early));
    assert!(
        text(&early).contains("NotOwner") && text(&early).contains("hint:"),
        "{}",
        text(&early)
    );
    assert!(cancelled.status.success(), "{}", text(&cancelled));
    let claimed_json: serde_json::Value =
        serde_json::from_slice(&claimed.stdout).unwrap_or_else(|_| panic!("{}", text(&claimed)));
    assert_eq!(
        claimed_json["amount"], "123456789",
        "the pool comes back to the owner"
    );
    assert_eq!(twice.status.code(), Some(4), "{}", text(&twice));
    assert!(text(&twice).contains("NothingToClaim"), "{}", text(&twice));
    assert!(reported.status.success(), "{}", text(&reported));
    let html = std::fs::read_to_string(report_dir.join("report.html")).unwrap();
    assert!(
        html.contains("Cancelled") && html.contains("project 0 report"),
        "{html}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report_dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["phase"], "Cancelled");
    assert_eq!(json["owner_refund"], 123456789);
    assert_eq!(bad_config.status.code(), Some(2), "{}", text(&bad_config));
    assert!(
        text(&bad_config).contains("unknown setting `form`"),
        "{}",
        text(&bad_config)
    );
    assert!(
        // Named by flag, never echoed: a mistyped secret is still a secret.
        !bad_key.status.success()
            && text(&bad_key).contains("--from")
            && text(&bad_key).contains("the secret itself is not shown")
            && !text(&bad_key).contains("nobody at all"),
        "{}",
        text(&bad_key)
    );
    assert!(
        again.status.success() && text(&again).contains("already running"),
        "{}",
        text(&again)
    );
    assert!(down.status.success(), "{}", text(&down));
    for pid in node_pid.iter().chain([&ipfs_pid]) {
        assert!(
            text(&down).contains(&format!("pid {pid}")),
            "{}",
            text(&down)
        );
    }

    std::thread::sleep(std::time::Duration::from_millis(300));
    for pid in node_pid.into_iter().chain([ipfs_pid]) {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(
            stat.is_empty() || stat.contains(") Z"),
            "pid {pid} is still running after down"
        );
    }
    let after = merit(dir.path(), &["devnet", "status"]);
    assert_eq!(
        after.status.code(),
        Some(1),
        "status must fail when the devnet is down:\n{}",
        text(&after)
    );
    assert!(text(&after).contains("DOWN"), "{}", text(&after));
}

#[test]
fn status_without_a_devnet_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let o = merit(dir.path(), &["devnet", "status"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("merit devnet up"), "{}", text(&o));
}

#[test]
fn completions_are_printed_for_each_shell() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let o = merit(dir.path(), &["completions", shell]);
        assert!(o.status.success(), "{}", text(&o));
        let script = String::from_utf8_lossy(&o.stdout);
        assert!(
            script.contains("merit") && script.contains("devnet"),
            "{shell}"
        );
    }
    let o = merit(dir.path(), &["completions", "cmd.exe"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}
