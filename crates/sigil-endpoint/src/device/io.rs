//! What goes between the sans-IO [`Device`](super::Device) and its driver:
//! network input in ([`Input`]), network work out ([`Transmit`]).
//!
//! The device never opens a socket. It asks its driver to connect, bind and
//! send, names every connection and socket by an id it chose, and learns the
//! outcome through [`Input`]s. Inbound connections are the one exception to
//! who picks the id: the driver accepts them and asks
//! [`Device::accept`](super::Device::accept), which answers with an id or a
//! refusal.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// A stream connection (TLS or TCP signaling), named by the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn#{}", self.0)
    }
}

/// A UDP socket (media, or UDP signaling), named by the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId(pub u64);

impl fmt::Display for SocketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "socket#{}", self.0)
    }
}

/// Something the network did, handed to [`Device::handle_input`](super::Device::handle_input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input<'a> {
    /// The TCP connection asked for by [`Transmit::Connect`] is up.
    Connected {
        /// Which one.
        conn: ConnId,
        /// Our end (for Via and Contact).
        local: SocketAddr,
        /// The server's end.
        peer: SocketAddr,
    },
    /// It could not be made (refused, unreachable, timed out, no address).
    ConnectFailed {
        /// Which one.
        conn: ConnId,
        /// Why, in words.
        reason: String,
    },
    /// Bytes arrived on a connection.
    Received {
        /// Which one.
        conn: ConnId,
        /// The bytes, as read.
        data: &'a [u8],
    },
    /// A connection ended: the peer closed it (`reason` `None`) or it failed.
    Closed {
        /// Which one.
        conn: ConnId,
        /// Why, for an error.
        reason: Option<String>,
    },
    /// The UDP socket asked for by [`Transmit::Bind`] is bound.
    Bound {
        /// Which one.
        socket: SocketId,
        /// Its address (for SDP).
        local: SocketAddr,
    },
    /// It could not be bound.
    BindFailed {
        /// Which one.
        socket: SocketId,
        /// Why.
        reason: String,
    },
    /// A datagram arrived on a socket.
    Datagram {
        /// Which socket.
        socket: SocketId,
        /// From whom.
        from: SocketAddr,
        /// The datagram.
        data: &'a [u8],
    },
    /// The inbound listener asked for by [`Transmit::Listen`] is up.
    Listening {
        /// Its address.
        local: SocketAddr,
    },
    /// It could not be started.
    ListenFailed {
        /// Why.
        reason: String,
    },
}

/// Network work for the driver, from [`Device::poll_transmit`](super::Device::poll_transmit).
#[derive(Clone, PartialEq, Eq)]
pub enum Transmit {
    /// Open a TCP connection to `server` (`host:port`; the driver resolves
    /// it) and answer with [`Input::Connected`] or [`Input::ConnectFailed`].
    /// With `udp`, bind a UDP socket "connected" to the server instead (SIP
    /// over UDP): each datagram is then one [`Input::Received`] and each
    /// [`Transmit::Send`] one datagram.
    Connect {
        /// The id to report it under.
        conn: ConnId,
        /// `host:port`.
        server: String,
        /// A UDP flow rather than TCP.
        udp: bool,
    },
    /// Write these bytes on a connection, in order.
    Send {
        /// Which one.
        conn: ConnId,
        /// The bytes (TLS records, or SIP over plain TCP).
        data: Vec<u8>,
    },
    /// Close a connection once what was queued for it is written. No
    /// [`Input::Closed`] is expected for it.
    Close {
        /// Which one.
        conn: ConnId,
    },
    /// Bind a UDP socket on `ip` (any free port) and answer with
    /// [`Input::Bound`] or [`Input::BindFailed`].
    Bind {
        /// The id to report it under.
        socket: SocketId,
        /// The local address to bind (the signaling connection's).
        ip: IpAddr,
    },
    /// Send a datagram from a socket.
    SendTo {
        /// From which socket.
        socket: SocketId,
        /// To whom.
        to: SocketAddr,
        /// The datagram.
        data: Vec<u8>,
    },
    /// Close a UDP socket.
    Release {
        /// Which one.
        socket: SocketId,
    },
    /// Listen for inbound SIP-over-TLS connections on `addr` (`sip.tls.listen`),
    /// and hand each accepted one to [`Device::accept`](super::Device::accept).
    Listen {
        /// Where.
        addr: SocketAddr,
    },
    /// Stop listening (shutdown).
    StopListening,
}

impl fmt::Debug for Transmit {
    // Payload bytes are summarised: they may be SDP with SRTP keys (plain TCP).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Transmit::Connect { conn, server, udp } => {
                write!(
                    f,
                    "Connect({conn}, {server}{})",
                    if *udp { ", UDP" } else { "" }
                )
            }
            Transmit::Send { conn, data } => write!(f, "Send({conn}, {} bytes)", data.len()),
            Transmit::Close { conn } => write!(f, "Close({conn})"),
            Transmit::Bind { socket, ip } => write!(f, "Bind({socket}, {ip})"),
            Transmit::SendTo { socket, to, data } => {
                write!(f, "SendTo({socket} → {to}, {} bytes)", data.len())
            }
            Transmit::Release { socket } => write!(f, "Release({socket})"),
            Transmit::Listen { addr } => write!(f, "Listen({addr})"),
            Transmit::StopListening => f.write_str("StopListening"),
        }
    }
}
