//! RFC 4475 torture messages: every file in `<workspace>/testdata/rfc4475/`.
//!
//! Valid messages (§3.1.1) must parse, invalid ones (§3.1.2) must be rejected,
//! and nothing may panic. The semantic groups (§3.2, §3.3, §3.4) are
//! well-formed; the outcome of each is checked against what this parser is
//! documented to do with it.

use std::path::PathBuf;

use sigil_sip::{
    parse, Framer, FramerEvent, FramingError, KeepAliveRole, Limits, Message, ParseErrorKind,
};

fn dir() -> PathBuf {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/rfc4475"
    ));
    assert!(
        dir.join("README.md").is_file(),
        "RFC 4475 test data not found at {} (the repository's testdata/rfc4475)",
        dir.display()
    );
    dir
}

fn load(name: &str) -> Vec<u8> {
    let path = dir().join(format!("{name}.dat"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

const VALID: &[&str] = &[
    "wsinv",
    "intmeth",
    "esc01",
    "escnull",
    "esc02",
    "lwsdisp",
    "longreq",
    "dblreq",
    "semiuri",
    "transports",
    "mpart01",
    "unreason",
    "noreason",
];

/// §3.1.2 with the error we expect for each.
const INVALID: &[(&str, &str)] = &[
    ("badinv01", "empty Via/Contact parameters"),
    ("clerr", "Content-Length larger than the body"),
    ("ncl", "negative Content-Length"),
    ("scalar02", "CSeq beyond 2^31, Max-Forwards 300"),
    ("scalarlg", "CSeq overflow, four-digit warning code"),
    ("quotbal", "unterminated quoted string"),
    ("ltgtruri", "<> around the Request-URI"),
    ("lwsruri", "white space inside the Request-URI"),
    ("lwsstart", "double spaces in the request line"),
    ("trws", "trailing spaces in the request line"),
    ("escruri", "URI headers in the Request-URI"),
    ("baddate", "Date not in GMT"),
    ("regbadct", "addr-spec with '?' outside <>"),
    ("badaspec", "spaces inside <>"),
    ("baddn", "unquoted non-token display name"),
    ("badvers", "SIP/7.0"),
    ("mismatch01", "CSeq method differs from request method"),
    ("mismatch02", "CSeq method differs from request method"),
    ("bigcode", "status code 4294967301"),
];

/// §3.2–§3.4: well-formed; `true` = this parser accepts it (the element above decides),
/// `false` = rejected, with the reason.
const SEMANTIC: &[(&str, bool, &str)] = &[
    ("badbranch", true, "branch without the magic cookie is legal (RFC 2543 peer)"),
    ("insuf", true, "missing From/To/Call-ID/Max-Forwards is for the transaction layer to refuse (400)"),
    ("unkscm", true, "unknown Request-URI scheme kept verbatim; the element answers 416"),
    ("unksm2", true, "unknown URI schemes in To/From/Contact kept verbatim"),
    ("bext01", true, "unknown Require option is for the UA to answer 420"),
    ("novelsc", true, "unknown scheme kept verbatim; the element answers 416"),
    ("invut", true, "unknown body type is for the UA to answer 415"),
    ("regaut01", true, "unknown authorization scheme is kept as a generic credential"),
    ("multi01", false, "From/To/Call-ID/CSeq/Max-Forwards repeated with different values (400)"),
    ("mcl01", false, "two different Content-Length values"),
    ("bcast", true, "broadcast address in Via is for the transport layer to ignore"),
    ("zeromf", true, "Max-Forwards 0 is legal; the element answers 483"),
    ("cparam01", true, "addr-spec Contact: unknownparam is a header parameter"),
    ("cparam02", true, "unknownparam inside <> is a URI parameter"),
    ("regescrt", true, "escaped Route header inside <> of a Contact is legal syntax; the registrar must not act on it"),
    ("sdp01", true, "Accept without application/sdp is for the UA to answer"),
    ("inv2543", true, "RFC 2543 request without Content-Length or branch parses on a datagram"),
];

#[test]
fn every_file_is_covered() {
    let mut names: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".dat").map(str::to_string))
        .collect();
    names.sort();
    let covered: Vec<&str> = VALID
        .iter()
        .copied()
        .chain(INVALID.iter().map(|(n, _)| *n))
        .chain(SEMANTIC.iter().map(|(n, _, _)| *n))
        .collect();
    assert_eq!(names.len(), 49, "RFC 4475 has 49 messages");
    for n in &names {
        assert!(covered.contains(&n.as_str()), "{n}.dat has no expectation");
    }
}

#[test]
fn valid_messages_parse_and_round_trip() {
    for name in VALID {
        let m =
            parse(&load(name)).unwrap_or_else(|e| panic!("{name}: valid message rejected: {e}"));
        let again = parse(&m.to_bytes())
            .unwrap_or_else(|e| panic!("{name}: serialized form does not parse: {e}"));
        assert_eq!(again, m, "{name}: round trip changed the message");
        let canon = m.to_canonical();
        assert_eq!(
            parse(&canon.to_bytes()).unwrap().to_bytes(),
            canon.to_bytes(),
            "{name}: canonical form unstable"
        );
        println!(
            "{name}: parsed ({} headers, {} body bytes)",
            m.headers().len(),
            m.body().len()
        );
    }
}

#[test]
fn invalid_messages_are_rejected() {
    for (name, why) in INVALID {
        match parse(&load(name)) {
            Ok(_) => panic!("{name}: accepted, but it has {why}"),
            Err(e) => println!("{name}: rejected at byte {}: {} [{why}]", e.offset, e.kind),
        }
    }
}

#[test]
fn semantic_messages() {
    for (name, accepted, why) in SEMANTIC {
        let r = parse(&load(name));
        assert_eq!(r.is_ok(), *accepted, "{name}: {why}: {r:?}");
        match r {
            Ok(_) => println!("{name}: parsed [{why}]"),
            Err(e) => println!("{name}: rejected at byte {}: {} [{why}]", e.offset, e.kind),
        }
    }
}

#[test]
fn specific_details() {
    let Message::Request(r) = parse(&load("wsinv")).unwrap() else {
        panic!()
    };
    assert_eq!(r.headers.cseq().unwrap().seq, 9);
    assert_eq!(r.headers.max_forwards(), Some(68));
    assert_eq!(r.headers.via().len(), 3);
    assert_eq!(r.headers.to().unwrap().tag(), Some("1918181833n"));
    assert_eq!(
        r.headers.contacts()[0].param("q").unwrap().value.as_deref(),
        Some("0.33")
    );

    let Message::Request(r) = parse(&load("esc02")).unwrap() else {
        panic!()
    };
    assert_eq!(r.method.as_str(), "RE%47IST%45R");
    assert_eq!(r.headers.contacts().len(), 2, "C%6Fntact is not Contact");

    let Message::Request(r) = parse(&load("dblreq")).unwrap() else {
        panic!()
    };
    assert!(
        r.body.is_empty(),
        "the second request after Content-Length: 0 is discarded"
    );

    let Message::Response(r) = parse(&load("noreason")).unwrap() else {
        panic!()
    };
    assert_eq!((r.status, r.reason.as_str()), (100, ""));

    let e = parse(&load("ncl")).unwrap_err();
    assert!(matches!(e.kind, ParseErrorKind::BadContentLength(_)));
    let e = parse(&load("clerr")).unwrap_err();
    assert!(matches!(
        e.kind,
        ParseErrorKind::BodyTruncated { declared: 9999, .. }
    ));
}

fn frame_all(data: &[u8]) -> Vec<Result<FramerEvent, FramingError>> {
    let mut f = Framer::with_limits(Limits::default(), KeepAliveRole::Server);
    f.push(data);
    let mut out = Vec::new();
    while let Some(e) = f.poll() {
        out.push(e);
        if out.len() > 100 {
            break;
        }
    }
    out
}

#[test]
fn stream_framing_of_the_content_length_cases() {
    // clerr: the stream waits for 9999 bytes (bounded by the body limit); no message yet.
    assert!(frame_all(&load("clerr")).is_empty());
    // ncl: negative Content-Length; the stream cannot continue.
    let ev = frame_all(&load("ncl"));
    assert!(
        matches!(ev[..], [Err(FramingError::BadContentLength(_))]),
        "{ev:?}"
    );
    // mcl01: two different Content-Length values.
    let ev = frame_all(&load("mcl01"));
    assert!(
        matches!(ev[..], [Err(FramingError::ConflictingContentLength(13, 5))]),
        "{ev:?}"
    );
    // scalarlg: framed correctly, malformed inside; skipped and the stream goes on.
    let ev = frame_all(&load("scalarlg"));
    assert!(
        matches!(&ev[..], [Err(e @ FramingError::Malformed(_))] if e.can_continue()),
        "{ev:?}"
    );
    // inv2543 has no Content-Length: on a stream that is an error.
    let ev = frame_all(&load("inv2543"));
    assert!(
        matches!(ev[..], [Err(FramingError::MissingContentLength)]),
        "{ev:?}"
    );
    // dblreq on a stream: the REGISTER, the blank line after it (reported as a CRLF pong,
    // which RFC 3261 §7.5 lets a receiver ignore), the INVITE cut at its declared 150 bytes,
    // and then the INVITE's real last bytes, which frame as nothing valid: the stream is lost.
    let ev = frame_all(&load("dblreq"));
    assert_eq!(ev.len(), 4, "{ev:?}");
    let (
        Ok(FramerEvent::Message(first)),
        Ok(FramerEvent::Pong),
        Ok(FramerEvent::Message(second)),
        Err(FramingError::MissingContentLength),
    ) = (&ev[0], &ev[1], &ev[2], &ev[3])
    else {
        panic!("{ev:?}")
    };
    assert_eq!(
        first.as_request().map(|r| r.method.as_str()),
        Some("REGISTER")
    );
    assert_eq!(
        second.as_request().map(|r| r.method.as_str()),
        Some("INVITE")
    );
    assert_eq!(second.body().len(), 150);
}

#[test]
fn no_file_panics_under_any_chunking() {
    for entry in std::fs::read_dir(dir()).unwrap().filter_map(|e| e.ok()) {
        let data = std::fs::read(entry.path()).unwrap();
        for chunk in [1, 2, 3, 7, 64, 4096] {
            let mut f = Framer::with_limits(Limits::default(), KeepAliveRole::Server);
            for c in data.chunks(chunk) {
                f.push(c);
                for _ in 0..100 {
                    if f.poll().is_none() {
                        break;
                    }
                }
            }
        }
        for cut in 0..data.len().min(400) {
            let _ = parse(&data[..cut]);
        }
    }
}
