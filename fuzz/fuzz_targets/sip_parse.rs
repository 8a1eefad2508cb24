//! The SIP message parser on arbitrary bytes: never panics; whatever parses
//! serializes to something that parses to the same bytes again.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = sigil_sip::Limits::default();
    if let Ok(message) = sigil_sip::parse_with(data, &limits) {
        // Serializing may add a Content-Length line and spell out compact names,
        // so a message right at the limits may need a little more room to re-parse.
        let roomier = sigil_sip::Limits {
            max_headers: limits.max_headers + 1,
            max_line_len: limits.max_line_len * 2,
            max_head_len: limits.max_head_len * 2,
            max_body_len: limits.max_body_len,
        };
        let wire = message.to_bytes();
        let again = sigil_sip::parse_with(&wire, &roomier).expect("serialized message must parse");
        assert_eq!(again.to_bytes(), wire, "serialization must be stable");
        let canonical = message.to_canonical().to_bytes();
        let _ = sigil_sip::parse_with(&canonical, &roomier).expect("canonical form must parse");
        // Every header that passed parsing is readable through its typed accessor.
        use sigil_sip::HeaderName as N;
        let h = message.headers();
        let has = |n: N| h.get(&n).is_some();
        assert_eq!(has(N::Via), !h.via().is_empty());
        assert_eq!(has(N::From), h.from().is_some());
        assert_eq!(has(N::To), h.to().is_some());
        assert_eq!(has(N::CSeq), h.cseq().is_some());
        assert_eq!(has(N::Contact), !h.contacts().is_empty() || h.contact_is_star());
        assert_eq!(has(N::Route), !h.route().is_empty());
        assert_eq!(has(N::RecordRoute), !h.record_route().is_empty());
        assert_eq!(has(N::ContentType), h.content_type().is_some());
        assert_eq!(has(N::MaxForwards), h.max_forwards().is_some());
        assert_eq!(has(N::Expires), h.expires().is_some());
        assert_eq!(h.get_all(&N::WwwAuthenticate).count(), h.www_authenticate().len());
        assert_eq!(h.get_all(&N::Authorization).count(), h.authorization().len());
        assert_eq!(has(N::Warning), !h.warnings().is_empty());
    }
});
