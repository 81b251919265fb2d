//! Missing records, seen from traffic: every question for a name inside a
//! served zone that the mapping lacks (asked directly, or reached through a
//! forwarded CNAME chain) is kept here with its zone, the public name asked,
//! counts, first and last time and a few clients, for `/api/v1/missing`,
//! the status page and `privatelink-dns missing`.
//!
//! Bounded: at most [`TABLE_MAX`] names are held; when the table is full,
//! the [`KEEP`] most asked (then most recent) stay and the rest go, so a
//! flood of random names cannot grow it, while a name an agent keeps asking
//! for survives. The log says INFO the first time each name is seen, at
//! most [`LOG_PER_MINUTE`] times a minute, then how many more there were.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use hashbrown::HashMap;
use tracing::info;

use crate::store::Snapshot;

/// Names kept after a prune.
pub(crate) const KEEP: usize = 512;
/// Names held at most; reaching it prunes down to [`KEEP`].
pub(crate) const TABLE_MAX: usize = 2 * KEEP;
/// Client addresses kept per name (the latest distinct ones).
const CLIENTS: usize = 4;
/// New names told in the log per minute; the rest are counted.
const LOG_PER_MINUTE: u32 = 20;
const MINUTE: Duration = Duration::from_secs(60);

/// One missing name, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MissingEntry {
    /// The name the mapping lacks (lower case, no trailing dot).
    pub name: String,
    pub zone: String,
    /// The `[[view]]` that answered; `None` for the top level.
    pub view: Option<Arc<str>>,
    /// The public name the client asked, when a forwarded chain led here.
    pub public: Option<String>,
    pub count: u64,
    pub first: SystemTime,
    pub last: SystemTime,
    pub clients: Vec<IpAddr>,
}

#[derive(Debug)]
struct Seen {
    zone: Box<str>,
    public: Option<Box<str>>,
    count: u64,
    first: SystemTime,
    last: SystemTime,
    clients: Vec<IpAddr>,
}

#[derive(Debug, Default)]
struct Table {
    /// By view (`None`: the top level), then by name.
    names: HashMap<Option<Arc<str>>, HashMap<Box<str>, Seen>>,
    window_start: Option<Instant>,
    told_in_window: u32,
    untold: u64,
}

impl Table {
    /// Names held, over every view (a handful of maps).
    fn len(&self) -> usize {
        self.names.values().map(HashMap::len).sum()
    }
}

/// What one question for a missing name says.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Asked<'a> {
    pub name: &'a str,
    pub zone: &'a str,
    pub view: Option<&'a Arc<str>>,
    pub public: Option<&'a str>,
    pub client: IpAddr,
}

/// The missing names seen since start-up.
#[derive(Debug, Default)]
pub(crate) struct MissingLog {
    table: Mutex<Table>,
    /// Distinct names ever recorded (a name pruned and seen again counts again).
    seen_total: AtomicU64,
}

impl MissingLog {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        match self.table.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Counts one question for a name the mapping lacks.
    pub(crate) fn record(&self, asked: Asked<'_>) {
        let name = asked.name.strip_suffix('.').unwrap_or(asked.name);
        let now = SystemTime::now();
        let mut table = self.lock();
        let table = &mut *table;
        let names = table.names.entry_ref(&asked.view.cloned()).or_default();
        if let Some(seen) = names.get_mut(name) {
            seen.count += 1;
            seen.last = now;
            if let Some(public) = asked.public {
                seen.public = Some(public.into());
            }
            if !seen.clients.contains(&asked.client) {
                if seen.clients.len() == CLIENTS {
                    seen.clients.remove(0);
                }
                seen.clients.push(asked.client);
            }
            return;
        }
        names.insert(
            name.into(),
            Seen {
                zone: asked.zone.into(),
                public: asked.public.map(Into::into),
                count: 1,
                first: now,
                last: now,
                clients: vec![asked.client],
            },
        );
        self.seen_total.fetch_add(1, Ordering::Relaxed);
        tell(table, &asked, name);
        if table.len() >= TABLE_MAX {
            prune(table);
        }
    }

    /// An NXDOMAIN from `snapshot` for `name` (a lookup key), asked by
    /// `client` directly or, with `public`, through a forwarded chain.
    pub(crate) fn nxdomain(
        &self,
        snapshot: &Snapshot,
        name: &str,
        public: Option<&str>,
        client: IpAddr,
    ) {
        let Some(zone) = snapshot.mapping.zone_for(name) else {
            return;
        };
        self.record(Asked {
            name,
            zone: zone.apex.as_str(),
            view: snapshot.view.as_ref(),
            public: public.map(|p| p.strip_suffix('.').unwrap_or(p)),
            client,
        });
    }

    /// Every name held, most asked first (then most recent).
    pub(crate) fn entries(&self) -> Vec<MissingEntry> {
        let table = self.lock();
        let mut entries: Vec<MissingEntry> = table
            .names
            .iter()
            .flat_map(|(view, names)| {
                names.iter().map(move |(name, seen)| MissingEntry {
                    name: name.to_string(),
                    zone: seen.zone.to_string(),
                    view: view.clone(),
                    public: seen.public.as_deref().map(str::to_owned),
                    count: seen.count,
                    first: seen.first,
                    last: seen.last,
                    clients: seen.clients.clone(),
                })
            })
            .collect();
        entries.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then(b.last.cmp(&a.last))
                .then(a.name.cmp(&b.name))
        });
        entries
    }

    /// Forgets the names `mapped` says are served now (after a reload).
    pub(crate) fn forget(&self, mapped: impl Fn(Option<&str>, &str) -> bool) {
        let mut table = self.lock();
        for (view, names) in &mut table.names {
            names.retain(|name, _| !mapped(view.as_deref(), name));
        }
    }

    /// Names held now.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Distinct names recorded since start-up.
    pub(crate) fn seen_total(&self) -> u64 {
        self.seen_total.load(Ordering::Relaxed)
    }
}

/// The INFO line for a new name, within the minute's allowance.
fn tell(table: &mut Table, asked: &Asked<'_>, name: &str) {
    let now = Instant::now();
    let window_over = table
        .window_start
        .is_none_or(|start| now.duration_since(start) >= MINUTE);
    if window_over {
        if table.untold > 0 {
            info!(
                untold = table.untold,
                "more names missing from the mapping were asked for than the log tells; see /api/v1/missing"
            );
        }
        table.window_start = Some(now);
        table.told_in_window = 0;
        table.untold = 0;
    }
    if table.told_in_window < LOG_PER_MINUTE {
        table.told_in_window += 1;
        info!(
            name,
            zone = asked.zone,
            public = asked.public.unwrap_or("-"),
            view = asked.view.map_or("-", |v| &**v),
            client = %asked.client,
            "a name in a served zone is asked for but not mapped (NXDOMAIN); /api/v1/missing has the TOML to add"
        );
    } else {
        table.untold += 1;
    }
}

/// Keeps the [`KEEP`] most asked names, the most recent first among equals.
fn prune(table: &mut Table) {
    let mut ranks: Vec<(u64, SystemTime)> = table
        .names
        .values()
        .flat_map(|names| names.values().map(|seen| (seen.count, seen.last)))
        .collect();
    if ranks.len() <= KEEP {
        return;
    }
    ranks.sort_unstable_by(|a, b| b.cmp(a));
    let cut = ranks[KEEP - 1];
    let mut kept = 0;
    for names in table.names.values_mut() {
        names.retain(|_, seen| {
            let keep = (seen.count, seen.last) >= cut && kept < KEEP;
            kept += usize::from(keep);
            keep
        });
    }
    table.names.retain(|_, names| !names.is_empty());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(log: &MissingLog, name: &str) {
        log.record(Asked {
            name,
            zone: "privatelink.blob.core.windows.net",
            view: None,
            public: None,
            client: IpAddr::from([127, 0, 0, 1]),
        });
    }

    #[test]
    fn repeats_count_and_a_flood_keeps_the_most_asked_within_the_bound() {
        let log = MissingLog::new();
        for _ in 0..5 {
            ask(&log, "acctpod01prot1.privatelink.blob.core.windows.net");
        }
        for i in 0..100_000 {
            ask(&log, &format!("r{i}.privatelink.blob.core.windows.net"));
            assert!(log.len() < TABLE_MAX);
        }
        let entries = log.entries();
        assert!(entries.len() <= TABLE_MAX);
        assert_eq!(
            entries[0].name,
            "acctpod01prot1.privatelink.blob.core.windows.net"
        );
        assert_eq!(entries[0].count, 5);
        assert_eq!(log.seen_total(), 100_001);
    }

    #[test]
    fn clients_are_the_latest_few_distinct_ones() {
        let log = MissingLog::new();
        for last in 1..=6u8 {
            for _ in 0..2 {
                log.record(Asked {
                    name: "a.privatelink.blob.core.windows.net.",
                    zone: "privatelink.blob.core.windows.net",
                    view: None,
                    public: Some("a.blob.core.windows.net"),
                    client: IpAddr::from([10, 0, 0, last]),
                });
            }
        }
        let entries = log.entries();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].name, "a.privatelink.blob.core.windows.net");
        assert_eq!(entries[0].count, 12);
        assert_eq!(
            entries[0].public.as_deref(),
            Some("a.blob.core.windows.net")
        );
        let last: Vec<u8> = entries[0]
            .clients
            .iter()
            .map(|ip| match ip {
                IpAddr::V4(v4) => v4.octets()[3],
                IpAddr::V6(_) => 0,
            })
            .collect();
        assert_eq!(last, [3, 4, 5, 6]);
    }

    #[test]
    fn forgotten_names_leave_the_table() {
        let log = MissingLog::new();
        ask(&log, "a.privatelink.blob.core.windows.net");
        ask(&log, "b.privatelink.blob.core.windows.net");
        log.forget(|_, name| name.starts_with("a."));
        let names: Vec<String> = log.entries().into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["b.privatelink.blob.core.windows.net"]);
        assert_eq!(log.len(), 1);
    }
}
