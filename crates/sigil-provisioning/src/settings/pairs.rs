//! Settings back to text: every key and value as it would be written.

use zeroize::Zeroizing;

use super::{keys, Settings};
use crate::password::AdminPassword;

impl Settings {
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
        put(SIP_SRTP_KEYING, self.sip_srtp_keying.name().to_owned());
        put(
            SIP_SRTP_DTLS_DEVICE_CERT,
            bool_text(self.sip_srtp_dtls_device_cert),
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
}
