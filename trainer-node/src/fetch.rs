//! Getting the UCI handwritten digits once, offline afterwards: the scikit-learn wheel on
//! PyPI ships them as `sklearn/datasets/data/digits.csv.gz` (1,797 rows, 64 features with
//! values 0..=16, then the label 0..=9; no header — exactly [`crate::data`]'s format).
//!
//! `pip download` fetches the pinned wheel into a temporary directory; the file is read out
//! of the wheel (a zip), gunzipped, and checked against the SHA-256 recorded here before it
//! is written.

use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The scikit-learn release whose wheel the digits come from.
pub const SKLEARN_VERSION: &str = "1.5.2";
/// The member of the wheel that holds the data.
pub const DIGITS_MEMBER: &str = "sklearn/datasets/data/digits.csv.gz";
/// SHA-256 of the *decompressed* CSV (264,712 bytes) in scikit-learn 1.5.2's wheels
/// (measured from `scikit_learn-1.5.2-cp311-cp311-manylinux_2_17_x86_64…whl`).
pub const DIGITS_SHA256: &str = "6ebb3d2fee246a4e99363262ddf8a00a3c41bee6014c373ed9d9216ba7f651b8";
pub const DIGITS_ROWS: usize = 1_797;
pub const DIGITS_INPUTS: usize = 64;
pub const DIGITS_CLASSES: usize = 10;

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
    #[error("pip left no scikit-learn wheel in {dir}")]
    NoWheel { dir: PathBuf },
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
    #[error("{DIGITS_MEMBER} in {wheel} has SHA-256 {found} once gunzipped, not the pinned {DIGITS_SHA256}")]
    Checksum { wheel: PathBuf, found: String },
}

/// Runs `python3 -m pip download scikit-learn==SKLEARN_VERSION` into a temporary
/// directory, extracts and verifies the digits, and writes them to `out` atomically (plain
/// CSV; gzipped if `out` ends in `.gz`). Returns the SHA-256 (hex) of the plain CSV.
pub fn fetch_digits(python: &str, out: &Path) -> Result<String, FetchError> {
    let tmp = tempfile_dir()?;
    let result = (|| {
        let wheel = pip_download(python, tmp.as_path())?;
        let csv = digits_from_wheel(&wheel)?;
        write_csv(out, &csv)?;
        Ok(sha256_hex(&csv))
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

fn tempfile_dir() -> Result<PathBuf, FetchError> {
    let dir = std::env::temp_dir().join(format!("merit-digits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|source| FetchError::Io {
        path: dir.clone(),
        source,
    })?;
    Ok(dir)
}

fn pip_download(python: &str, dir: &Path) -> Result<PathBuf, FetchError> {
    let args = [
        "-m".to_string(),
        "pip".into(),
        "download".into(),
        format!("scikit-learn=={SKLEARN_VERSION}"),
        "--no-deps".into(),
        "--only-binary=:all:".into(),
        "-d".into(),
        dir.display().to_string(),
    ];
    let command = format!("{python} {}", args.join(" "));
    tracing::info!(%command, "downloading the scikit-learn wheel");
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
                .is_some_and(|n| n.starts_with("scikit_learn-") && n.ends_with(".whl"))
        })
        .ok_or_else(|| FetchError::NoWheel { dir: dir.into() })
}

/// The digits CSV out of a scikit-learn wheel, gunzipped and checked against
/// [`DIGITS_SHA256`].
pub fn digits_from_wheel(wheel: &Path) -> Result<Vec<u8>, FetchError> {
    let zip_err = |source| FetchError::Zip {
        wheel: wheel.into(),
        source,
    };
    let file = std::fs::File::open(wheel).map_err(|source| FetchError::Io {
        path: wheel.into(),
        source,
    })?;
    let mut archive = zip::ZipArchive::new(file).map_err(zip_err)?;
    let member = archive.by_name(DIGITS_MEMBER).map_err(zip_err)?;
    let mut csv = Vec::new();
    flate2::read::GzDecoder::new(member)
        .read_to_end(&mut csv)
        .map_err(|source| FetchError::Io {
            path: wheel.join(DIGITS_MEMBER),
            source,
        })?;
    check_digits(wheel, &csv)?;
    Ok(csv)
}

fn check_digits(wheel: &Path, csv: &[u8]) -> Result<(), FetchError> {
    let found = sha256_hex(csv);
    if found != DIGITS_SHA256 {
        return Err(FetchError::Checksum {
            wheel: wheel.into(),
            found,
        });
    }
    Ok(())
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
