//! The async driver's sockets: Tokio TCP streams with the bounded write
//! queue, UDP sockets, the listener, and connects as child tasks.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{Ipv6Addr, SocketAddr};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use ::tokio::net::{TcpListener, TcpStream, UdpSocket};
use ::tokio::task::{AbortHandle, JoinSet};

use super::*;
use crate::device::{ConnId, SocketId, Transmit};
use crate::driver::common::{
    self, first_address, is_would_block, write_failed, write_stalled, OwnedInput, ReadEnd,
    WriteQueue, CONNECT_TIMEOUT, DATAGRAM_MAX, READS_PER_WAKE,
};
use crate::driver::core::Sockets;

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
    pub(super) fn new(write_timeout: Duration) -> TokioSockets {
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
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.streams
            .values()
            .filter_map(|s| s.queue.deadline(self.write_timeout))
            .min()
    }

    /// Fails writes past their deadlines.
    pub(super) fn expire(&mut self, now: Instant, out: &mut Vec<Report>) {
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
    pub(super) fn poll_io(&mut self, cx: &mut Context<'_>) -> Poll<Vec<Report>> {
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
