//! The lab: servers a device meets, for the demo, the CLI's lab commands
//! and the tests — never compiled into a device.
//!
//! - [`registrar`]: a minimal SIP registrar with digest authentication that
//!   reports each device's MAC (what `sigil sip serve` runs).
//! - [`servers`]: an HTTPS provisioning responder and a SIP server with
//!   peer phones (`srtp-peer`, `plain-phone`), both requiring device
//!   certificates.
//! - [`peer_media`]: the peer phones' media (a thread per call).
//! - [`demo`]: the whole device on loopback (`cargo run --release --example demo`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod demo;
pub mod peer_media;
pub mod registrar;
pub mod servers;

pub use registrar::{response_to, Registrar, RegistrarEvent};
pub use servers::{ProvisioningServer, SipServer, PLAIN_PHONE, SRTP_PEER};
