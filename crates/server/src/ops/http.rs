//! The HTTP endpoint: `/metrics` (Prometheus text format), `/healthz`
//! (the process answers), `/readyz` (see [`Health`]), and what shows names
//! and addresses: the status page at `/` and `/api/v1/{status,missing,records}`.
//! Those are guarded by `server.http_allow` (default loopback) and, when
//! set, `server.http_token` (`Authorization: Bearer <token>`, or the token
//! as the password of a browser's Basic prompt); the probes and the scrape
//! stay open to whoever reaches `server.http`, as kubelets and Prometheus
//! need.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode, header};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::encoding::prometheus_text;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tracing::{debug, warn};

use super::api::{self, Observed};
use super::page;
use crate::store::HttpAccess;

/// A client that sends no complete request head within this is dropped.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// What the endpoint serves.
#[derive(Debug)]
pub(crate) struct HttpApp {
    pub registry: Registry,
    pub observed: Observed,
}

type Reply = Response<Full<Bytes>>;

impl HttpApp {
    fn respond(&self, request: &Request<Incoming>, peer: SocketAddr) -> Reply {
        if request.method() != Method::GET && request.method() != Method::HEAD {
            return text(StatusCode::METHOD_NOT_ALLOWED, "GET only\n");
        }
        let path = request.uri().path();
        match path {
            "/metrics" => {
                let mut body = String::with_capacity(8192);
                match prometheus_text::encode(&mut body, &self.registry) {
                    Ok(()) => with_type(body, prometheus_text::CONTENT_TYPE),
                    Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "encoding failed\n"),
                }
            }
            "/healthz" => text(StatusCode::OK, "ok\n"),
            "/readyz" => match self.observed.health.ready() {
                Ok(()) => text(StatusCode::OK, "ready\n"),
                Err(reason) => text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &format!("not ready: {reason}\n"),
                ),
            },
            "/" | "/api/v1/status" | "/api/v1/missing" | "/api/v1/records" => {
                let snapshot = self.observed.store.snapshot();
                if let Some(refusal) = refusal(&snapshot.http, request, peer) {
                    return refusal;
                }
                match path {
                    "/" => with_type(
                        page::render(&api::status(&self.observed), &api::missing(&self.observed)),
                        "text/html; charset=utf-8",
                    ),
                    "/api/v1/status" => json(&api::status(&self.observed)),
                    "/api/v1/missing" => json(&api::missing(&self.observed)),
                    _ => json(&api::records(&self.observed)),
                }
            }
            _ => text(
                StatusCode::NOT_FOUND,
                "not found; try /, /api/v1/status, /api/v1/missing, /api/v1/records, /metrics, /healthz or /readyz\n",
            ),
        }
    }
}

/// The refusal, unless `peer` may read the page and the API.
fn refusal(access: &HttpAccess, request: &Request<Incoming>, peer: SocketAddr) -> Option<Reply> {
    if !access.allow.allows(peer.ip()) {
        debug!(%peer, "HTTP client outside server.http_allow");
        return Some(text(
            StatusCode::FORBIDDEN,
            &format!("forbidden: {} is not in server.http_allow\n", peer.ip()),
        ));
    }
    let Some(token) = &access.token else {
        return None;
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(presented_token);
    match given {
        Some(given) if same(given.as_bytes(), token.as_bytes()) => None,
        other => {
            if other.is_some() {
                warn!(%peer, path = request.uri().path(), "HTTP request with a wrong token");
            }
            let mut refusal = text(
                StatusCode::UNAUTHORIZED,
                "unauthorized: send Authorization: Bearer <server.http_token>\n",
            );
            refusal.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static(
                    "Basic realm=\"privatelink-dns\", charset=\"UTF-8\"",
                ),
            );
            Some(refusal)
        }
    }
}

/// The token in `Bearer <token>`, or the password in `Basic base64(user:password)`.
fn presented_token(value: &str) -> Option<String> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.trim().to_owned());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        return decoded
            .split_once(':')
            .map(|(_, password)| password.to_owned());
    }
    None
}

/// Compares without stopping at the first difference, so that timing does
/// not tell how much of a guessed token was right.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn json<T: serde::Serialize>(value: &T) -> Reply {
    match serde_json::to_string_pretty(value) {
        Ok(body) => with_type(body + "\n", "application/json"),
        Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "encoding failed\n"),
    }
}

fn with_type(body: String, content_type: &'static str) -> Reply {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    // Names and addresses: not for shared caches.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

fn text(status: StatusCode, body: &str) -> Reply {
    let mut response = with_type(body.to_owned(), "text/plain; charset=utf-8");
    *response.status_mut() = status;
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
                let response = app.respond(&request, peer);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_come_as_bearer_or_as_a_basic_password() {
        assert_eq!(presented_token("Bearer abc").as_deref(), Some("abc"));
        // "user:s3cret"
        assert_eq!(
            presented_token("Basic dXNlcjpzM2NyZXQ=").as_deref(),
            Some("s3cret")
        );
        assert_eq!(presented_token("Digest x"), None);
        assert_eq!(presented_token("Basic !!!"), None);
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"abcd"));
    }
}
