//! SIP over TLS for SIP endpoint devices and the servers that accept them
//! (SPEC T1–T5, S2–S4).
//!
//! - [`Connector`]: the client side for one SIP domain — rustls (ring) with
//!   the [`TlsPolicy`] (TLS 1.2/1.3 floor, ECDHE-AEAD suites, AES-256-GCM
//!   first), the `sigil-trust` verifier in RFC 5922 mode (SNI = the domain),
//!   or validation off ("not verified"), the device identity for mutual TLS,
//!   a session cache shared across reconnects, an optional TLS key log to a
//!   file the integrator names.
//! - [`Acceptor`]: the server side, with a [`ClientAuth`] policy — device
//!   certificates required (SIP servers) or requested and verified when
//!   presented (a device's own listener); the peer's MAC and fingerprint come
//!   with every connection ([`TlsInfo::peer_device`]).
//! - [`SipTlsConnection`]: the sans-IO core — rustls plus the SIP stream
//!   framer with RFC 5626 keep-alive: bytes and time in, messages, events and
//!   bytes out.
//! - [`Client`] and [`Server`]: blocking `std::net` drivers. The client
//!   pings, declares the connection dead 10 s after an unanswered ping,
//!   reconnects with exponential backoff and jitter (resuming the TLS
//!   session) and reports [`ClientEvent::Reconnected`] so the registration
//!   is refreshed. The server runs one thread per connection and shuts down cleanly.
//! - [`fleet`] (feature `tokio`): the async acceptor for SIP servers facing
//!   thousands of devices — one tokio task per connection, the device
//!   verifier, keep-alive answered, limits on handshake time, idle time,
//!   connections per address and in total, and message size.
//! - [`HandshakeDiagnosis`]: why a connection could not be set up, with a
//!   one-line fix ([`HandshakeDiagnosis::fix`]).
//! - [`RegisteredClient`]: a registration kept up over a [`Client`],
//!   re-registering after every reconnect.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod acceptor;
mod client;
mod connection;
mod connector;
mod diagnosis;
mod error;
#[cfg(feature = "tokio")]
pub mod fleet;
mod policy;
mod registered;
mod server;

/// The rustls this crate is built on (for `ResolvesClientCert`, configs, errors).
pub use rustls;

pub use acceptor::{Acceptor, ClientAuth};
pub use client::{establish, resolve, Backoff, Client, ClientEvent, ClientOptions};
pub use connection::{
    ConnectionEvent, ConnectionSettings, SipTlsConnection, TlsInfo, PONG_TIMEOUT,
};
pub use connector::{server_name, Connector};
pub use diagnosis::{ClientAuthOutcome, HandshakeDiagnosis};
pub use error::{ConfigError, Error};
pub use policy::{suite_name, CipherPolicy, TlsPolicy, TlsVersion};
pub use registered::{RegisteredClient, RegisteredEvent};
pub use server::{Handler, PeerInfo, Server, ServerOptions, ShutdownHandle};
