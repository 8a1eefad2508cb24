//! The primitives under SRTP: AES counter mode, HMAC-SHA1 with precomputed
//! pad states, and the RFC 3711 §4.3 key derivation.
//!
//! AES is RustCrypto's `aes` (AES-NI when the CPU has it, detected at run
//! time) in counter mode through `ctr`; SHA-1 is RustCrypto's `sha1` compression function (SHA-NI when
//! present). HMAC is done here on top of the compression function so that the
//! inner and outer pad states are computed once per session key, can be wiped
//! on drop, and each packet costs exactly the compressions it needs.

use aes::cipher::generic_array::GenericArray;
use aes::cipher::{InnerIvInit, KeyInit, StreamCipher, StreamCipherCoreWrapper};
use aes::{Aes128Enc, Aes256Enc};
use ctr::flavors::Ctr128BE;
use ctr::CtrCore;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::gcm::GcmKeys;
use crate::Suite;

/// An expanded AES encryption key (wiped on drop by the `aes` crate's
/// `zeroize` feature).
// The key schedule stays inline (no pointer chase per packet); sessions hold few of them.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
pub(crate) enum Cipher {
    Aes128(Aes128Enc),
    Aes256(Aes256Enc),
}

impl Cipher {
    /// Expands `key` (16 or 32 bytes).
    pub(crate) fn new(key: &[u8]) -> Cipher {
        if key.len() == 32 {
            Cipher::Aes256(Aes256Enc::new(GenericArray::from_slice(key)))
        } else {
            Cipher::Aes128(Aes128Enc::new(GenericArray::from_slice(key)))
        }
    }

    /// XORs `data` with the AES-CM keystream starting at counter block `iv`
    /// (RFC 3711 §4.1.1: the low 16 bits count blocks).
    ///
    /// The `ctr` crate runs over a *borrowed* key schedule: nothing is copied
    /// or re-expanded per packet, and keystream generation and XOR stay in
    /// the AES-NI code path (8 blocks in flight).
    #[inline]
    pub(crate) fn apply_keystream(&self, iv: &[u8; 16], data: &mut [u8]) {
        let iv = iv.into();
        match self {
            Cipher::Aes128(c) => StreamCipherCoreWrapper::from_core(
                CtrCore::<&Aes128Enc, Ctr128BE>::inner_iv_init(c, iv),
            )
            .apply_keystream(data),
            Cipher::Aes256(c) => StreamCipherCoreWrapper::from_core(
                CtrCore::<&Aes256Enc, Ctr128BE>::inner_iv_init(c, iv),
            )
            .apply_keystream(data),
        }
    }

    /// Writes `out.len()` bytes of raw keystream from `iv` into `out`.
    pub(crate) fn keystream(&self, iv: &[u8; 16], out: &mut [u8]) {
        out.fill(0);
        self.apply_keystream(iv, out);
    }
}

type Block64 = GenericArray<u8, aes::cipher::consts::U64>;

const SHA1_IV: [u32; 5] = [
    0x6745_2301,
    0xEFCD_AB89,
    0x98BA_DCFE,
    0x1032_5476,
    0xC3D2_E1F0,
];

#[inline(always)]
fn compress(state: &mut [u32; 5], block: &[u8]) {
    sha1::compress(
        state,
        core::slice::from_ref(GenericArray::from_slice(block)),
    );
}

/// HMAC-SHA1 with the inner and outer pad states precomputed (RFC 2104).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct HmacSha1 {
    inner: [u32; 5],
    outer: [u32; 5],
}

impl HmacSha1 {
    /// Precomputes the pad states for `key` (at most 64 bytes; SRTP uses 20).
    pub(crate) fn new(key: &[u8]) -> HmacSha1 {
        let mut pad = Zeroizing::new([0u8; 64]);
        pad[..key.len()].copy_from_slice(key);
        let mut inner = SHA1_IV;
        let mut outer = SHA1_IV;
        for byte in pad.iter_mut() {
            *byte ^= 0x36;
        }
        compress(&mut inner, &pad[..]);
        for byte in pad.iter_mut() {
            *byte ^= 0x36 ^ 0x5c;
        }
        compress(&mut outer, &pad[..]);
        HmacSha1 { inner, outer }
    }

    /// HMAC-SHA1 of `data ‖ trailer` (`trailer` at most 8 bytes: the ROC).
    #[inline]
    pub(crate) fn mac(&self, data: &[u8], trailer: &[u8]) -> [u8; 20] {
        let mut state = self.inner;
        let total_bits = ((64 + data.len() + trailer.len()) as u64) * 8;
        debug_assert!(trailer.len() <= 8);
        let mut blocks = data.chunks_exact(64);
        // Each compress call reloads and stores the SHA-NI state, so blocks
        // are handed over in batches: up to 8 full blocks at a time for large
        // packets; for small ones (< 4 full blocks, e.g. 20 ms of G.711) the
        // full blocks and the padded tail go in a single call.
        let mut batch = [Block64::default(); 8];
        let mut used = 0;
        if data.len() >= 4 * 64 {
            loop {
                let mut n = 0;
                for (slot, block) in batch.iter_mut().zip(blocks.by_ref()) {
                    slot.copy_from_slice(block);
                    n += 1;
                }
                if n == 0 {
                    break;
                }
                sha1::compress(&mut state, &batch[..n]);
            }
            batch[0] = Block64::default();
            batch[1] = Block64::default();
        } else {
            for (slot, block) in batch.iter_mut().zip(blocks.by_ref()) {
                slot.copy_from_slice(block);
                used += 1;
            }
        }
        // The tail: rest ‖ trailer ‖ 0x80 ‖ zeros ‖ bit length, in one or two
        // blocks after the `used` full ones.
        let rest = blocks.remainder();
        let n = rest.len() + trailer.len();
        let count = if n + 9 <= 64 { 1 } else { 2 };
        // rest < 64 bytes always fits the first tail block; the trailer (≤ 8
        // bytes) and the 0x80 marker may straddle into the second.
        batch[used][..rest.len()].copy_from_slice(rest);
        for (i, &byte) in trailer.iter().chain(&[0x80]).enumerate() {
            let at = rest.len() + i;
            batch[used + at / 64][at % 64] = byte;
        }
        batch[used + count - 1][56..].copy_from_slice(&total_bits.to_be_bytes());
        sha1::compress(&mut state, &batch[..used + count]);
        let mut outer_block = Block64::default();
        for (i, word) in state.iter().enumerate() {
            outer_block[i * 4..i * 4 + 4].copy_from_slice(&word.to_be_bytes());
        }
        outer_block[20] = 0x80;
        outer_block[56..].copy_from_slice(&((64u64 + 20) * 8).to_be_bytes());
        let mut state = self.outer;
        sha1::compress(&mut state, core::slice::from_ref(&outer_block));
        let mut out = [0u8; 20];
        for (i, word) in state.iter().enumerate() {
            out[i * 4..i * 4 + 4].copy_from_slice(&word.to_be_bytes());
        }
        out
    }
}

/// The session keys of one direction of one kind (SRTP or SRTCP).
// Inline on purpose, as `Cipher`: no pointer chase per packet.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
pub(crate) enum SessionKeys {
    /// AES-CM with HMAC-SHA1 (RFC 3711, RFC 6188).
    Cm(CmKeys),
    /// AES-GCM (RFC 7714).
    Gcm(GcmKeys),
}

/// The AES-CM session keys: cipher key, 112-bit salt, HMAC-SHA1 key.
#[derive(Clone)]
pub(crate) struct CmKeys {
    pub(crate) cipher: Cipher,
    pub(crate) salt: Zeroizing<[u8; 14]>,
    pub(crate) auth: HmacSha1,
}

impl CmKeys {
    /// The AES-CM counter block for a packet (RFC 3711 §4.1.1):
    /// `(k_s · 2^16) XOR (SSRC · 2^64) XOR (index · 2^16)`.
    #[inline(always)]
    pub(crate) fn iv(&self, ssrc: u32, index: u64) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv[..14].copy_from_slice(&self.salt[..]);
        for (b, s) in iv[4..8].iter_mut().zip(ssrc.to_be_bytes()) {
            *b ^= s;
        }
        for (b, s) in iv[8..14].iter_mut().zip(&index.to_be_bytes()[2..]) {
            *b ^= s;
        }
        iv
    }
}

/// Labels of RFC 3711 §4.3.2.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Srtp,
    Srtcp,
}

/// The RFC 3711 §4.3.1 key derivation: the master key expanded once, and the
/// master salt.
///
/// The AEAD suites use the same derivation with a 96-bit master salt
/// (RFC 7714 §11), which stands left-aligned in the 112-bit field, its last
/// 16 bits zero (as libsrtp does), and derive a 96-bit session salt and no
/// authentication key.
#[derive(Clone)]
pub(crate) struct Kdf {
    master: Cipher,
    salt: Zeroizing<[u8; 14]>,
    suite: Suite,
}

impl Kdf {
    pub(crate) fn new(suite: Suite, master_key: &[u8], master_salt: &[u8]) -> Kdf {
        let mut salt = Zeroizing::new([0u8; 14]);
        let n = master_salt.len().min(14);
        salt[..n].copy_from_slice(&master_salt[..n]);
        Kdf {
            master: Cipher::new(master_key),
            salt,
            suite,
        }
    }

    /// Derives `out.len()` bytes for `label` at `r` = index DIV kdr.
    pub(crate) fn derive_raw(&self, label: u8, r: u64, out: &mut [u8]) {
        let mut iv = [0u8; 16];
        iv[..14].copy_from_slice(&self.salt[..]);
        let mut key_id = [0u8; 7];
        key_id[0] = label;
        key_id[1..].copy_from_slice(&r.to_be_bytes()[2..]);
        for (b, k) in iv[7..14].iter_mut().zip(key_id) {
            *b ^= k;
        }
        self.master.keystream(&iv, out);
        iv.zeroize();
    }

    /// The three session keys of `kind` at `r` = index DIV kdr (0 when KDR is 0).
    pub(crate) fn session_keys(&self, kind: Kind, r: u64) -> SessionKeys {
        let base = match kind {
            Kind::Srtp => 0,
            Kind::Srtcp => 3,
        };
        let key_len = self.suite.key_len();
        let mut enc = Zeroizing::new([0u8; 32]);
        let mut salt = Zeroizing::new([0u8; 14]);
        self.derive_raw(base, r, &mut enc[..key_len]);
        if self.suite.is_aead() {
            self.derive_raw(base + 2, r, &mut salt[..12]);
            return SessionKeys::Gcm(GcmKeys::new(&enc[..key_len], &salt[..12]));
        }
        let mut auth = Zeroizing::new([0u8; 20]);
        self.derive_raw(base + 1, r, &mut auth[..]);
        self.derive_raw(base + 2, r, &mut salt[..]);
        SessionKeys::Cm(CmKeys {
            cipher: Cipher::new(&enc[..key_len]),
            salt,
            auth: HmacSha1::new(&auth[..]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes of an RFC vector written in hex, spaces allowed.
    fn hex(s: &str) -> Vec<u8> {
        sigil_testkit::hex::decode(&s.split_whitespace().collect::<String>())
    }

    #[test]
    fn rfc3711_b2_keystream() {
        let cipher = Cipher::new(&hex("2B7E151628AED2A6ABF7158809CF4F3C"));
        let iv: [u8; 16] = hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000").try_into().unwrap();
        let mut out = [0u8; 48];
        cipher.keystream(&iv, &mut out);
        assert_eq!(
            out.to_vec(),
            hex(
                "E03EAD0935C95E80E166B16DD92B4EB4 D23513162B02D0F72A43A2FE4A5F97AB \
                 41E95B3BB0A2E8DD477901E4FCA894C0"
            )
        );
    }

    #[test]
    fn rfc3711_b2_keystream_far_blocks() {
        // RFC 3711 B.2 also lists the blocks at counters 0xFEFF, 0xFF00, 0xFF01.
        let cipher = Cipher::new(&hex("2B7E151628AED2A6ABF7158809CF4F3C"));
        let iv: [u8; 16] = hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF").try_into().unwrap();
        let mut out = [0u8; 48];
        cipher.keystream(&iv, &mut out);
        assert_eq!(
            out.to_vec(),
            hex(
                "EC8CDF7398607CB0F2D21675EA9EA1E4 362B7C3C6773516318A077D7FC5073AE \
                 6A2CC3787889374FBEB4C81B17BA6C44"
            )
        );
    }

    #[test]
    fn hmac_sha1_rfc2202() {
        // RFC 2202 test case 2 and 7 (key longer than a block is not used by SRTP).
        let mac = HmacSha1::new(b"Jefe");
        assert_eq!(
            mac.mac(b"what do ya want for ", b"nothing?").to_vec(),
            hex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
        );
        let mac = HmacSha1::new(&[0xaa; 20]);
        assert_eq!(
            mac.mac(&[0xdd; 50], &[]).to_vec(),
            hex("125d7342b9ac11cd91a39af48aa17b4f63f175d3")
        );
    }

    #[test]
    fn hmac_matches_reference_for_every_length() {
        use hmac::{Hmac, Mac};
        let key = [0x42u8; 20];
        let ours = HmacSha1::new(&key);
        let data: Vec<u8> = (0..1300u32).map(|i| (i * 7) as u8).collect();
        for len in 0..data.len() {
            for trailer_len in [0usize, 4] {
                let trailer = &[1u8, 2, 3, 4][..trailer_len];
                let mut reference = <Hmac<sha1::Sha1> as Mac>::new_from_slice(&key).unwrap();
                reference.update(&data[..len]);
                reference.update(trailer);
                let expected = reference.finalize().into_bytes();
                assert_eq!(
                    ours.mac(&data[..len], trailer)[..],
                    expected[..],
                    "len {len}"
                );
            }
        }
    }

    #[test]
    fn rfc3711_b3_key_derivation() {
        let kdf = Kdf::new(
            Suite::AesCm128HmacSha1_80,
            &hex("E1F97A0D3E018BE0D64FA32C06DE4139"),
            &hex("0EC675AD498AFEEBB6960B3AABE6"),
        );
        let mut enc = [0u8; 16];
        kdf.derive_raw(0, 0, &mut enc);
        assert_eq!(enc.to_vec(), hex("C61E7A93744F39EE10734AFE3FF7A087"));
        let mut salt = [0u8; 14];
        kdf.derive_raw(2, 0, &mut salt);
        assert_eq!(salt.to_vec(), hex("30CBBC08863D8C85D49DB34A9AE1"));
        let mut auth = [0u8; 94];
        kdf.derive_raw(1, 0, &mut auth);
        assert_eq!(
            auth.to_vec(),
            hex(
                "CEBE321F6FF7716B6FD4AB49AF256A15 6D38BAA48F0A0ACF3C34E2359E6CDBCE \
                 E049646C43D9327AD175578EF7227098 6371C10C9A369AC2F94A8C5FBCDDDC25 \
                 6D6E919A48B610EF17C2041E47403576 6B68642C59BBFC2F34DB60DBDFB2"
            )
        );
    }

    #[test]
    fn rfc6188_7_1_aes256_keystream() {
        let cipher = Cipher::new(&hex(
            "57f82fe3613fd170a85ec93c40b1f0922ec4cb0dc025b58272147cc438944a98",
        ));
        let iv: [u8; 16] = hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000").try_into().unwrap();
        let mut out = [0u8; 48];
        cipher.keystream(&iv, &mut out);
        assert_eq!(
            out.to_vec(),
            hex(
                "92bdd28a93c3f52511c677d08b5515a4 9da71b2378a854f67050756ded165bac \
                 63c4868b7096d88421b563b8c94c9a31"
            )
        );
    }

    #[test]
    fn rfc6188_7_2_key_derivation() {
        let kdf = Kdf::new(
            Suite::Aes256CmHmacSha1_80,
            &hex("f0f04914b513f2763a1b1fa130f10e2998f6f6e43e4309d1e622a0e332b9f1b6"),
            &hex("3b04803de51ee7c96423ab5b78d2"),
        );
        let mut enc = [0u8; 32];
        kdf.derive_raw(0, 0, &mut enc);
        assert_eq!(
            enc.to_vec(),
            hex("5ba1064e30ec51613cad926c5a28ef731ec7fb397f70a960653caf06554cd8c4")
        );
        let mut salt = [0u8; 14];
        kdf.derive_raw(2, 0, &mut salt);
        assert_eq!(salt.to_vec(), hex("fa31791685ca444a9e07c6c64e93"));
        let mut auth = [0u8; 20];
        kdf.derive_raw(1, 0, &mut auth);
        assert_eq!(
            auth.to_vec(),
            hex("fd9c32d39ed5fbb5a9dc96b30818454d1313dc05")
        );
    }
}
