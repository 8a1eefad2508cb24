//! testssl (issue 13) against the admin interface's HTTPS port: TLS 1.2 and
//! 1.3 only, ECDHE + AEAD suites only, no finding HIGH or CRITICAL.
//!
//! The scan runs against an `httpd.pem` uploaded through the API (as an
//! administrator would, to get rid of the browser warning): a server
//! certificate from a test CA with a one-year validity and a CRL
//! distribution point. The self-signed certificate the device makes at
//! first start is flagged by testssl for its 20-year validity and for
//! naming no CRL or OCSP responder — findings about that certificate, not
//! about the TLS configuration; the test prints them for the record.
#![cfg(feature = "web")]

mod common;
mod webkit;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use rcgen::{
    CertificateParams, CrlDistributionPoint, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};
use serde_json::{json, Value};
use sigil_testkit::pki::TestCa;
use sigil_testkit::Peer;
use webkit::{agent_for, agent_trusting, bare_scene, pem_certs, Api, Device};

/// Runs testssl offline; its JSON findings.
fn scan(testssl: &Path, addr: &str, ca: &Path, out: &Path) -> Vec<Value> {
    let json_file = out.join("testssl.json");
    let status = Command::new(testssl)
        .args([
            "--quiet",
            "--color",
            "0",
            "--nodns",
            "none",
            "--warnings",
            "off",
            "--add-ca",
        ])
        .arg(ca)
        .arg("--jsonfile")
        .arg(&json_file)
        .args(["-p", "-s", "-f", "-P", "-S", "-U", addr])
        .output()
        .expect("run testssl");
    let text = std::fs::read_to_string(&json_file).unwrap_or_else(|e| {
        panic!(
            "testssl wrote no JSON ({e}): {}",
            String::from_utf8_lossy(&status.stdout)
        )
    });
    serde_json::from_str::<Vec<Value>>(&text).unwrap()
}

fn summary(findings: &[Value]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for f in findings {
        *counts
            .entry(f["severity"].as_str().unwrap_or("?").to_owned())
            .or_default() += 1;
    }
    counts
}

fn finding<'a>(findings: &'a [Value], id: &str) -> &'a str {
    findings
        .iter()
        .find(|f| f["id"] == id)
        .and_then(|f| f["finding"].as_str())
        .unwrap_or_else(|| panic!("testssl reported no {id}"))
}

#[test]
fn testssl_finds_nothing_high_or_critical() {
    let Some(testssl) = sigil_testkit::peer(Peer::Testssl) else {
        return;
    };
    let s = bare_scene();
    let data = s.data();
    let device = Device::start(&data);

    // Log in, change the default password, upload the CA-issued web certificate.
    let mut api = Api::new(agent_for(&data), device.base());
    assert_eq!(api.login("sigil").status, 200);
    assert_eq!(
        api.post(
            "/api/password",
            &json!({"old": "sigil", "new": "Scan-Me-2026"})
        )
        .status,
        200
    );
    let mut api = Api::new(agent_for(&data), device.base());
    assert_eq!(api.login("Scan-Me-2026").status, 200);
    let ca = TestCa::root("Web Scan Test CA");
    let now = time::OffsetDateTime::now_utc();
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    params.subject_alt_names = vec![SanType::IpAddress("127.0.0.1".parse().unwrap())];
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(365);
    params.is_ca = IsCa::ExplicitNoCa;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.crl_distribution_points = vec![CrlDistributionPoint {
        uris: vec!["http://127.0.0.1:9/web-scan-test.crl".to_owned()],
    }];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, ca.issuer()).unwrap();
    let httpd = format!("{}{}", cert.pem(), key.serialize_pem());
    let a = api
        .upload(
            "/api/certs/httpd",
            &[("file", Some("httpd.pem"), httpd.as_bytes())],
            true,
        )
        .unwrap();
    assert_eq!(a.status, 200, "{a:?}");
    let root = tempfile::tempdir().unwrap();
    let root_pem = root.path().join("root.pem");
    std::fs::write(&root_pem, ca.cert().cert_pem()).unwrap();
    // The uploaded certificate is what new connections get.
    let by_ca = Api::new(
        agent_trusting(&pem_certs(ca.cert().cert_pem().as_bytes())),
        device.base(),
    );
    assert_eq!(by_ca.get("/login").status, 200);

    let findings = scan(&testssl, &device.addr, &root_pem, root.path());
    let counts = summary(&findings);
    println!("testssl against the web port: {counts:?}");
    for f in &findings {
        if f["severity"] != "OK" && f["severity"] != "INFO" {
            println!("  {} {}: {}", f["severity"], f["id"], f["finding"]);
        }
    }
    let bad: Vec<&Value> = findings
        .iter()
        .filter(|f| f["severity"] == "HIGH" || f["severity"] == "CRITICAL")
        .collect();
    assert!(bad.is_empty(), "HIGH/CRITICAL findings: {bad:?}");
    for old in ["SSLv2", "SSLv3", "TLS1", "TLS1_1"] {
        assert!(finding(&findings, old).contains("not offered"), "{old}");
    }
    for new in ["TLS1_2", "TLS1_3"] {
        assert!(
            finding(&findings, new).starts_with("offered"),
            "{new}: {}",
            finding(&findings, new)
        );
    }
    for weak in [
        "cipherlist_NULL",
        "cipherlist_aNULL",
        "cipherlist_EXPORT",
        "cipherlist_LOW",
        "cipherlist_3DES_IDEA",
        "cipherlist_AVERAGE",
    ] {
        assert!(finding(&findings, weak).contains("not offered"), "{weak}");
    }
    assert!(finding(&findings, "cipherlist_STRONG").starts_with("offered"));
    assert!(finding(&findings, "PFS").starts_with("offered"));
    // Every suite offered is ECDHE (TLS 1.2) or TLS 1.3, with AES-GCM or ChaCha20-Poly1305.
    for id in ["cipherorder_TLSv1_2", "cipherorder_TLSv1_3"] {
        let suites = finding(&findings, id);
        println!("{id}: {suites}");
        for suite in suites.split_whitespace() {
            assert!(
                (suite.starts_with("ECDHE-") || suite.starts_with("TLS_"))
                    && (suite.contains("GCM")
                        || suite.contains("CHACHA20-POLY1305")
                        || suite.contains("CHACHA20_POLY1305")),
                "{id}: {suite}"
            );
        }
    }
}
