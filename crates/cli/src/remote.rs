//! `missing` and `status`: read a running server's API and print it for a
//! terminal. The JSON is read loosely (`serde_json::Value`): a newer server
//! with more fields still prints.

use std::fmt::Write as _;
use std::net::SocketAddr;

use serde_json::Value;

use crate::{EXIT_IO, EXIT_OK};

/// Fetches `path` from the server at `http`.
fn fetch(http: SocketAddr, path: &str, token: Option<&str>) -> Result<Value, String> {
    let url = format!("http://{http}{path}");
    let mut request = ureq::get(&url);
    if let Some(token) = token {
        request = request.header("Authorization", &format!("Bearer {token}"));
    }
    let mut response = request.call().map_err(|error| match error {
        ureq::Error::StatusCode(401) => {
            format!("{url}: 401 unauthorized (give the server's server.http_token with --token)")
        }
        ureq::Error::StatusCode(403) => {
            format!("{url}: 403 forbidden (this address is not in the server's server.http_allow)")
        }
        other => format!("{url}: {other}"),
    })?;
    let body = response
        .body_mut()
        .read_to_string()
        .map_err(|error| format!("{url}: {error}"))?;
    serde_json::from_str(&body).map_err(|error| format!("{url}: not JSON: {error}"))
}

fn text<'v>(value: &'v Value, key: &str) -> &'v str {
    value.get(key).and_then(Value::as_str).unwrap_or("-")
}

fn number(value: &Value, key: &str) -> String {
    value
        .get(key)
        .filter(|v| !v.is_null())
        .map_or_else(|| "-".to_owned(), ToString::to_string)
}

/// The missing records as a TOML snippet, ready to paste.
pub(crate) fn missing(http: SocketAddr, token: Option<&str>) -> u8 {
    let entries = match fetch(http, "/api/v1/missing", token) {
        Ok(Value::Array(entries)) => entries,
        Ok(_) => {
            eprintln!("privatelink-dns: {http}: /api/v1/missing is not a list");
            return EXIT_IO;
        }
        Err(error) => {
            eprintln!("privatelink-dns: {error}");
            return EXIT_IO;
        }
    };
    if entries.is_empty() {
        eprintln!(
            "privatelink-dns: no missing records: every name asked for in a served zone is mapped"
        );
        return EXIT_OK;
    }
    let mut out = String::new();
    for entry in &entries {
        let via = entry
            .get("public")
            .and_then(Value::as_str)
            .map(|public| format!(" (asked as {public})"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "# {}{via}: asked {} times; {}",
            text(entry, "name"),
            number(entry, "count"),
            text(entry, "summary")
        );
        let _ = writeln!(out, "# {}", text(entry, "placement"));
        let _ = writeln!(out, "{}", text(entry, "snippet"));
    }
    print!("{out}");
    EXIT_OK
}

/// Rows as aligned columns.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let mut text = String::new();
        for (cell, width) in cells.iter().zip(&widths) {
            let _ = write!(text, "{cell:<width$}  ");
        }
        let _ = writeln!(out, "{}", text.trim_end());
    };
    line(header.to_vec(), &mut out);
    for row in rows {
        line(row.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

fn list<'v>(value: &'v Value, key: &str) -> &'v [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The server's status as terminal tables.
pub(crate) fn status(http: SocketAddr, token: Option<&str>) -> u8 {
    let status = match fetch(http, "/api/v1/status", token) {
        Ok(status) => status,
        Err(error) => {
            eprintln!("privatelink-dns: {error}");
            return EXIT_IO;
        }
    };
    let null = Value::Null;
    let mapping = status.get("mapping").unwrap_or(&null);
    let mut out = String::new();
    let ready = status.get("ready").and_then(Value::as_bool) == Some(true);
    let _ = writeln!(
        out,
        "privatelink-dns {} at {http}: {}",
        text(&status, "version"),
        if ready { "ready" } else { "NOT READY" }
    );
    let _ = writeln!(
        out,
        "mapping: {} generation {}, {} names, sha256 {}",
        text(mapping, "file"),
        number(mapping, "generation"),
        number(mapping, "names"),
        text(mapping, "sha256")
    );
    let _ = writeln!(
        out,
        "missing records: {}\n",
        number(&status, "missing_names")
    );
    let zones: Vec<Vec<String>> = list(mapping, "zones")
        .iter()
        .map(|z| {
            vec![
                text(z, "zone").to_owned(),
                number(z, "names"),
                text(z, "fallback").to_owned(),
            ]
        })
        .collect();
    out.push_str(&table(&["ZONE", "NAMES", "UNMAPPED"], &zones));
    let upstreams: Vec<Vec<String>> = list(&status, "upstreams")
        .iter()
        .map(|u| {
            let budget = u.get("budget").unwrap_or(&null);
            vec![
                text(u, "address").to_owned(),
                text(u, "health").to_owned(),
                number(u, "srtt_ms"),
                number(budget, "pending"),
                number(budget, "shed"),
            ]
        })
        .collect();
    out.push('\n');
    if upstreams.is_empty() {
        out.push_str("upstreams: none (offline)\n");
    } else {
        out.push_str(&table(
            &["UPSTREAM", "HEALTH", "SRTT_MS", "PENDING", "SHED"],
            &upstreams,
        ));
    }
    let cache = status.get("cache").unwrap_or(&null);
    let _ = writeln!(
        out,
        "\ncache: {} entries, {} bytes, {} hits, {} misses",
        number(cache, "entries"),
        number(cache, "bytes"),
        number(cache, "hits"),
        number(cache, "misses")
    );
    let reloads = status.get("reloads").unwrap_or(&null);
    let history: Vec<Vec<String>> = list(reloads, "history")
        .iter()
        .take(5)
        .map(|r| {
            vec![
                number(r, "at"),
                text(r, "trigger").to_owned(),
                text(r, "result").to_owned(),
                number(r, "generation"),
                format!(
                    "+{} -{} ~{}",
                    number(r, "added"),
                    number(r, "removed"),
                    number(r, "changed")
                ),
            ]
        })
        .collect();
    out.push('\n');
    out.push_str(&table(
        &["AT", "TRIGGER", "RESULT", "GENERATION", "CHANGES"],
        &history,
    ));
    print!("{out}");
    EXIT_OK
}
