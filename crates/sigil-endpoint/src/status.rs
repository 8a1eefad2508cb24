//! What the device reports at any moment (SPEC E4, ID2): a Rust value that
//! serialises to JSON.

use serde::Serialize;
use sigil_identity::IdentityStatus;

/// How a boot step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Done as intended.
    Ok,
    /// Done, with something the installer should look at (the device carries on).
    Warning,
    /// Not needed by this configuration.
    Skipped,
    /// Failed; the boot stops here (or, for provisioning, carries on with the last good configuration).
    Failed,
}

impl Outcome {
    /// A one-character mark for terminals: `✓`, `!`, `-`, `✗`.
    pub fn mark(self) -> &'static str {
        match self {
            Outcome::Ok => "✓",
            Outcome::Warning => "!",
            Outcome::Skipped => "-",
            Outcome::Failed => "✗",
        }
    }
}

/// One step of the boot pipeline and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BootStep {
    /// The step: `factory identity`, `configuration`, `trust store`,
    /// `active identity`, `provisioning`, `sip connection`, `registration`, `ready`.
    pub step: String,
    /// How it ended.
    pub outcome: Outcome,
    /// What happened, in one line.
    pub detail: String,
    /// Milliseconds since the boot started.
    pub at_ms: u64,
}

impl std::fmt::Display for BootStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {:<16} {}",
            self.outcome.mark(),
            self.step,
            self.detail
        )
    }
}

/// The trust store in numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TrustSummary {
    /// Built-in web PKI anchors.
    pub builtin: usize,
    /// Vendor chain anchors (`factory/vendor-chain.pem`).
    pub vendor: usize,
    /// Uploaded anchors (`user/certs/trusted/`).
    pub user: usize,
    /// Files of `certs/trusted/` that were refused, with the reason.
    pub refused: Vec<String>,
    /// Anchors with a problem (expired, duplicate…), with the problem.
    pub problems: Vec<String>,
}

/// The configuration in use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ConfigSummary {
    /// The configuration file.
    pub file: String,
    /// Whether it exists (defaults otherwise).
    pub exists: bool,
    /// Where the settings in use came from: `config.conf`, the last good copy
    /// `config.conf.bak` (with what is wrong with `config.conf`), or defaults.
    pub source: String,
    /// `prov.server`, if set.
    pub prov_server: Option<String>,
    /// `sip.proxy`, if set.
    pub sip_proxy: Option<String>,
    /// `sip.transport`.
    pub sip_transport: String,
    /// `sip.u1.user`.
    pub sip_user: String,
    /// `sip.tls.validate`.
    pub sip_tls_validate: bool,
    /// `sip.tls.listen` (0 = off).
    pub sip_tls_listen: u16,
    /// `sip.srtp.offer`.
    pub srtp_offer: String,
    /// Warnings found while reading it (unknown keys, weakened security…).
    pub warnings: Vec<String>,
}

/// What provisioning did at the last boot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProvisioningStatus {
    /// `not configured`, `applied`, `unchanged`, `failed`.
    pub result: String,
    /// The URL of the file that was applied (or the last one tried).
    pub url: Option<String>,
    /// Server certificate check: `verified`, `encrypted, server not verified`, `not encrypted`.
    pub server: Option<String>,
    /// Changed keys (secrets masked).
    pub changes: Vec<String>,
    /// Why it failed (the device then runs on the last good configuration).
    pub error: Option<String>,
}

/// One TLS connection of the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionStatus {
    /// `sip` (to the proxy), `sip inbound`, `provisioning`.
    pub purpose: String,
    /// The peer address.
    pub peer: String,
    /// Whether it is up.
    pub up: bool,
    /// `TLSv1.3` …
    pub version: String,
    /// The negotiated suite.
    pub cipher_suite: String,
    /// `verified`, `not verified` (encrypted, server not verified), or `-` for inbound.
    pub verification: String,
    /// The peer certificate's subject.
    pub peer_subject: Option<String>,
    /// Whether our certificate was requested and sent.
    pub client_certificate: Option<String>,
    /// Whether the TLS session was resumed.
    pub resumed: bool,
}

/// The registration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RegistrationStatus {
    /// `idle`, `registering`, `registered`, `unregistering`, `failed`.
    pub state: String,
    /// Address of record.
    pub aor: Option<String>,
    /// The contact registered.
    pub contact: Option<String>,
    /// Seconds granted by the registrar at the last success.
    pub expires: Option<u64>,
    /// The last failure, if any.
    pub error: Option<String>,
    /// REGISTER transactions that succeeded (initial, refreshes, after reconnects).
    pub successes: u64,
}

/// Direction of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallDirection {
    /// We called.
    Outgoing,
    /// We were called.
    Incoming,
}

/// One call, running or finished.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallStatus {
    /// The device's id of the call.
    pub id: crate::device::CallId,
    /// Call-ID.
    pub call_id: String,
    /// The peer (URI).
    pub peer: String,
    /// Who called.
    pub direction: CallDirection,
    /// `calling`, `ringing`, `confirmed`, `ending`, `terminated`, …
    pub state: String,
    /// `SRTP AES_CM_128_HMAC_SHA1_80`, `plain RTP (why)`, or `none (why)`.
    pub media: String,
    /// Whether the media is encrypted.
    pub encrypted: bool,
    /// Who else may know the SRTP keys, when the signaling that carried them
    /// (SDES, in the SDP) was not end-to-end trustworthy: `keys sent over TLS
    /// to an unverified server` (`sip.tls.validate = 0`) or `keys sent in
    /// the clear` (`sip.srtp.insecure_signaling = 1`). `None` otherwise.
    pub key_exposure: Option<String>,
    /// The SRTP offer policy applied to this call.
    pub policy: String,
    /// Media statistics: packets, loss, jitter, RTT, SRTP failures (SPEC E7).
    pub stats: sigil_media::CallStats,
    /// Whether the call was set up with the media the policy demands.
    pub established: bool,
    /// Why it ended (`None` while running).
    pub ended: Option<String>,
}

/// Everything the device can say about itself (SPEC E4).
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeviceStatus {
    /// The data directory.
    pub data_dir: String,
    /// The boot steps so far.
    pub boot: Vec<BootStep>,
    /// Identities: factory, override, web; which one is in use (ID2).
    pub identity: Option<IdentityStatus>,
    /// The trust store.
    pub trust: TrustSummary,
    /// The configuration.
    pub configuration: ConfigSummary,
    /// Provisioning at the last boot.
    pub provisioning: ProvisioningStatus,
    /// TLS connections.
    pub connections: Vec<ConnectionStatus>,
    /// The registration.
    pub registration: RegistrationStatus,
    /// Calls (running first, then finished, most recent last).
    pub calls: Vec<CallStatus>,
    /// The inbound listener (`sip.tls.listen`).
    pub listener: ListenerStatus,
    /// Events the application did not collect in time and that were dropped.
    pub events_dropped: u64,
    /// Problems an installer should fix.
    pub problems: Vec<String>,
}

/// The inbound SIP-over-TLS listener.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ListenerStatus {
    /// `off`, `starting`, `up`, `stopped` or `failed: why`.
    pub state: String,
    /// Where it listens.
    pub addr: Option<String>,
    /// Its client-certificate setting, in words.
    pub client_certificate: Option<String>,
}

/// The status of a TLS connection.
pub fn connection_status(
    purpose: &str,
    peer: &str,
    info: &sigil_sip_tls::TlsInfo,
    up: bool,
) -> ConnectionStatus {
    ConnectionStatus {
        purpose: purpose.to_owned(),
        peer: peer.to_owned(),
        up,
        version: info.version.clone(),
        cipher_suite: info.cipher_suite.clone(),
        verification: match info.verification_status() {
            "not verified" => "encrypted, server not verified".to_owned(),
            other => other.to_owned(),
        },
        peer_subject: info.peer_chain.first().cloned(),
        client_certificate: info.client_auth.as_ref().map(|c| format!("{c:?}")),
        resumed: info.resumed,
    }
}

/// The status of the server connection over plain TCP or UDP.
pub fn plain_connection_status(peer: &str, transport: &str, up: bool) -> ConnectionStatus {
    ConnectionStatus {
        purpose: "sip".into(),
        peer: peer.to_owned(),
        up,
        version: transport.to_owned(),
        cipher_suite: "-".into(),
        verification: "not encrypted".into(),
        peer_subject: None,
        client_certificate: None,
        resumed: false,
    }
}

impl DeviceStatus {
    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}
