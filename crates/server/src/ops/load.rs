//! Loading the mapping file with every problem logged.

use std::path::Path;

use privatelink_mapping::{Diagnostic, LoadError, Loaded, load_file, load_str};
use tracing::{error, warn};

/// The errors of a rejected file kept for the status page.
const ERRORS_KEPT: usize = 5;

/// Why a file did not load (the problems are already logged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LoadFailure {
    /// Missing, unreadable, or not UTF-8.
    Unreadable { reason: String },
    /// Read, but invalid; `sha256` fingerprints the rejected content,
    /// `errors` are its first errors as `check` prints them.
    Invalid { sha256: String, errors: Vec<String> },
}

/// Loads `path`, logging every problem with its file, line and field.
pub(crate) fn load_logged(path: &Path) -> Result<Loaded, LoadFailure> {
    logged(path, load_file(path))
}

/// Loads `text`, read from `path` already, as [`load_logged`] does.
pub(crate) fn load_text_logged(path: &Path, text: &str) -> Result<Loaded, LoadFailure> {
    logged(path, load_str(&path.display().to_string(), text))
}

fn logged(path: &Path, result: Result<Loaded, LoadError>) -> Result<Loaded, LoadFailure> {
    match result {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                log_diagnostic(warning);
            }
            Ok(loaded)
        }
        Err(error @ LoadError::Read { .. }) => {
            error!(file = %path.display(), %error, "cannot read the mapping file");
            Err(LoadFailure::Unreadable {
                reason: error.to_string(),
            })
        }
        Err(LoadError::Invalid {
            diagnostics,
            sha256,
            ..
        }) => {
            for diagnostic in &diagnostics {
                log_diagnostic(diagnostic);
            }
            let errors = diagnostics
                .iter()
                .filter(|d| d.is_error())
                .take(ERRORS_KEPT)
                .map(ToString::to_string)
                .collect();
            Err(LoadFailure::Invalid { sha256, errors })
        }
    }
}

/// One log event per problem: the rendered `FILE:LINE: field: message (hint)`
/// for people, and file, line and field as fields for log pipelines.
pub(crate) fn log_diagnostic(diagnostic: &Diagnostic) {
    let (file, line, field) = (
        &*diagnostic.file,
        diagnostic.line,
        diagnostic.field.as_str(),
    );
    if diagnostic.is_error() {
        error!(file, line, field, "{diagnostic}");
    } else {
        warn!(file, line, field, "{diagnostic}");
    }
}
