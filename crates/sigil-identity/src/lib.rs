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
