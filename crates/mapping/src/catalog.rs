//! The catalog zone (RFC 9432, version 2): one zone that lists every served
//! zone, so that a secondary configured with the catalog alone serves them
//! all, and picks up a zone added to (or removed from) the mapping.
//!
//! `server.catalog = "catalog.example.internal"` turns it on. Its content:
//! the SOA, `NS invalid.` (§4.1), `version TXT "2"` (§4.2.1), and per
//! served zone `<id>.zones PTR <apex>.` (§4.2), where the id is a stable
//! hash of the apex, so a zone keeps its member id across reloads and
//! replicas. Its serial follows membership, with the same rules as the
//! zones' ([`crate::serial`]): the declared serial, or a new one from the
//! clock when a zone comes or goes.

use crate::diagnostic::Report;
use crate::mapping::Mapping;
use crate::name::DomainName;
use crate::settings::Settings;
use crate::views::Views;

/// The catalog zone's NS target: a name that cannot resolve (RFC 9432 §4.1).
pub const CATALOG_NAMESERVER: &str = "invalid";
/// The schema version this catalog follows (RFC 9432 §4.2.1).
pub const CATALOG_VERSION: &str = "2";

pub use crate::mapping::Catalog;

/// One member zone: `<id>.zones.<catalog> PTR <zone>.`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogMember<'m> {
    pub id: String,
    pub zone: &'m DomainName,
}

/// The member id of `zone`: the first 64 bits of the SHA-256 of its name,
/// in hex. Stable, so a secondary never sees a zone change id (which RFC
/// 9432 §5.3 treats as a reset of the zone).
pub fn member_id(zone: &DomainName) -> String {
    let mut hex = crate::sha256_hex(zone.as_str().as_bytes());
    hex.truncate(16);
    hex
}

impl Mapping {
    /// The catalog zone, when `server.catalog` is set.
    pub fn catalog(&self) -> Option<&Catalog> {
        self.catalog.as_ref()
    }

    /// The members of the catalog: every served zone, in apex order.
    pub fn catalog_members(&self) -> Vec<CatalogMember<'_>> {
        self.zones
            .iter()
            .map(|zone| CatalogMember {
                id: member_id(&zone.apex),
                zone: &zone.apex,
            })
            .collect()
    }

    /// The catalog of `previous` when it is the same zone as this one's.
    fn previous_catalog<'p>(&self, previous: &'p Self) -> Option<&'p Catalog> {
        let ours = self.catalog.as_ref()?;
        previous
            .catalog
            .as_ref()
            .filter(|old| old.apex == ours.apex)
    }

    /// True when `previous` lists other zones than this mapping.
    fn members_differ(&self, previous: &Self) -> bool {
        let apexes = |mapping: &Self| -> Vec<DomainName> {
            mapping.zones.iter().map(|zone| zone.apex.clone()).collect()
        };
        apexes(self) != apexes(previous)
    }

    /// Gives the catalog `serial`, when there is one.
    pub(crate) fn stamp_catalog(&mut self, serial: u32) {
        if let Some(catalog) = &mut self.catalog {
            catalog.soa.serial = serial;
        }
    }

    /// The catalog's serial in `previous`, when it is newer than `serial`.
    pub(crate) fn catalog_newer_than(
        &self,
        previous: &Self,
        serial: u32,
    ) -> Option<(DomainName, u32)> {
        let old = self.previous_catalog(previous)?;
        crate::serial::is_newer(old.soa.serial, serial).then(|| (old.apex.clone(), old.soa.serial))
    }

    /// Gives the catalog its serial on a reload from `previous`: `serial`
    /// when declared, else the old one while the members stay and
    /// `next(old)` (or `first` for a new catalog) when they change.
    /// Returns whether the serial changed, and whether the members changed
    /// under a declared serial that did not.
    pub(crate) fn carry_catalog(
        &mut self,
        previous: &Self,
        declared: Option<u32>,
        first: u32,
        next: impl Fn(u32) -> u32,
    ) -> (bool, bool) {
        let members_differ = self.members_differ(previous);
        let old = self.previous_catalog(previous).map(|old| old.soa.serial);
        let Some(catalog) = &mut self.catalog else {
            return (false, false);
        };
        let serial = match (declared, old) {
            (Some(serial), _) => serial,
            (None, Some(old)) if !members_differ => old,
            (None, Some(old)) => next(old),
            (None, None) => first,
        };
        catalog.soa.serial = serial;
        let changed = old != Some(serial);
        (changed, !changed && members_differ)
    }
}

/// Errors for a `server.catalog` that cannot work: without transfers, or
/// overlapping a served zone (top level or any view).
pub(crate) fn check(settings: &Settings, mapping: &Mapping, views: &Views, report: &mut Report) {
    let Some(catalog) = &settings.server.catalog else {
        return;
    };
    let field = "server.catalog";
    if !settings.server.transfers_enabled() {
        report.error(
            catalog.line,
            field,
            "a catalog zone is read by zone transfer, and server.allow_transfer is empty",
            Some("list the secondaries in server.allow_transfer".into()),
        );
    }
    let mappings = std::iter::once(mapping).chain(views.iter().map(|view| &view.mapping));
    let overlapping = mappings
        .flat_map(|mapping| mapping.zones())
        .find(|zone| zone.apex.is_within(&catalog.apex) || catalog.apex.is_within(&zone.apex));
    if let Some(zone) = overlapping {
        report.error(
            catalog.line,
            field,
            format!(
                "the catalog {} overlaps the served zone {}",
                catalog.apex, zone.apex
            ),
            Some(
                "name the catalog outside every served zone, e.g. catalog.privatelink-dns.internal"
                    .into(),
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::load_str;

    fn loaded(catalog: &str, records: &str) -> Result<crate::Loaded, crate::LoadError> {
        load_str(
            "t.toml",
            &format!(
                "[server]\nallow_transfer = [\"127.0.0.1\"]\ncatalog = \"{catalog}\"\n[records]\n{records}"
            ),
        )
    }

    const BLOB: &str = "\"a.privatelink.blob.core.windows.net\" = \"10.0.0.1\"\n";
    const QUEUE: &str = "\"a.privatelink.queue.core.windows.net\" = \"10.0.0.2\"\n";

    #[test]
    fn every_served_zone_is_a_member_with_a_stable_id() {
        let mapping = loaded("catalog.test.internal", &format!("{BLOB}{QUEUE}"))
            .unwrap()
            .mapping;
        let catalog = mapping.catalog().unwrap();
        assert_eq!(catalog.apex.as_str(), "catalog.test.internal");
        let members = mapping.catalog_members();
        let zones: Vec<&str> = members.iter().map(|m| m.zone.as_str()).collect();
        assert_eq!(
            zones,
            [
                "privatelink.blob.core.windows.net",
                "privatelink.queue.core.windows.net"
            ]
        );
        assert_eq!(members[0].id.len(), 16);
        assert_ne!(members[0].id, members[1].id);
        // The id depends on the zone alone.
        let again = loaded("catalog.test.internal", BLOB).unwrap().mapping;
        assert_eq!(again.catalog_members()[0].id, members[0].id);
    }

    #[test]
    fn the_serial_follows_membership() {
        let mut first = loaded("catalog.test.internal", BLOB).unwrap().mapping;
        first.stamp_catalog(100);
        let mut same = loaded(
            "catalog.test.internal",
            &BLOB.replace("10.0.0.1", "10.0.0.9"),
        )
        .unwrap()
        .mapping;
        assert_eq!(
            same.carry_catalog(&first, None, 200, |old| old + 1),
            (false, false)
        );
        assert_eq!(same.catalog().unwrap().soa.serial, 100);
        let mut more = loaded("catalog.test.internal", &format!("{BLOB}{QUEUE}"))
            .unwrap()
            .mapping;
        assert_eq!(
            more.carry_catalog(&same, None, 200, |old| old + 1),
            (true, false)
        );
        assert_eq!(more.catalog().unwrap().soa.serial, 101);
        // Declared: the file's serial, and a warning when members change under it.
        let mut declared = loaded("catalog.test.internal", BLOB).unwrap().mapping;
        assert_eq!(
            declared.carry_catalog(&more, Some(101), 200, |old| old + 1),
            (false, true)
        );
        assert_eq!(
            more.catalog_newer_than(&more, 100),
            Some((more.catalog().unwrap().apex.clone(), 101))
        );
    }

    #[test]
    fn a_catalog_without_transfers_or_inside_a_zone_is_an_error() {
        let text = format!("[server]\ncatalog = \"catalog.test.internal\"\n[records]\n{BLOB}");
        let Err(crate::LoadError::Invalid { diagnostics, .. }) = load_str("t.toml", &text) else {
            panic!("accepted without allow_transfer");
        };
        assert_eq!(diagnostics[0].field, "server.catalog");
        assert_eq!(diagnostics[0].line, Some(2));
        assert!(diagnostics[0].message.contains("allow_transfer"));
        let Err(crate::LoadError::Invalid { diagnostics, .. }) =
            loaded("catalog.privatelink.blob.core.windows.net", BLOB)
        else {
            panic!("accepted inside a served zone");
        };
        assert!(
            diagnostics[0].message.contains("overlaps the served zone"),
            "{diagnostics:?}"
        );
    }
}
