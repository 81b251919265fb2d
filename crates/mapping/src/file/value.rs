//! Typed access to a spanned TOML document, recording a diagnostic for every
//! value of the wrong type instead of stopping at the first.

use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::Range;
use std::sync::Arc;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::azure::geo::edit_distance;
use crate::diagnostic::{Report, Source};

/// A spanned TOML value.
pub(crate) type Value<'t> = Spanned<DeValue<'t>>;

/// Reads values out of one file's document, reporting problems as it goes.
pub(crate) struct Reader<'s> {
    pub(crate) source: &'s Source,
    pub(crate) report: Report,
    /// Offset of the parsed text in the file (non-zero for a piece of it).
    pub(crate) base: usize,
    /// Strings many records repeat (service names), stored once.
    pub(crate) shared: HashMap<Box<str>, Arc<str>>,
}

impl Reader<'_> {
    /// `text`, shared with every other record that uses it.
    pub(crate) fn shared(&mut self, text: &str) -> Arc<str> {
        if let Some(shared) = self.shared.get(text) {
            return shared.clone();
        }
        let shared: Arc<str> = text.into();
        self.shared.insert(text.into(), shared.clone());
        shared
    }

    pub(crate) fn line(&self, span: Range<usize>) -> usize {
        self.source.line_of(self.base + span.start)
    }

    pub(crate) fn error(
        &mut self,
        span: Range<usize>,
        field: &str,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        let line = self.line(span);
        self.report.error(line, field, message, hint);
    }

    pub(crate) fn warning(
        &mut self,
        line: usize,
        field: &str,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        self.report.warning(line, field, message, hint);
    }

    /// Reports every key of `table` not in `known`, with the closest known key as a hint.
    pub(crate) fn reject_unknown_keys(
        &mut self,
        table: &DeTable<'_>,
        prefix: &str,
        known: &[&str],
    ) {
        for key in table.keys() {
            let name: &str = key.get_ref();
            if known.contains(&name) {
                continue;
            }
            let hint = known
                .iter()
                .map(|k| (edit_distance(name, k), *k))
                .filter(|(d, _)| *d <= 2)
                .min()
                .map(|(_, k)| format!("did you mean `{k}`?"))
                .or_else(|| Some(format!("known keys: {}", known.join(", "))));
            let field = join(prefix, name);
            self.error(key.span(), &field, format!("unknown key `{name}`"), hint);
        }
    }

    pub(crate) fn table<'v, 'd>(
        &mut self,
        value: &'v Value<'d>,
        field: &str,
    ) -> Option<&'v DeTable<'d>> {
        match value.get_ref() {
            DeValue::Table(table) => Some(table),
            other => {
                self.type_error(value, field, "a table", other);
                None
            }
        }
    }

    pub(crate) fn string<'v>(&mut self, value: &'v Value<'_>, field: &str) -> Option<&'v str> {
        match value.get_ref() {
            DeValue::String(text) => Some(text),
            DeValue::Integer(_) => {
                self.error(
                    value.span(),
                    field,
                    "expected a string, found an integer",
                    Some("put the value in quotes".into()),
                );
                None
            }
            other => {
                self.type_error(value, field, "a string", other);
                None
            }
        }
    }

    pub(crate) fn boolean(&mut self, value: &Value<'_>, field: &str) -> Option<bool> {
        match value.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            other => {
                self.type_error(value, field, "true or false", other);
                None
            }
        }
    }

    /// An integer within `range`.
    pub(crate) fn integer(
        &mut self,
        value: &Value<'_>,
        field: &str,
        range: std::ops::RangeInclusive<u64>,
    ) -> Option<u64> {
        let DeValue::Integer(int) = value.get_ref() else {
            self.type_error(value, field, "an integer", value.get_ref());
            return None;
        };
        match u64::from_str_radix(&int.as_str().replace('_', ""), int.radix()) {
            Ok(n) if range.contains(&n) => Some(n),
            _ => {
                self.error(
                    value.span(),
                    field,
                    format!("{} is out of range", int.as_str()),
                    Some(format!("use {} to {}", range.start(), range.end())),
                );
                None
            }
        }
    }

    /// A string or an array of strings, each with its span and field name.
    pub(crate) fn string_list<'v>(
        &mut self,
        value: &'v Value<'_>,
        field: &str,
    ) -> Vec<(&'v str, Range<usize>, String)> {
        match value.get_ref() {
            DeValue::String(text) => vec![(&**text, value.span(), field.to_owned())],
            DeValue::Array(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| {
                    let item_field = format!("{field}[{i}]");
                    self.string(item, &item_field)
                        .map(|text| (text, item.span(), item_field))
                })
                .collect(),
            other => {
                self.type_error(value, field, "a string or an array of strings", other);
                Vec::new()
            }
        }
    }

    /// One IP address or an array of them.
    pub(crate) fn addresses(&mut self, value: &Value<'_>, field: &str) -> Vec<IpAddr> {
        let items = self.string_list(value, field);
        if items.is_empty() && matches!(value.get_ref(), DeValue::Array(_)) {
            self.error(value.span(), field, "no IP address given", None);
        }
        items
            .into_iter()
            .filter_map(
                |(text, span, item_field)| match text.trim().parse::<IpAddr>() {
                    Ok(ip) => Some(ip),
                    Err(_) => {
                        let hint = if text.contains('/') {
                            "give a single address, without a prefix length"
                        } else {
                            "give an IPv4 or IPv6 address such as 10.10.0.4"
                        };
                        self.error(
                            span,
                            &item_field,
                            format!("\"{text}\" is not an IP address"),
                            Some(hint.into()),
                        );
                        None
                    }
                },
            )
            .collect()
    }

    /// An array of tables (`[[vault]]`); a single table is reported.
    pub(crate) fn table_array<'v, 'd>(
        &mut self,
        value: &'v Value<'d>,
        field: &str,
    ) -> Vec<&'v Value<'d>> {
        match value.get_ref() {
            DeValue::Array(items) => items.iter().collect(),
            other => {
                self.type_error(value, field, "an array of tables (`[[...]]`)", other);
                Vec::new()
            }
        }
    }

    fn type_error(&mut self, value: &Value<'_>, field: &str, expected: &str, found: &DeValue<'_>) {
        self.error(
            value.span(),
            field,
            format!("expected {expected}, found {}", found.type_str()),
            None,
        );
    }
}

/// `prefix.key`, or `key` at the top level.
pub(crate) fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}
