//! Test support for the Sigil workspace (never shipped in a device).
//!
//! - [`peer`] finds a real program a test runs against (OpenSSL, nginx,
//!   Kamailio, a Python module). Under `CI=true` a missing peer fails the test
//!   with the package to install; elsewhere the test is skipped with a loud
//!   message on stderr.
//! - [`ChildGuard`] kills a spawned peer when the test ends, however it ends.
//! - [`free_port`] and [`wait_for_tcp`] set up loopback servers with bounded waits.
//! - [`openssl`] runs the `openssl` command line and `openssl s_server`;
//!   [`kamailio`] starts and stops Kamailio; [`nginx`] serves HTTPS with
//!   client certificates required; [`hex`] encodes and decodes the
//!   hex that vectors and peers use.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod hex;
pub mod kamailio;
pub mod nginx;
pub mod openssl;
pub mod pki;

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A real program (or Python module) that tests talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// The `openssl` command line (Debian `openssl`).
    Openssl,
    /// `nginx` (Debian `nginx`).
    Nginx,
    /// `kamailio` with its TLS module (Debian `kamailio`, `kamailio-tls-modules`).
    Kamailio,
    /// Python 3 with `pylibsrtp` importable (PyPI `pylibsrtp`).
    Pylibsrtp,
}

impl Peer {
    fn program(self) -> &'static str {
        match self {
            Peer::Openssl => "openssl",
            Peer::Nginx => "nginx",
            Peer::Kamailio => "kamailio",
            Peer::Pylibsrtp => "python3",
        }
    }

    fn package(self) -> &'static str {
        match self {
            Peer::Openssl => "Debian package `openssl`",
            Peer::Nginx => "Debian package `nginx`",
            Peer::Kamailio => "Debian packages `kamailio kamailio-tls-modules`",
            Peer::Pylibsrtp => "PyPI package `pylibsrtp` (pip install pylibsrtp)",
        }
    }
}

/// Looks for `name` on `PATH` and in the sbin directories where Debian puts daemons.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// True when running under CI (`CI=true`), where a missing peer is a failure.
pub fn in_ci() -> bool {
    std::env::var("CI")
        .map(|v| v == "true" || v == "1")
        .unwrap_or(false)
}

/// Finds a peer program. Returns its path, or `None` after printing a loud
/// skip message when it is missing outside CI.
///
/// # Panics
///
/// Under `CI=true`, when the peer is missing: a test that needs a real peer
/// must not pass without it.
pub fn peer(peer: Peer) -> Option<PathBuf> {
    let found = which(peer.program()).filter(|path| match peer {
        Peer::Pylibsrtp => Command::new(path)
            .args(["-c", "import pylibsrtp"])
            .output()
            .map(|out| out.status.success())
            .unwrap_or(false),
        // The TLS module is a separate package; without it kamailio cannot listen on TLS.
        Peer::Kamailio => kamailio::module_dir().is_some(),
        _ => true,
    });
    if found.is_none() {
        let message = format!(
            "real peer {:?} is missing: install the {} (./scripts/test installs it)",
            peer,
            peer.package()
        );
        if in_ci() {
            panic!("{message}; CI=true, so this test fails instead of skipping");
        }
        eprintln!("\n*** SKIPPED: {message} ***\n");
    }
    found
}

/// A child process that is killed (and reaped) when dropped.
#[derive(Debug)]
pub struct ChildGuard(pub Child);

impl ChildGuard {
    /// Spawns `command` and guards it.
    pub fn spawn(command: &mut Command) -> std::io::Result<Self> {
        command.spawn().map(ChildGuard)
    }

    /// Whether the child has already exited (with its status).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.0.try_wait().ok().flatten()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `command` to completion with `input` on its stdin and its stdout
/// and stderr captured. The input is written from another thread, so a
/// child that answers while it reads cannot deadlock the test; a child that
/// exits without reading all of it is judged by its exit status.
///
/// # Panics
///
/// When it cannot be run, or writing its stdin fails other than by the
/// child having closed it.
pub fn run_with_input(command: &mut Command, input: &[u8]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let writer = child.stdin.take().map(|mut stdin| {
        let input = input.to_vec();
        std::thread::spawn(move || stdin.write_all(&input))
    });
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("cannot wait for {command:?}: {e}"));
    if let Some(writer) = writer {
        match writer.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            Ok(Err(e)) => panic!("cannot write the input of {command:?}: {e}"),
            Err(_) => panic!("the thread writing the input of {command:?} panicked"),
        }
    }
    output
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("binding 127.0.0.1:0 must work in tests")
}

/// Waits (at most `timeout`, polling every 20 ms) until something accepts TCP on `addr`.
pub fn wait_for_tcp(addr: SocketAddr, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}
