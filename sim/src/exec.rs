//! `merit simulate --attacker-exec CMD`: an external program plays the `exec` attackers.
//! Each round the simulator writes what the attackers may know to a JSON file, runs
//! `sh -c CMD` with the file's path in `MERIT_ATTACKER_INPUT`, and reads one JSON object
//! from its standard output: one update per attacker. The format is docs/attacker-exec.md.

use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The `format` field of the round file.
pub const FORMAT: &str = "merit-attacker/1";
/// The environment variable that names the round file.
pub const INPUT_ENV: &str = "MERIT_ATTACKER_INPUT";
/// How much of the program's standard error an error quotes.
const STDERR_TAIL: usize = 2_000;

/// How to run the attacker program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecConfig {
    /// Run with `sh -c`.
    pub command: String,
    /// Each round's answer must come within this.
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("writing the attackers' round file {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("starting the attacker program `{command}`")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the attacker program `{command}` gave no answer within {secs} s in round {round}; it was killed")]
    Timeout {
        command: String,
        secs: u64,
        round: u32,
    },
    #[error("the attacker program `{command}` exited with {status} in round {round}; its stderr ends: {stderr}")]
    Exit {
        command: String,
        status: std::process::ExitStatus,
        round: u32,
        stderr: String,
    },
    #[error("round {round}: the attacker program's answer is not JSON of the form {{\"updates\": [[…], …]}}: {detail}")]
    NotJson { round: u32, detail: String },
    #[error(
        "round {round}: the attacker program's answer has NaN or Infinity; updates are integers"
    )]
    NotFinite { round: u32 },
    #[error(
        "round {round}: the attacker program answered {got} update(s) for {expected} attacker(s)"
    )]
    Count {
        round: u32,
        expected: usize,
        got: usize,
    },
    #[error(
        "round {round}: the update for slot {slot} has {got} values; the model has {expected}"
    )]
    Length {
        round: u32,
        slot: usize,
        expected: usize,
        got: usize,
    },
    #[error("round {round}: the update for slot {slot} has {value} at index {index}; values are integers in [-32768, 32767]")]
    Value {
        round: u32,
        slot: usize,
        index: usize,
        value: f64,
    },
    #[error("reading the attacker program's output")]
    Io(#[from] std::io::Error),
}

/// The rule's parameters, as the round file names them.
#[derive(Debug, Clone, Serialize)]
pub struct ParamsJson {
    pub slots: usize,
    pub dim: usize,
    pub byzantine: usize,
    pub norm_bound_sq: u64,
    pub band_sq_milli: u32,
    pub duplicate_milli: u32,
}

/// One earlier round, all public after it closed.
#[derive(Debug, Clone, Serialize)]
pub struct PastRound {
    pub round: u32,
    /// One entry per slot: the revealed update, `null` for an absent slot.
    pub reveals: Vec<Option<Vec<i16>>>,
    pub accepted: Vec<bool>,
    pub scores: Vec<u32>,
}

/// The round file: everything the attackers may know when they commit.
#[derive(Debug, Clone, Serialize)]
pub struct RoundFile<'a> {
    pub format: &'static str,
    pub round: u32,
    pub rounds: u32,
    pub rule: String,
    pub params: ParamsJson,
    pub scale_bits: u8,
    pub clip_norm: f32,
    /// The attackers' slots, in the order the answer must follow.
    pub attackers: &'a [usize],
    /// The global model this round trains from.
    pub global_model: &'a [i16],
    /// The one before it (`null` in round 0).
    pub previous_global_model: Option<&'a [i16]>,
    pub history: &'a [PastRound],
    /// Each attacker's honest update this round (trained on its own data as a node would).
    pub honest_updates: &'a [Vec<i16>],
}

#[derive(Deserialize)]
struct Answer {
    updates: Vec<Option<Vec<f64>>>,
}

/// Runs the program for one round and checks its answer: one entry per attacker, `None`
/// where it abstains.
pub fn ask(cfg: &ExecConfig, file: &RoundFile<'_>) -> Result<Vec<Option<Vec<i16>>>, ExecError> {
    let round = file.round;
    // Unique per call: simulations may run side by side in one process (tests do).
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!(
        "merit-attacker-{}-{call}-{round}.json",
        std::process::id()
    ));
    let write = |p: &PathBuf| -> std::io::Result<()> {
        let f = std::io::BufWriter::new(std::fs::File::create(p)?);
        serde_json::to_writer(f, file).map_err(std::io::Error::other)
    };
    write(&path).map_err(|source| ExecError::Write {
        path: path.clone(),
        source,
    })?;
    let out = run(cfg, &path, round);
    // The file is only for this round's program.
    let _ = std::fs::remove_file(&path);
    let (status, stdout, stderr) = out?;
    if !status.success() {
        return Err(ExecError::Exit {
            command: cfg.command.clone(),
            status,
            round,
            stderr: tail(&stderr),
        });
    }
    parse(&stdout, round, file.attackers, file.params.dim)
}

/// The end of `s`, at most [`STDERR_TAIL`] bytes, on a character boundary.
fn tail(s: &str) -> String {
    let mut start = s.len().saturating_sub(STDERR_TAIL);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    s[start..].trim().to_string()
}

/// Checks an answer's text.
pub fn parse(
    text: &str,
    round: u32,
    attackers: &[usize],
    dim: usize,
) -> Result<Vec<Option<Vec<i16>>>, ExecError> {
    let answer: Answer = serde_json::from_str(text.trim()).map_err(|e| {
        // JSON has no NaN; Python's json.dumps writes it anyway.
        if ["NaN", "Infinity"].iter().any(|t| text.contains(t)) {
            ExecError::NotFinite { round }
        } else {
            ExecError::NotJson {
                round,
                detail: e.to_string(),
            }
        }
    })?;
    if answer.updates.len() != attackers.len() {
        return Err(ExecError::Count {
            round,
            expected: attackers.len(),
            got: answer.updates.len(),
        });
    }
    answer
        .updates
        .into_iter()
        .zip(attackers)
        .map(|(u, &slot)| {
            let Some(u) = u else { return Ok(None) };
            if u.len() != dim {
                return Err(ExecError::Length {
                    round,
                    slot,
                    expected: dim,
                    got: u.len(),
                });
            }
            u.iter()
                .enumerate()
                .map(|(index, &value)| {
                    let ok = value.fract() == 0.0
                        && (f64::from(i16::MIN)..=f64::from(i16::MAX)).contains(&value);
                    ok.then_some(value as i16).ok_or(ExecError::Value {
                        round,
                        slot,
                        index,
                        value,
                    })
                })
                .collect::<Result<Vec<i16>, _>>()
                .map(Some)
        })
        .collect()
}

/// Runs `sh -c CMD` in its own process group, reading stdout and stderr on threads so a
/// chatty program cannot fill a pipe; past the timeout the whole group is killed.
fn run(
    cfg: &ExecConfig,
    path: &std::path::Path,
    round: u32,
) -> Result<(std::process::ExitStatus, String, String), ExecError> {
    use std::os::unix::process::CommandExt;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(&cfg.command)
        .env(INPUT_ENV, path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|source| ExecError::Spawn {
            command: cfg.command.clone(),
            source,
        })?;
    let reader = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = reader(Box::new(child.stdout.take().expect("piped")));
    let err = reader(Box::new(child.stderr.take().expect("piped")));
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if start.elapsed() > cfg.timeout {
            // The group we started: the shell and whatever it ran.
            let pgid = child.id() as libc::pid_t;
            // SAFETY: kill(2) with a negative pid signals that process group only.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
            let _ = child.wait();
            return Err(ExecError::Timeout {
                command: cfg.command.clone(),
                secs: cfg.timeout.as_secs(),
                round,
            });
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    Ok((status, stdout, stderr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_checked_and_errors_name_what_is_wrong() {
        let ok = parse(r#"{"updates": [[1, -2, 3], null]}"#, 4, &[7, 8], 3).unwrap();
        assert_eq!(ok, vec![Some(vec![1, -2, 3]), None]);
        let err = |t: &str| parse(t, 4, &[7, 8], 3).unwrap_err();
        assert!(matches!(err("nope"), ExecError::NotJson { round: 4, .. }));
        assert!(matches!(
            err(r#"{"updates": [[1, NaN, 3], null]}"#),
            ExecError::NotFinite { round: 4 }
        ));
        assert!(matches!(
            err(r#"{"updates": [[1, 2, 3]]}"#),
            ExecError::Count {
                expected: 2,
                got: 1,
                ..
            }
        ));
        assert!(matches!(
            err(r#"{"updates": [[1, 2], null]}"#),
            ExecError::Length {
                slot: 7,
                expected: 3,
                got: 2,
                ..
            }
        ));
        for bad in ["1.5", "40000"] {
            let e = err(&format!(r#"{{"updates": [null, [1, {bad}, 3]]}}"#));
            assert!(
                matches!(
                    e,
                    ExecError::Value {
                        slot: 8,
                        index: 1,
                        ..
                    }
                ),
                "{bad}: {e}"
            );
        }
        assert!(err("nope").to_string().contains("not JSON"));
    }
}
