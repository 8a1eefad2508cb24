//! The server: a thread with a current-thread tokio runtime accepting TLS
//! connections (at most [`MAX_CONNECTIONS`] at once, handshake and request
//! headers bounded in time), hyper's HTTP/1.1 on each, and axum's router.
//! Every answer gets the security headers; a body announced larger than
//! [`MAX_BODY`](crate::MAX_BODY) is refused before it is read.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit};
use axum::http::{header, HeaderValue, Request, Response, StatusCode};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;
use tower_service::Service;

use crate::auth::{RateLimit, Sessions};
use crate::error::WebError;
use crate::state::AppState;
use crate::tls::{server_config, WebCert};
use crate::{DeviceControl, WebConfig, MAX_BODY};

/// Most connections served at once; further ones wait in the accept queue.
pub const MAX_CONNECTIONS: usize = 32;
/// Time a client has to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a client has to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// `Content-Security-Policy` of every answer: everything from the device
/// itself, no script at all, no framing.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The running admin interface. Dropping it (or [`WebServer::shutdown`])
/// stops it.
#[derive(Debug)]
pub struct WebServer {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

impl WebServer {
    /// Loads (or generates) `certs/httpd.pem`, binds `config.listen` and
    /// serves on a thread of its own.
    ///
    /// # Errors
    ///
    /// The address cannot be bound, the certificate cannot be loaded or made,
    /// or the thread cannot start.
    pub fn start(config: WebConfig, device: Arc<dyn DeviceControl>) -> Result<WebServer, WebError> {
        let cert = Arc::new(WebCert::load(&config)?);
        let tls = TlsAcceptor::from(Arc::new(server_config(cert.clone())?));
        let listener =
            std::net::TcpListener::bind(config.listen).map_err(|source| WebError::Bind {
                addr: config.listen,
                source,
            })?;
        listener.set_nonblocking(true).map_err(WebError::Start)?;
        let addr = listener.local_addr().map_err(WebError::Start)?;
        let state = Arc::new(AppState {
            config,
            device,
            sessions: Mutex::new(Sessions::default()),
            limiter: Mutex::new(RateLimit::default()),
            cert,
            changes: Mutex::new(()),
        });
        let (stop, stopped) = watch::channel(false);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .max_blocking_threads(4)
            .thread_name("sigil-web-blocking")
            .build()
            .map_err(WebError::Start)?;
        let thread = std::thread::Builder::new()
            .name("sigil-web".into())
            .spawn(move || {
                runtime.block_on(async move {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => serve(listener, tls, state, stopped).await,
                        Err(e) => log::error!("web interface: {e}"),
                    }
                });
            })
            .map_err(WebError::Start)?;
        log::info!("web interface on https://{addr}");
        Ok(WebServer {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, ends the connections, and waits (at most 5 s) for the thread.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            // Bounded by the deadline.
            while !thread.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        self.stop_now();
    }
}

async fn serve(
    listener: tokio::net::TcpListener,
    tls: TlsAcceptor,
    state: Arc<AppState>,
    mut stopped: watch::Receiver<bool>,
) {
    let router = router(state);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stopped.changed() => return,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                log::warn!("web interface: accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let tls = tls.clone();
        let router = router.clone();
        let mut stop = stopped.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(tcp)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    log::debug!("web interface: TLS handshake with {peer} failed: {e}");
                    return;
                }
                Err(_) => return,
            };
            let service =
                hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                    let mut router = router.clone();
                    async move { Ok::<_, Infallible>(handle(&mut router, peer, request).await) }
                });
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(64 * 1024);
            let connection = http.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = stop.changed() => {}
            }
        });
    }
}

/// One request: the early size check, the router, the security headers.
async fn handle(
    router: &mut Router,
    peer: SocketAddr,
    mut request: Request<hyper::body::Incoming>,
) -> Response<Body> {
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut response = if announced.is_some_and(|n| n > MAX_BODY as u64) {
        crate::api::too_large()
    } else {
        request.extensions_mut().insert(ConnectInfo(peer));
        match router.call(request).await {
            Ok(r) => r,
            Err(never) => match never {},
        }
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

fn router(state: Arc<AppState>) -> Router {
    crate::api::routes()
        .merge(crate::pages::routes())
        .fallback(crate::pages::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// `413 Payload Too Large` as JSON.
pub(crate) fn status_json(status: StatusCode, error: &str) -> Response<Body> {
    let body = serde_json::json!({ "error": error }).to_string();
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}
