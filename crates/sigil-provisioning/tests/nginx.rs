//! Acceptance tests against a real nginx (SPEC P2–P6): HTTPS with a minted
//! server certificate, `ssl_verify_client on` with the vendor chain, files
//! per device, per model and generic; validation on and off; no identity;
//! `.md5`; invalid files; http; redirects; size limit.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::ResolvesClientCert;
use sigil_identity::mint::{mint_device, mint_server, DeviceRequest, ServerRequest, VendorCa};
use sigil_identity::{FactoryPartition, IdentitySet, Mac, UserStore};
use sigil_provisioning::apply::{ApplyError, ConfigStore};
use sigil_provisioning::download::{
    fetch_and_apply, ChannelSecurity, DownloadError, DownloadOptions, HttpsClient, Md5Check,
    ProvisionError, SearchPlan,
};
use sigil_provisioning::values::ProvServer;
use sigil_provisioning::Settings;
use sigil_testkit::nginx::{mtls_server, Nginx};
use sigil_testkit::pki::{LeafSpec, TestCa};
use sigil_testkit::{free_port, wait_for_tcp, ChildGuard, Peer};
use sigil_trust::{TrustStore, VerifyError};

const MAC: &str = "00:08:ee:12:34:56";
const MODEL: &str = "8301";
const DEVICE_FILE: &str = "algom0008ee123456.conf";
const MODEL_FILE: &str = "algop8301.conf";
const GENERIC_FILE: &str = "algop.conf";

/// Which server certificate nginx presents.
enum ServerCert {
    /// Minted by the vendor intermediate (in the device's trust store).
    Vendor,
    /// Minted by the vendor for another name than the one the device connects to.
    WrongName,
    /// From an unrelated CA: "Other Test Root" → "Other Test Intermediate" (the chain nginx sends).
    Foreign,
}

struct Lab {
    _dir: tempfile::TempDir,
    root: PathBuf,
    www: PathBuf,
    https_port: u16,
    http_port: u16,
    vendor: VendorCa,
    _nginx: Nginx,
}

impl Lab {
    fn start(server_cert: ServerCert) -> Option<Lab> {
        let nginx = sigil_testkit::peer(Peer::Nginx)?;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_owned();
        let www = root.join("www");
        std::fs::create_dir_all(&www).unwrap();
        let vendor = VendorCa::generate("Sigil Test Vendor").unwrap();
        std::fs::write(root.join("vendor-chain.pem"), vendor.chain_pem()).unwrap();
        let (cert_pem, key_pem) = match server_cert {
            ServerCert::Vendor => {
                let minted = mint_server(&vendor, &ServerRequest::new(["127.0.0.1"])).unwrap();
                (minted.full_chain_pem(), minted.key_pem().to_owned())
            }
            ServerCert::WrongName => {
                let minted =
                    mint_server(&vendor, &ServerRequest::new(["prov.example.com"])).unwrap();
                (minted.full_chain_pem(), minted.key_pem().to_owned())
            }
            ServerCert::Foreign => {
                let other = TestCa::root("Other Test Root");
                let inter = other.intermediate("Other Test Intermediate");
                let leaf =
                    inter.leaf(&LeafSpec::server("127.0.0.1").ip("127.0.0.1".parse().unwrap()));
                (leaf.chain_pem(), leaf.key_pem())
            }
        };
        std::fs::write(root.join("server.pem"), cert_pem).unwrap();
        std::fs::write(root.join("server.key"), key_pem).unwrap();
        let https_port = free_port();
        let http_port = free_port();
        let d = root.display();
        let redirects = format!(
            "    location = /moved/algop.conf {{ return 302 http://127.0.0.1:{http_port}/algop.conf; }}\n\
             location = /moved-tls/algop.conf {{ return 302 https://127.0.0.1:{https_port}/algop.conf; }}\n\
             location = /stop/algom0008ee123456.conf {{ return 503; }}\n"
        );
        let servers = format!(
            "{}  server {{ listen 127.0.0.1:{http_port}; root {d}/www; }}\n",
            mtls_server(&root, https_port, &redirects)
        );
        let guard = Nginx::start(&nginx, &root, &servers, &[https_port, http_port]);
        Some(Lab {
            _dir: dir,
            root,
            www,
            https_port,
            http_port,
            vendor,
            _nginx: guard,
        })
    }

    fn put(&self, name: &str, text: &str) {
        std::fs::write(self.www.join(name), text).unwrap();
    }

    fn remove(&self, name: &str) {
        std::fs::remove_file(self.www.join(name)).unwrap();
    }

    /// A device whose factory identity comes from another vendor (nginx does not trust it).
    fn foreign_device(&self) -> Device {
        let device = self.device(false);
        let other = VendorCa::generate("Other Vendor").unwrap();
        mint_device(&other, &DeviceRequest::new(Mac::parse(MAC).unwrap()))
            .unwrap()
            .write_factory(&device.factory)
            .unwrap();
        device
    }

    /// A device: factory partition with a minted identity, empty user store.
    fn device(&self, with_identity: bool) -> Device {
        let dir = self.root.join(format!("device-{}", free_port()));
        let factory = dir.join("factory");
        let user = dir.join("user");
        std::fs::create_dir_all(&factory).unwrap();
        std::fs::create_dir_all(user.join("certs/trusted")).unwrap();
        if with_identity {
            let minted =
                mint_device(&self.vendor, &DeviceRequest::new(Mac::parse(MAC).unwrap())).unwrap();
            minted.write_factory(&factory).unwrap();
        }
        Device {
            factory,
            user,
            vendor_chain: self.vendor.chain_pem(),
        }
    }

    fn https(&self, path: &str) -> ProvServer {
        format!("https://127.0.0.1:{}{path}", self.https_port)
            .parse()
            .unwrap()
    }

    fn http(&self, path: &str) -> ProvServer {
        format!("http://127.0.0.1:{}{path}", self.http_port)
            .parse()
            .unwrap()
    }
}

struct Device {
    factory: PathBuf,
    user: PathBuf,
    vendor_chain: String,
}

impl Device {
    fn store(&self) -> ConfigStore {
        ConfigStore::new(&self.user)
    }

    fn tls(&self, validate: bool) -> HttpsClient {
        let trust = TrustStore::builder()
            .builtin(false)
            .vendor_bytes("vendor-chain.pem", self.vendor_chain.as_bytes())
            .unwrap()
            .user_dir(&self.user.join("certs/trusted"))
            .unwrap()
            .build();
        let identities = IdentitySet::load(
            &FactoryPartition::new(&self.factory),
            &UserStore::new(&self.user),
        );
        let resolver: Arc<dyn ResolvesClientCert> = identities.client_resolver();
        HttpsClient::new(Arc::new(trust), validate, Some(resolver)).unwrap()
    }

    fn provision(
        &self,
        server: &ProvServer,
        validate: bool,
        options: &DownloadOptions,
    ) -> Result<sigil_provisioning::download::Provisioned, ProvisionError> {
        let settings = self.store().load().unwrap().settings;
        let plan = SearchPlan::new(&settings, Some(server), Some(MAC), Some(MODEL)).unwrap();
        fetch_and_apply(&self.store(), &plan, Some(&self.tls(validate)), options)
    }

    fn config_bytes(&self) -> Option<Vec<u8>> {
        std::fs::read(self.store().path()).ok()
    }

    /// Seeds a known configuration, provisions from `server` with validation
    /// on, expects the attempt to fail, and checks that the configuration is
    /// byte for byte what it was; returns the failure for the caller to judge.
    fn provision_refused(&self, server: &ProvServer) -> ProvisionError {
        let before = self.seed();
        let err = self
            .provision(server, true, &DownloadOptions::default())
            .expect_err("provisioning must fail");
        assert_eq!(
            self.config_bytes().unwrap(),
            before,
            "a failed provisioning changed the configuration"
        );
        err
    }

    /// Puts a known configuration in place, so "unchanged" can be checked.
    fn seed(&self) -> Vec<u8> {
        self.store()
            .apply(
                "seed.conf",
                b"# seeded\nsip.u1.dname = Seed\nsip.u1.pwd = seed-secret\n",
                Default::default(),
            )
            .unwrap();
        self.config_bytes().unwrap()
    }
}

fn dname(device: &Device) -> String {
    device.store().load().unwrap().settings.sip_u1_dname
}

#[test]
fn mutual_tls_search_order_device_then_model_then_generic() {
    let Some(lab) = Lab::start(ServerCert::Vendor) else {
        return;
    };
    lab.put(
        DEVICE_FILE,
        "sip.u1.dname = Device file\nsip.u1.pwd = per-device-secret\n",
    );
    lab.put(MODEL_FILE, "sip.u1.dname = Model file\n");
    lab.put(GENERIC_FILE, "sip.u1.dname = Generic file\n");
    let device = lab.device(true);
    let options = DownloadOptions::default();
    let server = lab.https("/");

    let done = device.provision(&server, true, &options).unwrap();
    assert_eq!(
        done.fetched.url,
        format!("https://127.0.0.1:{}/{DEVICE_FILE}", lab.https_port)
    );
    assert!(
        done.fetched.security.is_verified(),
        "{}",
        done.fetched.security
    );
    assert!(done.fetched.tried.is_empty());
    assert_eq!(dname(&device), "Device file");
    let shown: Vec<String> = done
        .report
        .changes
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        shown.contains(&"+ sip.u1.pwd = ********".to_owned()),
        "{shown:?}"
    );
    assert!(!format!("{done:?}").contains("per-device-secret"));

    lab.remove(DEVICE_FILE);
    let done = device.provision(&server, true, &options).unwrap();
    assert!(done.fetched.url.ends_with(MODEL_FILE));
    assert_eq!(done.fetched.tried.len(), 1);
    assert_eq!(done.fetched.tried[0].status, 404);
    assert_eq!(dname(&device), "Model file");

    lab.remove(MODEL_FILE);
    let done = device.provision(&server, true, &options).unwrap();
    assert!(done.fetched.url.ends_with(GENERIC_FILE));
    assert_eq!(done.fetched.tried.len(), 2);
    assert_eq!(dname(&device), "Generic file");
    assert_eq!(done.fetched.md5, Md5Check::Absent);
    // The previous configuration is kept as a backup.
    let backup = std::fs::read_to_string(device.store().backup_path()).unwrap();
    assert!(backup.contains("Model file"));

    lab.remove(GENERIC_FILE);
    let before = device.config_bytes();
    let err = device.provision(&server, true, &options).unwrap_err();
    assert!(
        matches!(err, ProvisionError::Download(DownloadError::NotFound { ref tried }) if tried.len() == 3),
        "{err}"
    );
    assert_eq!(device.config_bytes(), before);
}

#[test]
fn untrusted_server_is_refused_with_the_issuer_named() {
    let Some(lab) = Lab::start(ServerCert::Foreign) else {
        return;
    };
    lab.put(GENERIC_FILE, "sip.u1.dname = Should not arrive\n");
    let device = lab.device(true);
    let err = device.provision_refused(&lab.https("/"));
    let text = err.to_string();
    match err {
        ProvisionError::Download(DownloadError::Tls {
            verify: Some(reason),
            ..
        }) => match *reason {
            VerifyError::UnknownIssuer { issuer, .. } => {
                assert!(issuer.contains("Other Test Root"), "{issuer}")
            }
            other => panic!("expected an unknown issuer, got {other:?}"),
        },
        other => panic!("expected an unknown issuer, got {other:?}"),
    }
    assert!(text.contains("Other Test Root"), "{text}");
}

#[test]
fn validation_off_applies_but_says_not_verified() {
    let Some(lab) = Lab::start(ServerCert::Foreign) else {
        return;
    };
    lab.put(GENERIC_FILE, "sip.u1.dname = Unverified\n");
    let device = lab.device(true);
    let done = device
        .provision(&lab.https("/"), false, &DownloadOptions::default())
        .unwrap();
    assert!(!done.fetched.security.is_verified());
    assert_eq!(
        done.fetched.security.status(),
        "encrypted, server not verified"
    );
    assert!(done.fetched.security.to_string().contains("not verified"));
    assert_eq!(dname(&device), "Unverified");
}

#[test]
fn device_without_identity_is_refused_by_nginx() {
    let Some(lab) = Lab::start(ServerCert::Vendor) else {
        return;
    };
    lab.put(GENERIC_FILE, "sip.u1.dname = Should not arrive\n");
    let device = lab.device(false);
    let err = device.provision_refused(&lab.https("/"));
    match &err {
        ProvisionError::Download(DownloadError::ClientCertificateRequired {
            status, page, ..
        }) => {
            assert_eq!(*status, 400);
            assert!(page.contains("No required SSL certificate"), "{page}");
        }
        other => panic!("expected a client-certificate failure, got {other:?}"),
    }
    assert!(
        err.to_string().contains("requires a client certificate"),
        "{err}"
    );
}

#[test]
fn md5_must_match_when_present() {
    let Some(lab) = Lab::start(ServerCert::Vendor) else {
        return;
    };
    let body = "sip.u1.dname = Checked\n";
    lab.put(GENERIC_FILE, body);
    // md5("sip.u1.dname = Checked\n") computed by the system's md5sum.
    let out = Command::new("md5sum")
        .arg(lab.www.join(GENERIC_FILE))
        .output()
        .unwrap();
    let good = String::from_utf8(out.stdout).unwrap();
    let device = lab.device(true);
    let before = device.seed();

    lab.put(
        &format!("{GENERIC_FILE}.md5"),
        "0123456789abcdef0123456789abcdef\n",
    );
    let err = device
        .provision(&lab.https("/"), true, &DownloadOptions::default())
        .unwrap_err();
    assert!(
        matches!(
            err,
            ProvisionError::Download(DownloadError::Md5Mismatch { .. })
        ),
        "{err}"
    );
    assert_eq!(device.config_bytes().unwrap(), before);

    lab.put(&format!("{GENERIC_FILE}.md5"), "NOT-HEX\n");
    let err = device
        .provision(&lab.https("/"), true, &DownloadOptions::default())
        .unwrap_err();
    assert!(
        matches!(
            err,
            ProvisionError::Download(DownloadError::Md5Invalid { .. })
        ),
        "{err}"
    );
    assert_eq!(device.config_bytes().unwrap(), before);

    lab.put(&format!("{GENERIC_FILE}.md5"), &good);
    let done = device
        .provision(&lab.https("/"), true, &DownloadOptions::default())
        .unwrap();
    assert!(matches!(done.fetched.md5, Md5Check::Matched(ref h) if good.starts_with(h.as_str())));
    assert_eq!(dname(&device), "Checked");
}

#[test]
fn invalid_value_on_line_n_is_refused_and_nothing_applied() {
    let Some(lab) = Lab::start(ServerCert::Vendor) else {
        return;
    };
    lab.put(
        GENERIC_FILE,
        "# provisioning file\nsip.u1.dname = Partial\nsip.u1.pwd = leaked?\nsip.tls.version.min = 1.0\n",
    );
    let device = lab.device(true);
    let err = device.provision_refused(&lab.https("/"));
    match &err {
        ProvisionError::Apply(ApplyError::Invalid(errors)) => {
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].line, 4);
            assert!(errors[0].file.ends_with(GENERIC_FILE), "{}", errors[0].file);
            assert!(errors[0].message.contains("RFC 8996"));
        }
        other => panic!("expected an invalid file, got {other:?}"),
    }
    assert!(!err.to_string().contains("leaked"));
    assert_eq!(dname(&device), "Seed");
}

#[test]
fn http_works_but_is_not_encrypted() {
    let Some(lab) = Lab::start(ServerCert::Vendor) else {
        return;
    };
    lab.put(GENERIC_FILE, "sip.u1.dname = Plain\n");
    let device = lab.device(true);
    let done = device
        .provision(&lab.http("/"), true, &DownloadOptions::default())
        .unwrap();
    assert_eq!(done.fetched.security, ChannelSecurity::NotEncrypted);
    assert_eq!(done.fetched.security.status(), "not encrypted");
    assert_eq!(dname(&device), "Plain");
}

#[test]
fn no_redirect_from_https_to_http_but_https_redirects_work() {
    let Some(lab) = Lab::start(ServerCert::Vendor) else {
        return;
    };
    lab.put(GENERIC_FILE, "sip.u1.dname = Redirected\n");
    let device = lab.device(true);
    let before = device.seed();
    let err = device
        .provision(&lab.https("/moved/"), true, &DownloadOptions::default())
        .unwrap_err();
    assert!(
        matches!(
            err,
            ProvisionError::Download(DownloadError::InsecureRedirect { .. })
        ),
        "{err}"
    );
    assert_eq!(device.config_bytes().unwrap(), before);

    let done = device
        .provision(&lab.https("/moved-tls/"), true, &DownloadOptions::default())
        .unwrap();
    assert_eq!(
        done.fetched.url,
        format!("https://127.0.0.1:{}/{GENERIC_FILE}", lab.https_port)
    );
    assert_eq!(dname(&device), "Redirected");
}

#[test]
fn size_limit_refuses_large_files() {
    let Some(lab) = Lab::start(ServerCert::Vendor) else {
        return;
    };
    let big = format!("sip.u1.dname = Big\n{}", "# padding\n".repeat(200));
    lab.put(GENERIC_FILE, &big);
    let device = lab.device(true);
    let options = DownloadOptions {
        max_size: 1000,
        ..DownloadOptions::default()
    };
    let err = device
        .provision(&lab.https("/"), true, &options)
        .unwrap_err();
    assert!(
        matches!(
            err,
            ProvisionError::Download(DownloadError::TooLarge { limit: 1000, .. })
        ),
        "{err}"
    );
    assert!(device.config_bytes().is_none());
}

#[test]
fn connection_refused_is_a_network_error() {
    let device_dir = tempfile::tempdir().unwrap();
    let store = ConfigStore::new(device_dir.path());
    let server: ProvServer = format!("http://127.0.0.1:{}/", free_port())
        .parse()
        .unwrap();
    let plan = SearchPlan::new(&Settings::default(), Some(&server), None, None).unwrap();
    let err = fetch_and_apply(&store, &plan, None, &DownloadOptions::default()).unwrap_err();
    assert!(
        matches!(err, ProvisionError::Download(DownloadError::Network { .. })),
        "{err}"
    );
    assert!(!Path::new(&store.path()).exists());
}

#[test]
fn foreign_client_certificate_is_rejected_by_nginx() {
    let Some(lab) = Lab::start(ServerCert::Vendor) else {
        return;
    };
    lab.put(GENERIC_FILE, "sip.u1.dname = Should not arrive\n");
    let device = lab.foreign_device();
    let err = device.provision_refused(&lab.https("/"));
    assert!(
        matches!(
            err,
            ProvisionError::Download(DownloadError::ClientCertificateRejected { status: 400, .. })
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("rejected this device's client certificate"),
        "{err}"
    );
}

#[test]
fn name_mismatch_is_explained() {
    let Some(lab) = Lab::start(ServerCert::WrongName) else {
        return;
    };
    lab.put(GENERIC_FILE, "sip.u1.dname = Should not arrive\n");
    let device = lab.device(true);
    let err = device.provision_refused(&lab.https("/"));
    let text = err.to_string();
    match err {
        ProvisionError::Download(DownloadError::Tls {
            verify: Some(reason),
            ..
        }) => assert!(
            matches!(*reason, VerifyError::NameMismatch { .. }),
            "{reason:?}"
        ),
        other => panic!("expected a name mismatch, got {other:?}"),
    }
    assert!(
        text.contains("127.0.0.1") && text.contains("prov.example.com"),
        "{text}"
    );
}

#[test]
fn a_silent_server_times_out() {
    use std::net::TcpListener;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accept one connection and say nothing; the thread ends when the test's timeout closes it
    // (bounded: it holds the socket at most 10 s).
    let holder = std::thread::spawn(move || {
        if let Ok((socket, _)) = listener.accept() {
            socket
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut buf = [0u8; 1024];
            let mut socket = socket;
            while let Ok(n) = std::io::Read::read(&mut socket, &mut buf) {
                if n == 0 {
                    break;
                }
            }
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let store = ConfigStore::new(dir.path());
    let server: ProvServer = format!("http://127.0.0.1:{port}/").parse().unwrap();
    let plan = SearchPlan::new(&Settings::default(), Some(&server), None, None).unwrap();
    let options = DownloadOptions {
        request_timeout: Duration::from_millis(300),
        ..DownloadOptions::default()
    };
    let err = fetch_and_apply(&store, &plan, None, &options).unwrap_err();
    assert!(
        matches!(&err, ProvisionError::Download(DownloadError::Network { detail, .. }) if detail.contains("timed out")),
        "{err}"
    );
    assert!(!store.path().exists());
    drop(err);
    holder.join().unwrap();
}

#[test]
fn a_server_error_stops_the_search() {
    let Some(lab) = Lab::start(ServerCert::Vendor) else {
        return;
    };
    // The per-device name answers 503; the generic file exists but must not be used.
    std::fs::create_dir_all(lab.www.join("stop")).unwrap();
    lab.put(&format!("stop/{GENERIC_FILE}"), "sip.u1.dname = Fallback\n");
    let device = lab.device(true);
    let before = device.seed();
    let err = device
        .provision(&lab.https("/stop/"), true, &DownloadOptions::default())
        .unwrap_err();
    assert!(
        matches!(
            err,
            ProvisionError::Download(DownloadError::Http { status: 503, .. })
        ),
        "{err}"
    );
    assert_eq!(device.config_bytes().unwrap(), before);
    assert_eq!(dname(&device), "Seed");
}

/// OpenSSL `s_server -WWW -Verify 1` with TLS 1.3: a server that refuses a
/// missing client certificate with a TLS alert *after* the client finished
/// its handshake (PEERS.md). The refusal must still be explained from the TLS
/// layer, not reported as a bare I/O error.
#[test]
fn tls13_alert_after_the_handshake_is_explained() {
    use std::process::Stdio;
    let Some(openssl) = sigil_testkit::peer(Peer::Openssl) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let vendor = VendorCa::generate("Sigil Test Vendor").unwrap();
    std::fs::write(root.join("vendor-chain.pem"), vendor.chain_pem()).unwrap();
    let server = mint_server(&vendor, &ServerRequest::new(["127.0.0.1"])).unwrap();
    std::fs::write(root.join("server.pem"), &server.cert_pem).unwrap();
    std::fs::write(root.join("chain.pem"), &server.chain_pem).unwrap();
    std::fs::write(root.join("server.key"), server.key_pem()).unwrap();
    std::fs::write(
        root.join(GENERIC_FILE),
        "sip.u1.dname = Should not arrive\n",
    )
    .unwrap();
    let port = free_port();
    let mut child = ChildGuard::spawn(
        Command::new(openssl)
            .current_dir(root)
            .args(["s_server", "-quiet", "-WWW", "-tls1_3", "-Verify", "1"])
            .args(["-accept", &format!("127.0.0.1:{port}")])
            .args([
                "-cert",
                "server.pem",
                "-cert_chain",
                "chain.pem",
                "-key",
                "server.key",
            ])
            .args(["-CAfile", "vendor-chain.pem"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
    .unwrap();
    assert!(wait_for_tcp(
        ([127, 0, 0, 1], port).into(),
        Duration::from_secs(10)
    ));
    assert!(child.exited().is_none());

    // A device without an identity, trusting the vendor chain.
    let user = root.join("user");
    std::fs::create_dir_all(&user).unwrap();
    let device = Device {
        factory: root.join("no-factory"),
        user,
        vendor_chain: vendor.chain_pem(),
    };
    let before = device.seed();
    let url: ProvServer = format!("https://127.0.0.1:{port}/").parse().unwrap();
    let err = device
        .provision(&url, true, &DownloadOptions::default())
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, ProvisionError::Download(DownloadError::Tls { .. })),
        "{err:?}"
    );
    assert!(text.contains("demanded a client certificate"), "{text}");
    assert_eq!(device.config_bytes().unwrap(), before);
}
