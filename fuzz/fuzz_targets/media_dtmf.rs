//! RFC 4733 telephone-event payloads and the DTMF receiver on arbitrary
//! packets (4-byte timestamp, 1 length byte, payload): never panics,
//! parsed payloads re-encode to their first 4 bytes (reserved bit aside),
//! at most one digit per packet.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sigil_media::{DtmfReceiver, TelephoneEvent};

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = TelephoneEvent::parse(data) {
        let bytes = e.to_bytes();
        assert_eq!(bytes[0], data[0]);
        assert_eq!(bytes[1], data[1] & 0xBF);
        assert_eq!(bytes[2..], data[2..4]);
    }
    let mut receiver = DtmfReceiver::new();
    let mut rest = data;
    let mut packets = 0;
    let mut digits = 0;
    while rest.len() >= 5 {
        let timestamp = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let n = usize::from(rest[4] % 8).min(rest.len() - 5);
        let payload = &rest[5..5 + n];
        rest = &rest[5 + n..];
        packets += 1;
        if let Ok(Some(_)) = receiver.receive(timestamp, payload) {
            digits += 1;
        }
    }
    assert!(digits <= packets);
});
