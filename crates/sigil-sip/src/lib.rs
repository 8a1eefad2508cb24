//! SIP messages for a SIP endpoint device: message model, total and bounded
//! parser, serializer, stream framing with RFC 5626 keep-alive, digest
//! authentication (MD5 and SHA-256) and a sans-IO registration client
//! (SPEC S1, S5).
//!
//! Nothing here does I/O or TLS: bytes and time go in, messages, bytes and
//! events come out, so the crate drops into any event loop.
//!
//! # Parse, inspect, answer
//!
//! [`parse`] reads one message (a datagram, a file); the [`Framer`] cuts a
//! TCP/TLS byte stream into messages and RFC 5626 keep-alives. Known headers
//! are checked against the RFC 3261 grammar while parsing and read through
//! typed accessors on [`Headers`]; serializing writes what was parsed.
//!
//! ```
//! use sigil_sip::{Framer, FramerEvent, Header, HeaderName, KeepAliveRole, Message, Method, Response};
//!
//! let register = b"REGISTER sip:example.com SIP/2.0\r\n\
//!     Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bK776asdhds\r\n\
//!     Max-Forwards: 70\r\n\
//!     From: <sip:1001@example.com>;tag=a73kszlfl\r\n\
//!     To: <sip:1001@example.com>\r\n\
//!     Call-ID: 1j9FpLxk3uxtm8tn@192.0.2.10\r\n\
//!     CSeq: 1 REGISTER\r\n\
//!     Contact: <sip:1001@192.0.2.10:5061;transport=tls>\r\n\
//!     Expires: 600\r\n\
//!     Content-Length: 0\r\n\r\n";
//!
//! let Message::Request(request) = sigil_sip::parse(register)? else { unreachable!() };
//! assert_eq!(request.method, Method::Register);
//! assert_eq!(request.uri.to_string(), "sip:example.com");
//! let headers = &request.headers;
//! assert_eq!(headers.top_via().map(|v| v.transport), Some("TLS".to_owned()));
//! assert_eq!(headers.from().and_then(|f| f.tag().map(str::to_owned)).as_deref(), Some("a73kszlfl"));
//! assert_eq!(headers.cseq().map(|c| (c.seq, c.method)), Some((1, Method::Register)));
//! assert_eq!(headers.expires(), Some(600));
//! assert_eq!(headers.contacts()[0].uri.to_string(), "sip:1001@192.0.2.10:5061;transport=tls");
//! // What was parsed is what is written.
//! assert_eq!(Message::Request(request.clone()).to_bytes(), register.to_vec());
//!
//! // The registrar's answer: the dialog headers copied, a tag added, the binding confirmed.
//! let mut ok = Response::new(200, Response::default_reason(200));
//! for name in [HeaderName::Via, HeaderName::From, HeaderName::CallId, HeaderName::CSeq, HeaderName::Contact] {
//!     for value in headers.get_all(&name) {
//!         ok.headers.push(Header::new(name.clone(), value)?);
//!     }
//! }
//! ok.headers.push(Header::new(HeaderName::To, "<sip:1001@example.com>;tag=8321234356")?);
//! ok.headers.push(Header::new(HeaderName::Expires, "600")?);
//! let wire = Message::Response(ok).to_bytes();
//! assert!(wire.starts_with(b"SIP/2.0 200 OK\r\n"));
//!
//! // On a stream, the framer finds the message boundaries (Content-Length)
//! // and the keep-alive ping between them, however TCP cut the bytes.
//! let mut stream = b"\r\n\r\n".to_vec();
//! stream.extend_from_slice(&wire);
//! let mut framer = Framer::with_limits(Default::default(), KeepAliveRole::Server);
//! for chunk in stream.chunks(7) {
//!     framer.push(chunk);
//! }
//! assert_eq!(framer.poll(), Some(Ok(FramerEvent::Ping)));
//! match framer.poll() {
//!     Some(Ok(FramerEvent::Message(Message::Response(r)))) => assert_eq!(r.status, 200),
//!     other => panic!("expected the 200, got {other:?}"),
//! }
//!
//! // Broken input is an error with the offset of the offending byte, never a panic.
//! let broken = b"REGISTER sip:example.com SIP/2.0\r\nCSeq: one REGISTER\r\n\r\n";
//! let err = sigil_sip::parse(broken).unwrap_err();
//! assert!(broken[err.offset..].starts_with(b"one REGISTER"), "{err}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `examples/parse.rs` parses what it reads on standard input and prints it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod dialog;
pub mod digest;
pub mod framer;
pub mod header;
pub mod message;
pub mod registration;
mod syntax;
pub mod timer;
pub mod uri;
pub mod values;
mod warn_limit;

pub use digest::{Algorithm, Challenge, Credentials, DigestClient, DigestError};
pub use framer::{Framer, FramerEvent, FramingError, KeepAliveRole};
pub use header::{Header, HeaderError, HeaderName, Headers};
pub use message::{
    parse, parse_bytes, parse_lazy, parse_with, Limits, Message, ParseError, ParseErrorKind,
    Request, Response,
};
pub use registration::{
    Registration, RegistrationConfig, RegistrationEvent, RegistrationOutput, RegistrationState,
};
pub use syntax::{quote, unquote};
pub use uri::{SipUri, Uri, UriError, UriParam};
pub use values::{
    AuthValue, CSeq, ContactValue, ContentType, Method, NameAddr, Param, ValueError, Via, Warning,
};
pub use warn_limit::{suppressed_note, WarnLimiter};
