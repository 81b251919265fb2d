//! One question asked upstream: the tries, each within the upstream's
//! budget, in the pool's order, twice round, within one overall deadline.
//!
//! A fetch runs as its own task so that it outlives the client that caused
//! it: a client answered stale after the client-response timer leaves the
//! refresh running, and a prefetch has no client at all.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hickory_proto::op::{Message, Query, ResponseCode};
use privatelink_mapping::UpstreamLimits;
use tokio::time::Instant;
use tracing::{debug, warn};

use super::budget::{Priority, Shed};
use super::exchange::{UpstreamQuery, exchange};
use super::inflight::Leader;
use super::priority::Held;
use super::{CacheKey, ForwardFlags, Forwarder, sanitize};

/// How many times each upstream may be tried for one query.
const ROUNDS: usize = 2;

/// A budget shedding is logged at most this often per upstream.
const SHED_WARN_EVERY: Duration = Duration::from_secs(60);

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

/// Everything a fetch needs, owned, so that it can run as a task.
#[derive(Debug)]
pub(crate) struct Fetch {
    pub key: CacheKey,
    pub question: Query,
    pub flags: ForwardFlags,
    pub upstreams: Vec<SocketAddr>,
    pub limits: UpstreamLimits,
    pub timeout: Duration,
    pub priority: Priority,
    /// The miss counted against its suffixes while it is out.
    pub held: Held,
    pub leader: Leader,
    /// The `forward.max_inflight` slot it holds.
    pub slot: tokio::sync::OwnedSemaphorePermit,
}

impl Fetch {
    /// Asks, caches a usable answer and tells every waiting query.
    pub(crate) async fn run(self, forwarder: Arc<Forwarder>) {
        let Self {
            key,
            question,
            flags,
            upstreams,
            limits,
            timeout,
            priority,
            held,
            leader,
            slot,
        } = self;
        let asked = Ask {
            upstreams: &upstreams,
            limits,
            question: &question,
            flags,
            timeout,
            priority,
        };
        let outcome = match forwarder.ask_upstreams(&asked).await {
            Ok((mut answer, upstream)) => {
                sanitize(question.name(), question.query_type(), &mut answer);
                forwarder
                    .cache
                    .insert(key, &answer, std::time::Instant::now());
                Ok((answer, upstream))
            }
            Err(reason) => Err(reason),
        };
        drop((held, slot));
        leader.finish(outcome);
    }
}

/// One fetch's question and route.
struct Ask<'a> {
    upstreams: &'a [SocketAddr],
    limits: UpstreamLimits,
    question: &'a Query,
    flags: ForwardFlags,
    timeout: Duration,
    priority: Priority,
}

impl Forwarder {
    /// Tries the upstreams in health order, twice round, within the
    /// timeout; a try waits for its upstream's budget only in the first
    /// quarter of it.
    async fn ask_upstreams(&self, ask: &Ask<'_>) -> Result<(Message, SocketAddr), String> {
        let started = Instant::now();
        let deadline = started + ask.timeout;
        let queue_deadline = started + ask.timeout / 4;
        let order = self.pool.order(ask.upstreams, started);
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
            let budget = self.budgets.of(upstream, ask.limits);
            let wait_until = queue_deadline.max(Instant::now()).min(deadline);
            let permit = match budget.acquire(ask.priority, wait_until).await {
                Ok(permit) => permit,
                Err(shed) => {
                    self.warn_shedding(upstream, &budget, shed);
                    last_error = format!("{upstream}: {shed}");
                    refused.push(upstream);
                    continue;
                }
            };
            let now = Instant::now();
            if now >= deadline {
                last_error = "the forwarding budget is spent".into();
                break;
            }
            let share = u32::try_from(attempts.len() - index).unwrap_or(u32::MAX);
            let attempt_deadline = now + (deadline - now) / share;
            let query = UpstreamQuery::new(
                ask.question,
                ask.flags.dnssec_ok,
                ask.flags.checking_disabled,
            )
            .map_err(|e| e.to_string())?;
            self.stats.upstream_queries.fetch_add(1, Ordering::Relaxed);
            let result = exchange(
                &self.sockets,
                upstream,
                &query,
                attempt_deadline,
                &self.stats.discarded,
            )
            .await;
            drop(permit);
            let latency = now.elapsed();
            let name = budget.label();
            match result {
                Ok(answer) => match answer.metadata.response_code {
                    ResponseCode::NoError | ResponseCode::NXDomain => {
                        self.pool.success(upstream, latency);
                        self.metrics.upstream(name, latency, None);
                        return Ok((answer, upstream));
                    }
                    rcode => {
                        let kind = rcode_error_kind(rcode);
                        self.metrics.upstream(name, latency, Some(kind));
                        let backoff = self.pool.failure(upstream, Instant::now(), kind);
                        debug!(%upstream, %rcode, name = %ask.question.name(), ?backoff, "upstream failed the query; trying the next");
                        last_error = format!("{upstream} answered {rcode}");
                        refused.push(upstream);
                    }
                },
                Err(error) => {
                    let kind = error.kind();
                    self.metrics.upstream(name, latency, Some(kind));
                    let backoff = self.pool.failure(upstream, Instant::now(), kind);
                    debug!(%upstream, %error, name = %ask.question.name(), ?backoff, "no answer from upstream; trying the next");
                    last_error = format!("{upstream}: {error}");
                }
            }
        }
        Err(last_error)
    }

    /// One WARN per upstream and minute while its budget sheds queries.
    fn warn_shedding(&self, upstream: SocketAddr, budget: &super::budget::Budget, shed: Shed) {
        let now = Instant::now();
        if budget.warn_due(now, SHED_WARN_EVERY) {
            let usage = budget.usage(now);
            warn!(
                %upstream,
                reason = %shed,
                shed_total = budget.stats.shed.load(Ordering::Relaxed),
                pending = usage.pending,
                queued = usage.queued,
                sent_last_second = usage.sent_last_second,
                "upstream budget spent: shedding queries (upstream_max_qps / upstream_max_pending)"
            );
        }
    }
}
