//! SDES: the `a=crypto` attribute of RFC 4568 (key parameters and session parameters).
//!
//! An `a=crypto` line carries a tag, a crypto-suite name, one or more key
//! parameters (`inline:<base64 key‖salt>[|lifetime][|MKI:length]`) and
//! optional session parameters (`KDR=`, `UNENCRYPTED_SRTP`, `WSH=` …):
//!
//! ```text
//! a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4 KDR=10
//! ```
//!
//! Handling is done in two steps, so that a line we cannot honour is skipped
//! with a reason and never half-used:
//!
//! 1. [`CryptoAttribute::parse`] checks the RFC 4568 grammar (strict base64,
//!    bounded lengths and counts) and keeps everything, including suites and
//!    session parameters Sigil does not know;
//! 2. [`CryptoAttribute::check`] decides whether Sigil can honour the line:
//!    a supported suite, key material of the suite's exact length, MKIs that
//!    fit, lifetimes within RFC 3711 limits, and only session parameters Sigil
//!    implements. The result, [`CryptoParams`], holds ready [`MasterKey`]s.
//!
//! Writing goes the other way: build a [`CryptoAttribute`] (usually with
//! [`CryptoAttribute::from_params`]) and format it with `Display` or
//! [`CryptoAttribute::to_attribute`] for `sdp-types`.
//!
//! Key material is held in zeroizing buffers and never appears in `Debug`
//! output or in error messages.

use std::fmt;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use nom::branch::alt;
use nom::bytes::complete::{tag, take_while1, take_while_m_n};
use nom::character::complete::{char, space0, space1};
use nom::combinator::{all_consuming, opt, recognize};
use nom::sequence::{preceded, separated_pair};
use nom::{IResult, Parser};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::key::{KeyError, MasterKey};
use crate::policy::{DEFAULT_REPLAY_WINDOW, MAX_REPLAY_WINDOW};
use crate::{Policy, SrtpError, Suite};

/// Longest `a=crypto` attribute value accepted, in bytes.
pub const MAX_ATTRIBUTE_LEN: usize = 4096;
/// Most key parameters (master keys) accepted in one line or one `FEC_KEY=`.
pub const MAX_KEY_PARAMS: usize = 16;
/// Most session parameters accepted in one line.
pub const MAX_SESSION_PARAMS: usize = 16;
/// Longest base64 key-salt string accepted (enough for any registered suite).
pub const MAX_KEY_SALT_CHARS: usize = 256;
/// The largest master key lifetime RFC 3711 allows for SRTP: 2^48 packets.
pub const MAX_LIFETIME: u64 = 1 << 48;
/// Longest MKI Sigil supports, in bytes (RFC 4568 allows up to 128).
pub const MAX_MKI_LEN: u8 = 4;
/// Largest replay window a `WSH=` hint may ask for and still be accepted by
/// [`CryptoAttribute::check`] (a larger value makes the line unusable).
/// A session keyed from the line gets at most [`MAX_PEER_REPLAY_WINDOW`].
pub const MAX_WSH: u32 = 32768;
/// Largest replay window a peer's `WSH=` hint gives a session built from its
/// `a=crypto` line ([`CryptoParams::policy`]): 1024 packets, about 20 s of
/// 20 ms audio.
///
/// `WSH=` is the peer's wish, not ours to grant in full: each stream keeps
/// an SRTP and an SRTCP window, so a 1024-packet window costs 512 bytes per
/// stream while the 32768 packets the parser accepts ([`MAX_WSH`]) would cost
/// 16 KiB per stream, for up to [`crate::policy::DEFAULT_MAX_STREAMS`]
/// streams per session on a small device. Larger hints are capped to this
/// value with a warning in the log; a hint below the default window keeps
/// the default ([`crate::policy::DEFAULT_REPLAY_WINDOW`]).
pub const MAX_PEER_REPLAY_WINDOW: usize = 1024;

/// Strict base64: the standard alphabet, no stray characters and no non-zero
/// trailing bits. Padding may be present (then it must be correct) or left out,
/// as some stacks leave it out of 46-byte AES-256 keys.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(false),
);

/// Why an `a=crypto` line is malformed or cannot be honoured.
///
/// Never carries key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdesError {
    /// The attribute value is longer than [`MAX_ATTRIBUTE_LEN`].
    #[error("a=crypto line is {len} bytes long, more than the {max} accepted")]
    TooLong {
        /// Length of the value.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The line does not follow the RFC 4568 grammar.
    #[error("malformed a=crypto line at byte {at}: expected {expected}")]
    Syntax {
        /// Byte offset in the attribute value where parsing stopped.
        at: usize,
        /// What was expected there.
        expected: &'static str,
    },
    /// More key parameters or session parameters than accepted.
    #[error("a=crypto line has more than {max} {what}")]
    TooMany {
        /// `"key parameters"` or `"session parameters"`.
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// A key method other than `inline`.
    #[error("key method {method:?} is not supported (only inline)")]
    UnsupportedKeyMethod {
        /// The method name as written.
        method: String,
    },
    /// The key-salt is not valid base64 (bad character, bad padding or
    /// non-zero trailing bits).
    #[error("the inline key is not valid base64")]
    BadBase64,
    /// The lifetime is zero or does not fit in 64 bits.
    #[error("key lifetime {value} is not a valid packet count")]
    BadLifetime {
        /// The lifetime as written.
        value: String,
    },
    /// The MKI length is outside 1..=128 or its value does not fit its length.
    #[error("MKI {value}:{length} is malformed (length 1..=128 bytes, value must fit)")]
    BadMki {
        /// The MKI value as written.
        value: String,
        /// The MKI length as written.
        length: String,
    },
    /// A session parameter Sigil knows has a value outside its grammar.
    #[error("session parameter {param} has an invalid value {value:?}")]
    BadSessionParamValue {
        /// The parameter name.
        param: &'static str,
        /// The value as written.
        value: String,
    },
    /// The suite is not one Sigil supports.
    #[error("crypto suite {name} is not supported")]
    UnknownSuite {
        /// The suite name as written.
        name: String,
    },
    /// The key material does not have the suite's length.
    #[error("{suite} needs {expected} bytes of inline key and salt, the line has {actual}")]
    WrongKeyLength {
        /// The suite of the line.
        suite: Suite,
        /// Key plus salt length of the suite.
        expected: usize,
        /// Decoded length found.
        actual: usize,
    },
    /// The lifetime exceeds what RFC 3711 allows.
    #[error("key lifetime {lifetime} exceeds the 2^48 packets RFC 3711 allows")]
    LifetimeTooLong {
        /// The lifetime in packets.
        lifetime: u64,
    },
    /// An MKI longer than Sigil supports.
    #[error("MKI length {length} bytes is not supported (at most {max})")]
    MkiTooLong {
        /// The MKI length from the line.
        length: u8,
        /// [`MAX_MKI_LEN`].
        max: u8,
    },
    /// Several keys without distinct MKIs of one length.
    #[error("several keys need distinct MKIs of one length")]
    MkiConflict,
    /// A mandatory session parameter Sigil does not know (RFC 4568 §6.3.7:
    /// unknown parameters without a leading `-` make the line invalid).
    #[error("unknown mandatory session parameter {name:?}")]
    UnknownSessionParam {
        /// The parameter as written (name, and value if any).
        name: String,
    },
    /// A known session parameter Sigil deliberately does not implement.
    #[error("session parameter {name} is not supported: {why}")]
    UnsupportedSessionParam {
        /// The parameter name.
        name: &'static str,
        /// Why not.
        why: &'static str,
    },
    /// The operating system's random generator failed.
    #[error("the system random generator failed: {0}")]
    Random(getrandom::Error),
    /// The key material was rejected by [`MasterKey`].
    #[error("key material rejected: {0}")]
    Key(#[from] KeyError),
}

/// The crypto-suite field: a suite Sigil supports, or any other name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SuiteName {
    /// One of the four supported suites.
    Known(Suite),
    /// Any other name (e.g. `AEAD_AES_256_GCM`, `F8_128_HMAC_SHA1_80`).
    Other(String),
}

impl SuiteName {
    /// The name as written in the line.
    pub fn as_str(&self) -> &str {
        match self {
            SuiteName::Known(suite) => suite.name(),
            SuiteName::Other(name) => name,
        }
    }

    /// The supported suite, if it is one.
    pub fn suite(&self) -> Option<Suite> {
        match self {
            SuiteName::Known(suite) => Some(*suite),
            SuiteName::Other(_) => None,
        }
    }
}

impl From<&str> for SuiteName {
    fn from(name: &str) -> Self {
        match name.parse::<Suite>() {
            Ok(suite) => SuiteName::Known(suite),
            Err(_) => SuiteName::Other(name.to_owned()),
        }
    }
}

impl From<Suite> for SuiteName {
    fn from(suite: Suite) -> Self {
        SuiteName::Known(suite)
    }
}

impl fmt::Display for SuiteName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A master key lifetime, kept in the form it was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lifetime {
    /// `2^n` packets.
    PowerOfTwo(u8),
    /// A decimal packet count.
    Packets(u64),
}

impl Lifetime {
    /// The lifetime in packets (saturating at `u64::MAX` for `2^64` and above).
    pub fn packets(self) -> u64 {
        match self {
            Lifetime::PowerOfTwo(n) => 1u64.checked_shl(u32::from(n)).unwrap_or(u64::MAX),
            Lifetime::Packets(n) => n,
        }
    }
}

impl fmt::Display for Lifetime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lifetime::PowerOfTwo(n) => write!(f, "2^{n}"),
            Lifetime::Packets(n) => write!(f, "{n}"),
        }
    }
}

/// A master key identifier as written in SDES: a decimal value and a length in
/// bytes (the MKI field carried in each packet is the value, big-endian, in
/// that many bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mki {
    /// The MKI value.
    pub value: u64,
    /// Length of the MKI field in packets, in bytes (1..=128).
    pub length: u8,
}

impl Mki {
    /// The MKI field bytes, if the length is one Sigil supports
    /// ([`MAX_MKI_LEN`] bytes at most).
    pub fn to_bytes(self) -> Option<Vec<u8>> {
        if self.length == 0 || self.length > MAX_MKI_LEN {
            return None;
        }
        let bytes = self.value.to_be_bytes();
        // ok: length is 1..=4 here, so the split point is 4..=7, inside the 8 bytes.
        let (high, low) = bytes.split_at(bytes.len() - usize::from(self.length));
        if high.iter().any(|&b| b != 0) {
            return None;
        }
        Some(low.to_vec())
    }

    /// The SDES form of MKI bytes (1 to 8 bytes).
    pub fn from_bytes(bytes: &[u8]) -> Option<Mki> {
        if bytes.is_empty() || bytes.len() > 8 {
            return None;
        }
        let value = bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        Some(Mki {
            value,
            length: u8::try_from(bytes.len()).ok()?,
        })
    }

    fn fits(self) -> bool {
        self.length >= 8 || self.value >> (u32::from(self.length) * 8) == 0
    }
}

impl fmt::Display for Mki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.value, self.length)
    }
}

/// One `inline:` key parameter: decoded key‖salt, optional lifetime and MKI.
///
/// The key bytes are zeroized on drop and never shown by `Debug`.
#[derive(Clone)]
pub struct KeyParam {
    key_salt: Zeroizing<Vec<u8>>,
    /// The master key lifetime, if stated.
    pub lifetime: Option<Lifetime>,
    /// The MKI, if stated.
    pub mki: Option<Mki>,
}

impl KeyParam {
    /// A key parameter from raw key‖salt bytes.
    pub fn new(key_salt: &[u8]) -> Self {
        KeyParam {
            key_salt: Zeroizing::new(key_salt.to_vec()),
            lifetime: None,
            mki: None,
        }
    }

    /// The key parameter that announces `key` (its MKI included, if any).
    pub fn from_master_key(key: &MasterKey) -> Self {
        KeyParam {
            key_salt: key.to_inline(),
            lifetime: None,
            mki: key.mki().and_then(Mki::from_bytes),
        }
    }

    /// The decoded key‖salt bytes.
    pub fn key_salt(&self) -> &[u8] {
        &self.key_salt
    }
}

impl PartialEq for KeyParam {
    fn eq(&self, other: &Self) -> bool {
        bool::from(self.key_salt.as_slice().ct_eq(other.key_salt.as_slice()))
            && self.lifetime == other.lifetime
            && self.mki == other.mki
    }
}

impl Eq for KeyParam {}

impl fmt::Debug for KeyParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyParam")
            .field(
                "key_salt",
                &format_args!("<{} bytes redacted>", self.key_salt.len()),
            )
            .field("lifetime", &self.lifetime)
            .field("mki", &self.mki)
            .finish()
    }
}

impl fmt::Display for KeyParam {
    /// Writes the key parameter as it appears in SDP (this includes the key:
    /// only format it into SDP bodies, never into logs).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let encoded = Zeroizing::new(BASE64.encode(self.key_salt.as_slice()));
        write!(f, "inline:{}", encoded.as_str())?;
        if let Some(lifetime) = self.lifetime {
            write!(f, "|{lifetime}")?;
        }
        if let Some(mki) = self.mki {
            write!(f, "|{mki}")?;
        }
        Ok(())
    }
}

/// The order of FEC and SRTP processing (`FEC_ORDER=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FecOrder {
    /// `FEC_SRTP`: FEC is applied before SRTP (the default).
    FecSrtp,
    /// `SRTP_FEC`: FEC is applied after SRTP.
    SrtpFec,
}

/// One SRTP session parameter of RFC 4568 §6.3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionParam {
    /// `KDR=n`: key derivation rate 2^n packets (n in 0..=24).
    Kdr(u8),
    /// `UNENCRYPTED_SRTP`: SRTP payloads are not encrypted.
    UnencryptedSrtp,
    /// `UNENCRYPTED_SRTCP`: SRTCP packets are not encrypted.
    UnencryptedSrtcp,
    /// `UNAUTHENTICATED_SRTP`: SRTP packets carry no authentication tag.
    UnauthenticatedSrtp,
    /// `FEC_ORDER=`: order of FEC and SRTP processing.
    FecOrder(FecOrder),
    /// `FEC_KEY=`: separate master keys for the FEC stream.
    FecKey(Vec<KeyParam>),
    /// `WSH=n`: replay window size hint, at least 64.
    Wsh(u32),
    /// Anything else, as written. A leading `-` marks it optional.
    Extension(String),
}

impl SessionParam {
    /// Whether this is an unknown parameter marked optional with a leading `-`.
    pub fn is_optional_extension(&self) -> bool {
        matches!(self, SessionParam::Extension(name) if name.starts_with('-'))
    }
}

impl fmt::Display for SessionParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionParam::Kdr(n) => write!(f, "KDR={n}"),
            SessionParam::UnencryptedSrtp => f.write_str("UNENCRYPTED_SRTP"),
            SessionParam::UnencryptedSrtcp => f.write_str("UNENCRYPTED_SRTCP"),
            SessionParam::UnauthenticatedSrtp => f.write_str("UNAUTHENTICATED_SRTP"),
            SessionParam::FecOrder(FecOrder::FecSrtp) => f.write_str("FEC_ORDER=FEC_SRTP"),
            SessionParam::FecOrder(FecOrder::SrtpFec) => f.write_str("FEC_ORDER=SRTP_FEC"),
            SessionParam::FecKey(keys) => {
                f.write_str("FEC_KEY=")?;
                write_key_params(f, keys)
            }
            SessionParam::Wsh(n) => write!(f, "WSH={n}"),
            SessionParam::Extension(text) => f.write_str(text),
        }
    }
}

fn write_key_params(f: &mut fmt::Formatter<'_>, keys: &[KeyParam]) -> fmt::Result {
    for (i, key) in keys.iter().enumerate() {
        if i > 0 {
            f.write_str(";")?;
        }
        write!(f, "{key}")?;
    }
    Ok(())
}

/// An `a=crypto` attribute (RFC 4568 §9.1), parsed but not yet judged.
///
/// `Display` writes the attribute value (what follows `a=crypto:`); it
/// contains the key, so write it only into SDP bodies, never into logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoAttribute {
    /// The tag (1 to 9 decimal digits) that the answer repeats.
    pub tag: u32,
    /// The crypto-suite name.
    pub suite: SuiteName,
    /// The key parameters, at least one.
    pub keys: Vec<KeyParam>,
    /// The session parameters, in the order written.
    pub params: Vec<SessionParam>,
}

impl fmt::Display for CryptoAttribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ", self.tag, self.suite)?;
        write_key_params(f, &self.keys)?;
        for param in &self.params {
            write!(f, " {param}")?;
        }
        Ok(())
    }
}

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
    /// Parses an `a=crypto` attribute value (the text after `a=crypto:`).
    ///
    /// Checks the grammar only; call [`CryptoAttribute::check`] to find out
    /// whether Sigil can honour the line. Total: never panics, bounded by
    /// [`MAX_ATTRIBUTE_LEN`], [`MAX_KEY_PARAMS`] and [`MAX_SESSION_PARAMS`].
    pub fn parse(value: &str) -> Result<Self, SdesError> {
        if value.len() > MAX_ATTRIBUTE_LEN {
            return Err(SdesError::TooLong {
                len: value.len(),
                max: MAX_ATTRIBUTE_LEN,
            });
        }
        let at = |rest: &str| value.len() - rest.len();
        let syntax = |rest: &str, expected| SdesError::Syntax {
            at: at(rest),
            expected,
        };

        let (rest, tag_text) =
            digits(1, 9)(value).map_err(|_| syntax(value, "a tag of 1 to 9 digits"))?;
        let tag: u32 = tag_text
            .parse()
            .map_err(|_| syntax(value, "a tag of 1 to 9 digits"))?;
        let (rest, _) = space1(rest).map_err(|_: nom::Err<nom::error::Error<&str>>| {
            syntax(rest, "a space after the tag")
        })?;
        let (rest, suite) = take_while1(|c: char| c.is_ascii_alphanumeric() || c == '_')(rest)
            .map_err(|_: nom::Err<nom::error::Error<&str>>| syntax(rest, "a crypto-suite name"))?;
        let (rest, _) = space1(rest).map_err(|_: nom::Err<nom::error::Error<&str>>| {
            syntax(rest, "a space after the crypto suite")
        })?;
        let (rest, key_text) = token(rest).map_err(|_| syntax(rest, "key parameters"))?;
        let keys = parse_key_params(key_text, at(key_text))?;

        let mut params = Vec::new();
        let mut rest = rest;
        loop {
            let (after_space, spaces) = space0::<&str, nom::error::Error<&str>>(rest)
                .map_err(|_| syntax(rest, "a space"))?;
            if after_space.is_empty() {
                break;
            }
            if spaces.is_empty() {
                return Err(syntax(rest, "a space before a session parameter"));
            }
            let (after, param_text) =
                token(after_space).map_err(|_| syntax(after_space, "a session parameter"))?;
            if params.len() == MAX_SESSION_PARAMS {
                return Err(SdesError::TooMany {
                    what: "session parameters",
                    max: MAX_SESSION_PARAMS,
                });
            }
            params.push(parse_session_param(param_text, at(param_text))?);
            rest = after;
        }

        Ok(CryptoAttribute {
            tag,
            suite: SuiteName::from(suite),
            keys,
            params,
        })
    }

    /// The attribute announcing `params` (the inverse of [`CryptoAttribute::check`]).
    pub fn from_params(params: &CryptoParams) -> Self {
        let mut keys: Vec<KeyParam> = params.keys.iter().map(KeyParam::from_master_key).collect();
        if let Some(lifetime) = params.lifetime {
            let lifetime = if lifetime.is_power_of_two() {
                // ok: trailing_zeros of a u64 is at most 63.
                Lifetime::PowerOfTwo(lifetime.trailing_zeros() as u8)
            } else {
                Lifetime::Packets(lifetime)
            };
            for key in &mut keys {
                key.lifetime = Some(lifetime);
            }
        }
        let mut session = Vec::new();
        if let Some(kdr) = params.kdr {
            session.push(SessionParam::Kdr(kdr));
        }
        if let Some(order) = params.fec_order {
            session.push(SessionParam::FecOrder(order));
        }
        if let Some(wsh) = params.wsh {
            session.push(SessionParam::Wsh(wsh));
        }
        CryptoAttribute {
            tag: params.tag,
            suite: SuiteName::Known(params.suite),
            keys,
            params: session,
        }
    }

    /// The attribute as an `sdp-types` attribute (`crypto` with this value).
    pub fn to_attribute(&self) -> sdp_types::Attribute {
        sdp_types::Attribute::with_value("crypto", self)
    }

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

type Res<'a, T> = IResult<&'a str, T, nom::error::Error<&'a str>>;

fn digits(min: usize, max: usize) -> impl Fn(&str) -> Res<'_, &str> {
    move |i| take_while_m_n(min, max, |c: char| c.is_ascii_digit()).parse(i)
}

/// A run of visible characters (no space, no tab, no control characters).
fn token(i: &str) -> Res<'_, &str> {
    take_while1(|c: char| c.is_ascii_graphic()).parse(i)
}

fn parse_key_params(text: &str, offset: usize) -> Result<Vec<KeyParam>, SdesError> {
    let mut keys = Vec::new();
    let mut pos = offset;
    for part in text.split(';') {
        if keys.len() == MAX_KEY_PARAMS {
            return Err(SdesError::TooMany {
                what: "key parameters",
                max: MAX_KEY_PARAMS,
            });
        }
        keys.push(parse_key_param(part, pos)?);
        pos += part.len() + 1;
    }
    Ok(keys)
}

/// `key-method ":" key-info`, where only `inline` is understood.
fn parse_key_param(text: &str, offset: usize) -> Result<KeyParam, SdesError> {
    let syntax = |rest: &str, expected| SdesError::Syntax {
        at: offset + text.len() - rest.len(),
        expected,
    };
    let method = |i| -> Res<'_, &str> {
        take_while1(|c: char| c.is_ascii_alphanumeric() || c == '_').parse(i)
    };
    let (rest, name) = method(text).map_err(|_| syntax(text, "a key method such as inline:"))?;
    let (rest, _) = char::<&str, nom::error::Error<&str>>(':')(rest)
        .map_err(|_| syntax(rest, "':' after the key method"))?;
    if !name.eq_ignore_ascii_case("inline") {
        return Err(SdesError::UnsupportedKeyMethod {
            method: name.to_owned(),
        });
    }

    let key_salt_p = |i| -> Res<'_, &str> {
        recognize((
            take_while1(|c: char| c.is_ascii_alphanumeric() || c == '+' || c == '/'),
            take_while_m_n(0, 2, |c: char| c == '='),
        ))
        .parse(i)
    };
    let mki_p = |i| -> Res<'_, (&str, &str)> {
        separated_pair(digits(1, 40), char(':'), digits(1, 3)).parse(i)
    };
    let lifetime_p =
        |i| -> Res<'_, (Option<&str>, &str)> { (opt(tag("2^")), digits(1, 20)).parse(i) };
    type Parts<'a> = (
        &'a str,
        Option<(Option<&'a str>, &'a str)>,
        Option<(&'a str, &'a str)>,
    );
    let mut whole = all_consuming(|i| -> Res<'_, Parts<'_>> {
        let (i, key_salt) = key_salt_p(i)?;
        alt((
            // key-salt "|" lifetime "|" mki
            |i| -> Res<'_, Parts<'_>> {
                let (i, l) = preceded(char('|'), lifetime_p).parse(i)?;
                let (i, m) = preceded(char('|'), mki_p).parse(i)?;
                Ok((i, (key_salt, Some(l), Some(m))))
            },
            // key-salt "|" mki
            |i| -> Res<'_, Parts<'_>> {
                let (i, m) = preceded(char('|'), mki_p).parse(i)?;
                Ok((i, (key_salt, None, Some(m))))
            },
            // key-salt "|" lifetime
            |i| -> Res<'_, Parts<'_>> {
                let (i, l) = preceded(char('|'), lifetime_p).parse(i)?;
                Ok((i, (key_salt, Some(l), None)))
            },
            |i| -> Res<'_, Parts<'_>> { Ok((i, (key_salt, None, None))) },
        ))
        .parse(i)
    });
    let (_, (key_salt, lifetime, mki)) = whole.parse(rest).map_err(|e| match e {
        nom::Err::Error(e) | nom::Err::Failure(e) => {
            syntax(e.input, "inline:<base64 key||salt>[|lifetime][|MKI:length]")
        }
        nom::Err::Incomplete(_) => syntax("", "more input"),
    })?;

    if key_salt.len() > MAX_KEY_SALT_CHARS {
        return Err(syntax(rest, "a key no longer than 256 base64 characters"));
    }
    let decoded = Zeroizing::new(
        BASE64
            .decode(key_salt.as_bytes())
            .map_err(|_| SdesError::BadBase64)?,
    );

    let lifetime = match lifetime {
        None => None,
        Some((power, number)) => {
            let bad = || SdesError::BadLifetime {
                value: format!("{}{number}", power.unwrap_or("")),
            };
            let n: u64 = number.parse().map_err(|_| bad())?;
            if power.is_some() {
                Some(Lifetime::PowerOfTwo(
                    u8::try_from(n).ok().filter(|n| *n < 64).ok_or_else(bad)?,
                ))
            } else if n == 0 {
                return Err(bad());
            } else {
                Some(Lifetime::Packets(n))
            }
        }
    };

    let mki = match mki {
        None => None,
        Some((value, length)) => {
            let bad = || SdesError::BadMki {
                value: value.to_owned(),
                length: length.to_owned(),
            };
            let length: u8 = length.parse().map_err(|_| bad())?;
            if !(1..=128).contains(&length) {
                return Err(bad());
            }
            let mki = Mki {
                value: value.parse().map_err(|_| bad())?,
                length,
            };
            if !mki.fits() {
                return Err(bad());
            }
            Some(mki)
        }
    };

    Ok(KeyParam {
        key_salt: decoded,
        lifetime,
        mki,
    })
}

fn parse_session_param(text: &str, offset: usize) -> Result<SessionParam, SdesError> {
    let value_of = |name: &str| -> Option<&str> {
        let (head, tail) = text.split_at_checked(name.len())?;
        head.eq_ignore_ascii_case(name).then_some(tail)
    };
    let bad = |param: &'static str, value: &str| SdesError::BadSessionParamValue {
        param,
        value: value.to_owned(),
    };

    if let Some(v) = value_of("KDR=") {
        let ok = digits(1, 2)(v)
            .ok()
            .filter(|(rest, _)| rest.is_empty())
            .and_then(|(_, d)| d.parse::<u8>().ok())
            .filter(|n| *n <= 24);
        return ok.map(SessionParam::Kdr).ok_or_else(|| bad("KDR", v));
    }
    if let Some(v) = value_of("WSH=") {
        let ok = digits(2, 9)(v)
            .ok()
            .filter(|(rest, _)| rest.is_empty())
            .and_then(|(_, d)| d.parse::<u32>().ok())
            .filter(|n| *n >= 64);
        return ok.map(SessionParam::Wsh).ok_or_else(|| bad("WSH", v));
    }
    if let Some(v) = value_of("FEC_ORDER=") {
        return if v.eq_ignore_ascii_case("FEC_SRTP") {
            Ok(SessionParam::FecOrder(FecOrder::FecSrtp))
        } else if v.eq_ignore_ascii_case("SRTP_FEC") {
            Ok(SessionParam::FecOrder(FecOrder::SrtpFec))
        } else {
            Err(bad("FEC_ORDER", v))
        };
    }
    if let Some(v) = value_of("FEC_KEY=") {
        return parse_key_params(v, offset + 8).map(SessionParam::FecKey);
    }
    for (name, param) in [
        ("UNENCRYPTED_SRTP", SessionParam::UnencryptedSrtp),
        ("UNENCRYPTED_SRTCP", SessionParam::UnencryptedSrtcp),
        ("UNAUTHENTICATED_SRTP", SessionParam::UnauthenticatedSrtp),
    ] {
        if text.eq_ignore_ascii_case(name) {
            return Ok(param);
        }
    }
    for name in ["KDR", "WSH", "FEC_ORDER", "FEC_KEY"] {
        if text.eq_ignore_ascii_case(name) {
            return Err(SdesError::Syntax {
                at: offset + text.len(),
                expected: "'=' and a value",
            });
        }
    }
    Ok(SessionParam::Extension(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 4568 §4 example key (30 bytes once decoded).
    const RFC_KEY: &str = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";

    #[test]
    fn parses_the_rfc_example() {
        let line = format!("1 AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY}|2^20|1:4");
        let attr = CryptoAttribute::parse(&line).unwrap();
        assert_eq!(attr.tag, 1);
        assert_eq!(attr.suite, SuiteName::Known(Suite::AesCm128HmacSha1_80));
        assert_eq!(attr.keys.len(), 1);
        assert_eq!(attr.keys[0].key_salt().len(), 30);
        assert_eq!(attr.keys[0].lifetime, Some(Lifetime::PowerOfTwo(20)));
        assert_eq!(
            attr.keys[0].mki,
            Some(Mki {
                value: 1,
                length: 4
            })
        );
        assert_eq!(attr.to_string(), line);
        let params = attr.check().unwrap();
        assert_eq!(params.lifetime, Some(1 << 20));
        assert_eq!(params.keys[0].mki(), Some(&[0, 0, 0, 1][..]));
    }

    #[test]
    fn mki_without_lifetime_and_decimal_lifetime() {
        let attr = CryptoAttribute::parse(&format!(
            "7 AES_CM_128_HMAC_SHA1_32 inline:{RFC_KEY}|1066:4"
        ))
        .unwrap();
        assert_eq!(attr.keys[0].lifetime, None);
        assert_eq!(
            attr.keys[0].mki,
            Some(Mki {
                value: 1066,
                length: 4
            })
        );
        let attr = CryptoAttribute::parse(&format!(
            "7 AES_CM_128_HMAC_SHA1_32 inline:{RFC_KEY}|1000000"
        ))
        .unwrap();
        assert_eq!(attr.keys[0].lifetime, Some(Lifetime::Packets(1_000_000)));
    }

    #[test]
    fn bad_base64_is_refused_without_echoing_the_key() {
        for key in [
            "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGV", // trailing bits set
            "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz=", // wrong padding
            "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubG=z", // padding inside
        ] {
            let err = CryptoAttribute::parse(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{key}"))
                .unwrap_err();
            assert!(!err.to_string().contains("WVNf"), "{err}");
        }
        let err = CryptoAttribute::parse("1 AES_CM_128_HMAC_SHA1_80 inline:WVNf*X19").unwrap_err();
        assert!(matches!(err, SdesError::Syntax { .. }), "{err:?}");
    }

    #[test]
    fn unknown_mandatory_and_optional_parameters() {
        let attr =
            CryptoAttribute::parse(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY} FOO=1"))
                .unwrap();
        assert_eq!(
            attr.check().unwrap_err(),
            SdesError::UnknownSessionParam {
                name: "FOO=1".into()
            }
        );
        let attr = CryptoAttribute::parse(&format!(
            "1 AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY} -FOO=1"
        ))
        .unwrap();
        assert!(attr.check().is_ok());
    }
}
