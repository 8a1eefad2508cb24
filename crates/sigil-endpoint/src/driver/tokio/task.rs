//! The async driver's task: the device's loop in one `select!` over
//! commands, socket readiness and the next deadline.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use ::tokio::sync::{broadcast, mpsc, watch};

use super::*;
use crate::device::{CallId, Event};
use crate::driver::core::{Board, Command, Core, Outlet};
use crate::status::{CallStatus, DeviceStatus};

/// Where the async driver's events go: subscribers, the board the handle
/// waits on, and the boot while it listens.
pub(super) struct TokioOutlet {
    pub(super) events: broadcast::Sender<Event>,
    pub(super) board: watch::Sender<Board>,
    pub(super) boot: Option<mpsc::UnboundedSender<Event>>,
}

impl Outlet for TokioOutlet {
    fn established(&mut self, call: CallId) {
        self.board.send_modify(|b| b.establish(call));
    }

    fn ended(&mut self, call: CallId, status: &CallStatus) {
        self.board.send_modify(|b| b.end(call, status.clone()));
    }

    fn event(&mut self, event: Event) {
        if let Some(boot) = &self.boot {
            if boot.send(event.clone()).is_err() {
                self.boot = None;
            }
        }
        // No subscriber is not an error.
        let _ = self.events.send(event);
    }
}

pub(super) struct AsyncDriver {
    pub(super) core: Core<TokioSockets>,
    pub(super) commands: mpsc::Receiver<Command>,
    pub(super) outlet: TokioOutlet,
}

/// Sleeps until `at`, or forever.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => ::tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

impl AsyncDriver {
    /// Runs until the device has stopped; the status it stopped with.
    pub(super) async fn run(mut self) -> DeviceStatus {
        let mut handles = true;
        // Bounded by the device: it stops within its shutdown wait once
        // asked, and it is asked when the last handle goes.
        loop {
            self.core.pump(Instant::now(), &mut self.outlet);
            if self.core.device.is_stopped() {
                break;
            }
            let wake_at = [
                self.core.device.poll_timeout(),
                self.core.sockets.next_deadline(),
            ]
            .into_iter()
            .flatten()
            .min();
            let sockets = &mut self.core.sockets;
            ::tokio::select! {
                command = self.commands.recv(), if handles => match command {
                    Some(command) => {
                        self.core.command(command);
                        // Bounded: what is queued, at most a channel's worth.
                        for _ in 0..COMMAND_CAPACITY {
                            let Ok(command) = self.commands.try_recv() else { break };
                            self.core.command(command);
                        }
                    }
                    None => {
                        handles = false;
                        log::info!("every handle of the device is gone: shutting down");
                        self.core.device.shutdown(Instant::now());
                    }
                },
                reports = std::future::poll_fn(|cx| sockets.poll_io(cx)) => self.core.feed(reports),
                () = sleep_until(wake_at) => {}
            }
            let now = Instant::now();
            let mut reports = Vec::new();
            self.core.sockets.expire(now, &mut reports);
            self.core.feed(reports);
            self.core.device.handle_timeout(now);
        }
        let status = self.core.status();
        let last = Box::new(status.clone());
        self.outlet.board.send_modify(|b| b.stopped = Some(last));
        log::info!("device stopped");
        status
    }
}

/// The task that runs a device: poll it to completion on a Tokio runtime
/// (with I/O and time enabled) — `tokio::spawn(driver)`, or
/// [`AsyncDevice::spawn`] which does that. It resolves, with the status
/// the device stopped with, once the device reports [`Event::Stopped`].
/// Nothing happens while it is not polled.
#[must_use = "the device runs only while its driver is polled"]
pub struct DeviceDriver {
    pub(super) run: Pin<Box<dyn Future<Output = DeviceStatus> + Send>>,
}

impl std::fmt::Debug for DeviceDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceDriver").finish_non_exhaustive()
    }
}

impl Future for DeviceDriver {
    type Output = DeviceStatus;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<DeviceStatus> {
        self.run.as_mut().poll(cx)
    }
}
