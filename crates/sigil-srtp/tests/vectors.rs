//! Whole-packet known-answer tests. Expected values come from the RFCs and
//! SPEC.md (the libsrtp reference packet), never from our own output.

use sigil_srtp::{MasterKey, Policy, Session, SrtpError, Ssrc, Suite};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
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
