//! The sans-IO device (SPEC E5): one state machine owning the connection to
//! the SIP server (TLS, keep-alive, reconnect), the registration, the
//! inbound connections' SIP state, the calls (dialogs, offer/answer, SRTP),
//! their media and RTCP.
//!
//! It never reads a clock, touches a socket or starts a thread. A driver
//! feeds it network input and time and carries out what it asks, in the
//! style of quinn-proto and str0m:
//!
//! ```no_run
//! # use std::time::Instant;
//! # use sigil_endpoint::device::{Device, Input, Transmit, Event};
//! # fn socket_read() -> Option<(sigil_endpoint::device::ConnId, Vec<u8>)> { None }
//! # fn wait_until(_: Option<Instant>) {}
//! # fn carry_out(_: Transmit) {}
//! # let mut device: Device = todo!();
//! loop {
//!     // 1. Network input, as it comes.
//!     if let Some((conn, bytes)) = socket_read() {
//!         device.handle_input(Input::Received { conn, data: &bytes }, Instant::now());
//!     }
//!     // 2. Time.
//!     device.handle_timeout(Instant::now());
//!     // 3. Work for the network: connect, send, bind, close.
//!     while let Some(transmit) = device.poll_transmit() {
//!         carry_out(transmit);
//!     }
//!     // 4. What happened.
//!     while let Some(event) = device.poll_event() {
//!         if matches!(event, Event::Stopped) { return; }
//!     }
//!     // 5. Sleep until input arrives or the next deadline.
//!     wait_until(device.poll_timeout());
//! }
//! ```
//!
//! [`crate::driver`] has the blocking driver that does exactly this with
//! `mio`; an integrator with an event loop of their own writes these few
//! lines around their sockets instead.

mod calls;
mod config;
mod conn;
mod event;
mod inbound;
mod incoming;
mod io;
mod link;
mod media;
mod outgoing;
mod sdp;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Instant;

use sigil_provisioning::values::InboundAccept;
use sigil_sip_tls::{Acceptor, Connector};
use sigil_srtp::negotiate::OfferPolicy;

pub use config::{DeviceConfig, MAX_INBOUND_BODY, MAX_PER_SOURCE};
pub use event::{CallId, Event};
pub use io::{ConnId, Input, SocketId, Transmit};

use crate::error::EndpointError;
use crate::status::{CallStatus, ConnectionStatus, DeviceStatus, RegistrationStatus};
use calls::Call;
use conn::{Conn, ConnOutput, Transport};
use link::Link;

/// Most calls at once.
pub const MAX_CALLS: usize = 8;
/// Most finished calls kept for the status.
pub const MAX_FINISHED: usize = 32;
/// Most events queued for the application; beyond, the oldest audio
/// frames are dropped first (counted in the status).
pub const MAX_EVENTS: usize = 1024;

/// Most closed inbound connections kept for the status.
const MAX_CLOSED_INBOUND: usize = 8;

/// The status line of an inbound connection.
fn inbound_status(c: &Conn) -> ConnectionStatus {
    let peer = c.peer.map(|p| p.to_string()).unwrap_or_default();
    match c.tls_info() {
        Some(info) => {
            let mut s = crate::status::connection_status("sip inbound", &peer, info, c.up);
            s.peer_subject = c.peer_device().map(|d| d.subject.clone());
            s.verification = if c.peer_device().is_some() {
                "client certificate verified".into()
            } else {
                "no client certificate".into()
            };
            s
        }
        None => ConnectionStatus {
            purpose: "sip inbound".into(),
            peer,
            up: false,
            version: "-".into(),
            cipher_suite: "-".into(),
            verification: "handshake not completed".into(),
            peer_subject: None,
            client_certificate: None,
            resumed: false,
        },
    }
}

/// The device state machine. See the [module documentation](self).
pub struct Device {
    config: DeviceConfig,
    domain: String,
    server: String,
    transport: Transport,
    connector: Option<Connector>,
    acceptor: Option<Acceptor>,
    listener: inbound::Listener,
    next_id: u64,
    conns: BTreeMap<ConnId, Conn>,
    link: Link,
    calls: BTreeMap<CallId, Call>,
    finished: VecDeque<CallStatus>,
    sockets: HashMap<SocketId, CallId>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    events_dropped: u64,
    /// Shutdown asked for: the deadline of its wait.
    stopping: Option<Instant>,
    stopped: bool,
    session_id: u64,
    started: Instant,
    registration_status: RegistrationStatus,
    /// The last inbound connections that closed, for the status.
    closed_inbound: VecDeque<ConnectionStatus>,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("server", &self.server)
            .field("user", &self.config.user)
            .field("calls", &self.calls.len())
            .finish_non_exhaustive()
    }
}

impl Device {
    /// A device that starts connecting to `sip.proxy` at `now` (see
    /// [`Device::poll_transmit`]), and listening when `sip.tls.listen` is set.
    ///
    /// # Errors
    ///
    /// No `sip.proxy`, or settings the TLS or SRTP layers refuse.
    pub fn new(config: DeviceConfig, now: Instant) -> Result<Device, EndpointError> {
        let settings = &config.settings;
        let Some(proxy) = settings.sip_proxy.clone() else {
            return Err(EndpointError::Config("sip.proxy is not set".into()));
        };
        let transport = match settings.sip_transport {
            sigil_provisioning::values::SipTransport::Tls => Transport::Tls,
            sigil_provisioning::values::SipTransport::Tcp => Transport::Tcp,
            sigil_provisioning::values::SipTransport::Udp => Transport::Udp,
        };
        let domain = proxy.host.bare();
        let default_port = if transport == Transport::Tls {
            5061
        } else {
            5060
        };
        let server = format!("{}:{}", proxy.host, proxy.port.unwrap_or(default_port));
        // Fails early on an unusable SRTP configuration (Standard over TCP…).
        sigil_srtp::negotiate::Negotiator::new(config.srtp_config(config.offer_policy()))
            .map_err(|e| EndpointError::Config(e.to_string()))?;
        let policy = config.tls_policy()?;
        let connector = match transport {
            Transport::Tls => Some(
                Connector::new(
                    &domain,
                    &policy,
                    config.store.clone(),
                    config.client_identity.clone(),
                )
                .map_err(|e| EndpointError::Config(e.to_string()))?,
            ),
            _ => None,
        };
        let mut seed = [0u8; 4];
        let _ = getrandom::getrandom(&mut seed);
        let mut device = Device {
            domain,
            server,
            transport,
            connector,
            acceptor: None,
            listener: inbound::Listener::Off,
            next_id: 1,
            conns: BTreeMap::new(),
            link: Link::default(),
            calls: BTreeMap::new(),
            finished: VecDeque::new(),
            sockets: HashMap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            events_dropped: 0,
            stopping: None,
            stopped: false,
            session_id: u64::from(u32::from_be_bytes(seed)),
            started: now,
            registration_status: RegistrationStatus::default(),
            closed_inbound: VecDeque::new(),
            config,
        };
        device.registration_status.aor = Some(device.aor());
        device.registration_status.state = "idle".into();
        if device.config.settings.sip_inbound_accept == InboundAccept::Any {
            log::warn!(
                "sip.inbound.accept = any: anyone who reaches the listener may call this device"
            );
        }
        device.start_listener(&policy);
        device.connect_link(now);
        Ok(device)
    }

    /// Our address of record, `sip:user@domain`.
    pub fn aor(&self) -> String {
        format!("sip:{}@{}", self.config.user, self.domain)
    }

    /// The SIP server, `host:port`.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The configuration the device was built from.
    pub fn config(&self) -> &DeviceConfig {
        &self.config
    }

    fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn event(&mut self, event: Event) {
        if !matches!(event, Event::Audio { .. }) {
            log::info!("{event}");
        }
        if self.events.len() >= MAX_EVENTS {
            // Drop an audio frame first; else the oldest event.
            match self
                .events
                .iter()
                .position(|e| matches!(e, Event::Audio { .. }))
            {
                Some(i) => {
                    self.events.remove(i);
                }
                None => {
                    self.events.pop_front();
                }
            }
            self.events_dropped += 1;
        }
        self.events.push_back(event);
    }

    /// Network input at `now`.
    pub fn handle_input(&mut self, input: Input<'_>, now: Instant) {
        match input {
            Input::Connected { conn, local, peer } => self.on_connected(conn, local, peer, now),
            Input::ConnectFailed { conn, reason } => {
                if self.link.conn == Some(conn) {
                    self.conns.remove(&conn);
                    self.link_down(conn::ConnError::new(reason), now);
                }
            }
            Input::Received { conn, data } => self.on_received(conn, data, now),
            Input::Closed { conn, reason } => {
                let mut out = Vec::new();
                let error = match (self.conns.get_mut(&conn), reason) {
                    (Some(c), None) => c.eof(now, &mut out),
                    (Some(_), Some(reason)) => conn::ConnError::new(reason),
                    (None, _) => return,
                };
                self.conn_outputs(conn, out, now);
                self.conn_failed(conn, error, now);
            }
            Input::Bound { socket, local } => self.on_bound(socket, local, now),
            Input::BindFailed { socket, reason } => self.on_bind_failed(socket, reason, now),
            Input::Datagram { socket, from, data } => self.on_datagram(socket, from, data, now),
            Input::Listening { local } => self.on_listening(local),
            Input::ListenFailed { reason } => self.on_listen_failed(reason),
        }
        self.flush(now);
        self.shutdown_progress(now);
    }

    /// Time passes: runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        // Connections: handshake deadlines, keep-alive.
        let due: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.poll_timeout().is_some_and(|t| t <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            let result = self.conns.get_mut(&id).map(|c| c.handle_timeout(now));
            if let Some(Err(error)) = result {
                self.conn_failed(id, error, now);
            }
        }
        self.link_timers(now);
        self.call_timers(now);
        self.shutdown_progress(now);
        self.flush(now);
    }

    /// The next piece of network work, if any.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Device::handle_timeout`] must be called next; `None` when
    /// nothing is scheduled (only input can change anything).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let conns = self.conns.values().filter_map(Conn::poll_timeout);
        let calls = self.calls.values().filter_map(Call::poll_timeout);
        conns
            .chain(calls)
            .chain(self.link.poll_timeout())
            .chain(self.stopping)
            .min()
    }

    /// Whether shutdown is complete ([`Event::Stopped`] was reported).
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// Calls `to` (a SIP URI) with the configured SRTP policy, or `policy`.
    /// The call proceeds in the background: watch for
    /// [`Event::CallEstablished`] and [`Event::CallEnded`].
    ///
    /// # Errors
    ///
    /// A bad URI, too many calls, not connected, or shutting down.
    pub fn call(
        &mut self,
        to: &str,
        policy: Option<OfferPolicy>,
        now: Instant,
    ) -> Result<CallId, EndpointError> {
        let id = self.start_call(to, policy, now)?;
        self.flush(now);
        Ok(id)
    }

    /// Answers a ringing incoming call.
    ///
    /// # Errors
    ///
    /// No such call, or it is not ringing.
    pub fn answer(&mut self, call: CallId, now: Instant) -> Result<(), EndpointError> {
        let result = self.answer_call(call, now);
        self.flush(now);
        result
    }

    /// Refuses a ringing incoming call with `status` (e.g. 486 Busy Here, 603 Decline).
    ///
    /// # Errors
    ///
    /// No such call, it is not ringing, or `status` is not 300–699.
    pub fn reject(&mut self, call: CallId, status: u16, now: Instant) -> Result<(), EndpointError> {
        let result = self.reject_call(call, status, now);
        self.flush(now);
        result
    }

    /// Hangs up (BYE), cancels (CANCEL) or declines a call, whatever its state.
    ///
    /// # Errors
    ///
    /// No such call.
    pub fn hangup(&mut self, call: CallId, now: Instant) -> Result<(), EndpointError> {
        let result = self.hangup_call(call, "hung up", now);
        self.flush(now);
        result
    }

    /// The next 20 ms of audio to send on `call`: 160 samples of 16-bit PCM
    /// at 8 kHz. Frames are sent on the call's 20 ms media clock; a few are
    /// queued, older ones dropped when the producer runs ahead.
    ///
    /// # Errors
    ///
    /// No such call, or its media is not running.
    pub fn send_audio(&mut self, call: CallId, frame: &[i16]) -> Result<(), EndpointError> {
        self.calls
            .get_mut(&call)
            .ok_or(EndpointError::NoSuchCall(call))?
            .queue_audio(frame)
    }

    /// Sends a DTMF digit (RFC 4733) on `call`, lasting `duration`.
    ///
    /// # Errors
    ///
    /// No such call, its media is not running, or the peer did not
    /// negotiate telephone-events.
    pub fn send_dtmf(
        &mut self,
        call: CallId,
        digit: char,
        duration: std::time::Duration,
    ) -> Result<(), EndpointError> {
        self.calls
            .get_mut(&call)
            .ok_or(EndpointError::NoSuchCall(call))?
            .send_dtmf(digit, duration)
    }

    /// Stops: hangs up every call, removes the registration binding (also
    /// one left from before a lost connection), never registers again, and
    /// reports [`Event::Stopped`] when done or after
    /// [`DeviceConfig::shutdown_wait`].
    pub fn shutdown(&mut self, now: Instant) {
        if self.stopping.is_some() || self.stopped {
            return;
        }
        self.stopping = Some(sigil_sip::timer::deadline_after(
            now,
            self.config.shutdown_wait,
        ));
        let ids: Vec<CallId> = self.calls.keys().copied().collect();
        for id in ids {
            let _ = self.hangup_call(id, "device shutting down", now);
        }
        self.stop_listener();
        self.unregister_for_shutdown(now);
        self.shutdown_progress(now);
        self.flush(now);
    }

    fn shutdown_progress(&mut self, now: Instant) {
        let Some(deadline) = self.stopping else {
            return;
        };
        if self.stopped {
            return;
        }
        let unregistered = !self.link.binding_may_exist();
        if (unregistered && self.calls.is_empty()) || now >= deadline {
            if !unregistered {
                log::warn!("shutdown: the registrar did not confirm the un-REGISTER in time");
            }
            let ids: Vec<ConnId> = self.conns.keys().copied().collect();
            for id in ids {
                if let Some(mut c) = self.conns.remove(&id) {
                    c.close();
                    for data in c.take_output() {
                        self.transmits.push_back(Transmit::Send { conn: id, data });
                    }
                    self.transmits.push_back(Transmit::Close { conn: id });
                }
            }
            let ids: Vec<CallId> = self.calls.keys().copied().collect();
            for id in ids {
                self.finish_call(id, Some("device stopped".into()), now);
            }
            self.link.conn = None;
            self.link.retry_at = None;
            self.stopped = true;
            self.event(Event::Stopped);
        }
    }

    /// The live part of the status: connections, registration, calls.
    pub fn fill_status(&self, status: &mut DeviceStatus) {
        status.connections = self.connection_status();
        status.registration = self.registration_status.clone();
        status.calls = self
            .finished
            .iter()
            .cloned()
            .chain(self.calls.values().map(Call::status))
            .collect();
        status.listener = self.listener.status();
        status.events_dropped = self.events_dropped;
    }

    fn connection_status(&self) -> Vec<ConnectionStatus> {
        let mut list = Vec::new();
        let server_conn = self.link.conn.and_then(|id| self.conns.get(&id));
        let peer = self.server.clone();
        list.push(match (server_conn, &self.link.tls) {
            (Some(c), Some(info)) if c.up => {
                crate::status::connection_status("sip", &peer, info, true)
            }
            (Some(c), None) if c.up => {
                crate::status::plain_connection_status(&peer, self.transport.via(), true)
            }
            (_, Some(info)) => crate::status::connection_status("sip", &peer, info, false),
            (_, None) => crate::status::plain_connection_status(&peer, self.transport.via(), false),
        });
        list.extend(self.closed_inbound.iter().cloned());
        list.extend(
            self.conns
                .values()
                .filter(|c| c.role == conn::Role::Inbound)
                .map(inbound_status),
        );
        list
    }

    // --- connections ------------------------------------------------------

    fn on_connected(
        &mut self,
        id: ConnId,
        local: std::net::SocketAddr,
        peer: std::net::SocketAddr,
        now: Instant,
    ) {
        let tls = match (&self.connector, self.transport) {
            (Some(connector), Transport::Tls) => {
                match connector.connection(now, self.config.connection) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        self.conn_failed(id, conn::ConnError::new(e.to_string()), now);
                        return;
                    }
                }
            }
            _ => None,
        };
        let mut out = Vec::new();
        match self.conns.get_mut(&id) {
            Some(c) => c.connected(local, peer, tls, &mut out),
            None => {
                // Not ours (any more): close it.
                self.transmits.push_back(Transmit::Close { conn: id });
                return;
            }
        }
        self.conn_outputs(id, out, now);
    }

    fn on_received(&mut self, id: ConnId, data: &[u8], now: Instant) {
        let mut out = Vec::new();
        let result = match self.conns.get_mut(&id) {
            Some(c) => c.receive(data, now, &mut out),
            None => return,
        };
        self.conn_outputs(id, out, now);
        if let Err(error) = result {
            self.conn_failed(id, error, now);
        }
    }

    fn conn_outputs(&mut self, id: ConnId, out: Vec<ConnOutput>, now: Instant) {
        for output in out {
            match output {
                ConnOutput::Up => {
                    if self.link.conn == Some(id) {
                        self.link_up(now);
                    } else {
                        self.inbound_up(id);
                    }
                }
                ConnOutput::Message(message) => self.on_message(id, message, now),
            }
        }
    }

    /// A connection died: flush its last bytes (an alert), forget it, and
    /// end what depended on it.
    fn conn_failed(&mut self, id: ConnId, error: conn::ConnError, now: Instant) {
        if let Some(mut c) = self.conns.remove(&id) {
            if c.role == conn::Role::Inbound {
                let mut status = inbound_status(&c);
                status.up = false;
                self.closed_inbound.push_back(status);
                while self.closed_inbound.len() > MAX_CLOSED_INBOUND {
                    self.closed_inbound.pop_front();
                }
            }
            for data in c.take_output() {
                self.transmits.push_back(Transmit::Send { conn: id, data });
            }
            self.transmits.push_back(Transmit::Close { conn: id });
        }
        let on_conn: Vec<CallId> = self
            .calls
            .iter()
            .filter(|(_, c)| c.conn == id)
            .map(|(k, _)| *k)
            .collect();
        for call in on_conn {
            self.call_connection_lost(call, now);
        }
        if self.link.conn == Some(id) {
            self.link_down(error, now);
        } else {
            log::info!("inbound {id} closed: {}", error.reason);
        }
    }

    /// Moves what the state machines produced to the transmit queue.
    fn flush(&mut self, now: Instant) {
        self.drive_registration(now);
        self.drive_calls(now);
        let ids: Vec<ConnId> = self.conns.keys().copied().collect();
        for id in ids {
            if let Some(c) = self.conns.get_mut(&id) {
                for data in c.take_output() {
                    self.transmits.push_back(Transmit::Send { conn: id, data });
                }
            }
        }
    }

    /// Sends `message` on connection `id`; a failure costs the connection.
    fn send(&mut self, id: ConnId, message: &sigil_sip::Message, now: Instant) {
        let result = match self.conns.get_mut(&id) {
            Some(c) => c.send(message),
            None => Err(conn::ConnError::new("the connection is gone")),
        };
        if let Err(e) = result {
            log::warn!("cannot send on {id}: {}", e.reason);
            if self.conns.contains_key(&id) {
                self.conn_failed(id, e, now);
            }
        }
    }
}

#[cfg(test)]
mod media_tests;
#[cfg(test)]
mod tests;
