//! `a=crypto` (RFC 4568): parsing, checking and writing, with the RFC's
//! examples, every session parameter, the limits, and a proptest write →
//! parse round trip.

use proptest::prelude::*;
use sigil_srtp::sdes::{
    CryptoAttribute, FecOrder, KeyParam, Lifetime, Mki, SdesError, SessionParam, SuiteName,
    MAX_ATTRIBUTE_LEN, MAX_KEY_PARAMS, MAX_SESSION_PARAMS,
};
use sigil_srtp::Suite;

/// Key‖salt from RFC 4568 §3 (30 bytes).
const RFC_KEY_1: &str = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";
/// Key‖salt from RFC 4568 §4 / §7 examples (30 bytes).
const RFC_KEY_2: &str = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";
const RFC_KEY_3: &str = "NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj";

fn parse(s: &str) -> CryptoAttribute {
    CryptoAttribute::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn rfc_4568_section_3_example() {
    let attr = parse(&format!(
        "1 AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY_1}|2^20|1:4"
    ));
    let params = attr.check().unwrap();
    assert_eq!(params.suite, Suite::AesCm128HmacSha1_80);
    assert_eq!(params.lifetime, Some(1 << 20));
    assert_eq!(params.keys.len(), 1);
    assert_eq!(params.keys[0].mki(), Some(&[0, 0, 0, 1][..]));
    let policy = params.policy().unwrap();
    assert_eq!(policy.lifetimes(), (1 << 20, 1 << 20));
    assert_eq!(policy.mki_len(), 4);
}

#[test]
fn rfc_4568_mki_of_32_bytes_parses_but_is_not_supported() {
    // RFC 4568 §4: `|2^20|1:32` — a 32-byte MKI field.
    let attr = parse(&format!(
        "1 AES_CM_128_HMAC_SHA1_32 inline:{RFC_KEY_3}|2^20|1:32"
    ));
    assert_eq!(
        attr.keys[0].mki,
        Some(Mki {
            value: 1,
            length: 32
        })
    );
    assert_eq!(
        attr.check().unwrap_err(),
        SdesError::MkiTooLong { length: 32, max: 4 }
    );
}

#[test]
fn several_keys_with_mkis() {
    let line = format!(
        "1 AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY_1}|2^20|1:4;inline:{RFC_KEY_2}|2^20|2:4 FEC_ORDER=FEC_SRTP"
    );
    let attr = parse(&line);
    assert_eq!(attr.keys.len(), 2);
    assert_eq!(attr.params, [SessionParam::FecOrder(FecOrder::FecSrtp)]);
    assert_eq!(attr.to_string(), line);
    let params = attr.check().unwrap();
    assert_eq!(params.keys[1].mki(), Some(&[0, 0, 0, 2][..]));
    assert_eq!(params.policy().unwrap().keys().len(), 2);

    for bad in [
        // A second key without MKI.
        format!("1 AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY_1}|1:4;inline:{RFC_KEY_2}"),
        // Two keys with the same MKI.
        format!("1 AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY_1}|1:4;inline:{RFC_KEY_2}|1:4"),
        // MKIs of different lengths.
        format!("1 AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY_1}|1:4;inline:{RFC_KEY_2}|2:2"),
    ] {
        assert_eq!(
            parse(&bad).check().unwrap_err(),
            SdesError::MkiConflict,
            "{bad}"
        );
    }
}

#[test]
fn lifetimes() {
    let with = |l: &str| {
        CryptoAttribute::parse(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY_1}|{l}"))
    };
    assert_eq!(
        with("2^31").unwrap().keys[0].lifetime,
        Some(Lifetime::PowerOfTwo(31))
    );
    assert_eq!(
        with("1048576").unwrap().keys[0].lifetime,
        Some(Lifetime::Packets(1 << 20))
    );
    assert_eq!(
        with("2^48").unwrap().check().unwrap().lifetime,
        Some(1 << 48)
    );
    assert_eq!(
        with("2^49").unwrap().check().unwrap_err(),
        SdesError::LifetimeTooLong { lifetime: 1 << 49 }
    );
    assert!(matches!(with("0"), Err(SdesError::BadLifetime { .. })));
    assert!(matches!(with("2^64"), Err(SdesError::BadLifetime { .. })));
    assert!(matches!(
        with("99999999999999999999"),
        Err(SdesError::BadLifetime { .. })
    ));
    assert!(matches!(with("2^"), Err(SdesError::Syntax { .. })));
}

#[test]
fn mki_syntax() {
    let with = |m: &str| {
        CryptoAttribute::parse(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY_1}|{m}"))
    };
    assert_eq!(
        with("255:1").unwrap().check().unwrap().keys[0].mki(),
        Some(&[255][..])
    );
    for bad in ["256:1", "1:0", "1:129", "1:1000"] {
        assert!(with(bad).is_err(), "{bad}");
    }
    assert_eq!(
        with("1:5").unwrap().check().unwrap_err(),
        SdesError::MkiTooLong { length: 5, max: 4 }
    );
    // Lifetime after MKI is out of order.
    assert!(with("1:4|2^20").is_err());
}

#[test]
fn session_parameters() {
    let with = |p: &str| {
        CryptoAttribute::parse(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY_1} {p}"))
    };
    let kdr = with("KDR=10").unwrap().check().unwrap();
    assert_eq!((kdr.kdr, kdr.key_derivation_rate()), (Some(10), 1024));
    assert_eq!(kdr.policy().unwrap().key_derivation_rate(), 1024);
    let wsh = with("WSH=1024").unwrap().check().unwrap();
    assert_eq!(wsh.policy().unwrap().replay_window(), 1024);
    // A hint below our default keeps the default window.
    assert_eq!(
        with("WSH=64")
            .unwrap()
            .check()
            .unwrap()
            .policy()
            .unwrap()
            .replay_window(),
        128
    );
    assert_eq!(
        with("FEC_ORDER=SRTP_FEC")
            .unwrap()
            .check()
            .unwrap()
            .fec_order,
        Some(FecOrder::SrtpFec)
    );
    // Case-insensitive names, as ABNF literals are.
    assert_eq!(with("kdr=3").unwrap().params, [SessionParam::Kdr(3)]);

    for (param, name) in [
        ("UNENCRYPTED_SRTP", "UNENCRYPTED_SRTP"),
        ("UNENCRYPTED_SRTCP", "UNENCRYPTED_SRTCP"),
        ("UNAUTHENTICATED_SRTP", "UNAUTHENTICATED_SRTP"),
    ] {
        match with(param).unwrap().check().unwrap_err() {
            SdesError::UnsupportedSessionParam { name: n, .. } => assert_eq!(n, name),
            other => panic!("{param}: {other:?}"),
        }
    }
    let fec_key = with(&format!("FEC_KEY=inline:{RFC_KEY_2}|2^20|1:4")).unwrap();
    assert!(matches!(&fec_key.params[0], SessionParam::FecKey(keys) if keys.len() == 1));
    assert!(matches!(
        fec_key.check().unwrap_err(),
        SdesError::UnsupportedSessionParam {
            name: "FEC_KEY",
            ..
        }
    ));

    for bad in [
        "KDR=25",
        "KDR=x",
        "KDR=",
        "WSH=63",
        "WSH=1x",
        "FEC_ORDER=BOTH",
        "KDR",
    ] {
        assert!(with(bad).is_err(), "{bad}");
    }
    assert_eq!(
        with("WSH=40000").unwrap().check().unwrap_err(),
        SdesError::BadSessionParamValue {
            param: "WSH",
            value: "40000".into()
        }
    );
    // Unknown: mandatory unless it starts with '-' (RFC 4568 §6.3.7).
    assert_eq!(
        with("NEW_THING").unwrap().check().unwrap_err(),
        SdesError::UnknownSessionParam {
            name: "NEW_THING".into()
        }
    );
    assert!(with("-NEW_THING=1").unwrap().check().is_ok());
}

#[test]
fn key_lengths_are_checked_against_the_suite() {
    let k46 = "8AbZePWwsKhLGX3GlXA+yHYPQ3cgraer/9DkFJYCOPZZy3o9wC0NIbIFYZfyHw==";
    assert_eq!(
        parse(&format!("1 AES_256_CM_HMAC_SHA1_80 inline:{k46}"))
            .check()
            .unwrap()
            .keys[0]
            .key()
            .len(),
        32
    );
    // The same 46 bytes without padding are accepted too.
    assert!(parse(&format!(
        "1 AES_256_CM_HMAC_SHA1_32 inline:{}",
        k46.trim_end_matches('=')
    ))
    .check()
    .is_ok());
    assert_eq!(
        parse(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{k46}"))
            .check()
            .unwrap_err(),
        SdesError::WrongKeyLength {
            suite: Suite::AesCm128HmacSha1_80,
            expected: 30,
            actual: 46
        }
    );
    assert_eq!(
        parse(&format!("1 AES_256_CM_HMAC_SHA1_80 inline:{RFC_KEY_1}"))
            .check()
            .unwrap_err(),
        SdesError::WrongKeyLength {
            suite: Suite::Aes256CmHmacSha1_80,
            expected: 46,
            actual: 30
        }
    );
}

#[test]
fn unknown_suites_parse_and_are_refused_by_check() {
    // FreeSWITCH's 8-byte-tag GCM variant is no registered suite Sigil has.
    let attr = parse(&format!("9 AEAD_AES_256_GCM_8 inline:{RFC_KEY_1}"));
    assert_eq!(attr.suite, SuiteName::Other("AEAD_AES_256_GCM_8".into()));
    assert_eq!(
        attr.check().unwrap_err(),
        SdesError::UnknownSuite {
            name: "AEAD_AES_256_GCM_8".into()
        }
    );
}

#[test]
fn aead_suites_take_the_rfc_7714_key_lengths() {
    // RFC 7714 §14.1: AEAD_AES_128_GCM carries 16 + 12 bytes, AEAD_AES_256_GCM
    // 32 + 12 (base64 with one padding character each).
    use base64::Engine as _;
    for (suite, len) in [(Suite::AeadAes128Gcm, 28), (Suite::AeadAes256Gcm, 44)] {
        let key = base64::engine::general_purpose::STANDARD.encode(vec![7u8; len]);
        let attr = parse(&format!("3 {suite} inline:{key}"));
        assert_eq!(attr.suite, SuiteName::Known(suite));
        let params = attr.check().unwrap();
        assert_eq!(params.suite, suite);
        let written = sigil_srtp::sdes::CryptoAttribute::from_params(&params).to_string();
        assert_eq!(written, format!("3 {suite} inline:{key}"));
        let wrong = base64::engine::general_purpose::STANDARD.encode(vec![7u8; 30]);
        assert_eq!(
            parse(&format!("3 {suite} inline:{wrong}"))
                .check()
                .unwrap_err(),
            SdesError::WrongKeyLength {
                suite,
                expected: len,
                actual: 30
            }
        );
    }
}

#[test]
fn malformed_lines() {
    let cases = [
        "",
        "1",
        "1 AES_CM_128_HMAC_SHA1_80",
        "1 AES_CM_128_HMAC_SHA1_80 ",
        "x AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
        "1234567890 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
        "1 AES-CM inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
        "1 AES_CM_128_HMAC_SHA1_80 inline:",
        "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|",
        "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR||1:4",
        "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR;",
        "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVe-CFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
        "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVB=",
        "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR===",
    ];
    for line in cases {
        assert!(
            CryptoAttribute::parse(line).is_err(),
            "{line:?} should be refused"
        );
    }
    assert_eq!(
        CryptoAttribute::parse("1 AES_CM_128_HMAC_SHA1_80 uri:sip:keys@example.com").unwrap_err(),
        SdesError::UnsupportedKeyMethod {
            method: "uri".into()
        }
    );
    // A space inside the key splits it: grammatical, but the short key and
    // the unknown "parameter" make the line unusable.
    assert!(
        CryptoAttribute::parse("1 AES_CM_128_HMAC_SHA1_80 inline:PS1u QCVe")
            .unwrap()
            .check()
            .is_err()
    );
    // Tabs are whitespace too; trailing whitespace is tolerated.
    assert!(CryptoAttribute::parse(&format!(
        "1\tAES_CM_128_HMAC_SHA1_80\tinline:{RFC_KEY_1}\tKDR=1 "
    ))
    .is_ok());
}

#[test]
fn limits() {
    let long = format!(
        "1 AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY_1} -{}",
        "x".repeat(MAX_ATTRIBUTE_LEN)
    );
    assert!(matches!(
        CryptoAttribute::parse(&long),
        Err(SdesError::TooLong { .. })
    ));
    let keys = vec![format!("inline:{RFC_KEY_1}|1:4"); MAX_KEY_PARAMS + 1].join(";");
    assert_eq!(
        CryptoAttribute::parse(&format!("1 AES_CM_128_HMAC_SHA1_80 {keys}")).unwrap_err(),
        SdesError::TooMany {
            what: "key parameters",
            max: MAX_KEY_PARAMS
        }
    );
    let params = vec!["-X"; MAX_SESSION_PARAMS + 1].join(" ");
    assert_eq!(
        CryptoAttribute::parse(&format!(
            "1 AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY_1} {params}"
        ))
        .unwrap_err(),
        SdesError::TooMany {
            what: "session parameters",
            max: MAX_SESSION_PARAMS
        }
    );
}

#[test]
fn secrets_stay_out_of_debug_and_errors() {
    let attr = parse(&format!(
        "1 AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY_1}|2^20|1:4"
    ));
    let params = attr.check().unwrap();
    for shown in [format!("{attr:?}"), format!("{params:?}")] {
        assert!(
            !shown.contains(RFC_KEY_1) && !shown.contains("PS1u"),
            "{shown}"
        );
        assert!(shown.contains("redacted"), "{shown}");
    }
    let err = CryptoAttribute::parse(&format!(
        "1 AES_CM_128_HMAC_SHA1_80 inline:{}=",
        &RFC_KEY_1[..39]
    ))
    .unwrap_err();
    assert!(!err.to_string().contains(&RFC_KEY_1[..20]), "{err}");
}

#[test]
fn generated_keys_are_fresh_and_written_as_sdes() {
    let a = sigil_srtp::sdes::CryptoParams::generate(1, Suite::Aes256CmHmacSha1_32).unwrap();
    let b = sigil_srtp::sdes::CryptoParams::generate(1, Suite::Aes256CmHmacSha1_32).unwrap();
    assert_ne!(a, b, "two generated keys differ");
    let line = CryptoAttribute::from_params(&a).to_string();
    assert!(line.starts_with("1 AES_256_CM_HMAC_SHA1_32 inline:"));
    assert_eq!(parse(&line).check().unwrap(), a);
    let attr = CryptoAttribute::from_params(&a).to_attribute();
    assert_eq!(attr.attribute, "crypto");
}

// ---- proptest: write → parse round trip -----------------------------------

fn suite_name() -> impl Strategy<Value = SuiteName> {
    prop_oneof![
        proptest::sample::select(Suite::ALL.to_vec()).prop_map(SuiteName::Known),
        "[A-Z][A-Z0-9_]{0,30}".prop_map(|s| SuiteName::from(s.as_str())),
    ]
}

fn key_param() -> impl Strategy<Value = KeyParam> {
    (
        proptest::collection::vec(any::<u8>(), 1..64),
        proptest::option::of(prop_oneof![
            (0u8..64).prop_map(Lifetime::PowerOfTwo),
            (1u64..).prop_map(Lifetime::Packets),
        ]),
        proptest::option::of((1u8..=128, any::<u64>()).prop_map(|(length, v)| {
            let value = if length >= 8 {
                v
            } else {
                v & ((1u64 << (u32::from(length) * 8)) - 1)
            };
            Mki { value, length }
        })),
    )
        .prop_map(|(bytes, lifetime, mki)| {
            let mut k = KeyParam::new(&bytes);
            k.lifetime = lifetime;
            k.mki = mki;
            k
        })
}

fn session_param() -> impl Strategy<Value = SessionParam> {
    prop_oneof![
        (0u8..=24).prop_map(SessionParam::Kdr),
        Just(SessionParam::UnencryptedSrtp),
        Just(SessionParam::UnencryptedSrtcp),
        Just(SessionParam::UnauthenticatedSrtp),
        Just(SessionParam::FecOrder(FecOrder::FecSrtp)),
        Just(SessionParam::FecOrder(FecOrder::SrtpFec)),
        proptest::collection::vec(key_param(), 1..3).prop_map(SessionParam::FecKey),
        (64u32..1_000_000).prop_map(SessionParam::Wsh),
        "-?X_[A-Z0-9_=]{0,12}".prop_map(SessionParam::Extension),
    ]
}

fn crypto_attribute() -> impl Strategy<Value = CryptoAttribute> {
    (
        0u32..1_000_000_000,
        suite_name(),
        proptest::collection::vec(key_param(), 1..4),
        proptest::collection::vec(session_param(), 0..5),
    )
        .prop_map(|(tag, suite, keys, params)| CryptoAttribute {
            tag,
            suite,
            keys,
            params,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn write_then_parse_is_identity(attr in crypto_attribute()) {
        let text = attr.to_string();
        let back = CryptoAttribute::parse(&text).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(&back, &attr);
        prop_assert_eq!(back.to_string(), text);
    }

    #[test]
    fn checked_params_write_back_to_the_same_params(suite in proptest::sample::select(Suite::ALL.to_vec()), tag in 0u32..1000, kdr in proptest::option::of(0u8..=24), lifetime in proptest::option::of(1u64..=(1 << 48))) {
        let mut params = sigil_srtp::sdes::CryptoParams::generate(tag, suite).unwrap();
        params.kdr = kdr;
        params.lifetime = lifetime;
        let line = CryptoAttribute::from_params(&params).to_string();
        prop_assert_eq!(CryptoAttribute::parse(&line).unwrap().check().unwrap(), params);
    }

    #[test]
    fn parsing_arbitrary_text_never_panics(s in "\\PC{0,200}") {
        let _ = CryptoAttribute::parse(&s).map(|a| a.check());
    }

    #[test]
    fn mutated_valid_lines_never_panic(attr in crypto_attribute(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = attr.to_string().into_bytes();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        if let Ok(s) = String::from_utf8(bytes) {
            let _ = CryptoAttribute::parse(&s).map(|a| a.check());
        }
    }
}
