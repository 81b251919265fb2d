//! Forwarding: names this server does not answer go to upstream resolvers.
//!
//! [`Forwarder::resolve`] answers from the cache when it can, and below a
//! cached NXDOMAIN (RFC 8020). Otherwise one [`fetch`] per question goes
//! upstream as its own task, and every query for that question waits for
//! it (coalescing). A fetch tries the route's upstreams in the order the
//! [`UpstreamPool`] gives (health, then latency, then configuration), each
//! at most twice, within one overall budget (`forward.timeout_ms`); every
//! try first takes a permit from its upstream's [`budget`] (Azure's 1,000
//! queries per second and 200 pending), queued by [`priority`] when that is
//! spent. A usable answer is sanitised (only its CNAME chain and the proof
//! of a negative answer remain), cached and returned.
//!
//! A query with a stale answer to fall back on waits at most
//! [`STALE_CLIENT_TIMER`] (RFC 8767 §5), then gets the stale answer while
//! the fetch goes on. A cached answer asked for in the last tenth of its
//! TTL is refreshed in the background (prefetch), so names asked steadily
//! never wait. When every try fails, the caller gets the stale answer if
//! there is one.

mod budget;
mod cache;
mod exchange;
mod fetch;
mod inflight;
mod pool;
mod priority;
mod sanitize;
mod sockets;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hickory_proto::op::{Message, Query};
use privatelink_mapping::{ForwardSettings, Route};
use tokio::sync::Semaphore;

use crate::observe::metrics::Metrics;

pub(crate) use budget::Budgets;
pub(crate) use cache::{AnswerCache, CacheKey, Lookup, MAX_TTL, refresh_due};
use fetch::Fetch;
use inflight::{Flight, InFlight, Leader};
pub(crate) use pool::UpstreamPool;
use priority::{Popularity, Pressure};
pub(crate) use sanitize::{chain, sanitize};

/// How long a query with a stale answer to fall back on waits for the
/// upstream before it gets the stale answer (RFC 8767 §5 suggests 1.8 s).
pub(crate) const STALE_CLIENT_TIMER: Duration = Duration::from_millis(1800);

/// Flags of the client's query that travel upstream.
#[derive(Debug, Clone, Copy, Default)]
pub struct ForwardFlags {
    pub dnssec_ok: bool,
    pub checking_disabled: bool,
}

/// Where a forwarded answer came from.
#[derive(Debug, Clone)]
pub enum Answer {
    /// From an upstream, just now (or by a coalesced identical question).
    Upstream(Message, SocketAddr),
    /// From the cache, TTLs decremented; they are exact at the instant given.
    Cached(Message, std::time::Instant),
    /// NXDOMAIN from the cached denial of an ancestor (RFC 8020). Not kept
    /// as a ready response: it ages with the ancestor's entry, which a new
    /// answer for the ancestor replaces.
    Denied(Message),
}

/// Why no upstream answer could be relayed.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("no upstream is configured for this name")]
    NoUpstreams,
    #[error(
        "too many questions are upstream already (forward.max_inflight, or one suffix's share)"
    )]
    Overloaded {
        /// A stale cached answer (TTL 30) to fall back on, if any.
        stale: Option<Box<Message>>,
    },
    #[error("every upstream failed; last: {reason}")]
    Exhausted {
        reason: String,
        /// A stale cached answer (TTL 30) to fall back on, if any.
        stale: Option<Box<Message>>,
    },
}

/// Forwarding counters, for logs and metrics.
#[derive(Debug, Default)]
pub struct ForwardStats {
    /// Queries sent to upstreams (each UDP or TCP try counts).
    pub upstream_queries: AtomicU64,
    /// Datagrams discarded because their id, question or content did not match.
    pub discarded: AtomicU64,
    /// Queries answered by waiting for an identical one already upstream.
    pub coalesced: AtomicU64,
    /// Questions refused because `forward.max_inflight` were upstream already.
    pub overloaded: AtomicU64,
    /// Misses shed because their suffix held its share of the budget.
    pub suffix_shed: AtomicU64,
    /// Cached answers refreshed before they expired.
    pub prefetches: AtomicU64,
    /// Stale answers given because the upstream was slower than
    /// [`STALE_CLIENT_TIMER`].
    pub stale_on_timer: AtomicU64,
}

/// Sends queries upstream, remembers upstream health and caches answers.
#[derive(Debug)]
pub struct Forwarder {
    metrics: Arc<Metrics>,
    pool: UpstreamPool,
    /// Connected UDP sockets to upstreams, reused for a few queries.
    sockets: sockets::SocketPool,
    cache: AnswerCache,
    inflight: InFlight,
    /// One permit per question upstream (`forward.max_inflight`).
    upstream_slots: Arc<Semaphore>,
    budgets: Budgets,
    /// The mapping generation whose limits the budgets hold.
    budgets_generation: AtomicU64,
    popularity: Popularity,
    pressure: Pressure,
    pub stats: ForwardStats,
}

/// One question to resolve, as the route and the client give it.
#[derive(Debug, Clone, Copy)]
pub struct Resolve<'a> {
    pub route: Route<'a>,
    pub question: &'a Query,
    pub flags: ForwardFlags,
    /// `forward.timeout_ms`.
    pub timeout: Duration,
    /// `forward.prefetch`.
    pub prefetch: bool,
    /// The instant cached TTLs are aged to.
    pub now: std::time::Instant,
}

impl Forwarder {
    /// A forwarder whose cache holds about `cache_bytes` (0: no cache) and
    /// keeps expired answers for `stale_max` to serve when upstreams fail.
    pub fn new(
        cache_bytes: u64,
        stale_max: Duration,
        max_inflight: usize,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            upstream_slots: Arc::new(Semaphore::new(max_inflight.max(1))),
            metrics,
            pool: UpstreamPool::new(),
            sockets: sockets::SocketPool::default(),
            cache: AnswerCache::new(cache_bytes, stale_max),
            inflight: InFlight::default(),
            budgets: Budgets::default(),
            budgets_generation: AtomicU64::new(0),
            popularity: Popularity::default(),
            pressure: Pressure::default(),
            stats: ForwardStats::default(),
        }
    }

    pub fn cache(&self) -> &AnswerCache {
        &self.cache
    }

    pub fn pool(&self) -> &UpstreamPool {
        &self.pool
    }

    /// The reused upstream sockets, for metrics.
    pub(crate) fn sockets(&self) -> &sockets::SocketPool {
        &self.sockets
    }

    /// The upstream budgets, for metrics.
    pub(crate) fn budgets(&self) -> &Budgets {
        &self.budgets
    }

    /// Gives the budgets the limits of the forwarding settings in service,
    /// once per mapping generation (at the first miss after a reload).
    pub(crate) fn configure(&self, generation: u64, settings: &ForwardSettings) {
        if self.budgets_generation.load(Ordering::Acquire) != generation {
            self.budgets.configure(settings);
            self.budgets_generation.store(generation, Ordering::Release);
        }
    }

    /// Suffixes with misses upstream now (bounded by the misses upstream).
    pub(crate) fn pressed_suffixes(&self) -> usize {
        self.pressure.len()
    }

    /// Logs the forwarding counters (at shutdown).
    pub fn log_statistics(&self) {
        let stats = &self.cache.stats;
        tracing::info!(
            cache_hits = stats.hits.load(Ordering::Relaxed),
            cache_misses = stats.misses.load(Ordering::Relaxed),
            cache_entries = self.cache.len(),
            stale_served = stats.stale_served.load(Ordering::Relaxed),
            upstream_queries = self.stats.upstream_queries.load(Ordering::Relaxed),
            discarded = self.stats.discarded.load(Ordering::Relaxed),
            coalesced = self.stats.coalesced.load(Ordering::Relaxed),
            overloaded = self.stats.overloaded.load(Ordering::Relaxed),
            suffix_shed = self.stats.suffix_shed.load(Ordering::Relaxed),
            prefetches = self.stats.prefetches.load(Ordering::Relaxed),
            "forwarding statistics"
        );
    }

    /// Answers a question from the cache or from the route's upstreams.
    ///
    /// Identical questions (same cache key) that arrive while one is already
    /// upstream wait for its answer instead of asking again, so a popular
    /// name expiring under load costs one upstream query, not hundreds.
    pub async fn resolve(self: &Arc<Self>, ask: Resolve<'_>) -> Result<Answer, ForwardError> {
        let question = ask.question;
        let key = CacheKey {
            name: crate::wire::lookup_key(question.name()),
            rtype: question.query_type(),
            class: question.query_class(),
            dnssec_ok: ask.flags.dnssec_ok,
            checking_disabled: ask.flags.checking_disabled,
        };
        let asked = self.popularity.count(&key.name);
        let stale = match self.cache.lookup(&key, ask.now) {
            Lookup::Fresh(hit) => {
                if hit.refresh_due && ask.prefetch && !ask.route.upstreams.is_empty() {
                    self.prefetch(key, &ask, asked);
                }
                return Ok(Answer::Cached(hit.message, hit.aged_at));
            }
            Lookup::Stale(message) => Some(message),
            Lookup::Absent => None,
        };
        if ask.route.upstreams.is_empty() {
            return Err(ForwardError::NoUpstreams);
        }
        if let Some(hit) = self.cache.nonexistent_above(&key, ask.now) {
            return Ok(Answer::Denied(hit.message));
        }
        let (follower, coalesced) = match self.inflight.join(&key) {
            Flight::Leader(leader) => {
                let follower = leader.follower();
                let known = stale.is_some();
                let Some(fetch) = self.fetch(leader, key, &ask, known, asked) else {
                    return Err(ForwardError::Overloaded {
                        stale: stale.map(Box::new),
                    });
                };
                if known {
                    // The client may be answered stale before it is done.
                    tokio::spawn(fetch.run(self.clone()));
                } else {
                    // Nothing to answer sooner with: ask in this task, which
                    // saves a spawn and a cross-thread wake-up per miss.
                    fetch.run(self.clone()).await;
                }
                (follower, false)
            }
            Flight::Follower(follower) => (follower, true),
        };
        let patience = if stale.is_some() {
            STALE_CLIENT_TIMER.min(ask.timeout)
        } else {
            ask.timeout
        };
        let outcome = match tokio::time::timeout(patience, follower.wait()).await {
            Ok(Some(outcome)) => outcome,
            Ok(None) => Err("the query this one waited for did not finish".to_owned()),
            Err(_) if stale.is_some() => {
                self.stats.stale_on_timer.fetch_add(1, Ordering::Relaxed);
                Err("the upstream is slower than the client-response timer".to_owned())
            }
            Err(_) => Err("no answer within forward.timeout_ms".to_owned()),
        };
        if coalesced && outcome.is_ok() {
            self.stats.coalesced.fetch_add(1, Ordering::Relaxed);
        }
        match outcome {
            Ok((answer, upstream)) => Ok(Answer::Upstream(answer, upstream)),
            Err(reason) => Err(ForwardError::Exhausted {
                reason,
                stale: stale.map(Box::new),
            }),
        }
    }

    /// Refreshes a cached answer in the background, unless it is being
    /// fetched already.
    fn prefetch(self: &Arc<Self>, key: CacheKey, ask: &Resolve<'_>, asked: u8) {
        if let Flight::Leader(leader) = self.inflight.join(&key)
            && let Some(fetch) = self.fetch(leader, key, ask, true, asked)
        {
            self.stats.prefetches.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(fetch.run(self.clone()));
        }
    }

    /// The fetch of `key`, within `forward.max_inflight` and its suffix's
    /// share of the budget; `None` (and the leader dropped, so its
    /// followers fail over) when either is full.
    fn fetch(
        self: &Arc<Self>,
        leader: Leader,
        key: CacheKey,
        ask: &Resolve<'_>,
        known: bool,
        asked: u8,
    ) -> Option<Fetch> {
        let Ok(slot) = self.upstream_slots.clone().try_acquire_owned() else {
            self.stats.overloaded.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        let pressure = self.pressure.of(&key.name);
        let share = (ask.route.limits.max_pending / 2).max(1);
        let Some(held) = self.pressure.enter(&key.name, share) else {
            let shed = self.stats.suffix_shed.fetch_add(1, Ordering::Relaxed) + 1;
            if self.pressure.warn_due() {
                tracing::warn!(
                    name = %key.name,
                    share,
                    shed_total = shed,
                    "misses under one suffix hold half of the upstream budget: shedding them (a random-subdomain flood?)"
                );
            }
            return None;
        };
        Some(Fetch {
            key,
            question: ask.question.clone(),
            flags: ask.flags,
            upstreams: ask.route.upstreams.to_vec(),
            limits: ask.route.limits,
            timeout: ask.timeout,
            priority: priority::priority(known, asked, pressure),
            held,
            leader,
            slot,
        })
    }
}
