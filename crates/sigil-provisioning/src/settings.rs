//! Typed settings: every key of SPEC's table, checked, with documented defaults,
//! plus Sigil's own keys (`prov.name.*`, `sip.tls.listen.client_cert`,
//! `sip.auto_answer`, `admin.password.hash`).

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use sigil_srtp::Suite;
use zeroize::Zeroizing;

use crate::format::{parse_document_partial, Document, LocatedError, Warning};
use crate::password::{check_hash, check_password, AdminPassword};
use crate::secret::{display_value, Secret};
use crate::values::{
    parse_bool, split_list, DownloadMethod, HostPort, InboundAccept, ListenClientCert, ProvServer,
    SipTransport, SrtpOffer, TlsCipher, TlsVersion,
};

/// The keys this product knows, in the order they are written.
pub mod keys {
    /// Provisioning server: URL or `host[:port][/path]` (no default: provisioning off).
    pub const PROV_SERVER: &str = "prov.server";
    /// `http` | `https` (default `https`; `tftp`/`ftp` refused).
    pub const PROV_DOWNLOAD_METHOD: &str = "prov.download.method";
    /// `0` | `1`: validate the provisioning server certificate (default `1`).
    pub const PROV_DOWNLOAD_CERT: &str = "prov.download.cert";
    /// Per-device file name pattern, `{mac}` replaced (default `algom{mac}.conf`).
    pub const PROV_NAME_DEVICE: &str = "prov.name.device";
    /// Model file name pattern, `{model}` replaced (default `algop{model}.conf`).
    pub const PROV_NAME_MODEL: &str = "prov.name.model";
    /// Generic file name (default `algop.conf`).
    pub const PROV_NAME_GENERIC: &str = "prov.name.generic";
    /// SIP server `host[:port]` (no default).
    pub const SIP_PROXY: &str = "sip.proxy";
    /// Extension (user part of the address of record).
    pub const SIP_U1_USER: &str = "sip.u1.user";
    /// Authentication id (digest user name; empty = the extension).
    pub const SIP_U1_AUTH: &str = "sip.u1.auth";
    /// Digest password (secret).
    pub const SIP_U1_PWD: &str = "sip.u1.pwd";
    /// Display name.
    pub const SIP_U1_DNAME: &str = "sip.u1.dname";
    /// `0` | `1`: answer incoming calls automatically; `0` turns them away
    /// with 486 Busy Here (default `1`). A Sigil key beyond SPEC's table.
    pub const SIP_AUTO_ANSWER: &str = "sip.auto_answer";
    /// `udp` | `tcp` | `tls` (default `tls`).
    pub const SIP_TRANSPORT: &str = "sip.transport";
    /// `0` | `1`: validate the SIP server certificate (default `1`).
    pub const SIP_TLS_VALIDATE: &str = "sip.tls.validate";
    /// `1.2` | `1.3`: TLS floor (default `1.2`).
    pub const SIP_TLS_VERSION_MIN: &str = "sip.tls.version.min";
    /// Cipher suite restriction, comma-separated (default: empty = all allowed suites).
    pub const SIP_TLS_CIPHERS: &str = "sip.tls.ciphers";
    /// Inbound SIP over TLS port, `0` = off (default `0`: calls arrive over
    /// the registration connection, RFC 5626 flow).
    pub const SIP_TLS_LISTEN: &str = "sip.tls.listen";
    /// Most simultaneous connections on the listener, 1–64 (default 8). A
    /// Sigil key beyond SPEC's table.
    pub const SIP_TLS_LISTEN_MAX: &str = "sip.tls.listen.max";
    /// `registrar` | `verified` | `any`: who may call the device (default
    /// `registrar`, SPEC E8).
    pub const SIP_INBOUND_ACCEPT: &str = "sip.inbound.accept";
    /// `requested` | `required` | `none`: whether peers connecting to the
    /// listener of `sip.tls.listen` must present a certificate (default
    /// `requested`). A Sigil key beyond SPEC's table.
    pub const SIP_TLS_LISTEN_CLIENT_CERT: &str = "sip.tls.listen.client_cert";
    /// `disabled` | `optional` | `standard` (default `optional`).
    pub const SIP_SRTP_OFFER: &str = "sip.srtp.offer";
    /// SRTP suites in preference order (default: all four, AES-256 first).
    pub const SIP_SRTP_SUITES: &str = "sip.srtp.suites";
    /// `0` | `1`: allow SDES keys over non-TLS signaling (default `0`).
    pub const SIP_SRTP_INSECURE_SIGNALING: &str = "sip.srtp.insecure_signaling";
    /// HTTPS port of the admin web interface, `0` = off (default 443, SPEC W1).
    pub const WEB_HTTPS_PORT: &str = "web.https.port";
    /// The web admin password in plain text (secret, SPEC W2). Accepted from
    /// provisioning files and the web interface, never written: the apply
    /// stores its hash as [`ADMIN_PASSWORD_HASH`]. Empty = back to the
    /// built-in default `sigil`, which must be changed at the next login.
    pub const ADMIN_PASSWORD: &str = "admin.password";
    /// The web admin password as an Argon2id hash in PHC form (what
    /// `config.conf` holds; see [`crate::password`]). A Sigil key beyond SPEC's table.
    pub const ADMIN_PASSWORD_HASH: &str = "admin.password.hash";

    /// Every known key, in the order settings are written
    /// ([`ADMIN_PASSWORD`] is known but never written: its hash is).
    pub const ALL: [&str; 26] = [
        PROV_SERVER,
        PROV_DOWNLOAD_METHOD,
        PROV_DOWNLOAD_CERT,
        PROV_NAME_DEVICE,
        PROV_NAME_MODEL,
        PROV_NAME_GENERIC,
        SIP_PROXY,
        SIP_U1_USER,
        SIP_U1_AUTH,
        SIP_U1_PWD,
        SIP_U1_DNAME,
        SIP_AUTO_ANSWER,
        SIP_TRANSPORT,
        SIP_TLS_VALIDATE,
        SIP_TLS_VERSION_MIN,
        SIP_TLS_CIPHERS,
        SIP_TLS_LISTEN,
        SIP_TLS_LISTEN_CLIENT_CERT,
        SIP_TLS_LISTEN_MAX,
        SIP_INBOUND_ACCEPT,
        SIP_SRTP_OFFER,
        SIP_SRTP_SUITES,
        SIP_SRTP_INSECURE_SIGNALING,
        WEB_HTTPS_PORT,
        ADMIN_PASSWORD,
        ADMIN_PASSWORD_HASH,
    ];
}

/// Default per-device file name pattern (SPEC P5).
pub const DEFAULT_NAME_DEVICE: &str = "algom{mac}.conf";
/// Default model file name pattern (SPEC P5).
pub const DEFAULT_NAME_MODEL: &str = "algop{model}.conf";
/// Default generic file name (SPEC P5).
pub const DEFAULT_NAME_GENERIC: &str = "algop.conf";
/// Default inbound SIP over TLS port: off (SPEC E8; a device registered over
/// TLS receives its calls over that connection).
pub const DEFAULT_TLS_LISTEN: u16 = 0;
/// Default and largest number of simultaneous listener connections.
pub const DEFAULT_TLS_LISTEN_MAX: u8 = 8;
/// Largest `sip.tls.listen.max`.
pub const MAX_TLS_LISTEN_MAX: u8 = 64;
/// Default port of the admin web interface (SPEC W1).
pub const DEFAULT_WEB_HTTPS_PORT: u16 = 443;
/// Longest text value (user, auth id, display name, password).
const MAX_TEXT: usize = 256;

/// A key the product does not know, kept verbatim (value wiped on drop).
#[derive(Clone, PartialEq, Eq)]
pub struct UnknownSetting {
    /// The key.
    pub key: String,
    /// The value as written.
    pub value: Zeroizing<String>,
}

impl fmt::Debug for UnknownSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} = {}",
            self.key,
            display_value(&self.key, &self.value)
        )
    }
}

/// The device configuration, typed. `Default` gives the documented defaults.
///
/// `Debug` never shows secrets (`sip.u1.pwd` prints as `********`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `prov.server`; `None` = provisioning not configured.
    pub prov_server: Option<ProvServer>,
    /// `prov.download.method` as written; `None` = not set (see
    /// [`Settings::download_method`] for the effective method).
    pub prov_download_method: Option<DownloadMethod>,
    /// `prov.download.cert`: validate the provisioning server (default `true`).
    pub prov_download_cert: bool,
    /// `prov.name.device`: per-device file name pattern with `{mac}`.
    pub prov_name_device: String,
    /// `prov.name.model`: model file name pattern with `{model}`.
    pub prov_name_model: String,
    /// `prov.name.generic`: generic file name.
    pub prov_name_generic: String,
    /// `sip.proxy`; `None` = no SIP server configured.
    pub sip_proxy: Option<HostPort>,
    /// `sip.u1.user` (empty = not set).
    pub sip_u1_user: String,
    /// `sip.u1.auth` (empty = use the extension).
    pub sip_u1_auth: String,
    /// `sip.u1.pwd` (secret; empty = not set).
    pub sip_u1_pwd: Secret,
    /// `sip.u1.dname` (empty = none).
    pub sip_u1_dname: String,
    /// `sip.auto_answer`: answer incoming calls automatically; `false` turns
    /// them away with 486 Busy Here (default `true`).
    pub sip_auto_answer: bool,
    /// `sip.transport` (default TLS).
    pub sip_transport: SipTransport,
    /// `sip.tls.validate` (default `true`).
    pub sip_tls_validate: bool,
    /// `sip.tls.version.min` (default 1.2).
    pub sip_tls_version_min: TlsVersion,
    /// `sip.tls.ciphers`: restriction in preference order; empty = all allowed suites.
    pub sip_tls_ciphers: Vec<TlsCipher>,
    /// `sip.tls.listen`: inbound TLS port, 0 = off (default 0).
    pub sip_tls_listen: u16,
    /// `sip.tls.listen.max`: most simultaneous listener connections (default 8).
    pub sip_tls_listen_max: u8,
    /// `sip.inbound.accept`: who may call the device (default registrar).
    pub sip_inbound_accept: InboundAccept,
    /// `sip.tls.listen.client_cert`: whether inbound TLS peers must present a
    /// certificate (default [`ListenClientCert::Requested`]).
    pub sip_tls_listen_client_cert: ListenClientCert,
    /// `sip.srtp.offer` (default optional).
    pub sip_srtp_offer: SrtpOffer,
    /// `sip.srtp.suites` in preference order (default [`Suite::ALL`]).
    pub sip_srtp_suites: Vec<Suite>,
    /// `sip.srtp.insecure_signaling` (default `false`).
    pub sip_srtp_insecure_signaling: bool,
    /// `web.https.port`: the admin web interface's HTTPS port, 0 = off (default 443).
    pub web_https_port: u16,
    /// `admin.password` / `admin.password.hash`: the web admin password
    /// (default: the built-in `sigil`, to be changed). `Debug` masks it.
    pub admin_password: AdminPassword,
    /// Keys this product does not know, kept verbatim in file order.
    pub unknown: Vec<UnknownSetting>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            prov_server: None,
            prov_download_method: None,
            prov_download_cert: true,
            prov_name_device: DEFAULT_NAME_DEVICE.to_owned(),
            prov_name_model: DEFAULT_NAME_MODEL.to_owned(),
            prov_name_generic: DEFAULT_NAME_GENERIC.to_owned(),
            sip_proxy: None,
            sip_u1_user: String::new(),
            sip_u1_auth: String::new(),
            sip_u1_pwd: Secret::default(),
            sip_u1_dname: String::new(),
            sip_auto_answer: true,
            sip_transport: SipTransport::Tls,
            sip_tls_validate: true,
            sip_tls_version_min: TlsVersion::V1_2,
            sip_tls_ciphers: Vec::new(),
            sip_tls_listen: DEFAULT_TLS_LISTEN,
            sip_tls_listen_max: DEFAULT_TLS_LISTEN_MAX,
            sip_inbound_accept: InboundAccept::Registrar,
            sip_tls_listen_client_cert: ListenClientCert::Requested,
            sip_srtp_offer: SrtpOffer::Optional,
            sip_srtp_suites: Suite::ALL.to_vec(),
            sip_srtp_insecure_signaling: false,
            web_https_port: DEFAULT_WEB_HTTPS_PORT,
            admin_password: AdminPassword::Default,
            unknown: Vec::new(),
        }
    }
}

/// Settings read from one or more files, with the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The settings.
    pub settings: Settings,
    /// Duplicates, unknown keys, inert or weakened settings.
    pub warnings: Vec<Warning>,
    /// How many distinct keys the input set.
    pub keys: usize,
    /// The distinct keys the input set that this product knows.
    pub known_keys: Vec<String>,
}

fn file_name_pattern(value: &str, placeholder: Option<&str>) -> Result<String, String> {
    if value.is_empty() || value.len() > 128 {
        return Err("a file name needs 1 to 128 characters".to_owned());
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '{' | '}')))
    {
        return Err(format!("character {c:?} is not allowed in a file name"));
    }
    if value.contains("..") {
        return Err("'..' is not allowed in a file name".to_owned());
    }
    let rest = match placeholder {
        Some(ph) => {
            if !value.contains(ph) {
                return Err(format!("the file name pattern must contain {ph}"));
            }
            value.replace(ph, "")
        }
        None => value.to_owned(),
    };
    if rest.contains(['{', '}']) {
        return Err(match placeholder {
            Some(ph) => format!("only the placeholder {ph} may use braces"),
            None => "braces are not allowed in the generic file name".to_owned(),
        });
    }
    Ok(value.to_owned())
}

/// A port number, `0` meaning off.
fn port_or_off(value: &str) -> Result<u16, String> {
    let bad = || format!("{value:?}: expected a port from 1 to 65535, or 0 for off");
    if value.len() <= 5 && value.bytes().all(|b| b.is_ascii_digit()) {
        value.parse::<u16>().map_err(|_| bad())
    } else {
        Err(bad())
    }
}

fn text(value: &str) -> Result<String, String> {
    if value.chars().count() > MAX_TEXT {
        Err(format!("text longer than {MAX_TEXT} characters"))
    } else {
        Ok(value.to_owned())
    }
}

impl Settings {
    /// The effective download method: the scheme of `prov.server` if it has
    /// one, else `prov.download.method`, else HTTPS.
    pub fn download_method(&self) -> DownloadMethod {
        self.prov_server
            .as_ref()
            .and_then(|server| server.scheme)
            .or(self.prov_download_method)
            .unwrap_or(DownloadMethod::Https)
    }

    /// Sets one key from its text value, as a file line would.
    ///
    /// An empty value resets a typed key to its default (and clears a text
    /// key). A key this product does not know is kept verbatim in
    /// [`Settings::unknown`]; the return value says whether the key is known.
    ///
    /// # Errors
    ///
    /// The reason the value is invalid for the key. The message never
    /// contains the value of a secret key.
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool, String> {
        if self.set_known(key, value)? {
            return Ok(true);
        }
        let value = Zeroizing::new(value.to_owned());
        match self.unknown.iter_mut().find(|u| u.key == key) {
            Some(existing) => existing.value = value,
            None => self.unknown.push(UnknownSetting {
                key: key.to_owned(),
                value,
            }),
        }
        Ok(false)
    }

    /// Sets a known key; `Ok(false)` (and nothing stored) for an unknown key.
    fn set_known(&mut self, key: &str, value: &str) -> Result<bool, String> {
        use keys::*;
        let defaults = Settings::default; // built only for an empty value
        let empty = value.is_empty();
        match key {
            PROV_SERVER => self.prov_server = if empty { None } else { Some(value.parse()?) },
            PROV_DOWNLOAD_METHOD => {
                self.prov_download_method = if empty { None } else { Some(value.parse()?) }
            }
            PROV_DOWNLOAD_CERT => {
                self.prov_download_cert = if empty {
                    defaults().prov_download_cert
                } else {
                    parse_bool(value)?
                }
            }
            PROV_NAME_DEVICE => {
                self.prov_name_device = if empty {
                    defaults().prov_name_device
                } else {
                    file_name_pattern(value, Some("{mac}"))?
                }
            }
            PROV_NAME_MODEL => {
                self.prov_name_model = if empty {
                    defaults().prov_name_model
                } else {
                    file_name_pattern(value, Some("{model}"))?
                }
            }
            PROV_NAME_GENERIC => {
                self.prov_name_generic = if empty {
                    defaults().prov_name_generic
                } else {
                    file_name_pattern(value, None)?
                }
            }
            SIP_PROXY => self.sip_proxy = if empty { None } else { Some(value.parse()?) },
            SIP_U1_USER => self.sip_u1_user = text(value)?,
            SIP_U1_AUTH => self.sip_u1_auth = text(value)?,
            SIP_U1_PWD => {
                if value.chars().count() > MAX_TEXT {
                    return Err(format!("password longer than {MAX_TEXT} characters"));
                }
                self.sip_u1_pwd = Secret::new(value);
            }
            SIP_U1_DNAME => self.sip_u1_dname = text(value)?,
            SIP_AUTO_ANSWER => {
                self.sip_auto_answer = if empty {
                    defaults().sip_auto_answer
                } else {
                    parse_bool(value)?
                }
            }
            SIP_TRANSPORT => {
                self.sip_transport = if empty {
                    defaults().sip_transport
                } else {
                    value.parse()?
                }
            }
            SIP_TLS_VALIDATE => {
                self.sip_tls_validate = if empty {
                    defaults().sip_tls_validate
                } else {
                    parse_bool(value)?
                }
            }
            SIP_TLS_VERSION_MIN => {
                self.sip_tls_version_min = if empty {
                    defaults().sip_tls_version_min
                } else {
                    value.parse()?
                }
            }
            SIP_TLS_CIPHERS => {
                let mut list: Vec<TlsCipher> = Vec::new();
                for item in split_list(value) {
                    let cipher: TlsCipher = item.parse()?;
                    if list.contains(&cipher) {
                        return Err(format!("{item} is listed twice"));
                    }
                    list.push(cipher);
                }
                self.sip_tls_ciphers = list;
            }
            SIP_TLS_LISTEN => {
                self.sip_tls_listen = if empty {
                    defaults().sip_tls_listen
                } else {
                    port_or_off(value)?
                }
            }
            WEB_HTTPS_PORT => {
                self.web_https_port = if empty {
                    defaults().web_https_port
                } else {
                    port_or_off(value)?
                }
            }
            ADMIN_PASSWORD => {
                self.admin_password = if empty {
                    AdminPassword::Default
                } else {
                    check_password(value)?;
                    AdminPassword::Plain(Secret::new(value))
                }
            }
            ADMIN_PASSWORD_HASH => {
                self.admin_password = if empty {
                    AdminPassword::Default
                } else {
                    check_hash(value)?;
                    AdminPassword::Hash(value.to_owned())
                }
            }
            SIP_TLS_LISTEN_MAX => {
                self.sip_tls_listen_max = if empty {
                    defaults().sip_tls_listen_max
                } else {
                    match value.parse::<u8>() {
                        Ok(n) if (1..=MAX_TLS_LISTEN_MAX).contains(&n) => n,
                        _ => {
                            return Err(format!(
                                "{value:?}: expected a number of connections from 1 to {MAX_TLS_LISTEN_MAX}"
                            ))
                        }
                    }
                }
            }
            SIP_INBOUND_ACCEPT => {
                self.sip_inbound_accept = if empty {
                    defaults().sip_inbound_accept
                } else {
                    value.parse()?
                }
            }
            SIP_TLS_LISTEN_CLIENT_CERT => {
                self.sip_tls_listen_client_cert = if empty {
                    defaults().sip_tls_listen_client_cert
                } else {
                    value.parse()?
                }
            }
            SIP_SRTP_OFFER => {
                self.sip_srtp_offer = if empty {
                    defaults().sip_srtp_offer
                } else {
                    value.parse()?
                }
            }
            SIP_SRTP_SUITES => {
                if empty {
                    self.sip_srtp_suites = defaults().sip_srtp_suites;
                } else {
                    let mut list: Vec<Suite> = Vec::new();
                    for item in split_list(value) {
                        let suite: Suite = item
                            .parse()
                            .map_err(|e: sigil_srtp::suite::UnknownSuite| e.to_string())?;
                        if list.contains(&suite) {
                            return Err(format!("{item} is listed twice"));
                        }
                        list.push(suite);
                    }
                    if list.is_empty() {
                        return Err("the SRTP suite list is empty".to_owned());
                    }
                    self.sip_srtp_suites = list;
                }
            }
            SIP_SRTP_INSECURE_SIGNALING => {
                self.sip_srtp_insecure_signaling = if empty {
                    defaults().sip_srtp_insecure_signaling
                } else {
                    parse_bool(value)?
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Every setting as `(key, value)` text in the written order: known keys
    /// first (keys without a value, like an unset `prov.server` or an empty
    /// user name, are left out), then unknown keys in their original order.
    /// Values are wiped from memory when dropped.
    pub fn to_pairs(&self) -> Vec<(String, Zeroizing<String>)> {
        use keys::*;
        let mut out: Vec<(String, Zeroizing<String>)> = Vec::new();
        let mut put = |key: &str, value: String| {
            out.push((key.to_owned(), Zeroizing::new(value)));
        };
        let bool_text = |b: bool| if b { "1" } else { "0" }.to_owned();
        if let Some(server) = &self.prov_server {
            put(PROV_SERVER, server.to_string());
        }
        if let Some(method) = self.prov_download_method {
            put(PROV_DOWNLOAD_METHOD, method.to_string());
        }
        put(PROV_DOWNLOAD_CERT, bool_text(self.prov_download_cert));
        put(PROV_NAME_DEVICE, self.prov_name_device.clone());
        put(PROV_NAME_MODEL, self.prov_name_model.clone());
        put(PROV_NAME_GENERIC, self.prov_name_generic.clone());
        if let Some(proxy) = &self.sip_proxy {
            put(SIP_PROXY, proxy.to_string());
        }
        for (key, value) in [
            (SIP_U1_USER, &self.sip_u1_user),
            (SIP_U1_AUTH, &self.sip_u1_auth),
        ] {
            if !value.is_empty() {
                put(key, value.clone());
            }
        }
        if !self.sip_u1_pwd.is_empty() {
            put(SIP_U1_PWD, self.sip_u1_pwd.expose().to_owned());
        }
        if !self.sip_u1_dname.is_empty() {
            put(SIP_U1_DNAME, self.sip_u1_dname.clone());
        }
        put(SIP_AUTO_ANSWER, bool_text(self.sip_auto_answer));
        put(SIP_TRANSPORT, self.sip_transport.as_str().to_owned());
        put(SIP_TLS_VALIDATE, bool_text(self.sip_tls_validate));
        put(
            SIP_TLS_VERSION_MIN,
            self.sip_tls_version_min.as_str().to_owned(),
        );
        if !self.sip_tls_ciphers.is_empty() {
            put(
                SIP_TLS_CIPHERS,
                self.sip_tls_ciphers
                    .iter()
                    .map(|c| c.name())
                    .collect::<Vec<_>>()
                    .join(","),
            );
        }
        put(SIP_TLS_LISTEN, self.sip_tls_listen.to_string());
        put(
            SIP_TLS_LISTEN_CLIENT_CERT,
            self.sip_tls_listen_client_cert.as_str().to_owned(),
        );
        put(SIP_TLS_LISTEN_MAX, self.sip_tls_listen_max.to_string());
        put(
            SIP_INBOUND_ACCEPT,
            self.sip_inbound_accept.as_str().to_owned(),
        );
        put(SIP_SRTP_OFFER, self.sip_srtp_offer.as_str().to_owned());
        put(
            SIP_SRTP_SUITES,
            self.sip_srtp_suites
                .iter()
                .map(|s| s.name())
                .collect::<Vec<_>>()
                .join(","),
        );
        put(
            SIP_SRTP_INSECURE_SIGNALING,
            bool_text(self.sip_srtp_insecure_signaling),
        );
        put(WEB_HTTPS_PORT, self.web_https_port.to_string());
        // The plain-text password is never written (`seal_secrets` hashes it first).
        if let AdminPassword::Hash(phc) = &self.admin_password {
            put(ADMIN_PASSWORD_HASH, phc.clone());
        }
        for unknown in &self.unknown {
            put(&unknown.key, unknown.value.as_str().to_owned());
        }
        out
    }

    /// Replaces a plain-text admin password (`admin.password` as received)
    /// by its Argon2id hash, so that nothing but the hash is ever written.
    /// When `current` already holds a hash of the same password, that hash
    /// is kept (re-applying the same provisioning file changes nothing).
    /// [`ConfigStore::apply`](crate::ConfigStore::apply) and
    /// [`ConfigStore::save`](crate::ConfigStore::save) call this before writing.
    ///
    /// # Errors
    ///
    /// Hashing failed (no system randomness).
    pub fn seal_secrets(&mut self, current: &Settings) -> Result<(), String> {
        if let AdminPassword::Plain(plain) = &self.admin_password {
            let sealed = match &current.admin_password {
                AdminPassword::Hash(phc) if current.admin_password.verify(plain.expose()) => {
                    phc.clone()
                }
                _ => crate::password::hash_password(plain.expose())?,
            };
            self.admin_password = AdminPassword::Hash(sealed);
        }
        Ok(())
    }

    /// The value of `key` as text, as it would be written (`None` when unset).
    pub fn get(&self, key: &str) -> Option<Zeroizing<String>> {
        self.to_pairs()
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// Checks the rules that involve several keys. Returns `(key, message)`
    /// errors, the key being the one to point at, and `(key, message)` warnings.
    fn cross_check(&self, explicit: &BTreeMap<String, Origin>) -> (Vec<Finding>, Vec<Finding>) {
        use keys::*;
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let pick = |a: &'static str, b: &'static str| if explicit.contains_key(a) { a } else { b };
        let signaling_secure = self.sip_transport == SipTransport::Tls;
        if !signaling_secure && !self.sip_srtp_insecure_signaling {
            match self.sip_srtp_offer {
                SrtpOffer::Standard => errors.push((
                    pick(SIP_SRTP_OFFER, SIP_TRANSPORT),
                    format!(
                        "sip.srtp.offer = standard needs sip.transport = tls: SRTP keys travel in the SIP messages, which {} would send unencrypted (set sip.srtp.insecure_signaling = 1 to allow it anyway)",
                        self.sip_transport.as_str()
                    ),
                )),
                SrtpOffer::Optional => warnings.push((
                    pick(SIP_SRTP_OFFER, SIP_TRANSPORT),
                    format!(
                        "sip.srtp.offer = optional over {}: no SRTP keys will be offered unless sip.srtp.insecure_signaling = 1 (calls use plain RTP)",
                        self.sip_transport.as_str()
                    ),
                )),
                SrtpOffer::Disabled => {}
            }
        }
        if self.prov_download_method.is_some() && self.prov_server.is_none() {
            errors.push((
                PROV_DOWNLOAD_METHOD,
                format!(
                    "prov.download.method = {} needs a provisioning server: set prov.server",
                    self.download_method()
                ),
            ));
        }
        if let (Some(scheme), Some(method)) = (
            self.prov_server.as_ref().and_then(|s| s.scheme),
            self.prov_download_method,
        ) {
            if scheme != method {
                errors.push((
                    PROV_DOWNLOAD_METHOD,
                    format!("prov.server uses {scheme}:// but prov.download.method = {method}"),
                ));
            }
        }
        if self.sip_tls_version_min == TlsVersion::V1_3
            && !self.sip_tls_ciphers.is_empty()
            && !self.sip_tls_ciphers.iter().any(|c| c.is_tls13())
        {
            errors.push((
                pick(SIP_TLS_CIPHERS, SIP_TLS_VERSION_MIN),
                "sip.tls.ciphers lists only TLS 1.2 suites but sip.tls.version.min = 1.3: no connection could be made"
                    .to_owned(),
            ));
        }
        if self.prov_server.is_some() {
            match self.download_method() {
                DownloadMethod::Http => warnings.push((
                    pick(PROV_DOWNLOAD_METHOD, PROV_SERVER),
                    "provisioning over http: the configuration (with its passwords) is not encrypted in transit".to_owned(),
                )),
                DownloadMethod::Https if !self.prov_download_cert => warnings.push((
                    PROV_DOWNLOAD_CERT,
                    "prov.download.cert = 0: downloads are encrypted but the server is not verified".to_owned(),
                )),
                DownloadMethod::Https => {}
            }
        }
        if !self.sip_tls_validate && self.sip_transport == SipTransport::Tls {
            warnings.push((
                SIP_TLS_VALIDATE,
                "sip.tls.validate = 0: SIP over TLS is encrypted but the server is not verified"
                    .to_owned(),
            ));
        }
        if self.sip_inbound_accept == InboundAccept::Any {
            warnings.push((
                SIP_INBOUND_ACCEPT,
                "sip.inbound.accept = any: anyone who reaches the device may call it".to_owned(),
            ));
        }
        if self.sip_inbound_accept != InboundAccept::Registrar && self.sip_tls_listen == 0 {
            warnings.push((
                SIP_INBOUND_ACCEPT,
                format!(
                    "sip.inbound.accept = {} has no effect: the listener is off (sip.tls.listen = 0)",
                    self.sip_inbound_accept
                ),
            ));
        }
        if self.sip_tls_listen == 0 && explicit.contains_key(SIP_TLS_LISTEN_CLIENT_CERT) {
            warnings.push((
                SIP_TLS_LISTEN_CLIENT_CERT,
                "sip.tls.listen.client_cert has no effect: the listener is off (sip.tls.listen = 0)"
                    .to_owned(),
            ));
        }
        (errors, warnings)
    }

    /// Parses and validates a configuration file (syntax, every value, the
    /// cross-field rules). Any error rejects the whole file.
    ///
    /// # Errors
    ///
    /// Every error found, each with file, line, column and the line's text
    /// (secrets masked).
    pub fn parse(file: &str, bytes: &[u8]) -> Result<Parsed, Vec<LocatedError>> {
        let (doc, mut errors) = parse_document_partial(file, bytes);
        if errors.is_empty() {
            return Settings::from_documents(&[&doc]);
        }
        // Report the values of the good lines too, so one run shows every error.
        if let Err(value_errors) = Settings::from_documents(&[&doc]) {
            // Value errors only: a cross-field rule may hinge on a line that did not parse.
            errors.extend(
                value_errors
                    .into_iter()
                    .filter(|e| e.message.starts_with("invalid value for ")),
            );
        }
        errors.sort_by_key(|e| (e.line, e.col));
        errors.truncate(crate::format::MAX_ERRORS);
        Err(errors)
    }

    /// Builds settings from parsed documents, later documents overriding
    /// earlier ones key by key (e.g. the active configuration, then a
    /// downloaded file). Values are checked, then the cross-field rules on the
    /// combined result.
    ///
    /// # Errors
    ///
    /// Every invalid value and every broken cross-field rule, located in the
    /// document that set the key.
    pub fn from_documents(docs: &[&Document]) -> Result<Parsed, Vec<LocatedError>> {
        Settings::from_documents_over(Settings::default(), docs)
    }

    /// Like [`Settings::from_documents`], starting from `base` instead of the defaults.
    ///
    /// # Errors
    ///
    /// As [`Settings::from_documents`].
    pub fn from_documents_over(
        base: Settings,
        docs: &[&Document],
    ) -> Result<Parsed, Vec<LocatedError>> {
        let mut settings = base;
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let mut explicit: BTreeMap<String, Origin> = BTreeMap::new();
        // Position of each unknown key in `settings.unknown` (linear lookups would be quadratic).
        let mut unknown_at: HashMap<String, usize> = settings
            .unknown
            .iter()
            .enumerate()
            .map(|(i, u)| (u.key.clone(), i))
            .collect();
        for doc in docs {
            warnings.extend(doc.warnings.iter().cloned());
            for entry in doc.effective() {
                let origin = Origin {
                    file: doc.file.clone(),
                    line: entry.line,
                    col: entry.value_col,
                    key: entry.key.clone(),
                    value: display_value(&entry.key, &entry.value),
                };
                match settings.set_known(&entry.key, &entry.value) {
                    Ok(true) => {}
                    Ok(false) => {
                        let value = Zeroizing::new(entry.value.as_str().to_owned());
                        match unknown_at.get(&entry.key) {
                            Some(&i) => {
                                if let Some(slot) = settings.unknown.get_mut(i) {
                                    slot.value = value;
                                }
                            }
                            None => {
                                unknown_at.insert(entry.key.clone(), settings.unknown.len());
                                settings.unknown.push(UnknownSetting {
                                    key: entry.key.clone(),
                                    value,
                                });
                            }
                        }
                        warnings.push(Warning {
                            file: doc.file.clone(),
                            line: entry.line,
                            message: format!("unknown key {} (kept as is)", entry.key),
                        });
                    }
                    Err(message) => {
                        errors.push(
                            origin.error(format!("invalid value for {}: {message}", entry.key)),
                        );
                    }
                }
                explicit.insert(entry.key.clone(), origin);
            }
        }
        let (cross_errors, cross_warnings) = settings.cross_check(&explicit);
        if errors.is_empty() {
            for (key, message) in cross_errors {
                errors.push(match explicit.get(key) {
                    Some(origin) => origin.error(message),
                    None => LocatedError {
                        file: docs.last().map(|d| d.file.clone()).unwrap_or_default(),
                        line: 0,
                        col: 0,
                        message,
                        text: String::new(),
                    },
                });
            }
        }
        if !errors.is_empty() {
            let file_rank = |file: &str| docs.iter().position(|d| d.file == file).unwrap_or(0);
            errors.sort_by_key(|e| (file_rank(&e.file), e.line, e.col));
            return Err(errors);
        }
        for (key, message) in cross_warnings {
            let (file, line) = explicit
                .get(key)
                .map(|o| (o.file.clone(), o.line))
                .unwrap_or_else(|| (docs.last().map(|d| d.file.clone()).unwrap_or_default(), 0));
            warnings.push(Warning {
                file,
                line,
                message,
            });
        }
        let known_keys: Vec<String> = explicit
            .keys()
            .filter(|k| keys::ALL.contains(&k.as_str()))
            .cloned()
            .collect();
        Ok(Parsed {
            settings,
            warnings,
            keys: explicit.len(),
            known_keys,
        })
    }
}

/// A cross-field finding: the key to point at, and the message.
type Finding = (&'static str, String);

/// Where a key was set.
#[derive(Debug, Clone)]
struct Origin {
    file: String,
    line: usize,
    col: usize,
    key: String,
    /// The value as it may be shown (masked for secrets).
    value: String,
}

impl Origin {
    fn error(&self, message: String) -> LocatedError {
        LocatedError {
            file: self.file.clone(),
            line: self.line,
            col: self.col,
            message,
            text: crate::format::masked_line(&format!("{} = {}", self.key, self.value)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Parsed, Vec<LocatedError>> {
        Settings::parse("t.conf", text.as_bytes())
    }

    #[test]
    fn defaults_are_explicit() {
        let s = parse("").unwrap().settings;
        assert_eq!(s, Settings::default());
        assert!(s.prov_download_cert);
        assert_eq!(s.sip_transport, SipTransport::Tls);
        // Safe by default: no listener, calls only through the SIP server.
        assert_eq!(s.sip_tls_listen, 0);
        assert_eq!(s.sip_inbound_accept, InboundAccept::Registrar);
        assert_eq!(s.sip_tls_listen_max, 8);
        assert_eq!(s.download_method(), DownloadMethod::Https);
        assert_eq!(s.sip_srtp_suites, Suite::ALL.to_vec());
    }

    #[test]
    fn inbound_accept_and_listener_limit() {
        for (text, want) in [
            ("registrar", InboundAccept::Registrar),
            ("verified", InboundAccept::Verified),
            ("any", InboundAccept::Any),
        ] {
            let p = parse(&format!(
                "sip.tls.listen = 5061\nsip.inbound.accept = {text}\n"
            ))
            .unwrap();
            assert_eq!(p.settings.sip_inbound_accept, want);
            // `any` is never silent.
            assert_eq!(
                p.warnings.iter().any(|w| w.message.contains("anyone")),
                want == InboundAccept::Any
            );
        }
        let p = parse("sip.inbound.accept = verified\n").unwrap();
        assert!(
            p.warnings[0].message.contains("no effect"),
            "{:?}",
            p.warnings
        );
        assert!(parse("sip.inbound.accept = everyone\n").is_err());
        assert_eq!(
            parse("sip.tls.listen.max = 2\n")
                .unwrap()
                .settings
                .sip_tls_listen_max,
            2
        );
        for bad in ["0", "65", "-1", "x"] {
            assert!(
                parse(&format!("sip.tls.listen.max = {bad}\n")).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn full_file() {
        let p = parse(
            "prov.server = https://prov.example.com/cfg\nprov.download.cert = 0\nsip.proxy = pbx.example.com:5061\n\
             sip.u1.user = 100\nsip.u1.pwd = s3cret#1\nsip.transport = udp\nsip.srtp.offer = standard\n\
             sip.srtp.insecure_signaling = 1\nsip.tls.ciphers = TLS13_AES_256_GCM_SHA384, ECDHE-RSA-AES256-GCM-SHA384\n\
             sip.tls.version.min = 1.3\nsip.srtp.suites = AES_CM_128_HMAC_SHA1_80\nsip.tls.listen = 0\nvendor.thing = x\n",
        )
        .unwrap();
        let s = &p.settings;
        assert!(!s.prov_download_cert);
        assert_eq!(s.sip_u1_pwd.expose(), "s3cret#1");
        assert_eq!(s.sip_tls_ciphers.len(), 2);
        assert_eq!(s.sip_tls_listen, 0);
        assert_eq!(s.sip_srtp_suites, vec![Suite::AesCm128HmacSha1_80]);
        assert_eq!(s.unknown.len(), 1);
        assert!(p
            .warnings
            .iter()
            .any(|w| w.message.contains("unknown key vendor.thing") && w.line == 13));
        assert!(p
            .warnings
            .iter()
            .any(|w| w.message.contains("not verified")));
        assert!(!format!("{s:?}").contains("s3cret"));
    }

    #[test]
    fn invalid_value_rejects_file_with_location() {
        let errors =
            parse("sip.proxy = a.example\nsip.transport = sctp\nprov.download.cert = yes\n")
                .unwrap_err();
        assert_eq!(errors.len(), 2);
        assert_eq!((errors[0].line, errors[0].col), (2, 17));
        assert!(errors[0].message.contains("udp, tcp or tls"));
        assert_eq!(errors[1].line, 3);
        assert!(errors[1].message.contains("0 or 1"));
    }

    #[test]
    fn cross_field_rules() {
        let e = parse("sip.transport = udp\nsip.srtp.offer = standard\n").unwrap_err();
        assert_eq!(e[0].line, 2);
        assert!(e[0].message.contains("insecure_signaling"));
        assert!(parse(
            "sip.transport = udp\nsip.srtp.offer = standard\nsip.srtp.insecure_signaling = 1\n"
        )
        .is_ok());
        assert!(parse("sip.srtp.offer = standard\n").is_ok());
        let e = parse("prov.download.method = https\n").unwrap_err();
        assert!(e[0].message.contains("prov.server"));
        assert!(parse("prov.download.method = https\nprov.server = p.example\n").is_ok());
        assert!(parse("prov.download.method = http\nprov.server = https://p.example\n").is_err());
        assert!(parse(
            "sip.tls.version.min = 1.3\nsip.tls.ciphers = ECDHE-RSA-AES128-GCM-SHA256\n"
        )
        .is_err());
    }

    #[test]
    fn refused_methods() {
        let e = parse("prov.server = x.example\nprov.download.method = tftp\n").unwrap_err();
        assert!(e[0].message.contains("not supported"), "{}", e[0].message);
        assert!(parse("prov.server = ftp://x.example\n").is_err());
        assert!(parse("sip.tls.version.min = 1.1\n").is_err());
    }

    #[test]
    fn syntax_and_value_errors_reported_together() {
        let e = parse("sip.transport = sctp\nno equals\nsip.tls.listen = -1\n").unwrap_err();
        let at: Vec<(usize, usize)> = e.iter().map(|e| (e.line, e.col)).collect();
        assert_eq!(at, vec![(1, 17), (2, 1), (3, 18)]);
    }

    #[test]
    fn auto_answer_key() {
        let s = parse("").unwrap().settings;
        assert!(s.sip_auto_answer, "default is 1");
        assert_eq!(
            s.get(keys::SIP_AUTO_ANSWER).as_deref().map(String::as_str),
            Some("1")
        );
        for (text, want) in [("0", false), ("1", true), ("", true)] {
            let p = parse(&format!("sip.auto_answer = {text}\n")).unwrap();
            assert_eq!(p.settings.sip_auto_answer, want, "{text:?}");
            assert!(p.warnings.is_empty(), "known key: {:?}", p.warnings);
            assert_eq!(p.known_keys, vec!["sip.auto_answer".to_owned()]);
            assert!(p.settings.unknown.is_empty());
        }
        let mut s = Settings::default();
        assert_eq!(s.set(keys::SIP_AUTO_ANSWER, "0"), Ok(true));
        assert!(!s.sip_auto_answer);
        assert!(crate::render(&s).contains("sip.auto_answer = 0\n"));
        let changes = crate::diff(&Settings::default(), &s);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].key, "sip.auto_answer");
        for bad in ["yes", "true", "2"] {
            let e =
                parse(&format!("sip.proxy = a.example\nsip.auto_answer = {bad}\n")).unwrap_err();
            assert_eq!(e.len(), 1);
            assert_eq!((e[0].file.as_str(), e[0].line, e[0].col), ("t.conf", 2, 19));
            assert!(
                e[0].message.contains("invalid value for sip.auto_answer"),
                "{}",
                e[0].message
            );
            assert!(e[0].message.contains("0 or 1"), "{}", e[0].message);
        }
    }

    #[test]
    fn listen_client_cert_key() {
        let s = parse("").unwrap().settings;
        assert_eq!(s.sip_tls_listen_client_cert, ListenClientCert::Requested);
        assert_eq!(
            s.get(keys::SIP_TLS_LISTEN_CLIENT_CERT)
                .as_deref()
                .map(String::as_str),
            Some("requested")
        );
        for (text, want) in [
            ("requested", ListenClientCert::Requested),
            ("required", ListenClientCert::Required),
            ("none", ListenClientCert::NotRequested),
            ("", ListenClientCert::Requested),
        ] {
            let p = parse(&format!(
                "sip.tls.listen = 5061\nsip.tls.listen.client_cert = {text}\n"
            ))
            .unwrap();
            assert_eq!(p.settings.sip_tls_listen_client_cert, want, "{text:?}");
            assert!(p.warnings.is_empty(), "known key: {:?}", p.warnings);
            assert!(p.settings.unknown.is_empty());
            // Written back as read.
            let again = parse(&crate::render(&p.settings)).unwrap().settings;
            assert_eq!(again, p.settings);
        }
        let mut s = Settings::default();
        assert_eq!(s.set(keys::SIP_TLS_LISTEN_CLIENT_CERT, "none"), Ok(true));
        assert!(crate::render(&s).contains("sip.tls.listen.client_cert = none\n"));
        let changes = crate::diff(&Settings::default(), &s);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].key, "sip.tls.listen.client_cert");
        for bad in ["maybe", "Required", "optional", "1"] {
            let e = parse(&format!("# c\nsip.tls.listen.client_cert = {bad}\n")).unwrap_err();
            assert_eq!(e.len(), 1);
            assert_eq!((e[0].file.as_str(), e[0].line, e[0].col), ("t.conf", 2, 30));
            assert!(
                e[0].message
                    .contains("invalid value for sip.tls.listen.client_cert"),
                "{}",
                e[0].message
            );
            assert!(
                e[0].message.contains("requested, required or none"),
                "{}",
                e[0].message
            );
        }
        // Inert while the listener is off: a warning, not an error.
        let p = parse("sip.tls.listen = 0\nsip.tls.listen.client_cert = required\n").unwrap();
        assert!(p
            .warnings
            .iter()
            .any(|w| w.line == 2 && w.message.contains("no effect")));
        assert!(parse("sip.tls.listen = 0\n").unwrap().warnings.is_empty());
    }

    #[test]
    fn web_https_port_key() {
        let s = parse("").unwrap().settings;
        assert_eq!(s.web_https_port, 443, "default 443");
        assert_eq!(
            s.get(keys::WEB_HTTPS_PORT).as_deref().map(String::as_str),
            Some("443")
        );
        for (text, want) in [("0", 0), ("8443", 8443), ("65535", 65535), ("", 443)] {
            let p = parse(&format!("web.https.port = {text}\n")).unwrap();
            assert_eq!(p.settings.web_https_port, want, "{text:?}");
            assert!(p.warnings.is_empty(), "known key: {:?}", p.warnings);
            let again = parse(&crate::render(&p.settings)).unwrap().settings;
            assert_eq!(again, p.settings);
        }
        for bad in ["-1", "65536", "https", "4 43", "1e3", "123456"] {
            let e = parse(&format!("web.https.port = {bad}\n")).unwrap_err();
            assert!(
                e[0].message.contains("invalid value for web.https.port"),
                "{bad}: {}",
                e[0].message
            );
            assert!(e[0].message.contains("0 for off"), "{}", e[0].message);
        }
        let mut s = Settings::default();
        assert_eq!(s.set(keys::WEB_HTTPS_PORT, "0"), Ok(true));
        let changes = crate::diff(&Settings::default(), &s);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].to_string(), "~ web.https.port = 0 (was 443)");
    }

    #[test]
    fn admin_password_is_never_written_in_plain_text() {
        let p = parse("admin.password = Tr1cky # not a comment\n").unwrap();
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        assert_eq!(p.known_keys, vec!["admin.password".to_owned()]);
        let mut s = p.settings;
        assert!(matches!(s.admin_password, AdminPassword::Plain(_)));
        assert!(s.admin_password.verify("Tr1cky # not a comment"));
        // Not rendered before sealing, and Debug masks it.
        assert!(!crate::render(&s).contains("Tr1cky"));
        assert!(!crate::render(&s).contains("admin.password"));
        assert!(!format!("{s:?}").contains("Tr1cky"));
        s.seal_secrets(&Settings::default()).unwrap();
        let text = crate::render(&s);
        assert!(!text.contains("Tr1cky"), "{}", text.as_str());
        assert!(
            text.contains("admin.password.hash = $argon2id$v=19$"),
            "{}",
            text.as_str()
        );
        // The hash reads back and verifies; a second seal of the same password keeps it.
        let back = parse(&text).unwrap().settings;
        assert_eq!(back, s);
        assert!(back.admin_password.verify("Tr1cky # not a comment"));
        assert!(!back.admin_password.verify("Tr1cky"));
        let mut again = parse("admin.password = Tr1cky # not a comment\n")
            .unwrap()
            .settings;
        again.seal_secrets(&back).unwrap();
        assert_eq!(again.admin_password, back.admin_password);
        // The diff masks it.
        let changes = crate::diff(&Settings::default(), &back);
        let shown: Vec<String> = changes.iter().map(ToString::to_string).collect();
        assert_eq!(shown, vec!["+ admin.password.hash = ********"]);
        // Empty: back to the default.
        let reset = parse("admin.password = \n").unwrap().settings;
        assert!(reset.admin_password.is_default());
        assert!(reset
            .admin_password
            .verify(crate::password::DEFAULT_ADMIN_PASSWORD));
    }

    #[test]
    fn admin_password_errors_never_show_it() {
        let e = parse(&format!("admin.password = {}\n", "q".repeat(300))).unwrap_err();
        assert!(e[0].message.contains("invalid value for admin.password"));
        assert!(!e[0].to_string().contains("qqq"), "{}", e[0]);
        let e = parse("admin.password.hash = secret-text\n").unwrap_err();
        assert!(e[0].message.contains("PHC"), "{}", e[0].message);
        assert!(!e[0].to_string().contains("secret-text"), "{}", e[0]);
    }

    #[test]
    fn secrets_never_in_errors() {
        let long = "p".repeat(300);
        let e = parse(&format!("sip.u1.pwd = {long}\n")).unwrap_err();
        assert!(!e[0].to_string().contains("ppp"));
        assert!(!e[0].text.contains("ppp"), "{}", e[0].text);
    }
}
