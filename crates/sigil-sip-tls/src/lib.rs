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
//!
//! # A device and a SIP server, sans-IO
//!
//! Both sides are [`SipTlsConnection`]s: bytes from the socket in, SIP
//! messages out. Here the device (a [`Connector`] with its factory identity)
//! and the server (an [`Acceptor`] requiring the vendor's device
//! certificates) talk in memory; a driver would move the same bytes over TCP
//! (the blocking [`Client`] and [`Server`] do).
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Instant;
//! use sigil_identity::mint::{mint_device, mint_server, DeviceRequest, ServerRequest, VendorCa};
//! use sigil_identity::{ClientCertResolver, DeviceVerifier, Identity, Mac};
//! use sigil_sip::Message;
//! use sigil_sip_tls::{Acceptor, ClientAuth, ConnectionEvent, Connector, SipTlsConnection, TlsPolicy};
//!
//! // The vendor PKI, a device and the SIP server's certificate for the domain.
//! let vendor = VendorCa::generate("Example Devices")?;
//! let mac = Mac::parse("00:22:ee:01:02:03")?;
//! let identity = |minted: sigil_identity::mint::Minted| {
//!     Identity::from_pem(minted.full_chain_pem().as_bytes(), Some(minted.key_pem().as_bytes()), "minted")
//! };
//! let device = identity(mint_device(&vendor, &DeviceRequest::new(mac))?)?;
//! let server_id = identity(mint_server(&vendor, &ServerRequest::new(["example.com"]))?)?;
//!
//! // The device trusts the vendor root and connects to the SIP domain example.com.
//! let store = sigil_trust::TrustStore::builder()
//!     .vendor_bytes("vendor root", vendor.root_pem().as_bytes())?
//!     .build();
//! let policy = TlsPolicy::default(); // TLS 1.2+, ECDHE-AEAD only, server verified
//! let connector = Connector::new("example.com", &policy, Arc::new(store), Some(Arc::new(ClientCertResolver::new([device]))))?;
//! // The server requires a device certificate chaining to the vendor root.
//! let verifier = Arc::new(DeviceVerifier::new(&[vendor.root_der()?])?);
//! let acceptor = Acceptor::new(&server_id, ClientAuth::Required(verifier), &policy)?;
//!
//! let now = Instant::now();
//! let mut client = connector.connection(now, Default::default())?;
//! let mut server = acceptor.connection(now, Default::default())?;
//! client.send(&sigil_sip::parse(
//!     b"OPTIONS sip:example.com SIP/2.0\r\nVia: SIP/2.0/TLS 192.0.2.10;branch=z9hG4bK1\r\n\
//!       From: <sip:1001@example.com>;tag=1\r\nTo: <sip:example.com>\r\nCall-ID: c1\r\n\
//!       CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
//! )?)?; // queued until the handshake is done
//!
//! // Move bytes both ways until neither side has anything to say.
//! let (mut at_client, mut at_server) = (Vec::new(), Vec::new());
//! loop {
//!     let (to_server, to_client) = (client.take_transmit(), server.take_transmit());
//!     if to_server.is_empty() && to_client.is_empty() {
//!         break;
//!     }
//!     server.handle_input(&to_server, now)?;
//!     client.handle_input(&to_client, now)?;
//!     while let Some(event) = server.poll_event() {
//!         if let ConnectionEvent::Message(Message::Request(request)) = &event {
//!             let mut ok = sigil_sip::Response::new(200, "OK");
//!             ok.headers = request.headers.clone();
//!             server.send(&Message::Response(ok))?;
//!         }
//!         at_server.push(event);
//!     }
//!     at_client.extend(std::iter::from_fn(|| client.poll_event()));
//! }
//!
//! // The device verified the server (RFC 5922: the certificate names example.com) …
//! let ConnectionEvent::Connected(info) = &at_client[0] else { panic!("{at_client:?}") };
//! assert_eq!(info.verification_status(), "verified");
//! assert!(info.client_auth.as_ref().is_some_and(|sent| sent.sent()));
//! assert!(matches!(&at_client[1], ConnectionEvent::Message(Message::Response(r)) if r.status == 200));
//! // … and the server knows which device it is talking to.
//! let ConnectionEvent::Connected(info) = &at_server[0] else { panic!("{at_server:?}") };
//! assert_eq!(info.peer_device.as_ref().and_then(|d| d.mac), Some(mac));
//! assert!(matches!(&at_server[1], ConnectionEvent::Message(Message::Request(r)) if r.method == sigil_sip::Method::Options));
//! println!("{} {}", info.version, info.cipher_suite); // TLSv1.3 TLS13_AES_256_GCM_SHA384
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `examples/registrar.rs` runs a [`Server`] and a [`Client`] over TCP on
//! 127.0.0.1: a device registering with a server that requires device
//! certificates.
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
