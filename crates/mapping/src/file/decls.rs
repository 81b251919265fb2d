//! The mapping tables: `[[zone]]`, `[[vault]]` with its backup services
//! and storage accounts, and `[records]`.

use std::sync::Arc;

use toml::de::{DeTable, DeValue};

use super::fields::{NAME_HINT, domain_name, fallback, geo_code, required};
use super::spec::{FieldName, FileSpec, RecordDecl, VaultDecl, ZoneDecl, index_u32};
use super::value::{Reader, Value, join};
use crate::azure::backup::{self, StorageService};
use crate::azure::geo::Cloud;
use crate::mapping::{Addresses, Origin, StorageRole};
use crate::name::DomainName;

pub(super) const ZONE_KEYS: &[&str] = &["name", "fallback"];

pub(super) const VAULT_KEYS: &[&str] = &["name", "id", "geo", "cloud", "backup", "storage"];

pub(super) const STORAGE_KEYS: &[&str] = &["account", "role", "blob", "queue"];

pub(super) fn read_zones(reader: &mut Reader<'_>, value: &Value<'_>, zones: &mut Vec<ZoneDecl>) {
    for (i, item) in reader.table_array(value, "zone").into_iter().enumerate() {
        let field = format!("zone[{i}]");
        let Some(table) = reader.table(item, &field) else {
            continue;
        };
        reader.reject_unknown_keys(table, &field, ZONE_KEYS);
        let name = required(reader, table, item, &field, "name")
            .and_then(|v| domain_name(reader, v, &join(&field, "name")));
        let fallback = table
            .get("fallback")
            .and_then(|v| fallback(reader, v, &join(&field, "fallback")));
        if let Some(name) = name {
            zones.push(ZoneDecl {
                name,
                fallback,
                line: reader.line(item.span()),
                field,
            });
        }
    }
}

/// Reads `[[vault]]` entries, numbering them from `first`; returns how many.
pub(super) fn read_vaults(
    reader: &mut Reader<'_>,
    value: &Value<'_>,
    spec: &mut FileSpec,
    first: usize,
) -> usize {
    let items = reader.table_array(value, "vault");
    let count = items.len();
    for (i, item) in items.into_iter().enumerate() {
        let field = format!("vault[{}]", first + i);
        let Some(table) = reader.table(item, &field) else {
            continue;
        };
        read_vault(reader, table, item, first + i, field, spec);
    }
    count
}

pub(super) fn read_vault(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    item: &Value<'_>,
    index: usize,
    field: String,
    spec: &mut FileSpec,
) {
    reader.reject_unknown_keys(table, &field, VAULT_KEYS);
    let line = reader.line(item.span());
    let label: Arc<str> = required(reader, table, item, &field, "name")
        .and_then(|v| reader.string(v, &join(&field, "name")))
        .map_or_else(|| field.as_str().into(), Into::into);

    let id = required(reader, table, item, &field, "id").and_then(|value| {
        let id_field = join(&field, "id");
        let id = reader.string(value, &id_field)?;
        if backup::is_vault_id(id) {
            Some(id.to_owned())
        } else {
            reader.error(
                value.span(),
                &id_field,
                format!("\"{id}\" is not a vault id"),
                Some("a vault id is 1 to 19 decimal digits, as in the vault's private endpoint names".into()),
            );
            None
        }
    });

    let cloud = match table.get("cloud") {
        None => Some(Cloud::Public),
        Some(value) => {
            let cloud_field = join(&field, "cloud");
            match reader.string(value, &cloud_field) {
                Some("public") => Some(Cloud::Public),
                Some("usgov") => Some(Cloud::UsGov),
                Some("china") => Some(Cloud::China),
                Some(other) => {
                    reader.error(
                        value.span(),
                        &cloud_field,
                        format!("unknown cloud \"{other}\""),
                        Some("use \"public\", \"usgov\" or \"china\"".into()),
                    );
                    None
                }
                None => None,
            }
        }
    };

    let geo = match (required(reader, table, item, &field, "geo"), cloud) {
        (Some(value), Some(cloud)) => geo_code(reader, value, &join(&field, "geo"), cloud),
        _ => None,
    };

    let mut decl = VaultDecl {
        label: label.clone(),
        line,
        field: field.clone(),
        services: Vec::new(),
        storage_roles: Vec::new(),
        expanded: false,
    };
    let usable = match (&id, &geo, cloud) {
        (Some(id), Some(geo), Some(cloud)) => Some((id.as_str(), geo.as_str(), cloud)),
        _ => None,
    };
    decl.expanded = usable.is_some();

    if let Some(value) = table.get("backup") {
        let backup_field = join(&field, "backup");
        if let Some(services) = reader.table(value, &backup_field) {
            for (key, value) in services.iter() {
                let svc = key.get_ref().to_ascii_lowercase();
                let svc_field = join(&backup_field, &svc);
                let addrs = reader.addresses(value, &svc_field);
                let svc_line = reader.line(key.span());
                if !backup::is_known_service(&svc) {
                    reader.warning(
                        svc_line,
                        &svc_field,
                        format!("\"{svc}\" is not a known Azure Backup service"),
                        Some(format!(
                            "Backup uses {}",
                            backup::REQUIRED_SERVICES.join(", ")
                        )),
                    );
                }
                decl.services.push(svc.clone());
                let Some((id, geo, cloud)) = usable else {
                    continue;
                };
                let name = backup::backup_name(id, &svc, geo, cloud)
                    .and_then(|name| DomainName::parse(&name).ok());
                match name {
                    Some(name) if !addrs.is_empty() => spec.records.push(RecordDecl {
                        name,
                        addresses: Addresses::new(&addrs),
                        line: svc_line,
                        field: FieldName::Backup {
                            vault: index_u32(index),
                        },
                        origin: Origin::Backup {
                            vault: label.clone(),
                            service: reader.shared(&svc),
                        },
                    }),
                    Some(_) => {}
                    None => reader.error(
                        key.span(),
                        &svc_field,
                        format!("\"{svc}\" cannot be part of a DNS name"),
                        Some("service names are letters and digits, such as fab1".into()),
                    ),
                }
            }
        }
    }

    if let Some(value) = table.get("storage") {
        let storage_field = join(&field, "storage");
        for (i, item) in reader
            .table_array(value, &storage_field)
            .into_iter()
            .enumerate()
        {
            let item_field = format!("{storage_field}[{i}]");
            if let Some(storage) = reader.table(item, &item_field) {
                read_storage(
                    reader,
                    storage,
                    item,
                    &item_field,
                    (index, i),
                    &label,
                    usable.map(|u| u.2),
                    &mut decl,
                    spec,
                );
            }
        }
    }
    spec.vaults.push(decl);
}

#[allow(clippy::too_many_arguments)]
pub(super) fn read_storage(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    item: &Value<'_>,
    field: &str,
    position: (usize, usize),
    vault: &Arc<str>,
    cloud: Option<Cloud>,
    decl: &mut VaultDecl,
    spec: &mut FileSpec,
) {
    reader.reject_unknown_keys(table, field, STORAGE_KEYS);
    let account = required(reader, table, item, field, "account").and_then(|value| {
        let account_field = join(field, "account");
        let account = reader.string(value, &account_field)?;
        if backup::is_storage_account(account) {
            Some(account.to_owned())
        } else {
            reader.error(
                value.span(),
                &account_field,
                format!("\"{account}\" is not a storage account name"),
                Some("storage account names are 3 to 24 lower-case letters and digits".into()),
            );
            None
        }
    });
    let role = required(reader, table, item, field, "role").and_then(|value| {
        let role_field = join(field, "role");
        match reader.string(value, &role_field)? {
            "ecs" => Some(StorageRole::Ecs),
            "prot" => Some(StorageRole::Prot),
            other => {
                reader.error(
                    value.span(),
                    &role_field,
                    format!("unknown storage role \"{other}\""),
                    Some("use \"ecs\" for the communication account or \"prot\" for a backup-data account".into()),
                );
                None
            }
        }
    });
    let blob = required(reader, table, item, field, "blob").map(|v| (v, StorageService::Blob));
    let queue = table.get("queue").map(|v| (v, StorageService::Queue));
    if let Some(role) = role {
        decl.storage_roles.push((role, queue.is_some()));
    }
    let mut shared_account: Option<Arc<str>> = None;
    for (value, service) in [blob, queue].into_iter().flatten() {
        let service_field = join(field, service.as_str());
        let addrs = reader.addresses(value, &service_field);
        let (Some(account), Some(role), Some(cloud)) = (&account, role, cloud) else {
            continue;
        };
        let name =
            backup::storage_name(account, service, cloud).and_then(|n| DomainName::parse(&n).ok());
        if let (Some(name), false) = (name, addrs.is_empty()) {
            // One shared copy of the account name for its blob and queue.
            let account = shared_account
                .get_or_insert_with(|| Arc::from(account.as_str()))
                .clone();
            spec.records.push(RecordDecl {
                name,
                addresses: Addresses::new(&addrs),
                line: reader.line(value.span()),
                field: FieldName::Storage {
                    vault: index_u32(position.0),
                    storage: index_u32(position.1),
                },
                origin: Origin::Storage {
                    vault: vault.clone(),
                    account,
                    role,
                    service,
                },
            });
        }
    }
}

/// `[records]`: name → address(es). Unquoted dotted keys arrive as nested
/// tables; they are flattened back into the name they spell.
pub(super) fn read_records(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    prefix: &str,
    records: &mut Vec<RecordDecl>,
) {
    for (key, value) in table.iter() {
        let key_text: &str = key.get_ref();
        let full = if prefix.is_empty() {
            key_text.to_owned()
        } else {
            format!("{prefix}.{key_text}")
        };
        if let DeValue::Table(inner) = value.get_ref() {
            read_records(reader, inner, &full, records);
            continue;
        }
        let field = format!("records.\"{full}\"");
        let addrs = reader.addresses(value, &field);
        match DomainName::parse(&full) {
            Ok(name) => {
                if !addrs.is_empty() {
                    let spelled = (full != name.as_str()).then(|| full.as_str().into());
                    records.push(RecordDecl {
                        name,
                        addresses: Addresses::new(&addrs),
                        line: reader.line(key.span()),
                        field: FieldName::Record(spelled),
                        origin: Origin::Records,
                    });
                }
            }
            Err(error) => reader.error(
                key.span(),
                &field,
                format!("invalid name: {error}"),
                Some(NAME_HINT.into()),
            ),
        }
    }
}
