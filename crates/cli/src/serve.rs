//! `serve`: run the server until SIGTERM or SIGINT. Everything else —
//! loading, binding, reloads on SIGHUP and file changes — is the server
//! crate's [`Server`].

use std::net::SocketAddr;
use std::path::Path;

use privatelink_server::{Options, ServeError, Server};
use tokio::signal::unix::{SignalKind, signal};
use tracing::error;

use crate::args::LogFormat;
use crate::{EXIT_INVALID, EXIT_IO, EXIT_OK};

pub(crate) fn run(
    config: &Path,
    listen: Vec<SocketAddr>,
    http: Option<SocketAddr>,
    log_format: LogFormat,
) -> u8 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("privatelink-dns: cannot start the runtime: {error}");
            return EXIT_IO;
        }
    };
    let options = Options {
        config: config.to_path_buf(),
        listen,
        http,
        log_format: match log_format {
            LogFormat::Text => privatelink_server::LogFormat::Text,
            LogFormat::Json => privatelink_server::LogFormat::Json,
        },
    };
    match runtime.block_on(serve(options)) {
        Ok(()) => EXIT_OK,
        Err(ServeError::Invalid) => EXIT_INVALID,
        Err(ServeError::Io(_)) => EXIT_IO,
    }
}

async fn serve(options: Options) -> Result<(), ServeError> {
    // Installed before the sockets are bound: a stop signal sent as soon
    // as the server says it listens must stop it gracefully.
    let (mut terminate, mut interrupt) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(terminate), Ok(interrupt)) => (terminate, interrupt),
        (Err(error), _) | (_, Err(error)) => {
            error!(%error, "cannot install signal handlers");
            return Err(ServeError::Io(error.to_string()));
        }
    };
    let server = Server::bind(options).await?;
    server
        .run(async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
        })
        .await
}
