//! MAC addresses as they appear in device certificates.

use std::fmt;
use std::str::FromStr;

/// The longest text [`Mac::parse`] looks at; anything longer is refused at once.
const MAX_MAC_TEXT: usize = 64;

/// A device's Ethernet MAC address, the name a device certificate carries in its
/// subject common name (and serialNumber attribute).
///
/// Parsing accepts the spellings found on labels and in the field —
/// `00:22:ee:01:02:03`, `00-22-EE-01-02-03` and `0022ee010203`, in any letter
/// case — and [`Display`](fmt::Display) prints the normalised form
/// `00:22:ee:01:02:03` (lowercase, colon-separated), which is what
/// [`mint`](crate::mint) writes into certificates.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac([u8; 6]);

/// A text that is not a MAC address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a MAC address (expected 00:22:ee:01:02:03, 00-22-EE-01-02-03 or 0022ee010203)")]
pub struct MacParseError {
    /// The offending text (cut to 64 characters).
    pub input: String,
}

impl Mac {
    /// A MAC from its six octets.
    pub const fn new(octets: [u8; 6]) -> Self {
        Mac(octets)
    }

    /// The six octets.
    pub const fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// Parses `00:22:ee:01:02:03`, `00-22-EE-01-02-03` or `0022ee010203` (any case,
    /// surrounding whitespace ignored). Mixed separators are refused.
    pub fn parse(text: &str) -> Result<Mac, MacParseError> {
        let error = || MacParseError {
            input: text.chars().take(MAX_MAC_TEXT).collect(),
        };
        if text.len() > MAX_MAC_TEXT {
            return Err(error());
        }
        let trimmed = text.trim().as_bytes();
        let mut octets = [0u8; 6];
        match trimmed.len() {
            12 => {
                for (octet, pair) in octets.iter_mut().zip(trimmed.chunks_exact(2)) {
                    *octet = hex_pair(pair).ok_or_else(error)?;
                }
            }
            17 => {
                let separator = *trimmed.get(2).ok_or_else(error)?;
                if separator != b':' && separator != b'-' {
                    return Err(error());
                }
                for (index, octet) in octets.iter_mut().enumerate() {
                    let start = index * 3;
                    let pair = trimmed.get(start..start + 2).ok_or_else(error)?;
                    *octet = hex_pair(pair).ok_or_else(error)?;
                    if index < 5 && trimmed.get(start + 2) != Some(&separator) {
                        return Err(error());
                    }
                }
            }
            _ => return Err(error()),
        }
        Ok(Mac(octets))
    }

    /// The compact lowercase form `0022ee010203`, as used in per-device file names.
    pub fn compact(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

fn hex_pair(pair: &[u8]) -> Option<u8> {
    let [high, low] = pair else { return None };
    Some(hex_digit(*high)? << 4 | hex_digit(*low)?)
}

fn hex_digit(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mac({self})")
    }
}

impl FromStr for Mac {
    type Err = MacParseError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Mac::parse(text)
    }
}

impl serde::Serialize for Mac {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_the_three_field_spellings() {
        let expected = Mac::new([0x00, 0x22, 0xee, 0x01, 0x02, 0x03]);
        for text in [
            "00:22:ee:01:02:03",
            "00-22-EE-01-02-03",
            "0022ee010203",
            " 0022EE010203\n",
        ] {
            assert_eq!(Mac::parse(text), Ok(expected), "{text}");
        }
        assert_eq!(expected.to_string(), "00:22:ee:01:02:03");
        assert_eq!(expected.compact(), "0022ee010203");
    }

    #[test]
    fn refuses_near_misses() {
        for text in [
            "",
            "00:22:ee:01:02",
            "00:22:ee:01:02:03:04",
            "00:22-ee:01:02:03",
            "00.22.ee.01.02.03",
            "0022ee01020g",
            "0022ee0102034",
            "+0:22:ee:01:02:03",
            "00:22:ee:01:02:0",
            "ü0:22:ee:01:02:03",
        ] {
            assert!(Mac::parse(text).is_err(), "{text:?} must be refused");
        }
        let long = "0".repeat(10_000);
        assert_eq!(Mac::parse(&long).unwrap_err().input.len(), MAX_MAC_TEXT);
    }

    proptest! {
        #[test]
        fn every_spelling_normalises_to_the_same_mac(octets in any::<[u8; 6]>(), upper in any::<bool>(), style in 0u8..3) {
            let mac = Mac::new(octets);
            let mut text = match style {
                0 => mac.to_string(),
                1 => mac.to_string().replace(':', "-"),
                _ => mac.compact(),
            };
            if upper {
                text = text.to_uppercase();
            }
            prop_assert_eq!(Mac::parse(&text), Ok(mac));
            prop_assert_eq!(Mac::parse(&mac.to_string()), Ok(mac));
            prop_assert_eq!(Mac::parse(&mac.compact()), Ok(mac));
        }

        #[test]
        fn parsing_is_total_and_round_trips(text in "\\PC{0,40}") {
            if let Ok(mac) = Mac::parse(&text) {
                // Whatever was accepted normalises and re-parses to itself.
                prop_assert_eq!(Mac::parse(&mac.to_string()), Ok(mac));
                let hex: String = text.chars().filter(|c| c.is_ascii_hexdigit()).collect();
                prop_assert_eq!(hex.to_lowercase(), mac.compact());
            }
        }
    }
}
