//! Drivers: what runs the sans-IO [`crate::device::Device`] over real
//! sockets and clocks. [`blocking`] is a `mio` event loop on one thread,
//! and [`RunningDevice`] its handle; [`audio`] is how calls' audio gets in
//! and out.

pub mod audio;
pub mod blocking;
pub(crate) mod net;

pub use audio::{CallAudio, FileAudio, Record, ToneAudio, FRAME_SAMPLES};
pub use blocking::{CallOptions, EventSink, RunningDevice, SHUTDOWN_WAIT};
