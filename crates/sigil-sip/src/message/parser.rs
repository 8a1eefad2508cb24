//! The bounded parser: limits, errors, the start line and the header block.

use bytes::Bytes;

use crate::header::Headers;
use crate::syntax::is_token;
use crate::uri::Uri;
use crate::values::Method;

use super::head::{next_line, parse_block, utf8};
use super::validate::check_cseq;
use super::{Message, Request, Response};

/// Limits that bound what the parser and the framer accept. Every count and
/// length taken from the network is checked against one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum number of header fields (lines after unfolding).
    pub max_headers: usize,
    /// Maximum length of one physical line, without its CRLF.
    pub max_line_len: usize,
    /// Maximum size of the start line plus header block, including the blank line.
    pub max_head_len: usize,
    /// Maximum body size (Content-Length).
    pub max_body_len: usize,
}

impl Default for Limits {
    /// 128 headers, 8 KiB lines, 64 KiB head, 1 MiB body.
    fn default() -> Self {
        Limits {
            max_headers: 128,
            max_line_len: 8 * 1024,
            max_head_len: 64 * 1024,
            max_body_len: 1024 * 1024,
        }
    }
}

/// What went wrong while parsing a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    /// Nothing but (optional) blank lines.
    #[error("empty message")]
    Empty,
    /// The header block does not end with an empty line.
    #[error("header block is not terminated by an empty line")]
    UnterminatedHead,
    /// A line is longer than [`Limits::max_line_len`].
    #[error("line longer than the limit of {max} bytes")]
    LineTooLong {
        /// The limit.
        max: usize,
    },
    /// The header block is larger than [`Limits::max_head_len`].
    #[error("header block larger than the limit of {max} bytes")]
    HeadTooLarge {
        /// The limit.
        max: usize,
    },
    /// More header fields than [`Limits::max_headers`].
    #[error("more than {max} header fields")]
    TooManyHeaders {
        /// The limit.
        max: usize,
    },
    /// A bare CR, or a control character where none may be.
    #[error("stray control character")]
    ControlCharacter,
    /// The start line or a header is not UTF-8.
    #[error("text is not valid UTF-8")]
    NotUtf8,
    /// The start line is neither a Request-Line nor a Status-Line.
    #[error("malformed start line: {0}")]
    BadStartLine(&'static str),
    /// A SIP version other than SIP/2.0.
    #[error("unsupported SIP version {0:?} (only SIP/2.0)")]
    UnsupportedVersion(String),
    /// A status code that is not three digits between 100 and 699.
    #[error("status code {0:?} is not a number from 100 to 699")]
    BadStatusCode(String),
    /// The Request-URI does not parse.
    #[error("bad Request-URI: {0}")]
    BadRequestUri(crate::uri::UriError),
    /// The Request-URI carries `?headers`, which RFC 3261 §19.1.5 forbids there.
    #[error("the Request-URI carries URI headers ('?…'), which are not allowed in a request line")]
    RequestUriHeaders,
    /// A folded continuation line with no header before it.
    #[error("continuation line without a header before it")]
    OrphanContinuation,
    /// A header line without a colon or with an invalid name.
    #[error("malformed header line: {0}")]
    BadHeaderLine(&'static str),
    /// A known header whose value breaks its grammar.
    #[error("invalid {name} value: {reason}")]
    BadHeaderValue {
        /// Header name (canonical).
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A header that may appear once appears several times with different values.
    #[error("{0} appears more than once with different values")]
    ConflictingHeader(String),
    /// Content-Length is negative, not a number, or too large to represent.
    #[error("Content-Length {0:?} is not a non-negative decimal number")]
    BadContentLength(String),
    /// Two Content-Length headers disagree.
    #[error("conflicting Content-Length values {0} and {1}")]
    ConflictingContentLength(usize, usize),
    /// Content-Length above [`Limits::max_body_len`].
    #[error("body of {len} bytes exceeds the limit of {max}")]
    BodyTooLarge {
        /// Declared length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Fewer body bytes than Content-Length declares.
    #[error("Content-Length declares {declared} bytes but only {available} follow")]
    BodyTruncated {
        /// Declared length.
        declared: usize,
        /// Bytes present.
        available: usize,
    },
    /// The CSeq method differs from the request method (RFC 3261 §8.2 → 400).
    #[error("CSeq method {cseq} does not match request method {method}")]
    CSeqMethodMismatch {
        /// Method in the request line.
        method: String,
        /// Method in CSeq.
        cseq: String,
    },
}

/// A parse failure with the byte offset (from the start of the input) where it was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} (at byte {offset})")]
pub struct ParseError {
    /// Offset in the input of the offending byte (or of the start of the offending line or value).
    pub offset: usize,
    /// What went wrong.
    pub kind: ParseErrorKind,
}

pub(super) fn perr(offset: usize, kind: ParseErrorKind) -> ParseError {
    ParseError { offset, kind }
}

/// Parse one message from a datagram (or a whole file) with default [`Limits`].
///
/// Leading blank lines are skipped. When Content-Length is present the body is
/// that many bytes and anything after it is ignored (RFC 3261 §18.3); when it
/// is absent the body is the rest of the input. The input is copied once into
/// the message's body.
///
/// This is the strict parser: besides framing it checks every known header
/// against its grammar, single-instance headers for conflicting repetitions
/// and the CSeq method against the request method — [`parse_lazy`] followed by
/// [`Message::validate`], in one pass.
pub fn parse(input: &[u8]) -> Result<Message, ParseError> {
    parse_with(input, &Limits::default())
}

/// [`parse`] with explicit limits.
pub fn parse_with(input: &[u8], limits: &Limits) -> Result<Message, ParseError> {
    parse_bytes(Bytes::copy_from_slice(input), limits)
}

/// [`parse_with`] on shared bytes: the body is a zero-copy slice of `input`.
pub fn parse_bytes(input: Bytes, limits: &Limits) -> Result<Message, ParseError> {
    parse_message(input, limits, true)
}

/// The lazy parser, for proxies and servers on the hot path: frames the
/// message and indexes its header lines, decoding a value only when it is read.
///
/// Everything that bounds memory and time is checked exactly as by [`parse`]
/// — every [`Limits`] value, UTF-8, stray control characters, header names,
/// the start line and Request-URI, Content-Length and the body — so the
/// result is as safe to hold and forward. What is left for
/// [`Message::validate`] is the grammar of each known header value, repeated
/// single-instance headers and the CSeq method. A typed accessor
/// ([`Headers::top_via`](crate::Headers::top_via), …) returns `None` for a
/// value that breaks its grammar. The body is a zero-copy slice of `input`.
///
/// ```
/// let wire = bytes::Bytes::from_static(b"OPTIONS sip:a@example.com SIP/2.0\r\nMax-Forwards: 300\r\nl: 0\r\n\r\n");
/// let m = sigil_sip::parse_lazy(wire, &sigil_sip::Limits::default()).unwrap();
/// assert_eq!(m.headers().max_forwards(), None); // 300 is not a valid Max-Forwards
/// assert!(m.validate().is_err());
/// ```
pub fn parse_lazy(input: Bytes, limits: &Limits) -> Result<Message, ParseError> {
    parse_message(input, limits, false)
}

fn parse_message(input: Bytes, limits: &Limits, strict: bool) -> Result<Message, ParseError> {
    let head = parse_head(&input, limits, strict)?;
    let available = input.len() - head.body_start;
    let body = match head.content_length {
        Some(len) => {
            if len > available {
                return Err(perr(
                    head.content_length_offset,
                    ParseErrorKind::BodyTruncated {
                        declared: len,
                        available,
                    },
                ));
            }
            input.slice(head.body_start..head.body_start + len)
        }
        None => {
            if available > limits.max_body_len {
                return Err(perr(
                    head.body_start,
                    ParseErrorKind::BodyTooLarge {
                        len: available,
                        max: limits.max_body_len,
                    },
                ));
            }
            input.slice(head.body_start..)
        }
    };
    Ok(head.into_message(body))
}

enum StartLine {
    Request(Method, Uri),
    Response(u16, String),
}

/// A parsed start line and header block.
struct Head {
    start: StartLine,
    headers: Headers,
    /// Content-Length, when present (checked against the limit).
    content_length: Option<usize>,
    content_length_offset: usize,
    /// Offset of the first body byte.
    body_start: usize,
}

impl Head {
    fn into_message(self, body: Bytes) -> Message {
        match self.start {
            StartLine::Request(method, uri) => Message::Request(Request {
                method,
                uri,
                headers: self.headers,
                body,
            }),
            StartLine::Response(status, reason) => Message::Response(Response {
                status,
                reason,
                headers: self.headers,
                body,
            }),
        }
    }
}

/// Number of leading CR/LF bytes (blank lines before a start line).
fn leading_newlines(buf: &[u8]) -> usize {
    buf.iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count()
}

/// True when `s` starts with `SIP/` in any case (byte-wise, so any UTF-8 is safe).
fn starts_with_sip(s: &str) -> bool {
    s.as_bytes()
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"))
}

fn parse_start_line(line: &str, offset: usize) -> Result<StartLine, ParseError> {
    if starts_with_sip(line) {
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
        let (version, rest) = line.split_once(' ').ok_or(perr(
            offset,
            ParseErrorKind::BadStartLine("status line needs a status code"),
        ))?;
        if !version.eq_ignore_ascii_case("SIP/2.0") {
            return Err(perr(
                offset,
                ParseErrorKind::UnsupportedVersion(version.to_string()),
            ));
        }
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        let code_off = offset + version.len() + 1;
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(perr(
                code_off,
                ParseErrorKind::BadStatusCode(code.to_string()),
            ));
        }
        let status: u16 = code
            .parse()
            .map_err(|_| perr(code_off, ParseErrorKind::BadStatusCode(code.to_string())))?;
        if !(100..=699).contains(&status) {
            return Err(perr(
                code_off,
                ParseErrorKind::BadStatusCode(code.to_string()),
            ));
        }
        if let Some(p) = reason.find(|c: char| c.is_control() && c != '\t') {
            return Err(perr(code_off + 4 + p, ParseErrorKind::ControlCharacter));
        }
        return Ok(StartLine::Response(status, reason.to_string()));
    }
    // Request-Line = Method SP Request-URI SP SIP-Version (single spaces, nothing else)
    let mut parts = line.split(' ');
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        // Point at the first empty part (a doubled space) or at the fourth part.
        let mut at = 0;
        for (n, part) in line.split(' ').enumerate() {
            if part.is_empty() || n == 3 {
                break;
            }
            at += part.len() + 1;
        }
        return Err(perr(
            offset + at.min(line.len()),
            ParseErrorKind::BadStartLine(
                "request line must be METHOD SP Request-URI SP SIP/2.0 with single spaces",
            ),
        ));
    };
    if !is_token(method) {
        return Err(perr(
            offset,
            ParseErrorKind::BadStartLine("method is not a token"),
        ));
    }
    let uri_off = offset + method.len() + 1;
    if uri.is_empty() {
        return Err(perr(
            uri_off,
            ParseErrorKind::BadStartLine("empty Request-URI"),
        ));
    }
    let version_off = uri_off + uri.len() + 1;
    if !starts_with_sip(version) {
        return Err(perr(
            version_off,
            ParseErrorKind::BadStartLine("request line must end with SIP/2.0"),
        ));
    }
    if !version.eq_ignore_ascii_case("SIP/2.0") {
        return Err(perr(
            version_off,
            ParseErrorKind::UnsupportedVersion(version.to_string()),
        ));
    }
    let uri = Uri::parse(uri).map_err(|e| perr(uri_off, ParseErrorKind::BadRequestUri(e)))?;
    if uri.as_sip().is_some_and(|s| !s.headers.is_empty()) {
        return Err(perr(uri_off, ParseErrorKind::RequestUriHeaders));
    }
    let method = method.parse().map_err(|_| {
        perr(
            offset,
            ParseErrorKind::BadStartLine("method is not a token"),
        )
    })?;
    Ok(StartLine::Request(method, uri))
}

/// Parse the start line and header block of the message at the start of `buf`
/// (after leading CR/LF). Does not look at the body. `strict` adds the
/// grammar checks of [`Message::validate`].
fn parse_head(buf: &[u8], limits: &Limits, strict: bool) -> Result<Head, ParseError> {
    let skip = leading_newlines(buf);
    if skip == buf.len() {
        return Err(perr(buf.len(), ParseErrorKind::Empty));
    }
    let (first, pos) = next_line(buf, skip, limits)?;
    let start = parse_start_line(utf8(first, skip)?, skip)?;
    let block = parse_block(buf, skip, pos, limits, strict)?;
    if strict {
        if let StartLine::Request(method, _) = &start {
            check_cseq(method, block.headers.as_slice(), block.cseq_offset)?;
        }
    }
    Ok(Head {
        start,
        headers: block.headers,
        content_length: block.content_length,
        content_length_offset: block.content_length_offset,
        body_start: block.body_start,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGISTER: &[u8] = b"REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bK1;rport\r\nMax-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=1\r\nTo: <sip:alice@example.com>\r\nCall-ID: abc@192.0.2.1\r\nCSeq: 1 REGISTER\r\nContact: <sip:alice@192.0.2.1:5061;transport=tls>;expires=3600\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn parses_register() {
        let m = parse(REGISTER).unwrap();
        let Message::Request(r) = &m else {
            panic!("not a request")
        };
        assert_eq!(r.method, Method::Register);
        assert_eq!(r.headers.top_via().unwrap().branch(), Some("z9hG4bK1"));
        assert_eq!(r.headers.contacts()[0].expires(), Some(3600));
        assert_eq!(r.headers.cseq().unwrap().seq, 1);
        assert_eq!(m.to_bytes(), REGISTER);
    }

    #[test]
    fn errors_carry_offsets() {
        let e = parse(b"INVITE sip:a@b SIP/2.0\r\nMax-Forwards: 300\r\n\r\n").unwrap_err();
        assert_eq!(e.offset, 24 + 14);
        let e = parse(b"SIP/2.0 4294967301 x\r\n\r\n").unwrap_err();
        assert_eq!(e.offset, 8);
        assert!(matches!(e.kind, ParseErrorKind::BadStatusCode(_)));
    }

    #[test]
    fn multibyte_start_lines_do_not_panic() {
        for line in [
            "  \u{19c}   \t",
            "SI\u{19c} x",
            "OPTIONS sip:a@b S\u{19c}",
            "\u{19c}",
        ] {
            assert!(
                parse(format!("{line}\r\n\r\n").as_bytes()).is_err(),
                "{line:?}"
            );
        }
    }

    #[test]
    fn limits_are_enforced() {
        let limits = Limits {
            max_headers: 2,
            ..Limits::default()
        };
        let e = parse_with(REGISTER, &limits).unwrap_err();
        assert!(matches!(e.kind, ParseErrorKind::TooManyHeaders { max: 2 }));
        let long = [
            b"OPTIONS sip:a@b SIP/2.0\r\nX: ".as_slice(),
            &vec![b'a'; 9000],
            b"\r\n\r\n",
        ]
        .concat();
        assert!(matches!(
            parse(&long).unwrap_err().kind,
            ParseErrorKind::LineTooLong { .. }
        ));
    }
}
