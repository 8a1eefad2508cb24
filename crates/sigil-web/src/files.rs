//! The certificate files: uploads into `certs/trusted/` (checked as SPEC TS4
//! says), the `sipclient.pem` override (ID3) and `httpd.pem` (ID4), the
//! listing of both folders, deletion, and the device certificate's public
//! part. Upload names are never used as paths: a name is checked to be a
//! plain file name ([`sanitize_file_name`]) and every write is atomic.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sigil_endpoint::DataDir;
use sigil_identity::{FactoryPartition, Identity, Purpose, UserStore};
use sigil_trust::{AnchorInfo, Layer, TrustStore};

/// Largest uploaded file (bytes).
pub const MAX_FILE: usize = 1024 * 1024;
/// Largest request body (bytes): several files of one upload together.
pub const MAX_BODY: usize = 4 * 1024 * 1024;
/// Longest uploaded file name (bytes).
const MAX_NAME: usize = 100;
/// Names that belong in `certs/`, never in `certs/trusted/`.
const IDENTITY_FILES: [&str; 2] = ["sipclient.pem", "httpd.pem"];

/// Checks an uploaded file's name and returns it as the plain file name it
/// will be stored under. Refused: empty names, names longer than 100 bytes,
/// anything with `/` or `\` (a path), `..`, a leading dot (hidden files and
/// `.`), control characters, and characters outside
/// `A–Z a–z 0–9 . _ - + ( ) , @ = ~` and space. Blanks around the name are
/// dropped first. The name is never joined to a path before passing this check.
///
/// # Errors
///
/// Why the name is refused, in words for the page.
pub fn sanitize_file_name(name: &str) -> Result<String, String> {
    // Blanks around the name are dropped first, so every check sees the name as stored.
    let name = name.trim();
    let shown: String = name
        .chars()
        .take(60)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if name.is_empty() {
        return Err("the upload has no file name".to_owned());
    }
    if name.len() > MAX_NAME {
        return Err(format!(
            "the file name is longer than {MAX_NAME} characters"
        ));
    }
    if name.contains(['/', '\\']) || name.contains("..") {
        return Err(format!(
            "\"{shown}\" is a path, not a file name: only plain names like ca.pem are accepted (no '/', '\\' or '..')"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err("the file name contains control characters".to_owned());
    }
    if name.starts_with('.') {
        return Err(format!(
            "\"{shown}\": hidden file names (starting with '.') are not accepted"
        ));
    }
    if let Some(c) = name.chars().find(|c| {
        !(c.is_ascii_alphanumeric()
            || matches!(
                c,
                '.' | '_' | '-' | '+' | '(' | ')' | ',' | '@' | '=' | '~' | ' '
            ))
    }) {
        return Err(format!(
            "\"{shown}\": the character {c:?} is not accepted in a file name"
        ));
    }
    Ok(name.to_owned())
}

/// Writes `bytes` to `target` atomically: a fresh temporary file (mode
/// 0600) in the user store, synced, then renamed over `target`, and the
/// folder synced. On failure the temporary file is removed and `target` is
/// as it was.
pub(crate) fn write_atomic(data: &DataDir, target: &Path, bytes: &[u8]) -> Result<(), String> {
    let user = data.user();
    let mut suffix = [0u8; 8];
    getrandom::getrandom(&mut suffix).map_err(|e| format!("no system randomness: {e}"))?;
    let hex: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    let temp = user.join(format!(".web-upload-{hex}.tmp"));
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    let result = (|| {
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, target)?;
        if let Some(parent) = target.parent() {
            fs::File::open(parent).and_then(|d| d.sync_all())?;
        }
        Ok::<(), std::io::Error>(())
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&temp);
        format!("cannot write {}: {e}", target.display())
    })
}

/// The outcome for one uploaded file.
#[derive(Debug, Clone, Serialize)]
pub struct FileResult {
    /// The file name as uploaded (control characters replaced).
    pub name: String,
    /// Whether it was installed.
    pub accepted: bool,
    /// Why not (or a note, e.g. that it replaced a file of the same name).
    pub reason: Option<String>,
    /// The subjects of the certificates it holds, when accepted.
    pub certificates: Vec<String>,
}

impl FileResult {
    fn refused(name: &str, reason: String) -> FileResult {
        FileResult {
            name: printable(name),
            accepted: false,
            reason: Some(reason),
            certificates: Vec::new(),
        }
    }
}

/// A name for messages: control characters replaced, at most 100 characters.
pub(crate) fn printable(name: &str) -> String {
    name.chars()
        .take(MAX_NAME)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// An uploaded file as the request carried it.
#[derive(Debug)]
pub(crate) struct Upload {
    /// The name the browser gave (untrusted).
    pub(crate) name: String,
    /// The bytes, or `None` when it was larger than [`MAX_FILE`].
    pub(crate) bytes: Option<Vec<u8>>,
}

/// Installs one file into `certs/trusted/` after the TS4 checks. A refused
/// file changes nothing.
pub(crate) fn install_trusted(data: &DataDir, upload: &Upload) -> FileResult {
    let name = match sanitize_file_name(&upload.name) {
        Ok(n) => n,
        Err(reason) => return FileResult::refused(&upload.name, reason),
    };
    let Some(bytes) = &upload.bytes else {
        return FileResult::refused(
            &name,
            format!(
                "the file is larger than {MAX_FILE} bytes (1 MiB); a CA bundle is a few kilobytes"
            ),
        );
    };
    if IDENTITY_FILES.contains(&name.to_ascii_lowercase().as_str()) {
        return FileResult::refused(
            &name,
            format!("this belongs in certs/, not certs/trusted/: {name} is the device's own certificate and key; upload it as the {} file", if name.eq_ignore_ascii_case("httpd.pem") { "web certificate" } else { "override identity" }),
        );
    }
    let certs = match sigil_trust::parse_file(bytes) {
        Ok(certs) => certs,
        Err(reason) => return FileResult::refused(&name, reason.to_string()),
    };
    let subjects: Vec<String> = certs
        .iter()
        .map(|der| {
            sigil_identity::CertInfo::from_der(der.as_ref())
                .map(|c| c.subject)
                .unwrap_or_else(|e| format!("(unreadable: {e})"))
        })
        .collect();
    let target = data.trusted().join(&name);
    let replaced = target.exists();
    match write_atomic(data, &target, bytes) {
        Ok(()) => {
            log::info!(
                "web: installed certs/trusted/{name} ({} certificate(s))",
                certs.len()
            );
            FileResult {
                name,
                accepted: true,
                reason: replaced.then(|| "replaced the file of the same name".to_owned()),
                certificates: subjects,
            }
        }
        Err(e) => FileResult::refused(&name, e),
    }
}

/// Which identity file of `certs/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdentityFile {
    /// `certs/sipclient.pem`, the override (ID3).
    SipClient,
    /// `certs/httpd.pem`, the web certificate (ID4).
    Httpd,
}

impl IdentityFile {
    pub(crate) fn file_name(self) -> &'static str {
        match self {
            IdentityFile::SipClient => "sipclient.pem",
            IdentityFile::Httpd => "httpd.pem",
        }
    }
}

/// Checks an identity upload (certificate + key in one PEM) and installs it.
/// On success returns the loaded identity; a refused file changes nothing
/// (the factory identity, or the current web certificate, stays in use).
pub(crate) fn install_identity(
    data: &DataDir,
    which: IdentityFile,
    upload: &Upload,
) -> Result<Identity, String> {
    let Some(bytes) = &upload.bytes else {
        return Err(format!(
            "the file is larger than {MAX_FILE} bytes (1 MiB); a certificate with its key is a few kilobytes"
        ));
    };
    let file = format!("certs/{}", which.file_name());
    let identity = match Identity::from_pem(bytes, None, &file) {
        Ok(identity) => identity,
        Err(e) => {
            // A PKCS#12 or DER upload is not PEM at all: say what to do.
            let binary = bytes.first() == Some(&0x30);
            return Err(if binary {
                format!("{file} must be PEM text holding the certificate and its private key; this is binary (DER or PKCS#12): convert it with `openssl pkcs12 -in FILE.p12 -nodes -out {}`", which.file_name())
            } else {
                e.to_string()
            });
        }
    };
    let now = time::OffsetDateTime::now_utc();
    match which {
        IdentityFile::SipClient => identity
            .check_usable(now, Purpose::ClientAuth)
            .map_err(|e| format!("{e}; the factory identity stays in use"))?,
        IdentityFile::Httpd => identity
            .check_purpose(Purpose::ServerAuth)
            .map_err(|e| format!("{e}; the current web certificate stays in use"))?,
    }
    let user = UserStore::new(data.user());
    let target = match which {
        IdentityFile::SipClient => user.sipclient_path(),
        IdentityFile::Httpd => user.httpd_path(),
    };
    write_atomic(data, &target, bytes)?;
    log::info!("web: installed {file} ({})", identity.certificate().subject);
    Ok(identity)
}

/// One file of `certs/` or `certs/trusted/` in the file manager.
#[derive(Debug, Clone, Serialize)]
pub struct FileEntry {
    /// The file name; for `certs/trusted/` also its id in the API.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// What it is / its state, in words.
    pub state: String,
    /// The certificates it holds (subject, issuer, SHA-256, validity, problems).
    pub certificates: Vec<AnchorInfo>,
    /// Why the trust store refused it, if it did.
    pub refused: Option<String>,
}

/// The trust store as the device would build it now.
pub(crate) fn trust_store(data: &DataDir) -> TrustStore {
    let mut builder = TrustStore::builder();
    let vendor = data.vendor_chain();
    if vendor.is_file() {
        builder = match builder.vendor_file(&vendor) {
            Ok(b) => b,
            Err(e) => {
                log::warn!("vendor chain: {e}");
                TrustStore::builder()
            }
        };
    }
    match builder.user_dir(&data.trusted()) {
        Ok(b) => b.build(),
        Err(e) => {
            log::warn!("certs/trusted: {e}");
            TrustStore::builder().build()
        }
    }
}

/// The plain files of a folder, sorted by name.
fn files_in(dir: &Path) -> Vec<(String, PathBuf, u64)> {
    let mut files: Vec<(String, PathBuf, u64)> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .take(sigil_trust::MAX_USER_FILES)
                .filter_map(|e| {
                    let meta = e.metadata().ok()?;
                    meta.is_file().then(|| {
                        (
                            e.file_name().to_string_lossy().into_owned(),
                            e.path(),
                            meta.len(),
                        )
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// The files of `certs/trusted/` with their certificates and problems (TS5).
pub(crate) fn list_trusted(data: &DataDir, store: &TrustStore) -> Vec<FileEntry> {
    files_in(&data.trusted())
        .into_iter()
        .map(|(name, path, size)| {
            let source = path.display().to_string();
            let numbered = format!("{source} #");
            let certificates: Vec<AnchorInfo> = store
                .anchors()
                .filter(|a| {
                    a.layer == Layer::User
                        && (a.source == source || a.source.starts_with(&numbered))
                })
                .cloned()
                .collect();
            let refused = store
                .refused()
                .iter()
                .find(|r| r.path == source)
                .map(|r| r.reason.to_string());
            let state = match &refused {
                Some(_) => "refused".to_owned(),
                None => format!("{} certificate(s) trusted", certificates.len()),
            };
            FileEntry {
                name,
                size,
                state,
                certificates,
                refused,
            }
        })
        .collect()
}

/// The files of `certs/` (not the folder `trusted/`), with the identity state of each.
pub(crate) fn list_certs(
    data: &DataDir,
    identity: &sigil_identity::IdentityStatus,
) -> Vec<FileEntry> {
    files_in(&UserStore::new(data.user()).certs_dir())
        .into_iter()
        .map(|(name, _, size)| {
            let slot = match name.as_str() {
                "sipclient.pem" => Some(&identity.sipclient),
                "httpd.pem" => Some(&identity.httpd),
                _ => None,
            };
            let (state, refused) = match slot {
                Some(slot) => (
                    format!("{:?}", slot.state).to_lowercase(),
                    slot.problem.as_ref().map(|p| p.message.clone()),
                ),
                None => (
                    "not used by the device (certs/ holds sipclient.pem and httpd.pem)".to_owned(),
                    None,
                ),
            };
            FileEntry {
                name,
                size,
                state,
                certificates: Vec::new(),
                refused,
            }
        })
        .collect()
}

/// Deletes `certs/trusted/<id>`. The id must be a plain file name of that
/// folder; it is matched against the folder's listing, never joined as given.
pub(crate) fn delete_trusted(data: &DataDir, id: &str) -> Result<String, String> {
    let name = sanitize_file_name(id)?;
    let Some((_, path, _)) = files_in(&data.trusted())
        .into_iter()
        .find(|(n, _, _)| *n == name)
    else {
        return Err(format!("certs/trusted/ has no file named \"{name}\""));
    };
    fs::remove_file(&path).map_err(|e| format!("cannot delete {}: {e}", path.display()))?;
    log::info!("web: deleted certs/trusted/{name}");
    Ok(name)
}

/// Removes the override `certs/sipclient.pem`; `Ok(false)` when there was none.
pub(crate) fn delete_override(data: &DataDir) -> Result<bool, String> {
    let path = UserStore::new(data.user()).sipclient_path();
    match fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(format!("cannot delete {}: {e}", path.display())),
    }
}

/// The certificates of the factory `device.pem` as PEM: the public part
/// only (any key in the file is left out).
pub(crate) fn device_certificate_pem(data: &DataDir) -> Option<String> {
    let identity = FactoryPartition::new(data.factory())
        .load()
        .ok()
        .flatten()?;
    Some(certificates_pem(identity.chain()))
}

/// DER certificates as PEM text.
pub(crate) fn certificates_pem(chain: &[rustls::pki_types::CertificateDer<'_>]) -> String {
    use base64::Engine;
    let mut out = String::new();
    for der in chain {
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        for line in b64.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(line));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_or_refused() {
        for good in [
            "ca.pem",
            "My Root CA (2024).crt",
            "a-b_c+d@e=f~g,h.cer",
            "ROOT.DER",
        ] {
            assert_eq!(sanitize_file_name(good).as_deref(), Ok(good), "{good}");
        }
        for bad in [
            "../../factory/device.key",
            "..",
            ".",
            "a/b.pem",
            "C:\\ca.pem",
            "x..pem",
            ".hidden",
            "ca\n.pem",
            "ca\u{0}.pem",
            "",
            "  ",
            "zertifikat-ä.pem",
            "a;b.pem",
            " .cert",
            "  .C",
        ] {
            assert!(sanitize_file_name(bad).is_err(), "{bad:?}");
        }
        assert!(sanitize_file_name(&"a".repeat(101)).is_err());
        let e = sanitize_file_name("../../factory/device.key").unwrap_err();
        assert!(e.contains("is a path"), "{e}");
    }

    #[test]
    fn atomic_write_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path());
        fs::create_dir_all(data.trusted()).unwrap();
        let target = data.trusted().join("x.pem");
        write_atomic(&data, &target, b"one").unwrap();
        write_atomic(&data, &target, b"two").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&target).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let leftovers: Vec<_> = fs::read_dir(data.user())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }
}
