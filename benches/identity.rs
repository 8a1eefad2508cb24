//! Device identity hot paths: a SIP server judging a device certificate chain,
//! a device loading its identities at boot, and minting on a production line.
//!
//! `cargo bench --bench identity`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::ClientCertVerifier;
use sigil_identity::mint::{mint_device, DeviceRequest, VendorCa};
use sigil_identity::{DeviceVerifier, FactoryPartition, IdentitySet, Mac, UserStore};

fn identity(c: &mut Criterion) {
    let ca = VendorCa::generate("Bench Devices").expect("vendor PKI");
    let mac = Mac::new([0x00, 0x22, 0xee, 0x01, 0x02, 0x03]);
    let device = mint_device(&ca, &DeviceRequest::new(mac)).expect("device certificate");
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(device.full_chain_pem().as_bytes())
            .collect::<Result<_, _>>()
            .expect("PEM");
    let verifier = DeviceVerifier::new(&[ca.root_der().expect("root")]).expect("verifier");
    let now = UnixTime::now();
    c.bench_function("device_verifier_p256_chain", |b| {
        b.iter(|| {
            verifier
                .verify_client_cert(black_box(&chain[0]), black_box(&chain[1..]), now)
                .expect("accepted")
        })
    });

    let dir = tempfile::tempdir().expect("temp dir");
    device
        .write_factory(&dir.path().join("factory"))
        .expect("factory");
    let factory = FactoryPartition::new(dir.path().join("factory"));
    let user = UserStore::new(dir.path().join("user"));
    c.bench_function("identity_set_load_factory_only", |b| {
        b.iter(|| IdentitySet::load(black_box(&factory), black_box(&user)))
    });

    c.bench_function("mint_device_p256", |b| {
        b.iter(|| mint_device(&ca, &DeviceRequest::new(black_box(mac))).expect("minted"))
    });
}

criterion_group!(benches, identity);
criterion_main!(benches);
