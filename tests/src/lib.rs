//! Helpers for end-to-end tests: a devnet in a temporary directory, on free loopback
//! ports, that is brought down when the test ends, pass or fail.

use merit_cli::devnet::{self, DevnetInfo, DevnetOptions, UpOutcome};
use merit_protocol::rule::RuleParams;
use merit_prover::{round, SetupMode};

/// A round-circuit shape small enough for tests: `slots` × `dim`, no Byzantine budget to
/// speak of, a generous norm bound.
pub fn test_rule(slots: usize, dim: usize) -> RuleParams {
    RuleParams {
        slots,
        dim,
        byzantine: 0,
        norm_bound_sq: 1 << 20,
    }
}

/// The arkworks-compressed verifying key of that shape's round circuit, from the
/// test-only deterministic setup.
pub fn test_verifying_key(slots: usize, dim: usize) -> Vec<u8> {
    let (_, vk) = round::setup_round(
        test_rule(slots, dim),
        SetupMode::InsecureDeterministicForTests(1),
    )
    .expect("setup");
    let mut out = Vec::new();
    ark_serialize::CanonicalSerialize::serialize_compressed(&vk, &mut out).expect("encode");
    out
}

pub struct TestDevnet {
    pub info: DevnetInfo,
    // Dropped after `down` so the data dir outlives the processes using it.
    dir: tempfile::TempDir,
}

impl TestDevnet {
    /// Brings a fresh devnet up; panics with the devnet's own error if it cannot.
    pub async fn up() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("merit-e2e-")
            .tempdir()
            .expect("temp dir");
        let opts = DevnetOptions::new(dir.path());
        match devnet::up(&opts).await {
            Ok(UpOutcome::Started(info)) => Self { info, dir },
            Ok(UpOutcome::AlreadyRunning(_)) => {
                panic!("a fresh temp dir cannot hold a running devnet")
            }
            Err(e) => {
                let _ = devnet::down(dir.path());
                panic!("devnet up failed: {e}");
            }
        }
    }

    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}

impl Drop for TestDevnet {
    fn drop(&mut self) {
        if let Err(e) = devnet::down(self.dir.path()) {
            eprintln!("devnet down failed: {e}");
        }
    }
}
