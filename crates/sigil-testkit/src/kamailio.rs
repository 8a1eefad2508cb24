//! Kamailio as a test peer: where its modules are, and a launcher that stops
//! it (with its worker processes) when the test ends.
//!
//! Find the binary first with [`crate::peer`]`(`[`crate::Peer::Kamailio`]`)`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::wait_for_tcp;

/// How long [`Kamailio::start`] waits for it to accept TCP, and
/// [`Kamailio::stop`] for it to exit after SIGTERM.
const START_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// How long [`Kamailio::wait_log`] waits for a line.
const LOG_TIMEOUT: Duration = Duration::from_secs(5);

/// The folder with Kamailio's modules, when its TLS module (`tls.so`,
/// Debian `kamailio-tls-modules`) is installed there; the `mpath` for a
/// test configuration.
pub fn module_dir() -> Option<PathBuf> {
    let multiarch = std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("kamailio/modules"));
    [PathBuf::from("/usr/lib/kamailio/modules")]
        .into_iter()
        .chain(multiarch)
        .find(|dir| dir.join("tls.so").exists())
}

/// Writes `dir/kamailio.cfg` and `dir/tls.cfg` from the templates of the
/// same names in `templates`. In both, `@TLSCFG@` becomes `dir/tls.cfg`,
/// `@MPATH@` the [`module_dir`] (with a trailing `/`), `@KEY@`, `@CERT@` and
/// `@CA@` become `dir/server.key`, `dir/server.pem` and
/// `dir/vendor-chain.pem`, and each `(placeholder, value)` of `vars` its value.
///
/// # Panics
///
/// When a template cannot be read, a file cannot be written, or Kamailio's
/// TLS module is not installed.
pub fn configure(templates: &Path, dir: &Path, vars: &[(&str, &str)]) {
    let d = dir.display();
    let mpath = module_dir().expect("kamailio modules with tls.so");
    let common = [
        ("@TLSCFG@", format!("{d}/tls.cfg")),
        ("@MPATH@", format!("{}/", mpath.display())),
        ("@KEY@", format!("{d}/server.key")),
        ("@CERT@", format!("{d}/server.pem")),
        ("@CA@", format!("{d}/vendor-chain.pem")),
    ];
    for name in ["kamailio.cfg", "tls.cfg"] {
        let template = templates.join(name);
        let mut text = std::fs::read_to_string(&template)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", template.display()));
        for (placeholder, value) in &common {
            text = text.replace(placeholder, value);
        }
        for (placeholder, value) in vars {
            text = text.replace(placeholder, value);
        }
        let out = dir.join(name);
        std::fs::write(&out, text)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
    }
}

/// A running Kamailio; stopped with SIGTERM (so that its worker processes
/// stop too) by [`Kamailio::stop`] or when dropped.
#[derive(Debug)]
pub struct Kamailio {
    child: Option<Child>,
    log: PathBuf,
}

impl Kamailio {
    /// Starts `kamailio -f kamailio.cfg -DD -E -m 64 -M 8 extra…` in `dir`
    /// (its runtime, working and PID files stay there), appending its output
    /// to `dir/kamailio.log`, and waits (at most 10 s) until it accepts TCP
    /// on 127.0.0.1:`port`.
    ///
    /// # Panics
    ///
    /// When it cannot be spawned or does not start listening in time; the
    /// message carries its log.
    pub fn start(bin: &Path, dir: &Path, port: u16, extra: &[&str]) -> Kamailio {
        let log = dir.join("kamailio.log");
        let open = || {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)
                .unwrap_or_else(|e| panic!("cannot open {}: {e}", log.display()))
        };
        let child = Command::new(bin)
            .args(["-f", "kamailio.cfg", "-DD", "-E", "-m", "64", "-M", "8"])
            .args(extra)
            .arg("-Y")
            .arg(dir)
            .arg("-w")
            .arg(dir)
            .arg("-P")
            .arg(dir.join("kamailio.pid"))
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(open())
            .stderr(open())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn kamailio: {e}"));
        let kamailio = Kamailio {
            child: Some(child),
            log,
        };
        assert!(
            wait_for_tcp(([127, 0, 0, 1], port).into(), START_STOP_TIMEOUT),
            "kamailio did not start: {}",
            kamailio.log()
        );
        kamailio
    }

    /// Everything it has logged so far (empty when the log cannot be read).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (at most 5 s) until the log holds `needle` (Kamailio logs after
    /// it replies); returns the log either way.
    pub fn wait_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + LOG_TIMEOUT;
        loop {
            let log = self.log();
            if log.contains(needle) || Instant::now() >= deadline {
                return log;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM and waits (at most 10 s) for it to exit, then kills it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + START_STOP_TIMEOUT;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        self.stop();
    }
}
