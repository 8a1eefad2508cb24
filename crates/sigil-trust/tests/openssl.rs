//! Certificates made with the `openssl` command line, checked by our verifier;
//! and real TLS: a rustls client with our verifier against `openssl s_server` on 127.0.0.1.

use std::io::ErrorKind;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use sigil_testkit::openssl::{run_ok, SServer};
use sigil_testkit::{peer, Peer};
use sigil_trust::{
    parse_file, CertRole, CertSummary, ExpectedName, NameCheck, ServerVerifier, TrustStore,
    Verification, VerifyError,
};
use time::OffsetDateTime;

/// An openssl-made PKI in a temporary directory.
struct OpensslPki {
    bin: PathBuf,
    dir: tempfile::TempDir,
}

const CONFIG: &str = "\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
default_ca = ca_default
[ca_default]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = policy_any
unique_subject = no
email_in_dn = no
[policy_any]
commonName = supplied
organizationName = optional
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
";

impl OpensslPki {
    fn new(bin: PathBuf) -> Self {
        let pki = OpensslPki {
            bin,
            dir: tempfile::tempdir().expect("tempdir"),
        };
        std::fs::write(pki.path("openssl.cnf"), CONFIG).unwrap();
        std::fs::write(pki.path("index.txt"), "").unwrap();
        std::fs::write(pki.path("serial"), "1000\n").unwrap();
        pki
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, args: &[&str]) {
        run_ok(
            Command::new(&self.bin)
                .args(args)
                .current_dir(self.dir.path())
                .env("OPENSSL_CONF", self.path("openssl.cnf")),
        );
    }

    fn key(&self, name: &str, alg: &str) {
        let key = format!("{name}.key");
        match alg {
            "rsa" => self.run(&[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                &key,
            ]),
            curve => self.run(&[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                &format!("ec_paramgen_curve:{curve}"),
                "-out",
                &key,
            ]),
        }
    }

    /// A self-signed root CA.
    fn root(&self, name: &str, cn: &str, alg: &str) {
        let pem = format!("{name}.pem");
        let self_signed = [
            "-x509",
            "-days",
            "3650",
            "-extensions",
            "v3_ca",
            "-out",
            &pem,
        ];
        self.req(name, cn, alg, &self_signed);
    }

    fn csr(&self, name: &str, cn: &str, alg: &str) {
        self.req(name, cn, alg, &["-out", &format!("{name}.csr")]);
    }

    /// A new `alg` key `{name}.key`, then `openssl req -new` for it with `extra` options.
    fn req(&self, name: &str, cn: &str, alg: &str, extra: &[&str]) {
        self.key(name, alg);
        let (key, subject) = (format!("{name}.key"), format!("/O=OpenSSL Test/CN={cn}"));
        let req = ["req", "-new", "-config", "openssl.cnf", "-key", &key];
        self.run(&[&req[..], &["-subj", &subject], extra].concat());
    }

    /// An intermediate CA signed by `issuer`.
    fn intermediate(&self, name: &str, cn: &str, issuer: &str) {
        self.csr(name, cn, "P-256");
        let ca = ["-extfile", "openssl.cnf", "-extensions", "v3_ca"];
        self.sign(name, issuer, "1825", &ca);
    }

    /// `openssl x509 -req`: `{name}.csr` signed by `issuer` into `{name}.pem`,
    /// valid `days`, with the extensions that `ext` (options) names.
    fn sign(&self, name: &str, issuer: &str, days: &str, ext: &[&str]) {
        let (csr, out) = (format!("{name}.csr"), format!("{name}.pem"));
        let (ca, ca_key) = (format!("{issuer}.pem"), format!("{issuer}.key"));
        let mut args = vec!["x509", "-req", "-in", &csr, "-CA", &ca, "-CAkey", &ca_key];
        args.extend(["-CAcreateserial", "-days", days]);
        args.extend_from_slice(ext);
        args.extend(["-out", &out]);
        self.run(&args);
    }

    fn leaf_ext(&self, name: &str, san: &str, eku: &str) -> String {
        let ext = format!("{name}.ext");
        std::fs::write(
            self.path(&ext),
            format!(
                "basicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature,keyEncipherment\n\
                 extendedKeyUsage = {eku}\nsubjectAltName = {san}\nsubjectKeyIdentifier = hash\n\
                 authorityKeyIdentifier = keyid\n"
            ),
        )
        .unwrap();
        ext
    }

    /// A leaf signed by `issuer`, valid for `days`.
    fn leaf(&self, name: &str, cn: &str, issuer: &str, san: &str, eku: &str, days: u32) {
        self.csr(name, cn, "P-256");
        let ext = self.leaf_ext(name, san, eku);
        self.sign(name, issuer, &days.to_string(), &["-extfile", &ext]);
    }

    /// A leaf with a key of `alg` (`rsa` or a curve name), valid 30 days.
    fn leaf_with_key(&self, name: &str, cn: &str, issuer: &str, san: &str, alg: &str) {
        self.csr(name, cn, alg);
        let ext = self.leaf_ext(name, san, "serverAuth");
        self.sign(name, issuer, "30", &["-extfile", &ext]);
    }

    /// A leaf with explicit dates, via `openssl ca` (dates as YYYYMMDDHHMMSSZ).
    fn leaf_dated(&self, name: &str, cn: &str, issuer: &str, san: &str, start: &str, end: &str) {
        self.csr(name, cn, "P-256");
        let ext = self.leaf_ext(name, san, "serverAuth");
        self.run(&[
            "ca",
            "-batch",
            "-config",
            "openssl.cnf",
            "-cert",
            &format!("{issuer}.pem"),
            "-keyfile",
            &format!("{issuer}.key"),
            "-in",
            &format!("{name}.csr"),
            "-notext",
            "-startdate",
            start,
            "-enddate",
            end,
            "-extfile",
            &ext,
            "-out",
            &format!("{name}.pem"),
        ]);
    }

    /// A self-signed server certificate the way installers make them:
    /// `openssl req -x509` with the distribution's default configuration.
    fn self_signed_like_an_installer(&self, name: &str, cn: &str, san: &str) {
        run_ok(
            Command::new(&self.bin)
                .args([
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-keyout",
                    &format!("{name}.key"),
                    "-out",
                    &format!("{name}.pem"),
                    "-days",
                    "30",
                    "-subj",
                    &format!("/CN={cn}"),
                    "-addext",
                    &format!("subjectAltName={san}"),
                ])
                .current_dir(self.dir.path())
                .env_remove("OPENSSL_CONF"),
        );
    }

    fn pem(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(&format!("{name}.pem"))).unwrap()
    }

    fn certs(&self, names: &[&str]) -> Vec<CertificateDer<'static>> {
        names
            .iter()
            .flat_map(|n| parse_file(&self.pem(n)).expect("openssl PEM loads"))
            .collect()
    }

    fn store(&self, anchors: &[&str]) -> TrustStore {
        let mut builder = TrustStore::builder().builtin(false);
        for name in anchors {
            builder = builder.user_bytes(&format!("{name}.pem"), &self.pem(name));
        }
        builder.build()
    }
}

/// The whole openssl-made PKI most tests use.
fn standard_pki(bin: PathBuf) -> OpensslPki {
    let pki = OpensslPki::new(bin);
    pki.root("root", "OpenSSL Root", "rsa");
    pki.intermediate("inter", "OpenSSL Intermediate", "root");
    pki.leaf(
        "server",
        "server.test",
        "inter",
        "DNS:server.test,IP:127.0.0.1",
        "serverAuth",
        365,
    );
    pki
}

fn now() -> UnixTime {
    UnixTime::now()
}

#[test]
fn openssl_made_certificates_verify_as_expected() {
    let Some(bin) = peer(Peer::Openssl) else {
        return;
    };
    let pki = standard_pki(bin);
    pki.leaf(
        "wild",
        "*.wild.test",
        "inter",
        "DNS:*.wild.test",
        "serverAuth",
        365,
    );
    pki.leaf(
        "ip",
        "127.0.0.1",
        "inter",
        "IP:127.0.0.1",
        "serverAuth",
        365,
    );
    pki.leaf(
        "sip",
        "sip.test",
        "inter",
        "URI:sip:sip.test,DNS:*.sip.test",
        "serverAuth",
        365,
    );
    pki.leaf(
        "short",
        "short.test",
        "inter",
        "DNS:short.test",
        "serverAuth",
        1,
    );
    pki.leaf(
        "client",
        "device",
        "inter",
        "DNS:device.test",
        "clientAuth",
        365,
    );
    pki.leaf_dated(
        "expired",
        "expired.test",
        "inter",
        "DNS:expired.test",
        "20200101000000Z",
        "20210101000000Z",
    );
    pki.leaf_dated(
        "future",
        "future.test",
        "inter",
        "DNS:future.test",
        "20400101000000Z",
        "20410101000000Z",
    );
    pki.csr("badku", "badku.test", "P-256");
    std::fs::write(
        pki.path("badku.ext"),
        "basicConstraints = CA:FALSE\nkeyUsage = critical,cRLSign\nsubjectAltName = DNS:badku.test\n",
    )
    .unwrap();
    pki.run(&[
        "x509",
        "-req",
        "-in",
        "badku.csr",
        "-CA",
        "inter.pem",
        "-CAkey",
        "inter.key",
        "-CAcreateserial",
        "-days",
        "30",
        "-extfile",
        "badku.ext",
        "-out",
        "badku.pem",
    ]);
    let store = pki.store(&["root"]);
    let check =
        |leaf: &str, name: ExpectedName| store.verify(&pki.certs(&[leaf, "inter"]), &name, now());

    let v = check("server", ExpectedName::Dns("server.test".into())).expect("chain verifies");
    assert_eq!(v.path_len, 3);
    assert!(v.anchor_subject.contains("OpenSSL Root"));
    assert!(check("server", ExpectedName::host("127.0.0.1")).is_ok());
    assert!(check("wild", ExpectedName::Dns("a.wild.test".into())).is_ok());
    assert!(matches!(
        check("wild", ExpectedName::Dns("a.b.wild.test".into())),
        Err(VerifyError::NameMismatch { .. })
    ));
    assert!(matches!(
        check("wild", ExpectedName::sip("pbx.wild.test", true)),
        Err(VerifyError::NameMismatch { .. })
    ));
    assert!(check("wild", ExpectedName::sip("pbx.wild.test", false)).is_ok());
    assert_eq!(
        check("ip", ExpectedName::host("127.0.0.1"))
            .unwrap()
            .matched,
        "IP:127.0.0.1"
    );
    assert!(check("ip", ExpectedName::host("127.0.0.2")).is_err());
    assert_eq!(
        check("sip", ExpectedName::sip("sip.test", true))
            .unwrap()
            .matched,
        "URI:sip:sip.test"
    );
    assert!(
        check("sip", ExpectedName::sip("pbx.sip.test", false)).is_err(),
        "sip: URIs come first"
    );
    let later = sigil_trust::unix_time(OffsetDateTime::now_utc() + time::Duration::days(10));
    assert!(matches!(
        store.verify(
            &pki.certs(&["short", "inter"]),
            &ExpectedName::Dns("short.test".into()),
            later
        ),
        Err(VerifyError::Expired {
            role: CertRole::Server,
            ..
        })
    ));
    match check("expired", ExpectedName::Dns("expired.test".into())) {
        Err(VerifyError::Expired { not_after, .. }) => {
            assert_eq!(not_after.unix_timestamp(), 1_609_459_200) // 2021-01-01T00:00:00Z
        }
        other => panic!("expected Expired, got {other:?}"),
    }
    assert!(matches!(
        check("future", ExpectedName::Dns("future.test".into())),
        Err(VerifyError::NotYetValid { .. })
    ));
    assert!(matches!(
        check("client", ExpectedName::Dns("device.test".into())),
        Err(VerifyError::WrongUsage { .. })
    ));
    assert!(matches!(
        check("badku", ExpectedName::Dns("badku.test".into())),
        Err(VerifyError::WrongUsage { .. })
    ));
    // the intermediate missing from the store and from the chain: upload the intermediate
    match store.verify(
        &pki.certs(&["server"]),
        &ExpectedName::Dns("server.test".into()),
        now(),
    ) {
        Err(VerifyError::UnknownIssuer { issuer, .. }) => {
            assert_eq!(issuer, "O=OpenSSL Test, CN=OpenSSL Intermediate")
        }
        other => panic!("expected UnknownIssuer, got {other:?}"),
    }
}

#[test]
fn openssl_req_x509_self_signed_ca_true_is_trusted_when_uploaded() {
    let Some(bin) = peer(Peer::Openssl) else {
        return;
    };
    let pki = OpensslPki::new(bin);
    pki.self_signed_like_an_installer("selfsigned", "pbx.local", "DNS:pbx.local,IP:127.0.0.1");
    let summary = CertSummary::parse(&pki.certs(&["selfsigned"])[0], 0).unwrap();
    assert!(
        summary.is_ca,
        "openssl req -x509 marks it CA:TRUE (this is the case SPEC TS2 is about)"
    );
    let store = pki.store(&["selfsigned"]);
    let v = store
        .verify(
            &pki.certs(&["selfsigned"]),
            &ExpectedName::Dns("pbx.local".into()),
            now(),
        )
        .expect("exact match");
    assert!(v.exact_match);
    let empty = pki.store(&[]);
    assert!(empty
        .verify(
            &pki.certs(&["selfsigned"]),
            &ExpectedName::Dns("pbx.local".into()),
            now()
        )
        .is_err());
}

#[test]
fn unsupported_algorithm_p521_is_named() {
    let Some(bin) = peer(Peer::Openssl) else {
        return;
    };
    let pki = OpensslPki::new(bin);
    pki.root("root521", "P-521 Root", "P-521");
    pki.leaf(
        "leaf521",
        "p521.test",
        "root521",
        "DNS:p521.test",
        "serverAuth",
        30,
    );
    let store = pki.store(&["root521"]);
    match store.verify(
        &pki.certs(&["leaf521"]),
        &ExpectedName::Dns("p521.test".into()),
        now(),
    ) {
        Err(VerifyError::UnsupportedAlgorithm { .. }) => {}
        other => panic!("expected UnsupportedAlgorithm, got {other:?}"),
    }
}

// ---- real TLS against openssl s_server ----

/// `openssl s_server -quiet` on `{cert}.pem` and `{cert}.key`, sending `{chain}.pem` as the chain.
fn s_server(pki: &OpensslPki, cert: &str, chain: Option<&str>, extra: &[&str]) -> SServer {
    let chain = chain.map(|name| format!("{name}.pem"));
    let mut args = vec!["-quiet"];
    if let Some(chain) = &chain {
        args.extend(["-cert_chain", chain.as_str()]);
    }
    args.extend_from_slice(extra);
    let (cert, key) = (format!("{cert}.pem"), format!("{cert}.key"));
    SServer::start(&pki.bin, pki.dir.path(), &cert, &key, &args)
}

/// Runs a handshake; returns the rustls error if it failed.
fn handshake(
    server: &SServer,
    verifier: Arc<ServerVerifier>,
    name: &str,
) -> Result<(), rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    let server_name = ServerName::try_from(name.to_owned()).unwrap();
    let mut conn = rustls::ClientConnection::new(Arc::new(config), server_name).unwrap();
    let mut sock = TcpStream::connect_timeout(&server.addr, Duration::from_secs(5)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for _ in 0..100 {
        if !conn.is_handshaking() {
            return Ok(());
        }
        if let Err(e) = conn.complete_io(&mut sock) {
            if let Some(tls) = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            {
                return Err(tls.clone());
            }
            assert_ne!(e.kind(), ErrorKind::WouldBlock, "handshake timed out");
            panic!("I/O error during handshake: {e}");
        }
    }
    panic!("handshake did not finish in 100 rounds");
}

fn verifier(store: TrustStore, check: NameCheck) -> Arc<ServerVerifier> {
    Arc::new(ServerVerifier::new(Arc::new(store), check))
}

#[test]
fn real_tls_against_openssl_s_server() {
    let Some(bin) = peer(Peer::Openssl) else {
        return;
    };
    let pki = standard_pki(bin);
    pki.leaf_dated(
        "expired",
        "expired.test",
        "inter",
        "DNS:expired.test",
        "20200101000000Z",
        "20210101000000Z",
    );
    pki.self_signed_like_an_installer("selfsigned", "pbx.local", "DNS:pbx.local");

    // trusted chain (TLS 1.3 and TLS 1.2) → completes, verified
    let server = s_server(&pki, "server", Some("inter"), &[]);
    let v = verifier(pki.store(&["root"]), NameCheck::Host);
    handshake(&server, v.clone(), "server.test").expect("trusted chain completes");
    assert!(matches!(
        v.last_verification(),
        Some(Verification::Verified(_))
    ));
    handshake(&server, v.clone(), "127.0.0.1").expect("IP SAN completes");
    let server12 = s_server(&pki, "server", Some("inter"), &["-tls1_2"]);
    handshake(&server12, v.clone(), "server.test").expect("TLS 1.2 completes");

    // wrong name → NameMismatch
    let err = handshake(&server, v.clone(), "other.test").expect_err("wrong name fails");
    match VerifyError::from_tls_error(&err) {
        Some(VerifyError::NameMismatch {
            expected,
            presented,
            ..
        }) => {
            assert_eq!(expected, "DNS name other.test");
            assert_eq!(
                presented,
                &vec!["DNS:server.test".to_string(), "IP:127.0.0.1".to_string()]
            );
        }
        other => panic!("expected NameMismatch, got {other:?} from {err}"),
    }
    assert!(matches!(
        v.last_verification(),
        Some(Verification::Failed(VerifyError::NameMismatch { .. }))
    ));

    // unknown issuer → names the root to upload
    let stranger = verifier(pki.store(&[]), NameCheck::Host);
    let err = handshake(&server, stranger, "server.test").expect_err("unknown issuer fails");
    match VerifyError::from_tls_error(&err) {
        Some(VerifyError::UnknownIssuer { issuer, .. }) => {
            assert_eq!(issuer, "O=OpenSSL Test, CN=OpenSSL Root")
        }
        other => panic!("expected UnknownIssuer, got {other:?}"),
    }

    // expired → Expired with the dates
    let old = s_server(&pki, "expired", Some("inter"), &[]);
    let err = handshake(&old, v.clone(), "expired.test").expect_err("expired fails");
    assert!(matches!(
        VerifyError::from_tls_error(&err),
        Some(VerifyError::Expired {
            role: CertRole::Server,
            ..
        })
    ));

    // uploaded self-signed (CA:TRUE from openssl req -x509) → completes
    let ss = s_server(&pki, "selfsigned", None, &[]);
    let v_ss = verifier(pki.store(&["selfsigned"]), NameCheck::Sip { strict: true });
    handshake(&ss, v_ss.clone(), "pbx.local").expect("uploaded self-signed completes");
    match v_ss.last_verification() {
        Some(Verification::Verified(verified)) => assert!(verified.exact_match),
        other => panic!("{other:?}"),
    }

    // a fixed identity: SNI/connect name differs from the SIP domain being checked
    let fixed = verifier(
        pki.store(&["root"]),
        NameCheck::Expect(ExpectedName::sip("server.test", true)),
    );
    handshake(&server, fixed.clone(), "proxy.elsewhere.test").expect("checks the fixed identity");
    assert!(fixed.last_verification().is_some_and(|v| v.is_verified()));

    // an RSA server key over TLS 1.2 (RSA handshake signatures)
    pki.leaf_with_key("rsaserver", "rsa.test", "inter", "DNS:rsa.test", "rsa");
    let rsa12 = s_server(&pki, "rsaserver", Some("inter"), &["-tls1_2"]);
    handshake(&rsa12, v.clone(), "rsa.test").expect("RSA server over TLS 1.2 completes");

    // validation off → completes, and says "not verified"
    let off = Arc::new(
        ServerVerifier::new(Arc::new(pki.store(&[])), NameCheck::Host).dangerous_no_validation(),
    );
    assert!(!off.is_validating());
    handshake(&server, off.clone(), "wrong.name.test").expect("validation off completes");
    let outcome = off.last_verification().expect("an outcome");
    assert!(!outcome.is_verified());
    assert_eq!(outcome.status(), "encrypted, server not verified");
    assert!(outcome.to_string().contains("not verified"));
    assert!(matches!(
        outcome,
        Verification::NotVerified {
            would_have_failed: Some(VerifyError::UnknownIssuer { .. })
        }
    ));
}

#[test]
fn openssl_made_files_in_the_user_folder() {
    let Some(bin) = peer(Peer::Openssl) else {
        return;
    };
    let pki = standard_pki(bin);
    let trusted = pki.path("trusted");
    std::fs::create_dir(&trusted).unwrap();
    let t = |name: &str| trusted.join(name).display().to_string();
    std::fs::copy(pki.path("root.pem"), t("root.pem")).unwrap();
    pki.run(&[
        "x509",
        "-in",
        "inter.pem",
        "-outform",
        "DER",
        "-out",
        &t("inter.cer"),
    ]);
    pki.run(&[
        "x509",
        "-in",
        "root.pem",
        "-trustout",
        "-addtrust",
        "serverAuth",
        "-out",
        &t("trusted.pem"),
    ]);
    pki.run(&[
        "pkcs12",
        "-export",
        "-in",
        "server.pem",
        "-inkey",
        "server.key",
        "-passout",
        "pass:x",
        "-out",
        &t("server.p12"),
    ]);
    std::fs::copy(pki.path("server.key"), t("server.key")).unwrap();
    pki.run(&["ec", "-in", "server.key", "-out", &t("legacy-ec.key")]);
    pki.run(&[
        "pkey",
        "-in",
        "server.key",
        "-aes256",
        "-passout",
        "pass:x",
        "-out",
        &t("encrypted.key"),
    ]);
    pki.run(&[
        "crl2pkcs7",
        "-nocrl",
        "-certfile",
        "root.pem",
        "-out",
        &t("bundle.p7b"),
    ]);
    let store = TrustStore::builder()
        .builtin(false)
        .user_dir(&trusted)
        .unwrap()
        .build();
    let listing = store.listing();
    let reason = |name: &str| {
        listing
            .refused
            .iter()
            .find(|r| r.path.ends_with(name))
            .map(|r| r.reason.clone())
            .unwrap_or_else(|| panic!("{name} was not refused: {:#?}", listing.refused))
    };
    assert_eq!(reason("server.key"), sigil_trust::RefuseReason::PrivateKey);
    assert_eq!(
        reason("legacy-ec.key"),
        sigil_trust::RefuseReason::PrivateKey
    );
    assert_eq!(
        reason("encrypted.key"),
        sigil_trust::RefuseReason::PrivateKey
    );
    for (file, hint) in [
        ("server.p12", "PKCS#12"),
        ("trusted.pem", "TRUSTED CERTIFICATE"),
        ("bundle.p7b", "PKCS#7"),
    ] {
        match reason(file) {
            sigil_trust::RefuseReason::NotCertificate { found } => {
                assert!(found.contains(hint), "{file}: {found}")
            }
            other => panic!("{file}: {other:?}"),
        }
    }
    assert_eq!(
        listing.anchors.len(),
        2,
        "root.pem and inter.cer: {:#?}",
        listing.anchors
    );
    assert!(store
        .verify(
            &pki.certs(&["server"]),
            &ExpectedName::Dns("server.test".into()),
            now()
        )
        .is_ok());
}
