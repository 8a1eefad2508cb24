//! Boot (SPEC E2): the data directory's steps (factory identity,
//! configuration, trust store, provisioning), then the sans-IO [`Device`]
//! on the blocking driver's thread (or, feature `tokio`, as a Tokio task):
//! SIP connection, listener, registration, ready. Each step is reported as
//! it ends. [`BootWatch`] is the part both drivers share: it builds the
//! device and turns its events into the SIP steps.

use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use mio::{Poll, Waker};
use rustls::pki_types::CertificateDer;

use crate::device::{Device, DeviceConfig, Event};
use crate::dir::{DataDir, DeviceDir, Prepared};
use crate::driver::blocking::{BlockingOutlet, Driver, MioSockets};
use crate::driver::core::{Board, Core};
use crate::driver::net::{Net, WAKER};
use crate::driver::{CallAudio, EventSink, RunningDevice, ToneAudio};
use crate::error::EndpointError;
use crate::status::{BootStep, DeviceStatus, Outcome};

/// How the device runs.
pub struct RunOptions {
    /// Answer incoming calls at once (default true; `sip.auto_answer = 0`
    /// also turns this off). Otherwise [`Event::IncomingCall`] is reported
    /// and the call waits for [`RunningDevice::answer`].
    pub auto_answer: bool,
    /// How long boot waits for the first REGISTER to succeed (default 10 s).
    pub register_timeout: Duration,
    /// Receives every event but audio (on the driver's thread, or task).
    pub events: Option<EventSink>,
    /// The audio of calls (default: a 440 Hz tone out, nothing done with what comes in).
    pub audio: Box<dyn CallAudio>,
    /// Write TLS secrets of the SIP connection to this file (Wireshark).
    pub key_log: Option<PathBuf>,
    /// Keep the status (JSON) in this file, rewritten atomically after every
    /// event but audio: what a separate process (`sigil device status`)
    /// reads of a running device.
    pub status_file: Option<PathBuf>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            auto_answer: true,
            register_timeout: Duration::from_secs(10),
            events: None,
            audio: Box::new(ToneAudio::default()),
            key_log: None,
            status_file: None,
        }
    }
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("auto_answer", &self.auto_answer)
            .field("register_timeout", &self.register_timeout)
            .field("key_log", &self.key_log)
            .finish_non_exhaustive()
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

/// The certificates inbound peers' device certificates are verified
/// against: the vendor chain and the uploaded anchors.
fn inbound_anchors(dir: &DataDir) -> Vec<CertificateDer<'static>> {
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

impl Prepared {
    /// The device configuration these boot steps produced.
    pub fn device_config(&self, wall_clock: SystemTime) -> DeviceConfig {
        let mut config = DeviceConfig::new(self.settings.clone(), self.store.clone(), wall_clock);
        if self.settings.sip_u1_user.is_empty() {
            if let Some(mac) = self.identities.mac() {
                config.user = mac.to_string().replace(':', "");
            }
        }
        config.client_identity = Some(self.identities.client_resolver());
        config.server_identity = self.identities.active().cloned();
        if self.settings.sip_tls_listen != 0 {
            config.inbound_anchors = inbound_anchors(&self.dir);
        }
        if self.settings.sip_srtp_keying.dtls() && self.settings.sip_srtp_dtls_device_cert {
            config.dtls_identity = self.dtls_identity();
        }
        config
    }

    /// The active identity (override, else factory) as the certificate
    /// DTLS-SRTP presents, when its key is ECDSA in PKCS#8 (what DTLS-SRTP
    /// signs with here); otherwise a warning, and calls make their own.
    fn dtls_identity(&self) -> Option<sigil_srtp::dtls::DtlsIdentity> {
        use sigil_identity::ActiveIdentity;
        let factory = sigil_identity::FactoryPartition::new(self.dir.factory());
        let user = sigil_identity::UserStore::new(self.dir.user());
        let files = match self.identities.status().active {
            ActiveIdentity::Override => vec![user.sipclient_path()],
            ActiveIdentity::Factory => vec![factory.cert_path(), factory.key_path()],
            ActiveIdentity::None => {
                log::warn!("sip.srtp.dtls.device_cert = 1 but the device has no identity: DTLS-SRTP uses a certificate per call");
                return None;
            }
        };
        let mut text = Vec::new();
        for file in &files {
            match std::fs::read(file) {
                Ok(bytes) => text.extend(bytes),
                Err(e) => {
                    log::warn!(
                        "DTLS-SRTP: cannot read {}: {e}; using a certificate per call",
                        file.display()
                    );
                    return None;
                }
            }
            text.push(b'\n');
        }
        // id-ecPublicKey (1.2.840.10045.2.1), the algorithm of an ECDSA PKCS#8 key.
        const EC_KEY_OID: [u8; 9] = [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
        let parsed = sigil_identity::parse_identity_pem(&text, "the device identity");
        let usable = parsed.ok().and_then(|mut pem| {
            let leaf = pem.certificates.first()?.to_vec();
            match pem.take_key()? {
                rustls_pki_types::PrivateKeyDer::Pkcs8(key)
                    if key.secret_pkcs8_der().windows(9).any(|w| w == EC_KEY_OID) =>
                {
                    Some(sigil_srtp::dtls::DtlsIdentity::from_der(
                        leaf,
                        key.secret_pkcs8_der().to_vec(),
                    ))
                }
                _ => None,
            }
        });
        if usable.is_none() {
            log::warn!("sip.srtp.dtls.device_cert = 1 but the device key is not an ECDSA PKCS#8 key (DTLS-SRTP here signs with ECDSA): using a certificate per call");
        }
        usable
    }
}

/// The boot steps so far, reported to the observer as they end.
/// (Generic over the observer so that the async boot can require `Send`.)
struct Steps<'a, O: ?Sized> {
    status: DeviceStatus,
    started: Instant,
    observer: &'a mut O,
}

impl<O: ?Sized + FnMut(&BootStep)> Steps<'_, O> {
    fn push(&mut self, step: &str, outcome: Outcome, detail: String) {
        let s = BootStep {
            step: step.to_owned(),
            outcome,
            detail,
            at_ms: self.started.elapsed().as_millis() as u64,
        };
        (self.observer)(&s);
        self.status.boot.push(s);
    }

    fn fail(&mut self, step: &str, error: EndpointError) -> BootFailure {
        self.push(step, Outcome::Failed, error.to_string());
        self.status.problems.push(format!("{step}: {error}"));
        BootFailure {
            step: step.to_owned(),
            error,
            status: Box::new(std::mem::take(&mut self.status)),
        }
    }
}

/// What an event did to the boot.
pub(crate) enum Progress {
    /// Nothing decisive yet.
    Waiting,
    /// Registered: the boot status, with its "ready" step.
    Ready(Box<DeviceStatus>),
    /// This step failed (stop the driver, then [`BootWatch::fail`]).
    Failed(&'static str, EndpointError),
}

/// The SIP half of a boot, whatever the driver: builds the device from the
/// prepared steps, then turns the device's events into the steps "sip
/// connection", "sip listener", "registration" and "ready".
pub(crate) struct BootWatch<'a, O: ?Sized> {
    steps: Steps<'a, O>,
    server: String,
    listening: bool,
    connected: bool,
    register_timeout: Duration,
}

impl<'a, O: ?Sized + FnMut(&BootStep)> BootWatch<'a, O> {
    /// The device for `prepared` with `options`, and the watch of its boot.
    pub(crate) fn start(
        prepared: &Prepared,
        options: &RunOptions,
        observer: &'a mut O,
    ) -> Result<(Device, BootWatch<'a, O>), BootFailure> {
        let mut steps = Steps {
            status: prepared.status.clone(),
            started: prepared.started,
            observer,
        };
        let now = Instant::now();
        let mut config = prepared.device_config(SystemTime::now());
        config.auto_answer = options.auto_answer;
        config.key_log = options.key_log.clone();
        let listening = config.settings.sip_tls_listen != 0;
        let device = match Device::new(config, now) {
            Ok(d) => d,
            Err(e) => return Err(steps.fail("sip connection", e)),
        };
        let watch = BootWatch {
            steps,
            server: device.server().to_owned(),
            listening,
            connected: false,
            register_timeout: options.register_timeout,
        };
        Ok((device, watch))
    }

    /// The status so far (the driver's base status until "ready").
    pub(crate) fn status(&self) -> &DeviceStatus {
        &self.steps.status
    }

    /// When the boot gives up waiting for the registration, from now.
    pub(crate) fn deadline(&self) -> Instant {
        sigil_sip::timer::deadline_after(Instant::now(), self.register_timeout)
    }

    /// `step` failed with `error`: the failure, reported.
    pub(crate) fn fail(&mut self, step: &str, error: EndpointError) -> BootFailure {
        self.steps.fail(step, error)
    }

    /// Nothing decisive before the deadline.
    pub(crate) fn timed_out(&mut self) -> BootFailure {
        let step = if self.connected {
            "registration"
        } else {
            "sip connection"
        };
        let e =
            EndpointError::Registration(format!("no answer within {:?}", self.register_timeout));
        self.fail(step, e)
    }

    /// The device reported `event`.
    pub(crate) fn event(&mut self, event: Event) -> Progress {
        let steps = &mut self.steps;
        let server = &self.server;
        match event {
            Event::Connected { tls, .. } if !self.connected => {
                self.connected = true;
                let (outcome, detail) = match &tls {
                    Some(info) => {
                        let c = crate::status::connection_status("sip", server, info, true);
                        let outcome = if c.verification == "verified" {
                            Outcome::Ok
                        } else {
                            Outcome::Warning
                        };
                        (
                            outcome,
                            format!(
                                "{server} {} {}, server {}{}",
                                c.version,
                                c.cipher_suite,
                                c.verification,
                                c.peer_subject
                                    .as_ref()
                                    .map(|s| format!(" ({s})"))
                                    .unwrap_or_default()
                            ),
                        )
                    }
                    None => {
                        let t = steps.status.configuration.sip_transport.clone();
                        steps.status.problems.push(format!(
                            "sip.transport = {t}: signaling is not encrypted"
                        ));
                        (
                            Outcome::Warning,
                            format!("{server} over {}: not encrypted (sip.transport = {t})", t.to_uppercase()),
                        )
                    }
                };
                steps.push("sip connection", outcome, detail);
                if !self.listening {
                    steps.push("sip listener", Outcome::Skipped, "sip.tls.listen = 0".into());
                }
            }
            Event::ConnectionFailed {
                reason, diagnosis, ..
            } if !self.connected => {
                let detail = match diagnosis {
                    Some(d) => format!("{d} — fix: {}", d.fix()),
                    None => reason,
                };
                return Progress::Failed("sip connection", EndpointError::Sip(detail));
            }
            Event::Listening { addr, client_auth } => steps.push(
                "sip listener",
                Outcome::Ok,
                format!("SIP over TLS on {addr}, presenting the active identity; client certificate {client_auth}"),
            ),
            Event::ListenFailed { reason } => {
                steps.status.problems.push(format!("sip listener: {reason}"));
                steps.push("sip listener", Outcome::Warning, reason);
            }
            Event::Registered { aor, expires, .. } => {
                let mac = steps
                    .status
                    .identity
                    .as_ref()
                    .and_then(|i| i.factory.certificate.as_ref())
                    .and_then(|c| c.mac)
                    .map(|m| m.to_string())
                    .unwrap_or_else(|| "-".into());
                steps.push(
                    "registration",
                    Outcome::Ok,
                    format!(
                        "registered {aor} as device {mac} ({} s, digest authentication)",
                        expires.as_secs()
                    ),
                );
                let elapsed = steps.started.elapsed().as_millis();
                steps.push("ready", Outcome::Ok, format!("booted in {elapsed} ms"));
                return Progress::Ready(Box::new(std::mem::take(&mut steps.status)));
            }
            Event::RegistrationFailed { reason } => {
                return Progress::Failed("registration", EndpointError::Registration(reason));
            }
            _ => {}
        }
        Progress::Waiting
    }
}

impl DeviceDir {
    /// Boots the device (SPEC E2): the steps of [`DeviceDir::prepare`], then
    /// SIP to `sip.proxy` (TLS by default), the listener if configured,
    /// REGISTER with digest authentication, ready. Each step goes to
    /// `observer` as it ends. The device then runs on its own thread.
    pub fn boot(
        &self,
        options: RunOptions,
        observer: &mut dyn FnMut(&BootStep),
    ) -> Result<RunningDevice, BootFailure> {
        let prepared = self.prepare(observer);
        let (device, mut watch) = BootWatch::start(&prepared, &options, observer)?;
        let io = Poll::new().and_then(|poll| {
            let waker = Waker::new(poll.registry(), WAKER)?;
            Ok((poll, Arc::new(waker)))
        });
        let (poll, waker) = match io {
            Ok(io) => io,
            Err(source) => {
                return Err(watch.fail(
                    "sip connection",
                    EndpointError::Io {
                        path: "poll".into(),
                        source,
                    },
                ))
            }
        };
        let (commands_tx, commands) = mpsc::sync_channel(crate::driver::blocking::MAX_COMMANDS);
        let (boot_tx, boot_rx) = mpsc::channel();
        let board = Arc::new((Mutex::new(Board::default()), Condvar::new()));
        let last_status = Arc::new(Mutex::new(None));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let driver = Driver {
            core: Core {
                sockets: MioSockets {
                    poll,
                    net: Net::new(device.config().connection.write_timeout),
                },
                device,
                audio: options.audio,
                sink: options.events.clone(),
                base_status: watch.status().clone(),
                status_file: options.status_file.clone(),
            },
            commands,
            outlet: BlockingOutlet {
                board: board.clone(),
                boot: Some(boot_tx),
            },
            last_status: last_status.clone(),
            stop: stop.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("sigil-device".into())
            .spawn(move || driver.run());
        let thread = match thread {
            Ok(t) => t,
            Err(source) => {
                return Err(watch.fail(
                    "sip connection",
                    EndpointError::Io {
                        path: "thread".into(),
                        source,
                    },
                ))
            }
        };
        let running = RunningDevice {
            commands: commands_tx,
            waker,
            thread: Some(thread),
            board,
            last_status,
            stop,
        };
        let deadline = watch.deadline();
        // Bounded by the registration deadline.
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            let event = match boot_rx.recv_timeout(wait) {
                Ok(e) => e,
                Err(_) => {
                    drop(running);
                    return Err(watch.timed_out());
                }
            };
            match watch.event(event) {
                Progress::Waiting => {}
                Progress::Ready(status) => {
                    running.set_boot(*status);
                    return Ok(running);
                }
                Progress::Failed(step, error) => {
                    drop(running);
                    return Err(watch.fail(step, error));
                }
            }
        }
    }
}

#[cfg(feature = "tokio")]
impl DeviceDir {
    /// [`DeviceDir::boot`] on the async driver (feature `tokio`): the same
    /// steps, reported to `observer` as they end, then the device runs as a
    /// task on the current Tokio runtime behind the returned handle. The
    /// steps of [`DeviceDir::prepare`] (files, and provisioning over HTTPS)
    /// block, so they run on Tokio's blocking pool (`spawn_blocking`).
    ///
    /// # Errors
    ///
    /// The step that failed, with the status so far (as [`DeviceDir::boot`]).
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime.
    pub async fn boot_async(
        &self,
        options: RunOptions,
        observer: &mut (dyn FnMut(&BootStep) + Send),
    ) -> Result<crate::driver::tokio::AsyncDevice, BootFailure> {
        let dir = self.clone();
        let (steps_tx, mut steps) = tokio::sync::mpsc::unbounded_channel();
        let prepare = tokio::task::spawn_blocking(move || {
            dir.prepare(&mut |step| {
                let _ = steps_tx.send(step.clone());
            })
        });
        // Bounded by the boot steps: the channel closes when `prepare` returns.
        while let Some(step) = steps.recv().await {
            observer(&step);
        }
        let prepared = match prepare.await {
            Ok(prepared) => prepared,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Cancelled: the runtime is shutting down.
            Err(_) => {
                return Err(BootFailure {
                    step: "boot".into(),
                    error: EndpointError::Stopped,
                    status: Box::default(),
                })
            }
        };
        prepared.boot_async(options, observer).await
    }
}

#[cfg(feature = "tokio")]
impl Prepared {
    /// The rest of [`DeviceDir::boot_async`] after [`DeviceDir::prepare`]
    /// (feature `tokio`): SIP connection, listener, registration, ready, on
    /// the async driver, spawned on the current Tokio runtime.
    ///
    /// # Errors
    ///
    /// The step that failed, with the status so far.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime.
    pub async fn boot_async(
        self,
        options: RunOptions,
        observer: &mut (dyn FnMut(&BootStep) + Send),
    ) -> Result<crate::driver::tokio::AsyncDevice, BootFailure> {
        let (device, mut watch) = BootWatch::start(&self, &options, observer)?;
        let (boot_tx, mut boot_rx) = tokio::sync::mpsc::unbounded_channel();
        let (running, driver) = crate::driver::tokio::build(
            device,
            options.audio,
            options.events.clone(),
            watch.status().clone(),
            Some(boot_tx),
        );
        tokio::spawn(driver);
        let deadline = tokio::time::Instant::from_std(watch.deadline());
        // Bounded by the registration deadline.
        loop {
            let event = match tokio::time::timeout_at(deadline, boot_rx.recv()).await {
                Ok(Some(e)) => e,
                // The deadline, or (never expected) a driver gone before it.
                Ok(None) | Err(_) => {
                    running.shutdown().await;
                    return Err(watch.timed_out());
                }
            };
            match watch.event(event) {
                Progress::Waiting => {}
                Progress::Ready(status) => {
                    running.set_boot(*status).await;
                    return Ok(running);
                }
                Progress::Failed(step, error) => {
                    running.shutdown().await;
                    return Err(watch.fail(step, error));
                }
            }
        }
    }
}
