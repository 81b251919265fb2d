//! Which zones may be served, from the catalogue: never a public Azure zone
//! or a parent of a Private Link zone (serving `vault.azure.net` would answer
//! NXDOMAIN for every Key Vault in the world but the ones in this file), and
//! a warning for zones Microsoft no longer lists. Also the hint for a name
//! under no zone, which points at the private name to map instead.

use crate::azure::zones::{
    PublicZone, ZoneMatch, azure_zone_for, private_name_of_public, public_zone_problem,
};
use crate::azure::{CatalogueRow, Status, catalogue};
use crate::diagnostic::Report;
use crate::file::ZoneDecl;
use crate::import::{Derived, private_form};
use crate::name::DomainName;

/// The service's name without its resource type: "Azure Key Vault".
fn service(row: &CatalogueRow) -> &str {
    row.service
        .split_once(" (")
        .map_or(row.service, |(name, _)| name)
}

/// Checks a `[[zone]]` entry; false when it must not be served.
pub(crate) fn check_declared(zone: &ZoneDecl, report: &mut Report) -> bool {
    match public_zone_problem(&zone.name) {
        Some(PublicZone::Public { twin, row }) => {
            let inside = if twin == zone.name {
                format!("{} is a public Azure zone", zone.name)
            } else {
                format!("{} lies inside the public Azure zone {twin}", zone.name)
            };
            report.error(
                zone.line,
                &zone.field,
                format!(
                    "{inside} ({}): serving it answers NXDOMAIN for every name under it \
                     that this file does not map, other teams' included",
                    service(row)
                ),
                Some(format!(
                    "Azure CNAMEs {twin} names into {}: declare that zone and map \
                     <name>.{} instead",
                    row.zone, row.zone
                )),
            );
            false
        }
        Some(PublicZone::Above { row }) => {
            report.error(
                zone.line,
                &zone.field,
                format!(
                    "{} contains Azure Private Link zones such as {}: serving it answers \
                     NXDOMAIN for every public name under it",
                    zone.name, row.zone
                ),
                Some(format!(
                    "declare the Private Link zone itself: {}",
                    row.zone
                )),
            );
            false
        }
        None => {
            warn_if_deprecated(&zone.name, zone.line, &zone.field, report);
            true
        }
    }
}

/// Warns once for a served zone that Microsoft's page no longer lists.
pub(crate) fn warn_if_deprecated(zone: &DomainName, line: usize, field: &str, report: &mut Report) {
    let ZoneMatch::Zone(apex, row) = azure_zone_for(zone) else {
        return;
    };
    if row.status == Status::Deprecated && apex == *zone {
        report.warning(
            line,
            field,
            format!(
                "{zone} is no longer on Microsoft's zone list (checked {})",
                catalogue::CHECKED
            ),
            Some(format!(
                "it is still served; check the current zone for {} at {}",
                service(row),
                catalogue::SOURCE_PAGE
            )),
        );
    }
}

/// Explains a name outside every zone: a public name whose private twin
/// should be mapped instead, or a name missing `.privatelink.` as the old
/// portal showed them.
pub(crate) fn missing_zone_hint(name: &DomainName) -> String {
    // The import's own derivation, so `check` and `import` agree on the
    // private name of every public or documentation-shaped name.
    match private_form(name.as_str()) {
        Some((private, Derived::Twin)) => {
            let service = private_name_of_public(name).map_or("", |(_, row)| service(row));
            format!(
                "{name} is a public name ({service}); Azure CNAMEs it to {private}: map that name"
            )
        }
        Some((private, _)) if private.contains(".siterecovery.windowsazure.") => format!(
            "Site Recovery's documentation shows this form; Azure creates {private}: \
             use [vault.site_recovery] or map that name"
        ),
        Some((private, _)) => format!("private endpoint names carry `.privatelink.`: {private}"),
        None => "declare your own zone with a [[zone]] entry; never a public Azure zone".to_owned(),
    }
}
