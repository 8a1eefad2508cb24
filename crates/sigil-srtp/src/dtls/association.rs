//! The DTLS-SRTP association itself (feature `dtls`): `dimpl`'s DTLS 1.2
//! state machine driven sans-IO, the peer certificate checked against the
//! SDP fingerprints, the exported keys split into SRTP master keys.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{DtlsError, DtlsIdentity, DtlsRole, Fingerprint, SrtpKeys};
use crate::Suite;

/// How long a handshake may take before it is given up (retransmissions
/// included): 20 s, about the five flights dimpl sends at 1, 2, 4, 8 s.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);

/// Most datagrams kept queued for sending: a handshake flight is a few.
const MAX_QUEUED: usize = 64;

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
///
/// ```
/// use std::time::Instant;
/// use sigil_srtp::dtls::{DtlsIdentity, DtlsRole, DtlsSrtp};
///
/// let (a, b) = (DtlsIdentity::generate()?, DtlsIdentity::generate()?);
/// let now = Instant::now();
/// let mut client = DtlsSrtp::new(&a, DtlsRole::Client, vec![b.fingerprint().clone()], now)?;
/// let mut server = DtlsSrtp::new(&b, DtlsRole::Server, vec![a.fingerprint().clone()], now)?;
/// for _ in 0..20 {
///     while let Some(d) = client.poll_transmit() { server.handle_datagram(&d, now)?; }
///     while let Some(d) = server.poll_transmit() { client.handle_datagram(&d, now)?; }
/// }
/// let (ck, sk) = (client.srtp_keys().unwrap(), server.srtp_keys().unwrap());
/// assert_eq!(ck.suite(), sk.suite());
/// assert_eq!(ck.local().key(), sk.remote().key());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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

    /// Feeds one received datagram that [`demux`](super::demux) called
    /// [`Demuxed::Dtls`](super::Demuxed::Dtls).
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
