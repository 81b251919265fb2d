//! What an unmapped name in a served zone most likely is, and the TOML that
//! maps it: the advice beside each missing record the server saw asked for.
//!
//! Azure Backup adds storage accounts to a vault over time (the
//! communication account after the first registration, data accounts after
//! the first backup); with custom DNS nobody adds their records, and the
//! agent fails without saying why. The names tell what they are:
//! `…pod01ecs…`/`…pod01prot…` accounts under the blob or queue zone, and
//! `<vault-id>-ab-pod01-<service>` Backup names of a vault.

use serde::Serialize;

use crate::azure::backup::parse_backup_name;
use crate::azure::geo::Cloud;
use crate::azure::site_recovery;
use crate::inventory::{VaultSummary, vaults};
use crate::mapping::{Mapping, Origin};

#[cfg(test)]
mod tests;

/// Stands in the snippets for the address the operator copies from the
/// portal; `check` rejects it, so a snippet pasted unfilled cannot load.
pub const IP_PLACEHOLDER: &str = "<private IP>";

/// What kind of name a missing record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MissingKind {
    /// A storage account Azure Backup created for a vault (`pod01ecs`/`pod01prot`).
    BackupStorage,
    /// A Backup service name (`<vault-id>-ab-pod01-<service>`).
    BackupService,
    /// A Site Recovery name.
    SiteRecovery,
    Unknown,
}

impl MissingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BackupStorage => "backup-storage",
            Self::BackupService => "backup-service",
            Self::SiteRecovery => "site-recovery",
            Self::Unknown => "unknown",
        }
    }
}

/// The advice for one missing name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Advice {
    pub kind: MissingKind,
    /// One sentence: what the name most likely is.
    pub summary: String,
    /// The vault it belongs to, when the mapping shows it.
    pub vault: Option<String>,
    /// Where in the file the snippet goes.
    pub placement: String,
    /// The TOML to add, with [`IP_PLACEHOLDER`] for each address.
    pub snippet: String,
}

/// Advice for `name` (lower case, no trailing dot), unmapped in a zone of
/// `mapping`; `view` names the `[[view]]` that served it.
pub fn advise(mapping: &Mapping, name: &str, view: Option<&str>) -> Advice {
    Advisor::new(mapping).advise(name, view)
}

/// What advice needs to know of one mapping, gathered once for many names.
#[derive(Debug)]
pub struct Advisor<'m> {
    mapping: &'m Mapping,
    vaults: Vec<VaultSummary>,
    has_records: bool,
}

impl<'m> Advisor<'m> {
    pub fn new(mapping: &'m Mapping) -> Self {
        Self {
            mapping,
            vaults: vaults(mapping),
            has_records: mapping
                .nodes()
                .any(|node| matches!(node.origin, Some(Origin::Records))),
        }
    }

    /// Advice for `name`, as [`advise`] gives it.
    pub fn advise(&self, name: &str, view: Option<&str>) -> Advice {
        let name = name.strip_suffix('.').unwrap_or(name);
        let mapping = self.mapping;
        let known = &self.vaults;
        let table = |table: &str| match view {
            Some(_) => format!("view.{table}"),
            None => table.to_owned(),
        };
        let in_view = view.map_or_else(String::new, |view| {
            format!("in the [[view]] named {view}, ")
        });
        if let Some(advice) = backup_storage(mapping, known, name, &table, &in_view) {
            return advice;
        }
        if let Some(advice) = backup_service(known, name, &table, &in_view) {
            return advice;
        }
        let (kind, summary) = (
            MissingKind::Unknown,
            "a name in a served zone that the file does not map".to_owned(),
        );
        records_line(self.has_records, name, kind, summary, &table, &in_view)
    }
}

/// A `[records]` line, with the table header when the file has no such table yet.
fn records_line(
    has_records: bool,
    name: &str,
    kind: MissingKind,
    summary: String,
    table: &dyn Fn(&str) -> String,
    in_view: &str,
) -> Advice {
    let line = format!("\"{name}\" = \"{IP_PLACEHOLDER}\"\n");
    let records = table("records");
    let (placement, snippet) = if has_records {
        (
            format!("{in_view}add the line to the [{records}] table"),
            line,
        )
    } else {
        (
            format!("{in_view}add the table at the end of the file"),
            format!("[{records}]\n{line}"),
        )
    };
    Advice {
        kind,
        summary,
        vault: None,
        placement,
        snippet,
    }
}

/// The storage service of a name directly under a storage zone, and its cloud.
fn storage_service(mapping: &Mapping, name: &str) -> Option<(&'static str, Cloud)> {
    let zone = mapping.zone_for(name)?;
    let account = name.strip_suffix(zone.apex.as_str())?.strip_suffix('.')?;
    if account.contains('.') {
        return None;
    }
    let apex = zone.apex.as_str().strip_prefix("privatelink.")?;
    let (service, suffix) = apex.split_once('.')?;
    let service = match service {
        "blob" => "blob",
        "queue" => "queue",
        _ => return None,
    };
    let cloud = [Cloud::Public, Cloud::UsGov, Cloud::China]
        .into_iter()
        .find(|cloud| cloud.storage_suffix() == Some(suffix))?;
    Some((service, cloud))
}

fn backup_storage(
    mapping: &Mapping,
    known: &[VaultSummary],
    name: &str,
    table: &dyn Fn(&str) -> String,
    in_view: &str,
) -> Option<Advice> {
    let (service, cloud) = storage_service(mapping, name)?;
    let account = name.split('.').next()?;
    let (prefix, role) = match (account.find("pod01ecs"), account.find("pod01prot")) {
        (Some(at), _) => (&account[..at], "ecs"),
        (None, Some(at)) => (&account[..at], "prot"),
        (None, None) => return None,
    };
    let what = if role == "ecs" {
        "the communication (ecs) storage account Azure Backup uses after the first registration"
    } else {
        "a backup-data (prot) storage account Azure Backup writes to after the first backup"
    };
    // The account is already declared: only this service is missing.
    for vault in known {
        if let Some(storage) = vault.storage.iter().find(|s| s.account == account) {
            let line = storage.names.first().map_or(0, |n| n.line);
            return Some(Advice {
                kind: MissingKind::BackupStorage,
                summary: format!(
                    "the {service} name of {account}, {what}, of vault {}",
                    vault.name
                ),
                vault: Some(vault.name.clone()),
                placement: format!(
                    "{in_view}add the line to the [[{}]] entry of account {account} (its first address is on line {line})",
                    table("vault.storage")
                ),
                snippet: format!("{service} = \"{IP_PLACEHOLDER}\"\n"),
            });
        }
    }
    let same_cloud: Vec<&VaultSummary> = known
        .iter()
        .filter(|v| v.cloud.is_none_or(|c| c == cloud.as_str()))
        .collect();
    let by_prefix = same_cloud.iter().copied().find(|vault| {
        vault
            .storage
            .iter()
            .any(|s| !prefix.is_empty() && s.account.starts_with(prefix))
    });
    let vault = by_prefix.or(match same_cloud.as_slice() {
        [only] => Some(*only),
        _ => None,
    });
    let services = if role == "ecs" {
        // The communication account is asked for by blob and by queue.
        format!("blob = \"{IP_PLACEHOLDER}\"\nqueue = \"{IP_PLACEHOLDER}\"\n")
    } else {
        format!("blob = \"{IP_PLACEHOLDER}\"\n")
    };
    let snippet = format!(
        "[[{}]]\naccount = \"{account}\"\nrole = \"{role}\"\n{services}",
        table("vault.storage")
    );
    let vault_table = table("vault");
    let (placement, vault_name) = match vault {
        Some(vault) => (
            format!(
                "{in_view}below the [[{vault_table}]] entry named {} (its names start at line {}) and before the next [[{vault_table}]]; at the end of the file when it is the last one",
                vault.name, vault.line
            ),
            Some(vault.name.clone()),
        ),
        None => {
            let names: Vec<&str> = same_cloud.iter().map(|v| v.name.as_str()).collect();
            let which = if names.is_empty() {
                "the file has no vault yet: add its [[vault]] entry first".to_owned()
            } else {
                format!("one of {}", names.join(", "))
            };
            (
                format!(
                    "{in_view}below the [[{vault_table}]] entry this account belongs to ({which})"
                ),
                None,
            )
        }
    };
    Some(Advice {
        kind: MissingKind::BackupStorage,
        summary: format!("the {service} name of {account}, {what}"),
        vault: vault_name,
        placement,
        snippet,
    })
}

fn backup_service(
    known: &[VaultSummary],
    name: &str,
    table: &dyn Fn(&str) -> String,
    in_view: &str,
) -> Option<Advice> {
    if let Some(parsed) = parse_backup_name(name) {
        let service = VaultService {
            vault_id: parsed.vault_id,
            service: parsed.service,
            geo: parsed.geo,
            cloud: parsed.cloud,
            kind: MissingKind::BackupService,
        };
        return Some(service.advice(known, table, in_view));
    }
    let parsed = site_recovery::parse(name)?;
    let service = VaultService {
        vault_id: parsed.vault_id,
        service: parsed.service,
        geo: parsed.geo,
        cloud: parsed.cloud,
        kind: MissingKind::SiteRecovery,
    };
    Some(service.advice(known, table, in_view))
}

/// A missing Backup or Site Recovery name of a vault.
struct VaultService<'a> {
    vault_id: &'a str,
    service: &'a str,
    geo: &'a str,
    cloud: Cloud,
    kind: MissingKind,
}

impl VaultService<'_> {
    fn advice(
        &self,
        known: &[VaultSummary],
        table: &dyn Fn(&str) -> String,
        in_view: &str,
    ) -> Advice {
        let (product, key) = match self.kind {
            MissingKind::SiteRecovery => ("Site Recovery", "site_recovery"),
            _ => ("Backup", "backup"),
        };
        let service = self.service;
        let vault_table = table("vault");
        let line = format!("{service} = \"{IP_PLACEHOLDER}\"\n");
        if let Some(vault) = known
            .iter()
            .find(|v| v.vault_id.as_deref() == Some(self.vault_id))
        {
            let has_table = match self.kind {
                MissingKind::SiteRecovery => !vault.site_recovery.is_empty(),
                _ => !vault.services.is_empty(),
            };
            let (placement, snippet) = if has_table {
                (
                    format!(
                        "{in_view}add the line to [{vault_table}.{key}] of the vault named {} (line {})",
                        vault.name, vault.line
                    ),
                    line,
                )
            } else {
                (
                    format!(
                        "{in_view}add the table below the [[{vault_table}]] entry named {} (line {}), before the next [[{vault_table}]]",
                        vault.name, vault.line
                    ),
                    format!("[{vault_table}.{key}]\n{line}"),
                )
            };
            return Advice {
                kind: self.kind,
                summary: format!(
                    "the {product} service {service} of vault {}, which the file does not map yet",
                    vault.name
                ),
                vault: Some(vault.name.clone()),
                placement,
                snippet,
            };
        }
        let cloud = match self.cloud {
            Cloud::Public => String::new(),
            other => format!("cloud = \"{}\"\n", other.as_str()),
        };
        Advice {
            kind: self.kind,
            summary: format!(
                "the {product} service {service} of vault id {}, which the file does not declare",
                self.vault_id
            ),
            vault: None,
            placement: format!("{in_view}a new vault: add the entry at the end of the file"),
            snippet: format!(
                "[[{vault_table}]]\nname = \"vault-{id}\"\nid = \"{id}\"\ngeo = \"{geo}\"\n{cloud}[{vault_table}.{key}]\n{line}",
                id = self.vault_id,
                geo = self.geo,
            ),
        }
    }
}
