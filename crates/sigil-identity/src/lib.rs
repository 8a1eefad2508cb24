//! Device identity and mutual TLS for SIP endpoint devices (SPEC ID1–ID8).
//!
//! A device has up to three identities:
//!
//! - the **factory identity** (IEEE 802.1AR IDevID): `device.pem` (device
//!   certificate, then the vendor intermediate) and `device.key` on a
//!   read-only [`FactoryPartition`]; its subject CN is the device MAC;
//! - the **override** (LDevID): `certs/sipclient.pem` in the [`UserStore`],
//!   certificate (+ chain) and key in one PEM, used instead of the factory
//!   identity when valid;
//! - the **web certificate** `certs/httpd.pem`, generated self-signed on first
//!   use when absent ([`UserStore::web_identity`]).
//!
//! [`IdentitySet::load`] loads and checks them, never fails (problems land in
//! [`IdentityStatus`], serialisable to JSON), and gives a rustls
//! [`ClientCertResolver`] for the client side of mutual TLS.
//!
//! For the server side — a SIP or provisioning server accepting this vendor's
//! devices — [`DeviceVerifier`] is a rustls `ClientCertVerifier` requiring a
//! certificate chaining to the vendor root; [`PeerDevice`] names the device of
//! an accepted connection and [`Refusal`] says why one was refused. That part
//! needs nothing else from Sigil (build with `default-features = false` to drop
//! minting).
//!
//! The [`mint`] module (feature `mint`, on by default) creates vendor PKIs and
//! device and server certificates; it also backs the generation of `httpd.pem`.
//!
//! Keys: PKCS#8, SEC1 (`EC PRIVATE KEY`) and PKCS#1 (`RSA PRIVATE KEY`) PEM;
//! ECDSA P-256/P-384, RSA 2048–4096 (ring accepts up to 8192), Ed25519.
//! Key bytes read from files are held in buffers wiped on drop; the parsed key
//! lives inside ring's signing key and is never printed or logged.
//!
//! # Both ends of mutual TLS
//!
//! A vendor mints a PKI and a device's factory partition (feature `mint`);
//! the device presents its factory identity in a rustls client
//! configuration; the SIP server accepts it with [`DeviceVerifier`] in its
//! rustls server configuration and learns which device connected. Here both
//! ends shake hands in memory:
//!
//! ```
//! # #[cfg(feature = "mint")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use rustls::pki_types::pem::PemObject;
//! use rustls::pki_types::{CertificateDer, PrivateKeyDer};
//! use sigil_identity::mint::{mint_device, mint_server, DeviceRequest, ServerRequest, VendorCa};
//! use sigil_identity::{ActiveIdentity, DeviceVerifier, FactoryPartition, IdentitySet, Mac, PeerDevice, UserStore};
//!
//! // Manufacturing: the vendor PKI and one device's factory partition.
//! let vendor = VendorCa::generate("Example Devices")?;
//! let mac = Mac::parse("00:22:EE:01:02:03")?;
//! let data = tempfile::tempdir()?;
//! mint_device(&vendor, &DeviceRequest::new(mac))?.write_factory(&data.path().join("factory"))?;
//!
//! // The device: load its identities and present the factory one as TLS client.
//! let identities = IdentitySet::load(
//!     &FactoryPartition::new(data.path().join("factory")),
//!     &UserStore::new(data.path().join("user")),
//! );
//! assert_eq!(identities.status().active, ActiveIdentity::Factory);
//! assert_eq!(identities.mac(), Some(mac));
//! let provider = Arc::new(rustls::crypto::ring::default_provider());
//! let mut roots = rustls::RootCertStore::empty();
//! roots.add(vendor.root_der()?)?;
//! let client_config = rustls::ClientConfig::builder_with_provider(provider.clone())
//!     .with_safe_default_protocol_versions()?
//!     .with_root_certificates(roots)
//!     .with_client_cert_resolver(identities.client_resolver());
//!
//! // The SIP server: only devices of this vendor get in.
//! let verifier = Arc::new(DeviceVerifier::new(&[vendor.root_der()?])?);
//! let server = mint_server(&vendor, &ServerRequest::new(["sip.example.com"]))?;
//! let server_config = rustls::ServerConfig::builder_with_provider(provider)
//!     .with_safe_default_protocol_versions()?
//!     .with_client_cert_verifier(verifier.clone())
//!     .with_single_cert(
//!         CertificateDer::pem_slice_iter(server.full_chain_pem().as_bytes()).collect::<Result<_, _>>()?,
//!         PrivateKeyDer::from_pem_slice(server.key_pem().as_bytes())?,
//!     )?;
//!
//! // The handshake (over a socket in real life; in memory here).
//! let mut client: rustls::Connection =
//!     rustls::ClientConnection::new(Arc::new(client_config), "sip.example.com".try_into()?)?.into();
//! let mut server: rustls::Connection = rustls::ServerConnection::new(Arc::new(server_config))?.into();
//! while client.is_handshaking() || server.is_handshaking() {
//!     transfer(&mut client, &mut server)?;
//!     transfer(&mut server, &mut client)?;
//! }
//! fn transfer(from: &mut rustls::Connection, to: &mut rustls::Connection) -> Result<(), Box<dyn std::error::Error>> {
//!     let mut wire = Vec::new();
//!     from.write_tls(&mut wire)?;
//!     let mut wire = &wire[..];
//!     while !wire.is_empty() {
//!         to.read_tls(&mut wire)?;
//!     }
//!     to.process_new_packets()?;
//!     Ok(())
//! }
//!
//! // Which device connected, and through which vendor root.
//! let device = PeerDevice::from_peer_certificates(server.peer_certificates())?;
//! assert_eq!(device.mac, Some(mac));
//! assert_eq!(device.issuer, "O=Example Devices, CN=Example Devices Device CA");
//! let checked = verifier.identify(server.peer_certificates(), rustls::pki_types::UnixTime::now())?;
//! assert_eq!(checked.root.as_deref(), Some("O=Example Devices, CN=Example Devices Root CA"));
//! println!("{device}"); // device 00:22:ee:01:02:03 (issued by …, SHA-256 …)
//! # Ok(()) }
//! # #[cfg(not(feature = "mint"))]
//! # fn main() {}
//! ```
//!
//! `examples/device_verifier.rs` runs the server side over TCP on
//! 127.0.0.1 and shows the refusals (another vendor's device, no
//! certificate).
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Without `mint` the links to the mint module have nothing to point at; the text stays true.
#![cfg_attr(not(feature = "mint"), allow(rustdoc::broken_intra_doc_links))]

mod cert;
mod error;
mod identity;
mod mac;
mod pem;
mod resolver;
mod status;
mod store;
mod verifier;

#[cfg(feature = "mint")]
pub mod mint;

pub use cert::{fingerprint, CertInfo, Validity};
pub use error::IdentityError;
pub use identity::{Identity, Purpose};
pub use mac::{Mac, MacParseError};
pub use pem::{parse_identity_pem, IdentityPem, MAX_CERTIFICATES, MAX_IDENTITY_FILE};
pub use resolver::ClientCertResolver;
pub use status::{ActiveIdentity, IdentitySet, IdentityStatus, Problem, SlotState, SlotStatus};
pub use store::{FactoryPartition, ResetReport, UserStore, WebOrigin};
pub use verifier::{DeviceVerifier, PeerDevice, Refusal};
