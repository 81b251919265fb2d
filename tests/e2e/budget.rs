//! Forwarding within Azure's resolver limits: the upstream never sees more
//! than its budget (rate and pending, retries included), a flood of unique
//! names does not starve other clients, names asked steadily are refreshed
//! before they expire, and operators hear about upstream trouble.

use std::net::{SocketAddr, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::client::{self, a_records};
use crate::fake_upstream::{Behaviour, FakeUpstream, Table};
use crate::harness::TestServer;
use crate::{FAB1, base_config};

/// The budget the tests give the upstream: small, so that a flood at five
/// times it is quick to send.
const MAX_QPS: usize = 100;
const MAX_PENDING: usize = 20;

/// Names of another forwarded domain, one per steady-client round.
const OTHER_NAMES: usize = 120;

fn table() -> Table {
    let mut table = Table::new().a("login.microsoftonline.com.", "20.190.128.10", 300);
    for i in 0..OTHER_NAMES {
        table = table.a(&format!("n{i}.other.test."), "192.0.2.7", 300);
    }
    table
}

fn budget_config(upstream: SocketAddr) -> String {
    base_config(&[upstream]).replace(
        "timeout_ms = 2000",
        &format!(
            "timeout_ms = 2000\nupstream_max_qps = {MAX_QPS}\nupstream_max_pending = {MAX_PENDING}"
        ),
    )
}

/// Sends `rate` queries a second for `duration`, each for a name `name(i)`
/// never asked before, without waiting for answers (they are read and
/// dropped). Returns how many were sent.
fn flood(
    server: SocketAddr,
    rate: usize,
    duration: Duration,
    name: impl Fn(usize) -> String + Send + 'static,
) -> thread::JoinHandle<usize> {
    thread::spawn(move || {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket
            .set_read_timeout(Some(Duration::from_millis(1)))
            .expect("timeout");
        let started = Instant::now();
        let mut sent = 0;
        let mut drain = [0u8; 1500];
        // Paced in 10 ms steps; bounded by count and time.
        while started.elapsed() < duration && sent < rate * 10 {
            let due = rate * usize::try_from(started.elapsed().as_millis()).unwrap_or(0) / 1000;
            while sent < due {
                let query = client::query(&name(sent), RecordType::A);
                let _ = socket.send_to(&query.to_vec().expect("encode"), server);
                sent += 1;
            }
            while socket.recv(&mut drain).is_ok() {}
            thread::sleep(Duration::from_millis(10));
        }
        sent
    })
}

/// One steady-client question: its answer, or `None` after two seconds.
fn timed(server: SocketAddr, name: &str) -> (Option<Message>, Duration) {
    let query = client::query(name, RecordType::A);
    let started = Instant::now();
    let bytes = client::udp_bytes(
        server,
        &query.to_vec().expect("encode"),
        Duration::from_secs(2),
    );
    let answer = bytes.map(|bytes| Message::from_vec(&bytes).expect("decode"));
    (answer, started.elapsed())
}

#[test]
fn a_flood_of_unique_names_stays_within_the_budget_and_starves_no_one() {
    let upstream = FakeUpstream::answering(table());
    let server = TestServer::start(&budget_config(upstream.addr));
    // A popular name, cached before the flood.
    let popular = "login.microsoftonline.com.";
    assert_eq!(
        a_records(&client::udp(
            server.addr,
            &client::query(popular, RecordType::A)
        )),
        ["20.190.128.10"]
    );
    // The upstream turns slow, and a flood at five times its budget starts.
    upstream.set_delay(Duration::from_millis(200));
    let flooding = flood(server.addr, 5 * MAX_QPS, Duration::from_secs(3), |i| {
        format!("f{i}x{}.flood.example.", std::process::id())
    });
    let mut worst = Duration::ZERO;
    let mut failures = Vec::new();
    let mut other = 0;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) && other < OTHER_NAMES {
        let other_name = format!("n{other}.other.test.");
        other += 1;
        for (name, expected) in [
            (FAB1, "10.10.0.4"),
            (popular, "20.190.128.10"),
            (other_name.as_str(), "192.0.2.7"),
        ] {
            let (answer, took) = timed(server.addr, name);
            worst = worst.max(took);
            match answer {
                Some(answer)
                    if answer.metadata.response_code == ResponseCode::NoError
                        && a_records(&answer) == [expected] => {}
                Some(answer) => failures.push(format!("{name}: {answer}")),
                None => failures.push(format!("{name}: no answer within 2 s")),
            }
        }
        thread::sleep(Duration::from_millis(50));
    }
    let sent = flooding.join().expect("flood thread");
    assert!(sent >= 4 * MAX_QPS, "the flood sent {sent}");
    assert!(failures.is_empty(), "steady client failed: {failures:?}");
    // A new name waits for a slow upstream (200 ms) and little else.
    assert!(
        worst < Duration::from_secs(1),
        "slowest steady answer {worst:?}"
    );
    assert!(
        upstream.max_pending() <= MAX_PENDING,
        "the upstream saw {} pending",
        upstream.max_pending()
    );
    // 10 ms of slack for the time between taking a permit and sending.
    let peak = upstream.max_in_window(Duration::from_millis(990));
    assert!(
        peak <= MAX_QPS,
        "the upstream saw {peak} queries within a second"
    );
    server.wait_for_log(
        "shedding them (a random-subdomain flood?)",
        Duration::from_secs(5),
    );
}

#[test]
fn unique_names_under_unique_suffixes_are_held_to_the_budget_retries_included() {
    let upstream = FakeUpstream::answering(table());
    let server = TestServer::start(&budget_config(upstream.addr));
    // Slow enough that the pending cap binds, fast enough that no try times out.
    upstream.set_delay(Duration::from_millis(300));
    let flooding = flood(server.addr, 5 * MAX_QPS, Duration::from_secs(3), |i| {
        format!("q{i}.s{i}.t{i}.example.")
    });
    let sent = flooding.join().expect("flood thread");
    assert!(sent >= 4 * MAX_QPS, "the flood sent {sent}");
    assert!(
        upstream.max_pending() <= MAX_PENDING,
        "{}",
        upstream.max_pending()
    );
    let peak = upstream.max_in_window(Duration::from_millis(990));
    assert!(
        peak <= MAX_QPS,
        "the upstream saw {peak} queries within a second"
    );
    server.wait_for_log("upstream budget spent", Duration::from_secs(5));
    // Right after the flood a new name queues behind it at the same
    // priority (nothing tells them apart): it is answered or shed within
    // the queue's deadline (a quarter of timeout_ms), never left to time out.
    let (answer, took) = timed(server.addr, "n1.other.test.");
    let rcode = answer.expect("answered").metadata.response_code;
    assert!(
        matches!(rcode, ResponseCode::NoError | ResponseCode::ServFail),
        "{rcode}"
    );
    assert!(took < Duration::from_millis(1500), "{took:?}");
    // Once the queue has drained, names resolve again.
    let resolved = (0..50).any(|_| {
        let (answer, _) = timed(server.addr, "n2.other.test.");
        let ok = answer.is_some_and(|answer| a_records(&answer) == ["192.0.2.7"]);
        if !ok {
            thread::sleep(Duration::from_millis(100));
        }
        ok
    });
    assert!(resolved, "no answer once the flood was over");
    assert_eq!(
        server.log_count("upstream budget spent"),
        1,
        "once, not per query"
    );

    // Retries count too: a silent upstream gets every try within the rate.
    upstream.set_behaviour(Behaviour::Hang);
    let flooding = flood(server.addr, 5 * MAX_QPS, Duration::from_secs(2), |i| {
        format!("r{i}.h{i}.u{i}.example.")
    });
    flooding.join().expect("flood thread");
    let peak = upstream.max_in_window(Duration::from_millis(990));
    assert!(
        peak <= MAX_QPS,
        "with retries the upstream saw {peak} within a second"
    );
}

/// Asks for a name of TTL 3 every 100 ms for `duration` while the upstream
/// takes 400 ms: the slowest answer, and how many queries the upstream saw.
fn steady_client(config_extra: &str, duration: Duration) -> (Duration, usize) {
    let upstream = FakeUpstream::answering(Table::new().a("steady.example.", "192.0.2.9", 3));
    let config = base_config(&[upstream.addr]).replace(
        "timeout_ms = 2000",
        &format!("timeout_ms = 2000\n{config_extra}"),
    );
    let server = TestServer::start(&config);
    let query = client::query("steady.example.", RecordType::A);
    assert_eq!(a_records(&client::udp(server.addr, &query)), ["192.0.2.9"]);
    // From now on an answer that waited for the upstream takes 400 ms.
    upstream.set_delay(Duration::from_millis(400));
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    while started.elapsed() < duration {
        let (answer, took) = timed(server.addr, "steady.example.");
        let answer = answer.expect("answered");
        assert_eq!(a_records(&answer), ["192.0.2.9"]);
        assert!(answer.answers[0].ttl <= 3);
        slowest = slowest.max(took);
        thread::sleep(Duration::from_millis(100));
    }
    (slowest, upstream.queries())
}

#[test]
fn a_name_asked_steadily_is_refreshed_before_it_expires_and_never_waits() {
    let (slowest, queries) = steady_client("", Duration::from_secs(8));
    assert!(
        slowest < Duration::from_millis(200),
        "a client waited {slowest:?}: the answer was not refreshed in time"
    );
    // TTL 3 for 8 s: refreshed at least twice, in the background.
    assert!(queries >= 3, "{queries} upstream queries");
}

#[test]
fn with_prefetch_off_a_steady_client_waits_once_the_answer_expires() {
    let (slowest, queries) = steady_client("prefetch = false", Duration::from_secs(4));
    assert!(
        slowest >= Duration::from_millis(350),
        "the slowest answer took {slowest:?}: something refreshed it"
    );
    assert!(queries >= 2, "{queries} upstream queries");
}

#[test]
fn operators_hear_once_when_an_upstream_fails_and_when_it_recovers() {
    let upstream = FakeUpstream::answering(table());
    let config = base_config(&[upstream.addr]).replace("timeout_ms = 2000", "timeout_ms = 300");
    let server = TestServer::start(&config);
    upstream.set_behaviour(Behaviour::Hang);
    for i in 0..3 {
        let answer = client::udp(
            server.addr,
            &client::query(&format!("n{i}.other.test."), RecordType::A),
        );
        assert_eq!(answer.metadata.response_code, ResponseCode::ServFail);
    }
    let warning = server.wait_for_log("upstream failing", Duration::from_secs(5));
    assert!(
        warning.contains("WARN") && warning.contains("timeout"),
        "{warning}"
    );
    assert!(warning.contains(&upstream.addr.to_string()), "{warning}");
    upstream.set_behaviour(Behaviour::Answer);
    let answer = client::udp(server.addr, &client::query("n5.other.test.", RecordType::A));
    assert_eq!(a_records(&answer), ["192.0.2.7"]);
    let recovered = server.wait_for_log("upstream answers again", Duration::from_secs(5));
    assert!(recovered.contains("INFO"), "{recovered}");
    // A second outage within the minute is not told again.
    upstream.set_behaviour(Behaviour::Hang);
    let answer = client::udp(server.addr, &client::query("n7.other.test.", RecordType::A));
    assert_eq!(answer.metadata.response_code, ResponseCode::ServFail);
    upstream.set_behaviour(Behaviour::Answer);
    let answer = client::udp(server.addr, &client::query("n8.other.test.", RecordType::A));
    assert_eq!(a_records(&answer), ["192.0.2.7"]);
    assert_eq!(server.log_count("upstream failing"), 1);
    assert_eq!(server.log_count("upstream answers again"), 1);
}
