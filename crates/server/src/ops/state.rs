//! The metrics read at scrape time from the state that already exists:
//! cache size and hits, forwarding counters, mapping generation, reload
//! results, readiness. The request path pays nothing for them.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::UNIX_EPOCH;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use super::health::Health;
use super::reload::Reloader;
use crate::resolve::forward::Forwarder;
use crate::store::MappingStore;

/// Reads the server's state at scrape time.
pub(crate) struct StateCollector {
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
