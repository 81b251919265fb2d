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
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::time::timeout;
use tracing::debug;

use crate::engine::{Engine, Received, Sink, Step};
use crate::wire::Transport;

/// Queries of one connection being answered at once.
pub(crate) const PIPELINE: usize = 16;
/// Bytes read from a connection at once.
const READ_BUFFER: usize = 8 << 10;
/// Answers queued for a connection are written together up to this size.
const WRITE_BATCH: usize = 16 << 10;

/// The limits of the TCP listener.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TcpLimits {
    pub max_connections: usize,
    pub idle_timeout: Duration,
}

/// Accepts connections on `listener` until the task is dropped.
pub(crate) async fn serve(listener: TcpListener, engine: Arc<Engine>, limits: TcpLimits) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
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
        tokio::spawn(async move {
            connection(stream, peer, engine, limits.idle_timeout).await;
            drop(slot);
        });
    }
}

async fn connection(stream: TcpStream, peer: SocketAddr, engine: Arc<Engine>, idle: Duration) {
    let _ = stream.set_nodelay(true);
    let (reader, mut writer) = stream.into_split();
    // Pipelined queries arrive several to a segment: read them in one call.
    let mut reader = BufReader::with_capacity(READ_BUFFER, reader);
    let (frames, mut outgoing) = mpsc::channel::<Vec<u8>>(PIPELINE);
    let writing = tokio::spawn(async move {
        let mut batch = Vec::with_capacity(WRITE_BATCH);
        while let Some(frame) = outgoing.recv().await {
            batch.clear();
            batch.extend_from_slice(&frame);
            // Answers already queued go out in the same write.
            while batch.len() < WRITE_BATCH {
                match outgoing.try_recv() {
                    Ok(more) => batch.extend_from_slice(&more),
                    Err(_) => break,
                }
            }
            // A client that does not read would hold the connection (and
            // its queued answers) for ever: it gets the idle timeout too.
            match timeout(idle, writer.write_all(&batch)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return,
                Err(_) => {
                    debug!(%peer, ?idle, "closing a TCP connection whose client does not read");
                    return;
                }
            }
        }
        let _ = writer.shutdown().await;
    });
    let in_flight = Arc::new(Semaphore::new(PIPELINE));
    let mut out = Vec::with_capacity(512);
    loop {
        let mut length = [0u8; 2];
        match timeout(idle, reader.read_exact(&mut length)).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => break,
            Err(_) => {
                debug!(%peer, ?idle, "closing an idle TCP connection");
                break;
            }
        }
        let mut message = vec![0u8; usize::from(u16::from_be_bytes(length))];
        match timeout(idle, reader.read_exact(&mut message)).await {
            Ok(Ok(_)) => {}
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
                if frames.send(framed(&out)).await.is_err() {
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
                let mut responder = TcpResponder {
                    frames: frames.clone(),
                };
                tokio::spawn(async move {
                    engine.finish(*pending, &mut responder).await;
                    drop(permit);
                });
            }
        }
    }
    // The writer ends once every answer in flight has been queued.
    drop(frames);
    let _ = writing.await;
}

fn framed(wire: &[u8]) -> Vec<u8> {
    let length = u16::try_from(wire.len()).unwrap_or(u16::MAX);
    let mut frame = Vec::with_capacity(wire.len() + 2);
    frame.extend_from_slice(&length.to_be_bytes());
    frame.extend_from_slice(wire);
    frame
}

/// Queues encoded responses for the connection's writer.
#[derive(Clone)]
struct TcpResponder {
    frames: mpsc::Sender<Vec<u8>>,
}

#[async_trait::async_trait]
impl Sink for TcpResponder {
    async fn send(&mut self, wire: Vec<u8>) {
        if self.frames.send(framed(&wire)).await.is_err() {
            debug!("the TCP connection closed before its answer was written");
        }
    }
}
