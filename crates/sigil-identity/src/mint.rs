//! Manufacturing (SPEC ID7, feature `mint`): a vendor root and intermediate,
//! device certificates, TLS server certificates, and the self-signed web
//! certificate.
//!
//! Certificates are made with rcgen on ring. ECDSA keys come from ring; RSA
//! keys (for old servers that cannot verify ECDSA) come from the RustCrypto
//! `rsa` crate, because ring cannot generate RSA keys — only generation uses
//! it; every signature is made by ring.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use crate::error::IdentityError;
use crate::mac::Mac;
use crate::store::{read_limited, write_private};

/// How long a device certificate is valid (SPEC ID1): 30 years.
pub const DEVICE_YEARS: i32 = 30;
/// Validity of the vendor root.
pub const ROOT_YEARS: i32 = 50;
/// Validity of the vendor intermediate.
pub const INTERMEDIATE_YEARS: i32 = 40;
/// Validity of a generated self-signed web certificate.
pub const WEB_YEARS: i32 = 20;

/// OID of the X.520 serialNumber attribute (2.5.4.5).
const SERIAL_NUMBER_ATTRIBUTE: &[u64] = &[2, 5, 4, 5];

fn mint_error(error: impl fmt::Display) -> IdentityError {
    IdentityError::Mint(error.to_string())
}

/// The key type of a minted certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyKind {
    /// ECDSA on P-256 with SHA-256 (the default).
    #[default]
    EcdsaP256,
    /// ECDSA on P-384 with SHA-384.
    EcdsaP384,
    /// RSA 2048 with PKCS#1 v1.5 SHA-256 signatures, for servers that only know RSA.
    Rsa2048,
}

fn generate_key(kind: KeyKind) -> Result<KeyPair, IdentityError> {
    match kind {
        KeyKind::EcdsaP256 => {
            KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(mint_error)
        }
        KeyKind::EcdsaP384 => {
            KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).map_err(mint_error)
        }
        KeyKind::Rsa2048 => {
            use rsa::pkcs8::EncodePrivateKey;
            let key =
                rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).map_err(mint_error)?;
            let der = key.to_pkcs8_der().map_err(mint_error)?;
            let pkcs8 = rustls_pki_types::PrivatePkcs8KeyDer::from(der.as_bytes());
            KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &rcgen::PKCS_RSA_SHA256)
                .map_err(mint_error)
        }
    }
}

fn random_serial() -> Result<SerialNumber, IdentityError> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| IdentityError::Mint("the system random generator failed".to_owned()))?;
    // Positive and 16 bytes long: clear the top bit, set the next one.
    // ok: fixed 16-byte array, index 0 always exists.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

/// `start` plus `years` calendar years (29 February becomes 28 February).
pub fn years_after(start: OffsetDateTime, years: i32) -> OffsetDateTime {
    let year = start.year().saturating_add(years);
    start
        .replace_year(year)
        .or_else(|_| start.replace_day(28).and_then(|d| d.replace_year(year)))
        .unwrap_or(start + Duration::days(i64::from(years) * 365))
}

/// A newly minted certificate with its chain and private key.
///
/// The key PEM is wiped from memory on drop and never shown by `Debug`.
pub struct Minted {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The CA certificates that follow it when presented (the intermediate), PEM; empty for self-signed.
    pub chain_pem: String,
    key_pem: Zeroizing<String>,
}

impl fmt::Debug for Minted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Minted")
            .field("cert_pem", &self.cert_pem)
            .field("chain_pem", &self.chain_pem)
            .finish_non_exhaustive()
    }
}

impl Minted {
    /// The private key, PKCS#8 PEM.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// Certificate then chain, PEM (what `device.pem` and `server.pem` hold).
    pub fn full_chain_pem(&self) -> String {
        format!("{}{}", self.cert_pem, self.chain_pem)
    }

    /// Certificate, chain and key in one PEM (the format of `sipclient.pem` and `httpd.pem`).
    pub fn combined_pem(&self) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "{}{}{}",
            self.cert_pem,
            self.chain_pem,
            self.key_pem.as_str()
        ))
    }

    /// Writes a factory partition: `dir/device.pem` (certificate then
    /// intermediate) and `dir/device.key` (mode 0600). Manufacturing only;
    /// refuses to overwrite an existing `device.pem` or `device.key`.
    pub fn write_factory(&self, dir: &Path) -> Result<(), IdentityError> {
        refuse_existing(dir, &["device.pem", "device.key"])?;
        write_public(&dir.join("device.pem"), &self.full_chain_pem())?;
        write_private(&dir.join("device.key"), self.key_pem.as_bytes())
    }

    /// Writes `dir/server.pem` (certificate then intermediate) and `dir/server.key`.
    pub fn write_server(&self, dir: &Path) -> Result<(), IdentityError> {
        write_public(&dir.join("server.pem"), &self.full_chain_pem())?;
        write_private(&dir.join("server.key"), self.key_pem.as_bytes())
    }

    /// Writes certificate, chain and key into one file (mode 0600), e.g. a
    /// user store's `certs/sipclient.pem`.
    pub fn write_combined(&self, path: &Path) -> Result<(), IdentityError> {
        write_private(path, self.combined_pem().as_bytes())
    }
}

fn refuse_existing(dir: &Path, files: &[&str]) -> Result<(), IdentityError> {
    match files
        .iter()
        .map(|file| dir.join(file))
        .find(|path| path.exists())
    {
        Some(path) => Err(IdentityError::AlreadyExists { path }),
        None => Ok(()),
    }
}

fn write_public(path: &Path, text: &str) -> Result<(), IdentityError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| IdentityError::Write {
            path: parent.to_owned(),
            source,
        })?;
    }
    std::fs::write(path, text).map_err(|source| IdentityError::Write {
        path: path.to_owned(),
        source,
    })
}

/// A vendor PKI: a self-signed root and an intermediate signed by it, which
/// signs the device certificates. Keys are held in memory as PEM, wiped on drop.
pub struct VendorCa {
    root_pem: String,
    root_key: Zeroizing<String>,
    intermediate_pem: String,
    intermediate_key: Zeroizing<String>,
}

impl fmt::Debug for VendorCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VendorCa").finish_non_exhaustive()
    }
}

impl VendorCa {
    /// Creates a new vendor root (`CN=<organization> Root CA`, 50 years,
    /// path length 1) and intermediate (`CN=<organization> Device CA`, 40 years,
    /// path length 0), both ECDSA P-256, valid from now.
    pub fn generate(organization: &str) -> Result<VendorCa, IdentityError> {
        VendorCa::generate_at(organization, OffsetDateTime::now_utc())
    }

    /// As [`VendorCa::generate`], valid from `start` (for tests of old or future PKIs).
    pub fn generate_at(
        organization: &str,
        start: OffsetDateTime,
    ) -> Result<VendorCa, IdentityError> {
        let not_before = start - Duration::hours(1);
        let mut root = CertificateParams::default();
        root.distinguished_name = name(organization, &format!("{organization} Root CA"));
        root.is_ca = IsCa::Ca(BasicConstraints::Constrained(1));
        root.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        root.not_before = not_before;
        root.not_after = years_after(start, ROOT_YEARS);
        root.serial_number = Some(random_serial()?);
        let root_key = generate_key(KeyKind::EcdsaP256)?;
        let root_cert = root.self_signed(&root_key).map_err(mint_error)?;
        let root_issuer = Issuer::new(root, &root_key);

        let mut intermediate = CertificateParams::default();
        intermediate.distinguished_name = name(organization, &format!("{organization} Device CA"));
        intermediate.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        intermediate.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        intermediate.not_before = not_before;
        intermediate.not_after = years_after(start, INTERMEDIATE_YEARS);
        intermediate.serial_number = Some(random_serial()?);
        intermediate.use_authority_key_identifier_extension = true;
        let intermediate_key = generate_key(KeyKind::EcdsaP256)?;
        let intermediate_cert = intermediate
            .signed_by(&intermediate_key, &root_issuer)
            .map_err(mint_error)?;
        Ok(VendorCa {
            root_pem: root_cert.pem(),
            root_key: Zeroizing::new(root_key.serialize_pem()),
            intermediate_pem: intermediate_cert.pem(),
            intermediate_key: Zeroizing::new(intermediate_key.serialize_pem()),
        })
    }

    /// Loads a vendor PKI written by [`VendorCa::write`]
    /// (`root.pem`, `root.key`, `intermediate.pem`, `intermediate.key`).
    pub fn load(dir: &Path) -> Result<VendorCa, IdentityError> {
        let read = |file: &str| -> Result<Zeroizing<String>, IdentityError> {
            let path = dir.join(file);
            let bytes = read_limited(&path)?.ok_or_else(|| IdentityError::Read {
                path: path.clone(),
                source: std::io::ErrorKind::NotFound.into(),
            })?;
            String::from_utf8(bytes.to_vec())
                .map(Zeroizing::new)
                .map_err(|_| IdentityError::BadPem {
                    file: path.display().to_string(),
                    reason: "not text".to_owned(),
                })
        };
        let ca = VendorCa {
            root_pem: read("root.pem")?.to_string(),
            root_key: read("root.key")?,
            intermediate_pem: read("intermediate.pem")?.to_string(),
            intermediate_key: read("intermediate.key")?,
        };
        // Fail now, not at the first device, if the intermediate key is unusable.
        ca.issuer()?;
        Ok(ca)
    }

    /// Writes `root.pem`, `root.key`, `intermediate.pem`, `intermediate.key`
    /// (keys mode 0600) and `chain.pem` (intermediate then root: the bundle a
    /// server administrator installs to accept the vendor's devices).
    /// Refuses to overwrite an existing `root.key` or `intermediate.key`.
    pub fn write(&self, dir: &Path) -> Result<(), IdentityError> {
        refuse_existing(dir, &["root.key", "intermediate.key"])?;
        write_public(&dir.join("root.pem"), &self.root_pem)?;
        write_private(&dir.join("root.key"), self.root_key.as_bytes())?;
        write_public(&dir.join("intermediate.pem"), &self.intermediate_pem)?;
        write_private(
            &dir.join("intermediate.key"),
            self.intermediate_key.as_bytes(),
        )?;
        write_public(&dir.join("chain.pem"), &self.chain_pem())
    }

    /// The root certificate, PEM.
    pub fn root_pem(&self) -> &str {
        &self.root_pem
    }

    /// The intermediate certificate, PEM.
    pub fn intermediate_pem(&self) -> &str {
        &self.intermediate_pem
    }

    /// Intermediate then root, PEM.
    pub fn chain_pem(&self) -> String {
        format!("{}{}", self.intermediate_pem, self.root_pem)
    }

    /// The root certificate, DER (e.g. for [`DeviceVerifier::new`](crate::DeviceVerifier::new)).
    pub fn root_der(&self) -> Result<rustls_pki_types::CertificateDer<'static>, IdentityError> {
        use rustls_pki_types::pem::PemObject;
        rustls_pki_types::CertificateDer::from_pem_slice(self.root_pem.as_bytes()).map_err(|e| {
            IdentityError::BadPem {
                file: "root.pem".to_owned(),
                reason: e.to_string(),
            }
        })
    }

    fn issuer(&self) -> Result<Issuer<'static, KeyPair>, IdentityError> {
        let key = KeyPair::from_pem(&self.intermediate_key).map_err(mint_error)?;
        Issuer::from_ca_cert_pem(&self.intermediate_pem, key).map_err(mint_error)
    }
}

fn name(organization: &str, common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, organization);
    dn.push(DnType::CommonName, common_name);
    dn
}

/// What to put in a device certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRequest {
    /// The device MAC: subject CN and serialNumber.
    pub mac: Mac,
    /// Key type (ECDSA P-256 by default).
    pub key: KeyKind,
    /// Start of validity (default: one hour ago, to tolerate clock skew).
    pub not_before: OffsetDateTime,
    /// End of validity (default: 30 years from now, so GeneralizedTime).
    pub not_after: OffsetDateTime,
}

impl DeviceRequest {
    /// A request for `mac` with the defaults: ECDSA P-256, valid from now for 30 years.
    pub fn new(mac: Mac) -> Self {
        let now = OffsetDateTime::now_utc();
        DeviceRequest {
            mac,
            key: KeyKind::EcdsaP256,
            not_before: now - Duration::hours(1),
            not_after: years_after(now, DEVICE_YEARS),
        }
    }
}

/// Mints a device certificate (IDevID, SPEC ID1/ID7) signed by the vendor
/// intermediate: subject `CN=<mac>, serialNumber=<mac>` (normalised
/// `00:22:ee:01:02:03`), EKU clientAuth and serverAuth (the device is a TLS
/// client of servers and a TLS server for its own SIP listener), key usage
/// digitalSignature (plus keyEncipherment for RSA), not a CA.
/// The chain of the result is the intermediate.
pub fn mint_device(ca: &VendorCa, request: &DeviceRequest) -> Result<Minted, IdentityError> {
    let mac = request.mac.to_string();
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, mac.as_str());
    let serial_value =
        rcgen::string::PrintableString::try_from(mac.as_str()).map_err(mint_error)?;
    dn.push(
        DnType::CustomDnType(SERIAL_NUMBER_ATTRIBUTE.to_vec()),
        DnValue::PrintableString(serial_value),
    );
    params.distinguished_name = dn;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    if request.key == KeyKind::Rsa2048 {
        params.key_usages.push(KeyUsagePurpose::KeyEncipherment);
    }
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ClientAuth,
        ExtendedKeyUsagePurpose::ServerAuth,
    ];
    params.not_before = request.not_before;
    params.not_after = request.not_after;
    params.serial_number = Some(random_serial()?);
    params.use_authority_key_identifier_extension = true;
    sign_leaf(ca, params, request.key)
}

/// What to put in a TLS server certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerRequest {
    /// Names: an IP address becomes an IP SAN, `sip:domain` a URI SAN,
    /// anything else a DNS SAN. The first is also the subject CN.
    pub names: Vec<String>,
    /// Key type.
    pub key: KeyKind,
    /// Start of validity (default one hour ago).
    pub not_before: OffsetDateTime,
    /// End of validity (default 2 years from now).
    pub not_after: OffsetDateTime,
}

impl ServerRequest {
    /// A request for `names`, ECDSA P-256, valid for 2 years.
    pub fn new(names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        let now = OffsetDateTime::now_utc();
        ServerRequest {
            names: names.into_iter().map(Into::into).collect(),
            key: KeyKind::EcdsaP256,
            not_before: now - Duration::hours(1),
            not_after: years_after(now, 2),
        }
    }
}

fn subject_alt_names(names: &[String]) -> Result<Vec<SanType>, IdentityError> {
    names
        .iter()
        .map(|name| {
            if let Ok(ip) = name.parse::<IpAddr>() {
                Ok(SanType::IpAddress(ip))
            } else if name.len() > 4
                && name
                    .get(..4)
                    .is_some_and(|p| p.eq_ignore_ascii_case("sip:"))
            {
                Ok(SanType::URI(name.as_str().try_into().map_err(mint_error)?))
            } else {
                Ok(SanType::DnsName(
                    name.as_str().try_into().map_err(mint_error)?,
                ))
            }
        })
        .collect()
}

/// Mints a TLS server certificate (for SIP servers, provisioning servers,
/// labs and tests) signed by the vendor intermediate: EKU serverAuth only,
/// SANs from the names. The chain of the result is the intermediate.
pub fn mint_server(ca: &VendorCa, request: &ServerRequest) -> Result<Minted, IdentityError> {
    let first = request.names.first().ok_or_else(|| {
        IdentityError::Mint("a server certificate needs at least one name".to_owned())
    })?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, first.as_str());
    params.distinguished_name = dn;
    params.subject_alt_names = subject_alt_names(&request.names)?;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = request.not_before;
    params.not_after = request.not_after;
    params.serial_number = Some(random_serial()?);
    params.use_authority_key_identifier_extension = true;
    sign_leaf(ca, params, request.key)
}

fn sign_leaf(
    ca: &VendorCa,
    params: CertificateParams,
    kind: KeyKind,
) -> Result<Minted, IdentityError> {
    let key = generate_key(kind)?;
    let issuer = ca.issuer()?;
    let cert = params.signed_by(&key, &issuer).map_err(mint_error)?;
    Ok(Minted {
        cert_pem: cert.pem(),
        chain_pem: ca.intermediate_pem.clone(),
        key_pem: Zeroizing::new(key.serialize_pem()),
    })
}

/// The self-signed certificate for the web interface when no `httpd.pem` is
/// installed (SPEC ID4): CN = MAC (or `sigil-device`), SANs from `names` (IP
/// addresses become IP SANs), EKU serverAuth, not a CA, ECDSA P-256,
/// valid 20 years.
pub fn mint_self_signed_web(mac: Option<Mac>, names: &[String]) -> Result<Minted, IdentityError> {
    let now = OffsetDateTime::now_utc();
    let common_name = mac
        .map(|m| m.to_string())
        .unwrap_or_else(|| "sigil-device".to_owned());
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name.as_str());
    params.distinguished_name = dn;
    params.subject_alt_names = subject_alt_names(names)?;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = now - Duration::hours(1);
    params.not_after = years_after(now, WEB_YEARS);
    params.serial_number = Some(random_serial()?);
    let key = generate_key(KeyKind::EcdsaP256)?;
    let cert = params.self_signed(&key).map_err(mint_error)?;
    Ok(Minted {
        cert_pem: cert.pem(),
        chain_pem: String::new(),
        key_pem: Zeroizing::new(key.serialize_pem()),
    })
}
