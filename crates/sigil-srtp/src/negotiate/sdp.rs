//! SDP bodies: bounded parsing, writing, the minimal audio SDP, and the
//! helpers the negotiator reads m-lines with (RTP profile, crypto lines).

use std::net::IpAddr;

use sdp_types::{Attribute, Media};

use super::Sdp;

/// Largest SDP body accepted by [`parse_sdp`], in bytes.
pub const MAX_SDP_LEN: usize = 64 * 1024;
/// Most m-lines accepted in one SDP.
pub const MAX_MEDIA: usize = 16;
/// Most `a=crypto` lines examined per m-line; further lines are skipped.
pub const MAX_CRYPTO_LINES: usize = 32;

/// The SDP body could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdpError {
    /// Larger than [`MAX_SDP_LEN`].
    #[error("SDP body is {len} bytes, more than the {max} accepted")]
    TooLarge {
        /// Size of the body.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// More m-lines than [`MAX_MEDIA`].
    #[error("SDP has {count} m-lines, more than the {max} accepted")]
    TooManyMedia {
        /// m-lines found.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The SDP grammar was violated.
    #[error("invalid SDP: {0}")]
    Invalid(String),
}

/// Parses an SDP body with `sdp-types`, bounded by [`MAX_SDP_LEN`] and [`MAX_MEDIA`].
pub fn parse_sdp(bytes: &[u8]) -> Result<Sdp, SdpError> {
    if bytes.len() > MAX_SDP_LEN {
        return Err(SdpError::TooLarge {
            len: bytes.len(),
            max: MAX_SDP_LEN,
        });
    }
    let session = Sdp::parse(bytes).map_err(|e| SdpError::Invalid(e.to_string()))?;
    if session.medias.len() > MAX_MEDIA {
        return Err(SdpError::TooManyMedia {
            count: session.medias.len(),
            max: MAX_MEDIA,
        });
    }
    Ok(session)
}

/// Writes an SDP body (CRLF line ends). The result contains keys: put it in
/// the SIP message, never in a log.
pub fn write_sdp(session: &Sdp) -> String {
    let mut out = Vec::new();
    // ok: writing into a Vec cannot fail.
    let _ = session.write(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// A minimal SDP with one audio m-line offering G.711 µ-law (PCMU, payload
/// type 0) in 20 ms frames, sendrecv, at `addr`:`port` — what a paging
/// adapter or door phone sends. The negotiator then sets its profile and
/// crypto lines.
pub fn basic_audio_sdp(addr: IpAddr, port: u16, session_id: u64) -> Sdp {
    let mut session = Sdp::new(
        sdp_types::Origin::with_ip_addr(session_id, 1, addr),
        "sigil",
    );
    session.origin.set_username("-");
    session.set_connection(addr);
    session.add_time(sdp_types::Time::new(0, 0));
    let mut media = Media::new(
        sdp_types::MediaType::Audio,
        port,
        sdp_types::TransportProto::RtpAvp,
        "0",
    );
    media.add_attribute_with_value("rtpmap", "0 PCMU/8000");
    media.add_attribute_with_value("ptime", "20");
    media.add_attribute(Attribute::new("sendrecv"));
    session.add_media(media);
    session
}

/// RTP profile of an m-line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Profile {
    pub(super) secure: bool,
    pub(super) feedback: bool,
}

impl Profile {
    pub(super) fn of(proto: &str) -> Option<Profile> {
        match proto.to_ascii_uppercase().as_str() {
            "RTP/AVP" => Some(Profile {
                secure: false,
                feedback: false,
            }),
            "RTP/AVPF" => Some(Profile {
                secure: false,
                feedback: true,
            }),
            "RTP/SAVP" => Some(Profile {
                secure: true,
                feedback: false,
            }),
            "RTP/SAVPF" => Some(Profile {
                secure: true,
                feedback: true,
            }),
            _ => None,
        }
    }

    pub(super) fn name(self) -> &'static str {
        match (self.secure, self.feedback) {
            (false, false) => "RTP/AVP",
            (false, true) => "RTP/AVPF",
            (true, false) => "RTP/SAVP",
            (true, true) => "RTP/SAVPF",
        }
    }
}

pub(super) fn is_audio_rtp(media: &Media) -> Option<Profile> {
    if !media.media.eq_ignore_ascii_case("audio") {
        return None;
    }
    Profile::of(&media.proto)
}

pub(super) fn remove_crypto(media: &mut Media) {
    media
        .attributes
        .retain(|a| !a.attribute.eq_ignore_ascii_case("crypto"));
}
