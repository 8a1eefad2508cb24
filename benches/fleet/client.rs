//! The load: one tokio task per device — TCP from its own loopback address,
//! mutual TLS with its own certificate, REGISTER, then CRLF keep-alive pings
//! until told to stop — and the misbehaving clients. Every wait is bounded.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sigil_sip_tls::{ConnectionEvent, ConnectionSettings, Connector, SipTlsConnection};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// What one device saw.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// From TCP connect to the end of the TLS handshake (client side).
    pub handshake: Option<Duration>,
    /// When the handshake completed.
    pub handshake_done: Option<Instant>,
    /// From sending REGISTER to its 200 OK.
    pub register: Option<Duration>,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// How the load is run.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub server: SocketAddr,
    pub ping_every: Duration,
    /// Bound on a device's handshake plus REGISTER.
    pub timeout: Duration,
}

/// The clients that misbehave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bad {
    /// Half a ClientHello, then silence.
    Stall,
    /// Bytes that are not TLS.
    Garbage,
    /// A TLS client without a certificate.
    NoCertificate,
}

/// Loopback source address of client `i` of group `group`: 32 clients per
/// address, so per-address limits see a fleet, not one host.
pub fn source(group: u8, i: usize) -> IpAddr {
    let k = i / 32;
    IpAddr::V4(Ipv4Addr::new(
        127,
        group,
        (k / 250) as u8,
        (k % 250 + 1) as u8,
    ))
}

/// Live counters of a run.
#[derive(Debug, Default)]
pub struct Live {
    /// Devices registered (or failed): the connect phase is over when all are.
    pub settled: AtomicUsize,
    /// Devices whose connection is up and registered now.
    pub alive: AtomicUsize,
    /// Pongs received.
    pub pongs: AtomicUsize,
}

fn settings() -> ConnectionSettings {
    ConnectionSettings {
        keepalive_interval: None,
        handshake_timeout: Duration::from_secs(60),
        ..ConnectionSettings::default()
    }
}

fn register(i: usize, src: IpAddr) -> sigil_sip::Message {
    let text = format!(
        "REGISTER sip:example.com SIP/2.0\r\n\
         Via: SIP/2.0/TLS {src}:5061;branch=z9hG4bKfleet{i}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:dev{i}@example.com>;tag=f{i}\r\n\
         To: <sip:dev{i}@example.com>\r\n\
         Call-ID: fleet{i}@{src}\r\n\
         CSeq: 1 REGISTER\r\n\
         Contact: <sip:dev{i}@{src}:5061;transport=tls>;expires=3600\r\n\
         Content-Length: 0\r\n\r\n"
    );
    sigil_sip::parse(text.as_bytes()).expect("our REGISTER parses")
}

/// Reads what the socket has and feeds the connection; `false` at end of stream.
fn read_available(stream: &TcpStream, conn: &mut SipTlsConnection) -> Result<bool, String> {
    let mut buf = [0u8; 8192];
    for _ in 0..16 {
        match stream.try_read(&mut buf) {
            Ok(0) => {
                let _ = conn.handle_eof(std::time::Instant::now());
                return Ok(false);
            }
            Ok(n) => {
                conn.handle_input(&buf[..n], std::time::Instant::now())
                    .map_err(|e| e.to_string())?;
                if n < buf.len() {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(true)
}

async fn flush(stream: &TcpStream, conn: &mut SipTlsConnection) -> Result<(), String> {
    let out = conn.take_transmit();
    let mut data = &out[..];
    while !data.is_empty() {
        match stream.try_write(data) {
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                tokio::time::timeout(Duration::from_secs(10), stream.writable())
                    .await
                    .map_err(|_| "write timeout".to_owned())?
                    .map_err(|e| e.to_string())?;
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(())
}

async fn connect(server: SocketAddr, src: IpAddr) -> Result<TcpStream, String> {
    let socket = TcpSocket::new_v4().map_err(|e| e.to_string())?;
    socket
        .bind(SocketAddr::new(src, 0))
        .map_err(|e| format!("bind {src}: {e}"))?;
    let stream = socket.connect(server).await.map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// Handshake as a client; the time it took from `t0`.
async fn handshake(
    stream: &TcpStream,
    conn: &mut SipTlsConnection,
    deadline: Instant,
) -> Result<(), String> {
    // Bounded by the deadline: every round waits for the socket or ends.
    loop {
        flush(stream, conn).await?;
        if !conn.is_handshaking() {
            return Ok(());
        }
        tokio::time::timeout_at(deadline, stream.readable())
            .await
            .map_err(|_| "handshake timeout".to_owned())?
            .map_err(|e| e.to_string())?;
        if !read_available(stream, conn)? {
            return Err("closed during the handshake".to_owned());
        }
    }
}

/// Waits for the response to what we sent (its status), until `deadline`.
async fn response(
    stream: &TcpStream,
    conn: &mut SipTlsConnection,
    deadline: Instant,
) -> Result<u16, String> {
    loop {
        while let Some(ev) = conn.poll_event() {
            match ev {
                ConnectionEvent::Message(sigil_sip::Message::Response(r)) => return Ok(r.status),
                ConnectionEvent::Closed => return Err("closed before the response".to_owned()),
                _ => {}
            }
        }
        tokio::time::timeout_at(deadline, stream.readable())
            .await
            .map_err(|_| "no response in time".to_owned())?
            .map_err(|e| e.to_string())?;
        if !read_available(stream, conn)? {
            return Err("closed before the response".to_owned());
        }
        flush(stream, conn).await?;
    }
}

/// One device: connect, handshake, REGISTER, then ping until `stop`.
pub async fn device(
    i: usize,
    connector: Arc<Connector>,
    plan: Plan,
    permit: Option<OwnedSemaphorePermit>,
    live: Arc<Live>,
    mut stop: watch::Receiver<bool>,
) -> Outcome {
    let mut outcome = Outcome::default();
    let src = source(1, i);
    let t0 = Instant::now();
    let deadline = t0 + plan.timeout;
    let result: Result<(TcpStream, SipTlsConnection), String> = async {
        let stream = connect(plan.server, src).await?;
        let mut conn = connector
            .connection(std::time::Instant::now(), settings())
            .map_err(|e| e.to_string())?;
        handshake(&stream, &mut conn, deadline).await?;
        outcome.handshake = Some(t0.elapsed());
        outcome.handshake_done = Some(Instant::now());
        let sent = Instant::now();
        conn.send(&register(i, src)).map_err(|e| e.to_string())?;
        flush(&stream, &mut conn).await?;
        let status = response(&stream, &mut conn, deadline).await?;
        if status != 200 {
            return Err(format!("REGISTER answered {status}"));
        }
        outcome.register = Some(sent.elapsed());
        Ok((stream, conn))
    }
    .await;
    drop(permit);
    live.settled.fetch_add(1, Ordering::SeqCst);
    let (stream, mut conn) = match result {
        Ok(c) => c,
        Err(e) => {
            outcome.error = Some(e);
            return outcome;
        }
    };
    live.alive.fetch_add(1, Ordering::SeqCst);
    // Hold: ping, count pongs, until told to stop or the server closes.
    let mut next_ping = Instant::now() + plan.ping_every;
    let lost = loop {
        if *stop.borrow() {
            break false;
        }
        tokio::select! {
            _ = stop.changed() => break false,
            _ = tokio::time::sleep_until(next_ping) => {
                next_ping = Instant::now() + plan.ping_every;
                if conn.send_ping(std::time::Instant::now()).is_err() || flush(&stream, &mut conn).await.is_err() {
                    break true;
                }
            }
            r = stream.readable() => {
                if r.is_err() || !matches!(read_available(&stream, &mut conn), Ok(true)) {
                    break true;
                }
                while let Some(ev) = conn.poll_event() {
                    if matches!(ev, ConnectionEvent::PongReceived) {
                        live.pongs.fetch_add(1, Ordering::Relaxed);
                    }
                }
                if conn.is_finished() {
                    break true;
                }
            }
        }
    };
    if lost {
        outcome.error = Some("connection lost while held".to_owned());
    }
    live.alive.fetch_sub(1, Ordering::SeqCst);
    conn.close();
    let _ = flush(&stream, &mut conn).await;
    outcome
}

/// A misbehaving client; returns whether the server closed it (before `stop`).
pub async fn bad(
    j: usize,
    kind: Bad,
    connector: Arc<Connector>,
    plan: Plan,
    mut stop: watch::Receiver<bool>,
) -> bool {
    let Ok(stream) = connect(plan.server, source(2, j)).await else {
        return true;
    };
    let mut conn = None;
    match kind {
        Bad::Stall => {
            let _ = stream.try_write(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]);
        }
        Bad::Garbage => {
            let _ = stream.try_write(
                b"GET / HTTP/1.0\r\nX: \x00\x01\x02\xff garbage garbage garbage\r\n\r\n",
            );
        }
        Bad::NoCertificate => {
            if let Ok(mut c) = connector.connection(std::time::Instant::now(), settings()) {
                let _ = flush(&stream, &mut c).await;
                conn = Some(c);
            }
        }
    }
    // Until the server closes it or we are told to stop.
    loop {
        tokio::select! {
            _ = stop.changed() => return false,
            r = stream.readable() => {
                if r.is_err() {
                    return true;
                }
                let open = match conn.as_mut() {
                    Some(c) => {
                        let open = matches!(read_available(&stream, c), Ok(true));
                        let _ = flush(&stream, c).await;
                        open && !c.is_finished()
                    }
                    None => {
                        let mut buf = [0u8; 1024];
                        match stream.try_read(&mut buf) {
                            Ok(0) => false,
                            Ok(_) => true,
                            Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
                        }
                    }
                };
                if !open {
                    return true;
                }
            }
        }
    }
}

/// The connect limiter shared by the devices of one run.
pub fn limiter(concurrency: usize) -> Arc<Semaphore> {
    Arc::new(Semaphore::new(concurrency.max(1)))
}

/// Connect from 127.0.0.1, handshake, close: the latency test's client.
pub async fn handshake_only(server: SocketAddr, connector: &Connector) -> Result<(), String> {
    let stream = connect(server, IpAddr::V4(Ipv4Addr::LOCALHOST)).await?;
    let mut conn = connector
        .connection(std::time::Instant::now(), settings())
        .map_err(|e| e.to_string())?;
    handshake(&stream, &mut conn, Instant::now() + Duration::from_secs(10)).await?;
    conn.close();
    let _ = flush(&stream, &mut conn).await;
    Ok(())
}
