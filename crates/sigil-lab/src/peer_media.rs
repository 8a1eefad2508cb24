//! The media of the lab's peer phones: one UDP socket and one thread per
//! call, sending a tone for a while on a 20 ms clock and counting what
//! arrives, through a `sigil_media::MediaStream` (PCMU, RTCP on the RTP
//! port). Lab code: a device runs its media inside the sans-IO
//! `sigil_endpoint::device::Device` instead.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use sigil_media::{
    CallStats, Codec, MediaConfig, MediaCrypto, MediaStream, ToneSource, TransmitKind, WallClock,
};

/// Largest datagram read.
const MAX_DATAGRAM: usize = 2048;

/// The media of one peer call: a socket and the thread running it.
#[derive(Debug)]
pub struct MediaSession {
    local: SocketAddr,
    stats: Arc<Mutex<CallStats>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// A bound RTP socket waiting for the negotiated peer address.
#[derive(Debug)]
pub struct MediaSocket {
    socket: UdpSocket,
}

impl MediaSocket {
    /// Binds a UDP socket on `ip`, any port.
    pub fn bind(ip: std::net::IpAddr) -> std::io::Result<MediaSocket> {
        let socket = UdpSocket::bind(SocketAddr::new(ip, 0))?;
        Ok(MediaSocket { socket })
    }

    /// The bound address (what goes into our SDP).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Starts media toward `peer`: a 440 Hz tone for `send_for`, then
    /// receiving only, until [`MediaSession::stop`]. With `rtcp_mux`, RTCP
    /// flows on the RTP port (RFC 5761); otherwise none is sent.
    pub fn start(
        self,
        crypto: MediaCrypto,
        peer: SocketAddr,
        send_for: Duration,
        rtcp_mux: bool,
    ) -> std::io::Result<MediaSession> {
        let local = self.socket.local_addr()?;
        let now = Instant::now();
        let since_epoch = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let config = MediaConfig::new(
            Codec::Pcmu,
            format!("lab@{local}"),
            WallClock::new(now, since_epoch),
        )
        .with_rtcp_mux(rtcp_mux);
        let stream = MediaStream::new(config, crypto, now);
        let stats = Arc::new(Mutex::new(CallStats::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stats = Arc::clone(&stats);
            let stop = Arc::clone(&stop);
            let socket = self.socket;
            std::thread::Builder::new()
                .name("lab-media".into())
                .spawn(move || {
                    run_media(
                        &socket,
                        stream,
                        peer,
                        now + send_for,
                        rtcp_mux,
                        &stats,
                        &stop,
                    )
                })?
        };
        Ok(MediaSession {
            local,
            stats,
            stop,
            thread: Some(thread),
        })
    }
}

fn run_media(
    socket: &UdpSocket,
    mut stream: MediaStream,
    peer: SocketAddr,
    send_until: Instant,
    rtcp_mux: bool,
    stats: &Mutex<CallStats>,
    stop: &AtomicBool,
) {
    let mut tone = ToneSource::default();
    let mut buf = [0u8; MAX_DATAGRAM];
    // Bounded by the stop flag, checked at least every 20 ms.
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if stream.poll_timeout().is_some_and(|t| t <= now) {
            if now < send_until {
                stream.queue_audio(&tone.next_frame());
            }
            stream.handle_timeout(now);
        }
        while let Some(t) = stream.poll_transmit() {
            // Without rtcp-mux the device's RTCP port is not known here: RTP only.
            if t.kind == TransmitKind::Rtp || rtcp_mux {
                let _ = socket.send_to(&t.data, peer);
            }
        }
        while stream.poll_event().is_some() {}
        let wait = stream
            .poll_timeout()
            .map(|t| t.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_millis(20))
            .clamp(Duration::from_millis(1), Duration::from_millis(20));
        let _ = socket.set_read_timeout(Some(wait));
        if let Ok((n, from)) = socket.recv_from(&mut buf) {
            if from.ip() == peer.ip() {
                stream.receive(&buf[..n], Instant::now());
            }
        }
        if let Ok(mut s) = stats.lock() {
            *s = stream.stats();
        }
    }
}

impl MediaSession {
    /// The local RTP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The statistics so far.
    pub fn stats(&self) -> CallStats {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Stops the thread and returns the final statistics.
    pub fn stop(&mut self) -> CallStats {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.stats()
    }
}

impl Drop for MediaSession {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sigil_srtp::negotiate::{
        basic_audio_sdp, Negotiator, OfferPolicy, SignalingTransport, SrtpConfig,
    };

    fn srtp_pair() -> (MediaCrypto, MediaCrypto) {
        let config = SrtpConfig::new(OfferPolicy::Standard, SignalingTransport::Tls);
        let mut a = Negotiator::new(config.clone()).unwrap();
        let mut b = Negotiator::new(config).unwrap();
        let mut offer = basic_audio_sdp("127.0.0.1".parse().unwrap(), 4000, 1);
        a.create_offer(&mut offer).unwrap();
        let mut answer = basic_audio_sdp("127.0.0.1".parse().unwrap(), 5000, 2);
        let nb = b.answer_offer(&offer, &mut answer).unwrap();
        let na = a.accept_answer(&answer).unwrap();
        let crypto = |n: &sigil_srtp::negotiate::Negotiation| {
            let (_, agreement) = n.srtp().next().unwrap();
            let (send, receive) = agreement.sessions().unwrap();
            MediaCrypto::Srtp {
                send: Box::new(send),
                receive: Box::new(receive),
            }
        };
        (crypto(&na), crypto(&nb))
    }

    #[test]
    fn sessions_exchange_tone_over_loopback_udp() {
        let (ca, cb) = srtp_pair();
        let ip = "127.0.0.1".parse().unwrap();
        let sa = MediaSocket::bind(ip).unwrap();
        let sb = MediaSocket::bind(ip).unwrap();
        let (aa, ab) = (sa.local_addr().unwrap(), sb.local_addr().unwrap());
        let started = Instant::now();
        let mut a = sa.start(ca, ab, Duration::from_millis(200), true).unwrap();
        let mut b = sb.start(cb, aa, Duration::from_millis(200), true).unwrap();
        // Wait (bounded) until both are done sending (200 ms) and each got
        // everything the other sent.
        for _ in 0..300 {
            let (x, y) = (a.stats(), b.stats());
            if x.packets_sent >= 9
                && y.packets_sent >= 9
                && x.packets_received == y.packets_sent
                && y.packets_received == x.packets_sent
                && Instant::now() >= started + Duration::from_millis(300)
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let (sa, sb) = (a.stop(), b.stop());
        assert!((9..=11).contains(&sa.packets_sent), "{sa:?}");
        assert_eq!(sb.packets_received, sa.packets_sent, "{sb:?}");
        assert_eq!(sa.packets_received, sb.packets_sent, "{sa:?}");
        assert_eq!(sa.srtp_auth_failures + sb.srtp_auth_failures, 0);
    }
}
