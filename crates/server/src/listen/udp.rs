//! DNS over UDP: one socket per worker thread on the same address
//! (`SO_REUSEPORT`, so the kernel spreads clients over them), each served by
//! a blocking loop that receives and sends batches (`recvmmsg`/`sendmmsg`).
//! Every datagram goes through the [`Engine`] right there; only queries
//! that wait for an upstream are handed to the async runtime. At most
//! [`MAX_PENDING`] such queries are in progress; past that, datagrams are
//! dropped (and counted) rather than queued without bound under a flood.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::socket::{
    ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg,
};
use tokio::runtime::Handle;
use tokio::sync::{Semaphore, mpsc};
use tracing::{debug, error};

use crate::engine::{Engine, Pending, Received, Sent, Sink, Step};
use crate::wire::Transport;

/// Queries waiting for upstreams at once, per listen address.
pub(crate) const MAX_PENDING: usize = 4096;
/// Largest datagram read; queries are far smaller.
const BUFFER: usize = 4096;
/// Receive buffer asked for each socket.
const RECEIVE_BUFFER: usize = 4 << 20;
/// Datagrams received (and answers sent) per system call.
const BATCH: usize = 32;
/// How often a worker looks up from `recv` to see whether to stop.
pub(crate) const POLL: Duration = Duration::from_millis(100);

/// Binds `count` UDP sockets to `address` with `SO_REUSEPORT`; port 0 gets
/// one system-chosen port for all of them.
pub(crate) fn bind(address: SocketAddr, count: usize) -> io::Result<Vec<UdpSocket>> {
    let first = reuseport_socket(address)?;
    let bound = first.local_addr()?;
    let mut sockets = vec![first];
    for _ in 1..count.max(1) {
        sockets.push(reuseport_socket(bound)?);
    }
    Ok(sockets)
}

fn reuseport_socket(address: SocketAddr) -> io::Result<UdpSocket> {
    use socket2::{Domain, Protocol as SocketProtocol, Socket, Type};
    let socket = Socket::new(
        Domain::for_address(address),
        Type::DGRAM,
        Some(SocketProtocol::UDP),
    )?;
    socket.set_reuse_port(true)?;
    // Room for bursts while a worker is off the CPU: the default (about
    // 200 KiB) holds only a few hundred queries. The kernel caps it at
    // net.core.rmem_max, which is fine.
    if let Err(error) = socket.set_recv_buffer_size(RECEIVE_BUFFER) {
        debug!(%error, "cannot enlarge the UDP receive buffer");
    }
    socket.bind(&address.into())?;
    let socket: UdpSocket = socket.into();
    socket.set_read_timeout(Some(POLL))?;
    Ok(socket)
}

/// The running UDP workers of one address.
#[derive(Debug)]
pub(crate) struct UdpWorkers {
    threads: Vec<JoinHandle<()>>,
    pending: Arc<Semaphore>,
}

impl UdpWorkers {
    /// Joins the worker threads (after `stop` is set).
    pub(crate) fn join(&mut self) {
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }

    /// Resolves once no query of these workers waits for an upstream.
    pub(crate) async fn drained(&self) {
        let all = u32::try_from(MAX_PENDING).unwrap_or(u32::MAX);
        let _ = self.pending.acquire_many(all).await;
    }
}

/// Starts one worker thread per socket. A worker that stops on its own
/// (a fatal socket error) reports on `failed`.
pub(crate) fn serve(
    sockets: Vec<UdpSocket>,
    engine: Arc<Engine>,
    runtime: Handle,
    stop: Arc<AtomicBool>,
    failed: mpsc::UnboundedSender<String>,
) -> io::Result<UdpWorkers> {
    let pending = Arc::new(Semaphore::new(MAX_PENDING));
    let mut threads = Vec::with_capacity(sockets.len());
    for (index, socket) in sockets.into_iter().enumerate() {
        let worker = Worker {
            socket: Arc::new(socket),
            engine: engine.clone(),
            runtime: runtime.clone(),
            pending: pending.clone(),
        };
        let (stop, failed) = (stop.clone(), failed.clone());
        threads.push(
            std::thread::Builder::new()
                .name(format!("udp-{index}"))
                .spawn(move || {
                    if let Err(reason) = worker.run(&stop) {
                        error!(%reason, "a UDP worker stopped");
                        let _ = failed.send(reason);
                    }
                })?,
        );
    }
    Ok(UdpWorkers { threads, pending })
}

struct Worker {
    socket: Arc<UdpSocket>,
    engine: Arc<Engine>,
    runtime: Handle,
    pending: Arc<Semaphore>,
}

impl Worker {
    /// Receives up to [`BATCH`] datagrams per system call, answers them
    /// through the engine, sends those answers with one system call, and
    /// hands the queries that wait for an upstream to the runtime.
    fn run(&self, stop: &AtomicBool) -> Result<(), String> {
        let fd = self.socket.as_raw_fd();
        let mut buffers = vec![[0u8; BUFFER]; BATCH];
        let mut received: Vec<(usize, SocketAddr)> = Vec::with_capacity(BATCH);
        let mut answers: Vec<Vec<u8>> = (0..BATCH).map(|_| Vec::with_capacity(512)).collect();
        let mut destinations: Vec<Option<SockaddrStorage>> = Vec::with_capacity(BATCH);
        let mut outgoing: Vec<usize> = Vec::with_capacity(BATCH);
        let mut notes: Vec<Sent> = Vec::with_capacity(BATCH);
        let mut receive_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
        let mut send_headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
        while !stop.load(Ordering::Relaxed) {
            received.clear();
            {
                let mut slices: Vec<[IoSliceMut<'_>; 1]> =
                    buffers.iter_mut().map(|b| [IoSliceMut::new(b)]).collect();
                match recvmmsg(
                    fd,
                    &mut receive_headers,
                    slices.iter_mut(),
                    MsgFlags::MSG_WAITFORONE,
                    None,
                ) {
                    Ok(messages) => {
                        for message in messages {
                            if let Some(peer) = message.address.and_then(|a| socket_addr(&a)) {
                                received.push((message.bytes, peer));
                            }
                        }
                    }
                    Err(Errno::EAGAIN | Errno::EINTR | Errno::ECONNREFUSED) => continue,
                    Err(error) => return Err(error.to_string()),
                }
            }
            outgoing.clear();
            destinations.clear();
            let at = Instant::now();
            for (index, &(len, peer)) in received.iter().enumerate() {
                let query = Received {
                    message: &buffers[index][..len.min(BUFFER)],
                    client: peer,
                    transport: Transport::Udp,
                    at,
                };
                match self.engine.answer(&query, &mut answers[index]) {
                    Step::Respond(sent) => {
                        outgoing.push(index);
                        destinations.push(Some(SockaddrStorage::from(peer)));
                        notes.push(sent);
                    }
                    Step::Drop => {}
                    Step::Pending(pending) => self.wait_for_upstream(*pending, peer),
                }
            }
            send_all(fd, &mut send_headers, &answers, &outgoing, &destinations);
            self.engine.sent_all(&mut notes);
        }
        Ok(())
    }

    /// Hands a query to the runtime, within [`MAX_PENDING`].
    fn wait_for_upstream(&self, pending: Pending, peer: SocketAddr) {
        let Ok(permit) = self.pending.clone().try_acquire_owned() else {
            self.engine.metrics().udp_overflow();
            return;
        };
        let engine = self.engine.clone();
        let mut responder = UdpResponder {
            socket: self.socket.clone(),
            peer,
        };
        self.runtime.spawn(async move {
            engine.finish(pending, &mut responder).await;
            drop(permit);
        });
    }
}

/// Sends the answers named by `outgoing` with as few system calls as the
/// kernel allows. A batch the kernel takes only in part is sent on from
/// where it stopped, and an answer it refuses (one bad destination) is
/// skipped, so one peer never costs the others their answers.
fn send_all(
    fd: std::os::fd::RawFd,
    headers: &mut MultiHeaders<SockaddrStorage>,
    answers: &[Vec<u8>],
    outgoing: &[usize],
    destinations: &[Option<SockaddrStorage>],
) {
    let mut from = 0;
    while from < outgoing.len() {
        let slices: Vec<[IoSlice<'_>; 1]> = outgoing[from..]
            .iter()
            .map(|&i| [IoSlice::new(&answers[i])])
            .collect();
        let controls: [ControlMessage<'_>; 0] = [];
        match sendmmsg(
            fd,
            headers,
            slices.iter(),
            &destinations[from..],
            controls,
            MsgFlags::empty(),
        ) {
            Ok(sent) => from += sent.count().max(1),
            Err(Errno::EINTR) => {}
            Err(error) => {
                debug!(%error, destination = ?destinations[from], "UDP send failed");
                from += 1;
            }
        }
    }
}

/// A received address as a std socket address.
fn socket_addr(address: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = address.as_sockaddr_in() {
        return Some(SocketAddr::V4((*v4).into()));
    }
    address
        .as_sockaddr_in6()
        .map(|v6| SocketAddr::V6((*v6).into()))
}

/// Sends one response back to the client it came from.
#[derive(Clone)]
struct UdpResponder {
    socket: Arc<UdpSocket>,
    peer: SocketAddr,
}

impl UdpResponder {
    fn send_to_peer(&self, wire: &[u8]) {
        if let Err(error) = self.socket.send_to(wire, self.peer) {
            debug!(peer = %self.peer, %error, "UDP send failed");
        }
    }
}

#[async_trait::async_trait]
impl Sink for UdpResponder {
    async fn send(&mut self, wire: Vec<u8>) {
        self.send_to_peer(&wire);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One destination the kernel refuses (an IPv6 address on an IPv4
    /// socket) in the middle of a batch: the answers after it still go out.
    #[test]
    fn a_refused_destination_does_not_cost_the_rest_of_the_batch() {
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        let first = UdpSocket::bind("127.0.0.1:0").unwrap();
        let last = UdpSocket::bind("127.0.0.1:0").unwrap();
        for socket in [&first, &last] {
            socket
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
        }
        let answers = vec![b"one".to_vec(), b"two".to_vec(), b"three".to_vec()];
        let nowhere: SocketAddr = "[::1]:53".parse().unwrap();
        let destinations: Vec<Option<SockaddrStorage>> = [
            first.local_addr().unwrap(),
            nowhere,
            last.local_addr().unwrap(),
        ]
        .into_iter()
        .map(|address| Some(SockaddrStorage::from(address)))
        .collect();
        let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(3, None);
        send_all(
            sender.as_raw_fd(),
            &mut headers,
            &answers,
            &[0, 1, 2],
            &destinations,
        );
        let mut buffer = [0u8; 16];
        let (len, _) = first.recv_from(&mut buffer).unwrap();
        assert_eq!(&buffer[..len], b"one");
        let (len, _) = last.recv_from(&mut buffer).unwrap();
        assert_eq!(&buffer[..len], b"three");
    }
}
