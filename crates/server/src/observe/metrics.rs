//! Prometheus metrics counted on the request path: one series per
//! response (transport, outcome, rcode) and per upstream try. What already
//! exists as state is read at scrape time instead (`ops::state`).

use std::sync::OnceLock;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::reply::Outcome;
use crate::wire::Transport;

/// Labels of `privatelink_dns_queries_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueryLabels {
    pub transport: &'static str,
    pub outcome: &'static str,
    pub rcode: &'static str,
}

/// Labels of the per-upstream series.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamLabels {
    pub upstream: String,
}

/// Labels of `privatelink_dns_view_queries_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ViewLabels {
    pub view: String,
}

/// Labels of `privatelink_dns_rate_limited_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabels {
    pub action: &'static str,
}

/// Labels of `privatelink_dns_tcp_closed_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: &'static str,
}

/// Labels of `privatelink_dns_upstream_errors_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamErrorLabels {
    pub upstream: String,
    pub kind: &'static str,
}

type HistogramFamily = Family<UpstreamLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.25 ms to about 4 s.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
}

/// Rcode labels, in the order of [`rcode_index`].
const RCODE_LABELS: usize = 9;
/// One slot per transport, outcome and rcode label.
const SLOTS: usize = 2 * Outcome::COUNT * RCODE_LABELS;

/// The series counted on the request path.
#[derive(Debug, Clone)]
pub struct Metrics {
    pub queries: Family<QueryLabels, Counter>,
    pub upstream_queries: Family<UpstreamLabels, Counter>,
    pub upstream_latency: HistogramFamily,
    pub upstream_errors: Family<UpstreamErrorLabels, Counter>,
    pub rate_limited: Family<ActionLabels, Counter>,
    /// Queries answered from each `[[view]]`.
    pub view_queries: Family<ViewLabels, Counter>,
    /// UDP datagrams dropped because the reference path was full.
    pub udp_overflow: Counter,
    /// Query-log events dropped because the log writer was behind.
    pub query_log_dropped: Counter,
    /// TCP connections being served.
    pub tcp_connections: Gauge,
    /// TCP connections the server closed, by reason.
    pub tcp_closed: Family<ReasonLabels, Counter>,
    /// Each `queries` series, found once and then counted without the
    /// family's lock and hash: the engine counts every response.
    slots: std::sync::Arc<[OnceLock<Counter>; SLOTS]>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            queries: Family::default(),
            upstream_queries: Family::default(),
            upstream_latency: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            upstream_errors: Family::default(),
            rate_limited: Family::default(),
            view_queries: Family::default(),
            udp_overflow: Counter::default(),
            query_log_dropped: Counter::default(),
            tcp_connections: Gauge::default(),
            tcp_closed: Family::default(),
            slots: std::sync::Arc::new(std::array::from_fn(|_| OnceLock::new())),
        }
    }
}

/// The position of an rcode's label among [`RCODE_LABELS`].
fn rcode_index(rcode: ResponseCode) -> usize {
    match u16::from(rcode) {
        code @ 0..=5 => usize::from(code),
        16 => 6,
        9 => 7,
        _ => 8,
    }
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one response.
    pub fn query(&self, transport: Transport, outcome: Outcome, rcode: ResponseCode) {
        let slot = ((transport as usize) * Outcome::COUNT + outcome as usize) * RCODE_LABELS
            + rcode_index(rcode);
        let labels = || QueryLabels {
            transport: transport.as_str(),
            outcome: outcome.as_str(),
            rcode: rcode_label(rcode),
        };
        match self.slots.get(slot) {
            Some(cell) => {
                cell.get_or_init(|| self.queries.get_or_create(&labels()).clone())
                    .inc();
            }
            None => {
                self.queries.get_or_create(&labels()).inc();
            }
        }
    }

    /// Counts one try towards an upstream, and how it ended.
    pub fn upstream(&self, upstream: &str, latency: Duration, error: Option<&'static str>) {
        let labels = UpstreamLabels {
            upstream: upstream.to_owned(),
        };
        self.upstream_queries.get_or_create(&labels).inc();
        match error {
            None => self
                .upstream_latency
                .get_or_create(&labels)
                .observe(latency.as_secs_f64()),
            Some(kind) => {
                self.upstream_errors
                    .get_or_create(&UpstreamErrorLabels {
                        upstream: labels.upstream,
                        kind,
                    })
                    .inc();
            }
        }
    }

    /// Counts a UDP datagram dropped because the general path was full.
    pub fn udp_overflow(&self) {
        self.udp_overflow.inc();
    }

    /// Counts a UDP response held back by rate limiting (`drop` or `slip`).
    pub fn rate_limited(&self, action: &'static str) {
        self.rate_limited
            .get_or_create(&ActionLabels { action })
            .inc();
    }

    /// Counts a TCP connection the server closed: `idle` (nothing asked
    /// for `tcp_idle_timeout_s`) or `not_reading` (its answers not taken
    /// for as long).
    pub fn tcp_closed(&self, reason: &'static str) {
        self.tcp_closed
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    /// The series of the view `name` (found once per snapshot; see
    /// [`Snapshot::count_view_query`](crate::store::Snapshot::count_view_query)).
    pub fn view_counter(&self, name: &str) -> Counter {
        self.view_queries
            .get_or_create(&ViewLabels {
                view: name.to_owned(),
            })
            .clone()
    }

    /// A registry with every series, the state read at scrape time included.
    pub fn registry(&self, state: Box<dyn Collector>) -> Registry {
        let mut registry = Registry::with_prefix("privatelink_dns");
        registry.register(
            "queries",
            "DNS responses sent, by transport, outcome and rcode",
            self.queries.clone(),
        );
        registry.register(
            "upstream_queries",
            "Queries sent to each upstream (every UDP or TCP try)",
            self.upstream_queries.clone(),
        );
        registry.register(
            "upstream_duration_seconds",
            "Time to a usable upstream answer",
            self.upstream_latency.clone(),
        );
        registry.register(
            "upstream_errors",
            "Upstream tries that failed, by kind (timeout, servfail, refused, notimp, formerr, io, mismatch, malformed)",
            self.upstream_errors.clone(),
        );
        registry.register(
            "rate_limited",
            "UDP responses over the rate limit, by action (drop, or slip: an empty truncated answer)",
            self.rate_limited.clone(),
        );
        registry.register(
            "view_queries",
            "Queries answered from each [[view]] (the top level's are the rest)",
            self.view_queries.clone(),
        );
        registry.register(
            "udp_overflow",
            "UDP queries dropped because the reference path had too many in progress",
            self.udp_overflow.clone(),
        );
        registry.register(
            "query_log_dropped",
            "Query-log events dropped because the log writer was behind (the queries were answered)",
            self.query_log_dropped.clone(),
        );
        registry.register(
            "tcp_connections",
            "TCP connections being served (at most tcp_max_connections)",
            self.tcp_connections.clone(),
        );
        registry.register(
            "tcp_closed",
            "TCP connections closed by the server, by reason (idle: nothing asked; not_reading: answers not taken) for tcp_idle_timeout_s",
            self.tcp_closed.clone(),
        );
        registry.register_collector(state);
        registry
    }
}

/// The rcode label: the mnemonic, upper case.
pub(crate) fn rcode_label(rcode: ResponseCode) -> &'static str {
    match u16::from(rcode) {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        9 => "NOTAUTH",
        16 => "BADVERS",
        _ => "OTHER",
    }
}
