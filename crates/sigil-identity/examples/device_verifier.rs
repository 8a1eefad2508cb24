//! A TLS server that accepts only the vendor's devices, on 127.0.0.1.
//!
//! The server side of mutual TLS as a SIP or provisioning server runs it:
//! rustls with [`DeviceVerifier`] trusting the vendor root, and the device
//! named after each handshake ([`PeerDevice`]) or the refusal explained
//! ([`Refusal`]). Three clients connect:
//!
//! 1. a device presenting its factory identity (loaded from a factory
//!    partition with [`IdentitySet`]) — accepted, its MAC printed;
//! 2. a device of another vendor — refused (`unknown_vendor`);
//! 3. a client with no certificate — refused (`no_certificate`).
//!
//! Everything (vendor PKIs, device and server certificates) is minted into a
//! temporary directory first. `cargo run -p sigil-identity --example
//! device_verifier` — no arguments, loopback only, exits non-zero when an
//! outcome is not the expected one.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use sigil_identity::mint::{mint_device, mint_server, DeviceRequest, ServerRequest, VendorCa};
use sigil_identity::{
    ClientCertResolver, DeviceVerifier, FactoryPartition, Identity, IdentitySet, Mac, PeerDevice,
    Refusal, UserStore,
};

type Error = Box<dyn std::error::Error + Send + Sync>;

const CLIENTS: usize = 3;
const SERVER_NAME: &str = "sip.example.com";

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("device_verifier: {e}");
            ExitCode::FAILURE
        }
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn run() -> Result<bool, Error> {
    // Manufacturing: our vendor PKI, a device, the server's certificate; and another vendor.
    let vendor = VendorCa::generate("Example Devices")?;
    let mac = Mac::parse("00:22:ee:01:02:03")?;
    let data = tempfile::tempdir()?;
    let factory = data.path().join("factory");
    mint_device(&vendor, &DeviceRequest::new(mac))?.write_factory(&factory)?;
    let server_cert = mint_server(&vendor, &ServerRequest::new([SERVER_NAME]))?;
    let other_vendor = VendorCa::generate("Other Devices")?;
    let foreign = mint_device(
        &other_vendor,
        &DeviceRequest::new(Mac::parse("00:11:22:33:44:55")?),
    )?;

    // The server: device certificates required, chaining to our vendor root.
    let verifier = Arc::new(DeviceVerifier::new(&[vendor.root_der()?])?);
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier.clone())
            .with_single_cert(
                CertificateDer::pem_slice_iter(server_cert.full_chain_pem().as_bytes())
                    .collect::<Result<_, _>>()?,
                PrivateKeyDer::from_pem_slice(server_cert.key_pem().as_bytes())?,
            )?,
    );
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    println!("server on {addr}: device certificates of \"Example Devices\" required");
    let server = std::thread::spawn(move || -> Vec<Result<PeerDevice, Refusal>> {
        (0..CLIENTS)
            .map(|_| serve_one(&listener, &config, &verifier))
            .collect()
    });

    // The clients: our device from its factory partition, a foreign device, no certificate.
    let identities = IdentitySet::load(
        &FactoryPartition::new(&factory),
        &UserStore::new(data.path().join("user")),
    );
    println!(
        "device: presents the {:?} identity ({})",
        identities.status().active,
        identities.status().reason
    );
    let foreign_identity = Identity::from_pem(
        foreign.full_chain_pem().as_bytes(),
        Some(foreign.key_pem().as_bytes()),
        "foreign device",
    )?;
    let clients: [(&str, Option<Arc<dyn rustls::client::ResolvesClientCert>>); CLIENTS] = [
        ("our device", Some(identities.client_resolver())),
        (
            "another vendor's device",
            Some(Arc::new(ClientCertResolver::new([foreign_identity]))),
        ),
        ("a client without certificate", None),
    ];
    let mut roots = rustls::RootCertStore::empty();
    roots.add(vendor.root_der()?)?;
    for (name, identity) in clients {
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots.clone());
        let config = match identity {
            Some(resolver) => builder.with_client_cert_resolver(resolver),
            None => builder.with_no_client_auth(),
        };
        match connect(addr, config) {
            Ok(answer) => println!("client, {name}: server said \"{answer}\""),
            Err(e) => println!("client, {name}: {e}"),
        }
    }

    // What the server saw.
    let outcomes = server.join().map_err(|_| "the server thread panicked")?;
    for outcome in &outcomes {
        match outcome {
            Ok(device) => println!("server: accepted {device}"),
            Err(refusal) => println!("server: refused ({}): {refusal}", refusal.code()),
        }
    }
    let ok = matches!(&outcomes[0], Ok(device) if device.mac == Some(mac))
        && matches!(&outcomes[1], Err(Refusal::UnknownVendor { issuer }) if issuer.contains("Other Devices"))
        && matches!(&outcomes[2], Err(Refusal::NoCertificate));
    println!(
        "{}",
        if ok {
            "every outcome as expected"
        } else {
            "UNEXPECTED OUTCOME"
        }
    );
    Ok(ok)
}

/// Accepts one connection: the handshake, then one line answered with the
/// device's name. A refused handshake gives the refusal, with the issuer
/// name the verifier kept.
fn serve_one(
    listener: &TcpListener,
    config: &Arc<rustls::ServerConfig>,
    verifier: &DeviceVerifier,
) -> Result<PeerDevice, Refusal> {
    let other = |reason: String| Refusal::Other { reason };
    let (mut tcp, _) = listener.accept().map_err(|e| other(e.to_string()))?;
    tcp.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| other(e.to_string()))?;
    let mut conn =
        rustls::ServerConnection::new(config.clone()).map_err(|e| other(e.to_string()))?;
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut tcp) {
            // Send the alert, then explain: the verifier's last refusal has the most context.
            let _ = conn.write_tls(&mut tcp);
            let tls_error = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>());
            return Err(
                match (
                    tls_error.and_then(Refusal::from_tls_error),
                    verifier.last_refusal(),
                ) {
                    (
                        Some(Refusal::UnknownVendor { .. }),
                        Some(last @ Refusal::UnknownVendor { .. }),
                    ) => last,
                    (Some(refusal), _) => refusal,
                    (None, _) => other(e.to_string()),
                },
            );
        }
    }
    let device = verifier.identify(conn.peer_certificates(), UnixTime::now())?;
    let mut stream = rustls::Stream::new(&mut conn, &mut tcp);
    let mut line = String::new();
    BufReader::new(&mut stream)
        .read_line(&mut line)
        .map_err(|e| other(e.to_string()))?;
    writeln!(
        stream,
        "welcome, {}",
        device.mac.map_or("device".to_owned(), |m| m.to_string())
    )
    .map_err(|e| other(e.to_string()))?;
    conn.send_close_notify();
    let _ = conn.complete_io(&mut tcp);
    Ok(device)
}

/// Connects, says hello and returns the server's one-line answer.
fn connect(addr: std::net::SocketAddr, config: rustls::ClientConfig) -> Result<String, Error> {
    let mut tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
    let name = ServerName::try_from(SERVER_NAME)?;
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name)?;
    let mut stream = rustls::Stream::new(&mut conn, &mut tcp);
    stream.write_all(b"hello\n")?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer)?;
    if answer.is_empty() {
        return Err("the server closed the connection".into());
    }
    Ok(answer.trim_end().to_owned())
}
