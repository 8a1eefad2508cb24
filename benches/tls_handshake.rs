//! SIP-over-TLS handshakes between our connector and our acceptor, in memory:
//! a full mutual-TLS handshake (ECDSA P-256 device and server certificates,
//! both chains verified) and a resumed one, for TLS 1.3 and TLS 1.2.
//!
//! `cargo bench --bench tls_handshake`

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use sigil_identity::mint::{mint_device, mint_server, DeviceRequest, ServerRequest, VendorCa};
use sigil_identity::{ClientCertResolver, DeviceVerifier, Identity, Mac};
use sigil_sip_tls::{
    Acceptor, ClientAuth, ConnectionEvent, ConnectionSettings, Connector, TlsPolicy, TlsVersion,
};
use sigil_trust::TrustStore;

/// One handshake (plus the TLS 1.3 tickets) pumped in memory; returns whether it was resumed.
fn handshake(connector: &Connector, acceptor: &Acceptor) -> bool {
    let now = Instant::now();
    let settings = ConnectionSettings::default();
    let mut client = connector.connection(now, settings).expect("client");
    let mut server = acceptor.connection(now, settings).expect("server");
    for _ in 0..20 {
        let to_server = client.take_transmit();
        let to_client = server.take_transmit();
        if to_server.is_empty() && to_client.is_empty() {
            break;
        }
        server.handle_input(&to_server, now).expect("server side");
        client.handle_input(&to_client, now).expect("client side");
    }
    assert!(!client.is_handshaking() && !server.is_handshaking());
    let mut resumed = false;
    while let Some(ev) = client.poll_event() {
        if let ConnectionEvent::Connected(info) = ev {
            resumed = info.resumed;
        }
    }
    resumed
}

fn tls_handshake(c: &mut Criterion) {
    let ca = VendorCa::generate("Bench Devices").expect("vendor PKI");
    let device =
        mint_device(&ca, &DeviceRequest::new(Mac::new([0, 0x22, 0xee, 1, 2, 3]))).expect("device");
    let server = mint_server(
        &ca,
        &ServerRequest::new(["sip.example.com", "sip:example.com"]),
    )
    .expect("server");
    let load = |m: &sigil_identity::mint::Minted| {
        Identity::from_pem(
            m.full_chain_pem().as_bytes(),
            Some(m.key_pem().as_bytes()),
            "bench",
        )
        .expect("identity")
    };
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(ca.chain_pem().as_bytes())
            .collect::<Result<_, _>>()
            .expect("PEM");
    let store = Arc::new(
        TrustStore::builder()
            .builtin(false)
            .vendor_bytes("vendor", ca.chain_pem().as_bytes())
            .expect("vendor chain")
            .build(),
    );
    let verifier = Arc::new(DeviceVerifier::new(&chain).expect("device verifier"));
    let resolver = Arc::new(ClientCertResolver::new([load(&device)]));

    for (name, version) in [("tls13", TlsVersion::Tls13), ("tls12", TlsVersion::Tls12)] {
        let client_policy = TlsPolicy::default();
        let acceptor = if version == TlsVersion::Tls13 {
            Acceptor::new(
                &load(&server),
                ClientAuth::Required(verifier.clone()),
                &TlsPolicy::default(),
            )
            .expect("acceptor")
        } else {
            let id = load(&server);
            let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(server.key_pem().as_bytes())
                .expect("key");
            let config = rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_protocol_versions(&[&rustls::version::TLS12])
            .expect("versions")
            .with_client_cert_verifier(verifier.clone())
            .with_single_cert(id.chain().to_vec(), key)
            .expect("config");
            Acceptor::from_config(Arc::new(config), TlsPolicy::default())
        };
        let full = Connector::new(
            "example.com",
            &client_policy,
            store.clone(),
            Some(resolver.clone()),
        )
        .expect("connector")
        .with_resumption(rustls::client::Resumption::disabled());
        assert!(!handshake(&full, &acceptor));
        c.bench_function(&format!("{name}_mutual_full_handshake_p256"), |b| {
            b.iter(|| black_box(handshake(&full, &acceptor)))
        });

        let resuming = Connector::new(
            "example.com",
            &client_policy,
            store.clone(),
            Some(resolver.clone()),
        )
        .expect("connector");
        handshake(&resuming, &acceptor);
        assert!(
            handshake(&resuming, &acceptor),
            "{name}: the second handshake must resume"
        );
        c.bench_function(&format!("{name}_mutual_resumed_handshake"), |b| {
            b.iter(|| black_box(handshake(&resuming, &acceptor)))
        });
    }
}

criterion_group!(benches, tls_handshake);
criterion_main!(benches);
