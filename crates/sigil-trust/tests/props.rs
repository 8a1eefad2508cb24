//! Property tests: the loader is total and exact; our DNS matcher agrees with rustls-webpki.

use std::sync::OnceLock;

use proptest::prelude::*;
use rustls_pki_types::{CertificateDer, ServerName};
use sigil_testkit::pki::{self, LeafSpec, TestCa};
use sigil_trust::{dns_matches, parse_file, CertSummary, RefuseReason};

/// Three certificates made once (key generation is the slow part).
fn pool() -> &'static Vec<(String, Vec<u8>)> {
    static POOL: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    POOL.get_or_init(|| {
        let root = TestCa::root("Prop Root");
        let leaf = root.leaf(&LeafSpec::server("prop.example"));
        let ss = pki::self_signed(&LeafSpec::server("ss.example").ca(true));
        [root.cert().clone(), leaf, ss]
            .into_iter()
            .map(|c| (c.cert_pem(), c.cert_der))
            .collect()
    })
}

fn junk() -> impl Strategy<Value = String> {
    // text openssl tolerates around blocks: no line may start with five dashes
    proptest::string::string_regex("([a-zA-Z0-9 =:/,.]{0,30}\n){0,3}").unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn loader_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_file(&bytes);
    }

    #[test]
    fn loader_never_panics_on_damaged_pem(
        pick in 0usize..3,
        cut in 0usize..2000,
        flips in proptest::collection::vec((0usize..2000, any::<u8>()), 0..4),
    ) {
        let mut bytes = pool()[pick].0.clone().into_bytes();
        for (pos, value) in flips {
            let len = bytes.len();
            bytes[pos % len] = value;
        }
        bytes.truncate(cut.min(bytes.len()));
        if let Ok(certs) = parse_file(&bytes) {
            // whatever loads must be a real certificate
            for der in certs {
                prop_assert!(CertSummary::parse(&der, 0).is_ok());
            }
        }
    }

    #[test]
    fn bundles_load_exactly_the_certificates_in_order(
        picks in proptest::collection::vec(0usize..3, 1..6),
        gaps in proptest::collection::vec(junk(), 6),
        crlf in any::<bool>(),
    ) {
        let mut text = String::new();
        for (i, &p) in picks.iter().enumerate() {
            text.push_str(&gaps[i]);
            text.push_str(&pool()[p].0);
        }
        text.push_str(&gaps[5]);
        if crlf {
            text = text.replace('\n', "\r\n");
        }
        let certs = parse_file(text.as_bytes()).expect("bundle loads");
        let expected: Vec<CertificateDer<'static>> =
            picks.iter().map(|&p| CertificateDer::from(pool()[p].1.clone())).collect();
        prop_assert_eq!(certs, expected);
    }

    #[test]
    fn a_private_key_anywhere_refuses_the_file(pick in 0usize..3, before in any::<bool>()) {
        let key = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n";
        let cert = &pool()[pick].0;
        let text = if before { format!("{key}{cert}") } else { format!("{cert}{key}") };
        prop_assert_eq!(
            parse_file(text.as_bytes()),
            Err(RefuseReason::ContainsPrivateKey { certificates: 1 })
        );
    }
}

fn label() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_string()),
        Just("b".to_string()),
        Just("xn--bcher-kva".to_string()),
        "[a-z0-9]{1,3}",
    ]
}

fn name_of(labels: &[String]) -> String {
    labels.join(".")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// For host names (not SIP), our RFC 6125 matcher says what rustls-webpki says.
    #[test]
    fn dns_matching_agrees_with_webpki(
        pattern_labels in proptest::collection::vec(label(), 2..4),
        wildcard in any::<bool>(),
        reference in proptest::collection::vec(label(), 1..5),
        upper in any::<bool>(),
    ) {
        let mut pattern = name_of(&pattern_labels);
        if wildcard {
            pattern = format!("*.{pattern}");
        }
        let mut name = name_of(&reference);
        if upper {
            name = name.to_ascii_uppercase();
        }
        let cert = pki::self_signed(&LeafSpec::server(&pattern));
        let der = CertificateDer::from(cert.cert_der.clone());
        let ee = webpki::EndEntityCert::try_from(&der).unwrap();
        // names rustls itself refuses (e.g. an all-numeric last label) never reach a verifier
        let server_name = match ServerName::try_from(name.as_str()) {
            Ok(sn @ ServerName::DnsName(_)) => sn,
            _ => return Ok(()),
        };
        let theirs = ee.verify_is_valid_for_subject_name(&server_name).is_ok();
        prop_assert_eq!(dns_matches(&pattern, &name, true), theirs, "pattern {} name {}", pattern, name);
    }
}
