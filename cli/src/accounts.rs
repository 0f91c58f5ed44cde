//! Who signs and who is named on the command line: the dev accounts by name (`alice`) or
//! as secret URIs (`//Alice`, `//Bob//stash`), a secret kept in a private file
//! (`file:PATH`: a secret URI, a mnemonic, a `0x` seed, or a polkadot-js JSON keystore,
//! whose password comes from the environment, a private file or a prompt) or
//! in the environment (`env:NAME`), and SS58 addresses where only an account is needed.
//!
//! A secret is never echoed: errors name where it came from (`--key`, `file:PATH`,
//! `env:NAME`), not what it is. A secret typed on the command line itself is accepted, with
//! a warning: other users of the machine see it in `ps`, and the shell keeps it.

use merit_chain::client::account_of;
use merit_chain::{AccountId32, Signer};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Environment variable holding a JSON keystore's password.
pub const PASSWORD_ENV: &str = "MERIT_KEY_PASSWORD";
/// Environment variable naming a private file that holds a JSON keystore's password.
pub const PASSWORD_FILE_ENV: &str = "MERIT_KEY_PASSWORD_FILE";

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{source_name} is neither a dev account name (alice … ferdie) nor a secret URI, a mnemonic or a 0x seed ({problem}); the secret itself is not shown")]
    BadKey {
        /// Where the secret came from: `--key`, `file:PATH`, `env:NAME`.
        source_name: String,
        problem: String,
    },
    #[error("{0:?} is neither a dev account name, a secret URI nor an SS58 address")]
    BadAccount(String),
    #[error("reading the key file {path}")]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the key file {path} can be read by other users (mode {mode:o}): keep it private to you (chmod 600 {path})")]
    NotPrivate { path: PathBuf, mode: u32 },
    #[error("the environment variable {0} holding the key is not set (or not UTF-8)")]
    NoEnv(String),
    #[error("{path} is a polkadot-js keystore: give its password in ${PASSWORD_ENV}, or a private file holding it in ${PASSWORD_FILE_ENV}, or run on a terminal to be asked for it")]
    NoPassword { path: PathBuf },
    #[error("the keystore {path} does not open with the password given, or is not a polkadot-js sr25519 keystore with scrypt N = 2^15 (polkadot-js 13 writes N = 2^17, which the signer library, subxt-signer 0.38, does not read yet): {problem}")]
    Keystore { path: PathBuf, problem: String },
}

/// Where a signing key's secret comes from, as `--key`/`--from` name it.
enum KeySource<'a> {
    /// `file:PATH`.
    File(&'a Path),
    /// `env:NAME`.
    Env(&'a str),
    /// The flag's value itself.
    Inline(&'a str),
}

impl<'a> KeySource<'a> {
    fn parse(s: &'a str) -> Self {
        if let Some(path) = s.strip_prefix("file:") {
            Self::File(Path::new(path))
        } else if let Some(name) = s.strip_prefix("env:") {
            Self::Env(name)
        } else {
            Self::Inline(s)
        }
    }
}

/// A signing key: a dev account name, `file:PATH`, `env:NAME`, else a secret URI
/// (`//Alice`, a mnemonic, a `0x` seed). A secret other than a dev account's given inline
/// is used, with a warning on stderr.
pub fn signer(s: &str) -> Result<Signer, AccountError> {
    if let Ok(k) = merit_chain::dev_signer(s) {
        return Ok(k);
    }
    match KeySource::parse(s) {
        KeySource::File(path) => {
            let text = read_private(path)?;
            if text.trim_start().starts_with('{') {
                return keystore(path, &text);
            }
            from_secret(text.trim(), &format!("file:{}", path.display()))
        }
        KeySource::Env(name) => {
            let secret =
                crate::env::secret(name).ok_or_else(|| AccountError::NoEnv(name.into()))?;
            from_secret(secret.trim(), &format!("env:{name}"))
        }
        KeySource::Inline(secret) => {
            let k = from_secret(secret, "the key given on the command line")?;
            if !is_dev_uri(secret) {
                eprintln!(
                    "warning: a secret given on the command line is visible to other users (ps) \
                     and kept in your shell's history; pass file:PATH (a file only you can read) \
                     or env:NAME instead"
                );
            }
            Ok(k)
        }
    }
}

/// A secret URI with no phrase (`//Alice`, `//Bob//stash`) derives from the public dev
/// phrase: nothing to hide.
fn is_dev_uri(s: &str) -> bool {
    s.starts_with("//") && !s.contains(char::is_whitespace)
}

fn from_secret(secret: &str, source_name: &str) -> Result<Signer, AccountError> {
    let bad = |problem: String| AccountError::BadKey {
        source_name: source_name.into(),
        problem,
    };
    // The parsers' own messages can quote their input: keep only what kind of failure it was.
    let uri =
        subxt_signer::SecretUri::from_str(secret).map_err(|_| bad("not a secret URI".into()))?;
    subxt_signer::sr25519::Keypair::from_uri(&uri).map_err(|_| bad("no key derives from it".into()))
}

/// Reads a file that only its owner may read (on Unix: no group or other permission bits).
fn read_private(path: &Path) -> Result<String, AccountError> {
    let read_err = |source| AccountError::ReadFile {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(AccountError::NotPrivate {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    std::fs::read_to_string(path).map_err(read_err)
}

/// Opens a polkadot-js JSON keystore (sr25519, scrypt + xsalsa20-poly1305) with the
/// password from the environment, a private file, or (on a terminal) a prompt.
fn keystore(path: &Path, json: &str) -> Result<Signer, AccountError> {
    let password = match (
        crate::env::secret(PASSWORD_ENV),
        crate::env::secret(PASSWORD_FILE_ENV),
    ) {
        (Some(p), _) => p,
        (None, Some(file)) => read_private(Path::new(&file))?
            .trim_end_matches(['\r', '\n'])
            .to_string(),
        (None, None) => match prompt_password(path) {
            Some(p) => p,
            None => {
                return Err(AccountError::NoPassword {
                    path: path.to_path_buf(),
                })
            }
        },
    };
    subxt_signer::polkadot_js_compat::decrypt_json(json, &password).map_err(|e| {
        AccountError::Keystore {
            path: path.to_path_buf(),
            problem: e.to_string(),
        }
    })
}

/// Asks for the keystore's password on the terminal, without echoing it; `None` when
/// standard input is not a terminal (a service, a pipe) or the answer cannot be read.
fn prompt_password(path: &Path) -> Option<String> {
    use std::io::{BufRead, IsTerminal, Write};
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return None;
    }
    eprint!("password for the keystore {}: ", path.display());
    std::io::stderr().flush().ok()?;
    let echo_off = EchoOff::new();
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    drop(echo_off);
    eprintln!();
    read.ok()?;
    Some(line.trim_end_matches(['\r', '\n']).to_string())
}

/// The terminal's echo turned off while it lives, restored when dropped.
struct EchoOff(Option<libc::termios>);

impl EchoOff {
    fn new() -> Self {
        // SAFETY: tcgetattr/tcsetattr on standard input with a zeroed termios that
        // tcgetattr fills; on any failure nothing is changed.
        unsafe {
            let mut term: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(libc::STDIN_FILENO, &mut term) != 0 {
                return Self(None);
            }
            let saved = term;
            term.c_lflag &= !libc::ECHO;
            if libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &term) != 0 {
                return Self(None);
            }
            Self(Some(saved))
        }
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if let Some(saved) = &self.0 {
            // SAFETY: restores the settings tcgetattr returned above.
            unsafe {
                libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, saved);
            }
        }
    }
}

/// An account: whatever [`signer`] takes, or an SS58 address.
pub fn account(s: &str) -> Result<AccountId32, AccountError> {
    if let Ok(k) = merit_chain::dev_signer(s) {
        return Ok(account_of(&k));
    }
    if let Ok(a) = s.parse::<AccountId32>() {
        return Ok(a);
    }
    match signer(s) {
        Ok(k) => Ok(account_of(&k)),
        Err(AccountError::BadKey { .. }) => Err(AccountError::BadAccount(s.into())),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A polkadot-js keystore of a throwaway account (the dev phrase with `//merit-test`,
    /// password below), encrypted by `@polkadot/util-crypto` 13 with scrypt N = 2^15, the
    /// parameters the signer library reads; and the same account as polkadot-js 13's
    /// `pair.toJson` writes it today, with N = 2^17, which it does not.
    const KEYSTORE: &str = include_str!("../tests/fixtures/keystore.json");
    const KEYSTORE_N17: &str = include_str!("../tests/fixtures/keystore-n17.json");
    const KEYSTORE_PASSWORD: &str = "correct horse battery staple";
    const KEYSTORE_ADDRESS: &str = "5EqdBsbySvi786WjvZh3zyGyep8XiApjyZ4b3qLS7oCyXiT7";
    /// Not a dev account: the secret the tests make sure is never echoed.
    const SECRET: &str = "0x4f2c1d9a8b7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a";

    fn private_file(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        path
    }

    #[test]
    fn dev_names_uris_and_addresses_name_the_same_account() {
        let alice = account("alice").unwrap();
        assert_eq!(account("//Alice").unwrap(), alice);
        assert_eq!(account("Alice").unwrap(), alice);
        assert_eq!(account(&alice.to_string()).unwrap(), alice);
        assert_ne!(account("//Alice//stash").unwrap(), alice);
        assert!(is_dev_uri("//Bob//stash") && !is_dev_uri(SECRET));
    }

    #[test]
    fn nonsense_is_refused_by_name() {
        let e = signer("not a key").unwrap_err().to_string();
        assert!(
            e.contains("command line") && e.contains("dev account"),
            "{e}"
        );
        assert!(!e.contains("not a key"), "the secret is echoed: {e}");
        let e = account("5Gxx").unwrap_err().to_string();
        assert!(e.contains("SS58"), "{e}");
    }

    #[test]
    fn a_key_file_must_be_private_and_its_secret_is_never_echoed() {
        let dir = tempfile::tempdir().unwrap();
        let open = private_file(dir.path(), "open.key", SECRET, 0o644);
        let e = signer(&format!("file:{}", open.display())).unwrap_err();
        assert!(
            matches!(e, AccountError::NotPrivate { mode: 0o644, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("chmod 600"), "{e}");
        let private = private_file(dir.path(), "private.key", &format!("{SECRET}\n"), 0o600);
        let from_file = signer(&format!("file:{}", private.display())).unwrap();
        let inline = from_secret(SECRET, "test").unwrap();
        assert_eq!(account_of(&from_file), account_of(&inline));
        // A bad secret in a file: named by where it is, not by what it is.
        let wrong = "0x4f2c1d9a8b7e6f5a4b3c2d1e0f9a8b7c";
        let bad = private_file(dir.path(), "bad.key", wrong, 0o600);
        let e = signer(&format!("file:{}", bad.display()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("bad.key") && !e.contains(wrong), "{e}");
        let e = signer(&format!("file:{}", dir.path().join("none").display()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("reading the key file"), "{e}");
    }

    #[test]
    fn a_key_from_the_environment() {
        std::env::set_var("MERIT_TEST_KEY_ACCOUNTS", SECRET);
        let k = signer("env:MERIT_TEST_KEY_ACCOUNTS").unwrap();
        assert_eq!(
            account_of(&k),
            account_of(&from_secret(SECRET, "t").unwrap())
        );
        let e = signer("env:MERIT_TEST_KEY_UNSET_ACCOUNTS").unwrap_err();
        assert!(matches!(e, AccountError::NoEnv(_)), "{e}");
    }

    #[test]
    fn a_polkadot_js_keystore_opens_with_its_password_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = private_file(dir.path(), "trainer.json", KEYSTORE, 0o600);
        let right = private_file(dir.path(), "right.pw", KEYSTORE_PASSWORD, 0o600);
        let wrong = private_file(dir.path(), "wrong.pw", "Tr0ub4dor&3", 0o600);
        let source = format!("file:{}", path.display());
        // Each case sets the variable it needs (tests in this module use no other).
        std::env::remove_var(PASSWORD_ENV);
        std::env::remove_var(PASSWORD_FILE_ENV);
        let e = signer(&source).unwrap_err();
        assert!(matches!(e, AccountError::NoPassword { .. }), "{e}");
        std::env::set_var(PASSWORD_FILE_ENV, &wrong);
        let e = signer(&source).unwrap_err();
        assert!(matches!(e, AccountError::Keystore { .. }), "{e}");
        assert!(e.to_string().contains("does not open"), "{e}");
        std::env::set_var(PASSWORD_FILE_ENV, &right);
        let k = signer(&source).unwrap();
        assert_eq!(account_of(&k).to_string(), KEYSTORE_ADDRESS);
        let newer = private_file(dir.path(), "n17.json", KEYSTORE_N17, 0o600);
        let e = signer(&format!("file:{}", newer.display())).unwrap_err();
        assert!(e.to_string().contains("N: 131072"), "{e}");
        std::env::remove_var(PASSWORD_FILE_ENV);
    }
}
