//! The header block: its lines framed and checked against the limits (first
//! pass), then its headers indexed (second pass). UTF-8 is checked once for
//! the whole block, which is copied once into the text every header value
//! points into.

use std::sync::Arc;

use crate::header::{Header, HeaderName, Headers};
use crate::syntax::{is_token, trim_ws, trim_ws_end, trim_ws_start};
use crate::values::parse_content_length;

use super::parser::{perr, Limits, ParseError, ParseErrorKind};
use super::validate::check_header;

/// The header block of a message.
pub(super) struct Block {
    pub(super) headers: Headers,
    /// Content-Length, when present (checked against the limit).
    pub(super) content_length: Option<usize>,
    pub(super) content_length_offset: usize,
    /// Offset of the (last) CSeq value, for the CSeq/method check.
    pub(super) cseq_offset: usize,
    /// Offset of the first body byte.
    pub(super) body_start: usize,
}

fn is_continuation(line: &[u8]) -> bool {
    matches!(line.first(), Some(b' ' | b'\t'))
}

/// Parse the header block starting at `start` (after the start line; the
/// message starts at `skip`). `strict` adds the grammar checks of
/// [`super::Message::validate`].
pub(super) fn parse_block(
    buf: &[u8],
    skip: usize,
    start: usize,
    limits: &Limits,
    strict: bool,
) -> Result<Block, ParseError> {
    // First pass: every line within the limits, nothing kept but a count.
    // An error found before the UTF-8 check of the bytes before it first
    // checks them, so the error reported is the one a line-by-line check finds.
    let mut pos = start;
    let mut count = 0usize;
    let mut utf8_ok = Utf8Prefix { checked: pos };
    let blank = loop {
        if pos - skip > limits.max_head_len {
            utf8_ok.upto(buf, pos)?;
            return Err(perr(
                pos,
                ParseErrorKind::HeadTooLarge {
                    max: limits.max_head_len,
                },
            ));
        }
        let line_start = pos;
        let (line, next) = match next_line(buf, pos, limits) {
            Ok(found) => found,
            Err(e) => {
                utf8_ok.upto(buf, line_start)?;
                return Err(e);
            }
        };
        pos = next;
        if line.is_empty() {
            break line_start;
        }
        let line_end = line_start + line.len();
        if is_continuation(line) {
            utf8_ok.upto(buf, line_end)?;
            if count == 0 {
                return Err(perr(line_start, ParseErrorKind::OrphanContinuation));
            }
            continue;
        }
        if count >= limits.max_headers {
            utf8_ok.upto(buf, line_end)?;
            return Err(perr(
                line_start,
                ParseErrorKind::TooManyHeaders {
                    max: limits.max_headers,
                },
            ));
        }
        count += 1;
    };
    let head_text = utf8(&buf[skip..pos], skip)?;
    if pos - skip > limits.max_head_len {
        return Err(perr(
            pos,
            ParseErrorKind::HeadTooLarge {
                max: limits.max_head_len,
            },
        ));
    }

    // Second pass: the same lines (known to be good), unfolded into headers.
    let head: Arc<str> = Arc::from(head_text);
    let text = |a: usize, b: usize| head_text.get(a - skip..b - skip).unwrap_or_default();
    let mut block = Block {
        headers: Headers::with_capacity(count),
        content_length: None,
        content_length_offset: 0,
        cseq_offset: skip,
        body_start: pos,
    };
    let mut index = Indexer {
        head: &head,
        skip,
        limits,
        strict,
    };
    let mut p = start;
    let mut pending: Option<(usize, usize)> = None;
    let mut folded: Option<String> = None;
    while p < blank {
        let (line, next) = next_line(buf, p, limits)?;
        let (line_start, line_end) = (p, p + line.len());
        p = next;
        if is_continuation(line) {
            let cont = trim_ws(text(line_start, line_end));
            if let (Some((a, b)), false) = (pending, cont.is_empty()) {
                let value = folded.get_or_insert_with(|| text(a, b).to_owned());
                value.push(' ');
                value.push_str(cont);
            }
            continue;
        }
        if let Some((a, b)) = pending.take() {
            index.add(&mut block, a, Line::new(text(a, b), folded.take()))?;
        }
        pending = Some((line_start, line_end));
    }
    if let Some((a, b)) = pending {
        index.add(&mut block, a, Line::new(text(a, b), folded.take()))?;
    }
    Ok(block)
}

/// A header line: as in the header block, or with its continuation lines joined.
enum Line<'a> {
    Raw(&'a str),
    Unfolded(String),
}

impl<'a> Line<'a> {
    fn new(raw: &'a str, unfolded: Option<String>) -> Line<'a> {
        unfolded.map_or(Line::Raw(raw), Line::Unfolded)
    }
}

/// Turns header lines into [`Header`]s.
struct Indexer<'a> {
    head: &'a Arc<str>,
    skip: usize,
    limits: &'a Limits,
    strict: bool,
}

impl Indexer<'_> {
    /// The header line at `offset`, checked and added to `block`.
    fn add(&mut self, block: &mut Block, offset: usize, line: Line<'_>) -> Result<(), ParseError> {
        let text = match &line {
            Line::Unfolded(unfolded) => unfolded.as_str(),
            Line::Raw(text) => text,
        };
        let colon = memchr::memchr(b':', text.as_bytes()).ok_or(perr(
            offset,
            ParseErrorKind::BadHeaderLine("no ':' after the header name"),
        ))?;
        let name = trim_ws_end(&text[..colon]);
        if !is_token(name) {
            return Err(perr(
                offset,
                ParseErrorKind::BadHeaderLine("header name is not a token"),
            ));
        }
        let value_raw = &text[colon + 1..];
        let value = trim_ws(value_raw);
        let value_off = offset + colon + 1 + (value_raw.len() - trim_ws_start(value_raw).len());
        if let Some(p) = first_control(value) {
            // Control characters are only acceptable escaped inside quoted strings.
            let before = &value[..p];
            if !before.ends_with('\\') {
                return Err(perr(value_off + p, ParseErrorKind::ControlCharacter));
            }
        }
        let name = HeaderName::from_wire(name);
        if name == HeaderName::CSeq {
            block.cseq_offset = value_off;
        }
        if name == HeaderName::ContentLength {
            let len = parse_content_length(value).map_err(|_| {
                perr(
                    value_off,
                    ParseErrorKind::BadContentLength(value.to_string()),
                )
            })?;
            if let Some(prev) = block.content_length {
                if prev != len {
                    return Err(perr(
                        value_off,
                        ParseErrorKind::ConflictingContentLength(prev, len),
                    ));
                }
            }
            if len > self.limits.max_body_len {
                return Err(perr(
                    value_off,
                    ParseErrorKind::BodyTooLarge {
                        len,
                        max: self.limits.max_body_len,
                    },
                ));
            }
            block.content_length = Some(len);
            block.content_length_offset = value_off;
        } else if self.strict {
            check_header(&name, value, offset, value_off, block.headers.as_slice())?;
        }
        let header = match &line {
            Line::Raw(_) => {
                let start = value_off - self.skip;
                Header::parsed(
                    name,
                    self.head,
                    start..start + value.len(),
                    offset,
                    value_off,
                )
            }
            Line::Unfolded(_) => Header::parsed_owned(name, value.to_string(), offset, value_off),
        };
        block.headers.push(header);
        Ok(())
    }
}

/// Split off the next line starting at `pos`; returns (line, offset after its terminator).
pub(super) fn next_line<'a>(
    buf: &'a [u8],
    pos: usize,
    limits: &Limits,
) -> Result<(&'a [u8], usize), ParseError> {
    let rest = buf.get(pos..).unwrap_or_default();
    let scan = &rest[..rest.len().min(limits.max_line_len.saturating_add(2))];
    // Fast path: the first CR or LF ends the line (as CRLF or LF), so the line
    // holds no CR. Anything else (a bare CR) takes the general path below.
    if let Some(i) = memchr::memchr2(b'\r', b'\n', scan) {
        let end = match scan[i] {
            b'\n' => Some(i + 1),
            _ if scan.get(i + 1) == Some(&b'\n') => Some(i + 2),
            _ => None,
        };
        if let Some(end) = end {
            if i > limits.max_line_len {
                return Err(perr(
                    pos,
                    ParseErrorKind::LineTooLong {
                        max: limits.max_line_len,
                    },
                ));
            }
            return Ok((&rest[..i], pos + end));
        }
    }
    match memchr::memchr(b'\n', scan) {
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
            if let Some(cr) = memchr::memchr(b'\r', line) {
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

/// Position of the first control character other than TAB (`char::is_control`:
/// C0, DEL and the C1 range U+0080–U+009F, which UTF-8 writes as `C2 80`–`C2 9F`).
fn first_control(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    // Fast path, without an early exit so that it vectorises: printable ASCII only.
    if !b
        .iter()
        .fold(false, |any, &c| any | !(0x20..0x7f).contains(&c))
    {
        return None;
    }
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if (c < 0x20 && c != b'\t') || c == 0x7f {
            return Some(i);
        }
        if c == 0xc2 && b.get(i + 1).is_some_and(|n| (0x80..=0x9f).contains(n)) {
            return Some(i);
        }
        i += 1;
    }
    None
}

pub(super) fn utf8(line: &[u8], offset: usize) -> Result<&str, ParseError> {
    std::str::from_utf8(line).map_err(|e| perr(offset + e.valid_up_to(), ParseErrorKind::NotUtf8))
}

/// How much of a header block is known to be UTF-8: `buf[..checked]`.
struct Utf8Prefix {
    checked: usize,
}

impl Utf8Prefix {
    /// Checks `buf[checked..upto]` (once): the first invalid byte is the error.
    fn upto(&mut self, buf: &[u8], upto: usize) -> Result<(), ParseError> {
        if upto > self.checked {
            let bytes = buf.get(self.checked..upto).unwrap_or_default();
            std::str::from_utf8(bytes)
                .map_err(|e| perr(self.checked + e.valid_up_to(), ParseErrorKind::NotUtf8))?;
            self.checked = upto;
        }
        Ok(())
    }
}
