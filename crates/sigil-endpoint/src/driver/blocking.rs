//! The blocking driver: one thread runs the sans-IO [`Device`](crate::Device) over real
//! sockets with `mio`, sleeping until a socket is ready, a command arrives
//! or the device's next deadline — never on a fixed tick (SPEC E5).
//! [`RunningDevice`] is the handle the application keeps.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Waker};
use sigil_srtp::negotiate::OfferPolicy;

use super::common::READS_PER_WAKE;
use super::core::{self, Board, Command, Core, Outlet, Reply, Sockets};
use super::net::{Net, Owner, Report, LISTENER, WAKER};
use crate::device::{CallId, ConnId, Event, Transmit};
use crate::error::EndpointError;
use crate::status::{CallStatus, DeviceStatus};

/// How long [`RunningDevice::shutdown`] (and drop) waits for the driver to
/// finish: calls hung up, binding removed.
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// A callback for the device's events (on the driver's thread, or the async driver's task).
pub type EventSink = Arc<dyn Fn(&Event) + Send + Sync>;

pub(crate) type SharedBoard = Arc<(Mutex<Board>, Condvar)>;

/// The blocking driver's sockets: [`Net`] registered with one `mio::Poll`.
pub(crate) struct MioSockets {
    pub(crate) poll: Poll,
    pub(crate) net: Net,
}

impl Sockets for MioSockets {
    type Accepted = mio::net::TcpStream;

    fn transmit(&mut self, t: Transmit, now: Instant, reports: &mut Vec<Report>) {
        let registry = self.poll.registry();
        match t {
            Transmit::Connect { conn, server, udp } => {
                self.net.connect(registry, conn, &server, udp, now, reports)
            }
            Transmit::Send { conn, data } => self.net.send(registry, conn, &data, now, reports),
            Transmit::Close { conn } => self.net.close(registry, conn),
            Transmit::Bind { socket, ip } => self.net.bind(registry, socket, ip, reports),
            Transmit::SendTo { socket, to, data } => self.net.send_to(socket, to, &data),
            Transmit::Release { socket } => self.net.release(registry, socket),
            Transmit::Listen { addr } => self.net.listen(registry, addr, reports),
            Transmit::StopListening => self.net.stop_listening(registry),
        }
    }

    fn adopt(&mut self, conn: ConnId, socket: mio::net::TcpStream) {
        self.net.adopt(self.poll.registry(), conn, socket);
    }
}

/// Where the blocking driver's events go: the board the handle waits on
/// (a condition variable), and the boot while it listens.
pub(crate) struct BlockingOutlet {
    pub(crate) board: SharedBoard,
    /// Boot-time listener: the events that decide the boot steps.
    pub(crate) boot: Option<Sender<Event>>,
}

impl BlockingOutlet {
    fn update(&self, change: impl FnOnce(&mut Board)) {
        let (lock, cvar) = &*self.board;
        if let Ok(mut b) = lock.lock() {
            change(&mut b);
        }
        cvar.notify_all();
    }
}

impl Outlet for BlockingOutlet {
    fn established(&mut self, call: CallId) {
        self.update(|b| b.establish(call));
    }

    fn ended(&mut self, call: CallId, status: &CallStatus) {
        self.update(|b| b.end(call, status.clone()));
    }

    fn event(&mut self, event: Event) {
        if let Some(boot) = &self.boot {
            if boot.send(event).is_err() {
                self.boot = None;
            }
        }
    }
}

/// Most commands queued for the driver; beyond, a command is refused as busy.
pub const MAX_COMMANDS: usize = 64;

/// The driver's side: everything the thread owns.
pub(crate) struct Driver {
    pub(crate) core: Core<MioSockets>,
    pub(crate) commands: Receiver<Command>,
    pub(crate) outlet: BlockingOutlet,
    /// The status when the driver stopped, for the handle.
    pub(crate) last_status: Arc<Mutex<Option<DeviceStatus>>>,
    /// Set by the handle to stop: a flag, so a full command queue cannot hold it up.
    pub(crate) stop: Arc<AtomicBool>,
}

impl Driver {
    /// Runs until the device has stopped.
    pub(crate) fn run(mut self) {
        let mut events = Events::with_capacity(256);
        let mut busy: Vec<Owner> = Vec::new();
        // Bounded by the device: it stops within its shutdown wait once asked.
        loop {
            self.core.pump(Instant::now(), &mut self.outlet);
            if self.core.device.is_stopped() {
                break;
            }
            let now = Instant::now();
            let MioSockets { poll, net } = &mut self.core.sockets;
            let timeout = if busy.is_empty() {
                [self.core.device.poll_timeout(), net.next_deadline()]
                    .into_iter()
                    .flatten()
                    .min()
                    .map(|t| t.saturating_duration_since(now))
            } else {
                Some(Duration::ZERO)
            };
            if let Err(e) = poll.poll(&mut events, timeout) {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    log::error!("poll failed: {e}; stopping the device");
                    self.core.device.shutdown(Instant::now());
                }
                continue;
            }
            let mut reports = Vec::new();
            let mut ready: Vec<(Owner, bool, bool)> = Vec::new();
            for event in events.iter() {
                match event.token() {
                    WAKER => {}
                    LISTENER => ready.push((Owner::Listener, true, false)),
                    t => {
                        if let Some(owner) = net.owner(t) {
                            ready.push((
                                owner,
                                event.is_readable() || event.is_read_closed() || event.is_error(),
                                event.is_writable(),
                            ));
                        }
                    }
                }
            }
            ready.extend(busy.drain(..).map(|o| (o, true, false)));
            let now = Instant::now();
            let registry = poll.registry();
            for (owner, readable, writable) in ready {
                let more = match owner {
                    Owner::Listener => net.accept(READS_PER_WAKE, &mut reports),
                    Owner::Stream(conn) => {
                        if writable {
                            net.check_connected(registry, conn, &mut reports);
                            net.flush(registry, conn, now, &mut reports);
                        }
                        readable && net.read_stream(registry, conn, READS_PER_WAKE, &mut reports)
                    }
                    o @ (Owner::Flow(_) | Owner::Socket(_)) => {
                        readable && net.read_datagrams(o, READS_PER_WAKE, &mut reports)
                    }
                };
                if more {
                    busy.push(owner);
                }
            }
            net.expire(registry, now, &mut reports);
            self.core.feed(reports);
            self.commands();
            self.core.device.handle_timeout(Instant::now());
        }
        let status = self.core.status();
        self.core.write_status_file(&status);
        if let Ok(mut last) = self.last_status.lock() {
            *last = Some(status);
        }
        log::info!("device stopped");
    }

    fn commands(&mut self) {
        // Bounded by what is queued now.
        while let Ok(command) = self.commands.try_recv() {
            self.core.command(command);
        }
        if self.stop.load(Ordering::SeqCst) {
            // Idempotent: the device ignores a second shutdown.
            self.core.device.shutdown(Instant::now());
        }
    }
}

/// A booted device running on its driver thread: place and answer calls,
/// read the status, shut down. Dropping it shuts it down.
pub struct RunningDevice {
    pub(crate) commands: SyncSender<Command>,
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) waker: Arc<Waker>,
    pub(crate) thread: Option<JoinHandle<()>>,
    pub(crate) board: SharedBoard,
    pub(crate) last_status: Arc<Mutex<Option<DeviceStatus>>>,
}

impl std::fmt::Debug for RunningDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningDevice").finish_non_exhaustive()
    }
}

/// Options of [`RunningDevice::call_and_wait`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallOptions {
    /// How long the call stays up once established; then the device hangs up.
    pub duration: Duration,
    /// The SRTP offer policy for this call (`None`: `sip.srtp.offer`).
    pub policy: Option<OfferPolicy>,
    /// Give up if the call is not established after this long.
    pub timeout: Duration,
}

impl Default for CallOptions {
    fn default() -> Self {
        CallOptions {
            duration: Duration::from_secs(1),
            policy: None,
            timeout: Duration::from_secs(40),
        }
    }
}

impl RunningDevice {
    fn ask<T: Send + 'static>(
        &self,
        make: impl FnOnce(Reply<T>) -> Command,
    ) -> Result<T, EndpointError> {
        let (tx, rx) = mpsc::channel();
        let reply = core::reply(move |value| {
            let _ = tx.send(value);
        });
        match self.commands.try_send(make(reply)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(EndpointError::Busy),
            Err(TrySendError::Disconnected(_)) => return Err(EndpointError::Stopped),
        }
        let _ = self.waker.wake();
        rx.recv_timeout(Duration::from_secs(10))
            .map_err(|_| EndpointError::Stopped)
    }

    pub(crate) fn set_boot(&self, status: DeviceStatus) {
        if self
            .commands
            .try_send(Command::Base(Box::new(status)))
            .is_ok()
        {
            let _ = self.waker.wake();
        }
    }

    /// The status now (boot steps, identity, trust, connections,
    /// registration, calls with statistics).
    pub fn status(&self) -> DeviceStatus {
        match self.ask(|reply| Command::Status { reply }) {
            Ok(status) => status,
            // Stopped: the status it stopped with.
            Err(_) => self
                .last_status
                .lock()
                .ok()
                .and_then(|s| s.clone())
                .unwrap_or_default(),
        }
    }

    /// The address of the inbound listener (`sip.tls.listen`), when it is up.
    pub fn listener_addr(&self) -> Option<std::net::SocketAddr> {
        self.status().listener.addr.and_then(|a| a.parse().ok())
    }

    /// Places a call to `to` (a SIP URI) and returns at once.
    ///
    /// # Errors
    ///
    /// What [`Device::call`](crate::Device::call) refuses, or the device has stopped.
    pub fn dial(&self, to: &str, policy: Option<OfferPolicy>) -> Result<CallId, EndpointError> {
        self.ask(|reply| Command::Call {
            to: to.to_owned(),
            policy,
            reply,
        })?
    }

    /// Answers a ringing call (only needed without auto answer).
    ///
    /// # Errors
    ///
    /// What [`Device::answer`](crate::Device::answer) refuses, or the device has stopped.
    pub fn answer(&self, call: CallId) -> Result<(), EndpointError> {
        self.ask(|reply| Command::Answer { call, reply })?
    }

    /// Rejects a ringing call with `status`.
    ///
    /// # Errors
    ///
    /// What [`Device::reject`](crate::Device::reject) refuses, or the device has stopped.
    pub fn reject(&self, call: CallId, status: u16) -> Result<(), EndpointError> {
        self.ask(|reply| Command::Reject {
            call,
            status,
            reply,
        })?
    }

    /// Hangs up a call.
    ///
    /// # Errors
    ///
    /// No such call, or the device has stopped.
    pub fn hangup(&self, call: CallId) -> Result<(), EndpointError> {
        self.ask(|reply| Command::Hangup { call, reply })?
    }

    /// Sends a DTMF digit on a call.
    ///
    /// # Errors
    ///
    /// What [`Device::send_dtmf`](crate::Device::send_dtmf) refuses, or the device has stopped.
    pub fn send_dtmf(
        &self,
        call: CallId,
        digit: char,
        duration: Duration,
    ) -> Result<(), EndpointError> {
        self.ask(|reply| Command::Dtmf {
            call,
            digit,
            duration,
            reply,
        })?
    }

    /// Waits (at most `timeout`) until `found` finds what it looks for on the board.
    fn wait_for<T>(
        &self,
        timeout: Duration,
        mut found: impl FnMut(&Board) -> Option<T>,
    ) -> Result<T, EndpointError> {
        let (lock, cvar) = &*self.board;
        let deadline = sigil_sip::timer::deadline_after(Instant::now(), timeout);
        let mut board = lock.lock().map_err(|_| EndpointError::Stopped)?;
        // Bounded by the deadline.
        loop {
            if let Some(value) = found(&board) {
                return Ok(value);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(EndpointError::CallTimeout(timeout));
            }
            board = cvar
                .wait_timeout(board, deadline - now)
                .map_err(|_| EndpointError::Stopped)?
                .0;
        }
    }

    /// Waits until `call` is established (`Ok(true)`), ends (`Ok(false)`),
    /// or `timeout` passes (`Err`).
    ///
    /// # Errors
    ///
    /// [`EndpointError::CallTimeout`] when neither happens in time.
    pub fn wait_established(&self, call: CallId, timeout: Duration) -> Result<bool, EndpointError> {
        self.wait_for(timeout, |board| {
            if board.established.contains(&call) {
                Some(true)
            } else {
                board.ended.contains_key(&call).then_some(false)
            }
        })
    }

    /// Waits until `call` ends and returns its summary.
    ///
    /// # Errors
    ///
    /// [`EndpointError::CallTimeout`] when it does not end in time.
    pub fn wait_ended(&self, call: CallId, timeout: Duration) -> Result<CallStatus, EndpointError> {
        self.wait_for(timeout, |board| board.ended.get(&call).cloned())
    }

    /// Calls `to`, keeps the call up for `options.duration` once it is
    /// established (the driver's audio plays into it), hangs up, and returns
    /// the call's summary. Blocks; [`RunningDevice::dial`] does not.
    ///
    /// # Errors
    ///
    /// The call cannot be placed, or does not end in time.
    pub fn call_and_wait(
        &self,
        to: &str,
        options: CallOptions,
    ) -> Result<CallStatus, EndpointError> {
        let call = self.dial(to, options.policy)?;
        match self.wait_established(call, options.timeout) {
            Ok(true) => {
                // Wakes when the call ends early, else after the duration.
                if let Err(EndpointError::CallTimeout(_)) = self.wait_ended(call, options.duration)
                {
                    let _ = self.hangup(call);
                }
            }
            Ok(false) => {}
            Err(e) => {
                let _ = self.hangup(call);
                return Err(e);
            }
        }
        self.wait_ended(call, Duration::from_secs(40))
    }

    /// Hangs up every call, un-REGISTERs, stops, and returns the last status.
    pub fn shutdown(mut self) -> DeviceStatus {
        let before = self.status();
        self.stop();
        self.last_status
            .lock()
            .ok()
            .and_then(|s| s.clone())
            .unwrap_or(before)
    }

    /// Bounded by [`SHUTDOWN_WAIT`] whatever the peers do.
    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.waker.wake();
        let deadline = Instant::now() + SHUTDOWN_WAIT;
        let Some(thread) = self.thread.take() else {
            return;
        };
        // Bounded by the deadline; the thread is normally done well before.
        while !thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if thread.is_finished() {
            let _ = thread.join();
        } else {
            log::warn!(
                "the device thread did not stop within {SHUTDOWN_WAIT:?}; not waiting for it"
            );
        }
    }
}

impl Drop for RunningDevice {
    fn drop(&mut self) {
        self.stop();
    }
}
