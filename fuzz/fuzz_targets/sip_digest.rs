//! Digest challenge parsing (WWW-/Proxy-Authenticate values) on arbitrary
//! text: never panics; an accepted challenge can always be answered, and the
//! answer is a valid Authorization header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sigil_sip::{Challenge, Credentials, DigestClient, Header, HeaderName};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for proxy in [false, true] {
        if let Ok(challenge) = Challenge::parse(text, proxy) {
            let mut client = DigestClient::new(Credentials::new("alice", "secret"));
            let answer = client.authorize_with_cnonce(&challenge, "REGISTER", "sip:example.com", b"", "0a4f113b");
            Header::new(HeaderName::Authorization, answer.to_string()).expect("our answer must be a valid header");
        }
    }
});
