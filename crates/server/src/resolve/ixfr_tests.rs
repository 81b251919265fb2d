use std::net::SocketAddr;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{Name, RecordType};

use super::*;
use crate::resolve::transfer;

const ZONE: &str = "privatelink.blob.core.windows.net.";

fn loaded(records: &str, serial: u32) -> privatelink_mapping::Loaded {
    let text = format!(
        "[server]\nallow_transfer = [\"127.0.0.1\"]\n[forward]\nupstreams = []\n[records]\n{records}"
    );
    let mut loaded = privatelink_mapping::load_str("t.toml", &text).unwrap();
    loaded.mapping.stamp_serials(serial);
    loaded
}

fn blob(name: &str, ip: &str) -> String {
    format!("\"{name}.privatelink.blob.core.windows.net\" = \"{ip}\"\n")
}

/// The snapshot at serial 11 that followed one at serial 10: `b` moved
/// from .2 to .9 and `c` was added.
fn edited() -> Snapshot {
    let before = Snapshot::new(
        loaded(&(blob("a", "10.0.0.1") + &blob("b", "10.0.0.2")), 10),
        1,
    );
    let after = loaded(
        &(blob("a", "10.0.0.1") + &blob("b", "10.0.0.9") + &blob("c", "10.0.0.3")),
        11,
    );
    let mut after = Snapshot::new(after, 2).unwrap();
    let before = before.unwrap();
    let diff = before.mapping.diff(&after.mapping);
    after.record_history(&before, &diff);
    after
}

fn ixfr(held: Option<u32>, protocol: Protocol, payload: Option<u16>) -> Request {
    let mut message = Message::new(7, MessageType::Query, OpCode::Query);
    let apex = Name::from_ascii(ZONE).unwrap();
    message.add_query(Query::query(apex.clone(), RecordType::IXFR));
    if let Some(serial) = held {
        let soa = SOA::new(apex.clone(), apex.clone(), serial, 0, 0, 0, 0);
        message.add_authority(Record::from_rdata(apex, 0, RData::SOA(soa)));
    }
    if let Some(payload) = payload {
        let mut edns = Edns::new();
        edns.set_max_payload(payload);
        message.set_edns(edns);
    }
    let peer = SocketAddr::from(([127, 0, 0, 1], 5353));
    Request::from_bytes(message.to_vec().unwrap(), peer, protocol).unwrap()
}

/// Every record the answer sends, over however many messages.
fn answered(request: &Request, snapshot: &Snapshot) -> (usize, ResponseCode, Vec<Record>) {
    match transfer::respond(request, snapshot, None) {
        Some(Transfer::Single(reply)) => (1, reply.rcode, reply.answers),
        Some(Transfer::Zone(messages)) => {
            let replies: Vec<Reply> = messages.collect();
            let records = replies.iter().flat_map(|r| r.answers.clone()).collect();
            (replies.len(), ResponseCode::NoError, records)
        }
        None => panic!("an IXFR is a transfer"),
    }
}

/// Each record as `TYPE owner-label data ttl`, SOAs by serial.
fn shown(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .map(|record| {
            let label = record
                .name
                .to_ascii()
                .split('.')
                .next()
                .unwrap_or("")
                .to_string();
            let data = match &record.data {
                RData::SOA(soa) => format!("SOA {}", soa.serial),
                RData::A(a) => format!("A {label} {a}"),
                RData::AAAA(a) => format!("AAAA {label} {a}"),
                RData::NS(_) => "NS".to_string(),
                other => format!("{other:?}"),
            };
            format!("{data} ttl={}", record.ttl)
        })
        .collect()
}

const INCREMENTAL: [&str; 7] = [
    "SOA 11 ttl=3600",
    "SOA 10 ttl=3600",
    "A b 10.0.0.2 ttl=10",
    "SOA 11 ttl=3600",
    "A b 10.0.0.9 ttl=10",
    "A c 10.0.0.3 ttl=10",
    "SOA 11 ttl=3600",
];

#[test]
fn a_secondary_one_reload_behind_gets_the_changes_over_tcp_and_udp() {
    let snapshot = edited();
    let (messages, rcode, records) = answered(&ixfr(Some(10), Protocol::Tcp, None), &snapshot);
    assert_eq!((messages, rcode), (1, ResponseCode::NoError));
    assert_eq!(shown(&records), INCREMENTAL);
    let (messages, _, records) = answered(&ixfr(Some(10), Protocol::Udp, None), &snapshot);
    assert_eq!(messages, 1);
    assert_eq!(shown(&records), INCREMENTAL);
}

#[test]
fn changes_too_large_for_udp_give_the_soa_alone_and_tcp_gets_them() {
    // Sixty names, of which the first thirty move: 60 changed records,
    // past 1232 bytes, fewer than the zone's 63.
    let names = |moved: &str| -> String {
        let ip = |i: usize| if i < 30 { moved } else { "10.0.9.9" };
        (0..60).map(|i| blob(&format!("n{i}"), ip(i))).collect()
    };
    let before = Snapshot::new(loaded(&names("10.0.0.1"), 10), 1).unwrap();
    let mut after = Snapshot::new(loaded(&names("10.0.0.2"), 11), 2).unwrap();
    let diff = before.mapping.diff(&after.mapping);
    after.record_history(&before, &diff);
    for payload in [None, Some(1232)] {
        let (_, _, records) = answered(&ixfr(Some(10), Protocol::Udp, payload), &after);
        assert_eq!(shown(&records), ["SOA 11 ttl=3600"], "payload {payload:?}");
    }
    let (_, _, records) = answered(&ixfr(Some(10), Protocol::Tcp, None), &after);
    assert_eq!(records.len(), 4 + 60);
    assert_eq!(
        shown(&records[1..3]),
        ["SOA 10 ttl=3600", "A n0 10.0.0.1 ttl=10"]
    );
}

#[test]
fn a_secondary_up_to_date_or_ahead_gets_the_soa_alone() {
    let snapshot = edited();
    for held in [11, 12] {
        for protocol in [Protocol::Tcp, Protocol::Udp] {
            let (_, rcode, records) = answered(&ixfr(Some(held), protocol, None), &snapshot);
            assert_eq!(rcode, ResponseCode::NoError);
            assert_eq!(shown(&records), ["SOA 11 ttl=3600"], "{held} {protocol:?}");
        }
    }
}

#[test]
fn a_serial_older_than_the_history_gets_the_whole_zone_over_tcp_only() {
    let snapshot = edited();
    let (_, _, records) = answered(&ixfr(Some(5), Protocol::Tcp, None), &snapshot);
    assert_eq!(
        shown(&records),
        [
            "SOA 11 ttl=3600",
            "NS ttl=3600",
            "A a 10.0.0.1 ttl=10",
            "A b 10.0.0.9 ttl=10",
            "A c 10.0.0.3 ttl=10",
            "SOA 11 ttl=3600"
        ]
    );
    let (_, _, records) = answered(&ixfr(Some(5), Protocol::Udp, None), &snapshot);
    assert_eq!(shown(&records), ["SOA 11 ttl=3600"]);
}

#[test]
fn an_ixfr_without_the_clients_soa_is_a_format_error() {
    let snapshot = edited();
    for protocol in [Protocol::Tcp, Protocol::Udp] {
        let (_, rcode, records) = answered(&ixfr(None, protocol, None), &snapshot);
        assert_eq!(rcode, ResponseCode::FormErr);
        assert!(records.is_empty());
    }
}
