//! The response wrapper that counts every response and, when the query log
//! is on, writes one event per response: client, name, type, outcome,
//! rcode, upstream, latency. It wraps hickory's response handle, so the
//! lookup code neither logs nor counts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::Record;
use hickory_server::net::NetError;
use hickory_server::server::{Request, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponse;
use tracing::info;

use crate::dispatch::transport;
use crate::metrics::Metrics;
use crate::reply::Outcome;

/// The query-log target: filter with `RUST_LOG=privatelink_dns::query=info`.
pub const TARGET: &str = "privatelink_dns::query";

/// A response handle that observes what it sends.
#[derive(Clone)]
pub(crate) struct Observed<R> {
    inner: R,
    metrics: Arc<Metrics>,
    started: Instant,
    client: SocketAddr,
    transport: &'static str,
    outcome: Outcome,
    upstream: Option<SocketAddr>,
    /// `(name, type)` when the query log is on.
    logged: Option<(String, String)>,
}

impl<R: ResponseHandler> Observed<R> {
    pub(crate) fn new(
        inner: R,
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
            inner,
            metrics,
            started,
            client: request.src(),
            transport: transport(request.protocol()),
            outcome,
            upstream,
            logged,
        }
    }

    fn observe(&self, rcode: ResponseCode) {
        self.metrics.query(self.transport, self.outcome, rcode);
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

#[async_trait::async_trait]
impl<R: ResponseHandler> ResponseHandler for Observed<R> {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        let result = self.inner.send_response(response).await;
        let rcode = match &result {
            Ok(info) => info.response_code,
            Err(_) => ResponseCode::ServFail,
        };
        self.observe(rcode);
        result
    }
}
