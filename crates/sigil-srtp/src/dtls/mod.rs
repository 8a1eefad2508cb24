//! DTLS-SRTP (RFC 5763, RFC 5764): a DTLS 1.2 handshake on the media port
//! whose exported keying material keys SRTP, with the peer's certificate
//! checked against the fingerprint from its SDP.
//!
//! Sans-IO like the rest of the crate: [`DtlsSrtp`] takes datagrams and
//! time in ([`DtlsSrtp::handle_datagram`], [`DtlsSrtp::handle_timeout`]) and
//! gives datagrams to send and the next deadline out
//! ([`DtlsSrtp::poll_transmit`], [`DtlsSrtp::poll_timeout`]); retransmission
//! of lost flights and the handshake deadline run on those calls. The DTLS
//! state machine is `dimpl` (the sans-IO DTLS crate str0m uses) on
//! RustCrypto primitives.
//!
//! Which datagram on the shared port is DTLS is decided by [`demux`]
//! (RFC 7983). The SDP attributes are [`Fingerprint`] (`a=fingerprint`) and
//! [`Setup`] (`a=setup`).
//!
//! ```
//! use std::time::Instant;
//! use sigil_srtp::dtls::{DtlsIdentity, DtlsRole, DtlsSrtp};
//!
//! let (a, b) = (DtlsIdentity::generate()?, DtlsIdentity::generate()?);
//! let now = Instant::now();
//! let mut client = DtlsSrtp::new(&a, DtlsRole::Client, vec![b.fingerprint().clone()], now)?;
//! let mut server = DtlsSrtp::new(&b, DtlsRole::Server, vec![a.fingerprint().clone()], now)?;
//! for _ in 0..20 {
//!     while let Some(d) = client.poll_transmit() { server.handle_datagram(&d, now)?; }
//!     while let Some(d) = server.poll_transmit() { client.handle_datagram(&d, now)?; }
//! }
//! let (ck, sk) = (client.srtp_keys().unwrap(), server.srtp_keys().unwrap());
//! assert_eq!(ck.suite(), sk.suite());
//! assert_eq!(ck.local().key(), sk.remote().key());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod demux;
mod identity;
mod sdp;

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use demux::{demux, Demuxed};
pub use identity::DtlsIdentity;
pub use sdp::{DtlsSdpError, Fingerprint, Setup, MAX_FINGERPRINT_LEN};

use crate::{MasterKey, Policy, Suite};

/// How long a handshake may take before it is given up (retransmissions
/// included): 20 s, about the five flights dimpl sends at 1, 2, 4, 8 s.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);

/// Most datagrams kept queued for sending: a handshake flight is a few.
const MAX_QUEUED: usize = 64;

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

/// The suite keyed by a DTLS-SRTP protection profile.
fn suite_of(profile: dimpl::SrtpProfile) -> Option<Suite> {
    match profile {
        dimpl::SrtpProfile::AES128_CM_SHA1_80 => Some(Suite::AesCm128HmacSha1_80),
        dimpl::SrtpProfile::AEAD_AES_128_GCM => Some(Suite::AeadAes128Gcm),
        dimpl::SrtpProfile::AEAD_AES_256_GCM => Some(Suite::AeadAes256Gcm),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// One DTLS-SRTP association on one media port.
pub struct DtlsSrtp {
    dtls: dimpl::Dtls,
    role: DtlsRole,
    expected: Vec<Fingerprint>,
    peer_checked: bool,
    connected: bool,
    keys: Option<SrtpKeys>,
    failed: Option<DtlsError>,
    transmit: VecDeque<Vec<u8>>,
    timeout: Option<Instant>,
    deadline: Instant,
    buf: Vec<u8>,
}

impl fmt::Debug for DtlsSrtp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DtlsSrtp")
            .field("role", &self.role)
            .field("expected", &self.expected)
            .field("connected", &self.connected)
            .field("suite", &self.keys.as_ref().map(SrtpKeys::suite))
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl DtlsSrtp {
    /// An association presenting `identity`, in `role`, that accepts a peer
    /// certificate only if it has one of the `peer_fingerprints` (from the
    /// peer's SDP). A client queues its ClientHello at once.
    pub fn new(
        identity: &DtlsIdentity,
        role: DtlsRole,
        peer_fingerprints: Vec<Fingerprint>,
        now: Instant,
    ) -> Result<DtlsSrtp, DtlsError> {
        let config = dimpl::Config::builder()
            .require_client_certificate(true)
            .handshake_timeout(HANDSHAKE_TIMEOUT)
            .build()
            .map_err(|e| DtlsError::Identity {
                reason: format!("DTLS configuration: {e}"),
            })?;
        let mut dtls = dimpl::Dtls::new_12(Arc::new(config), identity.to_dimpl(), now);
        dtls.set_active(role == DtlsRole::Client);
        let mut this = DtlsSrtp {
            dtls,
            role,
            expected: peer_fingerprints,
            peer_checked: false,
            connected: false,
            keys: None,
            failed: None,
            transmit: VecDeque::new(),
            timeout: None,
            deadline: now + HANDSHAKE_TIMEOUT,
            buf: vec![0; 2048],
        };
        this.handle_timeout(now)?;
        Ok(this)
    }

    /// Our role.
    pub fn role(&self) -> DtlsRole {
        self.role
    }

    /// Feeds one received datagram that [`demux`] called [`Demuxed::Dtls`].
    /// Malformed or replayed records are dropped quietly; an error is fatal.
    pub fn handle_datagram(&mut self, datagram: &[u8], now: Instant) -> Result<(), DtlsError> {
        self.check()?;
        let result = self.dtls.handle_packet(datagram);
        self.after(result, now)
    }

    /// Runs retransmissions and the handshake deadline; call it at
    /// [`DtlsSrtp::poll_timeout`] (early calls are harmless).
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), DtlsError> {
        self.check()?;
        let result = self.dtls.handle_timeout(now);
        self.after(result, now)
    }

    /// The next datagram to send to the peer, if any.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    /// When [`DtlsSrtp::handle_timeout`] wants to run next: a retransmission
    /// or the handshake deadline while handshaking; `None` once connected or
    /// failed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.failed.is_some() || self.keys.is_some() {
            return None;
        }
        Some(self.timeout.map_or(self.deadline, |t| t.min(self.deadline)))
    }

    /// Whether the handshake completed and the peer's certificate matched.
    pub fn is_connected(&self) -> bool {
        self.keys.is_some()
    }

    /// The exported SRTP keys, once connected.
    pub fn srtp_keys(&self) -> Option<&SrtpKeys> {
        self.keys.as_ref()
    }

    /// The failure, if the association failed.
    pub fn error(&self) -> Option<&DtlsError> {
        self.failed.as_ref()
    }

    fn check(&self) -> Result<(), DtlsError> {
        match &self.failed {
            Some(e) => Err(DtlsError::Failed {
                reason: e.to_string(),
            }),
            None => Ok(()),
        }
    }

    fn fail(&mut self, error: DtlsError) -> Result<(), DtlsError> {
        log::warn!("{error}");
        self.transmit.clear();
        self.keys = None;
        self.failed = Some(error.clone());
        Err(error)
    }

    /// Drains the engine after an input, checking the peer certificate and
    /// collecting the keys.
    fn after(&mut self, result: Result<(), dimpl::Error>, now: Instant) -> Result<(), DtlsError> {
        if let Err(e) = result {
            return self.fail(DtlsError::Handshake {
                reason: e.to_string(),
            });
        }
        // Bounded: each poll either yields output or ends the cycle with
        // `Timeout`; the queue bound stops a runaway engine.
        for _ in 0..4 * MAX_QUEUED {
            match self.dtls.poll_output(&mut self.buf) {
                dimpl::Output::Packet(p) if self.transmit.len() < MAX_QUEUED => {
                    self.transmit.push_back(p.to_vec());
                }
                dimpl::Output::Packet(_) => log::warn!("DTLS: send queue full, datagram dropped"),
                dimpl::Output::BufferTooSmall { needed } => {
                    self.buf.resize(needed.min(1 << 16), 0);
                }
                dimpl::Output::Timeout(t) => {
                    self.timeout = Some(t);
                    break;
                }
                dimpl::Output::PeerCert(der) => {
                    if self.expected.iter().any(|f| f.matches(der)) {
                        self.peer_checked = true;
                    } else {
                        let expected = self
                            .expected
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(" or ");
                        let presented = Fingerprint::sha256_of(der).to_string();
                        return self.fail(DtlsError::FingerprintMismatch {
                            expected,
                            presented,
                        });
                    }
                }
                dimpl::Output::KeyingMaterial(material, profile) => {
                    if !self.peer_checked {
                        return self.fail(DtlsError::NoPeerCertificate);
                    }
                    let Some(suite) = suite_of(profile) else {
                        return self.fail(DtlsError::UnsupportedProfile {
                            profile: profile.to_string(),
                        });
                    };
                    match SrtpKeys::from_keying_material(suite, &material, self.role) {
                        Some(keys) => self.keys = Some(keys),
                        None => {
                            return self.fail(DtlsError::Handshake {
                                reason: format!(
                                    "{} bytes of keying material do not fit {profile}",
                                    material.len()
                                ),
                            })
                        }
                    }
                }
                dimpl::Output::Connected => self.connected = true,
                dimpl::Output::ApplicationData(_) | dimpl::Output::CloseNotify => {}
                #[allow(unreachable_patterns)]
                _ => {}
            }
        }
        if self.keys.is_none() && now >= self.deadline {
            return self.fail(DtlsError::Handshake {
                reason: format!("no handshake within {} s", HANDSHAKE_TIMEOUT.as_secs()),
            });
        }
        Ok(())
    }
}
