//! Upstream health: which upstream to ask first.
//!
//! Upstreams that have not failed recently come first, grouped by measured
//! latency in [`LATENCY_BAND`]-wide bands and in configured order within a
//! band, so that small jitter does not reorder them. An upstream that times
//! out or answers SERVFAIL/REFUSED is marked down for a back-off period
//! ([`BACKOFF_BASE`], doubling per consecutive failure, up to
//! [`BACKOFF_MAX`]); once that has passed, the next query probes it again in
//! its usual place. Down upstreams are still tried, last, when nothing else
//! is left: no query is failed without asking.
//!
//! Operators hear of it in the log: one WARN when an upstream starts
//! failing, with the reason, and one INFO when it answers again. An
//! upstream that flaps warns at most once per [`WARN_EVERY`]; a recovery is
//! told only when its failure was.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Latencies within one band count as equal.
pub(crate) const LATENCY_BAND: Duration = Duration::from_millis(50);
/// The first back-off after a failure.
pub(crate) const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// The longest back-off.
pub(crate) const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// One upstream's "failing" WARN comes at most this often.
pub(crate) const WARN_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, Default)]
struct Health {
    /// Smoothed latency of successful answers; `None` until the first one.
    srtt: Option<Duration>,
    consecutive_failures: u32,
    down_until: Option<Instant>,
    /// Since when it has failed without an answer in between.
    failing_since: Option<Instant>,
    /// The failure was logged (so its recovery will be).
    told: bool,
    last_warning: Option<Instant>,
}

/// One upstream's health, as reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HealthReport {
    /// Asked at least once since start-up.
    pub asked: bool,
    /// In its back-off period: asked last.
    pub down: bool,
    pub srtt: Option<Duration>,
    pub consecutive_failures: u32,
    /// Failing, without an answer in between, for this long.
    pub failing_for: Option<Duration>,
}

/// Health of every upstream this process has asked. A std mutex: it is
/// held for a few comparisons and never across an await.
#[derive(Debug, Default)]
pub struct UpstreamPool {
    health: Mutex<HashMap<SocketAddr, Health>>,
}

impl UpstreamPool {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<SocketAddr, Health>) -> T) -> T {
        match self.health.lock() {
            Ok(mut guard) => f(&mut guard),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// The order in which to try `configured` now.
    pub fn order(&self, configured: &[SocketAddr], now: Instant) -> Vec<SocketAddr> {
        self.with(|health| {
            let mut ranked: Vec<(bool, Option<Instant>, u128, usize, SocketAddr)> = configured
                .iter()
                .enumerate()
                .map(|(index, upstream)| {
                    let h = health.get(upstream).copied().unwrap_or_default();
                    let down_until = h.down_until.filter(|until| *until > now);
                    let band = h
                        .srtt
                        .map_or(0, |srtt| srtt.as_millis() / LATENCY_BAND.as_millis());
                    (down_until.is_some(), down_until, band, index, *upstream)
                })
                .collect();
            ranked.sort();
            ranked.into_iter().map(|(.., upstream)| upstream).collect()
        })
    }

    /// Records an answer that took `latency`.
    pub fn success(&self, upstream: SocketAddr, latency: Duration) {
        self.with(|health| {
            let h = health.entry(upstream).or_default();
            // EWMA with weight 1/4 for the new sample, as TCP's SRTT does with 1/8.
            h.srtt = Some(h.srtt.map_or(latency, |srtt| (srtt * 3 + latency) / 4));
            if let Some(since) = h.failing_since.take()
                && std::mem::take(&mut h.told)
            {
                tracing::info!(
                    %upstream,
                    failures = h.consecutive_failures,
                    failing_for_ms = u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX),
                    "upstream answers again"
                );
            }
            h.consecutive_failures = 0;
            h.down_until = None;
        });
    }

    /// Records a timeout or a failing answer (`reason`: timeout, refused,
    /// unreachable, …); returns the back-off applied.
    pub fn failure(&self, upstream: SocketAddr, now: Instant, reason: &str) -> Duration {
        self.with(|health| {
            let h = health.entry(upstream).or_default();
            h.consecutive_failures = h.consecutive_failures.saturating_add(1);
            let doublings = h.consecutive_failures.saturating_sub(1).min(16);
            let backoff = BACKOFF_BASE.saturating_mul(1 << doublings).min(BACKOFF_MAX);
            h.down_until = Some(now + backoff);
            if h.failing_since.is_none() {
                h.failing_since = Some(now);
                let quiet = h
                    .last_warning
                    .is_none_or(|at| now.saturating_duration_since(at) >= WARN_EVERY);
                if quiet {
                    h.told = true;
                    h.last_warning = Some(now);
                    tracing::warn!(%upstream, reason, ?backoff, "upstream failing; asking the others first");
                }
            }
            backoff
        })
    }

    /// What is known of `upstream`'s health now, for the status page.
    pub(crate) fn report(&self, upstream: SocketAddr, now: Instant) -> HealthReport {
        self.with(|health| {
            let h = health.get(&upstream).copied().unwrap_or_default();
            HealthReport {
                asked: health.contains_key(&upstream),
                down: h.down_until.is_some_and(|until| until > now),
                srtt: h.srtt,
                consecutive_failures: h.consecutive_failures,
                failing_for: h
                    .failing_since
                    .map(|since| now.saturating_duration_since(since)),
            }
        })
    }

    /// True when `upstream` is in its back-off period.
    pub fn is_down(&self, upstream: SocketAddr, now: Instant) -> bool {
        self.with(|health| {
            health
                .get(&upstream)
                .and_then(|h| h.down_until)
                .is_some_and(|until| until > now)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn configured_order_until_something_is_known() {
        let pool = UpstreamPool::new();
        let now = Instant::now();
        assert_eq!(
            pool.order(&[addr(1), addr(2), addr(3)], now),
            [addr(1), addr(2), addr(3)]
        );
    }

    #[test]
    fn failed_upstreams_go_last_until_their_backoff_ends() {
        let pool = UpstreamPool::new();
        let now = Instant::now();
        assert_eq!(pool.failure(addr(1), now, "timeout"), BACKOFF_BASE);
        assert!(pool.is_down(addr(1), now));
        assert_eq!(pool.order(&[addr(1), addr(2)], now), [addr(2), addr(1)]);
        // Probed back in once the back-off is over.
        let later = now + BACKOFF_BASE + Duration::from_millis(1);
        assert!(!pool.is_down(addr(1), later));
        assert_eq!(pool.order(&[addr(1), addr(2)], later), [addr(1), addr(2)]);
        // Consecutive failures double the back-off, up to the maximum.
        assert_eq!(pool.failure(addr(1), later, "timeout"), BACKOFF_BASE * 2);
        assert_eq!(pool.failure(addr(1), later, "timeout"), BACKOFF_BASE * 4);
        for _ in 0..20 {
            pool.failure(addr(1), later, "timeout");
        }
        assert_eq!(pool.failure(addr(1), later, "timeout"), BACKOFF_MAX);
        // One answer clears it all.
        pool.success(addr(1), Duration::from_millis(2));
        assert!(!pool.is_down(addr(1), later));
    }

    #[test]
    fn much_faster_upstreams_come_first_and_jitter_does_not_reorder() {
        let pool = UpstreamPool::new();
        let now = Instant::now();
        pool.success(addr(1), Duration::from_millis(180));
        pool.success(addr(2), Duration::from_millis(5));
        assert_eq!(pool.order(&[addr(1), addr(2)], now), [addr(2), addr(1)]);
        pool.success(addr(3), Duration::from_millis(20));
        // 5 ms and 20 ms share a band: configured order decides.
        assert_eq!(pool.order(&[addr(3), addr(2)], now), [addr(3), addr(2)]);
    }

    #[test]
    fn when_everything_is_down_the_soonest_back_goes_first() {
        let pool = UpstreamPool::new();
        let now = Instant::now();
        pool.failure(addr(1), now, "timeout");
        pool.failure(addr(1), now, "timeout");
        pool.failure(addr(2), now, "timeout");
        assert_eq!(pool.order(&[addr(1), addr(2)], now), [addr(2), addr(1)]);
    }
}
