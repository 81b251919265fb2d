//! What the file declares: settings plus every name to serve, each
//! remembering its line and field.

use std::sync::Arc;

use ipnet::IpNet;

use crate::mapping::{Addresses, Origin, StorageRole};
use crate::name::DomainName;
use crate::settings::{Fallback, Settings};

/// The file as declared: settings plus every name to serve, in file order.
#[derive(Debug)]
pub(crate) struct FileSpec {
    pub(crate) settings: Settings,
    pub(crate) zones: Vec<ZoneDecl>,
    pub(crate) vaults: Vec<VaultDecl>,
    pub(crate) records: Vec<RecordDecl>,
    pub(crate) views: Vec<ViewDecl>,
}

impl FileSpec {
    pub(crate) fn empty() -> Self {
        Self {
            settings: Settings::default(),
            zones: Vec::new(),
            vaults: Vec::new(),
            records: Vec::new(),
            views: Vec::new(),
        }
    }
}

/// A `[[view]]`: client networks and the names they see differently.
#[derive(Debug)]
pub(crate) struct ViewDecl {
    pub(crate) name: Arc<str>,
    /// Networks, host bits cleared, as written.
    pub(crate) clients: Vec<IpNet>,
    pub(crate) line: usize,
    /// `view[<i>]`.
    pub(crate) field: String,
    pub(crate) zones: Vec<ZoneDecl>,
    /// From `[[view.vault]]` and `[view.records]`; fields say `view[<i>].`.
    pub(crate) records: Vec<RecordDecl>,
}

/// A `[[zone]]` entry.
#[derive(Debug, Clone)]
pub(crate) struct ZoneDecl {
    pub(crate) name: DomainName,
    pub(crate) fallback: Option<Fallback>,
    pub(crate) line: usize,
    pub(crate) field: String,
}

/// What `check` needs to know about a `[[vault]]` beyond its names.
#[derive(Debug)]
pub(crate) struct VaultDecl {
    pub(crate) label: Arc<str>,
    pub(crate) line: usize,
    pub(crate) field: String,
    /// Services given under `[vault.backup]`.
    pub(crate) services: Vec<String>,
    /// Services given under `[vault.site_recovery]`, when the table is there.
    pub(crate) site_recovery: Option<Vec<String>>,
    pub(crate) storage_roles: Vec<(StorageRole, bool)>,
    /// False when the id, geo or cloud was unusable, so no names were expanded.
    pub(crate) expanded: bool,
}

/// One name to serve, from `[records]` or expanded from a vault.
#[derive(Debug, Clone)]
pub(crate) struct RecordDecl {
    pub(crate) name: DomainName,
    pub(crate) addresses: Addresses,
    pub(crate) line: usize,
    pub(crate) field: FieldName,
    pub(crate) origin: Origin,
}

/// Where a record was declared, kept small (a 100,000-name file holds one
/// per name): the rest of the field's path is in the record's origin.
#[derive(Debug, Clone)]
pub(crate) enum FieldName {
    /// `records."<key>"`; `None` when the key is the name as stored.
    Record(Option<Box<str>>),
    /// `vault[<vault>].backup.<service>`.
    Backup { vault: u32 },
    /// `vault[<vault>].site_recovery.<service>`.
    SiteRecovery { vault: u32 },
    /// `vault[<vault>].storage[<storage>].<service>`.
    Storage { vault: u32, storage: u32 },
    /// The same inside `[[view]]` number `view`.
    InView { view: u32, inner: Box<Self> },
}

impl RecordDecl {
    /// The field, as diagnostics name it.
    pub(crate) fn field(&self) -> String {
        field_text(&self.field, &self.origin, &self.name)
    }
}

fn field_text(field: &FieldName, origin: &Origin, name: &DomainName) -> String {
    match (field, origin) {
        (FieldName::InView { view, inner }, _) => {
            format!("view[{view}].{}", field_text(inner, origin, name))
        }
        (FieldName::Record(Some(key)), _) => format!("records.\"{key}\""),
        (FieldName::Backup { vault }, Origin::Backup { service, .. }) => {
            format!("vault[{vault}].backup.{service}")
        }
        (FieldName::SiteRecovery { vault }, Origin::SiteRecovery { service, .. }) => {
            format!("vault[{vault}].site_recovery.{service}")
        }
        (FieldName::Storage { vault, storage }, Origin::Storage { service, .. }) => {
            format!("vault[{vault}].storage[{storage}].{}", service.as_str())
        }
        _ => format!("records.\"{name}\""),
    }
}

/// An entry's position, as stored in a [`FieldName`].
pub(super) fn index_u32(index: usize) -> u32 {
    u32::try_from(index).unwrap_or(u32::MAX)
}
