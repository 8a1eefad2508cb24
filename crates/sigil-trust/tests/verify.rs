//! Chain verification and name checks with certificates made by rcgen (sigil_testkit::pki).

use std::net::IpAddr;

use rustls_pki_types::{CertificateDer, UnixTime};
use sigil_testkit::pki::{self, CaSpec, Eku, LeafSpec, TestCa, TestCert};
use sigil_trust::{AnchorProblem, CertRole, ExpectedName, Layer, TrustStore, VerifyError};
use time::{Duration, OffsetDateTime};

fn store_with(files: &[(&str, String)]) -> TrustStore {
    let mut builder = TrustStore::builder().builtin(false);
    for (name, pem) in files {
        builder = builder.user_bytes(name, pem.as_bytes());
    }
    builder.build()
}

fn now() -> UnixTime {
    UnixTime::now()
}

fn dns(name: &str) -> ExpectedName {
    ExpectedName::Dns(name.into())
}

struct Pki {
    root: TestCa,
    inter: TestCa,
}

fn pki() -> Pki {
    let root = TestCa::root("Test Root");
    let inter = root.intermediate("Test Intermediate");
    Pki { root, inter }
}

fn verify(
    store: &TrustStore,
    leaf: &TestCert,
    name: &ExpectedName,
) -> Result<sigil_trust::Verified, VerifyError> {
    store.verify(&leaf.chain(), name, now())
}

#[test]
fn root_intermediate_leaf_verifies_with_the_root_uploaded() {
    let p = pki();
    let leaf = p.inter.leaf(&LeafSpec::server("sip.example.com"));
    let store = store_with(&[("root.pem", p.root.cert().cert_pem())]);
    let v = verify(&store, &leaf, &dns("sip.example.com")).expect("verifies");
    assert_eq!(v.anchor_layer, Layer::User);
    assert_eq!(v.anchor_source, "root.pem");
    assert!(
        v.anchor_subject.contains("CN=Test Root"),
        "{}",
        v.anchor_subject
    );
    assert_eq!(v.path_len, 3);
    assert!(!v.exact_match);
    assert_eq!(v.matched, "DNS:sip.example.com");
}

#[test]
fn the_intermediate_alone_is_an_anchor_too() {
    let p = pki();
    let leaf = p.inter.leaf(&LeafSpec::server("sip.example.com"));
    let store = store_with(&[("inter.pem", p.inter.cert().cert_pem())]);
    let v = store
        .verify(&[leaf.cert()], &dns("sip.example.com"), now())
        .expect("verifies");
    assert_eq!(v.path_len, 2);
}

#[test]
fn vendor_layer_anchors_chains() {
    let p = pki();
    let leaf = p.inter.leaf(&LeafSpec::server("prov.vendor.example"));
    let store = TrustStore::builder()
        .builtin(false)
        .vendor_bytes("vendor-chain.pem", p.root.cert().cert_pem().as_bytes())
        .expect("vendor chain loads")
        .build();
    let v = verify(&store, &leaf, &dns("prov.vendor.example")).expect("verifies");
    assert_eq!(v.anchor_layer, Layer::Vendor);
}

#[test]
fn unknown_issuer_names_the_certificate_to_upload() {
    let p = pki();
    let other = TestCa::root("Someone Else");
    let leaf = p.inter.leaf(&LeafSpec::server("sip.example.com"));
    let store = store_with(&[("other.pem", other.cert().cert_pem())]);
    match verify(&store, &leaf, &dns("sip.example.com")) {
        Err(VerifyError::UnknownIssuer { subject, issuer }) => {
            assert!(subject.contains("CN=Test Intermediate"), "{subject}");
            assert!(issuer.contains("CN=Test Root"), "{issuer}");
        }
        other => panic!("expected UnknownIssuer, got {other:?}"),
    }
    // leaf alone: the intermediate is what is missing
    match store.verify(&[leaf.cert()], &dns("sip.example.com"), now()) {
        Err(e @ VerifyError::UnknownIssuer { .. }) => {
            assert!(
                e.to_string().contains(
                    "upload the CA certificate \"O=Sigil Test PKI, CN=Test Intermediate\""
                ),
                "{e}"
            );
        }
        other => panic!("expected UnknownIssuer, got {other:?}"),
    }
}

#[test]
fn builtin_roots_do_not_trust_a_private_ca() {
    let p = pki();
    let leaf = p.inter.leaf(&LeafSpec::server("sip.example.com"));
    let store = TrustStore::builder().build();
    assert!(store.len() > 100, "webpki-roots has well over 100 roots");
    assert!(matches!(
        verify(&store, &leaf, &dns("sip.example.com")),
        Err(VerifyError::UnknownIssuer { .. })
    ));
}

#[test]
fn expired_and_not_yet_valid_server_certificates_give_dates_and_clock() {
    let p = pki();
    let store = store_with(&[("root.pem", p.root.cert().cert_pem())]);
    let expired = p.inter.leaf(&LeafSpec::server("a.example").expired());
    let at = now();
    match store.verify(&expired.chain(), &dns("a.example"), at) {
        Err(VerifyError::Expired {
            role,
            not_after,
            now,
            ..
        }) => {
            assert_eq!(role, CertRole::Server);
            assert!(not_after < now);
            assert_eq!(now.unix_timestamp() as u64, at.as_secs());
        }
        other => panic!("expected Expired, got {other:?}"),
    }
    let early = p.inter.leaf(&LeafSpec::server("a.example").not_yet_valid());
    match verify(&store, &early, &dns("a.example")) {
        Err(e @ VerifyError::NotYetValid { .. }) => {
            assert!(e.to_string().contains("device clock is"), "{e}");
        }
        other => panic!("expected NotYetValid, got {other:?}"),
    }
}

#[test]
fn expired_intermediate_is_named_as_such() {
    let root = TestCa::root("Root");
    let inter = root.intermediate_with(&CaSpec::new("Old Intermediate").expired());
    let leaf = inter.leaf(&LeafSpec::server("a.example"));
    let store = store_with(&[("root.pem", root.cert().cert_pem())]);
    match verify(&store, &leaf, &dns("a.example")) {
        Err(VerifyError::Expired { role, subject, .. }) => {
            assert_eq!(role, CertRole::Intermediate { index: 1 });
            assert!(subject.contains("Old Intermediate"));
        }
        other => panic!("expected Expired intermediate, got {other:?}"),
    }
}

#[test]
fn expired_uploaded_anchor_is_listed_and_fails_verification() {
    let root = TestCa::root_with(&CaSpec::new("Expired Root").expired());
    let leaf = root.leaf(&LeafSpec::server("a.example"));
    let store = store_with(&[("old-root.pem", root.cert().cert_pem())]);
    let listing = store.listing();
    assert!(matches!(
        listing.anchors[0].problems.as_slice(),
        [AnchorProblem::Expired { .. }]
    ));
    match verify(&store, &leaf, &dns("a.example")) {
        Err(VerifyError::Expired {
            role: CertRole::Anchor { source },
            ..
        }) => {
            assert_eq!(source, "old-root.pem");
        }
        other => panic!("expected Expired anchor, got {other:?}"),
    }
}

#[test]
fn clock_decides_validity() {
    let p = pki();
    let store = store_with(&[("root.pem", p.root.cert().cert_pem())]);
    let leaf = p.inter.leaf(&LeafSpec::server("a.example"));
    let later = sigil_trust::unix_time(OffsetDateTime::now_utc() + Duration::days(400));
    assert!(matches!(
        store.verify(&leaf.chain(), &dns("a.example"), later),
        Err(VerifyError::Expired {
            role: CertRole::Server,
            ..
        })
    ));
}

#[test]
fn wildcard_matches_one_left_most_label_only() {
    let p = pki();
    let store = store_with(&[("root.pem", p.root.cert().cert_pem())]);
    let leaf = p.inter.leaf(&LeafSpec::server("*.example.com"));
    assert_eq!(
        verify(&store, &leaf, &dns("sip.example.com"))
            .unwrap()
            .matched,
        "DNS:*.example.com"
    );
    for bad in ["a.b.example.com", "example.com", "sip.example.org"] {
        match verify(&store, &leaf, &dns(bad)) {
            Err(VerifyError::NameMismatch {
                expected,
                presented,
                ..
            }) => {
                assert_eq!(expected, format!("DNS name {bad}"));
                assert_eq!(presented, vec!["DNS:*.example.com".to_string()]);
            }
            other => panic!("{bad}: expected NameMismatch, got {other:?}"),
        }
    }
    // SIP: wildcards allowed unless strict
    assert!(verify(&store, &leaf, &ExpectedName::sip("example.com", false)).is_err());
    assert!(verify(&store, &leaf, &ExpectedName::sip("pbx.example.com", false)).is_ok());
    assert!(matches!(
        verify(&store, &leaf, &ExpectedName::sip("pbx.example.com", true)),
        Err(VerifyError::NameMismatch { .. })
    ));
}

#[test]
fn ip_san_matches_only_ip() {
    let p = pki();
    let store = store_with(&[("root.pem", p.root.cert().cert_pem())]);
    let ip: IpAddr = "192.0.2.7".parse().unwrap();
    let leaf = p.inter.leaf(
        &LeafSpec::default()
            .cn("192.0.2.7")
            .ip(ip)
            .ip("2001:db8::1".parse().unwrap()),
    );
    assert_eq!(
        verify(&store, &leaf, &ExpectedName::Ip(ip))
            .unwrap()
            .matched,
        "IP:192.0.2.7"
    );
    assert!(verify(&store, &leaf, &ExpectedName::host("[2001:db8::1]")).is_ok());
    match verify(
        &store,
        &leaf,
        &ExpectedName::Ip("192.0.2.8".parse().unwrap()),
    ) {
        Err(VerifyError::NameMismatch { presented, .. }) => {
            assert_eq!(presented, vec!["IP:192.0.2.7", "IP:2001:db8::1"]);
        }
        other => panic!("expected NameMismatch, got {other:?}"),
    }
    // a DNS name that looks like the IP does not match an IP SAN
    assert!(verify(&store, &leaf, &dns("192.0.2.7")).is_err());
    // an IP-addressed SIP proxy
    assert!(verify(&store, &leaf, &ExpectedName::sip("192.0.2.7", true)).is_ok());
}

#[test]
fn sip_uri_san_comes_first_per_rfc_5922() {
    let p = pki();
    let store = store_with(&[("root.pem", p.root.cert().cert_pem())]);
    let leaf = p
        .inter
        .leaf(&LeafSpec::server("*.example.com").uri("sip:example.com"));
    let v = verify(&store, &leaf, &ExpectedName::sip("example.com", true)).unwrap();
    assert_eq!(v.matched, "URI:sip:example.com");
    // the certificate has SIP URIs, so its dNSName entries do not count for SIP
    match verify(&store, &leaf, &ExpectedName::sip("pbx.example.com", false)) {
        Err(e @ VerifyError::NameMismatch { .. }) => {
            let VerifyError::NameMismatch {
                presented, note, ..
            } = &e
            else {
                unreachable!()
            };
            assert!(presented.contains(&"URI:sip:example.com".to_string()));
            assert!(presented.contains(&"DNS:*.example.com".to_string()));
            // The message says why the matching DNS name does not count.
            let note = note.as_deref().unwrap_or_default();
            assert!(note.contains("RFC 5922 §7.1"), "{e}");
            assert!(e.to_string().contains("not SIP domain identities"), "{e}");
            assert!(e.to_string().ends_with("URI:sip:pbx.example.com"), "{e}");
        }
        other => panic!("expected NameMismatch, got {other:?}"),
    }
    // Without sip: URIs, DNS names are the SIP identity and no note is added.
    let plain = p.inter.leaf(&LeafSpec::server("other.example.com"));
    match verify(&store, &plain, &ExpectedName::sip("pbx.example.com", false)) {
        Err(VerifyError::NameMismatch { note, .. }) => assert_eq!(note, None),
        other => panic!("expected NameMismatch, got {other:?}"),
    }
    // as an HTTPS host name, DNS entries count
    assert!(verify(&store, &leaf, &dns("pbx.example.com")).is_ok());
    // a URI with a user part is not a domain identity
    let user_uri = p
        .inter
        .leaf(&LeafSpec::server("proxy.example.net").uri("sip:alice@example.net"));
    assert!(verify(&store, &user_uri, &ExpectedName::sip("example.net", false)).is_err());
    assert!(verify(
        &store,
        &user_uri,
        &ExpectedName::sip("proxy.example.net", true)
    )
    .is_ok());
}

#[test]
fn no_san_means_no_name_even_with_a_matching_common_name() {
    let p = pki();
    let store = store_with(&[("root.pem", p.root.cert().cert_pem())]);
    let leaf = p.inter.leaf(&LeafSpec::default().cn("a.example"));
    match verify(&store, &leaf, &dns("a.example")) {
        Err(e @ VerifyError::NameMismatch { .. }) => {
            assert!(e.to_string().contains("subjectAltName is required"), "{e}");
        }
        other => panic!("expected NameMismatch, got {other:?}"),
    }
}

#[test]
fn uploaded_self_signed_ca_true_certificate_is_trusted_by_exact_match() {
    let server = pki::self_signed(&LeafSpec::server("pbx.local").ca(true));
    let store = store_with(&[("pbx.crt", server.cert_pem())]);
    let v = store
        .verify(&[server.cert()], &dns("pbx.local"), now())
        .expect("exact match");
    assert!(v.exact_match);
    assert_eq!(v.anchor_source, "pbx.crt");
    // wrong name still fails
    assert!(matches!(
        store.verify(&[server.cert()], &dns("other.local"), now()),
        Err(VerifyError::NameMismatch { .. })
    ));
    // not uploaded: refused, with a reason that says what to do
    let empty = store_with(&[]);
    let err = empty
        .verify(&[server.cert()], &dns("pbx.local"), now())
        .unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::UnknownIssuer { .. } | VerifyError::CaUsedAsEndEntity { .. }
        ),
        "{err:?}"
    );
}

#[test]
fn uploaded_self_signed_leaf_is_trusted_and_expiry_still_checked() {
    let server = pki::self_signed(&LeafSpec::server("pbx.local"));
    let store = store_with(&[("pbx.pem", server.cert_pem())]);
    assert!(
        store
            .verify(&[server.cert()], &dns("pbx.local"), now())
            .unwrap()
            .exact_match
    );
    let later = sigil_trust::unix_time(OffsetDateTime::now_utc() + Duration::days(400));
    assert!(matches!(
        store.verify(&[server.cert()], &dns("pbx.local"), later),
        Err(VerifyError::Expired {
            role: CertRole::Server,
            ..
        })
    ));
    let old = pki::self_signed(&LeafSpec::server("old.local").expired());
    let store = store_with(&[("old.pem", old.cert_pem())]);
    assert!(matches!(
        store.verify(&[old.cert()], &dns("old.local"), now()),
        Err(VerifyError::Expired { .. })
    ));
}

#[test]
fn client_only_certificate_is_wrong_usage() {
    let p = pki();
    let store = store_with(&[("root.pem", p.root.cert().cert_pem())]);
    let leaf = p
        .inter
        .leaf(&LeafSpec::server("a.example").eku(Eku::Client));
    assert!(matches!(
        verify(&store, &leaf, &dns("a.example")),
        Err(VerifyError::WrongUsage { .. })
    ));
    let ok = p.inter.leaf(&LeafSpec::server("a.example").eku(Eku::None));
    assert!(verify(&store, &ok, &dns("a.example")).is_ok());
}

#[test]
fn tampered_signature_is_bad_signature() {
    let p = pki();
    let store = store_with(&[("root.pem", p.root.cert().cert_pem())]);
    let leaf = p.inter.leaf(&LeafSpec::server("a.example"));
    let mut der = leaf.cert_der.clone();
    let last = der.len() - 1;
    der[last] ^= 0x01; // the last byte of the ECDSA signature's s value
    let chain = vec![CertificateDer::from(der), leaf.chain()[1].clone()];
    match store.verify(&chain, &dns("a.example"), now()) {
        Err(VerifyError::BadSignature { .. }) => {}
        other => panic!("expected BadSignature, got {other:?}"),
    }
}

#[test]
fn a_certificate_signed_by_an_impostor_ca_with_the_same_name_is_refused() {
    let real = TestCa::root("Same Name");
    let fake = TestCa::root("Same Name");
    let leaf = fake.leaf(&LeafSpec::server("a.example"));
    let store = store_with(&[("root.pem", real.cert().cert_pem())]);
    let err = verify(&store, &leaf, &dns("a.example")).unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::BadSignature { .. } | VerifyError::UnknownIssuer { .. }
        ),
        "{err:?}"
    );
}

#[test]
fn garbage_in_the_chain_is_malformed_with_its_position() {
    let p = pki();
    let store = store_with(&[("root.pem", p.root.cert().cert_pem())]);
    let leaf = p.inter.leaf(&LeafSpec::server("a.example"));
    let chain = vec![leaf.cert(), CertificateDer::from(vec![0x30, 0x03, 1, 2, 3])];
    assert!(matches!(
        store.verify(&chain, &dns("a.example"), now()),
        Err(VerifyError::Malformed { index: 1, .. })
    ));
    assert_eq!(
        store.verify(&[], &dns("a.example"), now()),
        Err(VerifyError::EmptyChain)
    );
    let long = vec![leaf.cert(); 65];
    assert!(matches!(
        store.verify(&long, &dns("a.example"), now()),
        Err(VerifyError::TooManyCertificates { count: 65, .. })
    ));
}

#[test]
fn other_key_algorithms_verify() {
    use sigil_testkit::pki::KeyAlg;
    let root = TestCa::root_with(&CaSpec::new("P384 Root").key_alg(KeyAlg::EcdsaP384));
    let leaf = root.leaf(&LeafSpec::server("a.example").key_alg(KeyAlg::Ed25519));
    let store = store_with(&[("root.pem", root.cert().cert_pem())]);
    assert!(verify(&store, &leaf, &dns("a.example")).is_ok());
}

#[test]
fn verify_error_round_trips_through_rustls_error() {
    let err = VerifyError::NameMismatch {
        expected: "DNS name a".into(),
        presented: vec!["DNS:b".into()],
        note: None,
    };
    let tls = err.clone().into_tls_error();
    assert_eq!(VerifyError::from_tls_error(&tls), Some(&err));
    assert_eq!(
        VerifyError::from_tls_error(&rustls::Error::DecryptError),
        None
    );
}

#[test]
fn key_usage_without_a_tls_server_bit_is_wrong_usage() {
    use sigil_testkit::pki::rcgen::KeyUsagePurpose;
    let p = pki();
    let store = store_with(&[("root.pem", p.root.cert().cert_pem())]);
    let mut spec = LeafSpec::server("a.example");
    spec.key_usages = Some(vec![KeyUsagePurpose::KeyCertSign]);
    let leaf = p.inter.leaf(&spec);
    match verify(&store, &leaf, &dns("a.example")) {
        Err(e @ VerifyError::WrongUsage { .. }) => {
            assert!(e.to_string().contains("key usage"), "{e}")
        }
        other => panic!("expected WrongUsage, got {other:?}"),
    }
    // keyEncipherment alone is accepted (as OpenSSL does); no keyUsage at all too
    spec.key_usages = Some(vec![KeyUsagePurpose::KeyEncipherment]);
    assert!(verify(&store, &p.inter.leaf(&spec), &dns("a.example")).is_ok());
    spec.key_usages = None;
    assert!(verify(&store, &p.inter.leaf(&spec), &dns("a.example")).is_ok());
}

#[test]
fn a_non_ca_certificate_of_the_issuers_name_does_not_anchor_and_says_why() {
    use sigil_testkit::pki::rcgen::{self, CertificateParams, DnType, IsCa, KeyPair};
    // an "issuer" without basicConstraints, and a leaf it signed
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "Not A CA");
    params.is_ca = IsCa::NoCa;
    let issuer_cert = params.self_signed(&key).unwrap();
    let issuer = rcgen::Issuer::new(params, key);
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf_params = CertificateParams::new(vec!["a.example".to_string()]).unwrap();
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "a.example");
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    let store = store_with(&[("not-a-ca.pem", issuer_cert.pem())]);
    assert!(matches!(
        store.listing().anchors[0].problems.as_slice(),
        [AnchorProblem::ExactMatchOnly]
    ));
    match store.verify(&[leaf.der().clone()], &dns("a.example"), now()) {
        Err(e @ VerifyError::IssuerNotCa { .. }) => {
            assert!(e.to_string().contains("not-a-ca.pem"), "{e}");
            assert!(e.to_string().contains("not a CA certificate"), "{e}");
        }
        other => panic!("expected IssuerNotCa, got {other:?}"),
    }
}

#[test]
fn an_uploaded_ca_that_is_not_self_signed_is_no_exact_match() {
    // an intermediate CA uploaded and then presented by a server as its own certificate
    let p = pki();
    let store = store_with(&[("inter.pem", p.inter.cert().cert_pem())]);
    let err = store
        .verify(&[p.inter.cert().cert()], &dns("a.example"), now())
        .unwrap_err();
    assert!(!matches!(err, VerifyError::NameMismatch { .. }), "{err:?}");
}

#[test]
fn weak_or_unsupported_server_keys_are_refused_before_a_handshake() {
    use sigil_testkit::pki::KeyAlg;
    let p = pki();
    let store = store_with(&[("root.pem", p.root.cert().cert_pem())]);
    for alg in [KeyAlg::EcdsaP256, KeyAlg::EcdsaP384, KeyAlg::Ed25519] {
        let leaf = p.inter.leaf(&LeafSpec::server("a.example").key_alg(alg));
        assert!(verify(&store, &leaf, &dns("a.example")).is_ok(), "{alg:?}");
    }
}
