//! The verifier's certificate parsing and name extraction on arbitrary DER:
//! summary, name checks (DNS, IP, SIP) and the whole verification path,
//! which must end in a typed reason, never a panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sigil_trust::pki_types::{CertificateDer, UnixTime};
use sigil_trust::{check_name, CertSummary, ExpectedName, TrustStore};

fn store() -> &'static TrustStore {
    static STORE: OnceLock<TrustStore> = OnceLock::new();
    STORE.get_or_init(|| TrustStore::builder().build())
}

fuzz_target!(|data: &[u8]| {
    if let Ok(summary) = CertSummary::parse(data, 0) {
        for expected in [
            ExpectedName::host("sip.example.com"),
            ExpectedName::host("127.0.0.1"),
            ExpectedName::sip("example.com", false),
            ExpectedName::sip("example.com", true),
        ] {
            let _ = check_name(&summary, &expected);
        }
        let _ = sigil_trust::presented_names(&summary);
    }
    let chain = [CertificateDer::from(data)];
    let now = UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_800_000_000));
    let _ = store().verify(&chain, &ExpectedName::host("sip.example.com"), now);
});
