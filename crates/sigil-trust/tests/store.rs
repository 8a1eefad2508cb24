//! Loading the user folder and listing the store, with rcgen certificates.

use std::fs;

use sigil_testkit::pki::{self, pem_block, CaSpec, LeafSpec, TestCa};
use sigil_trust::{parse_file, AnchorProblem, Layer, RefuseReason, TrustStore};

fn crlf(text: &str) -> String {
    text.replace('\n', "\r\n")
}

#[test]
fn user_folder_loads_good_files_and_refuses_each_bad_one_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let root = TestCa::root("Folder Root");
    let second = TestCa::root("Second Root");
    let inter = root.intermediate("Folder Intermediate");
    let server = inter.leaf(&LeafSpec::server("pbx.example.com"));
    let self_signed = pki::self_signed(&LeafSpec::server("device.local").ca(true));
    let expired = TestCa::root_with(&CaSpec::new("Expired Root").expired());

    // good: PEM, a CRLF bundle with junk text, DER, odd names
    fs::write(d.join("root.pem"), root.cert().cert_pem()).unwrap();
    fs::write(
        d.join("bundle.crt"),
        crlf(&format!(
            "Bag Attributes: junk that openssl writes\nsubject=/CN=Second Root\n{}some text between\n{}trailing words\n",
            second.cert().cert_pem(),
            inter.cert().cert_pem()
        )),
    )
    .unwrap();
    fs::write(d.join("selfsigned.cer"), &self_signed.cert_der).unwrap();
    fs::write(d.join("no-extension"), expired.cert().cert_pem()).unwrap();
    fs::write(d.join("copy-of-root.txt"), root.cert().cert_pem()).unwrap();
    // bad
    fs::write(d.join("server.key"), server.key_pem()).unwrap();
    fs::write(
        d.join("combined.pem"),
        format!("{}{}", server.cert_pem(), server.key_pem()),
    )
    .unwrap();
    fs::write(d.join("key.der"), &server.key_der).unwrap();
    let pem = root.cert().cert_pem();
    fs::write(d.join("truncated.pem"), &pem[..pem.len() / 2]).unwrap();
    fs::write(d.join("notes.txt"), "call the installer\n").unwrap();
    fs::write(d.join("empty.pem"), "").unwrap();
    fs::write(
        d.join("request.csr"),
        pem_block("CERTIFICATE REQUEST", &[0x30, 0x00]),
    )
    .unwrap();
    fs::write(d.join("broken.der"), &root.cert().cert_der[..100]).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(d.join("does-not-exist"), d.join("dangling.pem")).unwrap();
    fs::create_dir(d.join("subdir")).unwrap();
    fs::write(d.join("subdir/ignored.pem"), root.cert().cert_pem()).unwrap();

    let store = TrustStore::builder()
        .builtin(false)
        .user_dir(d)
        .unwrap()
        .build();
    let listing = store.listing();

    let refused = |name: &str| {
        listing
            .refused
            .iter()
            .find(|r| r.path.ends_with(name))
            .map(|r| r.reason.clone())
            .unwrap_or_else(|| panic!("{name} not refused: {:#?}", listing.refused))
    };
    assert_eq!(refused("server.key"), RefuseReason::PrivateKey);
    assert!(refused("server.key")
        .to_string()
        .contains("belong in certs/"));
    assert_eq!(
        refused("combined.pem"),
        RefuseReason::ContainsPrivateKey { certificates: 1 }
    );
    assert_eq!(refused("key.der"), RefuseReason::PrivateKey);
    assert!(matches!(
        refused("truncated.pem"),
        RefuseReason::TruncatedPem { .. }
    ));
    assert!(matches!(
        refused("notes.txt"),
        RefuseReason::NotCertificate { .. }
    ));
    assert_eq!(refused("empty.pem"), RefuseReason::Empty);
    match refused("request.csr") {
        RefuseReason::NotCertificate { found } => {
            assert!(found.contains("signing request"), "{found}")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        refused("broken.der"),
        RefuseReason::MalformedCertificate { index: 0, .. }
    ));
    #[cfg(unix)]
    assert!(matches!(
        refused("dangling.pem"),
        RefuseReason::Unreadable { .. }
    ));
    // a FIFO must be refused without being opened (opening it would block)
    let fifo = d.join("pipe.pem");
    if std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success())
    {
        let again = TrustStore::builder()
            .builtin(false)
            .user_dir(d)
            .unwrap()
            .build();
        assert!(again
            .refused()
            .iter()
            .any(|r| r.path.ends_with("pipe.pem")
                && matches!(r.reason, RefuseReason::Unreadable { .. })));
    }
    assert_eq!(
        listing.refused.len(),
        8 + usize::from(cfg!(unix)),
        "{:#?}",
        listing.refused
    );

    // anchors: root, second + inter (bundle), self-signed, expired, duplicate root
    let sources: Vec<&str> = listing
        .anchors
        .iter()
        .map(|a| a.source.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(
        sources,
        [
            "bundle.crt",
            "bundle.crt #1",
            "copy-of-root.txt",
            "no-extension",
            "root.pem",
            "selfsigned.cer"
        ]
    );
    assert!(listing.anchors.iter().all(|a| a.layer == Layer::User));
    let by = |name: &str| {
        listing
            .anchors
            .iter()
            .find(|a| a.source.ends_with(name))
            .unwrap()
    };
    assert!(by("no-extension")
        .problems
        .iter()
        .any(|p| matches!(p, AnchorProblem::Expired { .. })));
    // files are read in name order: copy-of-root.txt comes before root.pem
    assert!(matches!(
        by("root.pem").problems.as_slice(),
        [AnchorProblem::Duplicate { of }] if of.ends_with("copy-of-root.txt")
    ));
    assert!(by("bundle.crt").subject.contains("CN=Second Root"));
    assert_eq!(
        by("root.pem").sha256.as_deref(),
        Some(sigil_trust::sha256_hex(&root.cert().cert_der).as_str())
    );

    // the store still works with the good files
    let chain = server.chain();
    assert!(store
        .verify(
            &chain,
            &sigil_trust::ExpectedName::Dns("pbx.example.com".into()),
            rustls_pki_types::UnixTime::now()
        )
        .is_ok());
}

#[test]
fn listing_json_has_the_ts5_fields() {
    let root = TestCa::root("Json Root");
    let store = TrustStore::builder()
        .builtin(true)
        .user_bytes("certs/trusted/root.pem", root.cert().cert_pem().as_bytes())
        .user_bytes("certs/trusted/key.pem", root.cert().key_pem().as_bytes())
        .build();
    let json: serde_json::Value = serde_json::from_str(&store.listing().to_json()).unwrap();
    let anchors = json["anchors"].as_array().unwrap();
    let builtin = &anchors[0];
    assert_eq!(builtin["layer"], "built_in");
    assert_eq!(builtin["source"], "webpki-roots");
    assert!(builtin["sha256"].is_null());
    let user = anchors.iter().find(|a| a["layer"] == "user").unwrap();
    assert_eq!(user["source"], "certs/trusted/root.pem");
    assert!(user["subject"].as_str().unwrap().contains("CN=Json Root"));
    assert_eq!(user["sha256"].as_str().unwrap().len(), 32 * 3 - 1);
    assert!(user["not_before"].as_str().unwrap().ends_with('Z'));
    assert!(user["not_after"].is_string());
    assert_eq!(user["problems"], serde_json::json!([]));
    assert_eq!(json["refused"][0]["path"], "certs/trusted/key.pem");
    assert_eq!(json["refused"][0]["reason"]["reason"], "private_key");
}

#[test]
fn builtin_roots_are_listed_with_readable_subjects() {
    let store = TrustStore::builder().build();
    let listing = store.listing();
    assert_eq!(listing.anchors.len(), webpki_roots::TLS_SERVER_ROOTS.len());
    assert!(listing
        .anchors
        .iter()
        .any(|a| a.subject.contains("ISRG Root X1")));
    assert!(listing.anchors.iter().all(|a| a.layer == Layer::BuiltIn));
}

#[test]
fn missing_user_folder_is_empty_and_vendor_garbage_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = TrustStore::builder()
        .builtin(false)
        .user_dir(&dir.path().join("nope"))
        .unwrap()
        .build();
    assert!(store.is_empty());
    assert!(TrustStore::builder()
        .vendor_bytes("vendor.pem", b"junk")
        .is_err());
}

#[test]
fn crlf_lf_and_junk_give_the_same_certificates() {
    let a = TestCa::root("A");
    let b = TestCa::root("B");
    let lf = format!("{}{}", a.cert().cert_pem(), b.cert().cert_pem());
    let expected = parse_file(lf.as_bytes()).unwrap();
    assert_eq!(expected.len(), 2);
    assert_eq!(parse_file(crlf(&lf).as_bytes()).unwrap(), expected);
    assert_eq!(
        parse_file(format!("junk\n\n{lf}\nmore junk").as_bytes()).unwrap(),
        expected
    );
    assert_eq!(
        parse_file(&a.cert().cert_der).unwrap(),
        vec![a.cert().cert()]
    );
}

#[test]
fn an_anchor_with_an_unknown_critical_extension_is_flagged() {
    use sigil_testkit::pki::rcgen::{
        BasicConstraints, CertificateParams, CustomExtension, DnType, IsCa, KeyPair,
    };
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "Odd Root");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let mut ext =
        CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 55555, 1], vec![0x05, 0x00]);
    ext.set_criticality(true);
    params.custom_extensions.push(ext);
    let cert = params.self_signed(&key).unwrap();
    let store = TrustStore::builder()
        .builtin(false)
        .user_bytes("odd.pem", cert.pem().as_bytes())
        .build();
    let listing = store.listing();
    assert_eq!(
        listing.anchors[0].problems,
        vec![AnchorProblem::UnsupportedCriticalExtension {
            oids: vec!["1.3.6.1.4.1.55555.1".into()]
        }]
    );
    assert!(listing.anchors[0].problems[0]
        .to_string()
        .contains("1.3.6.1.4.1.55555.1"));
}
