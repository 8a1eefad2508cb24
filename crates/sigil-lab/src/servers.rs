//! The server side for the demo and the tests: an HTTPS provisioning
//! responder and a SIP registrar with peer user agents, both requiring
//! device certificates — built from our own crates
//! ([`sigil_sip_tls::Acceptor`] with [`sigil_identity::DeviceVerifier`],
//! [`crate::Registrar`], [`sigil_sip::dialog`], the SRTP negotiator and
//! [`crate::peer_media`]). Not part of a device.
//!
//! Peers of [`SipServer`], by the user part of the Request-URI:
//! - `srtp-peer`: answers as a Standard SRTP phone (488 without crypto);
//! - `plain-phone`: a legacy phone without SRTP — answers every offer with
//!   plain `RTP/AVP` and no crypto, whatever was offered.
//!
//! Each answered call sends one second of tone and counts what arrives
//! (after decryption for SRTP): see [`SipServer::calls`].

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sigil_identity::{DeviceVerifier, Identity, PeerDevice};
use sigil_sip::dialog::{Dialog, DialogConfig, DialogOutput};
use sigil_sip::{Message, Method, Request};
use sigil_sip_tls::{
    Acceptor, ClientAuth, Handler, PeerInfo, Server, ServerOptions, ShutdownHandle, TlsPolicy,
};
use sigil_srtp::negotiate::{
    basic_audio_sdp, parse_sdp, write_sdp, Negotiator, OfferPolicy, SignalingTransport, SrtpConfig,
};

use sigil_media::{CallStats, MediaCrypto};

use crate::peer_media::{MediaSession, MediaSocket};
use crate::registrar::{Registrar, RegistrarEvent};

/// The RTP address of the first active audio m-line of `sdp`.
fn rtp_peer(sdp: &sigil_srtp::negotiate::Sdp) -> Option<SocketAddr> {
    let media = sdp
        .medias
        .iter()
        .find(|m| m.media == "audio" && m.port != 0)?;
    let conn = media.connections.first().or(sdp.connection.as_ref())?;
    let ip: std::net::IpAddr = conn.connection_address.split('/').next()?.parse().ok()?;
    Some(SocketAddr::new(ip, media.port))
}

/// User part of the SRTP peer.
pub const SRTP_PEER: &str = "srtp-peer";
/// User part of the legacy plain-RTP phone.
pub const PLAIN_PHONE: &str = "plain-phone";

/// One request the provisioning server saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisioningRequest {
    /// The path asked for.
    pub path: String,
    /// HTTP status sent.
    pub status: u16,
    /// The device (MAC) from its certificate.
    pub device: Option<String>,
    /// `TLSv1.3 TLS13_…`.
    pub tls: String,
}

/// An HTTPS server handing out configuration files, requiring a device certificate.
pub struct ProvisioningServer {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<ProvisioningRequest>>>,
    refused: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for ProvisioningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProvisioningServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl ProvisioningServer {
    /// Serves `files` (path → body) on 127.0.0.1 (any port) presenting
    /// `identity`, accepting only clients whose certificate `devices` accepts.
    pub fn start(
        identity: &Identity,
        devices: Arc<DeviceVerifier>,
        files: HashMap<String, Vec<u8>>,
    ) -> std::io::Result<ProvisioningServer> {
        let acceptor = Acceptor::new(
            identity,
            ClientAuth::Required(devices),
            &TlsPolicy::default(),
        )
        .map_err(std::io::Error::other)?;
        let config = acceptor.config().clone();
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let refused = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (log, refused, stop) = (log.clone(), refused.clone(), stop.clone());
            std::thread::Builder::new()
                .name("testkit-https".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        match listener.accept() {
                            Ok((tcp, _)) => {
                                serve_https(tcp, config.clone(), &files, &log, &refused)
                            }
                            Err(_) => std::thread::sleep(Duration::from_millis(5)),
                        }
                    }
                })?
        };
        Ok(ProvisioningServer {
            addr,
            log,
            refused,
            stop,
            thread: Some(thread),
        })
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Requests served so far.
    pub fn requests(&self) -> Vec<ProvisioningRequest> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Handshakes refused so far, with the reason.
    pub fn refused(&self) -> Vec<String> {
        self.refused.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Stops the server.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ProvisioningServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve_https(
    tcp: TcpStream,
    config: Arc<rustls::ServerConfig>,
    files: &HashMap<String, Vec<u8>>,
    log: &Mutex<Vec<ProvisioningRequest>>,
    refused: &Mutex<Vec<String>>,
) {
    let _ = tcp.set_nonblocking(false);
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
    let Ok(conn) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    // Bounded: at most 8 KiB of request head.
    while head.len() < 8192 && !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match tls.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(buf.get(..n).unwrap_or_default()),
            Err(e) => {
                if let Ok(mut r) = refused.lock() {
                    r.push(e.to_string());
                }
                return;
            }
        }
    }
    let text = String::from_utf8_lossy(&head);
    let path = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("GET "))
        .and_then(|l| l.split(' ').next())
        .unwrap_or("")
        .to_owned();
    let device = PeerDevice::from_peer_certificates(tls.conn.peer_certificates())
        .ok()
        .and_then(|d| d.mac)
        .map(|m| m.to_string());
    let tls_desc = format!(
        "{} {}",
        tls.conn
            .protocol_version()
            .map(|v| format!("{v:?}").replace("TLSv1_", "TLSv1."))
            .unwrap_or_default(),
        tls.conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_default()
    );
    let (status, body) = match files.get(&path) {
        Some(body) => (200, body.clone()),
        None => (404, b"not found\n".to_vec()),
    };
    let reason = if status == 200 { "OK" } else { "Not Found" };
    let mut response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(&body);
    let _ = tls.write_all(&response);
    tls.conn.send_close_notify();
    let _ = tls.flush();
    if let Ok(mut l) = log.lock() {
        l.push(ProvisioningRequest {
            path,
            status,
            device,
            tls: tls_desc,
        });
    }
}

/// One call a peer of the [`SipServer`] took.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerCall {
    /// Which peer (`srtp-peer`, `plain-phone`).
    pub peer: String,
    /// The device that called (MAC from its TLS certificate).
    pub device: Option<String>,
    /// `SRTP <suite>`, `plain RTP`, or `refused: …`.
    pub media: String,
    /// What the peer's media counted.
    pub stats: CallStats,
    /// Whether the call is over.
    pub ended: bool,
    /// Whether the device acknowledged the peer's 200 OK (ACK received).
    pub acked: bool,
    /// How the call ended, from the peer's side (e.g. "the peer hung up" = BYE from the device).
    pub end_reason: Option<String>,
}

struct PeerDialog {
    dialog: Dialog,
    media: Option<MediaSession>,
    record: usize,
}

#[derive(Default)]
struct PeerState {
    dialogs: HashMap<String, PeerDialog>,
    calls: Vec<PeerCall>,
}

struct SipHandler {
    registrar: Registrar,
    addr: SocketAddr,
    state: Mutex<PeerState>,
}

impl SipHandler {
    fn drain(dialog: &mut Dialog) -> Vec<Message> {
        let mut out = Vec::new();
        while let Some(o) = dialog.poll_output() {
            if let DialogOutput::Send(m) = o {
                out.push(m);
            }
        }
        out
    }

    fn invite(&self, peer: &PeerInfo, req: Request) -> Vec<Message> {
        let now = Instant::now();
        let user = req
            .uri
            .as_sip()
            .and_then(|s| s.user.clone())
            .unwrap_or_default();
        let device = peer
            .tls
            .peer_device
            .as_ref()
            .and_then(|d| d.mac)
            .map(|m| m.to_string());
        if user != SRTP_PEER && user != PLAIN_PHONE {
            return vec![Message::Response(crate::registrar::response_to(
                &req,
                404,
                "Not Found",
            ))];
        }
        let contact = format!("sip:{user}@{};transport=tls", self.addr);
        let (Ok(local_uri), Ok(contact)) = (
            format!("sip:{user}@{}", self.addr.ip()).parse(),
            contact.parse(),
        ) else {
            return Vec::new();
        };
        let mut config = DialogConfig::new(local_uri, contact);
        config.alias = false;
        let mut dialog = match Dialog::incoming(config, &req, now) {
            Ok(d) => d,
            Err(e) => {
                return e
                    .response(&req)
                    .map(Message::Response)
                    .into_iter()
                    .collect()
            }
        };
        let Ok(mut state) = self.state.lock() else {
            return Vec::new();
        };
        let record = state.calls.len();
        let mut call = PeerCall {
            peer: user.clone(),
            device,
            media: String::new(),
            stats: CallStats::default(),
            ended: false,
            acked: false,
            end_reason: None,
        };
        let offer = match parse_sdp(&req.body) {
            Ok(o) => o,
            Err(e) => {
                dialog.reject(488, "Not Acceptable Here", Some(&e.to_string()), now);
                call.media = format!("refused: {e}");
                call.ended = true;
                state.calls.push(call);
                return Self::drain(&mut dialog);
            }
        };
        let ip = self.addr.ip();
        let socket = match MediaSocket::bind(ip) {
            Ok(s) => s,
            Err(_) => return Vec::new(),
        };
        let port = socket.local_addr().map(|a| a.port()).unwrap_or(0);
        let mut answer = basic_audio_sdp(ip, port, 7);
        let crypto = if user == SRTP_PEER {
            let negotiator = Negotiator::new(SrtpConfig::new(
                OfferPolicy::Standard,
                SignalingTransport::Tls,
            ));
            let result = negotiator.map_err(|e| e.to_string()).and_then(|mut n| {
                n.answer_offer(&offer, &mut answer)
                    .map_err(|r| r.reason.clone())
            });
            match result {
                Ok(neg) => match neg.srtp().next().map(|(_, a)| (a.suite, a.sessions())) {
                    Some((suite, Ok((send, receive)))) => {
                        call.media = format!("SRTP {suite}");
                        MediaCrypto::Srtp {
                            send: Box::new(send),
                            receive: Box::new(receive),
                        }
                    }
                    _ => {
                        call.media = "plain RTP".into();
                        MediaCrypto::Plain
                    }
                },
                Err(reason) => {
                    dialog.reject(488, "Not Acceptable Here", Some(&reason), now);
                    call.media = format!("refused: {reason}");
                    call.ended = true;
                    state.calls.push(call);
                    return Self::drain(&mut dialog);
                }
            }
        } else {
            // A legacy phone: plain RTP/AVP whatever the offer said.
            call.media = "plain RTP".into();
            MediaCrypto::Plain
        };
        // RTCP on the RTP port when the device offers rtcp-mux (RFC 5761).
        let mux = offer
            .medias
            .iter()
            .any(|m| m.media == "audio" && m.has_attribute("rtcp-mux"));
        if mux {
            if let Some(m) = answer.medias.first_mut() {
                m.add_attribute(sdp_types::Attribute::new("rtcp-mux"));
            }
        }
        let media = rtp_peer(&offer)
            .and_then(|to| socket.start(crypto, to, Duration::from_secs(1), mux).ok());
        dialog.ring(now);
        dialog.accept(write_sdp(&answer).into_bytes(), now);
        let out = Self::drain(&mut dialog);
        state.calls.push(call);
        state.dialogs.insert(
            dialog.call_id().to_owned(),
            PeerDialog {
                dialog,
                media,
                record,
            },
        );
        out
    }

    fn in_dialog(&self, message: Message) -> Vec<Message> {
        let now = Instant::now();
        let Ok(mut state) = self.state.lock() else {
            return Vec::new();
        };
        let state = &mut *state;
        let call_id = message.headers().call_id().unwrap_or_default().to_owned();
        let Some(pd) = state.dialogs.get_mut(&call_id) else {
            return match message {
                Message::Request(r) if r.method != Method::Ack => {
                    vec![Message::Response(crate::registrar::response_to(
                        &r,
                        481,
                        "Call/Transaction Does Not Exist",
                    ))]
                }
                _ => Vec::new(),
            };
        };
        match &message {
            Message::Request(r) => {
                pd.dialog.handle_request(r, now);
            }
            Message::Response(r) => {
                pd.dialog.handle_response(r, now);
            }
        }
        let out = Self::drain(&mut pd.dialog);
        if matches!(pd.dialog.state(), sigil_sip::dialog::DialogState::Confirmed) {
            if let Some(c) = state.calls.get_mut(pd.record) {
                c.acked = true;
            }
        }
        if pd.dialog.is_terminated() {
            if let Some(mut pd) = state.dialogs.remove(&call_id) {
                let stats = pd
                    .media
                    .as_mut()
                    .map(MediaSession::stop)
                    .unwrap_or_default();
                if let Some(c) = state.calls.get_mut(pd.record) {
                    c.stats = stats;
                    c.ended = true;
                    c.end_reason = pd.dialog.end_reason().map(ToString::to_string);
                }
            }
        }
        out
    }
}

impl Handler for SipHandler {
    fn on_connect(&self, peer: &PeerInfo) {
        self.registrar.on_connect(peer);
    }

    fn on_message(&self, peer: &PeerInfo, message: Message) -> Vec<Message> {
        match &message {
            Message::Request(r) if matches!(r.method, Method::Register | Method::Options) => {
                self.registrar.on_message(peer, message)
            }
            Message::Request(r)
                if r.method == Method::Invite
                    && r.headers.to().is_some_and(|t| t.tag().is_none()) =>
            {
                let r = r.clone();
                self.invite(peer, r)
            }
            _ => self.in_dialog(message),
        }
    }

    fn on_refused(&self, addr: SocketAddr, diagnosis: &sigil_sip_tls::HandshakeDiagnosis) {
        self.registrar.on_refused(addr, diagnosis);
    }

    fn on_close(&self, peer: &PeerInfo, reason: Option<&str>) {
        self.registrar.on_close(peer, reason);
    }
}

/// A SIP-over-TLS registrar (digest with one password) with two peer user
/// agents, requiring device certificates.
pub struct SipServer {
    addr: SocketAddr,
    handler: Arc<SipHandler>,
    events: Arc<Mutex<Vec<RegistrarEvent>>>,
    shutdown: ShutdownHandle,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for SipServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl SipServer {
    /// Listens on 127.0.0.1 (any port) presenting `identity`; clients need a
    /// certificate `devices` accepts; REGISTER needs digest with `password`.
    pub fn start(
        identity: &Identity,
        devices: Arc<DeviceVerifier>,
        realm: &str,
        password: &str,
    ) -> std::io::Result<SipServer> {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        SipServer::start_on(any, identity, devices, realm, password)
    }

    /// As [`SipServer::start`], on `addr` (e.g. the address of a stopped server, to restart it).
    pub fn start_on(
        addr: SocketAddr,
        identity: &Identity,
        devices: Arc<DeviceVerifier>,
        realm: &str,
        password: &str,
    ) -> std::io::Result<SipServer> {
        let acceptor = Acceptor::new(
            identity,
            ClientAuth::Required(devices),
            &TlsPolicy::default(),
        )
        .map_err(std::io::Error::other)?;
        let server = Server::bind(addr, acceptor, ServerOptions::default())?;
        let addr = server.local_addr()?;
        let events = Arc::new(Mutex::new(Vec::new()));
        let registrar = {
            let events = events.clone();
            Registrar::new(Some(realm), Some(password)).with_reporter(move |e| {
                if let Ok(mut l) = events.lock() {
                    l.push(e.clone());
                }
            })
        };
        let handler = Arc::new(SipHandler {
            registrar,
            addr,
            state: Mutex::new(PeerState::default()),
        });
        let shutdown = server.shutdown_handle();
        let thread = {
            let handler: Arc<dyn Handler> = handler.clone();
            std::thread::Builder::new()
                .name("testkit-sip".into())
                .spawn(move || {
                    let _ = server.run(handler);
                })?
        };
        Ok(SipServer {
            addr,
            handler,
            events,
            shutdown,
            thread: Some(thread),
        })
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The registrar's events so far (connections, registrations, refusals).
    pub fn events(&self) -> Vec<RegistrarEvent> {
        self.events.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The current contact of `aor` (e.g. `sip:1001@127.0.0.1`).
    pub fn binding(&self, aor: &str) -> Option<String> {
        self.handler.registrar.binding(aor)
    }

    /// The calls the peers took, in order.
    pub fn calls(&self) -> Vec<PeerCall> {
        self.handler
            .state
            .lock()
            .map(|s| {
                let mut calls = s.calls.clone();
                for pd in s.dialogs.values() {
                    if let (Some(c), Some(m)) = (calls.get_mut(pd.record), &pd.media) {
                        c.stats = m.stats();
                    }
                }
                calls
            })
            .unwrap_or_default()
    }

    /// Stops the server.
    pub fn stop(&mut self) {
        self.shutdown.shutdown();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for SipServer {
    fn drop(&mut self) {
        self.stop();
    }
}
