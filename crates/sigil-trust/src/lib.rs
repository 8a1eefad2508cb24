//! Layered trust store and rustls server-certificate verifiers (SPEC T2, T5, TS1–TS5).
//!
//! A device trusts servers through three layers of anchors ([`Layer`]):
//! the public web PKI roots built into the firmware (webpki-roots), the
//! vendor CA chain, and whatever the installer uploaded to `certs/trusted/`.
//!
//! ```
//! use std::sync::Arc;
//! use sigil_trust::pki_types::{CertificateDer, UnixTime};
//! use sigil_trust::{ExpectedName, Layer, NameCheck, RefuseReason, ServerVerifier, TrustStore, VerifyError};
//!
//! // A vendor CA and the SIP server certificate it issued (made here with rcgen;
//! // a device ships the vendor chain and meets the server's chain in the handshake).
//! # use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
//! # let ca_key = KeyPair::generate()?;
//! # let mut ca = CertificateParams::default();
//! # ca.distinguished_name.push(DnType::CommonName, "Example Vendor CA");
//! # ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
//! # let vendor_pem = ca.self_signed(&ca_key)?.pem();
//! # let server_key = KeyPair::generate()?;
//! # let server = CertificateParams::new(vec!["sip.example.com".to_owned()])?
//! #     .signed_by(&server_key, &Issuer::new(ca, &ca_key))?;
//! let chain: Vec<CertificateDer<'static>> = vec![server.der().clone()];
//!
//! // Build the store: built-in roots + vendor chain + the installer's uploads
//! // (on a device: `.vendor_file(path)?` and `.user_dir(path)?`).
//! let store = TrustStore::builder()
//!     .vendor_bytes("vendor-chain.pem", vendor_pem.as_bytes())?
//!     .user_bytes("oops.pem", server_key.serialize_pem().as_bytes())
//!     .build();
//! // A key uploaded by mistake is refused with a reason; the rest loads.
//! assert_eq!(store.refused()[0].reason, RefuseReason::PrivateKey);
//! println!("{}: {}", store.refused()[0].path, store.refused()[0].reason);
//! println!("{}", store.listing().to_json());
//!
//! // Verify a chain without a handshake (what `sigil trust verify` does) …
//! let now = UnixTime::now();
//! let verified = store.verify(&chain, &ExpectedName::sip("sip.example.com", false), now)?;
//! assert_eq!(verified.anchor_layer, Layer::Vendor);
//! assert_eq!(verified.matched, "DNS:sip.example.com");
//! println!("verified: {verified}");
//!
//! // … refusals say what to do about them …
//! match store.verify(&chain, &ExpectedName::host("pbx.example.org"), now) {
//!     Err(VerifyError::NameMismatch { presented, .. }) => assert_eq!(presented, ["DNS:sip.example.com"]),
//!     other => panic!("expected a name mismatch, got {other:?}"),
//! }
//! let without_vendor = TrustStore::builder().build();
//! match without_vendor.verify(&chain, &ExpectedName::sip("sip.example.com", false), now) {
//!     Err(e @ VerifyError::UnknownIssuer { .. }) => {
//!         assert!(e.to_string().contains("upload the CA certificate \"CN=Example Vendor CA\""), "{e}")
//!     }
//!     other => panic!("expected an unknown issuer, got {other:?}"),
//! }
//!
//! // … and the same checks run inside rustls.
//! let verifier = Arc::new(ServerVerifier::new(Arc::new(store), NameCheck::Sip { strict: false }));
//! let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
//!     .with_safe_default_protocol_versions()?
//!     .dangerous() // rustls' name for "a verifier of your own"; this one verifies
//!     .with_custom_certificate_verifier(verifier)
//!     .with_no_client_auth();
//! # let _ = config;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Uploaded files are read by [`parse_file`]: PEM with one or many
//! certificates (CRLF or LF, text around the blocks tolerated) or DER. A file
//! that is or holds a private key, is not a certificate, is a truncated PEM or
//! holds a malformed certificate is refused with its own [`RefuseReason`] and
//! the rest loads. Expired / not-yet-valid anchors and duplicates are flagged
//! ([`AnchorProblem`]). An uploaded certificate equal to the server's
//! certificate is trusted by exact match when it is self-issued or not a CA —
//! this is how self-signed server certificates work, including CA:TRUE ones
//! from `openssl req -x509`, which rustls-webpki refuses as end entities. Only
//! CA certificates (and X.509 v1 ones, which cannot say) anchor chains.
//!
//! Beyond rustls-webpki's path building, [`TrustStore::verify`] checks the
//! dates of vendor and uploaded anchors, the server key (what a handshake can
//! use), keyUsage, and the SIP identity rules. `LIMBO.md` compares the result
//! with the x509-limbo test suite.
//!
//! Verification failures are [`VerifyError`]s carrying what an installer needs
//! (the issuer name to upload, the dates and the clock, the expected and the
//! presented names). Over TLS they travel inside `rustls::Error`; get them back
//! with [`VerifyError::from_tls_error`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod cert;
mod error;
mod keylog;
mod load;
mod names;
mod store;
mod tls;
mod verify;

/// The certificate and time types of the API (re-exported `rustls-pki-types`).
pub use rustls_pki_types as pki_types;

pub use cert::{sha256_hex, CertSummary, SanEntry, MAX_CERT_LEN};
pub use error::{CertRole, RefuseReason, StoreError, VerifyError};
pub use keylog::KeyLogWriter;
pub use load::{parse_file, MAX_CERTS_PER_FILE, MAX_FILE_LEN};
pub use names::{check_name, dns_matches, presented_names, sip_uri_domain, ExpectedName};
pub use store::{
    AnchorInfo, AnchorProblem, Layer, Listing, RefusedFile, TrustStore, TrustStoreBuilder,
    MAX_USER_FILES,
};
pub use tls::{NameCheck, ServerVerifier};
pub use verify::{unix_time, Verification, Verified, MAX_CHAIN_LEN};

/// RFC 3339 text for dates in listings, errors and JSON.
pub(crate) mod rfc3339 {
    use serde::Serializer;
    use time::format_description::well_known::Rfc3339;
    use time::OffsetDateTime;

    /// `2026-11-30T07:39:00Z`; an unrepresentable date prints its Unix time.
    pub fn fmt(at: &OffsetDateTime) -> String {
        at.format(&Rfc3339)
            .unwrap_or_else(|_| format!("@{}", at.unix_timestamp()))
    }

    pub fn serialize<S: Serializer>(at: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&fmt(at))
    }

    pub mod option {
        use serde::Serializer;
        use time::OffsetDateTime;

        pub fn serialize<S: Serializer>(
            at: &Option<OffsetDateTime>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match at {
                Some(at) => s.serialize_str(&super::fmt(at)),
                None => s.serialize_none(),
            }
        }
    }
}
