//! Malformed packets get FORMERR or are dropped, and the server keeps
//! answering (design §2, last rows).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::client::{self, a_records};
use crate::fake_upstream::{FakeUpstream, Table};
use crate::harness::TestServer;
use crate::{FAB1, base_config};

/// A deterministic xorshift generator, so that failures can be replayed.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next().to_le_bytes()[0]).collect()
    }
}

#[track_caller]
fn still_answers(server: &TestServer) {
    let response = client::udp_retrying(server.addr, &client::query(FAB1, RecordType::A));
    assert_eq!(a_records(&response), ["10.10.0.4"]);
}

#[test]
fn short_packets_and_responses_are_dropped() {
    let upstream = FakeUpstream::answering(Table::new());
    let server = TestServer::start(&base_config(&[upstream.addr]));
    let wait = Duration::from_millis(300);
    // Shorter than a header: nothing to answer to.
    assert_eq!(client::udp_bytes(server.addr, b"\x12\x34\x01", wait), None);
    // A response (QR=1) is never answered: no reflection loops.
    let mut response = client::query(FAB1, RecordType::A);
    response.metadata.message_type = MessageType::Response;
    assert_eq!(
        client::udp_bytes(server.addr, &response.to_vec().unwrap(), wait),
        None
    );
    still_answers(&server);
}

#[test]
fn a_readable_header_with_a_broken_body_gets_formerr() {
    let upstream = FakeUpstream::answering(Table::new());
    let server = TestServer::start(&base_config(&[upstream.addr]));
    let wire = client::query(FAB1, RecordType::A).to_vec().unwrap();
    // Cut inside the question name.
    let cut = &wire[..20];
    let reply =
        client::udp_bytes(server.addr, cut, Duration::from_secs(5)).expect("FORMERR expected");
    let reply = Message::from_vec(&reply).unwrap();
    assert_eq!(reply.metadata.response_code, ResponseCode::FormErr);
    assert_eq!(reply.metadata.id, u16::from_be_bytes([wire[0], wire[1]]));
    // A compression pointer that points at itself.
    let mut looped = wire[..12].to_vec();
    looped[5] = 1; // QDCOUNT = 1
    looped.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
    let reply =
        client::udp_bytes(server.addr, &looped, Duration::from_secs(5)).expect("FORMERR expected");
    assert_eq!(
        Message::from_vec(&reply).unwrap().metadata.response_code,
        ResponseCode::FormErr
    );
    still_answers(&server);
}

#[test]
fn oversize_labels_and_unknown_edns_options() {
    let upstream = FakeUpstream::answering(Table::new());
    let server = TestServer::start(&base_config(&[upstream.addr]));
    // A label length of 64 is not allowed (RFC 1035): FORMERR.
    let mut wire = client::query(FAB1, RecordType::A).to_vec().unwrap();
    wire[12] = 64;
    let reply =
        client::udp_bytes(server.addr, &wire, Duration::from_secs(5)).expect("FORMERR expected");
    assert_eq!(
        Message::from_vec(&reply).unwrap().metadata.response_code,
        ResponseCode::FormErr
    );
    // An EDNS option nobody knows is ignored (RFC 6891 §6.1.2).
    let mut query = client::query(FAB1, RecordType::A);
    let mut edns = hickory_proto::op::Edns::new();
    edns.set_max_payload(1232);
    edns.options_mut()
        .insert(hickory_proto::rr::rdata::opt::EdnsOption::Unknown(
            65001,
            vec![1, 2, 3],
        ));
    query.set_edns(edns);
    let response = client::udp(server.addr, &query);
    assert_eq!(a_records(&response), ["10.10.0.4"]);
}

#[test]
fn random_and_mutated_packets_leave_the_server_answering() {
    let upstream = FakeUpstream::answering(Table::new());
    let server = TestServer::start(&base_config(&[upstream.addr]));
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    let valid = client::query(FAB1, RecordType::A).to_vec().unwrap();
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    // Bounded: 10,000 packets, fire and forget, then a real query.
    for i in 0..10_000 {
        let packet = if i % 2 == 0 {
            let len = usize::try_from(noise.next() % 600).unwrap();
            noise.bytes(len)
        } else {
            let mut mutated = valid.clone();
            for _ in 0..(1 + noise.next() % 4) {
                let at = usize::try_from(noise.next()).unwrap() % mutated.len();
                mutated[at] = noise.next().to_le_bytes()[0];
            }
            // Keep it a query so that most reach the handler.
            mutated[2] &= 0x7f;
            mutated
        };
        socket.send_to(&packet, server.addr).unwrap();
    }
    still_answers(&server);

    // The same over TCP: 10,000 frames of noise and mutated queries on 100
    // connections, written without waiting for answers, then a good query.
    for _ in 0..100 {
        let Ok(mut stream) = TcpStream::connect(server.addr) else {
            continue;
        };
        let mut frames = Vec::new();
        for i in 0..100 {
            let body = if i % 2 == 0 {
                let len = usize::try_from(noise.next() % 300).unwrap();
                noise.bytes(len)
            } else {
                let mut mutated = valid.clone();
                let at = usize::try_from(noise.next()).unwrap() % mutated.len();
                mutated[at] = noise.next().to_le_bytes()[0];
                mutated
            };
            frames.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
            frames.extend(body);
        }
        let _ = stream.write_all(&frames);
        stream
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let mut sink = [0u8; 4096];
        let _ = stream.read(&mut sink);
    }
    let response = client::tcp(server.addr, &client::query(FAB1, RecordType::A));
    assert_eq!(a_records(&response), ["10.10.0.4"]);
}

/// The packet fuzzer's regression inputs, sent over UDP and TCP.
#[test]
fn fuzz_regression_packets_are_survived() {
    let upstream = FakeUpstream::answering(Table::new());
    let server = TestServer::start(&base_config(&[upstream.addr]));
    let dir = format!(
        "{}/../../tests/data/fuzz/packet",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    assert!(!paths.is_empty());
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for path in &paths {
        let packet = std::fs::read(path).unwrap();
        socket.send_to(&packet, server.addr).unwrap();
        if let Ok(mut stream) = TcpStream::connect(server.addr) {
            let mut frame = u16::try_from(packet.len().min(65535))
                .unwrap()
                .to_be_bytes()
                .to_vec();
            frame.extend_from_slice(&packet[..packet.len().min(65535)]);
            let _ = stream.write_all(&frame);
        }
    }
    still_answers(&server);
    let response = client::tcp(server.addr, &client::query(FAB1, RecordType::A));
    assert_eq!(a_records(&response), ["10.10.0.4"]);
}
