//! The async driver (feature `tokio`): the sans-IO [`Device`] runs as one
//! Tokio task, [`DeviceDriver`], and the application keeps [`AsyncDevice`],
//! a cloneable handle with async methods and an event stream.
//!
//! ```no_run
//! use sigil_endpoint::{AsyncDevice, CallOptions, DeviceDir, Event, RunOptions};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = DeviceDir::open("/data/device")?;
//! let device: AsyncDevice = dir
//!     .boot_async(RunOptions::default(), &mut |step| println!("{step}"))
//!     .await?;
//! let mut events = device.subscribe();
//! tokio::spawn(async move {
//!     while let Ok(event) = events.recv().await {
//!         println!("{event}");
//!     }
//! });
//! let call = device.call_and_wait("sip:1002@pbx.example.com", CallOptions::default()).await?;
//! println!("{}: {} packets received", call.media, call.stats.packets_received);
//! println!("{}", device.shutdown().await.to_json());
//! # Ok(())
//! # }
//! ```
//!
//! The task is the blocking driver's loop in async form: it carries out
//! the device's network work, then sleeps in one `select!` until a socket
//! is ready, a command arrives or the device's next deadline
//! (`tokio::time::sleep_until`) — no polling tick. Every socket operation
//! is non-blocking (`try_read`/`try_write` after readiness); stream
//! connections have the same bounded write queue and write timeout as the
//! blocking driver; connects (with `tokio::net::lookup_host` for the name)
//! run as child tasks under a 5 s connect timeout; the inbound listener's
//! connections go to
//! [`Device::accept`](crate::Device::accept); media and SIP-over-UDP use
//! UDP sockets. Call audio goes through [`CallAudio`] on the driver task,
//! as with the blocking driver.
//!
//! The task ends once the device reports [`Event::Stopped`]: after
//! [`AsyncDevice::shutdown`], or when every handle is dropped (the device
//! then shuts down — calls hung up, binding removed — on its own). A task
//! dropped without that (its runtime shutting down) closes its sockets
//! without un-registering.

use std::net::SocketAddr;
use std::time::Duration;

use ::tokio::net::TcpStream;
use ::tokio::sync::{broadcast, mpsc, oneshot, watch};
use sigil_srtp::negotiate::OfferPolicy;

use super::audio::CallAudio;
use super::blocking::{CallOptions, EventSink, SHUTDOWN_WAIT};
use super::common::{self};
use super::core::{self, Board, Command, Core, Reply};
use crate::device::{CallId, Device, Event};
use crate::error::EndpointError;
use crate::status::{CallStatus, DeviceStatus};

/// How many events a subscriber may fall behind before it misses some
/// ([`broadcast::error::RecvError::Lagged`]).
pub const EVENT_CAPACITY: usize = 256;
/// Commands queued for the driver before the handle's calls wait.
const COMMAND_CAPACITY: usize = 64;
/// Datagrams queued on one UDP socket while it is not writable; beyond,
/// the oldest are dropped (media is loss-tolerant, SIP over UDP retransmits).
const MAX_DATAGRAMS_QUEUED: usize = 64;
/// How long a call may take to end after `call_and_wait` hangs it up.
const END_WAIT: Duration = Duration::from_secs(40);

type Report = common::Report<TcpStream>;

mod sockets;
mod task;

use sockets::TokioSockets;
pub use task::DeviceDriver;
use task::{AsyncDriver, TokioOutlet};

/// A device running on the async driver: place and answer calls, follow
/// its events, read the status, shut down. Cheap to clone; every clone
/// controls the same device. When the last clone is dropped the device
/// shuts down (calls hung up, binding removed) and its driver ends.
#[derive(Clone)]
pub struct AsyncDevice {
    commands: mpsc::Sender<Command>,
    /// Weak: the driver holds the one sender, so subscriptions end with it.
    events: broadcast::WeakSender<Event>,
    board: watch::Receiver<Board>,
}

impl std::fmt::Debug for AsyncDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncDevice")
            .field("stopped", &self.is_stopped())
            .finish_non_exhaustive()
    }
}

/// The handle and driver for `device`.
pub(crate) fn build(
    device: Device,
    audio: Box<dyn CallAudio>,
    sink: Option<EventSink>,
    base_status: DeviceStatus,
    boot: Option<mpsc::UnboundedSender<Event>>,
) -> (AsyncDevice, DeviceDriver) {
    let (commands_tx, commands) = mpsc::channel(COMMAND_CAPACITY);
    let (events, _) = broadcast::channel(EVENT_CAPACITY);
    let weak_events = events.downgrade();
    let (board_tx, board) = watch::channel(Board::default());
    let driver = AsyncDriver {
        core: Core {
            sockets: TokioSockets::new(device.config().connection.write_timeout),
            device,
            audio,
            sink,
            base_status,
            status_file: None,
        },
        commands,
        outlet: TokioOutlet {
            events,
            board: board_tx,
            boot,
        },
    };
    let handle = AsyncDevice {
        commands: commands_tx,
        events: weak_events,
        board,
    };
    let driver = DeviceDriver {
        run: Box::pin(driver.run()),
    };
    (handle, driver)
}

impl AsyncDevice {
    /// The handle of `device` and the driver that runs it: spawn the driver
    /// on a Tokio runtime (`tokio::spawn(driver)`), or poll it yourself.
    /// `audio` plays into and records calls, on the driver's task. Use
    /// [`DeviceDir::boot_async`](crate::DeviceDir::boot_async) to boot a
    /// data directory instead.
    pub fn new(device: Device, audio: Box<dyn CallAudio>) -> (AsyncDevice, DeviceDriver) {
        build(device, audio, None, DeviceStatus::default(), None)
    }

    /// [`AsyncDevice::new`], with the driver spawned on the current Tokio
    /// runtime.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime, as `tokio::spawn` does.
    pub fn spawn(device: Device, audio: Box<dyn CallAudio>) -> AsyncDevice {
        let (handle, driver) = AsyncDevice::new(device, audio);
        ::tokio::spawn(driver);
        handle
    }

    /// The device's events from now on (all but [`Event::Audio`], which
    /// goes to the [`CallAudio`]), for as many subscribers as wanted. A
    /// subscriber more than [`EVENT_CAPACITY`] events behind misses the
    /// oldest and is told so ([`broadcast::error::RecvError::Lagged`]); the
    /// driver never waits for one. The stream ends after [`Event::Stopped`].
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        match self.events.upgrade() {
            Some(sender) => sender.subscribe(),
            // Stopped: a stream that has ended.
            None => broadcast::channel(1).1,
        }
    }

    async fn ask<T: Send + 'static>(
        &self,
        make: impl FnOnce(Reply<T>) -> Command,
    ) -> Result<T, EndpointError> {
        let (tx, rx) = oneshot::channel();
        let reply = core::reply(move |value| {
            let _ = tx.send(value);
        });
        self.commands
            .send(make(reply))
            .await
            .map_err(|_| EndpointError::Stopped)?;
        // The driver answers each command as it takes it; a driver that
        // ends first drops the reply, and this fails.
        rx.await.map_err(|_| EndpointError::Stopped)
    }

    pub(crate) async fn set_boot(&self, status: DeviceStatus) {
        let _ = self.commands.send(Command::Base(Box::new(status))).await;
    }

    /// Whether the device has stopped (its driver is done).
    pub fn is_stopped(&self) -> bool {
        self.board.borrow().stopped.is_some()
    }

    /// The status now (boot steps, identity, trust, connections,
    /// registration, calls with statistics); once stopped, the status it
    /// stopped with.
    pub async fn status(&self) -> DeviceStatus {
        match self.ask(|reply| Command::Status { reply }).await {
            Ok(status) => status,
            Err(_) => self
                .board
                .borrow()
                .stopped
                .as_deref()
                .cloned()
                .unwrap_or_default(),
        }
    }

    /// The address of the inbound listener (`sip.tls.listen`), when it is up.
    pub async fn listener_addr(&self) -> Option<SocketAddr> {
        self.status()
            .await
            .listener
            .addr
            .and_then(|a| a.parse().ok())
    }

    /// Places a call to `to` (a SIP URI) and returns at once; follow it with
    /// [`AsyncDevice::wait_established`] or the events.
    ///
    /// # Errors
    ///
    /// What [`Device::call`] refuses, or the device has stopped.
    pub async fn dial(
        &self,
        to: &str,
        policy: Option<OfferPolicy>,
    ) -> Result<CallId, EndpointError> {
        let to = to.to_owned();
        self.ask(|reply| Command::Call { to, policy, reply })
            .await?
    }

    /// Answers a ringing call (only needed without auto answer).
    ///
    /// # Errors
    ///
    /// What [`Device::answer`] refuses, or the device has stopped.
    pub async fn answer(&self, call: CallId) -> Result<(), EndpointError> {
        self.ask(|reply| Command::Answer { call, reply }).await?
    }

    /// Rejects a ringing call with `status` (e.g. 486, 603).
    ///
    /// # Errors
    ///
    /// What [`Device::reject`] refuses, or the device has stopped.
    pub async fn reject(&self, call: CallId, status: u16) -> Result<(), EndpointError> {
        self.ask(|reply| Command::Reject {
            call,
            status,
            reply,
        })
        .await?
    }

    /// Hangs up, cancels or declines a call.
    ///
    /// # Errors
    ///
    /// No such call, or the device has stopped.
    pub async fn hangup(&self, call: CallId) -> Result<(), EndpointError> {
        self.ask(|reply| Command::Hangup { call, reply }).await?
    }

    /// Sends a DTMF digit on a call.
    ///
    /// # Errors
    ///
    /// What [`Device::send_dtmf`] refuses, or the device has stopped.
    pub async fn send_dtmf(
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
        })
        .await?
    }

    /// Waits until `call` is established (`Ok(true)`) or ends without
    /// being established (`Ok(false)`). Not bounded: wrap it in
    /// `tokio::time::timeout`.
    ///
    /// # Errors
    ///
    /// [`EndpointError::Stopped`] when the device stops first.
    pub async fn wait_established(&self, call: CallId) -> Result<bool, EndpointError> {
        let mut board = self.board.clone();
        let b = board
            .wait_for(|b| {
                b.established.contains(&call) || b.ended.contains_key(&call) || b.stopped.is_some()
            })
            .await
            .map_err(|_| EndpointError::Stopped)?;
        if b.established.contains(&call) {
            Ok(true)
        } else if b.ended.contains_key(&call) {
            Ok(false)
        } else {
            Err(EndpointError::Stopped)
        }
    }

    /// Waits until `call` ends and returns its summary. Not bounded: wrap
    /// it in `tokio::time::timeout`.
    ///
    /// # Errors
    ///
    /// [`EndpointError::Stopped`] when the device stops without reporting
    /// the call's end (it ends every call before it stops, so: a call it
    /// does not know).
    pub async fn wait_ended(&self, call: CallId) -> Result<CallStatus, EndpointError> {
        let mut board = self.board.clone();
        let b = board
            .wait_for(|b| b.ended.contains_key(&call) || b.stopped.is_some())
            .await
            .map_err(|_| EndpointError::Stopped)?;
        b.ended.get(&call).cloned().ok_or(EndpointError::Stopped)
    }

    /// Calls `to`, keeps the call up for `options.duration` once it is
    /// established (the driver's audio plays into it), hangs up, and returns
    /// the call's summary.
    ///
    /// # Errors
    ///
    /// The call cannot be placed, is not established within
    /// `options.timeout`, or does not end in time.
    pub async fn call_and_wait(
        &self,
        to: &str,
        options: CallOptions,
    ) -> Result<CallStatus, EndpointError> {
        use ::tokio::time::timeout;
        let call = self.dial(to, options.policy).await?;
        match timeout(options.timeout, self.wait_established(call)).await {
            Ok(Ok(true)) => {
                // Returns early when the call ends early.
                if timeout(options.duration, self.wait_ended(call))
                    .await
                    .is_err()
                {
                    let _ = self.hangup(call).await;
                }
            }
            Ok(Ok(false)) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                let _ = self.hangup(call).await;
                return Err(EndpointError::CallTimeout(options.timeout));
            }
        }
        timeout(END_WAIT, self.wait_ended(call))
            .await
            .map_err(|_| EndpointError::CallTimeout(END_WAIT))?
    }

    /// Hangs up every call, un-REGISTERs, stops, and returns the last
    /// status. Waits at most [`SHUTDOWN_WAIT`] for the driver (the device
    /// bounds its own wait for the registrar by `shutdown_wait`).
    pub async fn shutdown(self) -> DeviceStatus {
        let before = self.status().await;
        let _ = self.commands.send(Command::Shutdown).await;
        let mut board = self.board.clone();
        let stopped =
            ::tokio::time::timeout(SHUTDOWN_WAIT, board.wait_for(|b| b.stopped.is_some())).await;
        match stopped {
            Ok(Ok(b)) => b.stopped.as_deref().cloned().unwrap_or(before),
            Ok(Err(_)) => {
                log::warn!("the device driver ended without stopping the device (dropped?)");
                before
            }
            Err(_) => {
                log::warn!("the device did not stop within {SHUTDOWN_WAIT:?}; not waiting for it");
                before
            }
        }
    }
}
