//! The TLS policy of a SIP connection (SPEC T2–T4): protocol floor, cipher
//! restriction, certificate validation on or off, strict RFC 5922 names and
//! key logging.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::{CipherSuite, SupportedCipherSuite, SupportedProtocolVersion};
use serde::Serialize;

use crate::error::ConfigError;

/// The lowest TLS version that may be negotiated (`sip.tls.version.min`).
/// Nothing older than TLS 1.2 exists here (RFC 8996).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum TlsVersion {
    /// TLS 1.2 or 1.3 (the default).
    #[default]
    #[serde(rename = "1.2")]
    Tls12,
    /// TLS 1.3 only.
    #[serde(rename = "1.3")]
    Tls13,
}

impl TlsVersion {
    /// Parses `1.2` or `1.3` (also `TLSv1.2`, `tls1.3`, …). Anything else,
    /// including `1.0` and `1.1`, is refused.
    pub fn parse(text: &str) -> Result<TlsVersion, ConfigError> {
        let t = text.trim().to_ascii_lowercase();
        let t = t.trim_start_matches("tlsv").trim_start_matches("tls");
        match t {
            "1.2" | "12" | "1_2" => Ok(TlsVersion::Tls12),
            "1.3" | "13" | "1_3" => Ok(TlsVersion::Tls13),
            _ => Err(ConfigError::BadTlsVersion {
                given: text.chars().take(32).collect(),
            }),
        }
    }

    /// The rustls protocol versions from this floor up.
    pub fn versions(self) -> &'static [&'static SupportedProtocolVersion] {
        static BOTH: [&SupportedProtocolVersion; 2] =
            [&rustls::version::TLS13, &rustls::version::TLS12];
        static ONLY13: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
        match self {
            TlsVersion::Tls12 => &BOTH,
            TlsVersion::Tls13 => &ONLY13,
        }
    }
}

impl std::fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TlsVersion::Tls12 => "1.2",
            TlsVersion::Tls13 => "1.3",
        })
    }
}

/// Which cipher suites may be negotiated (`sip.tls.ciphers`, SPEC T4).
///
/// Every suite this crate can ever offer is ECDHE key exchange with an AEAD
/// cipher and a SHA-2 hash (rustls has no CBC, RC4, 3DES, SHA-1 MAC or
/// static-RSA suites at all). The order is AES-256-GCM first, then
/// AES-128-GCM, then ChaCha20-Poly1305; a restriction keeps that order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CipherPolicy {
    /// All the suites of the default order.
    #[default]
    All,
    /// Only these suites (a non-empty subset, in our order).
    Only(Vec<CipherSuite>),
}

/// The suites we offer, in preference order.
fn ordered_suites() -> Vec<SupportedCipherSuite> {
    use rustls::crypto::ring::cipher_suite as cs;
    vec![
        cs::TLS13_AES_256_GCM_SHA384,
        cs::TLS13_AES_128_GCM_SHA256,
        cs::TLS13_CHACHA20_POLY1305_SHA256,
        cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ]
}

/// The family name a restriction list may use for a suite.
fn family(suite: CipherSuite) -> &'static str {
    let name = format!("{suite:?}");
    if name.contains("AES_256_GCM") {
        "aes256"
    } else if name.contains("AES_128_GCM") {
        "aes128"
    } else {
        "chacha20"
    }
}

impl CipherPolicy {
    /// Parses a restriction list: comma, colon or space separated entries,
    /// each a family (`AES256` / `AES-256-GCM`, `AES128` / `AES-128-GCM`,
    /// `CHACHA20` / `CHACHA20-POLY1305`) or an exact IANA suite name
    /// (`TLS13_AES_256_GCM_SHA384`, `TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384`).
    /// An empty list or `all`/`default` means no restriction. A name of a
    /// weak suite (CBC, RC4, 3DES, static RSA, SHA-1) is refused with a reason.
    pub fn parse(text: &str) -> Result<CipherPolicy, ConfigError> {
        let entries: Vec<&str> = text
            .split([',', ':', ' ', ';'])
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .take(64)
            .collect();
        if entries.is_empty()
            || entries
                .iter()
                .all(|e| e.eq_ignore_ascii_case("all") || e.eq_ignore_ascii_case("default"))
        {
            return Ok(CipherPolicy::All);
        }
        let mut chosen: Vec<CipherSuite> = Vec::new();
        for entry in entries {
            let upper = entry.to_ascii_uppercase().replace('-', "_");
            let fam = match upper.as_str() {
                "AES256" | "AES_256" | "AES_256_GCM" | "AES256GCM" | "AES256_GCM" => Some("aes256"),
                "AES128" | "AES_128" | "AES_128_GCM" | "AES128GCM" | "AES128_GCM" => Some("aes128"),
                "CHACHA20" | "CHACHA20_POLY1305" | "CHACHA" => Some("chacha20"),
                _ => None,
            };
            let matched: Vec<CipherSuite> = ordered_suites()
                .iter()
                .map(|s| s.suite())
                .filter(|s| match fam {
                    Some(f) => family(*s) == f,
                    None => format!("{s:?}") == upper,
                })
                .collect();
            if matched.is_empty() {
                let weak = ["CBC", "RC4", "3DES", "DES", "NULL", "EXPORT", "MD5", "SHA1"]
                    .iter()
                    .any(|w| upper.contains(w))
                    || (upper.starts_with("TLS_RSA_") || upper.starts_with("RSA_"))
                    || upper.ends_with("_SHA");
                return Err(ConfigError::BadCipher {
                    given: entry.chars().take(64).collect(),
                    weak,
                });
            }
            for s in matched {
                if !chosen.contains(&s) {
                    chosen.push(s);
                }
            }
        }
        Ok(CipherPolicy::Only(chosen))
    }

    /// The suites to offer, in preference order (AES-256-GCM first).
    pub fn suites(&self) -> Vec<SupportedCipherSuite> {
        let all = ordered_suites();
        match self {
            CipherPolicy::All => all,
            CipherPolicy::Only(only) => all
                .into_iter()
                .filter(|s| only.contains(&s.suite()))
                .collect(),
        }
    }
}

/// What a SIP TLS connection (client or server) may negotiate and how the
/// server is checked. `TlsPolicy::default()` is the secure default: TLS 1.2
/// floor, every ECDHE-AEAD suite, validation on, RFC 5922 with wildcards
/// allowed (hosted providers use them), no key log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPolicy {
    /// The protocol floor (`sip.tls.version.min`).
    pub min_version: TlsVersion,
    /// The cipher restriction (`sip.tls.ciphers`).
    pub ciphers: CipherPolicy,
    /// Validate the server certificate (`sip.tls.validate`). When false the
    /// connection is encrypted but the server is **not verified** (SPEC T2).
    pub validate: bool,
    /// Strict RFC 5922: no wildcard dNSName matching.
    pub strict_names: bool,
    /// Write TLS secrets to this file (the `SSLKEYLOGFILE` format Wireshark
    /// reads). A debugging aid: off by default, never taken from the
    /// environment, and logged as a warning when on.
    pub key_log: Option<std::path::PathBuf>,
}

impl Default for TlsPolicy {
    fn default() -> Self {
        TlsPolicy {
            min_version: TlsVersion::Tls12,
            ciphers: CipherPolicy::All,
            validate: true,
            strict_names: false,
            key_log: None,
        }
    }
}

impl TlsPolicy {
    /// The rustls crypto provider (ring) restricted to this policy's suites.
    pub fn provider(&self) -> Result<Arc<CryptoProvider>, ConfigError> {
        let versions = self.min_version.versions();
        let suites: Vec<SupportedCipherSuite> = self
            .ciphers
            .suites()
            .into_iter()
            .filter(|s| versions.iter().any(|v| s.version() == *v))
            .collect();
        if suites.is_empty() {
            return Err(ConfigError::NoUsableCipher {
                min_version: self.min_version,
            });
        }
        Ok(Arc::new(CryptoProvider {
            cipher_suites: suites,
            ..rustls::crypto::ring::default_provider()
        }))
    }
}

/// The IANA-style name of a negotiated suite, e.g. `TLS13_AES_256_GCM_SHA384`.
pub fn suite_name(suite: CipherSuite) -> String {
    format!("{suite:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_refuse_old_ones() {
        assert_eq!(TlsVersion::parse("1.2").ok(), Some(TlsVersion::Tls12));
        assert_eq!(TlsVersion::parse("TLSv1.3").ok(), Some(TlsVersion::Tls13));
        for old in ["1.0", "1.1", "ssl3", "", "2"] {
            assert!(TlsVersion::parse(old).is_err(), "{old}");
        }
        assert_eq!(TlsVersion::Tls13.versions().len(), 1);
    }

    #[test]
    fn default_order_puts_aes256_first_and_is_all_aead_ecdhe() {
        let suites = CipherPolicy::All.suites();
        assert_eq!(suites[0].suite(), CipherSuite::TLS13_AES_256_GCM_SHA384);
        for s in suites {
            let n = suite_name(s.suite());
            assert!(
                n.starts_with("TLS13_") || n.starts_with("TLS_ECDHE_"),
                "{n}"
            );
            assert!(n.contains("GCM") || n.contains("CHACHA20_POLY1305"), "{n}");
        }
    }

    #[test]
    fn restriction_lists() {
        let p = CipherPolicy::parse("AES256").unwrap();
        let names: Vec<String> = p.suites().iter().map(|s| suite_name(s.suite())).collect();
        assert_eq!(names.len(), 3);
        assert!(names.iter().all(|n| n.contains("AES_256_GCM")));
        let p = CipherPolicy::parse("chacha20, TLS13_AES_128_GCM_SHA256").unwrap();
        assert_eq!(p.suites().len(), 4);
        assert_eq!(CipherPolicy::parse("").unwrap(), CipherPolicy::All);
        let e = CipherPolicy::parse("AES256,TLS_RSA_WITH_AES_128_CBC_SHA").unwrap_err();
        assert!(
            matches!(e, ConfigError::BadCipher { weak: true, .. }),
            "{e:?}"
        );
        assert!(matches!(
            CipherPolicy::parse("bogus").unwrap_err(),
            ConfigError::BadCipher { weak: false, .. }
        ));
    }

    #[test]
    fn tls13_floor_with_tls12_only_suites_is_an_error() {
        let policy = TlsPolicy {
            min_version: TlsVersion::Tls13,
            ciphers: CipherPolicy::parse("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384").unwrap(),
            ..TlsPolicy::default()
        };
        assert!(matches!(
            policy.provider(),
            Err(ConfigError::NoUsableCipher { .. })
        ));
        assert_eq!(
            TlsPolicy::default().provider().unwrap().cipher_suites.len(),
            9
        );
    }
}
