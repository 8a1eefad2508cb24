//! `sigil identity`: the device identity status and factory reset (SPEC ID2, ID8).

use std::path::PathBuf;
use std::process::ExitCode;

use sigil_identity::{FactoryPartition, IdentitySet, UserStore};

/// Device identity commands.
#[derive(Debug, clap::Subcommand)]
pub enum Cmd {
    /// Show the manufacturer certificate (installed or not; MAC, subject, issuer,
    /// validity, SHA-256), the override certs/sipclient.pem, the web certificate and
    /// which identity is in use and why. Exit 0 when a usable client identity exists,
    /// 1 otherwise.
    Show {
        /// The factory partition (device.pem, device.key).
        #[arg(long, value_name = "DIR")]
        factory: PathBuf,
        /// The user store (certs/sipclient.pem, certs/httpd.pem, certs/trusted/).
        #[arg(long, value_name = "DIR")]
        user: PathBuf,
        /// Print the status as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Wipe the user store (configuration, certs/, certs/trusted/); the factory
    /// partition is never touched. Exit 0 when done.
    FactoryReset {
        /// The user store to wipe.
        #[arg(long, value_name = "DIR")]
        user: PathBuf,
    },
}

/// Runs a `sigil identity` command.
pub fn run(cmd: Cmd) -> anyhow::Result<ExitCode> {
    match cmd {
        Cmd::Show {
            factory,
            user,
            json,
        } => {
            let set = IdentitySet::load(&FactoryPartition::new(factory), &UserStore::new(user));
            let status = set.status();
            let text = if json {
                format!("{}\n", serde_json::to_string_pretty(status)?)
            } else {
                status.to_string()
            };
            emit(&text)?;
            Ok(if status.client_auth {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Cmd::FactoryReset { user } => {
            let report = UserStore::new(&user).factory_reset()?;
            let mut text = format!(
                "factory reset: removed {} entries from {}; the factory partition is untouched\n",
                report.removed.len(),
                user.display()
            );
            for path in &report.removed {
                text.push_str(&format!("  removed {}\n", path.display()));
            }
            emit(&text)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Writes to stdout; a closed pipe (`sigil identity show | head`) is not an error.
fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(error.into()),
        _ => Ok(()),
    }
}
