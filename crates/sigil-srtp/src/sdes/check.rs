//! Deciding whether Sigil can honour a parsed line
//! ([`CryptoAttribute::check`]) and what it then uses ([`CryptoParams`]:
//! suite, master keys, the SRTP policy).

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::{
    CryptoAttribute, FecOrder, SdesError, SessionParam, SuiteName, MAX_LIFETIME, MAX_MKI_LEN,
    MAX_PEER_REPLAY_WINDOW, MAX_WSH,
};
use crate::key::MasterKey;
use crate::policy::{DEFAULT_REPLAY_WINDOW, MAX_REPLAY_WINDOW};
use crate::{Policy, SrtpError, Suite};

/// What Sigil will do with a checked `a=crypto` line: the suite, the master
/// key(s) ready for an SRTP policy, and the session parameters that matter.
#[derive(Debug, Clone)]
pub struct CryptoParams {
    /// The tag of the line.
    pub tag: u32,
    /// The suite.
    pub suite: Suite,
    /// The master key(s), with their MKIs.
    pub keys: Vec<MasterKey>,
    /// The smallest lifetime stated for any key, in packets.
    pub lifetime: Option<u64>,
    /// `KDR=n`: the key derivation rate is 2^n; `None` = no re-derivation (RFC 3711 default 0).
    pub kdr: Option<u8>,
    /// `WSH=n`: the replay window size hint.
    pub wsh: Option<u32>,
    /// `FEC_ORDER=`, if stated (no effect: Sigil sends no FEC).
    pub fec_order: Option<FecOrder>,
}

/// Constant-time comparison of two master keys (key, salt and MKI).
pub(crate) fn same_key(a: &MasterKey, b: &MasterKey) -> bool {
    bool::from(a.key().ct_eq(b.key())) & bool::from(a.salt().ct_eq(b.salt())) && a.mki() == b.mki()
}

impl PartialEq for CryptoParams {
    fn eq(&self, other: &Self) -> bool {
        self.tag == other.tag
            && self.suite == other.suite
            && self.keys.len() == other.keys.len()
            && self
                .keys
                .iter()
                .zip(&other.keys)
                .all(|(a, b)| same_key(a, b))
            && self.lifetime == other.lifetime
            && self.kdr == other.kdr
            && self.wsh == other.wsh
            && self.fec_order == other.fec_order
    }
}

impl Eq for CryptoParams {}

impl CryptoParams {
    /// Fresh parameters for `suite` under `tag`: a new random master key and
    /// salt from the operating system's generator, no MKI, no session
    /// parameters.
    pub fn generate(tag: u32, suite: Suite) -> Result<Self, SdesError> {
        let mut material = Zeroizing::new(vec![0u8; suite.inline_len()]);
        getrandom::getrandom(material.as_mut_slice()).map_err(SdesError::Random)?;
        let key = MasterKey::from_inline(suite, &material)?;
        Ok(CryptoParams {
            tag,
            suite,
            keys: vec![key],
            lifetime: None,
            kdr: None,
            wsh: None,
            fec_order: None,
        })
    }

    /// The key derivation rate in packets as RFC 3711 counts it (0 = derive once).
    pub fn key_derivation_rate(&self) -> u64 {
        self.kdr.map_or(0, |n| 1u64 << n.min(24))
    }

    /// Whether both describe the same keys and parameters (tag included).
    pub fn same_as(&self, other: &CryptoParams) -> bool {
        self == other
    }

    /// The SRTP policy for the media these keys protect: suite, master
    /// key(s) with MKIs, key derivation rate and lifetime; the replay window
    /// is the default, raised to the `WSH=` hint when one was given (it is a
    /// hint from the sender to the receiver of this stream) but never above
    /// [`MAX_PEER_REPLAY_WINDOW`]: a larger hint is capped, with a warning
    /// in the log.
    ///
    /// Build a [`crate::Session::outbound`] from our own params and a
    /// [`crate::Session::inbound`] from the peer's.
    pub fn policy(&self) -> Result<Policy, SrtpError> {
        let mut keys = self.keys.iter();
        let first = keys.next().ok_or(SrtpError::NoMasterKey)?;
        let mut policy = Policy::new(self.suite, first.clone());
        for key in keys {
            policy = policy.with_key(key.clone());
        }
        policy = policy.with_key_derivation_rate(self.key_derivation_rate());
        if let Some(lifetime) = self.lifetime {
            policy = policy.with_lifetime(lifetime);
        }
        if let Some(wsh) = self.wsh {
            policy = policy.with_replay_window(replay_window_for_wsh(self.tag, wsh));
        }
        policy.validate()?;
        Ok(policy)
    }
}

/// The replay window a session gets for a `WSH=` hint: the hint, at least
/// the default window and at most [`MAX_PEER_REPLAY_WINDOW`] (with a warning
/// saying why when the hint is cut down).
fn replay_window_for_wsh(tag: u32, wsh: u32) -> usize {
    let asked = usize::try_from(wsh).unwrap_or(usize::MAX);
    let window = asked.clamp(DEFAULT_REPLAY_WINDOW, MAX_PEER_REPLAY_WINDOW);
    if asked > MAX_PEER_REPLAY_WINDOW {
        let per_stream = |packets| 2 * crate::replay::window_bytes(packets);
        log::warn!(
            "SRTP replay window: the peer's a=crypto tag {tag} asks for WSH={wsh} packets; \
             capped to {window} packets to bound memory: {} bytes per stream (SRTP and SRTCP \
             windows) instead of {}",
            per_stream(window),
            per_stream(asked.min(MAX_REPLAY_WINDOW)),
        );
    }
    window
}

impl CryptoAttribute {
    /// Decides whether Sigil can honour this line, and if so returns what it
    /// will use. A line that cannot be honoured in every respect is refused
    /// as a whole with the reason.
    pub fn check(&self) -> Result<CryptoParams, SdesError> {
        let suite = match &self.suite {
            SuiteName::Known(suite) => *suite,
            SuiteName::Other(name) => {
                return Err(SdesError::UnknownSuite { name: name.clone() });
            }
        };

        let mut kdr = None;
        let mut wsh = None;
        let mut fec_order = None;
        for param in &self.params {
            match param {
                SessionParam::Kdr(n) => kdr = Some(*n),
                SessionParam::Wsh(n) => {
                    if *n > MAX_WSH {
                        return Err(SdesError::BadSessionParamValue {
                            param: "WSH",
                            value: n.to_string(),
                        });
                    }
                    wsh = Some(*n);
                }
                SessionParam::FecOrder(order) => fec_order = Some(*order),
                SessionParam::UnencryptedSrtp => {
                    return Err(SdesError::UnsupportedSessionParam {
                        name: "UNENCRYPTED_SRTP",
                        why: "Sigil always encrypts SRTP",
                    })
                }
                SessionParam::UnencryptedSrtcp => {
                    return Err(SdesError::UnsupportedSessionParam {
                        name: "UNENCRYPTED_SRTCP",
                        why: "Sigil always encrypts SRTCP",
                    })
                }
                SessionParam::UnauthenticatedSrtp => {
                    return Err(SdesError::UnsupportedSessionParam {
                        name: "UNAUTHENTICATED_SRTP",
                        why: "Sigil always authenticates SRTP",
                    })
                }
                SessionParam::FecKey(_) => {
                    return Err(SdesError::UnsupportedSessionParam {
                        name: "FEC_KEY",
                        why: "Sigil has no separately keyed FEC stream",
                    })
                }
                SessionParam::Extension(name) => {
                    if !name.starts_with('-') {
                        return Err(SdesError::UnknownSessionParam { name: name.clone() });
                    }
                }
            }
        }

        let mut keys = Vec::with_capacity(self.keys.len());
        let mut lifetime: Option<u64> = None;
        let mut mki_len = None;
        for key in &self.keys {
            if key.key_salt.len() != suite.inline_len() {
                return Err(SdesError::WrongKeyLength {
                    suite,
                    expected: suite.inline_len(),
                    actual: key.key_salt.len(),
                });
            }
            if let Some(l) = key.lifetime {
                let packets = l.packets();
                if packets > MAX_LIFETIME {
                    return Err(SdesError::LifetimeTooLong { lifetime: packets });
                }
                lifetime = Some(lifetime.map_or(packets, |old| old.min(packets)));
            }
            let mut master = MasterKey::from_inline(suite, &key.key_salt)?;
            match key.mki {
                Some(mki) => {
                    if mki.length > MAX_MKI_LEN {
                        return Err(SdesError::MkiTooLong {
                            length: mki.length,
                            max: MAX_MKI_LEN,
                        });
                    }
                    if *mki_len.get_or_insert(mki.length) != mki.length {
                        return Err(SdesError::MkiConflict);
                    }
                    let bytes = mki.to_bytes().ok_or(SdesError::MkiConflict)?;
                    master = master.with_mki(&bytes)?;
                }
                None => {
                    if self.keys.len() > 1 {
                        return Err(SdesError::MkiConflict);
                    }
                }
            }
            keys.push(master);
        }
        for (i, a) in keys.iter().enumerate() {
            if keys.iter().skip(i + 1).any(|b| a.mki() == b.mki()) {
                return Err(SdesError::MkiConflict);
            }
        }

        Ok(CryptoParams {
            tag: self.tag,
            suite,
            keys,
            lifetime,
            kdr,
            wsh,
            fec_order,
        })
    }
}
