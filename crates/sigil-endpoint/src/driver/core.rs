//! The part of a driver that is not I/O: carrying out the device's work
//! until its queues are empty, handing reports back, routing events (audio
//! to [`CallAudio`], the rest to the application), applying the handle's
//! commands, and the board of established and ended calls the handle waits
//! on. The blocking and the async driver differ only in how they wait and
//! in their sockets ([`Sockets`]) and outlets ([`Outlet`]).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use sigil_srtp::negotiate::OfferPolicy;

use super::audio::{CallAudio, FRAME_SAMPLES};
use super::blocking::EventSink;
use super::common::Report;
use crate::device::{CallId, ConnId, Device, Event, Transmit};
use crate::error::EndpointError;
use crate::status::{CallStatus, DeviceStatus};

/// How a command's answer gets back to the handle (a channel's send).
pub(crate) type Reply<T> = Box<dyn FnOnce(T) + Send>;

/// Makes a [`Reply`] from a channel's send.
pub(crate) fn reply<T: 'static>(send: impl FnOnce(T) + Send + 'static) -> Reply<T> {
    Box::new(send)
}

/// What a handle asks of its driver.
pub(crate) enum Command {
    Call {
        to: String,
        policy: Option<OfferPolicy>,
        reply: Reply<Result<CallId, EndpointError>>,
    },
    Answer {
        call: CallId,
        reply: Reply<Result<(), EndpointError>>,
    },
    Reject {
        call: CallId,
        status: u16,
        reply: Reply<Result<(), EndpointError>>,
    },
    Hangup {
        call: CallId,
        reply: Reply<Result<(), EndpointError>>,
    },
    Dtmf {
        call: CallId,
        digit: char,
        duration: Duration,
        reply: Reply<Result<(), EndpointError>>,
    },
    Status {
        reply: Reply<DeviceStatus>,
    },
    /// The boot's status (steps, identity, trust, configuration) to report from now on.
    Base(Box<DeviceStatus>),
    /// Stop (the async handle; the blocking one sets a flag the driver checks).
    #[cfg(feature = "tokio")]
    Shutdown,
}

/// Most ended calls the board keeps: the application collects what it waits for.
const BOARD_ENDED: usize = 64;

/// What a handle can wait for: calls established and ended, and (async
/// driver) the status the device stopped with.
#[derive(Default)]
pub(crate) struct Board {
    pub(crate) established: HashSet<CallId>,
    pub(crate) ended: HashMap<CallId, CallStatus>,
    #[cfg(feature = "tokio")]
    pub(crate) stopped: Option<Box<DeviceStatus>>,
}

impl Board {
    pub(crate) fn establish(&mut self, call: CallId) {
        self.established.insert(call);
    }

    pub(crate) fn end(&mut self, call: CallId, status: CallStatus) {
        self.ended.insert(call, status);
        // Bounded: keep the last BOARD_ENDED.
        if self.ended.len() > BOARD_ENDED {
            if let Some(oldest) = self.ended.keys().min().copied() {
                self.ended.remove(&oldest);
            }
        }
    }
}

/// A driver's sockets: carry out one [`Transmit`] without blocking.
pub(crate) trait Sockets {
    /// The driver's accepted-stream type.
    type Accepted;
    /// Carries out `t`; what it resolves at once goes to `out`.
    fn transmit(&mut self, t: Transmit, now: Instant, out: &mut Vec<Report<Self::Accepted>>);
    /// The device took an accepted connection as `conn`.
    fn adopt(&mut self, conn: ConnId, socket: Self::Accepted);
}

/// Where a driver's events go besides the call audio.
pub(crate) trait Outlet {
    /// A call is established (after [`CallAudio::started`]).
    fn established(&mut self, call: CallId);
    /// A call ended (after [`CallAudio::ended`]).
    fn ended(&mut self, call: CallId, status: &CallStatus);
    /// Every event but audio, after the [`EventSink`].
    fn event(&mut self, event: Event);
}

/// The device with its sockets, audio and event sink.
pub(crate) struct Core<S> {
    pub(crate) device: Device,
    pub(crate) sockets: S,
    pub(crate) audio: Box<dyn CallAudio>,
    pub(crate) sink: Option<EventSink>,
    pub(crate) base_status: DeviceStatus,
    /// Where to keep the status (JSON) for other processes, rewritten after
    /// every event but audio (`RunOptions::status_file`).
    pub(crate) status_file: Option<std::path::PathBuf>,
}

impl<S: Sockets> Core<S> {
    /// Hands network reports to the device; accepted connections go to
    /// `Device::accept`, and to the sockets when it takes them.
    pub(crate) fn feed(&mut self, reports: Vec<Report<S::Accepted>>) {
        for report in reports {
            let now = Instant::now();
            match report {
                Report::Input(input) => self.device.handle_input(input.as_input(), now),
                Report::Accepted {
                    socket,
                    peer,
                    local,
                } => {
                    if let Some(id) = self.device.accept(peer, local, now) {
                        self.sockets.adopt(id, socket);
                    }
                }
            }
        }
    }

    /// Carries out the device's network work and delivers its events until
    /// both queues are empty.
    pub(crate) fn pump(&mut self, now: Instant, outlet: &mut impl Outlet) {
        // Bounded: each round's work is finite; a device that keeps asking
        // gets the rest next time round the driver's loop.
        for _ in 0..64 {
            let mut reports = Vec::new();
            let mut any = false;
            while let Some(t) = self.device.poll_transmit() {
                any = true;
                self.sockets.transmit(t, now, &mut reports);
            }
            any |= !reports.is_empty();
            self.feed(reports);
            while let Some(event) = self.device.poll_event() {
                any = true;
                self.deliver(event, outlet);
            }
            if !any {
                return;
            }
        }
    }

    fn deliver(&mut self, event: Event, outlet: &mut impl Outlet) {
        match &event {
            Event::Audio {
                call,
                frame,
                concealed,
            } => {
                self.audio.playback(*call, frame, *concealed);
                let mut out = [0i16; FRAME_SAMPLES];
                if self.audio.capture(*call, &mut out) {
                    let _ = self.device.send_audio(*call, &out);
                }
                return;
            }
            Event::CallEstablished { call, .. } => {
                self.audio.started(*call);
                outlet.established(*call);
            }
            Event::CallEnded { call, status } => {
                self.audio.ended(*call);
                outlet.ended(*call, status);
            }
            _ => {}
        }
        if let Some(sink) = &self.sink {
            sink(&event);
        }
        if self.status_file.is_some() {
            self.write_status_file(&self.status());
        }
        outlet.event(event);
    }

    /// Writes the status file (temporary file, then rename), if one is set.
    pub(crate) fn write_status_file(&self, status: &DeviceStatus) {
        let Some(path) = &self.status_file else {
            return;
        };
        let mut tmp = path.clone().into_os_string();
        tmp.push(".tmp");
        let written =
            std::fs::write(&tmp, status.to_json()).and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = written {
            log::warn!("cannot write the status file {}: {e}", path.display());
        }
    }

    /// The status now: the boot's, with the device's live part.
    pub(crate) fn status(&self) -> DeviceStatus {
        let mut status = self.base_status.clone();
        self.device.fill_status(&mut status);
        status
    }

    /// Applies a handle's command and answers it.
    pub(crate) fn command(&mut self, command: Command) {
        let now = Instant::now();
        match command {
            Command::Call { to, policy, reply } => reply(self.device.call(&to, policy, now)),
            Command::Answer { call, reply } => reply(self.device.answer(call, now)),
            Command::Reject {
                call,
                status,
                reply,
            } => reply(self.device.reject(call, status, now)),
            Command::Hangup { call, reply } => reply(self.device.hangup(call, now)),
            Command::Dtmf {
                call,
                digit,
                duration,
                reply,
            } => reply(self.device.send_dtmf(call, digit, duration)),
            Command::Status { reply } => reply(self.status()),
            Command::Base(status) => self.base_status = *status,
            #[cfg(feature = "tokio")]
            Command::Shutdown => self.device.shutdown(now),
        }
    }
}
