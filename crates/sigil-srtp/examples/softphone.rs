//! Two softphones exchanging SRTP over UDP on 127.0.0.1.
//!
//! Each side makes a fresh master key, announces it in an SDES `a=crypto`
//! line (what its SDP would carry), and keys its receiving session from the
//! other side's line. Then both send one second of 20 ms RTP packets
//! (protect → send → receive → unprotect), and finally Bob's receiver is
//! shown a forged packet and a replayed one, which it refuses.
//!
//! `cargo run -p sigil-srtp --example softphone` — no arguments, no network
//! beyond 127.0.0.1, about a second; exits non-zero if any check fails.

use std::net::UdpSocket;
use std::process::ExitCode;
use std::time::Duration;

use sigil_srtp::{CryptoAttribute, CryptoParams, Session, SrtpError, Suite};

/// 50 packets of 20 ms: one second of audio each way.
const PACKETS: u16 = 50;
/// G.711 at 8 kHz: 160 samples (bytes) per 20 ms.
const PAYLOAD: usize = 160;

/// One softphone: a UDP socket and the two SRTP sessions of its call.
struct Phone {
    name: &'static str,
    socket: UdpSocket,
    ssrc: u32,
    send: Session,
    receive: Session,
}

/// An RTP packet (RFC 3550): version 2, payload type 0 (PCMU), the sequence
/// number, the timestamp and the SSRC, then the payload.
fn rtp_packet(seq: u16, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut packet = Vec::with_capacity(12 + payload.len() + 16);
    packet.extend_from_slice(&[0x80, 0x00]);
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(&(u32::from(seq) * PAYLOAD as u32).to_be_bytes());
    packet.extend_from_slice(&ssrc.to_be_bytes());
    packet.extend_from_slice(payload);
    packet
}

/// What a sender puts in packet `seq`: a pattern the receiver can check.
fn payload(seq: u16, ssrc: u32) -> Vec<u8> {
    (0..PAYLOAD)
        .map(|i| (i as u32 ^ u32::from(seq) ^ ssrc) as u8)
        .collect()
}

/// An `a=crypto` line as a log may show it: the key material replaced.
fn redacted(line: &str) -> String {
    match line.split_once("inline:") {
        Some((head, rest)) => {
            let tail = rest.find(['|', ' ']).map_or("", |i| &rest[i..]);
            format!(
                "{head}inline:<{} base64 characters>{tail}",
                rest.len() - tail.len()
            )
        }
        None => line.to_owned(),
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("softphone: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<bool, Box<dyn std::error::Error>> {
    let suite = Suite::AesCm128HmacSha1_80;

    // 1. Keys: each side's own master key, sent to the other in SDP.
    let alice_keys = CryptoParams::generate(1, suite)?;
    let bob_keys = CryptoParams::generate(1, suite)?;
    let alice_line = CryptoAttribute::from_params(&alice_keys).to_string();
    let bob_line = CryptoAttribute::from_params(&bob_keys).to_string();
    println!("alice offers  a=crypto:{}", redacted(&alice_line));
    println!("bob answers   a=crypto:{}", redacted(&bob_line));

    // 2. Sessions: send with our own key, receive with the key the peer announced.
    let phone = |name,
                 keys: &CryptoParams,
                 peer_line: &str,
                 ssrc|
     -> Result<Phone, Box<dyn std::error::Error>> {
        let peer = CryptoAttribute::parse(peer_line)?.check()?;
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        socket.set_read_timeout(Some(Duration::from_secs(2)))?;
        Ok(Phone {
            name,
            socket,
            ssrc,
            send: Session::outbound(keys.policy()?)?,
            receive: Session::inbound(peer.policy()?)?,
        })
    };
    let mut alice = phone("alice", &alice_keys, &bob_line, 0x0a11_ce00)?;
    let mut bob = phone("bob", &bob_keys, &alice_line, 0x0000_b0b0)?;
    println!(
        "alice on {}, bob on {}, {suite}",
        alice.socket.local_addr()?,
        bob.socket.local_addr()?
    );

    // 3. One second of audio each way, a packet from each side every 20 ms.
    let mut ok = true;
    let (mut to_bob, mut to_alice) = (0, 0);
    for seq in 0..PACKETS {
        to_bob += u16::from(send_one(&mut alice, &mut bob, seq)?);
        to_alice += u16::from(send_one(&mut bob, &mut alice, seq)?);
        std::thread::sleep(Duration::from_millis(20));
    }
    for (from, to, good) in [("alice", "bob", to_bob), ("bob", "alice", to_alice)] {
        println!(
            "{from} → {to}: {PACKETS} packets protected and sent, {good} received, authenticated, decrypted and intact"
        );
        ok &= good == PACKETS;
    }

    // 4. An attacker on the path: a forged packet and a replayed one.
    let mut packet = rtp_packet(PACKETS, alice.ssrc, &payload(PACKETS, alice.ssrc));
    alice.send.protect_rtp(&mut packet)?;
    let mut forged = packet.clone();
    forged[20] ^= 0x01; // one bit of the encrypted payload
    alice.socket.send_to(&forged, bob.socket.local_addr()?)?;
    alice.socket.send_to(&packet, bob.socket.local_addr()?)?;
    alice.socket.send_to(&packet, bob.socket.local_addr()?)?;
    let mut outcomes = Vec::new();
    for _ in 0..3 {
        let mut buf = vec![0u8; 1500];
        let (n, _) = bob.socket.recv_from(&mut buf)?;
        buf.truncate(n);
        outcomes.push(bob.receive.unprotect_rtp(&mut buf));
    }
    let forged_refused = matches!(outcomes[0], Err(SrtpError::AuthFailed { .. }));
    let genuine_accepted = outcomes[1].is_ok();
    let replay_refused = matches!(outcomes[2], Err(SrtpError::Replayed { .. }));
    println!("bob, forged packet:   {}", outcome_text(&outcomes[0]));
    println!("bob, genuine packet:  {}", outcome_text(&outcomes[1]));
    println!("bob, same one again:  {}", outcome_text(&outcomes[2]));
    ok &= forged_refused && genuine_accepted && replay_refused;

    println!(
        "{}",
        if ok {
            "all checks passed"
        } else {
            "CHECKS FAILED"
        }
    );
    Ok(ok)
}

fn outcome_text(outcome: &Result<(), SrtpError>) -> String {
    match outcome {
        Ok(()) => "accepted".to_owned(),
        Err(e) => format!("refused: {e}"),
    }
}

/// Protects packet `seq` at one phone, sends it, receives and unprotects
/// it at the other; true when it arrived intact.
fn send_one(
    from: &mut Phone,
    to: &mut Phone,
    seq: u16,
) -> Result<bool, Box<dyn std::error::Error>> {
    let plain = rtp_packet(seq, from.ssrc, &payload(seq, from.ssrc));
    let mut packet = plain.clone();
    from.send.protect_rtp(&mut packet)?;
    from.socket.send_to(&packet, to.socket.local_addr()?)?;

    let mut buf = vec![0u8; 1500];
    let (n, _) = to.socket.recv_from(&mut buf)?;
    buf.truncate(n);
    if buf.get(12..12 + PAYLOAD) == Some(&plain[12..]) {
        return Err("the payload crossed the network in the clear".into());
    }
    match to.receive.unprotect_rtp(&mut buf) {
        Ok(()) if buf == plain => Ok(true),
        Ok(()) => {
            eprintln!("{}: packet {seq} decrypted to something else", to.name);
            Ok(false)
        }
        Err(e) => {
            eprintln!("{}: packet {seq} refused: {e}", to.name);
            Ok(false)
        }
    }
}
