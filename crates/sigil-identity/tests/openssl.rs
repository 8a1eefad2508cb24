//! Against OpenSSL: files it makes load, its s_server accepts our client identities,
//! and our device verifier judges its s_client (real TCP on 127.0.0.1).
#![cfg(feature = "mint")]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use rustls::pki_types::ServerName;
use rustls::{ClientConnection, ServerConfig, ServerConnection, StreamOwned};
use sigil_identity::mint::{mint_device, mint_server, DeviceRequest, ServerRequest, VendorCa};
use sigil_identity::{
    ActiveIdentity, DeviceVerifier, FactoryPartition, IdentitySet, Mac, PeerDevice, Refusal,
    UserStore,
};
use sigil_testkit::openssl::{openssl, SServer};
use sigil_testkit::{peer, ChildGuard, Peer};

fn write_vendor(dir: &Path, ca: &VendorCa) -> PathBuf {
    let path = dir.join("vendor");
    ca.write(&path).unwrap();
    path
}

/// Identity files made by `openssl` (SEC1, PKCS#8, PKCS#1 "-traditional" keys;
/// P-256, P-384, RSA 2048 and 4096) load as factory identity and as `sipclient.pem`.
#[test]
fn identity_files_made_by_openssl_load() {
    let Some(bin) = peer(Peer::Openssl) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = vendor("Acme Paging");
    write_vendor(d, &ca);
    std::fs::write(
        d.join("ext.cnf"),
        "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth,serverAuth\n",
    )
    .unwrap();

    let cases: [(&str, &[&str], &str, &str); 5] = [
        (
            "sec1-p256",
            &[
                "ecparam",
                "-name",
                "prime256v1",
                "-genkey",
                "-noout",
                "-out",
                "sec1-p256.key",
            ],
            "EC PRIVATE KEY",
            "ECDSA P-256",
        ),
        (
            "sec1-p384",
            &[
                "ecparam",
                "-name",
                "secp384r1",
                "-genkey",
                "-noout",
                "-out",
                "sec1-p384.key",
            ],
            "EC PRIVATE KEY",
            "ECDSA P-384",
        ),
        (
            "pkcs8-p256",
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                "pkcs8-p256.key",
            ],
            "BEGIN PRIVATE KEY",
            "ECDSA P-256",
        ),
        (
            "pkcs1-rsa2048",
            &[
                "genrsa",
                "-traditional",
                "-out",
                "pkcs1-rsa2048.key",
                "2048",
            ],
            "RSA PRIVATE KEY",
            "RSA 2048",
        ),
        (
            "pkcs8-rsa4096",
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:4096",
                "-out",
                "pkcs8-rsa4096.key",
            ],
            "BEGIN PRIVATE KEY",
            "RSA 4096",
        ),
    ];
    for (name, keygen, marker, key_text) in cases {
        openssl(&bin, d, keygen);
        let key_file = format!("{name}.key");
        assert!(
            std::fs::read_to_string(d.join(&key_file))
                .unwrap()
                .contains(marker),
            "{name}"
        );
        // A CSR with the MAC in the field's upper-case dash spelling, signed by the vendor intermediate.
        openssl(
            &bin,
            d,
            &[
                "req",
                "-new",
                "-key",
                &key_file,
                "-subj",
                "/CN=00-22-EE-01-02-03",
                "-out",
                &format!("{name}.csr"),
            ],
        );
        openssl(
            &bin,
            d,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "vendor/intermediate.pem",
                "-CAkey",
                "vendor/intermediate.key",
                "-days",
                "365",
                "-extfile",
                "ext.cnf",
                "-out",
                &format!("{name}.crt"),
            ],
        );
        let cert = std::fs::read_to_string(d.join(format!("{name}.crt"))).unwrap();
        let key = std::fs::read_to_string(d.join(&key_file)).unwrap();

        // As a factory partition: device.pem (cert + intermediate) and device.key.
        let factory_dir = d.join(format!("{name}-factory"));
        std::fs::create_dir_all(&factory_dir).unwrap();
        std::fs::write(
            factory_dir.join("device.pem"),
            format!("{cert}{}", ca.intermediate_pem()),
        )
        .unwrap();
        std::fs::write(factory_dir.join("device.key"), &key).unwrap();
        let identity = FactoryPartition::new(&factory_dir).load().unwrap().unwrap();
        assert_eq!(identity.certificate().mac, Some(mac()), "{name}");
        assert_eq!(identity.certificate().key, key_text, "{name}");
        assert_eq!(identity.chain().len(), 2, "{name}");

        // As the override: key first, then certificate, in one file.
        let user = UserStore::new(d.join(format!("{name}-user")));
        std::fs::create_dir_all(user.certs_dir()).unwrap();
        std::fs::write(user.sipclient_path(), format!("{key}{cert}")).unwrap();
        let set = IdentitySet::load(&FactoryPartition::new(d.join("none")), &user);
        assert_eq!(
            set.status().active,
            ActiveIdentity::Override,
            "{name}: {}",
            set.status().reason
        );
    }

    // `openssl req -x509` makes CA:TRUE certificates: refused as a device identity, with that reason.
    openssl(
        &bin,
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "selfsigned.key",
            "-subj",
            "/CN=0022ee010203",
            "-days",
            "30",
            "-out",
            "selfsigned.crt",
        ],
    );
    let error = sigil_identity::Identity::from_pem(
        &std::fs::read(d.join("selfsigned.crt")).unwrap(),
        Some(&std::fs::read(d.join("selfsigned.key")).unwrap()),
        "selfsigned.crt",
    )
    .unwrap_err();
    assert_eq!(error.code(), "ca_certificate", "{error}");

    // An encrypted key is named as such.
    openssl(
        &bin,
        d,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-aes256",
            "-pass",
            "pass:secret",
            "-out",
            "enc.key",
        ],
    );
    let error = sigil_identity::Identity::from_pem(
        &std::fs::read(d.join("sec1-p256.crt")).unwrap(),
        Some(&std::fs::read(d.join("enc.key")).unwrap()),
        "enc.key",
    )
    .unwrap_err();
    assert_eq!(error.code(), "encrypted_key", "{error}");
}

/// `openssl s_server -Verify 1 -CAfile chain.pem -www` echoes the client certificate it got.
/// `-verify_return_error` makes it refuse a certificate that does not verify (without it,
/// s_server only notes the verify error and carries on).
fn start_s_server(bin: &Path, dir: &Path, ca_file: &str) -> SServer {
    let args = [
        "-cert_chain",
        "vendor/intermediate.pem",
        "-Verify",
        "1",
        "-verify_return_error",
        "-CAfile",
        ca_file,
        "-www",
    ];
    SServer::start(bin, dir, "server/server.pem", "server/server.key", &args)
}

/// Connects with our client identity, writes a request, then reads (with TLS 1.3 a
/// refused client certificate shows only on the first read). Returns the page or the error.
fn get_page(addr: SocketAddr, ca: &VendorCa, set: &IdentitySet) -> Result<String, std::io::Error> {
    let config = client_config(ca, set.client_resolver());
    let conn = ClientConnection::new(config, ServerName::try_from("localhost").unwrap()).unwrap();
    let sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut tls = StreamOwned::new(conn, sock);
    tls.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
    let mut page = Vec::new();
    let mut chunk = [0u8; 16384];
    for _ in 0..10_000 {
        match tls.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => page.extend_from_slice(&chunk[..n]),
            Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof && !page.is_empty() => {
                break
            }
            Err(error) => return Err(error),
        }
    }
    Ok(String::from_utf8_lossy(&page).into_owned())
}

#[test]
fn our_client_identities_against_openssl_s_server() {
    let Some(bin) = peer(Peer::Openssl) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = vendor("Acme Paging");
    write_vendor(d, &ca);
    mint_server(&ca, &ServerRequest::new(["localhost", "127.0.0.1"]))
        .unwrap()
        .write_server(&d.join("server"))
        .unwrap();
    let factory = factory(&d.join("factory"), &ca, mac());
    let user = UserStore::new(d.join("user"));
    let server = start_s_server(&bin, d, "vendor/chain.pem");
    let addr = server.addr;

    // Factory identity: the server sees CN = MAC.
    let set = IdentitySet::load(&factory, &user);
    assert_eq!(set.status().active, ActiveIdentity::Factory);
    let page = get_page(addr, &ca, &set).unwrap();
    assert!(page.contains("Client certificate"), "{page}");
    assert!(page.contains("Verify return code: 0 (ok)"), "{page}");
    assert!(page.contains("Subject: CN=00:22:ee:01:02:03/"), "{page}");

    // A valid override: the server sees it instead.
    let override_mac = Mac::new([0x00, 0x22, 0xee, 0xaa, 0xbb, 0xcc]);
    mint_device(&ca, &DeviceRequest::new(override_mac))
        .unwrap()
        .write_combined(&user.sipclient_path())
        .unwrap();
    let set = IdentitySet::load(&factory, &user);
    assert_eq!(set.status().active, ActiveIdentity::Override);
    let page = get_page(addr, &ca, &set).unwrap();
    assert!(page.contains("Subject: CN=00:22:ee:aa:bb:cc/"), "{page}");
    assert!(!page.contains("Subject: CN=00:22:ee:01:02:03/"), "{page}");

    // A broken (expired) override: the server sees the factory certificate again.
    expired_device(&ca, override_mac)
        .write_combined(&user.sipclient_path())
        .unwrap();
    let set = IdentitySet::load(&factory, &user);
    assert_eq!(set.status().active, ActiveIdentity::Factory);
    let page = get_page(addr, &ca, &set).unwrap();
    assert!(page.contains("Subject: CN=00:22:ee:01:02:03/"), "{page}");

    // A valid override from another CA (a PBX operator's): the server's acceptable-CA
    // list names only the vendor chain, so the device presents its factory certificate.
    let operator = vendor("Hosted PBX Operator");
    mint_device(&operator, &DeviceRequest::new(override_mac))
        .unwrap()
        .write_combined(&user.sipclient_path())
        .unwrap();
    let set = IdentitySet::load(&factory, &user);
    assert_eq!(set.status().active, ActiveIdentity::Override);
    let page = get_page(addr, &ca, &set).unwrap();
    assert!(page.contains("Subject: CN=00:22:ee:01:02:03/"), "{page}");
    assert!(page.contains("Verify return code: 0 (ok)"), "{page}");
}

#[test]
fn openssl_s_server_of_another_vendor_refuses_our_device() {
    let Some(bin) = peer(Peer::Openssl) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = vendor("Acme Paging");
    write_vendor(d, &ca);
    mint_server(&ca, &ServerRequest::new(["localhost"]))
        .unwrap()
        .write_server(&d.join("server"))
        .unwrap();
    let other = vendor("Other Intercoms");
    let set = IdentitySet::load(
        &factory(&d.join("factory"), &other, mac()),
        &UserStore::new(d.join("user")),
    );
    let server = start_s_server(&bin, d, "vendor/chain.pem");
    let addr = server.addr;
    let error = get_page(addr, &ca, &set).unwrap_err();
    let tls_error = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>());
    assert!(
        matches!(tls_error, Some(rustls::Error::AlertReceived(_))),
        "expected the server's alert, got {error:?}"
    );
}

/// Accepts one connection (bounded wait) and runs the handshake with our device verifier.
fn serve_one(listener: &TcpListener, config: Arc<ServerConfig>) -> Result<PeerDevice, Refusal> {
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut sock = loop {
        match listener.accept() {
            Ok((sock, _)) => break sock,
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "s_client never connected");
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(error) => panic!("accept: {error}"),
        }
    };
    sock.set_nonblocking(false).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut conn = ServerConnection::new(config).unwrap();
    for _ in 0..100 {
        if !conn.is_handshaking() {
            return PeerDevice::from_peer_certificates(conn.peer_certificates());
        }
        match conn.complete_io(&mut sock) {
            Ok((0, 0)) => panic!("s_client closed the connection mid-handshake"),
            Ok(_) => {}
            Err(error) => {
                let tls = error
                    .get_ref()
                    .and_then(|e| e.downcast_ref::<rustls::Error>())
                    .unwrap_or_else(|| panic!("I/O error, not TLS: {error}"));
                return Err(Refusal::from_tls_error(tls)
                    .unwrap_or_else(|| panic!("not a certificate refusal: {tls}")));
            }
        }
    }
    panic!("handshake did not finish");
}

#[test]
fn openssl_s_client_against_our_device_verifier() {
    let Some(bin) = peer(Peer::Openssl) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = vendor("Acme Paging");
    write_vendor(d, &ca);
    mint_device(&ca, &DeviceRequest::new(mac()))
        .unwrap()
        .write_factory(&d.join("good"))
        .unwrap();
    let other = vendor("Other Intercoms");
    mint_device(&other, &DeviceRequest::new(mac()))
        .unwrap()
        .write_factory(&d.join("foreign"))
        .unwrap();
    other.write(&d.join("other")).unwrap();
    mint_server(&ca, &ServerRequest::new(["sip.example.com"]))
        .unwrap()
        .write_server(&d.join("plain"))
        .unwrap();
    expired_device(&ca, mac())
        .write_factory(&d.join("expired"))
        .unwrap();

    // The server trusts only root.pem; devices send their intermediate (-cert_chain).
    let verifier = Arc::new(DeviceVerifier::from_pem_file(&d.join("vendor/root.pem")).unwrap());
    let config = server_config(&ca, verifier.clone());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();

    let run_with = |client: Option<(&str, &str, &str)>, extra: &[&str]| {
        let mut command = Command::new(&bin);
        command
            .current_dir(d)
            .args([
                "s_client",
                "-connect",
                &format!("127.0.0.1:{port}"),
                "-servername",
                "localhost",
            ])
            .args(["-CAfile", "vendor/root.pem"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some((cert, key, chain)) = client {
            command.args(["-cert", cert, "-key", key, "-cert_chain", chain]);
        }
        command.args(extra);
        let _client = ChildGuard::spawn(&mut command).unwrap();
        serve_one(&listener, config.clone())
    };
    let run = |client: Option<(&str, &str, &str)>| run_with(client, &[]);

    let device = run(Some((
        "good/device.pem",
        "good/device.key",
        "vendor/intermediate.pem",
    )))
    .unwrap();
    assert_eq!(device.mac, Some(mac()));
    assert_eq!(device.issuer, "O=Acme Paging, CN=Acme Paging Device CA");

    let refusal = run(Some((
        "foreign/device.pem",
        "foreign/device.key",
        "other/intermediate.pem",
    )));
    assert_eq!(refusal.unwrap_err().code(), "unknown_vendor");
    assert!(
        matches!(verifier.last_refusal(), Some(Refusal::UnknownVendor { issuer }) if issuer.contains("Other Intercoms"))
    );

    let refusal = run(Some((
        "plain/server.pem",
        "plain/server.key",
        "vendor/intermediate.pem",
    )));
    assert_eq!(refusal.unwrap_err().code(), "not_client_certificate");

    let refusal = run(Some((
        "expired/device.pem",
        "expired/device.key",
        "vendor/intermediate.pem",
    )));
    assert_eq!(refusal.unwrap_err().code(), "expired");

    assert_eq!(run(None).unwrap_err(), Refusal::NoCertificate);

    // TLS 1.2 (where the refusal comes inside the handshake) judges the same way.
    let tls12 = ["-tls1_2"];
    let good = (
        "good/device.pem",
        "good/device.key",
        "vendor/intermediate.pem",
    );
    assert_eq!(run_with(Some(good), &tls12).unwrap().mac, Some(mac()));
    let foreign = (
        "foreign/device.pem",
        "foreign/device.key",
        "other/intermediate.pem",
    );
    assert_eq!(
        run_with(Some(foreign), &tls12).unwrap_err().code(),
        "unknown_vendor"
    );
    assert_eq!(run_with(None, &tls12).unwrap_err(), Refusal::NoCertificate);
}
