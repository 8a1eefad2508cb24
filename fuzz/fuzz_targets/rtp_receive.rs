//! The device's media sink on arbitrary datagrams: plain RTP and SRTP
//! receivers never panic, and every datagram is counted exactly once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sigil_endpoint::media::{MediaCrypto, MediaStream, RtpHeader};
use sigil_srtp::{MasterKey, Policy, Session, Suite};

fuzz_target!(|data: &[u8]| {
    let _ = RtpHeader::parse(data);
    let mut plain = MediaStream::new(MediaCrypto::Plain);
    plain.receive(data);
    let s = plain.stats();
    assert_eq!(s.frames_received + s.malformed, 1);

    let suite = Suite::AesCm128HmacSha1_80;
    let Ok(key) = MasterKey::new(suite, &[7u8; 16], &[9u8; 14]) else {
        return;
    };
    let (Ok(send), Ok(receive)) = (
        Session::outbound(Policy::new(suite, key.clone())),
        Session::inbound(Policy::new(suite, key)),
    ) else {
        return;
    };
    let mut srtp = MediaStream::new(MediaCrypto::Srtp {
        send: Box::new(send),
        receive: Box::new(receive),
    });
    srtp.receive(data);
    let s = srtp.stats();
    assert_eq!(
        s.frames_received + s.malformed + s.decrypt_failures + s.replays,
        1
    );
});
