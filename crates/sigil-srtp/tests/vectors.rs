//! Whole-packet known-answer tests. Expected values come from the RFCs and
//! SPEC.md (the libsrtp reference packet), never from our own output.

use sigil_srtp::{MasterKey, Policy, Session, SrtpError, Ssrc, Suite};

/// The bytes of a vector written in hex, spaces and line breaks allowed.
fn hex(s: &str) -> Vec<u8> {
    sigil_testkit::hex::decode(&s.split_whitespace().collect::<String>())
}

/// RFC 3711 B.3 master key and salt.
fn b3_key(suite: Suite) -> MasterKey {
    MasterKey::new(
        suite,
        &hex("E1F97A0D3E018BE0D64FA32C06DE4139"),
        &hex("0EC675AD498AFEEBB6960B3AABE6"),
    )
    .unwrap()
}

fn reference_rtp() -> Vec<u8> {
    let mut p = hex("800f1234decafbadcafebabe");
    p.extend_from_slice(&[0xab; 16]);
    p
}

const SPEC_CIPHERTEXT: &str = "800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402";

#[test]
fn spec_whole_packet_aes_cm_128_hmac_sha1_80() {
    let suite = Suite::AesCm128HmacSha1_80;
    let mut tx = Session::outbound(Policy::new(suite, b3_key(suite))).unwrap();
    let mut packet = reference_rtp();
    tx.protect_rtp(&mut packet).unwrap();
    assert_eq!(
        packet,
        hex(&format!("{SPEC_CIPHERTEXT}b78d6acc99ea179b8dbb"))
    );

    let mut rx = Session::inbound(Policy::new(suite, b3_key(suite))).unwrap();
    rx.unprotect_rtp(&mut packet).unwrap();
    assert_eq!(packet, reference_rtp());
}

#[test]
fn spec_whole_packet_aes_cm_128_hmac_sha1_32() {
    let suite = Suite::AesCm128HmacSha1_32;
    let policy = Policy::new(suite, b3_key(suite)).with_ssrc(Ssrc::Specific(0xcafebabe));
    let mut tx = Session::outbound(policy.clone()).unwrap();
    let mut packet = reference_rtp();
    tx.protect_rtp(&mut packet).unwrap();
    assert_eq!(packet, hex(&format!("{SPEC_CIPHERTEXT}b78d6acc")));

    let mut rx = Session::inbound(policy).unwrap();
    let mut out = [0u8; 64];
    let n = rx.unprotect_rtp_into(&packet, &mut out).unwrap();
    assert_eq!(out[..n].to_vec(), reference_rtp());
    // The same packet again is a replay.
    assert!(matches!(
        rx.unprotect_rtp_into(&packet, &mut out),
        Err(SrtpError::Replayed {
            ssrc: 0xcafebabe,
            index: 0x1234
        })
    ));
}

#[test]
fn spec_whole_packet_with_mki_keeps_ciphertext_and_tag() {
    // The MKI sits between the encrypted payload and the tag and is not
    // authenticated (RFC 3711 §3.1), so the ciphertext and tag stay those of
    // the SPEC vector.
    let suite = Suite::AesCm128HmacSha1_80;
    let key = b3_key(suite).with_mki(&[0, 0, 0, 1]).unwrap();
    let other = MasterKey::from_inline(suite, &[9; 30])
        .unwrap()
        .with_mki(&[0, 0, 0, 2])
        .unwrap();
    let mut tx =
        Session::outbound(Policy::new(suite, key.clone()).with_key(other.clone())).unwrap();
    let mut packet = reference_rtp();
    tx.protect_rtp(&mut packet).unwrap();
    assert_eq!(
        packet,
        hex(&format!("{SPEC_CIPHERTEXT}00000001b78d6acc99ea179b8dbb"))
    );
    // A receiver holding both keys (in the other order) selects by MKI.
    let mut rx = Session::inbound(Policy::new(suite, other).with_key(key)).unwrap();
    rx.unprotect_rtp(&mut packet).unwrap();
    assert_eq!(packet, reference_rtp());
}

// The next vectors come from libsrtp's test driver (`srtp_validate` and
// `srtp_validate_aes_256` in libsrtp 2.x `test/srtp_driver.c`), an independent
// implementation; RFC 6188 gives no whole-packet vectors.

/// RFC 6188 §7.2 master key and salt, as libsrtp's AES-256 test uses them.
fn rfc6188_key(suite: Suite) -> MasterKey {
    MasterKey::new(
        suite,
        &hex("f0f04914b513f2763a1b1fa130f10e2998f6f6e43e4309d1e622a0e332b9f1b6"),
        &hex("3b04803de51ee7c96423ab5b78d2"),
    )
    .unwrap()
}

const AES256_CIPHERTEXT: &str = "800f1234decafbadcafebabef1d9de17ff251ff1aa007774b0b4b40d";

#[test]
fn libsrtp_whole_packet_aes_256_cm_hmac_sha1_80() {
    let suite = Suite::Aes256CmHmacSha1_80;
    let mut tx = Session::outbound(Policy::new(suite, rfc6188_key(suite))).unwrap();
    let mut packet = reference_rtp();
    tx.protect_rtp(&mut packet).unwrap();
    assert_eq!(
        packet,
        hex(&format!("{AES256_CIPHERTEXT}a08d9d9a5b3a55d8873b"))
    );
    let mut rx = Session::inbound(Policy::new(suite, rfc6188_key(suite))).unwrap();
    rx.unprotect_rtp(&mut packet).unwrap();
    assert_eq!(packet, reference_rtp());
}

#[test]
fn libsrtp_whole_packet_aes_256_cm_hmac_sha1_32() {
    // The 32-bit tag is the first 4 bytes of the same HMAC (RFC 3711 §4.2).
    let suite = Suite::Aes256CmHmacSha1_32;
    let mut tx = Session::outbound(Policy::new(suite, rfc6188_key(suite))).unwrap();
    let mut packet = bytes::BytesMut::from(&reference_rtp()[..]);
    tx.protect_rtp(&mut packet).unwrap();
    assert_eq!(
        packet.to_vec(),
        hex(&format!("{AES256_CIPHERTEXT}a08d9d9a"))
    );
    let mut rx = Session::inbound(Policy::new(suite, rfc6188_key(suite))).unwrap();
    rx.unprotect_rtp(&mut packet).unwrap();
    assert_eq!(packet.to_vec(), reference_rtp());
}

#[test]
fn libsrtp_whole_packet_srtcp_aes_cm_128() {
    // libsrtp numbers SRTCP packets from 1, RFC 3711 §3.3.2 from 0: the
    // reference packet is our second one.
    let plain = {
        let mut p = hex("81c8000bcafebabe");
        p.extend_from_slice(&[0xab; 16]);
        p
    };
    let expected =
        hex("81c8000bcafebabe 7128035be487b9bdbef89041f977a5a8 80000001 993e08cd54d6c1230798");
    for suite in [Suite::AesCm128HmacSha1_80, Suite::AesCm128HmacSha1_32] {
        // SRTCP uses an 80-bit tag whatever the SRTP tag length.
        let mut tx = Session::outbound(Policy::new(suite, b3_key(suite))).unwrap();
        let mut first = plain.clone();
        tx.protect_rtcp(&mut first).unwrap();
        assert_eq!(first[first.len() - 14..first.len() - 10], [0x80, 0, 0, 0]);
        let mut packet = plain.clone();
        tx.protect_rtcp(&mut packet).unwrap();
        assert_eq!(packet, expected, "{suite}");

        let mut rx = Session::inbound(Policy::new(suite, b3_key(suite))).unwrap();
        rx.unprotect_rtcp(&mut packet).unwrap();
        assert_eq!(packet, plain);
        rx.unprotect_rtcp(&mut first).unwrap();
        assert_eq!(first, plain);
    }
}

#[test]
fn srtcp_without_e_bit_is_authenticated_but_not_decrypted() {
    // RFC 3711 §3.4: E = 0 means the payload travels in the clear.
    let suite = Suite::AesCm128HmacSha1_80;
    let mut tx = Session::outbound(Policy::new(suite, b3_key(suite))).unwrap();
    let mut rx = Session::inbound(Policy::new(suite, b3_key(suite))).unwrap();
    let mut packet = hex("81c8000bcafebabe");
    packet.extend_from_slice(&[0xab; 16]);
    let plain = packet.clone();
    tx.protect_rtcp(&mut packet).unwrap();
    // Clearing E without re-tagging must fail authentication.
    let e_at = plain.len();
    packet[e_at] &= 0x7f;
    assert!(matches!(
        rx.unprotect_rtcp(&mut packet.clone()),
        Err(SrtpError::AuthFailed { .. })
    ));
}
