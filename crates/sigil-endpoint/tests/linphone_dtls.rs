//! DTLS-SRTP against a real softphone: a Sigil device (`sip.srtp.keying =
//! dtls`, Standard) and `linphonec` (`media_encryption=dtls`, mandatory)
//! registered to Kamailio over mutual TLS call each other, both directions.
//! Each call must run SRTP keyed by the DTLS handshake on the media port
//! (our `CallStatus` says `SRTP <suite> (DTLS-SRTP)`, linphonec's log says
//! `LinphoneMediaEncryptionDTLS`), with packets decrypted on our side and
//! linphonec's tone in our recording.
//!
//! liblinphone makes an RSA DTLS certificate unless its
//! `user_certificates_path` (linphonec sets it to `$HOME/.linphone-usr-crt`)
//! holds a PEM file with a certificate whose CN is
//! `linphone-dtls-default-identity` and its key. Sigil's DTLS (dimpl)
//! verifies ECDSA signatures only, so the test gives linphonec an ECDSA
//! P-256 identity made with `openssl`: with liblinphone's own RSA one the
//! handshake fails and the call ends with "unsupported signature algorithm:
//! RSA". linphonec negotiates SRTP_AES128_CM_SHA1_80.

mod common;

use std::time::Duration;

use common::{calls_after, last_call_id, DeviceSpec, Lab, PASSWORD};
use sigil_endpoint::{CallStatus, FileAudio, Record, RunOptions};
use sigil_testkit::audio::{read_wav, tone_seconds, write_tone_wav};
use sigil_testkit::linphone::{CallOutcome, Linphone, LinphoneConfig, MediaEncryption};
use sigil_testkit::{peer, Peer};

/// Bound on every wait for a call to be set up or to end.
const WAIT: Duration = Duration::from_secs(10);
const DEVICE_HZ: f64 = 1000.0;
const LINPHONE_HZ: f64 = 600.0;

fn check(who: &str, c: &CallStatus, linphone: &CallOutcome, recordings: &std::path::Path) {
    assert!(c.established && c.encrypted, "{who}: {c:?}");
    assert!(
        c.media.starts_with("SRTP ") && c.media.contains("(DTLS-SRTP)"),
        "{who}: {c:?}"
    );
    assert!(
        c.stats.packets_received > 20 && c.stats.srtp_auth_failures == 0,
        "{who}: {c:?}"
    );
    let CallOutcome::Established(info) = linphone else {
        panic!("{who}: linphonec did not establish the call: {linphone:?}");
    };
    assert_eq!(
        info.media_encryption, "LinphoneMediaEncryptionDTLS",
        "{who}: {info:?}"
    );
    assert!(
        info.sdp_audio
            .iter()
            .any(|l| l.contains("UDP/TLS/RTP/SAVP")),
        "{who}: {info:?}"
    );
    // linphonec's tone, decrypted by us, is in the call's recording.
    let newest = std::fs::read_dir(recordings)
        .unwrap()
        .filter_map(Result::ok)
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
        .expect("a recording");
    let wav = read_wav(&newest.path()).unwrap();
    let heard = tone_seconds(&wav, LINPHONE_HZ);
    assert!(
        heard > 0.5,
        "{who}: heard linphonec's tone for {heard:.2} s of {:.2} s",
        wav.seconds()
    );
}

#[test]
fn a_device_and_linphonec_call_each_other_with_dtls_srtp() {
    let Some(linphonec) = peer(Peer::Linphone) else {
        return;
    };
    let Some(openssl) = peer(Peer::Openssl) else {
        return;
    };
    let Some(lab) = Lab::start() else {
        return;
    };
    let dirs = tempfile::tempdir().unwrap();
    let d = dirs.path();
    let device_tone = d.join("device-1khz.wav");
    write_tone_wav(&device_tone, DEVICE_HZ, 3.0, 8000);
    let linphone_tone = d.join("linphonec-600hz.wav");
    write_tone_wav(&linphone_tone, LINPHONE_HZ, 10.0, 8000);
    let root_pem = d.join("root.pem");
    std::fs::write(&root_pem, lab.root_pem()).unwrap();

    let root = d.join("3001");
    let recordings = root.join("recordings");
    std::fs::create_dir_all(&recordings).unwrap();
    let options = RunOptions {
        audio: Box::new(
            FileAudio::new(Some(&device_tone), Record::Folder(recordings.clone())).unwrap(),
        ),
        auto_answer: true,
        ..RunOptions::default()
    };
    let spec = DeviceSpec {
        mac: "00:22:ee:30:01:01",
        user: "3001",
        policy: "standard",
        sip_port: lab.sip_port,
        extra: "sip.srtp.keying = dtls\n",
    };
    let device = lab.device_with(&root, spec, options);
    lab.assert_registered("00:22:ee:30:01:01");

    let home = d.join("4001");
    std::fs::create_dir_all(&home).unwrap();
    let cert = lab.client_cert("4001");
    let (cert_path, key_path) = (home.join("client.pem"), home.join("client.key"));
    cert.write_chain_pem(&cert_path);
    std::fs::write(&key_path, cert.key_pem()).unwrap();
    let proxy = ([127, 0, 0, 1], lab.sip_port).into();
    let mut config = LinphoneConfig::new(proxy, "4001", PASSWORD, &root_pem);
    config.client_cert = Some(cert_path);
    config.client_key = Some(key_path);
    config.encryption = MediaEncryption::DtlsMandatory;
    config.rtcp_mux = true;
    config.auto_answer = true;
    config.play_wav = Some(linphone_tone);
    config.record_wav = Some(home.join("received.wav"));
    // linphonec sets liblinphone's user_certificates_path to
    // $HOME/.linphone-usr-crt (Linphone::start makes HOME `<dir>/home`).
    // liblinphone scans that folder for a PEM file whose certificate's
    // CN is `linphone-dtls-default-identity` (key beside it); every other
    // .pem there must parse as a certificate too.
    let made = home.join("dtls-identity");
    std::fs::create_dir_all(&made).unwrap();
    sigil_testkit::openssl::openssl(
        &openssl,
        &made,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-subj",
            "/CN=linphone-dtls-default-identity",
            "-days",
            "2",
        ],
    );
    let identity = [
        std::fs::read_to_string(made.join("cert.pem")).unwrap(),
        std::fs::read_to_string(made.join("key.pem")).unwrap(),
    ]
    .concat();
    let certs = home.join("home/.linphone-usr-crt");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::write(certs.join("linphone-dtls-default-identity.pem"), identity).unwrap();
    let mut phone = Linphone::start(&linphonec, &home, &config);
    phone.wait_registered(WAIT);
    lab.assert_registered("4001");

    // The device calls linphonec.
    let id = device.dial(&config.uri(), None).unwrap();
    assert!(
        device.wait_established(id, WAIT).unwrap(),
        "{:?}\n{}",
        device.status().calls,
        phone.diagnostics()
    );
    let theirs = phone.wait_call_outcome(WAIT);
    std::thread::sleep(Duration::from_secs(2));
    let _ = device.hangup(id);
    let ours = device.wait_ended(id, WAIT).unwrap();
    phone.wait_call_ended(WAIT);
    println!(
        "device → linphonec: {} / {theirs:?}\n    {:?}",
        ours.media, ours.stats
    );
    check("device → linphonec", &ours, &theirs, &recordings);

    // linphonec calls the device.
    let before = last_call_id(&device);
    phone.call("sip:3001@127.0.0.1");
    let theirs = phone.wait_call_outcome(WAIT);
    std::thread::sleep(Duration::from_secs(2));
    phone.terminate();
    phone.wait_call_ended(WAIT);
    let calls = calls_after(&device, before, Duration::from_secs(5));
    let ours = calls.first().cloned().expect("a call on the device");
    println!(
        "linphonec → device: {} / {theirs:?}\n    {:?}",
        ours.media, ours.stats
    );
    check("linphonec → device", &ours, &theirs, &recordings);

    assert_eq!(device.shutdown().registration.state, "idle");
}
