//! The history's raw tier and its per-minute fleet rows, outside sled: one file per closed
//! minute under `<data dir>/history-raw/`, written whole (a temporary file, fsync, rename)
//! and deleted whole when the minute leaves `keep_raw`. These are the only records the
//! history rewrites at heartbeat rate; in sled their inserts and range deletes left dead
//! segments behind faster than sled reclaimed them (BENCHMARKS.md, `history-growth`), so
//! the directory grew past the records. Here the space of a minute is freed the moment its
//! file is unlinked, and the raw tier on disk is at most `keep_raw` + 2 minutes of files.
//!
//! File `MINUTE-SEQ.min` (`MINUTE` the minute's start in unix ms; `SEQ` 0, or 1, 2, … when
//! a late sample closes the minute again):
//!
//! ```text
//! "CVH1" | u32 fleet_len | u32 dir_len                         (little-endian)
//! fleet:  per host: u8 len, host, u16 len, encoded 1-minute summary   (a fleet row)
//! dir:    per host: u8 len, host, u32 offset, u32 len              (into chunks)
//! chunks: per host: the minute's raw samples (`encode_chunk`)
//! ```
//!
//! A crash mid-write leaves a `.tmp` file, removed when the store opens; a minute whose
//! file was never renamed into place is lost (the minute that was open at the crash).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read as _, Write as _};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{Reader, put_fleet_entry, put_name};
use crate::store::StoreError;

const MAGIC: &[u8; 4] = b"CVH1";
const HEADER: usize = 12;

/// One host's entry of a minute file: host, encoded summary, encoded chunk.
pub(crate) type Entry<'a> = (&'a str, &'a [u8], &'a [u8]);

#[derive(Debug)]
pub(crate) struct RawFiles {
    dir: PathBuf,
    /// Minute start -> how many files it has (`SEQ` 0..n).
    files: Mutex<BTreeMap<i64, u32>>,
}

fn io_error(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::HistoryFile {
        path: path.display().to_string(),
        source,
    }
}

fn corrupt(path: &Path) -> StoreError {
    StoreError::CorruptHistory {
        tree: "history-raw",
        key: path.display().to_string(),
    }
}

fn parse_name(name: &str) -> Option<(i64, u32)> {
    let (minute, seq) = name.strip_suffix(".min")?.split_once('-')?;
    Some((minute.parse().ok()?, seq.parse().ok()?))
}

impl RawFiles {
    /// Opens (creating, 0700) the directory and lists its minutes; leftover `.tmp` files
    /// of an interrupted write are removed.
    pub(crate) fn open(dir: &Path) -> Result<Self, StoreError> {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| io_error(dir, e))?;
        let mut files: BTreeMap<i64, u32> = BTreeMap::new();
        for entry in std::fs::read_dir(dir).map_err(|e| io_error(dir, e))? {
            let entry = entry.map_err(|e| io_error(dir, e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".tmp") {
                let _ = std::fs::remove_file(entry.path());
            } else if let Some((minute, seq)) = parse_name(&name) {
                let n = files.entry(minute).or_default();
                *n = (*n).max(seq + 1);
            }
        }
        Ok(RawFiles {
            dir: dir.to_path_buf(),
            files: Mutex::new(files),
        })
    }

    fn path(&self, minute: i64, seq: u32) -> PathBuf {
        self.dir.join(format!("{minute}-{seq}.min"))
    }

    fn count(&self, minute: i64) -> u32 {
        let files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        files.get(&minute).copied().unwrap_or(0)
    }

    /// Writes one minute's file (another one if the minute already has some). One writer
    /// (the history task) calls this.
    pub(crate) fn write(&self, minute: i64, entries: &[Entry<'_>]) -> Result<(), StoreError> {
        let (mut fleet, mut dir, mut chunks) = (Vec::new(), Vec::new(), Vec::new());
        for (host, summary, chunk) in entries {
            put_fleet_entry(&mut fleet, host, summary);
            put_name(&mut dir, host);
            dir.extend_from_slice(&(chunks.len() as u32).to_le_bytes());
            dir.extend_from_slice(&(chunk.len() as u32).to_le_bytes());
            chunks.extend_from_slice(chunk);
        }
        let mut out = Vec::with_capacity(HEADER + fleet.len() + dir.len() + chunks.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(fleet.len() as u32).to_le_bytes());
        out.extend_from_slice(&(dir.len() as u32).to_le_bytes());
        out.append(&mut fleet);
        out.append(&mut dir);
        out.append(&mut chunks);
        let seq = self.count(minute);
        let path = self.path(minute, seq);
        let tmp = path.with_extension("tmp");
        let written = File::create(&tmp)
            .and_then(|mut f| f.write_all(&out).and_then(|()| f.sync_data()))
            .and_then(|()| std::fs::rename(&tmp, &path))
            .and_then(|()| File::open(&self.dir)?.sync_all());
        if let Err(err) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(io_error(&path, err));
        }
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        files.insert(minute, seq + 1);
        Ok(())
    }

    /// Opens a minute file and reads its header: `(file, fleet_len, dir_len)`; None if it
    /// was pruned meanwhile.
    fn open_file(&self, path: &Path) -> Result<Option<(File, usize, usize)>, StoreError> {
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(io_error(path, err)),
        };
        let mut header = [0u8; HEADER];
        file.read_exact(&mut header).map_err(|_| corrupt(path))?;
        let mut r = Reader(&header[4..]);
        match (&header[..4] == MAGIC, r.u32(), r.u32()) {
            (true, Some(fleet), Some(dir)) => Ok(Some((file, fleet as usize, dir as usize))),
            _ => Err(corrupt(path)),
        }
    }

    fn read_at(file: &File, path: &Path, at: usize, len: usize) -> Result<Vec<u8>, StoreError> {
        let mut buf = vec![0u8; len];
        file.read_exact_at(&mut buf, at as u64)
            .map_err(|_| corrupt(path))?;
        Ok(buf)
    }

    /// The fleet row of a minute (its files' fleet sections joined), if it has a file.
    pub(crate) fn fleet(&self, minute: i64) -> Result<Option<Vec<u8>>, StoreError> {
        let mut row: Option<Vec<u8>> = None;
        for seq in 0..self.count(minute) {
            let path = self.path(minute, seq);
            if let Some((file, fleet, _)) = self.open_file(&path)? {
                let part = Self::read_at(&file, &path, HEADER, fleet)?;
                row.get_or_insert_with(Vec::new).extend_from_slice(&part);
            }
        }
        Ok(row)
    }

    /// One host's encoded chunks of a minute (one per file that has the host).
    pub(crate) fn chunks(&self, minute: i64, host: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut out = Vec::new();
        for seq in 0..self.count(minute) {
            let path = self.path(minute, seq);
            let Some((file, fleet, dir_len)) = self.open_file(&path)? else {
                continue;
            };
            let dir = Self::read_at(&file, &path, HEADER + fleet, dir_len)?;
            let mut r = Reader(&dir);
            while !r.0.is_empty() {
                let name = r.name().ok_or_else(|| corrupt(&path))?;
                let (Some(at), Some(len)) = (r.u32(), r.u32()) else {
                    return Err(corrupt(&path));
                };
                if name == host {
                    let at = HEADER + fleet + dir_len + at as usize;
                    out.push(Self::read_at(&file, &path, at, len as usize)?);
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Deletes the files of every minute before `before`; returns how many minutes.
    pub(crate) fn prune(&self, before: i64) -> Result<usize, StoreError> {
        let old = {
            let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
            let kept = files.split_off(&before);
            std::mem::replace(&mut *files, kept)
        };
        for (&minute, &n) in &old {
            for seq in 0..n {
                let path = self.path(minute, seq);
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                    Err(err) => return Err(io_error(&path, err)),
                }
            }
        }
        Ok(old.len())
    }

    /// Bytes of raw chunks (with the header and directory) and of fleet rows, in the files.
    pub(crate) fn bytes(&self) -> Result<(u64, u64), StoreError> {
        let all: Vec<(i64, u32)> = {
            let files = self.files.lock().unwrap_or_else(|e| e.into_inner());
            files.iter().map(|(m, n)| (*m, *n)).collect()
        };
        let (mut raw, mut fleet_bytes) = (0u64, 0u64);
        for (minute, n) in all {
            for seq in 0..n {
                let path = self.path(minute, seq);
                if let Some((file, fleet, _)) = self.open_file(&path)? {
                    let len = file.metadata().map_err(|e| io_error(&path, e))?.len();
                    fleet_bytes += fleet as u64;
                    raw += len - fleet as u64;
                }
            }
        }
        Ok((raw, fleet_bytes))
    }
}
