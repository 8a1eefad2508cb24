//! RTCP compound parsing on arbitrary bytes: never panics, and whatever
//! parses is written back to bytes that parse to the same packets.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sigil_media::rtcp::{is_rtcp, parse_compound, write_compound, RtcpPacket};

fuzz_target!(|data: &[u8]| {
    let _ = is_rtcp(data);
    let Ok(packets) = parse_compound(data) else {
        return;
    };
    let known: Vec<RtcpPacket> = packets
        .into_iter()
        .filter(|p| !matches!(p, RtcpPacket::Other { .. }))
        .collect();
    let mut out = Vec::new();
    write_compound(&known, &mut out);
    if known.is_empty() {
        assert!(out.is_empty());
    } else {
        assert_eq!(parse_compound(&out).expect("our own packets parse"), known);
    }
});
