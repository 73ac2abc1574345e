//! `convoy-agent`: thin wrapper that parses the command line, starts logging and signal
//! handling, and calls [`convoy_agent::run`].

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(name = "convoy-agent", version, about = "Convoy's host agent")]
struct Cli {
    /// Log format (logs go to stderr; RUST_LOG filters them).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the agent service.
    Run {
        /// Path to agent.toml.
        #[arg(long, short = 'c', default_value = "/etc/convoy/agent.toml")]
        config: PathBuf,
    },
    /// Check a config file without running: read every file it names and print what it
    /// means; exit 1 on any error.
    Check {
        /// Path to agent.toml.
        #[arg(long, short = 'c', default_value = "/etc/convoy/agent.toml")]
        config: PathBuf,
    },
    /// Enroll this host with a one-time token: a key made here (0600), a CSR sent, the
    /// certificate and CA written where the config's [tls] says.
    Enroll {
        /// The coordinator, e.g. https://coord:7443 (default: the config's `coordinator`).
        #[arg(long)]
        coordinator: Option<String>,
        /// sha256:HEX of the fleet CA certificate, as `convoy token create` prints it.
        #[arg(long)]
        ca_fingerprint: String,
        /// The token, as `convoy token create` printed it.
        #[arg(long, env = "CONVOY_ENROLL_TOKEN", hide_env_values = true)]
        token: String,
        /// The agent id to enroll as (default: this host's name).
        #[arg(long)]
        id: Option<String>,
        /// Path to agent.toml ([tls] says where the key, certificate and CA go).
        #[arg(long, short = 'c', default_value = "/etc/convoy/agent.toml")]
        config: PathBuf,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish or powershell) to stdout.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write man pages for every command into a directory (packaging/generate-docs uses it).
    #[command(hide = true)]
    Man {
        /// Directory to write convoy-agent.1 and one page per subcommand into.
        #[arg(long)]
        out: PathBuf,
    },
}

fn enroll(
    coordinator: Option<String>,
    ca_fingerprint: String,
    token: String,
    id: Option<String>,
    config: &std::path::Path,
) -> ExitCode {
    let run = || -> anyhow::Result<()> {
        let config = convoy_agent::Config::load(config)?;
        let id = match id {
            Some(id) => id,
            None => sysinfo::System::host_name()
                .map(|h| h.to_ascii_lowercase())
                .ok_or_else(|| anyhow::anyhow!("no host name: pass --id"))?,
        };
        let options = convoy_agent::enroll::EnrollOptions {
            coordinator: coordinator.unwrap_or(config.coordinator.clone()),
            ca_fingerprint,
            token,
            id: convoy_proto::identity::AgentId::new(id)?,
            tls: config.tls.clone(),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let enrolled = runtime.block_on(convoy_agent::enroll::enroll(options.clone()))?;
        println!(
            "enrolled as {}: key {} (0600), certificate {}, CA {}; labels granted: {:?}",
            options.id,
            options.tls.key.display(),
            options.tls.cert.display(),
            options.tls.ca.display(),
            enrolled.labels
        );
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match cli.command {
        Command::Run { config } => config,
        Command::Check { config } => return check(&config),
        Command::Completions { shell } => return completions(shell),
        Command::Man { out } => return man_pages(&out),
        Command::Enroll {
            coordinator,
            ca_fingerprint,
            token,
            id,
            config,
        } => return enroll(coordinator, ca_fingerprint, token, id, &config),
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    convoy_proto::tls::install_crypto_provider();
    let path = config;
    let config = match convoy_agent::Config::load(&path) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    // One thread keeps the agent small; its work is I/O and a sample a second.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let shutdown = CancellationToken::new();
        tokio::spawn(watch_signals(shutdown.clone()));
        convoy_agent::run_with_reload(config, path, shutdown).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// `convoy-agent check`: the config's meaning on stdout, or the first error on stderr.
fn check(path: &std::path::Path) -> ExitCode {
    convoy_proto::tls::install_crypto_provider();
    let checked = convoy_agent::Config::load(path)
        .map_err(|err| err.to_string())
        .and_then(|config| convoy_agent::check::check(&config).map_err(|err| err.to_string()));
    match checked {
        Ok(text) => {
            print!("{text}");
            println!("{}: OK", path.display());
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Prints the completion script for `shell`, generated from the definitions above.
fn completions(shell: clap_complete::Shell) -> ExitCode {
    use clap::CommandFactory as _;
    use std::io::Write as _;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "convoy-agent", &mut script);
    match std::io::stdout().lock().write_all(&script) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: cannot write to stdout: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Writes `convoy-agent.1` and a page per visible subcommand into `dir`.
fn man_pages(dir: &std::path::Path) -> ExitCode {
    use clap::CommandFactory as _;
    let written =
        std::fs::create_dir_all(dir).and_then(|()| clap_mangen::generate_to(Cli::command(), dir));
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!(
                "error: cannot write man pages into {}: {err}",
                dir.display()
            );
            ExitCode::FAILURE
        }
    }
}

/// SIGTERM or SIGINT starts a clean shutdown; a second one exits at once.
async fn watch_signals(shutdown: CancellationToken) {
    let Ok(mut signals) = convoy_proto::service::StopSignals::install() else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    let signal = signals.next().await;
    tracing::info!("{signal} received");
    shutdown.cancel();
    signals.next().await;
    std::process::exit(130);
}
