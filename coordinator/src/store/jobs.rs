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
