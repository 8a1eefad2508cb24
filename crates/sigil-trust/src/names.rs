//! Server identity checks: DNS names (RFC 6125, wildcard only as the whole
//! left-most label), IP addresses, and SIP domains (RFC 5922 §7.1).

use std::net::IpAddr;

use serde::Serialize;

use crate::cert::{CertSummary, SanEntry};
use crate::error::VerifyError;

/// The identity the server must prove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum ExpectedName {
    /// A DNS host name, matched against dNSName subjectAltNames (wildcards allowed
    /// in the left-most label, RFC 6125 §6.4.3). The subject common name is never used.
    Dns(String),
    /// An IP address, matched against iPAddress subjectAltNames only.
    Ip(IpAddr),
    /// A SIP domain per RFC 5922 §7.1: if the certificate has `sip:domain`
    /// URI subjectAltNames, only those count (exact match, no wildcards);
    /// otherwise dNSName entries (wildcards allowed unless `strict`). A domain
    /// that is an IP literal (an IP-addressed proxy) is matched against iPAddress entries.
    Sip {
        /// The SIP domain being contacted.
        domain: String,
        /// Strict RFC 5922: no wildcard dNSName matching.
        strict: bool,
    },
}

impl ExpectedName {
    /// A DNS name, or an IP when `name` is an IP literal (IPv6 may be in brackets).
    pub fn host(name: &str) -> ExpectedName {
        match parse_ip(name) {
            Some(ip) => ExpectedName::Ip(ip),
            None => ExpectedName::Dns(name.to_owned()),
        }
    }

    /// A SIP domain.
    pub fn sip(domain: &str, strict: bool) -> ExpectedName {
        ExpectedName::Sip {
            domain: domain.to_owned(),
            strict,
        }
    }
}

impl std::fmt::Display for ExpectedName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExpectedName::Dns(name) => write!(f, "DNS name {name}"),
            ExpectedName::Ip(ip) => write!(f, "IP address {ip}"),
            ExpectedName::Sip {
                domain,
                strict: true,
            } => write!(f, "SIP domain {domain} (strict RFC 5922, no wildcards)"),
            ExpectedName::Sip { domain, .. } => write!(f, "SIP domain {domain}"),
        }
    }
}

fn parse_ip(text: &str) -> Option<IpAddr> {
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    inner.parse().ok()
}

/// Checks `expected` against the names in `cert`. Returns the matching entry
/// (e.g. `DNS:*.example.com`) or [`VerifyError::NameMismatch`] listing every name presented.
pub fn check_name(cert: &CertSummary, expected: &ExpectedName) -> Result<String, VerifyError> {
    let found = match expected {
        ExpectedName::Dns(name) => find_dns(&cert.sans, name, true),
        ExpectedName::Ip(ip) => find_ip(&cert.sans, *ip),
        ExpectedName::Sip { domain, strict } => {
            match parse_ip(domain) {
                Some(ip) => find_ip(&cert.sans, ip),
                None => {
                    let sip_domains: Vec<&SanEntry> = cert
                    .sans
                    .iter()
                    .filter(|san| matches!(san, SanEntry::Uri(uri) if sip_uri_domain(uri).is_some()))
                    .collect();
                    if sip_domains.is_empty() {
                        find_dns(&cert.sans, domain, !strict)
                    } else {
                        let wanted = normalize(domain);
                        sip_domains
                            .into_iter()
                            .find(|san| match san {
                                SanEntry::Uri(uri) => sip_uri_domain(uri)
                                    .is_some_and(|d| !wanted.is_empty() && normalize(&d) == wanted),
                                _ => false,
                            })
                            .map(ToString::to_string)
                    }
                }
            }
        }
    };
    found.ok_or_else(|| VerifyError::NameMismatch {
        expected: expected.to_string(),
        presented: presented_names(cert),
        note: mismatch_note(cert, expected),
    })
}

/// RFC 5922 §7.1: a certificate with `sip:` URI entries is identified by
/// them alone; its DNS names are not SIP domain identities. Say so when it
/// has DNS names, so a DNS name equal to the domain is not read as a match
/// that was missed.
fn mismatch_note(cert: &CertSummary, expected: &ExpectedName) -> Option<String> {
    let ExpectedName::Sip { domain, .. } = expected else {
        return None;
    };
    let has_sip_uri = cert
        .sans
        .iter()
        .any(|san| matches!(san, SanEntry::Uri(uri) if sip_uri_domain(uri).is_some()));
    let has_dns = cert.sans.iter().any(|san| matches!(san, SanEntry::Dns(_)));
    (parse_ip(domain).is_none() && has_sip_uri && has_dns).then(|| {
        "its DNS names are not SIP domain identities here: a certificate with sip: URI \
         entries is identified by those alone (RFC 5922 §7.1), so it needs URI:sip:"
            .to_owned()
            + domain
    })
}

/// The names a certificate presents, for error messages.
pub fn presented_names(cert: &CertSummary) -> Vec<String> {
    if cert.sans.is_empty() {
        return cert
            .common_name
            .iter()
            .map(|cn| {
                format!(
                    "CN:{cn} (a common name only; it is not used, a subjectAltName is required)"
                )
            })
            .collect();
    }
    cert.sans.iter().map(ToString::to_string).collect()
}

fn find_dns(sans: &[SanEntry], name: &str, allow_wildcard: bool) -> Option<String> {
    sans.iter()
        .find(|san| matches!(san, SanEntry::Dns(pattern) if dns_matches(pattern, name, allow_wildcard)))
        .map(ToString::to_string)
}

fn find_ip(sans: &[SanEntry], ip: IpAddr) -> Option<String> {
    sans.iter()
        .find(|san| matches!(san, SanEntry::Ip(presented) if *presented == ip))
        .map(ToString::to_string)
}

fn normalize(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

fn valid_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// RFC 6125 matching of a presented dNSName `pattern` against the reference
/// `name`: ASCII case-insensitive, one trailing dot ignored; a wildcard is
/// only `*` as the whole left-most label, covers exactly one non-empty label,
/// and needs at least two labels after it (`*.com` matches nothing).
pub fn dns_matches(pattern: &str, name: &str, allow_wildcard: bool) -> bool {
    let pattern = normalize(pattern);
    let name = normalize(name);
    if !valid_dns_name(&name) {
        return false;
    }
    if let Some(rest) = pattern.strip_prefix("*.") {
        if !allow_wildcard || !valid_dns_name(rest) || !rest.contains('.') {
            return false;
        }
        match name.split_once('.') {
            Some((first, tail)) => !first.is_empty() && tail == rest,
            None => false,
        }
    } else {
        valid_dns_name(&pattern) && pattern == name
    }
}

/// The domain of a `sip:` (or `sips:`) URI subjectAltName that names a domain:
/// no user part; port, parameters and headers are dropped. `None` for any other URI.
pub fn sip_uri_domain(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once(':')?;
    if !scheme.eq_ignore_ascii_case("sip") && !scheme.eq_ignore_ascii_case("sips") {
        return None;
    }
    if rest.contains('@') {
        return None; // a user's address, not a domain identity
    }
    let host = rest.split([';', '?']).next().unwrap_or_default();
    let host = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next().map(|h| format!("[{h}]"))?
    } else {
        host.split(':').next().unwrap_or_default().to_owned()
    };
    if host.is_empty() {
        None
    } else {
        Some(host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_rules_of_rfc_6125() {
        assert!(dns_matches("*.example.com", "a.example.com", true));
        assert!(dns_matches("*.Example.COM", "A.example.com.", true));
        assert!(!dns_matches("*.example.com", "a.b.example.com", true));
        assert!(!dns_matches("*.example.com", "example.com", true));
        assert!(!dns_matches("*.example.com", "a.example.com", false));
        assert!(!dns_matches("*.com", "example.com", true));
        assert!(!dns_matches("f*.example.com", "foo.example.com", true));
        assert!(!dns_matches("a.*.example.com", "a.b.example.com", true));
        assert!(dns_matches("example.com", "EXAMPLE.com", false));
        assert!(!dns_matches("example.com", "", true));
    }

    #[test]
    fn sip_uri_domains() {
        assert_eq!(
            sip_uri_domain("sip:example.com").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            sip_uri_domain("SIP:example.com:5061;transport=tls").as_deref(),
            Some("example.com")
        );
        assert_eq!(sip_uri_domain("sips:[::1]:5061").as_deref(), Some("[::1]"));
        assert_eq!(sip_uri_domain("sip:alice@example.com"), None);
        assert_eq!(sip_uri_domain("https://example.com"), None);
        assert_eq!(sip_uri_domain("sip:"), None);
    }
}
