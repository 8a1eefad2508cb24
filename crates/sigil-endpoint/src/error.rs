//! What can go wrong in the endpoint, in the installer's terms.

use std::path::PathBuf;
use std::time::Duration;

/// An endpoint error.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// `DIR/factory/` does not exist: not a device data directory.
    #[error("{} does not exist: not a device data directory (it needs factory/ and user/)", .0.display())]
    NoFactoryPartition(PathBuf),
    /// A file or socket operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// What was being accessed.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The configuration cannot work.
    #[error("configuration: {0}")]
    Config(String),
    /// The SIP connection could not be set up.
    #[error("SIP connection: {0}")]
    Sip(String),
    /// The registrar did not accept us.
    #[error("REGISTER failed: {0}")]
    Registration(String),
    /// A SIP URI could not be read.
    #[error("not a SIP URI: {0}")]
    BadUri(String),
    /// Too many calls at once.
    #[error("too many calls at once (at most {})", crate::device::MAX_CALLS)]
    TooManyCalls,
    /// The call did not end in time.
    #[error("the call did not end within {0:?}")]
    CallTimeout(Duration),
    /// The device thread is gone.
    #[error("the device is not running")]
    Stopped,
    /// The factory reset failed.
    #[error("factory reset failed: {0}")]
    Reset(String),
    /// No call with this id (never was, or already over).
    #[error("no such call: {0}")]
    NoSuchCall(crate::device::CallId),
    /// The call is not ringing here, so it cannot be answered or rejected.
    #[error("{0} is not ringing")]
    NotRinging(crate::device::CallId),
    /// The call's media is not running (not answered yet, or over).
    #[error("{0} has no media running")]
    NoMedia(crate::device::CallId),
    /// A status code that cannot reject a call (300–699 can).
    #[error("{0} is not a status that rejects a call (300-699)")]
    BadStatus(u16),
    /// The call's media refused (e.g. DTMF the peer did not negotiate).
    #[error("media: {0}")]
    Media(String),
    /// The device's command queue is full (a caller is flooding it).
    #[error("the device is busy: too many commands queued")]
    Busy,
    /// Not connected to the SIP server (yet, or any more).
    #[error("not connected to the SIP server")]
    NotConnected,
}
