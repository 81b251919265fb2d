//! `/api/v1/*`: what the server knows, as JSON: its status, the missing
//! records with the TOML that maps them, and every record served (what
//! `records --format json` prints). The status page renders the same data.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use privatelink_mapping::advice::{Advice, Advisor};
use privatelink_mapping::inventory::VaultSummary;
use privatelink_mapping::records::{RecordRow, all_rows};
use privatelink_mapping::{Lookup, Mapping, QueryType};
use serde::Serialize;

use super::health::Health;
use super::history::ReloadEvent;
use super::reload::Reloader;
use crate::engine::Engine;
use crate::observe::missing::MissingEntry;
use crate::resolve::forward::Forwarder;
use crate::store::{MappingStore, Snapshot};

/// What the API and the status page read.
#[derive(Debug)]
pub(crate) struct Observed {
    pub store: Arc<MappingStore>,
    pub forwarder: Arc<Forwarder>,
    pub reloader: Arc<Reloader>,
    pub engine: Arc<Engine>,
    pub health: Arc<Health>,
    pub started: SystemTime,
}

fn unix(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[derive(Debug, Serialize)]
pub(crate) struct ZoneStatus {
    pub zone: String,
    pub names: usize,
    pub fallback: &'static str,
}

#[derive(Debug, Serialize)]
pub(crate) struct MappingStatus {
    pub generation: u64,
    pub file: String,
    pub sha256: String,
    pub loaded_at: u64,
    pub names: usize,
    pub zones: Vec<ZoneStatus>,
    pub vaults: Vec<VaultSummary>,
}

#[derive(Debug, Serialize)]
pub(crate) struct BudgetStatus {
    pub pending: u32,
    pub queued: usize,
    pub sent_last_second: usize,
    pub max_pending: u32,
    pub max_qps: u32,
    pub waits: u64,
    pub shed: u64,
}

#[derive(Debug, Serialize)]
pub(crate) struct UpstreamStatus {
    pub address: SocketAddr,
    /// `default`, or the suffixes of the rules that name it.
    pub routes: Vec<String>,
    /// `unknown` (not asked yet), `up`, `down` (in its back-off, asked
    /// last) or `failing` (its back-off is over and it is probed again, but
    /// it has not answered since it failed).
    pub health: &'static str,
    pub srtt_ms: Option<f64>,
    pub consecutive_failures: u32,
    pub failing_for_s: Option<u64>,
    pub budget: Option<BudgetStatus>,
}

#[derive(Debug, Serialize)]
pub(crate) struct CacheStatus {
    pub entries: u64,
    pub bytes: u64,
    pub memo_bytes: u64,
    pub hits: u64,
    pub misses: u64,
    pub stale_served: u64,
    /// hits / (hits + misses); `None` before the first forwarded question.
    pub hit_ratio: Option<f64>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ReloadStatus {
    pub applied: u64,
    pub rejected: u64,
    pub unchanged: u64,
    pub last_failed: bool,
    /// Newest first; the first load included.
    pub history: Vec<ReloadEvent>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ViewStatus {
    pub name: String,
    pub clients: Vec<String>,
    pub names: usize,
    pub zones: usize,
}

#[derive(Debug, Serialize)]
pub(crate) struct RecentQuery {
    pub at: u64,
    pub client: SocketAddr,
    pub transport: &'static str,
    pub name: String,
    /// `A`, `AAAA`, … (`TYPE65` for types without a mnemonic).
    pub qtype: Option<String>,
    pub outcome: &'static str,
    pub rcode: String,
    pub latency_us: u64,
    pub view: Option<String>,
}

/// `GET /api/v1/status`.
#[derive(Debug, Serialize)]
pub(crate) struct Status {
    pub version: &'static str,
    pub started_at: u64,
    pub ready: bool,
    pub mapping: MappingStatus,
    pub last_reload: Option<ReloadEvent>,
    pub reloads: ReloadStatus,
    pub upstreams: Vec<UpstreamStatus>,
    pub cache: CacheStatus,
    pub missing_names: usize,
    pub views: Vec<ViewStatus>,
    pub query_log: bool,
    /// The last responses, newest first (only with the query log on).
    pub recent_queries: Vec<RecentQuery>,
}

/// One missing record with its advice (`GET /api/v1/missing`).
#[derive(Debug, Serialize)]
pub(crate) struct MissingRecord {
    pub name: String,
    pub zone: String,
    pub view: Option<String>,
    pub public: Option<String>,
    pub count: u64,
    pub first_seen: u64,
    pub last_seen: u64,
    pub clients: Vec<String>,
    #[serde(flatten)]
    pub advice: Advice,
}

fn zone_status(mapping: &Mapping) -> Vec<ZoneStatus> {
    mapping
        .zones()
        .iter()
        .map(|zone| ZoneStatus {
            zone: zone.apex.to_string(),
            names: mapping.names_in(zone).len(),
            fallback: zone.fallback.as_str(),
        })
        .collect()
}

fn upstreams(observed: &Observed, snapshot: &Snapshot) -> Vec<UpstreamStatus> {
    let routes = snapshot.forward.upstream_routes();
    let now = tokio::time::Instant::now();
    let budgets = observed.forwarder.budgets().all();
    routes
        .into_iter()
        .map(|(address, routes)| {
            let report = observed.forwarder.pool().report(address, now);
            let budget = budgets.iter().find(|(a, _)| *a == address).map(|(_, b)| {
                let usage = b.usage(now);
                let limits = b.limits();
                BudgetStatus {
                    pending: usage.pending,
                    queued: usage.queued,
                    sent_last_second: usage.sent_last_second,
                    max_pending: limits.max_pending,
                    max_qps: limits.max_qps,
                    waits: b.stats.queued.load(Ordering::Relaxed),
                    shed: b.stats.shed.load(Ordering::Relaxed),
                }
            });
            UpstreamStatus {
                address,
                routes,
                health: match (report.asked, report.down, report.failing_for) {
                    (false, ..) => "unknown",
                    (true, true, _) => "down",
                    (true, false, Some(_)) => "failing",
                    (true, false, None) => "up",
                },
                srtt_ms: report.srtt.map(|d| d.as_secs_f64() * 1000.0),
                consecutive_failures: report.consecutive_failures,
                failing_for_s: report.failing_for.map(|d| d.as_secs()),
                budget,
            }
        })
        .collect()
}

fn cache(observed: &Observed) -> CacheStatus {
    let cache = observed.forwarder.cache();
    let hits = cache.stats.hits.load(Ordering::Relaxed);
    let misses = cache.stats.misses.load(Ordering::Relaxed);
    CacheStatus {
        entries: cache.len(),
        bytes: cache.weighted_bytes(),
        memo_bytes: observed.engine.memo_bytes(),
        hits,
        misses,
        stale_served: cache.stats.stale_served.load(Ordering::Relaxed),
        #[allow(clippy::cast_precision_loss)]
        hit_ratio: (hits + misses > 0).then(|| hits as f64 / (hits + misses) as f64),
    }
}

/// The status of the server now.
pub(crate) fn status(observed: &Observed) -> Status {
    let snapshot = observed.store.snapshot();
    let history = observed.reloader.history().events();
    let counts = observed.reloader.counts();
    let recent_queries = observed
        .engine
        .log()
        .recent()
        .into_iter()
        .map(|event| RecentQuery {
            at: unix(event.at),
            client: event.client,
            transport: event.transport.as_str(),
            name: event.name.text(),
            qtype: event
                .qtype
                .map(|t| hickory_proto::rr::RecordType::from(t).to_string()),
            outcome: event.outcome.as_str(),
            rcode: event.rcode.to_string(),
            latency_us: u64::try_from(event.latency.as_micros()).unwrap_or(u64::MAX),
            view: event.view.as_deref().map(str::to_owned),
        })
        .collect();
    Status {
        version: env!("CARGO_PKG_VERSION"),
        started_at: unix(observed.started),
        ready: observed.health.ready().is_ok(),
        mapping: MappingStatus {
            generation: snapshot.generation,
            file: observed.reloader.path().display().to_string(),
            sha256: snapshot.sha256.clone(),
            loaded_at: unix(snapshot.loaded_at),
            names: snapshot.mapping.name_count(),
            zones: zone_status(&snapshot.mapping),
            vaults: privatelink_mapping::inventory::vaults(&snapshot.mapping),
        },
        last_reload: history.first().cloned(),
        reloads: ReloadStatus {
            applied: counts.applied,
            rejected: counts.rejected,
            unchanged: counts.unchanged,
            last_failed: observed.reloader.last_failed(),
            history,
        },
        upstreams: upstreams(observed, &snapshot),
        cache: cache(observed),
        missing_names: current_missing(observed, &snapshot).len(),
        views: snapshot
            .views()
            .iter()
            .map(|view| ViewStatus {
                name: view.view.as_deref().unwrap_or_default().to_owned(),
                clients: view.clients.iter().map(ToString::to_string).collect(),
                names: view.mapping.name_count(),
                zones: view.mapping.zones().len(),
            })
            .collect(),
        query_log: snapshot.query_log,
        recent_queries,
    }
}

/// The snapshot that serves `view` (`None`: the top level).
fn serving<'s>(snapshot: &'s Snapshot, view: Option<&str>) -> Option<&'s Snapshot> {
    match view {
        None => Some(snapshot),
        Some(name) => snapshot
            .views()
            .iter()
            .find(|v| v.view.as_deref() == Some(name))
            .map(AsRef::as_ref),
    }
}

/// The missing names that are still missing: those the mapping in service
/// now answers (or whose view is gone) are forgotten first.
fn current_missing(observed: &Observed, snapshot: &Snapshot) -> Vec<MissingEntry> {
    let missing = observed.engine.missing();
    missing.forget(|view, name| {
        serving(snapshot, view).is_none_or(|serving| {
            !matches!(
                serving.mapping.lookup(name, QueryType::A),
                Lookup::NxDomain { .. }
            )
        })
    });
    missing.entries()
}

/// `GET /api/v1/missing`: most asked first.
pub(crate) fn missing(observed: &Observed) -> Vec<MissingRecord> {
    let snapshot = observed.store.snapshot();
    let entries = current_missing(observed, &snapshot);
    let top = Advisor::new(&snapshot.mapping);
    let views: Vec<(String, Advisor<'_>)> = snapshot
        .views()
        .iter()
        .map(|v| {
            (
                v.view.as_deref().unwrap_or_default().to_owned(),
                Advisor::new(&v.mapping),
            )
        })
        .collect();
    entries
        .into_iter()
        .map(|entry| {
            let view = entry.view.as_deref();
            let advisor = view
                .and_then(|name| views.iter().find(|(n, _)| n == name).map(|(_, a)| a))
                .unwrap_or(&top);
            MissingRecord {
                advice: advisor.advise(&entry.name, view),
                view: view.map(str::to_owned),
                name: entry.name,
                zone: entry.zone,
                public: entry.public,
                count: entry.count,
                first_seen: unix(entry.first),
                last_seen: unix(entry.last),
                clients: entry.clients.iter().map(ToString::to_string).collect(),
            }
        })
        .collect()
}

/// `GET /api/v1/records`: what `records --format json` prints for the file in service.
pub(crate) fn records(observed: &Observed) -> Vec<RecordRow> {
    let snapshot = observed.store.snapshot();
    let views: Vec<(&str, &Mapping)> = snapshot
        .views()
        .iter()
        .map(|v| (v.view.as_deref().unwrap_or_default(), &v.mapping))
        .collect();
    all_rows(&snapshot.mapping, &views)
}
