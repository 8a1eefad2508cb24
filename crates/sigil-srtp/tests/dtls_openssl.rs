//! DTLS-SRTP against OpenSSL (`openssl s_server` / `s_client` with `-dtls1_2
//! -use_srtp`), per protection profile both OpenSSL and Sigil support
//! (SRTP_AES128_CM_SHA1_80, SRTP_AEAD_AES_128_GCM, SRTP_AEAD_AES_256_GCM),
//! with Sigil as DTLS client and as server. OpenSSL prints the keying
//! material it exported (`-keymatexport EXTRACTOR-dtls_srtp`); it must be
//! the client key ‖ server key ‖ client salt ‖ server salt Sigil split into
//! its SRTP master keys (RFC 5764 §4.2). A certificate whose fingerprint is
//! not the announced one ends the association with that reason.

use std::net::UdpSocket;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sigil_srtp::dtls::{DtlsError, DtlsIdentity, DtlsRole, DtlsSrtp, Fingerprint};
use sigil_srtp::Suite;
use sigil_testkit::hex::decode as unhex;
use sigil_testkit::openssl::openssl;
use sigil_testkit::{peer, ChildGuard, Peer};

/// (OpenSSL's profile name, its keying material length, our suite).
const PROFILES: [(&str, usize, Suite); 3] = [
    ("SRTP_AES128_CM_SHA1_80", 60, Suite::AesCm128HmacSha1_80),
    ("SRTP_AEAD_AES_128_GCM", 56, Suite::AeadAes128Gcm),
    ("SRTP_AEAD_AES_256_GCM", 88, Suite::AeadAes256Gcm),
];

/// How long one handshake may take here (it takes milliseconds).
const LIMIT: Duration = Duration::from_secs(15);

/// An ECDSA P-256 self-signed certificate for OpenSSL: (cert.pem, key.pem,
/// its SHA-256 fingerprint from its DER).
fn openssl_cert(bin: &Path, dir: &Path, name: &str) -> (String, String, Fingerprint) {
    let (cert, key) = (format!("{name}.pem"), format!("{name}.key"));
    openssl(
        bin,
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &cert,
            "-subj",
            "/CN=openssl-peer",
            "-days",
            "1",
        ],
    );
    let der = format!("{name}.der");
    openssl(
        bin,
        dir,
        &["x509", "-in", &cert, "-outform", "DER", "-out", &der],
    );
    let fingerprint = Fingerprint::sha256_of(&std::fs::read(dir.join(&der)).unwrap());
    // OpenSSL's own fingerprint, written the way a=fingerprint writes it.
    let shown = openssl(
        bin,
        dir,
        &["x509", "-in", &cert, "-noout", "-fingerprint", "-sha256"],
    );
    let hex = shown.trim().rsplit('=').next().unwrap().to_owned();
    assert_eq!(fingerprint.to_string(), format!("sha-256 {hex}"));
    (cert, key, fingerprint)
}

/// Drives `dtls` over `socket` until it connects or fails (bounded by [`LIMIT`]).
fn drive(dtls: &mut DtlsSrtp, socket: &UdpSocket) -> Result<(), DtlsError> {
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    while !dtls.is_connected() && start.elapsed() < LIMIT {
        while let Some(datagram) = dtls.poll_transmit() {
            socket.send(&datagram).unwrap();
        }
        match socket.recv(&mut buf) {
            Ok(n) => dtls.handle_datagram(&buf[..n], Instant::now())?,
            Err(_) => dtls.handle_timeout(Instant::now())?,
        }
    }
    while let Some(datagram) = dtls.poll_transmit() {
        socket.send(&datagram).unwrap();
    }
    assert!(dtls.is_connected(), "no DTLS handshake within {LIMIT:?}");
    Ok(())
}

/// The keying material OpenSSL printed into `log`, once it did (bounded wait).
fn exported(log: &Path) -> Vec<u8> {
    let start = Instant::now();
    while start.elapsed() < LIMIT {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains("Keying material:")) {
            return unhex(line.rsplit(':').next().unwrap().trim());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!(
        "OpenSSL printed no keying material: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// Waits until `log` contains `needle` (bounded).
fn wait_log(log: &Path, needle: &str) {
    let start = Instant::now();
    while start.elapsed() < LIMIT {
        if std::fs::read_to_string(log)
            .unwrap_or_default()
            .contains(needle)
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!(
        "{needle:?} never appeared: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// Ours as OpenSSL exports it: client key ‖ server key ‖ client salt ‖ server salt.
fn material(dtls: &DtlsSrtp) -> Vec<u8> {
    let keys = dtls.srtp_keys().unwrap();
    let (client, server) = match dtls.role() {
        DtlsRole::Client => (keys.local(), keys.remote()),
        DtlsRole::Server => (keys.remote(), keys.local()),
    };
    [client.key(), server.key(), client.salt(), server.salt()].concat()
}

/// `openssl s_server|s_client` with `args`, output into `log`, stdin held open.
fn spawn(
    bin: &Path,
    dir: &Path,
    args: &[String],
    log: &Path,
) -> (ChildGuard, Option<std::process::ChildStdin>) {
    let out = std::fs::File::create(log).unwrap();
    let err = out.try_clone().unwrap();
    let mut child = ChildGuard::spawn(
        Command::new(bin)
            .current_dir(dir)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(out)
            .stderr(err),
    )
    .unwrap();
    let stdin = child.0.stdin.take();
    (child, stdin)
}

fn common_args(profile: &str, len: usize, cert: &str, key: &str) -> Vec<String> {
    [
        "-dtls1_2",
        "-cert",
        cert,
        "-key",
        key,
        "-use_srtp",
        profile,
        "-keymatexport",
        "EXTRACTOR-dtls_srtp",
        "-keymatexportlen",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([len.to_string()])
    .collect()
}

/// Sigil is the DTLS client, `openssl s_server` the server.
fn sigil_client(bin: &Path, profile: &str, len: usize, suite: Suite) {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, fingerprint) = openssl_cert(bin, dir.path(), "server");
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = {
        // A free UDP port for s_server: bind, note, release.
        let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let mut args: Vec<String> = vec![
        "s_server".into(),
        "-accept".into(),
        format!("127.0.0.1:{port}"),
    ];
    args.extend(common_args(profile, len, &cert, &key));
    args.extend(["-verify".into(), "1".into(), "-naccept".into(), "1".into()]);
    let log = dir.path().join("s_server.log");
    let (_server, _stdin) = spawn(bin, dir.path(), &args, &log);
    wait_log(&log, "ACCEPT");
    socket.connect(("127.0.0.1", port)).unwrap();

    let ours = DtlsIdentity::generate().unwrap();
    let mut dtls =
        DtlsSrtp::new(&ours, DtlsRole::Client, vec![fingerprint], Instant::now()).unwrap();
    drive(&mut dtls, &socket).unwrap_or_else(|e| panic!("{profile}: {e}"));
    assert_eq!(dtls.srtp_keys().unwrap().suite(), suite, "{profile}");
    assert_eq!(
        material(&dtls),
        exported(&log),
        "{profile}: exported keying material"
    );
}

/// Sigil is the DTLS server, `openssl s_client` the client.
fn sigil_server(bin: &Path, profile: &str, len: usize, suite: Suite) {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, fingerprint) = openssl_cert(bin, dir.path(), "client");
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    let ours = DtlsIdentity::generate().unwrap();
    let mut dtls =
        DtlsSrtp::new(&ours, DtlsRole::Server, vec![fingerprint], Instant::now()).unwrap();

    let mut args: Vec<String> = vec!["s_client".into(), "-connect".into(), addr.to_string()];
    args.extend(common_args(profile, len, &cert, &key));
    let log = dir.path().join("s_client.log");
    let (_client, _stdin) = spawn(bin, dir.path(), &args, &log);
    // The first datagram tells us where the client is.
    socket.set_read_timeout(Some(LIMIT)).unwrap();
    let mut buf = [0u8; 4096];
    let (n, from) = socket.recv_from(&mut buf).expect("s_client sent nothing");
    socket.connect(from).unwrap();
    dtls.handle_datagram(&buf[..n], Instant::now()).unwrap();
    drive(&mut dtls, &socket).unwrap_or_else(|e| panic!("{profile}: {e}"));
    assert_eq!(dtls.srtp_keys().unwrap().suite(), suite, "{profile}");
    assert_eq!(
        material(&dtls),
        exported(&log),
        "{profile}: exported keying material"
    );
}

#[test]
fn sigil_client_and_openssl_server_export_the_same_keys() {
    let Some(bin) = peer(Peer::Openssl) else {
        return;
    };
    for (profile, len, suite) in PROFILES {
        sigil_client(&bin, profile, len, suite);
    }
}

#[test]
fn openssl_client_and_sigil_server_export_the_same_keys() {
    let Some(bin) = peer(Peer::Openssl) else {
        return;
    };
    for (profile, len, suite) in PROFILES {
        sigil_server(&bin, profile, len, suite);
    }
}

#[test]
fn a_certificate_not_matching_the_sdp_fingerprint_ends_the_association() {
    let Some(bin) = peer(Peer::Openssl) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, real) = openssl_cert(&bin, dir.path(), "server");
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut args: Vec<String> = vec![
        "s_server".into(),
        "-accept".into(),
        format!("127.0.0.1:{port}"),
    ];
    args.extend(common_args("SRTP_AES128_CM_SHA1_80", 60, &cert, &key));
    let log = dir.path().join("s_server.log");
    let (_server, _stdin) = spawn(&bin, dir.path(), &args, &log);
    wait_log(&log, "ACCEPT");
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.connect(("127.0.0.1", port)).unwrap();
    // The SDP announced another certificate (say, the real phone's).
    let announced = DtlsIdentity::generate().unwrap().fingerprint().clone();
    let ours = DtlsIdentity::generate().unwrap();
    let mut dtls = DtlsSrtp::new(
        &ours,
        DtlsRole::Client,
        vec![announced.clone()],
        Instant::now(),
    )
    .unwrap();
    let err = drive(&mut dtls, &socket).unwrap_err();
    assert_eq!(
        err,
        DtlsError::FingerprintMismatch {
            expected: announced.to_string(),
            presented: real.to_string()
        }
    );
    assert!(err.to_string().contains("fingerprint mismatch"), "{err}");
    assert!(dtls.srtp_keys().is_none());
    assert!(dtls.poll_transmit().is_none());
}
