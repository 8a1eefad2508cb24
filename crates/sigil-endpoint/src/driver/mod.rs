//! Drivers: what runs the sans-IO [`crate::device::Device`] over real
//! sockets and clocks. [`blocking`] is a `mio` event loop on one thread,
//! and [`RunningDevice`] its handle; with the `tokio` feature, `tokio`
//! runs the device as a Tokio task behind `AsyncDevice`. [`audio`] is how
//! calls' audio gets in and out, for both. `core` and `common` hold what
//! does not depend on how the driver waits (commands, event routing, write
//! queues, read loops).

pub mod audio;
pub mod blocking;
mod common;
pub(crate) mod core;
pub(crate) mod net;
#[cfg(feature = "tokio")]
pub mod tokio;

pub use audio::{CallAudio, FileAudio, Record, ToneAudio, FRAME_SAMPLES};
pub use blocking::{CallOptions, EventSink, RunningDevice, SHUTDOWN_WAIT};
