//! `sigil mint`: files, and what OpenSSL says about them.

mod common;

use std::path::Path;

use common::{ok, sigil, stderr};
use sigil_testkit::openssl::openssl;

/// `openssl verify` of `factory/device.pem` against the vendor PKI in `dir/vendor`.
fn assert_device_verifies(bin: &Path, dir: &Path) {
    let verify = openssl(
        bin,
        dir,
        &[
            "verify",
            "-CAfile",
            "vendor/root.pem",
            "-untrusted",
            "vendor/intermediate.pem",
            "factory/device.pem",
        ],
    );
    assert_eq!(verify.trim(), "factory/device.pem: OK");
}

#[test]
fn mint_vendor_device_and_server_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = |name: &str| d.join(name).display().to_string();
    // `sigil mint device` with the vendor PKI in `vendor`, into `out`.
    let device = |vendor: &str, mac: &str, out: &str| {
        let (vendor, out) = (p(vendor), p(out));
        sigil(&[
            "mint", "device", "--vendor", &vendor, "--mac", mac, "--out", &out,
        ])
    };
    ok(&["mint", "vendor", "--out", &p("vendor")]);
    for file in [
        "root.pem",
        "root.key",
        "intermediate.pem",
        "intermediate.key",
        "chain.pem",
    ] {
        assert!(d.join("vendor").join(file).is_file(), "{file}");
    }
    let stdout = ok(&[
        "mint",
        "device",
        "--vendor",
        &p("vendor"),
        "--mac",
        "00-22-EE-01-02-03",
        "--out",
        &p("factory"),
    ]);
    assert!(stdout.contains("CN=00:22:ee:01:02:03"), "{stdout}");
    assert!(d.join("factory/device.pem").is_file() && d.join("factory/device.key").is_file());
    let device_pem = std::fs::read_to_string(d.join("factory/device.pem")).unwrap();
    assert_eq!(
        device_pem.matches("BEGIN CERTIFICATE").count(),
        2,
        "device certificate then intermediate"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for key in [
            "vendor/root.key",
            "vendor/intermediate.key",
            "factory/device.key",
        ] {
            let mode = std::fs::metadata(d.join(key)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{key}");
        }
    }
    ok(&[
        "mint",
        "server",
        "--vendor",
        &p("vendor"),
        "--name",
        "sip.example.com",
        "--name",
        "127.0.0.1",
        "--name",
        "sip:example.com",
        "--out",
        &p("server"),
    ]);
    assert!(d.join("server/server.pem").is_file() && d.join("server/server.key").is_file());

    let bad = device("vendor", "00:22:ee:01:02", "x");
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("is not a MAC address"));
    let again = device("vendor", "0022ee010203", "factory");
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("refusing to overwrite"));
    assert_eq!(
        std::fs::read_to_string(d.join("factory/device.pem")).unwrap(),
        device_pem
    );
    let missing = device("nope", "0022ee010203", "x");
    assert_eq!(missing.status.code(), Some(1));

    let Some(bin) = sigil_testkit::peer(sigil_testkit::Peer::Openssl) else {
        return;
    };
    assert_device_verifies(&bin, d);
    let verify = openssl(
        &bin,
        d,
        &["verify", "-CAfile", "vendor/chain.pem", "server/server.pem"],
    );
    assert_eq!(verify.trim(), "server/server.pem: OK");

    let shown = openssl(
        &bin,
        d,
        &[
            "x509",
            "-in",
            "factory/device.pem",
            "-noout",
            "-subject",
            "-enddate",
        ],
    );
    assert!(
        shown.contains("subject=CN = 00:22:ee:01:02:03, serialNumber = 00:22:ee:01:02:03"),
        "{shown}"
    );
    let year_in_30 = (time::OffsetDateTime::now_utc().year() + 30).to_string();
    let end = shown.lines().find(|l| l.starts_with("notAfter=")).unwrap();
    assert!(end.ends_with(&format!("{year_in_30} GMT")), "{end}");
    // notAfter past 2049 must be GeneralizedTime.
    let asn1 = openssl(&bin, d, &["asn1parse", "-in", "factory/device.pem"]);
    assert!(asn1.contains("GENERALIZEDTIME"), "{asn1}");
    let eku = openssl(
        &bin,
        d,
        &[
            "x509",
            "-in",
            "factory/device.pem",
            "-noout",
            "-ext",
            "extendedKeyUsage,basicConstraints",
        ],
    );
    assert!(
        eku.contains("TLS Web Client Authentication, TLS Web Server Authentication"),
        "{eku}"
    );
    assert!(eku.contains("CA:FALSE"), "{eku}");
    let sans = openssl(
        &bin,
        d,
        &[
            "x509",
            "-in",
            "server/server.pem",
            "-noout",
            "-ext",
            "subjectAltName,extendedKeyUsage",
        ],
    );
    assert!(
        sans.contains("DNS:sip.example.com, IP Address:127.0.0.1, URI:sip:example.com"),
        "{sans}"
    );
    assert!(
        sans.contains("TLS Web Server Authentication") && !sans.contains("Client"),
        "{sans}"
    );
}

#[test]
fn mint_rsa_device() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = |name: &str| d.join(name).display().to_string();
    ok(&["mint", "vendor", "--out", &p("vendor")]);
    let stdout = ok(&[
        "mint",
        "device",
        "--vendor",
        &p("vendor"),
        "--mac",
        "0022ee010203",
        "--rsa",
        "--out",
        &p("factory"),
    ]);
    assert!(stdout.contains("RSA 2048"), "{stdout}");
    let Some(bin) = sigil_testkit::peer(sigil_testkit::Peer::Openssl) else {
        return;
    };
    assert_device_verifies(&bin, d);
    let text = openssl(
        &bin,
        d,
        &["x509", "-in", "factory/device.pem", "-noout", "-text"],
    );
    assert!(text.contains("Public-Key: (2048 bit)"), "{text}");
    openssl(
        &bin,
        d,
        &["rsa", "-in", "factory/device.key", "-check", "-noout"],
    );
}
