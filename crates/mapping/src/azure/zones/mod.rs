//! Zone inference over the catalogue ([`super::catalogue`]): which Azure
//! Private Link zone a configured name belongs to, which public zones Azure
//! CNAMEs into a served zone, the private name of a public FQDN, and which
//! zones must never be served (public zones and their parents).
//!
//! Placeholders: `{regionCode}` is a Backup geo code of the row's cloud,
//! `{regionName}` an Azure region name, and `{dnsPrefix}`, `{partitionId}`
//! and `{subzone}` any single label. The deepest matching zone wins, so a
//! name two labels below `privatelink.<region>.azmk8s.io` belongs to the
//! `{subzone}` zone AKS creates for a private cluster.

use std::sync::LazyLock;

use super::catalogue::{self, CatalogueRow};
use super::geo::{self, Cloud};
use crate::name::DomainName;

/// What the catalogue says about the zone of a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoneMatch {
    /// The deepest Azure zone that contains the name, and its row.
    Zone(DomainName, &'static CatalogueRow),
    /// The name has the shape of a `{regionCode}` zone, but `code` is not a
    /// geo code of the template's cloud.
    UnknownGeo {
        code: String,
        cloud: Cloud,
        template: &'static str,
    },
    /// The name has the shape of a `{regionName}` zone with an unknown region.
    UnknownRegion {
        region: String,
        template: &'static str,
    },
    /// No Azure zone contains the name.
    None,
}

impl ZoneMatch {
    /// The zone, when one was found.
    pub fn zone(&self) -> Option<&DomainName> {
        match self {
            Self::Zone(zone, _) => Some(zone),
            _ => None,
        }
    }
}

enum LabelMatch {
    Yes,
    No,
    BadGeo,
    BadRegion,
}

fn match_label(pattern: &str, label: &str, cloud: Cloud) -> LabelMatch {
    match pattern {
        "{regionCode}" => match geo::region_by_geo(label) {
            Some(region) if region.cloud == cloud => LabelMatch::Yes,
            _ => LabelMatch::BadGeo,
        },
        "{regionName}" => match geo::region_by_name(label) {
            Some(_) => LabelMatch::Yes,
            None => LabelMatch::BadRegion,
        },
        "{dnsPrefix}" | "{partitionId}" | "{subzone}" => LabelMatch::Yes,
        literal if literal == label => LabelMatch::Yes,
        _ => LabelMatch::No,
    }
}

/// A pattern split into labels.
struct Pattern {
    row: &'static CatalogueRow,
    labels: Vec<&'static str>,
}

/// The zone patterns grouped by label count: inference runs for every
/// configured name, and a 100,000-name file must load fast.
static ZONES_BY_LABEL_COUNT: LazyLock<Vec<Vec<Pattern>>> =
    LazyLock::new(|| group(catalogue::rows().iter().map(|row| (row, row.zone))));

/// Every twin pattern with its row, deepest first.
static TWINS: LazyLock<Vec<Pattern>> = LazyLock::new(|| {
    let mut twins: Vec<Pattern> = catalogue::rows()
        .iter()
        .flat_map(|row| row.twins.iter().map(move |twin| (row, *twin)))
        .map(|(row, twin)| Pattern {
            row,
            labels: twin.split('.').collect(),
        })
        .collect();
    twins.sort_by_key(|p| std::cmp::Reverse(p.labels.len()));
    twins
});

fn group(
    patterns: impl Iterator<Item = (&'static CatalogueRow, &'static str)>,
) -> Vec<Vec<Pattern>> {
    let mut groups: Vec<Vec<Pattern>> = Vec::new();
    for (row, text) in patterns {
        let labels: Vec<&'static str> = text.split('.').collect();
        if groups.len() <= labels.len() {
            groups.resize_with(labels.len() + 1, Vec::new);
        }
        groups[labels.len()].push(Pattern { row, labels });
    }
    // The most literal pattern first: `privatelink.postgres.database.usgovcloudapi.net`
    // is PostgreSQL's zone, not SQL Managed Instance's `{dnsPrefix}` one.
    for group in &mut groups {
        group.sort_by_key(|p| p.labels.iter().filter(|l| l.starts_with('{')).count());
    }
    groups
}

/// Matches the labels of one candidate zone against one pattern's labels
/// (of the same count), comparing from the top-level domain down.
fn match_pattern(pattern: &Pattern, candidate: &[&str]) -> ZoneMatch {
    let mut problem = None;
    for (wanted, label) in pattern.labels.iter().zip(candidate).rev() {
        match match_label(wanted, label, pattern.row.cloud) {
            LabelMatch::Yes => {}
            LabelMatch::No => return ZoneMatch::None,
            LabelMatch::BadGeo => {
                problem = Some(ZoneMatch::UnknownGeo {
                    code: (*label).to_owned(),
                    cloud: pattern.row.cloud,
                    template: pattern.row.zone,
                });
            }
            LabelMatch::BadRegion => {
                problem = Some(ZoneMatch::UnknownRegion {
                    region: (*label).to_owned(),
                    template: pattern.row.zone,
                });
            }
        }
    }
    match (problem, DomainName::parse(&candidate.join("."))) {
        (Some(problem), _) => problem,
        (None, Ok(zone)) => ZoneMatch::Zone(zone, pattern.row),
        (None, Err(_)) => ZoneMatch::None,
    }
}

/// The deepest Azure Private Link zone containing `name` (the name itself
/// counts, for records at a zone apex).
///
/// A name that would belong to a `{regionCode}` zone but carries an unknown
/// geo code is reported as such, unless a valid zone contains it.
pub fn azure_zone_for(name: &DomainName) -> ZoneMatch {
    let labels: Vec<&str> = name.labels().collect();
    let mut problem = ZoneMatch::None;
    for start in 0..labels.len() {
        let candidate = &labels[start..];
        let Some(patterns) = ZONES_BY_LABEL_COUNT.get(candidate.len()) else {
            continue;
        };
        for pattern in patterns {
            // AKS's `{subzone}` zones hold names below their apex; a name
            // one label under `privatelink.<region>.azmk8s.io` is in that zone.
            if start == 0 && pattern.labels.first() == Some(&"{subzone}") {
                continue;
            }
            match match_pattern(pattern, candidate) {
                found @ ZoneMatch::Zone(..) => return found,
                ZoneMatch::None => {}
                other => {
                    if problem == ZoneMatch::None {
                        problem = other;
                    }
                }
            }
        }
    }
    problem
}

/// The placeholder values that make `labels` spell `pattern`, or `None`.
fn bind(
    pattern: &[&'static str],
    labels: &[&str],
    cloud: Cloud,
) -> Option<Vec<(&'static str, String)>> {
    if pattern.len() != labels.len() {
        return None;
    }
    let mut bound = Vec::new();
    for (wanted, label) in pattern.iter().zip(labels) {
        if !matches!(match_label(wanted, label, cloud), LabelMatch::Yes) {
            return None;
        }
        if wanted.starts_with('{') {
            bound.push((*wanted, (*label).to_owned()));
        }
    }
    Some(bound)
}

/// `pattern` with its placeholders replaced; `None` if one is unbound.
fn expand(pattern: &str, bound: &[(&'static str, String)]) -> Option<String> {
    let labels: Option<Vec<&str>> = pattern
        .split('.')
        .map(|label| {
            if label.starts_with('{') {
                bound
                    .iter()
                    .find(|(key, _)| *key == label)
                    .map(|(_, value)| value.as_str())
            } else {
                Some(label)
            }
        })
        .collect();
    labels.map(|labels| labels.join("."))
}

/// The public zones whose names Azure's public DNS CNAMEs into the private
/// zone `private`, with the same labels in front: `acct.blob.core.windows.net`
/// → `acct.privatelink.blob.core.windows.net`. From the catalogue's twins
/// column; Backup and Site Recovery zones have none (reference §1.4).
pub fn public_twins(private: &DomainName) -> Vec<DomainName> {
    let labels: Vec<&str> = private.labels().collect();
    let Some(patterns) = ZONES_BY_LABEL_COUNT.get(labels.len()) else {
        return Vec::new();
    };
    // The most literal matching pattern only (groups are sorted so).
    patterns
        .iter()
        .find_map(|pattern| Some((pattern, bind(&pattern.labels, &labels, pattern.row.cloud)?)))
        .into_iter()
        .flat_map(|(pattern, bound)| {
            pattern
                .row
                .twins
                .iter()
                .filter_map(move |twin| expand(twin, &bound))
                .filter_map(|twin| DomainName::parse(&twin).ok())
        })
        .collect()
}

/// A public name's private twin: `kv.vault.azure.net` →
/// `kv.privatelink.vaultcore.azure.net`, `reg.westeurope.data.azurecr.io` →
/// `reg.westeurope.data.privatelink.azurecr.io`. The deepest twin wins.
pub fn private_name_of_public(name: &DomainName) -> Option<(DomainName, &'static CatalogueRow)> {
    let labels: Vec<&str> = name.labels().collect();
    for twin in TWINS.iter() {
        let count = twin.labels.len();
        if labels.len() <= count {
            continue;
        }
        let (prefix, suffix) = labels.split_at(labels.len() - count);
        let Some(bound) = bind(&twin.labels, suffix, twin.row.cloud) else {
            continue;
        };
        let Some(zone) = expand(twin.row.zone, &bound) else {
            continue;
        };
        if let Ok(private) = DomainName::parse(&format!("{}.{zone}", prefix.join("."))) {
            return Some((private, twin.row));
        }
    }
    None
}

/// Why a zone must not be served: serving it would answer NXDOMAIN for
/// public names every client needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicZone {
    /// The zone is, or lies inside, a public zone Azure CNAMEs into `row`'s zone.
    Public {
        twin: DomainName,
        row: &'static CatalogueRow,
    },
    /// The zone contains a Private Link zone (`core.windows.net` holds
    /// `privatelink.blob.core.windows.net`).
    Above { row: &'static CatalogueRow },
}

/// Whether `zone` is a public Azure zone or the parent of a Private Link
/// zone. Zones inside a Private Link zone are fine.
pub fn public_zone_problem(zone: &DomainName) -> Option<PublicZone> {
    if azure_zone_for(zone).zone().is_some() {
        return None;
    }
    let labels: Vec<&str> = zone.labels().collect();
    for twin in TWINS.iter() {
        let count = twin.labels.len();
        if labels.len() < count {
            continue;
        }
        let suffix = &labels[labels.len() - count..];
        if bind(&twin.labels, suffix, twin.row.cloud).is_some() {
            let twin_name = DomainName::parse(&suffix.join(".")).ok()?;
            return Some(PublicZone::Public {
                twin: twin_name,
                row: twin.row,
            });
        }
    }
    // Above: the zone's labels are the last labels of some zone pattern.
    for patterns in ZONES_BY_LABEL_COUNT.iter().skip(labels.len() + 1) {
        for pattern in patterns {
            let tail = &pattern.labels[pattern.labels.len() - labels.len()..];
            if bind(tail, &labels, pattern.row.cloud).is_some() {
                return Some(PublicZone::Above { row: pattern.row });
            }
        }
    }
    None
}

#[cfg(test)]
mod tests;
