//! One question to one upstream: UDP first, TCP when the answer is truncated.
//!
//! The UDP socket comes from the [`SocketPool`] (connected, reused for a
//! few clean exchanges). An answer is accepted only when it comes from the
//! upstream's address (a connected socket), carries our random id, is a response, and repeats our
//! question; anything else is ignored as spoofed or stale, and the wait goes
//! on until the attempt's deadline.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
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
        let mut message = Message::query();
        message.metadata.id = id;
        message.metadata.recursion_desired = true;
        message.metadata.checking_disabled = checking_disabled;
        message.add_query(question.clone());
        let mut edns = Edns::new();
        edns.set_max_payload(MAX_UDP_PAYLOAD);
        edns.set_dnssec_ok(dnssec_ok);
        message.set_edns(edns);
        let wire = message
            .to_vec()
            .map_err(|e| ExchangeError::Encode(e.to_string()))?;
        Ok(Self {
            id,
            question: question.clone(),
            wire,
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

    use hickory_proto::op::Message;
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
