//! The SIP message parser on standard input.
//!
//! ```text
//! parse < message.txt
//! ```
//!
//! Reads one SIP message (a datagram or a file: RFC 3261 §18.3 rules, so
//! the body is Content-Length bytes, or the rest without it) and prints its
//! start line, its headers, what the typed accessors read from them, the
//! body and the canonical form. A message that does not parse is reported
//! with its line, column and reason, and the exit status is 1.
//!
//! When standard input is a terminal or empty, a built-in INVITE with an SDP
//! body is parsed instead, so `cargo run -p sigil-sip --example parse`
//! shows something without arguments.

use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use sigil_sip::{Headers, Message};

const SAMPLE: &[u8] = b"INVITE sip:1002@example.com SIP/2.0\r\n\
Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bK74bf9\r\n\
Max-Forwards: 70\r\n\
f: \"Door 17\" <sip:1001@example.com>;tag=9fxced76sl\r\n\
t: <sip:1002@example.com>\r\n\
i: 3848276298220188511@192.0.2.10\r\n\
CSeq: 1 INVITE\r\n\
m: <sip:1001@192.0.2.10:5061;transport=tls>\r\n\
c: application/sdp\r\n\
Content-Length: 137\r\n\
\r\n\
v=0\r\n\
o=door17 2890844526 2890844526 IN IP4 192.0.2.10\r\n\
s=-\r\n\
c=IN IP4 192.0.2.10\r\n\
t=0 0\r\n\
m=audio 49170 RTP/AVP 0 8\r\n\
a=rtpmap:0 PCMU/8000\r\n";

fn main() -> ExitCode {
    let mut input = Vec::new();
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        if let Err(e) = stdin.lock().take(1 << 20).read_to_end(&mut input) {
            eprintln!("parse: cannot read standard input: {e}");
            return ExitCode::from(2);
        }
    }
    if input.iter().all(u8::is_ascii_whitespace) {
        println!("(standard input is empty: parsing the built-in sample INVITE)\n");
        input = SAMPLE.to_vec();
    }

    let message = match sigil_sip::parse(&input) {
        Ok(message) => message,
        Err(e) => {
            let (line, column, text) = locate(&input, e.offset);
            eprintln!("line {line}, column {column}: {e}");
            eprintln!("  {text}");
            eprintln!("  {}^", " ".repeat(column.saturating_sub(1)));
            return ExitCode::FAILURE;
        }
    };

    match &message {
        Message::Request(r) => println!("request   {} {}", r.method, r.uri),
        Message::Response(r) => println!("response  {} {}", r.status, r.reason),
    }
    let headers = message.headers();
    println!("headers   {}", headers.len());
    for header in headers {
        println!("  {}: {}", header.name().as_str(), header.value());
    }
    print_typed(headers);
    let body = message.body();
    match headers.content_type() {
        Some(kind) if !body.is_empty() => println!("body      {} bytes of {kind}", body.len()),
        _ => println!("body      {} bytes", body.len()),
    }
    println!(
        "\ncanonical form:\n{}",
        String::from_utf8_lossy(&message.to_canonical().to_bytes())
    );
    ExitCode::SUCCESS
}

/// What the typed accessors make of the headers every transaction needs.
fn print_typed(headers: &Headers) {
    let or_none = |value: Option<String>| value.unwrap_or_else(|| "(none)".to_owned());
    println!("typed:");
    for via in headers.via() {
        println!("  via       {via}");
    }
    println!(
        "  from      {}",
        or_none(headers.from().map(|a| a.to_string()))
    );
    println!(
        "  to        {}",
        or_none(headers.to().map(|a| a.to_string()))
    );
    println!(
        "  call-id   {}",
        or_none(headers.call_id().map(str::to_owned))
    );
    println!(
        "  cseq      {}",
        or_none(headers.cseq().map(|c| c.to_string()))
    );
    for contact in headers.contacts() {
        println!("  contact   {contact}");
    }
    if let Some(hops) = headers.max_forwards() {
        println!("  max-fwd   {hops}");
    }
    if let Some(expires) = headers.expires() {
        println!("  expires   {expires}");
    }
}

/// 1-based line and column of `offset`, and the text of that line.
fn locate(input: &[u8], offset: usize) -> (usize, usize, String) {
    let offset = offset.min(input.len());
    let start = input[..offset]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let end = input[offset..]
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .map_or(input.len(), |i| offset + i);
    let line = input[..start].iter().filter(|&&b| b == b'\n').count() + 1;
    (
        line,
        offset - start + 1,
        String::from_utf8_lossy(&input[start..end]).into_owned(),
    )
}
