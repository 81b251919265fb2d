//! What one query sees: the mapping and the settings that can change while
//! the server runs, swapped as a whole.
//!
//! Every request takes one [`Snapshot`] and answers from it to the end,
//! forward path included, so a reload can never mix two mapping versions in
//! one response. Readers never lock: the store is one `ArcSwap`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwap;
use hickory_proto::ProtoError;
use hickory_proto::rr::Record;
use privatelink_mapping::catalog::Catalog;
use privatelink_mapping::journal::Journal;
use privatelink_mapping::tsig::TransferClient;
use privatelink_mapping::{
    DomainName, ForwardSettings, Loaded, Mapping, MappingDiff, RateLimitSettings, Settings,
    ViewSelector, Zone,
};

use crate::engine::access::AllowList;
use crate::engine::prepared::PreparedZones;
use crate::resolve::authoritative::{ZoneRecords, catalog_records};
use crate::wire::tsig_sign::SigningKey;

/// `server.http_allow` and `server.http_token`.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpAccess {
    pub allow: AllowList,
    pub token: Option<String>,
}

impl std::fmt::Debug for HttpAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a secret: never in a log or a panic message.
        f.debug_struct("HttpAccess")
            .field("allow", &self.allow)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// An immutable, complete view of the served configuration.
#[derive(Debug)]
pub struct Snapshot {
    pub mapping: Mapping,
    pub forward: ForwardSettings,
    pub allow: AllowList,
    /// Log one event per response.
    pub query_log: bool,
    pub rate_limit: RateLimitSettings,
    /// Increases by one with every mapping put in service.
    pub generation: u64,
    pub loaded_at: SystemTime,
    /// SHA-256 of the file this snapshot was loaded from.
    pub sha256: String,
    /// Who may transfer the zones, and whom to notify of changes.
    pub transfers: Transfers,
    /// Who may read the status page and the API.
    pub http: HttpAccess,
    /// SOA/NS records per zone, in the order of `mapping.zones()`.
    zone_records: Vec<ZoneRecords>,
    /// The catalog zone's records, with `server.catalog` (else empty).
    catalog_records: Vec<Record>,
    /// Per-zone wire data for the engine's prepared answers.
    pub prepared: PreparedZones,
    /// The `[[view]]` this snapshot serves; `None` for the top level.
    pub view: Option<Arc<str>>,
    /// The client networks of this view; empty for the top level.
    pub clients: Vec<ipnet::IpNet>,
    /// 0 for the top level, the view's position + 1 for a view.
    view_index: u16,
    /// The views (top level only): complete snapshots of their own.
    views: Vec<Arc<Self>>,
    selector: ViewSelector,
    /// This view's `view_queries` series, found at its first query.
    view_queries: std::sync::OnceLock<prometheus_client::metrics::counter::Counter>,
    /// Each zone's recent changes, for IXFR (empty without transfers).
    pub journal: Journal,
}

impl Snapshot {
    /// Prepares a loaded file for serving (builds each zone's SOA and NS
    /// once), each view as a snapshot of its own.
    pub fn new(loaded: Loaded, generation: u64) -> Result<Self, ProtoError> {
        let (selector, views) = loaded.views.into_parts();
        let views = views
            .into_iter()
            .enumerate()
            .map(|(index, view)| {
                let view_index = u16::try_from(index + 1).unwrap_or(u16::MAX);
                let mut snapshot =
                    Self::serving(view.mapping, &loaded.settings, &loaded.sha256, generation)?;
                snapshot.view = Some(view.name);
                snapshot.clients = view.clients;
                snapshot.view_index = view_index;
                Ok(Arc::new(snapshot))
            })
            .collect::<Result<Vec<_>, ProtoError>>()?;
        let mut top = Self::serving(loaded.mapping, &loaded.settings, &loaded.sha256, generation)?;
        top.views = views;
        top.selector = selector;
        Ok(top)
    }

    fn serving(
        mapping: Mapping,
        settings: &Settings,
        sha256: &str,
        generation: u64,
    ) -> Result<Self, ProtoError> {
        let zone_records = mapping
            .zones()
            .iter()
            .map(ZoneRecords::new)
            .collect::<Result<Vec<_>, _>>()?;
        let catalog_records = match mapping.catalog() {
            Some(catalog) => catalog_records(catalog, &mapping)?,
            None => Vec::new(),
        };
        let prepared = PreparedZones::new(&mapping);
        let server = &settings.server;
        Ok(Self {
            prepared,
            mapping,
            forward: settings.forward.clone(),
            allow: AllowList::new(server.allow.clone()),
            query_log: server.query_log,
            rate_limit: settings.rate_limit,
            generation,
            loaded_at: SystemTime::now(),
            sha256: sha256.to_owned(),
            transfers: Transfers {
                clients: server.transfer_clients.clone(),
                keys: server
                    .tsig_keys
                    .iter()
                    .cloned()
                    .map(|key| Arc::new(SigningKey::new(key)))
                    .collect(),
                notify: server.notify.clone(),
            },
            http: HttpAccess {
                allow: AllowList::new(server.http_allow.clone()),
                token: server.http_token.clone(),
            },
            zone_records,
            catalog_records,
            view: None,
            clients: Vec::new(),
            view_index: 0,
            views: Vec::new(),
            selector: ViewSelector::default(),
            view_queries: std::sync::OnceLock::new(),
            journal: Journal::default(),
        })
    }

    /// Carries the zones' histories of `previous` (the snapshot this one
    /// replaces) over to this one and its views (matched by name), adding
    /// what changed between them (`diff`: between the top-level mappings). Only with transfers on: nobody asks
    /// for an IXFR otherwise.
    pub(crate) fn record_history(&mut self, previous: &Self, diff: &MappingDiff) {
        if !self.transfers.enabled() {
            return;
        }
        let journal = previous
            .journal
            .following_diff(&previous.mapping, &self.mapping, diff);
        self.journal = journal;
        for view in &mut self.views {
            let Some(view) = Arc::get_mut(view) else {
                continue;
            };
            if let Some(before) = previous.views.iter().find(|old| old.view == view.view) {
                view.journal = before.journal.following(&before.mapping, &view.mapping);
            }
        }
    }

    /// The view serving `client`, if one does (top-level snapshot only):
    /// the one whose `clients` prefix containing it is longest.
    pub fn view_for(&self, client: std::net::IpAddr) -> Option<&Arc<Self>> {
        self.views.get(self.selector.select(client)?)
    }

    /// Counts a query answered from this view (nothing for the top level).
    pub(crate) fn count_view_query(&self, metrics: &crate::observe::metrics::Metrics) {
        if let Some(name) = &self.view {
            self.view_queries
                .get_or_init(|| metrics.view_counter(name))
                .inc();
        }
    }

    /// The views, in file order.
    pub fn views(&self) -> &[Arc<Self>] {
        &self.views
    }

    /// What the response memo keeps this snapshot's responses under: its
    /// generation and view, so that neither a reload nor another view
    /// ever sees them.
    pub(crate) fn memo_epoch(&self) -> u64 {
        (self.generation << 16) | u64::from(self.view_index)
    }

    /// The prepared records of a zone of this snapshot's mapping.
    pub(crate) fn zone_records(&self, zone: &Zone) -> Option<&ZoneRecords> {
        self.zone_records.get(zone.index)
    }

    /// The catalog zone and its records (SOA first), with `server.catalog`.
    pub(crate) fn catalog(&self) -> Option<(&Catalog, &[Record])> {
        let catalog = self.mapping.catalog()?;
        (!self.catalog_records.is_empty()).then_some((catalog, self.catalog_records.as_slice()))
    }
}

/// Zone transfers out: `server.allow_transfer`, the TSIG keys and
/// `server.notify`.
#[derive(Debug)]
pub struct Transfers {
    /// The `allow_transfer` entries, with the key each requires.
    pub clients: Vec<TransferClient>,
    /// The `[[tsig_key]]`s, prepared for the wire.
    pub(crate) keys: Vec<Arc<SigningKey>>,
    pub notify: Vec<SocketAddr>,
}

impl Transfers {
    /// Transfers are on: some client may transfer.
    pub fn enabled(&self) -> bool {
        !self.clients.is_empty()
    }

    /// True when `client`, whose request was signed with `signed_with`
    /// (verified), may transfer: an entry contains it and requires no key,
    /// or that key.
    pub fn allows(&self, client: std::net::IpAddr, signed_with: Option<&DomainName>) -> bool {
        let client = client.to_canonical();
        self.clients.iter().any(|entry| {
            entry.network.contains(&client)
                && entry
                    .key
                    .as_ref()
                    .is_none_or(|key| Some(key) == signed_with)
        })
    }

    /// The key the first `allow_transfer` entry containing `client`
    /// requires, if it requires one.
    pub fn required_key(&self, client: std::net::IpAddr) -> Option<&DomainName> {
        let client = client.to_canonical();
        let entry = self
            .clients
            .iter()
            .find(|entry| entry.network.contains(&client))?;
        entry.key.as_ref()
    }

    /// The key NOTIFY to `target` is signed with: the one its
    /// `allow_transfer` entry requires.
    pub(crate) fn key_for(&self, target: std::net::IpAddr) -> Option<Arc<SigningKey>> {
        let name = self.required_key(target)?;
        self.keys.iter().find(|key| key.name() == name).cloned()
    }
}

/// The served snapshot, replaceable at any time without blocking queries.
#[derive(Debug)]
pub struct MappingStore {
    current: ArcSwap<Snapshot>,
}

impl MappingStore {
    pub fn new(snapshot: Snapshot) -> Self {
        Self {
            current: ArcSwap::from_pointee(snapshot),
        }
    }

    /// The snapshot to answer one query from.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// The snapshot in service, borrowed for a short, synchronous use (the
    /// prepared answers): cheaper than [`Self::snapshot`], and never held across an await.
    pub fn current(&self) -> arc_swap::Guard<Arc<Snapshot>> {
        self.current.load()
    }

    /// Puts `snapshot` in service and returns the one it replaces.
    pub fn replace(&self, snapshot: Snapshot) -> Arc<Snapshot> {
        self.current.swap(Arc::new(snapshot))
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::thread;

    use privatelink_mapping::{Lookup, QueryType, load_str};

    use super::*;

    const NAMES: u8 = 50;

    /// A mapping whose every name resolves to `10.<version>.0.<i>`.
    fn snapshot(version: u8, generation: u64) -> Snapshot {
        let records: String = (1..=NAMES)
            .map(|i| {
                format!("\"n{i}.privatelink.blob.core.windows.net\" = \"10.{version}.0.{i}\"\n")
            })
            .collect();
        let loaded = load_str("t.toml", &format!("[records]\n{records}")).unwrap();
        Snapshot::new(loaded, generation).unwrap()
    }

    /// The version every name of a snapshot resolves to; panics on a mix.
    fn version_of(snapshot: &Snapshot) -> u8 {
        let versions: Vec<u8> = (1..=NAMES)
            .map(|i| {
                let name = format!("n{i}.privatelink.blob.core.windows.net");
                match snapshot.mapping.lookup(&name, QueryType::A) {
                    Lookup::Answer { records, .. } => {
                        assert_eq!(records.v4.len(), 1);
                        let ip: Ipv4Addr = records.v4[0];
                        assert_eq!(ip.octets()[3], i);
                        ip.octets()[1]
                    }
                    other => panic!("{name}: {other:?}"),
                }
            })
            .collect();
        assert!(
            versions.iter().all(|v| *v == versions[0]),
            "torn snapshot: {versions:?}"
        );
        versions[0]
    }

    #[test]
    fn concurrent_readers_never_see_a_torn_mapping() {
        let store = Arc::new(MappingStore::new(snapshot(1, 1)));
        let prepared: Vec<Snapshot> = (2..=201)
            .map(|g| snapshot(if g % 2 == 0 { 2 } else { 1 }, g))
            .collect();
        let done = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let (store, done) = (store.clone(), done.clone());
                thread::spawn(move || {
                    let mut reads = 0u64;
                    let mut last_generation = 0;
                    while !done.load(Ordering::Relaxed) || reads == 0 {
                        let snap = store.snapshot();
                        let version = version_of(&snap);
                        // Odd generations hold version 1, even ones version 2.
                        assert_eq!(u64::from(version), 2 - snap.generation % 2);
                        assert!(snap.generation >= last_generation, "generations only grow");
                        last_generation = snap.generation;
                        reads += 1;
                    }
                    reads
                })
            })
            .collect();
        for next in prepared {
            let generation = next.generation;
            let old = store.replace(next);
            assert_eq!(old.generation, generation - 1);
        }
        done.store(true, Ordering::Relaxed);
        let reads: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
        assert!(reads >= 4);
        assert_eq!(store.snapshot().generation, 201);
    }

    #[test]
    fn each_view_is_a_snapshot_of_its_own_with_its_own_memo_epoch() {
        let text = r#"
[records]
"a.privatelink.blob.core.windows.net" = "10.0.0.1"
[[view]]
name = "hub"
clients = ["10.20.0.0/16"]
[view.records]
"a.privatelink.blob.core.windows.net" = "10.20.0.1"
"#;
        let top = Snapshot::new(load_str("t.toml", text).unwrap(), 9).unwrap();
        let hub = top.view_for("10.20.3.4".parse().unwrap()).unwrap();
        assert_eq!(hub.view.as_deref(), Some("hub"));
        assert_eq!(hub.generation, 9);
        assert_ne!(hub.memo_epoch(), top.memo_epoch());
        assert!(top.view_for("10.21.0.1".parse().unwrap()).is_none());
        let a = |snapshot: &Snapshot| match snapshot
            .mapping
            .lookup("a.privatelink.blob.core.windows.net", QueryType::A)
        {
            Lookup::Answer { records, .. } => records.v4.to_vec(),
            other => panic!("{other:?}"),
        };
        assert_eq!(a(&top), [Ipv4Addr::new(10, 0, 0, 1)]);
        assert_eq!(a(hub), [Ipv4Addr::new(10, 20, 0, 1)]);
        assert!(hub.views().is_empty());
    }
}
