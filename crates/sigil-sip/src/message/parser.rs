//! The bounded parser: limits, errors, the start line and the header block.

use std::borrow::Cow;

use bytes::Bytes;

use crate::header::{validate, Header, HeaderName, Headers};
use crate::syntax::is_token_char;
use crate::uri::Uri;
use crate::values::{parse_content_length, CSeq, Method};

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

fn perr(offset: usize, kind: ParseErrorKind) -> ParseError {
    ParseError { offset, kind }
}

/// Parse one message from a datagram (or a whole file) with default [`Limits`].
///
/// Leading blank lines are skipped. When Content-Length is present the body is
/// that many bytes and anything after it is ignored (RFC 3261 §18.3); when it
/// is absent the body is the rest of the input. The input is copied once into
/// the message's body.
pub fn parse(input: &[u8]) -> Result<Message, ParseError> {
    parse_with(input, &Limits::default())
}

/// [`parse`] with explicit limits.
pub fn parse_with(input: &[u8], limits: &Limits) -> Result<Message, ParseError> {
    parse_bytes(Bytes::copy_from_slice(input), limits)
}

/// [`parse_with`] on shared bytes: the body is a zero-copy slice of `input`.
pub fn parse_bytes(input: Bytes, limits: &Limits) -> Result<Message, ParseError> {
    let head = parse_head(&input, limits)?;
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
pub(crate) struct Head {
    start: StartLine,
    headers: Headers,
    /// Content-Length, when present (checked against the limit).
    pub(crate) content_length: Option<usize>,
    content_length_offset: usize,
    /// Offset of the first body byte.
    pub(crate) body_start: usize,
}

impl Head {
    pub(crate) fn into_message(self, body: Bytes) -> Message {
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

/// Split off the next line starting at `pos`; returns (line, offset after its terminator).
fn next_line<'a>(
    buf: &'a [u8],
    pos: usize,
    limits: &Limits,
) -> Result<(&'a [u8], usize), ParseError> {
    let rest = buf.get(pos..).unwrap_or_default();
    let scan = &rest[..rest.len().min(limits.max_line_len + 2)];
    match scan.iter().position(|&b| b == b'\n') {
        Some(nl) => {
            let line = if nl > 0 && rest[nl - 1] == b'\r' {
                &rest[..nl - 1]
            } else {
                &rest[..nl]
            };
            if line.len() > limits.max_line_len {
                return Err(perr(
                    pos,
                    ParseErrorKind::LineTooLong {
                        max: limits.max_line_len,
                    },
                ));
            }
            if let Some(cr) = line.iter().position(|&b| b == b'\r') {
                return Err(perr(pos + cr, ParseErrorKind::ControlCharacter));
            }
            Ok((line, pos + nl + 1))
        }
        None if rest.len() > limits.max_line_len => Err(perr(
            pos,
            ParseErrorKind::LineTooLong {
                max: limits.max_line_len,
            },
        )),
        None => Err(perr(buf.len(), ParseErrorKind::UnterminatedHead)),
    }
}

fn utf8(line: &[u8], offset: usize) -> Result<&str, ParseError> {
    std::str::from_utf8(line).map_err(|e| perr(offset + e.valid_up_to(), ParseErrorKind::NotUtf8))
}

/// Number of leading CR/LF bytes (blank lines before a start line).
pub(crate) fn leading_newlines(buf: &[u8]) -> usize {
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
    if method.is_empty() || !method.chars().all(is_token_char) {
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

/// Headers that may appear only once (a differing repetition is an error).
fn single_instance(name: &HeaderName) -> bool {
    matches!(
        name,
        HeaderName::From
            | HeaderName::To
            | HeaderName::CallId
            | HeaderName::CSeq
            | HeaderName::MaxForwards
            | HeaderName::ContentType
    )
}

/// Parse the start line and header block of the message at the start of `buf`
/// (after leading CR/LF). Does not look at the body.
pub(crate) fn parse_head(buf: &[u8], limits: &Limits) -> Result<Head, ParseError> {
    let skip = leading_newlines(buf);
    if skip == buf.len() {
        return Err(perr(buf.len(), ParseErrorKind::Empty));
    }
    let (first, mut pos) = next_line(buf, skip, limits)?;
    let start = parse_start_line(utf8(first, skip)?, skip)?;

    // Collect logical header lines (unfolded) with their offsets.
    // Borrowed unless a folded continuation forces a copy.
    let mut raw: Vec<(usize, Cow<'_, str>)> = Vec::with_capacity(16);
    loop {
        if pos - skip > limits.max_head_len {
            return Err(perr(
                pos,
                ParseErrorKind::HeadTooLarge {
                    max: limits.max_head_len,
                },
            ));
        }
        let line_start = pos;
        let (line, next) = next_line(buf, pos, limits)?;
        pos = next;
        if line.is_empty() {
            break;
        }
        let text = utf8(line, line_start)?;
        if text.starts_with([' ', '\t']) {
            let Some((_, value)) = raw.last_mut() else {
                return Err(perr(line_start, ParseErrorKind::OrphanContinuation));
            };
            let cont = text.trim_matches([' ', '\t']);
            if !cont.is_empty() {
                let value = value.to_mut();
                value.push(' ');
                value.push_str(cont);
            }
            continue;
        }
        if raw.len() >= limits.max_headers {
            return Err(perr(
                line_start,
                ParseErrorKind::TooManyHeaders {
                    max: limits.max_headers,
                },
            ));
        }
        raw.push((line_start, Cow::Borrowed(text)));
    }
    if pos - skip > limits.max_head_len {
        return Err(perr(
            pos,
            ParseErrorKind::HeadTooLarge {
                max: limits.max_head_len,
            },
        ));
    }

    let mut headers = Headers::with_capacity(raw.len());
    let mut content_length: Option<usize> = None;
    let mut content_length_offset = 0;
    let mut cseq_offset = skip;
    for (offset, line) in raw {
        let colon = line.find(':').ok_or(perr(
            offset,
            ParseErrorKind::BadHeaderLine("no ':' after the header name"),
        ))?;
        let name = line[..colon].trim_end_matches([' ', '\t']);
        if name.is_empty() || !name.chars().all(is_token_char) {
            return Err(perr(
                offset,
                ParseErrorKind::BadHeaderLine("header name is not a token"),
            ));
        }
        let value_raw = &line[colon + 1..];
        let value = value_raw.trim_matches([' ', '\t']);
        let value_off = offset
            + colon
            + 1
            + (value_raw.len() - value_raw.trim_start_matches([' ', '\t']).len());
        if let Some(p) = value.find(|c: char| c.is_control() && c != '\t') {
            // Control characters are only acceptable escaped inside quoted strings.
            let before = &value[..p];
            if !before.ends_with('\\') {
                return Err(perr(value_off + p, ParseErrorKind::ControlCharacter));
            }
        }
        let name = HeaderName::from_wire(name);
        if name == HeaderName::CSeq {
            cseq_offset = value_off;
        }
        if name == HeaderName::ContentLength {
            let len = parse_content_length(value).map_err(|_| {
                perr(
                    value_off,
                    ParseErrorKind::BadContentLength(value.to_string()),
                )
            })?;
            if let Some(prev) = content_length {
                if prev != len {
                    return Err(perr(
                        value_off,
                        ParseErrorKind::ConflictingContentLength(prev, len),
                    ));
                }
            }
            if len > limits.max_body_len {
                return Err(perr(
                    value_off,
                    ParseErrorKind::BodyTooLarge {
                        len,
                        max: limits.max_body_len,
                    },
                ));
            }
            content_length = Some(len);
            content_length_offset = value_off;
        } else {
            validate(&name, value).map_err(|e| {
                perr(
                    value_off + e.position.min(value.len()),
                    ParseErrorKind::BadHeaderValue {
                        name: name.to_string(),
                        reason: e.reason,
                    },
                )
            })?;
            if single_instance(&name) {
                if let Some(prev) = headers.get(&name) {
                    if prev != value {
                        return Err(perr(
                            offset,
                            ParseErrorKind::ConflictingHeader(name.to_string()),
                        ));
                    }
                }
            }
        }
        headers.push(Header::unchecked(name, value.to_string()));
    }

    if let StartLine::Request(method, _) = &start {
        if let Some(cseq) = headers
            .get(&HeaderName::CSeq)
            .and_then(|v| CSeq::parse(v).ok())
        {
            if &cseq.method != method {
                return Err(perr(
                    cseq_offset,
                    ParseErrorKind::CSeqMethodMismatch {
                        method: method.to_string(),
                        cseq: cseq.method.to_string(),
                    },
                ));
            }
        }
    }

    Ok(Head {
        start,
        headers,
        content_length,
        content_length_offset,
        body_start: pos,
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
