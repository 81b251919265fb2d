//! Forwarding: names this server does not answer go to upstream resolvers.
//!
//! [`Forwarder::resolve`] answers from the cache when it can. Otherwise it
//! tries the route's upstreams in the order the [`UpstreamPool`] gives
//! (health, then latency, then configuration), each at most twice, within
//! one overall budget (`forward.timeout_ms`), every try getting an equal
//! share of what is left. An upstream that times out or answers SERVFAIL,
//! REFUSED, NOTIMP or FORMERR makes way for the next and is marked down for
//! a while. A usable answer is sanitised (only its CNAME chain and the proof
//! of a negative answer remain), cached and returned; when every try fails,
//! the caller gets a stale cached answer if there is one.

mod cache;
mod exchange;
mod inflight;
mod pool;
mod sanitize;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hickory_proto::op::{Message, Query, ResponseCode};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::debug;

use crate::observe::metrics::Metrics;

pub(crate) use cache::{AnswerCache, CacheKey, MAX_TTL};
use exchange::{UpstreamQuery, exchange};
use inflight::{Flight, InFlight};
pub(crate) use pool::UpstreamPool;
pub(crate) use sanitize::{chain, sanitize};

/// The metrics label of an upstream's failing rcode.
fn rcode_error_kind(rcode: ResponseCode) -> &'static str {
    match rcode {
        ResponseCode::ServFail => "servfail",
        ResponseCode::Refused => "refused",
        ResponseCode::NotImp => "notimp",
        ResponseCode::FormErr => "formerr",
        _ => "rcode",
    }
}

/// How many times each upstream may be tried for one query.
const ROUNDS: usize = 2;

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
}

/// Why no upstream answer could be relayed.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("no upstream is configured for this name")]
    NoUpstreams,
    #[error("too many questions are upstream already (forward.max_inflight)")]
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
}

/// Sends queries upstream, remembers upstream health and caches answers.
#[derive(Debug)]
pub struct Forwarder {
    metrics: Arc<Metrics>,
    pool: UpstreamPool,
    cache: AnswerCache,
    inflight: InFlight,
    /// One permit per question upstream (`forward.max_inflight`).
    upstream_slots: Semaphore,
    pub stats: ForwardStats,
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
            upstream_slots: Semaphore::new(max_inflight.max(1)),
            metrics,
            pool: UpstreamPool::new(),
            cache: AnswerCache::new(cache_bytes, stale_max),
            inflight: InFlight::default(),
            stats: ForwardStats::default(),
        }
    }

    pub fn cache(&self) -> &AnswerCache {
        &self.cache
    }

    pub fn pool(&self) -> &UpstreamPool {
        &self.pool
    }

    /// Logs the forwarding counters (at shutdown, until metrics exist).
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
            "forwarding statistics"
        );
    }

    /// Answers `question` from the cache (aged to `now`) or from `upstreams`
    /// within `budget`.
    ///
    /// Identical questions (same cache key) that arrive while one is already
    /// upstream wait for its answer instead of asking again, so a popular
    /// name expiring under load costs one upstream query, not hundreds.
    pub async fn resolve(
        &self,
        upstreams: &[SocketAddr],
        question: &Query,
        flags: ForwardFlags,
        budget: Duration,
        now: std::time::Instant,
    ) -> Result<Answer, ForwardError> {
        let key = CacheKey {
            name: crate::wire::lookup_key(question.name()),
            rtype: question.query_type(),
            class: question.query_class(),
            dnssec_ok: flags.dnssec_ok,
            checking_disabled: flags.checking_disabled,
        };
        if let Some((hit, aged_at)) = self.cache.fresh(&key, now) {
            return Ok(Answer::Cached(hit, aged_at));
        }
        if upstreams.is_empty() {
            return Err(ForwardError::NoUpstreams);
        }
        let outcome = match self.inflight.join(&key) {
            Flight::Leader(leader) => {
                let Ok(_slot) = self.upstream_slots.try_acquire() else {
                    self.stats.overloaded.fetch_add(1, Ordering::Relaxed);
                    leader.finish(Err("overloaded".to_owned()));
                    return Err(ForwardError::Overloaded {
                        stale: self
                            .cache
                            .stale(&key, std::time::Instant::now())
                            .map(Box::new),
                    });
                };
                let outcome = match self.ask_upstreams(upstreams, question, flags, budget).await {
                    Ok((mut answer, upstream)) => {
                        sanitize(question.name(), &mut answer);
                        self.cache
                            .insert(key.clone(), &answer, std::time::Instant::now());
                        Ok((answer, upstream))
                    }
                    Err(reason) => Err(reason),
                };
                leader.finish(outcome.clone());
                outcome
            }
            Flight::Follower(follower) => match tokio::time::timeout(budget, follower.wait()).await
            {
                Ok(Some(outcome)) => {
                    self.stats.coalesced.fetch_add(1, Ordering::Relaxed);
                    outcome
                }
                Ok(None) | Err(_) => Err("the query this one waited for did not finish".to_owned()),
            },
        };
        match outcome {
            Ok((answer, upstream)) => Ok(Answer::Upstream(answer, upstream)),
            Err(reason) => Err(ForwardError::Exhausted {
                reason,
                stale: self
                    .cache
                    .stale(&key, std::time::Instant::now())
                    .map(Box::new),
            }),
        }
    }

    /// Tries the upstreams in health order, twice round, within `budget`.
    async fn ask_upstreams(
        &self,
        upstreams: &[SocketAddr],
        question: &Query,
        flags: ForwardFlags,
        budget: Duration,
    ) -> Result<(Message, SocketAddr), String> {
        let started = Instant::now();
        let deadline = started + budget;
        let order = self.pool.order(upstreams, started);
        let attempts: Vec<SocketAddr> = order
            .iter()
            .copied()
            .cycle()
            .take(order.len() * ROUNDS)
            .collect();
        // Upstreams that gave a definite refusal are not asked again.
        let mut refused: Vec<SocketAddr> = Vec::new();
        let mut last_error = String::from("no attempt was made");
        for (index, upstream) in attempts.iter().copied().enumerate() {
            if refused.contains(&upstream) {
                continue;
            }
            let now = Instant::now();
            if now >= deadline {
                last_error = "the forwarding budget is spent".into();
                break;
            }
            let share = u32::try_from(attempts.len() - index).unwrap_or(u32::MAX);
            let attempt_deadline = now + (deadline - now) / share;
            let query = UpstreamQuery::new(question, flags.dnssec_ok, flags.checking_disabled)
                .map_err(|e| e.to_string())?;
            self.stats.upstream_queries.fetch_add(1, Ordering::Relaxed);
            let result = exchange(upstream, &query, attempt_deadline, &self.stats.discarded).await;
            let latency = now.elapsed();
            let name = upstream.to_string();
            match result {
                Ok(answer) => match answer.metadata.response_code {
                    ResponseCode::NoError | ResponseCode::NXDomain => {
                        self.pool.success(upstream, latency);
                        self.metrics.upstream(&name, latency, None);
                        return Ok((answer, upstream));
                    }
                    rcode => {
                        self.metrics
                            .upstream(&name, latency, Some(rcode_error_kind(rcode)));
                        let backoff = self.pool.failure(upstream, Instant::now());
                        debug!(%upstream, %rcode, name = %question.name(), ?backoff, "upstream failed the query; trying the next");
                        last_error = format!("{upstream} answered {rcode}");
                        refused.push(upstream);
                    }
                },
                Err(error) => {
                    self.metrics.upstream(&name, latency, Some(error.kind()));
                    let backoff = self.pool.failure(upstream, Instant::now());
                    debug!(%upstream, %error, name = %question.name(), ?backoff, "no answer from upstream; trying the next");
                    last_error = format!("{upstream}: {error}");
                }
            }
        }
        Err(last_error)
    }
}
