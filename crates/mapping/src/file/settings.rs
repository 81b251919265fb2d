//! The settings tables: `[server]`, `[forward]` with its rules,
//! `[zones]` and `[rate_limit]`.

use std::time::Duration;

use super::fields::{domain_name, fallback, networks, required, socket_addrs};
use toml::de::DeTable;

use super::value::{Reader, Value, join};
use crate::settings::{
    CatalogSetting, DeclaredSerial, ForwardRule, ServerSettings, Settings, UpstreamLimits,
};

pub(super) const RATE_LIMIT_KEYS: &[&str] =
    &["responses_per_second", "slip", "ipv4_prefix", "ipv6_prefix"];

pub(super) const SERVER_KEYS: &[&str] = &[
    "listen",
    "allow",
    "hostname",
    "watch",
    "http",
    "http_allow",
    "http_token",
    "http_token_file",
    "query_log",
    "strict_readiness",
    "subnets",
    "tcp_max_connections",
    "tcp_idle_timeout_s",
    "udp_workers",
    "allow_transfer",
    "notify",
    "serial",
    "catalog",
];

pub(super) const FORWARD_KEYS: &[&str] = &[
    "upstreams",
    "timeout_ms",
    "stale_max_s",
    "cache_mb",
    "max_inflight",
    "prefetch",
    "upstream_max_qps",
    "upstream_max_pending",
    "rule",
];

pub(super) const RULE_KEYS: &[&str] = &[
    "suffix",
    "upstreams",
    "upstream_max_qps",
    "upstream_max_pending",
];

pub(super) const ZONES_KEYS: &[&str] = &["ttl", "fallback"];

pub(super) fn read_server(reader: &mut Reader<'_>, value: &Value<'_>, settings: &mut Settings) {
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
    if let Some(value) = table.get("http_allow") {
        server.http_allow = networks(reader, value, "server.http_allow");
    }
    read_http_token(reader, table, server);
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
    if let Some(value) = table.get("serial")
        && let Some(serial) = reader.integer(value, "server.serial", 1..=u64::from(u32::MAX))
    {
        server.serial = Some(DeclaredSerial {
            value: u32::try_from(serial).unwrap_or(u32::MAX),
            line: reader.line(value.span()),
        });
    }
    if let Some(value) = table.get("catalog")
        && let Some(apex) = domain_name(reader, value, "server.catalog")
    {
        let line = reader.line(value.span());
        server.catalog = Some(CatalogSetting { apex, line });
    }
    if let Some(value) = table.get("tcp_idle_timeout_s")
        && let Some(s) = reader.integer(value, "server.tcp_idle_timeout_s", 1..=3600)
    {
        server.tcp_idle_timeout = Duration::from_secs(s);
    }
    if let Some(value) = table.get("allow_transfer") {
        super::tsig::read_transfer_clients(reader, value, server);
        if server
            .transfer_clients
            .iter()
            .any(|client| client.network.prefix_len() == 0)
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
        if !server.notify.is_empty() && !server.transfers_enabled() {
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

pub(super) fn read_rate_limit(reader: &mut Reader<'_>, value: &Value<'_>, settings: &mut Settings) {
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

pub(super) fn read_forward(reader: &mut Reader<'_>, value: &Value<'_>, settings: &mut Settings) {
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
    if let Some(value) = table.get("prefetch")
        && let Some(on) = reader.boolean(value, "forward.prefetch")
    {
        forward.prefetch = on;
    }
    if let Some(value) = table.get("cache_mb")
        && let Some(mb) = reader.integer(value, "forward.cache_mb", 0..=65_536)
    {
        forward.cache_mb = mb;
    }
    forward.limits = read_limits(reader, table, "forward", forward.limits);
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
            let limits = read_limits(reader, rule, &field, forward.limits);
            if let (Some(suffix), Some(upstreams)) = (suffix, upstreams) {
                forward.rules.push(ForwardRule {
                    suffix,
                    upstreams,
                    limits,
                });
            }
        }
    }
}

/// `upstream_max_qps` and `upstream_max_pending` of `table`, else `inherited`.
fn read_limits(
    reader: &mut Reader<'_>,
    table: &toml::de::DeTable<'_>,
    field: &str,
    inherited: UpstreamLimits,
) -> UpstreamLimits {
    let mut limits = inherited;
    if let Some(value) = table.get("upstream_max_qps")
        && let Some(n) = reader.integer(value, &join(field, "upstream_max_qps"), 1..=1_000_000)
    {
        limits.max_qps = u32::try_from(n).unwrap_or(u32::MAX);
    }
    if let Some(value) = table.get("upstream_max_pending")
        && let Some(n) = reader.integer(value, &join(field, "upstream_max_pending"), 1..=100_000)
    {
        limits.max_pending = u32::try_from(n).unwrap_or(u32::MAX);
    }
    limits
}

pub(super) fn read_zone_defaults(
    reader: &mut Reader<'_>,
    value: &Value<'_>,
    settings: &mut Settings,
) {
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

/// Tokens shorter than this are easy to guess: `check` warns.
const HTTP_TOKEN_MIN: usize = 16;

/// `http_token`, or `http_token_file` (a file holding it, so that the
/// secret need not live in the mapping file or its ConfigMap).
fn read_http_token(reader: &mut Reader<'_>, table: &DeTable<'_>, server: &mut ServerSettings) {
    let inline = table.get("http_token").map(|value| {
        let token = reader.string(value, "server.http_token").map(str::to_owned);
        (value, "server.http_token", token)
    });
    let from_file = table.get("http_token_file").map(|value| {
        let token = reader
            .string(value, "server.http_token_file")
            .map(str::to_owned)
            .and_then(|path| match std::fs::read_to_string(&path) {
                Ok(text) => Some(text.trim().to_owned()),
                Err(error) => {
                    reader.error(
                        value.span(),
                        "server.http_token_file",
                        format!("cannot read {path}: {error}"),
                        Some("give the path of a file that holds the token".into()),
                    );
                    None
                }
            });
        (value, "server.http_token_file", token)
    });
    let (value, field, token) = match (inline, from_file) {
        (Some(_), Some((value, field, _))) => {
            reader.error(
                value.span(),
                field,
                "give server.http_token or server.http_token_file, not both",
                None,
            );
            return;
        }
        (Some(found), None) | (None, Some(found)) => found,
        (None, None) => return,
    };
    let Some(token) = token else { return };
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        reader.error(
            value.span(),
            field,
            "the token must be printable ASCII without spaces, and not empty",
            None,
        );
        return;
    }
    if token.len() < HTTP_TOKEN_MIN {
        let line = reader.line(value.span());
        reader.warning(
            line,
            field,
            format!(
                "the token has {} characters; anyone who guesses it reads the mapping",
                token.len()
            ),
            Some(format!(
                "use at least {HTTP_TOKEN_MIN}, e.g. from `openssl rand -hex 16`"
            )),
        );
    }
    server.http_token = Some(token);
}
