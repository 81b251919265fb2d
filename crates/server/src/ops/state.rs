//! The metrics read at scrape time from the state that already exists:
//! cache size and hits, forwarding counters, mapping generation, reload
//! results, readiness. The request path pays nothing for them.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::UNIX_EPOCH;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use super::health::Health;
use super::reload::Reloader;
use crate::engine::Engine;
use crate::observe::metrics::UpstreamLabels;
use crate::resolve::forward::Forwarder;
use crate::store::MappingStore;

/// Reads the server's state at scrape time.
pub(crate) struct StateCollector {
    pub store: Arc<MappingStore>,
    pub forwarder: Arc<Forwarder>,
    pub reloader: Arc<Reloader>,
    pub health: Arc<Health>,
    pub engine: Arc<Engine>,
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

/// One series per upstream.
fn per_upstream(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    metric_type: MetricType,
    values: &[(String, i64)],
) -> fmt::Result {
    let mut family = encoder.encode_descriptor(name, help, None, metric_type)?;
    for (upstream, value) in values {
        let labels = UpstreamLabels {
            upstream: upstream.clone(),
        };
        let series = family.encode_family(&labels)?;
        match metric_type {
            MetricType::Counter => {
                ConstCounter::new(u64::try_from(*value).unwrap_or(0)).encode(series)?;
            }
            _ => ConstGauge::new(*value).encode(series)?,
        }
    }
    Ok(())
}

/// The forwarder's counters and the upstream budgets.
fn encode_forwarding(encoder: &mut DescriptorEncoder<'_>, forwarder: &Forwarder) -> fmt::Result {
    let stats = &forwarder.stats;
    for (name, help, value) in [
        (
            "forward_overloaded",
            "Misses answered stale, synthesised or SERVFAIL because forward.max_inflight were upstream",
            &stats.overloaded,
        ),
        (
            "forward_suffix_shed",
            "Misses shed because their suffix held half of the upstream's pending budget",
            &stats.suffix_shed,
        ),
        (
            "forward_prefetches",
            "Cached answers refreshed in the last tenth of their TTL",
            &stats.prefetches,
        ),
        (
            "forward_stale_on_timer",
            "Stale answers given because the upstream took longer than 1.8 s (RFC 8767)",
            &stats.stale_on_timer,
        ),
    ] {
        counter(encoder, name, help, value.load(Ordering::Relaxed))?;
    }
    gauge(
        encoder,
        "cache_bytes",
        "Memory the answer cache holds, by its weighing (bound: three quarters of forward.cache_mb)",
        as_i64(forwarder.cache().weighted_bytes()),
    )?;
    gauge(
        encoder,
        "forward_pressed_suffixes",
        "Suffixes with misses upstream now",
        as_i64(u64::try_from(forwarder.pressed_suffixes()).unwrap_or(u64::MAX)),
    )?;
    counter(
        encoder,
        "upstream_sockets_opened",
        "UDP sockets opened to upstreams (each carries up to 32 queries in 10 s, then a new random port is taken)",
        forwarder.sockets().opened(),
    )?;
    gauge(
        encoder,
        "upstream_sockets_idle",
        "Connected UDP sockets to upstreams waiting for their next query",
        as_i64(u64::try_from(forwarder.sockets().idle()).unwrap_or(u64::MAX)),
    )?;
    let now = tokio::time::Instant::now();
    let budgets = forwarder.budgets().all();
    let mut series: [Vec<(String, i64)>; 7] = Default::default();
    for (_, budget) in &budgets {
        let usage = budget.usage(now);
        let limits = budget.limits();
        let upstream = budget.label().to_owned();
        let values = [
            i64::from(usage.pending),
            as_i64(u64::try_from(usage.queued).unwrap_or(u64::MAX)),
            as_i64(u64::try_from(usage.sent_last_second).unwrap_or(u64::MAX)),
            i64::from(limits.max_pending),
            i64::from(limits.max_qps),
            as_i64(budget.stats.queued.load(Ordering::Relaxed)),
            as_i64(budget.stats.shed.load(Ordering::Relaxed)),
        ];
        for (column, value) in series.iter_mut().zip(values) {
            column.push((upstream.clone(), value));
        }
    }
    let [
        pending,
        queued,
        sent,
        max_pending,
        max_qps,
        queued_total,
        shed_total,
    ] = series;
    let gauges = [
        (
            "upstream_budget_pending",
            "Tries out to the upstream now",
            pending,
        ),
        (
            "upstream_budget_queued",
            "Tries waiting for the upstream's budget now",
            queued,
        ),
        (
            "upstream_budget_sent_last_second",
            "Tries sent to the upstream in the last second",
            sent,
        ),
        (
            "upstream_budget_max_pending",
            "upstream_max_pending in service",
            max_pending,
        ),
        (
            "upstream_budget_max_qps",
            "upstream_max_qps in service",
            max_qps,
        ),
    ];
    for (name, help, values) in gauges {
        per_upstream(encoder, name, help, MetricType::Gauge, &values)?;
    }
    per_upstream(
        encoder,
        "upstream_budget_waits",
        "Tries that waited for the upstream's budget",
        MetricType::Counter,
        &queued_total,
    )?;
    per_upstream(
        encoder,
        "upstream_budget_shed",
        "Tries shed: the upstream's budget stayed spent (queue full or deadline)",
        MetricType::Counter,
        &shed_total,
    )
}

/// An info metric: `<name>_info{labels} 1`.
fn info(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    labels: &[(&str, &str)],
) -> fmt::Result {
    let labels: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let metric = prometheus_client::metrics::info::Info::new(labels);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

/// `process_*`, as Prometheus' own clients name them.
fn encode_process(encoder: &mut DescriptorEncoder<'_>) -> fmt::Result {
    let reading = super::process::read();
    gauge(
        encoder,
        "process_resident_memory_bytes",
        "Resident memory size in bytes",
        as_i64(reading.resident_bytes),
    )?;
    let cpu = ConstCounter::new(reading.cpu_seconds);
    cpu.encode(encoder.encode_descriptor(
        "process_cpu_seconds",
        "Total user and system CPU time spent in seconds",
        None,
        cpu.metric_type(),
    )?)?;
    gauge(
        encoder,
        "process_open_fds",
        "Number of open file descriptors",
        as_i64(reading.open_fds),
    )?;
    gauge(
        encoder,
        "process_start_time_seconds",
        "Start time of the process since the Unix epoch in seconds",
        as_i64(reading.start_time_seconds),
    )
}

fn as_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Collector for StateCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> fmt::Result {
        let cache = self.forwarder.cache();
        let stats = &cache.stats;
        let forward = &self.forwarder.stats;
        gauge(
            &mut encoder,
            "memo_bytes",
            "Memory the kept UDP responses for cached answers hold, by their weighing (bound: a quarter of forward.cache_mb)",
            as_i64(self.engine.memo_bytes()),
        )?;
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

        encode_forwarding(&mut encoder, &self.forwarder)?;

        let snapshot = self.store.snapshot();
        let now = tokio::time::Instant::now();
        let up: Vec<(String, i64)> = snapshot
            .forward
            .upstream_routes()
            .into_iter()
            .map(|(upstream, _)| {
                let down = self.forwarder.pool().report(upstream, now).down;
                (upstream.to_string(), i64::from(!down))
            })
            .collect();
        per_upstream(
            &mut encoder,
            "upstream_up",
            "0 while a configured upstream is in its back-off after failing (asked last), else 1",
            MetricType::Gauge,
            &up,
        )?;
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
        let missing = self.engine.missing();
        gauge(
            &mut encoder,
            "missing_names",
            "Names asked for in served zones that the mapping lacks, held for /api/v1/missing",
            as_i64(u64::try_from(missing.len()).unwrap_or(u64::MAX)),
        )?;
        counter(
            &mut encoder,
            "missing_names_seen",
            "Distinct names asked for in served zones that the mapping lacked (NXDOMAIN), since start-up",
            missing.seen_total(),
        )?;
        info(
            &mut encoder,
            "build",
            "The running version",
            &[("version", env!("CARGO_PKG_VERSION"))],
        )?;
        info(
            &mut encoder,
            "mapping_sha256",
            "SHA-256 of the mapping file in service (compare with sha256sum)",
            &[("sha256", snapshot.sha256.as_str())],
        )?;
        encode_process(&mut encoder)
    }
}
