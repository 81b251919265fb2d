//! Domain names as the mapping stores them: validated, lower case, without
//! the trailing dot.

use std::borrow::Borrow;
use std::fmt;

/// A validated DNS name in lower case, without the trailing dot.
///
/// Labels hold letters, digits, `-` and `_` (Azure and SRV-style names use
/// underscores), never start or end with `-`, and are 1–63 bytes long; the
/// whole name is at most 253 characters, the presentation-format limit.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainName(Box<str>);

/// Why a string is not a [`DomainName`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the name is empty")]
    Empty,
    #[error("the name is {0} characters long; DNS allows at most 253")]
    TooLong(usize),
    #[error("the name has an empty label (a leading dot or two dots in a row)")]
    EmptyLabel,
    #[error("label \"{label}\" is {len} characters long; DNS allows at most 63")]
    LabelTooLong { label: String, len: usize },
    #[error("label \"{label}\" contains {ch:?}; use letters, digits, '-' and '_'")]
    BadCharacter { label: String, ch: char },
    #[error("label \"{label}\" starts or ends with '-'")]
    EdgeHyphen { label: String },
}

impl DomainName {
    /// Parses a name, accepting any case and an optional trailing dot.
    pub fn parse(text: &str) -> Result<Self, NameError> {
        let text = text.strip_suffix('.').unwrap_or(text);
        if text.is_empty() {
            return Err(NameError::Empty);
        }
        if text.len() > 253 {
            return Err(NameError::TooLong(text.len()));
        }
        for label in text.split('.') {
            check_label(label)?;
        }
        Ok(Self(text.to_ascii_lowercase().into_boxed_str()))
    }

    /// A name known to be valid (a constant of this crate).
    pub(crate) fn from_trusted(text: &str) -> Self {
        debug_assert!(Self::parse(text).is_ok(), "{text}");
        Self(text.to_ascii_lowercase().into_boxed_str())
    }

    /// The name as text, lower case, without the trailing dot.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The labels from the leftmost (most specific) to the top-level domain.
    pub fn labels(&self) -> impl DoubleEndedIterator<Item = &str> {
        self.0.split('.')
    }

    /// The number of labels.
    pub fn label_count(&self) -> usize {
        self.labels().count()
    }

    /// The leftmost label.
    pub fn first_label(&self) -> &str {
        self.0.split('.').next().unwrap_or_default()
    }

    /// True when `self` equals `zone` or lies below it.
    pub fn is_within(&self, zone: &Self) -> bool {
        is_within(&self.0, &zone.0)
    }

    /// The name with its leftmost label removed; `None` for a top-level name.
    pub fn parent(&self) -> Option<Self> {
        self.0.split_once('.').map(|(_, rest)| Self(rest.into()))
    }

    /// This name and each of its ancestors, most specific first, as text.
    pub fn suffixes(&self) -> Suffixes<'_> {
        Suffixes::new(&self.0)
    }

    /// The part of `self` in front of `zone` (`acct` for `acct.privatelink.blob…`
    /// within `privatelink.blob…`); `None` outside the zone, `""` at the apex.
    pub fn relative_to<'a>(&'a self, zone: &Self) -> Option<&'a str> {
        if self.0 == zone.0 {
            return Some("");
        }
        self.0
            .strip_suffix(&*zone.0)
            .and_then(|front| front.strip_suffix('.'))
    }

    /// Builds `label.self`, checking the result.
    pub fn prepend(&self, label: &str) -> Result<Self, NameError> {
        Self::parse(&format!("{label}.{}", self.0))
    }
}

/// True when the lower-case name `name` equals `zone` or lies below it.
pub(crate) fn is_within(name: &str, zone: &str) -> bool {
    name == zone
        || (name.len() > zone.len()
            && name.ends_with(zone)
            && name.as_bytes()[name.len() - zone.len() - 1] == b'.')
}

fn check_label(label: &str) -> Result<(), NameError> {
    if label.is_empty() {
        return Err(NameError::EmptyLabel);
    }
    if label.len() > 63 {
        return Err(NameError::LabelTooLong {
            label: label.to_owned(),
            len: label.len(),
        });
    }
    if let Some(ch) = label
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(NameError::BadCharacter {
            label: label.to_owned(),
            ch,
        });
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(NameError::EdgeHyphen {
            label: label.to_owned(),
        });
    }
    Ok(())
}

/// Iterator over a name and its ancestors (`a.b.c`, `b.c`, `c`).
#[derive(Debug, Clone)]
pub struct Suffixes<'a> {
    rest: Option<&'a str>,
}

impl<'a> Suffixes<'a> {
    /// Suffixes of a lower-case name given as text (a trailing dot is ignored).
    pub fn new(name: &'a str) -> Self {
        let name = name.strip_suffix('.').unwrap_or(name);
        Self {
            rest: (!name.is_empty()).then_some(name),
        }
    }
}

impl<'a> Iterator for Suffixes<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let current = self.rest?;
        self.rest = current.split_once('.').map(|(_, rest)| rest);
        Some(current)
    }
}

impl Borrow<str> for DomainName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DomainName({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_lowercases_and_drops_the_trailing_dot() {
        let name = DomainName::parse("Acct01.PrivateLink.Blob.Core.Windows.Net.").unwrap();
        assert_eq!(name.as_str(), "acct01.privatelink.blob.core.windows.net");
        assert_eq!(name.label_count(), 6);
        assert_eq!(name.first_label(), "acct01");
    }

    #[test]
    fn parse_rejects_what_dns_cannot_carry() {
        assert_eq!(DomainName::parse(""), Err(NameError::Empty));
        assert_eq!(DomainName::parse("."), Err(NameError::Empty));
        assert_eq!(DomainName::parse("a..b"), Err(NameError::EmptyLabel));
        assert_eq!(DomainName::parse(".a"), Err(NameError::EmptyLabel));
        assert!(matches!(
            DomainName::parse(&"x".repeat(64)),
            Err(NameError::LabelTooLong { len: 64, .. })
        ));
        let long = vec!["abcdefghi"; 26].join(".");
        assert!(matches!(
            DomainName::parse(&long),
            Err(NameError::TooLong(259))
        ));
        assert!(matches!(
            DomainName::parse("a b.example"),
            Err(NameError::BadCharacter { ch: ' ', .. })
        ));
        assert!(matches!(
            DomainName::parse("-a.example"),
            Err(NameError::EdgeHyphen { .. })
        ));
        assert!(DomainName::parse("_sip._tcp.example").is_ok());
    }

    #[test]
    fn within_needs_a_label_boundary() {
        let zone = DomainName::parse("privatelink.blob.core.windows.net").unwrap();
        let inside = DomainName::parse("acct.privatelink.blob.core.windows.net").unwrap();
        let lookalike = DomainName::parse("xprivatelink.blob.core.windows.net").unwrap();
        assert!(inside.is_within(&zone));
        assert!(zone.is_within(&zone));
        assert!(!lookalike.is_within(&zone));
        assert!(!zone.is_within(&inside));
        assert_eq!(inside.relative_to(&zone), Some("acct"));
        assert_eq!(zone.relative_to(&zone), Some(""));
        assert_eq!(lookalike.relative_to(&zone), None);
    }

    #[test]
    fn suffixes_walk_to_the_top() {
        let all: Vec<_> = Suffixes::new("a.b.c.").collect();
        assert_eq!(all, ["a.b.c", "b.c", "c"]);
        assert_eq!(Suffixes::new("").count(), 0);
        assert_eq!(Suffixes::new(".").count(), 0);
    }
}
