//! `sigil prov`: check configuration files and fetch them from a provisioning server.

use std::path::PathBuf;
use std::process::ExitCode;

use std::sync::Arc;

use serde_json::json;
use sigil_identity::{FactoryPartition, IdentitySet, UserStore};
use sigil_provisioning::apply::{ApplyError, ConfigStore};
use sigil_provisioning::download::{
    fetch_and_apply, ChannelSecurity, DownloadError, DownloadOptions, HttpsClient, Md5Check,
    ProvisionError, Provisioned, SearchPlan,
};
use sigil_provisioning::format::{LocatedError, Warning};
use sigil_provisioning::secret::display_value;
use sigil_provisioning::values::ProvServer;
use sigil_provisioning::Settings;
use sigil_trust::TrustStore;

/// Provisioning commands.
#[derive(Debug, clap::Subcommand)]
pub enum Cmd {
    /// Check a configuration file: syntax, every value, the cross-field rules.
    ///
    /// Exit 0 with a summary (keys, unknown keys as warnings), or exit 1 with
    /// every error as `FILE:LINE:COL: message`. Secrets are masked.
    Check {
        /// The configuration file.
        file: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Download the configuration from the provisioning server and apply it atomically.
    ///
    /// Looks for the per-device file (MAC), then the model file, then the
    /// generic file (404 moves on; any other failure stops). https verifies
    /// the server against the trust store (built-in roots, FACTORY/vendor-chain.pem,
    /// USER/certs/trusted/) unless `prov.download.cert = 0`, and presents the
    /// device identity (USER/certs/sipclient.pem, else FACTORY/device.pem) when
    /// asked. Prints the URL used, whether the server was verified, and the
    /// changed keys (secrets masked). Exit 0 on success; exit 1 on any failure,
    /// with the diagnosis, and then the configuration is untouched.
    Fetch(FetchArgs),
}

/// Runs a `sigil prov` command.
pub fn run(cmd: Cmd) -> anyhow::Result<ExitCode> {
    match cmd {
        Cmd::Check { file, json } => check(file, json),
        Cmd::Fetch(args) => fetch(args),
    }
}

fn error_json(e: &LocatedError) -> serde_json::Value {
    json!({"file": e.file, "line": e.line, "col": e.col, "message": e.message, "text": e.text})
}

fn warning_json(w: &Warning) -> serde_json::Value {
    json!({"file": w.file, "line": w.line, "message": w.message})
}

fn print_errors(errors: &[LocatedError]) {
    for e in errors {
        println!("{e}");
        if !e.text.is_empty() {
            println!("    | {}", e.text);
        }
    }
}

fn check(file: PathBuf, json: bool) -> anyhow::Result<ExitCode> {
    let name = file.display().to_string();
    let result = match std::fs::read(&file) {
        Ok(bytes) => Settings::parse(&name, &bytes),
        Err(e) => Err(vec![LocatedError {
            file: name.clone(),
            line: 0,
            col: 0,
            message: format!("cannot read the file: {e}"),
            text: String::new(),
        }]),
    };
    match result {
        Ok(parsed) => {
            let unknown: Vec<&str> = parsed
                .settings
                .unknown
                .iter()
                .map(|u| u.key.as_str())
                .collect();
            if json {
                let values: serde_json::Map<String, serde_json::Value> = parsed
                    .settings
                    .to_pairs()
                    .iter()
                    .map(|(k, v)| (k.clone(), json!(display_value(k, v))))
                    .collect();
                let out = json!({
                    "file": name,
                    "ok": true,
                    "keys": parsed.keys,
                    "known_keys": parsed.known_keys,
                    "unknown_keys": unknown,
                    "warnings": parsed.warnings.iter().map(warning_json).collect::<Vec<_>>(),
                    "errors": [],
                    "settings": values,
                });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!(
                    "{name}: OK: {} key(s), {} known, {} unknown",
                    parsed.keys,
                    parsed.known_keys.len(),
                    unknown.len()
                );
                for warning in &parsed.warnings {
                    println!("{warning}");
                }
                let s = &parsed.settings;
                println!(
                    "  provisioning: {}",
                    match &s.prov_server {
                        Some(server) => format!(
                            "{} via {} ({})",
                            server,
                            s.download_method(),
                            if s.prov_download_cert {
                                "server verified"
                            } else {
                                "server NOT verified"
                            }
                        ),
                        None => "not configured".to_owned(),
                    }
                );
                println!(
                    "  sip: {} over {}, TLS >= {}, SRTP {}",
                    s.sip_proxy
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_else(|| "(no proxy)".into()),
                    s.sip_transport.as_str(),
                    s.sip_tls_version_min.as_str(),
                    s.sip_srtp_offer.as_str()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            if json {
                let out = json!({
                    "file": name,
                    "ok": false,
                    "errors": errors.iter().map(error_json).collect::<Vec<_>>(),
                });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                print_errors(&errors);
                println!("{name}: {} error(s), nothing applied", errors.len());
            }
            Ok(ExitCode::from(1))
        }
    }
}

/// The options of `sigil prov fetch`.
#[derive(Debug, clap::Args)]
pub struct FetchArgs {
    /// The device's user store (holds config.conf, certs/, certs/trusted/).
    #[arg(long, value_name = "DIR")]
    user: PathBuf,
    /// The factory partition (device.pem, device.key, vendor-chain.pem).
    #[arg(long, value_name = "DIR")]
    factory: Option<PathBuf>,
    /// Server URL or host[:port][/path], instead of the configured prov.server.
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// Device MAC for the per-device file name (default: from the factory certificate).
    #[arg(long, value_name = "MAC")]
    mac: Option<String>,
    /// Device model for the model file name (no model file without it).
    #[arg(long, value_name = "MODEL")]
    model: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    /// Write the TLS session secrets to FILE (SSLKEYLOGFILE format, for
    /// Wireshark). Off unless given; `SSLKEYLOGFILE` is never followed.
    #[arg(long, value_name = "FILE")]
    keylog: Option<PathBuf>,
}

/// A failure of `prov fetch`, as printed.
struct Failure {
    kind: &'static str,
    message: String,
    errors: Vec<LocatedError>,
}

impl Failure {
    fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
            errors: Vec::new(),
        }
    }
}

fn kind_of(error: &DownloadError) -> &'static str {
    match error {
        DownloadError::NoServer | DownloadError::BadName(_) => "usage",
        DownloadError::NotFound { .. } => "not_found",
        DownloadError::Tls { .. } => "tls",
        DownloadError::ClientCertificateRequired { .. } => "client_certificate_required",
        DownloadError::ClientCertificateRejected { .. } => "client_certificate_rejected",
        DownloadError::Http { .. } => "http",
        DownloadError::InsecureRedirect { .. } => "insecure_redirect",
        DownloadError::TooLarge { .. } => "too_large",
        DownloadError::Md5Mismatch { .. } | DownloadError::Md5Invalid { .. } => "md5",
        DownloadError::Network { .. } => "network",
    }
}

fn fetch(args: FetchArgs) -> anyhow::Result<ExitCode> {
    let store = ConfigStore::new(&args.user);
    let outcome = provision(&args, &store);
    let config = store.path().display().to_string();
    match outcome {
        Ok((done, client_cert)) => {
            let fetched = &done.fetched;
            let report = &done.report;
            let (version, suite, verification) = match &fetched.security {
                ChannelSecurity::Encrypted {
                    version,
                    suite,
                    verification,
                } => (
                    Some(version.clone()),
                    Some(suite.clone()),
                    verification.as_ref().map(ToString::to_string),
                ),
                ChannelSecurity::NotEncrypted => (None, None, None),
            };
            let md5 = match &fetched.md5 {
                Md5Check::Absent => "none published".to_owned(),
                Md5Check::Matched(hex) => format!("matched {hex}"),
                Md5Check::Skipped => "not checked".to_owned(),
            };
            if args.json {
                let out = json!({
                    "ok": true,
                    "url": fetched.url,
                    "tried": fetched.tried.iter().map(|a| json!({"url": a.url, "status": a.status})).collect::<Vec<_>>(),
                    "encrypted": fetched.security != ChannelSecurity::NotEncrypted,
                    "verified": fetched.security.is_verified(),
                    "security": fetched.security.status(),
                    "verification": verification,
                    "tls_version": version,
                    "cipher_suite": suite,
                    "client_certificate": client_cert,
                    "md5": md5,
                    "changes": report.changes.iter().map(|c| json!({"key": c.key, "old": c.old_shown(), "new": c.new_shown()})).collect::<Vec<_>>(),
                    "warnings": report.warnings.iter().map(warning_json).collect::<Vec<_>>(),
                    "written": report.written,
                    "config": config,
                    "backup": report.backup.as_ref().map(|p| p.display().to_string()),
                });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                for attempt in &fetched.tried {
                    println!(
                        "tried: {} (HTTP {}: next name)",
                        attempt.url, attempt.status
                    );
                }
                println!("url: {}", fetched.url);
                println!("server: {}", fetched.security);
                println!(
                    "client certificate: {}",
                    client_cert.as_deref().unwrap_or("none available")
                );
                println!("md5: {md5}");
                for warning in &report.warnings {
                    println!("{warning}");
                }
                if report.changes.is_empty() {
                    println!("changes: none");
                } else {
                    println!("changes ({}):", report.changes.len());
                    for change in &report.changes {
                        println!("  {change}");
                    }
                }
                match (&report.written, &report.backup) {
                    (true, Some(backup)) => println!(
                        "applied to {config} (previous configuration kept as {})",
                        backup.display()
                    ),
                    (true, None) => println!("applied to {config}"),
                    (false, _) => println!("{config} unchanged (already up to date)"),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(failure) => {
            if args.json {
                let out = json!({
                    "ok": false,
                    "error": {"kind": failure.kind, "message": failure.message},
                    "errors": failure.errors.iter().map(error_json).collect::<Vec<_>>(),
                    "config": config,
                    "unchanged": true,
                });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!("error: {}", failure.message);
                print_errors(&failure.errors);
                println!("configuration unchanged: {config}");
            }
            Ok(ExitCode::from(1))
        }
    }
}

fn provision(
    args: &FetchArgs,
    store: &ConfigStore,
) -> Result<(Provisioned, Option<String>), Failure> {
    let settings = match store.load() {
        Ok(loaded) => loaded.settings,
        Err(ApplyError::Invalid(errors)) => {
            log::warn!(
                "the active configuration is invalid ({}); provisioning from the defaults",
                errors.first().map(ToString::to_string).unwrap_or_default()
            );
            Settings::default()
        }
        Err(other) => return Err(Failure::new("io", other.to_string())),
    };
    let server: Option<ProvServer> = match &args.server {
        Some(text) => Some(
            text.parse()
                .map_err(|e: String| Failure::new("usage", format!("--server {text}: {e}")))?,
        ),
        None => None,
    };
    let factory = FactoryPartition::new(
        args.factory
            .clone()
            .unwrap_or_else(|| args.user.join(".no-factory-partition")),
    );
    let identities = IdentitySet::load(&factory, &UserStore::new(&args.user));
    let mac = match &args.mac {
        Some(mac) => Some(mac.clone()),
        None => identities.mac().map(|m| m.compact()),
    };
    let plan = SearchPlan::new(
        &settings,
        server.as_ref(),
        mac.as_deref(),
        args.model.as_deref(),
    )
    .map_err(|e| Failure::new(kind_of(&e), e.to_string()))?;
    let client_cert = identities
        .active()
        .map(|id| format!("{} ({})", id.certificate().subject, id.source()));
    // Built for http too: a server may redirect http to https.
    let tls = {
        let mut builder = TrustStore::builder();
        if let Some(dir) = &args.factory {
            let chain = dir.join("vendor-chain.pem");
            if chain.is_file() {
                builder = builder
                    .vendor_file(&chain)
                    .map_err(|e| Failure::new("trust_store", e.to_string()))?;
            }
        }
        let trust = builder
            .user_dir(&args.user.join("certs").join("trusted"))
            .map_err(|e| Failure::new("trust_store", e.to_string()))?
            .build();
        for refused in trust.refused() {
            log::warn!("trust store: refused {}: {}", refused.path, refused.reason);
        }
        let client = HttpsClient::new(
            Arc::new(trust),
            settings.prov_download_cert,
            Some(identities.client_resolver()),
        )
        .map_err(|e| Failure::new("tls", e.to_string()))?;
        match &args.keylog {
            Some(path) => client.with_key_log(path).map_err(|e| {
                Failure::new(
                    "usage",
                    format!("cannot open the key log {}: {e}", path.display()),
                )
            })?,
            None => client,
        }
    };
    match fetch_and_apply(store, &plan, Some(&tls), &DownloadOptions::default()) {
        Ok(done) => Ok((done, client_cert)),
        Err(ProvisionError::Download(e)) => Err(Failure::new(kind_of(&e), e.to_string())),
        Err(ProvisionError::Apply(ApplyError::Invalid(errors))) => Err(Failure {
            kind: "invalid",
            message: format!(
                "the downloaded file is invalid ({} error(s)); nothing applied",
                errors.len()
            ),
            errors,
        }),
        Err(ProvisionError::Apply(other)) => Err(Failure::new("io", other.to_string())),
    }
}
