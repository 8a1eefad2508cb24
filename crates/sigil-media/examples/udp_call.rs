//! A three-second SRTP call between two media streams over UDP on 127.0.0.1.
//!
//! Each side gets a socket, fresh SDES keys (sigil-srtp) and a
//! [`MediaStream`] (PCMU, telephone-event on payload type 101, rtcp-mux —
//! what the SDP would have agreed). One driver loop — the loop a device runs
//! around its sockets — moves the datagrams and the time: Alice sends a
//! 440 Hz tone and the DTMF digits `1` and `#`, Bob sends 1000 Hz, and Alice
//! ends with an RTCP BYE. Then each side reports the tone it heard (found
//! in the decoded audio), the digits, the BYE and its call statistics.
//!
//! `cargo run -p sigil-media --example udp_call` — no arguments, loopback
//! only, about three seconds; exits non-zero when something was not heard.

use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sigil_media::{
    tone, Codec, MediaConfig, MediaCrypto, MediaEvent, MediaStream, ToneSource, WallClock,
};
use sigil_srtp::{CryptoParams, Session, Suite};

type Error = Box<dyn std::error::Error>;

const CALL: Duration = Duration::from_secs(3);
const FRAME: Duration = Duration::from_millis(20);

/// One end of the call: its socket, its stream, what it plays and what it heard.
struct Side {
    name: &'static str,
    socket: UdpSocket,
    peer: SocketAddr,
    stream: MediaStream,
    source: ToneSource,
    next_frame: Instant,
    heard: Vec<i16>,
    digits: String,
    bye: bool,
}

impl Side {
    /// One turn of the driver loop at `now`.
    fn turn(&mut self, now: Instant, buf: &mut [u8]) -> Result<(), Error> {
        // The microphone: one 20 ms frame per 20 ms while the call lasts.
        while self.next_frame <= now && !self.stream.is_stopped() {
            self.stream.queue_audio(&self.source.next_frame());
            self.next_frame += FRAME;
        }
        if self.stream.poll_timeout().is_some_and(|at| at <= now) {
            self.stream.handle_timeout(now);
        }
        while let Some(transmit) = self.stream.poll_transmit() {
            self.socket.send_to(&transmit.data, self.peer)?;
            self.stream.recycle(transmit.data);
        }
        loop {
            match self.socket.recv_from(buf) {
                Ok((n, from)) if from == self.peer => self.stream.receive(&buf[..n], now),
                Ok(_) => {} // not our peer: ignored
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e.into()),
            }
        }
        while let Some(event) = self.stream.poll_event() {
            match event {
                MediaEvent::Audio { frame, .. } => self.heard.extend_from_slice(&frame),
                MediaEvent::Dtmf { digit } => self.digits.push(digit),
                MediaEvent::PeerBye { .. } => self.bye = true,
            }
        }
        Ok(())
    }

    /// The dominant frequency of what was heard after the first half second.
    fn heard_tone(&self) -> Option<(f64, f64)> {
        let settled = self.heard.get(4000..)?;
        tone::dominant_frequency(settled, 100.0, 3900.0)
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("udp_call: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<bool, Error> {
    let t0 = Instant::now();
    let clock = WallClock::new(t0, SystemTime::now().duration_since(UNIX_EPOCH)?);

    // SDES: each side's key, as its SDP would announce it to the other.
    let suite = Suite::AesCm128HmacSha1_80;
    let (alice_key, bob_key) = (
        CryptoParams::generate(1, suite)?,
        CryptoParams::generate(1, suite)?,
    );
    let crypto = |own: &CryptoParams, peer: &CryptoParams| -> Result<MediaCrypto, Error> {
        Ok(MediaCrypto::Srtp {
            send: Box::new(Session::outbound(own.policy()?)?),
            receive: Box::new(Session::inbound(peer.policy()?)?),
        })
    };

    let alice_socket = UdpSocket::bind("127.0.0.1:0")?;
    let bob_socket = UdpSocket::bind("127.0.0.1:0")?;
    let (alice_addr, bob_addr) = (alice_socket.local_addr()?, bob_socket.local_addr()?);
    let side = |name, socket: UdpSocket, peer, cname: &str, crypto, hz| -> Result<Side, Error> {
        socket.set_nonblocking(true)?;
        let config = MediaConfig::new(Codec::Pcmu, cname, clock)
            .with_telephone_event(Some(101))
            .with_rtcp_mux(true);
        Ok(Side {
            name,
            socket,
            peer,
            stream: MediaStream::new(config, crypto, t0),
            source: ToneSource::new(hz),
            next_frame: t0,
            heard: Vec::new(),
            digits: String::new(),
            bye: false,
        })
    };
    let mut alice = side(
        "alice",
        alice_socket,
        bob_addr,
        "alice@door17",
        crypto(&alice_key, &bob_key)?,
        440.0,
    )?;
    let mut bob = side(
        "bob",
        bob_socket,
        alice_addr,
        "bob@desk",
        crypto(&bob_key, &alice_key)?,
        1000.0,
    )?;
    println!(
        "alice {alice_addr} ⇄ bob {bob_addr}: PCMU over SRTP {suite}, rtcp-mux, {} s",
        CALL.as_secs()
    );

    // The driver loop.
    let mut buf = vec![0u8; 2048];
    let mut digits = [
        (Duration::from_millis(1000), '1'),
        (Duration::from_millis(1600), '#'),
    ]
    .into_iter()
    .peekable();
    let mut stopped = false;
    while t0.elapsed() < CALL + Duration::from_millis(300) {
        let now = Instant::now();
        if let Some(&(at, digit)) = digits.peek() {
            if now >= t0 + at {
                alice.stream.send_dtmf(digit, Duration::from_millis(120))?;
                digits.next();
            }
        }
        if !stopped && now >= t0 + CALL {
            if let Some(bye) = alice.stream.stop(now) {
                alice.socket.send_to(&bye.data, alice.peer)?;
            }
            stopped = true;
        }
        alice.turn(now, &mut buf)?;
        bob.turn(now, &mut buf)?;
        std::thread::sleep(Duration::from_millis(2));
    }

    let mut ok = true;
    for (side, expected) in [(&alice, 1000.0), (&bob, 440.0)] {
        let stats = side.stream.stats();
        let heard = side.heard_tone();
        println!(
            "{}: heard {}, digits {:?}, BYE {}",
            side.name,
            heard.map_or("silence".to_owned(), |(f, purity)| format!(
                "{f:.0} Hz (purity {purity:.2})"
            )),
            side.digits,
            if side.bye { "received" } else { "not received" },
        );
        println!(
            "  sent {} packets, received {}, lost {}, jitter {:.2} ms, RTT {}, RTCP sent {} / received {}, SRTP failures {}",
            stats.packets_sent,
            stats.packets_received,
            stats.packets_lost,
            stats.jitter_ms,
            stats.rtt_ms.map_or("-".to_owned(), |ms| format!("{ms:.2} ms")),
            stats.rtcp_sent,
            stats.rtcp_received,
            stats.srtp_auth_failures,
        );
        ok &= heard.is_some_and(|(f, _)| (f - expected).abs() <= 5.0)
            && stats.packets_received >= 100
            && stats.srtp_auth_failures == 0;
    }
    ok &= bob.digits == "1#" && bob.bye;
    println!(
        "{}",
        if ok {
            "call as expected"
        } else {
            "UNEXPECTED CALL"
        }
    );
    Ok(ok)
}
