//! `check`: validate a mapping file and explain every problem.

use std::path::Path;

use privatelink_mapping::{LoadError, Severity, load_file};

use crate::{EXIT_INVALID, EXIT_IO, EXIT_OK};

pub(crate) fn run(config: &Path, strict: bool) -> u8 {
    match load_file(config) {
        Err(error @ LoadError::Read { .. }) => {
            eprintln!("privatelink-dns: {error}");
            EXIT_IO
        }
        Err(LoadError::Invalid {
            file, diagnostics, ..
        }) => {
            for diagnostic in &diagnostics {
                println!("{diagnostic}");
            }
            let errors = diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .count();
            let warnings = diagnostics.len() - errors;
            println!("{file}: invalid: {errors} error(s), {warnings} warning(s)");
            EXIT_INVALID
        }
        Ok(loaded) => {
            for warning in &loaded.warnings {
                println!("{warning}");
            }
            let mapping = &loaded.mapping;
            for zone in mapping.zones() {
                let names = mapping.names_in(zone);
                let addresses: usize = names.iter().map(|n| n.v4.len() + n.v6.len()).sum();
                println!(
                    "zone {}: {} name(s), {} address(es), fallback {}",
                    zone.apex,
                    names.len(),
                    addresses,
                    zone.fallback.as_str()
                );
            }
            print_transfers(&loaded);
            let warnings = loaded.warnings.len();
            let verdict = if strict && warnings > 0 {
                "invalid (--strict)"
            } else {
                "valid"
            };
            println!(
                "{}: {verdict}: {} name(s) in {} zone(s), {warnings} warning(s), sha256 {}",
                config.display(),
                mapping.name_count(),
                mapping.zones().len(),
                loaded.sha256
            );
            if strict && warnings > 0 {
                EXIT_INVALID
            } else {
                EXIT_OK
            }
        }
    }
}

/// What secondaries get, when transfers are on: who may transfer and with
/// which key, who is notified, and the catalog.
fn print_transfers(loaded: &privatelink_mapping::Loaded) {
    let server = &loaded.settings.server;
    if !server.transfers_enabled() {
        return;
    }
    let clients: Vec<String> = server
        .transfer_clients
        .iter()
        .map(|client| match &client.key {
            Some(key) => format!("{} (TSIG key {key})", client.network),
            None => client.network.to_string(),
        })
        .collect();
    println!(
        "transfers: to {}; NOTIFY to {} secondary(ies)",
        clients.join(", "),
        server.notify.len()
    );
    if let Some(catalog) = loaded.mapping.catalog() {
        println!(
            "catalog zone {}: {} member zone(s)",
            catalog.apex,
            loaded.mapping.catalog_members().len()
        );
    }
}
