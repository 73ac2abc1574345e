//! Streaming: files that change while read never break the tar framing, and a large file
//! goes through in bounded chunks.

use std::io::{self, Read, Write};

use super::super::stream::SizedSource;
use super::super::{BUF_SIZE, BackupSpec, pack};
use super::{sha256, write_noise};

/// Yields `data`, then fails with `fail` if given, else ends.
struct Flaky {
    data: io::Cursor<Vec<u8>>,
    fail: Option<io::ErrorKind>,
}

impl Read for Flaky {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.data.read(buf)?;
        match self.fail {
            Some(kind) if n == 0 => Err(io::Error::new(kind, "disk on fire")),
            _ => Ok(n),
        }
    }
}

fn drain(data: &[u8], fail: Option<io::ErrorKind>, size: u64) -> (Vec<u8>, String, Option<String>) {
    let reader = Flaky {
        data: io::Cursor::new(data.to_vec()),
        fail,
    };
    let mut source = SizedSource::new(reader, size);
    let mut out = Vec::new();
    io::copy(&mut source, &mut out).unwrap();
    let (hash, problem) = source.finish();
    (out, hash, problem)
}

#[test]
fn a_file_that_grew_is_cut_at_the_header_size() {
    let (out, hash, problem) = drain(b"0123456789abcdef", None, 10);
    assert_eq!(out, b"0123456789");
    assert_eq!(hash, sha256(b"0123456789"));
    assert_eq!(problem, None);
}

#[test]
fn a_file_that_shrank_is_zero_filled_and_reported() {
    let (out, hash, problem) = drain(b"abc", None, 8);
    assert_eq!(out, b"abc\0\0\0\0\0");
    assert_eq!(hash, sha256(&out));
    let problem = problem.unwrap();
    assert_eq!(
        problem,
        "changed during backup: shrank to 3 of 8 bytes, rest zero-filled"
    );
}

#[test]
fn a_read_error_is_zero_filled_and_reported() {
    let (out, hash, problem) = drain(b"abc", Some(io::ErrorKind::Other), 6);
    assert_eq!(out, b"abc\0\0\0");
    assert_eq!(hash, sha256(&out));
    let problem = problem.unwrap();
    assert!(
        problem.starts_with("read error after 3 of 6 bytes"),
        "{problem}"
    );
}

#[test]
fn a_short_entry_keeps_the_archive_readable() {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(1000);
    let mut short = SizedSource::new(&b"only a little"[..], 1000);
    builder
        .append_data(&mut header, "short", &mut short)
        .unwrap();
    let mut header = tar::Header::new_gnu();
    header.set_size(5);
    builder
        .append_data(&mut header, "after", &b"after"[..])
        .unwrap();
    let bytes = builder.into_inner().unwrap();

    let mut archive = tar::Archive::new(bytes.as_slice());
    let mut seen = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        seen.push((
            entry.path().unwrap().to_str().unwrap().to_owned(),
            data.len(),
        ));
        if seen.len() == 2 {
            assert_eq!(data, b"after");
        }
    }
    assert_eq!(
        seen,
        vec![("short".to_owned(), 1000), ("after".to_owned(), 5)]
    );
}

/// Counts what it is given and keeps none of it.
#[derive(Default)]
struct Counter {
    bytes: u64,
    writes: u64,
    largest: usize,
}

impl Write for &mut Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes += buf.len() as u64;
        self.writes += 1;
        self.largest = self.largest.max(buf.len());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_large_file_streams_out_in_bounded_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.bin");
    let len: u64 = 64 << 20;
    write_noise(&big, len as usize, 0xb16);
    let spec = BackupSpec {
        paths: vec![big],
        exclude: vec![],
    };
    let mut counter = Counter::default();
    let report = pack(&spec, &mut counter).unwrap();
    assert_eq!(report.manifest.total_bytes(), len);
    assert_eq!(report.archive_bytes, counter.bytes);
    // Incompressible data: the archive is about as big as the file, yet it reached the
    // writer in many small pieces, never as one staged buffer.
    assert!(counter.bytes > len, "{} bytes", counter.bytes);
    assert!(
        counter.largest <= BUF_SIZE,
        "largest write {}",
        counter.largest
    );
    assert!(
        counter.writes >= len / BUF_SIZE as u64,
        "{} writes",
        counter.writes
    );
}

/// A writer that fails after `left` bytes.
struct Failing {
    left: usize,
}

impl Write for Failing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "peer went away"));
        }
        let n = buf.len().min(self.left);
        self.left -= n;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failing_writer_is_a_write_error() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.bin");
    write_noise(&big, 4 << 20, 7);
    let spec = BackupSpec {
        paths: vec![dir.path().to_path_buf()],
        exclude: vec![],
    };
    let err = pack(&spec, Failing { left: 1 << 20 }).unwrap_err();
    assert_eq!(err.to_string(), "writing the archive: peer went away");
}
