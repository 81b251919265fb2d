use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::{A, CNAME};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::*;

fn query(id: u16, name: &str, rtype: RecordType, dnssec_ok: Option<bool>) -> Vec<u8> {
    let mut message = Message::new(id, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    if let Some(dnssec_ok) = dnssec_ok {
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        edns.set_dnssec_ok(dnssec_ok);
        message.set_edns(edns);
    }
    message.to_vec().unwrap()
}

/// A response to `query` with `answers`, as the general path encodes it.
fn response(query: &[u8], rcode: ResponseCode, answers: Vec<Record>) -> Vec<u8> {
    let mut message = Message::from_vec(query).unwrap();
    message.metadata.message_type = MessageType::Response;
    message.metadata.recursion_available = true;
    message.metadata.response_code = rcode;
    message.answers = answers;
    message.to_vec().unwrap()
}

fn a(name: &str, ip: [u8; 4], ttl: u32) -> Record {
    Record::from_rdata(
        Name::from_ascii(name).unwrap(),
        ttl,
        RData::A(A::from(std::net::Ipv4Addr::from(ip))),
    )
}

fn cname(name: &str, target: &str, ttl: u32) -> Record {
    Record::from_rdata(
        Name::from_ascii(name).unwrap(),
        ttl,
        RData::CNAME(CNAME(Name::from_ascii(target).unwrap())),
    )
}

/// Keeps the response to `asked` (answered from the cache at `since`).
fn keep(memo: &ResponseMemo, asked: &[u8], wire: &[u8], aging: Aging, outcome: Outcome) {
    let mut buffer = [0u8; 255];
    let question = crate::wire::query::parse(asked, &mut buffer).unwrap();
    let rcode = ResponseCode::from_low(wire[3] & 0x0f);
    memo.insert(
        memo.key(&question, 7).unwrap(),
        wire,
        aging,
        outcome,
        rcode,
        7,
    );
}

fn ask(memo: &ResponseMemo, query: &[u8], generation: u64, now: Instant) -> Option<Message> {
    let mut buffer = [0u8; 255];
    let question = crate::wire::query::parse(query, &mut buffer).unwrap();
    let mut out = Vec::new();
    let limit = crate::wire::edns::ClientEdns::plain(question.opt()).udp_limit;
    memo.answer(&question, query, generation, now, limit, &mut out)?;
    Some(Message::from_vec(&out).expect("valid DNS"))
}

#[test]
fn a_kept_response_is_sent_again_aged_with_the_clients_id_and_case() {
    let memo = ResponseMemo::new(1 << 20);
    let t0 = Instant::now();
    let first = query(1, "www.example.com.", RecordType::A, None);
    let wire = response(
        &first,
        ResponseCode::NoError,
        vec![
            a("www.example.com.", [192, 0, 2, 1], 300),
            a("www.example.com.", [192, 0, 2, 2], 60),
        ],
    );
    let aging = Aging {
        answers: 2,
        authorities: 0,
        since: t0,
    };
    keep(&memo, &first, &wire, aging, Outcome::Cached);
    assert_eq!(memo.len(), 1);

    let mut again = query(0x1234, "WWW.Example.COM.", RecordType::A, None);
    again[2] &= !0x01; // RD clear this time
    let later = t0 + Duration::from_millis(10_900);
    let m = ask(&memo, &again, 7, later).expect("kept");
    assert_eq!(m.metadata.id, 0x1234);
    assert!(!m.metadata.recursion_desired);
    assert!(m.metadata.recursion_available);
    assert!(
        m.queries[0]
            .name()
            .eq_case(&Name::from_ascii("WWW.Example.COM.").unwrap())
    );
    let ttls: Vec<u32> = m.answers.iter().map(|r| r.ttl).collect();
    assert_eq!(ttls, [290, 50]);
    // Until the last tenth of the first record's TTL: from there the
    // cache answers, and refreshes it (prefetch).
    assert!(ask(&memo, &again, 7, t0 + Duration::from_secs(53)).is_some());
    assert!(ask(&memo, &again, 7, t0 + Duration::from_secs(54)).is_none());
}

#[test]
fn a_completed_chain_ages_its_cached_links_only() {
    let memo = ResponseMemo::new(1 << 20);
    let t0 = Instant::now();
    let asked = query(1, "acct.blob.core.windows.net.", RecordType::A, Some(false));
    let wire = response(
        &asked,
        ResponseCode::NoError,
        vec![
            cname(
                "acct.blob.core.windows.net.",
                "acct.privatelink.blob.core.windows.net.",
                60,
            ),
            a("acct.privatelink.blob.core.windows.net.", [10, 0, 0, 1], 10),
        ],
    );
    let aging = Aging {
        answers: 1,
        authorities: 0,
        since: t0,
    };
    keep(&memo, &asked, &wire, aging, Outcome::Chained);
    let m = ask(&memo, &asked, 7, t0 + Duration::from_secs(30)).unwrap();
    let ttls: Vec<u32> = m.answers.iter().map(|r| r.ttl).collect();
    assert_eq!(ttls, [30, 10], "the local record keeps its TTL");
    assert!(m.edns.is_some());
    assert!(ask(&memo, &asked, 7, t0 + Duration::from_secs(60)).is_none());
}

#[test]
fn another_generation_type_or_request_shape_is_not_answered() {
    let memo = ResponseMemo::new(1 << 20);
    let t0 = Instant::now();
    let asked = query(1, "www.example.com.", RecordType::A, Some(false));
    let wire = response(
        &asked,
        ResponseCode::NoError,
        vec![a("www.example.com.", [192, 0, 2, 1], 300)],
    );
    let aging = Aging {
        answers: 1,
        authorities: 0,
        since: t0,
    };
    keep(&memo, &asked, &wire, aging, Outcome::Cached);
    assert!(ask(&memo, &asked, 7, t0).is_some());
    assert!(ask(&memo, &asked, 8, t0).is_none(), "after a reload");
    for other in [
        query(1, "www.example.com.", RecordType::AAAA, Some(false)),
        query(1, "www.example.com.", RecordType::A, Some(true)),
        query(1, "www.example.com.", RecordType::A, None),
        query(1, "www2.example.com.", RecordType::A, Some(false)),
    ] {
        assert!(ask(&memo, &other, 7, t0).is_none());
    }
    let mut with_ad = asked.clone();
    with_ad[3] |= 0x20;
    assert!(ask(&memo, &with_ad, 7, t0).is_none());
}

#[test]
fn only_fresh_cached_noerror_and_nxdomain_responses_that_fit_are_kept() {
    let memo = ResponseMemo::new(1 << 20);
    let t0 = Instant::now();
    let asked = query(1, "www.example.com.", RecordType::A, None);
    let one = |ttl| vec![a("www.example.com.", [192, 0, 2, 1], ttl)];
    let aging = Aging {
        answers: 1,
        authorities: 0,
        since: t0,
    };
    for outcome in [Outcome::Forwarded, Outcome::Stale, Outcome::Synthesized] {
        keep(
            &memo,
            &asked,
            &response(&asked, ResponseCode::NoError, one(300)),
            aging,
            outcome,
        );
    }
    keep(
        &memo,
        &asked,
        &response(&asked, ResponseCode::ServFail, one(300)),
        aging,
        Outcome::Cached,
    );
    keep(
        &memo,
        &asked,
        &response(&asked, ResponseCode::NoError, one(0)),
        aging,
        Outcome::Cached,
    );
    let mut trailing = response(&asked, ResponseCode::NoError, one(300));
    trailing.push(0);
    keep(&memo, &asked, &trailing, aging, Outcome::Cached);
    assert!(memo.is_empty());

    // Larger than 512 bytes: kept, but only sent to clients that may receive it.
    let many = (1..=40)
        .map(|i| a("www.example.com.", [192, 0, 2, i], 300))
        .collect();
    keep(
        &memo,
        &asked,
        &response(&asked, ResponseCode::NoError, many),
        Aging {
            answers: 40,
            ..aging
        },
        Outcome::Cached,
    );
    assert!(ask(&memo, &asked, 7, t0).is_none());

    assert!(
        ResponseMemo::new(0)
            .key(
                &crate::wire::query::parse(&asked, &mut [0; 255]).unwrap(),
                7
            )
            .is_none()
    );
}
