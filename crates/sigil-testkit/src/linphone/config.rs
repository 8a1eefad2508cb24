//! What an instance is configured with: proxy, account, TLS files, media
//! encryption, WAV files and RTP ports.

use std::net::{SocketAddr, UdpSocket};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The SIP transport to the proxy (`;transport=` of `reg_proxy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    /// SIP over TLS (the default): linphonec dials the proxy and keeps the connection.
    #[default]
    Tls,
    /// SIP over TCP.
    Tcp,
    /// SIP over UDP.
    Udp,
}

impl Transport {
    pub(super) fn param(self) -> &'static str {
        match self {
            Transport::Tls => "tls",
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }
}

/// linphonec's media encryption (`[sip] media_encryption` and
/// `media_encryption_mandatory`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MediaEncryption {
    /// `media_encryption=none`: offers `RTP/AVP` without crypto. As answerer
    /// it still accepts an `RTP/SAVP` offer with SDES (media is SRTP) and
    /// answers an `RTP/AVP` offer carrying `a=crypto` with plain RTP.
    #[default]
    None,
    /// `media_encryption=srtp`, `media_encryption_mandatory=0`: offers
    /// `RTP/SAVP` with four `a=crypto` lines (there is no `RTP/AVP` +
    /// `a=crypto` offer); when that offer is declined with 488 it calls again
    /// at once with `RTP/AVP` and no crypto (one linphonec call id, two
    /// INVITEs; only the final outcome is printed). As answerer it takes
    /// `RTP/SAVP` offers with SRTP and `RTP/AVP` offers (with or without
    /// `a=crypto`) with plain RTP.
    SrtpOptional,
    /// `media_encryption=srtp`, `media_encryption_mandatory=1`: offers
    /// `RTP/SAVP` with four `a=crypto` lines and gives up on a 488; as
    /// answerer it declines any `RTP/AVP` offer, even one with `a=crypto`,
    /// with 488 Not acceptable here.
    SrtpMandatory,
    /// `media_encryption=dtls`, `media_encryption_mandatory=1`: DTLS-SRTP
    /// (RFC 5763/5764) with `a=fingerprint` and `a=setup`. linphonec takes
    /// its DTLS identity from a PEM file in `$HOME/.linphone-usr-crt` whose
    /// certificate has CN `linphone-dtls-default-identity` (key in the same
    /// file; every `.pem` there must parse as a certificate), and makes an
    /// RSA one in memory when there is none.
    DtlsMandatory,
}

/// What [`Linphone::start`] writes into the instance's linphonerc.
///
/// [`Linphone::start`]: super::Linphone::start
#[derive(Debug, Clone)]
pub struct LinphoneConfig {
    /// The proxy (registrar) address; `reg_proxy=<sip:IP:PORT;transport=…>`.
    pub proxy: SocketAddr,
    /// The SIP domain of the identity `sip:user@domain` and of the digest
    /// credentials (Kamailio's realm in our configuration is the To domain).
    pub domain: String,
    /// The user part of the identity and the digest user name.
    pub user: String,
    /// The digest password. With a wrong one linphonec answers the second
    /// 401 by giving up: `status register` says `registered=-1` for good
    /// (no password prompt appeared on stdout).
    pub password: String,
    /// SIP transport to the proxy.
    pub transport: Transport,
    /// Trust anchors for the proxy's certificate (`[sip] root_ca`, a PEM
    /// file; the root is enough, the proxy sends its intermediate). `None`
    /// leaves belle-sip's default (`/etc/ssl/certs`).
    pub ca_file: Option<PathBuf>,
    /// `[sip] verify_server_cn`. The chain is verified against `ca_file` either
    /// way. belle-sip's mbedTLS 2.28 matches the host only against dNSName
    /// SANs (or the CN when there are no SANs), never iPAddress SANs: a
    /// server certificate for `127.0.0.1` needs a dNSName SAN `127.0.0.1`
    /// for this to be `true`; with an IP SAN only (what
    /// `sigil_identity::mint::mint_server` makes) set it to `false`.
    pub verify_server_name: bool,
    /// Client certificate chain, PEM, leaf first (`[sip] client_cert_chain`):
    /// presented when the proxy asks for one.
    pub client_cert: Option<PathBuf>,
    /// The client certificate's private key, PEM, unencrypted (`[sip] client_cert_key`).
    pub client_key: Option<PathBuf>,
    /// Media encryption.
    pub encryption: MediaEncryption,
    /// Answer incoming calls at once (`-a`).
    pub auto_answer: bool,
    /// A WAV file played into every call, looped with 0.5 s pauses
    /// (`[sound] hold_music`); `None` sends silence.
    pub play_wav: Option<PathBuf>,
    /// Where the audio received in a call is written, as a 16-bit mono WAV
    /// at the codec rate (command `record FILE`); each call overwrites it.
    pub record_wav: Option<PathBuf>,
    /// Local RTP/RTCP ports for audio (`[rtp] audio_rtp_port=MIN-MAX`); RTCP
    /// uses the RTP port + 1, so give at least 4 ports. See [`free_rtp_ports`].
    pub rtp_ports: RangeInclusive<u16>,
    /// `[rtp] rtcp_mux=1`: offer and accept rtcp-mux (RFC 5761). With DTLS-SRTP
    /// and no mux linphonec runs a second handshake on the RTCP port.
    pub rtcp_mux: bool,
}

impl LinphoneConfig {
    /// A configuration for `user` at `proxy` over TLS, domain the proxy's IP,
    /// trusting `ca_file`, host name verified, no client certificate, no
    /// media encryption, no auto-answer, no files, RTP ports from
    /// [`free_rtp_ports`]`(10)`.
    pub fn new(proxy: SocketAddr, user: &str, password: &str, ca_file: &Path) -> Self {
        LinphoneConfig {
            proxy,
            domain: proxy.ip().to_string(),
            user: user.into(),
            password: password.into(),
            transport: Transport::Tls,
            ca_file: Some(ca_file.into()),
            verify_server_name: true,
            client_cert: None,
            client_key: None,
            encryption: MediaEncryption::None,
            auto_answer: false,
            play_wav: None,
            record_wav: None,
            rtp_ports: free_rtp_ports(10),
            rtcp_mux: false,
        }
    }

    /// This user's SIP URI, `sip:user@domain`.
    pub fn uri(&self) -> String {
        format!("sip:{}@{}", self.user, self.domain)
    }
}

/// `count` consecutive UDP ports (starting at an even port) that were free on
/// all addresses a moment ago and that this test process has not handed out
/// before, for [`LinphoneConfig::rtp_ports`].
///
/// # Panics
///
/// When no such range is found after 1000 tries.
pub fn free_rtp_ports(count: u16) -> RangeInclusive<u16> {
    static GIVEN: Mutex<Vec<RangeInclusive<u16>>> = Mutex::new(Vec::new());
    let count = count.max(2);
    for _ in 0..1000 {
        // Let the kernel pick a free ephemeral port as the base.
        let Ok(base) = UdpSocket::bind("0.0.0.0:0")
            .and_then(|s| s.local_addr())
            .map(|a| a.port() & !1)
        else {
            continue;
        };
        let Some(last) = base.checked_add(count - 1) else {
            continue;
        };
        if base < 1024 {
            continue;
        }
        let range = base..=last;
        let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        if given
            .iter()
            .any(|r| r.start() <= range.end() && range.start() <= r.end())
        {
            continue;
        }
        // Hold them all at once so that the check is about this moment.
        let held: Result<Vec<UdpSocket>, _> = range
            .clone()
            .map(|port| UdpSocket::bind(("0.0.0.0", port)))
            .collect();
        if held.is_ok() {
            given.push(range.clone());
            return range;
        }
    }
    panic!("no {count} consecutive free UDP ports after 1000 tries");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtp_port_ranges_do_not_overlap() {
        let a = free_rtp_ports(10);
        let b = free_rtp_ports(10);
        assert_eq!(a.end() - a.start(), 9);
        assert_eq!(a.start() % 2, 0);
        assert!(a.end() < b.start() || b.end() < a.start());
    }
}
