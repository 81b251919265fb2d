//! Every record a file serves, one row per record: what `records` prints
//! and what the HTTP API's `/api/v1/records` returns, from one place.

use std::collections::HashSet;

use serde::Serialize;

use crate::mapping::{Mapping, NS_TTL, Zone};
use crate::views::Views;

/// One record (one per address), as every output format sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordRow {
    pub zone: String,
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: &'static str,
    pub ttl: u32,
    pub value: String,
    /// The `[[view]]` serving the record; `null` for the top level.
    pub view: Option<String>,
    /// Where the record came from (`records`, `vault X backup fab1`, `zone`).
    #[serde(skip)]
    pub source: String,
    /// The file line it was declared on; 0 for a zone's SOA and NS.
    #[serde(skip)]
    pub line: u32,
}

impl RecordRow {
    /// The record itself, whichever view serves it.
    fn key(&self) -> String {
        format!(
            "{} {} {} {} {}",
            self.zone, self.name, self.rtype, self.ttl, self.value
        )
    }
}

/// A zone's SOA RDATA in presentation form; `dot` ends each name.
pub fn soa_value(zone: &Zone, dot: &str) -> String {
    let soa = &zone.soa;
    format!(
        "{}{dot} {}{dot} {} {} {} {} {}",
        soa.mname, soa.rname, soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum
    )
}

fn zone_rows(mapping: &Mapping, zone: &Zone, view: Option<&str>) -> Vec<RecordRow> {
    let apex = zone.apex.to_string();
    let row = |name: String, rtype, ttl, value, source: String, line| RecordRow {
        zone: apex.clone(),
        name,
        rtype,
        ttl,
        value,
        view: view.map(str::to_owned),
        source,
        line,
    };
    let mut rows = vec![
        row(
            apex.clone(),
            "SOA",
            zone.soa.ttl,
            soa_value(zone, ""),
            "zone".into(),
            0,
        ),
        row(
            apex.clone(),
            "NS",
            NS_TTL,
            zone.nameserver.to_string(),
            "zone".into(),
            0,
        ),
    ];
    for mapped in mapping.names_in(zone) {
        let addresses = mapped
            .v4
            .iter()
            .map(|ip| ("A", ip.to_string()))
            .chain(mapped.v6.iter().map(|ip| ("AAAA", ip.to_string())));
        for (rtype, value) in addresses {
            rows.push(row(
                mapped.name.to_string(),
                rtype,
                zone.ttl,
                value,
                mapped.origin.to_string(),
                mapped.line,
            ));
        }
    }
    rows
}

/// The records of one mapping, zone by zone; `view` labels them.
pub fn mapping_rows(mapping: &Mapping, view: Option<&str>) -> Vec<RecordRow> {
    mapping
        .zones()
        .iter()
        .flat_map(|zone| zone_rows(mapping, zone, view))
        .collect()
}

/// The top level's records, then what each view serves differently.
pub fn all_rows(mapping: &Mapping, views: &[(&str, &Mapping)]) -> Vec<RecordRow> {
    let mut all = mapping_rows(mapping, None);
    let top_keys: HashSet<String> = all.iter().map(RecordRow::key).collect();
    for (name, view) in views {
        all.extend(
            mapping_rows(view, Some(name))
                .into_iter()
                .filter(|row| !top_keys.contains(&row.key())),
        );
    }
    all
}

/// [`all_rows`] for a loaded file's views.
pub fn file_rows(mapping: &Mapping, views: &Views) -> Vec<RecordRow> {
    let views: Vec<(&str, &Mapping)> = views
        .iter()
        .map(|view| (&*view.name, &view.mapping))
        .collect();
    all_rows(mapping, &views)
}
