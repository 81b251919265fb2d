//! The protocol around the answers: EDNS, truncation and TCP, header and
//! question checks, the client allow-list.

use hickory_proto::op::{Edns, Message, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RecordType};

use crate::client::{self, a_records, assert_authoritative};
use crate::fake_upstream::{FakeUpstream, Table};
use crate::harness::TestServer;
use crate::{FAB1, base_config};

/// `base_config` plus names with many addresses: `big` (100) and `medium` (40).
fn config_with_big_names(upstream: &FakeUpstream) -> String {
    let ips = |n: usize| {
        (0..n)
            .map(|i| format!("\"10.0.{}.{}\"", i / 250, i % 250 + 1))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "{}\"big.privatelink.blob.core.windows.net\" = [{}]\n\"medium.privatelink.blob.core.windows.net\" = [{}]\n",
        base_config(&[upstream.addr]),
        ips(100),
        ips(40)
    )
}

fn with_payload(mut message: Message, payload: u16) -> Message {
    let mut edns = Edns::new();
    edns.set_max_payload(payload);
    message.set_edns(edns);
    message
}

#[test]
fn answers_too_large_for_udp_are_truncated_and_complete_over_tcp() {
    let upstream = FakeUpstream::answering(Table::new());
    let server = TestServer::start(&config_with_big_names(&upstream));
    let query = client::query("big.privatelink.blob.core.windows.net.", RecordType::A);

    let (size, udp) = client::udp_sized(server.addr, &query);
    assert!(udp.metadata.truncation, "TC must be set: {udp}");
    assert!(udp.metadata.authoritative);
    assert!(udp.answers.is_empty(), "no partial RRset over UDP");
    assert!(udp.edns.is_some(), "OPT kept in a truncated answer");
    assert!(size <= 1232);

    let tcp = client::tcp(server.addr, &query);
    assert_authoritative(&tcp, ResponseCode::NoError);
    assert_eq!(tcp.answers.len(), 100);
}

#[test]
fn the_clients_udp_size_decides_truncation() {
    let upstream = FakeUpstream::answering(Table::new());
    let server = TestServer::start(&config_with_big_names(&upstream));
    let name = "medium.privatelink.blob.core.windows.net.";

    // No EDNS: 512 bytes at most.
    let (size, plain) = client::udp_sized(server.addr, &client::query_no_edns(name, RecordType::A));
    assert!(plain.metadata.truncation, "{plain}");
    assert!(
        plain.edns.is_none(),
        "no OPT back to a client that sent none"
    );
    assert!(size <= 512);

    // EDNS with 1232: it fits.
    let (size, fits) = client::udp_sized(server.addr, &client::query(name, RecordType::A));
    assert!(!fits.metadata.truncation);
    assert_eq!(fits.answers.len(), 40);
    assert!(size > 512 && size <= 1232, "size {size}");

    // EDNS with 600: too small again.
    let small = client::udp(
        server.addr,
        &with_payload(client::query_no_edns(name, RecordType::A), 600),
    );
    assert!(small.metadata.truncation);
    // EDNS with 4096: we still send at most 1232, which is enough here.
    let large = client::udp(
        server.addr,
        &with_payload(client::query_no_edns(name, RecordType::A), 4096),
    );
    assert!(!large.metadata.truncation);
    assert_eq!(large.edns.as_ref().map(Edns::max_payload), Some(1232));
}

#[test]
fn unknown_edns_versions_get_badvers() {
    let upstream = FakeUpstream::answering(Table::new());
    let server = TestServer::start(&base_config(&[upstream.addr]));
    let mut query = client::query(FAB1, RecordType::A);
    let mut edns = Edns::new();
    edns.set_version(1);
    edns.set_max_payload(1232);
    query.set_edns(edns);
    let response = client::udp(server.addr, &query);
    // Extended rcode 16: BADVERS (hickory decodes the shared value as BADSIG).
    assert_eq!(u16::from(response.metadata.response_code), 16, "{response}");
    assert!(response.answers.is_empty());
    assert_eq!(response.edns.as_ref().map(Edns::version), Some(0));
}

#[test]
fn the_do_bit_is_copied_into_the_response() {
    let upstream = FakeUpstream::answering(Table::new());
    let server = TestServer::start(&base_config(&[upstream.addr]));
    let mut query = client::query(FAB1, RecordType::A);
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    edns.set_dnssec_ok(true);
    query.set_edns(edns);
    let response = client::udp(server.addr, &query);
    assert!(response.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok));
    let plain = client::udp(server.addr, &client::query(FAB1, RecordType::A));
    assert!(plain.edns.as_ref().is_some_and(|e| !e.flags().dnssec_ok));
}

#[test]
fn header_and_question_checks() {
    let upstream = FakeUpstream::answering(Table::new());
    let server = TestServer::start(&base_config(&[upstream.addr]));

    for opcode in [OpCode::Notify, OpCode::Update, OpCode::Status] {
        let mut query = client::query(FAB1, RecordType::A);
        query.metadata.op_code = opcode;
        let response = client::udp(server.addr, &query);
        assert_eq!(
            response.metadata.response_code,
            ResponseCode::NotImp,
            "{opcode:?}"
        );
    }

    let mut two = client::query(FAB1, RecordType::A);
    two.add_query(Query::query(
        Name::from_ascii("other.example.").unwrap(),
        RecordType::A,
    ));
    assert_eq!(
        client::udp(server.addr, &two).metadata.response_code,
        ResponseCode::FormErr
    );

    let mut none = client::query(FAB1, RecordType::A);
    none.queries.clear();
    assert_eq!(
        client::udp(server.addr, &none).metadata.response_code,
        ResponseCode::FormErr
    );

    let mut chaos = client::query("version.bind.", RecordType::TXT);
    chaos.queries[0].set_query_class(DNSClass::CH);
    assert_eq!(
        client::udp(server.addr, &chaos).metadata.response_code,
        ResponseCode::Refused
    );

    let axfr = client::tcp(
        server.addr,
        &client::query("privatelink.blob.core.windows.net.", RecordType::AXFR),
    );
    assert_eq!(axfr.metadata.response_code, ResponseCode::Refused);
    assert_eq!(upstream.queries(), 0, "none of these is forwarded");
}

#[test]
fn pipelined_tcp_queries_are_all_answered() {
    let upstream =
        FakeUpstream::answering(Table::new().a("login.microsoftonline.com.", "20.190.128.10", 300));
    let server = TestServer::start(&base_config(&[upstream.addr]));
    let queries = vec![
        client::query(FAB1, RecordType::A),
        client::query(
            "1132794570626989392-ab-pod01-rec2.privatelink.we.backup.windowsazure.com.",
            RecordType::A,
        ),
        client::query("nosuch.privatelink.blob.core.windows.net.", RecordType::A),
        client::query("login.microsoftonline.com.", RecordType::A),
        client::query(FAB1, RecordType::AAAA),
    ];
    let mut answers = client::tcp_many(server.addr, &queries);
    answers.sort_by_key(|m| m.metadata.id);
    let ids: Vec<u16> = queries.iter().map(|q| q.metadata.id).collect();
    assert_eq!(
        answers.iter().map(|m| m.metadata.id).collect::<Vec<_>>(),
        ids
    );
    assert_eq!(a_records(&answers[0]), ["10.10.0.4"]);
    assert_eq!(a_records(&answers[1]), ["10.10.0.5"]);
    assert_eq!(answers[2].metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(a_records(&answers[3]), ["20.190.128.10"]);
    assert!(answers[4].answers.is_empty());
}

#[test]
fn clients_outside_the_allow_list_are_refused_and_nothing_is_forwarded() {
    let upstream =
        FakeUpstream::answering(Table::new().a("login.microsoftonline.com.", "20.190.128.10", 300));
    let config =
        base_config(&[upstream.addr]).replace("[server]", "[server]\nallow = [\"10.0.0.0/8\"]");
    let server = TestServer::start(&config);
    for name in [FAB1, "login.microsoftonline.com."] {
        let query = client::query(name, RecordType::A);
        for response in [
            client::udp(server.addr, &query),
            client::tcp(server.addr, &query),
        ] {
            assert_eq!(response.metadata.response_code, ResponseCode::Refused);
            assert!(response.answers.is_empty());
            assert!(!response.metadata.authoritative);
            assert!(
                !response.metadata.recursion_available,
                "no recursion offered to strangers"
            );
        }
    }
    assert_eq!(upstream.queries(), 0);
}

/// The answers the UDP and TCP paths once disagreed on (issue 11): a QTYPE
/// OPT question, the case of the SOA owner in negative answers, and the
/// meta-types, asked of the real server over both transports. The query
/// log is on, which once sent UDP queries down the other path too.
#[test]
fn udp_and_tcp_give_the_same_answers_where_they_once_differed() {
    let config = base_config(&[]).replace(
        "hostname = \"ns1.test.internal\"\n",
        "hostname = \"ns1.test.internal\"\nquery_log = true\n\n[rate_limit]\nresponses_per_second = 100000\n",
    );
    let server = TestServer::start(&config);
    let ask_both = |message: &Message| {
        let udp = client::udp(server.addr, message);
        let tcp = client::tcp(server.addr, message);
        assert_eq!(udp.metadata, tcp.metadata, "{message}");
        assert_eq!(udp.answers, tcp.answers);
        assert_eq!(udp.authorities, tcp.authorities);
        udp
    };
    let opt = ask_both(&client::query(FAB1, RecordType::OPT));
    assert_eq!(opt.metadata.response_code, ResponseCode::FormErr);

    let asked = "NoSuch.PrivateLink.Blob.Core.Windows.Net.";
    for message in [
        client::query(asked, RecordType::A),
        client::query_no_edns(asked, RecordType::A),
    ] {
        let negative = ask_both(&message);
        assert_eq!(negative.metadata.response_code, ResponseCode::NXDomain);
        let owner = &negative.authorities[0].name;
        assert!(
            owner.eq_case(&Name::from_ascii("PrivateLink.Blob.Core.Windows.Net.").unwrap()),
            "the SOA owner keeps the question's case: {owner}"
        );
    }
    for meta in [128u16, 249, 250, 253, 254] {
        let refused = ask_both(&client::query(FAB1, RecordType::from(meta)));
        assert_eq!(
            refused.metadata.response_code,
            ResponseCode::Refused,
            "{meta}"
        );
        let forwarded = ask_both(&client::query("www.example.com.", RecordType::from(meta)));
        assert_eq!(
            forwarded.metadata.response_code,
            ResponseCode::Refused,
            "{meta}"
        );
    }
}
