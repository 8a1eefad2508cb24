//! The documented defaults: file name patterns, listener settings, and
//! [`Settings::default`].

use sigil_srtp::Suite;

use super::Settings;
use crate::password::AdminPassword;
use crate::secret::Secret;
use crate::values::{InboundAccept, ListenClientCert, SipTransport, SrtpOffer, TlsVersion};

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
            sip_srtp_keying: sigil_srtp::negotiate::Keying::Sdes,
            sip_srtp_dtls_device_cert: false,
            sip_srtp_insecure_signaling: false,
            web_https_port: DEFAULT_WEB_HTTPS_PORT,
            admin_password: AdminPassword::Default,
            unknown: Vec::new(),
        }
    }
}
