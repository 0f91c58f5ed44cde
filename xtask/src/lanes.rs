//! Runs the built test binaries side by side instead of one after another.
//!
//! `cargo test` runs its test binaries one at a time, and the slow ones (a ceremony, the
//! demo, chunked proofs) keep only about 1.5 of 2 cores busy: they wait on their own child
//! processes, IPFS and the chain between bursts of proving. Two binaries at a time fill
//! that gap. Each binary still runs its own tests in parallel as `cargo test` would, from
//! its package's directory; its output is kept and printed whole when it ends, so the log
//! reads one binary at a time.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One thing to run: a test binary, or a cargo command (the contract's tests, doc-tests).
pub struct Job {
    /// What the log calls it, e.g. `cli/tests/demo.rs`.
    pub label: String,
    pub cmd: Command,
}

/// Test binaries known to take minutes, started first so that the lanes end together
/// (longest first); the rest follow in cargo's order. A binary missing from the list only
/// costs balance, never a test.
const SLOW_FIRST: &[&str] = &[
    "cli/tests/ceremony.rs",
    "cli/tests/demo.rs",
    "tests/tests/chunked_rounds.rs",
    "tests/tests/marketplace_e2e.rs",
    "contract unit tests",
    "tests/tests/cnn_rounds.rs",
    "tests/tests/product_loop.rs",
    "tests/tests/sampled_rounds.rs",
];

/// The test binaries of a `cargo test --no-run --message-format=json` run, from its
/// standard output (one JSON object per line). Dependency-free on purpose: only the three
/// string fields a test artifact needs are read.
pub fn test_binaries(cargo_json: &str, root: &Path) -> Vec<Job> {
    cargo_json
        .lines()
        .filter(|l| l.contains(r#""reason":"compiler-artifact""#))
        // A test harness, not the binaries and examples `cargo test` also builds.
        .filter(|l| profile_is_test(l))
        .filter_map(|l| {
            let executable = string_field(l, "executable")?;
            let manifest = PathBuf::from(string_field(l, "manifest_path")?);
            let src = PathBuf::from(string_field(l, "src_path")?);
            let package_dir = manifest.parent()?;
            // As `cargo test` runs it: from its package's directory, with the manifest dir set.
            let mut cmd = Command::new(executable);
            cmd.current_dir(package_dir)
                .env("CARGO_MANIFEST_DIR", package_dir);
            Some(Job {
                label: src.strip_prefix(root).unwrap_or(&src).display().to_string(),
                cmd,
            })
        })
        .collect()
}

/// Whether the artifact's `profile` says `"test":true` (its `target` has a `test` field
/// of its own, which says only whether the target *may* be tested).
fn profile_is_test(line: &str) -> bool {
    line.find(r#""profile":{"#)
        .map(|at| &line[at..])
        .and_then(|p| p.find('}').map(|end| p[..end].contains(r#""test":true"#)))
        .unwrap_or(false)
}

/// The string value of `"key":"…"` in one line of cargo's JSON (the first occurrence);
/// `None` when absent or `null`.
fn string_field(line: &str, key: &str) -> Option<String> {
    let start = line.find(&format!("\"{key}\":\""))? + key.len() + 4;
    let mut out = String::new();
    let mut chars = line[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

/// Puts the known slow jobs first, in [`SLOW_FIRST`]'s order.
pub fn slow_first(mut jobs: Vec<Job>) -> Vec<Job> {
    let rank = |j: &Job| {
        SLOW_FIRST
            .iter()
            .position(|s| *s == j.label)
            .unwrap_or(SLOW_FIRST.len())
    };
    jobs.sort_by_key(rank);
    jobs
}

/// What a finished job left.
struct Finished {
    label: String,
    ok: bool,
    took: Duration,
}

/// Runs `jobs` on `lanes` threads, each job's output into `logs/`, printed when it ends.
/// Every job runs (no fail-fast); the error lists the ones that failed.
pub fn run(jobs: Vec<Job>, lanes: usize, logs: &Path) -> Result<(), String> {
    std::fs::create_dir_all(logs).map_err(|e| format!("{}: {e}", logs.display()))?;
    let total = jobs.len();
    let queue = Arc::new(Mutex::new(
        jobs.into_iter().enumerate().collect::<VecDeque<_>>(),
    ));
    // Held while a finished job is printed and recorded, so outputs never interleave.
    let done = Arc::new(Mutex::new(Vec::<Finished>::new()));
    let workers: Vec<_> = (0..lanes.max(1))
        .map(|_| {
            let (queue, done) = (queue.clone(), done.clone());
            let logs = logs.to_path_buf();
            std::thread::spawn(move || loop {
                let Some((i, mut job)) = queue.lock().unwrap().pop_front() else {
                    return;
                };
                let log = logs.join(format!("{i:02}.log"));
                let started = Instant::now();
                let ok = run_one(&mut job.cmd, &log);
                let took = Duration::from_secs(started.elapsed().as_secs());
                let mut done = done.lock().unwrap();
                let output = std::fs::read_to_string(&log).unwrap_or_default();
                println!("\n--> {} ({took:.0?})", job.label);
                print!("{output}");
                match &ok {
                    Ok(()) => println!("--> {}: ok in {took:.0?}", job.label),
                    Err(why) => println!("--> {}: FAILED ({why}) after {took:.0?}", job.label),
                }
                done.push(Finished {
                    label: job.label,
                    ok: ok.is_ok(),
                    took,
                });
            })
        })
        .collect();
    for w in workers {
        w.join().map_err(|_| "a test lane panicked".to_string())?;
    }
    let done = std::mem::take(&mut *done.lock().unwrap());
    let mut slowest: Vec<&Finished> = done.iter().collect();
    slowest.sort_by_key(|f| std::cmp::Reverse(f.took));
    println!("\n==> {total} test jobs on {lanes} lanes; the slowest:");
    for f in slowest.iter().take(8) {
        println!("    {:>5.0?}  {}", f.took, f.label);
    }
    let failed: Vec<&str> = done
        .iter()
        .filter(|f| !f.ok)
        .map(|f| f.label.as_str())
        .collect();
    if failed.is_empty() && done.len() == total {
        Ok(())
    } else {
        Err(format!(
            "{} of {total} test jobs failed: {}",
            failed.len(),
            failed.join(", ")
        ))
    }
}

/// Runs one job with stdout and stderr into `log`.
fn run_one(cmd: &mut Command, log: &Path) -> Result<(), String> {
    let file = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = file.try_clone().map_err(|e| e.to_string())?;
    let status = cmd
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .status()
        .map_err(|e| format!("could not start {:?}: {e}", cmd.get_program()))?;
    if status.success() {
        Ok(())
    } else {
        Err(status.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINES: &str = concat!(
        r#"{"reason":"compiler-artifact","package_id":"path+file:///w/cli#merit-cli@0.1.0","manifest_path":"/w/cli/Cargo.toml","target":{"kind":["test"],"crate_types":["bin"],"name":"demo","src_path":"/w/cli/tests/demo.rs","edition":"2021"},"profile":{"test":true},"executable":"/w/target/debug/deps/demo-1","fresh":true}"#,
        "\n",
        r#"{"reason":"compiler-artifact","package_id":"x","manifest_path":"/w/protocol/Cargo.toml","target":{"kind":["lib"],"name":"merit_protocol","src_path":"/w/protocol/src/lib.rs"},"profile":{"test":false},"executable":null,"fresh":true}"#,
        "\n",
        r#"{"reason":"compiler-artifact","package_id":"y","manifest_path":"/w/protocol/Cargo.toml","target":{"kind":["lib"],"name":"merit_protocol","src_path":"/w/protocol/src/lib.rs"},"profile":{"test":true},"executable":"/w/target/debug/deps/merit_protocol-2","fresh":true}"#,
        "\n",
        r#"{"reason":"compiler-artifact","package_id":"z","manifest_path":"/w/cli/Cargo.toml","target":{"kind":["example"],"name":"demo_orders","src_path":"/w/cli/examples/demo_orders.rs","test":false},"profile":{"opt_level":"0","test":false},"executable":"/w/target/debug/examples/demo_orders","fresh":true}"#,
        "\n",
        r#"{"reason":"compiler-artifact","package_id":"z","manifest_path":"/w/cli/Cargo.toml","target":{"kind":["bin"],"name":"merit","src_path":"/w/cli/src/main.rs","doctest":false,"test":true},"profile":{"opt_level":"0","test":false},"executable":"/w/target/debug/merit","fresh":true}"#,
        "\n",
        r#"{"reason":"build-finished","success":true}"#,
    );

    #[test]
    fn test_binaries_are_read_from_cargo_json_and_the_slow_ones_go_first() {
        let jobs = slow_first(test_binaries(LINES, Path::new("/w")));
        let labels: Vec<&str> = jobs.iter().map(|j| j.label.as_str()).collect();
        assert_eq!(labels, ["cli/tests/demo.rs", "protocol/src/lib.rs"]);
        assert_eq!(
            jobs[0].cmd.get_program(),
            std::ffi::OsStr::new("/w/target/debug/deps/demo-1")
        );
        assert_eq!(jobs[0].cmd.get_current_dir(), Some(Path::new("/w/cli")));
    }

    #[test]
    fn string_fields_unescape_and_null_is_absent() {
        let line = r#"{"a":"x\"y\\z","executable":null}"#;
        assert_eq!(string_field(line, "a").as_deref(), Some("x\"y\\z"));
        assert_eq!(string_field(line, "executable"), None);
        assert_eq!(string_field(line, "missing"), None);
    }

    #[test]
    fn every_job_runs_and_a_failure_is_named() {
        let dir = std::env::temp_dir().join(format!("xtask-lanes-{}", std::process::id()));
        let sh = |label: &str, script: &str| {
            let mut cmd = Command::new("sh");
            cmd.args(["-c", script]);
            Job {
                label: label.into(),
                cmd,
            }
        };
        let jobs = vec![
            sh("passes", "echo fine"),
            sh("fails", "echo broken >&2; exit 3"),
            sh("also passes", "true"),
        ];
        let e = run(jobs, 2, &dir).unwrap_err();
        assert_eq!(e, "1 of 3 test jobs failed: fails");
        assert!(run(vec![sh("ok", "true")], 2, &dir).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
