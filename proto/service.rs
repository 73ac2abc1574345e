//! Running under a service manager (systemd `Type=notify`), shared by both binaries: tell
//! it when the program is ready, and ping its watchdog while the program's runtime is alive.
//! Without `NOTIFY_SOCKET` (not under systemd) everything here does nothing.

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
