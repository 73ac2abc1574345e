//! Label and action-name syntax, part of the wire contract: agents send labels in their Hello, the
//! coordinator refuses ones that break these rules, and selectors match on them.
//! Keys and values follow Kubernetes' label rules, which operators already know.

/// Checks one label. The error is a full sentence naming the label.
pub fn validate_label(key: &str, value: &str) -> Result<(), String> {
    if !valid_key(key) {
        return Err(format!(
            "invalid label key {key:?}: expected [prefix/]name, name 1-63 characters of [A-Za-z0-9._-] starting and ending with a letter or digit"
        ));
    }
    if !(value.is_empty() || valid_name(value)) {
        return Err(format!(
            "invalid value {value:?} for label {key:?}: expected at most 63 characters of [A-Za-z0-9._-] starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

/// An action name, as agents allow-list them and jobs ask for them:
/// `[a-z0-9][a-z0-9._-]*`, at most 63 characters.
pub fn valid_action_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes.iter().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
}

/// An app name, as agents list them in `[apps]` and releases name them: the action-name
/// grammar, so it is always one plain path component.
pub fn valid_app_name(app: &str) -> bool {
    valid_action_name(app)
}

/// A release version: `[A-Za-z0-9][A-Za-z0-9._+-]*`, at most 64 characters. It is a
/// directory name on every host, so it can never hold `/`, NUL or be `.`/`..`.
pub fn valid_release_version(version: &str) -> bool {
    let bytes = version.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'-'))
}

/// A sha256 digest as lowercase hex (64 characters).
pub fn valid_sha256(hex: &str) -> bool {
    hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Checks an app and version a deploy, rollback or push names; the error is a sentence
/// naming the bad one. The coordinator and every agent use this one rule.
pub fn validate_release(app: &str, version: &str) -> Result<(), String> {
    if !valid_app_name(app) {
        return Err(format!(
            "invalid app name {app:?}: expected [a-z0-9][a-z0-9._-]*, at most 63 characters"
        ));
    }
    if !valid_release_version(version) {
        return Err(format!(
            "invalid version {version:?}: expected [A-Za-z0-9][A-Za-z0-9._+-]*, at most 64 characters"
        ));
    }
    Ok(())
}

/// A label key: an optional DNS-subdomain prefix and `/`, then a name.
pub fn valid_key(key: &str) -> bool {
    match key.split_once('/') {
        Some((prefix, name)) => valid_prefix(prefix) && valid_name(name),
        None => valid_name(key),
    }
}

/// A label name or non-empty value: `[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?`.
pub fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            bytes.len() <= 63
                && first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        }
        _ => false,
    }
}

fn valid_prefix(prefix: &str) -> bool {
    !prefix.is_empty()
        && prefix.len() <= 253
        && prefix.split('.').all(|part| {
            let bytes = part.as_bytes();
            !bytes.is_empty()
                && bytes.len() <= 63
                && bytes[0].is_ascii_alphanumeric()
                && bytes[bytes.len() - 1].is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        })
}

/// How an agent's Hello lists a backup set among its actions: `backup:NAME`. The colon
/// cannot appear in an action name, so a set never collides with an action.
pub const BACKUP_SET_PREFIX: &str = "backup:";

/// The Hello action that says a host has backup set `set`.
pub fn backup_set_action(set: &str) -> String {
    format!("{BACKUP_SET_PREFIX}{set}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_names_are_single_plain_path_components() {
        assert!(validate_release("web", "1.4.2").is_ok());
        assert!(validate_release("web", "2.0.0-rc.1+b7").is_ok());
        for (app, version) in [
            ("web", "../../../../tmp/x"),
            ("web", ".."),
            ("web", "."),
            ("web", ".hidden"),
            ("web", "1/2"),
            ("web", "1\0"),
            ("web", "1\u{0}"),
            ("web", ""),
            ("web", &"1".repeat(65)),
            ("../web", "1"),
            ("web/x", "1"),
            ("Web", "1"),
            ("", "1"),
        ] {
            assert!(
                validate_release(app, version).is_err(),
                "{app:?} {version:?}"
            );
        }
        assert!(valid_sha256(&"a".repeat(64)) && !valid_sha256(&"A".repeat(64)));
        assert!(!valid_sha256("../x"));
    }

    #[test]
    fn keys_and_values() {
        for (key, value) in [
            ("role", "web"),
            ("zone", ""),
            ("convoy.dev/tier", "a.b_c-1"),
            ("A1", "Z"),
        ] {
            assert!(validate_label(key, value).is_ok(), "{key}={value}");
        }
        for (key, value) in [
            ("", "x"),
            ("-role", "x"),
            ("role-", "x"),
            ("ro le", "x"),
            ("Bad_Prefix/x", "y"),
            ("/x", "y"),
            ("role", "-web"),
            ("role", "w b"),
            ("role", &"v".repeat(64)),
            (&"k".repeat(64), "v"),
        ] {
            assert!(validate_label(key, value).is_err(), "{key}={value}");
        }
    }
}
