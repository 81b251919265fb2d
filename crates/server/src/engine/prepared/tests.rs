//! The prepared answers' own fields; the oracle tests compare them with
//! the reference path.

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};
use privatelink_mapping::load_str;

use super::*;
use crate::wire::query::parse;

/// The fast path's answer, or `None` when it leaves the query.
fn fast(
    mapping: &Mapping,
    table: &PreparedZones,
    query: &[u8],
    out: &mut Vec<u8>,
) -> Option<Outcome> {
    let mut key = [0u8; 255];
    let question = parse(query, &mut key)?;
    let edns = ClientEdns::plain(question.opt());
    match answer(mapping, table, &question, query, &edns, edns.udp_limit, out) {
        Served::Answered(outcome, _) => Some(outcome),
        Served::Forwarded | Served::Declined => None,
    }
}

fn table() -> (Mapping, PreparedZones) {
    let loaded = load_str(
        "t.toml",
        r#"
[[zone]]
name = "privatelink.vaultcore.azure.net"
fallback = "forward"
[records]
"Acct.privatelink.blob.core.windows.net" = ["10.0.0.1", "10.0.0.2"]
"v6.privatelink.blob.core.windows.net" = "fd00::1"
"app.deep.privatelink.blob.core.windows.net" = "10.0.0.3"
"kv.privatelink.vaultcore.azure.net" = "10.0.0.4"
"#,
    )
    .unwrap();
    let table = PreparedZones::new(&loaded.mapping);
    (loaded.mapping, table)
}

fn query(name: &str, rtype: RecordType, edns: Option<(u16, bool)>) -> Vec<u8> {
    let mut message = Message::new(0xBEEF, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    if let Some((payload, dnssec_ok)) = edns {
        let mut opt = Edns::new();
        opt.set_max_payload(payload);
        opt.set_dnssec_ok(dnssec_ok);
        message.set_edns(opt);
    }
    message.to_vec().unwrap()
}

fn ask(name: &str, rtype: RecordType, edns: Option<(u16, bool)>) -> Option<(Outcome, Message)> {
    let mut out = Vec::new();
    let (mapping, table) = table();
    let outcome = fast(&mapping, &table, &query(name, rtype, edns), &mut out)?;
    Some((
        outcome,
        Message::from_vec(&out).expect("the fast path must write valid DNS"),
    ))
}

#[test]
fn mapped_names_get_their_addresses_with_the_question_echoed() {
    let (outcome, m) = ask(
        "ACCT.PrivateLink.blob.core.windows.net.",
        RecordType::A,
        Some((4096, true)),
    )
    .unwrap();
    assert_eq!(outcome, Outcome::Mapped);
    assert_eq!(m.metadata.id, 0xBEEF);
    assert_eq!(m.metadata.message_type, MessageType::Response);
    assert!(
        m.metadata.authoritative && m.metadata.recursion_available && m.metadata.recursion_desired
    );
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(
        m.queries[0]
            .name()
            .eq_case(&Name::from_ascii("ACCT.PrivateLink.blob.core.windows.net.").unwrap())
    );
    assert_eq!(m.answers.len(), 2);
    assert!(
        m.answers
            .iter()
            .all(|r| r.ttl == 10 && r.dns_class == DNSClass::IN)
    );
    assert_eq!(
        m.answers[0].name,
        Name::from_ascii("acct.privatelink.blob.core.windows.net.").unwrap()
    );
    assert!(matches!(m.answers[1].data, RData::A(a) if a.0 == Ipv4Addr::new(10, 0, 0, 2)));
    let edns = m.edns.unwrap();
    assert_eq!(edns.max_payload(), 1232);
    assert!(edns.flags().dnssec_ok);
    let (_, v6) = ask(
        "v6.privatelink.blob.core.windows.net.",
        RecordType::AAAA,
        None,
    )
    .unwrap();
    assert!(matches!(v6.answers[0].data, RData::AAAA(_)));
    assert!(v6.edns.is_none());
}

#[test]
fn nodata_and_nxdomain_carry_the_zone_soa_with_the_negative_ttl() {
    for (name, rtype, outcome, rcode) in [
        // The apex exists without addresses.
        (
            "privatelink.blob.core.windows.net.",
            RecordType::A,
            Outcome::NoData,
            ResponseCode::NoError,
        ),
        (
            "acct.privatelink.blob.core.windows.net.",
            RecordType::AAAA,
            Outcome::NoData,
            ResponseCode::NoError,
        ),
        (
            "acct.privatelink.blob.core.windows.net.",
            RecordType::TXT,
            Outcome::NoData,
            ResponseCode::NoError,
        ),
        (
            "deep.privatelink.blob.core.windows.net.",
            RecordType::A,
            Outcome::NoData,
            ResponseCode::NoError,
        ),
        (
            "nosuch.privatelink.blob.core.windows.net.",
            RecordType::A,
            Outcome::NxDomain,
            ResponseCode::NXDomain,
        ),
        (
            "x.acct.privatelink.blob.core.windows.net.",
            RecordType::A,
            Outcome::NxDomain,
            ResponseCode::NXDomain,
        ),
    ] {
        let (got, m) = ask(name, rtype, Some((1232, false))).unwrap();
        assert_eq!(got, outcome, "{name}");
        assert_eq!(m.metadata.response_code, rcode, "{name}");
        assert!(m.answers.is_empty());
        assert_eq!(m.authorities.len(), 1);
        let soa = &m.authorities[0];
        assert_eq!(
            soa.name,
            Name::from_ascii("privatelink.blob.core.windows.net.").unwrap()
        );
        assert_eq!(soa.ttl, 10);
        let RData::SOA(data) = &soa.data else {
            panic!("not an SOA")
        };
        assert_eq!(data.mname.to_ascii(), "azureprivatedns.net.");
        assert_eq!(
            (
                data.serial,
                data.refresh,
                data.retry,
                data.expire,
                data.minimum
            ),
            (1, 3600, 300, 2_419_200, 10)
        );
    }
}

#[test]
fn anything_unusual_is_left_to_the_general_path() {
    let (mapping, t) = table();
    let mut out = Vec::new();
    let mut declined = |bytes: Vec<u8>| fast(&mapping, &t, &bytes, &mut out).is_none();
    // SOA/NS/ANY, forwarded and fallback names, odd bytes in a label.
    assert!(declined(query(
        "privatelink.blob.core.windows.net.",
        RecordType::SOA,
        None
    )));
    assert!(declined(query(
        "privatelink.blob.core.windows.net.",
        RecordType::NS,
        None
    )));
    let mut odd = query(
        "acct.privatelink.blob.core.windows.net.",
        RecordType::A,
        None,
    );
    odd[13] = b'*';
    assert!(declined(odd));
    assert!(declined(query(
        "acct.privatelink.blob.core.windows.net.",
        RecordType::SOA,
        None
    )));
    assert!(declined(query(
        "acct.privatelink.blob.core.windows.net.",
        RecordType::ANY,
        None
    )));
    for transfer in [RecordType::AXFR, RecordType::IXFR] {
        for name in [
            "privatelink.blob.core.windows.net.",
            "acct.privatelink.blob.core.windows.net.",
        ] {
            assert!(declined(query(name, transfer, None)), "{name} {transfer}");
        }
    }
    assert!(declined(query("www.example.com.", RecordType::A, None)));
    assert!(declined(query(
        "nosuch.privatelink.vaultcore.azure.net.",
        RecordType::A,
        None
    )));
    // EDNS version 1, a response, another opcode, another class, trailing bytes, truncated input.
    let mut v1 = query(
        "acct.privatelink.blob.core.windows.net.",
        RecordType::A,
        Some((1232, false)),
    );
    let version_at = v1.len() - 5;
    v1[version_at] = 1;
    assert!(declined(v1));
    let mut response = query(
        "acct.privatelink.blob.core.windows.net.",
        RecordType::A,
        None,
    );
    response[2] |= 0x80;
    assert!(declined(response));
    let mut notify = query(
        "acct.privatelink.blob.core.windows.net.",
        RecordType::A,
        None,
    );
    notify[2] |= 4 << 3;
    assert!(declined(notify));
    let mut chaos = query(
        "acct.privatelink.blob.core.windows.net.",
        RecordType::A,
        None,
    );
    let class_at = chaos.len() - 1;
    chaos[class_at] = 3;
    assert!(declined(chaos));
    let mut trailing = query(
        "acct.privatelink.blob.core.windows.net.",
        RecordType::A,
        None,
    );
    trailing.push(0);
    assert!(declined(trailing));
    let full = query(
        "acct.privatelink.blob.core.windows.net.",
        RecordType::A,
        None,
    );
    for cut in 0..full.len() {
        assert!(declined(full[..cut].to_vec()), "cut at {cut}");
    }
    // A compression pointer in the question.
    let mut pointer = full.clone();
    pointer[12] = 0xC0;
    assert!(declined(pointer));
}

#[test]
fn responses_that_would_not_fit_are_declined() {
    let records: String = (1..=40).map(|i| format!("\"10.0.1.{i}\",")).collect();
    let loaded = load_str(
        "t.toml",
        &format!("[records]\n\"big.privatelink.blob.core.windows.net\" = [{records}]\n"),
    )
    .unwrap();
    let t = PreparedZones::new(&loaded.mapping);
    let m = &loaded.mapping;
    let big = |edns| {
        query(
            "big.privatelink.blob.core.windows.net.",
            RecordType::A,
            edns,
        )
    };
    let mut out = Vec::new();
    assert!(fast(m, &t, &big(None), &mut out).is_none());
    assert!(fast(m, &t, &big(Some((1232, false))), &mut out).is_some());
}

#[test]
fn forwarded_names_are_told_apart_from_declined_queries() {
    let (mapping, t) = table();
    let served = |name: &str, rtype| {
        let bytes = query(name, rtype, None);
        let mut key = [0u8; 255];
        let question = parse(&bytes, &mut key).unwrap();
        answer(
            &mapping,
            &t,
            &question,
            &bytes,
            &ClientEdns::plain(question.opt()),
            512,
            &mut Vec::new(),
        )
    };
    assert_eq!(served("www.example.com.", RecordType::A), Served::Forwarded);
    assert_eq!(
        served("www.example.com.", RecordType::SOA),
        Served::Forwarded
    );
    assert_eq!(
        served("nosuch.privatelink.vaultcore.azure.net.", RecordType::A),
        Served::Forwarded,
        "a zone that falls back"
    );
    assert_eq!(
        served("privatelink.blob.core.windows.net.", RecordType::SOA),
        Served::Declined
    );
    assert!(matches!(
        served("acct.privatelink.blob.core.windows.net.", RecordType::A),
        Served::Answered(Outcome::Mapped, ResponseCode::NoError)
    ));
}
