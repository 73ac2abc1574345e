//! Alert expressions: the rollout gates' metric grammar turned around (`cpu>95`,
//! `disk:/>90`, `mem>90`, `load1>2*cpus`, also `<`, `>=`, `<=`) plus fleet facts:
//! `offline`, `health=failing`, `backup_age>26h`, `drill_age>8d`, `cert_expires<7d`,
//! `rollout=failed`. Errors name the column where the expression went wrong. Pure.

use std::time::Duration;

use crate::config::monitor::AlertConfig;
use crate::history::SeriesId;
use crate::selector::Selector;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    pub fn holds(self, value: f64, limit: f64) -> bool {
        match self {
            Op::Gt => value > limit,
            Op::Ge => value >= limit,
            Op::Lt => value < limit,
            Op::Le => value <= limit,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    Absolute(f64),
    /// A multiple of the host's CPU count (`2*cpus`).
    PerCpu(f64),
}

/// What a rule checks.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Metric {
        series: SeriesId,
        op: Op,
        limit: Limit,
    },
    Offline,
    HealthFailing,
    BackupAge {
        op: Op,
        age: Duration,
    },
    DrillAge {
        op: Op,
        age: Duration,
    },
    CertExpires {
        op: Op,
        within: Duration,
    },
    RolloutFailed,
}

/// A validated `[[alerts]]` rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub expr_text: String,
    pub expr: Expr,
    pub for_: Duration,
    pub severity: String,
    pub selector: Selector,
    pub summary: String,
}

impl Rule {
    pub fn new(config: &AlertConfig) -> Result<Self, String> {
        let expr = Expr::parse(&config.expr)?;
        if !["info", "warning", "critical"].contains(&config.severity.as_str()) {
            return Err(format!(
                "severity {:?} is not one of info, warning, critical",
                config.severity
            ));
        }
        let selector = Selector::parse(&config.selector)
            .map_err(|err| format!("selector {:?}: {err}", config.selector))?;
        Ok(Rule {
            name: config.name.clone(),
            expr_text: config.expr.clone(),
            expr,
            for_: config.for_,
            severity: config.severity.clone(),
            selector,
            summary: config.summary.clone(),
        })
    }
}

/// An expression error, with the 1-based column it refers to.
fn at(input: &str, column: usize, why: impl std::fmt::Display) -> String {
    format!("expr {input:?}, column {column}: {why}")
}

impl Expr {
    pub fn parse(input: &str) -> Result<Expr, String> {
        let lead = input.len() - input.trim_start().len();
        let text = input.trim();
        if text.is_empty() {
            return Err(at(input, 1, "empty expression"));
        }
        let Some(op_at) = text.find(['<', '>', '=']) else {
            return match text {
                "offline" => Ok(Expr::Offline),
                other => Err(at(
                    input,
                    lead + 1,
                    format!(
                        "expected METRIC>LIMIT, offline, health=failing, backup_age>26h, drill_age>8d, cert_expires<7d or rollout=failed; found {other:?}"
                    ),
                )),
            };
        };
        let name = text[..op_at].trim();
        let rest = &text[op_at..];
        let (op, op_len) = if rest.starts_with(">=") {
            (Some(Op::Ge), 2)
        } else if rest.starts_with("<=") {
            (Some(Op::Le), 2)
        } else if rest.starts_with('>') {
            (Some(Op::Gt), 1)
        } else if rest.starts_with('<') {
            (Some(Op::Lt), 1)
        } else {
            (None, 1)
        };
        let value_col = lead + op_at + op_len + 1;
        let value = rest[op_len..].trim();
        let op_col = lead + op_at + 1;
        let equals = |expected: &str, expr: Expr| {
            if op.is_some() {
                return Err(at(
                    input,
                    op_col,
                    format!("{name} takes '=' ({name}={expected})"),
                ));
            }
            if value == expected {
                Ok(expr)
            } else {
                Err(at(
                    input,
                    value_col,
                    format!("expected {name}={expected}, found {value:?}"),
                ))
            }
        };
        let ordered =
            || op.ok_or_else(|| at(input, op_col, format!("{name} takes '<' or '>', not '='")));
        let duration = |value: &str| {
            humantime::parse_duration(value).map_err(|err| {
                at(
                    input,
                    value_col,
                    format!("expected a duration like 26h or 8d: {err}"),
                )
            })
        };
        match name {
            "health" => equals("failing", Expr::HealthFailing),
            "rollout" => equals("failed", Expr::RolloutFailed),
            "offline" => Err(at(input, op_col, "offline takes no comparison")),
            "backup_age" => Ok(Expr::BackupAge {
                op: ordered()?,
                age: duration(value)?,
            }),
            "drill_age" => Ok(Expr::DrillAge {
                op: ordered()?,
                age: duration(value)?,
            }),
            "cert_expires" => Ok(Expr::CertExpires {
                op: ordered()?,
                within: duration(value)?,
            }),
            "" => Err(at(input, lead + 1, "missing metric before the comparison")),
            metric => {
                let series = SeriesId::parse(metric).map_err(|err| at(input, lead + 1, err))?;
                let op = ordered()?;
                let limit = parse_limit(value).map_err(|err| at(input, value_col, err))?;
                Ok(Expr::Metric { series, op, limit })
            }
        }
    }
}

fn parse_limit(text: &str) -> Result<Limit, String> {
    let number = |s: &str| -> Result<f64, String> {
        let value: f64 = s
            .trim()
            .parse()
            .map_err(|_| format!("expected a number, found {:?}", s.trim()))?;
        if !value.is_finite() || value < 0.0 {
            return Err(format!("{value} must be a finite number, 0 or more"));
        }
        Ok(value)
    };
    if text.is_empty() {
        return Err("missing limit after the comparison".into());
    }
    match text.split_once('*') {
        Some((factor, "cpus")) => Ok(Limit::PerCpu(number(factor)?)),
        Some((_, other)) => Err(format!("expected FACTOR*cpus, found {other:?} after '*'")),
        None => Ok(Limit::Absolute(number(text)?)),
    }
}
