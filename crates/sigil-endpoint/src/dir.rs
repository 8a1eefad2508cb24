//! The device data directory (SPEC E1) and the first boot steps: factory
//! identity → configuration → trust store and active identity → provisioning.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use sigil_identity::{FactoryPartition, IdentitySet, ResetReport, SlotState, UserStore};
use sigil_provisioning::{ConfigSource, ConfigStore, Settings};
use sigil_trust::{Layer, TrustStore};

use crate::error::EndpointError;
use crate::status::{BootStep, ConfigSummary, DeviceStatus, Outcome, TrustSummary};

/// File of the factory partition holding the vendor CA chain (root and
/// intermediate), the trust store's vendor layer. Optional.
pub const VENDOR_CHAIN_FILE: &str = "vendor-chain.pem";

/// The layout of a device data directory:
///
/// ```text
/// DIR/factory/device.pem        device certificate + vendor intermediate (read only)
/// DIR/factory/device.key        its private key (read only)
/// DIR/factory/vendor-chain.pem  vendor root + intermediate (optional, read only)
/// DIR/user/config.conf          the configuration (written atomically by provisioning)
/// DIR/user/certs/sipclient.pem  override identity (optional)
/// DIR/user/certs/trusted/       uploaded trust anchors
/// ```
///
/// Nothing outside `DIR` is read; nothing outside `DIR/user` is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// The data directory at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DataDir { root: root.into() }
    }
    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// `factory/`.
    pub fn factory(&self) -> PathBuf {
        self.root.join("factory")
    }
    /// `user/`.
    pub fn user(&self) -> PathBuf {
        self.root.join("user")
    }
    /// `factory/vendor-chain.pem`.
    pub fn vendor_chain(&self) -> PathBuf {
        self.factory().join(VENDOR_CHAIN_FILE)
    }
    /// `user/certs/trusted/`.
    pub fn trusted(&self) -> PathBuf {
        UserStore::new(self.user()).trusted_dir()
    }
}

/// A device's data directory, opened: inspect it, reset it, or boot it
/// ([`DeviceDir::boot`]) into a [`crate::RunningDevice`].
#[derive(Debug, Clone)]
pub struct DeviceDir {
    dir: DataDir,
}

/// What the first boot steps produced: everything the SIP side needs.
pub struct Prepared {
    /// The settings in effect (after provisioning).
    pub settings: Settings,
    /// The identities.
    pub identities: IdentitySet,
    /// The trust store.
    pub store: Arc<TrustStore>,
    /// The status so far.
    pub status: DeviceStatus,
    /// When the boot started.
    pub started: Instant,
    /// The data directory.
    pub dir: DataDir,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The MAC in the form used in provisioning file names: 12 lowercase hex digits.
fn mac_for_files(mac: &sigil_identity::Mac) -> String {
    mac.to_string()
        .chars()
        .filter(char::is_ascii_hexdigit)
        .collect::<String>()
        .to_ascii_lowercase()
}

impl DeviceDir {
    /// Opens the device at `dir`. Requires `dir/factory/` to exist; creates
    /// `dir/user/` (and `certs/trusted/`) when missing — the only writes.
    pub fn open(dir: impl Into<PathBuf>) -> Result<DeviceDir, EndpointError> {
        let dir = DataDir::new(dir);
        if !dir.factory().is_dir() {
            return Err(EndpointError::NoFactoryPartition(dir.factory()));
        }
        let trusted = dir.trusted();
        std::fs::create_dir_all(&trusted).map_err(|source| EndpointError::Io {
            path: trusted,
            source,
        })?;
        Ok(DeviceDir { dir })
    }

    /// The data directory.
    pub fn data_dir(&self) -> &DataDir {
        &self.dir
    }

    /// Factory reset (SPEC ID8): wipes the user store (configuration,
    /// `certs/`, `certs/trusted/`); the factory partition stays, so the next
    /// boot runs on the factory identity and defaults.
    pub fn factory_reset(&self) -> Result<ResetReport, EndpointError> {
        let report = UserStore::new(self.dir.user())
            .factory_reset()
            .map_err(|e| EndpointError::Reset(e.to_string()))?;
        let trusted = self.dir.trusted();
        std::fs::create_dir_all(&trusted).map_err(|source| EndpointError::Io {
            path: trusted,
            source,
        })?;
        Ok(report)
    }

    /// What the device would use if booted now — identity, trust store,
    /// configuration and problems — without any network traffic.
    pub fn offline_status(&self) -> DeviceStatus {
        self.load(&mut |_| {}, false).status
    }

    /// Boot steps 1–4: factory identity, configuration, trust store and
    /// active identity, and (when `provision`) provisioning. Each step is
    /// passed to `observer` as it ends.
    pub fn prepare(&self, observer: &mut dyn FnMut(&BootStep)) -> Prepared {
        self.load(observer, true)
    }

    fn load(&self, observer: &mut dyn FnMut(&BootStep), provision: bool) -> Prepared {
        let started = Instant::now();
        let mut status = DeviceStatus {
            data_dir: self.dir.root().display().to_string(),
            ..DeviceStatus::default()
        };
        let mut step = |status: &mut DeviceStatus, name: &str, outcome: Outcome, detail: String| {
            let s = BootStep {
                step: name.to_owned(),
                outcome,
                detail,
                at_ms: started.elapsed().as_millis() as u64,
            };
            observer(&s);
            status.boot.push(s);
        };

        // 1. Factory identity (and the override, checked with it).
        let factory = FactoryPartition::new(self.dir.factory());
        let user = UserStore::new(self.dir.user());
        let identities = IdentitySet::load(&factory, &user);
        let id = identities.status().clone();
        let mac = identities.mac();
        match (&id.factory.state, &id.factory.certificate) {
            (SlotState::Installed, Some(cert)) => {
                let until = format!(", valid until {}", cert.not_after.date());
                let mac = mac
                    .map(|m| m.to_string())
                    .unwrap_or_else(|| "no MAC".into());
                let outcome = if id.factory.problem.is_some() {
                    Outcome::Warning
                } else {
                    Outcome::Ok
                };
                step(
                    &mut status,
                    "factory identity",
                    outcome,
                    format!("device {mac}, issued by {}{until}", cert.issuer),
                );
            }
            _ => {
                let why = id
                    .factory
                    .problem
                    .as_ref()
                    .map(|p| p.message.clone())
                    .unwrap_or_else(|| format!("{} is absent", id.factory.file));
                status.problems.push(format!("factory identity: {why}"));
                step(&mut status, "factory identity", Outcome::Warning, why);
            }
        }

        // 2. Configuration.
        let config_store = ConfigStore::new(self.dir.user());
        let loaded = config_store.load_last_good();
        status.configuration.exists = loaded.exists;
        status.configuration.source = loaded.source.to_string();
        status.configuration.warnings = loaded.warnings.iter().map(ToString::to_string).collect();
        let (outcome, detail) = match &loaded.source {
            ConfigSource::Defaults => (
                Outcome::Ok,
                "no configuration file yet: defaults".to_owned(),
            ),
            ConfigSource::Active => (
                Outcome::Ok,
                format!(
                    "{} ({} warning(s))",
                    config_store.path().display(),
                    loaded.warnings.len()
                ),
            ),
            damaged => {
                status
                    .problems
                    .push(format!("configuration: using {damaged}"));
                (Outcome::Warning, format!("using {damaged}"))
            }
        };
        step(&mut status, "configuration", outcome, detail);
        let mut settings = loaded.settings;
        status.configuration.file = config_store.path().display().to_string();

        // 3. Trust store and active identity.
        let vendor = self.dir.vendor_chain();
        let with_vendor = |b: sigil_trust::TrustStoreBuilder| {
            if vendor.is_file() {
                b.vendor_file(&vendor)
            } else {
                Ok(b)
            }
        };
        let builder = match with_vendor(TrustStore::builder()) {
            Ok(b) => b,
            Err(e) => {
                status.problems.push(format!("vendor chain: {e}"));
                TrustStore::builder()
            }
        };
        let builder = match builder.user_dir(&self.dir.trusted()) {
            Ok(b) => b,
            Err(e) => {
                status.problems.push(format!("certs/trusted: {e}"));
                with_vendor(TrustStore::builder()).unwrap_or_else(|_| TrustStore::builder())
            }
        };
        let store = Arc::new(builder.build());
        status.trust = trust_summary(&store);
        let t = &status.trust;
        let detail = format!(
            "{} built-in, {} vendor, {} uploaded anchor(s){}",
            t.builtin,
            t.vendor,
            t.user,
            if t.refused.is_empty() {
                String::new()
            } else {
                format!(", {} file(s) refused", t.refused.len())
            }
        );
        let outcome = if t.refused.is_empty() && t.problems.is_empty() {
            Outcome::Ok
        } else {
            Outcome::Warning
        };
        status.problems.extend(t.refused.iter().cloned());
        step(&mut status, "trust store", outcome, detail);
        let active = format!("{:?}", id.active).to_lowercase();
        let outcome = if id.client_auth {
            Outcome::Ok
        } else {
            Outcome::Warning
        };
        step(
            &mut status,
            "active identity",
            outcome,
            format!("{active}: {}", id.reason),
        );
        if !id.client_auth {
            status
                .problems
                .push("no usable client certificate: mutual TLS will fail".into());
        }
        status.identity = Some(id);

        // 4. Provisioning.
        if provision {
            if settings.prov_server.is_some() {
                let mac = mac.as_ref().map(mac_for_files);
                let (prov, new_settings) = crate::provision::provision(
                    &settings,
                    mac.as_deref(),
                    store.clone(),
                    identities.client_resolver(),
                    &config_store,
                );
                let (outcome, detail) = match (&new_settings, &prov.error) {
                    (Some(_), _) => (
                        Outcome::Ok,
                        format!(
                            "{} from {}; server {}; {} key(s) changed",
                            prov.result,
                            prov.url.clone().unwrap_or_default(),
                            prov.server.clone().unwrap_or_else(|| "-".into()),
                            prov.changes.len()
                        ),
                    ),
                    (None, Some(e)) => (Outcome::Warning, e.clone()),
                    (None, None) => (Outcome::Warning, prov.result.clone()),
                };
                if let Some(e) = &prov.error {
                    status.problems.push(format!("provisioning: {e}"));
                }
                status.provisioning = prov;
                if let Some(s) = new_settings {
                    settings = s;
                }
                step(&mut status, "provisioning", outcome, detail);
            } else {
                status.provisioning.result = "not configured".into();
                step(
                    &mut status,
                    "provisioning",
                    Outcome::Skipped,
                    "prov.server is not set".into(),
                );
            }
        }
        status.configuration = ConfigSummary {
            prov_server: settings.prov_server.as_ref().map(ToString::to_string),
            sip_proxy: settings.sip_proxy.as_ref().map(ToString::to_string),
            sip_transport: settings.sip_transport.as_str().to_owned(),
            sip_user: settings.sip_u1_user.clone(),
            sip_tls_validate: settings.sip_tls_validate,
            sip_tls_listen: settings.sip_tls_listen,
            srtp_offer: settings.sip_srtp_offer.as_str().to_owned(),
            ..status.configuration
        };
        if settings.sip_proxy.is_none() {
            status.problems.push("sip.proxy is not set".into());
        }
        Prepared {
            settings,
            identities,
            store,
            status,
            started,
            dir: self.dir.clone(),
        }
    }
}

fn trust_summary(store: &TrustStore) -> TrustSummary {
    let mut t = TrustSummary::default();
    for a in store.anchors() {
        match a.layer {
            Layer::BuiltIn => t.builtin += 1,
            Layer::Vendor => t.vendor += 1,
            Layer::User => t.user += 1,
        }
        for p in &a.problems {
            t.problems
                .push(format!("{} ({}): {p:?}", a.subject, a.source));
        }
    }
    t.refused = store
        .refused()
        .iter()
        .map(|r| format!("{}: {}", r.path, r.reason))
        .collect();
    t
}
