//! The device: a data directory composed into a running SIP endpoint (SPEC E1–E4).
//!
//! ```no_run
//! use sigil_endpoint::{CallOptions, Device, RunOptions};
//!
//! let device = Device::open("/data/device")?;
//! let running = device
//!     .boot(RunOptions::default(), &mut |step| println!("{step}"))
//!     .map_err(|f| f.error)?;
//! let call = running.call("sip:1002@pbx.example.com", CallOptions::default())?;
//! println!("{}: {} frames sent, {} received", call.media, call.stats.frames_sent, call.stats.frames_received);
//! println!("{}", running.shutdown().to_json());
//! # Ok::<(), sigil_endpoint::EndpointError>(())
//! ```
//!
//! - [`Device::open`] / [`DataDir`]: the data directory (`factory/`, `user/`).
//! - [`Device::offline_status`]: identity, trust and configuration without network.
//! - [`Device::boot`]: the boot pipeline, each [`BootStep`] with its [`Outcome`];
//!   returns a [`RunningDevice`] (registered, answering calls).
//! - [`RunningDevice::call`], [`RunningDevice::status`] ([`DeviceStatus`], JSON),
//!   [`RunningDevice::shutdown`] (un-REGISTER).
//! - [`Device::factory_reset`].
//! - [`media`]: RTP, the G.711 tone source and the counting sink.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod device;
pub mod engine;
mod error;
mod link;
pub mod media;
pub mod provision;
pub mod status;

pub use device::{DataDir, Device, Prepared};
pub use engine::{BootFailure, CallOptions, DeviceEvent, EventSink, RunOptions, RunningDevice};
pub use error::EndpointError;
pub use status::{
    BootStep, CallDirection, CallStatus, ConnectionStatus, DeviceStatus, Outcome,
    ProvisioningStatus, RegistrationStatus, TrustSummary,
};
#[cfg(feature = "testkit")]
pub mod demo;
#[cfg(feature = "testkit")]
pub mod testkit;
