//! `convoy`: the coordinator (`convoy serve`) and the operator CLI. Thin: parses the
//! command line, starts logging and signal handling, and calls the library.

use std::process::ExitCode;

use clap::Parser;
use convoy_coordinator::cli::{self, Cli, Command, NeedsOperator, UsageError};
use convoy_coordinator::telemetry;
use tokio_util::sync::CancellationToken;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let serving = matches!(cli.command, Command::Serve { check: false, .. });
    // The demo runs a coordinator too; it sends logs to a file in its own directory.
    let demo = matches!(cli.command, Command::Demo(_));
    if !demo {
        telemetry::init(cli.log_format, if serving { "info" } else { "warn" });
    }
    convoy_proto::tls::install_crypto_provider();
    let runtime = if serving || demo {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let shutdown = CancellationToken::new();
        // `convoy ui` also serves until Ctrl-C, and ends its event streams cleanly.
        if serving || matches!(cli.command, Command::Ui(_)) {
            tokio::spawn(watch_signals(shutdown.clone()));
        }
        cli::run(cli, shutdown).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.is::<UsageError>() => {
            eprintln!("error: {err}");
            ExitCode::from(2)
        }
        Err(err) if err.is::<NeedsOperator>() => {
            eprintln!("error: {err}");
            ExitCode::from(3)
        }
        Err(err) => {
            eprintln!("error: {err:#}");
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
    tracing::warn!("second signal: exiting without draining");
    std::process::exit(130);
}
