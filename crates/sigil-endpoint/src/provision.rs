//! Provisioning at boot: fetch the device's configuration file with
//! [`sigil_provisioning::download`] (HTTPS with mutual TLS: the device
//! identity as client certificate, the server checked against the trust store
//! unless `prov.download.cert = 0`; per-device file, then the generic one) and
//! apply it atomically. A failure changes nothing: the device runs on its last
//! good configuration (SPEC P2–P6, E2).

use std::sync::Arc;

use rustls::client::ResolvesClientCert;
use sigil_provisioning::download::{
    fetch_and_apply, ChannelSecurity, DownloadOptions, HttpsClient, SearchPlan,
};
use sigil_provisioning::{ConfigStore, Settings};
use sigil_trust::{TrustStore, Verification};

use crate::status::ProvisioningStatus;

/// Runs provisioning: tries the per-device file then the generic file under
/// `prov.server`, applies the first one found. Returns the status and the
/// settings now in effect (`None`: unchanged, keep the current ones).
pub fn provision(
    settings: &Settings,
    mac: Option<&str>,
    store: Arc<TrustStore>,
    identity: Arc<dyn ResolvesClientCert>,
    config_store: &ConfigStore,
) -> (ProvisioningStatus, Option<Settings>) {
    let mut status = ProvisioningStatus {
        result: "not configured".into(),
        ..ProvisioningStatus::default()
    };
    if settings.prov_server.is_none() {
        return (status, None);
    }
    let fail = |mut status: ProvisioningStatus, error: String| {
        status.result = "failed".into();
        status.error = Some(format!("{error}; keeping the last good configuration"));
        (status, None)
    };
    let plan = match SearchPlan::new(settings, None, mac, None) {
        Ok(p) => p,
        Err(e) => return fail(status, e.to_string()),
    };
    status.url = plan.urls().first().cloned();
    let client = match HttpsClient::new(store, settings.prov_download_cert, Some(identity)) {
        Ok(c) => c,
        Err(e) => return fail(status, e.to_string()),
    };
    match fetch_and_apply(
        config_store,
        &plan,
        Some(&client),
        &DownloadOptions::default(),
    ) {
        Ok(done) => {
            status.url = Some(done.fetched.url.clone());
            status.server = Some(security(&done.fetched.security));
            status.result = if done.report.written {
                "applied"
            } else {
                "unchanged"
            }
            .into();
            status.changes = done
                .report
                .changes
                .iter()
                .map(ToString::to_string)
                .collect();
            (status, Some(done.report.settings))
        }
        Err(e) => fail(status, e.to_string()),
    }
}

/// One line for the channel of a download: `verified: … (TLSv1_3, …)`,
/// `encrypted, server not verified (…)` or `not encrypted`.
pub fn security(channel: &ChannelSecurity) -> String {
    match channel {
        ChannelSecurity::Encrypted {
            version,
            suite,
            verification: Some(v),
        } => format!("{} ({version}, {suite})", describe(v)),
        other => other.status().to_owned(),
    }
}

/// One line for a server check: `verified (CN=…, anchor vendor)` or `encrypted, server not verified`.
pub fn describe(v: &Verification) -> String {
    match v {
        Verification::Verified(ok) => format!(
            "verified: {} matched {} (anchor: {} layer)",
            ok.subject, ok.matched, ok.anchor_layer
        ),
        other => other.status().to_owned(),
    }
}
