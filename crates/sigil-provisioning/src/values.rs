//! Typed values of the configuration keys: hosts, URLs, enums and lists.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// A host: DNS name, IPv4 address or IPv6 address (written in brackets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A DNS name, as written (DNS compares names case-insensitively).
    Name(String),
    /// An IPv4 address.
    V4(Ipv4Addr),
    /// An IPv6 address (`[…]` in the file).
    V6(Ipv6Addr),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(name) => f.write_str(name),
            Host::V4(addr) => write!(f, "{addr}"),
            Host::V6(addr) => write!(f, "[{addr}]"),
        }
    }
}

impl Host {
    /// The host without IPv6 brackets, as used for TLS server names and DNS.
    pub fn bare(&self) -> String {
        match self {
            Host::Name(name) => name.clone(),
            Host::V4(addr) => addr.to_string(),
            Host::V6(addr) => addr.to_string(),
        }
    }
}

impl FromStr for Host {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(inner) = s.strip_prefix('[') {
            let inner = inner
                .strip_suffix(']')
                .ok_or_else(|| format!("{s:?}: '[' without a closing ']'"))?;
            return inner
                .parse::<Ipv6Addr>()
                .map(Host::V6)
                .map_err(|_| format!("{s:?} is not an IPv6 address"));
        }
        if s.is_empty() {
            return Err("host name is empty".to_owned());
        }
        if s.contains(':') {
            return Err(format!(
                "{s:?}: write an IPv6 address in brackets, e.g. [2001:db8::1]"
            ));
        }
        if s.chars().all(|c| c.is_ascii_digit() || c == '.') {
            return s
                .parse::<Ipv4Addr>()
                .map(Host::V4)
                .map_err(|_| format!("{s:?} is not an IPv4 address"));
        }
        if s.len() > 253 {
            return Err("host name is longer than 253 characters".to_owned());
        }
        for label in s.split('.') {
            if label.is_empty() || label.len() > 63 {
                return Err(format!(
                    "{s:?} is not a host name (each dot-separated label needs 1 to 63 characters)"
                ));
            }
            if let Some(c) = label
                .chars()
                .find(|c| !c.is_ascii_alphanumeric() && *c != '-')
            {
                return Err(format!(
                    "{s:?} is not a host name (character {c:?}; allowed: letters, digits, '-', '.')"
                ));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(format!(
                    "{s:?} is not a host name (a label starts or ends with '-')"
                ));
            }
        }
        Ok(Host::Name(s.to_owned()))
    }
}

fn parse_port(s: &str) -> Result<u16, String> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("port {s:?} is not a number from 1 to 65535"));
    }
    match s.parse::<u32>() {
        Ok(port @ 1..=65535) => Ok(port as u16), // ok: range checked
        _ => Err(format!("port {s:?} is not a number from 1 to 65535")),
    }
}

/// `host[:port]`, e.g. `pbx.example.com:5061`, `192.0.2.1`, `[2001:db8::1]:5061`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    /// The host.
    pub host: Host,
    /// The port, when given.
    pub port: Option<u16>,
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}:{port}", self.host),
            None => write!(f, "{}", self.host),
        }
    }
}

impl FromStr for HostPort {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (host, port) = if s.starts_with('[') {
            match s.find(']') {
                Some(close) => {
                    let (host, rest) = s.split_at(close + 1);
                    match rest.strip_prefix(':') {
                        Some(port) => (host, Some(port)),
                        None if rest.is_empty() => (host, None),
                        None => return Err(format!("{s:?}: unexpected text after ']'")),
                    }
                }
                None => return Err(format!("{s:?}: '[' without a closing ']'")),
            }
        } else {
            match s.split_once(':') {
                Some((host, port)) if !port.contains(':') => (host, Some(port)),
                Some(_) => {
                    return Err(format!(
                        "{s:?}: write an IPv6 address in brackets, e.g. [2001:db8::1]:5061"
                    ))
                }
                None => (s, None),
            }
        };
        Ok(HostPort {
            host: host.parse()?,
            port: port.map(parse_port).transpose()?,
        })
    }
}

/// How configuration files are downloaded (`prov.download.method`, SPEC P2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DownloadMethod {
    /// Plain HTTP: works, but the result says "not encrypted".
    Http,
    /// HTTPS (the default): encrypted; the server verified when `prov.download.cert = 1`.
    Https,
}

impl DownloadMethod {
    /// The value as written in the file and in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            DownloadMethod::Http => "http",
            DownloadMethod::Https => "https",
        }
    }

    fn parse_scheme(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "http" => Ok(DownloadMethod::Http),
            "https" => Ok(DownloadMethod::Https),
            "tftp" | "ftp" => Err(format!(
                "{s} is recognised but not supported: it sends the configuration (and the passwords in it) unencrypted; use https"
            )),
            _ => Err(format!("{s:?} is not a download method (expected http or https)")),
        }
    }
}

impl FromStr for DownloadMethod {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(format!("{s:?}: expected http or https (lowercase)"));
        }
        DownloadMethod::parse_scheme(s)
    }
}

impl fmt::Display for DownloadMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The provisioning server (`prov.server`): a URL `http(s)://host[:port][/path]`
/// or `host[:port][/path]` (then `prov.download.method` gives the scheme).
///
/// The path names a directory: file names are appended to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvServer {
    /// The scheme written in the value, if any.
    pub scheme: Option<DownloadMethod>,
    /// Host and optional port.
    pub authority: HostPort,
    /// The path, empty or starting with `/`.
    pub path: String,
}

impl fmt::Display for ProvServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(scheme) = self.scheme {
            write!(f, "{scheme}://")?;
        }
        write!(f, "{}{}", self.authority, self.path)
    }
}

impl FromStr for ProvServer {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (scheme, rest) = match s.split_once("://") {
            Some((scheme, rest)) => (Some(DownloadMethod::parse_scheme(scheme)?), rest),
            None => (None, s),
        };
        let (authority, path) = match rest.find('/') {
            Some(slash) => rest.split_at(slash),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(
                "a user name or password in the server URL is not supported (the device authenticates with its certificate)"
                    .to_owned(),
            );
        }
        if path.len() > 1024 {
            return Err("path is longer than 1024 characters".to_owned());
        }
        if let Some(c) = path.chars().find(|c| {
            !c.is_ascii_graphic()
                || matches!(
                    c,
                    '?' | '#' | '"' | '<' | '>' | '\\' | '^' | '`' | '{' | '|' | '}'
                )
        }) {
            return Err(format!("character {c:?} is not allowed in the server path"));
        }
        Ok(ProvServer {
            scheme,
            authority: authority.parse()?,
            path: path.to_owned(),
        })
    }
}

/// SIP Transportation (`sip.transport`, SPEC S1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SipTransport {
    /// UDP (no encryption).
    Udp,
    /// TCP (no encryption).
    Tcp,
    /// TLS (the default; port 5061).
    Tls,
}

impl SipTransport {
    /// The value as written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            SipTransport::Udp => "udp",
            SipTransport::Tcp => "tcp",
            SipTransport::Tls => "tls",
        }
    }
}

impl FromStr for SipTransport {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "udp" => Ok(SipTransport::Udp),
            "tcp" => Ok(SipTransport::Tcp),
            "tls" => Ok(SipTransport::Tls),
            _ => Err(format!(
                "{s:?} is not a SIP transport (expected udp, tcp or tls)"
            )),
        }
    }
}

/// The lowest TLS version negotiated (`sip.tls.version.min`, SPEC T3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TlsVersion {
    /// TLS 1.2 (the default floor).
    V1_2,
    /// TLS 1.3.
    V1_3,
}

impl TlsVersion {
    /// The value as written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::V1_2 => "1.2",
            TlsVersion::V1_3 => "1.3",
        }
    }
}

impl FromStr for TlsVersion {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "1.2" => Ok(TlsVersion::V1_2),
            "1.3" => Ok(TlsVersion::V1_3),
            "1.0" | "1.1" => Err(format!(
                "TLS {s} is never negotiated (RFC 8996); the floor can be 1.2 or 1.3"
            )),
            _ => Err(format!("{s:?} is not a TLS version (expected 1.2 or 1.3)")),
        }
    }
}

/// A TLS cipher suite allowed by SPEC T4 (ECDHE key exchange, AEAD ciphers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TlsCipher {
    /// TLS 1.3 AES-256-GCM with SHA-384.
    Tls13Aes256GcmSha384,
    /// TLS 1.3 AES-128-GCM with SHA-256.
    Tls13Aes128GcmSha256,
    /// TLS 1.3 ChaCha20-Poly1305 with SHA-256.
    Tls13Chacha20Poly1305Sha256,
    /// TLS 1.2 ECDHE-ECDSA with AES-256-GCM.
    EcdheEcdsaAes256GcmSha384,
    /// TLS 1.2 ECDHE-RSA with AES-256-GCM.
    EcdheRsaAes256GcmSha384,
    /// TLS 1.2 ECDHE-ECDSA with AES-128-GCM.
    EcdheEcdsaAes128GcmSha256,
    /// TLS 1.2 ECDHE-RSA with AES-128-GCM.
    EcdheRsaAes128GcmSha256,
    /// TLS 1.2 ECDHE-ECDSA with ChaCha20-Poly1305.
    EcdheEcdsaChacha20Poly1305,
    /// TLS 1.2 ECDHE-RSA with ChaCha20-Poly1305.
    EcdheRsaChacha20Poly1305,
}

impl TlsCipher {
    /// Every allowed suite, in the default preference order (AES-256-GCM first).
    pub const ALL: [TlsCipher; 9] = [
        TlsCipher::Tls13Aes256GcmSha384,
        TlsCipher::Tls13Aes128GcmSha256,
        TlsCipher::Tls13Chacha20Poly1305Sha256,
        TlsCipher::EcdheEcdsaAes256GcmSha384,
        TlsCipher::EcdheRsaAes256GcmSha384,
        TlsCipher::EcdheEcdsaAes128GcmSha256,
        TlsCipher::EcdheRsaAes128GcmSha256,
        TlsCipher::EcdheEcdsaChacha20Poly1305,
        TlsCipher::EcdheRsaChacha20Poly1305,
    ];

    /// The IANA name (as rustls and the file use it).
    pub fn name(self) -> &'static str {
        match self {
            TlsCipher::Tls13Aes256GcmSha384 => "TLS13_AES_256_GCM_SHA384",
            TlsCipher::Tls13Aes128GcmSha256 => "TLS13_AES_128_GCM_SHA256",
            TlsCipher::Tls13Chacha20Poly1305Sha256 => "TLS13_CHACHA20_POLY1305_SHA256",
            TlsCipher::EcdheEcdsaAes256GcmSha384 => "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            TlsCipher::EcdheRsaAes256GcmSha384 => "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            TlsCipher::EcdheEcdsaAes128GcmSha256 => "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            TlsCipher::EcdheRsaAes128GcmSha256 => "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            TlsCipher::EcdheEcdsaChacha20Poly1305 => {
                "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
            }
            TlsCipher::EcdheRsaChacha20Poly1305 => "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        }
    }

    /// The OpenSSL name, also accepted in the file.
    pub fn openssl_name(self) -> &'static str {
        match self {
            TlsCipher::Tls13Aes256GcmSha384 => "TLS_AES_256_GCM_SHA384",
            TlsCipher::Tls13Aes128GcmSha256 => "TLS_AES_128_GCM_SHA256",
            TlsCipher::Tls13Chacha20Poly1305Sha256 => "TLS_CHACHA20_POLY1305_SHA256",
            TlsCipher::EcdheEcdsaAes256GcmSha384 => "ECDHE-ECDSA-AES256-GCM-SHA384",
            TlsCipher::EcdheRsaAes256GcmSha384 => "ECDHE-RSA-AES256-GCM-SHA384",
            TlsCipher::EcdheEcdsaAes128GcmSha256 => "ECDHE-ECDSA-AES128-GCM-SHA256",
            TlsCipher::EcdheRsaAes128GcmSha256 => "ECDHE-RSA-AES128-GCM-SHA256",
            TlsCipher::EcdheEcdsaChacha20Poly1305 => "ECDHE-ECDSA-CHACHA20-POLY1305",
            TlsCipher::EcdheRsaChacha20Poly1305 => "ECDHE-RSA-CHACHA20-POLY1305",
        }
    }

    /// Whether this is a TLS 1.3 suite (otherwise TLS 1.2).
    pub fn is_tls13(self) -> bool {
        matches!(
            self,
            TlsCipher::Tls13Aes256GcmSha384
                | TlsCipher::Tls13Aes128GcmSha256
                | TlsCipher::Tls13Chacha20Poly1305Sha256
        )
    }

    /// The rustls identifier, for restricting a rustls `CryptoProvider`.
    pub fn to_rustls(self) -> rustls::CipherSuite {
        use rustls::CipherSuite as C;
        match self {
            TlsCipher::Tls13Aes256GcmSha384 => C::TLS13_AES_256_GCM_SHA384,
            TlsCipher::Tls13Aes128GcmSha256 => C::TLS13_AES_128_GCM_SHA256,
            TlsCipher::Tls13Chacha20Poly1305Sha256 => C::TLS13_CHACHA20_POLY1305_SHA256,
            TlsCipher::EcdheEcdsaAes256GcmSha384 => C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            TlsCipher::EcdheRsaAes256GcmSha384 => C::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            TlsCipher::EcdheEcdsaAes128GcmSha256 => C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            TlsCipher::EcdheRsaAes128GcmSha256 => C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            TlsCipher::EcdheEcdsaChacha20Poly1305 => {
                C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
            }
            TlsCipher::EcdheRsaChacha20Poly1305 => C::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        }
    }
}

impl fmt::Display for TlsCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TlsCipher {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(found) = TlsCipher::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(s) || c.openssl_name().eq_ignore_ascii_case(s))
        {
            return Ok(found);
        }
        let upper = s.to_ascii_uppercase();
        let why = if upper.contains("CBC")
            || (upper.contains("-SHA") && !upper.contains("GCM") && !upper.contains("CHACHA"))
        {
            " (CBC suites are never used)"
        } else if upper.contains("RC4") || upper.contains("DES") {
            " (RC4 and 3DES are never used)"
        } else if upper.contains("GCM") && !upper.contains("ECDHE") && !upper.starts_with("TLS13") {
            " (static RSA key exchange is never used)"
        } else {
            ""
        };
        Err(format!(
            "{s:?} is not an allowed cipher suite{why}; allowed: {}",
            TlsCipher::ALL.map(TlsCipher::name).join(", ")
        ))
    }
}

/// SDP SRTP Offer (`sip.srtp.offer`, SPEC M3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SrtpOffer {
    /// Plain RTP only; SRTP-only offers are declined with 488.
    Disabled,
    /// RTP/AVP with `a=crypto` (RFC 8643 opportunistic SRTP); the default.
    Optional,
    /// SRTP mandatory (RTP/SAVP).
    Standard,
}

impl SrtpOffer {
    /// The value as written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            SrtpOffer::Disabled => "disabled",
            SrtpOffer::Optional => "optional",
            SrtpOffer::Standard => "standard",
        }
    }
}

impl FromStr for SrtpOffer {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "disabled" => Ok(SrtpOffer::Disabled),
            "optional" => Ok(SrtpOffer::Optional),
            "standard" => Ok(SrtpOffer::Standard),
            _ => Err(format!(
                "{s:?} is not an SRTP offer policy (expected disabled, optional or standard)"
            )),
        }
    }
}

/// Whether peers connecting to the device's own SIP-over-TLS listener
/// (`sip.tls.listen`) must present a certificate (`sip.tls.listen.client_cert`,
/// a Sigil key beyond SPEC's table).
///
/// A presented certificate is always verified against the vendor chain and the
/// uploaded anchors; this only decides whether one is asked for and whether its
/// absence refuses the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListenClientCert {
    /// Asked for and verified when presented; peers without one are accepted
    /// (the default). If there is nothing to verify against, none is asked for.
    Requested,
    /// Mutual TLS: a peer without a verifiable certificate is refused. The
    /// listener does not start if there is nothing to verify against.
    Required,
    /// Not asked for (written `none`).
    NotRequested,
}

impl ListenClientCert {
    /// The value as written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            ListenClientCert::Requested => "requested",
            ListenClientCert::Required => "required",
            ListenClientCert::NotRequested => "none",
        }
    }
}

impl fmt::Display for ListenClientCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `sip.inbound.accept`: who may call the device (SPEC E8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum InboundAccept {
    /// Only requests arriving over the registration connection, i.e. calls
    /// routed by the SIP server (the default).
    #[default]
    Registrar,
    /// Also peers on the device's own listener that present a device
    /// certificate the trust store verifies.
    Verified,
    /// Anyone who reaches the listener. Must be chosen explicitly; logged.
    Any,
}

impl InboundAccept {
    /// The value as written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            InboundAccept::Registrar => "registrar",
            InboundAccept::Verified => "verified",
            InboundAccept::Any => "any",
        }
    }
}

impl fmt::Display for InboundAccept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for InboundAccept {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "registrar" => Ok(InboundAccept::Registrar),
            "verified" => Ok(InboundAccept::Verified),
            "any" => Ok(InboundAccept::Any),
            _ => Err(format!(
                "{s:?} is not an inbound policy (expected registrar, verified or any)"
            )),
        }
    }
}

impl FromStr for ListenClientCert {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "requested" => Ok(ListenClientCert::Requested),
            "required" => Ok(ListenClientCert::Required),
            "none" => Ok(ListenClientCert::NotRequested),
            _ => Err(format!(
                "{s:?} is not a client certificate policy (expected requested, required or none)"
            )),
        }
    }
}

/// Splits a list value at commas, colons or whitespace, dropping empty items.
pub(crate) fn split_list(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| c == ',' || c == ':' || c.is_whitespace())
        .filter(|item| !item.is_empty())
}

/// A `0`/`1` boolean.
pub(crate) fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(format!("{s:?}: expected 0 or 1")),
    }
}

/// A MAC address given in any of the usual spellings (`00:08:EE:12:34:56`,
/// `00-08-ee-12-34-56`, `0008ee123456`), normalised to 12 lowercase hex digits.
pub fn normalize_mac(s: &str) -> Result<String, String> {
    let hex: String = s
        .chars()
        .filter(|c| !matches!(c, ':' | '-' | '.'))
        .collect();
    if hex.len() == 12 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(hex.to_ascii_lowercase())
    } else {
        Err(format!(
            "{s:?} is not a MAC address (12 hex digits, e.g. 00:08:ee:12:34:56)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ports() {
        let hp: HostPort = "pbx.example.com:5061".parse().unwrap();
        assert_eq!(hp.port, Some(5061));
        assert_eq!(hp.to_string(), "pbx.example.com:5061");
        let hp: HostPort = "[2001:db8::1]:5061".parse().unwrap();
        assert_eq!(hp.host, Host::V6("2001:db8::1".parse().unwrap()));
        assert_eq!(hp.to_string(), "[2001:db8::1]:5061");
        assert_eq!(
            "192.0.2.1".parse::<HostPort>().unwrap().host,
            Host::V4(Ipv4Addr::new(192, 0, 2, 1))
        );
        for bad in [
            "",
            "a:0",
            "a:65536",
            "a:x",
            "2001:db8::1",
            "-a.com",
            "a..b",
            "1.2.3.999",
            "a b",
            "[::1",
            "a:+5",
        ] {
            assert!(bad.parse::<HostPort>().is_err(), "{bad}");
        }
    }

    #[test]
    fn prov_servers() {
        let s: ProvServer = "https://prov.example.com:8443/devices".parse().unwrap();
        assert_eq!(s.scheme, Some(DownloadMethod::Https));
        assert_eq!(s.authority.port, Some(8443));
        assert_eq!(s.path, "/devices");
        assert_eq!(s.to_string(), "https://prov.example.com:8443/devices");
        let s: ProvServer = "prov.example.com/x/".parse().unwrap();
        assert_eq!(s.scheme, None);
        assert!("tftp://10.0.0.1/"
            .parse::<ProvServer>()
            .unwrap_err()
            .contains("not supported"));
        assert!("ftp://10.0.0.1/"
            .parse::<ProvServer>()
            .unwrap_err()
            .contains("not supported"));
        assert!("gopher://x/".parse::<ProvServer>().is_err());
        assert!("https://u:p@x/".parse::<ProvServer>().is_err());
        assert!("https://x/a?b".parse::<ProvServer>().is_err());
    }

    #[test]
    fn ciphers_and_versions() {
        assert_eq!(
            "ECDHE-RSA-AES256-GCM-SHA384".parse::<TlsCipher>(),
            Ok(TlsCipher::EcdheRsaAes256GcmSha384)
        );
        assert!("ECDHE-RSA-AES256-SHA"
            .parse::<TlsCipher>()
            .unwrap_err()
            .contains("CBC"));
        assert!("AES256-GCM-SHA384"
            .parse::<TlsCipher>()
            .unwrap_err()
            .contains("static RSA"));
        assert!("1.1"
            .parse::<TlsVersion>()
            .unwrap_err()
            .contains("RFC 8996"));
        for c in TlsCipher::ALL {
            assert_eq!(c.name().parse::<TlsCipher>(), Ok(c));
            assert_eq!(format!("{:?}", c.to_rustls()), c.name());
        }
    }

    #[test]
    fn macs() {
        assert_eq!(normalize_mac("00:08:EE:12:34:56").unwrap(), "0008ee123456");
        assert!(normalize_mac("00:08:EE:12:34").is_err());
    }
}
