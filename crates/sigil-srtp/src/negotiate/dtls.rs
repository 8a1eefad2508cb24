//! DTLS-SRTP in offers and answers (RFC 5763 §5, RFC 8842): the keying
//! setting, the `UDP/TLS/RTP/SAVP` profile, `a=fingerprint` and `a=setup`
//! on audio m-lines, and what a DTLS agreement tells the endpoint.
//!
//! What each `sip.srtp.keying` offers (Optional / Standard; Disabled offers
//! plain `RTP/AVP` whatever the keying):
//!
//! - `sdes`: `RTP/AVP` (Optional) or `RTP/SAVP` (Standard) with one
//!   `a=crypto` line per suite — as before.
//! - `dtls`: `UDP/TLS/RTP/SAVP` with `a=fingerprint:sha-256 …` and
//!   `a=setup:actpass`, no `a=crypto` (DTLS has no opportunistic form, so
//!   Optional offers the same as Standard). No key is in the SDP, so this
//!   works over any signaling transport; the fingerprint's integrity still
//!   rests on the signaling (RFC 5763 §8).
//! - `both`: the `sdes` offer plus `a=fingerprint` and `a=setup:actpass` on
//!   the same m-line, in `RTP/AVP` (Optional) or `RTP/SAVP` (Standard), as
//!   pjsip does with SDES and DTLS keying both enabled. The answer may take
//!   either: one `a=crypto` line (SDES) or an `a=fingerprint` (DTLS-SRTP).
//!
//! As answerer, an offer carrying `a=fingerprint` on an audio m-line is
//! answered with DTLS-SRTP when keying is `dtls` or `both` (preferred over
//! SDES crypto lines in the same m-line: no key travels in the SDP), with
//! `a=setup:active` unless the offerer insists on being active, and our
//! fingerprint, in the offer's profile.

use std::fmt;
use std::str::FromStr;

use sdp_types::{Attribute, Media};

use super::{ConfigError, Sdp};
use crate::dtls::{DtlsRole, DtlsSdpError, Fingerprint, Setup};

/// How media keys are agreed (`sip.srtp.keying`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Keying {
    /// SDES `a=crypto` lines (RFC 4568): keys in the SDP.
    #[default]
    Sdes,
    /// DTLS-SRTP (RFC 5763/5764): keys from a DTLS handshake on the media port.
    Dtls,
    /// Offer both; accept either in the answer.
    Both,
}

impl Keying {
    /// The configuration name: `sdes`, `dtls` or `both`.
    pub const fn name(self) -> &'static str {
        match self {
            Keying::Sdes => "sdes",
            Keying::Dtls => "dtls",
            Keying::Both => "both",
        }
    }

    /// Whether SDES crypto lines are offered.
    pub const fn sdes(self) -> bool {
        matches!(self, Keying::Sdes | Keying::Both)
    }

    /// Whether DTLS-SRTP is offered and accepted.
    pub const fn dtls(self) -> bool {
        matches!(self, Keying::Dtls | Keying::Both)
    }
}

impl fmt::Display for Keying {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Keying {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sdes" => Ok(Keying::Sdes),
            "dtls" => Ok(Keying::Dtls),
            "both" => Ok(Keying::Both),
            _ => Err(ConfigError::UnknownKeying {
                value: s.to_owned(),
            }),
        }
    }
}

/// What DTLS-SRTP agreed for one m-line: who opens the handshake and which
/// certificate the peer must present. The SRTP keys come later, from the
/// handshake on the media port ([`crate::dtls::DtlsSrtp`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DtlsAgreement {
    /// Our DTLS role (`a=setup:active` = client).
    pub role: DtlsRole,
    /// The fingerprint(s) from the peer's SDP; its certificate must match one.
    pub peer_fingerprints: Vec<Fingerprint>,
}

impl DtlsAgreement {
    /// "DTLS-SRTP, DTLS client" / "DTLS-SRTP, DTLS server".
    pub fn summary(&self) -> String {
        let role = match self.role {
            DtlsRole::Client => "client",
            DtlsRole::Server => "server",
        };
        format!("DTLS-SRTP, DTLS {role}")
    }
}

/// Whether `proto` is a DTLS-SRTP profile (`UDP/TLS/RTP/SAVP`, `…SAVPF`).
pub(super) fn is_dtls_proto(proto: &str) -> bool {
    let p = proto.to_ascii_uppercase();
    p == "UDP/TLS/RTP/SAVP" || p == "UDP/TLS/RTP/SAVPF"
}

/// The DTLS profile for an m-line with or without RTCP feedback.
pub(super) fn dtls_proto(feedback: bool) -> &'static str {
    if feedback {
        "UDP/TLS/RTP/SAVPF"
    } else {
        "UDP/TLS/RTP/SAVP"
    }
}

fn values<'a>(media: &'a Media, session: &'a Sdp, name: &'a str) -> Vec<&'a str> {
    let pick = |attrs: &'a [Attribute]| -> Vec<&'a str> {
        attrs
            .iter()
            .filter(|a| a.attribute.eq_ignore_ascii_case(name))
            .filter_map(|a| a.value.as_deref())
            .collect()
    };
    let at_media = pick(&media.attributes);
    if at_media.is_empty() {
        pick(&session.attributes)
    } else {
        at_media
    }
}

/// The `a=fingerprint` values of an m-line (media level first, else session
/// level; at most 8), or the first that cannot be parsed.
pub(super) fn fingerprints(media: &Media, session: &Sdp) -> Result<Vec<Fingerprint>, DtlsSdpError> {
    values(media, session, "fingerprint")
        .into_iter()
        .take(8)
        .map(Fingerprint::parse)
        .collect()
}

/// The `a=setup` of an m-line (media level first, else session level), if any.
pub(super) fn setup(media: &Media, session: &Sdp) -> Option<Result<Setup, DtlsSdpError>> {
    values(media, session, "setup").first().map(|v| v.parse())
}

/// Replaces the DTLS attributes of `media` with ours.
pub(super) fn write_attributes(media: &mut Media, fingerprint: &Fingerprint, setup: Setup) {
    remove_attributes(media);
    media.add_attribute_with_value("fingerprint", fingerprint.to_string());
    media.add_attribute_with_value("setup", setup.name());
}

/// Removes `a=fingerprint` and `a=setup` from `media`.
pub(super) fn remove_attributes(media: &mut Media) {
    media.attributes.retain(|a| {
        !a.attribute.eq_ignore_ascii_case("fingerprint")
            && !a.attribute.eq_ignore_ascii_case("setup")
    });
}
