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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match cli.command {
        Command::Run { config } => config,
        Command::Check { config } => return check(&config),
        Command::Completions { shell } => return completions(shell),
        Command::Man { out } => return man_pages(&out),
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
        .and_then(|config| convoy_agent::check::check(&config));
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
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
    shutdown.cancel();
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
    std::process::exit(130);
}
