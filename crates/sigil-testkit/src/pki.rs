//! A throw-away test PKI built with rcgen: roots, intermediates, leaves and
//! self-signed certificates, with PEM and DER for every certificate and key.
//!
//! ```
//! use sigil_testkit::pki::{LeafSpec, TestCa};
//!
//! let root = TestCa::root("Test Root");
//! let inter = root.intermediate("Test Intermediate");
//! let server = inter.leaf(&LeafSpec::server("sip.example.com").uri("sip:example.com"));
//! // leaf first, then the intermediate: what a TLS server sends
//! let chain_pem = server.chain_pem();
//! assert_eq!(chain_pem.matches("BEGIN CERTIFICATE").count(), 2);
//! // the anchor an installer uploads
//! let anchor_pem = root.cert().cert_pem();
//! assert!(anchor_pem.starts_with("-----BEGIN CERTIFICATE-----"));
//! ```
//!
//! Dates default to "valid now": CAs from two days ago for ten years, leaves
//! from one day ago for a year. [`LeafSpec::expired`] and
//! [`LeafSpec::not_yet_valid`] give the two broken cases, and
//! [`TestCa::root_with`] makes an expired or not-yet-valid root.
//!
//! Keys are ECDSA P-256 unless [`KeyAlg`] says otherwise (ring cannot generate
//! RSA keys; tests that need RSA use the `openssl` command line).
//!
//! Everything here panics on failure: it is test support, and a broken test
//! PKI must stop the test loudly.

use std::net::IpAddr;
use std::path::Path;

pub use rcgen;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

/// The key algorithm of a generated certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyAlg {
    /// ECDSA on P-256 with SHA-256 (the default).
    #[default]
    EcdsaP256,
    /// ECDSA on P-384 with SHA-384.
    EcdsaP384,
    /// Ed25519.
    Ed25519,
}

impl KeyAlg {
    fn generate(self) -> KeyPair {
        let alg = match self {
            KeyAlg::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeyAlg::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            KeyAlg::Ed25519 => &rcgen::PKCS_ED25519,
        };
        KeyPair::generate_for(alg).expect("rcgen key generation")
    }
}

/// The extended key usages a leaf carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Eku {
    /// No extended key usage extension at all (valid for any purpose).
    None,
    /// `serverAuth` only (the default for [`LeafSpec::server`]).
    #[default]
    Server,
    /// `clientAuth` only (a device certificate; wrong for a server).
    Client,
    /// Both `serverAuth` and `clientAuth`.
    Both,
}

/// What a leaf (or self-signed) certificate should contain.
///
/// Build one with [`LeafSpec::server`] or [`LeafSpec::default`] and the
/// chaining methods, or fill the public fields directly.
#[derive(Debug, Clone)]
pub struct LeafSpec {
    /// Subject common name.
    pub common_name: String,
    /// Subject serialNumber attribute (e.g. a device MAC), if any.
    pub serial_attr: Option<String>,
    /// dNSName subjectAltNames (may hold wildcards such as `*.example.com`).
    pub dns: Vec<String>,
    /// iPAddress subjectAltNames.
    pub ips: Vec<IpAddr>,
    /// uniformResourceIdentifier subjectAltNames, e.g. `sip:example.com`.
    pub uris: Vec<String>,
    /// notBefore.
    pub not_before: OffsetDateTime,
    /// notAfter.
    pub not_after: OffsetDateTime,
    /// Mark the certificate CA:TRUE (as `openssl req -x509` does).
    pub is_ca: bool,
    /// Extended key usages.
    pub eku: Eku,
    /// Key usages; `None` leaves the extension out. `Some(vec![KeyCertSign])`
    /// on a server certificate makes a "wrong key usage" case.
    pub key_usages: Option<Vec<KeyUsagePurpose>>,
    /// Key algorithm.
    pub key_alg: KeyAlg,
}

impl Default for LeafSpec {
    fn default() -> Self {
        let now = OffsetDateTime::now_utc();
        LeafSpec {
            common_name: "sigil test leaf".into(),
            serial_attr: None,
            dns: Vec::new(),
            ips: Vec::new(),
            uris: Vec::new(),
            not_before: now - Duration::days(1),
            not_after: now + Duration::days(365),
            is_ca: false,
            eku: Eku::Server,
            key_usages: Some(vec![KeyUsagePurpose::DigitalSignature]),
            key_alg: KeyAlg::EcdsaP256,
        }
    }
}

impl LeafSpec {
    /// A server certificate for `dns_name` (also its common name), valid now,
    /// EKU serverAuth. Use an IP literal with [`LeafSpec::ip`] instead for IP servers.
    pub fn server(dns_name: &str) -> Self {
        LeafSpec {
            common_name: dns_name.into(),
            dns: vec![dns_name.into()],
            ..Default::default()
        }
    }

    /// A client (device) certificate with common name `cn`, EKU clientAuth, no SANs.
    pub fn client(cn: &str) -> Self {
        LeafSpec {
            common_name: cn.into(),
            eku: Eku::Client,
            ..Default::default()
        }
    }

    /// Sets the common name.
    pub fn cn(mut self, cn: &str) -> Self {
        self.common_name = cn.into();
        self
    }

    /// Adds a dNSName SAN.
    pub fn dns(mut self, name: &str) -> Self {
        self.dns.push(name.into());
        self
    }

    /// Adds an iPAddress SAN.
    pub fn ip(mut self, ip: IpAddr) -> Self {
        self.ips.push(ip);
        self
    }

    /// Adds a URI SAN such as `sip:example.com`.
    pub fn uri(mut self, uri: &str) -> Self {
        self.uris.push(uri.into());
        self
    }

    /// Sets the subject serialNumber attribute.
    pub fn serial_attr(mut self, value: &str) -> Self {
        self.serial_attr = Some(value.into());
        self
    }

    /// Sets the validity period.
    pub fn validity(mut self, not_before: OffsetDateTime, not_after: OffsetDateTime) -> Self {
        self.not_before = not_before;
        self.not_after = not_after;
        self
    }

    /// Valid from 60 days ago until 30 days ago.
    pub fn expired(self) -> Self {
        let now = OffsetDateTime::now_utc();
        self.validity(now - Duration::days(60), now - Duration::days(30))
    }

    /// Valid from 30 days from now for a year.
    pub fn not_yet_valid(self) -> Self {
        let now = OffsetDateTime::now_utc();
        self.validity(now + Duration::days(30), now + Duration::days(395))
    }

    /// Marks it CA:TRUE (with keyCertSign), as `openssl req -x509` does.
    pub fn ca(mut self, is_ca: bool) -> Self {
        self.is_ca = is_ca;
        if is_ca {
            self.key_usages = Some(vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::CrlSign,
            ]);
        }
        self
    }

    /// Sets the extended key usages.
    pub fn eku(mut self, eku: Eku) -> Self {
        self.eku = eku;
        self
    }

    /// Sets the key algorithm.
    pub fn key_alg(mut self, alg: KeyAlg) -> Self {
        self.key_alg = alg;
        self
    }

    fn params(&self) -> CertificateParams {
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(&self.common_name, self.serial_attr.as_deref());
        params.not_before = self.not_before;
        params.not_after = self.not_after;
        params.is_ca = if self.is_ca {
            IsCa::Ca(BasicConstraints::Unconstrained)
        } else {
            IsCa::ExplicitNoCa
        };
        for name in &self.dns {
            params.subject_alt_names.push(SanType::DnsName(
                name.clone().try_into().expect("ASCII DNS SAN"),
            ));
        }
        for ip in &self.ips {
            params.subject_alt_names.push(SanType::IpAddress(*ip));
        }
        for uri in &self.uris {
            params
                .subject_alt_names
                .push(SanType::URI(uri.clone().try_into().expect("ASCII URI SAN")));
        }
        params.extended_key_usages = match self.eku {
            Eku::None => vec![],
            Eku::Server => vec![ExtendedKeyUsagePurpose::ServerAuth],
            Eku::Client => vec![ExtendedKeyUsagePurpose::ClientAuth],
            Eku::Both => vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
        };
        params.key_usages = self.key_usages.clone().unwrap_or_default();
        params.use_authority_key_identifier_extension = true;
        params
    }
}

fn dn(common_name: &str, serial: Option<&str>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Sigil Test PKI");
    dn.push(DnType::CommonName, common_name);
    if let Some(serial) = serial {
        // serialNumber (2.5.4.5)
        dn.push(DnType::CustomDnType(vec![2, 5, 4, 5]), serial);
    }
    dn
}

/// A generated certificate with its private key and the chain above it.
#[derive(Debug, Clone)]
pub struct TestCert {
    /// The certificate, DER.
    pub cert_der: Vec<u8>,
    /// The private key, PKCS#8 DER.
    pub key_der: Vec<u8>,
    /// The issuing certificates, nearest first, excluding the root
    /// (what a server sends after its leaf). Empty for roots and self-signed.
    pub intermediates: Vec<Vec<u8>>,
    /// The root this chains to (DER); the certificate itself when self-signed.
    pub root_der: Vec<u8>,
}

impl TestCert {
    /// The certificate as rustls wants it.
    pub fn cert(&self) -> CertificateDer<'static> {
        CertificateDer::from(self.cert_der.clone())
    }

    /// The certificate followed by its intermediates (what a TLS server presents).
    pub fn chain(&self) -> Vec<CertificateDer<'static>> {
        std::iter::once(self.cert())
            .chain(
                self.intermediates
                    .iter()
                    .map(|der| CertificateDer::from(der.clone())),
            )
            .collect()
    }

    /// The private key as rustls wants it.
    pub fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }

    /// The certificate, PEM.
    pub fn cert_pem(&self) -> String {
        pem_block("CERTIFICATE", &self.cert_der)
    }

    /// The private key, PEM (`PRIVATE KEY`, PKCS#8).
    pub fn key_pem(&self) -> String {
        pem_block("PRIVATE KEY", &self.key_der)
    }

    /// The certificate followed by its intermediates, PEM.
    pub fn chain_pem(&self) -> String {
        let mut out = self.cert_pem();
        for der in &self.intermediates {
            out.push_str(&pem_block("CERTIFICATE", der));
        }
        out
    }

    /// The root this chains to, PEM.
    pub fn root_pem(&self) -> String {
        pem_block("CERTIFICATE", &self.root_der)
    }

    /// Writes [`TestCert::chain_pem`] to `path`.
    pub fn write_chain_pem(&self, path: &Path) {
        std::fs::write(path, self.chain_pem()).expect("write chain PEM");
    }

    /// Writes the certificate PEM to `cert` and the key PEM to `key`.
    pub fn write_pem(&self, cert: &Path, key: &Path) {
        std::fs::write(cert, self.cert_pem()).expect("write cert PEM");
        std::fs::write(key, self.key_pem()).expect("write key PEM");
    }
}

/// A test certificate authority (root or intermediate) that can sign.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    cert: TestCert,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa").finish_non_exhaustive()
    }
}

/// Validity and key of a CA made with [`TestCa::root_with`] / [`TestCa::intermediate_with`].
#[derive(Debug, Clone)]
pub struct CaSpec {
    /// Subject common name.
    pub common_name: String,
    /// notBefore.
    pub not_before: OffsetDateTime,
    /// notAfter.
    pub not_after: OffsetDateTime,
    /// Key algorithm.
    pub key_alg: KeyAlg,
    /// Path length constraint, if any.
    pub path_len: Option<u8>,
}

impl CaSpec {
    /// A CA named `name`, valid from two days ago for ten years, ECDSA P-256.
    pub fn new(name: &str) -> Self {
        let now = OffsetDateTime::now_utc();
        CaSpec {
            common_name: name.into(),
            not_before: now - Duration::days(2),
            not_after: now + Duration::days(3650),
            key_alg: KeyAlg::EcdsaP256,
            path_len: None,
        }
    }

    /// Sets the validity period.
    pub fn validity(mut self, not_before: OffsetDateTime, not_after: OffsetDateTime) -> Self {
        self.not_before = not_before;
        self.not_after = not_after;
        self
    }

    /// Valid from 60 days ago until 30 days ago.
    pub fn expired(self) -> Self {
        let now = OffsetDateTime::now_utc();
        self.validity(now - Duration::days(60), now - Duration::days(30))
    }

    /// Sets the key algorithm.
    pub fn key_alg(mut self, alg: KeyAlg) -> Self {
        self.key_alg = alg;
        self
    }

    fn params(&self) -> CertificateParams {
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(&self.common_name, None);
        params.not_before = self.not_before;
        params.not_after = self.not_after;
        params.is_ca = IsCa::Ca(match self.path_len {
            Some(n) => BasicConstraints::Constrained(n),
            None => BasicConstraints::Unconstrained,
        });
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
        ];
        params.use_authority_key_identifier_extension = true;
        params
    }
}

impl TestCa {
    /// A self-signed root CA named `name`, valid now (see [`CaSpec::new`]).
    pub fn root(name: &str) -> TestCa {
        TestCa::root_with(&CaSpec::new(name))
    }

    /// A self-signed root CA as `spec` says.
    pub fn root_with(spec: &CaSpec) -> TestCa {
        let key = spec.key_alg.generate();
        let params = spec.params();
        let cert = params.self_signed(&key).expect("rcgen self-sign root");
        let der = cert.der().to_vec();
        let key_der = key.serialize_der();
        TestCa {
            issuer: Issuer::new(params, key),
            cert: TestCert {
                cert_der: der.clone(),
                key_der,
                intermediates: Vec::new(),
                root_der: der,
            },
        }
    }

    /// An intermediate CA named `name` signed by this CA, valid now.
    pub fn intermediate(&self, name: &str) -> TestCa {
        self.intermediate_with(&CaSpec::new(name))
    }

    /// An intermediate CA as `spec` says, signed by this CA.
    pub fn intermediate_with(&self, spec: &CaSpec) -> TestCa {
        let key = spec.key_alg.generate();
        let params = spec.params();
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("rcgen sign intermediate");
        let key_der = key.serialize_der();
        TestCa {
            issuer: Issuer::new(params, key),
            cert: TestCert {
                cert_der: cert.der().to_vec(),
                key_der,
                intermediates: self.chain_above_for_child(),
                root_der: self.cert.root_der.clone(),
            },
        }
    }

    /// A leaf certificate as `spec` says, signed by this CA.
    pub fn leaf(&self, spec: &LeafSpec) -> TestCert {
        let key = spec.key_alg.generate();
        let cert = spec
            .params()
            .signed_by(&key, &self.issuer)
            .expect("rcgen sign leaf");
        TestCert {
            cert_der: cert.der().to_vec(),
            key_der: key.serialize_der(),
            intermediates: self.chain_above_for_child(),
            root_der: self.cert.root_der.clone(),
        }
    }

    /// This CA's own certificate and key.
    pub fn cert(&self) -> &TestCert {
        &self.cert
    }

    /// The rcgen issuer, for tests that need to sign something unusual.
    pub fn issuer(&self) -> &Issuer<'static, KeyPair> {
        &self.issuer
    }

    /// What a child of this CA lists as intermediates: this CA (unless it is
    /// the root) followed by this CA's own intermediates.
    fn chain_above_for_child(&self) -> Vec<Vec<u8>> {
        if self.cert.cert_der == self.cert.root_der {
            Vec::new()
        } else {
            std::iter::once(self.cert.cert_der.clone())
                .chain(self.cert.intermediates.iter().cloned())
                .collect()
        }
    }
}

/// A self-signed certificate as `spec` says (set `spec.is_ca` for the
/// CA:TRUE kind `openssl req -x509` makes).
pub fn self_signed(spec: &LeafSpec) -> TestCert {
    let key = spec.key_alg.generate();
    let cert = spec.params().self_signed(&key).expect("rcgen self-sign");
    let der = cert.der().to_vec();
    TestCert {
        cert_der: der.clone(),
        key_der: key.serialize_der(),
        intermediates: Vec::new(),
        root_der: der,
    }
}

/// Encodes `der` as a PEM block with `label`, 64-column base64, LF line ends.
pub fn pem_block(label: &str, der: &[u8]) -> String {
    let b64 = base64_encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn base64_encode(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        // RFC 4648 §10
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_encode(input.as_bytes()), expected);
        }
    }

    #[test]
    fn chain_of_three_has_leaf_then_intermediate() {
        let root = TestCa::root("R");
        let inter = root.intermediate("I");
        let leaf = inter.leaf(&LeafSpec::server("a.example"));
        assert_eq!(leaf.chain().len(), 2);
        assert_eq!(leaf.intermediates[0], inter.cert().cert_der);
        assert_eq!(leaf.root_der, root.cert().cert_der);
        assert!(inter.cert().intermediates.is_empty());
        let pem = leaf.chain_pem();
        assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 2);
        assert!(leaf.key_pem().contains("BEGIN PRIVATE KEY"));
    }
}
