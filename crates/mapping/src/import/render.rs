//! Grouping found names into a mapping file's text.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;

use super::{Derived, Found};
use crate::azure::backup::{StorageService, parse_backup_name};
use crate::azure::geo::Cloud;
use crate::azure::site_recovery;
use crate::mapping::StorageRole;

struct Vault {
    id: String,
    geo: String,
    cloud: Cloud,
    endpoint: Option<String>,
    /// The vault's own name, from the endpoint's `privateLinkServiceId`.
    resource: Option<String>,
    services: BTreeMap<String, Vec<IpAddr>>,
    site_recovery: BTreeMap<String, Vec<IpAddr>>,
    storage: BTreeMap<String, Account>,
    notes: Vec<String>,
}

struct Account {
    role: StorageRole,
    blob: Option<Vec<IpAddr>>,
    queue: Option<Vec<IpAddr>>,
}

/// A storage account's private name split: account, service, cloud.
fn storage_parts(name: &str) -> Option<(&str, StorageService, Cloud)> {
    let (account, rest) = name.split_once(".privatelink.")?;
    if account.contains('.') {
        return None;
    }
    let (service, suffix) = rest.split_once('.')?;
    let service = match service {
        "blob" => StorageService::Blob,
        "queue" => StorageService::Queue,
        _ => return None,
    };
    let cloud = [Cloud::Public, Cloud::UsGov, Cloud::China]
        .into_iter()
        .find(|cloud| cloud.storage_suffix() == Some(suffix))?;
    Some((account, service, cloud))
}

/// Azure Backup's storage accounts: by their private endpoint (`<pe>_ecs…`,
/// `<pe>_prot…`) or their name (`…pod01ecs…`, `…pod01prot…`).
fn backup_role(account: &str, endpoint: Option<&str>) -> Option<StorageRole> {
    let endpoint = endpoint.map(str::to_ascii_lowercase).unwrap_or_default();
    if endpoint.contains("_ecs") || account.contains("pod01ecs") {
        Some(StorageRole::Ecs)
    } else if endpoint.contains("_prot") || account.contains("pod01prot") {
        Some(StorageRole::Prot)
    } else {
        None
    }
}

fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn value(addrs: &[IpAddr]) -> String {
    match addrs {
        [one] => quoted(&one.to_string()),
        many => format!(
            "[{}]",
            many.iter()
                .map(|a| quoted(&a.to_string()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn shown_note(found: &Found) -> Option<String> {
    let (shown, derived) = found.shown_as.as_ref()?;
    let how = match derived {
        Derived::Twin => "a public name; its private name (Azure's CNAME target) is imported",
        Derived::Inserted => "`.privatelink.` inserted",
        // Never stored: a name taken as given needs no note.
        Derived::AsGiven => return None,
    };
    Some(format!(
        "{} was {shown} in {}: {how}",
        found.name, found.file
    ))
}

/// A vault's Backup or Site Recovery name: id, geo, cloud and service.
fn vault_parts(name: &str) -> Option<(&str, &str, Cloud, &str, bool)> {
    if let Some(parts) = parse_backup_name(name) {
        return Some((parts.vault_id, parts.geo, parts.cloud, parts.service, false));
    }
    let parts = site_recovery::parse(name)?;
    Some((parts.vault_id, parts.geo, parts.cloud, parts.service, true))
}

/// The mapping-file text for `found`, headed by `header` comment lines.
pub fn render(found: &[Found], header: &[String]) -> String {
    // First occurrence of a name wins; a different address later is noted.
    let mut unique: Vec<&Found> = Vec::new();
    let mut conflicts: Vec<String> = Vec::new();
    for item in found {
        match unique.iter().find(|u| u.name == item.name) {
            None => unique.push(item),
            Some(first) if first.addrs != item.addrs => conflicts.push(format!(
                "{} is {} in {} but {} in {}; the first is kept",
                item.name,
                value(&first.addrs),
                first.file,
                value(&item.addrs),
                item.file
            )),
            Some(_) => {}
        }
    }

    let mut vaults: BTreeMap<(String, String, &'static str), Vault> = BTreeMap::new();
    let mut rest: Vec<&Found> = Vec::new();
    for item in &unique {
        let Some((vault_id, geo, cloud, service, is_site_recovery)) = vault_parts(&item.name)
        else {
            rest.push(item);
            continue;
        };
        let key = (vault_id.to_owned(), geo.to_owned(), cloud.as_str());
        let vault = vaults.entry(key).or_insert_with(|| Vault {
            id: vault_id.to_owned(),
            geo: geo.to_owned(),
            cloud,
            endpoint: None,
            resource: None,
            services: BTreeMap::new(),
            site_recovery: BTreeMap::new(),
            storage: BTreeMap::new(),
            notes: Vec::new(),
        });
        if vault.endpoint.is_none() {
            vault.endpoint.clone_from(&item.endpoint);
        }
        if vault.resource.is_none() {
            vault.resource.clone_from(&item.resource);
        }
        let table = if is_site_recovery {
            &mut vault.site_recovery
        } else {
            &mut vault.services
        };
        table.insert(service.to_owned(), item.addrs.clone());
        vault.notes.extend(shown_note(item));
    }

    // Storage accounts go under a vault when the input ties them to one.
    let mut records: Vec<Found> = Vec::new();
    let single_vault = (vaults.len() == 1)
        .then(|| vaults.keys().next().cloned())
        .flatten();
    for item in rest {
        let placed = storage_parts(&item.name).and_then(|(account, service, cloud)| {
            let role = backup_role(account, item.endpoint.as_deref())?;
            let by_endpoint = vaults.iter().find_map(|(key, vault)| {
                let endpoint = vault.endpoint.as_deref()?;
                let own = item.endpoint.as_deref()?;
                let (own, endpoint) = (own.to_ascii_lowercase(), endpoint.to_ascii_lowercase());
                // The vault's own endpoint (v2 lists storage there) or one
                // Backup created beside it (`<pe>_ecs…`, `<pe>_prot…`).
                (own == endpoint || own.starts_with(&format!("{endpoint}_"))).then(|| key.clone())
            });
            let key = by_endpoint.or_else(|| single_vault.clone())?;
            let vault = vaults.get_mut(&key).filter(|v| v.cloud == cloud)?;
            let entry = vault.storage.entry(account.to_owned()).or_insert(Account {
                role,
                blob: None,
                queue: None,
            });
            match service {
                StorageService::Blob => entry.blob = Some(item.addrs.clone()),
                StorageService::Queue => entry.queue = Some(item.addrs.clone()),
            }
            vault.notes.extend(shown_note(item));
            Some(())
        });
        if placed.is_none() {
            records.push(item.clone());
        }
    }

    let mut out = String::new();
    for line in header {
        let _ = writeln!(out, "# {line}");
    }
    for conflict in &conflicts {
        let _ = writeln!(out, "# conflict: {conflict}");
    }
    for vault in vaults.values_mut() {
        // An account without a blob address cannot be written as storage.
        let orphans: Vec<(String, Account)> = {
            let names: Vec<String> = vault
                .storage
                .iter()
                .filter(|(_, a)| a.blob.is_none())
                .map(|(n, _)| n.clone())
                .collect();
            names
                .into_iter()
                .filter_map(|n| vault.storage.remove(&n).map(|a| (n, a)))
                .collect()
        };
        out.push('\n');
        for note in &vault.notes {
            let _ = writeln!(out, "# {note}");
        }
        // The vault's own name when the input has it; the endpoint's
        // otherwise (one vault can have several endpoints).
        let label = vault
            .resource
            .clone()
            .or_else(|| vault.endpoint.clone())
            .unwrap_or_else(|| format!("vault-{}", vault.id));
        if let (Some(endpoint), Some(_)) = (&vault.endpoint, &vault.resource) {
            let _ = writeln!(out, "# private endpoint {endpoint}");
        }
        let _ = writeln!(out, "[[vault]]");
        let _ = writeln!(out, "name = {}", quoted(&label));
        let _ = writeln!(out, "id = {}", quoted(&vault.id));
        let _ = writeln!(out, "geo = {}", quoted(&vault.geo));
        if vault.cloud != Cloud::Public {
            let _ = writeln!(out, "cloud = {}", quoted(vault.cloud.as_str()));
        }
        for (table, services) in [
            ("backup", &vault.services),
            ("site_recovery", &vault.site_recovery),
        ] {
            if services.is_empty() {
                continue;
            }
            let _ = writeln!(out, "[vault.{table}]");
            for (service, addrs) in services {
                let _ = writeln!(out, "{service} = {}", value(addrs));
            }
        }
        for (account, storage) in &vault.storage {
            let _ = writeln!(out, "\n[[vault.storage]]");
            let _ = writeln!(out, "account = {}", quoted(account));
            let _ = writeln!(out, "role = {}", quoted(storage.role.as_str()));
            if let Some(blob) = &storage.blob {
                let _ = writeln!(out, "blob = {}", value(blob));
            }
            if let Some(queue) = &storage.queue {
                let _ = writeln!(out, "queue = {}", value(queue));
            }
        }
        for (account, storage) in orphans {
            if let (Some(queue), Some(suffix)) = (storage.queue, vault.cloud.storage_suffix()) {
                records.push(Found {
                    name: format!("{account}.privatelink.queue.{suffix}"),
                    addrs: queue,
                    endpoint: None,
                    shown_as: None,
                    resource: None,
                    file: String::new(),
                    network: None,
                });
            }
        }
    }
    if !records.is_empty() {
        out.push_str("\n[records]\n");
        for item in &records {
            if let Some(note) = shown_note(item) {
                let _ = writeln!(out, "# {note}");
            }
            let _ = writeln!(out, "{} = {}", quoted(&item.name), value(&item.addrs));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load_str;

    fn found(name: &str, ip: &str, endpoint: Option<&str>) -> Found {
        Found {
            name: name.into(),
            addrs: vec![ip.parse().unwrap()],
            endpoint: endpoint.map(Into::into),
            shown_as: None,
            resource: None,
            file: "f".into(),
            network: None,
        }
    }

    #[test]
    fn storage_goes_under_the_vault_the_input_ties_it_to() {
        let items = [
            found(
                "1-ab-pod01-fab1.privatelink.we.backup.windowsazure.com",
                "10.0.0.1",
                Some("pe-a"),
            ),
            found(
                "2-ab-pod01-fab1.privatelink.ne.backup.windowsazure.com",
                "10.0.1.1",
                Some("pe-b"),
            ),
            // Tied by its endpoint name.
            found(
                "acctbpod01ecs1.privatelink.blob.core.windows.net",
                "10.0.1.2",
                Some("pe-b_ecs_blob"),
            ),
            found(
                "acctbpod01ecs1.privatelink.queue.core.windows.net",
                "10.0.1.3",
                Some("pe-b_ecs_queue"),
            ),
            // A Backup account with two vaults in the input and no endpoint: records.
            found(
                "loosepod01prot1.privatelink.blob.core.windows.net",
                "10.0.2.1",
                None,
            ),
            // Not Backup's at all.
            found(
                "data.privatelink.blob.core.windows.net",
                "10.0.3.1",
                Some("pe-data"),
            ),
            // Same name again, another address: the first wins, noted.
            found(
                "data.privatelink.blob.core.windows.net",
                "10.0.3.2",
                Some("pe-data"),
            ),
        ];
        let text = render(&items, &["test".to_owned()]);
        assert!(text.contains("# conflict: data.privatelink.blob.core.windows.net is \"10.0.3.1\" in f but \"10.0.3.2\" in f"), "{text}");
        let b = text.find("name = \"pe-b\"").unwrap();
        let storage = text.find("account = \"acctbpod01ecs1\"").unwrap();
        assert!(storage > b, "{text}");
        assert!(
            text.contains("\"loosepod01prot1.privatelink.blob.core.windows.net\" = \"10.0.2.1\""),
            "{text}"
        );
        let loaded = load_str("rendered.toml", &text).unwrap();
        assert_eq!(loaded.mapping.name_count(), 6);
    }

    #[test]
    fn with_one_vault_its_accounts_are_recognised_by_name() {
        let items = [
            found(
                "1-ab-pod01-fab1.privatelink.we.backup.windowsazure.com",
                "10.0.0.1",
                None,
            ),
            found(
                "weapod01prot1.privatelink.blob.core.windows.net",
                "10.0.0.2",
                None,
            ),
            // A queue name without its blob cannot be a storage entry.
            found(
                "weapod01ecs1.privatelink.queue.core.windows.net",
                "10.0.0.3",
                None,
            ),
        ];
        let text = render(&items, &[]);
        assert!(
            text.contains("account = \"weapod01prot1\"\nrole = \"prot\"\nblob = \"10.0.0.2\""),
            "{text}"
        );
        assert!(
            text.contains("\"weapod01ecs1.privatelink.queue.core.windows.net\" = \"10.0.0.3\""),
            "{text}"
        );
        assert_eq!(load_str("r.toml", &text).unwrap().mapping.name_count(), 3);
    }
}
