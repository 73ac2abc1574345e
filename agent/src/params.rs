//! Action parameters: `[actions.NAME.params.P]` declares `P` with an allow-list
//! (`allow = ["nginx", "app"]`) or a pattern (`pattern = "[a-z0-9-]+"`, matched against the
//! whole value). An argv element that is exactly `{P}` is replaced by the value, as that
//! one element: never through a shell, never split, never spliced into a longer element.
//!
//! The check is the host's own: values come from the coordinator and are judged here
//! against this agent's config only. A missing, undeclared or invalid parameter rejects
//! the command before anything runs.

use std::collections::BTreeMap;

use regex::Regex;
use serde::Deserialize;

/// Longest value accepted, in bytes.
pub(crate) const MAX_VALUE_BYTES: usize = 1024;
/// Most parameters one action may declare.
pub(crate) const MAX_PARAMS: usize = 16;

/// One declared parameter, as written in `agent.toml`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct ParamConfig {
    /// The exact values allowed.
    #[serde(default)]
    pub allow: Option<Vec<String>>,
    /// A regular expression the whole value must match (anchored for you).
    #[serde(default)]
    pub pattern: Option<String>,
}

/// A parameter name: `[a-z][a-z0-9_]{0,31}`.
pub(crate) fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= 32
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn placeholder(element: &str) -> Option<&str> {
    element.strip_prefix('{')?.strip_suffix('}')
}

fn anchored(pattern: &str) -> Result<Regex, regex::Error> {
    Regex::new(&format!("^(?:{pattern})$"))
}

/// Why an action's declared parameters are refused at config load; the text starts with
/// the dotted key at fault (`actions.NAME.params...`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeclarationError {
    #[error("{0}")]
    Invalid(String),
}

/// Checks an action's declared parameters against its argv (at config load): names are
/// valid, each has exactly one of `allow` or `pattern`, patterns compile, every `{P}` in
/// argv is declared and stands alone as an element, every declared one is used.
pub(crate) fn check_declared(
    action: &str,
    run: &[String],
    params: &BTreeMap<String, ParamConfig>,
) -> Result<(), DeclarationError> {
    declaration_problem(action, run, params).map_err(DeclarationError::Invalid)
}

/// [`check_declared`]'s checks; the error is the message.
fn declaration_problem(
    action: &str,
    run: &[String],
    params: &BTreeMap<String, ParamConfig>,
) -> Result<(), String> {
    if params.len() > MAX_PARAMS {
        return Err(format!(
            "actions.{action}.params: at most {MAX_PARAMS} parameters are allowed"
        ));
    }
    for (name, param) in params {
        let key = format!("actions.{action}.params.{name}");
        if !valid_name(name) {
            return Err(format!(
                "{key}: invalid parameter name: expected [a-z][a-z0-9_]*, at most 32 characters"
            ));
        }
        match (&param.allow, &param.pattern) {
            (Some(_), Some(_)) => {
                return Err(format!("{key}: give either allow or pattern, not both"));
            }
            (None, None) => {
                return Err(format!(
                    "{key}: needs allow = [\"value\", ...] or pattern = \"...\""
                ));
            }
            (Some(allow), None) if allow.is_empty() => {
                return Err(format!("{key}.allow: needs at least one value"));
            }
            (Some(allow), None) => {
                if let Some(bad) = allow.iter().find(|v| !acceptable(v)) {
                    return Err(format!(
                        "{key}.allow: {bad:?} is not a usable value (empty, too long, or with a NUL)"
                    ));
                }
            }
            (None, Some(pattern)) => {
                anchored(pattern).map_err(|err| format!("{key}.pattern: {err}"))?;
            }
        }
        let whole = format!("{{{name}}}");
        if let Some(spliced) = run
            .iter()
            .find(|element| **element != whole && element.contains(&whole))
        {
            return Err(format!(
                "actions.{action}.run: {spliced:?}: a parameter must be a whole argv element (\"{whole}\"), never part of one"
            ));
        }
        if !run.contains(&whole) {
            return Err(format!(
                "{key}: not used: put \"{whole}\" as an element of actions.{action}.run"
            ));
        }
    }
    for element in run {
        if let Some(name) = placeholder(element) {
            if valid_name(name) && !params.contains_key(name) {
                return Err(format!(
                    "actions.{action}.run: {element:?} names no declared parameter: add [actions.{action}.params.{name}]"
                ));
            }
        }
    }
    Ok(())
}

fn acceptable(value: &str) -> bool {
    !value.is_empty() && value.len() <= MAX_VALUE_BYTES && !value.contains('\0')
}

/// Why a command's parameter values were refused; the text follows `rejected: action
/// "NAME": ` in the command's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ParamError {
    #[error("unknown parameter {name:?}: this action takes none")]
    NoneTaken { name: String },
    #[error("unknown parameter {name:?}: this action takes {takes}")]
    Unknown { name: String, takes: String },
    #[error("missing parameter {name:?}: pass --param {name}=VALUE")]
    Missing { name: String },
    #[error("parameter {name:?}: value too long or with a NUL byte")]
    Malformed { name: String },
    #[error("parameter {name:?}: value {value:?} is not allowed on this host ({rule})")]
    NotAllowed {
        name: String,
        value: String,
        rule: String,
    },
}

/// The argv to run: `run` with each `{P}` element replaced by the value given for `P`,
/// after checking every value against the declaration. Any problem is the message the
/// command is rejected with.
pub(crate) fn bind(
    run: &[String],
    declared: &BTreeMap<String, ParamConfig>,
    given: &BTreeMap<String, String>,
) -> Result<Vec<String>, ParamError> {
    if let Some(unknown) = given.keys().find(|k| !declared.contains_key(*k)) {
        let names: Vec<&str> = declared.keys().map(String::as_str).collect();
        let name = unknown.clone();
        return Err(if names.is_empty() {
            ParamError::NoneTaken { name }
        } else {
            ParamError::Unknown {
                name,
                takes: names.join(", "),
            }
        });
    }
    for (name, param) in declared {
        let Some(value) = given.get(name) else {
            return Err(ParamError::Missing { name: name.clone() });
        };
        if value.len() > MAX_VALUE_BYTES || value.contains('\0') {
            return Err(ParamError::Malformed { name: name.clone() });
        }
        let allowed = match (&param.allow, &param.pattern) {
            (Some(allow), _) => allow.iter().any(|a| a == value),
            (None, Some(pattern)) => anchored(pattern).is_ok_and(|re| re.is_match(value)),
            (None, None) => false,
        };
        if !allowed {
            let rule = match (&param.allow, &param.pattern) {
                (Some(allow), _) => format!("one of: {}", allow.join(", ")),
                (None, Some(pattern)) => format!("the whole value must match {pattern:?}"),
                (None, None) => "nothing is allowed".to_string(),
            };
            return Err(ParamError::NotAllowed {
                name: name.clone(),
                value: value.clone(),
                rule,
            });
        }
    }
    Ok(run
        .iter()
        .map(|element| {
            placeholder(element)
                .and_then(|name| given.get(name).filter(|_| declared.contains_key(name)))
                .cloned()
                .unwrap_or_else(|| element.clone())
        })
        .collect())
}

#[cfg(test)]
mod tests;
