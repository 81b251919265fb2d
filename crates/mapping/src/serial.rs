//! SOA serials when zones are transferred to secondaries.
//!
//! Azure answers serial 1 for every private zone, and so does this server
//! by default. A secondary, though, only transfers a zone again when the
//! serial grows, so with transfers enabled the serial follows the mapping:
//! Unix time when a zone is first served, and on a reload that changes the
//! zone, the reload's time (or the old serial plus one, if that is larger,
//! so that it grows even twice in one second or with a clock set back).
//! A restart starts again from the clock, which has moved on.

use std::collections::HashSet;

use crate::diff::MappingDiff;
use crate::mapping::Mapping;
use crate::name::DomainName;

impl Mapping {
    /// Gives every zone the serial `now` (seconds since the Unix epoch),
    /// for the first mapping a server loads.
    pub fn stamp_serials(&mut self, now: u32) {
        for zone in &mut self.zones {
            zone.soa.serial = now;
        }
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
        let mut changed = Vec::new();
        for (index, zone) in self.zones.iter_mut().enumerate() {
            let before = previous
                .zone_by_apex
                .get(&zone.apex)
                .map(|&i| &previous.zones[i]);
            let serial = match before {
                Some(old)
                    if !touched.contains(&index)
                        && old.ttl == zone.ttl
                        && old.nameserver == zone.nameserver
                        && old.soa.serial != 1 =>
                {
                    old.soa.serial
                }
                Some(old) => next_serial(old.soa.serial, now),
                None => now,
            };
            if before.is_none_or(|old| old.soa.serial != serial) {
                changed.push(zone.apex.clone());
            }
            zone.soa.serial = serial;
        }
        changed.sort();
        changed
    }
}

/// A serial larger than `old` in RFC 1982 arithmetic: the clock when it is
/// ahead, else one more.
fn next_serial(old: u32, now: u32) -> u32 {
    let ahead = now.wrapping_sub(old);
    if ahead > 0 && ahead < 1 << 31 {
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
}
