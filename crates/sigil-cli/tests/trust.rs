//! `sigil trust list` and `sigil trust verify`, run as the built binary.

mod common;

use std::path::Path;
use std::process::Output;

use common::{sigil, stdout};
use sigil_testkit::pki::{self, LeafSpec, TestCa};

struct Fixture {
    dir: tempfile::TempDir,
    root: TestCa,
    inter: TestCa,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("trusted")).unwrap();
        let root = TestCa::root("CLI Root");
        let inter = root.intermediate("CLI Intermediate");
        Fixture { dir, root, inter }
    }

    fn trusted(&self) -> String {
        self.dir.path().join("trusted").display().to_string()
    }

    /// `sigil trust verify --dir <trusted> --chain <chain> --name <name> extra…`
    fn verify(&self, chain: &str, name: &str, extra: &[&str]) -> Output {
        let trusted = self.trusted();
        let args = [
            "trust", "verify", "--dir", &trusted, "--chain", chain, "--name", name,
        ];
        sigil(&[&args[..], extra].concat())
    }

    fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> String {
        let path = self.dir.path().join(rel);
        std::fs::write(&path, contents).unwrap();
        path.display().to_string()
    }
}

#[test]
fn list_shows_anchors_and_refused_files_and_exits_0() {
    let f = Fixture::new();
    f.write("trusted/root.pem", f.root.cert().cert_pem());
    f.write("trusted/oops.key", f.root.cert().key_pem());
    let vendor = f.write("vendor.pem", f.inter.cert().cert_pem());
    let out = sigil(&[
        "trust",
        "list",
        "--dir",
        &f.trusted(),
        "--vendor",
        &vendor,
        "--no-builtin",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.contains("anchor [user]"), "{text}");
    assert!(text.contains("anchor [vendor]"), "{text}");
    assert!(text.contains("CN=CLI Root"), "{text}");
    assert!(text.contains("sha256:"), "{text}");
    assert!(text.contains("refused"), "{text}");
    assert!(text.contains("oops.key: this is a private key"), "{text}");
    assert!(
        text.contains("2 anchors (0 built-in, 1 vendor, 1 user), 1 refused files"),
        "{text}"
    );
}

#[test]
fn list_json_is_one_entry_per_anchor_and_per_refused_file() {
    let f = Fixture::new();
    f.write("trusted/root.pem", f.root.cert().cert_pem());
    f.write("trusted/junk.txt", "hello");
    let out = sigil(&["trust", "list", "--dir", &f.trusted(), "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let anchors = json["anchors"].as_array().unwrap();
    assert!(anchors.iter().filter(|a| a["layer"] == "built_in").count() > 100);
    let user: Vec<_> = anchors.iter().filter(|a| a["layer"] == "user").collect();
    assert_eq!(user.len(), 1);
    assert!(user[0]["source"].as_str().unwrap().ends_with("root.pem"));
    assert_eq!(json["refused"].as_array().unwrap().len(), 1);
    assert_eq!(json["refused"][0]["reason"]["reason"], "not_certificate");
}

#[test]
fn verify_ok_prints_verified_and_exits_0() {
    let f = Fixture::new();
    f.write("trusted/root.pem", f.root.cert().cert_pem());
    let leaf = f
        .inter
        .leaf(&LeafSpec::server("*.example.com").uri("sip:example.com"));
    let chain = f.write("chain.pem", leaf.chain_pem());
    let out = f.verify(&chain, "pbx.example.com", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).starts_with("verified: "), "{}", stdout(&out));
    let out = f.verify(
        &chain,
        "example.com",
        &["--no-builtin", "--sip", "--strict"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("URI:sip:example.com"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn verify_failures_print_not_verified_with_details_and_exit_1() {
    let f = Fixture::new();
    let leaf = f.inter.leaf(&LeafSpec::server("sip.example.com"));
    let chain = f.write("chain.pem", leaf.chain_pem());
    // unknown issuer: the root is not uploaded
    let out = f.verify(&chain, "sip.example.com", &["--no-builtin"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.starts_with("not verified: unknown issuer"), "{text}");
    assert!(text.contains("CN=CLI Root"), "{text}");

    f.write("trusted/root.pem", f.root.cert().cert_pem());
    // name mismatch
    let out = f.verify(&chain, "other.example.com", &[]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.starts_with("not verified: name mismatch"), "{text}");
    assert!(
        text.contains("other.example.com") && text.contains("DNS:sip.example.com"),
        "{text}"
    );
    // --strict forbids the wildcard
    let wild = f.inter.leaf(&LeafSpec::server("*.example.com"));
    let wild_chain = f.write("wild.pem", wild.chain_pem());
    let out = f.verify(&wild_chain, "pbx.example.com", &["--sip", "--strict"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    // --at: the clock decides
    let out = f.verify(&chain, "sip.example.com", &["--at", "2099-01-01T00:00:00Z"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.starts_with("not verified: server certificate"),
        "{text}"
    );
    assert!(
        text.contains("expired") && text.contains("device clock is 2099-01-01T00:00:00Z"),
        "{text}"
    );
    let out = f.verify(&chain, "sip.example.com", &["--at", "2001-01-01T00:00:00Z"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("not valid yet"), "{}", stdout(&out));
}

#[test]
fn verify_uploaded_self_signed_and_ip() {
    let f = Fixture::new();
    let ss = pki::self_signed(
        &LeafSpec::server("pbx.local")
            .ip("192.0.2.1".parse().unwrap())
            .ca(true),
    );
    f.write("trusted/pbx.crt", &ss.cert_der);
    let chain = f.write("pbx.pem", ss.cert_pem());
    for name in ["pbx.local", "192.0.2.1"] {
        let out = f.verify(&chain, name, &[]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stdout(&out));
        assert!(
            stdout(&out).contains("uploaded certificate"),
            "{}",
            stdout(&out)
        );
    }
}

#[test]
fn usage_errors_are_not_verification_results() {
    let f = Fixture::new();
    let missing = Path::new(&f.trusted())
        .join("nope.pem")
        .display()
        .to_string();
    let out = f.verify(&missing, "a", &[]);
    assert_ne!(out.status.code(), Some(0));
    assert!(!stdout(&out).starts_with("verified"));
    let out = f.verify(&missing, "a", &["--strict"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "--strict needs --sip (clap usage error)"
    );
    let out = f.verify(&missing, "a", &["--at", "yesterday"]);
    assert_eq!(out.status.code(), Some(2));
}
