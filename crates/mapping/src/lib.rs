//! The privatelink-dns mapping: which names this server answers for, and how.
//!
//! This crate knows nothing of sockets or the DNS wire format. It turns the
//! operator's TOML file into checked values:
//!
//! ```text
//!  file text ──file::read──▶ declarations ──build──▶ Mapping + Settings
//!      (syntax, types,        (names with        (zones inferred, duplicates,
//!       unknown keys)          their lines)        vault completeness)
//! ```
//!
//! Every problem on the way becomes a [`Diagnostic`] with file, line and
//! field; [`load_str`] returns all of them, not only the first.
//!
//! - [`name`]: validated lower-case domain names.
//! - [`azure`]: Azure facts: geo codes, Backup name formats, the Private Link zone catalogue.
//! - [`settings`]: `[server]`, `[forward]`, `[zones]` as typed values, and forward routing.
//! - [`mapping`]: served zones and mapped names; [`lookup`] answers one question;
//!   [`serial`] makes SOA serials follow the mapping when zones are transferred, and
//!   [`journal`] keeps each zone's recent changes for incremental transfers.
//! - [`views`]: `[[view]]`s, the mappings other client networks see.
//! - [`import`]: `az` CLI output and hosts files turned into a mapping file.

pub mod advice;
pub mod azure;
mod build;
pub mod catalog;
mod diagnostic;
pub mod diff;
mod file;
pub mod import;
pub mod inventory;
pub mod journal;
pub mod lookup;
pub mod mapping;
pub mod name;
mod nodes;
pub mod records;
pub mod serial;
pub mod settings;
pub mod tsig;
mod vault_checks;
pub mod views;
mod zone_rules;

use std::path::{Path, PathBuf};

pub use diagnostic::{Diagnostic, MAX_DIAGNOSTICS, Severity};
pub use diff::MappingDiff;
pub use lookup::{Lookup, QueryType, Records};
pub use mapping::{MappedName, Mapping, NodeView, Origin, Soa, StorageRole, Zone};
pub use name::DomainName;
pub use settings::{
    Fallback, ForwardRule, ForwardSettings, RateLimitSettings, Route, ServerSettings, Settings,
    UpstreamLimits, ZoneDefaults,
};
pub use views::{View, ViewSelector, Views};

/// A valid file: its settings, its mapping and any warnings.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub settings: Settings,
    pub mapping: Mapping,
    /// `[[view]]`s: other mappings for other client networks.
    pub views: Views,
    /// Warnings only; a file with errors does not load.
    pub warnings: Vec<Diagnostic>,
    /// SHA-256 of the file's bytes, in hex: compare with `sha256sum FILE`
    /// to see which version of a file a server is serving.
    pub sha256: String,
}

/// Why a file did not load.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is invalid: {} error(s)", file, diagnostics.iter().filter(|d| d.is_error()).count())]
    Invalid {
        file: String,
        /// Errors and warnings, in file order.
        diagnostics: Vec<Diagnostic>,
        /// SHA-256 of the rejected content.
        sha256: String,
    },
}

/// Parses and checks a mapping file's text; `file` names it in diagnostics.
pub fn load_str(file: &str, text: &str) -> Result<Loaded, LoadError> {
    load_with(file, text, file::read)
}

/// `load_str` with a given way of reading the text (in pieces or whole).
fn load_with(
    file: &str,
    text: &str,
    read: fn(&str, &str) -> (file::FileSpec, diagnostic::Report),
) -> Result<Loaded, LoadError> {
    let (mut spec, mut report) = read(file, text);
    // After a syntax error the declarations are incomplete, and checks
    // across entries would only add noise. Bad values, on the other hand,
    // leave the rest intact: build anyway, to report every problem at once.
    if report
        .diagnostics
        .iter()
        .any(|d| d.field == file::SYNTAX_FIELD)
    {
        return Err(invalid(file, text, report));
    }
    let view_decls = std::mem::take(&mut spec.views);
    let top = (!view_decls.is_empty()).then(|| views::TopLevel {
        zones: spec.zones.clone(),
        records: spec.records.clone(),
    });
    let (settings, mapping) = build::build(spec, &mut report);
    let views = match top {
        Some(top) => views::build_views(top, view_decls, &settings, &mut report),
        None => Views::default(),
    };
    catalog::check(&settings, &mapping, &views, &mut report);
    let server = &settings.server;
    tsig::check(&server.tsig_keys, &server.transfer_clients, &mut report);
    if report.has_errors() {
        return Err(invalid(file, text, report));
    }
    Ok(Loaded {
        settings,
        mapping,
        views,
        warnings: report.into_sorted(),
        sha256: sha256_hex(text.as_bytes()),
    })
}

fn invalid(file: &str, text: &str, report: diagnostic::Report) -> LoadError {
    LoadError::Invalid {
        file: file.to_owned(),
        diagnostics: report.into_sorted(),
        sha256: sha256_hex(text.as_bytes()),
    }
}

/// SHA-256 of `bytes` as lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    use std::fmt::Write;
    sha2::Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

/// The largest mapping file read, in bytes. A 100,000-name file is about
/// 7 MB; anything near this is a mistake (a path pointing at a log, a
/// device or a runaway generator), and reading it whole would cost memory
/// the server needs (the TOML parser takes ~35 times the file's size).
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// Reads and checks a mapping file.
pub fn load_file(path: &Path) -> Result<Loaded, LoadError> {
    let text = read_file_text(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })?;
    load_str(&path.display().to_string(), &text)
}

/// The text of the mapping file at `path`, as [`load_file`] reads it: a
/// regular file of at most [`MAX_FILE_BYTES`], never blocking on a FIFO.
pub fn read_file_text(path: &Path) -> std::io::Result<String> {
    read_bounded(path, MAX_FILE_BYTES)
}

/// The text of `path` if it is a regular file (after symlinks) of at most
/// `limit` bytes. A FIFO is refused before it is opened, which would block
/// until a writer came; a device such as /dev/zero is refused too.
fn read_bounded(path: &Path, limit: u64) -> std::io::Result<String> {
    use std::io::{Error, ErrorKind, Read};
    let not_regular = || {
        Error::new(
            ErrorKind::InvalidInput,
            "not a regular file (a FIFO, a device or a directory); a mapping file must be a file",
        )
    };
    let too_large = |size: u64| {
        Error::new(
            ErrorKind::InvalidData,
            format!("{size} bytes is larger than the {limit}-byte limit for a mapping file"),
        )
    };
    let metadata = std::fs::metadata(path)?;
    if !metadata.is_file() {
        return Err(not_regular());
    }
    if metadata.len() > limit {
        return Err(too_large(metadata.len()));
    }
    let file = std::fs::File::open(path)?;
    // Swapped for something else between the two looks: check what was opened.
    if !file.metadata()?.is_file() {
        return Err(not_regular());
    }
    let mut text = String::new();
    // One byte over the limit tells a file that grew while being read.
    file.take(limit + 1).read_to_string(&mut text)?;
    if text.len() as u64 > limit {
        return Err(too_large(text.len() as u64));
    }
    Ok(text)
}

#[cfg(test)]
mod tests;
