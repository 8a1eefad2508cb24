//! A device registering over SIP/TLS with a server that requires device
//! certificates, on 127.0.0.1.
//!
//! The server is a [`Server`] (one thread per connection) whose [`Handler`]
//! answers REGISTER with 200 OK and knows each device by the MAC in its
//! certificate ([`PeerInfo::tls`] → `peer_device`), not by a password. The
//! device is a [`RegisteredClient`] over a [`Client`] whose [`Connector`]
//! verifies the server for the SIP domain `example.com` (RFC 5922) and
//! presents the factory identity. It registers, un-registers and leaves;
//! then a client without a certificate tries and is refused, with the
//! [`HandshakeDiagnosis`] and its fix.
//!
//! Certificates are minted first. `cargo run -p sigil-sip-tls --example
//! registrar` — no arguments, loopback only, a few seconds at most; exits
//! non-zero when a step does not happen as expected.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sigil_identity::mint::{
    mint_device, mint_server, DeviceRequest, Minted, ServerRequest, VendorCa,
};
use sigil_identity::{ClientCertResolver, DeviceVerifier, Identity, Mac};
use sigil_sip::{
    Header, HeaderName, Message, RegistrationConfig, RegistrationEvent, Response, Uri,
};
use sigil_sip_tls::{
    Acceptor, Client, ClientAuth, ClientEvent, ClientOptions, Connector, Handler,
    HandshakeDiagnosis, PeerInfo, RegisteredClient, RegisteredEvent, Server, ServerOptions,
    TlsPolicy,
};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The SIP domain; the server certificate names it.
const DOMAIN: &str = "example.com";

/// The registrar: 200 OK to every REGISTER, bindings keyed by the MAC the
/// handshake proved. What it saw is kept for the summary.
#[derive(Default)]
struct Registrar {
    log: Mutex<Vec<String>>,
}

impl Registrar {
    fn note(&self, line: String) {
        println!("  registrar: {line}");
        if let Ok(mut log) = self.log.lock() {
            log.push(line);
        }
    }
}

impl Handler for Registrar {
    fn on_connect(&self, peer: &PeerInfo) {
        let who = peer
            .tls
            .peer_device
            .as_ref()
            .map_or("a client without certificate".to_owned(), |d| d.to_string());
        self.note(format!(
            "{} connected over {} {}: {who}",
            peer.addr, peer.tls.version, peer.tls.cipher_suite
        ));
    }

    fn on_message(&self, peer: &PeerInfo, message: Message) -> Vec<Message> {
        let Message::Request(request) = message else {
            return Vec::new();
        };
        let mac = peer.tls.peer_device.as_ref().and_then(|d| d.mac);
        let expires = request.headers.expires().unwrap_or(3600);
        let contact = request.headers.get(&HeaderName::Contact).unwrap_or("-");
        self.note(format!(
            "{} from device {} (Contact {contact}, Expires {expires})",
            request.method,
            mac.map_or("?".to_owned(), |m| m.to_string())
        ));
        let mut ok = Response::new(200, "OK");
        for name in [
            HeaderName::Via,
            HeaderName::From,
            HeaderName::CallId,
            HeaderName::CSeq,
            HeaderName::Contact,
        ] {
            for value in request.headers.get_all(&name) {
                if let Ok(header) = Header::new(name.clone(), value) {
                    ok.headers.push(header);
                }
            }
        }
        let to = request.headers.get(&HeaderName::To).unwrap_or_default();
        if let Ok(header) = Header::new(HeaderName::To, format!("{to};tag=registrar")) {
            ok.headers.push(header);
        }
        if let Ok(header) = Header::new(HeaderName::Expires, expires.to_string()) {
            ok.headers.push(header);
        }
        vec![Message::Response(ok)]
    }

    fn on_refused(&self, addr: SocketAddr, diagnosis: &HandshakeDiagnosis) {
        self.note(format!(
            "{addr} refused ({}): {diagnosis}",
            diagnosis.code()
        ));
    }

    fn on_close(&self, peer: &PeerInfo, reason: Option<&str>) {
        self.note(format!(
            "{} closed ({})",
            peer.addr,
            reason.unwrap_or("cleanly")
        ));
    }
}

fn identity(minted: &Minted) -> Result<Identity, Error> {
    Ok(Identity::from_pem(
        minted.full_chain_pem().as_bytes(),
        Some(minted.key_pem().as_bytes()),
        "minted",
    )?)
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("registrar: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<bool, Error> {
    let vendor = VendorCa::generate("Example Devices")?;
    let mac = Mac::parse("00:22:ee:01:02:03")?;
    let device = identity(&mint_device(&vendor, &DeviceRequest::new(mac))?)?;
    let server_identity = identity(&mint_server(&vendor, &ServerRequest::new([DOMAIN]))?)?;
    let policy = TlsPolicy::default();

    // The server: device certificates required.
    let verifier = Arc::new(DeviceVerifier::new(&[vendor.root_der()?])?);
    let acceptor = Acceptor::new(&server_identity, ClientAuth::Required(verifier), &policy)?;
    let server = Server::bind("127.0.0.1:0".parse()?, acceptor, ServerOptions::default())?;
    let addr = server.local_addr()?;
    let stop = server.shutdown_handle();
    let registrar = Arc::new(Registrar::default());
    let handler: Arc<dyn Handler> = registrar.clone();
    let server_thread = std::thread::spawn(move || server.run(handler));
    println!("registrar for {DOMAIN} on {addr}, device certificates required");

    // The device: trusts the vendor root, presents its identity.
    let store = Arc::new(
        sigil_trust::TrustStore::builder()
            .vendor_bytes("vendor root", vendor.root_pem().as_bytes())?
            .build(),
    );
    let options = ClientOptions {
        reconnect: None,
        ..ClientOptions::default()
    };
    let connector = Connector::new(
        DOMAIN,
        &policy,
        store.clone(),
        Some(Arc::new(ClientCertResolver::new([device]))),
    )?;
    let client = Client::connect(connector, &addr.to_string(), options.clone())?;
    if let Some(info) = client.tls_info() {
        println!(
            "device: connected, {} {}, server {}",
            info.version,
            info.cipher_suite,
            info.verification
                .as_ref()
                .map_or("-".to_owned(), |v| v.to_string())
        );
    }
    let local = client.local_addr().ok_or("no local address")?;
    let mut config = RegistrationConfig::new(
        Uri::parse(&format!("sip:{DOMAIN}"))?,
        Uri::parse(&format!("sip:{}@{DOMAIN}", mac.compact()))?,
        Uri::parse(&format!("sip:{}@{local}", mac.compact()))?,
    );
    config.expires = 600;
    let mut registered = RegisteredClient::new(client, config);
    let mut steps = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while steps.len() < 2 && Instant::now() < deadline {
        match registered.poll(Duration::from_millis(200)) {
            Some(RegisteredEvent::Registration(RegistrationEvent::Registered { expires })) => {
                println!(
                    "device: registered for {} s; un-registering",
                    expires.as_secs()
                );
                steps.push("registered");
                registered.unregister();
            }
            Some(RegisteredEvent::Registration(RegistrationEvent::Unregistered)) => {
                println!("device: unregistered");
                steps.push("unregistered");
            }
            Some(RegisteredEvent::Registration(RegistrationEvent::Failed(why))) => {
                println!("device: registration failed: {why}");
                break;
            }
            Some(other) => println!("device: {other:?}"),
            None => {}
        }
    }
    registered.client().close();

    // A client without a certificate.
    let anonymous = Connector::new(DOMAIN, &policy, store, None)?;
    let refused = match Client::connect(anonymous, &addr.to_string(), options) {
        Err(e) => e.diagnosis().cloned(),
        // TLS 1.3: the server's verdict on our (missing) certificate comes after our Finished.
        Ok(mut client) => loop {
            match client.recv(Duration::from_secs(2)) {
                Some(ClientEvent::Disconnected { diagnosis, .. }) => break diagnosis,
                Some(_) => continue,
                None => break None,
            }
        },
    };
    match &refused {
        Some(diagnosis) => println!(
            "anonymous client: refused ({}): {diagnosis}\n  fix: {}",
            diagnosis.code(),
            diagnosis.fix()
        ),
        None => println!("anonymous client: NOT refused"),
    }

    stop.shutdown();
    server_thread
        .join()
        .map_err(|_| "the server thread panicked")??;
    let log = registrar
        .log
        .lock()
        .map_err(|_| "registrar log poisoned")?
        .clone();
    let ok = steps == ["registered", "unregistered"]
        && refused.is_some()
        && log
            .iter()
            .any(|l| l.starts_with("REGISTER from device 00:22:ee:01:02:03"))
        && log.iter().any(|l| l.contains("refused"));
    println!(
        "{}",
        if ok {
            "all steps as expected"
        } else {
            "UNEXPECTED OUTCOME"
        }
    );
    Ok(ok)
}
