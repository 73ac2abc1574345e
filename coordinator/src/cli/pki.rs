//! `convoy ca …` and `convoy cert …`: the fleet CA on local files.

use crate::cli::out;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Subcommand, ValueEnum};
use convoy_proto::identity::{AgentId, Identity, Role, validate_name};
use serde_json::json;

use super::OutputFormat;
use crate::pki::{self, Ca};

#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Create a new fleet CA: DIR/ca.pem and DIR/ca.key (mode 0600).
    Init {
        /// Directory to write the CA into.
        #[arg(long, default_value = "pki")]
        dir: PathBuf,
        /// Validity in days.
        #[arg(long, default_value_t = 3650)]
        days: u32,
        /// Overwrite an existing CA (every certificate it issued stops being trusted).
        #[arg(long)]
        force: bool,
        /// Make an intermediate (issuing) CA signed by the root in --root-dir, for the
        /// coordinator's `[ca]`; the root can then stay offline. Agents trust the root.
        #[arg(long, requires = "root_dir")]
        intermediate: bool,
        /// The root CA's directory (ca.pem, ca.key) for --intermediate.
        #[arg(long)]
        root_dir: Option<PathBuf>,
    },
    /// CA rotation on the running coordinator, in phases: start → advance
    /// (update_clients) → advance (update_servers) → finish; abort returns to the old CA.
    Rotate {
        /// start, status, advance, finish or abort.
        #[arg(value_enum)]
        action: super::rotation::RotateAction,
        /// finish: drop the old CA even while online agents (or operators seen within 24 h)
        /// still hold its certificates.
        #[arg(long)]
        force: bool,
        /// start, when the coordinator's [ca] is an intermediate: the root CA's key (PEM).
        /// The bundle agents are to trust is fetched, signed here and sent back; the key
        /// never leaves this machine.
        #[arg(long, value_name = "FILE")]
        root_key: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CertKind {
    /// The coordinator's server certificate.
    Server,
    /// An agent's client certificate; NAME is the agent id.
    Agent,
    /// An operator's client certificate; needs --role.
    Operator,
}

#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Issue a certificate: writes OUT/NAME.pem and OUT/NAME.key (mode 0600).
    Issue {
        /// What the certificate is for: server, agent or operator.
        kind: CertKind,
        /// Agent id, operator name or server name.
        name: String,
        /// Operator role: viewer, operator or admin.
        #[arg(long)]
        role: Option<String>,
        /// DNS name or IP address the server is reached by (servers only; repeatable).
        #[arg(long)]
        san: Vec<String>,
        /// Directory holding ca.pem and ca.key.
        #[arg(long, default_value = "pki")]
        ca_dir: PathBuf,
        /// Directory to write the certificate and key into.
        #[arg(long, default_value = "pki")]
        out: PathBuf,
        /// Validity in days.
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
    },
    /// Revoke a certificate on the running coordinator: `--serial S` or every certificate
    /// of `--operator NAME`. Admin only; live sessions using it are cut within a second.
    Revoke(super::identity::CertRevokeArgs),
}

pub fn run_ca(command: CaCommand, output: OutputFormat) -> anyhow::Result<()> {
    let CaCommand::Init {
        dir,
        days,
        force,
        intermediate,
        root_dir,
    } = command
    else {
        anyhow::bail!("ca rotate talks to a running coordinator");
    };
    let (cert, key) = match (intermediate, root_dir) {
        (true, Some(root)) => {
            if root == dir {
                anyhow::bail!(
                    "--dir must differ from --root-dir: the root's files stay as they are"
                );
            }
            pki::init_intermediate(&root, &dir, days, force)?
        }
        (false, Some(_)) => anyhow::bail!("--root-dir goes with --intermediate"),
        _ => pki::init_ca(&dir, days, force)?,
    };
    report(output, "ca", &cert, &key);
    Ok(())
}

pub fn run_cert(command: CertCommand, output: OutputFormat) -> anyhow::Result<()> {
    let CertCommand::Issue {
        kind,
        name,
        role,
        san,
        ca_dir,
        out,
        days,
        force,
    } = command
    else {
        anyhow::bail!("cert revoke talks to a running coordinator");
    };
    // Every mistake in how it was called is a usage error (exit 2).
    let usage = |err: String| super::UsageError(err);
    let identity = match kind {
        CertKind::Agent => Identity::Agent(AgentId::new(&name).map_err(|e| usage(e.to_string()))?),
        CertKind::Operator => {
            validate_name(&name).map_err(|e| usage(e.to_string()))?;
            let role: Role = role
                .as_deref()
                .ok_or_else(|| {
                    usage("an operator certificate needs --role viewer|operator|admin".into())
                })?
                .parse()
                .map_err(|e: convoy_proto::identity::IdentityError| usage(e.to_string()))?;
            Identity::Operator {
                name: name.clone(),
                role,
            }
        }
        CertKind::Server => {
            validate_name(&name).map_err(|e| usage(e.to_string()))?;
            Identity::Server(name.clone())
        }
    };
    if kind != CertKind::Operator && role.is_some() {
        return Err(usage("--role applies to operator certificates only".into()).into());
    }
    if kind != CertKind::Server && !san.is_empty() {
        return Err(usage("--san applies to server certificates only".into()).into());
    }
    let sans = if kind == CertKind::Server && san.is_empty() {
        vec![name.clone()]
    } else {
        san
    };
    let ca = Ca::load(&ca_dir)
        .with_context(|| format!("cannot load the CA from {}", ca_dir.display()))?;
    let (cert, key) = pki::issue_to_dir(&ca, &identity, &name, &sans, days, &out, force)?;
    report(output, &identity.uri(), &cert, &key);
    Ok(())
}

fn report(output: OutputFormat, what: &str, cert: &std::path::Path, key: &std::path::Path) {
    match output {
        OutputFormat::Json => out!("{}", json!({ "identity": what, "cert": cert, "key": key })),
        OutputFormat::Table => {
            out!("wrote {} and {} ({what})", cert.display(), key.display());
        }
    }
}
