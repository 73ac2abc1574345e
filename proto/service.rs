//! Running as a service, shared by both binaries: tell the service manager (systemd
//! `Type=notify`) when the program is ready, ping its watchdog while the program's runtime
//! is alive (without `NOTIFY_SOCKET` those do nothing), and hear the signals a service is
//! stopped (`StopSignals`: SIGTERM, SIGINT) and reloaded (`Hangups`: SIGHUP) with.

use std::time::Duration;

/// Tells the service manager the program is ready.
pub fn ready() {
    if let Err(err) = sd_notify::notify(&[sd_notify::NotifyState::Ready]) {
        // Not fatal: systemd would time the start out and say so itself.
        eprintln!("warning: cannot notify the service manager: {err}");
    }
}

/// Tells the service manager the program is stopping.
pub fn stopping() {
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
}

/// The watchdog interval systemd asked for (`WatchdogSec=`), if any.
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    // Only for us: systemd sets WATCHDOG_PID to the main process.
    if let Ok(pid) = std::env::var("WATCHDOG_PID") {
        if pid.parse::<u32>().ok()? != std::process::id() {
            return None;
        }
    }
    (usec > 0).then(|| Duration::from_micros(usec))
}

/// Pings the watchdog at half its interval until `stop` resolves. Runs on the program's
/// own runtime, so a stalled runtime stops the pings and systemd restarts the service.
pub async fn watchdog(stop: impl std::future::Future<Output = ()>) {
    let Some(interval) = watchdog_interval() else {
        return;
    };
    let mut tick = tokio::time::interval(interval / 2);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return,
            _ = tick.tick() => {
                let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
            }
        }
    }
}

/// A signal that asks the program to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    Terminate,
    Interrupt,
}

impl std::fmt::Display for StopSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Terminate => "SIGTERM",
            Self::Interrupt => "SIGINT",
        })
    }
}

/// SIGTERM and SIGINT, the one way both binaries (and the demo) learn they should stop.
/// Installing it replaces the default action (exit at once) for the whole process.
#[derive(Debug)]
pub struct StopSignals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Starts listening; fails only if the runtime cannot install handlers.
    pub fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// Waits for the next SIGTERM or SIGINT and says which it was.
    pub async fn next(&mut self) -> StopSignal {
        tokio::select! {
            _ = self.term.recv() => StopSignal::Terminate,
            _ = self.int.recv() => StopSignal::Interrupt,
        }
    }
}

/// SIGHUP, the "read your config again" signal both binaries honour.
#[derive(Debug)]
pub struct Hangups(tokio::signal::unix::Signal);

impl Hangups {
    pub fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        signal(SignalKind::hangup()).map(Self)
    }

    /// Waits for the next SIGHUP; `false` once no more can arrive.
    pub async fn next(&mut self) -> bool {
        self.0.recv().await.is_some()
    }
}
