//! Property tests: serialize → parse round trip, totality on arbitrary bytes,
//! and stream framing independent of how the stream is chunked.

use proptest::prelude::*;
use sigil_sip::{
    parse, Framer, FramerEvent, FramingError, Header, HeaderName, KeepAliveRole, Limits, Message,
    Method, Request, Response, Uri,
};

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9.!%*_+`'~-]{0,12}"
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,10}(\\.[a-z][a-z0-9-]{0,8}){0,3}",
        (any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>())
            .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        Just("[2001:db8::1]".to_string()),
    ]
}

fn sip_uri() -> impl Strategy<Value = String> {
    (
        prop::option::of("[a-zA-Z0-9._~+-]{1,10}"),
        host(),
        prop::option::of(1u16..),
        prop::collection::vec(("[a-z]{1,6}", prop::option::of("[a-z0-9]{1,6}")), 0..3),
        any::<bool>(),
    )
        .prop_map(|(user, host, port, params, secure)| {
            let mut s = String::from(if secure { "sips:" } else { "sip:" });
            if let Some(u) = user {
                s.push_str(&u);
                s.push('@');
            }
            s.push_str(&host);
            if let Some(p) = port {
                s.push_str(&format!(":{p}"));
            }
            for (n, v) in params {
                s.push(';');
                s.push_str(&n);
                if let Some(v) = v {
                    s.push('=');
                    s.push_str(&v);
                }
            }
            s
        })
}

fn quoted() -> impl Strategy<Value = String> {
    "[ a-zA-Z0-9,;:<>@\"\\\\é-]{0,12}".prop_map(|s| sigil_sip::quote(&s))
}

fn header() -> impl Strategy<Value = (HeaderName, String)> {
    prop_oneof![
        (token(), host(), prop::option::of(1u16..), token()).prop_map(|(t, h, p, b)| {
            let port = p.map(|p| format!(":{p}")).unwrap_or_default();
            (
                HeaderName::Via,
                format!("SIP/2.0/{t} {h}{port};branch=z9hG4bK{b};rport"),
            )
        }),
        (prop::option::of(quoted()), sip_uri(), token()).prop_map(|(d, u, tag)| {
            (
                HeaderName::From,
                format!("{} <{u}>;tag={tag}", d.unwrap_or_default()),
            )
        }),
        sip_uri().prop_map(|u| (HeaderName::To, u)),
        (
            "[a-zA-Z0-9.!%*_+`'~()<>:\\\\\"/\\[\\]?{}-]{1,20}",
            prop::option::of(host())
        )
            .prop_map(|(w, h)| (
                HeaderName::CallId,
                h.map_or(w.clone(), |h| format!("{w}@{h}"))
            )),
        (sip_uri(), 0u32..100_000, prop::option::of("0\\.[0-9]{1,3}")).prop_map(|(u, e, q)| (
            HeaderName::Contact,
            format!(
                "<{u}>;expires={e}{}",
                q.map(|q| format!(";q={q}")).unwrap_or_default()
            )
        )),
        Just((HeaderName::Contact, "*".to_string())),
        (0u8..=255).prop_map(|m| (HeaderName::MaxForwards, m.to_string())),
        any::<u32>().prop_map(|e| (HeaderName::Expires, e.to_string())),
        (token(), token()).prop_map(|(a, b)| (HeaderName::ContentType, format!("{a}/{b}"))),
        (token(), quoted(), quoted()).prop_map(|(r, n, o)| {
            (
                HeaderName::WwwAuthenticate,
                format!("Digest realm={n}, nonce={o}, qop=\"auth\", algorithm={r}"),
            )
        }),
        (100u16..1000, token(), quoted())
            .prop_map(|(c, a, t)| (HeaderName::Warning, format!("{c} {a} {t}"))),
        (sip_uri(), sip_uri())
            .prop_map(|(a, b)| (HeaderName::RecordRoute, format!("<{a};lr>, <{b}>"))),
        ("X-[A-Za-z0-9-]{1,10}", "[ -~]{0,30}").prop_map(|(n, v)| (HeaderName::Other(n), v)),
    ]
}

/// Append headers, leaving out repetitions of headers that may appear only once.
fn push_all(headers: &mut sigil_sip::Headers, hs: Vec<(HeaderName, String)>) {
    for (n, v) in hs {
        let single = matches!(
            n,
            HeaderName::From
                | HeaderName::To
                | HeaderName::CallId
                | HeaderName::MaxForwards
                | HeaderName::ContentType
        );
        if single && headers.get(&n).is_some() {
            continue;
        }
        headers.push(Header::new(n, v).unwrap());
    }
}

fn message() -> impl Strategy<Value = Message> {
    let headers = || prop::collection::vec(header(), 0..12);
    let body = || prop::collection::vec(any::<u8>(), 0..64);
    let request = (token(), sip_uri(), 0u32..(1 << 31), headers(), body()).prop_map(
        |(m, u, seq, hs, body)| {
            let method: Method = m.parse().unwrap();
            let mut r = Request::new(method.clone(), u.parse::<Uri>().unwrap());
            r.headers
                .push(Header::new(HeaderName::CSeq, format!("{seq} {method}")).unwrap());
            push_all(&mut r.headers, hs);
            r.body = body.into();
            Message::Request(r)
        },
    );
    let response =
        (100u16..700, "[ -~]{0,20}", headers(), body()).prop_map(|(s, reason, hs, body)| {
            let mut r = Response::new(s, reason.trim_start());
            push_all(&mut r.headers, hs);
            r.body = body.into();
            Message::Response(r)
        });
    prop_oneof![request, response]
}

fn events(data: &[u8], cuts: &[usize], limits: Limits) -> Vec<Result<FramerEvent, FramingError>> {
    let mut f = Framer::with_limits(limits, KeepAliveRole::Server);
    let mut out = Vec::new();
    let mut pos = 0;
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    points.sort_unstable();
    points.push(data.len());
    for p in points {
        f.push(&data[pos..p.max(pos)]);
        pos = p.max(pos);
        for _ in 0..10_000 {
            match f.poll() {
                Some(e) => out.push(e),
                None => break,
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn serialize_parse_round_trip(m in message()) {
        let wire = m.to_bytes();
        let parsed = parse(&wire).map_err(|e| TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&wire))))?;
        prop_assert_eq!(parsed.to_bytes(), wire.clone());
        prop_assert_eq!(parsed.body(), m.body());
        prop_assert_eq!(parsed.headers().len(), m.headers().len() + usize::from(m.headers().content_length().is_none()));
        let canon = parsed.to_canonical().to_bytes();
        let again = parse(&canon).map_err(|e| TestCaseError::fail(format!("canonical: {e}\n{}", String::from_utf8_lossy(&canon))))?;
        prop_assert_eq!(again.to_bytes(), canon);
    }

    #[test]
    fn parser_is_total(data in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(&data);
    }

    #[test]
    fn framing_independent_of_chunking(
        items in prop::collection::vec(prop_oneof![
            3 => message().prop_map(|m| m.to_bytes()),
            1 => Just(b"\r\n\r\n".to_vec()),
            1 => Just(b"\r\n".to_vec()),
        ], 0..6),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let data = items.concat();
        let whole = events(&data, &[], Limits::default());
        let chunked = events(&data, &cuts, Limits::default());
        prop_assert_eq!(&whole, &chunked);
        let messages = whole.iter().filter(|e| matches!(e, Ok(FramerEvent::Message(_)))).count();
        let expected = items.iter().filter(|i| !i.starts_with(b"\r\n")).count();
        prop_assert_eq!(messages, expected);
    }

    #[test]
    fn framing_arbitrary_bytes_independent_of_chunking(
        data in prop::collection::vec(prop_oneof![
            Just(b'\r'), Just(b'\n'), Just(b':'), Just(b' '), any::<u8>(),
        ], 0..400),
        prefix in prop::sample::select(vec![&b""[..], b"OPTIONS sip:a SIP/2.0\r\nl: 3\r\n", b"SIP/2.0 200 OK\r\nContent-Length: 9\r\n\r\n"]),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let data = [prefix, &data[..]].concat();
        let limits = Limits { max_head_len: 200, max_body_len: 50, max_headers: 8, max_line_len: 100 };
        prop_assert_eq!(events(&data, &[], limits), events(&data, &cuts, limits));
    }
}
