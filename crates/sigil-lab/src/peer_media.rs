//! The media of the lab's peer phones: one UDP socket and one thread per
//! call, sending a tone frame every 20 ms for a while and counting what
//! arrives. Lab code: a device runs its media inside the sans-IO
//! `sigil_endpoint::device::Device` instead.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sigil_endpoint::media::{MediaStats, MediaStream, FRAME, MAX_DATAGRAM};

/// The media driver of one call: a UDP socket and a thread that sends a tone
/// frame every 20 ms (for a given duration) and counts what it receives.
#[derive(Debug)]
pub struct MediaSession {
    local: SocketAddr,
    stats: Arc<Mutex<MediaStats>>,
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

    /// Start media toward `peer`: send `send_for` of tone (then keep
    /// receiving until [`MediaSession::stop`]).
    pub fn start(
        self,
        stream: MediaStream,
        peer: SocketAddr,
        send_for: Duration,
    ) -> std::io::Result<MediaSession> {
        let local = self.socket.local_addr()?;
        self.socket
            .set_read_timeout(Some(Duration::from_millis(5)))?;
        let stats = Arc::new(Mutex::new(MediaStats::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stats = Arc::clone(&stats);
            let stop = Arc::clone(&stop);
            let socket = self.socket;
            std::thread::Builder::new()
                .name("sigil-media".into())
                .spawn(move || run_media(socket, stream, peer, send_for, &stats, &stop))?
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
    socket: UdpSocket,
    mut stream: MediaStream,
    peer: SocketAddr,
    send_for: Duration,
    stats: &Mutex<MediaStats>,
    stop: &AtomicBool,
) {
    let start = Instant::now();
    let frames_to_send = (send_for.as_millis() / FRAME.as_millis()) as u64;
    let mut sent = 0u64;
    let mut buf = [0u8; MAX_DATAGRAM];
    let mut foreign = 0u64;
    while !stop.load(Ordering::Relaxed) {
        if sent < frames_to_send && start.elapsed() >= FRAME * (sent as u32) {
            match stream.next_packet() {
                Ok(p) => {
                    if let Err(e) = socket.send_to(&p, peer) {
                        log::debug!("media: send to {peer} failed: {e}");
                    }
                }
                Err(e) => log::warn!("media: cannot protect a frame: {e}"),
            }
            sent += 1;
        }
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                if from.ip() != peer.ip() {
                    foreign += 1;
                } else if let Some(d) = buf.get(..n) {
                    stream.receive(d);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => {
                log::debug!("media: receive failed: {e}");
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        if let Ok(mut s) = stats.lock() {
            *s = stream.stats();
            s.foreign = foreign;
        }
    }
}

impl MediaSession {
    /// The local RTP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The counters so far.
    pub fn stats(&self) -> MediaStats {
        self.stats.lock().map(|s| *s).unwrap_or_default()
    }

    /// Stop the media thread and return the final counters.
    pub fn stop(&mut self) -> MediaStats {
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
    use sigil_endpoint::media::MediaCrypto;
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
        let mut a = sa
            .start(MediaStream::new(ca), ab, Duration::from_millis(200))
            .unwrap();
        let mut b = sb
            .start(MediaStream::new(cb), aa, Duration::from_millis(200))
            .unwrap();
        // Wait (bounded) until both sent their 10 frames and received them.
        for _ in 0..300 {
            if a.stats().frames_received >= 10 && b.stats().frames_received >= 10 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let (sa, sb) = (a.stop(), b.stop());
        assert_eq!((sa.frames_sent, sb.frames_sent), (10, 10));
        assert_eq!((sa.frames_received, sb.frames_received), (10, 10));
        assert_eq!(sa.decrypt_failures + sb.decrypt_failures, 0);
    }
}
