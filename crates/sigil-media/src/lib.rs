//! Call media for SIP endpoint devices (SPEC E3, E6, E7): RTP, G.711
//! µ-law and A-law in 20 ms frames, a jitter buffer, RFC 4733 DTMF, RTCP
//! with call statistics, over SRTP/SRTCP when the call negotiated it.
//!
//! Everything is sans-IO: datagrams and [`std::time::Instant`]s go in,
//! datagrams and events come out. The crate opens no socket, starts no
//! thread and never reads a clock; a driver does that (see [`stream`] for
//! its loop). Parsers of network bytes and files are total: any input gives
//! a value or a [`MediaError`], never a panic, and allocation is bounded.
//!
//! # The pieces
//!
//! | module | what |
//! |---|---|
//! | [`stream`] | [`MediaStream`], the per-call engine tying the rest together |
//! | [`rtp`] | RTP header parsing, the [`Packetizer`] |
//! | [`codec`] | G.711 [`Codec`]s, SDP names, [`negotiate`] |
//! | [`jitter`] | the receive [`JitterBuffer`] with loss concealment |
//! | [`dtmf`] | RFC 4733 telephone events: payload, sender, receiver |
//! | [`rtcp`] | RTCP SR, RR, SDES, BYE; compound packets; rtcp-mux demultiplexing |
//! | [`stats`] | RFC 3550 Appendix A receiver statistics, RTT, [`CallStats`] |
//! | [`clock`] | NTP timestamps from an `Instant` and a [`WallClock`] anchor |
//! | [`tone`] | the test tone and a frequency detector |
//! | [`wav`] | 8 kHz mono 16-bit WAV files, read and written |
//!
//! # Two streams back to back
//!
//! ```
//! use std::time::{Duration, Instant};
//! use sigil_media::{
//!     tone, Codec, MediaConfig, MediaCrypto, MediaEvent, MediaStream, ToneSource, WallClock,
//! };
//!
//! let t0 = Instant::now(); // the driver's clock; the crate never reads one
//! let clock = WallClock::new(t0, Duration::from_secs(1_700_000_000));
//! let config = |name: &str| MediaConfig::new(Codec::Pcmu, name, clock);
//! let mut alice = MediaStream::new(config("alice@door"), MediaCrypto::Plain, t0);
//! let mut bob = MediaStream::new(config("bob@desk"), MediaCrypto::Plain, t0);
//!
//! let mut source = ToneSource::new(440.0);
//! let mut heard = Vec::new();
//! let mut now = t0;
//! while now < t0 + Duration::from_secs(1) {
//!     alice.queue_audio(&source.next_frame());
//!     alice.handle_timeout(now);
//!     bob.handle_timeout(now);
//!     while let Some(t) = alice.poll_transmit() {
//!         bob.receive(&t.data, now); // a perfect network
//!     }
//!     while let Some(event) = bob.poll_event() {
//!         if let MediaEvent::Audio { frame, .. } = event {
//!             heard.extend_from_slice(&frame);
//!         }
//!     }
//!     now += Duration::from_millis(20);
//! }
//! // After the 60 ms jitter buffer delay, Bob hears Alice's tone.
//! let (frequency, purity) = tone::dominant_frequency(&heard[800..], 100.0, 3900.0).unwrap();
//! assert_eq!(frequency, 440.0);
//! assert!(purity > 0.9);
//! assert_eq!(bob.stats().packets_received, 50);
//! ```
//!
//! `examples/udp_call.rs` runs the same loop over UDP on 127.0.0.1, with
//! SRTP keys from sigil-srtp, DTMF, RTCP and a BYE.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod clock;
pub mod codec;
pub mod dtmf;
mod error;
pub mod jitter;
pub mod rtcp;
pub mod rtp;
pub mod stats;
pub mod stream;
pub mod tone;
pub mod wav;

pub use clock::WallClock;
pub use codec::{negotiate, Codec, Negotiated, PayloadFormat, SAMPLES_PER_FRAME, SAMPLE_RATE};
pub use dtmf::{DtmfReceiver, DtmfSender, TelephoneEvent};
pub use error::MediaError;
pub use jitter::{JitterBuffer, Playout, PlayoutKind};
pub use rtp::{Packetizer, RtpHeader};
pub use stats::{CallStats, PeerReport, ReceptionStats};
pub use stream::{MediaConfig, MediaCrypto, MediaEvent, MediaStream, MediaTransmit, TransmitKind};
pub use tone::ToneSource;
pub use wav::{read_wav, read_wav_from, WavWriter};
