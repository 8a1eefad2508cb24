//! The known answers of RFC 7714 §16 (SRTP) and §17 (SRTCP), AEAD_AES_128_GCM
//! and AEAD_AES_256_GCM. The RFC gives *session* keys and salts (no key
//! derivation), so these tests put them into a session's key slot directly.
//! The same values were checked against an independent AES-GCM (Python's
//! `cryptography`) when they were written down here.

use super::Session;
use crate::crypto::SessionKeys;
use crate::gcm::GcmKeys;
use crate::{MasterKey, Policy, SrtpError, Suite};

fn hex(s: &str) -> Vec<u8> {
    sigil_testkit::hex::decode(&s.split_whitespace().collect::<String>())
}

/// RFC 7714 §16 and §17: the session salt "Quid pro quo".
const SALT: &str = "517569642070726f2071756f";
const KEY_128: &str = "000102030405060708090a0b0c0d0e0f";
const KEY_256: &str = "000102030405060708090a0b0c0d0e0f 101112131415161718191a1b1c1d1e1f";

/// §16: RTP header (SSRC 0x5501a0b2, sequence 0xf17b, ROC 0) and the payload
/// "Gallia est omnis divisa in partes tres".
const RTP: &str = "8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f 6d6e6973
                   20646976 69736120 696e2070 61727465 73207472 6573";

/// §17: the RTCP compound packet (SSRC "Mars"), SRTCP index 0x5d4.
const RTCP: &str = "81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930
                    4c756e61 deadbeef deadbeef deadbeef deadbeef deadbeef";
const RTCP_SSRC: u32 = 0x4d61_7273;

/// §16.1.1 (AEAD_AES_128_GCM encryption of the RTP packet).
const SRTP_128: &str = "8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c 9d7e4bca
                        be633bd5 0d294e6f 42a5f47a 51c7d19b 36de3adf 8833899d 7f27beb1
                        6a9152cf 765ee439 0cce";
/// §16.2.1 (AEAD_AES_256_GCM).
const SRTP_256: &str = "8040f17b 8041f8d3 5501a0b2 32b1de78 a822fe12 ef9f78fa 332e33aa
                        b1801238 9a58e2f3 b50b2a02 76ffae0f 1ba63799 b87b7aa3 db36dfff
                        d6b0f9bb 7878d7a7 6c13";
/// §17.1 (SRTCP, AEAD_AES_128_GCM, E = 1).
const SRTCP_128: &str = "81c8000d 4d617273 63e94885 dcdab67c a727d766 2f6b7e99 7ff5c0f7
                         6c06f32d c676a5f1 730d6fda 4ce09b46 86303ded 0bb9275b c84aa458
                         96cf4d2f c5abf872 45d9eade 800005d4";
/// §17.2 (SRTCP, AEAD_AES_256_GCM, E = 1).
const SRTCP_256: &str = "81c8000d 4d617273 d50ae4d1 f5ce5d30 4ba297e4 7d470c28 2c3ece5d
                         bffe0a50 a2eaa5c1 110555be 8415f658 c61de047 6f1b6fad 1d1eb30c
                         4446839f 57ff6f6c b26ac3be 800005d4";
/// §17.3 (SRTCP, AEAD_AES_128_GCM, E = 0: authenticated only): the tag and
/// the E ‖ index word that follow the RTCP packet.
const SRTCP_128_CLEAR_TRAILER: &str = "841dd968 3dd78ec9 2ae58790 125f62b3 000005d4";
/// §17.4 (SRTCP, AEAD_AES_256_GCM, E = 0).
const SRTCP_256_CLEAR_TRAILER: &str = "91db4afb feee5a97 8fab4393 ed2615fe 000005d4";

/// A session of `suite` whose SRTP and SRTCP session keys are the RFC's.
fn session(suite: Suite, outbound: bool) -> Session {
    let key = MasterKey::from_inline(suite, &vec![0; suite.inline_len()]).unwrap();
    let policy = Policy::new(suite, key);
    let mut s = if outbound {
        Session::outbound(policy).unwrap()
    } else {
        Session::inbound(policy).unwrap()
    };
    let key = hex(if suite == Suite::AeadAes128Gcm {
        KEY_128
    } else {
        KEY_256
    });
    let slot = &mut s.keys[0];
    slot.rtp = SessionKeys::Gcm(GcmKeys::new(&key, &hex(SALT)));
    slot.rtcp = SessionKeys::Gcm(GcmKeys::new(&key, &hex(SALT)));
    s
}

fn cases() -> [(Suite, &'static str, &'static str, &'static str); 2] {
    [
        (
            Suite::AeadAes128Gcm,
            SRTP_128,
            SRTCP_128,
            SRTCP_128_CLEAR_TRAILER,
        ),
        (
            Suite::AeadAes256Gcm,
            SRTP_256,
            SRTCP_256,
            SRTCP_256_CLEAR_TRAILER,
        ),
    ]
}

#[test]
fn rfc7714_16_srtp_protect_and_unprotect() {
    for (suite, srtp, _, _) in cases() {
        let mut tx = session(suite, true);
        let mut packet = hex(RTP);
        tx.protect_rtp(&mut packet).unwrap();
        assert_eq!(packet, hex(srtp), "{suite}: RFC 7714 §16 protect");

        let mut rx = session(suite, false);
        rx.unprotect_rtp(&mut packet).unwrap();
        assert_eq!(packet, hex(RTP), "{suite}: RFC 7714 §16 unprotect");
        let mut again = hex(srtp);
        assert!(matches!(
            rx.unprotect_rtp(&mut again),
            Err(SrtpError::Replayed { .. })
        ));
    }
}

#[test]
fn rfc7714_17_srtcp_protect_and_unprotect() {
    for (suite, _, srtcp, _) in cases() {
        let mut tx = session(suite, true);
        let si = tx.stream_index(RTCP_SSRC).unwrap();
        tx.streams[si].rtcp_next = 0x5d4;
        let mut packet = hex(RTCP);
        tx.protect_rtcp(&mut packet).unwrap();
        assert_eq!(packet, hex(srtcp), "{suite}: RFC 7714 §17 protect (E = 1)");

        let mut rx = session(suite, false);
        rx.unprotect_rtcp(&mut packet).unwrap();
        assert_eq!(packet, hex(RTCP), "{suite}: RFC 7714 §17 unprotect (E = 1)");
    }
}

#[test]
fn rfc7714_17_srtcp_authenticated_only() {
    // §17.3 / §17.4: E = 0. Sigil never sends these (it always encrypts) but
    // accepts them, as RFC 3711 §3.4 lets a receiver.
    for (suite, _, _, trailer) in cases() {
        let mut packet = hex(RTCP);
        packet.extend(hex(trailer));
        let mut rx = session(suite, false);
        rx.unprotect_rtcp(&mut packet).unwrap();
        assert_eq!(packet, hex(RTCP), "{suite}: RFC 7714 §17 E = 0");

        // One bit of the clear body changed: refused, the packet unchanged.
        let mut forged = hex(RTCP);
        forged[20] ^= 1;
        forged.extend(hex(trailer));
        let before = forged.clone();
        let mut rx = session(suite, false);
        assert!(matches!(
            rx.unprotect_rtcp(&mut forged),
            Err(SrtpError::AuthFailed { .. })
        ));
        assert_eq!(forged, before);
    }
}

#[test]
fn forged_aead_packets_are_left_unchanged() {
    for (suite, srtp, srtcp, _) in cases() {
        for at in [3, 14, 40, 60] {
            let mut rx = session(suite, false);
            let mut packet = hex(srtp);
            packet[at] ^= 0x20;
            let before = packet.clone();
            assert!(matches!(
                rx.unprotect_rtp(&mut packet),
                Err(SrtpError::AuthFailed { .. })
            ));
            assert_eq!(packet, before, "{suite}: byte {at}");
            let mut packet = hex(srtcp);
            packet[at] ^= 0x20;
            let before = packet.clone();
            assert!(rx.unprotect_rtcp(&mut packet).is_err());
            assert_eq!(packet, before, "{suite}: SRTCP byte {at}");
        }
    }
}

#[test]
fn the_mki_follows_the_aead_tag() {
    // RFC 7714 §8 and §9: ciphertext ‖ tag ‖ MKI (SRTP), and
    // ciphertext ‖ tag ‖ E ‖ index ‖ MKI (SRTCP).
    let suite = Suite::AeadAes128Gcm;
    let key = MasterKey::from_inline(suite, &[5; 28])
        .unwrap()
        .with_mki(&[0xab, 0xcd])
        .unwrap();
    let mut tx = Session::outbound(Policy::new(suite, key.clone())).unwrap();
    let mut rx = Session::inbound(Policy::new(suite, key)).unwrap();
    let mut packet = hex(RTP);
    tx.protect_rtp(&mut packet).unwrap();
    assert_eq!(packet.len(), hex(RTP).len() + 16 + 2);
    assert_eq!(&packet[packet.len() - 2..], &[0xab, 0xcd]);
    rx.unprotect_rtp(&mut packet).unwrap();
    assert_eq!(packet, hex(RTP));
    let mut packet = hex(RTCP);
    tx.protect_rtcp(&mut packet).unwrap();
    let n = packet.len();
    assert_eq!(&packet[n - 6..], &[0x80, 0, 0, 0, 0xab, 0xcd]);
    rx.unprotect_rtcp(&mut packet).unwrap();
    assert_eq!(packet, hex(RTCP));
}
