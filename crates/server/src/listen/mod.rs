//! Binding the listen addresses and running the UDP and TCP listeners.

use std::io;
use std::net::SocketAddr;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::TcpListener;
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub(crate) mod accept;
pub(crate) mod activation;
mod patience;
pub(crate) mod tcp;
pub(crate) mod udp;

use crate::engine::Engine;
use tcp::TcpLimits;
use udp::UdpWorkers;

/// UDP sockets (one per worker) and a TCP listener on the same address and port.
#[derive(Debug)]
pub(crate) struct Bound {
    pub address: SocketAddr,
    udp: Vec<std::net::UdpSocket>,
    tcp: TcpListener,
}

/// Binds `workers` UDP sockets and a TCP listener on `address`. With port 0
/// the system picks a port for UDP and TCP is bound to the same one,
/// retried if another process took it in between.
pub(crate) async fn bind(address: SocketAddr, workers: usize) -> io::Result<Bound> {
    const ATTEMPTS: usize = 16;
    let mut last_error = None;
    for _ in 0..ATTEMPTS {
        let udp = udp::bind(address, workers)?;
        let bound = udp
            .first()
            .map_or(Ok(address), std::net::UdpSocket::local_addr)?;
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

/// The running listeners.
#[derive(Debug)]
pub(crate) struct Running {
    udp: Vec<UdpWorkers>,
    tcp: Vec<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    failed: mpsc::UnboundedReceiver<String>,
}

/// Starts serving `engine` on every bound address: UDP worker threads
/// and TCP listeners with their limits.
pub(crate) fn serve(
    engine: Arc<Engine>,
    sockets: Vec<Bound>,
    limits: TcpLimits,
) -> io::Result<Running> {
    let stop = Arc::new(AtomicBool::new(false));
    let (report, failed) = mpsc::unbounded_channel();
    let runtime = Handle::current();
    let mut running = Running {
        udp: Vec::with_capacity(sockets.len()),
        tcp: Vec::with_capacity(sockets.len()),
        stop: stop.clone(),
        failed,
    };
    for bound in sockets {
        running.udp.push(udp::serve(
            bound.udp,
            engine.clone(),
            runtime.clone(),
            stop.clone(),
            report.clone(),
        )?);
        running
            .tcp
            .push(tokio::spawn(tcp::serve(bound.tcp, engine.clone(), limits)));
    }
    Ok(running)
}

impl Running {
    /// Resolves if a UDP worker stops by itself (a fatal socket error).
    pub(crate) async fn block_until_done(&mut self) -> Result<(), String> {
        match self.failed.recv().await {
            Some(reason) => Err(reason),
            None => std::future::pending().await,
        }
    }

    /// Stops the listeners, then waits for the UDP queries already in the
    /// upstreams to be answered (TCP connections are closed).
    pub(crate) async fn shutdown_gracefully(self) {
        self.stop.store(true, Ordering::Relaxed);
        for task in &self.tcp {
            task.abort();
        }
        let workers = tokio::task::spawn_blocking(move || {
            let mut workers = self.udp;
            for worker in &mut workers {
                worker.join();
            }
            workers
        })
        .await
        .unwrap_or_default();
        for worker in &workers {
            worker.drained().await;
        }
    }
}
