//! The rules that involve several keys: errors that reject a file and
//! warnings about inert or weakened settings.

use std::collections::BTreeMap;

use super::parse::Origin;
use super::{keys, Settings};
use crate::values::{DownloadMethod, InboundAccept, SipTransport, SrtpOffer, TlsVersion};

/// A cross-field finding: the key to point at, and the message.
type Finding = (&'static str, String);

impl Settings {
    /// Checks the rules that involve several keys. Returns `(key, message)`
    /// errors, the key being the one to point at, and `(key, message)` warnings.
    pub(super) fn cross_check(
        &self,
        explicit: &BTreeMap<String, Origin>,
    ) -> (Vec<Finding>, Vec<Finding>) {
        use keys::*;
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let pick = |a: &'static str, b: &'static str| if explicit.contains_key(a) { a } else { b };
        let signaling_secure = self.sip_transport == SipTransport::Tls;
        // DTLS-SRTP puts no key into the SDP: only SDES keying needs TLS.
        let sdes_only = self.sip_srtp_keying == sigil_srtp::negotiate::Keying::Sdes;
        if !signaling_secure && !self.sip_srtp_insecure_signaling && sdes_only {
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
}
