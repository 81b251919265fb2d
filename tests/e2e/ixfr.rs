//! Incremental zone transfers (RFC 1995): after an edit, a secondary
//! holding the previous serial gets only the change, from our client, from
//! `dig`, and from real BIND and Knot secondaries.

use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::client::{self, TcpClient, a_records};
use crate::harness::TestServer;
use crate::peer::{self, Peer, installed};

const BLOB: &str = "privatelink.blob.core.windows.net.";
const MOVED: &str = "b.privatelink.blob.core.windows.net.";

fn config(notify_port: Option<u16>) -> String {
    let notify = notify_port.map_or(String::new(), |port| {
        format!("notify = [\"127.0.0.1:{port}\"]")
    });
    format!(
        r#"
[server]
hostname = "ns1.test.internal"
allow_transfer = ["127.0.0.1"]
{notify}

[forward]
upstreams = []

[records]
"a.privatelink.blob.core.windows.net" = "10.0.0.1"
"b.privatelink.blob.core.windows.net" = "10.0.0.2"
"q.privatelink.queue.core.windows.net" = "10.0.0.3"
"#
    )
}

/// An IXFR query for `zone` from a secondary holding `serial`.
pub fn query(zone: &str, serial: u32) -> Message {
    let mut message = client::query_no_edns(zone, RecordType::IXFR);
    let apex = Name::from_ascii(zone).unwrap();
    let soa = SOA::new(apex.clone(), apex.clone(), serial, 0, 0, 0, 0);
    message.add_authority(Record::from_rdata(apex, 0, RData::SOA(soa)));
    message
}

/// Every record of an IXFR over TCP: messages until one ends on the SOA
/// the answer began with (or an error, or the SOA alone).
fn over_tcp(server: std::net::SocketAddr, zone: &str, serial: u32) -> (ResponseCode, Vec<Record>) {
    let query = query(zone, serial);
    let mut connection = TcpClient::connect(server);
    connection.send(&query);
    let mut records: Vec<Record> = Vec::new();
    for _ in 0..1000 {
        let message = connection.receive();
        assert_eq!(message.metadata.id, query.metadata.id);
        if message.metadata.response_code != ResponseCode::NoError {
            return (message.metadata.response_code, Vec::new());
        }
        records.extend(message.answers);
        let first = records.first().map(soa_of);
        let last = records.last().map(soa_of);
        if records.len() == 1 || (records.len() > 2 && first.is_some() && first == last) {
            return (ResponseCode::NoError, records);
        }
    }
    panic!("an IXFR that does not end");
}

fn soa_of(record: &Record) -> Option<u32> {
    match &record.data {
        RData::SOA(soa) => Some(soa.serial),
        _ => None,
    }
}

/// Each record as `TYPE [owner] data TTL`, SOAs by serial.
fn shown(records: &[Record]) -> Vec<String> {
    let show = |record: &Record| match &record.data {
        RData::SOA(soa) => format!("SOA {} {}", soa.serial, record.ttl),
        RData::A(a) => format!("A {} {a} {}", record.name.to_ascii(), record.ttl),
        RData::NS(ns) => format!("NS {ns} {}", record.ttl),
        other => format!("{other:?}"),
    };
    records.iter().map(show).collect()
}

fn serial(server: &TestServer) -> u32 {
    client::soa_serial(&client::udp(
        server.addr,
        &client::query(BLOB, RecordType::SOA),
    ))
}

/// Starts a server, moves `b` to 10.0.0.9; returns it and the serials
/// before and after.
fn edited(notify_port: Option<u16>) -> (TestServer, u32, u32) {
    let text = config(notify_port);
    let server = TestServer::start(&text);
    let before = serial(&server);
    std::fs::write(server.config(), text.replace("10.0.0.2", "10.0.0.9")).unwrap();
    server.signal("HUP");
    server.wait_for_log("serials_changed=1", Duration::from_secs(5));
    let after = serial(&server);
    assert!(after > before);
    (server, before, after)
}

#[test]
fn a_secondary_one_edit_behind_gets_only_the_change() {
    let (server, before, after) = edited(None);
    let incremental = [
        format!("SOA {after} 3600"),
        format!("SOA {before} 3600"),
        format!("A {MOVED} 10.0.0.2 10"),
        format!("SOA {after} 3600"),
        format!("A {MOVED} 10.0.0.9 10"),
        format!("SOA {after} 3600"),
    ];
    let (rcode, records) = over_tcp(server.addr, BLOB, before);
    assert_eq!(rcode, ResponseCode::NoError);
    assert_eq!(shown(&records), incremental);

    let udp = client::udp(server.addr, &query(BLOB, before));
    assert_eq!(udp.metadata.response_code, ResponseCode::NoError);
    assert!(udp.metadata.authoritative);
    assert!(!udp.metadata.truncation);
    assert_eq!(shown(&udp.answers), incremental);

    // Up to date: the SOA alone, over both.
    let (_, records) = over_tcp(server.addr, BLOB, after);
    assert_eq!(shown(&records), [format!("SOA {after} 3600")]);
    let udp = client::udp(server.addr, &query(BLOB, after));
    assert_eq!(shown(&udp.answers), [format!("SOA {after} 3600")]);

    // Older than the history (nothing was served at serial 1): the whole
    // zone over TCP, the SOA alone over UDP.
    let (_, records) = over_tcp(server.addr, BLOB, 1);
    assert_eq!(
        shown(&records),
        [
            format!("SOA {after} 3600"),
            "NS ns1.test.internal. 3600".to_string(),
            "A a.privatelink.blob.core.windows.net. 10.0.0.1 10".to_string(),
            format!("A {MOVED} 10.0.0.9 10"),
            format!("SOA {after} 3600"),
        ]
    );
    let udp = client::udp(server.addr, &query(BLOB, 1));
    assert_eq!(shown(&udp.answers), [format!("SOA {after} 3600")]);

    // Without the client's SOA, as BIND and Knot answer.
    let bare = client::udp(server.addr, &client::query_no_edns(BLOB, RecordType::IXFR));
    assert_eq!(bare.metadata.response_code, ResponseCode::FormErr);
}

#[test]
fn dig_shows_an_incremental_answer() {
    if !installed("dig", "bind9-dnsutils") {
        return;
    }
    let (server, before, after) = edited(None);
    let port = server.addr.port().to_string();
    let ixfr = format!("ixfr={before}");
    let out = peer::run_client(
        "dig",
        &[
            "@127.0.0.1",
            "-p",
            &port,
            BLOB,
            &ixfr,
            "+noall",
            "+answer",
            "+nocmd",
        ],
    );
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let kinds: Vec<(&str, &str)> = rows
        .iter()
        .filter(|row| row.len() >= 5)
        .map(|row| (row[3], if row[3] == "SOA" { row[6] } else { row[4] }))
        .collect();
    let (after, before) = (after.to_string(), before.to_string());
    assert_eq!(
        kinds,
        [
            ("SOA", after.as_str()),
            ("SOA", before.as_str()),
            ("A", "10.0.0.2"),
            ("SOA", after.as_str()),
            ("A", "10.0.0.9"),
            ("SOA", after.as_str()),
        ],
        "{out}"
    );
}

/// A secondary that has the zone is notified of an edit, transfers it
/// incrementally (our log says so, and `ixfr_logged` finds it in the
/// secondary's) and answers the new address.
fn secondary_follows_by_ixfr(
    start: impl FnOnce(u16, std::net::SocketAddr) -> Peer,
    ixfr_logged: &str,
) {
    let port = peer::free_port();
    let text = config(Some(port));
    let server = TestServer::start(&text);
    let secondary = start(port, server.addr);
    secondary.ask_until(MOVED, RecordType::A, Duration::from_secs(20), |m| {
        a_records(m) == ["10.0.0.2"]
    });
    std::fs::write(server.config(), text.replace("10.0.0.2", "10.0.0.9")).unwrap();
    server.signal("HUP");
    let answer = secondary.ask_until(MOVED, RecordType::A, Duration::from_secs(20), |m| {
        a_records(m) == ["10.0.0.9"]
    });
    assert!(answer.metadata.authoritative);
    server.wait_for_log_count("zone transferred", 2, Duration::from_secs(5));
    let transfers: Vec<String> = server
        .log()
        .into_iter()
        .filter(|line| line.contains("zone transferred"))
        .collect();
    // The whole zone first, then SOA, old SOA, the old address, SOA, the
    // new address, SOA.
    assert!(transfers[0].contains("style=\"AXFR\""), "{transfers:?}");
    assert!(transfers[1].contains("style=\"IXFR\""), "{transfers:?}");
    assert!(transfers[1].contains("records=6"), "{transfers:?}");
    let log = secondary.log_text();
    assert!(
        log.contains(ixfr_logged),
        "no incremental transfer in:\n{log}"
    );
}

#[test]
fn a_knot_secondary_takes_an_edit_by_ixfr() {
    if installed("knotd", "knot") {
        secondary_follows_by_ixfr(
            |port, primary| peer::knot_secondary(port, primary, &[BLOB.trim_end_matches('.')]),
            "IXFR, incoming",
        );
    }
}

#[test]
fn a_bind_secondary_takes_an_edit_by_ixfr() {
    if installed("named", "bind9") {
        secondary_follows_by_ixfr(
            |port, primary| peer::bind_secondary(port, primary, &[BLOB.trim_end_matches('.')]),
            // BIND 9.18 does not name the style at level info: the
            // incremental answer is 6 records where the zone is 5.
            "Transfer completed: 1 messages, 6 records",
        );
    }
}
