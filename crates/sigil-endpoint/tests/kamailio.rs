//! Real peers end to end: nginx as the HTTPS provisioning server and
//! Kamailio 5.6 as registrar and proxy, both over mutual TLS with device
//! certificates required (config in tests/kamailio/, set up by
//! tests/common/). Devices with their own data directories and MACs
//! provision, register with digest and call each other through Kamailio;
//! media flows device to device. Kamailio is then restarted and the devices
//! register again on their own. A known WAV played into one device over
//! SRTP is recorded at the other and compared with what was played.

mod common;

use std::time::{Duration, Instant};

use common::{call, callee_call, DeviceSpec, Lab};
use sigil_endpoint::{CallOptions, FileAudio, Record, RunOptions};
use sigil_srtp::negotiate::OfferPolicy;

#[test]
fn devices_register_and_call_each_other_through_kamailio() {
    let Some(mut lab) = Lab::start() else {
        return;
    };
    let dirs = tempfile::tempdir().unwrap();
    let d = dirs.path();
    let alice = lab.device(&d.join("a"), "00:22:ee:10:00:01", "1001", "standard");
    let bob = lab.device(&d.join("b"), "00:22:ee:10:00:02", "1002", "standard");
    let carol = lab.device(&d.join("c"), "00:22:ee:10:00:03", "1003", "disabled");
    // Kamailio writes its log line after it replied: wait for it (bounded).
    for mac in [
        "00:22:ee:10:00:01",
        "00:22:ee:10:00:02",
        "00:22:ee:10:00:03",
    ] {
        lab.assert_registered(mac);
    }
    assert_eq!(alice.status().connections[0].verification, "verified");

    // Standard ↔ Standard: SRTP both ways, frames decrypted on both sides.
    let a = call(&alice, "1002", OfferPolicy::Standard);
    let b = callee_call(&bob);
    assert!(
        a.established && a.encrypted,
        "{a:?}\n{}",
        lab.kamailio.log()
    );
    assert!(a.media.starts_with("SRTP"), "{a:?}");
    assert!(
        a.stats.packets_received > 0 && a.stats.srtp_auth_failures == 0,
        "{a:?}"
    );
    assert!(
        b.encrypted && b.stats.packets_received > 0 && b.stats.srtp_auth_failures == 0,
        "{b:?}"
    );
    // One second of media at 50 packets a second, give or take the edges.
    assert!((45..=55).contains(&a.stats.packets_sent), "{a:?}");

    // Standard → Disabled: the callee declines the SRTP-only offer with 488.
    let refused = call(&alice, "1003", OfferPolicy::Standard);
    assert!(!refused.established, "{refused:?}");
    assert!(
        refused.ended.as_deref().unwrap_or("").contains("488"),
        "{refused:?}"
    );

    // Optional → Disabled: plain RTP, said so.
    let plain = call(&alice, "1003", OfferPolicy::Optional);
    let c = callee_call(&carol);
    assert!(plain.established && !plain.encrypted, "{plain:?}");
    assert!(plain.media.starts_with("plain RTP"), "{plain:?}");
    assert!(
        plain.stats.packets_received > 0 && c.stats.packets_received > 0,
        "{plain:?} {c:?}"
    );

    // Disabled → Standard: the Standard callee answers 488.
    let back = call(&carol, "1001", OfferPolicy::Disabled);
    assert!(!back.established, "{back:?}");
    assert!(
        back.ended.as_deref().unwrap_or("").contains("488"),
        "{back:?}"
    );

    // Plain transports: signaling unencrypted, so SDES keys stay out of the SDP (SPEC M2).
    let dave = lab.device_with(
        &d.join("d"),
        DeviceSpec {
            mac: "00:22:ee:10:00:04",
            user: "1004",
            policy: "optional",
            sip_port: lab.tcp_port,
            extra: "sip.transport = tcp\n",
        },
        RunOptions::default(),
    );
    let erin = lab.device_with(
        &d.join("e"),
        DeviceSpec {
            mac: "00:22:ee:10:00:05",
            user: "1005",
            policy: "optional",
            sip_port: lab.udp_port,
            extra: "sip.transport = udp\n",
        },
        RunOptions::default(),
    );
    assert_eq!(dave.status().connections[0].verification, "not encrypted");
    let tcp_to_udp = call(&dave, "1005", OfferPolicy::Optional);
    let e = callee_call(&erin);
    assert!(
        tcp_to_udp.established && !tcp_to_udp.encrypted,
        "{tcp_to_udp:?}\n{}",
        lab.kamailio.log()
    );
    assert!(
        tcp_to_udp.media.contains("over tcp signaling"),
        "{tcp_to_udp:?}"
    );
    assert!(
        tcp_to_udp.stats.packets_received > 0 && e.stats.packets_received > 0,
        "{tcp_to_udp:?} {e:?}"
    );
    // A Standard device over TLS refuses the plain offer of the TCP device.
    let refused_plain = call(&dave, "1001", OfferPolicy::Optional);
    assert!(!refused_plain.established, "{refused_plain:?}");
    assert!(
        refused_plain.ended.as_deref().unwrap_or("").contains("488"),
        "{refused_plain:?}"
    );
    // Standard over TCP cannot be configured without insecure signaling: the call is not placed.
    let not_placed = dave.dial("sip:1005@127.0.0.1", Some(OfferPolicy::Standard));
    assert!(
        matches!(&not_placed, Err(e) if e.to_string().contains("insecure_signaling")),
        "{not_placed:?}"
    );
    for dev in [dave, erin] {
        assert_eq!(dev.shutdown().registration.state, "idle");
    }

    // Kamailio restarts: every device reconnects and registers again by itself.
    lab.restart_kamailio();
    let deadline = Instant::now() + Duration::from_secs(30);
    for dev in [&alice, &bob, &carol] {
        while dev.status().registration.successes < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let r = dev.status().registration;
        assert!(
            r.successes >= 2,
            "not registered again: {r:?}\n{}",
            lab.kamailio.log()
        );
    }
    // And calls work again through the new Kamailio.
    let again = call(&alice, "1002", OfferPolicy::Standard);
    assert!(
        again.established && again.encrypted,
        "{again:?}\n{}",
        lab.kamailio.log()
    );

    for dev in [alice, bob, carol] {
        assert_eq!(dev.shutdown().registration.state, "idle");
    }
}

#[test]
fn devices_call_each_other_with_dtls_srtp_through_kamailio() {
    let Some(lab) = Lab::start() else {
        return;
    };
    let dirs = tempfile::tempdir().unwrap();
    let d = dirs.path();
    let spec = |mac, user, keying| DeviceSpec {
        mac,
        user,
        policy: "standard",
        sip_port: lab.sip_port,
        extra: keying,
    };
    let alice = lab.device_with(
        &d.join("a"),
        // Its factory certificate (ECDSA P-256) as the DTLS certificate.
        spec(
            "00:22:ee:10:01:01",
            "1101",
            "sip.srtp.keying = dtls\nsip.srtp.dtls.device_cert = 1\n",
        ),
        RunOptions::default(),
    );
    let bob = lab.device_with(
        &d.join("b"),
        spec("00:22:ee:10:01:02", "1102", "sip.srtp.keying = both\n"),
        RunOptions::default(),
    );
    let carol = lab.device_with(
        &d.join("c"),
        spec("00:22:ee:10:01:03", "1103", ""),
        RunOptions::default(),
    );
    for mac in [
        "00:22:ee:10:01:01",
        "00:22:ee:10:01:02",
        "00:22:ee:10:01:03",
    ] {
        lab.assert_registered(mac);
    }
    // dtls → both: UDP/TLS/RTP/SAVP offered, DTLS-SRTP on the media port,
    // fingerprints checked, SRTP keyed from the handshake both ways.
    let a = call(&alice, "1102", OfferPolicy::Standard);
    let b = callee_call(&bob);
    for (who, c) in [("caller", &a), ("callee", &b)] {
        assert!(
            c.established && c.encrypted,
            "{who}: {c:?}\n{}",
            lab.kamailio.log()
        );
        assert!(
            c.media.starts_with("SRTP AEAD_AES_256_GCM (DTLS-SRTP)"),
            "{who}: {c:?}"
        );
        assert!(
            c.stats.packets_received > 0 && c.stats.srtp_auth_failures == 0,
            "{who}: {c:?}"
        );
    }
    // both → sdes-only: the SDES half of the offer is taken.
    let c = call(&bob, "1103", OfferPolicy::Standard);
    assert!(c.established && c.encrypted, "{c:?}");
    assert!(c.media.starts_with("SRTP AEAD_AES_256_GCM, "), "{c:?}");
    // dtls → sdes-only: the callee declines the DTLS-only offer (488, with the reason).
    let refused = call(&alice, "1103", OfferPolicy::Standard);
    assert!(!refused.established, "{refused:?}");
    assert!(
        refused.ended.as_deref().unwrap_or("").contains("488"),
        "{refused:?}"
    );
    for dev in [alice, bob, carol] {
        assert_eq!(dev.shutdown().registration.state, "idle");
    }
}

/// A known signal: 250 ms of each frequency in turn (amplitude 12000, 8 kHz).
fn steps(freqs: &[f64]) -> Vec<i16> {
    freqs
        .iter()
        .flat_map(|&f| sigil_testkit::audio::tone(f, 0.25, 8000))
        .collect()
}

/// Where `window` fits best in `source` among `offsets`: the offset with the
/// highest normalised cross-correlation, and that correlation (1.0 = the
/// same shape).
fn best_alignment(window: &[i16], source: &[i16], offsets: std::ops::Range<usize>) -> (usize, f64) {
    let norm = |s: &[i16]| s.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    let w_norm = norm(window);
    let last = source.len().saturating_sub(window.len());
    offsets
        .take_while(|&offset| offset <= last)
        .map(|offset| {
            let part = &source[offset..offset + window.len()];
            let dot: i64 = window
                .iter()
                .zip(part)
                .map(|(&a, &b)| i64::from(a) * i64::from(b))
                .sum();
            let denom = w_norm * norm(part);
            let corr = if denom > 0.0 { dot as f64 / denom } else { 0.0 };
            (offset, corr)
        })
        .fold((0, f64::MIN), |best, x| if x.1 > best.1 { x } else { best })
}

/// Checks that `recording` is `source` as sent (through G.711 and the jitter
/// buffer): a one-second stretch from 0.5 s in correlates with `source` at
/// ≥ 0.9 (G.711 alone leaves about 0.9999), and every 250 ms step of `source` it covers has the step's
/// frequency as the dominant one in the recording. Returns the correlation.
fn assert_same_audio(who: &str, recording: &[i16], source: &[i16], freqs: &[f64]) -> f64 {
    const START: usize = 4000;
    const LEN: usize = 8000;
    const STEP: usize = 2000;
    assert!(
        recording.len() >= START + LEN,
        "{who}: only {} samples recorded",
        recording.len()
    );
    let window = &recording[START..START + LEN];
    // The recording lags what was sent by the jitter buffer and the network,
    // well under half a second here: look that far either way.
    let (offset, corr) = best_alignment(window, source, START - 4000..START + 4000);
    assert!(
        corr >= 0.9,
        "{who}: the recording matches the played WAV at {corr:.3} only (offset {offset})"
    );
    // Recording sample i is source sample i + shift.
    let shift = offset as i64 - START as i64;
    for (k, &freq) in freqs.iter().enumerate() {
        let (from, to) = ((k * STEP) as i64 - shift, ((k + 1) * STEP) as i64 - shift);
        if from < 0 || to as usize > recording.len() {
            continue;
        }
        // The middle of the step, away from its edges.
        let part = &recording[from as usize + 200..to as usize - 200];
        let (found, ratio) = sigil_media::tone::dominant_frequency(part, 300.0, 3400.0)
            .unwrap_or_else(|| panic!("{who}: silence where {freq} Hz was sent"));
        assert!(
            (found - freq).abs() <= 15.0 && ratio > 0.8,
            "{who}: step {k} should be {freq} Hz, the recording has {found} Hz (ratio {ratio:.2})"
        );
    }
    corr
}

#[test]
fn a_wav_played_into_one_device_is_recorded_at_the_other_over_srtp() {
    let Some(lab) = Lab::start() else {
        return;
    };
    let dirs = tempfile::tempdir().unwrap();
    let d = dirs.path();
    // Twelve steps (3 s, longer than the call, so no loop), a different
    // sequence each way.
    let alice_freqs = [
        500.0, 700.0, 900.0, 1100.0, 1300.0, 1500.0, 1700.0, 1900.0, 2100.0, 2300.0, 2500.0, 2700.0,
    ];
    let bob_freqs = [
        2600.0, 2400.0, 2200.0, 2000.0, 1800.0, 1600.0, 1400.0, 1200.0, 1000.0, 800.0, 600.0, 400.0,
    ];
    let (alice_wav, bob_wav) = (steps(&alice_freqs), steps(&bob_freqs));
    let mut devices = Vec::new();
    for (name, mac, user, wav) in [
        ("alice", "00:22:ee:10:01:01", "1101", &alice_wav),
        ("bob", "00:22:ee:10:01:02", "1102", &bob_wav),
    ] {
        let root = d.join(name);
        let (play, rec) = (d.join(format!("{name}.wav")), root.join("rec"));
        sigil_testkit::audio::write_wav(&play, 8000, wav);
        std::fs::create_dir_all(&rec).unwrap();
        let options = RunOptions {
            audio: Box::new(FileAudio::new(Some(&play), Record::Folder(rec.clone())).unwrap()),
            ..RunOptions::default()
        };
        let spec = DeviceSpec {
            mac,
            user,
            policy: "standard",
            sip_port: lab.sip_port,
            extra: "",
        };
        devices.push((lab.device_with(&root, spec, options), rec));
    }
    let [(alice, alice_rec), (bob, bob_rec)] = <[_; 2]>::try_from(devices).ok().unwrap();

    let a = alice
        .call_and_wait(
            "sip:1102@127.0.0.1",
            CallOptions {
                duration: Duration::from_secs(2),
                policy: None,
                timeout: Duration::from_secs(10),
            },
        )
        .unwrap();
    let b = callee_call(&bob);
    assert!(
        a.established && a.encrypted,
        "{a:?}\n{}",
        lab.kamailio.log()
    );
    assert!(b.established && b.encrypted, "{b:?}");
    let read = |rec: &std::path::Path, id: sigil_endpoint::CallId| {
        let path = rec.join(format!("call-{}.wav", id.0));
        sigil_media::read_wav(&std::fs::read(&path).unwrap()).unwrap()
    };
    let at_bob = assert_same_audio("bob", &read(&bob_rec, b.id), &alice_wav, &alice_freqs);
    let at_alice = assert_same_audio("alice", &read(&alice_rec, a.id), &bob_wav, &bob_freqs);
    for (who, s) in [("alice", &a.stats), ("bob", &b.stats)] {
        let expected = s.packets_received as i64 + s.packets_lost.max(0);
        let loss = s.packets_lost.max(0) as f64 / expected.max(1) as f64;
        println!(
            "{who}: {} packets received, {} lost ({:.2} %), {} SRTP auth failures",
            s.packets_received,
            s.packets_lost,
            loss * 100.0,
            s.srtp_auth_failures
        );
        assert!(s.packets_received >= 50, "{who}: {s:?}");
        assert!(loss < 0.01, "{who}: loss {loss} ≥ 1 %: {s:?}");
        assert_eq!(s.srtp_auth_failures, 0, "{who}: {s:?}");
    }
    println!("correlation with the played WAV: at bob {at_bob:.4}, at alice {at_alice:.4}");
}
