//! The vaults a mapping serves, gathered from its names: each vault's
//! Backup services and storage accounts with their addresses and file lines,
//! as the status page shows them and the missing-record advice needs them.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Serialize;

use crate::azure::backup::parse_backup_name;
use crate::azure::site_recovery;
use crate::mapping::{Mapping, Origin};

/// One name a vault entry expanded to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VaultName {
    /// The Backup service (`fab1`) or the storage service (`blob`, `queue`).
    pub service: String,
    pub name: String,
    pub addresses: Vec<IpAddr>,
    pub line: u32,
}

/// A `[[vault.storage]]` account and the names it expanded to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StorageAccount {
    pub account: String,
    /// `ecs` or `prot`.
    pub role: &'static str,
    pub names: Vec<VaultName>,
}

/// One `[[vault]]`, as its names tell it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VaultSummary {
    /// The vault's `name`.
    pub name: String,
    /// From its Backup names; `None` when it maps none.
    pub vault_id: Option<String>,
    pub geo: Option<String>,
    pub cloud: Option<&'static str>,
    /// The first line any of its names came from.
    pub line: u32,
    pub services: Vec<VaultName>,
    /// `[vault.site_recovery]` names.
    pub site_recovery: Vec<VaultName>,
    pub storage: Vec<StorageAccount>,
}

/// Every vault with a mapped name, by name; names in file order.
pub fn vaults(mapping: &Mapping) -> Vec<VaultSummary> {
    let mut vaults: BTreeMap<String, VaultSummary> = BTreeMap::new();
    for node in mapping.nodes() {
        let Some(origin) = node.origin else { continue };
        let (vault, entry_of) = match origin {
            Origin::Records => continue,
            Origin::Backup { vault, service } | Origin::SiteRecovery { vault, service } => {
                (vault, Some(service.to_string()))
            }
            Origin::Storage { vault, .. } => (vault, None),
        };
        let summary = vaults
            .entry(vault.to_string())
            .or_insert_with(|| VaultSummary {
                name: vault.to_string(),
                vault_id: None,
                geo: None,
                cloud: None,
                line: node.line,
                services: Vec::new(),
                site_recovery: Vec::new(),
                storage: Vec::new(),
            });
        summary.line = summary.line.min(node.line);
        let addresses: Vec<IpAddr> = node
            .v4
            .iter()
            .map(|&ip| IpAddr::V4(ip))
            .chain(node.v6.iter().map(|&ip| IpAddr::V6(ip)))
            .collect();
        match (origin, entry_of) {
            (Origin::SiteRecovery { .. }, Some(service)) => {
                if let Some(parsed) = site_recovery::parse(node.name.as_str()) {
                    summary.vault_id = Some(parsed.vault_id.to_owned());
                    summary.cloud = Some(parsed.cloud.as_str());
                    // The Backup geo wins when the vault has both.
                    summary.geo.get_or_insert_with(|| parsed.geo.to_owned());
                }
                summary.site_recovery.push(VaultName {
                    service,
                    name: node.name.to_string(),
                    addresses,
                    line: node.line,
                });
            }
            (_, Some(service)) => {
                if let Some(parsed) = parse_backup_name(node.name.as_str()) {
                    summary.vault_id = Some(parsed.vault_id.to_owned());
                    summary.geo = Some(parsed.geo.to_owned());
                    summary.cloud = Some(parsed.cloud.as_str());
                }
                summary.services.push(VaultName {
                    service,
                    name: node.name.to_string(),
                    addresses,
                    line: node.line,
                });
            }
            (
                Origin::Storage {
                    account,
                    role,
                    service,
                    ..
                },
                None,
            ) => {
                let position = summary.storage.iter().position(|s| s.account == **account);
                let index = position.unwrap_or_else(|| {
                    summary.storage.push(StorageAccount {
                        account: account.to_string(),
                        role: role.as_str(),
                        names: Vec::new(),
                    });
                    summary.storage.len() - 1
                });
                if let Some(storage) = summary.storage.get_mut(index) {
                    storage.names.push(VaultName {
                        service: service.as_str().to_owned(),
                        name: node.name.to_string(),
                        addresses,
                        line: node.line,
                    });
                }
            }
            _ => {}
        }
    }
    let mut vaults: Vec<VaultSummary> = vaults.into_values().collect();
    for vault in &mut vaults {
        vault.services.sort_by_key(|entry| entry.line);
        vault.site_recovery.sort_by_key(|entry| entry.line);
        for storage in &mut vault.storage {
            storage.names.sort_by_key(|entry| entry.line);
        }
        vault
            .storage
            .sort_by_key(|s| s.names.first().map_or(0, |n| n.line));
    }
    vaults.sort_by_key(|vault| vault.line);
    vaults
}
