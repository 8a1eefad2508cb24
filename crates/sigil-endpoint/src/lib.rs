//! The device: a data directory composed into a running SIP endpoint (SPEC E1–E8).
//!
//! ```no_run
//! use sigil_endpoint::{CallOptions, DeviceDir, RunOptions};
//!
//! let dir = DeviceDir::open("/data/device")?;
//! let running = dir
//!     .boot(RunOptions::default(), &mut |step| println!("{step}"))
//!     .map_err(|f| f.error)?;
//! let call = running.call_and_wait("sip:1002@pbx.example.com", CallOptions::default())?;
//! println!("{}: {} packets sent, {} received", call.media, call.stats.packets_sent, call.stats.packets_received);
//! println!("{}", running.shutdown().to_json());
//! # Ok::<(), sigil_endpoint::EndpointError>(())
//! ```
//!
//! - [`device::Device`]: the sans-IO device — registration, keep-alive,
//!   reconnect, calls, offer/answer, SRTP, media, inbound policy — driven by
//!   `handle_input` / `handle_timeout` / `poll_transmit` / `poll_event` /
//!   `poll_timeout`. Put it in your own event loop, or use
//! - [`driver`]: the blocking `mio` driver and its handle [`RunningDevice`]
//!   (dial, answer, hang up, DTMF, status), with [`driver::CallAudio`] for
//!   the audio of calls; with the `tokio` feature, the async driver
//!   `driver::tokio` and its handle `AsyncDevice` (`DeviceDir::boot_async`).
//! - [`DeviceDir`]: the data directory (`factory/`, `user/`):
//!   [`DeviceDir::offline_status`], [`DeviceDir::prepare`] (boot steps 1–4),
//!   [`DeviceDir::boot`] (all of them, then the driver),
//!   [`DeviceDir::factory_reset`].
//! - [`status`]: [`DeviceStatus`] and its parts, serialisable to JSON.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod boot;
pub mod device;
mod dir;
pub mod driver;
mod error;
pub mod provision;
pub mod status;

pub use boot::{BootFailure, RunOptions};
pub use device::{CallId, Device, DeviceConfig, Event};
pub use dir::{DataDir, DeviceDir, Prepared};
#[cfg(feature = "tokio")]
pub use driver::tokio::{AsyncDevice, DeviceDriver};
pub use driver::{CallAudio, CallOptions, EventSink, FileAudio, Record, RunningDevice, ToneAudio};
pub use error::EndpointError;
pub use status::{
    BootStep, CallDirection, CallStatus, ConnectionStatus, DeviceStatus, ListenerStatus, Outcome,
    ProvisioningStatus, RegistrationStatus, TrustSummary,
};
