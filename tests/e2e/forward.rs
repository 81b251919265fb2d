//! Forwarding names that are not served: relay, rules, failover, spoofed
//! answers, TCP retry on truncation, offline mode.

use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};

use crate::client::{self, a_records};
use crate::fake_upstream::{Behaviour, FakeUpstream, Table};
use crate::harness::TestServer;
use crate::{FAB1, base_config};

fn public_table() -> Table {
    Table::new()
        .a("login.microsoftonline.com.", "20.190.128.10", 300)
        .a("host.corp.contoso.com.", "10.20.30.40", 120)
        .cname("www.example.com.", "edge.example.net.", 60)
        .a("edge.example.net.", "93.184.216.34", 60)
}

#[test]
fn public_names_are_relayed_with_rcode_flags_sections_and_ttls() {
    let upstream = FakeUpstream::answering(public_table());
    let server = TestServer::start(&base_config(&[upstream.addr]));
    let query = client::query("login.microsoftonline.com.", RecordType::A);
    for response in [
        client::udp(server.addr, &query),
        client::tcp(server.addr, &query),
    ] {
        assert_eq!(response.metadata.response_code, ResponseCode::NoError);
        assert!(!response.metadata.authoritative);
        assert!(response.metadata.recursion_available);
        assert!(response.metadata.recursion_desired);
        assert_eq!(response.queries, query.queries);
        assert_eq!(a_records(&response), ["20.190.128.10"]);
        assert_eq!(response.answers[0].ttl, 300);
    }
    // The second answer came from the cache.
    assert_eq!(upstream.queries(), 1);
    // Upstream queries are recursive and carry EDNS.
    let seen = upstream.seen();
    assert!(
        seen.iter()
            .all(|q| q.metadata.recursion_desired && q.edns.is_some())
    );

    let chain = client::udp(
        server.addr,
        &client::query("www.example.com.", RecordType::A),
    );
    assert_eq!(chain.answers.len(), 2, "CNAME and A relayed: {chain}");
    assert!(matches!(chain.answers[0].data, RData::CNAME(_)));
}

#[test]
fn upstream_nxdomain_is_relayed_with_its_authority() {
    let upstream = FakeUpstream::answering(public_table());
    let server = TestServer::start(&base_config(&[upstream.addr]));
    let response = client::udp(
        server.addr,
        &client::query("nosuch.example.", RecordType::A),
    );
    assert_eq!(response.metadata.response_code, ResponseCode::NXDomain);
    assert!(!response.metadata.authoritative);
    assert_eq!(response.authorities.len(), 1);
    assert!(matches!(response.authorities[0].data, RData::SOA(_)));
    assert_eq!(response.authorities[0].ttl, 300);
}

#[test]
fn the_longest_matching_rule_picks_the_upstreams() {
    let default = FakeUpstream::answering(public_table());
    let corp = FakeUpstream::answering(public_table());
    let deeper =
        FakeUpstream::answering(Table::new().a("db.eu.corp.contoso.com.", "10.99.0.1", 30));
    let config = format!(
        "{}\n[[forward.rule]]\nsuffix = \"corp.contoso.com\"\nupstreams = [\"{}\"]\n\n[[forward.rule]]\nsuffix = \"eu.corp.contoso.com\"\nupstreams = [\"{}\"]\n",
        base_config(&[default.addr]),
        corp.addr,
        deeper.addr
    );
    let server = TestServer::start(&config);
    let host = client::udp(
        server.addr,
        &client::query("HOST.corp.contoso.com.", RecordType::A),
    );
    assert_eq!(a_records(&host), ["10.20.30.40"]);
    let db = client::udp(
        server.addr,
        &client::query("db.eu.corp.contoso.com.", RecordType::A),
    );
    assert_eq!(a_records(&db), ["10.99.0.1"]);
    let login = client::udp(
        server.addr,
        &client::query("login.microsoftonline.com.", RecordType::A),
    );
    assert_eq!(a_records(&login), ["20.190.128.10"]);
    assert_eq!(
        (default.queries(), corp.queries(), deeper.queries()),
        (1, 1, 1)
    );
}

/// A server whose first upstream misbehaves and whose second answers.
fn failover(behaviour: Behaviour) -> (TestServer, FakeUpstream, FakeUpstream) {
    let bad = FakeUpstream::start(behaviour, public_table());
    let good = FakeUpstream::answering(public_table());
    let server = TestServer::start(&base_config(&[bad.addr, good.addr]));
    (server, bad, good)
}

#[test]
fn a_hanging_upstream_gives_way_to_the_next_within_the_budget() {
    let (server, bad, good) = failover(Behaviour::Hang);
    let started = Instant::now();
    let response = client::udp(
        server.addr,
        &client::query("login.microsoftonline.com.", RecordType::A),
    );
    let elapsed = started.elapsed();
    assert_eq!(a_records(&response), ["20.190.128.10"]);
    assert!(
        elapsed < Duration::from_millis(2000),
        "answered after {elapsed:?}, the budget is 2000 ms"
    );
    assert_eq!((bad.queries(), good.queries()), (1, 1));
}

#[test]
fn servfail_and_refused_from_an_upstream_make_way_for_the_next() {
    for behaviour in [Behaviour::ServFail, Behaviour::Refused] {
        let (server, bad, good) = failover(behaviour);
        let response = client::udp(
            server.addr,
            &client::query("login.microsoftonline.com.", RecordType::A),
        );
        assert_eq!(
            response.metadata.response_code,
            ResponseCode::NoError,
            "{behaviour:?}"
        );
        assert_eq!(a_records(&response), ["20.190.128.10"]);
        assert_eq!((bad.queries(), good.queries()), (1, 1), "{behaviour:?}");
    }
}

#[test]
fn spoofed_and_garbage_answers_are_ignored() {
    for behaviour in [
        Behaviour::WrongId,
        Behaviour::WrongQuestion,
        Behaviour::Garbage,
    ] {
        let (server, bad, good) = failover(behaviour);
        let response = client::udp(
            server.addr,
            &client::query("login.microsoftonline.com.", RecordType::A),
        );
        assert_eq!(
            response.metadata.response_code,
            ResponseCode::NoError,
            "{behaviour:?}"
        );
        assert_eq!(
            a_records(&response),
            ["20.190.128.10"],
            "{behaviour:?}: the lie must not reach the client"
        );
        assert_eq!(bad.queries(), 1, "{behaviour:?}");
        assert_eq!(good.queries(), 1, "{behaviour:?}");
    }
}

#[test]
fn servfail_when_no_upstream_answers_within_the_budget() {
    let first = FakeUpstream::start(Behaviour::Hang, Table::new());
    let second = FakeUpstream::start(Behaviour::Hang, Table::new());
    let server = TestServer::start(&base_config(&[first.addr, second.addr]));
    let started = Instant::now();
    let response = client::udp(
        server.addr,
        &client::query("login.microsoftonline.com.", RecordType::A),
    );
    let elapsed = started.elapsed();
    assert_eq!(response.metadata.response_code, ResponseCode::ServFail);
    assert!(response.answers.is_empty());
    assert!(
        elapsed >= Duration::from_millis(1900),
        "gave up after {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_millis(3500),
        "gave up after {elapsed:?}"
    );
    // Each upstream was tried twice within the budget.
    assert_eq!((first.queries(), second.queries()), (2, 2));
}

#[test]
fn servfail_when_every_upstream_refuses() {
    let only = FakeUpstream::start(Behaviour::Refused, public_table());
    let server = TestServer::start(&base_config(&[only.addr]));
    let response = client::udp(
        server.addr,
        &client::query("login.microsoftonline.com.", RecordType::A),
    );
    assert_eq!(response.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(only.queries(), 1, "a refusing upstream is not asked twice");
}

#[test]
fn a_truncated_upstream_answer_is_retried_over_tcp() {
    let upstream = FakeUpstream::start(Behaviour::TruncateUdp, public_table());
    let server = TestServer::start(&base_config(&[upstream.addr]));
    let response = client::udp(
        server.addr,
        &client::query("login.microsoftonline.com.", RecordType::A),
    );
    assert_eq!(response.metadata.response_code, ResponseCode::NoError);
    assert!(!response.metadata.truncation);
    assert_eq!(a_records(&response), ["20.190.128.10"]);
    assert_eq!((upstream.udp_queries(), upstream.tcp_queries()), (1, 1));
}

#[test]
fn offline_mode_serves_zones_and_rules_and_servfails_the_rest() {
    let corp = FakeUpstream::answering(public_table());
    let config = format!(
        "{}\n[[forward.rule]]\nsuffix = \"corp.contoso.com\"\nupstreams = [\"{}\"]\n",
        base_config(&[]),
        corp.addr
    );
    let server = TestServer::start(&config);
    let fab1 = client::udp(server.addr, &client::query(FAB1, RecordType::A));
    assert_eq!(a_records(&fab1), ["10.10.0.4"]);
    let login = client::udp(
        server.addr,
        &client::query("login.microsoftonline.com.", RecordType::A),
    );
    assert_eq!(login.metadata.response_code, ResponseCode::ServFail);
    let host = client::udp(
        server.addr,
        &client::query("host.corp.contoso.com.", RecordType::A),
    );
    assert_eq!(a_records(&host), ["10.20.30.40"]);
    assert_eq!(corp.queries(), 1);
}

#[test]
fn a_failed_upstream_is_skipped_then_probed_back_in() {
    let first = FakeUpstream::start(Behaviour::Hang, public_table());
    let second = FakeUpstream::answering(public_table());
    let server = TestServer::start(&base_config(&[first.addr, second.addr]));
    let ask = |name: &str| client::udp(server.addr, &client::query(name, RecordType::A));

    assert_eq!(
        a_records(&ask("login.microsoftonline.com.")),
        ["20.190.128.10"]
    );
    assert_eq!((first.queries(), second.queries()), (1, 1));
    // Marked down: the next query goes straight to the second upstream.
    let started = Instant::now();
    assert_eq!(a_records(&ask("host.corp.contoso.com.")), ["10.20.30.40"]);
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "no time lost on the down upstream"
    );
    assert_eq!((first.queries(), second.queries()), (1, 2));

    // The first comes back; after its back-off (1 s) it is asked first again.
    first.set_behaviour(Behaviour::Answer);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(chain_len(&ask("www.example.com.")), 2);
    assert_eq!((first.queries(), second.queries()), (2, 2));
}

fn chain_len(response: &hickory_proto::op::Message) -> usize {
    response.answers.len()
}

#[test]
fn records_about_names_nobody_asked_for_are_dropped() {
    let upstream = FakeUpstream::start(Behaviour::Poison, public_table());
    let server = TestServer::start(&base_config(&[upstream.addr]));
    let response = client::udp(
        server.addr,
        &client::query("login.microsoftonline.com.", RecordType::A),
    );
    assert_eq!(a_records(&response), ["20.190.128.10"]);
    assert!(response.additionals.is_empty(), "{response}");
    // The planted record was not cached either: asked for, it comes from
    // the (now honest) upstream, which does not know the name.
    upstream.set_behaviour(Behaviour::Answer);
    let planted = client::udp(
        server.addr,
        &client::query("www.bank.example.", RecordType::A),
    );
    assert_eq!(planted.metadata.response_code, ResponseCode::NXDomain);
    assert!(a_records(&planted).is_empty());
    assert_eq!(
        upstream.queries(),
        2,
        "the planted name had to be asked for"
    );
}
