//! SOA serials when zones are transferred to secondaries.
//!
//! Azure answers serial 1 for every private zone, and so does this server
//! by default. A secondary, though, only transfers a zone again when the
//! serial grows, so with transfers enabled the serial follows the mapping,
//! in one of two ways:
//!
//! - **Declared** (`server.serial = N` in the file): every zone has serial
//!   N. Two replicas loading the same file therefore give the same serial
//!   for the same content, whatever they loaded before or when they
//!   started, and secondaries may list both as primaries. Whoever writes
//!   the file raises N with each change (a pipeline writes `date +%s`); a
//!   reload that would lower a zone's serial is refused, and one that
//!   changes zones without raising it is applied with a warning (the
//!   secondaries would not see the change).
//! - **From the clock** (no `server.serial`): Unix time when a zone is
//!   first served, and on a reload that changes the zone, the reload's time
//!   (or the old serial plus one, if that is larger, so that it grows even
//!   twice in one second or with a clock set back). A restart starts again
//!   from the clock, which has moved on. Replicas started at different
//!   times disagree, so a secondary must pull from one of them.

use std::collections::HashSet;

use crate::diff::MappingDiff;
use crate::mapping::Mapping;
use crate::name::DomainName;

/// What giving a mapping the declared serial did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DeclaredSerials {
    /// Zones whose serial is new (or that are new): the ones to NOTIFY.
    pub changed: Vec<DomainName>,
    /// Zones whose content changed while the serial stayed.
    pub edited_without_new_serial: Vec<DomainName>,
}

impl Mapping {
    /// Gives every zone the serial `serial`: seconds since the Unix epoch
    /// for the first mapping a server loads, or the declared serial.
    pub fn stamp_serials(&mut self, serial: u32) {
        for zone in &mut self.zones {
            zone.soa.serial = serial;
        }
        self.stamp_catalog(serial);
    }

    /// A zone of `previous` (the mapping in service) that this mapping
    /// still serves, whose serial is newer than `serial` in RFC 1982
    /// arithmetic, with that serial: giving it `serial` would go backwards.
    pub fn zone_newer_than(&self, previous: &Self, serial: u32) -> Option<(DomainName, u32)> {
        let zone = self.zones.iter().find_map(|zone| {
            let old = previous.zone_for(zone.apex.as_str())?;
            let served = old.soa.serial;
            (old.apex == zone.apex && served != 1 && is_newer(served, serial))
                .then(|| (zone.apex.clone(), served))
        });
        zone.or_else(|| self.catalog_newer_than(previous, serial))
    }

    /// Gives every zone the declared `serial`, saying which zones changed
    /// serial and which changed content under the same serial.
    pub fn declare_serials(
        &mut self,
        previous: &Self,
        diff: &MappingDiff,
        serial: u32,
    ) -> DeclaredSerials {
        let touched = self.touched_zones(previous, diff);
        let mut outcome = DeclaredSerials::default();
        for (index, zone) in self.zones.iter_mut().enumerate() {
            let before = previous
                .zone_for(zone.apex.as_str())
                .filter(|old| old.apex == zone.apex);
            match before {
                Some(old) if old.soa.serial == serial => {
                    if touched.contains(&index) {
                        outcome.edited_without_new_serial.push(zone.apex.clone());
                    }
                }
                _ => outcome.changed.push(zone.apex.clone()),
            }
            zone.soa.serial = serial;
        }
        let (changed, edited) = self.carry_catalog(previous, Some(serial), serial, |_| serial);
        if let Some(catalog) = &self.catalog {
            if changed {
                outcome.changed.push(catalog.apex.clone());
            }
            if edited {
                outcome.edited_without_new_serial.push(catalog.apex.clone());
            }
        }
        outcome.changed.sort();
        outcome.edited_without_new_serial.sort();
        outcome
    }

    /// Carries the serials of `previous` (the mapping in service) over to
    /// this one, which `diff` compares with it: an unchanged zone keeps its
    /// serial, a changed or new one gets a larger one. Returns the apexes of
    /// the zones whose serial changed, sorted: the ones to NOTIFY.
    pub fn carry_serials(
        &mut self,
        previous: &Self,
        diff: &MappingDiff,
        now: u32,
    ) -> Vec<DomainName> {
        let touched = self.touched_zones(previous, diff);
        let mut changed = Vec::new();
        for (index, zone) in self.zones.iter_mut().enumerate() {
            let before = previous
                .zone_by_apex
                .get(&zone.apex)
                .map(|&i| &previous.zones[i]);
            let serial = match before {
                Some(old) if !touched.contains(&index) && old.soa.serial != 1 => old.soa.serial,
                Some(old) => next_serial(old.soa.serial, now),
                None => now,
            };
            if before.is_none_or(|old| old.soa.serial != serial) {
                changed.push(zone.apex.clone());
            }
            zone.soa.serial = serial;
        }
        let (catalog_changed, _) =
            self.carry_catalog(previous, None, now, |old| next_serial(old, now));
        if let Some(catalog) = self.catalog.as_ref().filter(|_| catalog_changed) {
            changed.push(catalog.apex.clone());
        }
        changed.sort();
        changed
    }

    /// Indexes of this mapping's zones whose content differs from
    /// `previous`: a name added, changed or removed, or the zone's TTL or
    /// NS target changed.
    fn touched_zones(&self, previous: &Self, diff: &MappingDiff) -> HashSet<usize> {
        let mut touched: HashSet<usize> = HashSet::new();
        for name in diff.added.iter().chain(&diff.changed) {
            touched.extend(self.zone_index_for(name.as_str()));
        }
        for name in &diff.removed {
            // A removed name leaves its zone in this mapping when the zone
            // is still served.
            if let Some(zone) = previous.zone_for(name.as_str()) {
                touched.extend(self.zone_by_apex.get(&zone.apex).copied());
            }
        }
        for (index, zone) in self.zones.iter().enumerate() {
            if let Some(&old) = previous.zone_by_apex.get(&zone.apex) {
                let old = &previous.zones[old];
                if old.ttl != zone.ttl || old.nameserver != zone.nameserver {
                    touched.insert(index);
                }
            }
        }
        touched
    }
}

/// `a` is newer than `b` in RFC 1982 serial arithmetic.
pub fn is_newer(a: u32, b: u32) -> bool {
    let ahead = a.wrapping_sub(b);
    ahead > 0 && ahead < 1 << 31
}

/// A serial larger than `old` in RFC 1982 arithmetic: the clock when it is
/// ahead, else one more.
fn next_serial(old: u32, now: u32) -> u32 {
    if is_newer(now, old) {
        now
    } else {
        old.wrapping_add(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load_str;

    fn mapping(records: &str) -> Mapping {
        load_str("t.toml", records).unwrap().mapping
    }

    const BLOB: &str = "privatelink.blob.core.windows.net";
    const QUEUE: &str = "privatelink.queue.core.windows.net";

    fn serial(mapping: &Mapping, apex: &str) -> u32 {
        mapping.zone_for(apex).unwrap().soa.serial
    }

    const BEFORE: &str = r#"
[records]
"a.privatelink.blob.core.windows.net" = "10.0.0.1"
"b.privatelink.blob.core.windows.net" = "10.0.0.2"
"q.privatelink.queue.core.windows.net" = "10.0.0.3"
"#;

    #[test]
    fn serials_are_azure_s_1_until_stamped() {
        let mut first = mapping(BEFORE);
        assert_eq!(serial(&first, BLOB), 1);
        first.stamp_serials(1_700_000_000);
        assert_eq!(serial(&first, BLOB), 1_700_000_000);
        assert_eq!(serial(&first, QUEUE), 1_700_000_000);
    }

    #[test]
    fn only_changed_zones_get_a_new_serial() {
        let mut old = mapping(BEFORE);
        old.stamp_serials(1_000);
        let mut new = mapping(&BEFORE.replace("10.0.0.2", "10.0.0.9"));
        let diff = old.diff(&new);
        let changed = new.carry_serials(&old, &diff, 2_000);
        assert_eq!(changed, [DomainName::parse(BLOB).unwrap()]);
        assert_eq!(serial(&new, BLOB), 2_000);
        assert_eq!(serial(&new, QUEUE), 1_000);
    }

    #[test]
    fn removed_names_and_new_zones_count_as_changes() {
        let mut old = mapping(BEFORE);
        old.stamp_serials(1_000);
        let text = BEFORE.replace(
            "\"b.privatelink.blob.core.windows.net\" = \"10.0.0.2\"",
            "\"k.privatelink.vaultcore.azure.net\" = \"10.0.0.4\"",
        );
        let mut new = mapping(&text);
        let diff = old.diff(&new);
        let changed = new.carry_serials(&old, &diff, 1_500);
        let names: Vec<&str> = changed.iter().map(DomainName::as_str).collect();
        assert_eq!(names, [BLOB, "privatelink.vaultcore.azure.net"]);
        assert_eq!(serial(&new, "privatelink.vaultcore.azure.net"), 1_500);
        assert_eq!(serial(&new, QUEUE), 1_000);
    }

    #[test]
    fn a_serial_grows_even_when_the_clock_does_not() {
        assert_eq!(next_serial(5_000, 4_000), 5_001);
        assert_eq!(next_serial(5_000, 5_000), 5_001);
        assert_eq!(next_serial(5_000, 6_000), 6_000);
        assert_eq!(next_serial(u32::MAX, 3), 3, "RFC 1982: 3 follows 2^32-1");
        let mut old = mapping(BEFORE);
        old.stamp_serials(1_000);
        let mut new = mapping(&BEFORE.replace("10.0.0.1", "10.0.0.7"));
        let diff = old.diff(&new);
        new.carry_serials(&old, &diff, 1_000);
        assert_eq!(serial(&new, BLOB), 1_001);
    }

    #[test]
    fn turning_transfers_on_replaces_azure_s_serial() {
        let old = mapping(BEFORE);
        let mut new = mapping(BEFORE);
        let diff = old.diff(&new);
        let changed = new.carry_serials(&old, &diff, 1_000);
        assert_eq!(changed.len(), 2);
        assert_eq!(serial(&new, QUEUE), 1_000);
    }

    #[test]
    fn a_declared_serial_is_every_zone_s_whatever_was_served_before() {
        // Replica A served 1_000 then 2_000 (blob edited); replica B starts
        // on the second file. Both give every zone the file's serial.
        let mut a_first = mapping(BEFORE);
        a_first.stamp_serials(1_000);
        let edited = BEFORE.replace("10.0.0.2", "10.0.0.9");
        let mut a_second = mapping(&edited);
        let diff = a_first.diff(&a_second);
        let outcome = a_second.declare_serials(&a_first, &diff, 2_000);
        assert_eq!(outcome.changed.len(), 2, "both zones: new serial");
        assert!(outcome.edited_without_new_serial.is_empty());
        let mut b = mapping(&edited);
        b.stamp_serials(2_000);
        for apex in [BLOB, QUEUE] {
            assert_eq!(serial(&a_second, apex), serial(&b, apex));
        }
    }

    #[test]
    fn an_edit_under_the_same_declared_serial_is_named() {
        let mut old = mapping(BEFORE);
        old.stamp_serials(7);
        let mut new = mapping(&BEFORE.replace("10.0.0.3", "10.0.0.8"));
        let diff = old.diff(&new);
        let outcome = new.declare_serials(&old, &diff, 7);
        assert!(outcome.changed.is_empty());
        assert_eq!(
            outcome.edited_without_new_serial,
            [DomainName::parse(QUEUE).unwrap()]
        );
    }

    #[test]
    fn a_lower_declared_serial_is_found_in_rfc_1982_terms() {
        let mut old = mapping(BEFORE);
        old.stamp_serials(5_000);
        let new = mapping(BEFORE);
        let (apex, served) = new.zone_newer_than(&old, 4_999).unwrap();
        assert_eq!((apex.as_str(), served), (BLOB, 5_000));
        assert!(
            new.zone_newer_than(&old, 5_000).is_none(),
            "equal is not lower"
        );
        assert!(new.zone_newer_than(&old, 6_000).is_none());
        // Past 2^32 the count goes on from 0: 3 follows 2^32-1.
        old.stamp_serials(u32::MAX);
        assert!(new.zone_newer_than(&old, 3).is_none());
        // Azure's 1 (transfers were off) is no history to go back from.
        assert!(new.zone_newer_than(&mapping(BEFORE), 0).is_none());
    }
}
