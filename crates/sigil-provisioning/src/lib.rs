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
