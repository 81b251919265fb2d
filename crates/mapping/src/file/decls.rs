//! The mapping tables: `[[zone]]`, `[[vault]]` with its backup services
//! and storage accounts, and `[records]`.

use std::sync::Arc;

use toml::de::{DeTable, DeValue};

use super::fields::{NAME_HINT, domain_name, fallback, geo_code, required};
use super::spec::{FieldName, FileSpec, RecordDecl, VaultDecl, ZoneDecl, index_u32};
use super::value::{Reader, Value, join};
use crate::azure::backup::{self, StorageService};
use crate::azure::geo::Cloud;
use crate::azure::geo::edit_distance;
use crate::azure::site_recovery;
use crate::mapping::{Addresses, Origin, StorageRole};
use crate::name::DomainName;

pub(super) const ZONE_KEYS: &[&str] = &["name", "fallback"];

pub(super) const VAULT_KEYS: &[&str] = &[
    "name",
    "id",
    "geo",
    "cloud",
    "backup",
    "site_recovery",
    "storage",
];

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
        site_recovery: None,
        storage_roles: Vec::new(),
        expanded: false,
    };
    let usable = match (&id, &geo, cloud) {
        (Some(id), Some(geo), Some(cloud)) => Some((id.as_str(), geo.as_str(), cloud)),
        _ => None,
    };
    decl.expanded = usable.is_some();
    let vault = VaultContext {
        index,
        label: &label,
        usable,
    };
    if let Some(value) = table.get("backup") {
        decl.services = read_services(reader, value, &field, &vault, Kind::Backup, spec);
    }
    if let Some(value) = table.get("site_recovery") {
        decl.site_recovery = Some(read_services(
            reader,
            value,
            &field,
            &vault,
            Kind::SiteRecovery,
            spec,
        ));
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

/// What a vault's service tables need to know about the vault.
struct VaultContext<'a> {
    index: usize,
    label: &'a Arc<str>,
    /// Id, geo and cloud, when all three are valid.
    usable: Option<(&'a str, &'a str, Cloud)>,
}

/// The two service tables of a vault.
#[derive(Clone, Copy)]
enum Kind {
    Backup,
    SiteRecovery,
}

impl Kind {
    fn key(self) -> &'static str {
        match self {
            Self::Backup => "backup",
            Self::SiteRecovery => "site_recovery",
        }
    }

    fn product(self) -> &'static str {
        match self {
            Self::Backup => "Azure Backup",
            Self::SiteRecovery => "Azure Site Recovery",
        }
    }

    fn known(self) -> Vec<&'static str> {
        match self {
            Self::Backup => backup::REQUIRED_SERVICES.to_vec(),
            Self::SiteRecovery => site_recovery::AT_CREATION
                .iter()
                .chain(&site_recovery::AFTER_REPLICATION)
                .copied()
                .collect(),
        }
    }

    fn is_known(self, svc: &str) -> bool {
        match self {
            Self::Backup => backup::is_known_service(svc),
            Self::SiteRecovery => site_recovery::is_known_service(svc),
        }
    }

    fn name(self, id: &str, svc: &str, geo: &str, cloud: Cloud) -> Option<String> {
        match self {
            Self::Backup => backup::backup_name(id, svc, geo, cloud),
            Self::SiteRecovery => site_recovery::name(id, svc, geo, cloud),
        }
    }
}

/// The known service closest to a mistyped one (`fabl` → `fab1`).
fn closest_service(svc: &str, known: &[&'static str]) -> Option<&'static str> {
    known
        .iter()
        .map(|k| (edit_distance(svc, k), *k))
        .filter(|(distance, _)| *distance <= 1)
        .min()
        .map(|(_, k)| k)
}

/// Reads `[vault.backup]` or `[vault.site_recovery]`: service → address(es).
/// Returns the services given.
fn read_services(
    reader: &mut Reader<'_>,
    value: &Value<'_>,
    vault_field: &str,
    vault: &VaultContext<'_>,
    kind: Kind,
    spec: &mut FileSpec,
) -> Vec<String> {
    let table_field = join(vault_field, kind.key());
    let Some(services) = reader.table(value, &table_field) else {
        return Vec::new();
    };
    let mut given = Vec::new();
    for (key, value) in services.iter() {
        let svc = key.get_ref().to_ascii_lowercase();
        let svc_field = join(&table_field, &svc);
        let addrs = reader.addresses(value, &svc_field);
        let svc_line = reader.line(key.span());
        if !kind.is_known(&svc) {
            let known = kind.known();
            let hint = match closest_service(&svc, &known) {
                Some(close) => format!("did you mean {close}?"),
                None => format!("{} uses {}", kind.product(), known.join(", ")),
            };
            reader.warning(
                svc_line,
                &svc_field,
                format!("\"{svc}\" is not a known {} service", kind.product()),
                Some(hint),
            );
        }
        given.push(svc.clone());
        let Some((id, geo, cloud)) = vault.usable else {
            continue;
        };
        let Some(name) = kind.name(id, &svc, geo, cloud) else {
            reader.error(
                key.span(),
                &svc_field,
                format!(
                    "{} has no private zone in the {} cloud",
                    kind.product(),
                    cloud.as_str()
                ),
                Some("Microsoft's zone list for that cloud has no Site Recovery row".into()),
            );
            continue;
        };
        let index = index_u32(vault.index);
        let service = reader.shared(&svc);
        let (field, origin) = match kind {
            Kind::Backup => (
                FieldName::Backup { vault: index },
                Origin::Backup {
                    vault: vault.label.clone(),
                    service,
                },
            ),
            Kind::SiteRecovery => (
                FieldName::SiteRecovery { vault: index },
                Origin::SiteRecovery {
                    vault: vault.label.clone(),
                    service,
                },
            ),
        };
        match DomainName::parse(&name) {
            Ok(name) if !addrs.is_empty() => spec.records.push(RecordDecl {
                name,
                addresses: Addresses::new(&addrs),
                line: svc_line,
                field,
                origin,
            }),
            Ok(_) => {}
            Err(_) => reader.error(
                key.span(),
                &svc_field,
                format!("\"{svc}\" cannot be part of a DNS name"),
                Some("service names are letters and digits, such as fab1".into()),
            ),
        }
    }
    given
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
            Err(error) => {
                // Site Recovery's docs print `<id>-asr-pod01-<svc>-.<geo>…`.
                let hint = site_recovery::private_name_of_documented(&full.to_ascii_lowercase())
                    .map_or_else(
                        || NAME_HINT.to_owned(),
                        |private| {
                            format!(
                                "Site Recovery's documentation shows this form; Azure creates \
                                 {private}: use [vault.site_recovery] or map that name"
                            )
                        },
                    );
                reader.error(
                    key.span(),
                    &field,
                    format!("invalid name: {error}"),
                    Some(hint),
                );
            }
        }
    }
}
