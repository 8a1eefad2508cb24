//! The web admin password (`admin.password`, SPEC W2): stored only as an
//! Argon2id hash.
//!
//! A provisioning file (or the web interface's password change) gives the
//! password in plain text as `admin.password = …`. Parsing keeps it as
//! [`AdminPassword::Plain`], a [`Secret`] wiped on drop; before anything is
//! written, [`ConfigStore::apply`](crate::ConfigStore::apply) and
//! [`ConfigStore::save`](crate::ConfigStore::save) replace it by its hash
//! ([`Settings::seal_secrets`](crate::Settings::seal_secrets)), and the
//! configuration file only ever holds `admin.password.hash = $argon2id$…`
//! (the PHC string format: algorithm, version, parameters, salt and hash in
//! one line). The plain-text form is never rendered.
//!
//! Parameters: Argon2id, 7 MiB of memory, 5 passes, 1 lane — the
//! lowest-memory setting OWASP lists as equivalent to its other
//! recommendations, chosen because a device has little RAM (a login costs
//! about 7 MiB for a few tens of milliseconds). The parameters travel inside
//! each hash, so a later firmware can raise them and still verify old hashes.

use std::fmt;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::secret::{Secret, MASK};

/// The built-in admin password of a device whose `admin.password` was never
/// set. It must be changed before the web interface allows anything else.
pub const DEFAULT_ADMIN_PASSWORD: &str = "sigil";
/// Argon2 memory cost in KiB (7 MiB).
pub const ARGON2_MEMORY_KIB: u32 = 7 * 1024;
/// Argon2 passes.
pub const ARGON2_PASSES: u32 = 5;
/// Argon2 lanes.
pub const ARGON2_LANES: u32 = 1;
/// Longest password accepted (characters).
pub const MAX_PASSWORD: usize = 256;
/// Most memory a stored hash may ask for when verifying (KiB): a hash edited
/// into the file by hand must not make a login exhaust the device.
const MAX_VERIFY_MEMORY_KIB: u32 = 64 * 1024;
/// Most passes a stored hash may ask for when verifying.
const MAX_VERIFY_PASSES: u32 = 16;

/// The admin password as the configuration holds it.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum AdminPassword {
    /// Never set: the built-in [`DEFAULT_ADMIN_PASSWORD`], which the web
    /// interface makes the administrator change first.
    #[default]
    Default,
    /// An Argon2id hash in PHC form — what `config.conf` holds
    /// (`admin.password.hash`).
    Hash(String),
    /// Received in plain text and not hashed yet; never written anywhere.
    Plain(Secret),
}

impl fmt::Debug for AdminPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdminPassword::Default => f.write_str("Default"),
            AdminPassword::Hash(_) => write!(f, "Hash({MASK})"),
            AdminPassword::Plain(_) => write!(f, "Plain({MASK})"),
        }
    }
}

impl AdminPassword {
    /// Whether `password` is the admin password. Constant-time for plain
    /// text; Argon2's own verification for a hash.
    pub fn verify(&self, password: &str) -> bool {
        match self {
            AdminPassword::Default => {
                constant_time_eq(password.as_bytes(), DEFAULT_ADMIN_PASSWORD.as_bytes())
            }
            AdminPassword::Plain(secret) => {
                constant_time_eq(password.as_bytes(), secret.expose().as_bytes())
            }
            AdminPassword::Hash(phc) => verify_hash(phc, password),
        }
    }

    /// Whether the password is still the built-in default (never set).
    pub fn is_default(&self) -> bool {
        matches!(self, AdminPassword::Default)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    // The length is not secret (the default's length is public anyway).
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hasher() -> Result<Argon2<'static>, String> {
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_PASSES, ARGON2_LANES, None)
        .map_err(|e| format!("Argon2 parameters: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Checks a password given in plain text: 1 to [`MAX_PASSWORD`] characters,
/// no control characters. The message never contains the password.
pub fn check_password(password: &str) -> Result<(), String> {
    let count = password.chars().count();
    if count == 0 {
        return Err("the password is empty".to_owned());
    }
    if count > MAX_PASSWORD {
        return Err(format!("password longer than {MAX_PASSWORD} characters"));
    }
    if password.chars().any(char::is_control) {
        return Err("the password contains a control character".to_owned());
    }
    Ok(())
}

/// Hashes a password with Argon2id and a fresh random salt; the PHC string.
///
/// # Errors
///
/// The system random generator failed, or Argon2 refused (never with these parameters).
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| format!("no random salt: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| format!("salt: {e}"))?;
    hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("Argon2: {e}"))
}

/// Checks that `phc` is an Argon2id hash in PHC form with parameters a
/// device can afford to verify.
pub fn check_hash(phc: &str) -> Result<(), String> {
    let parsed = PasswordHash::new(phc).map_err(|e| {
        format!("not a password hash in PHC form ($argon2id$v=19$m=…,t=…,p=…$salt$hash): {e}; give the password itself as admin.password")
    })?;
    if parsed.algorithm.as_str() != "argon2id" {
        return Err(format!(
            "the hash uses {}, only argon2id is accepted",
            parsed.algorithm
        ));
    }
    let params = Params::try_from(&parsed).map_err(|e| format!("Argon2 parameters: {e}"))?;
    if params.m_cost() > MAX_VERIFY_MEMORY_KIB || params.t_cost() > MAX_VERIFY_PASSES {
        return Err(format!(
            "the hash asks for {} KiB and {} passes; at most {MAX_VERIFY_MEMORY_KIB} KiB and {MAX_VERIFY_PASSES} passes",
            params.m_cost(),
            params.t_cost()
        ));
    }
    if parsed.hash.is_none() {
        return Err("the PHC string has no hash part".to_owned());
    }
    Ok(())
}

fn verify_hash(phc: &str, password: &str) -> bool {
    if check_hash(phc).is_err() {
        return false;
    }
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verifies_and_is_salted() {
        let a = hash_password("correct horse").unwrap();
        let b = hash_password("correct horse").unwrap();
        assert_ne!(a, b, "fresh salt each time");
        assert!(a.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{a}");
        assert!(check_hash(&a).is_ok());
        let stored = AdminPassword::Hash(a);
        assert!(stored.verify("correct horse"));
        assert!(!stored.verify("correct horsE"));
        assert!(!stored.verify(""));
        assert!(!format!("{stored:?}").contains("argon2"));
    }

    #[test]
    fn default_and_plain() {
        assert!(AdminPassword::Default.verify("sigil"));
        assert!(!AdminPassword::Default.verify("sigi"));
        let plain = AdminPassword::Plain(Secret::new("x1"));
        assert!(plain.verify("x1"));
        assert!(!plain.verify("x2"));
        assert_eq!(format!("{plain:?}"), "Plain(********)");
    }

    #[test]
    fn bad_hashes_are_refused() {
        for bad in [
            "hunter2",
            "$argon2i$v=19$m=4096,t=3,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A",
            "$argon2id$v=19$m=1048576,t=3,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A",
        ] {
            assert!(check_hash(bad).is_err(), "{bad}");
            assert!(!AdminPassword::Hash(bad.into()).verify("x"));
        }
        assert!(check_password("").is_err());
        assert!(check_password("a\nb").is_err());
        assert!(check_password(&"p".repeat(257)).is_err());
        assert!(check_password("fine password").is_ok());
    }
}
