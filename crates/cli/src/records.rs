//! `records`: print every record the file would serve.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::Path;

use privatelink_mapping::mapping::NS_TTL;
use privatelink_mapping::{LoadError, Mapping, Zone, load_file};
use serde::Serialize;

use crate::args::RecordsFormat;
use crate::{EXIT_INVALID, EXIT_IO, EXIT_OK};

/// One record, as every output format sees it.
#[derive(Debug, Serialize)]
struct Row {
    zone: String,
    name: String,
    #[serde(rename = "type")]
    rtype: &'static str,
    ttl: u32,
    value: String,
    /// The `[[view]]` serving the record; `null` for the top level.
    view: Option<String>,
    #[serde(skip)]
    source: String,
}

pub(crate) fn run(config: &Path, format: RecordsFormat, view: Option<&str>) -> u8 {
    let loaded = match load_file(config) {
        Ok(loaded) => loaded,
        Err(error @ LoadError::Read { .. }) => {
            eprintln!("privatelink-dns: {error}");
            return EXIT_IO;
        }
        Err(LoadError::Invalid { diagnostics, .. }) => {
            for diagnostic in diagnostics.iter().filter(|d| d.is_error()) {
                eprintln!("{diagnostic}");
            }
            return EXIT_INVALID;
        }
    };
    let selected = match view.map(|name| (name, loaded.views.named(name))) {
        None => None,
        Some((_, Some(view))) => Some(view),
        Some((name, None)) => {
            let known: Vec<&str> = loaded.views.iter().map(|v| &*v.name).collect();
            eprintln!(
                "privatelink-dns: {} has no view named {name} (views: {})",
                config.display(),
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            );
            return EXIT_IO;
        }
    };
    let (rows, mapping) = match selected {
        Some(view) => (rows(&view.mapping, Some(&view.name)), &view.mapping),
        None => {
            // The top level, then what each view serves differently.
            let mut all = rows(&loaded.mapping, None);
            let top_keys: HashSet<String> = all.iter().map(Row::key).collect();
            for view in loaded.views.iter() {
                let changed: Vec<Row> = rows(&view.mapping, Some(&view.name))
                    .into_iter()
                    .filter(|row| !top_keys.contains(&row.key()))
                    .collect();
                all.extend(changed);
            }
            (all, &loaded.mapping)
        }
    };
    let output = match format {
        RecordsFormat::Table => table(rows),
        RecordsFormat::Json => match serde_json::to_string_pretty(&rows) {
            Ok(json) => json + "\n",
            Err(error) => {
                eprintln!("privatelink-dns: cannot write JSON: {error}");
                return EXIT_IO;
            }
        },
        RecordsFormat::Zone => zone_files(mapping),
        RecordsFormat::Hosts => hosts(mapping),
    };
    print!("{output}");
    EXIT_OK
}

fn soa_value(zone: &Zone, dot: &str) -> String {
    let soa = &zone.soa;
    format!(
        "{}{dot} {}{dot} {} {} {} {} {}",
        soa.mname, soa.rname, soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum
    )
}

impl Row {
    /// The record itself, whichever view serves it.
    fn key(&self) -> String {
        format!(
            "{} {} {} {} {}",
            self.zone, self.name, self.rtype, self.ttl, self.value
        )
    }
}

fn zone_rows(mapping: &Mapping, zone: &Zone, view: Option<&str>) -> Vec<Row> {
    let apex = zone.apex.to_string();
    let mut rows = vec![
        Row {
            zone: apex.clone(),
            name: apex.clone(),
            rtype: "SOA",
            ttl: zone.soa.ttl,
            value: soa_value(zone, ""),
            view: view.map(str::to_owned),
            source: "zone".into(),
        },
        Row {
            zone: apex.clone(),
            name: apex.clone(),
            rtype: "NS",
            ttl: NS_TTL,
            value: zone.nameserver.to_string(),
            view: view.map(str::to_owned),
            source: "zone".into(),
        },
    ];
    for mapped in mapping.names_in(zone) {
        let addresses = mapped
            .v4
            .iter()
            .map(|ip| ("A", ip.to_string()))
            .chain(mapped.v6.iter().map(|ip| ("AAAA", ip.to_string())));
        for (rtype, value) in addresses {
            rows.push(Row {
                zone: apex.clone(),
                name: mapped.name.to_string(),
                rtype,
                ttl: zone.ttl,
                value,
                view: view.map(str::to_owned),
                source: mapped.origin.to_string(),
            });
        }
    }
    rows
}

fn rows(mapping: &Mapping, view: Option<&str>) -> Vec<Row> {
    mapping
        .zones()
        .iter()
        .flat_map(|zone| zone_rows(mapping, zone, view))
        .collect()
}

fn table(rows: Vec<Row>) -> String {
    let name_width = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    let value_width = rows.iter().map(|r| r.value.len()).max().unwrap_or(5).max(5);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<name_width$}  {:<5} {:>7}  {:<value_width$}  SOURCE",
        "NAME", "TYPE", "TTL", "VALUE"
    );
    for row in rows {
        let source = match &row.view {
            Some(view) => format!("view {view}: {}", row.source),
            None => row.source,
        };
        let _ = writeln!(
            out,
            "{:<name_width$}  {:<5} {:>7}  {:<value_width$}  {source}",
            row.name, row.rtype, row.ttl, row.value
        );
    }
    out
}

/// One zone file per zone, in the order of the zones, separated by a blank line.
fn zone_files(mapping: &Mapping) -> String {
    let mut out = String::new();
    for (i, zone) in mapping.zones().iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "$ORIGIN {}.", zone.apex);
        let _ = writeln!(out, "$TTL {}", zone.ttl);
        let _ = writeln!(
            out,
            "@\t{}\tIN\tSOA\t{}",
            zone.soa.ttl,
            soa_value(zone, ".")
        );
        let _ = writeln!(out, "@\t{NS_TTL}\tIN\tNS\t{}.", zone.nameserver);
        for mapped in mapping.names_in(zone) {
            let owner = match mapped.name.relative_to(&zone.apex) {
                Some("") | None => "@".to_owned(),
                Some(relative) => relative.to_owned(),
            };
            for ip in mapped.v4 {
                let _ = writeln!(
                    out,
                    "{owner}\t{}\tIN\tA\t{ip}\t; {}",
                    zone.ttl, mapped.origin
                );
            }
            for ip in mapped.v6 {
                let _ = writeln!(
                    out,
                    "{owner}\t{}\tIN\tAAAA\t{ip}\t; {}",
                    zone.ttl, mapped.origin
                );
            }
        }
    }
    out
}

fn hosts(mapping: &Mapping) -> String {
    let mut out = String::from("# generated by privatelink-dns records --format hosts\n");
    for zone in mapping.zones() {
        for mapped in mapping.names_in(zone) {
            for ip in mapped
                .v4
                .iter()
                .map(ToString::to_string)
                .chain(mapped.v6.iter().map(ToString::to_string))
            {
                let _ = writeln!(out, "{ip}\t{}", mapped.name);
            }
        }
    }
    out
}
