//! `[[view]]`: a name, the client networks it serves, and mapping tables
//! read exactly as the top level's (`[[view.zone]]`, `[[view.vault]]`,
//! `[view.records]`), their diagnostics named under `view[<i>].`.

use std::sync::Arc;

use super::decls::{read_records, read_vaults, read_zones};
use super::fields::{networks, required};
use super::spec::{FieldName, FileSpec, ViewDecl, index_u32};
use super::value::{Reader, Value, join};
use crate::diagnostic::Report;

pub(super) const VIEW_KEYS: &[&str] = &["name", "clients", "zone", "vault", "records"];

pub(super) fn read_views(reader: &mut Reader<'_>, value: &Value<'_>, views: &mut Vec<ViewDecl>) {
    for item in reader.table_array(value, "view") {
        let index = views.len();
        let field = format!("view[{index}]");
        let Some(table) = reader.table(item, &field) else {
            continue;
        };
        reader.reject_unknown_keys(table, &field, VIEW_KEYS);
        let line = reader.line(item.span());
        let name: Arc<str> = required(reader, table, item, &field, "name")
            .and_then(|v| reader.string(v, &join(&field, "name")))
            .map_or_else(|| field.as_str().into(), Into::into);
        let clients_field = join(&field, "clients");
        let clients: Vec<_> = required(reader, table, item, &field, "clients")
            .map(|v| networks(reader, v, &clients_field))
            .unwrap_or_default()
            .into_iter()
            .map(|net| net.trunc())
            .collect();
        if clients.is_empty() && table.contains_key("clients") {
            reader.error(
                item.span(),
                &clients_field,
                format!("view {name} has no client networks, so no client would see it"),
                Some("list the networks of the VNet, e.g. clients = [\"10.20.0.0/16\"]".into()),
            );
        }

        // The tables inside, read as the top level's; their diagnostics
        // move under this view's field.
        let outer = std::mem::replace(&mut reader.report, Report::new(reader.source.file.clone()));
        let mut inner = FileSpec::empty();
        if let Some(zones) = table.get("zone") {
            read_zones(reader, zones, &mut inner.zones);
        }
        if let Some(vaults) = table.get("vault") {
            read_vaults(reader, vaults, &mut inner, 0);
        }
        if let Some(records) = table.get("records")
            && let Some(records) = reader.table(records, "records")
        {
            read_records(reader, records, "", &mut inner.records);
        }
        let read = std::mem::replace(&mut reader.report, outer);
        for mut diagnostic in read.diagnostics {
            diagnostic.field = join(&field, &diagnostic.field);
            reader.report.diagnostics.push(diagnostic);
        }
        for zone in &mut inner.zones {
            zone.field = join(&field, &zone.field);
        }
        for record in &mut inner.records {
            let own = std::mem::replace(&mut record.field, FieldName::Record(None));
            record.field = FieldName::InView {
                view: index_u32(index),
                inner: Box::new(own),
            };
        }
        views.push(ViewDecl {
            name,
            clients,
            line,
            field,
            zones: inner.zones,
            records: inner.records,
        });
    }
}
