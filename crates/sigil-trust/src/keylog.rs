//! TLS key logging for Wireshark (SPEC T5), to a file named explicitly.
//!
//! rustls's own `KeyLogFile` follows the `SSLKEYLOGFILE` environment variable:
//! any process environment can then make a device write its session secrets.
//! A device writes them only where its integrator asked, so this writer takes
//! the path as an argument, creates the file readable by its owner only, and
//! says loudly that it is on.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// A `rustls::KeyLog` writing the NSS key log format (the `SSLKEYLOGFILE`
/// format Wireshark reads) to one file.
///
/// Lines are appended; the file is created with mode 0600. `Debug` shows the
/// path, never a secret. Install it as `config.key_log = Arc::new(writer)`.
pub struct KeyLogWriter {
    path: PathBuf,
    file: Mutex<File>,
    failed: AtomicBool,
}

impl KeyLogWriter {
    /// Opens (appending) or creates `path` (mode 0600) and logs a warning
    /// that TLS secrets will be written there.
    ///
    /// # Errors
    ///
    /// The file cannot be opened for writing.
    pub fn create(path: &Path) -> std::io::Result<KeyLogWriter> {
        let mut options = OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(path)?;
        log::warn!(
            "TLS key log is ON: session secrets are written to {} (anyone with that file can decrypt the captured traffic)",
            path.display()
        );
        Ok(KeyLogWriter {
            path: path.to_owned(),
            file: Mutex::new(file),
            failed: AtomicBool::new(false),
        })
    }

    /// The file the secrets go to.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl fmt::Debug for KeyLogWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyLogWriter")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl rustls::KeyLog for KeyLogWriter {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let line =
            zeroize::Zeroizing::new(format!("{label} {} {}\n", hex(client_random), hex(secret)));
        let written = match self.file.lock() {
            Ok(mut file) => file.write_all(line.as_bytes()),
            Err(_) => Err(std::io::Error::other("key log lock poisoned")),
        };
        // Say it once; a debugging aid must not flood the log.
        if let Err(e) = written {
            if !self.failed.swap(true, Ordering::Relaxed) {
                log::warn!("cannot write the TLS key log {}: {e}", self.path.display());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::KeyLog;

    #[test]
    fn writes_nss_lines_to_a_private_file_and_hides_secrets_in_debug() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.log");
        let writer = KeyLogWriter::create(&path).unwrap();
        writer.log("CLIENT_RANDOM", &[0xab; 32], &[0x01, 0x02]);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("CLIENT_RANDOM {} 0102\n", "ab".repeat(32)));
        assert!(!format!("{writer:?}").contains("0102"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
