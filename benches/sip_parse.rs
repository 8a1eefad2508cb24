//! SIP message parsing: sigil-sip against rsip (and ezk-sip-types), on the
//! same messages, in one process.
//!
//! Messages: a 790-byte INVITE with SDP, a REGISTER with digest credentials
//! and the RFC 4475 valid set (`testdata/rfc4475`). Modes:
//!
//! - `parse`: parsing alone. Ours is [`sigil_sip::parse_lazy`]: framed and
//!   indexed, values decoded when read — what rsip and ezk do too (they keep
//!   header values raw until asked).
//! - `typed`: parse, then read Via (top), From, To, Call-ID, CSeq and
//!   Content-Length as typed values, which a UA or proxy does with every message.
//!
//! Each line also gives `strict=` (ours with the whole grammar checked while
//! parsing: [`sigil_sip::parse_bytes`], what a device uses) and `ezk=`.
//!
//! The parsers are timed in short interleaved batches of this thread's CPU
//! time, and each figure is the median over the rounds, so a busy machine
//! neither counts other processes' time nor slows one parser more than
//! another. Output, in messages per CPU second:
//!
//! ```text
//! INVITE parse ours=N rsip=N ratio=R strict=N strict_ratio=R ezk=N
//! …
//! min_ratio=R
//! ```
//!
//! `rsip=error` (and `ratio=-`) when rsip refuses the message; `min_ratio` is
//! taken over the lines where rsip parses. Run: `cargo bench --bench
//! sip_parse` (`-- --quick` for a short smoke run, `-- --only INVITE`
//! for one message), or `scripts/bench-sip`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;

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

/// The RFC 4475 §3.1.1 valid messages (as in crates/sigil-sip/tests/rfc4475.rs).
const RFC4475_VALID: &[&str] = &[
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

mod ours {
    use bytes::Bytes;
    use sigil_sip::{Limits, Message};

    pub fn parse(b: &Bytes, limits: &Limits) -> Option<Message> {
        sigil_sip::parse_lazy(b.clone(), limits).ok()
    }

    pub fn strict(b: &Bytes, limits: &Limits) -> Option<Message> {
        sigil_sip::parse_bytes(b.clone(), limits).ok()
    }

    pub fn typed(m: &Message) -> usize {
        let h = m.headers();
        h.top_via()
            .map_or(0, |v| v.branch().map_or(1, str::len) + v.host.len())
            + h.from().map_or(0, |a| a.tag().map_or(1, str::len))
            + h.to().map_or(0, |a| a.tag().map_or(1, str::len))
            + h.call_id().map_or(0, str::len)
            + h.cseq().map_or(0, |c| c.seq as usize)
            + h.content_length().unwrap_or(0)
    }
}

mod rsip_side {
    use rsip::prelude::*;

    pub fn parse(b: &[u8]) -> Option<rsip::SipMessage> {
        rsip::SipMessage::try_from(b).ok()
    }

    pub fn typed(m: &rsip::SipMessage) -> usize {
        let via = m
            .via_header()
            .ok()
            .and_then(|v| v.typed().ok())
            .map_or(0, |v| {
                v.branch().map_or(1, |b| b.to_string().len())
                    + v.uri.host_with_port.to_string().len()
            });
        let from = m
            .from_header()
            .ok()
            .and_then(|f| f.typed().ok())
            .map_or(0, |f| f.tag().map_or(1, |t| t.to_string().len()));
        let to = m
            .to_header()
            .ok()
            .and_then(|t| t.typed().ok())
            .map_or(0, |t| t.tag().map_or(1, |t| t.to_string().len()));
        let call_id = m.call_id_header().map_or(0, |c| c.value().len());
        let cseq = m
            .cseq_header()
            .ok()
            .and_then(|c| c.typed().ok())
            .map_or(0, |c| c.seq as usize);
        let len = m
            .headers()
            .iter()
            .find_map(|h| match h {
                rsip::Header::ContentLength(l) => l.length().ok(),
                _ => None,
            })
            .map_or(0, |l| l as usize);
        via + from + to + call_id + cseq + len
    }
}

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

    pub fn typed(p: &Parsed) -> usize {
        let via = p
            .headers
            .get_named::<Via>()
            .map_or(0, |v| v.params.get_val("branch").map_or(1, |b| b.len()));
        let from = p
            .headers
            .get::<FromTo>(Name::FROM)
            .map_or(0, |f| f.tag.map_or(1, |t| t.len()));
        let to = p
            .headers
            .get::<FromTo>(Name::TO)
            .map_or(0, |t| t.tag.map_or(1, |t| t.len()));
        let call_id = p.headers.get_named::<CallID>().map_or(0, |c| c.0.len());
        let cseq = p.headers.get_named::<CSeq>().map_or(0, |c| c.cseq as usize);
        let len = p.headers.get_named::<ContentLength>().map_or(0, |l| l.0);
        via + from
            + to
            + call_id
            + cseq
            + len
            + usize::from(p.body.is_empty())
            + p.line.is_request() as usize
    }
}

/// CPU time consumed by this thread so far (`CLOCK_THREAD_CPUTIME_ID`). On a
/// shared machine wall-clock time mostly measures other processes; CPU time
/// measures us (cache and SMT interference still show).
fn cpu_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// One timed batch of `f`: messages per CPU second.
fn batch(iters: u64, f: &mut dyn FnMut() -> usize) -> f64 {
    let start = cpu_now();
    let mut sink = 0usize;
    for _ in 0..iters {
        sink = sink.wrapping_add(black_box(f()));
    }
    black_box(sink);
    iters as f64 / (cpu_now() - start).as_secs_f64().max(1e-9)
}

/// Interleaved batches of every runner, `rounds` times; the median rate of each.
fn measure(runners: &mut [&mut dyn FnMut() -> usize], rounds: usize, slice: Duration) -> Vec<f64> {
    // Calibrate each runner's batch to about `slice`.
    let iters: Vec<u64> = runners
        .iter_mut()
        .map(|f| {
            let rate = batch(200, *f);
            ((rate * slice.as_secs_f64()) as u64).clamp(50, 5_000_000)
        })
        .collect();
    let mut rates = vec![Vec::with_capacity(rounds); runners.len()];
    for _ in 0..rounds {
        for (n, f) in runners.iter_mut().enumerate() {
            rates[n].push(batch(iters[n], *f));
        }
    }
    rates
        .into_iter()
        .map(|mut r| {
            r.sort_by(f64::total_cmp);
            r[r.len() / 2]
        })
        .collect()
}

fn load_rfc4475(name: &str) -> Vec<u8> {
    let path = format!("{}/testdata/rfc4475/{name}.dat", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

fn fmt_rate(r: Option<f64>) -> String {
    r.map_or_else(|| "error".to_owned(), |r| format!("{r:.0}"))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    // `--only NAME`: one message (for profiling).
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1).cloned());
    let (rounds, slice) = if quick {
        (3, Duration::from_millis(2))
    } else {
        (21, Duration::from_millis(8))
    };
    let limits = sigil_sip::Limits::default();
    let mut messages: Vec<(String, Bytes)> = vec![
        ("INVITE".to_owned(), Bytes::from_static(INVITE)),
        ("REGISTER".to_owned(), Bytes::from_static(REGISTER)),
    ];
    for name in RFC4475_VALID {
        messages.push(((*name).to_owned(), Bytes::from(load_rfc4475(name))));
    }

    // `--profile`: only ours, parse + typed reads, for five seconds (under `perf record`).
    if args.iter().any(|a| a == "--profile") {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut sink = 0usize;
        while Instant::now() < deadline {
            for (name, bytes) in &messages {
                if only.as_ref().is_none_or(|o| o == name) {
                    for _ in 0..1000 {
                        sink = sink.wrapping_add(
                            ours::parse(bytes, &limits).map_or(0, |m| ours::typed(&m)),
                        );
                    }
                }
            }
        }
        black_box(sink);
        return;
    }

    let mut min_ratio = f64::INFINITY;
    for (name, bytes) in &messages {
        if only.as_ref().is_some_and(|o| o != name) {
            continue;
        }
        let raw: &[u8] = bytes;
        // Ours must accept every message (they are valid), in both parsers.
        assert!(ours::parse(bytes, &limits).is_some(), "{name}: parse_lazy");
        assert!(ours::strict(bytes, &limits).is_some(), "{name}: parse");
        let rsip_ok = rsip_side::parse(raw).is_some();
        let ezk_ok = ezk::parse(bytes).is_some();
        for mode in ["parse", "typed"] {
            let typed = mode == "typed";
            let mut f_ours = || match ours::parse(bytes, &limits) {
                Some(m) if typed => ours::typed(&m),
                Some(m) => m.headers().len(),
                None => 0,
            };
            let mut f_strict = || match ours::strict(bytes, &limits) {
                Some(m) if typed => ours::typed(&m),
                Some(m) => m.headers().len(),
                None => 0,
            };
            let mut f_rsip = || match rsip_side::parse(raw) {
                Some(m) if typed => rsip_side::typed(&m),
                Some(m) => m.body().len(),
                None => 0,
            };
            let mut f_ezk = || match ezk::parse(bytes) {
                Some(p) if typed => ezk::typed(&p),
                Some(p) => p.body.len(),
                None => 0,
            };
            let mut runners: Vec<&mut dyn FnMut() -> usize> = vec![&mut f_ours, &mut f_strict];
            if rsip_ok {
                runners.push(&mut f_rsip);
            }
            if ezk_ok {
                runners.push(&mut f_ezk);
            }
            let rates = measure(&mut runners, rounds, slice);
            let (ours, strict) = (rates[0], rates[1]);
            let rsip = rsip_ok.then(|| rates[2]);
            let ezk = ezk_ok.then(|| rates[if rsip_ok { 3 } else { 2 }]);
            let (ratio, strict_ratio) = match rsip {
                Some(r) => {
                    min_ratio = min_ratio.min(ours / r);
                    (format!("{:.2}", ours / r), format!("{:.2}", strict / r))
                }
                None => ("-".to_owned(), "-".to_owned()),
            };
            println!(
                "{name} {mode} ours={ours:.0} rsip={} ratio={ratio} strict={strict:.0} strict_ratio={strict_ratio} ezk={}",
                fmt_rate(rsip),
                fmt_rate(ezk)
            );
        }
    }
    println!("min_ratio={min_ratio:.2}");
}
