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

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io;
use std::net::{Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use ::tokio::net::{TcpListener, TcpStream, UdpSocket};
use ::tokio::sync::{broadcast, mpsc, oneshot, watch};
use ::tokio::task::{AbortHandle, JoinSet};
use sigil_srtp::negotiate::OfferPolicy;

use super::audio::CallAudio;
use super::blocking::{CallOptions, EventSink, SHUTDOWN_WAIT};
use super::common::{
    self, first_address, is_would_block, write_failed, write_stalled, OwnedInput, ReadEnd,
    WriteQueue, CONNECT_TIMEOUT, DATAGRAM_MAX, READS_PER_WAKE,
};
use super::core::{self, Board, Command, Core, Outlet, Reply, Sockets};
use crate::device::{CallId, ConnId, Device, Event, SocketId, Transmit};
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

// --- sockets ---------------------------------------------------------------

/// One non-blocking operation on a Tokio socket, polled for readiness first
/// so that a `WouldBlock` leaves this task's waker registered (Tokio only
/// stores the waker when a readiness poll is pending).
fn poll_op<T>(
    cx: &mut Context<'_>,
    mut ready: impl FnMut(&mut Context<'_>) -> Poll<io::Result<()>>,
    mut op: impl FnMut() -> io::Result<T>,
) -> io::Result<T> {
    // Bounded: a `WouldBlock` clears the readiness, so the next poll is
    // pending unless the socket became ready again meanwhile; past a few
    // rounds, ask to be polled again rather than spin.
    for _ in 0..4 {
        match ready(cx) {
            Poll::Pending => return Err(io::ErrorKind::WouldBlock.into()),
            Poll::Ready(Err(e)) => return Err(e),
            Poll::Ready(Ok(())) => match op() {
                Err(e) if is_would_block(&e) => {}
                other => return other,
            },
        }
    }
    cx.waker().wake_by_ref();
    Err(io::ErrorKind::WouldBlock.into())
}

/// A stream connection: TCP, with the bounded write queue.
struct Stream {
    socket: TcpStream,
    queue: WriteQueue,
}

impl Stream {
    fn new(socket: TcpStream) -> Stream {
        let _ = socket.set_nodelay(true);
        Stream {
            socket,
            queue: WriteQueue::default(),
        }
    }
}

/// A UDP socket (media, or the SIP-over-UDP flow of a connection id) with
/// the datagrams it could not send yet.
struct Datagrams {
    socket: UdpSocket,
    /// `None`: the connected peer (a flow).
    queue: VecDeque<(Option<SocketAddr>, Vec<u8>)>,
}

fn try_send(socket: &UdpSocket, to: Option<SocketAddr>, data: &[u8]) -> io::Result<usize> {
    match to {
        Some(to) => socket.try_send_to(data, to),
        None => socket.try_send(data),
    }
}

impl Datagrams {
    fn new(socket: UdpSocket) -> Datagrams {
        Datagrams {
            socket,
            queue: VecDeque::new(),
        }
    }

    /// Sends now if the socket takes it, else queues (bounded).
    fn send(&mut self, to: Option<SocketAddr>, data: Vec<u8>) {
        if self.queue.is_empty() {
            match try_send(&self.socket, to, &data) {
                Err(e) if is_would_block(&e) => {}
                Err(e) => {
                    log::debug!("UDP send to {to:?}: {e}");
                    return;
                }
                Ok(_) => return,
            }
        }
        if self.queue.len() >= MAX_DATAGRAMS_QUEUED {
            self.queue.pop_front();
        }
        self.queue.push_back((to, data));
    }

    /// Sends what is queued as far as the socket takes it.
    fn poll_flush(&mut self, cx: &mut Context<'_>) {
        let socket = &self.socket;
        // Bounded by the queue: every round sends or drops one, or stops.
        while let Some((to, data)) = self.queue.front() {
            match poll_op(
                cx,
                |cx| socket.poll_send_ready(cx),
                || try_send(socket, *to, data),
            ) {
                Err(e) if is_would_block(&e) => return,
                Err(e) => log::debug!("UDP send to {to:?}: {e}"),
                Ok(_) => {}
            }
            self.queue.pop_front();
        }
    }

    /// Reads what is waiting (bounded), each datagram reported by `report`.
    fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        out: &mut Vec<Report>,
        mut report: impl FnMut(&[u8], SocketAddr) -> OwnedInput,
    ) {
        let socket = &self.socket;
        for _ in 0..READS_PER_WAKE {
            match poll_op(
                cx,
                |cx| socket.poll_recv_ready(cx),
                || socket.try_recv_from(buf),
            ) {
                Ok((n, from)) => out.push(Report::Input(report(&buf[..n], from))),
                Err(e) if is_would_block(&e) => return,
                // ICMP errors (port unreachable) surface on the next read: ignore them.
                Err(_) => {}
            }
        }
    }
}

/// A connection made by a connect task.
enum Opened {
    Tcp(TcpStream),
    Udp(UdpSocket),
}

/// What a connect task ends with.
type Connect = (ConnId, Result<(Opened, SocketAddr, SocketAddr), String>);

/// Resolves `server` and connects to its first address: a TCP stream, or
/// (`udp`) a UDP socket connected to it. `(socket, local, peer)`.
async fn open(server: &str, udp: bool) -> Result<(Opened, SocketAddr, SocketAddr), String> {
    let addr = first_address(server, ::tokio::net::lookup_host(server).await)?;
    if udp {
        let any: SocketAddr = if addr.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let connected = async {
            let socket = UdpSocket::bind(any).await?;
            socket.connect(addr).await?;
            let local = socket.local_addr()?;
            Ok::<_, io::Error>((socket, local))
        };
        return match connected.await {
            Ok((socket, local)) => Ok((Opened::Udp(socket), local, addr)),
            Err(e) => Err(format!("UDP to {addr}: {e}")),
        };
    }
    let socket = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("TCP connect to {addr}: {e}"))?;
    let local = socket
        .local_addr()
        .map_err(|e| format!("TCP connect: {e}"))?;
    let peer = socket
        .peer_addr()
        .map_err(|e| format!("TCP connect: {e}"))?;
    Ok((Opened::Tcp(socket), local, peer))
}

/// Every socket of the async driver, and the connects under way.
pub(crate) struct TokioSockets {
    streams: HashMap<ConnId, Stream>,
    flows: HashMap<ConnId, Datagrams>,
    sockets: HashMap<SocketId, Datagrams>,
    listener: Option<TcpListener>,
    connects: JoinSet<Connect>,
    /// Connects under way; a connection closed meanwhile is not here.
    pending: HashMap<ConnId, AbortHandle>,
    write_timeout: Duration,
}

impl TokioSockets {
    fn new(write_timeout: Duration) -> TokioSockets {
        TokioSockets {
            streams: HashMap::new(),
            flows: HashMap::new(),
            sockets: HashMap::new(),
            listener: None,
            connects: JoinSet::new(),
            pending: HashMap::new(),
            write_timeout,
        }
    }

    fn connect(&mut self, conn: ConnId, server: String, udp: bool) {
        let handle = self.connects.spawn(async move {
            let result = match ::tokio::time::timeout(CONNECT_TIMEOUT, open(&server, udp)).await {
                Ok(result) => result,
                Err(_) => Err(format!(
                    "connecting to {server} timed out after {CONNECT_TIMEOUT:?} (name resolution included)"
                )),
            };
            (conn, result)
        });
        self.pending.insert(conn, handle);
    }

    fn send(&mut self, conn: ConnId, data: Vec<u8>, now: Instant, out: &mut Vec<Report>) {
        if let Some(flow) = self.flows.get_mut(&conn) {
            return flow.send(None, data);
        }
        let Some(stream) = self.streams.get_mut(&conn) else {
            return;
        };
        if let Err(overflow) = stream.queue.push(conn, &data) {
            self.streams.remove(&conn);
            return out.push(Report::Input(overflow));
        }
        let socket = &stream.socket;
        // Outside the task's poll: a full socket leaves the bytes queued,
        // and the next `poll_io` waits for it to be writable.
        if let Err(e) = stream.queue.flush(now, |bytes| socket.try_write(bytes)) {
            self.streams.remove(&conn);
            return out.push(Report::Input(write_failed(conn, &e)));
        }
        if stream.queue.finished() {
            self.streams.remove(&conn);
        }
    }

    fn close(&mut self, conn: ConnId) {
        if let Some(connecting) = self.pending.remove(&conn) {
            connecting.abort();
            return;
        }
        if self.flows.remove(&conn).is_some() {
            return;
        }
        if let Some(stream) = self.streams.get_mut(&conn) {
            stream.queue.close();
            if stream.queue.is_empty() {
                self.streams.remove(&conn);
            }
        }
    }

    fn bind(&mut self, socket: SocketId, ip: std::net::IpAddr) -> OwnedInput {
        let result = std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).and_then(|s| {
            s.set_nonblocking(true)?;
            let s = UdpSocket::from_std(s)?;
            let local = s.local_addr()?;
            Ok((s, local))
        });
        match result {
            Ok((s, local)) => {
                self.sockets.insert(socket, Datagrams::new(s));
                OwnedInput::Bound { socket, local }
            }
            Err(e) => OwnedInput::BindFailed {
                socket,
                reason: format!("UDP on {ip}: {e}"),
            },
        }
    }

    fn listen(&mut self, addr: SocketAddr) -> OwnedInput {
        let result = std::net::TcpListener::bind(addr).and_then(|l| {
            l.set_nonblocking(true)?;
            let l = TcpListener::from_std(l)?;
            let local = l.local_addr()?;
            Ok((l, local))
        });
        match result {
            Ok((l, local)) => {
                self.listener = Some(l);
                OwnedInput::Listening { local }
            }
            Err(e) => OwnedInput::ListenFailed {
                reason: format!("cannot listen on {addr}: {e}"),
            },
        }
    }

    /// Stalled writes: the earliest deadline.
    fn next_deadline(&self) -> Option<Instant> {
        self.streams
            .values()
            .filter_map(|s| s.queue.deadline(self.write_timeout))
            .min()
    }

    /// Fails writes past their deadlines.
    fn expire(&mut self, now: Instant, out: &mut Vec<Report>) {
        let expired: Vec<ConnId> = self
            .streams
            .iter()
            .filter(|(_, s)| {
                s.queue
                    .deadline(self.write_timeout)
                    .is_some_and(|t| t <= now)
            })
            .map(|(id, _)| *id)
            .collect();
        for conn in expired {
            self.streams.remove(&conn);
            out.push(Report::Input(write_stalled(conn, self.write_timeout)));
        }
    }

    /// Everything the sockets have for the device: finished connects,
    /// accepted connections, bytes and datagrams read, write failures.
    /// Pending (with every socket's waker registered) when there is
    /// nothing; each socket is read at most [`READS_PER_WAKE`] times.
    fn poll_io(&mut self, cx: &mut Context<'_>) -> Poll<Vec<Report>> {
        let mut out = Vec::new();
        let now = Instant::now();
        // Bounded by the connects under way.
        while let Poll::Ready(Some(joined)) = self.connects.poll_join_next(cx) {
            let (conn, result) = match joined {
                Ok(done) => done,
                Err(e) => {
                    // Aborted (closed meanwhile: no longer pending), or panicked.
                    let conn = self
                        .pending
                        .iter()
                        .find(|(_, h)| h.id() == e.id())
                        .map(|(c, _)| *c);
                    if let Some(conn) = conn {
                        (conn, Err(format!("connect failed: {e}")))
                    } else {
                        continue;
                    }
                }
            };
            if self.pending.remove(&conn).is_none() {
                continue;
            }
            out.push(Report::Input(match result {
                Ok((opened, local, peer)) => {
                    match opened {
                        Opened::Tcp(socket) => {
                            self.streams.insert(conn, Stream::new(socket));
                        }
                        Opened::Udp(socket) => {
                            self.flows.insert(conn, Datagrams::new(socket));
                        }
                    }
                    OwnedInput::Connected { conn, local, peer }
                }
                Err(reason) => OwnedInput::ConnectFailed { conn, reason },
            }));
        }
        if let Some(listener) = &self.listener {
            for _ in 0..READS_PER_WAKE {
                match listener.poll_accept(cx) {
                    Poll::Ready(Ok((socket, peer))) => {
                        let local = socket.local_addr().unwrap_or(peer);
                        out.push(Report::Accepted {
                            socket,
                            peer,
                            local,
                        });
                    }
                    Poll::Ready(Err(e)) => {
                        log::warn!("accept failed: {e}");
                        break;
                    }
                    Poll::Pending => break,
                }
            }
        }
        let mut gone = Vec::new();
        for (&conn, stream) in &mut self.streams {
            let socket = &stream.socket;
            if !stream.queue.is_empty() {
                let written = stream.queue.flush(now, |bytes| {
                    poll_op(
                        cx,
                        |cx| socket.poll_write_ready(cx),
                        || socket.try_write(bytes),
                    )
                });
                if let Err(e) = written {
                    out.push(Report::Input(write_failed(conn, &e)));
                    gone.push(conn);
                    continue;
                }
                if stream.queue.finished() {
                    gone.push(conn);
                    continue;
                }
            }
            let read = |buf: &mut [u8]| {
                poll_op(cx, |cx| socket.poll_read_ready(cx), || socket.try_read(buf))
            };
            if common::read_stream(conn, READS_PER_WAKE, read, &mut out) == ReadEnd::Closed {
                gone.push(conn);
            }
        }
        for conn in gone {
            self.streams.remove(&conn);
        }
        let mut buf = vec![0u8; DATAGRAM_MAX];
        for (&conn, flow) in &mut self.flows {
            flow.poll_flush(cx);
            flow.poll_read(cx, &mut buf, &mut out, |data, _| OwnedInput::Received {
                conn,
                data: data.to_vec(),
            });
        }
        for (&socket, datagrams) in &mut self.sockets {
            datagrams.poll_flush(cx);
            datagrams.poll_read(cx, &mut buf, &mut out, |data, from| OwnedInput::Datagram {
                socket,
                from,
                data: data.to_vec(),
            });
        }
        if out.is_empty() {
            Poll::Pending
        } else {
            Poll::Ready(out)
        }
    }
}

impl Sockets for TokioSockets {
    type Accepted = TcpStream;

    fn transmit(&mut self, t: Transmit, now: Instant, out: &mut Vec<Report>) {
        match t {
            Transmit::Connect { conn, server, udp } => self.connect(conn, server, udp),
            Transmit::Send { conn, data } => self.send(conn, data, now, out),
            Transmit::Close { conn } => self.close(conn),
            Transmit::Bind { socket, ip } => out.push(Report::Input(self.bind(socket, ip))),
            Transmit::SendTo { socket, to, data } => {
                if let Some(s) = self.sockets.get_mut(&socket) {
                    s.send(Some(to), data);
                }
            }
            Transmit::Release { socket } => {
                self.sockets.remove(&socket);
            }
            Transmit::Listen { addr } => out.push(Report::Input(self.listen(addr))),
            Transmit::StopListening => self.listener = None,
        }
    }

    fn adopt(&mut self, conn: ConnId, socket: TcpStream) {
        self.streams.insert(conn, Stream::new(socket));
    }
}

// --- the driver task -------------------------------------------------------

/// Where the async driver's events go: subscribers, the board the handle
/// waits on, and the boot while it listens.
struct TokioOutlet {
    events: broadcast::Sender<Event>,
    board: watch::Sender<Board>,
    boot: Option<mpsc::UnboundedSender<Event>>,
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

struct AsyncDriver {
    core: Core<TokioSockets>,
    commands: mpsc::Receiver<Command>,
    outlet: TokioOutlet,
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
    async fn run(mut self) -> DeviceStatus {
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
    run: Pin<Box<dyn Future<Output = DeviceStatus> + Send>>,
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

// --- the handle --------------------------------------------------------------

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
