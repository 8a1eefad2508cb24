//! The server side of a SIP-over-TLS connection after a mutual-TLS
//! handshake: arbitrary plaintext from the client (SIP messages, keep-alive
//! CRLFs, garbage), in arbitrary record sizes, never panics the connection;
//! every message it delivers is whole, and a framing error ends it cleanly.
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use rustls::pki_types::ServerName;
use sigil_identity::mint::{mint_device, mint_server, DeviceRequest, ServerRequest, VendorCa};
use sigil_identity::{ClientCertResolver, DeviceVerifier, Identity, Mac};
use sigil_sip_tls::{
    rustls, Acceptor, ClientAuth, ConnectionEvent, ConnectionSettings, Connector, TlsPolicy,
};

struct Fixture {
    connector: Connector,
    acceptor: Acceptor,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let ca = VendorCa::generate("Fuzz Vendor").expect("vendor");
        let device = mint_device(&ca, &DeviceRequest::new(Mac::new([0, 0x22, 0xee, 1, 2, 3])))
            .expect("device");
        let server = mint_server(&ca, &ServerRequest::new(["sip:example.com"])).expect("server");
        let load = |m: &sigil_identity::mint::Minted| {
            Identity::from_pem(
                m.full_chain_pem().as_bytes(),
                Some(m.key_pem().as_bytes()),
                "fuzz",
            )
            .expect("identity")
        };
        let store = Arc::new(
            sigil_trust::TrustStore::builder()
                .builtin(false)
                .vendor_bytes("vendor", ca.chain_pem().as_bytes())
                .expect("vendor chain")
                .build(),
        );
        let chain = load(&server);
        let verifier =
            Arc::new(DeviceVerifier::new(&[ca.root_der().expect("root")]).expect("verifier"));
        let policy = TlsPolicy::default();
        Fixture {
            connector: Connector::new(
                "example.com",
                &policy,
                store,
                Some(Arc::new(ClientCertResolver::new([load(&device)]))),
            )
            .expect("connector"),
            acceptor: Acceptor::new(&chain, ClientAuth::Required(verifier), &policy)
                .expect("acceptor"),
        }
    })
}

fuzz_target!(|input: (Vec<u8>, Vec<u8>)| {
    let (sizes, data) = input;
    let f = fixture();
    let now = Instant::now();
    let mut client = rustls::ClientConnection::new(
        f.connector.config().clone(),
        ServerName::try_from("example.com").expect("name"),
    )
    .expect("client");
    let mut server = f
        .acceptor
        .connection(now, ConnectionSettings::default())
        .expect("server");
    // Handshake, bounded.
    for _ in 0..10 {
        let mut to_server = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut to_server).expect("write");
        }
        server.handle_input(&to_server, now).expect("handshake");
        let to_client = server.take_transmit();
        client.read_tls(&mut &to_client[..]).expect("read");
        client.process_new_packets().expect("client handshake");
        if !client.is_handshaking() && !server.is_handshaking() {
            break;
        }
    }
    assert!(!server.is_handshaking());
    // The fuzz data as plaintext, cut into records of fuzzer-chosen sizes.
    let mut pos = 0;
    let mut sizes = sizes.iter().copied().map(|b| usize::from(b) + 1).cycle();
    let mut failed = false;
    while pos < data.len() && !failed {
        let end = (pos + sizes.next().unwrap_or(64)).min(data.len());
        std::io::Write::write_all(&mut client.writer(), &data[pos..end]).expect("plaintext");
        pos = end;
        let mut wire = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut wire).expect("write");
        }
        failed = server.handle_input(&wire, now).is_err();
        while let Some(ev) = server.poll_event() {
            if let ConnectionEvent::Message(m) = ev {
                let bytes = m.to_bytes();
                assert!(sigil_sip::parse(&bytes).is_ok());
            }
        }
        let _ = server.take_transmit();
    }
});
