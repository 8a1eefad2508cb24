//! Trust store hot paths: building the store at boot (all built-in roots plus
//! 100 uploaded certificates) and verifying a three-certificate server chain
//! (leaf → intermediate → uploaded root), as every TLS handshake does.
//!
//! `cargo bench --bench trust`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{ServerName, UnixTime};
use sigil_testkit::pki::{LeafSpec, TestCa};
use sigil_trust::{ExpectedName, NameCheck, ServerVerifier, TrustStore};

fn trust(c: &mut Criterion) {
    // 100 uploaded files: one PEM root each (made once, outside the measurement)
    let uploads: Vec<(String, String)> = (0..100)
        .map(|i| {
            let ca = TestCa::root(&format!("Uploaded Root {i}"));
            (format!("certs/trusted/root{i}.pem"), ca.cert().cert_pem())
        })
        .collect();
    c.bench_function("store_build_builtin_plus_100_uploaded", |b| {
        b.iter(|| {
            let mut builder = TrustStore::builder();
            for (name, pem) in &uploads {
                builder = builder.user_bytes(name, pem.as_bytes());
            }
            black_box(builder.build())
        })
    });

    let root = TestCa::root("Bench Root");
    let inter = root.intermediate("Bench Intermediate");
    let leaf = inter.leaf(&LeafSpec::server("sip.example.com"));
    let chain = leaf.chain();
    let mut builder = TrustStore::builder();
    for (name, pem) in &uploads {
        builder = builder.user_bytes(name, pem.as_bytes());
    }
    let store = Arc::new(
        builder
            .user_bytes(
                "certs/trusted/bench-root.pem",
                root.cert().cert_pem().as_bytes(),
            )
            .build(),
    );
    let now = UnixTime::now();
    let expected = ExpectedName::sip("sip.example.com", false);
    c.bench_function("verify_3_cert_chain", |b| {
        b.iter(|| {
            store
                .verify(black_box(&chain), &expected, now)
                .expect("verifies")
        })
    });

    let verifier = ServerVerifier::new(store.clone(), NameCheck::Sip { strict: false });
    let server_name = ServerName::try_from("sip.example.com").expect("name");
    // Ours and the baseline below are measured through the same rustls call.
    let mut bench_verifier = |id: &str, verifier: &dyn ServerCertVerifier| {
        c.bench_function(id, |b| {
            b.iter(|| {
                verifier
                    .verify_server_cert(
                        black_box(&chain[0]),
                        black_box(&chain[1..]),
                        &server_name,
                        &[],
                        now,
                    )
                    .expect("verifies")
            })
        });
    };
    bench_verifier("verify_3_cert_chain_rustls_verifier", &verifier);

    // Baseline: rustls' own WebPkiServerVerifier on the same chain and roots
    // (chain building and DNS name only: no exact match, anchor expiry, usage or SIP checks).
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root.cert().cert()).expect("root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let baseline =
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .expect("baseline verifier");
    bench_verifier(
        "baseline_rustls_webpki_verifier_same_chain",
        baseline.as_ref(),
    );
}

criterion_group!(benches, trust);
criterion_main!(benches);
