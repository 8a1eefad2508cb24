//! Typed settings: every key of SPEC's table, checked, with documented defaults,
//! plus Sigil's own keys (`prov.name.*`, `sip.tls.listen.client_cert`,
//! `sip.auto_answer`, `admin.password.hash`).

mod cross_field;
mod defaults;
mod pairs;
mod parse;
mod set;

/// The keys this product knows, in the order they are written.
pub mod keys;

use std::fmt;

use sigil_srtp::negotiate::Keying;
use sigil_srtp::Suite;
use zeroize::Zeroizing;

use crate::format::Warning;
use crate::password::AdminPassword;
use crate::secret::{display_value, Secret};
use crate::values::{
    DownloadMethod, HostPort, InboundAccept, ListenClientCert, ProvServer, SipTransport, SrtpOffer,
    TlsCipher, TlsVersion,
};

pub use defaults::{
    DEFAULT_NAME_DEVICE, DEFAULT_NAME_GENERIC, DEFAULT_NAME_MODEL, DEFAULT_TLS_LISTEN,
    DEFAULT_TLS_LISTEN_MAX, DEFAULT_WEB_HTTPS_PORT, MAX_TLS_LISTEN_MAX,
};

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
    /// `sip.srtp.keying` (default [`Keying::Sdes`], SPEC M5).
    pub sip_srtp_keying: Keying,
    /// `sip.srtp.dtls.device_cert` (default `false`: a self-signed
    /// certificate per call).
    pub sip_srtp_dtls_device_cert: bool,
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::LocatedError;

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
        // DTLS-SRTP keys are not in the SDP: standard over UDP is fine.
        let s = parse("sip.transport = udp\nsip.srtp.offer = standard\nsip.srtp.keying = dtls\n")
            .unwrap();
        assert_eq!(s.settings.sip_srtp_keying, Keying::Dtls);
        // With both, the SDES half is left out over UDP; DTLS still keys the call.
        assert!(
            parse("sip.transport = udp\nsip.srtp.offer = standard\nsip.srtp.keying = both\n")
                .is_ok()
        );
        let e = parse("sip.srtp.keying = zrtp\n").unwrap_err();
        assert!(
            e[0].message.contains("sdes, dtls or both"),
            "{}",
            e[0].message
        );
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
