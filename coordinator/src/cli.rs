//! The `convoy` command line: argument definitions and dispatch. `serve` runs the
//! coordinator; `ca` and `cert` run the fleet CA on local files; every other command is a
//! gRPC client of a running coordinator and never opens its database.

pub mod agents;
pub mod backups;
pub mod capacity;
pub mod check;
pub mod connect;
pub mod demo;
pub mod docs;
pub mod environments;
pub mod identity;
pub mod jobs;
pub mod metrics;
pub mod monitor;
pub mod output;
pub mod pki;
pub mod releases;
pub mod rollouts;
pub mod rotation;
pub mod snapshot;
pub mod tokens;
pub mod ui;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;

use crate::telemetry::LogFormat;

#[derive(Debug, Parser)]
#[command(
    name = "convoy",
    version,
    about = "Convoy: rolling releases, backups and a live inventory for a fleet of hosts",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Output format (csv: `convoy metrics` only; markdown: `convoy rollout report` and
    /// `convoy report` only).
    #[arg(short = 'o', long, global = true, value_enum, default_value_t)]
    pub output: OutputArg,
    /// Log format (logs go to stderr; RUST_LOG filters them).
    #[arg(long, global = true, value_enum, default_value_t)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// How the CLI reaches and authenticates to a coordinator.
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// Coordinator address.
    #[arg(
        long,
        env = "CONVOY_ADDR",
        global = true,
        default_value = "https://127.0.0.1:7443"
    )]
    pub addr: String,
    /// Fleet CA certificate (PEM).
    #[arg(long, env = "CONVOY_CA", global = true)]
    pub ca: Option<PathBuf>,
    /// Operator certificate (PEM).
    #[arg(long, env = "CONVOY_CERT", global = true)]
    pub cert: Option<PathBuf>,
    /// Operator private key (PEM).
    #[arg(long, env = "CONVOY_KEY", global = true)]
    pub key: Option<PathBuf>,
    /// How long connecting may take, TCP and TLS handshake together (e.g. 10s, 500ms).
    #[arg(
        long,
        env = "CONVOY_TIMEOUT",
        global = true,
        default_value = "10s",
        value_parser = humantime::parse_duration
    )]
    pub timeout: std::time::Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputFormat {
    /// Human-readable tables.
    #[default]
    Table,
    /// Stable JSON for scripts.
    Json,
}

/// What `-o` accepts: every command takes table and json; `convoy metrics` also csv,
/// `convoy rollout report` also markdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputArg {
    #[default]
    Table,
    Json,
    Csv,
    Markdown,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the coordinator.
    Serve {
        /// Path to coordinator.toml.
        #[arg(long, short = 'c')]
        config: PathBuf,
        /// Check the config (and the files it names) and print what it means; exit 1 on
        /// any error. Serves nothing.
        #[arg(long)]
        check: bool,
    },
    /// Manage the fleet's certificate authority.
    #[command(subcommand)]
    Ca(pki::CaCommand),
    /// Issue certificates from the fleet CA, or revoke one on the coordinator.
    #[command(subcommand)]
    Cert(pki::CertCommand),
    /// List agents, or show one. (`--version` here filters by app version: APP=VERSION.)
    #[command(disable_version_flag = true)]
    Agents(agents::AgentsArgs),
    /// One-time enrollment tokens: `convoy token create|list|revoke`.
    #[command(subcommand)]
    Token(tokens::TokenCommand),
    /// Certificates the coordinator knows: `convoy certs list`.
    #[command(subcommand)]
    Certs(identity::CertsCommand),
    /// Show who the coordinator thinks you are.
    Whoami,
    /// Run an allow-listed action on every matching host, as a job.
    Exec(jobs::ExecArgs),
    /// One host: cordon, uncordon, drain, remove, revoke.
    #[command(subcommand)]
    Agent(agents::AgentCommand),
    /// Recent jobs: id, action, targets, state counts, started, by whom.
    Jobs(jobs::JobsArgs),
    /// Inspect or cancel one job.
    #[command(subcommand)]
    Job(jobs::JobCommand),
    /// Who did what, when, with what result.
    Audit(jobs::AuditArgs),
    /// Release artifacts: signing keys, upload, list, status across the fleet.
    #[command(subcommand)]
    Release(releases::ReleaseCommand),
    /// Deploy a pushed release to every matching host, as a job.
    Deploy(releases::DeployArgs),
    /// Return an app to each host's previous (or a named) kept release, as a job.
    Rollback(releases::RollbackArgs),
    /// Rolling releases in canary waves behind health and metric gates.
    #[command(subcommand)]
    Rollout(rollouts::RolloutCommand),
    /// Environments (`[[environments]]`): order, rules, windows and what runs where.
    #[command(subcommand)]
    Env(environments::EnvCommand),
    /// Freezes: no rollout starts or starts new hosts in an environment meanwhile.
    #[command(subcommand)]
    Freeze(environments::FreezeCommand),
    /// Backups: run, list, verify, restore, drill and schedule.
    #[command(subcommand)]
    Backup(backups::BackupCommand),
    /// The coordinator's own state: save a snapshot, restore one into an empty data dir,
    /// drill one in a scratch coordinator.
    #[command(subcommand)]
    Snapshot(snapshot::SnapshotCommand),
    /// Metrics history of a host, or aggregated across hosts (--selector).
    Metrics(metrics::MetricsArgs),
    /// Reports from the metrics history: `convoy report capacity`.
    #[command(subcommand)]
    Report(capacity::ReportCommand),
    /// Scaling policies ([[scaling]] in coordinator.toml): `convoy scale status`.
    #[command(subcommand)]
    Scale(capacity::ScaleCommand),
    /// Alerts firing now: rule, host, since, value.
    Alerts(monitor::AlertsArgs),
    /// The event log, in order; --follow streams it live.
    Events(monitor::EventsArgs),
    /// Notifications: send a test, show deliveries.
    #[command(subcommand)]
    Notify(monitor::NotifyCommand),
    /// The web dashboard on loopback: prints http://127.0.0.1:8470/?token=… and serves the
    /// fleet, hosts with metric plots, and live rollouts with their controls until Ctrl-C,
    /// acting with this operator's certificate.
    Ui(ui::UiArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish or powershell) to stdout.
    Completions(docs::CompletionsArgs),
    /// Write man pages for every command into a directory (packaging/generate-docs uses it).
    #[command(hide = true)]
    Man(docs::ManArgs),
    /// A live local fleet with nothing set up: 5 agents, a canary rollout, a broken release
    /// rolled back by itself, a backup and a recovery drill; runs until Ctrl-C.
    Demo(demo::DemoArgs),
    /// The demo's sample app (used by the demo's release hooks).
    #[command(subcommand, hide = true)]
    DemoApp(demo::DemoAppCommand),
}

/// Runs a parsed command line. `serve` runs until `shutdown` is cancelled.
pub async fn run(cli: Cli, shutdown: CancellationToken) -> anyhow::Result<()> {
    if let Command::Metrics(args) = cli.command {
        if cli.output == OutputArg::Markdown {
            return Err(UsageError(
                "-o markdown is only for convoy rollout report and convoy report".into(),
            )
            .into());
        }
        return metrics::run(args, &cli.connect, cli.output).await;
    }
    if let Command::Rollout(rollouts::RolloutCommand::Report { id }) = &cli.command {
        return rollouts::show_report(id, &cli.connect, cli.output).await;
    }
    if let Command::Report(command) = cli.command {
        return capacity::report(command, &cli.connect, cli.output).await;
    }
    let output = match cli.output {
        OutputArg::Table => OutputFormat::Table,
        OutputArg::Json => OutputFormat::Json,
        OutputArg::Csv => {
            return Err(UsageError("-o csv is only for convoy metrics".into()).into());
        }
        OutputArg::Markdown => {
            return Err(UsageError(
                "-o markdown is only for convoy rollout report and convoy report".into(),
            )
            .into());
        }
    };
    let cli = Resolved {
        connect: cli.connect,
        output,
        command: cli.command,
        log_format: cli.log_format,
    };
    match cli.command {
        Command::Serve {
            config,
            check: true,
        } => {
            let text = check::check(&config)?;
            out!("{text}{}: OK", config.display());
            Ok(())
        }
        Command::Serve { config: path, .. } => {
            let config = crate::config::Config::load(&path)?;
            crate::server::run_reloading(config, Some(path), shutdown).await
        }
        Command::Ca(pki::CaCommand::Rotate {
            action,
            force,
            root_key,
        }) => rotation::run((action, force, root_key), &cli.connect, cli.output).await,
        Command::Ca(command) => pki::run_ca(command, cli.output),
        Command::Cert(pki::CertCommand::Revoke(args)) => {
            identity::cert_revoke(args, &cli.connect, cli.output).await
        }
        Command::Cert(command) => pki::run_cert(command, cli.output),
        Command::Agents(args) => agents::run(args, &cli.connect, cli.output).await,
        Command::Agent(agents::AgentCommand::Identity(command)) => {
            identity::agent(command, &cli.connect, cli.output).await
        }
        Command::Token(command) => tokens::run(command, &cli.connect, cli.output).await,
        Command::Certs(command) => identity::certs(command, &cli.connect, cli.output).await,
        Command::Whoami => agents::whoami(&cli.connect, cli.output).await,
        Command::Exec(args) => jobs::exec(args, &cli.connect, cli.output).await,
        Command::Agent(command) => agents::lifecycle(command, &cli.connect, cli.output).await,
        Command::Jobs(args) => jobs::jobs(args, &cli.connect, cli.output).await,
        Command::Job(command) => jobs::job(command, &cli.connect, cli.output).await,
        Command::Audit(args) => jobs::audit(args, &cli.connect, cli.output).await,
        Command::Release(command) => releases::run(command, &cli.connect, cli.output).await,
        Command::Deploy(args) => releases::deploy(args, &cli.connect, cli.output).await,
        Command::Rollback(args) => releases::rollback(args, &cli.connect, cli.output).await,
        Command::Rollout(command) => rollouts::run(command, &cli.connect, cli.output).await,
        Command::Env(command) => environments::run(command, &cli.connect, cli.output).await,
        Command::Freeze(command) => environments::freeze(command, &cli.connect, cli.output).await,
        Command::Backup(command) => backups::run(command, &cli.connect, cli.output).await,
        Command::Snapshot(command) => snapshot::run(command, &cli.connect, cli.output).await,
        Command::Metrics(_) | Command::Report(_) => unreachable!("handled above"),
        Command::Scale(command) => capacity::scale(command, &cli.connect, cli.output).await,
        Command::Alerts(args) => monitor::alerts(args, &cli.connect, cli.output).await,
        Command::Events(args) => monitor::events(args, &cli.connect, cli.output).await,
        Command::Notify(command) => monitor::notify(command, &cli.connect, cli.output).await,
        Command::Ui(args) => ui::run(args, &cli.connect, shutdown).await,
        Command::Completions(args) => docs::completions(&args),
        Command::Man(args) => docs::man_pages(&args),
        Command::Demo(args) => demo::run(args, cli.log_format).await,
        Command::DemoApp(command) => demo::run_app(command).await,
    }
}

/// The command line with `-o` checked against the command.
struct Resolved {
    connect: ConnectArgs,
    output: OutputFormat,
    command: Command,
    log_format: LogFormat,
}

/// Prints a line to stdout. A closed stdout (`convoy jobs | head`) ends the program
/// quietly, as a shell pipeline expects, instead of panicking. Control characters are
/// replaced (see [`printable`]): what hosts report (labels, versions, hostnames, messages)
/// reaches tables and text through here and must not drive the operator's terminal.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::write_stdout(format_args!($($arg)*))
    };
}
pub(crate) use out;

#[doc(hidden)]
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    let mut line = printable(&args.to_string());
    line.push('\n');
    write_raw(line.as_bytes());
}

/// `text` with every control character but newline and tab (C0, DEL, C1: escape
/// sequences, carriage returns, backspaces) and every bidirectional override replaced by
/// U+FFFD, so a value cannot move the cursor, recolour, retitle or reorder what the
/// operator reads. JSON output is unaffected: serde escapes control characters already.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            let bidi = matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
            if (c.is_control() && c != '\n' && c != '\t') || bidi {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

/// Writes bytes to stdout as they are (command output), with the same rules as `out!`.
pub fn write_raw(bytes: &[u8]) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    if let Err(err) = stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to stdout: {err}");
        std::process::exit(1);
    }
}

/// A `--wait` stopped at something only an operator can move on (a paused rollout, one
/// awaiting promotion); `main` exits with status 3 for it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NeedsOperator(pub String);

/// A mistake in how the command was called; `main` exits with status 2 for it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

#[cfg(test)]
mod tests {
    /// Every subcommand's arguments are consistent (clap checks names, ids and conflicts).
    #[test]
    fn printed_text_carries_no_control_characters() {
        let hostile = "web\u{1b}]0;pwned\u{7}\r\u{8}\u{9b}31m\u{202E}1-bew\nnext\tcol";
        assert_eq!(
            super::printable(hostile),
            "web\u{FFFD}]0;pwned\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}31m\u{FFFD}1-bew\nnext\tcol"
        );
    }

    #[test]
    fn the_command_line_definition_is_valid() {
        use clap::CommandFactory as _;
        super::Cli::command().debug_assert();
    }
}
