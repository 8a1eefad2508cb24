//! The identities a device has, which one is in use, and why (SPEC ID2, ID3).

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use time::OffsetDateTime;

use crate::cert::{format_time, CertInfo, Validity};
use crate::error::IdentityError;
use crate::identity::{Identity, Purpose};
use crate::resolver::ClientCertResolver;
use crate::store::{FactoryPartition, UserStore};

/// Which identity the device presents as a TLS client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActiveIdentity {
    /// `certs/sipclient.pem` (LDevID).
    Override,
    /// The factory certificate (IDevID).
    Factory,
    /// None: TLS works, but without client authentication.
    None,
}

/// State of one identity file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotState {
    /// Present and loaded (see `problem` for warnings such as an expired factory certificate).
    Installed,
    /// The file does not exist.
    Absent,
    /// Present but not usable; `problem` says why.
    Rejected,
}

/// A problem with an identity file: a stable code plus a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Machine-readable code, see [`IdentityError::code`].
    pub code: &'static str,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl From<&IdentityError> for Problem {
    fn from(error: &IdentityError) -> Self {
        Problem {
            code: error.code(),
            message: error.to_string(),
        }
    }
}

/// Status of one identity file (factory certificate, `sipclient.pem`, `httpd.pem`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlotStatus {
    /// The file looked at.
    pub file: String,
    /// Installed, absent or rejected.
    pub state: SlotState,
    /// The leaf certificate, when one could be read.
    pub certificate: Option<CertInfo>,
    /// The chain certificates after the leaf.
    pub chain: Vec<CertInfo>,
    /// Validity of the leaf at the time of the check.
    pub validity: Option<Validity>,
    /// Why it is rejected, or a warning for an installed file.
    pub problem: Option<Problem>,
}

impl SlotStatus {
    fn absent(file: String) -> Self {
        SlotStatus {
            file,
            state: SlotState::Absent,
            certificate: None,
            chain: Vec::new(),
            validity: None,
            problem: None,
        }
    }

    fn rejected(
        file: String,
        identity: Option<&Identity>,
        error: &IdentityError,
        now: OffsetDateTime,
    ) -> Self {
        SlotStatus {
            file,
            state: SlotState::Rejected,
            certificate: identity.map(|i| i.certificate().clone()),
            chain: identity
                .map(|i| i.chain_info().to_vec())
                .unwrap_or_default(),
            validity: identity.map(|i| i.certificate().validity_at(now)),
            problem: Some(error.into()),
        }
    }

    fn installed(
        file: String,
        identity: &Identity,
        warning: Option<&IdentityError>,
        now: OffsetDateTime,
    ) -> Self {
        SlotStatus {
            file,
            state: SlotState::Installed,
            certificate: Some(identity.certificate().clone()),
            chain: identity.chain_info().to_vec(),
            validity: Some(identity.certificate().validity_at(now)),
            problem: warning.map(Problem::from),
        }
    }
}

/// The device's identity status ("About" page, `sigil identity show`): whether
/// a manufacturer certificate is installed and its subject, MAC, issuer,
/// validity and fingerprint; the override and web certificate; which identity
/// is in use and why. Serialises to JSON with serde.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdentityStatus {
    /// The factory certificate (`device.pem` on the factory partition).
    pub factory: SlotStatus,
    /// The override, `certs/sipclient.pem`.
    pub sipclient: SlotStatus,
    /// The web interface certificate, `certs/httpd.pem` (only inspected here;
    /// see [`UserStore::web_identity`] for generating one).
    pub httpd: SlotStatus,
    /// The identity presented as TLS client.
    pub active: ActiveIdentity,
    /// Why that one, in one sentence.
    pub reason: String,
    /// Whether the device can authenticate as a TLS client at all.
    pub client_auth: bool,
    /// The device clock at the time of the check (RFC 3339).
    pub checked_at: String,
}

/// Every identity of a device, loaded and checked: the factory identity, the
/// override and the choice between them. Loading never fails: problems are
/// recorded in [`IdentitySet::status`] and a broken override falls back to the
/// factory identity.
#[derive(Debug, Clone)]
pub struct IdentitySet {
    factory: Option<Identity>,
    override_identity: Option<Identity>,
    status: IdentityStatus,
}

impl IdentitySet {
    /// Loads the identities with the system clock.
    pub fn load(factory: &FactoryPartition, user: &UserStore) -> IdentitySet {
        IdentitySet::load_at(factory, user, OffsetDateTime::now_utc())
    }

    /// Loads the identities, judging validity at `now`.
    ///
    /// - The factory identity is used whenever it loads with a matching key,
    ///   even outside its validity period (a device clock before NTP is often
    ///   wrong; the server decides) — that is reported as a warning.
    /// - The override is used only when it loads with a matching key, is valid
    ///   at `now` and allows clientAuth; otherwise it is rejected with the reason.
    pub fn load_at(
        factory: &FactoryPartition,
        user: &UserStore,
        now: OffsetDateTime,
    ) -> IdentitySet {
        let factory_file = factory.cert_path().display().to_string();
        let (factory_identity, factory_status) = match factory.load() {
            Ok(None) => (None, SlotStatus::absent(factory_file)),
            Ok(Some(identity)) => {
                let warning = identity.check_usable(now, Purpose::ClientAuth).err();
                if let Some(warning) = &warning {
                    log::warn!("factory certificate: {warning}");
                }
                let status = SlotStatus::installed(factory_file, &identity, warning.as_ref(), now);
                (Some(identity), status)
            }
            Err(error) => {
                log::error!("factory certificate unusable: {error}");
                (None, SlotStatus::rejected(factory_file, None, &error, now))
            }
        };

        let override_file = user.sipclient_path().display().to_string();
        let (override_identity, override_status) = match user.load_override() {
            Ok(None) => (None, SlotStatus::absent(override_file)),
            Ok(Some(identity)) => match identity.check_usable(now, Purpose::ClientAuth) {
                Ok(()) => {
                    let status = SlotStatus::installed(override_file, &identity, None, now);
                    (Some(identity), status)
                }
                Err(error) => {
                    log::warn!("certs/sipclient.pem not used: {error}");
                    (
                        None,
                        SlotStatus::rejected(override_file, Some(&identity), &error, now),
                    )
                }
            },
            Err(error) => {
                log::warn!("certs/sipclient.pem not used: {error}");
                (None, SlotStatus::rejected(override_file, None, &error, now))
            }
        };

        let httpd_file = user.httpd_path().display().to_string();
        let httpd_status = match crate::store::read_limited(&user.httpd_path()).and_then(|pem| {
            pem.map(|pem| Identity::from_pem(&pem, None, &httpd_file))
                .transpose()
        }) {
            Ok(None) => SlotStatus::absent(httpd_file),
            Ok(Some(identity)) => match identity.check_purpose(Purpose::ServerAuth) {
                Ok(()) => {
                    let warning = identity.check_validity(now).err();
                    SlotStatus::installed(httpd_file, &identity, warning.as_ref(), now)
                }
                Err(error) => SlotStatus::rejected(httpd_file, Some(&identity), &error, now),
            },
            Err(error) => SlotStatus::rejected(httpd_file, None, &error, now),
        };

        let (active, reason) = choose(
            &factory_status,
            &override_status,
            override_identity.is_some(),
            factory_identity.is_some(),
        );
        log::info!("identity in use: {reason}");
        IdentitySet {
            status: IdentityStatus {
                factory: factory_status,
                sipclient: override_status,
                httpd: httpd_status,
                active,
                reason,
                client_auth: active != ActiveIdentity::None,
                checked_at: format_time(now),
            },
            factory: factory_identity,
            override_identity,
        }
    }

    /// The identity presented as TLS client: the valid override, else the factory identity.
    pub fn active(&self) -> Option<&Identity> {
        self.override_identity.as_ref().or(self.factory.as_ref())
    }

    /// The factory identity, when installed and loadable.
    pub fn factory(&self) -> Option<&Identity> {
        self.factory.as_ref()
    }

    /// The override identity, when present and valid.
    pub fn override_identity(&self) -> Option<&Identity> {
        self.override_identity.as_ref()
    }

    /// The device MAC from the factory certificate (for per-device file names
    /// and the web certificate's CN); `None` without a factory identity.
    pub fn mac(&self) -> Option<crate::Mac> {
        self.factory.as_ref().and_then(|f| f.certificate().mac)
    }

    /// The status report.
    pub fn status(&self) -> &IdentityStatus {
        &self.status
    }

    /// A rustls client-certificate resolver offering the override first and
    /// the factory identity second, steered by the server's acceptable-CA list
    /// (SPEC ID5). Use with `ClientConfig::builder()…with_client_cert_resolver(…)`.
    pub fn client_resolver(&self) -> Arc<ClientCertResolver> {
        Arc::new(ClientCertResolver::new(
            self.override_identity
                .iter()
                .chain(self.factory.iter())
                .cloned(),
        ))
    }
}

fn choose(
    factory: &SlotStatus,
    sipclient: &SlotStatus,
    override_ok: bool,
    factory_ok: bool,
) -> (ActiveIdentity, String) {
    let override_note = match (&sipclient.state, &sipclient.problem) {
        (SlotState::Rejected, Some(problem)) => {
            format!("certs/sipclient.pem is not used: {}", problem.message)
        }
        _ => "no certs/sipclient.pem is installed".to_owned(),
    };
    if override_ok {
        return (
            ActiveIdentity::Override,
            "certs/sipclient.pem is installed and valid, so it replaces the factory certificate"
                .to_owned(),
        );
    }
    if factory_ok {
        let warning = factory
            .problem
            .as_ref()
            .map(|p| format!(" (warning: {})", p.message))
            .unwrap_or_default();
        return (
            ActiveIdentity::Factory,
            format!("factory certificate; {override_note}{warning}"),
        );
    }
    let factory_note = match &factory.problem {
        Some(problem) => format!("the factory certificate is unusable: {}", problem.message),
        None => "no manufacturer certificate is installed".to_owned(),
    };
    (
        ActiveIdentity::None,
        format!(
            "none: {factory_note}; {override_note}. TLS still works, without client authentication \
             (servers that require a client certificate will refuse the device)"
        ),
    )
}

impl fmt::Display for IdentityStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let installed = match self.factory.state {
            SlotState::Installed => "installed",
            SlotState::Absent => "not installed",
            SlotState::Rejected => "installed but unusable",
        };
        writeln!(
            f,
            "Manufacturer certificate: {installed} ({})",
            self.factory.file
        )?;
        write_slot(f, &self.factory)?;
        let override_state = match self.sipclient.state {
            SlotState::Installed => "installed, in use",
            SlotState::Absent => "absent",
            SlotState::Rejected => "present but NOT USED",
        };
        writeln!(
            f,
            "Override certificate: {override_state} ({})",
            self.sipclient.file
        )?;
        write_slot(f, &self.sipclient)?;
        let (web_state, web_note) = match self.httpd.state {
            SlotState::Installed => ("installed", ""),
            SlotState::Absent => (
                "absent",
                "; a self-signed one is made when the web interface first starts",
            ),
            SlotState::Rejected => ("present but unusable", ""),
        };
        writeln!(
            f,
            "Web certificate: {web_state} ({}){web_note}",
            self.httpd.file
        )?;
        write_slot(f, &self.httpd)?;
        let active = match self.active {
            ActiveIdentity::Override => "override (certs/sipclient.pem)",
            ActiveIdentity::Factory => "factory certificate",
            ActiveIdentity::None => "none (no client authentication)",
        };
        writeln!(f, "Identity in use: {active}")?;
        writeln!(f, "  Why:         {}", self.reason)?;
        writeln!(f, "Checked at:    {}", self.checked_at)
    }
}

fn write_slot(f: &mut fmt::Formatter<'_>, slot: &SlotStatus) -> fmt::Result {
    if let Some(cert) = &slot.certificate {
        let mac = cert
            .mac
            .map(|m| m.to_string())
            .unwrap_or_else(|| "(none in subject)".to_owned());
        writeln!(f, "  MAC:         {mac}")?;
        writeln!(f, "  Subject:     {}", cert.subject)?;
        writeln!(f, "  Issuer:      {}", cert.issuer)?;
        let validity = match slot.validity {
            Some(Validity::Valid) | None => "",
            Some(Validity::Expired) => " (EXPIRED)",
            Some(Validity::NotYetValid) => " (NOT YET VALID)",
        };
        writeln!(
            f,
            "  Valid:       {} to {}{validity}",
            format_time(cert.not_before),
            format_time(cert.not_after)
        )?;
        writeln!(f, "  SHA-256:     {}", cert.fingerprint_sha256)?;
        writeln!(f, "  Key:         {}", cert.key)?;
        for ca in &slot.chain {
            writeln!(f, "  Chain:       {}", ca.subject)?;
        }
    }
    if let Some(problem) = &slot.problem {
        let label = if slot.state == SlotState::Rejected {
            "Problem"
        } else {
            "Warning"
        };
        writeln!(
            f,
            "  {label}:{:width$}{} [{}]",
            "",
            problem.message,
            problem.code,
            width = 12 - label.len()
        )?;
    }
    Ok(())
}
