//! Forwarding: names this server does not answer go to upstream resolvers.
//!
//! [`Forwarder::forward`] tries the route's upstreams in order within one
//! overall budget (`forward.timeout_ms`), twice round, giving each attempt an
//! equal share of what is left. An upstream that times out, fails, answers
//! SERVFAIL, REFUSED, NOTIMP or FORMERR makes way for the next one.
//!
//! Seams for later work: the cache and serve-stale sit in front of the
//! exchange in `forward`, health ordering replaces the plain order of
//! `attempts`, and CNAME chain completion post-processes the answer.

mod exchange;

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, Query, ResponseCode};
use tokio::time::Instant;
use tracing::debug;

pub use exchange::ExchangeError;
use exchange::{UpstreamQuery, exchange};

/// How many times each upstream may be tried for one query.
const ROUNDS: usize = 2;

/// Flags of the client's query that travel upstream.
#[derive(Debug, Clone, Copy, Default)]
pub struct ForwardFlags {
    pub dnssec_ok: bool,
    pub checking_disabled: bool,
}

/// Why no upstream answer could be relayed.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("no upstream is configured for this name")]
    NoUpstreams,
    #[error("every upstream failed; last: {0}")]
    Exhausted(String),
}

/// Sends queries upstream. Stateless for now; the upstream pool's health
/// and the cache will live here.
#[derive(Debug, Default)]
pub struct Forwarder {}

impl Forwarder {
    pub fn new() -> Self {
        Self {}
    }

    /// Asks `upstreams` for `question` within `budget`, returning the first
    /// usable answer (NOERROR or NXDOMAIN, possibly empty).
    pub async fn forward(
        &self,
        upstreams: &[SocketAddr],
        question: &Query,
        flags: ForwardFlags,
        budget: Duration,
    ) -> Result<Message, ForwardError> {
        if upstreams.is_empty() {
            return Err(ForwardError::NoUpstreams);
        }
        let deadline = Instant::now() + budget;
        let attempts: Vec<SocketAddr> = upstreams
            .iter()
            .copied()
            .cycle()
            .take(upstreams.len() * ROUNDS)
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
                .map_err(|e| ForwardError::Exhausted(e.to_string()))?;
            match exchange(upstream, &query, attempt_deadline).await {
                Ok(answer) => match answer.metadata.response_code {
                    ResponseCode::NoError | ResponseCode::NXDomain => return Ok(answer),
                    rcode => {
                        debug!(%upstream, %rcode, name = %question.name(), "upstream failed the query; trying the next");
                        last_error = format!("{upstream} answered {rcode}");
                        refused.push(upstream);
                    }
                },
                Err(error) => {
                    debug!(%upstream, %error, name = %question.name(), "no answer from upstream; trying the next");
                    last_error = format!("{upstream}: {error}");
                }
            }
        }
        Err(ForwardError::Exhausted(last_error))
    }
}
