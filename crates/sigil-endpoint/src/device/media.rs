//! The media of one call inside the device: its socket, the peer's address,
//! and the per-call media engine on the call's 20 ms clock.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use sigil_srtp::Session;

use super::io::{SocketId, Transmit};
use super::{CallId, Event};
use crate::error::EndpointError;
use crate::media::{MediaCrypto, MediaStats, MediaStream, FRAME};

/// What protects a call's media.
pub(crate) enum Crypto {
    Plain,
    Srtp {
        send: Box<Session>,
        receive: Box<Session>,
    },
}

/// The running media of a call.
pub(crate) struct CallMedia {
    stream: MediaStream,
    socket: SocketId,
    peer: SocketAddr,
    next_tick: Instant,
    queued: std::collections::VecDeque<Vec<i16>>,
}

impl CallMedia {
    pub(crate) fn new(
        crypto: Crypto,
        socket: SocketId,
        peer: SocketAddr,
        now: Instant,
        _wall: SystemTime,
    ) -> CallMedia {
        let crypto = match crypto {
            Crypto::Plain => MediaCrypto::Plain,
            Crypto::Srtp { send, receive } => MediaCrypto::Srtp { send, receive },
        };
        CallMedia {
            stream: MediaStream::new(crypto),
            socket,
            peer,
            next_tick: now,
            queued: std::collections::VecDeque::new(),
        }
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        Some(self.next_tick)
    }

    pub(crate) fn handle_timeout(
        &mut self,
        now: Instant,
        _call: CallId,
        transmits: &mut Vec<Transmit>,
        _events: &mut Vec<Event>,
    ) {
        // Bounded: at most 5 ticks of catching up, then the clock re-anchors.
        for _ in 0..5 {
            if self.next_tick > now {
                return;
            }
            self.queued.pop_front();
            if let Ok(packet) = self.stream.next_packet() {
                transmits.push(Transmit::SendTo {
                    socket: self.socket,
                    to: self.peer,
                    data: packet,
                });
            }
            self.next_tick += FRAME;
        }
        if self.next_tick <= now {
            self.next_tick = now + FRAME;
        }
    }

    pub(crate) fn receive(&mut self, from: SocketAddr, data: &[u8], _now: Instant) {
        if from != self.peer {
            return;
        }
        let _ = self.stream.receive(data);
    }

    pub(crate) fn queue_audio(&mut self, frame: &[i16]) {
        if self.queued.len() >= 5 {
            self.queued.pop_front();
        }
        self.queued.push_back(frame.to_vec());
    }

    pub(crate) fn send_dtmf(
        &mut self,
        _digit: char,
        _duration: Duration,
    ) -> Result<(), EndpointError> {
        Err(EndpointError::Config(
            "telephone-events are not negotiated".into(),
        ))
    }

    pub(crate) fn stats(&self) -> MediaStats {
        self.stream.stats()
    }

    pub(crate) fn stop(&mut self, _now: Instant, _transmits: &mut Vec<Transmit>) {}
}
