//! `[[tsig_key]]` tables and the `allow_transfer` entries that name a key.

use base64::Engine;
use toml::de::DeValue;

use super::fields::{domain_name, network, required};
use super::value::{Reader, Value, join};
use crate::settings::ServerSettings;
use crate::tsig::{TransferClient, TsigAlgorithm, TsigKey, secret_in_key_file};

const KEY_KEYS: &[&str] = &["name", "algorithm", "secret", "secret_file"];
const CLIENT_KEYS: &[&str] = &["network", "key"];

pub(super) fn read_keys(reader: &mut Reader<'_>, value: &Value<'_>, keys: &mut Vec<TsigKey>) {
    for item in reader.table_array(value, "tsig_key") {
        let field = format!("tsig_key[{}]", keys.len());
        let Some(table) = reader.table(item, &field) else {
            continue;
        };
        reader.reject_unknown_keys(table, &field, KEY_KEYS);
        let line = reader.line(item.span());
        let name = required(reader, table, item, &field, "name")
            .and_then(|v| domain_name(reader, v, &join(&field, "name")));
        let algorithm = match table.get("algorithm") {
            None => Some(TsigAlgorithm::HmacSha256),
            Some(v) => {
                let algorithm_field = join(&field, "algorithm");
                let text = reader.string(v, &algorithm_field).unwrap_or_default();
                let parsed = TsigAlgorithm::parse(text);
                if parsed.is_none() {
                    let known: Vec<&str> = TsigAlgorithm::ALL.iter().map(|a| a.name()).collect();
                    reader.error(
                        v.span(),
                        &algorithm_field,
                        format!("unknown TSIG algorithm \"{text}\""),
                        Some(format!("use one of {}", known.join(", "))),
                    );
                }
                parsed
            }
        };
        let secret = read_secret(reader, table, item, &field);
        if let (Some(name), Some(algorithm), Some(secret)) = (name, algorithm, secret) {
            keys.push(TsigKey {
                name,
                algorithm,
                secret,
                line,
            });
        }
    }
}

/// `secret` (base64) or `secret_file` (a key file), exactly one of them.
fn read_secret(
    reader: &mut Reader<'_>,
    table: &toml::de::DeTable<'_>,
    item: &Value<'_>,
    field: &str,
) -> Option<Vec<u8>> {
    let (value, key, text) = match (table.get("secret"), table.get("secret_file")) {
        (Some(_), Some(file)) => {
            reader.error(
                file.span(),
                &join(field, "secret_file"),
                "give secret or secret_file, not both",
                None,
            );
            return None;
        }
        (Some(value), None) => (
            value,
            "secret",
            reader.string(value, &join(field, "secret"))?.to_owned(),
        ),
        (None, Some(value)) => {
            let path = reader
                .string(value, &join(field, "secret_file"))?
                .to_owned();
            match std::fs::read_to_string(&path) {
                Ok(text) => (value, "secret_file", secret_in_key_file(&text).to_owned()),
                Err(error) => {
                    reader.error(
                        value.span(),
                        &join(field, "secret_file"),
                        format!("cannot read {path}: {error}"),
                        Some(
                            "give the path of a key file (tsig-keygen or keymgr -t output)".into(),
                        ),
                    );
                    return None;
                }
            }
        }
        (None, None) => {
            reader.error(
                item.span(),
                field,
                "a TSIG key needs secret or secret_file",
                Some("generate one with `tsig-keygen -a hmac-sha256 NAME` (BIND) or `keymgr -t NAME` (Knot)".into()),
            );
            return None;
        }
    };
    match base64::engine::general_purpose::STANDARD.decode(text.trim()) {
        Ok(secret) if !secret.is_empty() => Some(secret),
        _ => {
            // The secret itself is never repeated in the message.
            reader.error(
                value.span(),
                &join(field, key),
                "the secret is not base64",
                Some("copy the secret as tsig-keygen or keymgr prints it".into()),
            );
            None
        }
    }
}

/// `allow_transfer`: networks as strings, or `{ network, key }` tables for
/// those that must sign with a key.
pub(super) fn read_transfer_clients(
    reader: &mut Reader<'_>,
    value: &Value<'_>,
    server: &mut ServerSettings,
) {
    let field = "server.allow_transfer";
    let items: Vec<&Value<'_>> = match value.get_ref() {
        DeValue::Array(items) => items.iter().collect(),
        _ => vec![value],
    };
    for (index, item) in items.into_iter().enumerate() {
        let item_field = format!("{field}[{index}]");
        let line = reader.line(item.span());
        let (network, key) = match item.get_ref() {
            DeValue::Table(table) => {
                reader.reject_unknown_keys(table, &item_field, CLIENT_KEYS);
                let network = required(reader, table, item, &item_field, "network")
                    .and_then(|v| network(reader, v, &join(&item_field, "network")));
                let key = required(reader, table, item, &item_field, "key")
                    .and_then(|v| domain_name(reader, v, &join(&item_field, "key")));
                (network, key)
            }
            _ => (network(reader, item, &item_field), None),
        };
        if let Some(network) = network {
            server
                .transfer_clients
                .push(TransferClient { network, key, line });
        }
    }
}
