//! What an accept loop does when `accept` fails.
//!
//! Out of file descriptors (EMFILE, ENFILE) or kernel memory (ENOBUFS,
//! ENOMEM), the pending connection stays in the backlog and `accept`
//! fails again at once: a loop that just retries spins at full CPU and, if
//! it logs, floods the log (with `ulimit -n 64`, one `/healthz` request
//! once produced 907,037 WARN lines in 5 s). Here such an error pauses the
//! loop for [`BACKOFF`], and the operator hears of it once per episode, and
//! once more when connections are accepted again. Other errors concern one
//! connection (ECONNABORTED and friends) and are only counted in the debug
//! log.

use std::io;
use std::time::Duration;

use nix::errno::Errno;
use tracing::{debug, info, warn};

/// How long an accept loop rests when the process is out of resources.
pub(crate) const BACKOFF: Duration = Duration::from_millis(100);

/// One accept loop's memory of its errors.
#[derive(Debug)]
pub(crate) struct AcceptErrors {
    listener: &'static str,
    /// Out of resources since the last accepted connection.
    starved: bool,
    /// Accepts refused in the current episode.
    refused: u64,
}

impl AcceptErrors {
    pub(crate) fn new(listener: &'static str) -> Self {
        Self {
            listener,
            starved: false,
            refused: 0,
        }
    }

    /// Handles a failed accept: waits [`BACKOFF`] when the process is out
    /// of resources.
    pub(crate) async fn failed(&mut self, error: &io::Error) {
        if !starves(error) {
            debug!(listener = self.listener, %error, "accept failed");
            return;
        }
        self.refused += 1;
        if !self.starved {
            self.starved = true;
            warn!(
                listener = self.listener,
                %error,
                "out of file descriptors or memory: new connections wait in the backlog (raise LimitNOFILE / ulimit -n)"
            );
        }
        tokio::time::sleep(BACKOFF).await;
    }

    /// A connection was accepted: an episode of starvation, if any, is over.
    pub(crate) fn accepted(&mut self) {
        if self.starved {
            info!(
                listener = self.listener,
                refused = self.refused,
                "accepting connections again"
            );
            self.starved = false;
            self.refused = 0;
        }
    }
}

/// Errors that say the process, not the connection, is out of something.
fn starves(error: &io::Error) -> bool {
    error.raw_os_error().is_some_and(|code| {
        [Errno::EMFILE, Errno::ENFILE, Errno::ENOBUFS, Errno::ENOMEM]
            .contains(&Errno::from_raw(code))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_resource_exhaustion_pauses_the_loop() {
        assert!(starves(&io::Error::from_raw_os_error(Errno::EMFILE as i32)));
        assert!(starves(&io::Error::from_raw_os_error(Errno::ENFILE as i32)));
        assert!(!starves(&io::Error::from_raw_os_error(
            Errno::ECONNABORTED as i32
        )));
        assert!(!starves(&io::Error::other("no code")));
    }

    #[tokio::test(start_paused = true)]
    async fn an_episode_waits_and_is_told_once() {
        let mut errors = AcceptErrors::new("tcp");
        let emfile = io::Error::from_raw_os_error(Errno::EMFILE as i32);
        let started = tokio::time::Instant::now();
        for _ in 0..3 {
            errors.failed(&emfile).await;
        }
        assert_eq!(started.elapsed(), BACKOFF * 3);
        assert!(errors.starved);
        assert_eq!(errors.refused, 3);
        errors.accepted();
        assert!(!errors.starved && errors.refused == 0);
    }
}
