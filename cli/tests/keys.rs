//! Secrets through the real binary: a key from a private file, a key file others can read,
//! and a secret typed on the command line (accepted with a warning). Whatever happens, the
//! secret never appears in what `merit` prints. No chain is needed: each run stops at the
//! update file it is given, which is not there.

use std::path::Path;
use std::process::Command;

/// Not a dev account's: the value that must never be printed.
const SECRET: &str = "0x7d1c9b2a4e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70819";

fn answer_with(dir: &Path, key: &str) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_merit"))
        .arg("--data-dir")
        .arg(dir.join("net"))
        .args(["trainer", "answer", "--project", "0", "--slot", "0"])
        .arg("--update")
        .arg(dir.join("missing.mdl"))
        .args(["--key", key])
        .env_remove("MERIT_CONFIG")
        .env("NO_COLOR", "1")
        .output()
        .expect("merit runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !text.contains(&SECRET[2..20]),
        "the secret was printed:\n{text}"
    );
    (out.status.code(), text)
}

fn key_file(dir: &Path, name: &str, mode: u32) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("{SECRET}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    format!("file:{}", path.display())
}

#[test]
fn secrets_come_from_private_files_and_are_never_printed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();

    let (status, text) = answer_with(dir, &key_file(dir, "open.key", 0o644));
    assert_eq!(status, Some(2), "{text}");
    assert!(
        text.contains("can be read by other users") && text.contains("chmod 600"),
        "{text}"
    );

    // A private file: the key is taken, the run goes on to the (missing) update file.
    let (status, text) = answer_with(dir, &key_file(dir, "private.key", 0o600));
    assert_eq!(status, Some(2), "{text}");
    assert!(
        text.contains("missing.mdl") && !text.contains("warning"),
        "{text}"
    );

    // On the command line: taken, with a warning.
    let (status, text) = answer_with(dir, SECRET);
    assert_eq!(status, Some(2), "{text}");
    assert!(
        text.contains("warning: a secret given on the command line"),
        "{text}"
    );
    assert!(text.contains("missing.mdl"), "{text}");

    // One that is not a key: refused without repeating it.
    let (status, text) = answer_with(dir, &SECRET[..40]);
    assert_eq!(status, Some(2), "{text}");
    assert!(text.contains("the secret itself is not shown"), "{text}");

    // Dev accounts stay as easy as ever: no warning for //Bob.
    let (_, text) = answer_with(dir, "//Bob");
    assert!(!text.contains("warning"), "{text}");
}

/// A keystore with no password in the environment is asked for one on the terminal, and
/// what is typed is not echoed. Runs under `script` (util-linux), which gives `merit` a
/// terminal; skipped where `script` is not installed.
#[test]
fn a_keystore_password_is_asked_on_a_terminal_without_echo() {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("SKIPPED: `script` (util-linux) is not installed here");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let keystore = dir.join("dave.json");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keystore-dave.json"),
        &keystore,
    )
    .unwrap();
    std::fs::set_permissions(&keystore, std::fs::Permissions::from_mode(0o600)).unwrap();
    let typed = |password: &str| {
        let command = format!(
            "{} --data-dir {} trainer answer --project 0 --slot 0 --update {} --key file:{}",
            env!("CARGO_BIN_EXE_merit"),
            dir.join("net").display(),
            dir.join("missing.mdl").display(),
            keystore.display()
        );
        let mut child = Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .env_remove("MERIT_KEY_PASSWORD")
            .env_remove("MERIT_KEY_PASSWORD_FILE")
            .env_remove("MERIT_CONFIG")
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("script runs");
        // Typed once the prompt is up: before it, the terminal would still echo.
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut stdout = child.stdout.take().unwrap();
        let reader = {
            let seen = seen.clone();
            std::thread::spawn(move || {
                use std::io::Read;
                let mut buf = [0u8; 256];
                while let Ok(n) = stdout.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    seen.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            })
        };
        let shown = || String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
        let started = std::time::Instant::now();
        while !shown().contains("password for the keystore") {
            assert!(started.elapsed().as_secs() < 120, "no prompt: {}", shown());
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{password}").unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        reader.join().unwrap();
        let text = format!("{}{}", shown(), String::from_utf8_lossy(&out.stderr));
        assert!(!text.contains(password), "the password was echoed:\n{text}");
        text
    };
    // The right password opens it: the run goes on to the (missing) update file.
    let text = typed("dave keystore password");
    assert!(
        text.contains("password for the keystore") && text.contains("missing.mdl"),
        "{text}"
    );
    // A wrong one is refused by name.
    let text = typed("not the password");
    assert!(
        text.contains("does not open with the password given"),
        "{text}"
    );
}
