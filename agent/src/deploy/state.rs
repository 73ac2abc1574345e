//! An app's state on disk: the `current` symlink (switched atomically by rename), the kept
//! releases, and a small state file with the previous release and the last health result.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

const STATE_FILE: &str = "state.toml";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AppState {
    pub(crate) previous: Option<String>,
    pub(crate) healthy: bool,
}

impl AppState {
    /// The saved state, or the default (nothing deployed) when there is none.
    pub(crate) fn load(app_dir: &Path) -> Self {
        std::fs::read_to_string(app_dir.join(STATE_FILE))
            .ok()
            .and_then(|text| toml::from_str(&text).ok())
            .unwrap_or_default()
    }

    /// Written (mode 0600) to a temporary file and renamed, so a crash never leaves half a
    /// file.
    pub(crate) fn save(&self, app_dir: &Path) -> std::io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let text = toml::to_string(self).map_err(std::io::Error::other)?;
        let tmp = app_dir.join(format!(".{STATE_FILE}.tmp"));
        let _ = std::fs::remove_file(&tmp);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?
            .write_all(text.as_bytes())?;
        std::fs::rename(tmp, app_dir.join(STATE_FILE))
    }
}

/// The version `current` points at, if any.
pub(crate) fn current_version(app_dir: &Path) -> Option<String> {
    let target = std::fs::read_link(app_dir.join("current")).ok()?;
    target.file_name().map(|n| n.to_string_lossy().into_owned())
}

/// Points `current` at `releases/<version>`: a new symlink renamed over the old one, so
/// every reader sees either the old or the new release, never none.
pub(crate) fn switch_current(app_dir: &Path, version: &str) -> std::io::Result<()> {
    let tmp = app_dir.join(format!(".current-{:016x}", rand::random::<u64>()));
    std::os::unix::fs::symlink(PathBuf::from("releases").join(version), &tmp)?;
    if let Err(err) = std::fs::rename(&tmp, app_dir.join("current")) {
        let _ = std::fs::remove_file(&tmp);
        return Err(err);
    }
    // Make the switch durable.
    std::fs::File::open(app_dir)?.sync_all()
}

/// Kept releases, newest first.
pub(crate) fn kept_versions(app_dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(app_dir.join("releases")) else {
        return Vec::new();
    };
    let mut kept: Vec<(std::time::SystemTime, String)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            // Unpacking in progress is not a kept release.
            if name.contains(".partial-") {
                return None;
            }
            Some((e.metadata().and_then(|m| m.modified()).ok()?, name))
        })
        .collect();
    kept.sort_by(|a, b| b.cmp(a));
    kept.into_iter().map(|(_, name)| name).collect()
}

/// Removes the oldest releases beyond `keep`, never `current` or `previous`.
pub(crate) fn prune(
    app_dir: &Path,
    keep: usize,
    current: &str,
    previous: Option<&str>,
) -> Vec<String> {
    let mut pruned = Vec::new();
    let kept = kept_versions(app_dir);
    let mut remaining = kept.len();
    for version in kept.iter().rev() {
        if remaining <= keep.max(1) {
            break;
        }
        if version == current || Some(version.as_str()) == previous {
            continue;
        }
        if std::fs::remove_dir_all(app_dir.join("releases").join(version)).is_ok() {
            pruned.push(version.clone());
            remaining -= 1;
        }
    }
    pruned
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switch_prune_and_state() {
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path();
        for v in ["1", "2", "3", "4"] {
            std::fs::create_dir_all(app.join("releases").join(v)).unwrap();
            // Distinct mtimes, oldest first.
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(current_version(app), None);
        switch_current(app, "3").unwrap();
        assert_eq!(current_version(app).as_deref(), Some("3"));
        switch_current(app, "4").unwrap();
        assert_eq!(current_version(app).as_deref(), Some("4"));
        let pruned = prune(app, 2, "4", Some("1"));
        assert_eq!(pruned, vec!["2".to_string(), "3".to_string()]);
        assert_eq!(kept_versions(app), vec!["4".to_string(), "1".to_string()]);
        let state = AppState {
            previous: Some("1".into()),
            healthy: true,
        };
        state.save(app).unwrap();
        assert_eq!(AppState::load(app), state);
    }
}
