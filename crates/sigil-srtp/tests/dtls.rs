//! DTLS-SRTP between two Sigil endpoints in memory: the keys agree and key
//! working SRTP sessions, lost flights are retransmitted on the timer, a
//! silent peer times out, a wrong certificate is refused. Plus the RFC 7983
//! demultiplexer and the `a=fingerprint` / `a=setup` parsers as properties.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use sigil_srtp::dtls::{
    demux, Demuxed, DtlsError, DtlsIdentity, DtlsRole, DtlsSdpError, DtlsSrtp, Fingerprint, Setup,
    HANDSHAKE_TIMEOUT,
};
use sigil_srtp::Session;

fn pair() -> (DtlsSrtp, DtlsSrtp, Instant) {
    let (a, b) = (
        DtlsIdentity::generate().unwrap(),
        DtlsIdentity::generate().unwrap(),
    );
    let now = Instant::now();
    let client = DtlsSrtp::new(&a, DtlsRole::Client, vec![b.fingerprint().clone()], now).unwrap();
    let server = DtlsSrtp::new(&b, DtlsRole::Server, vec![a.fingerprint().clone()], now).unwrap();
    (client, server, now)
}

/// Passes datagrams both ways until both connect (at most `rounds` rounds);
/// `drop` decides, per datagram number, whether the network loses it.
fn exchange(
    client: &mut DtlsSrtp,
    server: &mut DtlsSrtp,
    mut now: Instant,
    rounds: usize,
    drop: impl Fn(usize) -> bool,
) -> Instant {
    let mut n = 0;
    for _ in 0..rounds {
        let mut moved = false;
        while let Some(d) = client.poll_transmit() {
            n += 1;
            moved = true;
            if !drop(n) {
                server.handle_datagram(&d, now).unwrap();
            }
        }
        while let Some(d) = server.poll_transmit() {
            n += 1;
            moved = true;
            if !drop(n) {
                client.handle_datagram(&d, now).unwrap();
            }
        }
        if client.is_connected() && server.is_connected() {
            break;
        }
        if !moved {
            // Nothing in flight: jump to the next timer, as a driver would.
            let next = [client.poll_timeout(), server.poll_timeout()]
                .into_iter()
                .flatten()
                .min()
                .expect("a handshaking side has a timer");
            now = now.max(next);
            client.handle_timeout(now).unwrap();
            server.handle_timeout(now).unwrap();
        }
    }
    now
}

#[test]
fn both_sides_export_the_same_keys_and_they_key_srtp() {
    let (mut client, mut server, now) = pair();
    exchange(&mut client, &mut server, now, 20, |_| false);
    let (ck, sk) = (client.srtp_keys().unwrap(), server.srtp_keys().unwrap());
    assert_eq!(
        ck.suite(),
        sigil_srtp::Suite::AeadAes256Gcm,
        "dimpl prefers AEAD_AES_256_GCM"
    );
    assert_eq!(ck.local().key(), sk.remote().key());
    assert_eq!(ck.local().salt(), sk.remote().salt());
    assert_ne!(ck.local().key(), ck.remote().key());
    let (client_out, _) = ck.policies();
    let (_, server_in) = sk.policies();
    let mut tx = Session::outbound(client_out).unwrap();
    let mut rx = Session::inbound(server_in).unwrap();
    let plain = vec![0x80, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4, 9, 9, 9];
    let mut p = plain.clone();
    tx.protect_rtp(&mut p).unwrap();
    rx.unprotect_rtp(&mut p).unwrap();
    assert_eq!(p, plain);
    // Connected: no more timers.
    assert_eq!(client.poll_timeout(), None);
    assert_eq!(server.poll_timeout(), None);
}

#[test]
fn lost_flights_are_retransmitted_on_the_timer() {
    for lost in 1..=4 {
        let (mut client, mut server, now) = pair();
        let end = exchange(&mut client, &mut server, now, 60, |n| n == lost);
        assert!(
            client.is_connected() && server.is_connected(),
            "datagram {lost} lost"
        );
        assert!(
            end > now,
            "datagram {lost} lost: a retransmission timer ran"
        );
    }
}

#[test]
fn a_silent_peer_times_out_with_a_reason() {
    let a = DtlsIdentity::generate().unwrap();
    let other = DtlsIdentity::generate().unwrap();
    let start = Instant::now();
    let mut client = DtlsSrtp::new(
        &a,
        DtlsRole::Client,
        vec![other.fingerprint().clone()],
        start,
    )
    .unwrap();
    let mut sent = 0;
    let mut result = Ok(());
    // Bounded: each step jumps to the next timer; the deadline comes first.
    for _ in 0..100 {
        while client.poll_transmit().is_some() {
            sent += 1;
        }
        let Some(next) = client.poll_timeout() else {
            break;
        };
        assert!(next <= start + HANDSHAKE_TIMEOUT);
        result = client.handle_timeout(next);
        if result.is_err() {
            break;
        }
    }
    let err = result.unwrap_err();
    assert!(matches!(err, DtlsError::Handshake { .. }), "{err:?}");
    assert!(sent >= 2, "the ClientHello was retransmitted ({sent} sent)");
    assert_eq!(client.poll_timeout(), None);
    assert!(client
        .handle_timeout(start + Duration::from_secs(60))
        .is_err());
}

#[test]
fn a_wrong_certificate_is_refused_by_either_side() {
    for wrong_side in [DtlsRole::Client, DtlsRole::Server] {
        let (a, b) = (
            DtlsIdentity::generate().unwrap(),
            DtlsIdentity::generate().unwrap(),
        );
        let stranger = DtlsIdentity::generate().unwrap().fingerprint().clone();
        let now = Instant::now();
        let (client_expects, server_expects) = match wrong_side {
            DtlsRole::Client => (stranger.clone(), a.fingerprint().clone()),
            DtlsRole::Server => (b.fingerprint().clone(), stranger.clone()),
        };
        let mut client = DtlsSrtp::new(&a, DtlsRole::Client, vec![client_expects], now).unwrap();
        let mut server = DtlsSrtp::new(&b, DtlsRole::Server, vec![server_expects], now).unwrap();
        let mut failure = None;
        for _ in 0..20 {
            while let Some(d) = client.poll_transmit() {
                if let Err(e) = server.handle_datagram(&d, now) {
                    failure.get_or_insert(e);
                }
            }
            while let Some(d) = server.poll_transmit() {
                if let Err(e) = client.handle_datagram(&d, now) {
                    failure.get_or_insert(e);
                }
            }
        }
        let failure = failure.expect("the handshake must fail");
        assert!(
            matches!(&failure, DtlsError::FingerprintMismatch { expected, .. } if *expected == stranger.to_string()),
            "{wrong_side:?}: {failure:?}"
        );
        let refused = match wrong_side {
            DtlsRole::Client => &client,
            DtlsRole::Server => &server,
        };
        assert!(refused.srtp_keys().is_none());
    }
}

#[test]
fn debug_shows_no_key() {
    let (mut client, mut server, now) = pair();
    exchange(&mut client, &mut server, now, 20, |_| false);
    let key = client.srtp_keys().unwrap().local().key().to_vec();
    let shown = format!("{client:?} {:?}", client.srtp_keys().unwrap());
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    assert!(!shown.contains(&hex), "{shown}");
    assert!(format!("{:?}", DtlsIdentity::generate().unwrap()).contains("redacted"));
}

#[test]
fn fingerprint_and_setup_examples() {
    // RFC 8122 §5 / RFC 5763 §5 style.
    let text = "sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF";
    let f = Fingerprint::parse(text).unwrap();
    assert_eq!(f.to_string(), text);
    assert_eq!(Fingerprint::parse(&text.to_lowercase()).unwrap(), f);
    assert_eq!(f.algorithm(), "sha-256");
    assert!(matches!(
        Fingerprint::parse("sha-256 4A:AD"),
        Err(DtlsSdpError::WrongLength { len: 2 })
    ));
    assert!(matches!(
        Fingerprint::parse("sha-256 4A:XY"),
        Err(DtlsSdpError::BadHex { position: 2, .. })
    ));
    assert!(Fingerprint::parse("sha-256").is_err());
    // Another hash parses but never matches.
    let sha1 = Fingerprint::parse("sha-1 4A:AD:B9").unwrap();
    assert!(!sha1.matches(b"anything"));
    assert_eq!("ACTPASS".parse::<Setup>().unwrap(), Setup::Actpass);
    assert_eq!(Setup::answer_to(Setup::Actpass), Some(Setup::Active));
    assert_eq!(Setup::answer_to(Setup::Active), Some(Setup::Passive));
    assert_eq!(Setup::answer_to(Setup::Holdconn), None);
    assert!("both".parse::<Setup>().is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn demux_is_total_and_follows_rfc_7983(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let kind = demux(&bytes);
        match bytes.first() {
            None => prop_assert_eq!(kind, Demuxed::Unknown),
            Some(0..=3) => prop_assert_eq!(kind, Demuxed::Stun),
            Some(16..=19) => prop_assert_eq!(kind, Demuxed::Zrtp),
            Some(20..=63) => prop_assert_eq!(kind, Demuxed::Dtls),
            Some(64..=79) => prop_assert_eq!(kind, Demuxed::TurnChannel),
            Some(128..=191) if bytes.len() >= 2 => {
                let pt = bytes[1] & 0x7f;
                prop_assert_eq!(kind, if (64..=95).contains(&pt) { Demuxed::Rtcp } else { Demuxed::Rtp });
            }
            Some(_) => prop_assert_eq!(kind, Demuxed::Unknown),
        }
    }

    #[test]
    fn fingerprint_parsing_is_total(text in ".{0,300}") {
        let _ = Fingerprint::parse(&text);
        let _ = text.parse::<Setup>();
    }

    #[test]
    fn fingerprints_round_trip(cert in prop::collection::vec(any::<u8>(), 0..200)) {
        let f = Fingerprint::sha256_of(&cert);
        prop_assert!(f.matches(&cert));
        let back = Fingerprint::parse(&f.to_string()).unwrap();
        prop_assert_eq!(&back, &f);
        prop_assert!(back.matches(&cert));
    }

}

proptest! {
    // Each case makes two key pairs: fewer cases (the fuzz target
    // `dtls_demux` feeds the handshake far more inputs).
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn arbitrary_datagrams_never_panic_the_handshake(data in prop::collection::vec(any::<u8>(), 0..300)) {
        let (mut client, mut server, now) = pair();
        let _ = server.handle_datagram(&data, now);
        let _ = client.handle_datagram(&data, now);
    }
}
