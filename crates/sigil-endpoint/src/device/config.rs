//! Everything a [`Device`](super::Device) is built from: settings, trust,
//! identities, and the integrator's choices. Reading them from the data
//! directory is the boot's job ([`DeviceDir::prepare`](crate::DeviceDir::prepare));
//! the device itself reads nothing.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustls::client::ResolvesClientCert;
use rustls::pki_types::CertificateDer;
use sigil_identity::Identity;
use sigil_provisioning::values::{ListenClientCert, SipTransport};
use sigil_provisioning::Settings;
use sigil_sip::Limits;
use sigil_sip_tls::{Backoff, CipherPolicy, ConnectionSettings, TlsPolicy, TlsVersion};
use sigil_srtp::negotiate::{OfferPolicy, SignalingTransport, SrtpConfig};
use sigil_trust::TrustStore;

use crate::error::EndpointError;

/// Largest SIP body accepted on the listener (a device needs SDP, not more).
pub const MAX_INBOUND_BODY: usize = 64 * 1024;
/// Most listener connections from one source address.
pub const MAX_PER_SOURCE: usize = 2;

/// The inputs of a [`Device`](super::Device).
#[derive(Clone)]
pub struct DeviceConfig {
    /// The configuration in effect.
    pub settings: Settings,
    /// The trust store the SIP server is verified against.
    pub store: Arc<TrustStore>,
    /// What to present when a server asks for a client certificate (the
    /// factory or override identity, SPEC ID5).
    pub client_identity: Option<Arc<dyn ResolvesClientCert>>,
    /// What the inbound listener presents (the active identity).
    pub server_identity: Option<Identity>,
    /// What device certificates of inbound peers are verified against (the
    /// vendor chain and the uploaded anchors).
    pub inbound_anchors: Vec<CertificateDer<'static>>,
    /// The SIP user (extension); from `sip.u1.user`, else the MAC.
    pub user: String,
    /// Answer incoming calls at once (the paging adapter's behaviour) rather
    /// than reporting [`Event::IncomingCall`](super::Event::IncomingCall) and
    /// waiting for [`Device::answer`](super::Device::answer). Also needs
    /// `sip.auto_answer = 1`.
    pub auto_answer: bool,
    /// Keep-alive, handshake and write timeouts, SIP limits of the server connection.
    pub connection: ConnectionSettings,
    /// Reconnect backoff after a lost connection.
    pub backoff: Backoff,
    /// Write TLS secrets here (Wireshark); `None` (the default) for never.
    pub key_log: Option<PathBuf>,
    /// The User-Agent header.
    pub user_agent: String,
    /// The wall-clock time at the `now` given to [`Device::new`](super::Device::new),
    /// for RTCP's NTP timestamps (the device never reads a clock).
    pub wall_clock: SystemTime,
    /// How long shutdown waits for calls to end and the binding to go.
    pub shutdown_wait: Duration,
    /// The certificate DTLS-SRTP presents in every call
    /// (`sip.srtp.dtls.device_cert = 1`: the device's own); `None` makes a
    /// self-signed one per call.
    pub dtls_identity: Option<sigil_srtp::dtls::DtlsIdentity>,
}

impl std::fmt::Debug for DeviceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceConfig")
            .field("settings", &self.settings)
            .field("user", &self.user)
            .field("auto_answer", &self.auto_answer)
            .finish_non_exhaustive()
    }
}

impl DeviceConfig {
    /// A configuration from `settings` and `store`, with no identities, the
    /// user from `sip.u1.user` (or `device`), auto answer on, default timers.
    pub fn new(settings: Settings, store: Arc<TrustStore>, wall_clock: SystemTime) -> DeviceConfig {
        let user = if settings.sip_u1_user.is_empty() {
            "device".to_owned()
        } else {
            settings.sip_u1_user.clone()
        };
        DeviceConfig {
            settings,
            store,
            client_identity: None,
            server_identity: None,
            inbound_anchors: Vec::new(),
            user,
            auto_answer: true,
            connection: ConnectionSettings::default(),
            backoff: Backoff::default(),
            key_log: None,
            user_agent: concat!("sigil/", env!("CARGO_PKG_VERSION")).to_owned(),
            wall_clock,
            shutdown_wait: Duration::from_secs(2),
            dtls_identity: None,
        }
    }

    /// The TLS policy of `sip.tls.*`.
    pub fn tls_policy(&self) -> Result<TlsPolicy, EndpointError> {
        let s = &self.settings;
        let min_version = TlsVersion::parse(s.sip_tls_version_min.as_str())
            .map_err(|e| EndpointError::Config(e.to_string()))?;
        let ciphers = if s.sip_tls_ciphers.is_empty() {
            CipherPolicy::All
        } else {
            CipherPolicy::Only(s.sip_tls_ciphers.iter().map(|c| c.to_rustls()).collect())
        };
        Ok(TlsPolicy {
            min_version,
            ciphers,
            validate: s.sip_tls_validate,
            key_log: self.key_log.clone(),
            ..TlsPolicy::default()
        })
    }

    /// The SRTP configuration for `policy` over the configured signaling.
    pub fn srtp_config(&self, policy: OfferPolicy) -> SrtpConfig {
        let s = &self.settings;
        let transport = match s.sip_transport {
            SipTransport::Tls => SignalingTransport::Tls,
            SipTransport::Tcp => SignalingTransport::Tcp,
            SipTransport::Udp => SignalingTransport::Udp,
        };
        SrtpConfig::new(policy, transport)
            .with_suites(s.sip_srtp_suites.clone())
            .with_insecure_signaling(s.sip_srtp_insecure_signaling)
    }

    /// The SRTP configuration of one call: [`Self::srtp_config`] with
    /// `sip.srtp.keying` and the fingerprint of the call's DTLS certificate
    /// (`None` keeps SDES keying).
    pub fn call_srtp_config(
        &self,
        policy: OfferPolicy,
        fingerprint: Option<sigil_srtp::dtls::Fingerprint>,
    ) -> SrtpConfig {
        let config = self.srtp_config(policy);
        match fingerprint {
            Some(f) => config.with_keying(self.settings.sip_srtp_keying, Some(f)),
            None => config,
        }
    }

    /// `sip.srtp.offer` as the negotiator's policy.
    pub fn offer_policy(&self) -> OfferPolicy {
        self.settings
            .sip_srtp_offer
            .as_str()
            .parse()
            .unwrap_or(OfferPolicy::Optional)
    }

    /// Settings of listener connections: no keep-alive pings of ours, the
    /// device-sized body limit.
    pub(crate) fn inbound_connection(&self) -> ConnectionSettings {
        ConnectionSettings {
            keepalive_interval: None,
            limits: Limits {
                max_body_len: MAX_INBOUND_BODY.min(self.connection.limits.max_body_len),
                ..self.connection.limits
            },
            ..self.connection
        }
    }

    /// `sip.tls.listen.client_cert` as the acceptor's client authentication.
    pub(crate) fn listen_client_cert(&self) -> ListenClientCert {
        self.settings.sip_tls_listen_client_cert
    }
}
