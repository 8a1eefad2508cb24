//! RTP header parsing and the jitter buffer on arbitrary packet sequences:
//! the input is split into packets (one length byte, then that many bytes;
//! a length byte with the top bit set also plays out a frame). Never
//! panics, every frame is 160 samples, every packet is accounted for.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sigil_media::{Codec, JitterBuffer, RtpHeader};

fuzz_target!(|data: &[u8]| {
    let Some((&target, mut rest)) = data.split_first() else {
        return;
    };
    let mut jb = JitterBuffer::new(usize::from(target % 8));
    let mut pcm = [0i16; 256];
    let mut inserted = 0u64;
    while let Some((&len, tail)) = rest.split_first() {
        let n = usize::from(len & 0x7F).min(tail.len());
        let (packet, next) = tail.split_at(n);
        rest = next;
        if let Ok(h) = RtpHeader::parse(packet) {
            let payload = h.payload(packet);
            assert!(h.payload_offset <= h.payload_end && h.payload_end <= packet.len());
            let samples = Codec::Pcmu.decode(payload, &mut pcm);
            jb.insert(h.sequence, h.timestamp, &pcm[..samples]);
            inserted += 1;
        }
        if len & 0x80 != 0 {
            assert_eq!(jb.playout().frame.len(), 160);
        }
    }
    let s = jb.stats();
    assert_eq!(s.buffered + s.late + s.duplicates + s.discarded, inserted);
});
