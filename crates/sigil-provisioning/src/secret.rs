//! Secret values (passwords, keys) and the rule that decides which keys hold them.

use std::fmt;

use zeroize::Zeroizing;

/// What is printed instead of a secret value.
pub const MASK: &str = "********";

/// A secret configuration value (a password or a key).
///
/// The text is wiped from memory when the value is dropped, and neither
/// `Debug` nor `Display` ever shows it: both print [`MASK`]. Call
/// [`Secret::expose`] where the value is really needed (e.g. digest
/// authentication or writing the configuration file).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret text.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Zeroizing::new(value.into()))
    }

    /// The secret text itself. Never log it.
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }

    /// Whether the secret is empty (not set).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

/// Whether a configuration key holds a secret whose value must be masked in
/// errors, diffs, logs and `Debug` output.
///
/// Secret keys are: any key whose last dotted part is `pwd`, `pass`, `passwd`
/// or `password` (e.g. `sip.u1.pwd`), any key with `password`, `passwd`,
/// `secret` or `token` anywhere in it (e.g. `admin.password`), and any key
/// with a word (between `.`, `_` and `-`) that is or ends in `key` or `keys`
/// (e.g. `web.tls.key`, `api_key`, `srtp.masterkeys`) — but not a word that
/// merely starts with it, so `sip.srtp.keying` (`sdes`, `dtls`) is shown. The
/// rule errs on the side of masking.
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    let last = key.rsplit('.').next().unwrap_or(key.as_str());
    matches!(last, "pwd" | "pass" | "passwd" | "password" | "pin")
        || last.ends_with("pwd")
        || ["password", "passwd", "secret", "token"]
            .iter()
            .any(|word| key.contains(word))
        || key
            .split(['.', '_', '-'])
            .any(|word| word.ends_with("key") || word.ends_with("keys"))
}

/// Masks the password of a URL's user information (`https://user:pass@host/`
/// becomes `https://user:********@host/`); other text is returned unchanged.
pub fn mask_url_password(text: &str) -> String {
    let Some(scheme_end) = text.find("://") else {
        return text.to_owned();
    };
    let after = &text[scheme_end + 3..];
    let authority_end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let authority = &after[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return text.to_owned();
    };
    let userinfo = &authority[..at];
    match userinfo.find(':') {
        Some(colon) => format!(
            "{}{}:{}{}",
            &text[..scheme_end + 3],
            &userinfo[..colon],
            MASK,
            &text[scheme_end + 3 + at..]
        ),
        None => text.to_owned(),
    }
}

/// The value of `key` as it may be shown to a person: [`MASK`] for secret
/// keys (see [`is_secret_key`]), the URL password masked otherwise.
pub fn display_value(key: &str, value: &str) -> String {
    if is_secret_key(key) {
        MASK.to_owned()
    } else {
        mask_url_password(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys() {
        for key in [
            "sip.u1.pwd",
            "sip.u2.pwd",
            "admin.password",
            "web.tls.key",
            "api.token",
            "x.secret",
            "SIP.U1.PWD",
            "api_key",
            "srtp.masterkeys",
            "device.privkey",
        ] {
            assert!(is_secret_key(key), "{key}");
        }
        for key in [
            "sip.u1.user",
            "sip.u1.auth",
            "sip.proxy",
            "prov.server",
            "sip.srtp.keying",
        ] {
            assert!(!is_secret_key(key), "{key}");
        }
    }

    #[test]
    fn debug_and_display_mask() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?} {secret}"), "******** ********");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn url_password_masked() {
        assert_eq!(
            mask_url_password("https://u:p4ss@host:8443/x"),
            "https://u:********@host:8443/x"
        );
        assert_eq!(mask_url_password("https://u@host/x"), "https://u@host/x");
        assert_eq!(mask_url_password("host/x"), "host/x");
    }
}
