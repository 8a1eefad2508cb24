//! The storage model: the read-only factory partition and the user store.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::error::IdentityError;
use crate::identity::{Identity, Purpose};
use crate::mac::Mac;
use crate::pem::MAX_IDENTITY_FILE;

/// The factory partition: a read-only directory written once at manufacture
/// (SPEC ID1), holding
///
/// - `device.pem` — the device certificate, then the vendor intermediate
///   (then, optionally, the vendor root);
/// - `device.key` — its private key (PKCS#8, SEC1 or PKCS#1 PEM). A key
///   inside `device.pem` is accepted too.
///
/// Sigil never writes here: this type has no method that could.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactoryPartition {
    dir: PathBuf,
}

impl FactoryPartition {
    /// The certificate file name inside the partition.
    pub const CERT_FILE: &'static str = "device.pem";
    /// The key file name inside the partition.
    pub const KEY_FILE: &'static str = "device.key";

    /// A factory partition mounted at `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FactoryPartition { dir: dir.into() }
    }

    /// The partition directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `device.pem`.
    pub fn cert_path(&self) -> PathBuf {
        self.dir.join(Self::CERT_FILE)
    }

    /// `device.key`.
    pub fn key_path(&self) -> PathBuf {
        self.dir.join(Self::KEY_FILE)
    }

    /// Loads the factory identity (IDevID). `Ok(None)`: no manufacturer
    /// certificate is installed (no `device.pem`). Validity is not checked
    /// here: a factory identity stays in use even when the device clock is
    /// wrong; [`IdentitySet`](crate::IdentitySet) reports it.
    pub fn load(&self) -> Result<Option<Identity>, IdentityError> {
        let cert_path = self.cert_path();
        let key_path = self.key_path();
        let Some(cert_pem) = read_limited(&cert_path)? else {
            if key_path.exists() {
                // A key without its certificate is a damaged partition, not "no identity".
                return Err(IdentityError::NoCertificate {
                    file: cert_path.display().to_string(),
                });
            }
            return Ok(None);
        };
        let key_pem = read_limited(&key_path)?;
        let source = cert_path.display().to_string();
        match Identity::from_pem(&cert_pem, key_pem.as_ref().map(|k| k.as_slice()), &source) {
            Err(IdentityError::NoKey { .. }) => Err(IdentityError::NoKey {
                file: key_path.display().to_string(),
            }),
            other => other.map(Some),
        }
    }
}

/// The user store (SPEC E1, ID3, ID4, ID8): a writable directory with
///
/// - `certs/sipclient.pem` — the override identity (LDevID): certificate,
///   optional chain and private key in one PEM;
/// - `certs/httpd.pem` — the web interface's certificate and key;
/// - `certs/trusted/` — uploaded trust anchors (read by `sigil-trust`);
/// - configuration files (owned by provisioning).
///
/// A factory reset wipes all of it ([`UserStore::factory_reset`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserStore {
    dir: PathBuf,
}

/// What [`UserStore::web_identity`] found or made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WebOrigin {
    /// `certs/httpd.pem` was installed and is used.
    Installed,
    /// No `httpd.pem` existed: a self-signed one was made and saved.
    Generated,
}

/// The result of a factory reset.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResetReport {
    /// The top-level entries of the user store that were removed.
    pub removed: Vec<PathBuf>,
}

impl UserStore {
    /// The user store rooted at `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        UserStore { dir: dir.into() }
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `certs/`.
    pub fn certs_dir(&self) -> PathBuf {
        self.dir.join("certs")
    }

    /// `certs/sipclient.pem`, the override identity.
    pub fn sipclient_path(&self) -> PathBuf {
        self.certs_dir().join("sipclient.pem")
    }

    /// `certs/httpd.pem`, the web interface certificate.
    pub fn httpd_path(&self) -> PathBuf {
        self.certs_dir().join("httpd.pem")
    }

    /// `certs/trusted/`, user-added trust anchors.
    pub fn trusted_dir(&self) -> PathBuf {
        self.certs_dir().join("trusted")
    }

    /// Loads `certs/sipclient.pem`: `Ok(None)` when absent. Only parsing and
    /// the key match are checked; [`IdentitySet`](crate::IdentitySet) checks validity and usage.
    pub fn load_override(&self) -> Result<Option<Identity>, IdentityError> {
        load_combined(&self.sipclient_path())
    }

    /// The identity of the HTTPS web interface (SPEC ID4).
    ///
    /// When `certs/httpd.pem` exists it is loaded and must hold a matching key
    /// and be usable as a server certificate (not a CA, EKU allowing
    /// serverAuth); a broken file is reported, never overwritten. Being outside
    /// its validity period is only logged (browsers judge that, and the device
    /// clock may be wrong before NTP). When it does not exist, a self-signed
    /// certificate (ECDSA P-256, CN = `mac` or `sigil-device`, SANs = `names`,
    /// where a name that parses as an IP address becomes an IP SAN, valid 20 years)
    /// is generated once, written to `certs/httpd.pem` (mode 0600) and used from
    /// then on. Generating needs the `mint` feature (rcgen on ring), which is on by default.
    pub fn web_identity(
        &self,
        mac: Option<Mac>,
        names: &[String],
    ) -> Result<(Identity, WebOrigin), IdentityError> {
        let path = self.httpd_path();
        if let Some(identity) = load_combined(&path)? {
            identity.check_purpose(Purpose::ServerAuth)?;
            if let Err(warning) = identity.check_validity(time::OffsetDateTime::now_utc()) {
                // Served anyway: the browser judges validity, and a device clock before NTP is often wrong.
                log::warn!("web certificate: {warning}");
            }
            return Ok((identity, WebOrigin::Installed));
        }
        #[cfg(feature = "mint")]
        {
            let minted = crate::mint::mint_self_signed_web(mac, names)?;
            let pem = minted.combined_pem();
            write_private(&path, pem.as_bytes())?;
            log::info!(
                "generated a self-signed web certificate in {}",
                path.display()
            );
            let identity = Identity::from_pem(pem.as_bytes(), None, &path.display().to_string())?;
            Ok((identity, WebOrigin::Generated))
        }
        #[cfg(not(feature = "mint"))]
        {
            let _ = (mac, names);
            Err(IdentityError::CannotGenerate {
                file: path.display().to_string(),
            })
        }
    }

    /// Factory reset (SPEC ID8): removes everything inside the user store —
    /// configuration, `certs/`, `certs/trusted/` — and leaves the (now empty)
    /// directory. The factory partition is not touched; afterwards the factory
    /// identity is the one in use.
    ///
    /// As a guard against a wrong path, it refuses the filesystem root, any
    /// directory holding `device.pem` or `device.key` (that is a factory
    /// partition) and any directory with such a partition directly inside it
    /// (the device data directory). A missing store is already reset.
    pub fn factory_reset(&self) -> Result<ResetReport, IdentityError> {
        let dir = &self.dir;
        let canonical = match fs::canonicalize(dir) {
            Ok(canonical) => canonical,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Ok(ResetReport::default())
            }
            Err(source) => {
                return Err(IdentityError::Read {
                    path: dir.clone(),
                    source,
                })
            }
        };
        if canonical.parent().is_none() {
            return Err(IdentityError::RefuseWipe {
                dir: dir.clone(),
                reason: "it is the filesystem root".to_owned(),
            });
        }
        for factory_file in [FactoryPartition::CERT_FILE, FactoryPartition::KEY_FILE] {
            if canonical.join(factory_file).exists() {
                return Err(IdentityError::RefuseWipe {
                    dir: dir.clone(),
                    reason: format!(
                        "it holds {factory_file}, so it looks like the factory partition"
                    ),
                });
            }
        }
        // Nor a directory that holds the factory partition (the device data directory itself).
        let subdirs = fs::read_dir(&canonical).map_err(|source| IdentityError::Read {
            path: dir.clone(),
            source,
        })?;
        for entry in subdirs.flatten() {
            let path = entry.path();
            let is_real_dir = fs::symlink_metadata(&path)
                .map(|meta| meta.file_type().is_dir())
                .unwrap_or(false);
            if is_real_dir
                && [FactoryPartition::CERT_FILE, FactoryPartition::KEY_FILE]
                    .iter()
                    .any(|file| path.join(file).exists())
            {
                return Err(IdentityError::RefuseWipe {
                    dir: dir.clone(),
                    reason: format!(
                        "{} inside it looks like the factory partition; point it at the user store itself",
                        path.display()
                    ),
                });
            }
        }
        let entries = fs::read_dir(&canonical).map_err(|source| IdentityError::Read {
            path: dir.clone(),
            source,
        })?;
        let mut report = ResetReport::default();
        for entry in entries {
            let entry = entry.map_err(|source| IdentityError::Read {
                path: dir.clone(),
                source,
            })?;
            let path = entry.path();
            let is_real_dir = fs::symlink_metadata(&path)
                .map(|meta| meta.file_type().is_dir())
                .unwrap_or(false);
            let removed = if is_real_dir {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            removed.map_err(|source| IdentityError::Write {
                path: path.clone(),
                source,
            })?;
            report.removed.push(path);
        }
        log::warn!(
            "factory reset: wiped the user store {} ({} entries)",
            dir.display(),
            report.removed.len()
        );
        Ok(report)
    }
}

/// Loads a combined certificate + key PEM; `Ok(None)` when the file is absent.
fn load_combined(path: &Path) -> Result<Option<Identity>, IdentityError> {
    let Some(pem) = read_limited(path)? else {
        return Ok(None);
    };
    Identity::from_pem(&pem, None, &path.display().to_string()).map(Some)
}

/// Reads at most [`MAX_IDENTITY_FILE`] bytes into a buffer wiped on drop.
/// `Ok(None)` when the file does not exist.
pub(crate) fn read_limited(path: &Path) -> Result<Option<Zeroizing<Vec<u8>>>, IdentityError> {
    let file = match fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(IdentityError::Read {
                path: path.to_owned(),
                source,
            })
        }
    };
    let mut buffer = Zeroizing::new(Vec::new());
    file.take(MAX_IDENTITY_FILE as u64 + 1)
        .read_to_end(&mut buffer)
        .map_err(|source| IdentityError::Read {
            path: path.to_owned(),
            source,
        })?;
    if buffer.len() > MAX_IDENTITY_FILE {
        return Err(IdentityError::FileTooLarge {
            file: path.display().to_string(),
            limit: MAX_IDENTITY_FILE,
        });
    }
    Ok(Some(buffer))
}

/// Writes `contents` to `path` atomically (temporary file, sync, rename),
/// readable only by the owner, creating parent directories.
///
/// The temporary file is always created anew with mode 0600: a stale one
/// left by a crash (perhaps 0644) is removed first, never reused, and the
/// temporary file is removed again when any step fails.
#[cfg_attr(not(feature = "mint"), allow(dead_code))]
pub(crate) fn write_private(path: &Path, contents: &[u8]) -> Result<(), IdentityError> {
    use std::io::Write;
    let write_error = |source| IdentityError::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(write_error)?;
    }
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    match fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(write_error(e)),
        _ => {}
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(write_error)?;
    let written = file
        .write_all(contents)
        .and_then(|()| file.sync_all())
        .and_then(|()| {
            drop(file);
            fs::rename(&tmp, path)
        });
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(write_error(e));
    }
    Ok(())
}
