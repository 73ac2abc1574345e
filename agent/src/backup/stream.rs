//! Byte plumbing for [`super::pack`]: a writer that hashes and counts what passes through
//! it, and a file reader that yields exactly the size promised in a tar header.

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

/// Hashes and counts every byte written through it to `inner`.
pub(super) struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    written: u64,
}

impl<W: Write> HashingWriter<W> {
    pub(super) fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            written: 0,
        }
    }

    /// Flushes `inner` and returns the hex sha256 and the count of the bytes written.
    pub(super) fn finish(mut self) -> io::Result<(String, u64)> {
        self.inner.flush()?;
        Ok((hex::encode(self.hasher.finalize()), self.written))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        let done = buf.get(..n).unwrap_or(buf);
        self.hasher.update(done);
        self.written += done.len() as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Reads a file for a tar entry whose header promised `size` bytes, hashing what it yields.
///
/// It never yields more than `size` bytes (a file that grew is cut at the size it had when
/// the header was written) and never fewer: if the file shrinks or a read fails, the rest
/// is zero-filled and [`SizedSource::problem`] says so. It never returns an error other than
/// [`io::ErrorKind::Interrupted`], so an error out of the tar builder is always a write
/// error.
pub(super) struct SizedSource<R> {
    inner: R,
    size: u64,
    yielded: u64,
    from_file: u64,
    hasher: Sha256,
    problem: Option<String>,
}

impl<R: Read> SizedSource<R> {
    pub(super) fn new(inner: R, size: u64) -> Self {
        SizedSource {
            inner,
            size,
            yielded: 0,
            from_file: 0,
            hasher: Sha256::new(),
            problem: None,
        }
    }

    /// The hex sha256 of the bytes yielded, and why they differ from the file, if they do.
    pub(super) fn finish(self) -> (String, Option<String>) {
        (hex::encode(self.hasher.finalize()), self.problem)
    }
}

impl<R: Read> Read for SizedSource<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let remaining = self.size - self.yielded;
        let want = usize::try_from(remaining).map_or(buf.len(), |r| r.min(buf.len()));
        let Some(out) = buf.get_mut(..want) else {
            return Ok(0);
        };
        if out.is_empty() {
            return Ok(0);
        }
        let n = if self.problem.is_some() {
            0
        } else {
            match self.inner.read(out) {
                Ok(0) => {
                    self.problem = Some(format!(
                        "changed during backup: shrank to {} of {} bytes, rest zero-filled",
                        self.from_file, self.size
                    ));
                    0
                }
                Ok(n) => n.min(out.len()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
                Err(e) => {
                    self.problem = Some(format!(
                        "read error after {} of {} bytes, rest zero-filled: {e}",
                        self.from_file, self.size
                    ));
                    0
                }
            }
        };
        let n = if n == 0 {
            out.fill(0);
            out.len()
        } else {
            self.from_file += n as u64;
            n
        };
        let data = out.get(..n).unwrap_or_default();
        self.hasher.update(data);
        self.yielded += n as u64;
        Ok(n)
    }
}
