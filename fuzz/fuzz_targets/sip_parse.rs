//! The SIP message parser on arbitrary bytes: never panics; whatever parses
//! serializes to something that parses to the same bytes again.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = sigil_sip::Limits::default();
    if let Ok(message) = sigil_sip::parse_with(data, &limits) {
        let wire = message.to_bytes();
        let again = sigil_sip::parse_with(&wire, &limits).expect("serialized message must parse");
        assert_eq!(again.to_bytes(), wire, "serialization must be stable");
        let canonical = message.to_canonical().to_bytes();
        let _ = sigil_sip::parse_with(&canonical, &limits).expect("canonical form must parse");
        // Typed accessors on whatever parsed.
        let h = message.headers();
        let _ = (h.via(), h.from(), h.to(), h.cseq(), h.contacts(), h.route(), h.record_route());
        let _ = (h.www_authenticate(), h.authorization(), h.warnings(), h.content_type(), h.expires());
    }
});
