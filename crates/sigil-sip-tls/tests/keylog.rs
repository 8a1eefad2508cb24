//! TLS key log: secrets are written only when the policy names a file, never
//! because of `SSLKEYLOGFILE` in the environment.
//! (Its own test binary: it sets an environment variable.)

mod common;

use std::time::Instant;

use common::*;
use sigil_sip_tls::{ClientAuth, ConnectionSettings, TlsPolicy};

#[test]
fn key_log_follows_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys.log");
    let from_environment = dir.path().join("env-keys.log");
    std::env::set_var("SSLKEYLOGFILE", &from_environment);
    let pki = Pki::new();
    let acceptor = pki.acceptor(
        ClientAuth::Required(pki.device_verifier()),
        &TlsPolicy::default(),
    );
    for key_log in [false, true] {
        let policy = TlsPolicy {
            key_log: key_log.then(|| file.clone()),
            ..TlsPolicy::default()
        };
        let connector = pki.connector(&policy, true);
        let now = Instant::now();
        let mut c = connector
            .connection(now, ConnectionSettings::default())
            .unwrap();
        let mut s = acceptor
            .connection(now, ConnectionSettings::default())
            .unwrap();
        let (ce, se) = pump(&mut c, &mut s, now);
        assert!(ce.is_none() && se.is_none());
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        if key_log {
            assert!(text.contains("CLIENT_HANDSHAKE_TRAFFIC_SECRET "), "{text}");
            assert!(text.contains("CLIENT_TRAFFIC_SECRET_0 "), "{text}");
        } else {
            assert!(text.is_empty(), "nothing is logged unless asked: {text}");
        }
        assert!(
            !from_environment.exists(),
            "SSLKEYLOGFILE in the environment is never followed"
        );
    }
}
