//! The layered store: built-in roots, the vendor chain, the user folder.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use rustls_pki_types::{CertificateDer, TrustAnchor};
use serde::Serialize;
use time::OffsetDateTime;

use crate::cert::{dn_der_to_string, sha256, sha256_hex, CertSummary};
use crate::error::{RefuseReason, StoreError};
use crate::load::{parse_file, MAX_FILE_LEN};

/// Most files read from the user folder.
pub const MAX_USER_FILES: usize = 10_000;

/// Where an anchor comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// The public web PKI roots built into the firmware (Mozilla's set, webpki-roots).
    BuiltIn,
    /// The vendor CA chain shipped with the device.
    Vendor,
    /// Certificates the installer uploaded to `certs/trusted/`.
    User,
}

impl std::fmt::Display for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Layer::BuiltIn => "built-in",
            Layer::Vendor => "vendor",
            Layer::User => "user",
        })
    }
}

/// Something an installer should know about an anchor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "problem")]
pub enum AnchorProblem {
    /// The anchor's notAfter has passed (at the time the store was built).
    Expired {
        /// notAfter.
        #[serde(with = "crate::rfc3339")]
        not_after: OffsetDateTime,
    },
    /// The anchor's notBefore is in the future (is the clock set?).
    NotYetValid {
        /// notBefore.
        #[serde(with = "crate::rfc3339")]
        not_before: OffsetDateTime,
    },
    /// The same certificate (same SHA-256) is already in the store.
    Duplicate {
        /// Where the first copy came from.
        of: String,
    },
    /// Not a CA certificate: it is trusted only as exactly this server certificate.
    ExactMatchOnly,
    /// It has critical extensions the verifier does not understand. As an anchor it is
    /// still used (anchors are not checked), but such a CA is suspicious: check it.
    UnsupportedCriticalExtension {
        /// The extensions' OIDs.
        oids: Vec<String>,
    },
}

impl std::fmt::Display for AnchorProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AnchorProblem::Expired { not_after } => {
                write!(f, "expired on {}", crate::rfc3339::fmt(not_after))
            }
            AnchorProblem::NotYetValid { not_before } => {
                write!(f, "not valid before {}", crate::rfc3339::fmt(not_before))
            }
            AnchorProblem::Duplicate { of } => write!(f, "duplicate of {of}"),
            AnchorProblem::UnsupportedCriticalExtension { oids } => write!(
                f,
                "critical extension(s) this verifier does not understand: {}",
                oids.join(", ")
            ),
            AnchorProblem::ExactMatchOnly => {
                f.write_str("not a CA: trusted only as this exact server certificate")
            }
        }
    }
}

/// One anchor of the store, as the listing shows it (SPEC TS5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnchorInfo {
    /// Layer.
    pub layer: Layer,
    /// Source: the file path for vendor and user anchors, `webpki-roots` for built-in ones.
    pub source: String,
    /// Subject distinguished name.
    pub subject: String,
    /// Issuer distinguished name (`None` for built-in anchors, which ship without certificates).
    pub issuer: Option<String>,
    /// SHA-256 of the certificate, `AB:CD:…` (`None` for built-in anchors).
    pub sha256: Option<String>,
    /// SHA-256 of the subjectPublicKeyInfo (known for every anchor).
    pub spki_sha256: String,
    /// notBefore (`None` for built-in anchors).
    #[serde(with = "crate::rfc3339::option")]
    pub not_before: Option<OffsetDateTime>,
    /// notAfter (`None` for built-in anchors).
    #[serde(with = "crate::rfc3339::option")]
    pub not_after: Option<OffsetDateTime>,
    /// Problems (expired, not yet valid, duplicate, exact match only).
    pub problems: Vec<AnchorProblem>,
}

/// An uploaded file that was not loaded, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefusedFile {
    /// The file.
    pub path: String,
    /// Why it was refused.
    pub reason: RefuseReason,
}

/// The whole store as a listing: every anchor and every refused file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listing {
    /// Anchors, built-in first, then vendor, then user (files in name order).
    pub anchors: Vec<AnchorInfo>,
    /// Refused files.
    pub refused: Vec<RefusedFile>,
}

impl Listing {
    /// The listing as pretty JSON.
    pub fn to_json(&self) -> String {
        // ok: every field serializes (strings, numbers, enums); serde_json cannot fail here
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Anchor {
    pub(crate) info: AnchorInfo,
    pub(crate) summary: Option<CertSummary>,
}

/// The layered trust store. Build it with [`TrustStore::builder`]; it is
/// immutable afterwards (share it with `Arc`).
#[derive(Debug, Clone)]
pub struct TrustStore {
    pub(crate) anchors: Vec<Anchor>,
    /// What webpki chains to, in the same order as `webpki_index`.
    pub(crate) webpki: Vec<TrustAnchor<'static>>,
    /// For each entry of `webpki`, the index into `anchors`.
    pub(crate) webpki_index: Vec<usize>,
    /// SHA-256 of uploaded (user layer) certificates → anchor index: exact-match trust.
    pub(crate) exact: HashMap<[u8; 32], usize>,
    pub(crate) refused: Vec<RefusedFile>,
}

impl TrustStore {
    /// Starts building a store (built-in roots on, no vendor chain, no user folder).
    pub fn builder() -> TrustStoreBuilder {
        TrustStoreBuilder {
            builtin: true,
            vendor: Vec::new(),
            user: Vec::new(),
            refused: Vec::new(),
            now: None,
        }
    }

    /// The built-in roots plus every file of `dir` (the usual device store).
    pub fn load_user_dir(dir: &Path) -> Result<TrustStore, StoreError> {
        Ok(TrustStore::builder().user_dir(dir)?.build())
    }

    /// Every anchor and every refused file.
    pub fn listing(&self) -> Listing {
        Listing {
            anchors: self.anchors.iter().map(|a| a.info.clone()).collect(),
            refused: self.refused.clone(),
        }
    }

    /// The anchors.
    pub fn anchors(&self) -> impl Iterator<Item = &AnchorInfo> {
        self.anchors.iter().map(|a| &a.info)
    }

    /// The refused files.
    pub fn refused(&self) -> &[RefusedFile] {
        &self.refused
    }

    /// How many anchors (including duplicates) the store lists.
    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    /// Whether the store has no anchor at all.
    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }
}

/// Builds a [`TrustStore`]; see [`TrustStore::builder`].
#[derive(Debug)]
pub struct TrustStoreBuilder {
    builtin: bool,
    vendor: Vec<(String, Vec<CertificateDer<'static>>)>,
    user: Vec<(String, Vec<CertificateDer<'static>>)>,
    refused: Vec<RefusedFile>,
    now: Option<OffsetDateTime>,
}

impl TrustStoreBuilder {
    /// Include (default) or leave out the built-in web PKI roots.
    pub fn builtin(mut self, on: bool) -> Self {
        self.builtin = on;
        self
    }

    /// The clock used to flag expired / not-yet-valid anchors in the listing
    /// (default: the system clock at [`build`](Self::build)).
    pub fn clock(mut self, now: OffsetDateTime) -> Self {
        self.now = Some(now);
        self
    }

    /// Adds the vendor chain from a PEM or DER file (every certificate becomes a vendor anchor).
    /// Unlike a user file, a broken vendor file is an error: it ships with the firmware.
    pub fn vendor_file(self, path: &Path) -> Result<Self, StoreError> {
        let bytes = read_limited(path).map_err(|source| StoreError::Io {
            path: path.display().to_string(),
            source,
        })?;
        self.vendor_bytes(&path.display().to_string(), &bytes)
    }

    /// Adds the vendor chain from bytes (PEM or DER); `source` names it in listings.
    pub fn vendor_bytes(mut self, source: &str, bytes: &[u8]) -> Result<Self, StoreError> {
        let certs = parse_file(bytes).map_err(|reason| StoreError::VendorRefused {
            path: source.to_owned(),
            reason,
        })?;
        self.vendor.push((source.to_owned(), certs));
        Ok(self)
    }

    /// Adds every file of the user folder (`certs/trusted/`), in name order.
    /// Sub-directories are skipped; a missing folder is an empty one. Files
    /// that are refused are listed with their reason; the rest loads.
    pub fn user_dir(mut self, dir: &Path) -> Result<Self, StoreError> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(self),
            Err(source) => {
                return Err(StoreError::Io {
                    path: dir.display().to_string(),
                    source,
                })
            }
        };
        let mut paths = Vec::new();
        for entry in entries.take(MAX_USER_FILES) {
            let entry = entry.map_err(|source| StoreError::Io {
                path: dir.display().to_string(),
                source,
            })?;
            let path = entry.path();
            if path.is_dir() {
                log::info!("trust store: skipping sub-directory {}", path.display());
                continue;
            }
            if !path.is_file() {
                // a FIFO or device could block or never end: never open it
                self.refused.push(RefusedFile {
                    path: path.display().to_string(),
                    reason: RefuseReason::Unreadable {
                        detail: "not a regular file (or a broken link)".into(),
                    },
                });
                continue;
            }
            paths.push(path);
        }
        paths.sort();
        for path in paths {
            let source = path.display().to_string();
            match read_limited(&path) {
                Ok(bytes) => self = self.user_bytes(&source, &bytes),
                Err(e) => self.refused.push(RefusedFile {
                    path: source,
                    reason: if e.kind() == std::io::ErrorKind::FileTooLarge {
                        RefuseReason::TooLarge {
                            size: std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0),
                            max: MAX_FILE_LEN,
                        }
                    } else {
                        RefuseReason::Unreadable {
                            detail: e.to_string(),
                        }
                    },
                }),
            }
        }
        Ok(self)
    }

    /// Adds one uploaded file's bytes; `source` names it. A refused file is
    /// recorded (see [`TrustStore::refused`]), never an error.
    pub fn user_bytes(mut self, source: &str, bytes: &[u8]) -> Self {
        match parse_file(bytes) {
            Ok(certs) => self.user.push((source.to_owned(), certs)),
            Err(reason) => {
                log::warn!("trust store: refused {source}: {reason}");
                self.refused.push(RefusedFile {
                    path: source.to_owned(),
                    reason,
                });
            }
        }
        self
    }

    /// Adds already-parsed certificates as user anchors (e.g. from a configuration database).
    pub fn user_certs(mut self, source: &str, certs: Vec<CertificateDer<'static>>) -> Self {
        self.user.push((source.to_owned(), certs));
        self
    }

    /// Builds the store.
    pub fn build(self) -> TrustStore {
        let now = self.now.unwrap_or_else(OffsetDateTime::now_utc);
        let mut store = TrustStore {
            anchors: Vec::new(),
            webpki: Vec::new(),
            webpki_index: Vec::new(),
            exact: HashMap::new(),
            refused: self.refused,
        };
        if self.builtin {
            for ta in webpki_roots::TLS_SERVER_ROOTS {
                let index = store.anchors.len();
                store.anchors.push(Anchor {
                    info: AnchorInfo {
                        layer: Layer::BuiltIn,
                        source: "webpki-roots".into(),
                        subject: dn_der_to_string(&ta.subject, false)
                            .unwrap_or_else(|| "(unreadable name)".into()),
                        issuer: None,
                        sha256: None,
                        spki_sha256: sha256_hex(&ta.subject_public_key_info),
                        not_before: None,
                        not_after: None,
                        problems: Vec::new(),
                    },
                    summary: None,
                });
                store.webpki.push(ta.clone());
                store.webpki_index.push(index);
            }
        }
        let mut seen: HashMap<[u8; 32], String> = HashMap::new();
        for (layer, files) in [(Layer::Vendor, self.vendor), (Layer::User, self.user)] {
            for (source, certs) in files {
                for (i, der) in certs.into_iter().enumerate() {
                    let name = if i == 0 {
                        source.clone()
                    } else {
                        format!("{source} #{i}")
                    };
                    store.add_cert(layer, name, der, now, &mut seen);
                }
            }
        }
        store
    }
}

impl TrustStore {
    fn add_cert(
        &mut self,
        layer: Layer,
        source: String,
        der: CertificateDer<'static>,
        now: OffsetDateTime,
        seen: &mut HashMap<[u8; 32], String>,
    ) {
        let Ok(summary) = CertSummary::parse(&der, 0) else {
            // parse_file already checked every certificate; user_certs may not have
            self.refused.push(RefusedFile {
                path: source,
                reason: RefuseReason::MalformedCertificate {
                    index: 0,
                    detail: "not a valid X.509 certificate".into(),
                },
            });
            return;
        };
        let ta = match webpki::anchor_from_trusted_cert(&der) {
            Ok(ta) => ta.to_owned(),
            Err(e) => {
                self.refused.push(RefusedFile {
                    path: source,
                    reason: RefuseReason::MalformedCertificate {
                        index: 0,
                        detail: format!("cannot be used as a trust anchor ({e})"),
                    },
                });
                return;
            }
        };
        let fingerprint = sha256(&der);
        let mut problems = Vec::new();
        if now > summary.not_after {
            problems.push(AnchorProblem::Expired {
                not_after: summary.not_after,
            });
        } else if now < summary.not_before {
            problems.push(AnchorProblem::NotYetValid {
                not_before: summary.not_before,
            });
        }
        let duplicate = seen.get(&fingerprint).cloned();
        if let Some(of) = &duplicate {
            problems.push(AnchorProblem::Duplicate { of: of.clone() });
        }
        // A CA (or a v1 certificate, which cannot say) anchors chains; anything
        // else is trusted only as exactly this certificate.
        let anchors_chains = summary.is_ca || summary.version == 1;
        // Exact-match trust (SPEC TS2): uploaded self-signed certificates and
        // pinned non-CA certificates; never a CA that is not self-issued.
        let exact_match = layer == Layer::User && (!summary.is_ca || summary.self_issued);
        if !anchors_chains {
            problems.push(AnchorProblem::ExactMatchOnly);
        }
        if !summary.unsupported_critical.is_empty() {
            problems.push(AnchorProblem::UnsupportedCriticalExtension {
                oids: summary.unsupported_critical.clone(),
            });
        }
        let index = self.anchors.len();
        self.anchors.push(Anchor {
            info: AnchorInfo {
                layer,
                source: source.clone(),
                subject: summary.subject.clone(),
                issuer: Some(summary.issuer.clone()),
                sha256: Some(summary.sha256.clone()),
                spki_sha256: sha256_hex(&ta.subject_public_key_info),
                not_before: Some(summary.not_before),
                not_after: Some(summary.not_after),
                problems,
            },
            summary: Some(summary),
        });
        if duplicate.is_some() {
            return;
        }
        seen.insert(fingerprint, source);
        if exact_match {
            self.exact.insert(fingerprint, index);
        }
        if anchors_chains {
            self.webpki.push(ta);
            self.webpki_index.push(index);
        }
    }
}

fn read_limited(path: &Path) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_LEN + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_LEN {
        return Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            "file too large",
        ));
    }
    Ok(bytes)
}
