//! The configuration checker: is this file right, and what would applying it change?
//!
//! ```text
//! check_config [FILE]
//! ```
//!
//! FILE is checked completely — syntax, every value, the cross-field rules —
//! and every error is printed as `FILE:LINE:COL: message` with the line
//! (secrets masked). A valid file is then applied to a scratch user store
//! (the atomic apply a device does) and the resulting configuration and the
//! changes against the defaults are printed. Exit status 0 for a valid file,
//! 1 for an invalid one.
//!
//! Without FILE it checks a built-in file with three mistakes, then the
//! corrected file, applies it, and applies a provisioning update on top,
//! showing the masked diff. `cargo run -p sigil-provisioning --example
//! check_config` — no network, no files outside a temporary directory.

use std::process::ExitCode;

use sigil_provisioning::values::SrtpOffer;
use sigil_provisioning::{render, ApplyOptions, ConfigStore, LocatedError, Settings};

const BROKEN: &str = "\
# door 17, lobby
sip.proxy = pbx.example.com:506100
sip.u1.user = 1001
sip.u1.pwd = s3cret
sip.transport = tls
sip.srtp.offer = mandatory
sip.tls.version.min = 1.1
";

const FIXED: &str = "\
# door 17, lobby
sip.proxy = pbx.example.com:5061
sip.u1.user = 1001
sip.u1.pwd = s3cret
sip.transport = tls
sip.srtp.offer = standard
sip.tls.version.min = 1.2
vendor.led = blue
";

const UPDATE: &str = "\
sip.u1.pwd = n3w-s3cret
sip.srtp.offer = optional
";

type Error = Box<dyn std::error::Error>;

fn main() -> ExitCode {
    let result = match std::env::args().nth(1) {
        Some(path) => check_file(&path),
        None => demo(),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("check_config: {e}");
            ExitCode::from(2)
        }
    }
}

/// Prints each error with its line and a caret under the column.
fn print_errors(errors: &[LocatedError]) {
    for error in errors {
        println!("  {error}");
        if !error.text.is_empty() {
            println!("      {}", error.text);
            println!("      {}^", " ".repeat(error.col.saturating_sub(1)));
        }
    }
}

/// Checks `text`; prints the verdict; the settings when valid.
fn check(name: &str, text: &[u8]) -> Option<Settings> {
    match Settings::parse(name, text) {
        Ok(parsed) => {
            println!(
                "{name}: valid ({} keys, {} known)",
                parsed.keys,
                parsed.known_keys.len()
            );
            for warning in &parsed.warnings {
                println!("  {warning}");
            }
            Some(parsed.settings)
        }
        Err(errors) => {
            println!(
                "{name}: INVALID, {} error(s); nothing would change",
                errors.len()
            );
            print_errors(&errors);
            None
        }
    }
}

/// Applies `text` to `store` and prints what changed.
fn apply(store: &ConfigStore, name: &str, text: &[u8]) -> Result<(), Error> {
    let report = store
        .apply(name, text, ApplyOptions::default())
        .map_err(|e| e.to_string())?;
    println!(
        "applied {name} to {}{}:",
        report.path.display(),
        report.backup.as_ref().map_or(String::new(), |b| format!(
            " (previous one kept as {})",
            b.display()
        ))
    );
    for change in &report.changes {
        println!("  {change}");
    }
    Ok(())
}

fn check_file(path: &str) -> Result<bool, Error> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    if check(path, &text).is_none() {
        return Ok(false);
    }
    let scratch = tempfile::tempdir()?;
    let store = ConfigStore::new(scratch.path());
    apply(&store, path, &text)?;
    println!("the configuration a device would now run with (secrets masked):");
    let active = store.load().map_err(|e| e.to_string())?.settings;
    print!("{}", masked(&render(&active)));
    Ok(true)
}

/// The rendered file with secret values replaced, for printing.
fn masked(rendered: &str) -> String {
    rendered
        .lines()
        .map(|line| match line.split_once(" = ") {
            Some((key, _)) if sigil_provisioning::secret::is_secret_key(key) => {
                format!("  {key} = ********\n")
            }
            _ => format!("  {line}\n"),
        })
        .collect()
}

fn demo() -> Result<bool, Error> {
    let broken = check("door17.conf (first try)", BROKEN.as_bytes());
    println!();
    let fixed = check("door17.conf", FIXED.as_bytes());
    println!();
    let scratch = tempfile::tempdir()?;
    let store = ConfigStore::new(scratch.path());
    apply(&store, "door17.conf", FIXED.as_bytes())?;
    println!();
    apply(
        &store,
        "https://prov.example.com/algom0022ee010203.conf",
        UPDATE.as_bytes(),
    )?;
    let active = store.load().map_err(|e| e.to_string())?.settings;
    let on_disk = std::fs::read_to_string(store.path())?;
    // The device keeps the SIP password it needs in its own file; it is only masked on display.
    let ok = broken.is_none()
        && fixed.is_some()
        && active.sip_srtp_offer == SrtpOffer::Optional
        && on_disk.contains("sip.u1.pwd = n3w-s3cret");
    println!(
        "\n{}",
        if ok {
            "every verdict as expected"
        } else {
            "UNEXPECTED VERDICT"
        }
    );
    Ok(ok)
}
