//! From declarations to a [`Mapping`]: zone inference, duplicate detection and
//! the checks that span entries (vault completeness, address ranges, the
//! documentation's dotted name form).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::IpAddr;

use crate::azure::backup;
use crate::azure::geo;
use crate::azure::zones::{ZoneMatch, azure_zone_for, public_twins};
use crate::diagnostic::{Report, Severity};
use crate::file::{FileSpec, RecordDecl, ZoneDecl};
use crate::mapping::{Addresses, Catalog, Mapping, Node, Soa, Zone};
use crate::name::DomainName;
use crate::nodes::Nodes;
use crate::settings::Settings;
use crate::{vault_checks, zone_rules};

/// Builds the mapping, adding every problem found to `report`. Consumes the
/// declarations so that their names and addresses move into the mapping
/// instead of being copied (a 100,000-name file would otherwise hold both).
pub(crate) fn build(spec: FileSpec, report: &mut Report) -> (Settings, Mapping) {
    let FileSpec {
        settings,
        zones: zone_decls,
        vaults,
        records,
        views: _,
    } = spec;
    let declared = declared_zones(&zone_decls, report);

    // Zone of each name (as an index into `apexes`), and conflicts between names.
    let mut apexes: Vec<DomainName> = Vec::new();
    let mut placed: Vec<(usize, usize)> = Vec::with_capacity(records.len());
    {
        let mut apex_ids: HashMap<DomainName, usize> = HashMap::new();
        let mut first_seen: HashMap<&DomainName, &RecordDecl> =
            HashMap::with_capacity(records.len());
        for (index, record) in records.iter().enumerate() {
            check_addresses(record, &settings.server.subnets, report);
            let Some(zone) = zone_of(record, &declared, report) else {
                continue;
            };
            match first_seen.entry(&record.name) {
                Entry::Vacant(slot) => {
                    slot.insert(record);
                    let id = *apex_ids.entry(zone).or_insert_with_key(|zone| {
                        if !declared.contains_key(zone) {
                            zone_rules::warn_if_deprecated(
                                zone,
                                record.line,
                                &record.field(),
                                report,
                            );
                        }
                        apexes.push(zone.clone());
                        apexes.len() - 1
                    });
                    placed.push((index, id));
                }
                Entry::Occupied(first) => duplicate(first.get(), record, report),
            }
        }
    }

    for vault in &vaults {
        vault_checks::check_vault(vault, report);
    }
    if placed.is_empty() {
        report.push(
            Severity::Warning,
            None,
            "mapping",
            "the file maps no names; only declared zones are served",
            Some("add [[vault]] entries or [records]".into()),
        );
    }

    let mapping = assemble(&settings, &declared, &apexes, records, &placed);
    (settings, mapping)
}

fn declared_zones<'s>(
    zones: &'s [ZoneDecl],
    report: &mut Report,
) -> HashMap<&'s DomainName, &'s ZoneDecl> {
    let mut declared: HashMap<&DomainName, &ZoneDecl> = HashMap::new();
    for zone in zones {
        if !zone_rules::check_declared(zone, report) {
            continue;
        }
        match declared.entry(&zone.name) {
            Entry::Vacant(slot) => {
                slot.insert(zone);
            }
            Entry::Occupied(first) => report.error(
                zone.line,
                &zone.field,
                format!(
                    "zone {} is declared twice (first at line {})",
                    zone.name,
                    first.get().line
                ),
                Some("keep one [[zone]] entry per zone".into()),
            ),
        }
    }
    declared
}

/// The deepest zone containing the record: a declared zone or an Azure zone.
fn zone_of(
    record: &RecordDecl,
    declared: &HashMap<&DomainName, &ZoneDecl>,
    report: &mut Report,
) -> Option<DomainName> {
    let declared_zone = record
        .name
        .suffixes()
        .find_map(|suffix| declared.keys().find(|zone| zone.as_str() == suffix))
        .map(|zone| (*zone).clone());
    let azure = azure_zone_for(&record.name);
    let azure_zone = match &azure {
        ZoneMatch::Zone(zone, _) => Some(zone.clone()),
        _ => None,
    };
    let deepest = match (declared_zone, azure_zone) {
        (Some(d), Some(a)) => Some(if a.label_count() > d.label_count() {
            a
        } else {
            d
        }),
        (d, a) => d.or(a),
    };
    if let Some(zone) = deepest {
        if let Some(real) = backup::real_name_of_dotted(record.name.as_str()) {
            report.warning(
                record.line,
                record.field(),
                format!(
                    "{} uses the documentation's dotted form, which Azure never creates",
                    record.name
                ),
                Some(format!("the real name is {real}")),
            );
        }
        return Some(zone);
    }

    let (message, hint) = match azure {
        ZoneMatch::UnknownGeo { code, cloud, .. } => {
            let close = geo::closest_geo_codes(&code, cloud);
            let hint = if close.is_empty() {
                format!(
                    "no {} geo code is close; see the geo-code list",
                    cloud.as_str()
                )
            } else {
                format!("did you mean {}?", close.join(", "))
            };
            (
                format!("{}: unknown geo code \"{code}\"", record.name),
                hint,
            )
        }
        ZoneMatch::UnknownRegion { region, .. } => (
            format!("{}: unknown Azure region \"{region}\"", record.name),
            "use the region's ARM name, such as westeurope".to_owned(),
        ),
        ZoneMatch::Zone(..) | ZoneMatch::None => (
            format!("{} is under no served zone", record.name),
            zone_rules::missing_zone_hint(&record.name),
        ),
    };
    report.error(record.line, record.field(), message, Some(hint));
    None
}

fn duplicate(first: &RecordDecl, again: &RecordDecl, report: &mut Report) {
    let (a, b) = (first.addresses.set(), again.addresses.set());
    if a == b {
        report.warning(
            again.line,
            again.field(),
            format!(
                "{} is mapped twice (also at line {}, {})",
                again.name,
                first.line,
                first.field()
            ),
            Some("remove one of the entries".into()),
        );
    } else {
        report.error(
            again.line,
            again.field(),
            format!(
                "{} is mapped to {} here but to {} at line {} ({})",
                again.name,
                list(&b),
                list(&a),
                first.line,
                first.field()
            ),
            Some("a name has one set of addresses; remove or fix one entry".into()),
        );
    }
}

fn list(addrs: &[IpAddr]) -> String {
    addrs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Private endpoints get addresses from a VNet; anything else is suspicious.
fn check_addresses(record: &RecordDecl, subnets: &[ipnet::IpNet], report: &mut Report) {
    for addr in record.addresses.iter() {
        let addr = &addr;
        if !is_private(addr) {
            report.warning(
                record.line,
                record.field(),
                format!("{addr} is not a private address"),
                Some("private endpoints take addresses from the VNet's private ranges".into()),
            );
        } else if !subnets.is_empty() && !subnets.iter().any(|net| net.contains(addr)) {
            let listed: Vec<String> = subnets.iter().map(ToString::to_string).collect();
            report.warning(
                record.line,
                record.field(),
                format!("{addr} is outside server.subnets ({})", listed.join(", ")),
                Some("a private endpoint's address comes from its subnet; check for a typo or add the subnet".into()),
            );
        }
    }
}

fn is_private(addr: &IpAddr) -> bool {
    match addr {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            // RFC 1918, plus RFC 6598 shared space that Azure VNets also accept.
            v4.is_private() || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

fn assemble(
    settings: &Settings,
    declared: &HashMap<&DomainName, &ZoneDecl>,
    record_apexes: &[DomainName],
    records: Vec<RecordDecl>,
    placed: &[(usize, usize)],
) -> Mapping {
    let mut apexes: Vec<&DomainName> = declared.keys().copied().chain(record_apexes).collect();
    apexes.sort();
    apexes.dedup();
    let zones: Vec<Zone> = apexes
        .iter()
        .enumerate()
        .map(|(index, apex)| Zone {
            index,
            apex: (*apex).clone(),
            fallback: declared
                .get(*apex)
                .and_then(|decl| decl.fallback)
                .unwrap_or(settings.zones.fallback),
            ttl: settings.zones.ttl,
            soa: Soa::azure(),
            nameserver: settings.server.hostname.clone(),
        })
        .collect();
    let zone_by_apex: HashMap<DomainName, usize> = zones
        .iter()
        .enumerate()
        .map(|(i, z)| (z.apex.clone(), i))
        .collect();
    // The served-zone index of each record apex.
    let served: Vec<Option<usize>> = record_apexes
        .iter()
        .map(|apex| zone_by_apex.get(apex).copied())
        .collect();

    // The declarations become the nodes in place (`placed` is in record
    // order), so a large file never holds both at once.
    let name_count = placed.len();
    let mut next_placed = placed.iter().peekable();
    let mapped: Vec<(DomainName, Node)> = records
        .into_iter()
        .enumerate()
        .filter_map(|(record_index, record)| {
            let &(index, apex_id) = next_placed.next_if(|(index, _)| *index == record_index)?;
            debug_assert_eq!(index, record_index);
            let zone = served
                .get(apex_id)
                .copied()
                .flatten()
                .and_then(|zone| u32::try_from(zone).ok())?;
            let RecordDecl {
                name,
                addresses,
                origin,
                line,
                ..
            } = record;
            let node = Node {
                zone,
                line: u32::try_from(line).unwrap_or(u32::MAX),
                addresses: addresses.deduplicated(),
                origin: Some(origin),
            };
            Some((name, node))
        })
        .collect();
    let mut nodes = Nodes::new(mapped);
    // Names between a mapped name and its apex exist as empty non-terminals.
    let mut between = Vec::new();
    for (name, node) in nodes.iter() {
        let Some(zone) = usize::try_from(node.zone).ok().and_then(|i| zones.get(i)) else {
            continue;
        };
        let mut parent = name.parent();
        while let Some(ancestor) = parent {
            if ancestor == zone.apex || !ancestor.is_within(&zone.apex) {
                break;
            }
            parent = ancestor.parent();
            if nodes.get(ancestor.as_str()).is_none() {
                between.push((ancestor, node.zone));
            }
        }
    }
    for (name, zone) in between {
        let node = Node {
            zone,
            line: 0,
            addresses: Addresses::None,
            origin: None,
        };
        nodes.insert_if_absent(name, node);
    }
    let mut twins: HashMap<DomainName, Vec<usize>> = HashMap::new();
    for (index, zone) in zones.iter().enumerate() {
        for public in public_twins(&zone.apex) {
            twins.entry(public).or_default().push(index);
        }
    }
    Mapping {
        zones,
        zone_by_apex,
        nodes,
        name_count,
        twins,
        catalog: settings.server.catalog.as_ref().map(|setting| Catalog {
            apex: setting.apex.clone(),
            soa: Soa::azure(),
        }),
    }
}
