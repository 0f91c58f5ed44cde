//! The embedded chain in a file, shared between processes.
//!
//! The file holds the state trie's nodes (`TestExternalities::into_raw_snapshot`), its
//! root, and the best block's number and hash, SCALE-encoded behind a magic, a version and
//! a BLAKE2-256 checksum of the encoding: a file damaged on disk is refused by name instead
//! of loading as a silently different chain (version 1 files, without the checksum, still
//! load).
//! A save writes a temporary file and renames it over, so a reader sees the old state or
//! the new one, never half of one; a process notices another's save by the file's inode, length and mtime.
//! `<file>.lock` is `flock`ed around every operation: shared to read, exclusive to write.

use merit_chain::ChainError;
use parity_scale_codec::{Decode, DecodeAll, Encode};
use sp_core::H256;
use std::cell::Cell;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

const MAGIC: [u8; 8] = *b"MERITCHN";
/// 2: a checksum follows the version. 1: none.
const VERSION: u32 = 2;

/// Trie nodes with their reference counts, as `into_raw_snapshot` gives them.
pub type RawNodes = Vec<(Vec<u8>, (Vec<u8>, i32))>;

#[derive(Encode, Decode)]
pub struct Snapshot {
    pub best: u32,
    pub best_hash: H256,
    pub root: H256,
    pub raw: RawNodes,
}

pub struct ChainFile {
    path: PathBuf,
    lock_path: PathBuf,
    /// Identity of the file whose state is loaded: device, inode, length, mtime.
    loaded: Cell<Option<FileId>>,
}

type FileId = (u64, u64, u64, i64, i64);

fn file_id(m: &std::fs::Metadata) -> FileId {
    (m.dev(), m.ino(), m.len(), m.mtime(), m.mtime_nsec())
}

/// Holds the lock until dropped.
pub struct Guard(std::fs::File);

impl Drop for Guard {
    fn drop(&mut self) {
        // SAFETY: flock on a file descriptor this guard owns.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

fn error(path: &Path, what: &str, detail: impl std::fmt::Display) -> ChainError {
    ChainError::Dispatch {
        call: format!("embedded chain file {}", path.display()),
        detail: format!("{what}: {detail}"),
    }
}

impl ChainFile {
    pub fn new(path: &Path) -> Self {
        let mut lock = path.as_os_str().to_owned();
        lock.push(".lock");
        Self {
            path: path.to_path_buf(),
            lock_path: lock.into(),
            loaded: Cell::new(None),
        }
    }

    pub fn lock(&self, exclusive: bool) -> Result<Guard, ChainError> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| error(&self.path, "creating its directory", e))?;
        }
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock_path)
            .map_err(|e| error(&self.lock_path, "opening the lock", e))?;
        let op = if exclusive {
            libc::LOCK_EX
        } else {
            libc::LOCK_SH
        };
        // SAFETY: flock on a file descriptor we own; blocks until granted.
        if unsafe { libc::flock(f.as_raw_fd(), op) } != 0 {
            return Err(error(
                &self.lock_path,
                "locking",
                std::io::Error::last_os_error(),
            ));
        }
        Ok(Guard(f))
    }

    /// The saved state, if the file exists and is not the one loaded last.
    pub fn load_if_changed(&self) -> Result<Option<Snapshot>, ChainError> {
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(error(&self.path, "reading", e)),
        };
        let id = file_id(&meta);
        if self.loaded.get() == Some(id) {
            return Ok(None);
        }
        let bytes = std::fs::read(&self.path).map_err(|e| error(&self.path, "reading", e))?;
        let snap = decode(&bytes).map_err(|e| error(&self.path, "not a Merit chain file", e))?;
        self.loaded.set(Some(id));
        Ok(Some(snap))
    }

    pub fn save(&self, snap: &Snapshot) -> Result<(), ChainError> {
        let tmp = self.path.with_extension("tmp");
        let bytes = encode(snap);
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        };
        write().map_err(|e| error(&self.path, "saving", e))?;
        let meta = std::fs::metadata(&self.path).map_err(|e| error(&self.path, "reading", e))?;
        self.loaded.set(Some(file_id(&meta)));
        Ok(())
    }
}

fn encode(snap: &Snapshot) -> Vec<u8> {
    let body = snap.encode();
    let mut bytes = MAGIC.to_vec();
    VERSION.encode_to(&mut bytes);
    bytes.extend_from_slice(&sp_core::hashing::blake2_256(&body));
    bytes.extend_from_slice(&body);
    bytes
}

fn decode(bytes: &[u8]) -> Result<Snapshot, String> {
    let mut rest = bytes
        .strip_prefix(&MAGIC[..])
        .ok_or_else(|| "no MERITCHN header".to_string())?;
    let version = u32::decode(&mut rest).map_err(|e| e.to_string())?;
    let body = match version {
        1 => rest,
        VERSION => {
            let (sum, body) = rest
                .split_first_chunk::<32>()
                .ok_or_else(|| "truncated before its checksum".to_string())?;
            if sp_core::hashing::blake2_256(body) != *sum {
                return Err(format!(
                    "checksum mismatch: the file is damaged ({} bytes of state)",
                    body.len()
                ));
            }
            body
        }
        v => return Err(format!("version {v}, expected {VERSION} (or 1)")),
    };
    Snapshot::decode_all(&mut &body[..]).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Snapshot {
        Snapshot {
            best: 7,
            best_hash: H256::repeat_byte(1),
            root: H256::repeat_byte(2),
            raw: (0..50u8)
                .map(|i| (vec![i; 40], (vec![i.wrapping_mul(3); 90], 1)))
                .collect(),
        }
    }

    #[test]
    fn a_saved_file_reads_back() {
        let snap = snapshot();
        let back = decode(&encode(&snap)).unwrap();
        assert_eq!((back.best, back.root, back.raw), (7, snap.root, snap.raw));
    }

    #[test]
    fn flipped_bytes_anywhere_in_the_state_are_refused_by_name() {
        let good = encode(&snapshot());
        let mid = good.len() / 2;
        for range in [mid..mid + 64, good.len() - 1..good.len(), 44..45] {
            let mut bad = good.clone();
            for b in &mut bad[range.clone()] {
                *b ^= 0xff;
            }
            let e = decode(&bad).err().expect("damage is noticed");
            assert!(e.contains("checksum mismatch"), "{range:?}: {e}");
        }
    }

    #[test]
    fn truncated_and_trailing_bytes_are_refused() {
        let good = encode(&snapshot());
        assert!(decode(&good[..good.len() - 10]).is_err());
        assert!(decode(&good[..20]).is_err());
        let mut longer = good.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
    }

    #[test]
    fn version_1_files_without_a_checksum_still_load() {
        let snap = snapshot();
        let mut v1 = MAGIC.to_vec();
        (1u32, &snap).encode_to(&mut v1);
        assert_eq!(decode(&v1).unwrap().raw, snap.raw);
    }

    #[test]
    fn a_damaged_file_is_refused_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.state");
        std::fs::write(&path, {
            let mut b = encode(&snapshot());
            let mid = b.len() / 2;
            b[mid] ^= 1;
            b
        })
        .unwrap();
        let e = crate::EmbeddedChain::open(&path).err().expect("refused");
        let text = e.to_string();
        assert!(
            text.contains("chain.state") && text.contains("checksum"),
            "{text}"
        );
    }
}
