//! Provisioning: config files, typed settings, HTTPS download, atomic apply (SPEC P1–P6).
//!
//! A device's configuration is a text file of `key = value` lines
//! ([`format`](mod@format)). [`Settings`] holds every known key typed and checked, with
//! documented defaults; an invalid value of a known key rejects the whole
//! file, unknown keys are kept and reported. Settings are written back in the
//! same format ([`write::render`], [`write::render_onto`] keeping the
//! installer's comments), and [`write::diff`] lists changed keys with secrets
//! masked. [`apply::ConfigStore`] replaces the active configuration
//! atomically (temporary file, fsync, rename, backup of the previous one).
//! [`download`] fetches the per-device, model or generic file over HTTPS with
//! our rustls configuration (trust store, device identity for mutual TLS).
//!
//! Secrets (`sip.u1.pwd`, any key naming a password or key) are wiped from
//! memory on drop and never appear in `Debug`, errors, diffs or logs.
//!
//! # Check a file, apply it, apply a change
//!
//! ```
//! use sigil_provisioning::values::{SipTransport, SrtpOffer};
//! use sigil_provisioning::{ApplyOptions, ConfigStore, Settings};
//!
//! let file = b"# door 17, lobby\n\
//!     sip.proxy = pbx.example.com:5061\n\
//!     sip.u1.user = 1001\n\
//!     sip.u1.pwd = s3cret\n\
//!     sip.srtp.offer = standard\n\
//!     vendor.led = blue\n";
//!
//! // Typed and checked; unknown keys are kept, with a warning.
//! let parsed = Settings::parse("door17.conf", file).map_err(|errors| errors[0].to_string())?;
//! let settings = &parsed.settings;
//! assert_eq!(settings.sip_proxy.as_ref().map(|p| p.to_string()).as_deref(), Some("pbx.example.com:5061"));
//! assert_eq!(settings.sip_srtp_offer, SrtpOffer::Standard);
//! assert_eq!(settings.sip_transport, SipTransport::Tls); // the default
//! assert!(!format!("{settings:?}").contains("s3cret"));
//! assert!(parsed.warnings.iter().any(|w| w.line == 6 && w.message.contains("vendor.led")));
//!
//! // A bad file is refused as a whole, every error located.
//! let errors = Settings::parse(
//!     "bad.conf",
//!     b"sip.proxy = pbx.example.com\nsip.transport = pigeon\nsip.tls.version.min = 1.0\n",
//! )
//! .unwrap_err();
//! let at: Vec<(usize, usize)> = errors.iter().map(|e| (e.line, e.col)).collect();
//! assert_eq!(at, [(2, 17), (3, 23)]);
//! println!("{}", errors[0]); // bad.conf:2:17: invalid value for sip.transport: …
//!
//! // The device's active configuration, replaced atomically.
//! let user_dir = tempfile::tempdir()?;
//! let store = ConfigStore::new(user_dir.path());
//! assert!(store.apply("door17.conf", file, ApplyOptions::default())?.written);
//! // A provisioning file changes two keys; the diff never shows the password.
//! let report = store.apply(
//!     "https://prov.example.com/algom0022ee010203.conf",
//!     b"sip.u1.pwd = n3w-s3cret\nsip.srtp.offer = optional\n",
//!     ApplyOptions::default(),
//! )?;
//! let changes: Vec<String> = report.changes.iter().map(ToString::to_string).collect();
//! assert_eq!(changes, ["~ sip.u1.pwd = ******** (changed)", "~ sip.srtp.offer = optional (was standard)"]);
//! assert!(report.backup.is_some());
//! let active = store.load()?.settings;
//! assert_eq!((active.sip_srtp_offer, active.sip_u1_user.as_str()), (SrtpOffer::Optional, "1001"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `examples/check_config.rs` checks a configuration file the same way and
//! applies it to a scratch user store.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod apply;
pub mod download;
pub mod format;
pub mod password;
pub mod secret;
pub mod settings;
pub mod values;
pub mod write;

pub use apply::{
    ApplyError, ApplyOptions, ApplyReport, ConfigSource, ConfigStore, FailPoint, Loaded,
    BACKUP_FILE, CONFIG_FILE,
};
pub use format::{parse_document, Document, LocatedError, Warning};
pub use password::AdminPassword;
pub use secret::Secret;
pub use settings::{keys, Parsed, Settings};
pub use write::{diff, render, render_onto, Change};
