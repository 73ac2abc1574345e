//! Following a rollout until it ends: progress bars per wave on a terminal, a line per
//! change otherwise. A dropped connection (a coordinator restart) is retried, so
//! `--wait` in a pipeline survives one. Unless told to wait through pauses, following
//! stops at a rollout that needs an operator (`paused`, `awaiting_promotion`): the caller
//! exits with [`crate::cli::NeedsOperator`] (status 3) instead of blocking forever.

use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

use convoy_proto::v1::{GetRolloutRequest, RolloutHostState, RolloutState, RolloutView};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::connect::{rollouts, rpc_error};
use crate::cli::{ConnectArgs, OutputFormat};
use crate::rollout::record::is_settled;

/// Give up when the coordinator stays unreachable this long.
const RECONNECT_FOR: Duration = Duration::from_secs(300);

/// Whether a rollout stands still until an operator acts: paused (by an operator or the
/// failure budget) or waiting for promotion.
pub fn needs_operator(view: &RolloutView) -> bool {
    matches!(
        view.state(),
        RolloutState::Paused | RolloutState::AwaitingPromotion | RolloutState::AwaitingApproval
    )
}

/// Follows rollout `id` until it ends, or (unless `through_pauses`) until it needs an
/// operator; returns its last view.
pub async fn watch(
    id: &str,
    connect: &ConnectArgs,
    format: OutputFormat,
    through_pauses: bool,
) -> anyhow::Result<RolloutView> {
    watch_styled(id, connect, format, false, through_pauses).await
}

/// [`watch`], with `lines_only` to print a line per change even on a terminal
/// (`convoy demo --script`).
pub async fn watch_styled(
    id: &str,
    connect: &ConnectArgs,
    format: OutputFormat,
    lines_only: bool,
    through_pauses: bool,
) -> anyhow::Result<RolloutView> {
    let mut display = Display::new(format, lines_only);
    let mut failing_since: Option<Instant> = None;
    let stop = |view: &RolloutView| is_settled(view) || (!through_pauses && needs_operator(view));
    loop {
        let result = follow(id, connect, &mut display, &stop).await;
        match result {
            Ok(Some(view)) => {
                display.finish();
                return Ok(view);
            }
            Ok(None) => {}
            Err(err) => {
                let since = *failing_since.get_or_insert_with(Instant::now);
                if since.elapsed() > RECONNECT_FOR {
                    display.finish();
                    return Err(err);
                }
                display.note(&format!("lost the coordinator ({err:#}); retrying"));
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Ok(view) = super::get(id, connect).await {
            failing_since = None;
            if stop(&view) {
                display.show(&view);
                display.finish();
                return Ok(view);
            }
        }
    }
}

/// One watch stream: Some(last view) if `stop` said so, None if the stream ended before.
async fn follow(
    id: &str,
    connect: &ConnectArgs,
    display: &mut Display,
    stop: &dyn Fn(&RolloutView) -> bool,
) -> anyhow::Result<Option<RolloutView>> {
    let mut client = rollouts(connect).await?;
    let mut stream = client
        .watch_rollout(GetRolloutRequest { id: id.to_string() })
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner();
    while let Some(view) = stream
        .message()
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
    {
        display.show(&view);
        if stop(&view) {
            return Ok(Some(view));
        }
    }
    Ok(None)
}

enum Display {
    Bars {
        multi: MultiProgress,
        waves: Vec<ProgressBar>,
        status: ProgressBar,
    },
    Lines {
        last: String,
    },
    Quiet,
}

impl Display {
    fn new(format: OutputFormat, lines_only: bool) -> Self {
        if format == OutputFormat::Json {
            Display::Quiet
        } else if !lines_only && std::io::stderr().is_terminal() {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let status = multi.add(ProgressBar::new_spinner());
            status.enable_steady_tick(Duration::from_millis(200));
            Display::Bars {
                multi,
                waves: Vec::new(),
                status,
            }
        } else {
            Display::Lines {
                last: String::new(),
            }
        }
    }

    fn note(&mut self, message: &str) {
        match self {
            Display::Bars { multi, .. } => {
                let _ = multi.println(crate::cli::printable(message));
            }
            Display::Lines { .. } => eprintln!("{}", crate::cli::printable(message)),
            Display::Quiet => {}
        }
    }

    fn show(&mut self, view: &RolloutView) {
        match self {
            Display::Bars {
                multi,
                waves,
                status,
            } => {
                let style =
                    ProgressStyle::with_template("{prefix:>18} [{bar:30}] {pos}/{len} {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> ");
                while waves.len() < view.waves.len() {
                    let index = waves.len();
                    let wave = &view.waves[index];
                    let bar = multi.insert_before(
                        status,
                        ProgressBar::new(wave.hosts.len() as u64).with_style(style.clone()),
                    );
                    let mut prefix = format!("wave {}", index + 1);
                    if index == 0 {
                        prefix.push_str(" canary");
                    }
                    if !wave.group.is_empty() {
                        prefix = format!("{prefix} [{}]", wave.group);
                    }
                    bar.set_prefix(prefix);
                    waves.push(bar);
                }
                for (bar, wave) in waves.iter().zip(&view.waves) {
                    let (done, failed) = counts(wave);
                    bar.set_position(done as u64);
                    bar.set_message(if failed > 0 {
                        format!("{} ({failed} failed)", wave.state().name())
                    } else {
                        wave.state().name().to_string()
                    });
                }
                status.set_message(format!(
                    "{}: {} — failures {}/{}",
                    view.state().name(),
                    view.waiting_for,
                    view.failures,
                    view.failure_budget
                ));
            }
            Display::Lines { last } => {
                let wave = view.waves.get(view.current_wave as usize);
                let line = format!(
                    "{} {}: wave {}/{} {} ({}/{} done), failures {}/{}; {}",
                    view.id,
                    view.state().name(),
                    view.current_wave + 1,
                    view.waves.len(),
                    wave.map_or("", |w| w.state().name()),
                    wave.map_or(0, |w| counts(w).0),
                    wave.map_or(0, |w| w.hosts.len()),
                    view.failures,
                    view.failure_budget,
                    view.waiting_for
                );
                if line != *last {
                    eprintln!("{}", crate::cli::printable(&line));
                    *last = line;
                }
            }
            Display::Quiet => {}
        }
    }

    fn finish(&mut self) {
        if let Display::Bars { waves, status, .. } = self {
            for bar in waves.iter() {
                bar.abandon();
            }
            status.finish_and_clear();
        }
    }
}

/// Hosts of a wave that are done, and of those how many failed.
fn counts(wave: &convoy_proto::v1::RolloutWave) -> (usize, usize) {
    let done = wave
        .hosts
        .iter()
        .filter(|h| {
            !matches!(
                h.state(),
                RolloutHostState::Pending | RolloutHostState::Waiting | RolloutHostState::Deploying
            )
        })
        .count();
    let failed = wave
        .hosts
        .iter()
        .filter(|h| {
            matches!(
                h.state(),
                RolloutHostState::Failed | RolloutHostState::RollbackFailed
            )
        })
        .count();
    (done, failed)
}
