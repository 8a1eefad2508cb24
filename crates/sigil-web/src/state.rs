//! What the pages and the API share: the session check, and every action
//! (login, password change, status, uploads, settings, provisioning,
//! maintenance) as one function used by both. These functions block (files,
//! the device); the handlers run them on tokio's blocking threads.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use serde_json::{json, Value};
use sigil_identity::{ActiveIdentity, FactoryPartition, IdentitySet, SlotState, UserStore};
use sigil_provisioning::password::{check_password, DEFAULT_ADMIN_PASSWORD};
use sigil_provisioning::secret::{is_secret_key, MASK};
use sigil_provisioning::{ApplyError, ApplyOptions, ConfigStore, Settings};

use crate::auth::{same_token, RateLimit, Session, Sessions};
use crate::files::{self, FileResult, IdentityFile, Upload};
use crate::tls::WebCert;
use crate::{DeviceControl, WebConfig, FIELDS};

/// Shortest new admin password.
pub(crate) const MIN_PASSWORD: usize = 8;

/// Everything the handlers share.
pub(crate) struct AppState {
    pub(crate) config: WebConfig,
    pub(crate) device: Arc<dyn DeviceControl>,
    pub(crate) sessions: Mutex<Sessions>,
    pub(crate) limiter: Mutex<RateLimit>,
    pub(crate) cert: Arc<WebCert>,
    /// One change at a time (uploads, settings, password, maintenance).
    pub(crate) changes: Mutex<()>,
}

/// Why a request is not allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Denied {
    /// The admin password is still the built-in default (403).
    DefaultPassword,
    /// No valid session (401).
    NotLoggedIn,
    /// The CSRF token is missing or wrong (403).
    Csrf,
    /// The request came from another site (403).
    CrossOrigin,
}

impl Denied {
    pub(crate) fn status(self) -> StatusCode {
        match self {
            Denied::NotLoggedIn => StatusCode::UNAUTHORIZED,
            _ => StatusCode::FORBIDDEN,
        }
    }

    pub(crate) fn message(self) -> &'static str {
        match self {
            Denied::DefaultPassword => "change the default password: the device still has its built-in admin password; log in and change it first (POST /api/password)",
            Denied::NotLoggedIn => "log in first (POST /api/login); the session may have expired",
            Denied::Csrf => "missing or wrong CSRF token: send the token login returned (X-CSRF-Token header, or the form's hidden field)",
            Denied::CrossOrigin => "refused: the request comes from another site (Origin header)",
        }
    }
}

/// A logged-in request.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub(crate) id: String,
    pub(crate) session: Session,
}

/// An error for the API and the pages: a status and the reasons.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub(crate) status: StatusCode,
    pub(crate) error: String,
    pub(crate) reasons: Vec<String>,
}

impl Failure {
    pub(crate) fn new(status: StatusCode, error: impl Into<String>) -> Failure {
        Failure {
            status,
            error: error.into(),
            reasons: Vec::new(),
        }
    }
}

impl From<Denied> for Failure {
    fn from(d: Denied) -> Failure {
        Failure::new(d.status(), d.message())
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The session id from the `Cookie` header.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == crate::SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
}

impl AppState {
    pub(crate) fn config_store(&self) -> ConfigStore {
        ConfigStore::new(self.config.data_dir.user())
    }

    /// The settings in use (the last good configuration).
    pub(crate) fn settings(&self) -> Settings {
        self.config_store().load_last_good().settings
    }

    /// Refuses a change sent from another site: when the browser says where
    /// the request comes from (`Origin`), it must be this device.
    pub(crate) fn same_origin(&self, headers: &HeaderMap) -> Result<(), Denied> {
        let Some(origin) = headers.get(axum::http::header::ORIGIN) else {
            return Ok(());
        };
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        match origin.to_str() {
            Ok(o) if !host.is_empty() && o == format!("https://{host}") => Ok(()),
            _ => Err(Denied::CrossOrigin),
        }
    }

    /// The session of this request, if any (touching it).
    pub(crate) fn session(&self, headers: &HeaderMap) -> Option<Ctx> {
        let id = session_cookie(headers)?;
        let session = lock(&self.sessions).touch(&id, Instant::now())?;
        Some(Ctx { id, session })
    }

    /// The gate of every page and API call but login and password change.
    /// `csrf`: `Some(token)` for a change (the header or form field sent,
    /// perhaps empty), `None` for a read.
    pub(crate) fn authorize(&self, headers: &HeaderMap, csrf: Option<&str>) -> Result<Ctx, Denied> {
        if csrf.is_some() {
            self.same_origin(headers)?;
        }
        if self.settings().admin_password.is_default() {
            return Err(Denied::DefaultPassword);
        }
        let ctx = self.session(headers).ok_or(Denied::NotLoggedIn)?;
        if ctx.session.must_change {
            return Err(Denied::DefaultPassword);
        }
        if let Some(token) = csrf {
            if !same_token(token, &ctx.session.csrf) {
                return Err(Denied::Csrf);
            }
        }
        Ok(ctx)
    }

    /// The gate of the password change: a session (even one that must
    /// change the password) and its CSRF token.
    pub(crate) fn authorize_password_change(
        &self,
        headers: &HeaderMap,
        csrf: &str,
    ) -> Result<Ctx, Denied> {
        self.same_origin(headers)?;
        let ctx = self.session(headers).ok_or(Denied::NotLoggedIn)?;
        if !same_token(csrf, &ctx.session.csrf) {
            return Err(Denied::Csrf);
        }
        Ok(ctx)
    }

    /// Login: `(session id, csrf token, must change the password)`.
    pub(crate) fn login(
        &self,
        source: IpAddr,
        password: &str,
    ) -> Result<(String, String, bool), Failure> {
        let now = Instant::now();
        if let Err(wait) = lock(&self.limiter).check(source, now) {
            return Err(rate_limited(wait));
        }
        let stored = self.settings().admin_password;
        if !stored.verify(password) {
            lock(&self.limiter).failed(source, now);
            log::warn!("web: wrong admin password from {source}");
            return Err(Failure::new(StatusCode::UNAUTHORIZED, "wrong password"));
        }
        lock(&self.limiter).succeeded(source);
        let must_change = stored.is_default() || password == DEFAULT_ADMIN_PASSWORD;
        let (id, csrf) = lock(&self.sessions)
            .create(must_change, now)
            .map_err(|e| Failure::new(StatusCode::INTERNAL_SERVER_ERROR, e))?;
        log::info!("web: admin logged in from {source}");
        Ok((id, csrf, must_change))
    }

    /// Logout.
    pub(crate) fn logout(&self, headers: &HeaderMap) {
        if let Some(id) = session_cookie(headers) {
            lock(&self.sessions).remove(&id);
        }
    }

    /// Changes the admin password (SPEC W2) through the atomic apply, which
    /// stores only its hash. Other sessions end.
    pub(crate) fn change_password(
        &self,
        ctx: &Ctx,
        source: IpAddr,
        old: &str,
        new: &str,
    ) -> Result<(), Failure> {
        let _guard = lock(&self.changes);
        let now = Instant::now();
        if let Err(wait) = lock(&self.limiter).check(source, now) {
            return Err(rate_limited(wait));
        }
        if !self.settings().admin_password.verify(old) {
            lock(&self.limiter).failed(source, now);
            return Err(Failure::new(
                StatusCode::FORBIDDEN,
                "the current password is wrong",
            ));
        }
        let mut reasons = Vec::new();
        if let Err(e) = check_password(new) {
            reasons.push(e);
        } else {
            if new.chars().count() < MIN_PASSWORD {
                reasons.push(format!(
                    "the new password needs at least {MIN_PASSWORD} characters"
                ));
            }
            if new == DEFAULT_ADMIN_PASSWORD {
                reasons.push("the new password cannot be the default password".to_owned());
            }
            if new == old {
                reasons.push("the new password must differ from the current one".to_owned());
            }
            if new.trim() != new {
                reasons.push("the new password cannot start or end with a blank".to_owned());
            }
        }
        if !reasons.is_empty() {
            return Err(Failure {
                status: StatusCode::BAD_REQUEST,
                error: "the new password is refused".to_owned(),
                reasons,
            });
        }
        let doc = format!(
            "{} = {new}\n",
            sigil_provisioning::settings::keys::ADMIN_PASSWORD
        );
        self.config_store()
            .apply("web interface", doc.as_bytes(), ApplyOptions::default())
            .map_err(|e| apply_failure(&e))?;
        lock(&self.sessions).password_changed(&ctx.id);
        log::info!("web: admin password changed (stored as an Argon2id hash)");
        Ok(())
    }

    /// The identities as they are on disk now.
    pub(crate) fn identities(&self) -> IdentitySet {
        let data = &self.config.data_dir;
        IdentitySet::load(
            &FactoryPartition::new(data.factory()),
            &UserStore::new(data.user()),
        )
    }

    /// The Status / About data (`GET /api/status`).
    pub(crate) fn status(&self) -> Value {
        let identities = self.identities();
        let id = identities.status();
        let store = files::trust_store(&self.config.data_dir);
        let device = self.device.status();
        let mut builtin = 0;
        let mut vendor = 0;
        let mut user = 0;
        let mut problems = Vec::new();
        for a in store.anchors() {
            match a.layer {
                sigil_trust::Layer::BuiltIn => builtin += 1,
                sigil_trust::Layer::Vendor => vendor += 1,
                sigil_trust::Layer::User => user += 1,
            }
            for p in &a.problems {
                problems.push(format!("{} ({}): {p}", a.subject, file_name(&a.source)));
            }
        }
        let refused: Vec<String> = store
            .refused()
            .iter()
            .map(|r| format!("{}: {}", file_name(&r.path), r.reason))
            .collect();
        let factory = &id.factory;
        let manufacturer = json!({
            "state": match factory.state { SlotState::Installed => "installed", SlotState::Absent => "absent", SlotState::Rejected => "rejected" },
            "subject": factory.certificate.as_ref().map(|c| c.subject.clone()),
            "mac": factory.certificate.as_ref().and_then(|c| c.mac).map(|m| m.to_string()),
            "issuer": factory.certificate.as_ref().map(|c| c.issuer.clone()),
            "not_before": factory.certificate.as_ref().map(|c| rfc3339(c.not_before)),
            "not_after": factory.certificate.as_ref().map(|c| rfc3339(c.not_after)),
            "sha256": factory.certificate.as_ref().map(|c| c.fingerprint_sha256.clone()),
            "problem": factory.problem.as_ref().map(|p| p.message.clone()),
        });
        json!({
            "mac": identities.mac().map(|m| m.to_string()),
            "model": self.config.model,
            "firmware": self.config.firmware,
            "identity": match id.active { ActiveIdentity::Override => "override", ActiveIdentity::Factory => "factory", ActiveIdentity::None => "none" },
            "identity_reason": id.reason,
            "manufacturer_certificate": manufacturer,
            "override": slot_json(&id.sipclient),
            "httpd": {
                "file": slot_json(&id.httpd),
                "served_sha256": self.cert.fingerprint(),
                "problem": self.cert.problem(),
            },
            "trust": {
                "builtin": builtin,
                "vendor": vendor,
                "user": user,
                "refused": refused,
                "problems": problems,
            },
            "registration": device.registration,
            "connections": device.connections,
            "calls": device.calls,
            "listener": device.listener,
            "provisioning": device.provisioning,
            "boot": device.boot,
            "problems": device.problems,
        })
    }

    /// `GET /api/certs/trusted`: the files of `certs/trusted/` and `certs/`.
    pub(crate) fn certificates(&self) -> Value {
        let data = &self.config.data_dir;
        let store = files::trust_store(data);
        let identities = self.identities();
        json!({
            "trusted": files::list_trusted(data, &store),
            "certs": files::list_certs(data, identities.status()),
        })
    }

    /// Uploads into `certs/trusted/`: one result per file; the good ones are installed.
    pub(crate) fn upload_trusted(&self, uploads: &[Upload]) -> Vec<FileResult> {
        let _guard = lock(&self.changes);
        uploads
            .iter()
            .map(|u| files::install_trusted(&self.config.data_dir, u))
            .collect()
    }

    /// Deletes `certs/trusted/<id>`.
    pub(crate) fn delete_trusted(&self, id: &str) -> Result<String, Failure> {
        let _guard = lock(&self.changes);
        files::delete_trusted(&self.config.data_dir, id)
            .map_err(|e| Failure::new(StatusCode::NOT_FOUND, e))
    }

    /// Installs `sipclient.pem` (then restarts the SIP stack so it is used)
    /// or `httpd.pem` (served from the next connection on).
    pub(crate) fn upload_identity(
        &self,
        which: IdentityFile,
        upload: &Upload,
    ) -> Result<Value, Failure> {
        let _guard = lock(&self.changes);
        let identity = files::install_identity(&self.config.data_dir, which, upload)
            .map_err(|reason| Failure::new(StatusCode::BAD_REQUEST, reason))?;
        let info = identity.certificate();
        let mut answer = json!({
            "name": files::printable(&upload.name),
            "accepted": true,
            "reason": Value::Null,
            "installed_as": format!("certs/{}", which.file_name()),
            "subject": info.subject,
            "sha256": info.fingerprint_sha256,
            "not_after": rfc3339(info.not_after),
        });
        match which {
            IdentityFile::Httpd => {
                self.cert.set(&identity);
                answer["note"] = json!("served from the next connection on");
            }
            IdentityFile::SipClient => {
                let restart = self.device.restart();
                answer["restart"] = restart_json(&restart);
                let status = self.identities();
                answer["identity"] = json!(match status.status().active {
                    ActiveIdentity::Override => "override",
                    ActiveIdentity::Factory => "factory",
                    ActiveIdentity::None => "none",
                });
                answer["identity_reason"] = json!(status.status().reason);
            }
        }
        Ok(answer)
    }

    /// Removes the override and restarts the SIP stack on the factory identity.
    pub(crate) fn delete_override(&self) -> Result<Value, Failure> {
        let _guard = lock(&self.changes);
        let removed = files::delete_override(&self.config.data_dir)
            .map_err(|e| Failure::new(StatusCode::INTERNAL_SERVER_ERROR, e))?;
        if !removed {
            return Err(Failure::new(
                StatusCode::NOT_FOUND,
                "there is no certs/sipclient.pem",
            ));
        }
        let restart = self.device.restart();
        Ok(json!({"removed": "certs/sipclient.pem", "restart": restart_json(&restart)}))
    }

    /// `GET /api/settings`: every editable setting, secrets as `********` (or empty when unset).
    pub(crate) fn settings_json(&self) -> Value {
        let settings = self.settings();
        let mut map = serde_json::Map::new();
        for field in FIELDS {
            map.insert(
                field.key.to_owned(),
                Value::String(shown_value(&settings, field.key)),
            );
        }
        Value::Object(map)
    }

    /// Applies settings changes atomically through the provisioning code;
    /// restarts the SIP stack when a `sip.*` key changed.
    pub(crate) fn apply_settings(&self, pairs: &[(String, String)]) -> Result<Value, Failure> {
        let _guard = lock(&self.changes);
        let doc = crate::form::settings_document(pairs).map_err(|reasons| Failure {
            status: StatusCode::BAD_REQUEST,
            error: "settings refused, nothing changed".to_owned(),
            reasons,
        })?;
        let report = self
            .config_store()
            .apply("web interface", doc.as_bytes(), ApplyOptions::default())
            .map_err(|e| apply_failure(&e))?;
        let changes: Vec<String> = report.changes.iter().map(ToString::to_string).collect();
        let warnings: Vec<String> = report.warnings.iter().map(|w| w.message.clone()).collect();
        let mut answer = json!({
            "applied": true,
            "changes": changes,
            "warnings": warnings,
            "restart": Value::Null,
        });
        if report.changes.iter().any(|c| c.key.starts_with("sip.")) {
            answer["restart"] = restart_json(&self.device.restart());
        }
        Ok(answer)
    }

    /// Provisioning now.
    pub(crate) fn provision(&self) -> Value {
        let _guard = lock(&self.changes);
        let status = self.device.provision();
        json!(status)
    }

    /// Restarts the SIP stack.
    pub(crate) fn restart(&self) -> Value {
        let _guard = lock(&self.changes);
        restart_json(&self.device.restart())
    }

    /// Factory reset: the device wipes the user store; the web certificate
    /// is made anew (served from the next connection on) and every session ends.
    pub(crate) fn factory_reset(&self) -> Result<Value, Failure> {
        let _guard = lock(&self.changes);
        let removed = self
            .device
            .factory_reset()
            .map_err(|e| Failure::new(StatusCode::INTERNAL_SERVER_ERROR, e))?;
        lock(&self.sessions).clear();
        let cert = match self.cert.reload(&self.config) {
            Ok(()) => {
                json!({"sha256": self.cert.fingerprint(), "note": "a new self-signed web certificate is served from the next connection on"})
            }
            Err(e) => json!({"error": e.to_string()}),
        };
        log::warn!("web: factory reset done");
        Ok(json!({
            "reset": true,
            "removed": removed,
            "web_certificate": cert,
            "admin_password": "back to the default: log in with it and change it",
        }))
    }
}

fn rate_limited(wait: Duration) -> Failure {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    Failure {
        status: StatusCode::TOO_MANY_REQUESTS,
        error: format!("too many wrong passwords from this address: try again in {secs} s"),
        reasons: vec![format!("retry_after={secs}")],
    }
}

fn apply_failure(e: &ApplyError) -> Failure {
    match e {
        ApplyError::Invalid(errors) => Failure {
            status: StatusCode::BAD_REQUEST,
            error: "settings refused, nothing changed".to_owned(),
            reasons: errors.iter().map(|e| e.message.clone()).collect(),
        },
        other => Failure::new(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
    }
}

fn restart_json(r: &Result<String, String>) -> Value {
    match r {
        Ok(summary) => json!({"ok": true, "detail": summary}),
        Err(why) => json!({"ok": false, "detail": why}),
    }
}

/// The value of a setting as it may be sent to the browser.
pub(crate) fn shown_value(settings: &Settings, key: &str) -> String {
    let value = settings
        .get(key)
        .map(|v| v.as_str().to_owned())
        .unwrap_or_default();
    if is_secret_key(key) && !value.is_empty() {
        MASK.to_owned()
    } else {
        value
    }
}

pub(crate) fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// The last part of a path, for messages.
pub(crate) fn file_name(path: &str) -> String {
    std::path::Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_owned())
}

fn slot_json(slot: &sigil_identity::SlotStatus) -> Value {
    json!({
        "state": format!("{:?}", slot.state).to_lowercase(),
        "subject": slot.certificate.as_ref().map(|c| c.subject.clone()),
        "issuer": slot.certificate.as_ref().map(|c| c.issuer.clone()),
        "not_before": slot.certificate.as_ref().map(|c| rfc3339(c.not_before)),
        "not_after": slot.certificate.as_ref().map(|c| rfc3339(c.not_after)),
        "sha256": slot.certificate.as_ref().map(|c| c.fingerprint_sha256.clone()),
        "problem": slot.problem.as_ref().map(|p| p.message.clone()),
    })
}
