//! Stream framing for SIP over TCP/TLS (RFC 3261 §18.3) with RFC 5626 keep-alive.
//!
//! Bytes go in with [`Framer::push`]; whole messages and keep-alive events come
//! out of [`Framer::poll`]. Memory is bounded by [`Limits`]: a header block is
//! buffered up to `max_head_len`, a body up to `max_body_len`; a larger declared
//! body is skipped without being buffered.

use bytes::{Buf, BytesMut};

use crate::message::{parse_bytes, Limits, Message, ParseError};
use crate::values::parse_content_length;

/// Which side of an RFC 5626 flow we are; it decides how CRLF sequences
/// between messages are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeepAliveRole {
    /// We opened the connection and send pings; the peer answers with a CRLF
    /// pong. A CRLF is reported as [`FramerEvent::Pong`] as soon as it arrives;
    /// a CRLFCRLF arriving together is reported as a [`FramerEvent::Ping`].
    #[default]
    Client,
    /// We accepted the connection and answer pings. A CRLF is held until the
    /// next two bytes show whether it is a CRLFCRLF ping or a lone CRLF (pong
    /// or leading blank line), so the result never depends on how the stream
    /// was chunked.
    Server,
}

/// What the framer produced.
// Events are handed over and consumed at once; boxing the message would cost an allocation per message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FramerEvent {
    /// A complete message.
    Message(Message),
    /// A CRLFCRLF keep-alive ping: answer with a single CRLF (`b"\r\n"`).
    Ping,
    /// A single CRLF: a keep-alive pong (or a blank line before a message, which RFC 3261 says to ignore).
    Pong,
}

/// A framing failure. [`FramingError::can_continue`] tells whether the stream
/// is still in sync (the bad message was skipped) or must be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// A message on a stream without Content-Length (RFC 3261 §18.3 requires it). Fatal.
    #[error("message without Content-Length on a stream transport")]
    MissingContentLength,
    /// Content-Length is negative or not a number. Fatal.
    #[error("Content-Length {0:?} is not a non-negative decimal number")]
    BadContentLength(String),
    /// Two Content-Length headers disagree. Fatal.
    #[error("conflicting Content-Length values {0} and {1}")]
    ConflictingContentLength(usize, usize),
    /// No end of the header block within the limit. Fatal.
    #[error("header block longer than {max} bytes without an empty line")]
    HeadTooLarge {
        /// The limit.
        max: usize,
    },
    /// The declared body is larger than the limit; it is being skipped and the stream continues.
    #[error("body of {len} bytes exceeds the limit of {max}; message skipped")]
    BodyTooLarge {
        /// Declared length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The message was framed correctly but does not parse; it was skipped and the stream continues.
    #[error("malformed message skipped: {0}")]
    Malformed(ParseError),
    /// An earlier fatal error stopped this framer.
    #[error("the stream failed earlier and cannot continue")]
    Failed,
}

impl FramingError {
    /// True when the framer is still in sync and can keep reading this stream.
    pub fn can_continue(&self) -> bool {
        matches!(
            self,
            FramingError::BodyTooLarge { .. } | FramingError::Malformed(_)
        )
    }
}

#[allow(clippy::large_enum_variant)]
enum KeepAlive {
    Event(FramerEvent),
    Wait,
    Skipped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between messages.
    Idle,
    /// Inside a header block; `scanned` bytes already searched for its end.
    Head { scanned: usize },
    /// Waiting for `total` bytes (head + body).
    Body { total: usize },
    /// Discarding the body of an over-large message.
    Skip { remaining: usize },
    /// A fatal error happened.
    Failed,
}

/// The stream framer. See the [module documentation](self).
#[derive(Debug)]
pub struct Framer {
    buf: BytesMut,
    limits: Limits,
    role: KeepAliveRole,
    state: State,
}

/// Find the end of a header block (the byte after the empty line) in `buf[from..]`.
fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < buf.len() {
        if buf[i] == b'\n' {
            match buf.get(i + 1) {
                Some(b'\n') => return Some(i + 2),
                Some(b'\r') if buf.get(i + 2) == Some(&b'\n') => return Some(i + 3),
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// Content-Length from a raw header block, checked the way the framing needs it.
fn scan_content_length(head: &[u8]) -> Result<usize, FramingError> {
    let mut found: Option<usize> = None;
    for line in head.split(|&b| b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = line[..colon].trim_ascii();
        if !(name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l")) {
            continue;
        }
        let value = String::from_utf8_lossy(line[colon + 1..].trim_ascii()).into_owned();
        let len = parse_content_length(&value)
            .map_err(|_| FramingError::BadContentLength(value.clone()))?;
        match found {
            Some(prev) if prev != len => {
                return Err(FramingError::ConflictingContentLength(prev, len))
            }
            _ => found = Some(len),
        }
    }
    found.ok_or(FramingError::MissingContentLength)
}

impl Framer {
    /// A framer with default limits for the client side of a connection.
    pub fn new() -> Self {
        Framer::with_limits(Limits::default(), KeepAliveRole::Client)
    }

    /// A framer with explicit limits and keep-alive role.
    pub fn with_limits(limits: Limits, role: KeepAliveRole) -> Self {
        Framer {
            buf: BytesMut::new(),
            limits,
            role,
            state: State::Idle,
        }
    }

    /// Append bytes received from the stream. Call [`Framer::poll`] until it
    /// returns `None` before pushing more, so the buffer stays within the limits.
    pub fn push(&mut self, data: &[u8]) {
        if let State::Skip { remaining } = self.state {
            if self.buf.is_empty() {
                let n = remaining.min(data.len());
                self.state = State::Skip {
                    remaining: remaining - n,
                };
                self.buf.extend_from_slice(&data[n..]);
                return;
            }
        }
        if self.state != State::Failed {
            self.buf.extend_from_slice(data);
        }
    }

    /// Bytes buffered and not yet returned as an event.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// True when the framer is between messages (no partial message buffered).
    pub fn is_idle(&self) -> bool {
        self.state == State::Idle && self.buf.is_empty()
    }

    fn fail(&mut self, e: FramingError) -> Option<Result<FramerEvent, FramingError>> {
        self.state = State::Failed;
        self.buf.clear();
        Some(Err(e))
    }

    /// The next event, or `None` when more bytes are needed.
    pub fn poll(&mut self) -> Option<Result<FramerEvent, FramingError>> {
        loop {
            match self.state {
                State::Failed => return None,
                State::Skip { remaining } => {
                    let n = remaining.min(self.buf.len());
                    self.buf.advance(n);
                    if remaining > n {
                        self.state = State::Skip {
                            remaining: remaining - n,
                        };
                        return None;
                    }
                    self.state = State::Idle;
                }
                State::Idle => {
                    let first = *self.buf.first()?;
                    if first != b'\r' && first != b'\n' {
                        self.state = State::Head { scanned: 0 };
                        continue;
                    }
                    match self.keep_alive() {
                        KeepAlive::Event(ev) => return Some(Ok(ev)),
                        KeepAlive::Wait => return None,
                        KeepAlive::Skipped => {}
                    }
                }
                State::Head { scanned } => {
                    let search_from = scanned.saturating_sub(3);
                    match find_head_end(&self.buf, search_from) {
                        None => {
                            if self.buf.len() > self.limits.max_head_len {
                                let max = self.limits.max_head_len;
                                return self.fail(FramingError::HeadTooLarge { max });
                            }
                            self.state = State::Head {
                                scanned: self.buf.len(),
                            };
                            return None;
                        }
                        Some(end) => {
                            if end > self.limits.max_head_len {
                                let max = self.limits.max_head_len;
                                return self.fail(FramingError::HeadTooLarge { max });
                            }
                            let len = match scan_content_length(&self.buf[..end]) {
                                Ok(len) => len,
                                Err(e) => return self.fail(e),
                            };
                            if len > self.limits.max_body_len {
                                self.buf.advance(end);
                                self.state = State::Skip { remaining: len };
                                let max = self.limits.max_body_len;
                                return Some(Err(FramingError::BodyTooLarge { len, max }));
                            }
                            self.state = State::Body { total: end + len };
                        }
                    }
                }
                State::Body { total } => {
                    if self.buf.len() < total {
                        return None;
                    }
                    let frame = self.buf.split_to(total).freeze();
                    self.state = State::Idle;
                    return Some(
                        parse_bytes(frame, &self.limits)
                            .map(FramerEvent::Message)
                            .map_err(FramingError::Malformed),
                    );
                }
            }
        }
    }

    /// Interpret CR/LF bytes between messages.
    fn keep_alive(&mut self) -> KeepAlive {
        let b = &self.buf[..];
        if b.starts_with(b"\r\n\r\n") {
            self.buf.advance(4);
            return KeepAlive::Event(FramerEvent::Ping);
        }
        if b.starts_with(b"\r\n") {
            let decided = match self.role {
                KeepAliveRole::Client => !(b.len() == 3 && b[2] == b'\r'),
                KeepAliveRole::Server => b.len() >= 4 || (b.len() == 3 && b[2] != b'\r'),
            };
            if decided {
                self.buf.advance(2);
                return KeepAlive::Event(FramerEvent::Pong);
            }
            return KeepAlive::Wait;
        }
        if b == b"\r" {
            return KeepAlive::Wait;
        }
        // A stray CR or LF before a message: skip it (RFC 3261 §7.5 tolerance).
        self.buf.advance(1);
        KeepAlive::Skipped
    }
}

impl Default for Framer {
    fn default() -> Self {
        Framer::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TLS h;branch=z9hG4bK1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 4\r\n\r\nbody";

    fn drain(f: &mut Framer) -> Vec<Result<FramerEvent, FramingError>> {
        let mut out = Vec::new();
        for _ in 0..1000 {
            match f.poll() {
                Some(e) => out.push(e),
                None => break,
            }
        }
        out
    }

    #[test]
    fn frames_messages_byte_by_byte() {
        let stream = [OPTIONS, OPTIONS].concat();
        let mut f = Framer::new();
        let mut events = Vec::new();
        for b in &stream {
            f.push(std::slice::from_ref(b));
            events.extend(drain(&mut f));
        }
        assert_eq!(events.len(), 2);
        for e in events {
            let Ok(FramerEvent::Message(m)) = e else {
                panic!("expected a message")
            };
            assert_eq!(&m.body()[..], b"body");
        }
        assert!(f.is_idle());
    }

    #[test]
    fn keep_alive_server_and_client() {
        let mut f = Framer::with_limits(Limits::default(), KeepAliveRole::Server);
        f.push(b"\r\n\r\n\r\n");
        assert_eq!(drain(&mut f), vec![Ok(FramerEvent::Ping)]);
        f.push(OPTIONS);
        let ev = drain(&mut f);
        assert_eq!(ev[0], Ok(FramerEvent::Pong));
        assert!(matches!(ev[1], Ok(FramerEvent::Message(_))));

        let mut c = Framer::new();
        c.push(b"\r\n");
        assert_eq!(drain(&mut c), vec![Ok(FramerEvent::Pong)]);
    }

    #[test]
    fn oversized_body_is_skipped_and_the_stream_continues() {
        let limits = Limits {
            max_body_len: 8,
            ..Limits::default()
        };
        let mut f = Framer::with_limits(limits, KeepAliveRole::Client);
        let big = b"OPTIONS sip:a@b SIP/2.0\r\nCSeq: 1 OPTIONS\r\nContent-Length: 20\r\n\r\n01234567890123456789";
        let stream = [&big[..], OPTIONS].concat();
        let mut events = Vec::new();
        for chunk in stream.chunks(5) {
            f.push(chunk);
            events.extend(drain(&mut f));
        }
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(
            matches!(&events[0], Err(e @ FramingError::BodyTooLarge { len: 20, max: 8 }) if e.can_continue())
        );
        assert!(matches!(&events[1], Ok(FramerEvent::Message(m)) if &m.body()[..] == b"body"));
    }

    #[test]
    fn malformed_message_is_skipped() {
        let bad = b"OPTIONS sip:a@b SIP/2.0\r\nMax-Forwards: 300\r\nContent-Length: 0\r\n\r\n";
        let mut f = Framer::new();
        f.push(&[&bad[..], OPTIONS].concat());
        let ev = drain(&mut f);
        assert!(matches!(&ev[0], Err(e @ FramingError::Malformed(_)) if e.can_continue()));
        assert!(matches!(&ev[1], Ok(FramerEvent::Message(_))));
    }

    #[test]
    fn ping_split_across_chunks_in_server_role() {
        let mut f = Framer::with_limits(Limits::default(), KeepAliveRole::Server);
        f.push(b"\r\n");
        assert!(
            drain(&mut f).is_empty(),
            "a server waits to see whether a ping follows"
        );
        f.push(b"\r\n");
        assert_eq!(drain(&mut f), vec![Ok(FramerEvent::Ping)]);
    }

    #[test]
    fn framing_errors() {
        let mut f = Framer::new();
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n");
        let e = drain(&mut f);
        assert_eq!(e, vec![Err(FramingError::MissingContentLength)]);
        assert!(!FramingError::MissingContentLength.can_continue());

        for bad in ["-999", "abc", "5\r\nContent-Length: 6"] {
            let mut f = Framer::new();
            f.push(format!("OPTIONS sip:a@b SIP/2.0\r\nContent-Length: {bad}\r\n\r\n").as_bytes());
            let e = drain(&mut f);
            assert!(
                matches!(e[..], [Err(ref e)] if !e.can_continue()),
                "{bad}: {e:?}"
            );
        }

        let limits = Limits {
            max_body_len: 10,
            ..Limits::default()
        };
        let mut f = Framer::with_limits(limits, KeepAliveRole::Client);
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nCSeq: 1 OPTIONS\r\nContent-Length: 1000000000\r\n\r\n");
        f.push(&[b'x'; 4096]);
        let e = drain(&mut f);
        assert_eq!(
            e,
            vec![Err(FramingError::BodyTooLarge {
                len: 1_000_000_000,
                max: 10
            })]
        );
        assert!(f.buffered() == 0);

        let limits = Limits {
            max_head_len: 1024,
            ..Limits::default()
        };
        let mut f = Framer::with_limits(limits, KeepAliveRole::Client);
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\n");
        for _ in 0..100 {
            f.push(b"X-Endless: aaaaaaaaaaaaaaaaaaaa\r\n");
            let e = drain(&mut f);
            if !e.is_empty() {
                assert_eq!(e, vec![Err(FramingError::HeadTooLarge { max: 1024 })]);
                assert_eq!(f.buffered(), 0);
                return;
            }
        }
        panic!("endless header block was not refused");
    }
}
