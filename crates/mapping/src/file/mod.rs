//! Reading the mapping file: TOML with spans → settings and declarations,
//! each remembering its line. Meaning across entries (zones, duplicates,
//! completeness) is checked afterwards in [`crate::build`].

mod chunks;
mod value;

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use toml::de::{DeTable, DeValue};

use crate::azure::backup::{self, StorageService};
use crate::azure::geo::{self, Cloud};
use crate::diagnostic::{Report, Source};
use crate::mapping::{Addresses, Origin, StorageRole};
use crate::name::DomainName;
use crate::settings::{Fallback, ForwardRule, Settings};
use value::{Reader, Value, join};

/// The file as declared: settings plus every name to serve, in file order.
#[derive(Debug)]
pub(crate) struct FileSpec {
    pub(crate) settings: Settings,
    pub(crate) zones: Vec<ZoneDecl>,
    pub(crate) vaults: Vec<VaultDecl>,
    pub(crate) records: Vec<RecordDecl>,
}

/// A `[[zone]]` entry.
#[derive(Debug)]
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
    pub(crate) storage_roles: Vec<(StorageRole, bool)>,
    /// False when the id, geo or cloud was unusable, so no names were expanded.
    pub(crate) expanded: bool,
}

/// One name to serve, from `[records]` or expanded from a vault.
#[derive(Debug)]
pub(crate) struct RecordDecl {
    pub(crate) name: DomainName,
    pub(crate) addresses: Addresses,
    pub(crate) line: usize,
    pub(crate) field: FieldName,
    pub(crate) origin: Origin,
}

/// Where a record was declared, kept small (a 100,000-name file holds one
/// per name): the rest of the field's path is in the record's origin.
#[derive(Debug)]
pub(crate) enum FieldName {
    /// `records."<key>"`; `None` when the key is the name as stored.
    Record(Option<Box<str>>),
    /// `vault[<vault>].backup.<service>`.
    Backup { vault: u32 },
    /// `vault[<vault>].storage[<storage>].<service>`.
    Storage { vault: u32, storage: u32 },
}

impl RecordDecl {
    /// The field, as diagnostics name it.
    pub(crate) fn field(&self) -> String {
        match (&self.field, &self.origin) {
            (FieldName::Record(Some(key)), _) => format!("records.\"{key}\""),
            (FieldName::Backup { vault }, Origin::Backup { service, .. }) => {
                format!("vault[{vault}].backup.{service}")
            }
            (FieldName::Storage { vault, storage }, Origin::Storage { service, .. }) => {
                format!("vault[{vault}].storage[{storage}].{}", service.as_str())
            }
            _ => format!("records.\"{}\"", self.name),
        }
    }
}

/// An entry's position, as stored in a [`FieldName`].
fn index_u32(index: usize) -> u32 {
    u32::try_from(index).unwrap_or(u32::MAX)
}

/// The field named by syntax errors.
pub(crate) const SYNTAX_FIELD: &str = "syntax";

/// How names may be written, for hints.
const NAME_HINT: &str = "names are labels of letters, digits, '-' and '_', separated by dots";

const TOP_KEYS: &[&str] = &[
    "server",
    "forward",
    "zones",
    "zone",
    "vault",
    "records",
    "rate_limit",
];
const RATE_LIMIT_KEYS: &[&str] = &["responses_per_second", "slip", "ipv4_prefix", "ipv6_prefix"];
const SERVER_KEYS: &[&str] = &[
    "listen",
    "allow",
    "hostname",
    "watch",
    "http",
    "query_log",
    "strict_readiness",
    "subnets",
    "tcp_max_connections",
    "tcp_idle_timeout_s",
    "udp_workers",
    "allow_transfer",
    "notify",
];
const FORWARD_KEYS: &[&str] = &[
    "upstreams",
    "timeout_ms",
    "stale_max_s",
    "cache_mb",
    "max_inflight",
    "rule",
];
const RULE_KEYS: &[&str] = &["suffix", "upstreams"];
const ZONES_KEYS: &[&str] = &["ttl", "fallback"];
const ZONE_KEYS: &[&str] = &["name", "fallback"];
const VAULT_KEYS: &[&str] = &["name", "id", "geo", "cloud", "backup", "storage"];
const STORAGE_KEYS: &[&str] = &["account", "role", "blob", "queue"];

/// Reads `text` (named `file` in diagnostics). Returns the declarations and
/// the report; the declarations are only meaningful when the report has no
/// errors.
pub(crate) fn read(file: &str, text: &str) -> (FileSpec, Report) {
    let source = Source::new(file, text);
    let pieces = chunks::split(text);
    let (mut spec, report) = match pieces.len() > 1 {
        true => read_pieces(&source, &pieces).unwrap_or_else(|| read_whole(&source, text)),
        false => read_whole(&source, text),
    };
    // The records move into the mapping next: give back what growing left
    // unused (a large block's shrink is a remap, not a copy).
    spec.records.shrink_to_fit();
    (spec, report)
}

fn empty_spec() -> FileSpec {
    FileSpec {
        settings: Settings::default(),
        zones: Vec::new(),
        vaults: Vec::new(),
        records: Vec::new(),
    }
}

/// Reads the file piece by piece (see [`chunks`]); `None` when a piece does
/// not parse or a table is defined in two pieces, for the whole-file parse
/// to report.
fn read_pieces(source: &Source, pieces: &[chunks::Piece<'_>]) -> Option<(FileSpec, Report)> {
    let mut reader = Reader {
        source,
        report: Report::new(source.file.clone()),
        base: 0,
        shared: HashMap::new(),
    };
    let mut spec = empty_spec();
    let mut vaults_before = 0;
    let mut roots: Vec<String> = Vec::new();
    // TOML forbids a key twice in one table; pieces of `[records]` cannot see
    // each other's keys, so their hashes are kept here.
    let mut record_keys: HashSet<u64> = HashSet::new();
    for piece in pieces {
        let document = DeTable::parse(&piece.text).ok()?;
        let top = document.get_ref();
        if let Some(records) = top.get("records").and_then(|v| v.get_ref().as_table())
            && !unique_leaf_keys(records, &mut Vec::new(), &mut record_keys)
        {
            return None;
        }
        let vault_piece = piece.text.trim_start().starts_with("[[vault]]");
        for key in top.keys() {
            let root: &str = key.get_ref();
            let repeats =
                (root == "vault" && vault_piece) || (root == "records" && piece.continued);
            if roots.iter().any(|seen| seen == root) && !repeats {
                return None;
            }
            roots.push(root.to_owned());
        }
        reader.base = piece.base;
        read_top(&mut reader, top, &mut spec, &mut vaults_before);
    }
    spec.settings.forward.sort_rules();
    Some((spec, reader.report))
}

/// Adds the hash of every leaf key path of `table` to `seen`; false when one
/// was there already.
fn unique_leaf_keys<'t>(
    table: &'t DeTable<'_>,
    path: &mut Vec<&'t str>,
    seen: &mut HashSet<u64>,
) -> bool {
    use std::hash::BuildHasher;
    for (key, value) in table.iter() {
        path.push(key.get_ref());
        let unique = match value.get_ref().as_table() {
            Some(inner) => unique_leaf_keys(inner, path, seen),
            // A collision only costs a fallback to the whole-file read.
            None => seen.insert(FIXED_HASH.hash_one(&*path)),
        };
        path.pop();
        if !unique {
            return false;
        }
    }
    true
}

/// A fixed hasher: the hashes only need to agree within one read.
const FIXED_HASH: std::hash::BuildHasherDefault<std::collections::hash_map::DefaultHasher> =
    std::hash::BuildHasherDefault::new();

/// Reads the file as one document, never in pieces (tests compare the two).
#[cfg(test)]
pub(crate) fn read_unsplit(file: &str, text: &str) -> (FileSpec, Report) {
    read_whole(&Source::new(file, text), text)
}

fn read_whole(source: &Source, text: &str) -> (FileSpec, Report) {
    let mut reader = Reader {
        source,
        report: Report::new(source.file.clone()),
        base: 0,
        shared: HashMap::new(),
    };
    let mut spec = empty_spec();
    let (document, syntax_errors) = DeTable::parse_recoverable(text);
    if !syntax_errors.is_empty() {
        // The parser's recovery produces follow-on errors; the first one on
        // each line is the one that explains it.
        let mut seen_lines = Vec::new();
        for error in syntax_errors {
            let line = error.span().map_or(1, |span| source.line_of(span.start));
            if !seen_lines.contains(&line) {
                seen_lines.push(line);
                reader.report.error(
                    line,
                    SYNTAX_FIELD,
                    error.message().trim().to_owned(),
                    Some("the file is not valid TOML".into()),
                );
            }
        }
        return (spec, reader.report);
    }
    read_top(&mut reader, document.get_ref(), &mut spec, &mut 0);
    spec.settings.forward.sort_rules();
    (spec, reader.report)
}

/// Reads one top-level table (the whole file's, or a piece's).
/// `vaults_before` counts the vaults of earlier pieces, for field names.
fn read_top(
    reader: &mut Reader<'_>,
    top: &DeTable<'_>,
    spec: &mut FileSpec,
    vaults_before: &mut usize,
) {
    reader.reject_unknown_keys(top, "", TOP_KEYS);
    for (key, value) in top.iter() {
        match &**key.get_ref() {
            "server" => read_server(reader, value, &mut spec.settings),
            "forward" => read_forward(reader, value, &mut spec.settings),
            "zones" => read_zone_defaults(reader, value, &mut spec.settings),
            "rate_limit" => read_rate_limit(reader, value, &mut spec.settings),
            "zone" => read_zones(reader, value, &mut spec.zones),
            "vault" => *vaults_before += read_vaults(reader, value, spec, *vaults_before),
            "records" => {
                if let Some(table) = reader.table(value, "records") {
                    read_records(reader, table, "", &mut spec.records);
                }
            }
            _ => {}
        }
    }
}

fn read_server(reader: &mut Reader<'_>, value: &Value<'_>, settings: &mut Settings) {
    let Some(table) = reader.table(value, "server") else {
        return;
    };
    reader.reject_unknown_keys(table, "server", SERVER_KEYS);
    let server = &mut settings.server;
    if let Some(value) = table.get("listen") {
        server.listen = socket_addrs(reader, value, "server.listen", None);
    }
    if let Some(value) = table.get("allow") {
        server.allow = networks(reader, value, "server.allow");
        let everyone = server.allow.iter().any(|net| net.prefix_len() == 0);
        if everyone {
            let line = reader.line(value.span());
            reader.warning(
                line,
                "server.allow",
                "every client on the Internet may query this server (an open resolver)",
                Some("list your clients' networks instead of 0.0.0.0/0 or ::/0".into()),
            );
        }
    }
    if let Some(value) = table.get("hostname")
        && let Some(name) = domain_name(reader, value, "server.hostname")
    {
        server.hostname = name;
    }
    if let Some(value) = table.get("watch")
        && let Some(watch) = reader.boolean(value, "server.watch")
    {
        server.watch = watch;
    }
    if let Some(value) = table.get("http") {
        server.http = socket_addrs(reader, value, "server.http", None)
            .first()
            .copied();
    }
    if let Some(value) = table.get("query_log")
        && let Some(on) = reader.boolean(value, "server.query_log")
    {
        server.query_log = on;
    }
    if let Some(value) = table.get("strict_readiness")
        && let Some(strict) = reader.boolean(value, "server.strict_readiness")
    {
        server.strict_readiness = strict;
    }
    if let Some(value) = table.get("subnets") {
        server.subnets = networks(reader, value, "server.subnets");
    }
    if let Some(value) = table.get("tcp_max_connections")
        && let Some(n) = reader.integer(value, "server.tcp_max_connections", 1..=65_536)
    {
        server.tcp_max_connections = usize::try_from(n).unwrap_or(usize::MAX);
    }
    if let Some(value) = table.get("udp_workers")
        && let Some(n) = reader.integer(value, "server.udp_workers", 0..=256)
    {
        server.udp_workers = usize::try_from(n).unwrap_or(0);
    }
    if let Some(value) = table.get("tcp_idle_timeout_s")
        && let Some(s) = reader.integer(value, "server.tcp_idle_timeout_s", 1..=3600)
    {
        server.tcp_idle_timeout = Duration::from_secs(s);
    }
    if let Some(value) = table.get("allow_transfer") {
        server.allow_transfer = networks(reader, value, "server.allow_transfer");
        if server
            .allow_transfer
            .iter()
            .any(|net| net.prefix_len() == 0)
        {
            let line = reader.line(value.span());
            reader.warning(
                line,
                "server.allow_transfer",
                "every client may transfer every served zone",
                Some("list your secondaries' addresses instead".into()),
            );
        }
    }
    if let Some(value) = table.get("notify") {
        server.notify = socket_addrs(reader, value, "server.notify", Some(53));
        if !server.notify.is_empty() && server.allow_transfer.is_empty() {
            let line = reader.line(value.span());
            reader.warning(
                line,
                "server.notify",
                "secondaries are notified, but server.allow_transfer lets none of them transfer a zone",
                Some("add the secondaries' addresses to server.allow_transfer".into()),
            );
        }
    }
}

fn read_rate_limit(reader: &mut Reader<'_>, value: &Value<'_>, settings: &mut Settings) {
    let Some(table) = reader.table(value, "rate_limit") else {
        return;
    };
    reader.reject_unknown_keys(table, "rate_limit", RATE_LIMIT_KEYS);
    let limit = &mut settings.rate_limit;
    let mut number = |key: &str, range| {
        table
            .get(key)
            .and_then(|value| reader.integer(value, &join("rate_limit", key), range))
    };
    if let Some(n) = number("responses_per_second", 0..=1_000_000) {
        limit.responses_per_second = u32::try_from(n).unwrap_or(u32::MAX);
    }
    if let Some(n) = number("slip", 0..=100) {
        limit.slip = u32::try_from(n).unwrap_or(u32::MAX);
    }
    if let Some(n) = number("ipv4_prefix", 8..=32) {
        limit.ipv4_prefix = u8::try_from(n).unwrap_or(32);
    }
    if let Some(n) = number("ipv6_prefix", 16..=128) {
        limit.ipv6_prefix = u8::try_from(n).unwrap_or(128);
    }
}

/// Networks in CIDR notation; a bare address is a host network.
fn networks(reader: &mut Reader<'_>, value: &Value<'_>, field: &str) -> Vec<IpNet> {
    reader
        .string_list(value, field)
        .into_iter()
        .filter_map(|(text, span, item_field)| {
            let parsed = text
                .parse::<IpNet>()
                .or_else(|_| text.parse::<IpAddr>().map(IpNet::from));
            if parsed.is_err() {
                reader.error(
                    span,
                    &item_field,
                    format!("\"{text}\" is not a network"),
                    Some("use CIDR notation such as 10.0.0.0/8 or fc00::/7".into()),
                );
            }
            parsed.ok()
        })
        .collect()
}

fn read_forward(reader: &mut Reader<'_>, value: &Value<'_>, settings: &mut Settings) {
    let Some(table) = reader.table(value, "forward") else {
        return;
    };
    reader.reject_unknown_keys(table, "forward", FORWARD_KEYS);
    let forward = &mut settings.forward;
    if let Some(value) = table.get("upstreams") {
        forward.upstreams = socket_addrs(reader, value, "forward.upstreams", Some(53));
    }
    if let Some(value) = table.get("timeout_ms")
        && let Some(ms) = reader.integer(value, "forward.timeout_ms", 100..=60_000)
    {
        forward.timeout = Duration::from_millis(ms);
    }
    if let Some(value) = table.get("stale_max_s")
        && let Some(s) = reader.integer(value, "forward.stale_max_s", 0..=7 * 86_400)
    {
        forward.stale_max = Duration::from_secs(s);
    }
    if let Some(value) = table.get("max_inflight")
        && let Some(n) = reader.integer(value, "forward.max_inflight", 1..=1_000_000)
    {
        forward.max_inflight = usize::try_from(n).unwrap_or(usize::MAX);
    }
    if let Some(value) = table.get("cache_mb")
        && let Some(mb) = reader.integer(value, "forward.cache_mb", 0..=65_536)
    {
        forward.cache_mb = mb;
    }
    if let Some(value) = table.get("rule") {
        for (i, item) in reader
            .table_array(value, "forward.rule")
            .into_iter()
            .enumerate()
        {
            let field = format!("forward.rule[{i}]");
            let Some(rule) = reader.table(item, &field) else {
                continue;
            };
            reader.reject_unknown_keys(rule, &field, RULE_KEYS);
            let suffix = required(reader, rule, item, &field, "suffix")
                .and_then(|v| domain_name(reader, v, &join(&field, "suffix")));
            let upstreams = required(reader, rule, item, &field, "upstreams")
                .map(|v| socket_addrs(reader, v, &join(&field, "upstreams"), Some(53)));
            if let (Some(suffix), Some(upstreams)) = (suffix, upstreams) {
                forward.rules.push(ForwardRule { suffix, upstreams });
            }
        }
    }
}

fn read_zone_defaults(reader: &mut Reader<'_>, value: &Value<'_>, settings: &mut Settings) {
    let Some(table) = reader.table(value, "zones") else {
        return;
    };
    reader.reject_unknown_keys(table, "zones", ZONES_KEYS);
    if let Some(value) = table.get("ttl")
        && let Some(ttl) = reader.integer(value, "zones.ttl", 0..=604_800)
    {
        settings.zones.ttl = u32::try_from(ttl).unwrap_or(u32::MAX);
    }
    if let Some(value) = table.get("fallback")
        && let Some(fallback) = fallback(reader, value, "zones.fallback")
    {
        settings.zones.fallback = fallback;
    }
}

fn read_zones(reader: &mut Reader<'_>, value: &Value<'_>, zones: &mut Vec<ZoneDecl>) {
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
fn read_vaults(
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

fn read_vault(
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
fn read_storage(
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
fn read_records(
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

/// A required key: reports its absence at the table's line.
fn required<'v, 'd>(
    reader: &mut Reader<'_>,
    table: &'v DeTable<'d>,
    item: &Value<'_>,
    field: &str,
    key: &str,
) -> Option<&'v Value<'d>> {
    let value = table.get(key);
    if value.is_none() {
        reader.error(
            item.span(),
            &join(field, key),
            format!("`{key}` is missing"),
            None,
        );
    }
    value
}

fn domain_name(reader: &mut Reader<'_>, value: &Value<'_>, field: &str) -> Option<DomainName> {
    let text = reader.string(value, field)?;
    match DomainName::parse(text) {
        Ok(name) => Some(name),
        Err(error) => {
            reader.error(
                value.span(),
                field,
                format!("invalid name \"{text}\": {error}"),
                Some(NAME_HINT.into()),
            );
            None
        }
    }
}

fn fallback(reader: &mut Reader<'_>, value: &Value<'_>, field: &str) -> Option<Fallback> {
    match reader.string(value, field)? {
        "nxdomain" => Some(Fallback::NxDomain),
        "forward" => Some(Fallback::Forward),
        other => {
            reader.error(
                value.span(),
                field,
                format!("unknown fallback \"{other}\""),
                Some("use \"nxdomain\" (answer NXDOMAIN, Azure's default) or \"forward\" (ask the upstreams, Azure's NxDomainRedirect)".into()),
            );
            None
        }
    }
}

/// Socket addresses; with `default_port`, a bare IP address is accepted too.
fn socket_addrs(
    reader: &mut Reader<'_>,
    value: &Value<'_>,
    field: &str,
    default_port: Option<u16>,
) -> Vec<SocketAddr> {
    reader
        .string_list(value, field)
        .into_iter()
        .filter_map(|(text, span, item_field)| {
            let parsed = text.parse::<SocketAddr>().ok().or_else(|| {
                let port = default_port?;
                text.parse::<IpAddr>()
                    .ok()
                    .map(|ip| SocketAddr::new(ip, port))
            });
            if parsed.is_none() {
                let hint = if default_port.is_some() {
                    "use ADDRESS or ADDRESS:PORT, e.g. 168.63.129.16 or [fd00::53]:53"
                } else {
                    "use ADDRESS:PORT, e.g. 0.0.0.0:53 or [::1]:5353"
                };
                reader.error(
                    span,
                    &item_field,
                    format!("\"{text}\" is not a socket address"),
                    Some(hint.into()),
                );
            }
            parsed
        })
        .collect()
}

/// A Backup geo code valid in `cloud`, with the closest valid codes as a hint.
fn geo_code(
    reader: &mut Reader<'_>,
    value: &Value<'_>,
    field: &str,
    cloud: Cloud,
) -> Option<String> {
    let code = reader.string(value, field)?.to_ascii_lowercase();
    match geo::region_by_geo(&code) {
        Some(region) if region.cloud == cloud => return Some(code),
        Some(region) => reader.error(
            value.span(),
            field,
            format!(
                "geo code \"{code}\" belongs to region {} in the {} cloud, not {}",
                region.name,
                region.cloud.as_str(),
                cloud.as_str()
            ),
            Some("set `cloud` to match the vault's region".into()),
        ),
        None => {
            let hint = match geo::region_by_name(&code) {
                Some(region) => format!(
                    "\"{code}\" is a region name; its geo code is \"{}\"",
                    region.geo
                ),
                None => {
                    let close = geo::closest_geo_codes(&code, cloud);
                    if close.is_empty() {
                        "see \"Backup geo codes\" in the README".to_owned()
                    } else {
                        format!("did you mean {}?", close.join(", "))
                    }
                }
            };
            reader.error(
                value.span(),
                field,
                format!("unknown geo code \"{code}\""),
                Some(hint),
            );
        }
    }
    None
}
