//! Provisioning: config files, typed settings, HTTPS download, atomic apply (SPEC P1–P6).
#![forbid(unsafe_code)]
#![warn(missing_docs)]
