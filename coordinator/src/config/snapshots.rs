//! `[snapshots]` in coordinator.toml: scheduled snapshots of the coordinator's own state
//! (`convoy snapshot save` run by the coordinator itself), written to `dir`, the `keep`
//! newest kept, each followed by a drill unless `drill = false`. Off unless `schedule` is set.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// `[snapshots]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct SnapshotsConfig {
    /// A cron expression (UTC, five fields, or six with seconds), as backup schedules. Empty:
    /// no scheduled snapshots.
    pub schedule: String,
    /// Snapshots kept in `dir` (the newest; older ones are deleted after a new one is
    /// written). At least 1.
    pub keep: u32,
    /// Where scheduled snapshots go (`snapshot-<UTC time>.tar.zst`). Relative paths are
    /// taken from the config file's directory. Required with `schedule`; must not be inside
    /// `data_dir`.
    pub dir: Option<PathBuf>,
    /// Leave the artifact and backup blobs out (their manifest is kept), as `--no-blobs`.
    pub no_blobs: bool,
    /// Drill each scheduled snapshot right after it is written (restore into a temp dir,
    /// open it with a scratch coordinator on loopback, check counts and hashes).
    pub drill: bool,
}

impl Default for SnapshotsConfig {
    fn default() -> Self {
        Self {
            schedule: String::new(),
            keep: 7,
            dir: None,
            no_blobs: false,
            drill: true,
        }
    }
}

impl SnapshotsConfig {
    /// Checks the section and resolves `dir` against `base` (the config file's directory).
    pub fn resolved(
        mut self,
        resolve: impl Fn(PathBuf) -> PathBuf,
        data_dir: &Path,
    ) -> Result<Self, String> {
        if self.schedule.is_empty() {
            return Ok(self);
        }
        crate::backups::schedule::check_cron(&self.schedule)
            .map_err(|err| format!("snapshots.schedule: {err}"))?;
        if self.keep == 0 {
            return Err("snapshots.keep must be at least 1".into());
        }
        let Some(dir) = self.dir.take() else {
            return Err("snapshots.dir is required when snapshots.schedule is set".into());
        };
        let dir = resolve(dir);
        if dir.starts_with(data_dir) {
            return Err(format!(
                "snapshots.dir ({}) must not be inside data_dir: a snapshot kept with the \
                 state it copies is lost with it",
                dir.display()
            ));
        }
        self.dir = Some(dir);
        Ok(self)
    }

    /// Whether scheduled snapshots are on.
    pub fn enabled(&self) -> bool {
        !self.schedule.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SnapshotsConfig, String> {
        let raw: SnapshotsConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        raw.resolved(
            |p| Path::new("/etc/convoy").join(p),
            Path::new("/var/lib/convoy"),
        )
    }

    #[test]
    fn checks_and_resolves() {
        let config = parse("schedule = '0 3 * * *'\nkeep = 3\ndir = 'snaps'").unwrap();
        assert_eq!(config.dir.as_deref(), Some(Path::new("/etc/convoy/snaps")));
        assert!(config.enabled() && config.drill);
        assert!(!parse("").unwrap().enabled());
        for (bad, says) in [
            ("schedule = 'nope'\ndir = '/x'", "invalid cron"),
            ("schedule = '0 3 * * *'", "dir is required"),
            ("schedule = '0 3 * * *'\ndir = '/x'\nkeep = 0", "at least 1"),
            (
                "schedule = '0 3 * * *'\ndir = '/var/lib/convoy/s'",
                "inside data_dir",
            ),
            (
                "schedule = '0 3 * * *'\ndir = '/x'\nkept = 1",
                "unknown field",
            ),
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
