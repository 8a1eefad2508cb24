//! The one error type of the crate.

use sigil_srtp::SrtpError;

/// Everything that can go wrong in call media: malformed packets from the
/// network, WAV files that are not what a device plays, DTMF requests the
/// call cannot carry, and SRTP protection failures.
///
/// Parse errors name what is wrong and where (`offset` in bytes from the
/// start of the input); they never echo the input itself.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// Fewer bytes than an RTP fixed header (12).
    #[error("not RTP: {len} bytes, an RTP header needs at least 12")]
    RtpTooShort {
        /// Length of the datagram.
        len: usize,
    },
    /// The version field is not 2.
    #[error("not RTP: version {version}, expected 2")]
    RtpVersion {
        /// The two version bits found.
        version: u8,
    },
    /// The CSRC list or header extension runs past the end of the packet.
    #[error(
        "RTP header claims {header_len} bytes (CSRC list and extension) but the packet has {len}"
    )]
    RtpHeaderOverrun {
        /// Header length the CSRC count and extension length add up to.
        header_len: usize,
        /// Length of the packet.
        len: usize,
    },
    /// The padding count (last byte, P bit set) is zero or larger than the
    /// payload.
    #[error("RTP padding of {padding} bytes does not fit the {available} bytes after the header")]
    RtpPadding {
        /// The padding count found in the last byte.
        padding: usize,
        /// Bytes between the header and the end of the packet.
        available: usize,
    },
    /// An RTCP compound packet is malformed.
    #[error("malformed RTCP at byte {offset}: {reason}")]
    RtcpMalformed {
        /// Offset of the RTCP packet (or field) at fault.
        offset: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A telephone-event payload shorter than its 4 bytes.
    #[error("telephone-event payload of {len} bytes: RFC 4733 needs 4")]
    TelephoneEventTooShort {
        /// Payload length.
        len: usize,
    },
    /// A DTMF digit outside `0-9 * # A-D`.
    #[error("{digit:?} is not a DTMF digit (0-9, *, #, A-D)")]
    UnknownDtmfDigit {
        /// The character asked for.
        digit: char,
    },
    /// A DTMF duration outside what one RFC 4733 event can carry.
    #[error("DTMF duration of {ms} ms is outside 20..=8000 ms")]
    DtmfDuration {
        /// The duration asked for, in milliseconds.
        ms: u128,
    },
    /// Too many DTMF digits waiting to be sent.
    #[error("DTMF queue full: {capacity} digits are already waiting")]
    DtmfQueueFull {
        /// How many digits the queue holds.
        capacity: usize,
    },
    /// DTMF was asked for but the peer's SDP offered no
    /// `telephone-event/8000`.
    #[error("cannot send DTMF: the peer negotiated no telephone-event/8000 payload type")]
    NoTelephoneEvent,
    /// The stream was stopped; nothing more is sent.
    #[error("the media stream is stopped")]
    Stopped,
    /// No payload format of the peer's offer is one we support.
    #[error("no common codec: the peer offered {offered}, we support PCMU/8000 and PCMA/8000")]
    NoCommonCodec {
        /// The peer's formats as `PT name` items, e.g. `"9 G722/8000, 18 G729/8000"`.
        offered: String,
    },
    /// The input is not a RIFF/WAVE file.
    #[error("not a WAV file: {reason}")]
    WavNotWave {
        /// What was found instead.
        reason: &'static str,
    },
    /// The WAV file ends inside a header or chunk.
    #[error("WAV file truncated: {what} at byte {offset} runs past the end of the file")]
    WavTruncated {
        /// The structure that is cut short.
        what: &'static str,
        /// Where it starts.
        offset: usize,
    },
    /// A required chunk (`fmt ` or `data`) is missing.
    #[error("WAV file has no {chunk:?} chunk")]
    WavMissingChunk {
        /// The chunk id.
        chunk: &'static str,
    },
    /// The audio is not 8000 Hz mono 16-bit PCM.
    #[error("{found}: need 8000 Hz mono 16-bit PCM (convert with: sox in.wav -r 8000 -c 1 -b 16 out.wav)")]
    WavFormat {
        /// What the file holds, e.g. `"44100 Hz stereo 16-bit"` or
        /// `"format 3 (IEEE float) 8000 Hz mono 32-bit"`.
        found: String,
    },
    /// The audio is longer than the reader accepts.
    #[error("WAV audio of {seconds} s is longer than the {max_seconds} s accepted")]
    WavTooLong {
        /// Length of the audio (or of the file so far), in seconds.
        seconds: u64,
        /// The limit.
        max_seconds: u64,
    },
    /// The `data` chunk has an odd number of bytes: not whole 16-bit samples.
    #[error("WAV data chunk of {len} bytes is not whole 16-bit samples")]
    WavOddData {
        /// Length of the data chunk.
        len: usize,
    },
    /// Reading or writing a WAV file failed.
    #[error("WAV I/O failed: {0}")]
    Io(#[from] std::io::Error),
    /// SRTP or SRTCP protection of an outgoing packet failed.
    #[error("cannot protect an outgoing packet: {0}")]
    Srtp(#[from] SrtpError),
}
