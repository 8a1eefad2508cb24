//! SIP messages for a SIP endpoint device: message model, total and bounded
//! parser, serializer, stream framing with RFC 5626 keep-alive, digest
//! authentication (MD5 and SHA-256) and a sans-IO registration client
//! (SPEC S1, S5).
//!
//! Nothing here does I/O or TLS: bytes and time go in, messages, bytes and
//! events come out, so the crate drops into any event loop.
//!
//! ```
//! let msg = sigil_sip::parse(b"OPTIONS sip:example.com SIP/2.0\r\nCSeq: 1 OPTIONS\r\nl: 0\r\n\r\n").unwrap();
//! assert_eq!(msg.headers().cseq().unwrap().seq, 1);
//! ```
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
