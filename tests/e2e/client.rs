//! A small blocking DNS client over UDP and TCP, and assertions on answers.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};

const TIMEOUT: Duration = Duration::from_secs(10);

static NEXT_ID: AtomicU16 = AtomicU16::new(4242);

/// A recursive query with EDNS (payload 1232).
pub fn query(name: &str, rtype: RecordType) -> Message {
    let mut message = query_no_edns(name, rtype);
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    message.set_edns(edns);
    message
}

/// A recursive query without an OPT record.
pub fn query_no_edns(name: &str, rtype: RecordType) -> Message {
    let mut message = Message::new(
        NEXT_ID.fetch_add(1, Ordering::Relaxed),
        MessageType::Query,
        OpCode::Query,
    );
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(Name::from_ascii(name).expect("name"), rtype));
    message
}

/// Sends raw bytes over UDP; the reply, if any arrives within `timeout`.
pub fn udp_bytes(server: SocketAddr, bytes: &[u8], timeout: Duration) -> Option<Vec<u8>> {
    udp_bytes_from("127.0.0.1", server, bytes, timeout)
}

/// [`udp_bytes`] from the loopback address `source` (which picks a view).
pub fn udp_bytes_from(
    source: &str,
    server: SocketAddr,
    bytes: &[u8],
    timeout: Duration,
) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind((source, 0)).expect("bind");
    socket.send_to(bytes, server).expect("send");
    let mut buffer = vec![0u8; 65535];
    receive_within(&socket, &mut buffer, timeout).map(|(len, _)| buffer[..len].to_vec())
}

/// One datagram received within `timeout`, or `None`. A signal to the
/// test process interrupts a receive that has a timeout even under
/// SA_RESTART (signal(7)); that is no reason to give up, so it waits on.
pub fn receive_within(
    socket: &UdpSocket,
    buffer: &mut [u8],
    timeout: Duration,
) -> Option<(usize, SocketAddr)> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return None;
        }
        socket.set_read_timeout(Some(left)).expect("timeout");
        match socket.recv_from(buffer) {
            Ok(received) => return Some(received),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
}

/// Asks over UDP and returns the decoded response.
pub fn udp(server: SocketAddr, message: &Message) -> Message {
    udp_from("127.0.0.1", server, message)
}

/// [`udp`] from the loopback address `source`.
pub fn udp_from(source: &str, server: SocketAddr, message: &Message) -> Message {
    let bytes = udp_bytes_from(source, server, &message.to_vec().expect("encode"), TIMEOUT)
        .expect("no UDP answer");
    let response = Message::from_vec(&bytes).expect("decode");
    assert_eq!(response.metadata.id, message.metadata.id, "response id");
    response
}

/// Asks over UDP like a stub resolver: up to five tries, two seconds
/// apart. For checks right after a flood, when the server's socket buffer
/// may have dropped a datagram.
pub fn udp_retrying(server: SocketAddr, message: &Message) -> Message {
    let wire = message.to_vec().expect("encode");
    for _ in 0..5 {
        if let Some(bytes) = udp_bytes(server, &wire, Duration::from_secs(2)) {
            let response = Message::from_vec(&bytes).expect("decode");
            assert_eq!(response.metadata.id, message.metadata.id, "response id");
            return response;
        }
    }
    panic!("no UDP answer after five tries");
}

/// The size of the UDP response in bytes, with the response.
pub fn udp_sized(server: SocketAddr, message: &Message) -> (usize, Message) {
    let bytes =
        udp_bytes(server, &message.to_vec().expect("encode"), TIMEOUT).expect("no UDP answer");
    (bytes.len(), Message::from_vec(&bytes).expect("decode"))
}

/// One TCP connection to the server, kept open across questions.
pub struct TcpClient {
    stream: TcpStream,
}

impl TcpClient {
    pub fn connect(server: SocketAddr) -> Self {
        let stream = TcpStream::connect(server).expect("connect");
        stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        Self { stream }
    }

    /// A connection from the loopback address `source` (which picks a view).
    pub fn connect_from(source: &str, server: SocketAddr) -> Self {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("socket");
        let local = SocketAddr::new(source.parse().expect("source address"), 0);
        socket.bind(&local.into()).expect("bind");
        socket.connect(&server.into()).expect("connect");
        let stream: TcpStream = socket.into();
        stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        Self { stream }
    }

    /// Writes one length-prefixed message.
    pub fn send(&mut self, message: &Message) {
        self.send_raw(&message.to_vec().expect("encode"));
    }

    /// Writes `wire`, length-prefixed.
    pub fn send_raw(&mut self, wire: &[u8]) {
        let mut framed = u16::try_from(wire.len())
            .expect("len")
            .to_be_bytes()
            .to_vec();
        framed.extend_from_slice(wire);
        self.stream.write_all(&framed).expect("write");
    }

    /// Reads one length-prefixed message.
    pub fn receive(&mut self) -> Message {
        Message::from_vec(&self.receive_raw()).expect("decode")
    }

    /// Reads one length-prefixed message's bytes.
    pub fn receive_raw(&mut self) -> Vec<u8> {
        let mut len = [0u8; 2];
        self.stream.read_exact(&mut len).expect("read length");
        let mut buffer = vec![0u8; usize::from(u16::from_be_bytes(len))];
        self.stream.read_exact(&mut buffer).expect("read message");
        buffer
    }

    pub fn ask(&mut self, message: &Message) -> Message {
        self.send(message);
        let response = self.receive();
        assert_eq!(response.metadata.id, message.metadata.id, "response id");
        response
    }
}

/// Asks several questions on one TCP connection, all written before any
/// answer is read (pipelining), and returns the answers in arrival order.
pub fn tcp_many(server: SocketAddr, messages: &[Message]) -> Vec<Message> {
    let mut connection = TcpClient::connect(server);
    for message in messages {
        connection.send(message);
    }
    messages.iter().map(|_| connection.receive()).collect()
}

/// Asks over TCP.
/// Sends `wire` as it is over UDP (or TCP) and returns the raw response.
pub fn raw(server: SocketAddr, wire: &[u8], tcp: bool) -> Vec<u8> {
    if tcp {
        let mut connection = TcpClient::connect(server);
        connection.send_raw(wire);
        connection.receive_raw()
    } else {
        udp_bytes(server, wire, Duration::from_secs(5)).expect("an answer")
    }
}

pub fn tcp(server: SocketAddr, message: &Message) -> Message {
    let response = tcp_many(server, std::slice::from_ref(message)).remove(0);
    assert_eq!(response.metadata.id, message.metadata.id, "response id");
    response
}

/// The IPv4 addresses in the answer section, in order.
pub fn a_records(message: &Message) -> Vec<String> {
    message
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0.to_string()),
            _ => None,
        })
        .collect()
}

/// Checks the header of an authoritative answer.
#[track_caller]
pub fn assert_authoritative(response: &Message, rcode: ResponseCode) {
    assert_eq!(response.metadata.response_code, rcode, "rcode; {response}");
    assert!(
        response.metadata.authoritative,
        "AA must be set; {response}"
    );
    assert!(response.metadata.recursion_available, "RA");
    assert!(response.metadata.recursion_desired, "RD echoed");
    assert!(!response.metadata.truncation, "TC");
    assert_eq!(response.metadata.message_type, MessageType::Response);
}

/// Checks that the authority section is exactly Azure's SOA for `apex`,
/// with the negative-caching TTL (10).
#[track_caller]
pub fn assert_negative_soa(response: &Message, apex: &str) {
    assert_eq!(
        response.authorities.len(),
        1,
        "authority section; {response}"
    );
    let soa = &response.authorities[0];
    assert_soa(soa, apex, 10);
}

/// Checks one SOA record against Azure's values.
#[track_caller]
pub fn assert_soa(record: &Record, apex: &str, ttl: u32) {
    assert_eq!(
        record.name,
        Name::from_ascii(apex).expect("apex"),
        "SOA owner"
    );
    assert_eq!(record.ttl, ttl, "SOA TTL");
    let RData::SOA(soa) = &record.data else {
        panic!("not an SOA: {record}");
    };
    assert_eq!(soa.mname.to_ascii(), "azureprivatedns.net.");
    assert_eq!(soa.rname.to_ascii(), "azureprivatedns-host.microsoft.com.");
    assert_eq!(soa.serial, 1);
    assert_eq!(soa.refresh, 3600);
    assert_eq!(soa.retry, 300);
    assert_eq!(soa.expire, 2_419_200);
    assert_eq!(soa.minimum, 10);
}

/// The serial of the first SOA in the answer section.
#[track_caller]
pub fn soa_serial(message: &Message) -> u32 {
    message
        .answers
        .iter()
        .find_map(|r| match &r.data {
            RData::SOA(soa) => Some(soa.serial),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no SOA in the answer: {message}"))
}
