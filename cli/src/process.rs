//! Background processes the devnet owns: started in their own process group (so `down`
//! can stop a daemon and its children together), tracked by PID files, and never confused
//! with an unrelated process that reused a PID.

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Starts `cmd` detached from our terminal, with stdout and stderr appended to `log`.
pub fn spawn_logged(mut cmd: Command, log: &Path) -> std::io::Result<Child> {
    use std::os::unix::process::CommandExt;
    let out = File::options().create(true).append(true).open(log)?;
    let err = out.try_clone()?;
    cmd.stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
}

/// Whether `pid` is alive and its command line or environment contains `marker` (the
/// devnet's data directory), which guards against a PID reused by an unrelated process.
pub fn is_ours(pid: u32, marker: &str) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // A zombie has exited; it only waits to be reaped.
    if stat
        .rsplit(')')
        .next()
        .is_some_and(|rest| rest.trim_start().starts_with('Z'))
    {
        return false;
    }
    ["cmdline", "environ"].iter().any(|f| {
        std::fs::read(format!("/proc/{pid}/{f}"))
            .is_ok_and(|b| String::from_utf8_lossy(&b).contains(marker))
    })
}

fn signal_group(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) has no memory-safety preconditions; a negative pid names the group.
    unsafe {
        libc::kill(-(pid as libc::pid_t), sig);
    }
}

/// Stops the process group led by `pid`: SIGTERM, then SIGKILL after `grace`.
/// Returns true once nothing of it is left.
pub fn stop_group(pid: u32, marker: &str, grace: Duration) -> bool {
    if !is_ours(pid, marker) {
        return true;
    }
    signal_group(pid, libc::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if !is_ours(pid, marker) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    signal_group(pid, libc::SIGKILL);
    std::thread::sleep(Duration::from_millis(300));
    !is_ours(pid, marker)
}

/// A free TCP port on 127.0.0.1 (bound, then released for the daemon to take).
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Whether `port` on 127.0.0.1 can be bound right now.
pub fn port_is_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// The last `n` lines of a log, for error messages.
pub fn log_tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spawned_group_is_tracked_and_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("sleep.log");
        let mut cmd = Command::new("sh");
        // The child shell spawns a grandchild: stopping the group must take both.
        cmd.args(["-c", "sleep 300 & echo started; wait", "merit-test-marker"]);
        let mut child = spawn_logged(cmd, &log).unwrap();
        let pid = child.id();
        std::thread::sleep(Duration::from_millis(200));
        assert!(is_ours(pid, "merit-test-marker"));
        assert!(!is_ours(pid, "some-other-program"));
        assert!(
            stop_group(pid, "merit-test-marker", Duration::from_secs(5))
                || child.try_wait().unwrap().is_some()
        );
        let _ = child.wait();
        assert!(!is_ours(pid, "merit-test-marker"));
        assert!(log_tail(&log, 1).contains("started"));
    }

    #[test]
    fn port_checks_agree_with_reality() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let taken = l.local_addr().unwrap().port();
        assert!(!port_is_free(taken));
        drop(l);
        let p = free_port().unwrap();
        assert!(p > 0);
    }
}
