//! `linphonec` (Debian `linphone-cli` 5.1, liblinphone with belle-sip on
//! mbedTLS 2.28 and libsrtp2) as a real SIP softphone for tests: it
//! registers to a proxy (Kamailio in our tests) over TLS with a client
//! certificate, places and answers calls with SDES-SRTP (or without), plays
//! a WAV file into every call and records what it receives to a WAV file,
//! all headless, on 127.0.0.1.
//!
//! Find the binary first with [`crate::peer`]`(`[`crate::Peer::Linphone`]`)`,
//! then [`Linphone::start`] one instance per user. Everything observed while
//! writing this module is in `crates/sigil-testkit/LINPHONE.md`; the
//! linphonerc keys used are documented where they are written, in
//! [`linphonerc`].
//!
//! How an instance is driven: `linphonec -c FILE -d 6 -l LOG [-a]` with its
//! own `HOME`, commands written to its stdin (kept open: end of input makes
//! it quit), its stdout read by a thread. Every wait polls that output (and
//! the log file for what linphonec does not print) with a deadline.
//!
//! ```no_run
//! use std::time::Duration;
//! use sigil_testkit::linphone::{free_rtp_ports, Linphone, LinphoneConfig, MediaEncryption};
//! # let (bin, dir, ca) = (std::path::PathBuf::new(), std::path::PathBuf::new(), std::path::PathBuf::new());
//! let mut config = LinphoneConfig::new(([127, 0, 0, 1], 5061).into(), "alice", "secret", &ca);
//! config.encryption = MediaEncryption::SrtpMandatory;
//! let mut alice = Linphone::start(&bin, &dir, &config);
//! alice.wait_registered(Duration::from_secs(10));
//! alice.call("sip:bob@127.0.0.1");
//! let call = alice.wait_call_established(Duration::from_secs(10));
//! assert!(call.encrypted);
//! alice.terminate();
//! alice.wait_call_ended(Duration::from_secs(10));
//! ```

mod config;
mod events;
mod process;
mod rc;
mod waits;

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ChildStdin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::ChildGuard;

pub use config::{free_rtp_ports, LinphoneConfig, MediaEncryption, Transport};
pub use events::{CallInfo, CallOutcome};
pub use rc::linphonerc;

/// How often waits poll the captured output.
const POLL: Duration = Duration::from_millis(50);

/// A running linphonec; killed when dropped.
#[derive(Debug)]
pub struct Linphone {
    child: ChildGuard,
    stdin: ChildStdin,
    output: Arc<Mutex<String>>,
    log: PathBuf,
    user: String,
    /// Call ids whose establishment (or failure) was reported.
    reported: HashSet<u32>,
    /// Call ids whose end was reported.
    ended: HashSet<u32>,
    /// Log length when the last call was reported established (for `sdp_audio`).
    log_mark: usize,
}
