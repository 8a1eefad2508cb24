//! What the device reports to its application, from
//! [`Device::poll_event`](super::Device::poll_event).

use std::fmt;
use std::time::Duration;

use sigil_sip_tls::{HandshakeDiagnosis, TlsInfo};

use crate::status::CallStatus;

/// A call, named by the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct CallId(pub u64);

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "call#{}", self.0)
    }
}

/// Something the application should know.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The connection to the SIP server is up (TLS details when over TLS).
    Connected {
        /// `host:port`.
        server: String,
        /// Version, suite, how the server was verified; `None` over TCP/UDP.
        tls: Option<Box<TlsInfo>>,
        /// Whether this replaces a lost connection.
        reconnected: bool,
    },
    /// Connecting to the SIP server failed (TCP or TLS), with the reason an
    /// installer can act on; another attempt follows after `retry_in`.
    ConnectionFailed {
        /// `host:port`.
        server: String,
        /// Why.
        reason: String,
        /// The TLS diagnosis, when the handshake failed.
        diagnosis: Option<Box<HandshakeDiagnosis>>,
        /// When the next attempt is (`None`: no more attempts, shutting down).
        retry_in: Option<Duration>,
    },
    /// The connection to the SIP server was lost; calls on it ended.
    ConnectionLost {
        /// Why.
        reason: String,
        /// When the reconnect attempt is.
        retry_in: Option<Duration>,
    },
    /// The registrar accepted our binding.
    Registered {
        /// Our address of record.
        aor: String,
        /// The Contact registered.
        contact: String,
        /// For how long.
        expires: Duration,
    },
    /// Our binding was removed (shutdown).
    Unregistered,
    /// The registrar refused us, or did not answer.
    RegistrationFailed {
        /// Why.
        reason: String,
    },
    /// The inbound listener (`sip.tls.listen`) is up.
    Listening {
        /// Its address.
        addr: std::net::SocketAddr,
        /// Its client-certificate setting, in words.
        client_auth: String,
    },
    /// The inbound listener could not start; the device runs without it.
    ListenFailed {
        /// Why.
        reason: String,
    },
    /// A peer or a request was turned away by `sip.inbound.accept` or a
    /// listener limit.
    InboundRefused {
        /// Who.
        peer: String,
        /// Why.
        reason: String,
    },
    /// A call is ringing here: [`Device::answer`](super::Device::answer) or
    /// [`Device::reject`](super::Device::reject) it (not reported when the
    /// device answers automatically).
    IncomingCall {
        /// The call.
        call: CallId,
        /// The caller (From URI).
        from: String,
        /// What the media would be if answered (`SRTP …`, `plain RTP (…)`).
        media: String,
    },
    /// Our outgoing call rings at the other end.
    Ringing {
        /// The call.
        call: CallId,
    },
    /// The call is up with this media.
    CallEstablished {
        /// The call.
        call: CallId,
        /// `SRTP AES_CM_128_HMAC_SHA1_80, PCMU`, `plain RTP (…), PCMA` …
        media: String,
        /// Whether the media is encrypted.
        encrypted: bool,
    },
    /// The call is over; its final status and statistics.
    CallEnded {
        /// The call.
        call: CallId,
        /// Everything about it.
        status: Box<CallStatus>,
    },
    /// 20 ms of received audio (16-bit PCM, 8 kHz), after the jitter buffer;
    /// one per call every 20 ms while its media runs.
    Audio {
        /// The call.
        call: CallId,
        /// 160 samples.
        frame: Vec<i16>,
        /// True when the frame is made up (packet lost or late).
        concealed: bool,
    },
    /// A DTMF digit from the peer (RFC 4733).
    Dtmf {
        /// The call.
        call: CallId,
        /// `0`–`9`, `*`, `#`, `A`–`D`.
        digit: char,
    },
    /// Shutdown is complete: calls ended, binding removed (or the wait ran
    /// out). Nothing more will happen.
    Stopped,
}

impl Event {
    /// A short name (`registered`, `incoming call`, …) for logs and JSON.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Connected {
                reconnected: false, ..
            } => "connected",
            Event::Connected {
                reconnected: true, ..
            } => "reconnected",
            Event::ConnectionFailed { .. } => "connection failed",
            Event::ConnectionLost { .. } => "connection lost",
            Event::Registered { .. } => "registered",
            Event::Unregistered => "unregistered",
            Event::RegistrationFailed { .. } => "registration failed",
            Event::Listening { .. } => "listening",
            Event::ListenFailed { .. } => "listener failed",
            Event::InboundRefused { .. } => "inbound refused",
            Event::IncomingCall { .. } => "incoming call",
            Event::Ringing { .. } => "ringing",
            Event::CallEstablished { .. } => "call established",
            Event::CallEnded { .. } => "call ended",
            Event::Audio { .. } => "audio",
            Event::Dtmf { .. } => "dtmf",
            Event::Stopped => "stopped",
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.name();
        match self {
            Event::Connected { server, tls, .. } => match tls {
                Some(tls) => write!(
                    f,
                    "{name}: {server} {} {}, server {}{}",
                    tls.version,
                    tls.cipher_suite,
                    tls.verification_status(),
                    if tls.resumed { ", resumed" } else { "" }
                ),
                None => write!(f, "{name}: {server} (not encrypted)"),
            },
            Event::ConnectionFailed {
                server,
                reason,
                retry_in,
                ..
            } => write!(f, "{name}: {server}: {reason}{}", retry(retry_in)),
            Event::ConnectionLost { reason, retry_in } => {
                write!(f, "{name}: {reason}{}", retry(retry_in))
            }
            Event::Registered {
                aor,
                contact,
                expires,
            } => write!(f, "{name}: {aor} at {contact} for {} s", expires.as_secs()),
            Event::RegistrationFailed { reason } => write!(f, "{name}: {reason}"),
            Event::Listening { addr, client_auth } => {
                write!(
                    f,
                    "{name}: SIP over TLS on {addr}, client certificate {client_auth}"
                )
            }
            Event::ListenFailed { reason } => write!(f, "{name}: {reason}"),
            Event::InboundRefused { peer, reason } => write!(f, "{name}: {peer}: {reason}"),
            Event::IncomingCall { call, from, media } => {
                write!(f, "{name}: {call} from {from}, {media}")
            }
            Event::Ringing { call } => write!(f, "{name}: {call}"),
            Event::CallEstablished { call, media, .. } => write!(f, "{name}: {call}: {media}"),
            Event::CallEnded { call, status } => write!(
                f,
                "{name}: {call}: {}",
                status.ended.as_deref().unwrap_or("over")
            ),
            Event::Audio {
                call, concealed, ..
            } => {
                write!(
                    f,
                    "{name}: {call}{}",
                    if *concealed { " (concealed)" } else { "" }
                )
            }
            Event::Dtmf { call, digit } => write!(f, "{name}: {call}: {digit}"),
            Event::Unregistered | Event::Stopped => f.write_str(name),
        }
    }
}

fn retry(retry_in: &Option<Duration>) -> String {
    match retry_in {
        Some(d) => format!("; retry in {:.1} s", d.as_secs_f64()),
        None => String::new(),
    }
}
