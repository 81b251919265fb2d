//! Checks over one `[[vault]]` entry: the Backup services and storage
//! accounts Azure Backup needs, and the Site Recovery services.

use crate::azure::backup::REQUIRED_SERVICES;
use crate::azure::site_recovery;
use crate::diagnostic::Report;
use crate::file::VaultDecl;
use crate::mapping::StorageRole;

pub(crate) fn check_vault(vault: &VaultDecl, report: &mut Report) {
    if !vault.expanded {
        return;
    }
    if let Some(services) = &vault.site_recovery {
        check_site_recovery(vault, services, report);
        // A vault used only for Site Recovery has no Backup names to check.
        if vault.services.is_empty() && vault.storage_roles.is_empty() {
            return;
        }
    }
    let missing: Vec<&str> = REQUIRED_SERVICES
        .iter()
        .copied()
        .filter(|svc| !vault.services.iter().any(|s| s == svc))
        .collect();
    if !missing.is_empty() {
        report.warning(
            vault.line,
            format!("{}.backup", vault.field),
            format!("vault {} lacks Backup services {}", vault.label, missing.join(", ")),
            Some("a Backup private endpoint has all 8; copy them from the endpoint's DNS configuration".into()),
        );
    }
    let ecs: Vec<bool> = vault
        .storage_roles
        .iter()
        .filter(|(role, _)| *role == StorageRole::Ecs)
        .map(|(_, has_queue)| *has_queue)
        .collect();
    let storage_field = format!("{}.storage", vault.field);
    if ecs.is_empty() {
        report.warning(
            vault.line,
            &storage_field,
            format!("vault {} has no `ecs` storage account", vault.label),
            Some("Azure Backup needs the communication account's blob and queue names after the first registration".into()),
        );
    } else if ecs.iter().any(|has_queue| !has_queue) {
        report.warning(
            vault.line,
            &storage_field,
            format!(
                "vault {}'s `ecs` storage account has no `queue` address",
                vault.label
            ),
            Some("registration uses the communication account's queue endpoint".into()),
        );
    }
    if !vault
        .storage_roles
        .iter()
        .any(|(role, _)| *role == StorageRole::Prot)
    {
        report.warning(
            vault.line,
            &storage_field,
            format!("vault {} has no `prot` storage account", vault.label),
            Some(
                "Azure Backup writes to the data accounts' blob names after the first backup"
                    .into(),
            ),
        );
    }
}

fn check_site_recovery(vault: &VaultDecl, services: &[String], report: &mut Report) {
    let missing: Vec<&str> = site_recovery::AT_CREATION
        .iter()
        .copied()
        .filter(|svc| !services.iter().any(|s| s == svc))
        .collect();
    if !missing.is_empty() {
        report.warning(
            vault.line,
            format!("{}.site_recovery", vault.field),
            format!(
                "vault {} lacks Site Recovery services {}",
                vault.label,
                missing.join(", ")
            ),
            Some(format!(
                "a Site Recovery private endpoint has {} once created, and more names \
                 (such as {}) once replication is enabled; copy them from the endpoint's \
                 DNS configuration",
                site_recovery::AT_CREATION.join(", "),
                site_recovery::AFTER_REPLICATION.join(", ")
            )),
        );
    }
}
