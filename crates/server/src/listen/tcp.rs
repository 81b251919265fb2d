//! DNS over TCP (RFC 7766), served here rather than by hickory-server, whose
//! TCP loop has no connection limit and answers a connection's queries one
//! after another. Each message goes through the [`Engine`] as it is read,
//! as UDP ones do; a connection may pipeline queries, and those that wait
//! for an upstream are answered concurrently (up to [`PIPELINE`] at once)
//! and in whatever order they finish. At most `tcp_max_connections`
//! connections are served at once; further ones wait in the kernel's
//! backlog. A connection with nothing to read for `tcp_idle_timeout` is
//! closed, and so is one whose client has not taken an answer for as long.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tracing::debug;

use super::patience::Patience;
use crate::engine::{Engine, Received, Sink, Step};
use crate::wire::Transport;

/// Queries of one connection being answered at once.
pub(crate) const PIPELINE: usize = 16;
/// Bytes read from a connection at once.
const READ_BUFFER: usize = 8 << 10;
/// The kernel's send buffer per connection (it doubles the figure for its
/// own bookkeeping): four of the largest DNS messages.
const SEND_BUFFER: usize = 128 << 10;
/// Bytes of answers queued or being written per connection. 16 KiB keeps
/// over a hundred typical answers in flight for a pipelining client, while
/// 1,024 clients that never read cost 16 MiB, not their answers' worth
/// (issue 18: 1.3 GB before any bound).
const OUTPUT_BOUND: usize = 16 << 10;

/// The limits of the TCP listener.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TcpLimits {
    pub max_connections: usize,
    pub idle_timeout: Duration,
}

/// Accepts connections on `listener` until the task is dropped.
pub(crate) async fn serve(listener: TcpListener, engine: Arc<Engine>, limits: TcpLimits) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let patience = Patience::new(limits.idle_timeout, slots.clone(), limits.max_connections);
    let mut errors = super::accept::AcceptErrors::new("tcp");
    loop {
        // Take a slot first: past the limit, connections wait in the backlog.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                errors.failed(&error).await;
                continue;
            }
        };
        errors.accepted();
        let engine = engine.clone();
        let patience = patience.clone();
        tokio::spawn(async move {
            let open = engine.metrics().tcp_connections.clone();
            open.inc();
            connection(stream, peer, engine, patience).await;
            open.dec();
            drop(slot);
        });
    }
}

async fn connection(stream: TcpStream, peer: SocketAddr, engine: Arc<Engine>, patience: Patience) {
    let _ = stream.set_nodelay(true);
    // Left to autotuning, the kernel buffers up to 4 MiB (tcp_wmem) of
    // answers per connection a client does not read: 4 GiB of kernel memory
    // for 1,024 such clients. A fixed buffer also makes the writer block,
    // and so time out, after that much.
    let _ = socket2::SockRef::from(&stream).set_send_buffer_size(SEND_BUFFER);
    let (reader, writer) = stream.into_split();
    // Pipelined queries arrive several to a segment: read them in one call.
    let mut reader = BufReader::with_capacity(READ_BUFFER, reader);
    let (output, outgoing) = Output::new();
    let mut writing = tokio::spawn(write_answers(
        writer,
        outgoing,
        output.room.clone(),
        peer,
        patience.clone(),
    ));
    // Set when the writer ended first: the connection is over.
    let mut writer_ended = None;
    let in_flight = Arc::new(Semaphore::new(PIPELINE));
    let mut out = Vec::with_capacity(512);
    loop {
        let mut length = [0u8; 2];
        let read = tokio::select! {
            read = patience.wait(reader.read_exact(&mut length)) => read,
            ended = &mut writing => {
                writer_ended = Some(ended);
                break;
            }
        };
        match read {
            Some(Ok(_)) => {}
            Some(Err(_)) => break,
            None => {
                debug!(%peer, limit = ?patience.limit(), "closing an idle TCP connection");
                engine.metrics().tcp_closed("idle");
                break;
            }
        }
        let mut message = vec![0u8; usize::from(u16::from_be_bytes(length))];
        match patience.wait(reader.read_exact(&mut message)).await {
            Some(Ok(_)) => {}
            _ => break,
        }
        let received = Received {
            message: &message,
            client: peer,
            transport: Transport::Tcp,
            at: Instant::now(),
        };
        match engine.answer(&received, &mut out) {
            Step::Respond(sent) => {
                if !output.queue(&out).await {
                    break;
                }
                engine.sent(sent);
            }
            Step::Drop => {}
            Step::Pending(pending) => {
                let Ok(permit) = in_flight.clone().acquire_owned().await else {
                    break;
                };
                let engine = engine.clone();
                let mut responder = output.clone();
                tokio::spawn(async move {
                    engine.finish(*pending, &mut responder).await;
                    drop(permit);
                });
            }
        }
    }
    // The writer ends once every answer in flight has been queued.
    drop(output);
    let ended = match writer_ended {
        Some(ended) => ended,
        None => writing.await,
    };
    if let Ok(Closed::NotReading) = ended {
        engine.metrics().tcp_closed("not_reading");
    }
}

/// How a connection's writer ended.
enum Closed {
    /// Every answer was written (or the client went away).
    Done,
    /// The client took no answer for the idle timeout.
    NotReading,
}

/// Writes queued answers, several to a write, until every [`Output`] is
/// gone or the client stops taking them.
async fn write_answers(
    mut writer: OwnedWriteHalf,
    mut outgoing: mpsc::UnboundedReceiver<Queued>,
    room: Arc<Semaphore>,
    peer: SocketAddr,
    patience: Patience,
) -> Closed {
    let mut closed = Closed::Done;
    let mut batch = Vec::new();
    let mut held = Vec::new();
    while let Some(Queued { frame, room }) = outgoing.recv().await {
        held.push(room);
        // Answers already queued go out in the same write.
        let wire = match outgoing.try_recv() {
            Err(_) => frame,
            Ok(more) => {
                batch.clear();
                batch.extend_from_slice(&frame);
                drop(frame);
                batch.extend_from_slice(&more.frame);
                held.push(more.room);
                while let Ok(more) = outgoing.try_recv() {
                    batch.extend_from_slice(&more.frame);
                    held.push(more.room);
                }
                std::mem::take(&mut batch)
            }
        };
        // A client that does not read would hold the connection (and its
        // queued answers) for ever: it gets the idle timeout too.
        let written = patience.wait(writer.write_all(&wire)).await;
        held.clear();
        match written {
            Some(Ok(())) => {}
            Some(Err(_)) => break,
            None => {
                debug!(%peer, limit = ?patience.limit(), "closing a TCP connection whose client does not read");
                closed = Closed::NotReading;
                break;
            }
        }
        // The batch's buffer is kept for the next one unless it grew large.
        if wire.capacity() <= OUTPUT_BOUND {
            batch = wire;
        }
    }
    // Whoever waits for room learns that the connection is gone.
    room.close();
    let _ = writer.shutdown().await;
    closed
}

fn framed(wire: &[u8]) -> Vec<u8> {
    let length = u16::try_from(wire.len()).unwrap_or(u16::MAX);
    let mut frame = Vec::with_capacity(wire.len() + 2);
    frame.extend_from_slice(&length.to_be_bytes());
    frame.extend_from_slice(wire);
    frame
}

/// One framed answer and the room it takes until it is written.
struct Queued {
    frame: Vec<u8>,
    room: OwnedSemaphorePermit,
}

/// The answers of one connection on their way to its writer, bounded in
/// bytes: [`OUTPUT_BOUND`] at most are queued or being written, so a client
/// that reads slowly or not at all costs that much memory, not its answers'
/// worth. An answer larger than the bound waits until nothing else is queued.
#[derive(Clone)]
struct Output {
    frames: mpsc::UnboundedSender<Queued>,
    room: Arc<Semaphore>,
}

impl Output {
    fn new() -> (Self, mpsc::UnboundedReceiver<Queued>) {
        let (frames, outgoing) = mpsc::unbounded_channel();
        let room = Arc::new(Semaphore::new(OUTPUT_BOUND));
        (Self { frames, room }, outgoing)
    }

    /// Queues one answer once there is room; false when the writer is gone.
    async fn queue(&self, wire: &[u8]) -> bool {
        let size = u32::try_from((wire.len() + 2).min(OUTPUT_BOUND)).unwrap_or(u32::MAX);
        let Ok(room) = self.room.clone().acquire_many_owned(size).await else {
            return false;
        };
        self.frames
            .send(Queued {
                frame: framed(wire),
                room,
            })
            .is_ok()
    }
}

#[async_trait::async_trait]
impl Sink for Output {
    async fn send(&mut self, wire: Vec<u8>) {
        if !self.queue(&wire).await {
            debug!("the TCP connection closed before its answer was written");
        }
    }
}
