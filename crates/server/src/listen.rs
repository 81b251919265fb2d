//! Binding the listen addresses and running the hickory-server loops.

use std::io;
use std::net::SocketAddr;

use std::sync::Arc;

use hickory_server::Server;
use hickory_server::net::NetError;
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

use crate::handler::{Handler, SharedHandler};
use crate::tcp::TcpLimits;

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

/// The running listeners: hickory-server's UDP loops and our TCP listeners.
pub struct Running {
    udp: Server<SharedHandler>,
    tcp: Vec<JoinHandle<()>>,
}

/// Starts serving `handler` on every bound address: UDP through
/// hickory-server, TCP through [`crate::tcp`] with its limits.
pub fn serve(handler: Arc<Handler>, sockets: Vec<Bound>, limits: TcpLimits) -> Running {
    let mut udp = Server::new(SharedHandler(handler.clone()));
    let mut tcp = Vec::with_capacity(sockets.len());
    for bound in sockets {
        udp.register_socket(bound.udp);
        tcp.push(tokio::spawn(crate::tcp::serve(
            bound.tcp,
            handler.clone(),
            limits,
        )));
    }
    Running { udp, tcp }
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("tcp_listeners", &self.tcp.len())
            .finish()
    }
}

impl Running {
    /// Resolves if a UDP loop stops by itself (a socket error).
    pub async fn block_until_done(&mut self) -> Result<(), NetError> {
        self.udp.block_until_done().await
    }

    /// Stops accepting, lets UDP queries in flight finish, and closes TCP.
    pub async fn shutdown_gracefully(&mut self) -> Result<(), NetError> {
        for task in &self.tcp {
            task.abort();
        }
        self.udp.shutdown_gracefully().await
    }
}
