//! Prometheus metrics.
//!
//! Per-query and per-upstream series are counted where they happen (the
//! response wrapper, the forwarder); everything that already exists as
//! state — cache size and hits, mapping generation, reload results — is read
//! at scrape time by [`StateCollector`], so the request path pays nothing
//! for it.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, UNIX_EPOCH};

use hickory_proto::op::ResponseCode;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::fast::FastOutcome;
use crate::forward::Forwarder;
use crate::health::Health;
use crate::reload::Reloader;
use crate::reply::Outcome;
use crate::store::MappingStore;

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

/// Labels of `privatelink_dns_rate_limited_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabels {
    pub action: &'static str,
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

/// The series counted on the request path.
#[derive(Debug, Clone)]
pub struct Metrics {
    pub queries: Family<QueryLabels, Counter>,
    pub upstream_queries: Family<UpstreamLabels, Counter>,
    pub upstream_latency: HistogramFamily,
    pub upstream_errors: Family<UpstreamErrorLabels, Counter>,
    pub rate_limited: Family<ActionLabels, Counter>,
    /// UDP datagrams dropped because the general path was full.
    pub udp_overflow: Counter,
    /// The fast path's series, looked up once: it counts per query.
    fast: [Counter; 7],
}

impl Default for Metrics {
    fn default() -> Self {
        let queries: Family<QueryLabels, Counter> = Family::default();
        let series = |outcome: Outcome, rcode: ResponseCode| {
            queries
                .get_or_create(&QueryLabels {
                    transport: "udp",
                    outcome: outcome.as_str(),
                    rcode: rcode_label(rcode),
                })
                .clone()
        };
        let fast = [
            series(Outcome::Mapped, ResponseCode::NoError),
            series(Outcome::NoData, ResponseCode::NoError),
            series(Outcome::NxDomain, ResponseCode::NXDomain),
            series(Outcome::Cached, ResponseCode::NoError),
            series(Outcome::Cached, ResponseCode::NXDomain),
            series(Outcome::Chained, ResponseCode::NoError),
            series(Outcome::Chained, ResponseCode::NXDomain),
        ];
        Self {
            queries,
            upstream_queries: Family::default(),
            upstream_latency: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            upstream_errors: Family::default(),
            rate_limited: Family::default(),
            udp_overflow: Counter::default(),
            fast,
        }
    }
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one response.
    pub fn query(&self, transport: &'static str, outcome: Outcome, rcode: ResponseCode) {
        self.queries
            .get_or_create(&QueryLabels {
                transport,
                outcome: outcome.as_str(),
                rcode: rcode_label(rcode),
            })
            .inc();
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

    /// Counts one response of the UDP fast path.
    pub fn fast_udp(&self, outcome: FastOutcome) {
        let index = match outcome {
            FastOutcome::Mapped => 0,
            FastOutcome::NoData => 1,
            FastOutcome::NxDomain => 2,
            FastOutcome::Cached { nxdomain } => 3 + usize::from(nxdomain),
            FastOutcome::Chained { nxdomain } => 5 + usize::from(nxdomain),
        };
        self.fast[index].inc();
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

    /// A registry with every series, the state read at scrape time included.
    pub fn registry(&self, state: StateCollector) -> Registry {
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
            "udp_overflow",
            "UDP queries dropped because the general path had too many in progress",
            self.udp_overflow.clone(),
        );
        registry.register_collector(Box::new(state));
        registry
    }
}

/// The rcode label: the mnemonic, upper case.
pub fn rcode_label(rcode: ResponseCode) -> &'static str {
    match u16::from(rcode) {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        16 => "BADVERS",
        _ => "OTHER",
    }
}

/// Reads the server's state at scrape time.
pub struct StateCollector {
    pub store: Arc<MappingStore>,
    pub forwarder: Arc<Forwarder>,
    pub reloader: Arc<Reloader>,
    pub health: Arc<Health>,
}

impl fmt::Debug for StateCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StateCollector")
    }
}

fn counter(encoder: &mut DescriptorEncoder<'_>, name: &str, help: &str, value: u64) -> fmt::Result {
    let metric = ConstCounter::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

fn gauge(encoder: &mut DescriptorEncoder<'_>, name: &str, help: &str, value: i64) -> fmt::Result {
    let metric = ConstGauge::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

fn as_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Collector for StateCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> fmt::Result {
        let cache = self.forwarder.cache();
        let stats = &cache.stats;
        let forward = &self.forwarder.stats;
        counter(
            &mut encoder,
            "cache_hits",
            "Forwarded questions answered from the cache",
            stats.hits.load(Ordering::Relaxed),
        )?;
        counter(
            &mut encoder,
            "cache_misses",
            "Forwarded questions not in the cache",
            stats.misses.load(Ordering::Relaxed),
        )?;
        counter(
            &mut encoder,
            "cache_stale_served",
            "Expired answers served because every upstream failed",
            stats.stale_served.load(Ordering::Relaxed),
        )?;
        gauge(
            &mut encoder,
            "cache_entries",
            "Answers in the cache",
            as_i64(cache.len()),
        )?;
        counter(
            &mut encoder,
            "coalesced",
            "Questions answered by waiting for an identical one already upstream",
            forward.coalesced.load(Ordering::Relaxed),
        )?;
        counter(
            &mut encoder,
            "upstream_discarded",
            "Upstream datagrams discarded (wrong id or question, or not DNS)",
            forward.discarded.load(Ordering::Relaxed),
        )?;

        let snapshot = self.store.snapshot();
        gauge(
            &mut encoder,
            "mapping_generation",
            "Generation of the mapping in service (1 at start, +1 per applied reload)",
            as_i64(snapshot.generation),
        )?;
        gauge(
            &mut encoder,
            "mapping_names",
            "Names mapped",
            as_i64(u64::try_from(snapshot.mapping.name_count()).unwrap_or(u64::MAX)),
        )?;
        gauge(
            &mut encoder,
            "mapping_zones",
            "Zones served",
            as_i64(u64::try_from(snapshot.mapping.zones().len()).unwrap_or(u64::MAX)),
        )?;
        let loaded = snapshot
            .loaded_at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        gauge(
            &mut encoder,
            "mapping_loaded_timestamp_seconds",
            "When the mapping in service was loaded (Unix time)",
            as_i64(loaded),
        )?;

        let reloads = self.reloader.counts();
        counter(
            &mut encoder,
            "reloads_applied",
            "Reloads that put a new mapping in service",
            reloads.applied,
        )?;
        counter(
            &mut encoder,
            "reloads_rejected",
            "Reloads rejected (the last good mapping stayed)",
            reloads.rejected,
        )?;
        counter(
            &mut encoder,
            "reloads_unchanged",
            "File events without new content",
            reloads.unchanged,
        )?;
        gauge(
            &mut encoder,
            "last_reload_failed",
            "1 while the most recent reload was rejected",
            i64::from(self.reloader.last_failed()),
        )?;
        gauge(
            &mut encoder,
            "ready",
            "1 when /readyz reports ready",
            i64::from(self.health.ready().is_ok()),
        )?;
        Ok(())
    }
}
