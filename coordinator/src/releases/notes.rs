//! Release notes and metadata (`convoy release push --notes-file --meta k=v`): the rules a
//! push must meet (key syntax, no control characters; the sizes are capped in
//! `grpc/limits.rs`), the rollouts that used a release (`convoy release show`), and
//! [`ReleaseNotes`], what notifications and the post-deployment report show of a release.
//! Pure but for [`notes_of`] and [`rollouts_of`], which read the store.

use std::collections::BTreeMap;

use convoy_proto::v1::{Release, ReleaseRollout};

use crate::store::{Store, StoreError};

/// Why a push's notes or metadata are refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotesError {
    #[error(
        "invalid metadata key {0:?}: expected 1 to 64 characters of [a-z0-9_.-], starting with a letter or digit"
    )]
    BadKey(String),
    #[error("metadata value of {0:?} holds a control character")]
    BadValue(String),
    #[error("the release notes hold a control character other than tab or newline")]
    BadNotes,
}

/// A metadata key: `commit`, `build_url`, `ci.pipeline`.
pub fn valid_meta_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= crate::grpc::limits::RELEASE_META_KEY
        && key
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b))
}

/// Checks a push's notes and metadata (sizes are `limits::check`'s).
pub fn validate(notes: &str, metadata: &BTreeMap<String, String>) -> Result<(), NotesError> {
    if notes
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(NotesError::BadNotes);
    }
    for (key, value) in metadata {
        if !valid_meta_key(key) {
            return Err(NotesError::BadKey(key.clone()));
        }
        if value.chars().any(char::is_control) {
            return Err(NotesError::BadValue(key.clone()));
        }
    }
    Ok(())
}

/// The longest headline (and first line of notes) an event carries.
pub const HEADLINE_BYTES: usize = 200;

/// `text` cut to at most `max` bytes on a character boundary, with `…` when cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &text[..cut])
}

/// What notifications and the post-deployment report show of a release.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReleaseNotes {
    pub notes: String,
    pub metadata: BTreeMap<String, String>,
}

impl ReleaseNotes {
    pub fn of(release: &Release) -> Self {
        Self {
            notes: release.notes.clone(),
            metadata: release.metadata.clone(),
        }
    }

    /// `metadata["commit"]`, if given.
    pub fn commit(&self) -> Option<&str> {
        self.metadata
            .get("commit")
            .map(String::as_str)
            .filter(|c| !c.is_empty())
    }

    /// The first non-empty line of the notes (a Markdown heading's `#`s left off).
    pub fn first_line(&self) -> Option<&str> {
        self.notes
            .lines()
            .map(|line| line.trim().trim_start_matches('#').trim())
            .find(|line| !line.is_empty())
    }

    /// One line for a notification: `commit abc123: Fix the login page`, or `None` when
    /// the release has neither.
    pub fn headline(&self) -> Option<String> {
        let line = match (self.commit(), self.first_line()) {
            (Some(commit), Some(first)) => format!("commit {commit}: {first}"),
            (Some(commit), None) => format!("commit {commit}"),
            (None, Some(first)) => first.to_string(),
            (None, None) => return None,
        };
        Some(clip(&line, HEADLINE_BYTES))
    }
}

/// The notes and metadata of `app` `version` (`None`: no such release). For the
/// post-deployment report and notifications.
pub fn notes_of(
    store: &Store,
    app: &str,
    version: &str,
) -> Result<Option<ReleaseNotes>, StoreError> {
    Ok(store.release(app, version)?.as_ref().map(ReleaseNotes::of))
}

/// The rollouts that deployed `app` `version`, newest first.
pub fn rollouts_of(
    store: &Store,
    app: &str,
    version: &str,
) -> Result<Vec<ReleaseRollout>, StoreError> {
    let mut used: Vec<ReleaseRollout> = store
        .rollouts()?
        .into_iter()
        .filter(|r| {
            r.spec
                .as_ref()
                .is_some_and(|s| s.app == app && s.version == version)
        })
        .map(|r| ReleaseRollout {
            state: r.state().name().to_string(),
            id: r.id,
            app: app.to_string(),
            created_unix_ms: r.created_unix_ms,
            finished_unix_ms: r.finished_unix_ms,
            created_by: r.created_by,
        })
        .collect();
    used.sort_by_key(|r| std::cmp::Reverse(r.created_unix_ms));
    Ok(used)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values() {
        for good in ["commit", "build_url", "ci.pipeline", "a-1", "9"] {
            assert!(valid_meta_key(good), "{good}");
        }
        for bad in ["", "Commit", "-x", "a b", "k=v", "é", &"a".repeat(65)] {
            assert!(!valid_meta_key(bad), "{bad}");
        }
        let meta = BTreeMap::from([("commit".to_string(), "abc\n".to_string())]);
        assert_eq!(
            validate("", &meta),
            Err(NotesError::BadValue("commit".into()))
        );
        assert_eq!(
            validate("a\u{1b}[2J", &BTreeMap::new()),
            Err(NotesError::BadNotes)
        );
        assert!(validate("# 2.0\n\n- fixed\tthings\r\n", &BTreeMap::new()).is_ok());
    }

    #[test]
    fn headline() {
        let mut notes = ReleaseNotes {
            notes: "\n## Fix the login page\nmore".into(),
            metadata: BTreeMap::from([("commit".to_string(), "abc123".to_string())]),
        };
        assert_eq!(
            notes.headline().unwrap(),
            "commit abc123: Fix the login page"
        );
        notes.metadata.clear();
        assert_eq!(notes.headline().unwrap(), "Fix the login page");
        notes.notes.clear();
        assert_eq!(notes.headline(), None);
        notes.notes = "é".repeat(300);
        assert!(notes.headline().unwrap().len() <= 204);
    }
}
