//! The SIP message model, the bounded parser and the serializer.
//
// The model and its serializer live here; `parser` holds the bounded parser,
// its limits, its errors and the start line; `head` the header block;
// `validate` the strict grammar checks it shares with `Message::validate`.

mod head;
mod parser;
mod validate;

use std::fmt;

use bytes::Bytes;

use crate::header::{Header, HeaderName, Headers};
use crate::uri::Uri;
use crate::values::Method;

pub use parser::{parse, parse_bytes, parse_lazy, parse_with, Limits, ParseError, ParseErrorKind};

/// A SIP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Method.
    pub method: Method,
    /// Request-URI.
    pub uri: Uri,
    /// Header fields in order.
    pub headers: Headers,
    /// Body.
    pub body: Bytes,
}

/// A SIP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code, 100–699.
    pub status: u16,
    /// Reason phrase (may be empty).
    pub reason: String,
    /// Header fields in order.
    pub headers: Headers,
    /// Body.
    pub body: Bytes,
}

/// A SIP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A request.
    Request(Request),
    /// A response.
    Response(Response),
}

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: Method, uri: Uri) -> Self {
        Request {
            method,
            uri,
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }
}

/// Append text to a start line, never letting CR or LF through (fields are public).
fn put_text(out: &mut Vec<u8>, s: &str) {
    if s.contains(['\r', '\n']) {
        out.extend_from_slice(s.replace(['\r', '\n'], " ").as_bytes());
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

/// Headers, the Content-Length that matches `body`, the empty line and the body.
fn write_rest(headers: &Headers, body: &[u8], out: &mut Vec<u8>) {
    let body_len = body.len();
    let mut wrote_len = false;
    for h in headers {
        if h.name() == &HeaderName::ContentLength {
            if !wrote_len {
                out.extend_from_slice(format!("Content-Length: {body_len}\r\n").as_bytes());
                wrote_len = true;
            }
            continue;
        }
        out.extend_from_slice(h.name().as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(h.value().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !wrote_len {
        out.extend_from_slice(format!("Content-Length: {body_len}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

impl Request {
    /// Append the wire form (see [`Message::write_to`]).
    pub fn write_to(&self, out: &mut Vec<u8>) {
        put_text(out, self.method.as_str());
        out.push(b' ');
        put_text(out, &self.uri.to_string());
        out.extend_from_slice(b" SIP/2.0\r\n");
        write_rest(&self.headers, &self.body, out);
    }

    /// The wire form (see [`Message::write_to`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512 + self.body.len());
        self.write_to(&mut out);
        out
    }
}

impl Response {
    /// Append the wire form (see [`Message::write_to`]).
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(format!("SIP/2.0 {} ", self.status).as_bytes());
        put_text(out, &self.reason);
        out.extend_from_slice(b"\r\n");
        write_rest(&self.headers, &self.body, out);
    }

    /// The wire form (see [`Message::write_to`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512 + self.body.len());
        self.write_to(&mut out);
        out
    }

    /// A response with no headers and no body.
    pub fn new(status: u16, reason: impl Into<String>) -> Self {
        Response {
            status,
            reason: reason.into(),
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }

    /// The standard reason phrase for the common status codes.
    pub fn default_reason(status: u16) -> &'static str {
        match status {
            100 => "Trying",
            180 => "Ringing",
            200 => "OK",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "Not Found",
            407 => "Proxy Authentication Required",
            408 => "Request Timeout",
            423 => "Interval Too Brief",
            480 => "Temporarily Unavailable",
            481 => "Call/Transaction Does Not Exist",
            486 => "Busy Here",
            500 => "Server Internal Error",
            503 => "Service Unavailable",
            _ => "",
        }
    }
}

impl Message {
    /// Header fields.
    pub fn headers(&self) -> &Headers {
        match self {
            Message::Request(r) => &r.headers,
            Message::Response(r) => &r.headers,
        }
    }
    /// Header fields, mutable.
    pub fn headers_mut(&mut self) -> &mut Headers {
        match self {
            Message::Request(r) => &mut r.headers,
            Message::Response(r) => &mut r.headers,
        }
    }
    /// Body.
    pub fn body(&self) -> &Bytes {
        match self {
            Message::Request(r) => &r.body,
            Message::Response(r) => &r.body,
        }
    }
    /// The request, if this is one.
    pub fn as_request(&self) -> Option<&Request> {
        match self {
            Message::Request(r) => Some(r),
            Message::Response(_) => None,
        }
    }
    /// The response, if this is one.
    pub fn as_response(&self) -> Option<&Response> {
        match self {
            Message::Response(r) => Some(r),
            Message::Request(_) => None,
        }
    }

    /// Serialize to wire bytes (see [`Message::write_to`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512 + self.body().len());
        self.write_to(&mut out);
        out
    }

    /// Append the wire form: start line, headers in order with their canonical
    /// names, one `Content-Length` equal to the body length (added when absent,
    /// corrected when present), an empty line and the body.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            Message::Request(r) => r.write_to(out),
            Message::Response(r) => r.write_to(out),
        }
    }

    /// The canonical form: like [`Message::to_bytes`], but known headers are
    /// rewritten from their typed values (normalised white space, one line per header).
    pub fn to_canonical(&self) -> Message {
        let mut m = self.clone();
        let mut headers = Headers::new();
        for h in self.headers() {
            let v = canonical_value(h.name(), h.value()).unwrap_or_else(|| h.value().to_string());
            headers.push(Header::unchecked(h.name().clone(), v));
        }
        *m.headers_mut() = headers;
        m
    }
}

fn canonical_value(name: &HeaderName, v: &str) -> Option<String> {
    use crate::values::*;
    fn join<T: fmt::Display>(items: Vec<T>) -> String {
        items
            .iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
    Some(match name {
        HeaderName::Via => join(Via::parse_list(v).ok()?),
        HeaderName::From | HeaderName::To => NameAddr::parse(v).ok()?.to_string(),
        HeaderName::Contact => match ContactValue::parse(v).ok()? {
            ContactValue::Star => "*".to_string(),
            ContactValue::Addresses(a) => join(a),
        },
        HeaderName::Route | HeaderName::RecordRoute => join(NameAddr::parse_list(v).ok()?),
        HeaderName::CSeq => CSeq::parse(v).ok()?.to_string(),
        HeaderName::MaxForwards => parse_max_forwards(v).ok()?.to_string(),
        HeaderName::Expires | HeaderName::MinExpires => parse_delta_seconds(v).ok()?.to_string(),
        HeaderName::ContentType => ContentType::parse(v).ok()?.to_string(),
        HeaderName::WwwAuthenticate
        | HeaderName::ProxyAuthenticate
        | HeaderName::Authorization
        | HeaderName::ProxyAuthorization => AuthValue::parse(v).ok()?.to_string(),
        HeaderName::Warning => join(Warning::parse_list(v).ok()?),
        _ => return None,
    })
}

impl fmt::Display for Message {
    /// The wire form, with a non-UTF-8 body replaced by a note of its size.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.to_bytes();
        match std::str::from_utf8(&bytes) {
            Ok(s) => f.write_str(s),
            Err(_) => {
                let head_len = bytes.len() - self.body().len();
                f.write_str(&String::from_utf8_lossy(&bytes[..head_len]))?;
                write!(f, "[{} bytes of binary body]", self.body().len())
            }
        }
    }
}

impl From<Request> for Message {
    fn from(r: Request) -> Self {
        Message::Request(r)
    }
}

impl From<Response> for Message {
    fn from(r: Response) -> Self {
        Message::Response(r)
    }
}
