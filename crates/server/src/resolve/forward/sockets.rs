//! Connected UDP sockets to upstreams, reused for a few queries each.
//!
//! Opening a socket per query (socket, bind, connect, registering it with
//! the runtime's poller, then deregistering and closing it) was 15 % of the
//! server's CPU time on the miss path (perf, `bench/misses.py --profile`).
//! A socket that has just carried a clean exchange goes back to its
//! upstream's idle list and carries the next query, up to [`MAX_USES`]
//! queries and [`MAX_AGE`]; then it is closed and a new one takes a new
//! random source port. Port randomisation still holds per socket: an
//! off-path attacker must guess a port that lives for seconds and the query's
//! random id, and every answer is still checked against the id and the
//! question (a late answer to an earlier query on the same socket is
//! discarded, as any stray datagram is). A socket whose exchange failed or
//! timed out is never reused: an answer or an ICMP error may still arrive
//! for it.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::Instant;

/// Queries one socket carries before it is closed.
pub(crate) const MAX_USES: u32 = 32;
/// How long after it was opened a socket is closed.
pub(crate) const MAX_AGE: Duration = Duration::from_secs(10);
/// Idle sockets kept per upstream; more are closed at once. It bounds the
/// descriptors held to about the budget's pending queries.
pub(crate) const MAX_IDLE: usize = 256;

/// Largest UDP answer read; we advertise less (EDNS payload 1,232).
const RECEIVE_BUFFER: usize = 4096;

/// A connected socket, with its use so far.
#[derive(Debug)]
pub(crate) struct UpstreamSocket {
    socket: UdpSocket,
    upstream: SocketAddr,
    uses: u32,
    opened: Instant,
    /// The receive buffer, kept with the socket rather than allocated per query.
    buffer: Vec<u8>,
}

impl UpstreamSocket {
    #[cfg(test)]
    fn socket(&self) -> &UdpSocket {
        &self.socket
    }

    pub(crate) async fn send(&self, wire: &[u8]) -> io::Result<()> {
        self.socket.send(wire).await.map(drop)
    }

    /// The next datagram from the upstream.
    pub(crate) async fn recv(&mut self) -> io::Result<&[u8]> {
        let len = self.socket.recv(&mut self.buffer).await?;
        Ok(&self.buffer[..len])
    }

    fn worn(&self, now: Instant) -> bool {
        self.uses >= MAX_USES || now.saturating_duration_since(self.opened) >= MAX_AGE
    }
}

/// Idle connected sockets per upstream.
#[derive(Debug, Default)]
pub(crate) struct SocketPool {
    idle: Mutex<HashMap<SocketAddr, Vec<UpstreamSocket>>>,
    /// Sockets opened so far, for tests and metrics.
    opened: std::sync::atomic::AtomicU64,
}

impl SocketPool {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<SocketAddr, Vec<UpstreamSocket>>) -> T) -> T {
        match self.idle.lock() {
            Ok(mut guard) => f(&mut guard),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// A socket connected to `upstream`: an idle one that is not worn out,
    /// or a new one on a random port.
    pub(crate) async fn take(&self, upstream: SocketAddr) -> io::Result<UpstreamSocket> {
        let now = Instant::now();
        let mut worn = Vec::new();
        let reused = self.with(|idle| {
            let sockets = idle.get_mut(&upstream)?;
            while let Some(socket) = sockets.pop() {
                if !socket.worn(now) {
                    return Some(socket);
                }
                worn.push(socket);
            }
            None
        });
        // Closed outside the lock, as in `give_back`.
        drop(worn);
        if let Some(mut socket) = reused {
            socket.uses += 1;
            return Ok(socket);
        }
        let local = match upstream.ip() {
            IpAddr::V4(_) => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
            IpAddr::V6(_) => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
        };
        let socket = UdpSocket::bind(local).await?;
        // Connected: the kernel delivers only the upstream's datagrams.
        socket.connect(upstream).await?;
        self.opened
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(UpstreamSocket {
            socket,
            upstream,
            uses: 1,
            opened: now,
            buffer: vec![0; RECEIVE_BUFFER],
        })
    }

    /// Returns a socket after a clean exchange, unless it is worn out or
    /// enough sockets to its upstream are idle.
    pub(crate) fn give_back(&self, socket: UpstreamSocket) {
        if socket.worn(Instant::now()) {
            return;
        }
        let rejected = self.with(|idle| {
            let sockets = idle.entry(socket.upstream).or_default();
            if sockets.len() >= MAX_IDLE {
                return Some(socket);
            }
            sockets.push(socket);
            None
        });
        // Closed outside the lock.
        drop(rejected);
    }

    /// Sockets opened since the start.
    pub(crate) fn opened(&self) -> u64 {
        self.opened.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Idle sockets held now.
    pub(crate) fn idle(&self) -> usize {
        self.with(|idle| idle.values().map(Vec::len).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn upstream() -> (UdpSocket, SocketAddr) {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let address = socket.local_addr().unwrap();
        (socket, address)
    }

    #[tokio::test]
    async fn a_returned_socket_carries_the_next_query_from_the_same_port() {
        let pool = SocketPool::default();
        let (_server, address) = upstream().await;
        let first = pool.take(address).await.unwrap();
        let port = first.socket().local_addr().unwrap().port();
        pool.give_back(first);
        let second = pool.take(address).await.unwrap();
        assert_eq!(second.socket().local_addr().unwrap().port(), port);
        assert_eq!(second.uses, 2);
        assert_eq!(pool.opened(), 1);
    }

    #[tokio::test]
    async fn a_socket_is_closed_after_its_uses_and_a_new_port_is_taken() {
        let pool = SocketPool::default();
        let (_server, address) = upstream().await;
        let mut socket = pool.take(address).await.unwrap();
        for _ in 1..MAX_USES {
            pool.give_back(socket);
            socket = pool.take(address).await.unwrap();
        }
        assert_eq!(pool.opened(), 1);
        assert_eq!(socket.uses, MAX_USES);
        pool.give_back(socket);
        assert_eq!(pool.idle(), 0, "a worn-out socket is closed, not kept");
        let fresh = pool.take(address).await.unwrap();
        assert_eq!(pool.opened(), 2);
        assert_eq!(fresh.uses, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn an_old_idle_socket_is_not_reused() {
        let pool = SocketPool::default();
        let (_server, address) = upstream().await;
        let socket = pool.take(address).await.unwrap();
        pool.give_back(socket);
        tokio::time::advance(MAX_AGE).await;
        let socket = pool.take(address).await.unwrap();
        assert_eq!(socket.uses, 1);
        assert_eq!(pool.opened(), 2);
    }

    #[tokio::test]
    async fn idle_sockets_per_upstream_are_bounded() {
        let pool = SocketPool::default();
        let (_server, address) = upstream().await;
        let mut taken = Vec::new();
        for _ in 0..MAX_IDLE + 3 {
            taken.push(pool.take(address).await.unwrap());
        }
        for socket in taken {
            pool.give_back(socket);
        }
        assert_eq!(pool.idle(), MAX_IDLE);
    }
}
