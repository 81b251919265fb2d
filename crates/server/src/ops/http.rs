//! The HTTP endpoint: `/metrics` (Prometheus text format), `/healthz`
//! (the process answers) and `/readyz` (see [`Health`]). Bind it to loopback
//! or a management network: it has no allow-list of its own.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode, header};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::encoding::prometheus_text;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tracing::debug;

use super::health::Health;

/// A client that sends no complete request head within this is dropped.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// What the endpoint serves.
#[derive(Debug)]
pub(crate) struct HttpApp {
    pub registry: Registry,
    pub health: Arc<Health>,
}

impl HttpApp {
    fn respond(&self, request: &Request<Incoming>) -> Response<Full<Bytes>> {
        if request.method() != Method::GET && request.method() != Method::HEAD {
            return text(StatusCode::METHOD_NOT_ALLOWED, "GET only\n");
        }
        match request.uri().path() {
            "/metrics" => {
                let mut body = String::with_capacity(8192);
                match prometheus_text::encode(&mut body, &self.registry) {
                    Ok(()) => Response::builder()
                        .header(header::CONTENT_TYPE, prometheus_text::CONTENT_TYPE)
                        .body(Full::new(Bytes::from(body)))
                        .unwrap_or_else(|_| {
                            text(StatusCode::INTERNAL_SERVER_ERROR, "encoding failed\n")
                        }),
                    Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "encoding failed\n"),
                }
            }
            "/healthz" => text(StatusCode::OK, "ok\n"),
            "/readyz" => match self.health.ready() {
                Ok(()) => text(StatusCode::OK, "ready\n"),
                Err(reason) => text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &format!("not ready: {reason}\n"),
                ),
            },
            _ => text(
                StatusCode::NOT_FOUND,
                "not found; try /metrics, /healthz or /readyz\n",
            ),
        }
    }
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_owned())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Serves HTTP on `listener` until the task is dropped.
pub(crate) async fn serve(listener: TcpListener, app: Arc<HttpApp>) {
    let mut errors = crate::listen::accept::AcceptErrors::new("http");
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                errors.failed(&error).await;
                continue;
            }
        };
        errors.accepted();
        let app = app.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let response = app.respond(&request);
                async move { Ok::<_, Infallible>(response) }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(error) = connection.await {
                debug!(%peer, %error, "HTTP connection ended with an error");
            }
        });
    }
}
