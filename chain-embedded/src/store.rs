//! The embedded chain in a file, shared between processes.
//!
//! The file holds the state trie's nodes (`TestExternalities::into_raw_snapshot`), its
//! root, and the best block's number and hash, SCALE-encoded behind a magic and a version.
//! A save writes a temporary file and renames it over, so a reader sees the old state or
//! the new one, never half of one; a process notices another's save by the file's inode, length and mtime.
//! `<file>.lock` is `flock`ed around every operation: shared to read, exclusive to write.

use merit_chain::ChainError;
use parity_scale_codec::{Decode, Encode};
use sp_core::H256;
use std::cell::Cell;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

const MAGIC: [u8; 8] = *b"MERITCHN";
const VERSION: u32 = 1;

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
        let mut bytes = MAGIC.to_vec();
        (VERSION, snap).encode_to(&mut bytes);
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

fn decode(bytes: &[u8]) -> Result<Snapshot, String> {
    let rest = bytes
        .strip_prefix(&MAGIC[..])
        .ok_or_else(|| "no MERITCHN header".to_string())?;
    let (version, snap) = <(u32, Snapshot)>::decode(&mut &rest[..]).map_err(|e| e.to_string())?;
    if version != VERSION {
        return Err(format!("version {version}, expected {VERSION}"));
    }
    Ok(snap)
}
