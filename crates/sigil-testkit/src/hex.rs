//! Lower-case hex for test vectors and for talking to peers that speak hex.

/// `bytes` as lower-case hex, two digits a byte.
pub fn encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of `text`, hex of either case.
///
/// # Panics
///
/// When `text` has an odd length or a character that is not a hex digit:
/// in a test that is a broken vector or a confused peer.
pub fn decode(text: &str) -> Vec<u8> {
    assert!(text.len() % 2 == 0, "odd-length hex: {text:?}");
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .filter(|pair| pair.bytes().all(|c| c.is_ascii_hexdigit()))
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .unwrap_or_else(|| panic!("not hex: {text:?}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip() {
        assert_eq!(super::encode(&[0x00, 0xab, 0xff]), "00abff");
        assert_eq!(super::decode("00ABff"), [0x00, 0xab, 0xff]);
        assert_eq!(super::decode(""), Vec::<u8>::new());
    }

    #[test]
    #[should_panic(expected = "odd-length hex")]
    fn odd_length_panics() {
        super::decode("abc");
    }
}
