//! `convoy demo`: a live local fleet with nothing set up. A temp dir with a throwaway CA and
//! certificates, an embedded coordinator and five real `convoy-agent` processes; then a
//! story told with progress bars (deploy, a canary rollout, a broken release rolled back by
//! itself, a backup and a recovery drill), the commands to poke at the fleet, and on Ctrl-C
//! (or SIGTERM) every agent and app process stopped and the temp dir deleted.
//!
//! `convoy demo --script` tells the same story in plain lines, checks every step, prints a
//! summary, cleans up and exits 0 only if every check passed. `convoy demo-app` (hidden) is
//! the sample app the releases run.
//!
//! This module drives a coordinator it embeds through the same gRPC clients as the rest of
//! the CLI; it never opens the store itself.

/// Prints a line to stdout, ignoring a closed stdout: the demo must still clean up after
/// `convoy demo | head` (`out!` would end the process on a broken pipe).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `say!` for stderr.
macro_rules! warn_line {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

mod app;
mod fleet;
mod ops;
mod procs;
mod story;

use std::io::IsTerminal as _;
use std::time::Instant;

use anyhow::{Context as _, bail};
use clap::Args;
use tokio_util::sync::CancellationToken;

pub use app::{DemoAppCommand, run as run_app};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Tell the story non-interactively: plain lines, every step checked, a summary, then
    /// clean up and exit (0 only if every check passed).
    #[arg(long)]
    pub script: bool,
}

/// How the story is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Progress bars on a terminal, then keep the fleet running until Ctrl-C.
    Interactive,
    /// Plain lines, checks and a summary; exit when done.
    Script,
}

/// A check of the script's story did not hold: exit 1.
#[derive(Debug, thiserror::Error)]
#[error("demo: {failed} of {total} checks failed")]
pub struct DemoFailed {
    pub failed: usize,
    pub total: usize,
}

pub async fn run(args: DemoArgs, log_format: crate::telemetry::LogFormat) -> anyhow::Result<()> {
    let started = Instant::now();
    let mode = if args.script {
        Mode::Script
    } else {
        Mode::Interactive
    };
    let agent_binary = fleet::find_agent()?;
    let shutdown = CancellationToken::new();
    let signals = tokio::spawn(watch_signals(shutdown.clone()));
    let mut fleet = fleet::Fleet::create(agent_binary)?;
    let log = std::fs::File::create(fleet.dir.join("coordinator.log"))
        .context("cannot create the coordinator log")?;
    crate::telemetry::init_to(log_format, "info", log);
    say!("convoy demo: a throwaway fleet in {}", fleet.dir.display());
    say!(
        "  logs: {0}/coordinator.log and {0}/<host>/agent.log",
        fleet.dir.display()
    );

    let mut story = story::Story::default();
    let told = tokio::select! {
        told = async {
            fleet.start().await?;
            say!("  coordinator: {} (embedded)", fleet.connect.addr);
            for host in &fleet.hosts {
                say!(
                    "  agent {} (zone {}): pid {}, app on 127.0.0.1:{}",
                    host.id,
                    host.zone,
                    host.agent_pid().map_or("-".to_string(), |p| p.to_string()),
                    host.port
                );
            }
            story::tell(&fleet, mode, &mut story).await
        } => told,
        () = shutdown.cancelled() => Err(anyhow::anyhow!("interrupted")),
    };
    if let Err(err) = &told {
        say!("");
        say!("the story stopped: {err:#}");
        story.checks.push(story::Check {
            name: "the story ran to its end".into(),
            passed: false,
            detail: format!("{err:#}"),
        });
        if !shutdown.is_cancelled() {
            print_log_tail(&fleet);
        }
    }

    if mode == Mode::Interactive && told.is_ok() && !shutdown.is_cancelled() {
        print_poke(&fleet, &story);
        shutdown.cancelled().await;
        say!("");
    }
    say!(
        "Stopping the fleet: agents, apps, the coordinator; deleting {}",
        fleet.dir.display()
    );
    let cleanup = fleet.shutdown().await;
    signals.abort();
    say!(
        "  stopped {} agents and {} app processes; temp dir {}",
        cleanup.agents_stopped,
        cleanup.apps_stopped,
        if cleanup.removed_dir {
            "deleted"
        } else {
            "NOT deleted"
        }
    );
    story.checks.push(story::Check {
        name: "clean-up: no process left, temp dir deleted".into(),
        passed: cleanup.leftovers.is_empty() && cleanup.removed_dir,
        detail: cleanup
            .leftovers
            .iter()
            .map(|(pid, cmd)| format!("pid {pid}: {cmd}"))
            .collect::<Vec<_>>()
            .join("; "),
    });
    summary(&story, started);
    let failed = story.checks.iter().filter(|c| !c.passed).count();
    if failed > 0 {
        bail!(DemoFailed {
            failed,
            total: story.checks.len()
        });
    }
    Ok(())
}

/// SIGINT or SIGTERM cancels `shutdown`; later ones are only acknowledged, so clean-up is
/// never cut short (it is bounded by its own timeouts).
async fn watch_signals(shutdown: CancellationToken) {
    let Ok(mut signals) = convoy_proto::service::StopSignals::install() else {
        warn_line!("warning: cannot install signal handlers; Ctrl-C will not clean up");
        return;
    };
    loop {
        signals.next().await;
        if shutdown.is_cancelled() {
            warn_line!("still cleaning up; it takes a few seconds at most");
        }
        shutdown.cancel();
    }
}

fn print_log_tail(fleet: &fleet::Fleet) {
    let log = std::fs::read_to_string(fleet.dir.join("coordinator.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    say!("last lines of the coordinator log:");
    for line in &lines[lines.len().saturating_sub(20)..] {
        say!("  {line}");
    }
}

fn print_poke(fleet: &fleet::Fleet, story: &story::Story) {
    let pki = fleet.dir.join("pki");
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.display().to_string()))
        .unwrap_or_else(|| ".".into());
    let first = fleet.hosts.first().map_or(0, |h| h.port);
    say!("");
    say!("The fleet is live. In another terminal:");
    say!("");
    say!("  export PATH={exe_dir}:$PATH");
    say!("  export CONVOY_ADDR={}", fleet.connect.addr);
    say!("  export CONVOY_CA={}", pki.join("ca.pem").display());
    say!("  export CONVOY_CERT={}", pki.join("demo.pem").display());
    say!("  export CONVOY_KEY={}", pki.join("demo.key").display());
    say!("");
    say!("  convoy agents                              # the inventory, with live metrics");
    say!("  convoy agents --selector zone=b            # label selectors");
    say!("  convoy release status web                  # which host runs which version");
    say!("  convoy rollout list                        # the two rollouts and how they ended");
    if !story.bad_rollout.is_empty() {
        say!(
            "  convoy rollout status {}       # the canary that failed and was rolled back",
            story.bad_rollout
        );
    }
    say!("  convoy backup list                         # the backup and its drill");
    say!("  convoy exec uname --selector role=web --follow");
    say!(
        "  convoy rollout start web 1.0 --selector role=web --group-by zone --canary 1 --auto-promote --wait"
    );
    say!(
        "  convoy audit                               # everything the demo did, as operator demo"
    );
    say!("  curl http://127.0.0.1:{first}/             # web-a1's copy of the app");
    say!("");
    if std::io::stdin().is_terminal() {
        say!(
            "Press Ctrl-C to stop the fleet and delete {}.",
            fleet.dir.display()
        );
    } else {
        say!(
            "Send SIGINT or SIGTERM to stop the fleet and delete {}.",
            fleet.dir.display()
        );
    }
}

fn summary(story: &story::Story, started: Instant) {
    say!("");
    say!("Summary:");
    for check in &story.checks {
        say!(
            "  [{}] {}{}",
            if check.passed { "pass" } else { "FAIL" },
            check.name,
            if check.passed || check.detail.is_empty() {
                String::new()
            } else {
                format!(": {}", check.detail)
            }
        );
    }
    let passed = story.checks.iter().filter(|c| c.passed).count();
    say!(
        "demo: {passed} of {} checks passed in {:.1}s",
        story.checks.len(),
        started.elapsed().as_secs_f64()
    );
}
