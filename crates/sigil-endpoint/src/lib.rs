//! The device: a data directory composed into a running SIP endpoint (SPEC E1–E8).
//!
//! At its heart is [`device::Device`], a sans-IO state machine: the driver
//! carries out its [`Transmit`](device::Transmit)s (connect, send, bind),
//! feeds back what the network did ([`Input`](device::Input)) and the time,
//! and reads [`Event`]s. Here the network is in memory and the SIP server
//! across it is a sigil-sip-tls [`Acceptor`](sigil_sip_tls::Acceptor) that
//! requires device certificates and answers every request with 200 OK:
//!
//! ```
//! use std::sync::Arc;
//! use std::time::{Instant, SystemTime};
//! use sigil_endpoint::device::{Device, Event, Input, Transmit};
//! use sigil_endpoint::DeviceConfig;
//! use sigil_identity::mint::{mint_device, mint_server, DeviceRequest, Minted, ServerRequest, VendorCa};
//! use sigil_identity::{ClientCertResolver, DeviceVerifier, Identity, Mac};
//! use sigil_sip::{Header, HeaderName, Message, Request, Response};
//! use sigil_sip_tls::{Acceptor, ClientAuth, ConnectionEvent, TlsPolicy};
//!
//! // A vendor PKI: the device's factory identity and the SIP server's certificate.
//! let vendor = VendorCa::generate("Example Devices")?;
//! let mac = Mac::parse("00:22:ee:01:02:03")?;
//! let identity = |m: Minted| Identity::from_pem(m.full_chain_pem().as_bytes(), Some(m.key_pem().as_bytes()), "minted");
//! let device_identity = identity(mint_device(&vendor, &DeviceRequest::new(mac))?)?;
//! let server_identity = identity(mint_server(&vendor, &ServerRequest::new(["sip.example.com"]))?)?;
//!
//! // The device: its settings, trust store (the vendor root) and identity.
//! let settings = sigil_provisioning::Settings::parse("config.conf", b"sip.proxy = sip.example.com\nsip.u1.user = 1001\n")
//!     .map_err(|errors| errors[0].to_string())?
//!     .settings;
//! let store = sigil_trust::TrustStore::builder().vendor_bytes("vendor", vendor.root_pem().as_bytes())?.build();
//! let mut config = DeviceConfig::new(settings, Arc::new(store), SystemTime::now());
//! config.client_identity = Some(Arc::new(ClientCertResolver::new([device_identity])));
//! let now = Instant::now();
//! let mut device = Device::new(config, now)?;
//!
//! // The server's end of the connection.
//! let verifier = Arc::new(DeviceVerifier::new(&[vendor.root_der()?])?);
//! let acceptor = Acceptor::new(&server_identity, ClientAuth::Required(verifier), &TlsPolicy::default())?;
//! let mut server = acceptor.connection(now, Default::default())?;
//!
//! // The driver loop (bounded here; a real one runs until Event::Stopped).
//! let (mut link, mut events) = (None, Vec::new());
//! for _ in 0..10 {
//!     while let Some(transmit) = device.poll_transmit() {
//!         match transmit {
//!             Transmit::Connect { conn, server: to, .. } => {
//!                 assert_eq!(to, "sip.example.com:5061"); // a real driver resolves and connects
//!                 let (local, peer) = ("192.0.2.10:49152".parse()?, "203.0.113.5:5061".parse()?);
//!                 device.handle_input(Input::Connected { conn, local, peer }, now);
//!                 link = Some(conn);
//!             }
//!             Transmit::Send { data, .. } => server.handle_input(&data, now)?,
//!             other => panic!("not in this example: {other:?}"),
//!         }
//!     }
//!     while let Some(event) = server.poll_event() {
//!         if let ConnectionEvent::Message(Message::Request(request)) = event {
//!             server.send(&Message::Response(ok(&request)?))?;
//!         }
//!     }
//!     let (conn, data) = (link.ok_or("no connection")?, server.take_transmit());
//!     device.handle_input(Input::Received { conn, data: &data }, now);
//!     events.extend(std::iter::from_fn(|| device.poll_event()));
//! }
//!
//! // Connected with mutual TLS, server verified; registered as 1001.
//! assert!(events.iter().any(|e| matches!(e,
//!     Event::Connected { tls: Some(tls), .. } if tls.verification_status() == "verified")));
//! assert!(events.iter().any(|e| matches!(e,
//!     Event::Registered { aor, .. } if aor == "sip:1001@sip.example.com")));
//!
//! /// The server's answer: 200 OK with the transaction's headers and the binding.
//! fn ok(request: &Request) -> Result<Response, sigil_sip::HeaderError> {
//!     let mut ok = Response::new(200, "OK");
//!     for name in [HeaderName::Via, HeaderName::From, HeaderName::To, HeaderName::CallId, HeaderName::CSeq, HeaderName::Contact] {
//!         for value in request.headers.get_all(&name) {
//!             ok.headers.push(Header::new(name.clone(), value)?);
//!         }
//!     }
//!     ok.headers.push(Header::new(HeaderName::Expires, "600")?);
//!     Ok(ok)
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! With the built-in blocking driver, a device boots from its data
//! directory and runs in a few lines (`examples/register.rs` does this
//! against a registrar on 127.0.0.1):
//!
//! ```no_run
//! use sigil_endpoint::{CallOptions, DeviceDir, RunOptions};
//!
//! let dir = DeviceDir::open("/data/device")?;
//! let running = dir
//!     .boot(RunOptions::default(), &mut |step| println!("{step}"))
//!     .map_err(|f| f.error)?;
//! let call = running.call_and_wait("sip:1002@pbx.example.com", CallOptions::default())?;
//! println!("{}: {} packets sent, {} received", call.media, call.stats.packets_sent, call.stats.packets_received);
//! println!("{}", running.shutdown().to_json());
//! # Ok::<(), sigil_endpoint::EndpointError>(())
//! ```
//!
//! - [`device::Device`]: the sans-IO device — registration, keep-alive,
//!   reconnect, calls, offer/answer, SRTP, media, inbound policy — driven by
//!   `handle_input` / `handle_timeout` / `poll_transmit` / `poll_event` /
//!   `poll_timeout`. Put it in your own event loop, or use
//! - [`driver`]: the blocking `mio` driver and its handle [`RunningDevice`]
//!   (dial, answer, hang up, DTMF, status), with [`driver::CallAudio`] for
//!   the audio of calls; with the `tokio` feature, the async driver
//!   `driver::tokio` and its handle `AsyncDevice` (`DeviceDir::boot_async`).
//! - [`DeviceDir`]: the data directory (`factory/`, `user/`):
//!   [`DeviceDir::offline_status`], [`DeviceDir::prepare`] (boot steps 1–4),
//!   [`DeviceDir::boot`] (all of them, then the driver),
//!   [`DeviceDir::factory_reset`].
//! - [`status`]: [`DeviceStatus`] and its parts, serialisable to JSON.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod boot;
pub mod device;
mod dir;
pub mod driver;
mod error;
pub mod provision;
pub mod status;

pub use boot::{BootFailure, RunOptions};
pub use device::{CallId, Device, DeviceConfig, Event};
pub use dir::{DataDir, DeviceDir, Prepared};
#[cfg(feature = "tokio")]
pub use driver::tokio::{AsyncDevice, DeviceDriver};
pub use driver::{CallAudio, CallOptions, EventSink, FileAudio, Record, RunningDevice, ToneAudio};
pub use error::EndpointError;
pub use status::{
    BootStep, CallDirection, CallStatus, ConnectionStatus, DeviceStatus, ListenerStatus, Outcome,
    ProvisioningStatus, RegistrationStatus, TrustSummary,
};
