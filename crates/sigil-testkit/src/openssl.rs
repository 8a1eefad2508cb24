//! The `openssl` command line as a test peer: one-shot commands and
//! `openssl s_server` on loopback with a bounded start-up wait.
//!
//! Find the binary first with [`crate::peer`]`(`[`crate::Peer::Openssl`]`)`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::time::Duration;

use crate::{free_port, wait_for_tcp, ChildGuard};

/// How long [`SServer::start`] waits for `s_server` to accept TCP.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `command` to completion and returns its stdout.
///
/// # Panics
///
/// When it cannot be run or exits unsuccessfully; the message names the
/// command and carries its stderr.
pub fn run_ok(command: &mut Command) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `openssl args…` (the binary `bin`) in `dir` and returns its stdout.
///
/// # Panics
///
/// As [`run_ok`]: when openssl fails, with its stderr in the message.
pub fn openssl(bin: &Path, dir: &Path, args: &[&str]) -> String {
    run_ok(Command::new(bin).current_dir(dir).args(args))
}

/// An `openssl s_server` listening on 127.0.0.1; killed when dropped.
///
/// Its stdin stays open (s_server quits on end of input); its stdout and
/// stderr go to a log file in the directory it runs in.
#[derive(Debug)]
pub struct SServer {
    // Dropped before the guard: the server sees end of input, then is killed.
    _stdin: Option<ChildStdin>,
    _guard: ChildGuard,
    /// Where it accepts connections.
    pub addr: SocketAddr,
    /// Its stdout and stderr (`s_server-<port>.log` in its directory).
    pub log: PathBuf,
}

impl SServer {
    /// Starts `openssl s_server -accept 127.0.0.1:<free port> -cert cert -key key extra…`
    /// in `dir` (relative paths are resolved there) and waits, at most 10 s,
    /// until it accepts TCP.
    ///
    /// # Panics
    ///
    /// When it cannot be spawned or does not start listening in time; the
    /// message carries its log.
    pub fn start(bin: &Path, dir: &Path, cert: &str, key: &str, extra: &[&str]) -> SServer {
        let port = free_port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let log = dir.join(format!("s_server-{port}.log"));
        let out = std::fs::File::create(&log)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", log.display()));
        let err = out
            .try_clone()
            .unwrap_or_else(|e| panic!("cannot share {}: {e}", log.display()));
        let mut guard = ChildGuard::spawn(
            Command::new(bin)
                .current_dir(dir)
                .args(["s_server", "-accept", &addr.to_string()])
                .args(["-cert", cert, "-key", key])
                .args(extra)
                .stdin(Stdio::piped())
                .stdout(out)
                .stderr(err),
        )
        .unwrap_or_else(|e| panic!("cannot spawn openssl s_server: {e}"));
        let stdin = guard.0.stdin.take();
        let server = SServer {
            _stdin: stdin,
            _guard: guard,
            addr,
            log,
        };
        assert!(
            wait_for_tcp(addr, START_TIMEOUT),
            "openssl s_server did not start: {}",
            server.log_text()
        );
        server
    }

    /// What it has written so far (empty when the log cannot be read).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}
