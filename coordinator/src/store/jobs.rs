//! Jobs, their commands, command output and the per-agent index of unfinished commands.
//! Writes are ordered so that replaying an agent's unacknowledged events after a crash is idempotent: output before the command record, the record before the
//! index.

use convoy_proto::v1::{CommandRecord, JobRecord};
use prost::Message;

use super::{Store, StoreError, decode};

/// Output keys: `<command id> 0x00 <offset, 16 hex digits>`.
fn output_key(command_id: &str, offset: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(command_id.len() + 17);
    key.extend_from_slice(command_id.as_bytes());
    key.push(0);
    key.extend_from_slice(format!("{offset:016x}").as_bytes());
    key
}

/// The stream offset a chunk's key names.
fn key_offset(key: &[u8]) -> Option<u64> {
    let hex = key.get(key.len().checked_sub(16)?..)?;
    u64::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
}

/// A page of stored output (see [`Store::output_page`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutputPage {
    pub data: Vec<u8>,
    /// All bytes stored for the command.
    pub stored: u64,
    /// `(stored position, bytes dropped)` where head and tail meet, if anything was dropped.
    pub gap: Option<(u64, u64)>,
}

fn output_prefix(command_id: &str) -> Vec<u8> {
    let mut key = command_id.as_bytes().to_vec();
    key.push(0);
    key
}

fn inflight_key(agent_id: &str, command_id: &str) -> Vec<u8> {
    let mut key = agent_id.as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(command_id.as_bytes());
    key
}

fn time_key(job: &JobRecord) -> Vec<u8> {
    let created = u64::try_from(job.created_unix_ms).unwrap_or(0);
    let mut key = created.to_be_bytes().to_vec();
    key.extend_from_slice(job.id.as_bytes());
    key
}

/// Where a page of [`Store::jobs_page`] starts: just older than this job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobCursor {
    pub created_unix_ms: i64,
    pub id: String,
}

impl JobCursor {
    /// `<created ms>.<job id>`, opaque to clients.
    pub fn token(&self) -> String {
        format!("{}.{}", self.created_unix_ms, self.id)
    }

    pub fn parse(token: &str) -> Option<JobCursor> {
        let (created, id) = token.split_once('.')?;
        Some(JobCursor {
            created_unix_ms: created.parse().ok()?,
            id: id.to_string(),
        })
    }
}

impl Store {
    /// Builds the creation-time index of a store written before it existed (once: an
    /// index with entries is left alone; `put_job` keeps it current).
    pub(super) fn index_jobs_by_time(&self) -> Result<(), StoreError> {
        if !self.jobs_by_time.is_empty() || self.jobs.is_empty() {
            return Ok(());
        }
        for item in self.jobs.iter() {
            let (key, raw) = item?;
            let job: JobRecord = decode("jobs", &key, &raw)?;
            self.jobs_by_time.insert(time_key(&job), &[])?;
        }
        Ok(())
    }

    /// Jobs newest first by creation time, starting below `after` (exclusive), keeping
    /// those `keep` accepts, at most `limit`; with the cursor of the next page when more
    /// may follow. Looks at no more than `scan` jobs, so a filter that rarely matches
    /// costs a bounded amount per page.
    pub fn jobs_page(
        &self,
        after: Option<&JobCursor>,
        limit: usize,
        scan: usize,
        mut keep: impl FnMut(&JobRecord) -> bool,
    ) -> Result<(Vec<JobRecord>, Option<JobCursor>), StoreError> {
        let upper = match after {
            Some(cursor) => {
                let mut key = u64::try_from(cursor.created_unix_ms)
                    .unwrap_or(0)
                    .to_be_bytes()
                    .to_vec();
                key.extend_from_slice(cursor.id.as_bytes());
                std::ops::Bound::Excluded(key)
            }
            None => std::ops::Bound::Unbounded,
        };
        let mut out = Vec::new();
        let mut last = None;
        for (scanned, item) in self
            .jobs_by_time
            .range::<Vec<u8>, _>((std::ops::Bound::Unbounded, upper))
            .rev()
            .enumerate()
        {
            let (key, _) = item?;
            if out.len() >= limit || scanned >= scan {
                return Ok((out, last));
            }
            let Some(id) = key.get(8..) else { continue };
            let id = String::from_utf8_lossy(id).into_owned();
            let Some(job) = self.job(&id)? else { continue };
            last = Some(JobCursor {
                created_unix_ms: job.created_unix_ms,
                id: job.id.clone(),
            });
            if keep(&job) {
                out.push(job);
            }
        }
        Ok((out, None))
    }

    pub fn put_job(&self, job: &JobRecord) -> Result<(), StoreError> {
        self.jobs.insert(job.id.as_bytes(), job.encode_to_vec())?;
        self.jobs_by_time.insert(time_key(job), &[])?;
        if !job.request_id.is_empty() {
            self.requests
                .insert(job.request_id.as_bytes(), job.id.as_bytes())?;
        }
        Ok(())
    }

    pub fn job(&self, id: &str) -> Result<Option<JobRecord>, StoreError> {
        self.jobs
            .get(id.as_bytes())?
            .map(|raw| decode("jobs", id.as_bytes(), &raw))
            .transpose()
    }

    /// The job an idempotency key created, if any.
    pub fn job_for_request(&self, request_id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .requests
            .get(request_id.as_bytes())?
            .map(|raw| String::from_utf8_lossy(&raw).into_owned()))
    }

    /// Every job with a command not yet terminal (loaded at start-up to resume them).
    pub fn unsettled_jobs(&self) -> Result<Vec<JobRecord>, StoreError> {
        let mut unsettled = Vec::new();
        for item in self.jobs.iter() {
            let (key, raw) = item?;
            let job: JobRecord = decode("jobs", &key, &raw)?;
            if !job.settled {
                unsettled.push(job);
            }
        }
        Ok(unsettled)
    }

    pub fn put_command(&self, command: &CommandRecord) -> Result<(), StoreError> {
        self.commands
            .insert(command.id.as_bytes(), command.encode_to_vec())?;
        Ok(())
    }

    pub fn command(&self, id: &str) -> Result<Option<CommandRecord>, StoreError> {
        self.commands
            .get(id.as_bytes())?
            .map(|raw| decode("commands", id.as_bytes(), &raw))
            .transpose()
    }

    /// Marks a command as one its agent must still be sent (or told to cancel).
    pub fn set_inflight(
        &self,
        agent_id: &str,
        command_id: &str,
        inflight: bool,
    ) -> Result<(), StoreError> {
        let key = inflight_key(agent_id, command_id);
        if inflight {
            self.inflight.insert(key, &[])?;
        } else {
            self.inflight.remove(key)?;
        }
        Ok(())
    }

    /// Unfinished commands released to `agent_id`.
    pub fn inflight_for(&self, agent_id: &str) -> Result<Vec<String>, StoreError> {
        let mut prefix = agent_id.as_bytes().to_vec();
        prefix.push(0);
        self.inflight
            .scan_prefix(&prefix)
            .map(|item| {
                let (key, _) = item?;
                Ok(String::from_utf8_lossy(&key[prefix.len()..]).into_owned())
            })
            .collect()
    }

    /// Stores one chunk of output at `offset` (idempotent: same offset, same key).
    pub fn put_output(&self, command_id: &str, offset: u64, data: &[u8]) -> Result<(), StoreError> {
        self.output.insert(output_key(command_id, offset), data)?;
        Ok(())
    }

    /// Appends `data`, the stream's bytes from offset `at`, to a command's output under
    /// `cap`: the first half of the cap is kept as the head, the last half as a rolling
    /// tail, and what falls between is dropped (the error is usually at the end). Keys are
    /// stream offsets, so the gap shows as a jump in them. Applying the same chunk twice
    /// (a replay after a crash) writes the same keys. Returns the bytes stored after it.
    pub fn append_output(
        &self,
        command_id: &str,
        at: u64,
        data: &[u8],
        cap: u64,
    ) -> Result<u64, StoreError> {
        let half = cap / 2;
        let tail_cap = cap - half;
        let end = at + data.len() as u64;
        if at < half {
            let n = usize::try_from((half - at).min(data.len() as u64)).unwrap_or(data.len());
            self.put_output(command_id, at, &data[..n])?;
        }
        let tail_from = at.max(half);
        if end > tail_from && tail_cap > 0 {
            let keep_from = tail_from.max(end.saturating_sub(tail_cap));
            let skip = usize::try_from(keep_from - at).unwrap_or(data.len());
            if skip < data.len() {
                self.put_output(command_id, keep_from, &data[skip..])?;
            }
            self.trim_tail(command_id, half, end.saturating_sub(tail_cap))?;
        }
        Ok(end.min(half) + end.saturating_sub(half).min(tail_cap))
    }

    /// Drops tail bytes before stream offset `keep_from` (never the head, below `half`).
    fn trim_tail(&self, command_id: &str, half: u64, keep_from: u64) -> Result<(), StoreError> {
        if keep_from <= half {
            return Ok(());
        }
        let old: Vec<(sled::IVec, sled::IVec)> = self
            .output
            .range(output_key(command_id, half)..output_key(command_id, keep_from))
            .collect::<Result<_, _>>()?;
        for (key, chunk) in old {
            let Some(offset) = key_offset(&key) else {
                continue;
            };
            self.output.remove(&key)?;
            let chunk_end = offset + chunk.len() as u64;
            if chunk_end > keep_from {
                let skip = usize::try_from(keep_from - offset).unwrap_or(chunk.len());
                self.output
                    .insert(output_key(command_id, keep_from), &chunk[skip..])?;
            }
        }
        Ok(())
    }

    /// One page of a command's stored output: up to `max` bytes from position `from` in
    /// the stored bytes (head then tail), and where (if anywhere) bytes were dropped:
    /// `(stored position of the gap, bytes dropped there)`.
    pub fn output_page(
        &self,
        command_id: &str,
        from: u64,
        max: usize,
    ) -> Result<OutputPage, StoreError> {
        let mut page = OutputPage::default();
        let mut position = 0u64;
        let mut expected = 0u64;
        for item in self.output.scan_prefix(output_prefix(command_id)) {
            let (key, chunk) = item?;
            let offset = key_offset(&key).unwrap_or(expected);
            if offset > expected && page.gap.is_none() {
                page.gap = Some((position, offset - expected));
            }
            expected = offset + chunk.len() as u64;
            let start = position;
            position += chunk.len() as u64;
            if position <= from || page.data.len() >= max {
                continue;
            }
            let skip = usize::try_from(from.saturating_sub(start)).unwrap_or(chunk.len());
            let room = max - page.data.len();
            let piece = &chunk[skip..];
            page.data.extend_from_slice(&piece[..piece.len().min(room)]);
        }
        page.stored = position;
        Ok(page)
    }

    /// A command's whole stored output.
    pub fn output(&self, command_id: &str) -> Result<Vec<u8>, StoreError> {
        let mut all = Vec::new();
        for item in self.output.scan_prefix(output_prefix(command_id)) {
            let (_, chunk) = item?;
            all.extend_from_slice(&chunk);
        }
        Ok(all)
    }

    /// The last `max` bytes of a command's stored output.
    pub fn output_tail(&self, command_id: &str, max: usize) -> Result<Vec<u8>, StoreError> {
        let mut chunks = Vec::new();
        let mut size = 0;
        for item in self.output.scan_prefix(output_prefix(command_id)).rev() {
            let (_, chunk) = item?;
            size += chunk.len();
            chunks.push(chunk);
            if size >= max {
                break;
            }
        }
        let mut tail: Vec<u8> = chunks
            .iter()
            .rev()
            .flat_map(|c| c.iter().copied())
            .collect();
        if tail.len() > max {
            tail.drain(..tail.len() - max);
        }
        Ok(tail)
    }
}

#[cfg(test)]
mod tests;
