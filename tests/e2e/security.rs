//! Security and resource limits: the allow-list on dual-stack sockets, ANY,
//! response rate limiting, TCP limits, the bound on questions upstream.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};

use crate::client::{self, TcpClient, a_records};
use crate::fake_upstream::{FakeUpstream, Table};
use crate::harness::TestServer;
use crate::{FAB1, base_config};

fn with(server_lines: &str, extra: &str) -> String {
    format!(
        "{}{extra}",
        base_config(&[]).replace("[server]", &format!("[server]\n{server_lines}"))
    )
}

#[test]
fn ipv4_mapped_clients_are_matched_as_ipv4() {
    for (allow, expected) in [
        ("127.0.0.0/8", ResponseCode::NoError),
        ("10.0.0.0/8", ResponseCode::Refused),
    ] {
        let server = TestServer::start_with(
            &with(&format!("allow = [\"{allow}\"]"), ""),
            &["--listen", "[::ffff:127.0.0.1]:0"],
        );
        // The socket is IPv6; a client on 127.0.0.1 arrives as ::ffff:127.0.0.1.
        let v4 = SocketAddr::from(([127, 0, 0, 1], server.addr.port()));
        for response in [
            client::udp(v4, &client::query(FAB1, RecordType::A)),
            client::tcp(v4, &client::query(FAB1, RecordType::A)),
        ] {
            assert_eq!(response.metadata.response_code, expected, "allow {allow}");
        }
    }
}

#[test]
fn any_gets_one_small_rrset() {
    let config = format!(
        "{}\"dual.privatelink.blob.core.windows.net\" = [\"10.1.0.1\", \"10.1.0.2\", \"fd00::1\", \"fd00::2\"]\n",
        base_config(&[])
    );
    let server = TestServer::start(&config);
    let (size, any) = client::udp_sized(
        server.addr,
        &client::query("dual.privatelink.blob.core.windows.net.", RecordType::ANY),
    );
    assert_eq!(any.metadata.response_code, ResponseCode::NoError);
    assert!(
        any.answers.iter().all(|r| matches!(r.data, RData::A(_))),
        "{any}"
    );
    assert_eq!(any.answers.len(), 2);
    assert!(size < 200, "{size} bytes");
    let apex = client::udp(
        server.addr,
        &client::query("privatelink.blob.core.windows.net.", RecordType::ANY),
    );
    assert_eq!(apex.answers.len(), 1);
    assert!(matches!(apex.answers[0].data, RData::SOA(_)));
}

#[test]
fn a_udp_burst_from_one_client_is_limited_while_others_are_answered() {
    let config = with("", "\n[rate_limit]\nresponses_per_second = 20\nslip = 2\n");
    let server = TestServer::start(&config);
    // 100 queries as fast as one socket can send them, then read what comes back.
    let flood = UdpSocket::bind("127.0.0.1:0").unwrap();
    let wire = client::query(FAB1, RecordType::A).to_vec().unwrap();
    for _ in 0..100 {
        flood.send_to(&wire, server.addr).unwrap();
    }
    let (mut answered, mut slipped) = (0, 0);
    let mut buffer = [0u8; 1500];
    while let Some((len, _)) =
        client::receive_within(&flood, &mut buffer, Duration::from_millis(500))
    {
        let response = Message::from_vec(&buffer[..len]).unwrap();
        if response.metadata.truncation {
            assert!(response.answers.is_empty());
            slipped += 1;
        } else {
            assert_eq!(a_records(&response), ["10.10.0.4"]);
            answered += 1;
        }
    }
    let dropped = 100 - answered - slipped;
    assert!((20..30).contains(&answered), "answered {answered}");
    assert!(slipped >= 30, "slipped {slipped}");
    assert!(dropped >= 30, "dropped {dropped}");

    // Another client is answered meanwhile; and TCP is never limited.
    let other = UdpSocket::bind("127.0.0.2:0").unwrap();
    other.send_to(&wire, server.addr).unwrap();
    let (len, _) = client::receive_within(&other, &mut buffer, Duration::from_secs(5)).unwrap();
    assert_eq!(
        a_records(&Message::from_vec(&buffer[..len]).unwrap()),
        ["10.10.0.4"]
    );
    assert_eq!(
        a_records(&client::tcp(
            server.addr,
            &client::query(FAB1, RecordType::A)
        )),
        ["10.10.0.4"]
    );
}

#[test]
fn an_idle_tcp_connection_is_closed_after_the_timeout() {
    let server = TestServer::start(&with("tcp_idle_timeout_s = 1", ""));
    let started = Instant::now();
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut byte = [0u8; 1];
    let read = loop {
        match stream.read(&mut byte) {
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            other => break other,
        }
    };
    assert_eq!(read.unwrap(), 0, "closed by the server");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(4),
        "{elapsed:?}"
    );
}

#[test]
fn pipelined_queries_are_answered_concurrently() {
    let upstream = FakeUpstream::answering(Table::new().a("slow.example.", "192.0.2.1", 60));
    upstream.set_delay(Duration::from_millis(500));
    let server = TestServer::start(&base_config(&[upstream.addr]));
    let mut connection = TcpClient::connect(server.addr);
    let slow = client::query("slow.example.", RecordType::A);
    let fast = client::query(FAB1, RecordType::A);
    connection.send(&slow);
    connection.send(&fast);
    let first = connection.receive();
    let second = connection.receive();
    assert_eq!(
        first.metadata.id, fast.metadata.id,
        "the mapped answer does not wait for the forwarded one"
    );
    assert_eq!(second.metadata.id, slow.metadata.id);
    assert_eq!(a_records(&second), ["192.0.2.1"]);
}

#[test]
fn the_tcp_connection_limit_holds_while_udp_is_answered() {
    let server = TestServer::start(&with("tcp_max_connections = 2", ""));
    let wire = client::query(FAB1, RecordType::A).to_vec().unwrap();
    let mut framed = u16::try_from(wire.len()).unwrap().to_be_bytes().to_vec();
    framed.extend_from_slice(&wire);
    // Two clients hold every slot.
    let holders: Vec<TcpClient> = (0..2).map(|_| TcpClient::connect(server.addr)).collect();
    let mut first = holders.into_iter();
    let mut holder = first.next().unwrap();
    assert_eq!(
        a_records(&holder.ask(&client::query(FAB1, RecordType::A))),
        ["10.10.0.4"]
    );
    // A third connects (the kernel's backlog) but is not served.
    let mut third = TcpStream::connect(server.addr).unwrap();
    third.write_all(&framed).unwrap();
    third
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut length = [0u8; 2];
    assert!(
        third.read_exact(&mut length).is_err(),
        "served past the limit"
    );
    // UDP is unaffected.
    assert_eq!(
        a_records(&client::udp(
            server.addr,
            &client::query(FAB1, RecordType::A)
        )),
        ["10.10.0.4"]
    );
    // A slot frees up: the waiting connection is served.
    drop(holder);
    drop(first);
    third
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    third.read_exact(&mut length).unwrap();
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(length))];
    third.read_exact(&mut body).unwrap();
    assert_eq!(a_records(&Message::from_vec(&body).unwrap()), ["10.10.0.4"]);
}

#[test]
fn past_max_inflight_forwarded_questions_get_servfail_at_once() {
    let upstream = FakeUpstream::answering(Table::new().a("one.example.", "192.0.2.1", 60).a(
        "two.example.",
        "192.0.2.2",
        60,
    ));
    upstream.set_delay(Duration::from_millis(600));
    let config = base_config(&[upstream.addr])
        .replace("timeout_ms = 2000", "timeout_ms = 2000\nmax_inflight = 1");
    let server = TestServer::start(&config);
    let addr = server.addr;
    let first = std::thread::spawn(move || {
        client::udp(addr, &client::query("one.example.", RecordType::A))
    });
    // Wait until the first question is upstream.
    let deadline = Instant::now() + Duration::from_secs(5);
    while upstream.queries() == 0 {
        assert!(
            Instant::now() < deadline,
            "the first question never went upstream"
        );
        std::thread::yield_now();
    }
    let started = Instant::now();
    let second = client::udp(server.addr, &client::query("two.example.", RecordType::A));
    assert_eq!(second.metadata.response_code, ResponseCode::ServFail);
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(a_records(&first.join().unwrap()), ["192.0.2.1"]);
}

/// Issue 18, item 1: clients that ask and never read once pinned their
/// connection slots for ever. Now a connection whose client has not taken
/// an answer for `tcp_idle_timeout_s` is closed, and the slot serves others.
#[test]
fn tcp_clients_that_never_read_lose_their_slot_after_the_idle_timeout() {
    let many: Vec<String> = (0..200)
        .map(|i| format!("\"10.20.{}.{}\"", i / 200, i % 200 + 1))
        .collect();
    let big = format!(
        "\"big.privatelink.blob.core.windows.net\" = [{}]\n",
        many.join(", ")
    );
    let server = TestServer::start(&with(
        "tcp_max_connections = 2\ntcp_idle_timeout_s = 1",
        &big,
    ));
    let wire = client::query("big.privatelink.blob.core.windows.net.", RecordType::A)
        .to_vec()
        .unwrap();
    let mut framed = u16::try_from(wire.len()).unwrap().to_be_bytes().to_vec();
    framed.extend_from_slice(&wire);
    let burst: Vec<u8> = framed
        .iter()
        .copied()
        .cycle()
        .take(framed.len() * 5_000)
        .collect();
    // Two clients take both slots, ask for 5,000 answers of 3 KB each, and never read.
    let stuck: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut stream = TcpStream::connect(server.addr).unwrap();
            stream
                .set_write_timeout(Some(Duration::from_secs(2)))
                .unwrap();
            let _ = stream.write_all(&burst);
            stream
        })
        .collect();
    // A third client is served once a stuck one is closed.
    let started = Instant::now();
    let mut third = TcpClient::connect(server.addr);
    let answer = third.ask(&client::query(FAB1, RecordType::A));
    assert_eq!(a_records(&answer), ["10.10.0.4"]);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    drop(stuck);
}
