//! End-to-end tests: the real `privatelink-dns` binary on loopback, asked
//! over real UDP and TCP sockets, with fake upstreams written here. Nothing
//! leaves the machine: every config names its loopback upstreams (or none).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

/// A blocking DNS client and assertions on answers.
mod client;
/// A loopback upstream that answers, hangs, lies or truncates.
mod fake_upstream;
/// Starting the binary and waiting for its `listening` lines.
mod harness;

/// Azure's resolver limits: the upstream budget, floods, prefetch, upstream trouble in the log.
mod budget;
/// The answer cache: hits, TTLs, negative answers, serve-stale.
mod cache;
/// Catalog zones (RFC 9432): BIND and Knot secondaries configured with the catalog alone.
mod catalog_zone;
/// The Azure zone catalogue (issue 15): imports that keep every name, Site
/// Recovery vaults, public zones refused, twins synthesised offline.
mod catalogue;
/// Public → privatelink CNAME chains completed locally; offline synthesis.
mod chain;
/// `check`, `records`, `serve` exit codes and signals.
mod cli;
/// ISC's EDNS compliance checks at every served apex.
mod compliance;
/// The container files' configurations; port 53 as an unprivileged user.
mod container;
/// The shipped example configuration.
mod example;
/// Forwarding: relay, rules, failover, spoofed answers, TCP retry, offline mode.
mod forward;
/// Hostile inputs (issue 18): mapping paths that are not files or too large.
mod hardening;
/// The runtime image built by buildah, run from its own root as the pod runs it.
mod image;
/// `import` from Azure CLI output and hosts files; `check` golden files.
mod import;
/// BIND, Unbound and Knot DNS as forwarders and secondaries; stub clients; replicas.
mod interop;
/// Incremental transfers (IXFR): our client, dig, BIND and Knot secondaries.
mod ixfr;
/// No import cycles, no file over 500 lines.
mod layout;
/// Malformed packets never crash the server.
mod malformed;
/// Authoritative answers for served zones (design §2, first rows).
mod mapped;
/// The cache and the kept responses within `cache_mb` under a flood.
mod memory;
/// Missing records from traffic, the HTTP API, its allow-list and token.
mod missing;
/// The status page in a browser; alert rules, dashboard and scrape checked.
mod monitoring;
/// Metrics, readiness and the query log.
mod operations;
/// The Debian package: contents, an unpack into an empty root, dpkg -i with its scripts.
mod package;
/// Real DNS software on loopback, configured by the tests.
mod peer;
/// UDP and TCP, EDNS, truncation, header checks, allow-list.
mod protocol;
/// Hot reload: triggers, broken files, the reload storm.
mod reload;
/// Files written in place in pieces, large removals, a FIFO seen by the watcher.
mod reload_safety;
/// Replicas on one file: the declared serial, secondaries listing both.
mod replicas;
/// The allow-list on dual-stack sockets, ANY, rate limiting, TCP and upstream limits.
mod security;
/// Malformed EDNS and TSIG: the same answer over UDP and TCP, as Knot's.
mod signed;
/// systemd's Type=notify: READY=1, watchdog pings, STOPPING=1.
mod systemd;
/// Zone transfers out: the ACL, AXFR/IXFR contents, serials, NOTIFY.
mod transfer;
/// TSIG for transfers and NOTIFY: dig -y, BIND and Knot secondaries with a key.
mod tsig;
/// Views: each client network gets its own view's addresses.
mod views;

use std::net::SocketAddr;

/// A mapping used by most tests: one vault, storage accounts, records, a
/// zone that falls back to forwarding, and the given upstreams.
pub fn base_config(upstreams: &[SocketAddr]) -> String {
    let upstreams = upstreams
        .iter()
        .map(|u| format!("\"{u}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"
[server]
hostname = "ns1.test.internal"

[forward]
upstreams = [{upstreams}]
timeout_ms = 2000

[[zone]]
name = "privatelink.vaultcore.azure.net"
fallback = "forward"

[[vault]]
name = "rsv-test"
id = "1132794570626989392"
geo = "we"
[vault.backup]
fab1 = "10.10.0.4"
rec2 = "10.10.0.5"

[[vault.storage]]
account = "weacct01pod01ecs114"
role = "ecs"
blob = "10.10.0.12"
queue = "10.10.0.13"

[records]
"multi.privatelink.blob.core.windows.net" = ["10.10.0.30", "10.10.0.31"]
"app.deep.privatelink.blob.core.windows.net" = "10.10.0.32"
"kv1.privatelink.vaultcore.azure.net" = "10.10.0.40"
"#
    )
}

pub const FAB1: &str = "1132794570626989392-ab-pod01-fab1.privatelink.we.backup.windowsazure.com.";
