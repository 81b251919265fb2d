//! Catalog zones (RFC 9432): BIND and Knot secondaries configured with the
//! catalog and the primary's address alone serve every privatelink zone,
//! pick up a zone added by a reload and drop a removed one.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};

use crate::client::{self, a_records};
use crate::harness::TestServer;
use crate::peer::{self, Peer, installed};

const CATALOG: &str = "catalog.privatelink-dns.internal";
const BLOB: &str = "a.privatelink.blob.core.windows.net.";
const QUEUE: &str = "q.privatelink.queue.core.windows.net.";
const VAULT: &str = "kv1.privatelink.vaultcore.azure.net.";

fn config(notify_port: u16, records: &str) -> String {
    format!(
        r#"
[server]
hostname = "ns1.test.internal"
allow_transfer = ["127.0.0.1"]
notify = ["127.0.0.1:{notify_port}"]
catalog = "{CATALOG}"

[forward]
upstreams = []

[records]
{records}
"#
    )
}

const FIRST: &str = r#""a.privatelink.blob.core.windows.net" = "10.0.0.1"
"q.privatelink.queue.core.windows.net" = "10.0.0.2""#;
/// The queue zone gone, a Key Vault zone new.
const SECOND: &str = r#""a.privatelink.blob.core.windows.net" = "10.0.0.1"
"kv1.privatelink.vaultcore.azure.net" = "10.0.0.3""#;

/// BIND 9.18 with `catalog-zones` and one secondary zone, the catalog.
fn bind_consumer(port: u16, primary: SocketAddr) -> Peer {
    let primary = format!("{} port {}", primary.ip(), primary.port());
    let options = format!(
        "allow-notify {{ 127.0.0.0/8; }};\n    catalog-zones {{\n        zone \"{CATALOG}\" default-primaries {{ {primary}; }} in-memory yes min-update-interval 1;\n    }};"
    );
    let zone = format!(
        "zone \"{CATALOG}\" {{ type secondary; file \"catalog.db\"; primaries {{ {primary}; }}; }};\n"
    );
    peer::named(port, CATALOG, &options, &zone)
}

/// Knot DNS with the catalog zone interpreted into member zones.
fn knot_consumer(port: u16, primary: SocketAddr) -> Peer {
    peer::knot(port, CATALOG, |dir| {
        format!(
            r#"remote:
  - id: primary
    address: {ip}@{primary_port}
acl:
  - id: notify_from_primary
    address: {ip}
    action: notify
{templates}  - id: member
    storage: {dir}
    master: primary
    acl: notify_from_primary
    zonefile-sync: -1
    journal-content: none
zone:
  - domain: {CATALOG}
    master: primary
    acl: notify_from_primary
    catalog-role: interpret
    catalog-template: member
"#,
            ip = primary.ip(),
            primary_port = primary.port(),
            templates = peer::knot_default_template(dir),
        )
    })
}

fn serves(address: &'static str) -> impl Fn(&Message) -> bool {
    move |m: &Message| m.metadata.authoritative && a_records(m) == [address]
}

/// The secondary serves every zone of the catalog, then after a reload the
/// new zone and no longer the removed one.
fn consumer_follows_the_catalog(start: impl FnOnce(u16, SocketAddr) -> Peer) {
    let port = peer::free_port();
    let text = config(port, FIRST);
    let server = TestServer::start(&text);
    let secondary = start(port, server.addr);
    let wait = Duration::from_secs(30);
    secondary.ask_until(BLOB, RecordType::A, wait, serves("10.0.0.1"));
    secondary.ask_until(QUEUE, RecordType::A, wait, serves("10.0.0.2"));

    std::fs::write(server.config(), config(port, SECOND)).unwrap();
    server.signal("HUP");
    server.wait_for_log("serials_changed=", Duration::from_secs(5));
    secondary.ask_until(VAULT, RecordType::A, wait, serves("10.0.0.3"));
    let gone = secondary.ask_until(QUEUE, RecordType::A, wait, |m| !m.metadata.authoritative);
    assert!(
        matches!(
            gone.metadata.response_code,
            ResponseCode::Refused | ResponseCode::ServFail
        ),
        "{gone}"
    );
    secondary.ask_until(BLOB, RecordType::A, wait, serves("10.0.0.1"));
    // The secondary heard of the catalog's change by NOTIFY (the one at
    // start-up went out before it listened).
    let notified = server.log_count(&format!("zone={CATALOG}. secondary=127.0.0.1:{port}"));
    assert!(notified >= 1, "{:?}", server.log());
}

#[test]
fn a_bind_secondary_with_only_the_catalog_serves_every_zone_and_follows_reloads() {
    if installed("named", "bind9") {
        consumer_follows_the_catalog(bind_consumer);
    }
}

#[test]
fn a_knot_secondary_with_only_the_catalog_serves_every_zone_and_follows_reloads() {
    if installed("knotd", "knot") {
        consumer_follows_the_catalog(knot_consumer);
    }
}

#[test]
fn the_catalog_is_transferable_and_its_serial_follows_membership() {
    let text = config(peer::free_port(), FIRST);
    let server = TestServer::start(&text);
    let catalog = format!("{CATALOG}.");
    let serial = |server: &TestServer| {
        client::soa_serial(&client::udp(
            server.addr,
            &client::query(&catalog, RecordType::SOA),
        ))
    };
    let messages = crate::transfer::axfr(server.addr, &catalog, RecordType::AXFR);
    let records: Vec<_> = messages.iter().flat_map(|m| m.answers.clone()).collect();
    let members: Vec<String> = records
        .iter()
        .filter_map(|r| match &r.data {
            RData::PTR(ptr) => Some(ptr.0.to_ascii()),
            _ => None,
        })
        .collect();
    assert_eq!(
        members,
        [
            "privatelink.blob.core.windows.net.",
            "privatelink.queue.core.windows.net."
        ]
    );
    let version = client::udp(
        server.addr,
        &client::query(&format!("version.{catalog}"), RecordType::TXT),
    );
    assert_eq!(version.answers.len(), 1, "{version}");
    assert!(version.metadata.authoritative);
    let before = serial(&server);

    // An address change keeps the members, and the catalog's serial.
    let moved = FIRST.replace("10.0.0.2", "10.0.0.9");
    std::fs::write(server.config(), text.replace(FIRST, &moved)).unwrap();
    server.signal("HUP");
    server.wait_for_log("serials_changed=1", Duration::from_secs(5));
    assert_eq!(serial(&server), before);
    // A new zone changes both.
    std::fs::write(server.config(), text.replace(FIRST, SECOND)).unwrap();
    server.signal("HUP");
    server.wait_for_log_count("mapping reloaded", 2, Duration::from_secs(5));
    assert!(serial(&server) > before);
}

#[test]
fn a_secondary_in_a_view_gets_that_views_catalog() {
    let text = config(peer::free_port(), FIRST).replace(
        "allow_transfer = [\"127.0.0.1\"]",
        "allow_transfer = [\"127.0.0.0/8\"]",
    ) + "\n[[view]]\nname = \"spoke\"\nclients = [\"127.0.0.2/32\"]\n[view.records]\n\"kv1.privatelink.vaultcore.azure.net\" = \"10.9.0.3\"\n";
    let server = TestServer::start(&text);
    let members = |source: &str| -> Vec<String> {
        let mut connection = crate::client::TcpClient::connect_from(source, server.addr);
        let answer = connection.ask(&client::query_no_edns(
            &format!("{CATALOG}."),
            RecordType::AXFR,
        ));
        assert_eq!(
            answer.metadata.response_code,
            ResponseCode::NoError,
            "{answer}"
        );
        answer
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::PTR(ptr) => Some(ptr.0.to_ascii()),
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        members("127.0.0.1"),
        [
            "privatelink.blob.core.windows.net.",
            "privatelink.queue.core.windows.net."
        ]
    );
    assert_eq!(
        members("127.0.0.2"),
        [
            "privatelink.blob.core.windows.net.",
            "privatelink.queue.core.windows.net.",
            "privatelink.vaultcore.azure.net."
        ]
    );
}
