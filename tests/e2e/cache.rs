//! The answer cache: hits, TTL decrement, negative caching, serve-stale.

use std::thread;
use std::time::Duration;

use hickory_proto::op::{Edns, ResponseCode};
use hickory_proto::rr::{RData, RecordType};

use crate::base_config;
use crate::client::{self, a_records};
use crate::fake_upstream::{Behaviour, FakeUpstream, Table};
use crate::harness::TestServer;

fn table() -> Table {
    Table::new()
        .a("login.microsoftonline.com.", "20.190.128.10", 300)
        .a("short.example.com.", "192.0.2.7", 1)
}

#[test]
fn a_cached_answer_is_not_asked_again_and_its_ttl_counts_down() {
    let upstream = FakeUpstream::answering(table());
    let server = TestServer::start(&base_config(&[upstream.addr]));
    let query = || client::query("login.microsoftonline.com.", RecordType::A);
    let first = client::udp(server.addr, &query());
    assert_eq!(first.answers[0].ttl, 300);
    assert_eq!(upstream.queries(), 1);
    // TTLs are whole seconds: let one pass.
    thread::sleep(Duration::from_millis(1100));
    let second = client::udp(server.addr, &query());
    assert_eq!(a_records(&second), ["20.190.128.10"]);
    assert!(
        second.answers[0].ttl < 300 && second.answers[0].ttl >= 290,
        "ttl {}",
        second.answers[0].ttl
    );
    // Case does not matter for the cache; TCP shares it.
    let shouted = client::tcp(
        server.addr,
        &client::query("LOGIN.microsoftonline.com.", RecordType::A),
    );
    assert_eq!(a_records(&shouted), ["20.190.128.10"]);
    assert_eq!(upstream.queries(), 1, "answered from the cache");
}

#[test]
fn negative_answers_are_cached_for_the_soa_minimum() {
    let upstream = FakeUpstream::answering(table());
    let server = TestServer::start(&base_config(&[upstream.addr]));
    for _ in 0..3 {
        let response = client::udp(
            server.addr,
            &client::query("nosuch.example.", RecordType::A),
        );
        assert_eq!(response.metadata.response_code, ResponseCode::NXDomain);
        assert!(matches!(response.authorities[0].data, RData::SOA(_)));
        assert!(response.authorities[0].ttl <= 300);
    }
    assert_eq!(upstream.queries(), 1);
}

#[test]
fn the_do_bit_is_part_of_the_cache_key() {
    let upstream = FakeUpstream::answering(table());
    let server = TestServer::start(&base_config(&[upstream.addr]));
    client::udp(
        server.addr,
        &client::query("login.microsoftonline.com.", RecordType::A),
    );
    let mut with_do = client::query("login.microsoftonline.com.", RecordType::A);
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    edns.set_dnssec_ok(true);
    with_do.set_edns(edns);
    client::udp(server.addr, &with_do);
    assert_eq!(upstream.queries(), 2);
    assert!(
        upstream.seen()[1]
            .edns
            .as_ref()
            .is_some_and(|e| e.flags().dnssec_ok),
        "DO passed upstream"
    );
}

#[test]
fn a_stale_answer_is_served_when_the_upstream_dies() {
    let upstream = FakeUpstream::answering(table());
    let config = base_config(&[upstream.addr]).replace("timeout_ms = 2000", "timeout_ms = 400");
    let server = TestServer::start(&config);
    let fresh = client::udp(
        server.addr,
        &client::query("short.example.com.", RecordType::A),
    );
    assert_eq!(fresh.answers[0].ttl, 1);
    upstream.set_behaviour(Behaviour::Hang);
    // Let the one-second TTL run out.
    thread::sleep(Duration::from_millis(1100));
    let stale = client::udp(
        server.addr,
        &client::query("short.example.com.", RecordType::A),
    );
    assert_eq!(stale.metadata.response_code, ResponseCode::NoError);
    assert_eq!(a_records(&stale), ["192.0.2.7"]);
    assert_eq!(stale.answers[0].ttl, 30, "RFC 8767 stale TTL");
    // Nothing cached, nothing stale: SERVFAIL.
    let never_seen = client::udp(
        server.addr,
        &client::query("login.microsoftonline.com.", RecordType::A),
    );
    assert_eq!(never_seen.metadata.response_code, ResponseCode::ServFail);
}

#[test]
fn cache_mb_zero_turns_the_cache_off() {
    let upstream = FakeUpstream::answering(table());
    let config = base_config(&[upstream.addr])
        .replace("timeout_ms = 2000", "timeout_ms = 2000\ncache_mb = 0");
    let server = TestServer::start(&config);
    for _ in 0..3 {
        client::udp(
            server.addr,
            &client::query("login.microsoftonline.com.", RecordType::A),
        );
    }
    assert_eq!(upstream.queries(), 3);
}

#[test]
fn identical_questions_in_flight_together_cost_one_upstream_query() {
    let upstream = FakeUpstream::answering(table());
    upstream.set_delay(Duration::from_millis(300));
    let server = TestServer::start(&base_config(&[upstream.addr]));
    let addr = server.addr;
    let clients: Vec<_> = (0..10)
        .map(|_| {
            thread::spawn(move || {
                client::udp(
                    addr,
                    &client::query("login.microsoftonline.com.", RecordType::A),
                )
            })
        })
        .collect();
    for client in clients {
        assert_eq!(a_records(&client.join().unwrap()), ["20.190.128.10"]);
    }
    assert_eq!(upstream.queries(), 1, "the other nine waited for the first");
}

/// From the second cached answer on, UDP answers come from the response kept
/// by the UDP workers: each must still carry the asker's id, RD and
/// spelling, and TTLs that count down.
#[test]
fn answers_repeated_from_the_kept_response_are_the_askers_own() {
    let upstream = FakeUpstream::answering(table());
    let server = TestServer::start(&base_config(&[upstream.addr]));
    let spellings = [
        "login.microsoftonline.com.",
        "login.microsoftonline.com.",
        "LOGIN.MicrosoftOnline.com.",
        "login.microsoftonline.com.",
        "Login.microsoftonline.COM.",
    ];
    for (i, spelling) in spellings.iter().enumerate() {
        let mut query = client::query(spelling, RecordType::A);
        query.metadata.id = 4000 + u16::try_from(i).unwrap();
        query.metadata.recursion_desired = i % 2 == 0;
        let response = client::udp(server.addr, &query);
        assert_eq!(response.metadata.id, query.metadata.id);
        assert_eq!(response.metadata.recursion_desired, i % 2 == 0, "query {i}");
        assert!(response.metadata.recursion_available && !response.metadata.authoritative);
        assert_eq!(response.metadata.response_code, ResponseCode::NoError);
        assert!(
            response.queries[0]
                .name()
                .eq_case(&hickory_proto::rr::Name::from_ascii(spelling).unwrap()),
            "question echoed as asked: {}",
            response.queries[0].name()
        );
        assert_eq!(a_records(&response), ["20.190.128.10"]);
        assert!((299..=300).contains(&response.answers[0].ttl));
        assert_eq!(response.edns.as_ref().map(Edns::max_payload), Some(1232));
    }
    // Without EDNS the kept response (which has an OPT) is not used: the
    // answer has none.
    let plain = client::udp(
        server.addr,
        &client::query_no_edns("login.microsoftonline.com.", RecordType::A),
    );
    assert!(plain.edns.is_none());
    assert_eq!(a_records(&plain), ["20.190.128.10"]);
    assert_eq!(upstream.queries(), 1);
    // TTLs are whole seconds: let one pass.
    thread::sleep(Duration::from_millis(1100));
    let aged = client::udp(
        server.addr,
        &client::query("login.microsoftonline.com.", RecordType::A),
    );
    assert!(
        (290..300).contains(&aged.answers[0].ttl),
        "ttl {}",
        aged.answers[0].ttl
    );
}

/// A kept response ends with its shortest TTL: then the upstream is asked again.
#[test]
fn a_kept_response_expires_with_its_records() {
    let upstream = FakeUpstream::answering(table());
    let server = TestServer::start(&base_config(&[upstream.addr]));
    let query = || client::query("short.example.com.", RecordType::A);
    for _ in 0..3 {
        let response = client::udp(server.addr, &query());
        assert_eq!(a_records(&response), ["192.0.2.7"]);
        assert_eq!(response.answers[0].ttl, 1);
    }
    assert_eq!(upstream.queries(), 1);
    thread::sleep(Duration::from_millis(1100));
    let response = client::udp(server.addr, &query());
    assert_eq!(response.answers[0].ttl, 1, "fresh from the upstream");
    assert_eq!(upstream.queries(), 2);
}

#[test]
fn a_slow_refresh_gives_the_stale_answer_after_the_client_response_timer_and_goes_on() {
    let upstream = FakeUpstream::answering(table());
    let config = base_config(&[upstream.addr]).replace("timeout_ms = 2000", "timeout_ms = 5000");
    let server = TestServer::start(&config);
    let query = client::query("short.example.com.", RecordType::A);
    assert_eq!(client::udp(server.addr, &query).answers[0].ttl, 1);
    // The TTL runs out (this sleep is the thing under test: expiry) and
    // the upstream turns slower than the 1.8 s timer.
    thread::sleep(Duration::from_millis(1100));
    upstream.set_delay(Duration::from_millis(2500));
    let asked = std::time::Instant::now();
    let stale = client::udp(server.addr, &query);
    let waited = asked.elapsed();
    assert_eq!(a_records(&stale), ["192.0.2.7"]);
    assert_eq!(stale.answers[0].ttl, 30, "RFC 8767 stale TTL");
    assert!(
        waited >= Duration::from_millis(1700) && waited < Duration::from_millis(2400),
        "stale after {waited:?}, not at the 1.8 s timer"
    );
    // The refresh went on: once the upstream answers, the answer is fresh.
    let refreshed = (0..40).any(|_| {
        thread::sleep(Duration::from_millis(100));
        upstream.set_delay(Duration::ZERO);
        let answer = client::udp(server.addr, &query);
        answer.answers.first().is_some_and(|record| record.ttl <= 1)
    });
    assert!(refreshed, "the refresh did not land");
}

#[test]
fn below_a_cached_nxdomain_every_name_is_nxdomain_without_asking() {
    let upstream = FakeUpstream::answering(table());
    let server = TestServer::start(&base_config(&[upstream.addr]));
    let gone = client::udp(server.addr, &client::query("gone.example.", RecordType::A));
    assert_eq!(gone.metadata.response_code, ResponseCode::NXDomain);
    let asked = upstream.queries();
    for name in ["a.gone.example.", "x.y.GONE.example."] {
        let below = client::udp(server.addr, &client::query(name, RecordType::AAAA));
        assert_eq!(
            below.metadata.response_code,
            ResponseCode::NXDomain,
            "{name}"
        );
        assert!(below.answers.is_empty());
        assert_eq!(below.authorities.len(), 1);
        assert!(matches!(below.authorities[0].data, RData::SOA(_)));
        assert!(below.authorities[0].ttl <= 300);
    }
    assert_eq!(
        upstream.queries(),
        asked,
        "RFC 8020: nothing below is asked"
    );
    // A sibling is not below it.
    let sibling = client::udp(server.addr, &client::query("other.example.", RecordType::A));
    assert_eq!(sibling.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(upstream.queries(), asked + 1);
}
