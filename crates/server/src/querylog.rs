//! Counting every response of the general path and, when the query log is
//! on, writing one event per response: client, name, type, outcome, rcode,
//! upstream, latency. The handler counts just before sending, so that a
//! client holding its answer finds it in `/metrics`, and logs just after,
//! so that the log costs the client no latency; the lookup code neither
//! logs nor counts. (The UDP fast path counts its own answers and stands
//! aside while the query log is on.)

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use hickory_proto::op::ResponseCode;
use hickory_server::server::Request;
use tracing::info;

use crate::dispatch::transport;
use crate::metrics::Metrics;
use crate::reply::Outcome;

/// The query-log target: filter with `RUST_LOG=privatelink_dns::query=info`.
pub const TARGET: &str = "privatelink_dns::query";

/// What is known of a response before it is sent, to count and log it.
#[derive(Clone)]
pub(crate) struct Observed {
    metrics: Arc<Metrics>,
    started: Instant,
    client: SocketAddr,
    transport: &'static str,
    outcome: Outcome,
    upstream: Option<SocketAddr>,
    /// `(name, type)` when the query log is on.
    logged: Option<(String, String)>,
}

impl Observed {
    pub(crate) fn new(
        request: &Request,
        metrics: Arc<Metrics>,
        started: Instant,
        outcome: Outcome,
        upstream: Option<SocketAddr>,
        query_log: bool,
    ) -> Self {
        let logged = query_log.then(|| match request.queries.queries().first() {
            Some(query) => (
                query.original().name().to_ascii(),
                query.query_type().to_string(),
            ),
            None => (String::from("-"), String::from("-")),
        });
        Self {
            metrics,
            started,
            client: request.src(),
            transport: transport(request.protocol()),
            outcome,
            upstream,
            logged,
        }
    }

    /// Counts the response, about to be sent with `rcode`.
    pub(crate) fn count(&self, rcode: ResponseCode) {
        self.metrics.query(self.transport, self.outcome, rcode);
    }

    /// Logs the response, sent with `rcode`, when the query log is on.
    pub(crate) fn log(&self, rcode: ResponseCode) {
        if let Some((name, qtype)) = &self.logged {
            let upstream = self.upstream.map(|u| u.to_string());
            info!(
                target: TARGET,
                client = %self.client,
                transport = self.transport,
                name = name.as_str(),
                qtype = qtype.as_str(),
                outcome = self.outcome.as_str(),
                rcode = crate::metrics::rcode_label(rcode),
                upstream = upstream.as_deref().unwrap_or("-"),
                latency_us = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX),
                "query"
            );
        }
    }
}
