//! The accept loop. The simulator is served by hand (tokio listener + hyper-util's auto builder,
//! HTTP/1.1 and h2c) rather than `axum::serve` so that a "drop" fault can really drop the
//! connection: the service future then fails, and hyper closes the connection without writing a
//! response (for HTTP/2 the stream is reset).
//!
//! Before the router, each request is classified, counted and checked against the faults
//! (`faults.rs`); a trailing slash is removed from the path (Rails ignored it too).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use http::uri::PathAndQuery;
use http::{HeaderValue, Request, Response, Uri, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tower::ServiceExt as _;

use super::Sim;
use super::faults::{Endpoint, Outcome, fault_body};

/// How long shutdown waits for open connections to finish their requests.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// The error that makes hyper drop a connection (an injected "drop" fault).
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by an injected fault")]
pub struct Dropped;

/// Accepts connections until `shutdown` turns true, then lets open connections finish (bounded).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    sim: Arc<Sim>,
    mut shutdown: watch::Receiver<bool>,
) {
    let builder = Arc::new(auto::Builder::new(TokioExecutor::new()));
    // Each connection task holds a sender; when all are gone, `recv` returns `None`.
    let (alive_tx, mut alive_rx) = mpsc::channel::<Infallible>(1);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(connection(
                        stream,
                        Arc::clone(&builder),
                        router.clone(),
                        Arc::clone(&sim),
                        shutdown.clone(),
                        alive_tx.clone(),
                    ));
                }
                Err(err) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::debug!(error = %err, "sim accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            () = stopped(&mut shutdown) => break,
        }
    }
    drop(listener);
    drop(alive_tx);
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, alive_rx.recv()).await;
}

async fn connection(
    stream: tokio::net::TcpStream,
    builder: Arc<auto::Builder<TokioExecutor>>,
    router: Router,
    sim: Arc<Sim>,
    mut shutdown: watch::Receiver<bool>,
    _alive: mpsc::Sender<Infallible>,
) {
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        handle(Arc::clone(&sim), router.clone(), req)
    });
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let mut closing = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(err) = result {
                    tracing::debug!(error = %err, "sim connection ended with an error");
                }
                break;
            }
            () = stopped(&mut shutdown), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

async fn handle(
    sim: Arc<Sim>,
    router: Router,
    req: Request<Incoming>,
) -> Result<Response<Body>, Dropped> {
    let req = strip_trailing_slash(req.map(Body::new));
    if let Some(endpoint) = Endpoint::classify(req.uri().path()) {
        sim.stats.count(endpoint);
        let plan = sim.faults.plan(endpoint);
        if !plan.delay.is_zero() {
            tokio::time::sleep(plan.delay).await;
        }
        match plan.outcome {
            Some(Outcome::Drop) => return Err(Dropped),
            Some(Outcome::Respond { status, body }) => {
                let (content_type, bytes) = fault_body(status, body);
                let mut response = Response::new(Body::from(bytes));
                *response.status_mut() = status;
                response
                    .headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
                return Ok(response);
            }
            None => {}
        }
    }
    match router.oneshot(req).await {
        Ok(response) => Ok(response),
        Err(never) => match never {},
    }
}

/// Resolves once shutdown is requested. If the handle was dropped without a shutdown, never: the
/// server then runs as long as the runtime does.
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    if shutdown.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

fn strip_trailing_slash(mut req: Request<Body>) -> Request<Body> {
    let path = req.uri().path();
    if path.len() <= 1 || !path.ends_with('/') {
        return req;
    }
    let trimmed = path.trim_end_matches('/');
    let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
    let rebuilt = match req.uri().query() {
        Some(q) => format!("{trimmed}?{q}"),
        None => trimmed.to_owned(),
    };
    let mut parts = req.uri().clone().into_parts();
    if let Ok(pq) = PathAndQuery::try_from(rebuilt) {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
    req
}
