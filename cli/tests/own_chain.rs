//! Merit on a chain that `merit devnet` did not start, through the real binary: the chain
//! is started by hand, `merit contract deploy --url` puts the marketplace on it, and the
//! owner, two trainer nodes and the aggregator run as separate processes, each with its
//! own data directory (no `devnet.json` anywhere), given only `--url`, `--contract`,
//! `--ipfs-api` and their keys: secret files (the owner's, the aggregator's, bob's), a
//! polkadot-js keystore (dave's, its password in a private file) and the environment
//! (eve's). Three trainers, since rule v2 accepts nothing from fewer than three. Every round is proven, everyone claims, the
//! escrow drains.
//!
//! Two chains: substrate-contracts-node (`--dev`, on loopback), where it is installed
//! (`MERIT_NODE_BIN` or on PATH; otherwise the test says so and is skipped), and the
//! embedded chain's file (`--url embedded:PATH`), which needs nothing installed.

use merit_cli::devnet::IpfsDaemon;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const KEYSTORE_PASSWORD: &str = "dave keystore password";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A private file holding `text` (mode 0600); returns `file:PATH`.
fn private_file(dir: &Path, name: &str, text: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    format!("file:{}", path.display())
}

/// The network every role is given, and nothing else.
struct Net {
    url: String,
    contract: String,
    ipfs_api: String,
    /// The keystore's password file.
    password_file: PathBuf,
}

/// `merit` as a role runs it: its own data dir, the network flags, no devnet, no config.
fn merit_cmd(dir: &Path, role: &str, net: &Net, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_merit"));
    cmd.current_dir(dir)
        .arg("--data-dir")
        .arg(dir.join(role))
        .args(["--url", &net.url])
        .args(["--contract", &net.contract])
        .args(["--ipfs-api", &net.ipfs_api])
        .args(args)
        .env_remove("MERIT_CONFIG")
        .env_remove("MERIT_HOME")
        .env_remove("MERIT_IPFS_API")
        .env_remove("MERIT_KEY_PASSWORD")
        .env("MERIT_KEY_PASSWORD_FILE", &net.password_file)
        .env("MERIT_TEST_EVE_SECRET", "//Eve")
        .env("NO_COLOR", "1");
    cmd
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(mut cmd: Command, what: &str) -> String {
    let started = Instant::now();
    let out = cmd.output().expect("merit runs");
    eprintln!("[{:6.1} s] {what}", started.elapsed().as_secs_f64());
    assert!(out.status.success(), "{what} failed:\n{}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// A background process, killed when dropped; its output goes to a log file.
struct Bg {
    child: Child,
    log: PathBuf,
    out: PathBuf,
}

impl Bg {
    fn spawn(mut cmd: Command, dir: &Path, name: &str) -> Self {
        let log = dir.join(format!("{name}.log"));
        let out = dir.join(format!("{name}.out"));
        let child = cmd
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{name} starts: {e}"));
        Self { child, log, out }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for the process to exit successfully; returns its stdout.
    fn finish(mut self, seconds: u64, name: &str) -> String {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(
                    status.success(),
                    "{name} failed ({status}):\n{}",
                    self.log()
                );
                return std::fs::read_to_string(&self.out).unwrap();
            }
            assert!(
                started.elapsed().as_secs() < seconds,
                "{name} still running after {seconds} s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The tiny spec with two rounds.
fn two_round_spec(dir: &Path) -> PathBuf {
    let mut spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("tiny-spec.json")).unwrap()).unwrap();
    spec["rounds"] = 2.into();
    let path = dir.join("spec.json");
    std::fs::write(&path, serde_json::to_string_pretty(&spec).unwrap()).unwrap();
    path
}

fn project_status(dir: &Path, net: &Net) -> serde_json::Value {
    let out = ok(
        merit_cmd(dir, "owner", net, &["project", "status", "0", "--json"]),
        "project status",
    );
    serde_json::from_str(&out).unwrap()
}

/// The whole project on the chain at `url`, whose clock `tick` is (the hidden `merit devnet
/// tick` that a devnet starts, here started by hand: deadlines pass only with blocks).
fn whole_project(dir: &Path, url: &str, tick: &[&str]) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let ipfs = runtime
        .block_on(IpfsDaemon::start(
            &dir.join("ipfs"),
            Duration::from_secs(90),
        ))
        .expect("an IPFS daemon on loopback");

    let owner_key = private_file(dir, "owner.key", "//Alice\n");
    let agg_key = private_file(dir, "aggregator.key", "//Charlie\n");
    let bob_key = private_file(dir, "bob.key", "//Bob\n");
    let dave_keystore = {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("dave.json");
        std::fs::copy(fixture("keystore-dave.json"), &path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        format!("file:{}", path.display())
    };
    let password_file = private_file(dir, "password", KEYSTORE_PASSWORD);
    let password_file = PathBuf::from(password_file.trim_start_matches("file:"));

    // Deploy: only --url and a key file; the address is printed and recorded.
    let deployed = ok(
        {
            let mut c = Command::new(env!("CARGO_BIN_EXE_merit"));
            c.arg("--data-dir")
                .arg(dir.join("deployer"))
                .args(["--url", url, "contract", "deploy", "--from", &owner_key])
                .arg("--json")
                .env_remove("MERIT_CONFIG")
                .env_remove("MERIT_HOME");
            c
        },
        "contract deploy",
    );
    let deployed: serde_json::Value = serde_json::from_str(&deployed).unwrap();
    let contract = deployed["address"]
        .as_str()
        .expect("an address")
        .to_string();
    assert!(dir.join("deployer").join("deployments.json").exists());
    assert!(
        !dir.join("deployer").join("devnet.json").exists(),
        "no devnet was made"
    );
    let net = Net {
        url: url.into(),
        contract,
        ipfs_api: ipfs.api_url.clone(),
        password_file,
    };

    // The chain's clock.
    let mut clock = Command::new(env!("CARGO_BIN_EXE_merit"));
    clock
        .current_dir(dir)
        .arg("--data-dir")
        .arg(dir.join("clock"))
        .args(["devnet", "tick", "--block-time-ms", "300"])
        .args(tick);
    let _clock = Bg::spawn(clock, dir, "clock");

    let spec = two_round_spec(dir);
    let posted = ok(
        merit_cmd(
            dir,
            "owner",
            &net,
            &[
                "project",
                "create",
                "--spec",
                spec.to_str().unwrap(),
                "--pool",
                "6000000",
                "--min-trainers",
                "3",
                "--aggregator",
                "charlie",
                "--commit-blocks",
                "30",
                "--reveal-blocks",
                "30",
                "--from",
                &owner_key,
                "--json",
            ],
        ),
        "project create",
    );
    let posted: serde_json::Value = serde_json::from_str(&posted).unwrap();
    assert_eq!(posted["project"], 0, "{posted}");

    // Each trainer its own rows, labelled by its own part of the truth (non-IID, as real
    // trainers are): bob's by x₀ > 0, dave's by x₁ > 0, eve's by x₀ + x₁ > 0, features
    // centred on 0. Their updates then point different ways (cosines well below the
    // duplicate filter's 0.95), and the global model moves every round.
    for name in ["bob", "dave", "eve"] {
        let rows: String = (0..40)
            .map(|i| {
                let x0 = ((i * 7) % 17) as f32 / 4.0 - 2.0;
                let x1 = ((i * 5) % 11) as f32 / 2.5 - 2.0;
                let label = match name {
                    "bob" => x0 > 0.0,
                    "dave" => x1 > 0.0,
                    _ => x0 + x1 > 0.0,
                };
                format!("{x0},{x1},{}\n", u8::from(label))
            })
            .collect();
        std::fs::write(dir.join(format!("{name}.csv")), rows).unwrap();
    }

    let aggregator = Bg::spawn(
        merit_cmd(
            dir,
            "aggregator",
            &net,
            &[
                "aggregator",
                "run",
                "--project",
                "0",
                "--from",
                &agg_key,
                "--poll-ms",
                "200",
            ],
        ),
        dir,
        "aggregator",
    );
    let trainer = |role: &str, key: &str| {
        let data = format!("{role}.csv");
        Bg::spawn(
            merit_cmd(
                dir,
                role,
                &net,
                &[
                    "trainer",
                    "run",
                    "--project",
                    "0",
                    "--data",
                    &data,
                    "--key",
                    key,
                    // The owner's own setup (the ceremony has its own test): trusted here.
                    "--trust-keys",
                    "--poll-ms",
                    "200",
                    "--json",
                ],
            ),
            dir,
            role,
        )
    };
    let bob = trainer("bob", &bob_key);
    let dave = trainer("dave", &dave_keystore);
    let eve = trainer("eve", "env:MERIT_TEST_EVE_SECRET");

    // The owner starts once both joined and the aggregator is bonded.
    let started = Instant::now();
    loop {
        let s = project_status(dir, &net);
        if s["trainers"].as_array().map(Vec::len) == Some(3) && s["aggregator_bonded"] == true {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "the trainers never joined: {s}\nbob:\n{}\ndave:\n{}\neve:\n{}\naggregator:\n{}",
            bob.log(),
            dave.log(),
            eve.log(),
            aggregator.log()
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    ok(
        merit_cmd(
            dir,
            "owner",
            &net,
            &["project", "start", "0", "--from", &owner_key],
        ),
        "project start",
    );

    let bob = bob.finish(600, "bob's node");
    let dave = dave.finish(600, "dave's node (keystore)");
    let eve = eve.finish(600, "eve's node (key in the environment)");
    aggregator.finish(300, "the aggregator");
    let s = project_status(dir, &net);
    for (who, out) in [("bob", &bob), ("dave", &dave), ("eve", &eve)] {
        let earned: serde_json::Value = serde_json::from_str(out.trim())
            .unwrap_or_else(|e| panic!("{who}'s node printed {out:?}: {e}"));
        assert_eq!(earned["phase"], "Finished", "{who}: {earned}");
        assert!(
            earned["claimed"].as_u64().is_some_and(|c| c > 0),
            "{who} did not claim: {earned}\n{s}"
        );
    }
    // The owner takes back what the trainers did not earn; then nothing is left.
    let s = project_status(dir, &net);
    if s["unclaimed"]["owner"].as_str().is_some_and(|v| v != "0") {
        ok(
            merit_cmd(
                dir,
                "owner",
                &net,
                &["project", "claim", "0", "--from", &owner_key],
            ),
            "owner claims",
        );
    }
    let s = project_status(dir, &net);
    assert_eq!(s["phase"], "Finished", "{s}");
    let finalised = s["rounds_finalised"].as_array().expect("rounds");
    assert_eq!(finalised.len(), 2, "every round proven and finalised: {s}");
    for r in finalised {
        let accepted = r["accepted"].as_array().expect("accepted");
        assert!(
            accepted.iter().all(|a| a == true),
            "every honest update accepted: {s}"
        );
    }
    assert_ne!(finalised[0]["model_cid"], finalised[1]["model_cid"], "{s}");
    fn all_zero(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::String(x) => x == "0",
            serde_json::Value::Array(a) => a.iter().all(all_zero),
            serde_json::Value::Object(o) => o.values().all(all_zero),
            _ => false,
        }
    }
    assert!(
        s["unclaimed"].is_object() && all_zero(&s["unclaimed"]),
        "the escrow is not drained: {s}"
    );
    // No key material in anything a role printed.
    let keystore = std::fs::read_to_string(fixture("keystore-dave.json")).unwrap();
    let encoded: serde_json::Value = serde_json::from_str(&keystore).unwrap();
    let secret_bits = &encoded["encoded"].as_str().unwrap()[..24];
    for f in std::fs::read_dir(dir).unwrap() {
        let path = f.unwrap().path();
        if path.extension().is_some_and(|e| e == "log" || e == "out") {
            let t = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                !t.contains(KEYSTORE_PASSWORD) && !t.contains(secret_bits),
                "{} shows a secret",
                path.display()
            );
        }
    }
}

#[test]
fn a_whole_project_on_an_embedded_chain_started_by_hand() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let state = dir.join("chain.state");
    let url = format!("embedded:{}", state.display());
    whole_project(dir, &url, &["--state", state.to_str().unwrap()]);
}

#[test]
fn a_whole_project_on_a_substrate_contracts_node_started_by_hand() {
    let bin = match merit_cli::tools::node_bin(
        std::env::var_os("MERIT_NODE_BIN")
            .map(PathBuf::from)
            .as_deref(),
    ) {
        Ok(b) => b,
        Err(why) => {
            eprintln!("SKIPPED: substrate-contracts-node is not installed here ({why})");
            return;
        }
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let rpc = merit_cli::process::free_port().unwrap();
    let p2p = merit_cli::process::free_port().unwrap();
    let node = Command::new(&bin)
        .arg("--dev")
        .arg("--base-path")
        .arg(dir.join("node"))
        .args(["--rpc-port", &rpc.to_string()])
        .args(["--listen-addr", &format!("/ip4/127.0.0.1/tcp/{p2p}")])
        .args(["--no-mdns", "--no-prometheus", "--no-telemetry"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("node.log")).unwrap())
        .spawn()
        .expect("the node starts");
    let node = Bg {
        child: node,
        log: dir.join("node.log"),
        out: dir.join("node.out"),
    };
    let url = format!("ws://127.0.0.1:{rpc}");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", rpc)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the node never listened:\n{}",
            node.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    whole_project(dir, &url, &["--rpc-url", &url]);
    drop(node);
}
