//! G.711 (ITU-T G.711, µ-law and A-law) at 8 kHz in 20 ms frames, the SDP
//! names of our payload formats, and the choice of codec from an offer.

use std::fmt;
use std::time::Duration;

use crate::MediaError;

/// Sample rate of G.711 and of the RTP clock of every format here.
pub const SAMPLE_RATE: u32 = 8000;
/// Samples in one 20 ms frame at 8 kHz.
pub const SAMPLES_PER_FRAME: usize = 160;
/// Duration of one frame.
pub const FRAME_DURATION: Duration = Duration::from_millis(20);
/// The SDP `a=rtpmap` encoding of RFC 4733 telephone events at 8 kHz.
pub const TELEPHONE_EVENT_RTPMAP: &str = "telephone-event/8000";
/// The dynamic payload type we offer for telephone events (any of 96–127
/// will do; 101 is what most SIP devices use).
pub const DEFAULT_TELEPHONE_EVENT_PT: u8 = 101;

/// An audio codec this crate encodes and decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 µ-law, static payload type 0, `PCMU/8000`.
    Pcmu,
    /// G.711 A-law, static payload type 8, `PCMA/8000`.
    Pcma,
}

impl Codec {
    /// Both codecs, in our order of preference.
    pub const ALL: [Codec; 2] = [Codec::Pcmu, Codec::Pcma];

    /// The static RTP payload type (RFC 3551): 0 for PCMU, 8 for PCMA.
    pub const fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// The `a=rtpmap` encoding: `PCMU/8000` or `PCMA/8000`.
    pub const fn rtpmap(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU/8000",
            Codec::Pcma => "PCMA/8000",
        }
    }

    /// The codec of a static payload type (0 or 8).
    pub fn from_payload_type(payload_type: u8) -> Option<Codec> {
        Codec::ALL
            .into_iter()
            .find(|c| c.payload_type() == payload_type)
    }

    /// The codec an `a=rtpmap` encoding names (`PCMU/8000`, case-insensitive,
    /// with an optional `/1` channel count).
    pub fn from_rtpmap(encoding: &str) -> Option<Codec> {
        let encoding = encoding.trim();
        let encoding = encoding.strip_suffix("/1").unwrap_or(encoding);
        Codec::ALL
            .into_iter()
            .find(|c| c.rtpmap().eq_ignore_ascii_case(encoding))
    }

    /// Encodes one linear sample.
    pub fn encode_sample(self, sample: i16) -> u8 {
        match self {
            Codec::Pcmu => linear_to_ulaw(sample),
            Codec::Pcma => linear_to_alaw(sample),
        }
    }

    /// Decodes one byte to a linear sample.
    pub fn decode_sample(self, code: u8) -> i16 {
        match self {
            Codec::Pcmu => ulaw_to_linear(code),
            Codec::Pcma => alaw_to_linear(code),
        }
    }

    /// Encodes `pcm` into `out`, one byte per sample, as far as both reach;
    /// returns the number of samples encoded.
    pub fn encode(self, pcm: &[i16], out: &mut [u8]) -> usize {
        let n = pcm.len().min(out.len());
        for (o, &s) in out.iter_mut().zip(pcm) {
            *o = self.encode_sample(s);
        }
        n
    }

    /// Decodes `payload` into `out`, one sample per byte, as far as both
    /// reach; returns the number of samples decoded.
    pub fn decode(self, payload: &[u8], out: &mut [i16]) -> usize {
        let n = payload.len().min(out.len());
        for (o, &c) in out.iter_mut().zip(payload) {
            *o = self.decode_sample(c);
        }
        n
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.rtpmap())
    }
}

/// µ-law bias added before finding the segment (G.711 works on a 14-bit
/// magnitude; 0x84 is its bias of 33 scaled to 16 bits).
const ULAW_BIAS: i32 = 0x84;
/// Largest magnitude µ-law encodes before clipping (8158 × 4 − bias).
const ULAW_CLIP: i32 = 32635;

/// Encodes one 16-bit linear sample as G.711 µ-law.
///
/// The magnitude (clipped, plus bias) falls in one of eight segments; the
/// code is sign, segment and the four bits below the segment's leading one,
/// all inverted (G.711 transmits µ-law with every bit inverted).
pub fn linear_to_ulaw(sample: i16) -> u8 {
    let value = i32::from(sample);
    let sign = if value < 0 { 0x80 } else { 0 };
    let magnitude = value.unsigned_abs().min(ULAW_CLIP as u32) as i32 + ULAW_BIAS;
    // The biased magnitude is at least 0x84 (bit 7 set), at most 0x7FFF: its
    // leading one is bit 7 + segment.
    let leading = 31 - magnitude.leading_zeros() as i32;
    let segment = (leading - 7).clamp(0, 7);
    let mantissa = (magnitude >> (segment + 3)) & 0x0F;
    !(sign | (segment << 4) as u8 | mantissa as u8)
}

/// Decodes one G.711 µ-law byte to a 16-bit linear sample (the centre of
/// its quantisation interval; the largest magnitude is ±32124).
pub fn ulaw_to_linear(code: u8) -> i16 {
    let code = !code;
    let segment = i32::from((code >> 4) & 0x07);
    let mantissa = i32::from(code & 0x0F);
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << segment) - ULAW_BIAS;
    // magnitude ≤ 32124: fits.
    let magnitude = magnitude as i16;
    if code & 0x80 != 0 {
        -magnitude
    } else {
        magnitude
    }
}

/// Encodes one 16-bit linear sample as G.711 A-law.
///
/// A-law works on 13 bits: segment 0 and 1 share the same step (linear
/// below 64), each further segment doubles it. Even bits are inverted on
/// the line (XOR 0x55), and the sign bit is 1 for positive values.
pub fn linear_to_alaw(sample: i16) -> u8 {
    let value = i32::from(sample) >> 3; // 13-bit two's complement
    let (sign, magnitude) = if value >= 0 {
        (0x80, value)
    } else {
        // −1 − value maps −1..−4096 onto 0..4095, as G.711 quantises
        // negative values one step lower.
        (0x00, -1 - value)
    };
    let code = if magnitude < 32 {
        magnitude >> 1
    } else {
        let leading = 31 - magnitude.leading_zeros() as i32; // 5..=11
        let segment = leading - 4; // 1..=7
        (segment << 4) | ((magnitude >> segment) & 0x0F)
    };
    (sign | code as u8) ^ 0x55
}

/// Decodes one G.711 A-law byte to a 16-bit linear sample (the centre of
/// its quantisation interval; the largest magnitude is ±32256).
pub fn alaw_to_linear(code: u8) -> i16 {
    let code = code ^ 0x55;
    let segment = i32::from((code >> 4) & 0x07);
    let mantissa = i32::from(code & 0x0F);
    // In 13-bit units: segment 0 is 2·m + 1, segment s ≥ 1 is
    // (32 + 2·m + 1) << (s − 1); scaled to 16 bits by << 3.
    let magnitude = if segment == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (segment - 1)
    };
    // magnitude ≤ 32256: fits.
    let magnitude = magnitude as i16;
    if code & 0x80 != 0 {
        magnitude
    } else {
        -magnitude
    }
}

/// One payload format of an SDP media description: its payload type and,
/// when the SDP has one, its `a=rtpmap` encoding (`PCMU/8000`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadFormat<'a> {
    /// The payload type from the `m=` line.
    pub payload_type: u8,
    /// The `a=rtpmap:<pt>` encoding, if the SDP gave one (static types
    /// often come without).
    pub rtpmap: Option<&'a str>,
}

impl<'a> PayloadFormat<'a> {
    /// A format with an `a=rtpmap` encoding.
    pub fn new(payload_type: u8, rtpmap: &'a str) -> Self {
        PayloadFormat {
            payload_type,
            rtpmap: Some(rtpmap),
        }
    }

    /// A static payload type without `a=rtpmap`.
    pub fn bare(payload_type: u8) -> Self {
        PayloadFormat {
            payload_type,
            rtpmap: None,
        }
    }

    /// The codec this format is, if it is one of ours. An `a=rtpmap` wins
    /// over the static table (RFC 4566 §6).
    pub fn codec(&self) -> Option<Codec> {
        match self.rtpmap {
            Some(encoding) => Codec::from_rtpmap(encoding),
            None => Codec::from_payload_type(self.payload_type),
        }
    }

    /// Whether this format is `telephone-event/8000`.
    pub fn is_telephone_event(&self) -> bool {
        self.rtpmap.is_some_and(|e| {
            let e = e.trim();
            let e = e.strip_suffix("/1").unwrap_or(e);
            e.eq_ignore_ascii_case(TELEPHONE_EVENT_RTPMAP)
        })
    }
}

/// What [`negotiate`] chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// The codec of the call.
    pub codec: Codec,
    /// The payload type the peer uses for it (the static one unless the peer
    /// mapped a dynamic type to it).
    pub payload_type: u8,
    /// The peer's payload type for `telephone-event/8000`, if it offered one.
    pub telephone_event: Option<u8>,
}

/// Picks the call's codec: the first format in the PEER's order of
/// preference that is also in `ours`, plus the peer's telephone-event
/// payload type if it offered `telephone-event/8000`.
///
/// Fails with [`MediaError::NoCommonCodec`], naming what the peer offered,
/// when nothing matches.
pub fn negotiate(peer: &[PayloadFormat<'_>], ours: &[Codec]) -> Result<Negotiated, MediaError> {
    let chosen = peer
        .iter()
        .find_map(|f| f.codec().filter(|c| ours.contains(c)).map(|c| (c, f)));
    let telephone_event = peer
        .iter()
        .find(|f| f.is_telephone_event())
        .map(|f| f.payload_type);
    match chosen {
        Some((codec, format)) => Ok(Negotiated {
            codec,
            payload_type: format.payload_type,
            telephone_event,
        }),
        None => {
            let offered: Vec<String> = peer
                .iter()
                .take(16)
                .map(|f| match f.rtpmap {
                    Some(e) => format!(
                        "{} {}",
                        f.payload_type,
                        e.chars().take(32).collect::<String>()
                    ),
                    None => f.payload_type.to_string(),
                })
                .collect();
            let offered = if offered.is_empty() {
                "nothing".to_string()
            } else {
                offered.join(", ")
            };
            Err(MediaError::NoCommonCodec { offered })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulaw_known_answers() {
        // G.711 µ-law: 0 → 0xFF; full scale → 0x80 / 0x00; decoder
        // outputs of the extreme codes are ±8031 × 4 (= 32124).
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(linear_to_ulaw(-1), 0x7F);
        assert_eq!(linear_to_ulaw(32767), 0x80);
        assert_eq!(linear_to_ulaw(-32768), 0x00);
        assert_eq!(ulaw_to_linear(0xFF), 0);
        assert_eq!(ulaw_to_linear(0x7F), 0);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(ulaw_to_linear(0x00), -32124);
        // First step of segment 0 is 8 (2 in 14-bit units).
        assert_eq!(ulaw_to_linear(0xFE), 8);
        assert_eq!(linear_to_ulaw(8), 0xFE);
        // Segment boundary: 0x84·2 − 0x84 = 132 starts segment 1.
        assert_eq!(linear_to_ulaw(132), 0xEF);
        assert_eq!(ulaw_to_linear(0xEF), 132);
    }

    #[test]
    fn alaw_known_answers() {
        // G.711 A-law: 0 → 0xD5 (the even bits inverted); full scale →
        // 0xAA / 0x2A, decoding to ±4032 × 8 (= 32256).
        assert_eq!(linear_to_alaw(0), 0xD5);
        assert_eq!(linear_to_alaw(-1), 0x55);
        assert_eq!(linear_to_alaw(32767), 0xAA);
        assert_eq!(linear_to_alaw(-32768), 0x2A);
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(alaw_to_linear(0xAA), 32256);
        assert_eq!(alaw_to_linear(0x2A), -32256);
        // Segments 0 and 1 share a step of 16.
        assert_eq!(alaw_to_linear(0x1F ^ 0x55 | 0x80), 504);
        assert_eq!(alaw_to_linear(0x10 ^ 0x55 | 0x80), 264);
    }

    #[test]
    fn every_code_round_trips() {
        for code in 0..=255u8 {
            assert_eq!(
                linear_to_alaw(alaw_to_linear(code)),
                code,
                "A-law {code:#04x}"
            );
            // µ-law has two zeros: 0x7F (−0) decodes to 0, which encodes
            // as 0xFF (+0). Every other code comes back as itself.
            let expected = if code == 0x7F { 0xFF } else { code };
            assert_eq!(
                linear_to_ulaw(ulaw_to_linear(code)),
                expected,
                "µ-law {code:#04x}"
            );
        }
    }

    #[test]
    fn decoding_is_monotonic_and_encoding_close() {
        for codec in Codec::ALL {
            let mut last = i16::MIN;
            for s in (i16::MIN..=i16::MAX).step_by(7) {
                let d = codec.decode_sample(codec.encode_sample(s));
                assert!(d >= last, "{codec} not monotonic at {s}");
                last = d;
                // The quantisation error is within half a step: 1/32 of the
                // magnitude plus the smallest step, and clipping at the top.
                let err = (i32::from(d) - i32::from(s)).abs();
                assert!(
                    err <= i32::from(s).abs() / 16 + 16 || i32::from(s).abs() > 32000,
                    "{codec} {s} → {d}"
                );
            }
        }
    }

    #[test]
    fn codec_names_and_types() {
        assert_eq!(Codec::Pcmu.payload_type(), 0);
        assert_eq!(Codec::Pcma.payload_type(), 8);
        assert_eq!(Codec::from_rtpmap("pcma/8000/1"), Some(Codec::Pcma));
        assert_eq!(Codec::from_rtpmap("PCMU/16000"), None);
        assert_eq!(Codec::from_payload_type(9), None);
        let mut out = [0u8; 3];
        assert_eq!(Codec::Pcma.encode(&[0, 0, 0, 0], &mut out), 3);
        assert_eq!(out, [0xD5; 3]);
        let mut pcm = [1i16; 4];
        assert_eq!(Codec::Pcmu.decode(&[0xFF, 0xFF], &mut pcm), 2);
        assert_eq!(pcm, [0, 0, 1, 1]);
    }

    #[test]
    fn negotiate_follows_the_peer_preference() {
        let peer = [
            PayloadFormat::new(9, "G722/8000"),
            PayloadFormat::bare(8),
            PayloadFormat::bare(0),
            PayloadFormat::new(96, "telephone-event/8000"),
        ];
        let n = negotiate(&peer, &[Codec::Pcmu, Codec::Pcma]).unwrap();
        assert_eq!(n.codec, Codec::Pcma);
        assert_eq!(n.payload_type, 8);
        assert_eq!(n.telephone_event, Some(96));
        // Only what we support.
        let n = negotiate(&peer, &[Codec::Pcmu]).unwrap();
        assert_eq!((n.codec, n.telephone_event), (Codec::Pcmu, Some(96)));
        // A dynamic type mapped to PCMU; no telephone-event at 16 kHz.
        let peer = [
            PayloadFormat::new(112, "PCMU/8000"),
            PayloadFormat::new(100, "telephone-event/16000"),
        ];
        let n = negotiate(&peer, &Codec::ALL).unwrap();
        assert_eq!((n.payload_type, n.telephone_event), (112, None));
        // An rtpmap overrides the static table.
        let peer = [
            PayloadFormat::new(0, "G729/8000"),
            PayloadFormat::new(18, "G729/8000"),
        ];
        let err = negotiate(&peer, &Codec::ALL).unwrap_err().to_string();
        assert!(err.contains("0 G729/8000, 18 G729/8000"), "{err}");
        assert!(negotiate(&[], &Codec::ALL)
            .unwrap_err()
            .to_string()
            .contains("nothing"));
    }
}
