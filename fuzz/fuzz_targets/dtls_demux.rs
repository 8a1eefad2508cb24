//! The RFC 7983 demultiplexer and the DTLS-SRTP handshake on arbitrary
//! datagrams: never a panic. The first byte picks our role; the rest is a
//! stream of datagrams (2-byte big-endian length, then the bytes), each
//! demultiplexed and, when it is DTLS, fed to the handshake.
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use sigil_srtp::dtls::{demux, Demuxed, DtlsIdentity, DtlsRole, DtlsSrtp};

fn identity() -> &'static DtlsIdentity {
    static ID: OnceLock<DtlsIdentity> = OnceLock::new();
    ID.get_or_init(|| DtlsIdentity::generate().expect("a certificate"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, mut rest)) = data.split_first() else {
        return;
    };
    let role = if mode & 1 == 0 {
        DtlsRole::Server
    } else {
        DtlsRole::Client
    };
    let start = Instant::now();
    let peer = identity().fingerprint().clone();
    let Ok(mut dtls) = DtlsSrtp::new(identity(), role, vec![peer], start) else {
        return;
    };
    let mut step = 0u64;
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let end = (2 + len).min(rest.len());
        let datagram = &rest[2..end];
        rest = &rest[end..];
        step += 1;
        let now = start + Duration::from_millis(step * 250);
        let kind = demux(datagram);
        if kind == Demuxed::Dtls {
            let _ = dtls.handle_datagram(datagram, now);
        } else {
            let _ = dtls.handle_timeout(now);
        }
        while dtls.poll_transmit().is_some() {}
        let _ = dtls.poll_timeout();
    }
});
