//! Two real `linphonec` softphones register to one Kamailio over TLS, with
//! client certificates required, and call each other; the audio is checked
//! by content both ways. This proves `sigil_testkit::linphone` before the
//! device tests use linphonec as their peer.
//!
//! Kamailio runs with the very configuration our devices register to
//! (crates/sigil-endpoint/tests/kamailio/{kamailio.cfg,tls.cfg}: mutual
//! TLS, digest, connection reuse), so that what works here works there.
//!
//! Alice plays a 1 kHz tone and records; Bob answers on his own, plays a
//! 600 Hz tone and records. After about two seconds of call each recording
//! must be mostly the other's tone and never its own.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

use sigil_testkit::audio::{read_wav, tone_seconds, write_tone_wav};
use sigil_testkit::kamailio::{self, Kamailio};
use sigil_testkit::linphone::{Linphone, LinphoneConfig, MediaEncryption};
use sigil_testkit::pki::{Eku, LeafSpec, TestCa};
use sigil_testkit::{free_port, peer, Peer};

const PASSWORD: &str = "linphone-test-secret";
const WAIT: Duration = Duration::from_secs(10);
/// How long the call lasts before Alice hangs up.
const TALK: Duration = Duration::from_millis(2200);
const ALICE_HZ: f64 = 1000.0;
const BOB_HZ: f64 = 600.0;

/// Kamailio with our endpoint test configuration, serving a certificate for
/// 127.0.0.1 and requiring client certificates from `root`'s intermediate.
fn kamailio(bin: &Path, dir: &Path, root: &TestCa, inter: &TestCa) -> (Kamailio, u16) {
    // dNSName "127.0.0.1" as well as the iPAddress: linphonec's mbedTLS only
    // matches the host against dNSName SANs (see LINPHONE.md).
    let server = inter.leaf(
        &LeafSpec::server("127.0.0.1")
            .ip(IpAddr::V4(Ipv4Addr::LOCALHOST))
            .eku(Eku::Server),
    );
    server.write_chain_pem(&dir.join("server.pem"));
    std::fs::write(dir.join("server.key"), server.key_pem()).unwrap();
    std::fs::write(
        dir.join("vendor-chain.pem"),
        format!("{}{}", inter.cert().cert_pem(), root.cert().cert_pem()),
    )
    .unwrap();
    let (port, tcp_port, udp_port) = (free_port(), free_port(), free_port());
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sigil-endpoint/tests/kamailio");
    kamailio::configure(
        &templates,
        dir,
        &[
            ("@PORT@", &port.to_string()),
            ("@TCPPORT@", &tcp_port.to_string()),
            ("@UDPPORT@", &udp_port.to_string()),
            ("@PASSWORD@", PASSWORD),
        ],
    );
    (Kamailio::start(bin, dir, port, &[]), port)
}

/// How a softphone is set up: user, media encryption, tone, auto-answer.
struct Phone<'a> {
    user: &'a str,
    encryption: MediaEncryption,
    hz: f64,
    auto_answer: bool,
}

/// A linphonec for `phone.user` with its client certificate from `inter`,
/// playing its tone and recording to `dir/user/received.wav`.
fn softphone(
    bin: &Path,
    dir: &Path,
    port: u16,
    inter: &TestCa,
    phone: &Phone<'_>,
) -> (Linphone, LinphoneConfig) {
    let user = phone.user;
    let home = dir.join(user);
    std::fs::create_dir_all(&home).unwrap();
    let cert = inter.leaf(&LeafSpec::client(user));
    let (cert_path, key_path) = (home.join("client.pem"), home.join("client.key"));
    cert.write_chain_pem(&cert_path);
    std::fs::write(&key_path, cert.key_pem()).unwrap();
    let root_path = home.join("root.pem");
    std::fs::write(&root_path, cert.root_pem()).unwrap();
    let tone = home.join("tone.wav");
    // Longer than the call: the player pauses 0.5 s between loops.
    write_tone_wav(&tone, phone.hz, 5.0, 8000);

    let mut config = LinphoneConfig::new(([127, 0, 0, 1], port).into(), user, PASSWORD, &root_path);
    config.client_cert = Some(cert_path);
    config.client_key = Some(key_path);
    config.encryption = phone.encryption;
    config.auto_answer = phone.auto_answer;
    config.play_wav = Some(tone);
    config.record_wav = Some(home.join("received.wav"));
    (Linphone::start(bin, &home, &config), config)
}

/// Seconds of `hz` in `config`'s recording, and of `other_hz`.
fn heard(config: &LinphoneConfig, hz: f64, other_hz: f64) -> (f64, f64, f64) {
    let path = config.record_wav.as_ref().unwrap();
    let wav = read_wav(path).unwrap_or_else(|e| panic!("{}: {e}", config.user));
    assert_eq!((wav.rate, wav.channels), (8000, 1), "{}", config.user);
    (
        tone_seconds(&wav, hz),
        tone_seconds(&wav, other_hz),
        wav.seconds(),
    )
}

fn two_softphones_call(encryption: MediaEncryption) {
    let Some(kamailio_bin) = peer(Peer::Kamailio) else {
        return;
    };
    let Some(linphonec) = peer(Peer::Linphone) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = TestCa::root("Linphone Test Root");
    let inter = root.intermediate("Linphone Test Intermediate");
    let (kamailio, port) = kamailio(&kamailio_bin, dir.path(), &root, &inter);

    let phone = |user, hz, auto_answer| Phone {
        user,
        encryption,
        hz,
        auto_answer,
    };
    let (mut alice, alice_cfg) = softphone(
        &linphonec,
        dir.path(),
        port,
        &inter,
        &phone("alice", ALICE_HZ, false),
    );
    let (mut bob, bob_cfg) = softphone(
        &linphonec,
        dir.path(),
        port,
        &inter,
        &phone("bob", BOB_HZ, true),
    );
    alice.wait_registered(WAIT);
    bob.wait_registered(WAIT);
    // Both registered over TLS with their client certificates.
    for user in ["alice", "bob"] {
        let log = kamailio.wait_log(&format!("SIGIL registered sip:{user}@127.0.0.1"));
        assert!(
            log.lines()
                .any(|l| l.contains(&format!("registered sip:{user}@"))
                    && l.contains(&format!("cn={user}"))),
            "{user} did not register with its certificate: {log}"
        );
    }

    alice.call(&bob_cfg.uri());
    let a = alice.wait_call_established(WAIT);
    let b = bob.wait_call_established(WAIT);
    let srtp = encryption != MediaEncryption::None;
    assert_eq!(a.encrypted, srtp, "alice: {a:?}{}", alice.diagnostics());
    assert_eq!(b.encrypted, srtp, "bob: {b:?}{}", bob.diagnostics());
    let proto = if srtp { "RTP/SAVP" } else { "RTP/AVP" };
    for info in [&a, &b] {
        assert!(
            !info.sdp_audio.is_empty() && info.sdp_audio.iter().all(|m| m.contains(proto)),
            "{info:?}"
        );
    }
    std::thread::sleep(TALK);
    alice.terminate();
    assert_eq!(alice.wait_call_ended(WAIT), "No error");
    assert_eq!(bob.wait_call_ended(WAIT), "No error");

    let (bob_heard_alice, bob_heard_self, bob_len) = heard(&bob_cfg, ALICE_HZ, BOB_HZ);
    let (alice_heard_bob, alice_heard_self, alice_len) = heard(&alice_cfg, BOB_HZ, ALICE_HZ);
    println!(
        "{encryption:?}: bob heard {bob_heard_alice:.1} s of 1 kHz in {bob_len:.2} s; \
         alice heard {alice_heard_bob:.1} s of 600 Hz in {alice_len:.2} s"
    );
    assert!(
        bob_heard_alice >= 1.5 && bob_heard_self == 0.0,
        "bob's recording: {bob_heard_alice} s of Alice's tone, {bob_heard_self} s of his own, {bob_len} s long"
    );
    assert!(
        alice_heard_bob >= 1.5 && alice_heard_self == 0.0,
        "alice's recording: {alice_heard_bob} s of Bob's tone, {alice_heard_self} s of her own, {alice_len} s long"
    );
}

#[test]
fn two_linphonec_call_with_mandatory_sdes_srtp_and_hear_each_other() {
    two_softphones_call(MediaEncryption::SrtpMandatory);
}

#[test]
fn two_linphonec_call_without_encryption_and_hear_each_other() {
    two_softphones_call(MediaEncryption::None);
}
