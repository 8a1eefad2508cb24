//! The SRTP path: protecting and unprotecting RTP packets (RFC 3711 §3.3).

use subtle::ConstantTimeEq;

use super::keys::keys_for;
use super::{copy_into, refusal, Direction, Session};
use crate::buffer::PacketBuffer;
use crate::crypto::{Kind, SessionKeys};
use crate::SrtpError;

const RTP_HEADER_LEN: usize = 12;

/// RFC 3711 Appendix A: the index of a packet with sequence number `seq`
/// given the highest index seen so far (`None` before the first packet, when
/// `roc_hint` is the roll-over counter to assume). `None` when the estimate
/// runs past 2^48.
#[inline]
fn estimate_index(top: Option<u64>, roc_hint: u32, seq: u16) -> Option<u64> {
    let Some(top) = top else {
        return Some((u64::from(roc_hint) << 16) | u64::from(seq));
    };
    let roc = top >> 16;
    let s_l = (top & 0xffff) as u16;
    let v = if s_l < 0x8000 {
        if u32::from(seq) > u32::from(s_l) + 0x8000 {
            // ROC − 1; at ROC 0 there is no earlier cycle, so (as libsrtp
            // does) take it as a jump forward within cycle 0.
            roc.saturating_sub(1)
        } else {
            roc
        }
    } else if u32::from(s_l) - 0x8000 > u32::from(seq) {
        roc + 1
    } else {
        roc
    };
    if v > u64::from(u32::MAX) {
        return None;
    }
    Some((v << 16) | u64::from(seq))
}

/// Parses an RTP header: (header length, sequence number, SSRC).
#[inline]
fn rtp_header(packet: &[u8]) -> Result<(usize, u16, u32), SrtpError> {
    let (Some(&first), Some(seq), Some(ssrc)) =
        (packet.first(), packet.get(2..4), packet.get(8..12))
    else {
        return Err(SrtpError::TooShort {
            len: packet.len(),
            needed: RTP_HEADER_LEN,
        });
    };
    if first >> 6 != 2 {
        return Err(SrtpError::BadHeader {
            kind: "RTP",
            reason: "version is not 2",
        });
    }
    let seq = u16::from_be_bytes([seq[0], seq[1]]);
    let ssrc = u32::from_be_bytes([ssrc[0], ssrc[1], ssrc[2], ssrc[3]]);
    let mut len = RTP_HEADER_LEN + 4 * usize::from(first & 0x0f);
    if first & 0x10 != 0 {
        let Some(ext) = packet.get(len + 2..len + 4) else {
            return Err(SrtpError::BadHeader {
                kind: "RTP",
                reason: "header extension runs past the end of the packet",
            });
        };
        len += 4 + 4 * usize::from(u16::from_be_bytes([ext[0], ext[1]]));
    }
    if len > packet.len() {
        return Err(SrtpError::BadHeader {
            kind: "RTP",
            reason: "CSRC list or header extension runs past the end of the packet",
        });
    }
    Ok((len, seq, ssrc))
}

impl Session {
    // ---------------------------------------------------------------- SRTP

    /// Protects the RTP packet in `buf[..len]` in place, writing the MKI and
    /// tag after it; `buf` must have [`Session::rtp_overhead`] spare bytes.
    /// Returns the SRTP packet length.
    pub fn protect_rtp_slice(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        self.check_direction(Direction::Outbound)?;
        let packet = buf.get(..len).ok_or(SrtpError::BufferTooSmall {
            needed: len,
            available: buf.len(),
        })?;
        let (header_len, seq, ssrc) = rtp_header(packet)?;
        let total = len + self.mki_len + self.rtp_tag_len;
        if buf.len() < total {
            return Err(SrtpError::BufferTooSmall {
                needed: total,
                available: buf.len(),
            });
        }
        let si = self.stream_index(ssrc)?;
        let slot_index = self.active;
        let r_shift = self.kdr_shift;
        let (Some(slot), Some(stream)) = (self.keys.get_mut(slot_index), self.streams.get_mut(si))
        else {
            return Err(SrtpError::NoMasterKey);
        };
        if slot.srtp_used >= self.srtp_lifetime {
            return Err(SrtpError::LifetimeExhausted {
                kind: "SRTP",
                packets: self.srtp_lifetime,
            });
        }
        let index = estimate_index(stream.rtp.top(), stream.roc_hint, seq).ok_or(
            SrtpError::LifetimeExhausted {
                kind: "SRTP",
                packets: 1 << 48,
            },
        )?;
        stream
            .rtp
            .check(index)
            .map_err(|why| refusal(why, ssrc, index))?;
        let r = r_shift.map_or(0, |shift| index >> shift);
        let mut spare = None;
        let (keys, place) = keys_for(
            slot,
            slot_index,
            Kind::Srtp,
            r,
            stream.epochs.as_deref_mut().map(|e| &mut e.rtp),
            &mut spare,
            &mut self.derivations,
        );
        // Only the packet's own bytes: a caller's spare capacity beyond
        // `total` stays untouched.
        let (head, trailer) = buf[..total].split_at_mut(len);
        match keys {
            SessionKeys::Cm(keys) => {
                let iv = keys.iv(ssrc, index);
                if let Some(payload) = head.get_mut(header_len..) {
                    keys.cipher.apply_keystream(&iv, payload);
                }
                let roc = ((index >> 16) as u32).to_be_bytes();
                let tag = keys.auth.mac(head, &roc);
                let (mki, tag_out) = trailer.split_at_mut(self.mki_len);
                mki.copy_from_slice(&slot.mki[..self.mki_len]);
                if let (Some(out), Some(t)) = (
                    tag_out.get_mut(..self.rtp_tag_len),
                    tag.get(..self.rtp_tag_len),
                ) {
                    out.copy_from_slice(t);
                }
            }
            SessionKeys::Gcm(keys) => {
                // RFC 7714 §8: the header is the AAD, the payload becomes
                // ciphertext ‖ tag, and the MKI (if any) follows the tag.
                let (header, payload) = head.split_at_mut(header_len);
                let tag = keys.seal(keys.rtp_iv(ssrc, index), header, payload);
                let (tag_out, mki) = trailer.split_at_mut(self.rtp_tag_len);
                tag_out.copy_from_slice(&tag);
                mki.copy_from_slice(&slot.mki[..self.mki_len]);
            }
        }
        stream.rtp.accept(index);
        if let (Some(place), Some(epochs)) = (place, stream.epochs.as_deref_mut()) {
            epochs.rtp.commit(place);
        }
        slot.srtp_used += 1;
        Ok(total)
    }

    /// Unprotects the SRTP packet filling `buf` in place: checks replay and
    /// the tag, then decrypts. Returns the RTP packet length (the MKI and tag
    /// are left behind it). On error `buf` is unchanged.
    pub fn unprotect_rtp_slice(&mut self, buf: &mut [u8]) -> Result<usize, SrtpError> {
        self.check_direction(Direction::Inbound)?;
        let len = buf.len();
        let trailer = self.mki_len + self.rtp_tag_len;
        let (header_len, seq, ssrc) = rtp_header(buf)?;
        if len < header_len + trailer {
            return Err(SrtpError::TooShort {
                len,
                needed: header_len + trailer,
            });
        }
        let end = len - trailer;
        // AES-CM: MKI ‖ tag; AES-GCM: tag ‖ MKI (RFC 7714 §8).
        let mki_at = if self.aead { len - self.mki_len } else { end };
        let slot_index = self.slot_for_mki(&buf[mki_at..mki_at + self.mki_len])?;
        let existing = self.admit(ssrc)?;
        let Some(slot) = self.keys.get(slot_index) else {
            return Err(SrtpError::NoMasterKey);
        };
        if slot.srtp_used >= self.srtp_lifetime {
            return Err(SrtpError::LifetimeExhausted {
                kind: "SRTP",
                packets: self.srtp_lifetime,
            });
        }
        let stream = existing.and_then(|i| self.streams.get_mut(i));
        let (top, hint) = stream
            .as_ref()
            .map_or((None, 0), |s| (s.rtp.top(), s.roc_hint));
        let index = estimate_index(top, hint, seq).ok_or(SrtpError::TooOld {
            ssrc,
            index: u64::from(seq),
        })?;
        if let Some(stream) = &stream {
            stream
                .rtp
                .check(index)
                .map_err(|why| refusal(why, ssrc, index))?;
        }
        let r = self.kdr_shift.map_or(0, |shift| index >> shift);
        // Keys of another epoch are looked up (or derived) in the stream's
        // scratch place and kept there until the packet authenticates.
        let epochs = match stream {
            Some(stream) => stream.epochs.as_deref_mut(),
            None => self.new_streams.as_deref_mut(),
        };
        let mut spare = None;
        let (keys, place) = keys_for(
            slot,
            slot_index,
            Kind::Srtp,
            r,
            epochs.map(|e| &mut e.rtp),
            &mut spare,
            &mut self.derivations,
        );
        match keys {
            SessionKeys::Cm(keys) => {
                let roc = ((index >> 16) as u32).to_be_bytes();
                let tag = keys.auth.mac(&buf[..end], &roc);
                let received = &buf[end + self.mki_len..];
                if !bool::from(tag[..self.rtp_tag_len].ct_eq(received)) {
                    return Err(SrtpError::AuthFailed { ssrc });
                }
                let iv = keys.iv(ssrc, index);
                keys.cipher.apply_keystream(&iv, &mut buf[header_len..end]);
            }
            SessionKeys::Gcm(keys) => {
                let (head, tail) = buf.split_at_mut(end);
                let (header, payload) = head.split_at_mut(header_len);
                keys.open(
                    keys.rtp_iv(ssrc, index),
                    header,
                    payload,
                    &tail[..self.rtp_tag_len],
                    &mut self.scratch,
                )
                .map_err(|_| SrtpError::AuthFailed { ssrc })?;
            }
        }
        // Authentic: now, and only now, move the stream's state.
        self.commit_inbound(Kind::Srtp, existing, ssrc, slot_index, index, place)?;
        Ok(end)
    }

    /// Protects the RTP packet in `packet` in place, appending MKI and tag.
    /// No allocation when `packet` has [`Session::rtp_overhead`] spare
    /// capacity. On error `packet` is unchanged.
    pub fn protect_rtp<B: PacketBuffer + ?Sized>(
        &mut self,
        packet: &mut B,
    ) -> Result<(), SrtpError> {
        let overhead = self.rtp_overhead();
        self.protect_in_place(packet, overhead, Self::protect_rtp_slice)
    }

    /// Unprotects the SRTP packet in `packet` in place, truncating MKI and
    /// tag. On error `packet` is unchanged.
    pub fn unprotect_rtp<B: PacketBuffer + ?Sized>(
        &mut self,
        packet: &mut B,
    ) -> Result<(), SrtpError> {
        let n = self.unprotect_rtp_slice(packet.packet_bytes())?;
        packet.set_packet_len(n);
        Ok(())
    }

    /// Protects `packet` into `out` (which needs `packet.len()` +
    /// [`Session::rtp_overhead`] bytes); returns the SRTP length.
    pub fn protect_rtp_into(&mut self, packet: &[u8], out: &mut [u8]) -> Result<usize, SrtpError> {
        copy_into(packet, out, packet.len() + self.rtp_overhead())?;
        self.protect_rtp_slice(out, packet.len())
    }

    /// Unprotects `packet` into `out` (which needs `packet.len()` bytes);
    /// returns the RTP length.
    pub fn unprotect_rtp_into(
        &mut self,
        packet: &[u8],
        out: &mut [u8],
    ) -> Result<usize, SrtpError> {
        let dst = copy_into(packet, out, packet.len())?;
        self.unprotect_rtp_slice(dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_estimation_follows_appendix_a() {
        // Before any packet: the hinted ROC.
        assert_eq!(estimate_index(None, 3, 7), Some((3 << 16) | 7));
        // In order.
        assert_eq!(estimate_index(Some(100), 0, 101), Some(101));
        // Wrap forward: s_l high, seq low → ROC + 1.
        assert_eq!(estimate_index(Some(0xfff0), 0, 0x0005), Some(0x1_0005));
        // Late packet from before the wrap: s_l low, seq high → ROC − 1.
        assert_eq!(estimate_index(Some(0x1_0005), 0, 0xfff0), Some(0xfff0));
        // ... but not below index 0: in cycle 0 that is a jump forward.
        assert_eq!(estimate_index(Some(0x0005), 0, 0xfff0), Some(0xfff0));
        // Reorder without wrap.
        assert_eq!(estimate_index(Some(0x2_8000), 0, 0x7fff), Some(0x2_7fff));
        assert_eq!(estimate_index(Some(0x2_7fff), 0, 0x8000), Some(0x2_8000));
        // At the very end of the index space the sender stops.
        assert_eq!(estimate_index(Some(0xffff_ffff_fff0), 0, 0x0001), None);
    }
}
