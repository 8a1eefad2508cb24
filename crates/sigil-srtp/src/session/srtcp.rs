//! The SRTCP path: protecting and unprotecting RTCP compound packets
//! (RFC 3711 §3.4).

use subtle::ConstantTimeEq;

use super::keys::keys_for;
use super::{copy_into, refusal, Direction, Session, SRTCP_INDEX_LEN};
use crate::buffer::PacketBuffer;
use crate::crypto::{Kind, SessionKeys};
use crate::SrtpError;

const SRTCP_MAX_INDEX: u64 = 1 << 31;
const RTCP_HEADER_LEN: usize = 8;

/// Parses the fixed RTCP header: the sender SSRC.
#[inline]
fn rtcp_ssrc(packet: &[u8]) -> Result<u32, SrtpError> {
    let (Some(&first), Some(ssrc)) = (packet.first(), packet.get(4..8)) else {
        return Err(SrtpError::TooShort {
            len: packet.len(),
            needed: RTCP_HEADER_LEN,
        });
    };
    if first >> 6 != 2 {
        return Err(SrtpError::BadHeader {
            kind: "RTCP",
            reason: "version is not 2",
        });
    }
    Ok(u32::from_be_bytes([ssrc[0], ssrc[1], ssrc[2], ssrc[3]]))
}

impl Session {
    // --------------------------------------------------------------- SRTCP

    /// Protects the RTCP compound packet in `buf[..len]` in place, appending
    /// E flag ‖ SRTCP index, MKI and the 80-bit tag; `buf` must have
    /// [`Session::rtcp_overhead`] spare bytes. Returns the SRTCP length.
    pub fn protect_rtcp_slice(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        self.check_direction(Direction::Outbound)?;
        let packet = buf.get(..len).ok_or(SrtpError::BufferTooSmall {
            needed: len,
            available: buf.len(),
        })?;
        let ssrc = rtcp_ssrc(packet)?;
        let total = len + self.rtcp_overhead();
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
        if slot.srtcp_used >= self.srtcp_lifetime {
            return Err(SrtpError::LifetimeExhausted {
                kind: "SRTCP",
                packets: self.srtcp_lifetime,
            });
        }
        let index = stream.rtcp_next;
        if index >= SRTCP_MAX_INDEX {
            return Err(SrtpError::LifetimeExhausted {
                kind: "SRTCP",
                packets: SRTCP_MAX_INDEX,
            });
        }
        let r = r_shift.map_or(0, |shift| index >> shift);
        let mut spare = None;
        let (keys, place) = keys_for(
            slot,
            slot_index,
            Kind::Srtcp,
            r,
            stream.epochs.as_deref_mut().map(|e| &mut e.rtcp),
            &mut spare,
            &mut self.derivations,
        );
        let e_index = (0x8000_0000u32 | index as u32).to_be_bytes();
        match keys {
            SessionKeys::Cm(keys) => {
                let iv = keys.iv(ssrc, index);
                keys.cipher
                    .apply_keystream(&iv, &mut buf[RTCP_HEADER_LEN..len]);
                buf[len..len + SRTCP_INDEX_LEN].copy_from_slice(&e_index);
                let tag = keys.auth.mac(&buf[..len + SRTCP_INDEX_LEN], &[]);
                let mki_at = len + SRTCP_INDEX_LEN;
                buf[mki_at..mki_at + self.mki_len].copy_from_slice(&slot.mki[..self.mki_len]);
                buf[mki_at + self.mki_len..total].copy_from_slice(&tag[..self.rtcp_tag_len]);
            }
            SessionKeys::Gcm(keys) => {
                // RFC 7714 §9: the first 8 header bytes and E ‖ SRTCP index
                // are the AAD; then ciphertext ‖ tag ‖ E ‖ index ‖ MKI.
                let mut aad = [0u8; RTCP_HEADER_LEN + SRTCP_INDEX_LEN];
                aad[..RTCP_HEADER_LEN].copy_from_slice(&buf[..RTCP_HEADER_LEN]);
                aad[RTCP_HEADER_LEN..].copy_from_slice(&e_index);
                let iv = keys.rtcp_iv(ssrc, index as u32);
                let tag = keys.seal(iv, &aad, &mut buf[RTCP_HEADER_LEN..len]);
                let index_at = len + self.rtcp_tag_len;
                buf[len..index_at].copy_from_slice(&tag);
                buf[index_at..index_at + SRTCP_INDEX_LEN].copy_from_slice(&e_index);
                buf[index_at + SRTCP_INDEX_LEN..total].copy_from_slice(&slot.mki[..self.mki_len]);
            }
        }
        stream.rtcp_next += 1;
        if let (Some(place), Some(epochs)) = (place, stream.epochs.as_deref_mut()) {
            epochs.rtcp.commit(place);
        }
        slot.srtcp_used += 1;
        Ok(total)
    }

    /// Unprotects the SRTCP packet filling `buf` in place. Returns the RTCP
    /// length. On error `buf` is unchanged.
    pub fn unprotect_rtcp_slice(&mut self, buf: &mut [u8]) -> Result<usize, SrtpError> {
        self.check_direction(Direction::Inbound)?;
        let len = buf.len();
        let ssrc = rtcp_ssrc(buf)?;
        let needed = RTCP_HEADER_LEN + self.rtcp_overhead();
        if len < needed {
            return Err(SrtpError::TooShort { len, needed });
        }
        // AES-CM: RTCP ‖ E ‖ index ‖ MKI ‖ tag;
        // AES-GCM: header ‖ ciphertext ‖ tag ‖ E ‖ index ‖ MKI (RFC 7714 §9).
        let end = len - self.rtcp_overhead();
        let (index_at, mki_at) = if self.aead {
            let mki_at = len - self.mki_len;
            (mki_at - SRTCP_INDEX_LEN, mki_at)
        } else {
            (end, end + SRTCP_INDEX_LEN)
        };
        let w = &buf[index_at..index_at + SRTCP_INDEX_LEN];
        let word = u32::from_be_bytes([w[0], w[1], w[2], w[3]]);
        let encrypted = word & 0x8000_0000 != 0;
        let index = u64::from(word & 0x7fff_ffff);
        let slot_index = self.slot_for_mki(&buf[mki_at..mki_at + self.mki_len])?;
        let existing = self.admit(ssrc)?;
        let Some(slot) = self.keys.get(slot_index) else {
            return Err(SrtpError::NoMasterKey);
        };
        if slot.srtcp_used >= self.srtcp_lifetime {
            return Err(SrtpError::LifetimeExhausted {
                kind: "SRTCP",
                packets: self.srtcp_lifetime,
            });
        }
        let stream = existing.and_then(|i| self.streams.get_mut(i));
        if let Some(stream) = &stream {
            stream
                .rtcp
                .check(index)
                .map_err(|why| refusal(why, ssrc, index))?;
        }
        let r = self.kdr_shift.map_or(0, |shift| index >> shift);
        let epochs = match stream {
            Some(stream) => stream.epochs.as_deref_mut(),
            None => self.new_streams.as_deref_mut(),
        };
        let mut spare = None;
        let (keys, place) = keys_for(
            slot,
            slot_index,
            Kind::Srtcp,
            r,
            epochs.map(|e| &mut e.rtcp),
            &mut spare,
            &mut self.derivations,
        );
        match keys {
            SessionKeys::Cm(keys) => {
                let tag_at = mki_at + self.mki_len;
                let tag = keys.auth.mac(&buf[..mki_at], &[]);
                if !bool::from(tag[..self.rtcp_tag_len].ct_eq(&buf[tag_at..])) {
                    return Err(SrtpError::AuthFailed { ssrc });
                }
                if encrypted {
                    let iv = keys.iv(ssrc, index);
                    keys.cipher
                        .apply_keystream(&iv, &mut buf[RTCP_HEADER_LEN..end]);
                }
            }
            SessionKeys::Gcm(keys) => {
                let iv = keys.rtcp_iv(ssrc, index as u32);
                let e_index = [
                    buf[index_at],
                    buf[index_at + 1],
                    buf[index_at + 2],
                    buf[index_at + 3],
                ];
                let opened = if encrypted {
                    let mut aad = [0u8; RTCP_HEADER_LEN + SRTCP_INDEX_LEN];
                    aad[..RTCP_HEADER_LEN].copy_from_slice(&buf[..RTCP_HEADER_LEN]);
                    aad[RTCP_HEADER_LEN..].copy_from_slice(&e_index);
                    let (head, tail) = buf.split_at_mut(end);
                    keys.open(
                        iv,
                        &aad,
                        &mut head[RTCP_HEADER_LEN..],
                        &tail[..self.rtcp_tag_len],
                        &mut self.scratch,
                    )
                } else {
                    // E = 0 (RFC 7714 §9.2): the whole RTCP packet and
                    // E ‖ index are the AAD, nothing is encrypted. Swap tag
                    // and index so that the AAD is contiguous, then back.
                    let moved = &mut buf[end..index_at + SRTCP_INDEX_LEN];
                    moved.rotate_left(self.rtcp_tag_len);
                    let (aad, tag) = buf.split_at_mut(end + SRTCP_INDEX_LEN);
                    let opened = keys.open(
                        iv,
                        aad,
                        &mut [],
                        tag.get(..self.rtcp_tag_len).unwrap_or(&[]),
                        &mut self.scratch,
                    );
                    buf[end..index_at + SRTCP_INDEX_LEN].rotate_right(self.rtcp_tag_len);
                    opened
                };
                opened.map_err(|_| SrtpError::AuthFailed { ssrc })?;
            }
        }
        self.commit_inbound(Kind::Srtcp, existing, ssrc, slot_index, index, place)?;
        Ok(end)
    }

    /// Protects the RTCP packet in `packet` in place, appending the SRTCP
    /// trailer. On error `packet` is unchanged.
    pub fn protect_rtcp<B: PacketBuffer + ?Sized>(
        &mut self,
        packet: &mut B,
    ) -> Result<(), SrtpError> {
        let overhead = self.rtcp_overhead();
        self.protect_in_place(packet, overhead, Self::protect_rtcp_slice)
    }

    /// Unprotects the SRTCP packet in `packet` in place, truncating the
    /// trailer. On error `packet` is unchanged.
    pub fn unprotect_rtcp<B: PacketBuffer + ?Sized>(
        &mut self,
        packet: &mut B,
    ) -> Result<(), SrtpError> {
        let n = self.unprotect_rtcp_slice(packet.packet_bytes())?;
        packet.set_packet_len(n);
        Ok(())
    }

    /// Protects `packet` into `out` (which needs `packet.len()` +
    /// [`Session::rtcp_overhead`] bytes); returns the SRTCP length.
    pub fn protect_rtcp_into(&mut self, packet: &[u8], out: &mut [u8]) -> Result<usize, SrtpError> {
        copy_into(packet, out, packet.len() + self.rtcp_overhead())?;
        self.protect_rtcp_slice(out, packet.len())
    }

    /// Unprotects `packet` into `out` (which needs `packet.len()` bytes);
    /// returns the RTCP length.
    pub fn unprotect_rtcp_into(
        &mut self,
        packet: &[u8],
        out: &mut [u8],
    ) -> Result<usize, SrtpError> {
        let dst = copy_into(packet, out, packet.len())?;
        self.unprotect_rtcp_slice(dst)
    }
}
