//! The strict grammar: what [`super::parse`] checks beyond framing, and what
//! [`Message::validate`] checks on a message from [`super::parse_lazy`].

use crate::header::{validate, Header, HeaderName};
use crate::values::{parse_content_length, CSeq, Method};

use super::parser::{perr, ParseError, ParseErrorKind};
use super::Message;

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

/// The grammar of one header (not Content-Length, which framing checks) and,
/// for a single-instance header, agreement with the same header in `earlier`.
/// `line` and `value_at` are the offsets reported in errors.
pub(super) fn check_header(
    name: &HeaderName,
    value: &str,
    line: usize,
    value_at: usize,
    earlier: &[Header],
) -> Result<(), ParseError> {
    validate(name, value).map_err(|e| {
        perr(
            value_at + e.position.min(value.len()),
            ParseErrorKind::BadHeaderValue {
                name: name.to_string(),
                reason: e.reason,
            },
        )
    })?;
    if single_instance(name) {
        if let Some(prev) = earlier.iter().find(|h| h.name() == name) {
            if prev.value() != value {
                return Err(perr(
                    line,
                    ParseErrorKind::ConflictingHeader(name.to_string()),
                ));
            }
        }
    }
    Ok(())
}

/// RFC 3261 §8.2: the CSeq method of a request is its method (the first
/// CSeq is compared; `cseq_at` is the offset reported).
pub(super) fn check_cseq(
    method: &Method,
    headers: &[Header],
    cseq_at: usize,
) -> Result<(), ParseError> {
    let cseq = headers
        .iter()
        .find(|h| h.name() == &HeaderName::CSeq)
        .and_then(|h| CSeq::parse(h.value()).ok());
    if let Some(cseq) = cseq {
        if &cseq.method != method {
            return Err(perr(
                cseq_at,
                ParseErrorKind::CSeqMethodMismatch {
                    method: method.to_string(),
                    cseq: cseq.method.to_string(),
                },
            ));
        }
    }
    Ok(())
}

impl Message {
    /// Checks the whole grammar: every known header value against its
    /// grammar, Content-Length, single-instance headers (From, To, Call-ID,
    /// CSeq, Max-Forwards, Content-Type) repeated with different values, and
    /// the CSeq method of a request against its method.
    ///
    /// This is what [`crate::parse`] checks beyond framing: a message it
    /// returned always passes, and one from [`crate::parse_lazy`] passes
    /// exactly when `parse` would have accepted the same bytes, with the
    /// same error otherwise (bytes that `parse_lazy` refuses, `parse`
    /// refuses too, possibly reporting an earlier grammar error). A device
    /// calls it on what it receives; a proxy that forwards may not. Error
    /// offsets point into the parsed input (0 for headers added by hand).
    pub fn validate(&self) -> Result<(), ParseError> {
        let headers = self.headers().as_slice();
        let mut content_length: Option<usize> = None;
        let mut cseq_at = 0;
        for (n, h) in headers.iter().enumerate() {
            let (line, value_at) = h.offsets();
            if h.name() == &HeaderName::CSeq {
                cseq_at = value_at;
            }
            if h.name() == &HeaderName::ContentLength {
                let len = parse_content_length(h.value()).map_err(|_| {
                    perr(
                        value_at,
                        ParseErrorKind::BadContentLength(h.value().to_string()),
                    )
                })?;
                match content_length {
                    Some(prev) if prev != len => {
                        return Err(perr(
                            value_at,
                            ParseErrorKind::ConflictingContentLength(prev, len),
                        ))
                    }
                    _ => content_length = Some(len),
                }
                continue;
            }
            check_header(h.name(), h.value(), line, value_at, &headers[..n])?;
        }
        if let Message::Request(r) = self {
            check_cseq(&r.method, headers, cseq_at)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use crate::message::{parse, parse_lazy, Limits};

    /// Lazy parsing plus `validate` gives what strict parsing gives, error for error.
    #[test]
    fn lazy_then_validate_is_strict() {
        let cases: &[&[u8]] = &[
            b"INVITE sip:a@b SIP/2.0\r\nMax-Forwards: 300\r\n\r\n",
            b"INVITE sip:a@b SIP/2.0\r\nCSeq: 1 BYE\r\nl: 0\r\n\r\n",
            b"INVITE sip:a@b SIP/2.0\r\nTo: <sip:a@b>\r\nt: <sip:c@d>\r\n\r\n",
            b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;;\r\nl: 0\r\n\r\n",
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS h;branch=z9hG4bK1\r\nCSeq: 1 INVITE\r\nl: 0\r\n\r\n",
        ];
        for case in cases {
            let strict = parse(case).map(drop);
            let lazy = parse_lazy(Bytes::from_static(case), &Limits::default())
                .expect("framing is fine")
                .validate();
            assert_eq!(strict, lazy, "{}", String::from_utf8_lossy(case));
        }
    }
}
