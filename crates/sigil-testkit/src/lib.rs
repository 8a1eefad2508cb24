//! Test support for the Sigil workspace (never shipped in a device).
//!
//! - [`peer`] finds a real program a test runs against (OpenSSL, nginx,
//!   Kamailio, linphonec, a Python module, gcc, libsrtp2-dev, valgrind). Under `CI=true` a missing peer fails the test
//!   with the package to install; elsewhere the test is skipped with a loud
//!   message on stderr, recorded in `$SIGIL_SKIP_LOG` for `./scripts/test`'s
//!   summary line.
//! - [`ChildGuard`] kills a spawned peer when the test ends, however it ends.
//! - [`free_port`] and [`wait_for_tcp`] set up loopback servers with bounded waits.
//! - [`openssl`] runs the `openssl` command line and `openssl s_server`;
//!   [`kamailio`] starts and stops Kamailio; [`nginx`] serves HTTPS with
//!   client certificates required; [`linphone`] runs `linphonec` as a
//!   softphone registered over TLS (calls, SDES-SRTP, WAV play/record);
//!   [`Peer::Chromium`] is headless Chromium behind `chromedriver`, for the web
//!   interface's browser tests; [`audio`] writes tones and checks recordings by frequency; [`hex`]
//!   encodes and decodes the hex that vectors and peers use.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod audio;
pub mod hex;
pub mod kamailio;
pub mod linphone;
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
    /// The `linphonec` softphone (Debian `linphone-cli`).
    Linphone,
    /// The C compiler `gcc` (Debian `gcc`), for the C programs of `sigil-ffi`.
    Gcc,
    /// libsrtp 2's header and library for C programs (Debian `libsrtp2-dev`):
    /// found by its header, [`LIBSRTP2_HEADER`].
    Libsrtp2Dev,
    /// `valgrind` (Debian `valgrind`).
    Valgrind,
    /// Headless Chromium driven through WebDriver: `chromedriver` and
    /// `chromium` (Debian `chromium`, `chromium-driver`).
    Chromium,
    /// The `testssl` TLS scanner (Debian `testssl.sh`).
    Testssl,
}

/// Where Debian's `libsrtp2-dev` puts the header [`Peer::Libsrtp2Dev`] looks for.
pub const LIBSRTP2_HEADER: &str = "/usr/include/srtp2/srtp.h";

impl Peer {
    fn program(self) -> &'static str {
        match self {
            Peer::Openssl => "openssl",
            Peer::Nginx => "nginx",
            Peer::Kamailio => "kamailio",
            Peer::Pylibsrtp => "python3",
            Peer::Linphone => "linphonec",
            Peer::Gcc => "gcc",
            Peer::Libsrtp2Dev => "libsrtp2-dev",
            Peer::Valgrind => "valgrind",
            Peer::Chromium => "chromedriver",
            Peer::Testssl => "testssl",
        }
    }

    fn package(self) -> &'static str {
        match self {
            Peer::Openssl => "Debian package `openssl`",
            Peer::Nginx => "Debian package `nginx`",
            Peer::Kamailio => "Debian packages `kamailio kamailio-tls-modules`",
            Peer::Pylibsrtp => "PyPI package `pylibsrtp` (pip install pylibsrtp)",
            Peer::Linphone => "Debian package `linphone-cli`",
            Peer::Gcc => "Debian package `gcc`",
            Peer::Libsrtp2Dev => "Debian package `libsrtp2-dev`",
            Peer::Valgrind => "Debian package `valgrind`",
            Peer::Chromium => "Debian packages `chromium chromium-driver`",
            Peer::Testssl => "Debian package `testssl.sh`",
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

/// Finds a peer program (for [`Peer::Libsrtp2Dev`], its header). Returns its path, or `None` after printing a loud
/// skip message when it is missing outside CI.
///
/// # Panics
///
/// Under `CI=true`, when the peer is missing: a test that needs a real peer
/// must not pass without it.
pub fn peer(peer: Peer) -> Option<PathBuf> {
    let found = match peer {
        // A development package, not a program: found by its header.
        Peer::Libsrtp2Dev => Some(PathBuf::from(LIBSRTP2_HEADER)).filter(|path| path.is_file()),
        _ => which(peer.program()),
    };
    let found = found.filter(|path| match peer {
        Peer::Pylibsrtp => Command::new(path)
            .args(["-c", "import pylibsrtp"])
            .output()
            .map(|out| out.status.success())
            .unwrap_or(false),
        // The TLS module is a separate package; without it kamailio cannot listen on TLS.
        Peer::Kamailio => kamailio::module_dir().is_some(),
        // The driver alone is not enough: it starts the browser.
        Peer::Chromium => which("chromium").is_some(),
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
        record_skip(&message);
    }
    found
}

/// Appends one line `<test name>\t<reason>` to the file named by
/// `SIGIL_SKIP_LOG`, so that `./scripts/test` can count the skipped tests
/// (the test harness reports a skipped test as passed and hides its output).
fn record_skip(message: &str) {
    let Some(log) = std::env::var_os("SIGIL_SKIP_LOG") else {
        return;
    };
    let test = std::thread::current()
        .name()
        .unwrap_or("unnamed test")
        .to_owned();
    // The test binary (e.g. `kamailio-0123abcd`) and the test's thread name
    // together name the test uniquely across the workspace.
    let binary = std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    let line = format!("{binary}::{test}\t{message}\n");
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .and_then(|mut file| file.write_all(line.as_bytes()));
    if let Err(e) = written {
        eprintln!("cannot record the skip in {}: {e}", log.to_string_lossy());
    }
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

/// A TCP port on 127.0.0.1 that was free a moment ago, and that this test
/// process has not handed out before: tests run in parallel threads, and
/// two servers given the same port would talk to each other's clients.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    // Bounded: the kernel hands out ports from a range of thousands.
    for _ in 0..1000 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|addr| addr.port())
            .expect("binding 127.0.0.1:0 must work in tests");
        let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
    panic!("no fresh TCP port on 127.0.0.1 after 1000 tries");
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

/// A file or folder under the workspace's `testdata/` (the third-party
/// suites the tests use, carried in the repository: RFC 4475 messages,
/// x509-limbo cases).
///
/// # Panics
///
/// When it does not exist: the repository ships it, so a missing file is a
/// broken checkout, never a reason to skip.
pub fn testdata(relative: &str) -> PathBuf {
    let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata")).join(relative);
    assert!(
        path.exists(),
        "{} is missing: the repository's testdata/ is incomplete",
        path.display()
    );
    path
}
