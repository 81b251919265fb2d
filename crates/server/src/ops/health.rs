//! Liveness and readiness, as `/healthz` and `/readyz` report them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::reload::Reloader;

/// What a load balancer needs to know.
#[derive(Debug)]
pub(crate) struct Health {
    listening: AtomicBool,
    /// With `server.strict_readiness`, a failed last reload makes the server
    /// not ready, so a rolling update with a broken file stops early. By
    /// default the server stays ready: it keeps answering from the last good
    /// mapping, which is what clients need.
    strict: bool,
    reloader: Arc<Reloader>,
}

impl Health {
    pub(crate) fn new(reloader: Arc<Reloader>, strict: bool) -> Self {
        Self {
            listening: AtomicBool::new(false),
            strict,
            reloader,
        }
    }

    /// Every DNS socket is bound and served.
    pub(crate) fn set_listening(&self) {
        self.listening.store(true, Ordering::Release);
    }

    /// `Ok` when ready, else why not.
    pub(crate) fn ready(&self) -> Result<(), &'static str> {
        if !self.listening.load(Ordering::Acquire) {
            return Err("DNS sockets are not listening yet");
        }
        if self.strict && self.reloader.last_failed() {
            return Err("the last reload failed (server.strict_readiness)");
        }
        Ok(())
    }
}
