//! A call's media keyed by DTLS-SRTP, two `CallMedia` wired back to back:
//! the stream starts once the handshake keyed it, audio then flows; a peer
//! certificate that is not the announced one fails the media with that
//! reason (the device then ends the call with it).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sigil_media::{Codec, MediaConfig, WallClock};
use sigil_srtp::dtls::{DtlsIdentity, DtlsRole, DtlsSrtp, Fingerprint};

use super::io::{SocketId, Transmit};
use super::media::{CallMedia, MediaOut, Route};
use super::CallId;

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn side(
    id: &DtlsIdentity,
    role: DtlsRole,
    peer: Fingerprint,
    local: u16,
    remote: u16,
    now: Instant,
) -> CallMedia {
    let config = MediaConfig::new(Codec::Pcmu, "test", WallClock::new(now, Duration::ZERO))
        .with_rtcp_mux(true);
    let route = Route {
        rtp_socket: SocketId(u64::from(local)),
        rtcp_socket: None,
        peer_rtp: addr(remote),
        peer_rtcp: addr(remote),
    };
    CallMedia::with_dtls(
        config,
        DtlsSrtp::new(id, role, vec![peer], now).unwrap(),
        route,
    )
}

/// Delivers `out`'s datagrams to `to` (as from `from_port`); what `to`
/// produced goes into `back`.
fn deliver(
    out: &mut MediaOut,
    to: &mut CallMedia,
    from_port: u16,
    to_port: u16,
    now: Instant,
    back: &mut MediaOut,
) -> usize {
    let mut n = 0;
    for t in out.transmits.drain(..) {
        if let Transmit::SendTo { data, .. } = t {
            to.receive(
                (SocketId(u64::from(to_port)), addr(from_port)),
                &data,
                now,
                CallId(to_port.into()),
                back,
            );
            n += 1;
        }
    }
    n
}

/// Runs both sides for `steps` 20 ms ticks; returns their last outputs.
fn run(a: &mut CallMedia, b: &mut CallMedia, start: Instant, steps: u32) -> (MediaOut, MediaOut) {
    let (mut out_a, mut out_b) = (MediaOut::default(), MediaOut::default());
    let (mut keyed_a, mut keyed_b, mut failed_a, mut failed_b) = (None, None, None, None);
    a.start(start, CallId(1), &mut out_a);
    b.start(start, CallId(2), &mut out_b);
    for step in 0..steps {
        let now = start + Duration::from_millis(20 * u64::from(step));
        a.queue_audio(&[1000; 160]);
        b.queue_audio(&[-1000; 160]);
        a.handle_timeout(now, CallId(1), &mut out_a);
        b.handle_timeout(now, CallId(2), &mut out_b);
        // A few exchanges per tick: a handshake flight may answer a flight.
        for _ in 0..4 {
            let mut to_a = MediaOut::default();
            let mut to_b = MediaOut::default();
            let moved = deliver(&mut out_a, b, 1, 2, now, &mut to_b)
                + deliver(&mut out_b, a, 2, 1, now, &mut to_a);
            keyed_a = keyed_a.or(out_a.keyed.take()).or(to_a.keyed.take());
            keyed_b = keyed_b.or(out_b.keyed.take()).or(to_b.keyed.take());
            failed_a = failed_a.or(out_a.failed.take()).or(to_a.failed.take());
            failed_b = failed_b.or(out_b.failed.take()).or(to_b.failed.take());
            out_a.transmits.extend(to_a.transmits);
            out_b.transmits.extend(to_b.transmits);
            if moved == 0 {
                break;
            }
        }
    }
    out_a.keyed = keyed_a;
    out_b.keyed = keyed_b;
    out_a.failed = failed_a;
    out_b.failed = failed_b;
    (out_a, out_b)
}

#[test]
fn dtls_keys_the_stream_and_audio_flows() {
    let (x, y) = (
        DtlsIdentity::generate().unwrap(),
        DtlsIdentity::generate().unwrap(),
    );
    let now = Instant::now();
    let mut a = side(&x, DtlsRole::Client, y.fingerprint().clone(), 1, 2, now);
    let mut b = side(&y, DtlsRole::Server, x.fingerprint().clone(), 2, 1, now);
    assert!(
        a.send_dtmf('1', Duration::from_millis(100)).is_err(),
        "no stream before the keys"
    );
    let (out_a, out_b) = run(&mut a, &mut b, now, 25);
    assert_eq!(out_a.failed, None);
    assert_eq!(out_b.failed, None);
    let keyed = (CallId(1), "SRTP AEAD_AES_256_GCM (DTLS-SRTP)".to_owned());
    assert_eq!(out_a.keyed, Some(keyed));
    assert!(out_b.keyed.is_some());
    let (sa, sb) = (a.stats(), b.stats());
    assert!(
        sa.packets_received > 5 && sb.packets_received > 5,
        "{sa:?} {sb:?}"
    );
    assert_eq!(sa.srtp_auth_failures + sb.srtp_auth_failures, 0);
}

#[test]
fn a_certificate_not_in_the_sdp_fails_the_media_with_the_reason() {
    let (x, y) = (
        DtlsIdentity::generate().unwrap(),
        DtlsIdentity::generate().unwrap(),
    );
    let announced = DtlsIdentity::generate().unwrap().fingerprint().clone();
    let now = Instant::now();
    // The client was told another fingerprint than the one the server presents.
    let mut a = side(&x, DtlsRole::Client, announced, 1, 2, now);
    let mut b = side(&y, DtlsRole::Server, x.fingerprint().clone(), 2, 1, now);
    let (out_a, _) = run(&mut a, &mut b, now, 10);
    let (call, reason) = out_a.failed.expect("the media failed");
    assert_eq!(call, CallId(1));
    assert!(reason.contains("fingerprint mismatch"), "{reason}");
    assert!(reason.contains(&y.fingerprint().to_string()), "{reason}");
    assert_eq!(out_a.keyed, None);
    assert_eq!(a.stats().packets_received, 0);
}
