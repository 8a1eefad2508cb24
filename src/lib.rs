//! Sigil: the security stack of a SIP endpoint device.
//!
//! This facade re-exports the workspace crates under short names so that an
//! integrator can depend on one package. Each crate is also usable alone.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use sigil_endpoint as endpoint;
pub use sigil_identity as identity;
pub use sigil_provisioning as provisioning;
pub use sigil_sip as sip;
pub use sigil_sip_tls as sip_tls;
pub use sigil_srtp as srtp;
pub use sigil_trust as trust;
