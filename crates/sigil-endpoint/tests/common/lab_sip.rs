//! Shared by the tests against the lab servers (`tests/device.rs`,
//! `tests/tokio_driver.rs`): a vendor PKI with the lab SIP server's
//! certificate, device data directories, and a peer calling a device
//! directly on its listener.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sigil_endpoint::DeviceDir;
use sigil_identity::mint::{mint_device, mint_server, DeviceRequest, ServerRequest, VendorCa};
use sigil_identity::{ClientCertResolver, DeviceVerifier, Identity};
use sigil_lab::peer_media::MediaSocket;
use sigil_lab::SipServer;
use sigil_media::MediaCrypto;
use sigil_sip::dialog::{Dialog, DialogConfig, DialogEvent, DialogOutput, EndReason};
use sigil_sip::Message;
use sigil_sip_tls::{Client, ClientEvent, ClientOptions, Connector, TlsPolicy};
use sigil_srtp::negotiate::{
    basic_audio_sdp, parse_sdp, write_sdp, Negotiator, OfferPolicy, SignalingTransport, SrtpConfig,
};

pub const PASSWORD: &str = "device-test-secret";

pub struct Pki {
    pub ca: VendorCa,
    pub server: Identity,
    pub devices: Arc<DeviceVerifier>,
}

pub fn pki() -> Pki {
    let ca = VendorCa::generate("Endpoint Test Vendor").unwrap();
    let minted = mint_server(&ca, &ServerRequest::new(["127.0.0.1"])).unwrap();
    let server = Identity::from_pem(
        minted.full_chain_pem().as_bytes(),
        Some(minted.key_pem().as_bytes()),
        "server.pem",
    )
    .unwrap();
    let devices = Arc::new(DeviceVerifier::new(&[ca.root_der().unwrap()]).unwrap());
    Pki {
        ca,
        server,
        devices,
    }
}

/// A device data directory for `mac` with `config` as its configuration.
pub fn device_dir(pki: &Pki, root: &std::path::Path, mac: &str, config: &str) -> DeviceDir {
    let minted = mint_device(&pki.ca, &DeviceRequest::new(mac.parse().unwrap())).unwrap();
    minted.write_factory(&root.join("factory")).unwrap();
    std::fs::write(root.join("factory/vendor-chain.pem"), pki.ca.chain_pem()).unwrap();
    std::fs::create_dir_all(root.join("user")).unwrap();
    std::fs::write(root.join("user/config.conf"), config).unwrap();
    DeviceDir::open(root).unwrap()
}

pub fn sip_config(sip: &SipServer, extra: &str) -> String {
    sip_config_with(sip, PASSWORD, extra)
}

/// As [`sip_config`] with another digest password.
pub fn sip_config_with(sip: &SipServer, password: &str, extra: &str) -> String {
    format!(
        "sip.proxy = 127.0.0.1:{}\nsip.u1.user = 1001\nsip.u1.pwd = {password}\n{extra}",
        sip.addr().port()
    )
}

/// A peer calling the device directly on its listener, with `policy`.
/// Returns how the call ended and the frames the peer received.
pub fn call_device_directly(
    listener: std::net::SocketAddr,
    pki: &Pki,
    policy: OfferPolicy,
) -> (EndReason, u64) {
    call_device_directly_as(listener, pki, policy, true)
}

/// As [`call_device_directly`]; `with_certificate: false` is a stranger
/// with no client certificate at all.
pub fn call_device_directly_as(
    listener: std::net::SocketAddr,
    pki: &Pki,
    policy: OfferPolicy,
    with_certificate: bool,
) -> (EndReason, u64) {
    let peer = mint_device(
        &pki.ca,
        &DeviceRequest::new("00:22:ee:99:99:99".parse().unwrap()),
    )
    .unwrap();
    let peer_identity = Identity::from_pem(
        peer.full_chain_pem().as_bytes(),
        Some(peer.key_pem().as_bytes()),
        "peer.pem",
    )
    .unwrap();
    // The device certificate names a MAC, not 127.0.0.1: the peer encrypts without verifying the name.
    let policy_tls = TlsPolicy {
        validate: false,
        ..TlsPolicy::default()
    };
    let store = Arc::new(sigil_trust::TrustStore::builder().builtin(false).build());
    let resolver: Option<Arc<dyn rustls::client::ResolvesClientCert>> = if with_certificate {
        Some(Arc::new(ClientCertResolver::new([peer_identity])))
    } else {
        None
    };
    let connector = Connector::new("127.0.0.1", &policy_tls, store, resolver).unwrap();
    let mut client =
        Client::connect(connector, &listener.to_string(), ClientOptions::default()).unwrap();
    let local = client.local_addr().unwrap();

    let mut negotiator = Negotiator::new(SrtpConfig::new(policy, SignalingTransport::Tls)).unwrap();
    let socket = MediaSocket::bind(local.ip()).unwrap();
    let mut offer = basic_audio_sdp(local.ip(), socket.local_addr().unwrap().port(), 9);
    negotiator.create_offer(&mut offer).unwrap();
    let config = DialogConfig::new(
        "sip:peer@127.0.0.1".parse().unwrap(),
        format!("sip:peer@{local};transport=tls").parse().unwrap(),
    );
    let now = Instant::now();
    let mut dialog = Dialog::invite(
        config,
        "sip:1001@127.0.0.1".parse().unwrap(),
        write_sdp(&offer).into_bytes(),
        now,
    );
    let mut socket = Some(socket);
    let mut media = None;
    let mut hang_up_at = None;
    // Bounded: 600 rounds of at most 10 ms.
    for _ in 0..600 {
        while let Some(out) = dialog.poll_output() {
            match out {
                DialogOutput::Send(m) => client.send(&m).unwrap(),
                DialogOutput::Event(DialogEvent::Answered { body }) => {
                    let answer = parse_sdp(&body).unwrap();
                    let neg = negotiator.accept_answer(&answer).unwrap();
                    let crypto = match neg.srtp().next() {
                        Some((_, a)) => {
                            let (send, receive) = a.sessions().unwrap();
                            MediaCrypto::Srtp {
                                send: Box::new(send),
                                receive: Box::new(receive),
                            }
                        }
                        None => MediaCrypto::Plain,
                    };
                    let to = neg.rtp_peer(&answer).unwrap();
                    media = Some(
                        socket
                            .take()
                            .unwrap()
                            .start(crypto, to, Duration::from_millis(600), false)
                            .unwrap(),
                    );
                    hang_up_at = Some(Instant::now() + Duration::from_millis(900));
                }
                DialogOutput::Event(DialogEvent::Terminated(reason)) => {
                    let frames = media
                        .as_mut()
                        .map_or(0, |m: &mut sigil_lab::peer_media::MediaSession| {
                            m.stop().packets_received
                        });
                    return (reason, frames);
                }
                DialogOutput::Event(_) => {}
            }
        }
        if hang_up_at.is_some_and(|t| Instant::now() >= t) {
            hang_up_at = None;
            dialog.hang_up("test done", Instant::now());
            continue;
        }
        if let Some(ClientEvent::Message(Message::Response(r))) =
            client.recv(Duration::from_millis(10))
        {
            dialog.handle_response(&r, Instant::now());
        }
    }
    panic!("the direct call did not end");
}
