//! systemd's service protocol (`Type=notify`): READY=1 once every socket is
//! served, watchdog pings while the runtime runs, STOPPING=1 at shutdown.
//! Outside systemd (`NOTIFY_SOCKET` unset) every call does nothing.

use std::time::Duration;

use sd_notify::NotifyState;
use tracing::{info, warn};

/// Tells systemd the sockets are served, with a one-line status.
pub(crate) fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// Tells systemd the server is stopping.
pub(crate) fn stopping() {
    send(&[NotifyState::Stopping]);
}

/// When the unit sets `WatchdogSec=`, pings at half the interval from the
/// runtime: a runtime that stops making progress stops the pings, and
/// systemd restarts the service.
pub(crate) fn start_watchdog() {
    let mut usec = 0;
    if !sd_notify::watchdog_enabled(false, &mut usec) || usec == 0 {
        return;
    }
    let every = Duration::from_micros(usec / 2);
    info!(interval = ?every, "systemd watchdog enabled");
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        loop {
            ticks.tick().await;
            send(&[NotifyState::Watchdog]);
        }
    });
}

fn send(states: &[NotifyState<'_>]) {
    if let Err(error) = sd_notify::notify(false, states) {
        // Once: a broken notify socket fails every message the same way.
        static WARNED: std::sync::Once = std::sync::Once::new();
        WARNED.call_once(|| warn!(%error, "cannot notify systemd (NOTIFY_SOCKET)"));
    }
}
