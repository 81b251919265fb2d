//! Issue 18, item 9: malformed EDNS options and TSIG records get the same
//! answer over UDP and TCP: FORMERR for an option that does not fit its
//! OPT, a 3-byte option and a client-subnet option with family 9 or prefix
//! 33 (RFC 6891 §7, RFC 7871 §6); NOTAUTH with an unsigned BADKEY TSIG for
//! a query signed with a key the server does not have, FORMERR for a TSIG
//! that is not the last record or not the only one (RFC 8945 §5.2). Knot
//! DNS answers the TSIG cases the same.

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::base_config;
use crate::client;
use crate::harness::TestServer;

const NAME: &str = "kv1.privatelink.vaultcore.azure.net.";

fn name(text: &str) -> Vec<u8> {
    let mut wire = Vec::new();
    for label in text.split('.').filter(|l| !l.is_empty()) {
        wire.push(u8::try_from(label.len()).expect("label"));
        wire.extend_from_slice(label.as_bytes());
    }
    wire.push(0);
    wire
}

fn opt(options: &[u8]) -> Vec<u8> {
    let mut record = vec![0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0];
    record.extend_from_slice(&u16::try_from(options.len()).expect("short").to_be_bytes());
    record.extend_from_slice(options);
    record
}

fn tsig(key: &str) -> Vec<u8> {
    let mut rdata = name("hmac-sha256.");
    rdata.extend_from_slice(&[0, 0, 0x69, 0x30, 0x9A, 0x00, 1, 44, 0, 32]);
    rdata.extend_from_slice(&[0x11; 32]);
    rdata.extend_from_slice(&[0x12, 0x34, 0, 0, 0, 0]);
    let mut record = name(key);
    record.extend_from_slice(&[0, 250, 0, 255, 0, 0, 0, 0]);
    record.extend_from_slice(&u16::try_from(rdata.len()).expect("short").to_be_bytes());
    record.extend_from_slice(&rdata);
    record
}

fn query(additionals: &[Vec<u8>]) -> Vec<u8> {
    let mut wire = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0];
    wire.push(u8::try_from(additionals.len()).expect("few"));
    wire.extend_from_slice(&name(NAME));
    wire.extend_from_slice(&[0, 1, 0, 1]);
    for record in additionals {
        wire.extend_from_slice(record);
    }
    wire
}

/// The cases and the rcode each must get.
fn cases() -> Vec<(&'static str, Vec<u8>, ResponseCode)> {
    let ecs = |family: u16, prefix: u8| {
        let mut option = vec![0, 8, 0, 8];
        option.extend_from_slice(&family.to_be_bytes());
        option.extend_from_slice(&[prefix, 0, 10, 0, 0, 0]);
        option
    };
    vec![
        (
            "option longer than its OPT",
            query(&[opt(&[0, 10, 0, 20, 0, 0, 0, 0])]),
            ResponseCode::FormErr,
        ),
        (
            "a 3-byte option",
            query(&[opt(&[0, 10, 0])]),
            ResponseCode::FormErr,
        ),
        (
            "client subnet family 9",
            query(&[opt(&ecs(9, 24))]),
            ResponseCode::FormErr,
        ),
        (
            "client subnet prefix 33",
            query(&[opt(&ecs(1, 33))]),
            ResponseCode::FormErr,
        ),
        (
            "a valid cookie",
            query(&[opt(&[0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8])]),
            ResponseCode::NoError,
        ),
        (
            "TSIG with an unknown key",
            query(&[tsig("nokey.example.")]),
            ResponseCode::NotAuth,
        ),
        (
            "OPT, then TSIG",
            query(&[opt(&[]), tsig("nokey.example.")]),
            ResponseCode::NotAuth,
        ),
        (
            "TSIG, then OPT",
            query(&[tsig("nokey.example."), opt(&[])]),
            ResponseCode::FormErr,
        ),
        (
            "two TSIGs",
            query(&[tsig("a.example."), tsig("b.example.")]),
            ResponseCode::FormErr,
        ),
    ]
}

/// The rcode, and for NOTAUTH the TSIG error (BADKEY is 17) of the last record.
fn verdict(wire: &[u8]) -> (ResponseCode, Option<u16>) {
    let message = Message::from_vec(wire).expect("decodes");
    let error = (message.metadata.response_code == ResponseCode::NotAuth).then(|| {
        let last = message.additionals.last().expect("a TSIG");
        assert_eq!(last.record_type(), RecordType::TSIG);
        u16::from_be_bytes([wire[wire.len() - 4], wire[wire.len() - 3]])
    });
    (message.metadata.response_code, error)
}

#[test]
fn malformed_edns_and_tsig_get_the_same_answer_over_udp_and_tcp() {
    let server = TestServer::start(&base_config(&[]));
    for (case, wire, rcode) in cases() {
        for tcp in [false, true] {
            let answer = client::raw(server.addr, &wire, tcp);
            assert_eq!(answer[..2], [0x12, 0x34], "{case}: id");
            let (got, error) = verdict(&answer);
            assert_eq!(
                got,
                rcode,
                "{case} over {}",
                if tcp { "TCP" } else { "UDP" }
            );
            if rcode == ResponseCode::NotAuth {
                assert_eq!(error, Some(17), "{case}: BADKEY");
            }
        }
    }
}

#[test]
fn knot_answers_the_tsig_cases_the_same() {
    if !crate::peer::installed("knotd", "knot") {
        return;
    }
    let knot =
        crate::peer::knot_authoritative("privatelink.vaultcore.azure.net.", "kv1 60 A 10.10.0.40");
    for (case, wire, rcode) in cases()
        .into_iter()
        .filter(|(case, ..)| case.contains("TSIG"))
    {
        let (got, _) = verdict(&client::raw(knot.addr, &wire, false));
        assert_eq!(got, rcode, "Knot, {case}");
    }
}

#[test]
fn a_flood_of_bad_signatures_is_answered_but_logged_ten_times_a_minute() {
    let server = TestServer::start(&base_config(&[]));
    let wire = query(&[tsig("flood.key.")]);
    for _ in 0..50 {
        let answer = client::raw(server.addr, &wire, false);
        assert_eq!(verdict(&answer), (ResponseCode::NotAuth, Some(17)));
    }
    server.wait_for_log_count("TSIG check failed", 10, std::time::Duration::from_secs(5));
    // A later line: every earlier one has been written by then.
    server.signal("HUP");
    server.wait_for_log("SIGHUP", std::time::Duration::from_secs(5));
    assert_eq!(server.log_count("TSIG check failed"), 10);
}
