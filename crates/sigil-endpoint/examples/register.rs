//! A whole device booted from its data directory and registered with a SIP
//! server over mutual TLS, on 127.0.0.1.
//!
//! 1. Manufacturing: a vendor PKI, the device's factory partition
//!    (`factory/device.pem`, `device.key`, `vendor-chain.pem`) and a
//!    certificate for the SIP server, minted into a temporary directory.
//! 2. The SIP server: a small registrar built from sigil-sip-tls's blocking
//!    [`Server`], requiring device certificates and answering REGISTER.
//! 3. The device: `user/config.conf` points it at the server;
//!    [`DeviceDir::boot`] runs every boot step (identity, configuration,
//!    trust, provisioning, SIP over TLS, REGISTER) and hands back the
//!    running device; its status is printed; [`RunningDevice::shutdown`]
//!    un-registers and stops it.
//!
//! `cargo run -p sigil-endpoint --example register` — no arguments,
//! loopback only, a few seconds at most; exits non-zero when the device did
//! not register and un-register.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use sigil_endpoint::{DeviceDir, RunOptions, RunningDevice};
use sigil_identity::mint::{mint_device, mint_server, DeviceRequest, ServerRequest, VendorCa};
use sigil_identity::{DeviceVerifier, Identity, Mac};
use sigil_sip::{Header, HeaderName, Message, Response};
use sigil_sip_tls::{Acceptor, ClientAuth, Handler, PeerInfo, Server, ServerOptions, TlsPolicy};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The registrar: 200 OK to REGISTER and OPTIONS, the binding's lifetime
/// echoed, the device known by the MAC in its certificate. Keeps a log.
#[derive(Default)]
struct Registrar {
    log: Mutex<Vec<String>>,
}

impl Handler for Registrar {
    fn on_message(&self, peer: &PeerInfo, message: Message) -> Vec<Message> {
        let Message::Request(request) = message else {
            return Vec::new();
        };
        let device = peer.tls.peer_device.as_ref().and_then(|d| d.mac);
        let expires = request
            .headers
            .contacts()
            .first()
            .and_then(|c| c.expires())
            .or_else(|| request.headers.expires())
            .unwrap_or(3600);
        let line = format!(
            "{} from {} (MAC {}, expires {expires})",
            request.method,
            peer.addr,
            device.map_or("?".to_owned(), |m| m.to_string())
        );
        println!("  registrar: {line}");
        if let Ok(mut log) = self.log.lock() {
            log.push(line);
        }
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
        for header in [
            Header::new(HeaderName::To, format!("{to};tag=lab")),
            Header::new(HeaderName::Expires, expires.to_string()),
        ]
        .into_iter()
        .flatten()
        {
            ok.headers.push(header);
        }
        vec![Message::Response(ok)]
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("register: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<bool, Error> {
    // 1. Manufacturing.
    let dir = tempfile::tempdir()?;
    let vendor = VendorCa::generate("Example Devices")?;
    let mac = Mac::parse("00:22:ee:01:02:03")?;
    let factory = dir.path().join("factory");
    mint_device(&vendor, &DeviceRequest::new(mac))?.write_factory(&factory)?;
    std::fs::write(factory.join("vendor-chain.pem"), vendor.chain_pem())?;
    let server_cert = mint_server(&vendor, &ServerRequest::new(["127.0.0.1"]))?;
    let server_identity = Identity::from_pem(
        server_cert.full_chain_pem().as_bytes(),
        Some(server_cert.key_pem().as_bytes()),
        "server",
    )?;

    // 2. The SIP server.
    let verifier = Arc::new(DeviceVerifier::new(&[vendor.root_der()?])?);
    let acceptor = Acceptor::new(
        &server_identity,
        ClientAuth::Required(verifier),
        &TlsPolicy::default(),
    )?;
    let server = Server::bind("127.0.0.1:0".parse()?, acceptor, ServerOptions::default())?;
    let addr = server.local_addr()?;
    let stop = server.shutdown_handle();
    let registrar = Arc::new(Registrar::default());
    let handler: Arc<dyn Handler> = registrar.clone();
    let server_thread = std::thread::spawn(move || server.run(handler));
    println!("SIP registrar on {addr} (TLS, device certificates required)");

    // 3. The device.
    std::fs::create_dir_all(dir.path().join("user"))?;
    std::fs::write(
        dir.path().join("user/config.conf"),
        format!(
            "sip.proxy = {addr}\nsip.transport = tls\nsip.u1.user = 1001\nsip.srtp.offer = standard\n"
        ),
    )?;
    let device = DeviceDir::open(dir.path())?;
    println!("booting {}:", dir.path().display());
    // Default options: a 440 Hz tone for calls, auto answer, 10 s for the first REGISTER.
    let running = match device.boot(RunOptions::default(), &mut |step| println!("  {step}")) {
        Ok(running) => running,
        Err(failure) => {
            stop.shutdown();
            let _ = server_thread.join();
            return Err(format!("boot failed: {failure}").into());
        }
    };
    print_status(&running);
    let last = running.shutdown();
    println!("shut down: registration {}", last.registration.state);

    stop.shutdown();
    server_thread
        .join()
        .map_err(|_| "the server thread panicked")??;
    let log = registrar.log.lock().map_err(|_| "log poisoned")?.clone();
    let registered = log.iter().any(|l| {
        l.starts_with("REGISTER")
            && l.contains("MAC 00:22:ee:01:02:03")
            && !l.ends_with("expires 0)")
    });
    let unregistered = log
        .iter()
        .any(|l| l.starts_with("REGISTER") && l.ends_with("expires 0)"));
    let ok = registered && unregistered;
    println!(
        "{}",
        if ok {
            "registered and un-registered as expected"
        } else {
            "UNEXPECTED OUTCOME"
        }
    );
    Ok(ok)
}

/// The parts of the status a status page shows first.
fn print_status(running: &RunningDevice) {
    let status = running.status();
    let registration = &status.registration;
    println!(
        "registration: {} as {} (contact {}, {} s)",
        registration.state,
        registration.aor.as_deref().unwrap_or("-"),
        registration.contact.as_deref().unwrap_or("-"),
        registration.expires.unwrap_or(0)
    );
    for connection in &status.connections {
        println!(
            "connection: {} to {} {}, {} {}, server {}, our certificate {}",
            connection.purpose,
            connection.peer,
            if connection.up { "up" } else { "down" },
            connection.version,
            connection.cipher_suite,
            connection.verification,
            connection
                .client_certificate
                .as_deref()
                .unwrap_or("not sent"),
        );
    }
    for problem in &status.problems {
        println!("problem: {problem}");
    }
}
