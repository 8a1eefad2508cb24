//! Mutual TLS in memory: our client resolver against our device verifier.
#![cfg(feature = "mint")]

mod common;

use std::sync::Arc;

use common::*;
use rustls::pki_types::UnixTime;
use sigil_identity::mint::{mint_device, mint_server, DeviceRequest, ServerRequest};
use sigil_identity::{
    ClientCertResolver, DeviceVerifier, Identity, IdentitySet, Mac, PeerDevice, Refusal, UserStore,
};

fn identity_of(minted: &sigil_identity::mint::Minted) -> Identity {
    Identity::from_pem(minted.combined_pem().as_bytes(), None, "test").unwrap()
}

fn verifier_for(ca: &sigil_identity::mint::VendorCa) -> Arc<DeviceVerifier> {
    Arc::new(DeviceVerifier::new(&certs(&ca.chain_pem())).unwrap())
}

#[test]
fn device_is_accepted_and_named() {
    let ca = vendor("Acme Paging");
    let dir = tempfile::tempdir().unwrap();
    let factory = factory(dir.path(), &ca, mac());
    let set = IdentitySet::load(&factory, &UserStore::new(dir.path().join("user")));
    let verifier = verifier_for(&ca);
    let (result, server) = handshake(
        client_config(&ca, set.client_resolver()),
        server_config(&ca, verifier.clone()),
    );
    result.unwrap();
    let device = PeerDevice::from_peer_certificates(server.peer_certificates()).unwrap();
    assert_eq!(device.mac, Some(mac()));
    assert_eq!(device.issuer, "O=Acme Paging, CN=Acme Paging Device CA");
    assert_eq!(
        device.fingerprint_sha256,
        set.active().unwrap().certificate().fingerprint_sha256
    );
    let identified = verifier
        .identify(server.peer_certificates(), UnixTime::now())
        .unwrap();
    assert_eq!(
        identified.root.as_deref(),
        Some("O=Acme Paging, CN=Acme Paging Root CA")
    );
    assert!(verifier.last_refusal().is_none());
}

#[test]
fn verifier_built_from_the_root_alone_accepts_a_device_that_sends_its_chain() {
    let ca = vendor("Acme Paging");
    let device = identity_of(&mint_device(&ca, &DeviceRequest::new(mac())).unwrap());
    let verifier = Arc::new(DeviceVerifier::new(&[ca.root_der().unwrap()]).unwrap());
    let (result, _) = handshake(
        client_config(&ca, Arc::new(ClientCertResolver::new([device]))),
        server_config(&ca, verifier),
    );
    result.unwrap();
}

fn refusal_for(
    ca_of_server: &sigil_identity::mint::VendorCa,
    client: Option<Identity>,
) -> (Refusal, Option<Refusal>) {
    let verifier = verifier_for(ca_of_server);
    let (result, _) = handshake(
        client_config(ca_of_server, Arc::new(ClientCertResolver::new(client))),
        server_config(ca_of_server, verifier.clone()),
    );
    let error = result.expect_err("the server must refuse");
    (
        Refusal::from_tls_error(&error).expect("a certificate refusal"),
        verifier.last_refusal(),
    )
}

#[test]
fn another_vendors_device_is_refused_as_unknown_vendor() {
    let ours = vendor("Acme Paging");
    let theirs = vendor("Other Intercoms");
    let device = identity_of(&mint_device(&theirs, &DeviceRequest::new(mac())).unwrap());
    let (refusal, last) = refusal_for(&ours, Some(device));
    assert_eq!(refusal.code(), "unknown_vendor");
    assert_eq!(
        last,
        Some(Refusal::UnknownVendor {
            issuer: "O=Other Intercoms, CN=Other Intercoms Device CA".to_owned()
        })
    );
}

#[test]
fn server_certificate_is_refused_as_not_a_client_certificate() {
    let ca = vendor("Acme Paging");
    let server_cert =
        identity_of(&mint_server(&ca, &ServerRequest::new(["sip.example.com"])).unwrap());
    let (refusal, last) = refusal_for(&ca, Some(server_cert));
    assert_eq!(refusal.code(), "not_client_certificate");
    assert_eq!(
        last,
        Some(Refusal::NotClientCertificate {
            presented: "serverAuth".to_owned()
        })
    );
}

#[test]
fn expired_device_is_refused_as_expired() {
    let ca = vendor("Acme Paging");
    let device = identity_of(&expired_device(&ca, mac()));
    let (refusal, last) = refusal_for(&ca, Some(device));
    assert_eq!(refusal.code(), "expired");
    // The dates travel with the TLS error itself (ExpiredContext), per connection.
    match &refusal {
        Refusal::Expired { not_after, .. } => assert_eq!(not_after, "2002-01-01T00:00:00Z"),
        other => panic!("{other:?}"),
    }
    match last {
        Some(Refusal::Expired { not_after, .. }) => assert_eq!(not_after, "2002-01-01T00:00:00Z"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn no_certificate_is_refused() {
    let ca = vendor("Acme Paging");
    let (refusal, _) = refusal_for(&ca, None);
    assert_eq!(refusal, Refusal::NoCertificate);
}

#[test]
fn ca_certificate_as_device_is_refused_with_a_typed_other_error() {
    let ca = vendor("Acme Paging");
    let verifier = verifier_for(&ca);
    let root = ca.root_der().unwrap();
    let error = rustls::server::danger::ClientCertVerifier::verify_client_cert(
        &*verifier,
        &root,
        &[],
        UnixTime::now(),
    )
    .unwrap_err();
    // Refusals without a standard rustls variant travel as OtherError(Arc<Refusal>).
    match &error {
        rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other)) => {
            assert!(other.0.downcast_ref::<Refusal>().is_some())
        }
        other => panic!("{other:?}"),
    }
    let refusal = Refusal::from_tls_error(&error).unwrap();
    assert!(
        matches!(refusal, Refusal::CaCertificate | Refusal::Other { .. }),
        "{refusal:?}"
    );
}

/// The server's acceptable-CA list steers the choice between override and factory identity (SPEC ID5).
#[test]
fn acceptable_ca_list_steers_the_choice_of_identity() {
    let vendor_ca = vendor("Acme Paging");
    let operator = vendor("Hosted PBX Operator");
    let factory_identity =
        identity_of(&mint_device(&vendor_ca, &DeviceRequest::new(mac())).unwrap());
    let override_identity =
        identity_of(&mint_device(&operator, &DeviceRequest::new(Mac::new([0xaa; 6]))).unwrap());
    let resolver = Arc::new(ClientCertResolver::new([
        override_identity,
        factory_identity,
    ]));

    // A server trusting only the vendor chain gets the factory certificate, not the (preferred) override.
    let verifier = verifier_for(&vendor_ca);
    let (result, server) = handshake(
        client_config(&vendor_ca, resolver.clone()),
        server_config(&vendor_ca, verifier),
    );
    result.unwrap();
    assert_eq!(
        PeerDevice::from_peer_certificates(server.peer_certificates())
            .unwrap()
            .mac,
        Some(mac())
    );

    // A server trusting the operator gets the override.
    let (result, server) = handshake(
        client_config(&operator, resolver.clone()),
        server_config(&operator, verifier_for(&operator)),
    );
    result.unwrap();
    assert_eq!(
        PeerDevice::from_peer_certificates(server.peer_certificates())
            .unwrap()
            .mac,
        Some(Mac::new([0xaa; 6]))
    );

    // Hints as DER Names with or without their outer SEQUENCE (both forms exist in the wild).
    let intermediate = certs(vendor_ca.intermediate_pem()).remove(0);
    let (_, parsed) = x509_parser::parse_x509_certificate(intermediate.as_ref()).unwrap();
    let name = parsed.subject().as_raw();
    assert!(name[1] < 0x80, "short-form length expected for this test");
    let schemes = [rustls::SignatureScheme::ECDSA_NISTP256_SHA256];
    for hint in [name, &name[2..]] {
        assert_eq!(
            resolver
                .choose(&[hint], &schemes)
                .unwrap()
                .certificate()
                .mac,
            Some(mac())
        );
    }

    // No hints: the first (override) is presented.
    assert_eq!(
        resolver.choose(&[], &schemes).unwrap().certificate().mac,
        Some(Mac::new([0xaa; 6]))
    );
    // Hints that match nothing: still the first.
    assert_eq!(
        resolver
            .choose(&[b"nothing"], &schemes)
            .unwrap()
            .certificate()
            .mac,
        Some(Mac::new([0xaa; 6]))
    );
    // No common signature scheme: nothing.
    assert!(resolver
        .choose(&[], &[rustls::SignatureScheme::ED448])
        .is_none());
}
