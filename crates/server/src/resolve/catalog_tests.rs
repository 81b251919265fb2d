use std::net::SocketAddr;

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{Name, RData};

use super::*;
use crate::resolve::transfer;

const CATALOG: &str = "catalog.test.internal.";

fn snapshot() -> Snapshot {
    let text = "[server]\nallow_transfer = [\"127.0.0.1\"]\ncatalog = \"catalog.test.internal\"\n\
        [forward]\nupstreams = []\n[records]\n\
        \"a.privatelink.blob.core.windows.net\" = \"10.0.0.1\"\n\
        \"a.privatelink.vaultcore.azure.net\" = \"10.0.0.2\"\n";
    let mut loaded = privatelink_mapping::load_str("t.toml", text).unwrap();
    loaded.mapping.stamp_serials(42);
    Snapshot::new(loaded, 1).unwrap()
}

fn request(
    name: &str,
    rtype: RecordType,
    from: [u8; 4],
    held: Option<u32>,
    protocol: Protocol,
) -> Request {
    let mut message = Message::new(3, MessageType::Query, OpCode::Query);
    message.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    if let Some(serial) = held {
        let apex = Name::from_ascii(CATALOG).unwrap();
        let soa = SOA::new(apex.clone(), apex.clone(), serial, 0, 0, 0, 0);
        message.add_authority(Record::from_rdata(apex, 0, RData::SOA(soa)));
    }
    let peer = SocketAddr::from((from, 5353));
    Request::from_bytes(message.to_vec().unwrap(), peer, protocol).unwrap()
}

fn ask(snapshot: &Snapshot, name: &str, rtype: RecordType, from: [u8; 4]) -> Reply {
    let request = request(name, rtype, from, None, Protocol::Udp);
    let key = crate::wire::lookup_key(request.queries.queries()[0].name());
    answer(&request, snapshot, &key, rtype, None).expect("a catalog name")
}

fn shown(records: &[Record]) -> Vec<String> {
    records.iter().map(|r| r.to_string()).collect()
}

#[test]
fn the_catalog_lists_every_zone_with_version_2_and_an_invalid_ns() {
    let snapshot = snapshot();
    let request = request(
        CATALOG,
        RecordType::AXFR,
        [127, 0, 0, 1],
        None,
        Protocol::Tcp,
    );
    let Some(Transfer::Zone(messages)) = transfer::respond(&request, &snapshot, None) else {
        panic!("a catalog transfer");
    };
    let records: Vec<Record> = messages.flat_map(|reply| reply.answers).collect();
    let shown = shown(&records);
    let blob = privatelink_mapping::catalog::member_id(
        &privatelink_mapping::DomainName::parse("privatelink.blob.core.windows.net").unwrap(),
    );
    assert_eq!(shown.len(), 6, "{shown:#?}");
    assert!(shown[0].starts_with("catalog.test.internal. 3600 IN SOA azureprivatedns.net."));
    assert!(shown[0].contains(" 42 "), "{}", shown[0]);
    assert_eq!(shown[1], "catalog.test.internal. 3600 IN NS invalid.");
    assert_eq!(shown[2], "version.catalog.test.internal. 3600 IN TXT 2");
    assert_eq!(
        shown[3],
        format!(
            "{blob}.zones.catalog.test.internal. 3600 IN PTR privatelink.blob.core.windows.net."
        )
    );
    assert!(shown[4].ends_with("IN PTR privatelink.vaultcore.azure.net."));
    assert_eq!(shown[5], shown[0]);
}

#[test]
fn queries_for_catalog_names_are_answered_to_secondaries_only() {
    let snapshot = snapshot();
    let soa = ask(&snapshot, CATALOG, RecordType::SOA, [127, 0, 0, 1]);
    assert_eq!((soa.rcode, soa.answers.len()), (ResponseCode::NoError, 1));
    assert!(soa.authoritative);
    let version = ask(
        &snapshot,
        "VERSION.catalog.test.internal.",
        RecordType::TXT,
        [127, 0, 0, 1],
    );
    assert_eq!(
        shown(&version.answers),
        ["VERSION.catalog.test.internal. 3600 IN TXT 2"]
    );
    // `zones` has no records but names below it: NODATA.
    let zones = ask(
        &snapshot,
        "zones.catalog.test.internal.",
        RecordType::A,
        [127, 0, 0, 1],
    );
    assert_eq!(
        (zones.rcode, zones.answers.len(), zones.authorities.len()),
        (ResponseCode::NoError, 0, 1)
    );
    let missing = ask(
        &snapshot,
        "nothing.catalog.test.internal.",
        RecordType::A,
        [127, 0, 0, 1],
    );
    assert_eq!(
        (missing.rcode, missing.authorities.len()),
        (ResponseCode::NXDomain, 1)
    );
    let stranger = ask(&snapshot, CATALOG, RecordType::SOA, [10, 9, 9, 9]);
    assert_eq!(stranger.rcode, ResponseCode::Refused);
    // Not a catalog name: left to the mapping.
    let other = request(
        "a.privatelink.blob.core.windows.net.",
        RecordType::A,
        [127, 0, 0, 1],
        None,
        Protocol::Udp,
    );
    assert!(
        answer(
            &other,
            &snapshot,
            "a.privatelink.blob.core.windows.net",
            RecordType::A,
            None
        )
        .is_none()
    );
    assert!(!in_catalog(
        "xcatalog.test.internal",
        snapshot.mapping.catalog().unwrap()
    ));
}

#[test]
fn an_ixfr_of_the_catalog_gets_the_soa_when_current_and_the_whole_catalog_when_not() {
    let snapshot = snapshot();
    let current = request(
        CATALOG,
        RecordType::IXFR,
        [127, 0, 0, 1],
        Some(42),
        Protocol::Tcp,
    );
    let Some(Transfer::Single(reply)) = transfer::respond(&current, &snapshot, None) else {
        panic!("the SOA alone");
    };
    assert_eq!(reply.answers.len(), 1);
    let older = request(
        CATALOG,
        RecordType::IXFR,
        [127, 0, 0, 1],
        Some(41),
        Protocol::Tcp,
    );
    let Some(Transfer::Zone(messages)) = transfer::respond(&older, &snapshot, None) else {
        panic!("the whole catalog");
    };
    assert_eq!(messages.summary.style, "AXFR for IXFR");
    assert_eq!(messages.count(), 1);
    let over_udp = request(
        CATALOG,
        RecordType::IXFR,
        [127, 0, 0, 1],
        Some(41),
        Protocol::Udp,
    );
    let Some(Transfer::Single(reply)) = transfer::respond(&over_udp, &snapshot, None) else {
        panic!("the SOA alone over UDP");
    };
    assert_eq!(reply.answers.len(), 1);
    let stranger = request(
        CATALOG,
        RecordType::AXFR,
        [10, 9, 9, 9],
        None,
        Protocol::Tcp,
    );
    let Some(Transfer::Single(reply)) = transfer::respond(&stranger, &snapshot, None) else {
        panic!("refused");
    };
    assert_eq!(reply.rcode, ResponseCode::Refused);
}
