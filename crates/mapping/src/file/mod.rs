//! Reading the mapping file: TOML with spans → settings and declarations,
//! each remembering its line. Meaning across entries (zones, duplicates,
//! completeness) is checked afterwards in [`crate::build`].

mod chunks;
mod value;

use std::collections::{HashMap, HashSet};

use toml::de::DeTable;

use crate::diagnostic::{Report, Source};
mod decls;
mod fields;
mod settings;
mod spec;
mod tsig;
mod views;

use decls::{read_records, read_vaults, read_zones};
use settings::{read_forward, read_rate_limit, read_server, read_zone_defaults};
pub(crate) use spec::{FileSpec, RecordDecl, VaultDecl, ViewDecl, ZoneDecl};
use value::Reader;

/// The field named by syntax errors.
pub(crate) const SYNTAX_FIELD: &str = "syntax";

const TOP_KEYS: &[&str] = &[
    "server",
    "forward",
    "zones",
    "zone",
    "vault",
    "records",
    "rate_limit",
    "view",
    "tsig_key",
];

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
    FileSpec::empty()
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
            "view" => views::read_views(reader, value, &mut spec.views),
            "tsig_key" => tsig::read_keys(reader, value, &mut spec.settings.server.tsig_keys),
            _ => {}
        }
    }
}
