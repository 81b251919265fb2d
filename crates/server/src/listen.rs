//! Binding the listen addresses and running the hickory-server loops.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use hickory_server::Server;
use tokio::net::{TcpListener, UdpSocket};

use crate::handler::Handler;

/// How long a TCP client may stay idle before its connection is closed.
pub const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Responses queued per TCP connection.
const TCP_RESPONSE_BUFFER: usize = 32;

/// A UDP socket and a TCP listener on the same address and port.
#[derive(Debug)]
pub struct Bound {
    pub address: SocketAddr,
    udp: UdpSocket,
    tcp: TcpListener,
}

/// Binds UDP and TCP on `address`. With port 0 the system picks a port for
/// UDP and TCP is bound to the same one, retried if another process took it
/// in between.
pub async fn bind(address: SocketAddr) -> io::Result<Bound> {
    const ATTEMPTS: usize = 16;
    let mut last_error = None;
    for _ in 0..ATTEMPTS {
        let udp = UdpSocket::bind(address).await?;
        let bound = udp.local_addr()?;
        match TcpListener::bind(bound).await {
            Ok(tcp) => {
                return Ok(Bound {
                    address: bound,
                    udp,
                    tcp,
                });
            }
            Err(error) if address.port() == 0 && error.kind() == io::ErrorKind::AddrInUse => {
                last_error = Some(error);
            }
            Err(error) => return Err(error),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no port free for both UDP and TCP")))
}

/// Starts serving `handler` on every bound address; the returned server
/// runs until `shutdown_gracefully` is called on it.
pub fn serve(handler: Handler, sockets: Vec<Bound>) -> Server<Handler> {
    let mut server = Server::new(handler);
    for bound in sockets {
        server.register_socket(bound.udp);
        server.register_listener(bound.tcp, TCP_IDLE_TIMEOUT, TCP_RESPONSE_BUFFER);
    }
    server
}
