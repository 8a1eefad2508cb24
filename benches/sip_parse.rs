//! SIP message parsing: sigil-sip against rsip and ezk-sip-types, on a REGISTER
//! and on an INVITE with SDP, in the same run.
//!
//! Each group reports messages/s (`Throughput::Elements`) and, in the `_bytes`
//! groups, MB/s (`Throughput::Bytes`). "parse" is parsing alone; sigil-sip checks
//! the grammar of every known header while parsing, the others keep values raw
//! until asked. "parse+typed" also reads top Via branch, From tag, CSeq and
//! Call-ID as typed values, which is what a UA does with every message.
//!
//! Run: `cargo bench --bench sip_parse`

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const REGISTER: &[u8] = b"REGISTER sip:example.com SIP/2.0\r\n\
Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bK776asdhds;rport;alias\r\n\
Max-Forwards: 70\r\n\
From: \"Door Phone\" <sip:doorphone@example.com>;tag=a73kszlfl\r\n\
To: <sip:doorphone@example.com>\r\n\
Call-ID: 1j9FpLxk3uxtm8tn@192.0.2.10\r\n\
CSeq: 2 REGISTER\r\n\
Contact: <sip:doorphone@192.0.2.10:5061;transport=tls>;expires=3600\r\n\
Expires: 3600\r\n\
Authorization: Digest username=\"doorphone\", realm=\"example.com\", nonce=\"ea9c8e88df84f1cec4341ae6cbe5a359\", uri=\"sip:example.com\", response=\"dfe56131d1958046689d83306477ecc\", algorithm=MD5, cnonce=\"0a4f113b\", qop=auth, nc=00000001\r\n\
User-Agent: sigil/0.1\r\n\
Content-Length: 0\r\n\r\n";

const INVITE: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/TLS client.atlanta.example.com:5061;branch=z9hG4bK74bf9;rport\r\n\
Max-Forwards: 70\r\n\
From: Alice <sips:alice@atlanta.example.com>;tag=9fxced76sl\r\n\
To: Bob <sips:bob@biloxi.example.com>\r\n\
Call-ID: 3848276298220188511@atlanta.example.com\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sips:alice@client.atlanta.example.com;transport=tls>\r\n\
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY\r\n\
Supported: replaces, timer\r\n\
User-Agent: sigil/0.1\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 309\r\n\r\n\
v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 client.atlanta.example.com\r\n\
s=-\r\n\
c=IN IP4 192.0.2.101\r\n\
t=0 0\r\n\
m=audio 49172 RTP/SAVP 0 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

mod ezk {
    //! ezk-sip-types has no one-call message parser; this is the pipeline its
    //! transport layer runs: pull lines, parse the start line, collect headers,
    //! slice the body by Content-Length.
    use bytes::Bytes;
    use ezk_sip_types::header::typed::{CSeq, CallID, ContentLength, FromTo, Via};
    use ezk_sip_types::msg::{Line, MessageLine, PullParser};
    use ezk_sip_types::parse::Parse;
    use ezk_sip_types::{Headers, Name};

    pub struct Parsed {
        pub line: MessageLine,
        pub headers: Headers,
        pub body: Bytes,
    }

    pub fn parse(buf: &Bytes) -> Option<Parsed> {
        let mut parser = PullParser::new(buf, 0);
        let first = std::str::from_utf8(parser.next()?.ok()?).ok()?;
        let (_, line) = MessageLine::parse(buf)(first).ok()?;
        let mut headers = Headers::new();
        for raw in &mut parser {
            let text = std::str::from_utf8(raw.ok()?).ok()?;
            let (_, l) = Line::parse(buf, text).ok()?;
            headers.insert(l.name, l.value);
        }
        let head_end = parser.head_end();
        let len = headers
            .get_named::<ContentLength>()
            .map(|l| l.0)
            .unwrap_or(0);
        let body = buf
            .get(head_end..head_end + len)
            .map(|_| buf.slice(head_end..head_end + len))?;
        Some(Parsed {
            line,
            headers,
            body,
        })
    }

    pub fn typed(p: &Parsed) -> Option<usize> {
        let via: Via = p.headers.get_named().ok()?;
        let from: FromTo = p.headers.get(Name::FROM).ok()?;
        let cseq: CSeq = p.headers.get_named().ok()?;
        let call_id: CallID = p.headers.get_named().ok()?;
        Some(
            via.params.get_val("branch").map_or(0, |b| b.len())
                + from.tag.map_or(0, |t| t.len())
                + cseq.cseq as usize
                + call_id.0.len(),
        )
    }
}

fn sigil_typed(m: &sigil_sip::Message) -> Option<usize> {
    let h = m.headers();
    let via = h.top_via()?;
    let from = h.from()?;
    let cseq = h.cseq()?;
    Some(via.branch()?.len() + from.tag()?.len() + cseq.seq as usize + h.call_id()?.len())
}

fn rsip_typed(m: &rsip::SipMessage) -> Option<usize> {
    use rsip::prelude::*;
    let via = m.via_header().ok()?.typed().ok()?;
    let from = m.from_header().ok()?.typed().ok()?;
    let cseq = m.cseq_header().ok()?.typed().ok()?;
    let call_id = m.call_id_header().ok()?;
    Some(
        via.branch().map_or(0, |b| b.to_string().len())
            + from.tag().map_or(0, |t| t.to_string().len())
            + cseq.seq as usize
            + call_id.value().len(),
    )
}

fn bench(c: &mut Criterion) {
    // Every parser must accept both messages, or the comparison is void.
    for (name, msg) in [("REGISTER", REGISTER), ("INVITE", INVITE)] {
        let bytes = bytes::Bytes::from_static(msg);
        let ours = sigil_sip::parse(msg).expect("sigil-sip parses");
        assert!(sigil_typed(&ours).is_some(), "{name}: sigil typed access");
        let theirs = rsip::SipMessage::try_from(msg).expect("rsip parses");
        assert!(rsip_typed(&theirs).is_some(), "{name}: rsip typed access");
        let e = ezk::parse(&bytes).expect("ezk-sip-types parses");
        assert!(ezk::typed(&e).is_some(), "{name}: ezk typed access");
        assert_eq!(ours.body().len(), e.body.len());
        let _ = e.line;
    }

    for (name, msg) in [("register", REGISTER), ("invite_sdp", INVITE)] {
        let bytes = bytes::Bytes::from_static(msg);
        let limits = sigil_sip::Limits::default();
        for (unit, throughput) in [
            ("msgs", Throughput::Elements(1)),
            ("bytes", Throughput::Bytes(msg.len() as u64)),
        ] {
            let mut g = c.benchmark_group(format!("sip_parse/{name}/{unit}"));
            g.throughput(throughput);
            g.bench_function(BenchmarkId::new("parse", "sigil-sip"), |b| {
                b.iter(|| sigil_sip::parse_bytes(black_box(bytes.clone()), &limits).unwrap())
            });
            g.bench_function(BenchmarkId::new("parse", "rsip"), |b| {
                b.iter(|| rsip::SipMessage::try_from(black_box(msg)).unwrap())
            });
            g.bench_function(BenchmarkId::new("parse", "ezk-sip-types"), |b| {
                b.iter(|| ezk::parse(black_box(&bytes)).unwrap())
            });
            g.bench_function(BenchmarkId::new("parse+typed", "sigil-sip"), |b| {
                b.iter(|| {
                    sigil_typed(&sigil_sip::parse_bytes(black_box(bytes.clone()), &limits).unwrap())
                        .unwrap()
                })
            });
            g.bench_function(BenchmarkId::new("parse+typed", "rsip"), |b| {
                b.iter(|| rsip_typed(&rsip::SipMessage::try_from(black_box(msg)).unwrap()).unwrap())
            });
            g.bench_function(BenchmarkId::new("parse+typed", "ezk-sip-types"), |b| {
                b.iter(|| ezk::typed(&ezk::parse(black_box(&bytes)).unwrap()).unwrap())
            });
            g.finish();
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
