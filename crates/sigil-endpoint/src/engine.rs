//! The running device: SIP over TLS to the proxy, REGISTER with digest,
//! calls with SDP through the SRTP negotiator, media, status (SPEC E2–E4).
//!
//! One thread owns the connection ([`sigil_sip_tls::Client`], which keeps it
//! alive and reconnects) and the sans-IO state machines
//! ([`Registration`], one [`Dialog`] per call). The application talks to it
//! through [`RunningDevice`].

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;
use sigil_provisioning::values::{ListenClientCert, SipTransport};
use sigil_provisioning::Settings;
use sigil_sip::dialog::{stateless_response, Dialog, DialogConfig, DialogEvent, DialogOutput};
use sigil_sip::timer::deadline_after;
use sigil_sip::{
    Credentials, Message, Method, Registration, RegistrationConfig, RegistrationEvent,
    RegistrationOutput, RegistrationState, Request, Uri,
};
use sigil_sip_tls::{
    CipherPolicy, Client, ClientOptions, Connector, TlsInfo, TlsPolicy, TlsVersion,
};
use sigil_srtp::negotiate::{
    basic_audio_sdp, parse_sdp, write_sdp, AnswerError, MediaOutcome, Negotiation, Negotiator,
    OfferPolicy, Sdp, SignalingTransport, SrtpConfig,
};

use crate::device::{Device, Prepared};
use crate::error::EndpointError;
use crate::link::{Link, LinkEvent};
use crate::media::{MediaCrypto, MediaSession, MediaSocket, MediaStats, MediaStream};
use crate::status::{BootStep, CallDirection, CallStatus, ConnectionStatus, DeviceStatus, Outcome};

/// How long one turn of the event loop waits for network input during calls.
const TICK: Duration = Duration::from_millis(5);
/// The same without calls (network input still wakes the loop at once).
const IDLE_TICK: Duration = Duration::from_millis(25);
/// Extra time after the tone before hanging up, so the last frames arrive.
const TAIL: Duration = Duration::from_millis(200);
/// Most calls at once.
pub const MAX_CALLS: usize = 8;
/// How long [`RunningDevice::shutdown`] (and drop) waits for the device
/// thread to hang up and un-REGISTER. A peer that stops reading cannot hold
/// it longer: sockets have write timeouts, and a thread still blocked on the
/// network after this is left to finish on its own.
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);
/// Most finished calls kept in the status.
pub const MAX_FINISHED: usize = 32;

/// Something the running device reports (for `--json-log` and the demo).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceEvent {
    /// `registered`, `registration failed`, `connection lost`, `reconnected`,
    /// `incoming call`, `call answered`, `call ended`, `sip garbage`, …
    pub event: String,
    /// Details.
    pub detail: String,
}

/// A callback receiving [`DeviceEvent`]s from the device thread.
pub type EventSink = Arc<dyn Fn(&DeviceEvent) + Send + Sync>;

/// How the device runs.
#[derive(Clone)]
pub struct RunOptions {
    /// Answer incoming calls automatically (default true). Calls are answered
    /// only when this and the configuration's `sip.auto_answer` (default `1`)
    /// both allow it; otherwise they are turned away with 486 Busy Here.
    pub auto_answer: bool,
    /// Tone sent on an answered incoming call (default 1 s).
    pub answer_tone: Duration,
    /// How long boot waits for the first REGISTER to succeed (default 10 s).
    pub register_timeout: Duration,
    /// Receives events as they happen.
    pub events: Option<EventSink>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            auto_answer: true,
            answer_tone: Duration::from_secs(1),
            register_timeout: Duration::from_secs(10),
            events: None,
        }
    }
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("auto_answer", &self.auto_answer)
            .field("answer_tone", &self.answer_tone)
            .field("register_timeout", &self.register_timeout)
            .finish_non_exhaustive()
    }
}

/// Options of one outgoing call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallOptions {
    /// Tone to send once the call is up; then the device hangs up.
    pub tone: Duration,
    /// The SRTP offer policy for this call (`None`: `sip.srtp.offer`).
    pub policy: Option<OfferPolicy>,
    /// Give up if the call is not over after this long.
    pub timeout: Duration,
}

impl Default for CallOptions {
    fn default() -> Self {
        CallOptions {
            tone: Duration::from_secs(1),
            policy: None,
            timeout: Duration::from_secs(40),
        }
    }
}

/// A boot that did not reach "ready": the failed step and the status so far.
#[derive(Debug)]
pub struct BootFailure {
    /// The step that failed.
    pub step: String,
    /// The error.
    pub error: EndpointError,
    /// Everything known at that point.
    pub status: Box<DeviceStatus>,
}

impl std::fmt::Display for BootFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "boot failed at {}: {}", self.step, self.error)
    }
}

impl std::error::Error for BootFailure {}

enum Command {
    Call {
        to: Uri,
        options: CallOptions,
        reply: Sender<CallStatus>,
    },
    Shutdown {
        reply: Sender<()>,
    },
    /// A message on a connection our listener accepted; the reply carries what to send back on it.
    Inbound {
        message: Message,
        reply: Sender<Vec<Message>>,
    },
}

/// A booted device: registered, answering calls, placing calls on request.
/// Dropping it shuts it down (un-REGISTER).
pub struct RunningDevice {
    status: Arc<Mutex<DeviceStatus>>,
    /// Set the moment a shutdown is asked for, before the device thread sees
    /// the command: a reconnect completing meanwhile must not register again.
    stopping: Arc<AtomicBool>,
    commands: Sender<Command>,
    thread: Option<JoinHandle<()>>,
    contact: String,
    listener: Listener,
}

impl std::fmt::Debug for RunningDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningDevice")
            .field("contact", &self.contact)
            .finish_non_exhaustive()
    }
}

fn tls_policy(settings: &Settings) -> Result<TlsPolicy, EndpointError> {
    let min_version = TlsVersion::parse(settings.sip_tls_version_min.as_str())
        .map_err(|e| EndpointError::Config(e.to_string()))?;
    let ciphers = if settings.sip_tls_ciphers.is_empty() {
        CipherPolicy::All
    } else {
        CipherPolicy::Only(
            settings
                .sip_tls_ciphers
                .iter()
                .map(|c| c.to_rustls())
                .collect(),
        )
    };
    Ok(TlsPolicy {
        min_version,
        ciphers,
        validate: settings.sip_tls_validate,
        ..TlsPolicy::default()
    })
}

/// The SRTP configuration of the device for `policy`.
pub fn srtp_config(settings: &Settings, policy: OfferPolicy) -> SrtpConfig {
    let transport = match settings.sip_transport {
        SipTransport::Tls => SignalingTransport::Tls,
        SipTransport::Tcp => SignalingTransport::Tcp,
        SipTransport::Udp => SignalingTransport::Udp,
    };
    SrtpConfig::new(policy, transport)
        .with_suites(settings.sip_srtp_suites.clone())
        .with_insecure_signaling(settings.sip_srtp_insecure_signaling)
}

/// The device's `sip.srtp.offer` as the negotiator's policy.
pub fn offer_policy(settings: &Settings) -> OfferPolicy {
    settings
        .sip_srtp_offer
        .as_str()
        .parse()
        .unwrap_or(OfferPolicy::Optional)
}

/// The connection status of a TLS connection.
pub fn connection_status(purpose: &str, peer: &str, info: &TlsInfo, up: bool) -> ConnectionStatus {
    ConnectionStatus {
        purpose: purpose.to_owned(),
        peer: peer.to_owned(),
        up,
        version: info.version.clone(),
        cipher_suite: info.cipher_suite.clone(),
        verification: match info.verification_status() {
            "not verified" => "encrypted, server not verified".to_owned(),
            other => other.to_owned(),
        },
        peer_subject: info.peer_chain.first().cloned(),
        client_certificate: info.client_auth.as_ref().map(|c| format!("{c:?}")),
        resumed: info.resumed,
    }
}

impl Device {
    /// Boots the device (SPEC E2): the steps of [`Device::prepare`], then SIP
    /// over TLS to `sip.proxy`, REGISTER with digest authentication, ready.
    /// Each step goes to `observer` as it ends.
    pub fn boot(
        &self,
        options: RunOptions,
        observer: &mut dyn FnMut(&BootStep),
    ) -> Result<RunningDevice, BootFailure> {
        let prepared = self.prepare(observer);
        start(prepared, options, observer)
    }
}

fn push_step(
    status: &mut DeviceStatus,
    started: Instant,
    observer: &mut dyn FnMut(&BootStep),
    step: &str,
    outcome: Outcome,
    detail: String,
) {
    let s = BootStep {
        step: step.to_owned(),
        outcome,
        detail,
        at_ms: started.elapsed().as_millis() as u64,
    };
    observer(&s);
    status.boot.push(s);
}

fn start(
    prepared: Prepared,
    options: RunOptions,
    observer: &mut dyn FnMut(&BootStep),
) -> Result<RunningDevice, BootFailure> {
    let Prepared {
        settings,
        identities,
        store,
        mut status,
        started,
        dir,
    } = prepared;
    let fail = |mut status: DeviceStatus,
                observer: &mut dyn FnMut(&BootStep),
                step: &str,
                error: EndpointError| {
        push_step(
            &mut status,
            started,
            observer,
            step,
            Outcome::Failed,
            error.to_string(),
        );
        status.problems.push(format!("{step}: {error}"));
        BootFailure {
            step: step.to_owned(),
            error,
            status: Box::new(status),
        }
    };
    // 5. SIP over TLS to the proxy.
    let Some(proxy) = settings.sip_proxy.clone() else {
        return Err(fail(
            status,
            observer,
            "sip connection",
            EndpointError::Config("sip.proxy is not set".into()),
        ));
    };
    let domain = proxy.host.bare();
    let default_port = if settings.sip_transport == SipTransport::Tls {
        5061
    } else {
        5060
    };
    let server = format!("{}:{}", proxy.host, proxy.port.unwrap_or(default_port));
    let policy = match tls_policy(&settings) {
        Ok(p) => p,
        Err(e) => return Err(fail(status, observer, "sip connection", e)),
    };
    let link = if settings.sip_transport == SipTransport::Tls {
        let resolver: Arc<dyn rustls::client::ResolvesClientCert> = identities.client_resolver();
        let connector = match Connector::new(&domain, &policy, store, Some(resolver)) {
            Ok(c) => c,
            Err(e) => {
                return Err(fail(
                    status,
                    observer,
                    "sip connection",
                    EndpointError::Config(e.to_string()),
                ))
            }
        };
        match Client::connect(connector, &server, ClientOptions::default()) {
            Ok(c) => Link::Tls(Box::new(c)),
            Err(e) => {
                return Err(fail(
                    status,
                    observer,
                    "sip connection",
                    EndpointError::Sip(e.to_string()),
                ))
            }
        }
    } else {
        let addr = match sigil_sip_tls::resolve(&server)
            .map_err(|e| e.to_string())
            .and_then(|a| {
                a.into_iter()
                    .next()
                    .ok_or_else(|| format!("{server}: no address"))
            }) {
            Ok(a) => a,
            Err(e) => {
                return Err(fail(
                    status,
                    observer,
                    "sip connection",
                    EndpointError::Sip(e),
                ))
            }
        };
        let link = if settings.sip_transport == SipTransport::Tcp {
            Link::tcp(addr)
        } else {
            Link::udp(addr)
        };
        match link {
            Ok(l) => l,
            Err(e) => {
                return Err(fail(
                    status,
                    observer,
                    "sip connection",
                    EndpointError::Sip(format!("{server}: {e}")),
                ))
            }
        }
    };
    let Some(local) = link.local_addr() else {
        return Err(fail(
            status,
            observer,
            "sip connection",
            EndpointError::Sip("the connection closed at once".into()),
        ));
    };
    match &link {
        Link::Tls(client) => {
            if let Some(info) = client.tls_info() {
                let c = connection_status("sip", &server, info, true);
                let detail = format!(
                    "{server} {} {}, server {}{}",
                    c.version,
                    c.cipher_suite,
                    c.verification,
                    c.peer_subject
                        .as_ref()
                        .map(|s| format!(" ({s})"))
                        .unwrap_or_default()
                );
                let outcome = if c.verification == "verified" {
                    Outcome::Ok
                } else {
                    Outcome::Warning
                };
                status.connections.push(c);
                push_step(
                    &mut status,
                    started,
                    observer,
                    "sip connection",
                    outcome,
                    detail,
                );
            }
        }
        plain => {
            let t = plain.transport();
            status.connections.push(ConnectionStatus {
                purpose: "sip".into(),
                peer: server.clone(),
                up: true,
                version: t.into(),
                cipher_suite: "-".into(),
                verification: "not encrypted".into(),
                peer_subject: None,
                client_certificate: None,
                resumed: false,
            });
            status.problems.push(format!(
                "sip.transport = {}: signaling is not encrypted",
                t.to_lowercase()
            ));
            push_step(
                &mut status,
                started,
                observer,
                "sip connection",
                Outcome::Warning,
                format!(
                    "{server} over {t}: not encrypted (sip.transport = {})",
                    t.to_lowercase()
                ),
            );
        }
    }

    // 6. REGISTER.
    let user = if settings.sip_u1_user.is_empty() {
        identities
            .mac()
            .map(|m| m.to_string().replace(':', ""))
            .unwrap_or_else(|| "device".into())
    } else {
        settings.sip_u1_user.clone()
    };
    let mut options = options;
    options.auto_answer = options.auto_answer && settings.sip_auto_answer;
    let settings_listen = settings.sip_tls_listen;
    let listen_client_cert = settings.sip_tls_listen_client_cert;
    let stopping = Arc::new(AtomicBool::new(false));
    let engine = match Engine::new(
        link,
        settings,
        &user,
        &domain,
        local,
        options.clone(),
        stopping.clone(),
    ) {
        Ok(e) => e,
        Err(e) => return Err(fail(status, observer, "registration", e)),
    };
    let contact = engine.contact.to_string();
    let mac = identities.mac().map(|m| m.to_string());
    let (commands, rx) = mpsc::channel();
    let listener = start_listener(
        settings_listen,
        listen_client_cert,
        local.ip(),
        &identities,
        &dir,
        &policy,
        commands.clone(),
        options.events.clone(),
    );
    match &listener {
        Listener::Off => push_step(
            &mut status,
            started,
            observer,
            "sip listener",
            Outcome::Skipped,
            "sip.tls.listen = 0".into(),
        ),
        Listener::Failed(why) => {
            status.problems.push(format!("sip listener: {why}"));
            push_step(&mut status, started, observer, "sip listener", Outcome::Warning, why.clone());
        }
        Listener::Up { addr, client_auth, .. } => push_step(
            &mut status,
            started,
            observer,
            "sip listener",
            Outcome::Ok,
            format!("SIP over TLS on {addr}, presenting the active identity; client certificate {client_auth}"),
        ),
    }
    let status = Arc::new(Mutex::new(status));
    if let Listener::Up { status: slot, .. } = &listener {
        if let Ok(mut s) = slot.lock() {
            *s = Some(status.clone());
        }
    }
    let (registered_tx, registered_rx) = mpsc::channel();
    let thread = {
        let status = status.clone();
        std::thread::Builder::new()
            .name("sigil-device".into())
            .spawn(move || engine.run(rx, status, registered_tx))
            .map_err(|e| EndpointError::Io {
                path: "thread".into(),
                source: e,
            })
    };
    let thread = match thread {
        Ok(t) => t,
        Err(e) => {
            let s = status.lock().map(|s| s.clone()).unwrap_or_default();
            return Err(fail(s, observer, "registration", e));
        }
    };
    let device = RunningDevice {
        status: status.clone(),
        stopping,
        commands,
        thread: Some(thread),
        contact,
        listener,
    };
    let result = registered_rx
        .recv_timeout(options.register_timeout)
        .unwrap_or_else(|_| Err(format!("no answer within {:?}", options.register_timeout)));
    let mut s = device.status();
    match result {
        Ok(expires) => {
            let aor = s.registration.aor.clone().unwrap_or_default();
            push_step(
                &mut s,
                started,
                observer,
                "registration",
                Outcome::Ok,
                format!(
                    "registered {} as device {} ({} s, digest authentication)",
                    aor,
                    mac.unwrap_or_else(|| "-".into()),
                    expires
                ),
            );
            push_step(
                &mut s,
                started,
                observer,
                "ready",
                Outcome::Ok,
                format!("booted in {} ms", started.elapsed().as_millis()),
            );
            if let Ok(mut g) = status.lock() {
                g.boot = s.boot;
            }
            Ok(device)
        }
        Err(e) => {
            let failure = fail(s, observer, "registration", EndpointError::Registration(e));
            drop(device);
            Err(failure)
        }
    }
}

impl RunningDevice {
    /// The status now.
    pub fn status(&self) -> DeviceStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Our registered Contact.
    pub fn contact(&self) -> &str {
        &self.contact
    }

    /// Calls `to` (a SIP URI), sends `options.tone` of tone once the call is
    /// up, hangs up, and returns the call's summary. Blocks until the call is over.
    pub fn call(&self, to: &str, options: CallOptions) -> Result<CallStatus, EndpointError> {
        let to: Uri = to
            .parse()
            .map_err(|e: sigil_sip::UriError| EndpointError::BadUri(e.to_string()))?;
        let (reply, rx) = mpsc::channel();
        self.commands
            .send(Command::Call { to, options, reply })
            .map_err(|_| EndpointError::Stopped)?;
        let wait = options.timeout.saturating_add(options.tone);
        rx.recv_timeout(wait)
            .map_err(|_| EndpointError::CallTimeout(wait))
    }

    /// Hangs up every call, un-REGISTERs (waiting up to 2 s) and stops.
    pub fn shutdown(mut self) -> DeviceStatus {
        self.stop();
        self.status()
    }

    /// Bounded by [`SHUTDOWN_WAIT`], whatever the peers do.
    fn stop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + SHUTDOWN_WAIT;
        let (reply, rx) = mpsc::channel();
        if self.commands.send(Command::Shutdown { reply }).is_ok() {
            let _ = rx.recv_timeout(SHUTDOWN_WAIT);
        }
        if let Listener::Up {
            shutdown, thread, ..
        } = &mut self.listener
        {
            shutdown.shutdown();
            join_by(thread.take(), deadline, "SIP listener");
        }
        join_by(self.thread.take(), deadline, "device");
    }

    /// The address of the inbound SIP-over-TLS listener, when it runs.
    pub fn listener_addr(&self) -> Option<SocketAddr> {
        match &self.listener {
            Listener::Up { addr, .. } => Some(*addr),
            _ => None,
        }
    }
}

impl Drop for RunningDevice {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Joins `thread` if it ends by `deadline`; otherwise leaves it (it ends on
/// its own once its socket times out) and says so.
fn join_by(thread: Option<JoinHandle<()>>, deadline: Instant, what: &str) {
    let Some(thread) = thread else {
        return;
    };
    // Bounded by the deadline; the thread is normally done already.
    while !thread.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    if thread.is_finished() {
        let _ = thread.join();
    } else {
        log::warn!("the {what} thread is still blocked on the network after the shutdown wait; not waiting for it");
    }
}

struct Call {
    dialog: Dialog,
    negotiator: Negotiator,
    policy: OfferPolicy,
    direction: CallDirection,
    peer: String,
    socket: Option<MediaSocket>,
    media: Option<MediaSession>,
    media_desc: String,
    encrypted: bool,
    key_exposure: Option<String>,
    established: bool,
    tone: Duration,
    hangup_at: Option<Instant>,
    give_up_at: Option<Instant>,
    reply: Option<Sender<CallStatus>>,
    stats: MediaStats,
    /// Signaling runs on an inbound connection (our listener), not the proxy connection.
    inbound: bool,
}

impl Call {
    fn status(&self) -> CallStatus {
        CallStatus {
            call_id: self.dialog.call_id().to_owned(),
            peer: self.peer.clone(),
            direction: self.direction,
            state: self.dialog.state().as_str().to_owned(),
            media: self.media_desc.clone(),
            encrypted: self.encrypted,
            key_exposure: self.key_exposure.clone(),
            policy: self.policy.to_string(),
            stats: self.media.as_ref().map_or(self.stats, MediaSession::stats),
            established: self.established,
            ended: self.dialog.end_reason().map(ToString::to_string),
        }
    }
}

struct Engine {
    client: Link,
    settings: Settings,
    options: RunOptions,
    user: String,
    domain: String,
    local_ip: IpAddr,
    contact: Uri,
    registration: Registration,
    dialog_config: DialogConfig,
    calls: Vec<Call>,
    finished: Vec<CallStatus>,
    session_id: u64,
    registered_tx: Option<Sender<Result<u64, String>>>,
    shutdown: Option<(Instant, Sender<()>)>,
    /// Shared with [`RunningDevice`]: a shutdown was asked for.
    stopping: Arc<AtomicBool>,
    /// The contact of the last binding the registrar granted and we have
    /// not removed: what to un-REGISTER when the device stops.
    bound_contact: Option<Uri>,
    /// While an inbound message is processed: what goes back on its connection.
    outbox: Option<Vec<Message>>,
}

fn registration_config(
    settings: &Settings,
    link: &Link,
    user: &str,
    domain: &str,
    contact: &Uri,
    local: SocketAddr,
) -> Result<RegistrationConfig, EndpointError> {
    let registrar: Uri = format!("sip:{domain}")
        .parse()
        .map_err(|e: sigil_sip::UriError| EndpointError::Config(e.to_string()))?;
    let aor: Uri = format!("sip:{user}@{domain}")
        .parse()
        .map_err(|e: sigil_sip::UriError| EndpointError::Config(e.to_string()))?;
    let mut c = RegistrationConfig::new(registrar, aor, contact.clone());
    c.via_host = local.ip().to_string();
    c.via_port = Some(local.port());
    c.transport = link.transport().to_owned();
    c.reliable = link.reliable();
    c.user_agent = Some(concat!("sigil/", env!("CARGO_PKG_VERSION")).into());
    if !settings.sip_u1_pwd.is_empty() {
        let auth = if settings.sip_u1_auth.is_empty() {
            user
        } else {
            &settings.sip_u1_auth
        };
        c.credentials = Some(Credentials::new(auth, settings.sip_u1_pwd.expose()));
    }
    Ok(c)
}

fn contact_for(user: &str, local: SocketAddr, transport: &str) -> Result<Uri, EndpointError> {
    let host = match local.ip() {
        IpAddr::V6(v6) => format!("[{v6}]"),
        v4 => v4.to_string(),
    };
    let param = match transport {
        "UDP" => String::new(),
        t => format!(";transport={}", t.to_ascii_lowercase()),
    };
    format!("sip:{user}@{host}:{}{param}", local.port())
        .parse()
        .map_err(|e: sigil_sip::UriError| EndpointError::Config(e.to_string()))
}

/// The RTP address of the first audio m-line of `sdp`.
pub fn rtp_peer(sdp: &Sdp) -> Option<SocketAddr> {
    let media = sdp
        .medias
        .iter()
        .find(|m| m.media == "audio" && m.port != 0)?;
    let conn = media.connections.first().or(sdp.connection.as_ref())?;
    let ip: IpAddr = conn.connection_address.split('/').next()?.parse().ok()?;
    Some(SocketAddr::new(ip, media.port))
}

/// The media a negotiation calls for: contexts, a description, encrypted or not.
fn media_for(neg: &Negotiation) -> Result<(MediaCrypto, String, bool), String> {
    if let Some((_, agreement)) = neg.srtp().next() {
        let (send, receive) = agreement.sessions().map_err(|e| e.to_string())?;
        return Ok((
            MediaCrypto::Srtp {
                send: Box::new(send),
                receive: Box::new(receive),
            },
            format!("SRTP {}", agreement.suite),
            true,
        ));
    }
    for m in &neg.media {
        match &m.outcome {
            MediaOutcome::Plain(reason) => {
                let why = reason.to_string();
                let why = why.strip_prefix("plain RTP: ").unwrap_or(&why);
                return Ok((MediaCrypto::Plain, format!("plain RTP ({why})"), false));
            }
            MediaOutcome::Declined(reason) if neg.media_index().is_none() => {
                return Err(format!("audio declined: {reason}"))
            }
            _ => {}
        }
    }
    Err("no audio in the SDP".into())
}

impl Engine {
    fn new(
        client: Link,
        settings: Settings,
        user: &str,
        domain: &str,
        local: SocketAddr,
        options: RunOptions,
        stopping: Arc<AtomicBool>,
    ) -> Result<Engine, EndpointError> {
        let contact = contact_for(user, local, client.transport())?;
        let registration = Registration::new(registration_config(
            &settings, &client, user, domain, &contact, local,
        )?);
        let local_uri: Uri = format!("sip:{user}@{domain}")
            .parse()
            .map_err(|e: sigil_sip::UriError| EndpointError::Config(e.to_string()))?;
        let mut dialog_config = DialogConfig::new(local_uri, contact.clone());
        dialog_config.via_host = local.ip().to_string();
        dialog_config.via_port = Some(local.port());
        dialog_config.user_agent = Some(concat!("sigil/", env!("CARGO_PKG_VERSION")).into());
        dialog_config.transport = client.transport().to_owned();
        dialog_config.reliable = client.reliable();
        dialog_config.alias = client.reliable();
        if !settings.sip_u1_dname.is_empty() {
            dialog_config.display_name = Some(settings.sip_u1_dname.clone());
        }
        dialog_config.credentials =
            registration_config(&settings, &client, user, domain, &contact, local)?.credentials;
        let mut seed = [0u8; 4];
        let _ = getrandom::getrandom(&mut seed);
        Ok(Engine {
            client,
            settings,
            options,
            user: user.to_owned(),
            domain: domain.to_owned(),
            local_ip: local.ip(),
            contact,
            registration,
            dialog_config,
            calls: Vec::new(),
            finished: Vec::new(),
            session_id: u64::from(u32::from_be_bytes(seed)),
            registered_tx: None,
            shutdown: None,
            stopping,
            bound_contact: None,
            outbox: None,
        })
    }

    /// A shutdown was asked for (perhaps not yet seen as a command).
    fn is_stopping(&self) -> bool {
        self.shutdown.is_some() || self.stopping.load(Ordering::SeqCst)
    }

    fn event(&self, event: &str, detail: String) {
        log::info!("{event}: {detail}");
        if let Some(sink) = &self.options.events {
            sink(&DeviceEvent {
                event: event.to_owned(),
                detail,
            });
        }
    }

    fn run(
        mut self,
        commands: Receiver<Command>,
        status: Arc<Mutex<DeviceStatus>>,
        registered: Sender<Result<u64, String>>,
    ) {
        self.registered_tx = Some(registered);
        self.registration.register(Instant::now());
        if let Ok(mut s) = status.lock() {
            s.registration.aor = Some(format!("sip:{}@{}", self.user, self.domain));
            s.registration.contact = Some(self.contact.to_string());
            s.registration.state = "registering".into();
        }
        // Bounded by the shutdown deadline once a shutdown is requested; until then the device runs.
        loop {
            while let Ok(cmd) = commands.try_recv() {
                self.command(cmd);
            }
            let tick = if self.calls.is_empty() {
                IDLE_TICK
            } else {
                TICK
            };
            if let Some(ev) = self.client.recv(tick) {
                self.network(ev, &status);
            }
            let now = Instant::now();
            self.timers(now);
            self.flush(now, &status);
            if let Some((deadline, _)) = &self.shutdown {
                let unregistered = matches!(
                    self.registration.state(),
                    RegistrationState::Idle | RegistrationState::Failed
                );
                if (unregistered && self.calls.is_empty()) || now >= *deadline {
                    break;
                }
            }
        }
        for call in &mut self.calls {
            if let Some(m) = &mut call.media {
                call.stats = m.stop();
            }
        }
        self.client.close();
        if let Ok(mut s) = status.lock() {
            s.registration.state = format!("{:?}", self.registration.state()).to_lowercase();
            for c in &mut s.connections {
                c.up = false;
            }
        }
        if let Some((_, reply)) = self.shutdown.take() {
            let _ = reply.send(());
        }
    }

    fn command(&mut self, cmd: Command) {
        let now = Instant::now();
        match cmd {
            Command::Call { to, options, reply } => {
                let policy = options
                    .policy
                    .unwrap_or_else(|| offer_policy(&self.settings));
                if let Err(e) = self.place_call(to.clone(), options, policy, reply.clone(), now) {
                    let _ = reply.send(CallStatus {
                        call_id: String::new(),
                        peer: to.to_string(),
                        direction: CallDirection::Outgoing,
                        state: "terminated".into(),
                        media: "none".into(),
                        encrypted: false,
                        key_exposure: None,
                        policy: policy.to_string(),
                        stats: MediaStats::default(),
                        established: false,
                        ended: Some(e.to_string()),
                    });
                }
            }
            Command::Shutdown { reply } => {
                for c in &mut self.calls {
                    c.dialog.hang_up("device shutting down", now);
                }
                // A REGISTER in flight may still create a binding: remove it too.
                if matches!(
                    self.registration.state(),
                    RegistrationState::Registered { .. } | RegistrationState::Registering
                ) || self.bound_contact.is_some()
                {
                    self.registration.unregister(now);
                } else {
                    self.registration = Registration::new(RegistrationConfig::new(
                        self.contact.clone(),
                        self.contact.clone(),
                        self.contact.clone(),
                    ));
                }
                self.shutdown = Some((now + Duration::from_secs(2), reply));
            }
            Command::Inbound { message, reply } => {
                self.outbox = Some(Vec::new());
                match message {
                    Message::Response(r) => {
                        self.calls
                            .iter_mut()
                            .any(|c| c.dialog.handle_response(&r, now));
                    }
                    Message::Request(req) => {
                        if !self
                            .calls
                            .iter_mut()
                            .any(|c| c.dialog.handle_request(&req, now))
                        {
                            self.new_request(req, now);
                        }
                    }
                }
                self.flush_calls(now);
                let _ = reply.send(self.outbox.take().unwrap_or_default());
            }
        }
    }

    fn place_call(
        &mut self,
        to: Uri,
        options: CallOptions,
        policy: OfferPolicy,
        reply: Sender<CallStatus>,
        now: Instant,
    ) -> Result<(), EndpointError> {
        if self.calls.len() >= MAX_CALLS {
            return Err(EndpointError::TooManyCalls);
        }
        let mut negotiator = Negotiator::new(srtp_config(&self.settings, policy))
            .map_err(|e| EndpointError::Config(e.to_string()))?;
        let socket = MediaSocket::bind(self.local_ip).map_err(|source| EndpointError::Io {
            path: "RTP socket".into(),
            source,
        })?;
        let port = socket
            .local_addr()
            .map_err(|source| EndpointError::Io {
                path: "RTP socket".into(),
                source,
            })?
            .port();
        self.session_id += 1;
        let mut sdp = basic_audio_sdp(self.local_ip, port, self.session_id);
        let offer = negotiator
            .create_offer(&mut sdp)
            .map_err(|e| EndpointError::Config(e.to_string()))?;
        self.event("calling", format!("{to}: {offer}"));
        let dialog = Dialog::invite(
            self.dialog_config.clone(),
            to.clone(),
            write_sdp(&sdp).into_bytes(),
            now,
        );
        self.calls.push(Call {
            dialog,
            negotiator,
            policy,
            direction: CallDirection::Outgoing,
            peer: to.to_string(),
            socket: Some(socket),
            media: None,
            media_desc: "none (not answered)".into(),
            encrypted: false,
            key_exposure: None,
            established: false,
            tone: options.tone,
            hangup_at: None,
            give_up_at: Some(deadline_after(now, options.timeout)),
            reply: Some(reply),
            stats: MediaStats::default(),
            inbound: false,
        });
        Ok(())
    }

    fn network(&mut self, ev: LinkEvent, status: &Arc<Mutex<DeviceStatus>>) {
        let now = Instant::now();
        match ev {
            LinkEvent::Message(Message::Response(r)) => {
                if self.registration.handle_response(&r, now) {
                    return;
                }
                if !self
                    .calls
                    .iter_mut()
                    .any(|c| c.dialog.handle_response(&r, now))
                {
                    log::debug!(
                        "response {} {} matches nothing: dropped",
                        r.status,
                        r.reason
                    );
                }
            }
            LinkEvent::Message(Message::Request(req)) => {
                if !self
                    .calls
                    .iter_mut()
                    .any(|c| c.dialog.handle_request(&req, now))
                {
                    self.new_request(req, now);
                }
            }
            LinkEvent::Lost { reason, retry_in } => {
                self.event(
                    "connection lost",
                    format!("{reason}; retry in {retry_in:?}"),
                );
                for c in &mut self.calls {
                    c.dialog.connection_lost();
                }
                if let Ok(mut s) = status.lock() {
                    for c in s.connections.iter_mut().filter(|c| c.purpose == "sip") {
                        c.up = false;
                    }
                    s.registration.state = "registering".into();
                }
            }
            LinkEvent::ReconnectFailed(why) => self.event("reconnect failed", why),
            LinkEvent::Back(info) => {
                let server = self
                    .settings
                    .sip_proxy
                    .as_ref()
                    .map(|p| format!("{}:{}", p.host, p.port.unwrap_or(5061)))
                    .unwrap_or_default();
                self.event(
                    "reconnected",
                    match &info {
                        Some(info) => format!(
                            "{} {}, resumed: {}",
                            info.version, info.cipher_suite, info.resumed
                        ),
                        None => format!("{} (not encrypted)", self.client.transport()),
                    },
                );
                if self.is_stopping() {
                    // Never register while stopping; remove the binding the
                    // registrar may still hold from before the loss.
                    self.unregister_after_reconnect(now);
                    return;
                }
                if let Some(local) = self.client.local_addr() {
                    if let Ok(contact) = contact_for(&self.user, local, self.client.transport()) {
                        if let Ok(cfg) = registration_config(
                            &self.settings,
                            &self.client,
                            &self.user,
                            &self.domain,
                            &contact,
                            local,
                        ) {
                            self.dialog_config.contact = contact.clone();
                            self.dialog_config.via_port = Some(local.port());
                            self.contact = contact;
                            self.registration = Registration::new(cfg);
                        }
                    }
                }
                self.registration.register(now);
                if let Ok(mut s) = status.lock() {
                    match &info {
                        Some(info) => {
                            s.connections.retain(|c| c.purpose != "sip");
                            s.connections
                                .insert(0, connection_status("sip", &server, info, true));
                        }
                        None => {
                            for c in s.connections.iter_mut().filter(|c| c.purpose == "sip") {
                                c.up = true;
                            }
                        }
                    }
                    s.registration.contact = Some(self.contact.to_string());
                }
            }
            LinkEvent::KeepAliveFailed => self.event("keep-alive failed", "no pong".into()),
        }
    }

    /// Over a connection that came back during shutdown: un-REGISTER the
    /// contact of the last binding (it outlives the lost connection at most
    /// registrars), from the new connection's address.
    fn unregister_after_reconnect(&mut self, now: Instant) {
        let (Some(old), Some(local)) = (self.bound_contact.clone(), self.client.local_addr())
        else {
            self.registration = Registration::new(RegistrationConfig::new(
                self.contact.clone(),
                self.contact.clone(),
                self.contact.clone(),
            ));
            return;
        };
        match registration_config(
            &self.settings,
            &self.client,
            &self.user,
            &self.domain,
            &old,
            local,
        ) {
            Ok(cfg) => {
                self.registration = Registration::new(cfg);
                self.registration.unregister(now);
                self.event(
                    "unregistering",
                    format!("{old} (reconnected while stopping)"),
                );
            }
            Err(e) => log::warn!("cannot un-REGISTER {old}: {e}"),
        }
    }

    fn send(&mut self, message: &Message) {
        if let Some(outbox) = &mut self.outbox {
            outbox.push(message.clone());
            return;
        }
        if let Err(e) = self.client.send(message) {
            log::warn!("cannot send: {e}");
        }
    }

    /// Sends a message of a call: on the proxy connection, or back on the
    /// inbound connection the call came from (only while one of its messages
    /// is being handled: the listener answers requests, it does not originate them).
    fn send_for(&mut self, inbound: bool, message: &Message) {
        match (inbound, &mut self.outbox) {
            (true, Some(outbox)) => outbox.push(message.clone()),
            (true, None) => log::warn!(
                "cannot send {} on an inbound connection outside a request: dropped",
                message
                    .as_request()
                    .map_or("a response", |r| r.method.as_str())
            ),
            (false, _) => {
                if let Err(e) = self.client.send(message) {
                    log::warn!("cannot send: {e}");
                }
            }
        }
    }

    /// Who else may know SDES keys sent on the proxy connection (`inbound`:
    /// on a connection our listener accepted, whose peer is judged by its
    /// client certificate instead). `None` when the keys went over TLS to
    /// a verified server.
    fn key_exposure(&self, inbound: bool) -> Option<String> {
        if inbound {
            return None;
        }
        match &self.client {
            Link::Tls(client) => match client.tls_info() {
                Some(info) if info.verification_status() == "verified" => None,
                _ => {
                    Some("keys sent over TLS to an unverified server (sip.tls.validate = 0)".into())
                }
            },
            _ => Some(format!(
                "keys sent in the clear over {} (sip.srtp.insecure_signaling = 1)",
                self.client.transport()
            )),
        }
    }

    fn new_request(&mut self, req: Request, now: Instant) {
        match req.method {
            Method::Invite if req.headers.to().is_some_and(|t| t.tag().is_none()) => {
                self.incoming_call(req, now)
            }
            Method::Ack => {}
            Method::Options => {
                if let Some(r) = stateless_response(&req, 200, None) {
                    self.send(&Message::Response(r));
                }
            }
            Method::Bye | Method::Cancel | Method::Invite => {
                if let Some(r) = stateless_response(&req, 481, None) {
                    self.send(&Message::Response(r));
                }
            }
            _ => {
                if let Some(r) = stateless_response(&req, 501, None) {
                    self.send(&Message::Response(r));
                }
            }
        }
    }

    fn incoming_call(&mut self, req: Request, now: Instant) {
        let from = req
            .headers
            .from()
            .map(|f| f.uri.to_string())
            .unwrap_or_default();
        if !self.options.auto_answer || self.calls.len() >= MAX_CALLS || self.is_stopping() {
            if let Some(r) = stateless_response(&req, 486, Some("busy")) {
                self.send(&Message::Response(r));
            }
            return;
        }
        let mut dialog = match Dialog::incoming(self.dialog_config.clone(), &req, now) {
            Ok(d) => d,
            Err(e) => {
                self.event("incoming call refused", format!("{from}: {e}"));
                if let Some(r) = e.response(&req) {
                    self.send(&Message::Response(r));
                }
                return;
            }
        };
        let policy = offer_policy(&self.settings);
        self.event("incoming call", format!("from {from}, policy {policy}"));
        let mut call = Call {
            negotiator: match Negotiator::new(srtp_config(&self.settings, policy)) {
                Ok(n) => n,
                Err(e) => {
                    dialog.reject(500, "Server Internal Error", Some(&e.to_string()), now);
                    self.adopt_rejected(dialog, policy, from, e.to_string());
                    return;
                }
            },
            dialog,
            policy,
            direction: CallDirection::Incoming,
            peer: from,
            socket: None,
            media: None,
            media_desc: "none".into(),
            encrypted: false,
            key_exposure: None,
            established: false,
            tone: self.options.answer_tone,
            hangup_at: None,
            give_up_at: None,
            reply: None,
            stats: MediaStats::default(),
            inbound: self.outbox.is_some(),
        };
        let offer = match parse_sdp(&req.body) {
            Ok(o) => o,
            Err(e) => {
                call.dialog
                    .reject(488, "Not Acceptable Here", Some(&e.to_string()), now);
                call.media_desc = format!("none ({e})");
                self.calls.push(call);
                return;
            }
        };
        let socket = match MediaSocket::bind(self.local_ip) {
            Ok(s) => s,
            Err(e) => {
                call.dialog
                    .reject(500, "Server Internal Error", Some(&e.to_string()), now);
                self.calls.push(call);
                return;
            }
        };
        let port = socket.local_addr().map(|a| a.port()).unwrap_or(0);
        self.session_id += 1;
        let mut answer = basic_audio_sdp(self.local_ip, port, self.session_id);
        while answer.medias.len() < offer.medias.len() {
            match answer.medias.first().cloned() {
                Some(m) => answer.medias.push(m),
                None => break,
            }
        }
        match call.negotiator.answer_offer(&offer, &mut answer) {
            Ok(neg) => match (media_for(&neg), neg.rtp_peer(&offer)) {
                (Ok((crypto, desc, encrypted)), Some(peer)) => {
                    call.media_desc = desc;
                    call.encrypted = encrypted;
                    call.key_exposure =
                        encrypted.then(|| self.key_exposure(call.inbound)).flatten();
                    match socket.start(MediaStream::new(crypto), peer, call.tone) {
                        Ok(m) => call.media = Some(m),
                        Err(e) => log::warn!("media: {e}"),
                    }
                    call.established = true;
                    call.dialog.ring(now);
                    call.dialog.accept(write_sdp(&answer).into_bytes(), now);
                    self.event(
                        "call answered",
                        format!("{}: {}", call.peer, call.media_desc),
                    );
                }
                (Err(why), _) => {
                    call.dialog
                        .reject(488, "Not Acceptable Here", Some(&why), now);
                    call.media_desc = format!("none ({why})");
                }
                (Ok(_), None) => {
                    call.dialog.reject(
                        488,
                        "Not Acceptable Here",
                        Some("no RTP address in the offer"),
                        now,
                    );
                    call.media_desc = "none (no RTP address in the offer)".into();
                }
            },
            Err(rejection) => {
                let reason = sigil_sip::Response::default_reason(rejection.code);
                call.dialog
                    .reject(rejection.code, reason, Some(&rejection.reason), now);
                call.media_desc = format!("none ({})", rejection.reason);
                self.event(
                    "incoming call refused",
                    format!("{}: {} {}", call.peer, rejection.code, rejection.reason),
                );
            }
        }
        self.calls.push(call);
    }

    fn adopt_rejected(&mut self, dialog: Dialog, policy: OfferPolicy, peer: String, why: String) {
        // The dialog already holds the rejection; flush it through a placeholder call.
        if let Ok(negotiator) = Negotiator::new(SrtpConfig::new(
            OfferPolicy::Disabled,
            SignalingTransport::Tls,
        )) {
            self.calls.push(Call {
                dialog,
                negotiator,
                policy,
                direction: CallDirection::Incoming,
                peer,
                socket: None,
                media: None,
                media_desc: format!("none ({why})"),
                encrypted: false,
                key_exposure: None,
                established: false,
                tone: Duration::ZERO,
                hangup_at: None,
                give_up_at: None,
                reply: None,
                stats: MediaStats::default(),
                inbound: self.outbox.is_some(),
            });
        }
    }

    fn timers(&mut self, now: Instant) {
        if self.registration.poll_timeout().is_some_and(|t| now >= t) {
            self.registration.handle_timeout(now);
        }
        for call in &mut self.calls {
            if call.dialog.poll_timeout().is_some_and(|t| now >= t) {
                call.dialog.handle_timeout(now);
            }
            if call.hangup_at.is_some_and(|t| now >= t) {
                call.hangup_at = None;
                if let Some(m) = &mut call.media {
                    call.stats = m.stop();
                }
                call.dialog.hang_up("call completed", now);
            }
            if call.give_up_at.is_some_and(|t| now >= t) {
                call.give_up_at = None;
                call.dialog.hang_up("call timed out", now);
            }
        }
    }

    fn on_answered(&mut self, index: usize, body: &[u8], now: Instant) {
        let exposure = self.key_exposure(false);
        let Some(call) = self.calls.get_mut(index) else {
            return;
        };
        let answer = match parse_sdp(body) {
            Ok(a) => a,
            Err(e) => {
                call.media_desc = format!("none (invalid SDP answer: {e})");
                call.dialog.hang_up("invalid SDP answer", now);
                return;
            }
        };
        match call.negotiator.accept_answer(&answer) {
            Ok(neg) => match (media_for(&neg), rtp_peer(&answer), call.socket.take()) {
                (Ok((crypto, desc, encrypted)), Some(peer), Some(socket)) => {
                    call.media_desc = desc;
                    call.encrypted = encrypted;
                    call.key_exposure = if encrypted { exposure } else { None };
                    match socket.start(MediaStream::new(crypto), peer, call.tone) {
                        Ok(m) => {
                            call.media = Some(m);
                            call.established = true;
                        }
                        Err(e) => call.media_desc = format!("none (media: {e})"),
                    }
                    call.hangup_at = Some(deadline_after(now, call.tone.saturating_add(TAIL)));
                }
                (Err(why), _, _) => {
                    call.media_desc = format!("none ({why})");
                    call.dialog.hang_up(&why, now);
                }
                _ => {
                    call.media_desc = "none (no RTP address in the answer)".into();
                    call.dialog.hang_up("no RTP address in the answer", now);
                }
            },
            Err(AnswerError::SrtpRequired { detail }) => {
                call.media_desc = format!("none (SRTP required: {detail})");
                call.dialog.hang_up("SRTP required", now);
            }
            Err(e) => {
                call.media_desc = format!("none ({e})");
                call.dialog.hang_up(&e.to_string(), now);
            }
        }
        let detail = match &call.key_exposure {
            Some(exposure) => format!("{}: {} ({exposure})", call.peer, call.media_desc),
            None => format!("{}: {}", call.peer, call.media_desc),
        };
        self.event("call answered", detail);
    }

    fn flush(&mut self, now: Instant, status: &Arc<Mutex<DeviceStatus>>) {
        while let Some(out) = self.registration.poll_output() {
            match out {
                RegistrationOutput::Send(r) => self.send(&Message::Request(r)),
                RegistrationOutput::Event(e) => self.registration_event(e, status),
            }
        }
        self.flush_calls(now);
        if let Ok(mut s) = status.lock() {
            s.calls = self
                .finished
                .iter()
                .cloned()
                .chain(self.calls.iter().map(Call::status))
                .collect();
            s.registration.state = match self.registration.state() {
                RegistrationState::Idle => "idle",
                RegistrationState::Registering => "registering",
                RegistrationState::Registered { .. } => "registered",
                RegistrationState::Unregistering => "unregistering",
                RegistrationState::Failed => "failed",
            }
            .into();
        }
    }

    fn flush_calls(&mut self, now: Instant) {
        // Calls: bounded by the number of outputs each dialog produced.
        let mut i = 0;
        while i < self.calls.len() {
            let mut events = Vec::new();
            let mut sends = Vec::new();
            let inbound = self.calls.get(i).is_some_and(|c| c.inbound);
            if let Some(call) = self.calls.get_mut(i) {
                while let Some(out) = call.dialog.poll_output() {
                    match out {
                        DialogOutput::Send(m) => sends.push(m),
                        DialogOutput::Event(e) => events.push(e),
                    }
                }
            }
            for m in &sends {
                self.send_for(inbound, m);
            }
            for e in events {
                match e {
                    DialogEvent::Answered { body } => self.on_answered(i, &body, now),
                    DialogEvent::Ringing => self.event("ringing", String::new()),
                    DialogEvent::Confirmed => {}
                    DialogEvent::Terminated(reason) => {
                        self.event("call ended", reason.to_string());
                    }
                }
            }
            // Answering may have queued more (ACK is already out; a BYE may follow).
            let pending = self
                .calls
                .get(i)
                .is_some_and(|c| c.dialog.poll_timeout().is_some() && !c.dialog.is_terminated());
            let terminated = self.calls.get(i).is_some_and(|c| c.dialog.is_terminated());
            if terminated {
                let mut call = self.calls.remove(i);
                while let Some(out) = call.dialog.poll_output() {
                    if let DialogOutput::Send(m) = out {
                        self.send_for(call.inbound, &m);
                    }
                }
                if let Some(m) = &mut call.media {
                    call.stats = m.stop();
                }
                call.media = None;
                let st = call.status();
                if let Some(reply) = call.reply.take() {
                    let _ = reply.send(st.clone());
                }
                self.finished.push(st);
                if self.finished.len() > MAX_FINISHED {
                    self.finished.remove(0);
                }
                continue;
            }
            let _ = pending;
            i += 1;
        }
    }

    fn registration_event(&mut self, e: RegistrationEvent, status: &Arc<Mutex<DeviceStatus>>) {
        match e {
            RegistrationEvent::Registered { expires } => {
                self.bound_contact = Some(self.contact.clone());
                self.event(
                    "registered",
                    format!("{} for {} s", self.contact, expires.as_secs()),
                );
                if let Ok(mut s) = status.lock() {
                    s.registration.state = "registered".into();
                    s.registration.expires = Some(expires.as_secs());
                    s.registration.error = None;
                    s.registration.successes += 1;
                }
                if let Some(tx) = self.registered_tx.take() {
                    let _ = tx.send(Ok(expires.as_secs()));
                }
            }
            RegistrationEvent::Unregistered => {
                self.bound_contact = None;
                self.event("unregistered", String::new());
            }
            RegistrationEvent::Failed(f) => {
                self.event("registration failed", f.to_string());
                if let Ok(mut s) = status.lock() {
                    s.registration.error = Some(f.to_string());
                }
                if let Some(tx) = self.registered_tx.take() {
                    let _ = tx.send(Err(f.to_string()));
                }
            }
        }
    }
}

/// The inbound SIP-over-TLS listener (`sip.tls.listen`).
enum Listener {
    /// `sip.tls.listen = 0`.
    Off,
    /// It could not start.
    Failed(String),
    /// Listening.
    Up {
        addr: SocketAddr,
        client_auth: &'static str,
        shutdown: sigil_sip_tls::ShutdownHandle,
        thread: Option<JoinHandle<()>>,
        status: Arc<Mutex<Option<Arc<Mutex<DeviceStatus>>>>>,
    },
}

/// Hands messages of inbound connections to the device thread and returns its answers.
struct InboundHandler {
    commands: Mutex<Sender<Command>>,
    events: Option<EventSink>,
    status: Arc<Mutex<Option<Arc<Mutex<DeviceStatus>>>>>,
}

impl sigil_sip_tls::Handler for InboundHandler {
    fn on_connect(&self, peer: &sigil_sip_tls::PeerInfo) {
        let who = peer
            .tls
            .peer_device
            .as_ref()
            .map(|d| d.to_string())
            .unwrap_or_else(|| "no client certificate".into());
        let detail = format!(
            "{} ({who}), {} {}",
            peer.addr, peer.tls.version, peer.tls.cipher_suite
        );
        log::info!("inbound connection: {detail}");
        if let Some(sink) = &self.events {
            sink(&DeviceEvent {
                event: "inbound connection".into(),
                detail,
            });
        }
        if let Ok(slot) = self.status.lock() {
            if let Some(status) = slot.as_ref() {
                if let Ok(mut s) = status.lock() {
                    let mut c =
                        connection_status("sip inbound", &peer.addr.to_string(), &peer.tls, true);
                    c.peer_subject = peer.tls.peer_device.as_ref().map(|d| d.subject.clone());
                    c.verification = if peer.tls.peer_device.is_some() {
                        "client certificate verified".into()
                    } else {
                        "no client certificate".into()
                    };
                    s.connections.push(c);
                }
            }
        }
    }

    fn on_message(&self, _peer: &sigil_sip_tls::PeerInfo, message: Message) -> Vec<Message> {
        let (reply, rx) = mpsc::channel();
        let sent = self
            .commands
            .lock()
            .map(|c| c.send(Command::Inbound { message, reply }).is_ok())
            .unwrap_or(false);
        if !sent {
            return Vec::new();
        }
        rx.recv_timeout(Duration::from_secs(2)).unwrap_or_default()
    }

    fn on_close(&self, peer: &sigil_sip_tls::PeerInfo, reason: Option<&str>) {
        log::info!(
            "inbound connection {} closed: {}",
            peer.addr,
            reason.unwrap_or("clean close")
        );
        if let Ok(slot) = self.status.lock() {
            if let Some(status) = slot.as_ref() {
                if let Ok(mut s) = status.lock() {
                    let addr = peer.addr.to_string();
                    for c in s
                        .connections
                        .iter_mut()
                        .filter(|c| c.purpose == "sip inbound" && c.peer == addr)
                    {
                        c.up = false;
                    }
                }
            }
        }
    }
}

/// The certificates inbound peers are checked against: the vendor chain and the uploaded anchors.
fn listener_anchors(dir: &crate::DataDir) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    let mut certs = Vec::new();
    let mut files = vec![dir.vendor_chain()];
    if let Ok(entries) = std::fs::read_dir(dir.trusted()) {
        files.extend(
            entries
                .flatten()
                .map(|e| e.path())
                .take(sigil_trust::MAX_USER_FILES),
        );
    }
    for f in files {
        if let Ok(bytes) = std::fs::read(&f) {
            if let Ok(mut c) = sigil_trust::parse_file(&bytes) {
                certs.append(&mut c);
            }
        }
    }
    certs
}

/// `sip.auto_answer`: the typed setting is
/// [`Settings::sip_auto_answer`](sigil_provisioning::Settings::sip_auto_answer).
pub const AUTO_ANSWER_KEY: &str = sigil_provisioning::keys::SIP_AUTO_ANSWER;

/// `sip.tls.listen.client_cert`: the typed setting is
/// [`Settings::sip_tls_listen_client_cert`](sigil_provisioning::Settings::sip_tls_listen_client_cert).
pub const LISTEN_CLIENT_CERT_KEY: &str = sigil_provisioning::keys::SIP_TLS_LISTEN_CLIENT_CERT;

#[allow(clippy::too_many_arguments)]
fn start_listener(
    port: u16,
    mode: ListenClientCert,
    ip: IpAddr,
    identities: &sigil_identity::IdentitySet,
    dir: &crate::DataDir,
    policy: &TlsPolicy,
    commands: Sender<Command>,
    events: Option<EventSink>,
) -> Listener {
    if port == 0 {
        return Listener::Off;
    }
    let Some(identity) = identities.active() else {
        return Listener::Failed("no usable device identity to present".into());
    };
    let anchors = listener_anchors(dir);
    let verifier = sigil_identity::DeviceVerifier::new(&anchors).map(Arc::new);
    let (client_auth, label) = match (mode, verifier) {
        (ListenClientCert::NotRequested, _) => (sigil_sip_tls::ClientAuth::None, "not requested"),
        (ListenClientCert::Requested, Ok(v)) => (
            sigil_sip_tls::ClientAuth::Optional(v),
            "requested, verified when presented",
        ),
        (ListenClientCert::Required, Ok(v)) => (sigil_sip_tls::ClientAuth::Required(v), "required"),
        (ListenClientCert::Requested, Err(_)) => (
            sigil_sip_tls::ClientAuth::None,
            "not requested (no vendor chain or uploaded anchors to verify one)",
        ),
        (ListenClientCert::Required, Err(e)) => {
            return Listener::Failed(format!(
                "a client certificate is required but there is nothing to verify it against: {e}"
            ))
        }
    };
    let acceptor = match sigil_sip_tls::Acceptor::new(identity, client_auth, policy) {
        Ok(a) => a,
        Err(e) => return Listener::Failed(e.to_string()),
    };
    let server = match sigil_sip_tls::Server::bind(
        SocketAddr::new(ip, port),
        acceptor,
        sigil_sip_tls::ServerOptions::default(),
    ) {
        Ok(s) => s,
        Err(e) => return Listener::Failed(format!("cannot listen on {ip}:{port}: {e}")),
    };
    let addr = server.local_addr().unwrap_or(SocketAddr::new(ip, port));
    let shutdown = server.shutdown_handle();
    let status = Arc::new(Mutex::new(None));
    let handler: Arc<dyn sigil_sip_tls::Handler> = Arc::new(InboundHandler {
        commands: Mutex::new(commands),
        events,
        status: status.clone(),
    });
    match std::thread::Builder::new()
        .name("sigil-listener".into())
        .spawn(move || {
            if let Err(e) = server.run(handler) {
                log::warn!("SIP listener stopped: {e}");
            }
        }) {
        Ok(t) => Listener::Up {
            addr,
            client_auth: label,
            shutdown,
            thread: Some(t),
            status,
        },
        Err(e) => Listener::Failed(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtp_peer_prefers_the_media_connection() {
        let mut sdp = basic_audio_sdp("192.0.2.1".parse().unwrap(), 4000, 1);
        assert_eq!(rtp_peer(&sdp), Some("192.0.2.1:4000".parse().unwrap()));
        let text = write_sdp(&sdp).replace(
            "m=audio 4000 RTP/AVP 0\r\n",
            "m=audio 4000 RTP/AVP 0\r\nc=IN IP4 198.51.100.7\r\n",
        );
        sdp = parse_sdp(text.as_bytes()).unwrap();
        assert_eq!(rtp_peer(&sdp), Some("198.51.100.7:4000".parse().unwrap()));
        let declined =
            parse_sdp(write_sdp(&basic_audio_sdp("192.0.2.1".parse().unwrap(), 0, 1)).as_bytes())
                .unwrap();
        assert_eq!(rtp_peer(&declined), None);
    }

    #[test]
    fn contacts_per_transport() {
        let v4: SocketAddr = "192.0.2.1:5071".parse().unwrap();
        let v6: SocketAddr = "[2001:db8::1]:5071".parse().unwrap();
        assert_eq!(
            contact_for("1001", v4, "TLS").unwrap().to_string(),
            "sip:1001@192.0.2.1:5071;transport=tls"
        );
        assert_eq!(
            contact_for("1001", v4, "TCP").unwrap().to_string(),
            "sip:1001@192.0.2.1:5071;transport=tcp"
        );
        assert_eq!(
            contact_for("1001", v4, "UDP").unwrap().to_string(),
            "sip:1001@192.0.2.1:5071"
        );
        assert_eq!(
            contact_for("1001", v6, "TLS").unwrap().to_string(),
            "sip:1001@[2001:db8::1]:5071;transport=tls"
        );
    }

    #[test]
    fn typed_keys_replace_the_unknown_ones() {
        // Both keys are typed now: no "unknown key" warning, nothing kept verbatim.
        let parsed = Settings::parse(
            "t",
            format!("{AUTO_ANSWER_KEY} = 0\n{LISTEN_CLIENT_CERT_KEY} = required\n").as_bytes(),
        )
        .unwrap();
        assert!(parsed.settings.unknown.is_empty());
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
        assert!(!parsed.settings.sip_auto_answer);
        assert_eq!(
            parsed.settings.sip_tls_listen_client_cert,
            ListenClientCert::Required
        );
        // An invalid value rejects the file (it used to fail only the listener).
        let e = Settings::parse(
            "t",
            format!("{LISTEN_CLIENT_CERT_KEY} = maybe\n").as_bytes(),
        )
        .unwrap_err();
        assert_eq!((e[0].line, e[0].col), (1, 30));
    }

    #[test]
    fn offer_policy_and_signaling_follow_the_settings() {
        // The configuration itself refuses Standard over TCP; a call with a
        // Standard override over TCP cannot be negotiated either.
        assert!(Settings::parse("t", b"sip.srtp.offer = standard\nsip.transport = tcp\n").is_err());
        let s = Settings::parse("t", b"sip.transport = tcp\n")
            .unwrap()
            .settings;
        assert_eq!(offer_policy(&s), OfferPolicy::Optional);
        // Standard over TCP without insecure signaling cannot be configured (SPEC M2).
        assert!(Negotiator::new(srtp_config(&s, OfferPolicy::Standard)).is_err());
        assert!(Negotiator::new(srtp_config(&s, OfferPolicy::Optional)).is_ok());
        let tls = Settings::default();
        assert_eq!(offer_policy(&tls), OfferPolicy::Optional);
        assert!(Negotiator::new(srtp_config(&tls, OfferPolicy::Standard)).is_ok());
    }
}
