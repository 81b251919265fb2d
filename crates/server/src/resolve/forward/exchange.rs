//! One question to one upstream: UDP first, TCP when the answer is truncated.
//!
//! The UDP socket comes from the [`SocketPool`] (connected, reused for a
//! few clean exchanges). An answer is accepted only when it comes from the
//! upstream's address (a connected socket), carries our random id, is a
//! response, and repeats our question; anything else is ignored as spoofed
//! or stale, and the wait goes on until the attempt's deadline.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

use super::sockets::SocketPool;
use crate::wire::edns::MAX_UDP_PAYLOAD;

/// Why an attempt produced no usable answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExchangeError {
    #[error("no answer before the deadline")]
    Timeout,
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("cannot encode the query: {0}")]
    Encode(String),
    #[error("the TCP answer does not match the query ({0})")]
    Mismatch(&'static str),
    #[error("the TCP answer is not a DNS message: {0}")]
    Malformed(String),
}

impl ExchangeError {
    /// The metrics label of this failure.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Io(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::ConnectionRefused
                        | io::ErrorKind::NetworkUnreachable
                        | io::ErrorKind::HostUnreachable
                ) =>
            {
                "unreachable"
            }
            Self::Io(_) | Self::Encode(_) => "io",
            Self::Mismatch(_) => "mismatch",
            Self::Malformed(_) => "malformed",
        }
    }
}

/// The query sent upstream, encoded once per attempt with a fresh id.
#[derive(Debug)]
pub(crate) struct UpstreamQuery {
    id: u16,
    question: Query,
    wire: Vec<u8>,
}

impl UpstreamQuery {
    /// A recursive query for `question`, with EDNS (our payload size, the
    /// client's DO) and the client's CD bit.
    pub(crate) fn new(
        question: &Query,
        dnssec_ok: bool,
        checking_disabled: bool,
    ) -> Result<Self, ExchangeError> {
        let id = rand::random::<u16>();
        Ok(Self {
            id,
            question: question.clone(),
            wire: query_wire(id, question, dnssec_ok, checking_disabled)?,
        })
    }

    /// Why `message` is not the answer to this query, if it is not.
    fn mismatch(&self, message: &Message) -> Option<&'static str> {
        if message.metadata.id != self.id {
            return Some("wrong id");
        }
        if message.metadata.message_type != MessageType::Response
            || message.metadata.op_code != OpCode::Query
        {
            return Some("not a query response");
        }
        match message.queries.as_slice() {
            [q] if q.name() == self.question.name()
                && q.query_type() == self.question.query_type()
                && q.query_class() == self.question.query_class() =>
            {
                None
            }
            _ => Some("wrong question"),
        }
    }
}

/// The query's wire form, written directly: building a hickory `Message`
/// and encoding it was 6 % of the miss path's CPU (perf). Byte for byte
/// what hickory writes (a test holds the two together): header with RD
/// and the client's CD, the question, and an OPT record with our payload
/// size and the client's DO.
fn query_wire(
    id: u16,
    question: &Query,
    dnssec_ok: bool,
    checking_disabled: bool,
) -> Result<Vec<u8>, ExchangeError> {
    const RECURSION_DESIRED: u16 = 0x0100;
    const CHECKING_DISABLED: u16 = 0x0010;
    const OPT: u16 = 41;
    const DNSSEC_OK: u16 = 0x8000;
    let mut flags = RECURSION_DESIRED;
    if checking_disabled {
        flags |= CHECKING_DISABLED;
    }
    let mut wire = Vec::with_capacity(12 + 255 + 4 + 11);
    for field in [id, flags, 1, 0, 0, 1] {
        wire.extend_from_slice(&field.to_be_bytes());
    }
    for label in question.name().iter() {
        let len = u8::try_from(label.len())
            .ok()
            .filter(|len| *len <= 63)
            .ok_or_else(|| ExchangeError::Encode("a label is longer than 63 bytes".into()))?;
        wire.push(len);
        wire.extend_from_slice(label);
    }
    wire.push(0);
    if wire.len() - 12 > 255 {
        return Err(ExchangeError::Encode(
            "the name is longer than 255 bytes".into(),
        ));
    }
    let do_bit = if dnssec_ok { DNSSEC_OK } else { 0 };
    for field in [
        u16::from(question.query_type()),
        u16::from(question.query_class()),
    ] {
        wire.extend_from_slice(&field.to_be_bytes());
    }
    // OPT: root owner, type, payload size as class, extended rcode and
    // version 0, the flags, no options.
    wire.push(0);
    for field in [OPT, MAX_UDP_PAYLOAD, 0, do_bit, 0] {
        wire.extend_from_slice(&field.to_be_bytes());
    }
    Ok(wire)
}

/// Asks `upstream`, over UDP and then TCP if the UDP answer is truncated,
/// until `deadline`.
pub(crate) async fn exchange(
    sockets: &SocketPool,
    upstream: SocketAddr,
    query: &UpstreamQuery,
    deadline: Instant,
    discarded: &AtomicU64,
) -> Result<Message, ExchangeError> {
    let answer = timeout_at(deadline, udp(sockets, upstream, query, discarded))
        .await
        .map_err(|_| ExchangeError::Timeout)??;
    if !answer.metadata.truncation {
        return Ok(answer);
    }
    timeout_at(deadline, tcp(upstream, query))
        .await
        .map_err(|_| ExchangeError::Timeout)?
}

async fn udp(
    sockets: &SocketPool,
    upstream: SocketAddr,
    query: &UpstreamQuery,
    discarded: &AtomicU64,
) -> Result<Message, ExchangeError> {
    let mut socket = sockets.take(upstream).await?;
    socket.send(&query.wire).await?;
    loop {
        // An ICMP port unreachable from our datagram: nobody listens.
        let datagram = socket.recv().await?;
        let len = datagram.len();
        let Ok(message) = Message::from_vec(datagram) else {
            discarded.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%upstream, len, "ignoring an undecodable datagram from the upstream");
            continue;
        };
        match query.mismatch(&message) {
            None => {
                // Only a clean exchange frees the socket for the next query;
                // dropped with the future otherwise (a timeout), it closes.
                sockets.give_back(socket);
                return Ok(message);
            }
            Some(reason) => {
                discarded.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%upstream, reason, "ignoring a datagram that does not answer our query");
            }
        }
    }
}

async fn tcp(upstream: SocketAddr, query: &UpstreamQuery) -> Result<Message, ExchangeError> {
    let mut stream = TcpStream::connect(upstream).await?;
    let len = u16::try_from(query.wire.len())
        .map_err(|_| ExchangeError::Encode("query too long".into()))?;
    let mut framed = Vec::with_capacity(query.wire.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(&query.wire);
    stream.write_all(&framed).await?;
    let mut length = [0u8; 2];
    stream.read_exact(&mut length).await?;
    let mut buffer = vec![0u8; usize::from(u16::from_be_bytes(length))];
    stream.read_exact(&mut buffer).await?;
    let message =
        Message::from_vec(&buffer).map_err(|e| ExchangeError::Malformed(e.to_string()))?;
    match query.mismatch(&message) {
        None => Ok(message),
        Some(reason) => Err(ExchangeError::Mismatch(reason)),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hickory_proto::op::{Edns, Message};
    use hickory_proto::rr::{Name, RecordType};

    use super::*;

    fn question() -> Query {
        Query::query(Name::from_ascii("a.example.com.").unwrap(), RecordType::A)
    }

    /// Answers the next query on `server` with NOERROR, empty.
    async fn answer_one(server: &tokio::net::UdpSocket) {
        let mut buffer = [0u8; 512];
        let (len, peer) = server.recv_from(&mut buffer).await.unwrap();
        let query = Message::from_vec(&buffer[..len]).unwrap();
        let mut answer = query.clone();
        answer.metadata.message_type = MessageType::Response;
        server
            .send_to(&answer.to_vec().unwrap(), peer)
            .await
            .unwrap();
    }

    /// The query as hickory would encode it (what was sent before).
    fn hickory_wire(
        id: u16,
        question: &Query,
        dnssec_ok: bool,
        checking_disabled: bool,
    ) -> Vec<u8> {
        let mut message = Message::query();
        message.metadata.id = id;
        message.metadata.recursion_desired = true;
        message.metadata.checking_disabled = checking_disabled;
        message.add_query(question.clone());
        let mut edns = Edns::new();
        edns.set_max_payload(MAX_UDP_PAYLOAD);
        edns.set_dnssec_ok(dnssec_ok);
        message.set_edns(edns);
        message.to_vec().unwrap()
    }

    #[test]
    fn the_query_is_written_byte_for_byte_as_hickory_writes_it() {
        let names = [
            "a.example.com.",
            "Mixed-Case.PrivateLink.Blob.Core.Windows.Net.",
            ".",
            "x.",
            &format!(
                "{}.{}.{}.{}.",
                "a".repeat(63),
                "b".repeat(63),
                "c".repeat(63),
                "d".repeat(61)
            ),
        ];
        for name in names {
            for rtype in [
                RecordType::A,
                RecordType::AAAA,
                RecordType::SOA,
                RecordType::TXT,
                RecordType::Unknown(65280),
            ] {
                for (dnssec_ok, checking_disabled) in
                    [(false, false), (true, false), (false, true), (true, true)]
                {
                    let question = Query::query(Name::from_ascii(name).unwrap(), rtype);
                    assert_eq!(
                        query_wire(0xbeef, &question, dnssec_ok, checking_disabled).unwrap(),
                        hickory_wire(0xbeef, &question, dnssec_ok, checking_disabled),
                        "{name} {rtype} DO={dnssec_ok} CD={checking_disabled}"
                    );
                }
            }
        }
    }

    #[tokio::test]
    async fn only_a_socket_whose_exchange_succeeded_is_reused() {
        let server = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let upstream = server.local_addr().unwrap();
        let sockets = SocketPool::default();
        let discarded = AtomicU64::new(0);
        let query = UpstreamQuery::new(&question(), false, false).unwrap();

        // No answer: the attempt times out and its socket is closed, since
        // the answer may still come.
        let deadline = Instant::now() + Duration::from_millis(50);
        let result = exchange(&sockets, upstream, &query, deadline, &discarded).await;
        assert!(matches!(result, Err(ExchangeError::Timeout)), "{result:?}");
        assert_eq!(sockets.idle(), 0);
        let mut late = [0u8; 512];
        let _ = server.recv_from(&mut late).await.unwrap();

        let deadline = Instant::now() + Duration::from_secs(5);
        let query = UpstreamQuery::new(&question(), false, false).unwrap();
        let (answer, _) = tokio::join!(
            exchange(&sockets, upstream, &query, deadline, &discarded),
            answer_one(&server)
        );
        assert_eq!(answer.unwrap().metadata.id, query.id);
        assert_eq!(sockets.idle(), 1);
        assert_eq!(sockets.opened(), 2);
    }
}
