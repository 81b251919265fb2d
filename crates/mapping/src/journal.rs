//! The recent history of each zone, for incremental transfers (IXFR,
//! RFC 1995).
//!
//! Each reload that gives a zone a new serial records what it removed and
//! added in that zone, one address record at a time. A secondary holding
//! serial N then gets only the deltas from N on. The history is bounded
//! per zone, in count ([`MAX_DELTAS`]) and in size: once the deltas hold
//! more records than the zone itself, the oldest go, because the whole zone
//! (AXFR) is then the smaller answer. A zone whose TTL or NS target changes
//! loses its history (every record changed), as does one whose serial goes
//! back or stays while its names change. The history lives in memory: after a restart, secondaries get the
//! whole zone once.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;

use crate::diff::MappingDiff;
use crate::mapping::{Mapping, Soa};
use crate::name::DomainName;
use crate::serial::is_newer;

/// Deltas kept per zone at most.
pub const MAX_DELTAS: usize = 64;

/// One address record of a zone.
pub type AddressRecord = (DomainName, IpAddr);

/// What one reload changed in one zone, between two serials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneDelta {
    /// The SOA before (its serial is the one a secondary holds).
    pub from: Soa,
    /// The SOA after.
    pub to: Soa,
    pub removed: Vec<AddressRecord>,
    pub added: Vec<AddressRecord>,
}

impl ZoneDelta {
    /// Records it sends in an IXFR: two SOAs and the changes.
    pub fn record_count(&self) -> usize {
        2 + self.removed.len() + self.added.len()
    }
}

/// The deltas of one zone, oldest first, each starting where the one
/// before ended.
#[derive(Debug, Clone, Default)]
struct ZoneHistory {
    deltas: VecDeque<Arc<ZoneDelta>>,
    records: usize,
}

/// The recent history of every zone of one mapping (the top level or a
/// view). Cheap to carry from one reload to the next: deltas are shared.
#[derive(Debug, Clone, Default)]
pub struct Journal {
    zones: HashMap<DomainName, ZoneHistory>,
}

impl Journal {
    /// This journal, which `previous` had, carried over to `newer` (the
    /// mapping replacing it, its serials already given).
    pub fn following(&self, previous: &Mapping, newer: &Mapping) -> Self {
        self.following_diff(previous, newer, &previous.diff(newer))
    }

    /// [`Self::following`] with the reload's diff of the two mappings,
    /// already computed (it costs a pass over every name).
    pub fn following_diff(&self, previous: &Mapping, newer: &Mapping, diff: &MappingDiff) -> Self {
        let changes = changes_by_zone(previous, newer, diff);
        let mut sizes: Option<Vec<usize>> = None;
        let mut zones = HashMap::new();
        for zone in newer.zones() {
            let Some(old) = previous
                .zone_for(zone.apex.as_str())
                .filter(|old| old.apex == zone.apex)
            else {
                continue;
            };
            let mut history = self.zones.get(&zone.apex).cloned().unwrap_or_default();
            if old.soa.serial == zone.soa.serial {
                // Edited under the same serial (a declared one not raised):
                // the deltas no longer end in what that serial serves.
                if !changes.contains_key(&zone.apex) {
                    zones.insert(zone.apex.clone(), history);
                }
                continue;
            }
            if !is_newer(zone.soa.serial, old.soa.serial)
                || old.ttl != zone.ttl
                || old.nameserver != zone.nameserver
            {
                // No delta says this: older serials get the whole zone.
                continue;
            }
            let (removed, added) = changes.get(&zone.apex).cloned().unwrap_or_default();
            let delta = ZoneDelta {
                from: old.soa.clone(),
                to: zone.soa.clone(),
                removed,
                added,
            };
            history.records += delta.record_count();
            history.deltas.push_back(Arc::new(delta));
            let limit = sizes.get_or_insert_with(|| record_counts(newer))[zone.index];
            while history.deltas.len() > MAX_DELTAS || history.records > limit {
                let Some(oldest) = history.deltas.pop_front() else {
                    break;
                };
                history.records -= oldest.record_count();
            }
            if !history.deltas.is_empty() {
                zones.insert(zone.apex.clone(), history);
            }
        }
        Self { zones }
    }

    /// The deltas that take zone `apex` from `serial` to `current`, oldest
    /// first; `None` when the history does not reach back to `serial`.
    pub fn since(&self, apex: &str, serial: u32, current: u32) -> Option<Vec<Arc<ZoneDelta>>> {
        let history = self.zones.get(apex)?;
        let start = history
            .deltas
            .iter()
            .position(|d| d.from.serial == serial)?;
        let deltas: Vec<Arc<ZoneDelta>> = history.deltas.iter().skip(start).cloned().collect();
        let joined = deltas
            .windows(2)
            .all(|w| w[0].to.serial == w[1].from.serial);
        (joined && deltas.last().is_some_and(|d| d.to.serial == current)).then_some(deltas)
    }

    /// Deltas held, over every zone.
    pub fn len(&self) -> usize {
        self.zones.values().map(|h| h.deltas.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }
}

/// The records an AXFR of each zone sends (SOA twice, NS, the addresses),
/// by zone index: one pass over the names for all zones.
pub fn record_counts(mapping: &Mapping) -> Vec<usize> {
    let mut counts = vec![3; mapping.zones().len()];
    for (_, node) in mapping
        .nodes
        .iter()
        .filter(|(_, node)| node.origin.is_some())
    {
        if let Some(count) = usize::try_from(node.zone)
            .ok()
            .and_then(|i| counts.get_mut(i))
        {
            *count += node.addresses.v4().len() + node.addresses.v6().len();
        }
    }
    counts
}

type Changes = (Vec<AddressRecord>, Vec<AddressRecord>);

/// Address records removed and added, by the apex of the zone they are in.
fn changes_by_zone(
    previous: &Mapping,
    newer: &Mapping,
    diff: &MappingDiff,
) -> HashMap<DomainName, Changes> {
    let mut changes: HashMap<DomainName, Changes> = HashMap::new();
    let addresses = |mapping: &Mapping, name: &DomainName| -> Vec<IpAddr> {
        mapping
            .nodes
            .get(name.as_str())
            .filter(|node| node.origin.is_some())
            .map(|node| {
                let v4 = node.addresses.v4().iter().map(|&a| IpAddr::V4(a));
                let v6 = node.addresses.v6().iter().map(|&a| IpAddr::V6(a));
                v4.chain(v6).collect()
            })
            .unwrap_or_default()
    };
    for name in diff.added.iter().chain(&diff.removed).chain(&diff.changed) {
        let before = addresses(previous, name);
        let after = addresses(newer, name);
        if let Some(zone) = previous.zone_for(name.as_str()) {
            let entry = changes.entry(zone.apex.clone()).or_default();
            let gone = before.iter().filter(|a| !after.contains(a));
            entry.0.extend(gone.map(|&a| (name.clone(), a)));
        }
        if let Some(zone) = newer.zone_for(name.as_str()) {
            let entry = changes.entry(zone.apex.clone()).or_default();
            let new = after.iter().filter(|a| !before.contains(a));
            entry.1.extend(new.map(|&a| (name.clone(), a)));
        }
    }
    for (removed, added) in changes.values_mut() {
        removed.sort();
        added.sort();
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load_str;

    const BLOB: &str = "privatelink.blob.core.windows.net";
    const QUEUE: &str = "privatelink.queue.core.windows.net";

    fn mapping(records: &str, serial: u32) -> Mapping {
        let mut mapping = load_str("t.toml", &format!("[records]\n{records}"))
            .unwrap()
            .mapping;
        mapping.stamp_serials(serial);
        mapping
    }

    fn blob(name: &str, ip: &str) -> String {
        format!("\"{name}.{BLOB}\" = \"{ip}\"\n")
    }

    fn record(name: &str, ip: &str) -> AddressRecord {
        (
            DomainName::parse(&format!("{name}.{BLOB}")).unwrap(),
            ip.parse().unwrap(),
        )
    }

    #[test]
    fn a_changed_address_is_one_removal_and_one_addition() {
        let queue = format!("\"q.{QUEUE}\" = \"10.0.1.1\"\n");
        let first = mapping(
            &(blob("a", "10.0.0.1") + &blob("b", "10.0.0.2") + &queue),
            10,
        );
        let mut second = mapping(
            &(blob("a", "10.0.0.1") + &blob("b", "10.0.0.9") + &queue),
            11,
        );
        // The queue zone did not change: it keeps serial 10 and no delta.
        let queue_zone = second.zone_index_for(QUEUE).unwrap();
        second.zones[queue_zone].soa.serial = 10;
        let journal = Journal::default().following(&first, &second);
        let deltas = journal.since(BLOB, 10, 11).unwrap();
        assert_eq!(deltas.len(), 1);
        assert_eq!((deltas[0].from.serial, deltas[0].to.serial), (10, 11));
        assert_eq!(deltas[0].removed, [record("b", "10.0.0.2")]);
        assert_eq!(deltas[0].added, [record("b", "10.0.0.9")]);
        assert!(journal.since(QUEUE, 10, 10).is_none());
        assert!(
            journal.since(BLOB, 9, 11).is_none(),
            "older than the history"
        );
    }

    #[test]
    fn deltas_chain_from_any_serial_in_the_history() {
        // Twenty names that stay: room for the three deltas.
        let kept: String = (0..20)
            .map(|i| blob(&format!("keep{i}"), "10.0.9.1"))
            .collect();
        let mut journal = Journal::default();
        let mut previous = mapping(&(blob("a", "10.0.0.1") + &kept), 1);
        for serial in 2..=4 {
            let text = blob("a", &format!("10.0.0.{serial}"))
                + &kept
                + &blob(&format!("n{serial}"), "10.0.2.1");
            let next = mapping(&text, serial);
            journal = journal.following(&previous, &next);
            previous = next;
        }
        let from_two = journal.since(BLOB, 2, 4).unwrap();
        assert_eq!(from_two.len(), 2);
        assert_eq!(
            from_two[0].removed,
            [record("a", "10.0.0.2"), record("n2", "10.0.2.1")]
        );
        assert_eq!(
            from_two[1].added,
            [record("a", "10.0.0.4"), record("n4", "10.0.2.1")]
        );
        assert_eq!(journal.since(BLOB, 1, 4).unwrap().len(), 3);
        assert!(
            journal.since(BLOB, 4, 4).is_none(),
            "nothing to send: the SOA answers"
        );
    }

    #[test]
    fn the_history_never_holds_more_records_than_the_zone() {
        // A two-name zone (5 records in an AXFR) whose name changes each
        // time: each delta is 4 records, so only one fits.
        let mut journal = Journal::default();
        let mut previous = mapping(&(blob("a", "10.0.0.1") + &blob("b", "10.0.0.100")), 1);
        for serial in 2..=5 {
            let next = mapping(
                &(blob("a", &format!("10.0.0.{serial}")) + &blob("b", "10.0.0.100")),
                serial,
            );
            journal = journal.following(&previous, &next);
            previous = next;
        }
        assert_eq!(journal.len(), 1);
        assert!(journal.since(BLOB, 4, 5).is_some());
        assert!(journal.since(BLOB, 3, 5).is_none());
    }

    #[test]
    fn a_new_ttl_or_a_serial_going_back_forgets_the_history() {
        let first = mapping(&blob("a", "10.0.0.1"), 5);
        let second = mapping(&blob("a", "10.0.0.2"), 6);
        let journal = Journal::default().following(&first, &second);
        assert_eq!(journal.len(), 1);
        let mut third = mapping(&blob("a", "10.0.0.3"), 7);
        for zone in &mut third.zones {
            zone.ttl = 60;
        }
        assert!(journal.following(&second, &third).is_empty());
        let back = mapping(&blob("a", "10.0.0.3"), 2);
        assert!(journal.following(&second, &back).is_empty());
        let same_serial = mapping(&blob("a", "10.0.0.3"), 6);
        assert!(journal.following(&second, &same_serial).is_empty());
        let unchanged = mapping(&blob("a", "10.0.0.2"), 6);
        assert_eq!(journal.following(&second, &unchanged).len(), 1);
        // A bounded count, whatever the sizes.
        let mut many = Journal::default();
        let names: String = (0..400)
            .map(|i| blob(&format!("k{i}"), "10.0.5.5"))
            .collect();
        let mut previous = mapping(&(blob("a", "10.0.0.0") + &names), 0);
        for serial in 1..=100u32 {
            let next = mapping(&(blob("a", &format!("10.0.1.{serial}")) + &names), serial);
            many = many.following(&previous, &next);
            previous = next;
        }
        assert_eq!(many.len(), MAX_DELTAS);
    }
}
