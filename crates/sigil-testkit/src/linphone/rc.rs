//! Rendering an instance's linphonerc, every key documented with what was
//! seen with it.

use std::path::Path;

use super::{LinphoneConfig, MediaEncryption, Transport};

/// The linphonerc [`Linphone::start`] writes for `config`, with `dir` the
/// instance's folder. Every key, and what was seen with it (Debian
/// linphone-cli 5.1.65):
///
/// - `[sip] sip_port=0`, `sip_tcp_port=0`, `sip_tls_port=-1`: 0 disables a
///   transport, -1 listens on a random port. The default is UDP and TCP on
///   5060, which two instances (or anything else) would fight over. Only the
///   transport in use gets a random port; calls come in over the
///   registration connection (Kamailio's connection reuse) for TLS and TCP.
/// - `[sip] default_proxy=0`: `[proxy_0]` is the account calls go out through.
/// - `[sip] root_ca=FILE`: PEM trust anchors for the proxy certificate
///   (belle-sip logs "Root ca path set to FILE"). A wrong CA: handshake fails
///   with "flags=[not-trusted ]" in the log and no registration.
/// - `[sip] verify_server_certs=1`, `verify_server_cn=0|1`: see
///   [`LinphoneConfig::verify_server_name`]; a name mismatch shows as
///   "flags=[CN-mismatch ]" and "SSL handshake failed" in the log.
/// - `[sip] client_cert_chain=FILE`, `client_cert_key=FILE`: client
///   certificate chain and key (PEM, PKCS#8 key) presented when the server
///   requests one; Kamailio with `require_certificate = yes` accepts it and
///   `$tls_peer_subject_cn` is its CN. (`[auth_info_N]` takes the same two
///   keys per account; one global pair is enough here.)
/// - `[sip] media_encryption=none|srtp`, `media_encryption_mandatory=0|1`:
///   see [`MediaEncryption`]. liblinphone logs "Negotiated media encryption
///   is LinphoneMediaEncryptionSRTP|None" per call; linphonec prints nothing
///   about SDES (its "Call N is fully encrypted" line is for ZRTP/DTLS only).
/// - `[sip] use_ipv6=0`.
/// - `[proxy_0] reg_proxy=<sip:IP:PORT;transport=tls>`, `reg_identity="user"
///   <sip:user@domain>`, `reg_expires=600`, `reg_sendregister=1`, `publish=0`.
/// - `[auth_info_0] username`, `passwd`, `domain`, `realm` (= domain, the
///   realm Kamailio's `pv_www_authenticate("$td", …)` challenges with).
/// - `[rtp] audio_rtp_port=MIN-MAX`: the m=audio port is picked in the range
///   (RTCP on port + 1, no rtcp-mux offered); `nortp_timeout=30` (default)
///   ends a call after 30 s without RTP.
/// - `[sound] echocancellation=0`; `hold_music=FILE`: the file played into
///   calls when no sound card is used (liblinphone's `play_file`; there is no
///   `play_file`/`record_file`/`use_files` key). A missing file logs
///   "on-hold music file does not exist" and calls carry silence — used for
///   "play nothing", since leaving the key out plays liblinphone's default
///   on-hold music.
/// - `[video] capture=0`, `display=0`, `automatically_initiate=0`,
///   `automatically_accept=0`: no m=video line (linphonec also disables
///   video unless run with -V/-C/-D).
/// - `[misc] add_missing_audio_codecs=0`, `add_missing_video_codecs=0` and
///   `[audio_codec_0]` PCMU/8000, `[audio_codec_1]` PCMA/8000: the offer is
///   `0 8 96` (96 = telephone-event, which stays). Without the
///   `add_missing_*` keys every other supported codec (opus, speex, …) is
///   appended, enabled.
///
/// No ICE or STUN is configured, and none is used: no `a=candidate`.
///
/// [`Linphone::start`]: super::Linphone::start
pub fn linphonerc(config: &LinphoneConfig, dir: &Path) -> String {
    let mut sip = vec![
        format!(
            "sip_port={}",
            if config.transport == Transport::Udp {
                -1
            } else {
                0
            }
        ),
        format!(
            "sip_tcp_port={}",
            if config.transport == Transport::Tcp {
                -1
            } else {
                0
            }
        ),
        format!(
            "sip_tls_port={}",
            if config.transport == Transport::Tls {
                -1
            } else {
                0
            }
        ),
        "default_proxy=0".into(),
        "use_ipv6=0".into(),
        "verify_server_certs=1".into(),
        format!("verify_server_cn={}", u8::from(config.verify_server_name)),
    ];
    if let Some(ca) = &config.ca_file {
        sip.push(format!("root_ca={}", ca.display()));
    }
    if let (Some(cert), Some(key)) = (&config.client_cert, &config.client_key) {
        sip.push(format!("client_cert_chain={}", cert.display()));
        sip.push(format!("client_cert_key={}", key.display()));
    }
    let (encryption, mandatory) = match config.encryption {
        MediaEncryption::None => ("none", 0),
        MediaEncryption::SrtpOptional => ("srtp", 0),
        MediaEncryption::SrtpMandatory => ("srtp", 1),
        MediaEncryption::DtlsMandatory => ("dtls", 1),
    };
    sip.push(format!("media_encryption={encryption}"));
    sip.push(format!("media_encryption_mandatory={mandatory}"));

    let hold_music = config
        .play_wav
        .clone()
        .unwrap_or_else(|| dir.join("no-such-file-so-silence.wav"));
    let proxy_ip = config.proxy.ip();
    let host = if proxy_ip.is_ipv6() {
        format!("[{proxy_ip}]")
    } else {
        proxy_ip.to_string()
    };
    format!(
        "[sip]\n{sip}\n\n\
         [proxy_0]\n\
         reg_proxy=<sip:{host}:{port};transport={transport}>\n\
         reg_identity=\"{user}\" <sip:{user}@{domain}>\n\
         reg_expires=600\n\
         reg_sendregister=1\n\
         publish=0\n\n\
         [auth_info_0]\n\
         username={user}\n\
         passwd={password}\n\
         domain={domain}\n\
         realm={domain}\n\n\
         [rtp]\n\
         audio_rtp_port={rtp_min}-{rtp_max}\n\
         rtcp_mux={rtcp_mux}\n\
         nortp_timeout=30\n\n\
         [sound]\n\
         echocancellation=0\n\
         hold_music={hold_music}\n\n\
         [video]\n\
         capture=0\n\
         display=0\n\
         automatically_initiate=0\n\
         automatically_accept=0\n\n\
         [misc]\n\
         add_missing_audio_codecs=0\n\
         add_missing_video_codecs=0\n\n\
         [audio_codec_0]\n\
         mime=PCMU\n\
         rate=8000\n\
         channels=1\n\
         enabled=1\n\n\
         [audio_codec_1]\n\
         mime=PCMA\n\
         rate=8000\n\
         channels=1\n\
         enabled=1\n",
        sip = sip.join("\n"),
        port = config.proxy.port(),
        transport = config.transport.param(),
        user = config.user,
        domain = config.domain,
        password = config.password,
        rtcp_mux = u8::from(config.rtcp_mux),
        rtp_min = config.rtp_ports.start(),
        rtp_max = config.rtp_ports.end(),
        hold_music = hold_music.display(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linphonerc_has_the_keys_for_tls_srtp_and_files() {
        let mut config = LinphoneConfig::new(
            ([127, 0, 0, 1], 5061).into(),
            "alice",
            "pw",
            Path::new("/ca.pem"),
        );
        config.client_cert = Some("/alice.pem".into());
        config.client_key = Some("/alice.key".into());
        config.encryption = MediaEncryption::SrtpMandatory;
        config.play_wav = Some("/tone.wav".into());
        config.rtp_ports = 20000..=20009;
        let rc = linphonerc(&config, Path::new("/d"));
        for line in [
            "sip_port=0",
            "sip_tcp_port=0",
            "sip_tls_port=-1",
            "root_ca=/ca.pem",
            "verify_server_cn=1",
            "client_cert_chain=/alice.pem",
            "client_cert_key=/alice.key",
            "media_encryption=srtp",
            "media_encryption_mandatory=1",
            "reg_proxy=<sip:127.0.0.1:5061;transport=tls>",
            "reg_identity=\"alice\" <sip:alice@127.0.0.1>",
            "passwd=pw",
            "realm=127.0.0.1",
            "audio_rtp_port=20000-20009",
            "hold_music=/tone.wav",
            "add_missing_audio_codecs=0",
            "mime=PCMA",
        ] {
            assert!(rc.lines().any(|l| l == line), "{line} missing from\n{rc}");
        }
        config.play_wav = None;
        config.encryption = MediaEncryption::SrtpOptional;
        config.transport = Transport::Udp;
        let rc = linphonerc(&config, Path::new("/d"));
        assert!(rc.contains("hold_music=/d/no-such-file-so-silence.wav\n"));
        assert!(rc.contains("media_encryption_mandatory=0\n"));
        assert!(rc.contains("sip_port=-1\n") && rc.contains("sip_tls_port=0\n"));
        assert!(rc.contains(";transport=udp>"));
    }
}
