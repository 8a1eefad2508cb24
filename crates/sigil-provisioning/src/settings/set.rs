//! Setting one key from its text value: each known key's checks, and
//! unknown keys kept verbatim ([`Settings::set`]).

use sigil_srtp::Suite;
use zeroize::Zeroizing;

use super::{keys, Settings, UnknownSetting, MAX_TLS_LISTEN_MAX};
use crate::password::{check_hash, check_password, AdminPassword};
use crate::secret::Secret;
use crate::values::{parse_bool, split_list, TlsCipher};

/// Longest text value (user, auth id, display name, password).
const MAX_TEXT: usize = 256;

/// A port number, `0` meaning off.
fn port_or_off(value: &str) -> Result<u16, String> {
    let bad = || format!("{value:?}: expected a port from 1 to 65535, or 0 for off");
    if value.len() <= 5 && value.bytes().all(|b| b.is_ascii_digit()) {
        value.parse::<u16>().map_err(|_| bad())
    } else {
        Err(bad())
    }
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

fn text(value: &str) -> Result<String, String> {
    if value.chars().count() > MAX_TEXT {
        Err(format!("text longer than {MAX_TEXT} characters"))
    } else {
        Ok(value.to_owned())
    }
}
impl Settings {
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
    pub(super) fn set_known(&mut self, key: &str, value: &str) -> Result<bool, String> {
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
            SIP_SRTP_KEYING => {
                self.sip_srtp_keying = if empty {
                    defaults().sip_srtp_keying
                } else {
                    value
                        .parse()
                        .map_err(|e: sigil_srtp::negotiate::ConfigError| e.to_string())?
                };
            }
            SIP_SRTP_DTLS_DEVICE_CERT => {
                self.sip_srtp_dtls_device_cert = if empty {
                    defaults().sip_srtp_dtls_device_cert
                } else {
                    parse_bool(value)?
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
}
