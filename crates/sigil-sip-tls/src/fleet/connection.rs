//! One verified device connection of a [`super::FleetListener`].

use std::net::SocketAddr;
use std::sync::Arc;

use sigil_identity::Mac;
use sigil_sip::Message;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::connection::{ConnectionEvent, ConnectionSettings, SipTlsConnection, PONG_TIMEOUT};
use crate::diagnosis::HandshakeDiagnosis;
use crate::error::Error;
use crate::server::PeerInfo;

use super::io::{flush, read_available, Input};
use super::{Shared, Slot};

/// A device that completed the mutual-TLS handshake: who it is
/// ([`DeviceConnection::peer`], [`DeviceConnection::mac`]) and its SIP
/// messages ([`DeviceConnection::next_message`]). Keep-alive pings are
/// answered inside; the idle timeout and message limits of the listener's
/// [`super::FleetLimits`] apply. Dropping it closes the socket (call
/// [`DeviceConnection::close`] first for a clean TLS close).
pub struct DeviceConnection {
    stream: TcpStream,
    conn: SipTlsConnection,
    peer: PeerInfo,
    shared: Arc<Shared>,
    idle_deadline: Instant,
    finished: bool,
    _slot: Slot,
}

impl std::fmt::Debug for DeviceConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceConnection")
            .field("peer", &self.peer)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

fn diagnosis_of(e: Error) -> HandshakeDiagnosis {
    match e {
        Error::Handshake(d) => *d,
        other => HandshakeDiagnosis::Protocol {
            detail: other.to_string(),
        },
    }
}

impl DeviceConnection {
    /// The handshake of one accepted socket, within the handshake timeout.
    pub(super) async fn handshake(
        stream: TcpStream,
        addr: SocketAddr,
        shared: &Arc<Shared>,
        slot: Slot,
    ) -> Result<DeviceConnection, HandshakeDiagnosis> {
        let limits = shared.limits;
        let settings = ConnectionSettings {
            keepalive_interval: None,
            pong_timeout: PONG_TIMEOUT,
            handshake_timeout: limits.handshake_timeout,
            write_timeout: limits.write_timeout,
            limits: limits.sip,
        };
        let mut conn = shared
            .acceptor
            .connection(std::time::Instant::now(), settings)
            .map_err(|e| HandshakeDiagnosis::Protocol {
                detail: e.to_string(),
            })?;
        let deadline = Instant::now() + limits.handshake_timeout;
        // Bounded: every round reads from the socket or ends at the deadline.
        let result = loop {
            if !conn.is_handshaking() {
                break Ok(());
            }
            match tokio::time::timeout_at(deadline, stream.readable()).await {
                Err(_) => {
                    break Err(HandshakeDiagnosis::HandshakeTimeout {
                        after: limits.handshake_timeout,
                    })
                }
                Ok(Err(e)) => break Err(diagnosis_of(Error::Io(e))),
                Ok(Ok(())) => {}
            }
            if let Err(e) = read_available(&stream, &mut conn) {
                break Err(diagnosis_of(e));
            }
            if let Err(e) = flush(&stream, &mut conn, deadline).await {
                break Err(diagnosis_of(Error::Io(e)));
            }
        };
        // The rest of our flight (session tickets), or the alert that says why not.
        let flushed = flush(&stream, &mut conn, deadline).await;
        result?;
        flushed.map_err(|e| diagnosis_of(Error::Io(e)))?;
        // `Connected` is queued before any message that came with the client's Finished.
        let tls = match conn.poll_event() {
            Some(ConnectionEvent::Connected(tls)) => tls,
            _ => {
                return Err(HandshakeDiagnosis::Protocol {
                    detail: "the handshake ended without a connection".to_owned(),
                })
            }
        };
        Ok(DeviceConnection {
            stream,
            conn,
            peer: PeerInfo { addr, tls },
            shared: shared.clone(),
            idle_deadline: Instant::now() + limits.idle_timeout,
            finished: false,
            _slot: slot,
        })
    }

    /// The client's address and what the handshake proved (its device certificate).
    pub fn peer(&self) -> &PeerInfo {
        &self.peer
    }

    /// The device's MAC address, from its certificate.
    pub fn mac(&self) -> Option<Mac> {
        self.peer.tls.peer_device.as_ref().and_then(|d| d.mac)
    }

    /// The next SIP message from the device. `Ok(None)` when the device
    /// closed the connection; an error ends the connection (idle timeout,
    /// framing error, TLS or socket error). Pings are answered meanwhile.
    pub async fn next_message(&mut self) -> Result<Option<Message>, Error> {
        // Bounded: every round consumes an event or reads from the socket, or ends.
        loop {
            while let Some(event) = self.conn.poll_event() {
                match event {
                    ConnectionEvent::Message(m) => {
                        self.flush().await?;
                        return Ok(Some(m));
                    }
                    ConnectionEvent::Closed => {
                        self.finished = true;
                        let _ = self.flush().await;
                        return Ok(None);
                    }
                    ConnectionEvent::PingAnswered
                    | ConnectionEvent::PongReceived
                    | ConnectionEvent::Connected(_) => {}
                }
            }
            if self.finished || self.conn.is_finished() {
                self.finished = true;
                return Ok(None);
            }
            self.flush().await?;
            match tokio::time::timeout_at(self.idle_deadline, self.stream.readable()).await {
                Err(_) => {
                    Shared::count(&self.shared.idle_closed);
                    self.close().await;
                    return Err(Error::IdleTimeout {
                        after: self.shared.limits.idle_timeout,
                    });
                }
                Ok(Err(e)) => return Err(self.fail(Error::Io(e))),
                Ok(Ok(())) => {}
            }
            match read_available(&self.stream, &mut self.conn) {
                Ok(Input::Data) => {
                    self.idle_deadline = Instant::now() + self.shared.limits.idle_timeout;
                }
                Ok(Input::Eof) => {}
                Err(e) => {
                    if matches!(e, Error::Framing(_)) {
                        Shared::count(&self.shared.framing_closed);
                    }
                    // An alert for the peer may be queued.
                    let _ = self.flush().await;
                    return Err(self.fail(e));
                }
            }
        }
    }

    /// Sends a SIP message (with a correct Content-Length).
    pub async fn send(&mut self, message: &Message) -> Result<(), Error> {
        if self.finished {
            return Err(Error::NotConnected);
        }
        if let Err(e) = self.conn.send(message) {
            return Err(self.fail(e));
        }
        self.flush().await
    }

    /// Closes cleanly: close_notify, then the socket.
    pub async fn close(&mut self) {
        if !self.finished {
            self.conn.close();
            let _ = self.flush().await;
            self.finished = true;
        }
    }

    fn fail(&mut self, e: Error) -> Error {
        self.finished = true;
        e
    }

    async fn flush(&mut self) -> Result<(), Error> {
        let deadline = Instant::now() + self.shared.limits.write_timeout;
        match flush(&self.stream, &mut self.conn, deadline).await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.fail(Error::Io(e))),
        }
    }
}
