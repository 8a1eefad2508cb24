//! The uploaded-file loader of the trust store on arbitrary bytes: it must
//! return certificates or a refusal reason, never panic, hang or balloon.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let loaded = sigil_trust::parse_file(data);
    if let Ok(certs) = &loaded {
        // everything the loader accepts must be readable as a certificate
        for der in certs {
            assert!(sigil_trust::CertSummary::parse(der, 0).is_ok());
        }
    }
    // the store built from it, and its listing, must not panic either
    let store = sigil_trust::TrustStore::builder()
        .builtin(false)
        .user_bytes("fuzz.pem", data)
        .build();
    let _ = store.listing().to_json();
});
