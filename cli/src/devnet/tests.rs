use super::*;

const JS_IPFS_CONFIG: &str = r#"{"Addresses":{"Swarm":["/ip4/0.0.0.0/tcp/4002"],"API":"/ip4/127.0.0.1/tcp/5002",
    "Gateway":"/ip4/127.0.0.1/tcp/9090","RPC":"/ip4/127.0.0.1/tcp/5003","Delegates":["/dns4/node0.delegate.ipfs.io/tcp/443/https"]},
    "Bootstrap":["/dns4/x/tcp/443"],"Discovery":{"MDNS":{"Enabled":true}}}"#;

#[test]
fn ipfs_config_is_made_private_and_loopback_only() {
    let out: serde_json::Value =
        serde_json::from_str(&loopback_ipfs_config(JS_IPFS_CONFIG, 1111, 2222, 3333).unwrap())
            .unwrap();
    let a = &out["Addresses"];
    assert_eq!(a["API"], "/ip4/127.0.0.1/tcp/1111");
    assert_eq!(a["Gateway"], "/ip4/127.0.0.1/tcp/2222");
    assert_eq!(a["RPC"], "/ip4/127.0.0.1/tcp/3333");
    assert_eq!(a["Swarm"], serde_json::json!([]));
    assert_eq!(a["Delegates"], serde_json::json!([]));
    assert_eq!(out["Bootstrap"], serde_json::json!([]));
    assert_eq!(out["Discovery"]["MDNS"]["Enabled"], false);
}

#[test]
fn kubo_config_without_rpc_key_stays_without_it() {
    let kubo = r#"{"Addresses":{"API":"/ip4/127.0.0.1/tcp/5001","Gateway":"/ip4/127.0.0.1/tcp/8080","Swarm":[]}}"#;
    let out: serde_json::Value =
        serde_json::from_str(&loopback_ipfs_config(kubo, 1, 2, 3).unwrap()).unwrap();
    assert!(out["Addresses"].get("RPC").is_none());
    assert!(loopback_ipfs_config("[1,2]", 1, 2, 3).is_err());
}

#[test]
fn missing_and_corrupt_devnet_json_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        DevnetInfo::read(dir.path()),
        Err(DevnetError::NotFound(_))
    ));
    std::fs::write(dir.path().join(INFO_FILE), "{oops").unwrap();
    let e = DevnetInfo::read(dir.path()).unwrap_err();
    assert!(matches!(e, DevnetError::BadInfo { .. }), "{e}");
}

#[test]
fn down_on_an_empty_dir_stops_nothing_and_a_stale_pid_is_not_killed() {
    let dir = tempfile::tempdir().unwrap();
    assert!(down(dir.path()).unwrap().stopped.is_empty());
    // PID 1 exists but is not ours: it must be left alone.
    std::fs::write(dir.path().join("node.pid"), "1").unwrap();
    let r = down(dir.path()).unwrap();
    assert_eq!(r.already_stopped, vec!["node".to_string()]);
    assert!(!dir.path().join("node.pid").exists());
}

#[test]
fn up_refuses_a_port_in_use_before_starting_anything() {
    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut opts = DevnetOptions::new(dir.path());
    opts.rpc_port = Some(port);
    // Binaries that exist, so that the port check is what refuses.
    opts.node_bin = Some("/bin/true".into());
    opts.ipfs_bin = Some("/bin/true".into());
    opts.ipfs_api = None;
    let bundle = dir.path().join("m.contract");
    std::fs::write(&bundle, r#"{"source":{"hash":"0x0000000000000000000000000000000000000000000000000000000000000000","wasm":"0x00"},"contract":{"name":"m"},"spec":{"constructors":[],"messages":[]}}"#).unwrap();
    opts.bundle = Some(bundle);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let e = rt.block_on(up(&opts)).unwrap_err();
    assert!(matches!(e, DevnetError::PortInUse(p) if p == port), "{e}");
    assert!(!dir.path().join("node.pid").exists(), "nothing was started");
}

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

#[test]
fn a_node_that_dies_on_start_is_reported_with_its_log_and_nothing_is_left_running() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = DevnetOptions::new(dir.path().join("data"));
    opts.ipfs_api = None;
    opts.node_bin = Some(script(
        dir.path(),
        "node",
        "echo 'Error: boom, the chain spec is corrupt' >&2; exit 3",
    ));
    // A stand-in IPFS daemon that initialises a repo and then just waits.
    opts.ipfs_bin = Some(script(
        dir.path(),
        "ipfs",
        r#"if [ "$1" = init ]; then mkdir -p "$IPFS_PATH"; echo '{"Addresses":{}}' > "$IPFS_PATH/config"; else exec sleep 60; fi"#,
    ));
    let bundle = dir.path().join("m.contract");
    std::fs::write(&bundle, r#"{"source":{"hash":"0x0000000000000000000000000000000000000000000000000000000000000000","wasm":"0x00"},"contract":{"name":"m"},"spec":{"constructors":[],"messages":[]}}"#).unwrap();
    opts.bundle = Some(bundle);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let e = rt.block_on(up(&opts)).unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(
            e,
            DevnetError::Died {
                what: "substrate-contracts-node",
                ..
            }
        ),
        "{text}"
    );
    assert!(
        text.contains("boom, the chain spec is corrupt") && text.contains("exit status: 3"),
        "{text}"
    );
    // The stand-in IPFS daemon that did start was stopped again.
    let pid: u32 = std::fs::read_to_string(dir.path().join("data").join("ipfs.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(!is_ours(
        pid,
        &marker(&std::path::absolute(dir.path().join("data")).unwrap())
    ));
}

#[test]
fn a_missing_node_binary_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = DevnetOptions::new(dir.path());
    opts.node_bin = Some(dir.path().join("no-such-node"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let e = rt.block_on(up(&opts)).unwrap_err().to_string();
    assert!(e.contains("no-such-node"), "{e}");
}
