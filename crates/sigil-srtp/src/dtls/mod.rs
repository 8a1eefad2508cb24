//! DTLS-SRTP (RFC 5763, RFC 5764): a DTLS 1.2 handshake on the media port
//! whose exported keying material keys SRTP, with the peer's certificate
//! checked against the fingerprint from its SDP.
//!
//! The handshake itself needs the `dtls` feature (it brings `dimpl` and
//! `rcgen`). Sans-IO like the rest of the crate: `DtlsSrtp` takes datagrams
//! and time in (`handle_datagram`, `handle_timeout`) and gives datagrams to
//! send and the next deadline out (`poll_transmit`, `poll_timeout`);
//! retransmission of lost flights and the handshake deadline run on those
//! calls. The DTLS state machine is `dimpl` (the sans-IO DTLS crate str0m
//! uses) on RustCrypto primitives. Without the feature the SDP side
//! (offers and answers with `a=fingerprint`/`a=setup`, [`SrtpKeys`] from
//! keying material exported elsewhere) is still here.
//!
//! Which datagram on the shared port is DTLS is decided by [`demux`]
//! (RFC 7983). The SDP attributes are [`Fingerprint`] (`a=fingerprint`) and
//! [`Setup`] (`a=setup`).

#[cfg(feature = "dtls")]
mod association;
mod demux;
#[cfg(feature = "dtls")]
mod identity;
mod sdp;

#[cfg(feature = "dtls")]
pub use association::{DtlsSrtp, HANDSHAKE_TIMEOUT};
pub use demux::{demux, Demuxed};
#[cfg(feature = "dtls")]
pub use identity::DtlsIdentity;
pub use sdp::{DtlsSdpError, Fingerprint, Setup, MAX_FINGERPRINT_LEN};

use crate::{MasterKey, Policy, Suite};

/// Which end of the DTLS handshake this side is (`a=setup`: `active` is the
/// client, `passive` the server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DtlsRole {
    /// Sends the ClientHello (`a=setup:active`).
    Client,
    /// Waits for it (`a=setup:passive`).
    Server,
}

/// Why a DTLS-SRTP association failed. Fatal: the association (and the
/// call's media) cannot continue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DtlsError {
    /// The peer presented a certificate whose fingerprint is not the one
    /// its SDP announced: someone else may be answering on the media path.
    #[error("DTLS peer certificate fingerprint mismatch: the SDP announced {expected}, the peer presented {presented}")]
    FingerprintMismatch {
        /// The fingerprint(s) from the SDP.
        expected: String,
        /// The SHA-256 fingerprint of the certificate presented.
        presented: String,
    },
    /// The handshake finished without the peer presenting a certificate.
    #[error("the DTLS peer presented no certificate, so its SDP fingerprint cannot be checked")]
    NoPeerCertificate,
    /// The handshake failed or timed out.
    #[error("DTLS handshake failed: {reason}")]
    Handshake {
        /// What the DTLS engine reported.
        reason: String,
    },
    /// The negotiated SRTP protection profile is not one Sigil can key.
    #[error("DTLS negotiated SRTP protection profile {profile}, which Sigil does not support")]
    UnsupportedProfile {
        /// The profile's name.
        profile: String,
    },
    /// Our certificate or key cannot be used.
    #[error("DTLS identity: {reason}")]
    Identity {
        /// What is wrong.
        reason: String,
    },
    /// The association already failed; it cannot be used any more.
    #[error("the DTLS association already failed: {reason}")]
    Failed {
        /// The first failure.
        reason: String,
    },
}

/// The SRTP master keys a DTLS-SRTP handshake exported (RFC 5764 §4.2): one
/// for what we send, one for what we receive, under the negotiated suite.
#[derive(Debug, Clone)]
pub struct SrtpKeys {
    suite: Suite,
    local: MasterKey,
    remote: MasterKey,
}

impl SrtpKeys {
    /// Splits exported keying material
    /// `client key ‖ server key ‖ client salt ‖ server salt` for `suite`.
    pub fn from_keying_material(suite: Suite, material: &[u8], role: DtlsRole) -> Option<SrtpKeys> {
        let (k, s) = (suite.key_len(), suite.salt_len());
        if material.len() != 2 * (k + s) {
            return None;
        }
        let client = MasterKey::new(suite, &material[..k], &material[2 * k..2 * k + s]).ok()?;
        let server = MasterKey::new(suite, &material[k..2 * k], &material[2 * k + s..]).ok()?;
        let (local, remote) = match role {
            DtlsRole::Client => (client, server),
            DtlsRole::Server => (server, client),
        };
        Some(SrtpKeys {
            suite,
            local,
            remote,
        })
    }

    /// The negotiated suite.
    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// The master key and salt we protect with.
    pub fn local(&self) -> &MasterKey {
        &self.local
    }

    /// The master key and salt the peer protects with.
    pub fn remote(&self) -> &MasterKey {
        &self.remote
    }

    /// Policies for an outbound session (our key) and an inbound one (the
    /// peer's), default parameters otherwise.
    pub fn policies(&self) -> (Policy, Policy) {
        (
            Policy::new(self.suite, self.local.clone()),
            Policy::new(self.suite, self.remote.clone()),
        )
    }
}
