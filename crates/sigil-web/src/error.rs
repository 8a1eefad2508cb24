//! The error type of this crate.

/// Why the web interface could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source} (is another program using the port, or is it below 1024 without privileges?)")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The web certificate (`certs/httpd.pem`) could not be loaded or made.
    #[error("web certificate: {0}")]
    Certificate(String),
    /// The TLS configuration could not be built.
    #[error("TLS configuration: {0}")]
    Tls(String),
    /// The server thread or runtime could not be started.
    #[error("cannot start the web server: {0}")]
    Start(std::io::Error),
}
