//! The audio part of our SDP beyond SRTP (which the negotiator handles):
//! codecs (PCMU, PCMA), RFC 4733 telephone-events, RFC 5761 rtcp-mux and
//! the RFC 3605 `a=rtcp` port, and reading them from the peer's SDP.

use std::net::{IpAddr, SocketAddr};

use sigil_media::{Codec, Negotiated, PayloadFormat};
use sigil_srtp::negotiate::Sdp;

/// Our payload type for `telephone-event/8000`.
pub(crate) const TELEPHONE_EVENT_PT: u8 = 101;
/// Our codecs in preference order.
pub(crate) const CODECS: [Codec; 2] = [Codec::Pcmu, Codec::Pcma];

/// Puts our formats on every audio m-line of `sdp`: PCMU and PCMA, telephone
/// events 0–15, 20 ms, rtcp-mux offered, and `a=rtcp` naming `rtcp_port`
/// when RTCP has a socket of its own.
pub(crate) fn set_our_formats(sdp: &mut Sdp, rtcp_port: Option<u16>) {
    for media in sdp.medias.iter_mut().filter(|m| m.media == "audio") {
        let mut fmt: Vec<String> = CODECS
            .iter()
            .map(|c| c.payload_type().to_string())
            .collect();
        fmt.push(TELEPHONE_EVENT_PT.to_string());
        media.fmt = fmt.join(" ");
        media.attributes.retain(|a| a.attribute != "rtpmap");
        for codec in CODECS {
            media.add_attribute_with_value(
                "rtpmap",
                format!("{} {}", codec.payload_type(), codec.rtpmap()),
            );
        }
        media.add_attribute_with_value(
            "rtpmap",
            format!("{TELEPHONE_EVENT_PT} telephone-event/8000"),
        );
        media.add_attribute_with_value("fmtp", format!("{TELEPHONE_EVENT_PT} 0-15"));
        media.add_attribute(sdp_types::Attribute::new("rtcp-mux"));
        if let Some(port) = rtcp_port {
            media.add_attribute_with_value("rtcp", port.to_string());
        }
    }
}

/// Our audio SDP: one m-line at `rtp` with our formats, RTCP at `rtcp`
/// unless rtcp-mux is agreed (see [`set_our_formats`]).
pub(crate) fn our_sdp(rtp: SocketAddr, rtcp: Option<SocketAddr>, session_id: u64) -> Sdp {
    let mut sdp = sigil_srtp::negotiate::basic_audio_sdp(rtp.ip(), rtp.port(), session_id);
    set_our_formats(&mut sdp, rtcp.map(|a| a.port()));
    sdp
}

/// The formats of m-line `index` of the peer's SDP, in its order.
pub(crate) fn peer_formats(sdp: &Sdp, index: usize) -> Vec<(u8, Option<String>)> {
    let Some(media) = sdp.medias.get(index) else {
        return Vec::new();
    };
    media
        .fmt
        .split_whitespace()
        .filter_map(|pt| pt.parse::<u8>().ok())
        .take(32)
        .map(|pt| {
            let rtpmap = media
                .attributes
                .iter()
                .filter(|a| a.attribute == "rtpmap")
                .filter_map(|a| a.value.as_deref())
                .find_map(|v| {
                    let (n, enc) = v.split_once(' ')?;
                    (n.trim().parse::<u8>().ok()? == pt).then(|| enc.trim().to_owned())
                });
            (pt, rtpmap)
        })
        .collect()
}

/// The codec of the call from the peer's m-line `index`: the first of the
/// peer's preference that we have.
pub(crate) fn negotiate_codec(sdp: &Sdp, index: usize) -> Result<Negotiated, String> {
    let formats = peer_formats(sdp, index);
    let list: Vec<PayloadFormat<'_>> = formats
        .iter()
        .map(|(pt, rtpmap)| PayloadFormat {
            payload_type: *pt,
            rtpmap: rtpmap.as_deref(),
        })
        .collect();
    sigil_media::negotiate(&list, &CODECS).map_err(|e| e.to_string())
}

/// Whether the peer's m-line `index` has `a=rtcp-mux`.
pub(crate) fn peer_rtcp_mux(sdp: &Sdp, index: usize) -> bool {
    sdp.medias
        .get(index)
        .is_some_and(|m| m.has_attribute("rtcp-mux"))
}

/// Where the peer wants RTCP: the RTP address with rtcp-mux; else
/// `a=rtcp:PORT [IN IP4 ADDR]` (RFC 3605), else the RTP port + 1.
pub(crate) fn peer_rtcp_addr(sdp: &Sdp, index: usize, rtp: SocketAddr, mux: bool) -> SocketAddr {
    if mux {
        return rtp;
    }
    let declared = sdp
        .medias
        .get(index)
        .and_then(|m| m.get_first_attribute_value("rtcp").flatten())
        .and_then(|v| {
            let mut parts = v.split_whitespace();
            let port: u16 = parts.next()?.parse().ok()?;
            let ip = match (parts.next(), parts.next(), parts.next()) {
                (Some("IN"), Some(_), Some(addr)) => addr.parse::<IpAddr>().ok(),
                _ => None,
            };
            Some(SocketAddr::new(ip.unwrap_or(rtp.ip()), port))
        });
    declared.unwrap_or_else(|| SocketAddr::new(rtp.ip(), rtp.port().wrapping_add(1)))
}

/// Restricts our answer's m-line `index` to the negotiated formats, with the
/// peer's payload type numbers (RFC 3264 §6.1), and rtcp-mux as agreed.
pub(crate) fn restrict_answer(
    answer: &mut Sdp,
    index: usize,
    codec: &Negotiated,
    mux: bool,
    rtcp_port: Option<u16>,
) {
    let Some(media) = answer.medias.get_mut(index) else {
        return;
    };
    let mut fmt = vec![codec.payload_type.to_string()];
    media.attributes.retain(|a| {
        !matches!(
            a.attribute.as_str(),
            "rtpmap" | "fmtp" | "rtcp-mux" | "rtcp"
        )
    });
    media.add_attribute_with_value(
        "rtpmap",
        format!("{} {}", codec.payload_type, codec.codec.rtpmap()),
    );
    if let Some(pt) = codec.telephone_event {
        fmt.push(pt.to_string());
        media.add_attribute_with_value("rtpmap", format!("{pt} telephone-event/8000"));
        media.add_attribute_with_value("fmtp", format!("{pt} 0-15"));
    }
    media.fmt = fmt.join(" ");
    if mux {
        media.add_attribute(sdp_types::Attribute::new("rtcp-mux"));
    } else if let Some(port) = rtcp_port {
        media.add_attribute_with_value("rtcp", port.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sigil_srtp::negotiate::{basic_audio_sdp, parse_sdp, write_sdp};

    #[test]
    fn our_offer_lists_codecs_events_and_rtcp() {
        let mut sdp = basic_audio_sdp("192.0.2.1".parse().unwrap(), 4000, 1);
        set_our_formats(&mut sdp, Some(4001));
        let text = write_sdp(&sdp);
        assert!(text.contains("m=audio 4000 RTP/AVP 0 8 101\r\n"), "{text}");
        for line in [
            "a=rtpmap:8 PCMA/8000",
            "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-15",
            "a=rtcp-mux",
            "a=rtcp:4001",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }

    #[test]
    fn the_peers_preference_wins_and_its_numbers_are_kept() {
        let offer = parse_sdp(
            b"v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n\
              m=audio 5000 RTP/AVP 8 0 96\r\na=rtpmap:96 telephone-event/8000\r\na=rtcp:5009\r\n",
        )
        .unwrap();
        let n = negotiate_codec(&offer, 0).unwrap();
        assert_eq!(
            (n.codec, n.payload_type, n.telephone_event),
            (Codec::Pcma, 8, Some(96))
        );
        let rtp: SocketAddr = "192.0.2.9:5000".parse().unwrap();
        assert_eq!(
            peer_rtcp_addr(&offer, 0, rtp, false),
            "192.0.2.9:5009".parse().unwrap()
        );
        assert!(!peer_rtcp_mux(&offer, 0));
        let mut answer = basic_audio_sdp("192.0.2.1".parse().unwrap(), 4000, 2);
        set_our_formats(&mut answer, Some(4001));
        restrict_answer(&mut answer, 0, &n, false, Some(4001));
        let text = write_sdp(&answer);
        assert!(text.contains("m=audio 4000 RTP/AVP 8 96\r\n"), "{text}");
        assert!(text.contains("a=rtpmap:96 telephone-event/8000"), "{text}");
        assert!(!text.contains("rtcp-mux"), "{text}");
        // Without a=rtcp, RTCP goes to the RTP port + 1.
        let plain = parse_sdp(
            write_sdp(&basic_audio_sdp("192.0.2.9".parse().unwrap(), 6000, 3)).as_bytes(),
        )
        .unwrap();
        assert_eq!(
            peer_rtcp_addr(&plain, 0, "192.0.2.9:6000".parse().unwrap(), false).port(),
            6001
        );
    }

    #[test]
    fn no_common_codec_names_what_was_offered() {
        let offer = parse_sdp(
            b"v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 5000 RTP/AVP 9\r\na=rtpmap:9 G722/8000\r\n",
        )
        .unwrap();
        let e = negotiate_codec(&offer, 0).unwrap_err();
        assert!(e.contains("G722"), "{e}");
    }
}
