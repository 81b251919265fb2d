//! Problems found in a mapping file, each with its file, line and field.

use std::fmt;
use std::sync::Arc;

/// How bad a problem is: errors make the file invalid, warnings do not
/// (unless `check --strict`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem in a mapping file.
///
/// Displays as `FILE:LINE: field: message (hint)`; warnings carry
/// `warning:` in front of the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// The file, as the operator named it.
    pub file: Arc<str>,
    /// 1-based line, when the problem has one.
    pub line: Option<usize>,
    /// The setting or entry concerned, e.g. `vault[1].geo` or `records."acct.privatelink.blob.core.windows.net"`.
    pub field: String,
    pub message: String,
    /// What to do about it, or the closest valid value.
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": {}: ", self.field)?;
        if self.severity == Severity::Warning {
            f.write_str("warning: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

/// The text of a mapping file with a line index, so that byte spans from
/// the TOML parser become line numbers.
#[derive(Debug)]
pub(crate) struct Source {
    pub(crate) file: Arc<str>,
    line_starts: Vec<usize>,
}

impl Source {
    pub(crate) fn new(file: &str, text: &str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self {
            file: file.into(),
            line_starts,
        }
    }

    /// The 1-based line holding byte `offset`.
    pub(crate) fn line_of(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&start| start <= offset)
    }
}

/// Diagnostics reported in full for one file; the rest are counted.
pub const MAX_DIAGNOSTICS: usize = 200;

/// Collects diagnostics for one file.
#[derive(Debug)]
pub(crate) struct Report {
    file: Arc<str>,
    pub(crate) diagnostics: Vec<Diagnostic>,
}

impl Report {
    pub(crate) fn file(&self) -> Arc<str> {
        self.file.clone()
    }

    pub(crate) fn new(file: Arc<str>) -> Self {
        Self {
            file,
            diagnostics: Vec::new(),
        }
    }

    pub(crate) fn push(
        &mut self,
        severity: Severity,
        line: Option<usize>,
        field: impl Into<String>,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        self.diagnostics.push(Diagnostic {
            severity,
            file: self.file.clone(),
            line,
            field: field.into(),
            message: message.into(),
            hint,
        });
    }

    pub(crate) fn error(
        &mut self,
        line: usize,
        field: impl Into<String>,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        self.push(Severity::Error, Some(line), field, message, hint);
    }

    pub(crate) fn warning(
        &mut self,
        line: usize,
        field: impl Into<String>,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        self.push(Severity::Warning, Some(line), field, message, hint);
    }

    pub(crate) fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The diagnostics in file order, errors before warnings on one line;
    /// past [`MAX_DIAGNOSTICS`], one more says how many were left out (a
    /// file of random bytes once produced 256,159, each a log line).
    pub(crate) fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.diagnostics.sort_by_key(|a| (a.line, a.severity));
        if self.diagnostics.len() > MAX_DIAGNOSTICS {
            let rest = &self.diagnostics[MAX_DIAGNOSTICS..];
            let errors = rest.iter().filter(|d| d.is_error()).count();
            let summary = Diagnostic {
                severity: if errors > 0 {
                    Severity::Error
                } else {
                    Severity::Warning
                },
                file: self.file.clone(),
                line: rest.first().and_then(|d| d.line),
                field: "file".into(),
                message: format!(
                    "{} more problem(s) not shown ({errors} error(s)), from this line on",
                    rest.len()
                ),
                hint: Some("fix the ones above first; is this the right file?".into()),
            };
            self.diagnostics.truncate(MAX_DIAGNOSTICS);
            self.diagnostics.push(summary);
        }
        self.diagnostics
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines() {
        let source = Source::new("f.toml", "a = 1\nb = 2\n\nc = 3");
        assert_eq!(source.line_of(0), 1);
        assert_eq!(source.line_of(5), 1);
        assert_eq!(source.line_of(6), 2);
        assert_eq!(source.line_of(12), 3);
        assert_eq!(source.line_of(13), 4);
    }

    #[test]
    fn display_follows_file_line_field_message_hint() {
        let mut report = Report::new("m.toml".into());
        report.error(
            3,
            "vault[0].geo",
            "unknown geo code \"wee\"",
            Some("did you mean we?".into()),
        );
        report.warning(9, "vault[0].backup", "missing services id1", None);
        let lines: Vec<String> = report
            .into_sorted()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            lines,
            [
                "m.toml:3: vault[0].geo: unknown geo code \"wee\" (did you mean we?)",
                "m.toml:9: vault[0].backup: warning: missing services id1",
            ]
        );
    }
}
