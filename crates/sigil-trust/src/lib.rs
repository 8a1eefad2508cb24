//! Layered trust store and rustls server-certificate verifiers (SPEC T2, T5, TS1–TS5).
//!
//! A device trusts servers through three layers of anchors ([`Layer`]):
//! the public web PKI roots built into the firmware (webpki-roots), the
//! vendor CA chain, and whatever the installer uploaded to `certs/trusted/`.
//!
//! ```no_run
//! use std::sync::Arc;
//! use sigil_trust::{ExpectedName, NameCheck, ServerVerifier, TrustStore};
//!
//! // Build the store: built-in roots + vendor chain + every file of the user folder.
//! let store = TrustStore::builder()
//!     .vendor_file("factory/vendor-chain.pem".as_ref())?
//!     .user_dir("user/certs/trusted".as_ref())?
//!     .build();
//! for refused in store.refused() {
//!     eprintln!("{}: {}", refused.path, refused.reason); // e.g. "… belongs in certs/"
//! }
//! println!("{}", store.listing().to_json());
//!
//! // Verify a chain without a handshake (what `sigil trust verify` does) …
//! # let chain: Vec<rustls::pki_types::CertificateDer<'static>> = vec![];
//! match store.verify(&chain, &ExpectedName::sip("example.com", false), rustls::pki_types::UnixTime::now()) {
//!     Ok(verified) => println!("verified: {verified}"),
//!     Err(reason) => println!("not verified: {reason}"), // typed: UnknownIssuer { issuer, .. }, Expired { .. }, …
//! }
//!
//! // … or plug the verifier into rustls.
//! let verifier = Arc::new(ServerVerifier::new(Arc::new(store), NameCheck::Sip { strict: false }));
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
