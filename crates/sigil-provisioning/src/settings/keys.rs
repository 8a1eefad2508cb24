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
/// SRTP suites in preference order (default: all six, AEAD AES-GCM first).
pub const SIP_SRTP_SUITES: &str = "sip.srtp.suites";
/// `sdes` | `dtls` | `both`: how media keys are agreed (default `sdes`, SPEC M5).
pub const SIP_SRTP_KEYING: &str = "sip.srtp.keying";
/// `0` | `1`: DTLS-SRTP presents the device's own certificate (its active
/// identity, when that is an ECDSA key) instead of a self-signed one made
/// per call (default `0`). A Sigil key beyond SPEC's table.
pub const SIP_SRTP_DTLS_DEVICE_CERT: &str = "sip.srtp.dtls.device_cert";
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
pub const ALL: [&str; 28] = [
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
    SIP_SRTP_KEYING,
    SIP_SRTP_DTLS_DEVICE_CERT,
    SIP_SRTP_INSECURE_SIGNALING,
    WEB_HTTPS_PORT,
    ADMIN_PASSWORD,
    ADMIN_PASSWORD_HASH,
];
