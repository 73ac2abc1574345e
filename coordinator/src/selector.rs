//! Label selectors: parsing Kubernetes-style selector strings and matching
//! them against label maps. This module owns the grammar, the canonical text
//! form and the error reporting; it does no I/O.
//!
//! A selector is a comma-separated list of requirements that must all hold:
//! `key=value` (or `==`), `key!=value`, `key in (a,b)`, `key notin (a,b)`,
//! `key` (present) and `!key` (absent); `!=` and `notin` also hold when the
//! key is absent. Whitespace may surround tokens; an empty selector matches
//! everything. Keys are `[prefix/]name` with a name of at most 63 letters,
//! digits, `-`, `_` or `.` (starting and ending alphanumeric) and a lowercase
//! DNS-subdomain prefix. Values follow the name rules but may be empty
//! (`role=`), except in `in (...)` lists and after `==`, where it is a typo.
//!
//! Matched against a host ([`Selector::matches_host`]), the key `id` means the host's
//! agent id (`id=web-1`, `id in (web-1,web-2)`), whatever labels it has.

mod grammar;

use grammar::Parser;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

#[cfg(test)]
mod tests;

const MAX_NAME_LEN: usize = 63;
/// The key that names a host by its agent id.
pub const HOST_ID_KEY: &str = "id";
const MAX_PREFIX_LEN: usize = 253;
const DNS: &str = "expected a lowercase DNS subdomain like 'example.com'";
const OPERATORS: &str = "expected one of '=', '==', '!=', 'in', 'notin'";

/// A parsed label selector; the default selector matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector {
    requirements: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Requirement {
    key: String,
    op: Op,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Equals(String),
    NotEquals(String),
    In(BTreeSet<String>),
    NotIn(BTreeSet<String>),
    Exists,
    DoesNotExist,
}

/// Why a selector string was rejected, and where (a 0-based char offset).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at position {position}")]
pub struct SelectorError {
    pub position: usize,
    pub message: String,
    pub input: String,
}

impl SelectorError {
    /// A multi-line rendering: the message, the input, a caret under `position`.
    pub fn render(&self) -> String {
        let blank = |c: char| c.is_whitespace() || c.is_control();
        let line = self.input.replace(blank, " ");
        let pad = " ".repeat(self.position);
        format!("invalid selector: {self}\n  {line}\n  {pad}^")
    }
}

impl Selector {
    /// Parses a selector such as `role=web,zone in (a,b),!draining`.
    pub fn parse(input: &str) -> Result<Selector, SelectorError> {
        let (chars, pos) = (input.chars().collect(), 0);
        let mut parser = Parser { input, chars, pos };
        let requirements = parser.parse_selector()?;
        Ok(Selector { requirements })
    }

    /// Whether every requirement holds for these labels.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matches_with(|key| labels.get(key).map(String::as_str))
    }

    /// Whether every requirement holds for the host `id` with these labels: the key `id`
    /// is the host's id, every other key a label.
    pub fn matches_host(&self, id: &str, labels: &BTreeMap<String, String>) -> bool {
        self.matches_with(|key| {
            if key == HOST_ID_KEY {
                Some(id)
            } else {
                labels.get(key).map(String::as_str)
            }
        })
    }

    /// Like [`Selector::matches`], for any label store: `get` returns the
    /// value of a key, or `None` when the key is absent.
    pub fn matches_with<'v>(&self, get: impl Fn(&str) -> Option<&'v str>) -> bool {
        self.requirements.iter().all(|req| {
            let value = get(&req.key);
            match &req.op {
                Op::Equals(want) => value == Some(want.as_str()),
                Op::NotEquals(want) => value != Some(want.as_str()),
                Op::In(set) => value.is_some_and(|v| set.contains(v)),
                Op::NotIn(set) => !value.is_some_and(|v| set.contains(v)),
                Op::Exists => value.is_some(),
                Op::DoesNotExist => value.is_none(),
            }
        })
    }

    /// Whether this selector has no requirements (and so matches everything).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }
}

/// `selector` narrowed to the hosts `ids` (`--host web-1,web-2`): `id in (web-1,web-2)`
/// after any other requirement. Ids must be agent ids; an empty list leaves it as is.
pub fn with_hosts(selector: &str, ids: &[String]) -> Result<String, String> {
    if ids.is_empty() {
        return Ok(selector.to_string());
    }
    for id in ids {
        convoy_proto::identity::AgentId::new(id.as_str()).map_err(|_| {
            format!("invalid host id {id:?} in --host: expected [a-z0-9][a-z0-9.-]{{0,62}}")
        })?;
    }
    let hosts = format!("{HOST_ID_KEY} in ({})", ids.join(","));
    Ok(if selector.trim().is_empty() {
        hosts
    } else {
        format!("{selector},{hosts}")
    })
}

impl std::str::FromStr for Selector {
    type Err = SelectorError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Selector::parse(input)
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.requirements.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = &self.key;
        match &self.op {
            Op::Equals(value) => write!(f, "{key}={value}"),
            Op::NotEquals(value) => write!(f, "{key}!={value}"),
            Op::In(set) => write!(f, "{key} in ({})", join(set)),
            Op::NotIn(set) => write!(f, "{key} notin ({})", join(set)),
            Op::Exists => write!(f, "{key}"),
            Op::DoesNotExist => write!(f, "!{key}"),
        }
    }
}

fn join(set: &BTreeSet<String>) -> String {
    set.iter().map(String::as_str).collect::<Vec<_>>().join(",")
}

impl serde::Serialize for Selector {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Selector {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(deserializer)?;
        Selector::parse(&text).map_err(serde::de::Error::custom)
    }
}
