//! `sigil prov`: check configuration files and fetch them from a provisioning server.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;
use sigil_provisioning::format::{LocatedError, Warning};
use sigil_provisioning::secret::display_value;
use sigil_provisioning::Settings;

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
}

/// Runs a `sigil prov` command.
pub fn run(cmd: Cmd) -> anyhow::Result<ExitCode> {
    match cmd {
        Cmd::Check { file, json } => check(file, json),
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
