//! Where a restore may write and whose backups this host restores, decided by the host's own
//! config (`[backup] restore_roots`, `[backup] accept_restores_from`), whatever the
//! coordinator asks.
//!
//! Targets are compared after canonicalising: the longest existing ancestor is resolved
//! (symlinks followed, so a link cannot lead a restore out of a root) and the rest, made only
//! of plain names, appended. Roots are resolved the same way. The checks run before anything
//! is downloaded, and again just before anything is placed.

#[cfg(test)]
mod tests;

use std::io;
use std::path::{Component, Path, PathBuf};

use super::RecoveryError;

/// This host's restore rules.
#[derive(Debug, Clone, Default)]
pub(crate) struct RestorePolicy {
    /// This host's id (from its certificate): its own backups are always accepted.
    pub(crate) agent_id: String,
    /// `[backup] restore_roots`; None: a set's own paths in place, `<data_dir>/restores/`
    /// for `--to`.
    pub(crate) roots: Option<Vec<PathBuf>>,
    /// `[backup] accept_restores_from`: globs on host ids.
    pub(crate) accept_from: Vec<String>,
}

impl RestorePolicy {
    /// Refuses a restore of `source`'s backup unless it is this host's own or the host's
    /// config accepts it. An empty source (an older coordinator) counts as this host's own;
    /// the download's meta is checked again once it names the host.
    pub(crate) fn check_source(&self, source: &str) -> Result<(), RecoveryError> {
        if source.is_empty() || source == self.agent_id {
            return Ok(());
        }
        let accepted = self.accept_from.iter().any(|pattern| {
            globset::Glob::new(pattern).is_ok_and(|g| g.compile_matcher().is_match(source))
        });
        if accepted {
            Ok(())
        } else {
            Err(RecoveryError::Refused(format!(
                "rejected: this host ({}) does not accept restores of host {source}'s backups; list it in [backup] accept_restores_from",
                self.agent_id
            )))
        }
    }

    /// Refuses a `--to` directory outside the restore roots.
    pub(crate) fn check_target_dir(
        &self,
        data_dir: &Path,
        dir: &Path,
    ) -> Result<(), RecoveryError> {
        let roots = match &self.roots {
            Some(roots) => roots.clone(),
            None => vec![data_dir.join("restores")],
        };
        inside_any(dir, &roots)
            .map_err(|why| RecoveryError::Refused(format!("rejected: restore target {why}")))
    }

    /// Refuses an in-place restore of a set with a path outside the restore roots (always
    /// allowed without configured roots: the set's own paths are the default).
    pub(crate) fn check_in_place(&self, set_paths: &[PathBuf]) -> Result<(), RecoveryError> {
        let Some(roots) = &self.roots else {
            return Ok(());
        };
        for path in set_paths {
            inside_any(path, roots).map_err(|why| {
                RecoveryError::Refused(format!("rejected: in-place restore: {why}"))
            })?;
        }
        Ok(())
    }
}

fn inside_any(path: &Path, roots: &[PathBuf]) -> Result<(), String> {
    let resolved =
        resolve(path).map_err(|e| format!("{}: cannot be resolved: {e}", path.display()))?;
    for root in roots {
        if resolve(root).is_ok_and(|root| resolved.starts_with(&root)) {
            return Ok(());
        }
    }
    let shown: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
    Err(format!(
        "{} (resolved {}) is outside the restore roots ({}); see [backup] restore_roots",
        path.display(),
        resolved.display(),
        shown.join(", ")
    ))
}

/// `path` with its longest existing ancestor canonicalised and the rest appended. The path
/// must be absolute and made of plain names (checked by the caller; refused here too).
pub(crate) fn resolve(path: &Path) -> io::Result<PathBuf> {
    let mut parts = path.components();
    let clean = parts.next() == Some(Component::RootDir)
        && parts.all(|c| matches!(c, Component::Normal(_)));
    if !clean {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not absolute, or has . or ..",
        ));
    }
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    loop {
        match existing.canonicalize() {
            Ok(real) => {
                let mut real = real;
                for name in rest.iter().rev() {
                    real.push(name);
                }
                return Ok(real);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // A name that does not exist yet (a dangling link here would be followed
                // later by the restore: refuse it).
                if std::fs::symlink_metadata(&existing).is_ok() {
                    return Err(io::Error::other(format!(
                        "{} is a dangling symlink",
                        existing.display()
                    )));
                }
                let Some(name) = existing.file_name().map(ToOwned::to_owned) else {
                    return Err(e);
                };
                rest.push(name);
                existing.pop();
            }
            Err(e) => return Err(e),
        }
    }
}
