//! How long a TCP connection may wait for its client, to read a query or
//! to have an answer taken: `tcp_idle_timeout` normally, and at most
//! [`BUSY_TIMEOUT`] while more than three quarters of the connection slots
//! are taken, so that clients which hold connections open (idle, or never
//! reading) make room within a second or two for the ones in the backlog
//! (RFC 7766 §6.2.3 lets a server close idle connections under load; Unbound
//! shortens its timeouts the same way). The limit is looked at again every
//! [`TICK`], so a connection that began waiting before the slots filled up
//! is held to the shorter limit too.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::{Instant, sleep};

/// The wait allowed while the server is short of connection slots.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(1);
/// How often a waiting connection checks whether its limit has changed.
const TICK: Duration = Duration::from_millis(250);

/// The waiting limits shared by the connections of one listener.
#[derive(Clone)]
pub(crate) struct Patience {
    idle: Duration,
    slots: Arc<Semaphore>,
    max_connections: usize,
}

impl Patience {
    pub(crate) fn new(idle: Duration, slots: Arc<Semaphore>, max_connections: usize) -> Self {
        Self {
            idle,
            slots,
            max_connections,
        }
    }

    /// The wait allowed now.
    pub(crate) fn limit(&self) -> Duration {
        if self.slots.available_permits() < self.max_connections / 4 {
            self.idle.min(BUSY_TIMEOUT)
        } else {
            self.idle
        }
    }

    /// `work`'s output, or `None` once it has waited longer than allowed.
    pub(crate) async fn wait<F: Future>(&self, work: F) -> Option<F::Output> {
        let started = Instant::now();
        let mut work = std::pin::pin!(work);
        loop {
            let left = self.limit().saturating_sub(started.elapsed());
            if left.is_zero() {
                return None;
            }
            tokio::select! {
                done = &mut work => return Some(done),
                () = sleep(left.min(TICK)) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_limit_shrinks_while_slots_are_short_even_for_a_wait_under_way() {
        let slots = Arc::new(Semaphore::new(8));
        let patience = Patience::new(Duration::from_secs(10), slots.clone(), 8);
        assert_eq!(patience.limit(), Duration::from_secs(10));
        let waiting = tokio::spawn({
            let patience = patience.clone();
            async move {
                let started = Instant::now();
                let out = patience.wait(std::future::pending::<()>()).await;
                (out, started.elapsed())
            }
        });
        sleep(Duration::from_secs(3)).await;
        // Seven of eight slots taken: one left, fewer than a quarter.
        let taken = slots.clone().acquire_many_owned(7).await.expect("permits");
        assert_eq!(patience.limit(), BUSY_TIMEOUT);
        let (out, waited) = waiting.await.expect("task");
        assert_eq!(out, None);
        assert!(waited < Duration::from_millis(3_300), "{waited:?}");
        drop(taken);
        assert_eq!(patience.wait(async { 5 }).await, Some(5));
    }
}
