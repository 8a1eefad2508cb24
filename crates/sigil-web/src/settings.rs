//! The settings as the pages show them: grouped and labelled as admins know
//! them from the devices being replaced, with the configuration key beside
//! each. Values are validated by sigil-provisioning's own code.

use sigil_provisioning::settings::keys;

/// How a setting is edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Free text.
    Text,
    /// A secret: write-only, never sent back to the browser.
    Secret,
    /// `0` or `1`.
    Bool,
    /// One of these values.
    Choice(&'static [&'static str]),
    /// A number (ports, counts).
    Number,
}

/// One editable setting.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// The configuration key.
    pub key: &'static str,
    /// The label admins know.
    pub label: &'static str,
    /// The group (one of [`GROUPS`]).
    pub group: &'static str,
    /// How it is edited.
    pub kind: FieldKind,
    /// One line of help.
    pub help: &'static str,
}

/// The groups, in page order.
pub const GROUPS: [&str; 6] = ["SIP", "TLS", "SRTP", "Provisioning", "Inbound", "Web"];

const fn f(
    key: &'static str,
    label: &'static str,
    group: &'static str,
    kind: FieldKind,
    help: &'static str,
) -> Field {
    Field {
        key,
        label,
        group,
        kind,
        help,
    }
}

/// Every setting the Settings page edits (every known key but the admin
/// password, which has its own page).
pub const FIELDS: [Field; 26] = [
    f(
        keys::SIP_PROXY,
        "SIP Server",
        "SIP",
        FieldKind::Text,
        "host[:port] of the SIP server",
    ),
    f(
        keys::SIP_U1_USER,
        "SIP User ID",
        "SIP",
        FieldKind::Text,
        "the extension",
    ),
    f(
        keys::SIP_U1_AUTH,
        "Authentication ID",
        "SIP",
        FieldKind::Text,
        "digest user name; empty = the extension",
    ),
    f(
        keys::SIP_U1_PWD,
        "Authentication Password",
        "SIP",
        FieldKind::Secret,
        "write-only; leave empty to keep it",
    ),
    f(
        keys::SIP_U1_DNAME,
        "Display Name",
        "SIP",
        FieldKind::Text,
        "",
    ),
    f(
        keys::SIP_TRANSPORT,
        "SIP Transportation",
        "SIP",
        FieldKind::Choice(&["tls", "tcp", "udp"]),
        "TLS encrypts signaling (port 5061)",
    ),
    f(
        keys::SIP_AUTO_ANSWER,
        "Auto Answer",
        "SIP",
        FieldKind::Bool,
        "0 turns calls away with 486 Busy Here",
    ),
    f(
        keys::SIP_TLS_VALIDATE,
        "Validate Server Certificate",
        "TLS",
        FieldKind::Bool,
        "0: encrypted, but the SIP server is not verified",
    ),
    f(
        keys::SIP_TLS_VERSION_MIN,
        "Minimum TLS Version",
        "TLS",
        FieldKind::Choice(&["1.2", "1.3"]),
        "",
    ),
    f(
        keys::SIP_TLS_CIPHERS,
        "TLS Cipher Suites",
        "TLS",
        FieldKind::Text,
        "empty = all ECDHE + AEAD suites; e.g. AES256",
    ),
    f(
        keys::SIP_SRTP_OFFER,
        "SDP SRTP Offer",
        "SRTP",
        FieldKind::Choice(&["disabled", "optional", "standard"]),
        "standard = SRTP required",
    ),
    f(
        keys::SIP_SRTP_SUITES,
        "SRTP Crypto Suites",
        "SRTP",
        FieldKind::Text,
        "preference order",
    ),
    f(
        keys::SIP_SRTP_KEYING,
        "SRTP Key Exchange",
        "SRTP",
        FieldKind::Choice(&["sdes", "dtls", "both"]),
        "sdes = keys in the SDP (a=crypto); dtls = DTLS-SRTP on the media port; both = offer both",
    ),
    f(
        keys::SIP_SRTP_DTLS_DEVICE_CERT,
        "DTLS-SRTP with the Device Certificate",
        "SRTP",
        FieldKind::Bool,
        "off = a new certificate per call",
    ),
    f(
        keys::SIP_SRTP_INSECURE_SIGNALING,
        "Allow SRTP Keys over Unencrypted Signaling",
        "SRTP",
        FieldKind::Bool,
        "keys travel in the SDP",
    ),
    f(
        keys::PROV_SERVER,
        "Provisioning Server",
        "Provisioning",
        FieldKind::Text,
        "URL or host[:port][/path]",
    ),
    f(
        keys::PROV_DOWNLOAD_METHOD,
        "Download Method",
        "Provisioning",
        FieldKind::Choice(&["", "https", "http"]),
        "empty = the server URL's scheme, else https",
    ),
    f(
        keys::PROV_DOWNLOAD_CERT,
        "Validate Server Certificate",
        "Provisioning",
        FieldKind::Bool,
        "0: encrypted, but the provisioning server is not verified",
    ),
    f(
        keys::PROV_NAME_DEVICE,
        "Device File Name",
        "Provisioning",
        FieldKind::Text,
        "with {mac}",
    ),
    f(
        keys::PROV_NAME_MODEL,
        "Model File Name",
        "Provisioning",
        FieldKind::Text,
        "with {model}",
    ),
    f(
        keys::PROV_NAME_GENERIC,
        "Generic File Name",
        "Provisioning",
        FieldKind::Text,
        "",
    ),
    f(
        keys::SIP_TLS_LISTEN,
        "SIP TLS Listen Port",
        "Inbound",
        FieldKind::Number,
        "0 = off: calls arrive over the registration",
    ),
    f(
        keys::SIP_TLS_LISTEN_CLIENT_CERT,
        "Listener Client Certificate",
        "Inbound",
        FieldKind::Choice(&["requested", "required", "none"]),
        "",
    ),
    f(
        keys::SIP_TLS_LISTEN_MAX,
        "Listener Connections",
        "Inbound",
        FieldKind::Number,
        "1-64",
    ),
    f(
        keys::SIP_INBOUND_ACCEPT,
        "Accept Calls From",
        "Inbound",
        FieldKind::Choice(&["registrar", "verified", "any"]),
        "",
    ),
    f(
        keys::WEB_HTTPS_PORT,
        "Web Interface HTTPS Port",
        "Web",
        FieldKind::Number,
        "0 = off; takes effect at the next start",
    ),
];

/// The field of `key`, if the Settings page edits it.
pub(crate) fn field(key: &str) -> Option<&'static Field> {
    FIELDS.iter().find(|f| f.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_key_but_the_password_is_editable() {
        for key in keys::ALL {
            let editable = field(key).is_some();
            let password = key == keys::ADMIN_PASSWORD || key == keys::ADMIN_PASSWORD_HASH;
            assert_eq!(editable, !password, "{key}");
        }
        for f in FIELDS {
            assert!(GROUPS.contains(&f.group), "{}", f.key);
            assert_eq!(
                f.kind == FieldKind::Secret,
                sigil_provisioning::secret::is_secret_key(f.key),
                "{}",
                f.key
            );
        }
    }
}
