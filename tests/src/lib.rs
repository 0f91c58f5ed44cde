//! Helpers for end-to-end tests: a devnet in a temporary directory, on free loopback
//! ports, that is brought down when the test ends, pass or fail.

use merit_cli::devnet::{self, DevnetInfo, DevnetOptions, UpOutcome};

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
