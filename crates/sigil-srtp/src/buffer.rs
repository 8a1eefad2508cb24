//! Growable packet buffers the in-place APIs work on.

use bytes::BytesMut;

/// A growable byte buffer holding one packet, for the in-place
/// [`crate::Session`] methods (`protect_rtp`, `unprotect_rtp`, ...).
///
/// Implemented for `Vec<u8>` and `bytes::BytesMut`. Protecting appends the
/// trailer (MKI and tag, plus the SRTCP index): give the buffer that much
/// spare capacity ([`crate::Session::rtp_overhead`],
/// [`crate::Session::rtcp_overhead`]) and no allocation happens.
pub trait PacketBuffer {
    /// Current length of the packet.
    fn packet_len(&self) -> usize;
    /// Grows or shrinks the packet to `len` bytes (new bytes are zero).
    fn set_packet_len(&mut self, len: usize);
    /// The packet bytes.
    fn packet_bytes(&mut self) -> &mut [u8];
}

impl PacketBuffer for Vec<u8> {
    #[inline]
    fn packet_len(&self) -> usize {
        self.len()
    }
    #[inline]
    fn set_packet_len(&mut self, len: usize) {
        self.resize(len, 0);
    }
    #[inline]
    fn packet_bytes(&mut self) -> &mut [u8] {
        self
    }
}

impl PacketBuffer for BytesMut {
    #[inline]
    fn packet_len(&self) -> usize {
        self.len()
    }
    #[inline]
    fn set_packet_len(&mut self, len: usize) {
        self.resize(len, 0);
    }
    #[inline]
    fn packet_bytes(&mut self) -> &mut [u8] {
        self
    }
}
