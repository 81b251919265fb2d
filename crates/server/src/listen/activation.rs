//! Sockets systemd opened for the server (socket activation,
//! `sd_listen_fds(3)`): `privatelink-dns.socket` binds port 53 as root and
//! hands the sockets over, so the service needs no capability, and they
//! stay open across restarts (queries wait in the kernel meanwhile).
//!
//! Each address must come as a UDP socket and a TCP listener
//! (`ListenDatagram=` and `ListenStream=` with the same address). The
//! descriptors are taken with the `listenfd` crate, which checks that
//! each is the socket type asked for.

use std::io;
use std::net::{SocketAddr, TcpListener, UdpSocket};

use listenfd::ListenFd;

use super::Bound;
use super::udp::POLL;

/// The sockets systemd passed, paired by address, with `workers` handles
/// on each UDP socket; `None` when none were passed.
pub(crate) fn inherited(workers: usize) -> io::Result<Option<Vec<Bound>>> {
    let mut fds = ListenFd::from_env();
    if fds.len() == 0 {
        return Ok(None);
    }
    let mut udp: Vec<(SocketAddr, UdpSocket)> = Vec::new();
    let mut tcp: Vec<(SocketAddr, TcpListener)> = Vec::new();
    for index in 0..fds.len() {
        if let Ok(Some(socket)) = fds.take_udp_socket(index) {
            udp.push((socket.local_addr()?, socket));
        } else if let Ok(Some(listener)) = fds.take_tcp_listener(index) {
            tcp.push((listener.local_addr()?, listener));
        } else {
            return Err(io::Error::other(format!(
                "systemd passed descriptor {} that is neither a UDP nor a TCP socket: use ListenDatagram= and ListenStream=",
                index + 3
            )));
        }
    }
    let mut bound = Vec::with_capacity(udp.len());
    for (address, socket) in udp {
        let Some(at) = tcp
            .iter()
            .position(|(tcp_address, _)| *tcp_address == address)
        else {
            return Err(io::Error::other(format!(
                "systemd passed a UDP socket on {address} without a TCP one: add ListenStream={address}"
            )));
        };
        let (_, listener) = tcp.swap_remove(at);
        listener.set_nonblocking(true)?;
        socket.set_read_timeout(Some(POLL))?;
        // One handle per worker thread on the one socket.
        let mut sockets = Vec::with_capacity(workers.max(1));
        for _ in 1..workers.max(1) {
            sockets.push(socket.try_clone()?);
        }
        sockets.push(socket);
        bound.push(Bound {
            address,
            udp: sockets,
            tcp: tokio::net::TcpListener::from_std(listener)?,
        });
    }
    if let Some((address, _)) = tcp.first() {
        return Err(io::Error::other(format!(
            "systemd passed a TCP socket on {address} without a UDP one: add ListenDatagram={address}"
        )));
    }
    Ok(Some(bound))
}
