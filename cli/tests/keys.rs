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
