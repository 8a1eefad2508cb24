//! The DTLS-SRTP SDP attributes on arbitrary text: `a=fingerprint` and
//! `a=setup` parsers, and a `both`-keying negotiator answering and accepting
//! arbitrary SDP carrying them. Never a panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sigil_srtp::dtls::{Fingerprint, Setup};
use sigil_srtp::negotiate::{
    basic_audio_sdp, parse_sdp, write_sdp, Keying, Negotiator, OfferPolicy, SignalingTransport,
    SrtpConfig,
};

fn fingerprint() -> &'static Fingerprint {
    static FP: OnceLock<Fingerprint> = OnceLock::new();
    FP.get_or_init(|| Fingerprint::sha256_of(b"fuzz certificate"))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(f) = Fingerprint::parse(&text) {
        assert_eq!(Fingerprint::parse(&f.to_string()).ok(), Some(f));
    }
    if let Ok(setup) = text.parse::<Setup>() {
        assert_eq!(setup.name().parse::<Setup>().ok(), Some(setup));
    }
    let Ok(sdp) = parse_sdp(data) else {
        return;
    };
    for (policy, keying) in [
        (OfferPolicy::Standard, Keying::Both),
        (OfferPolicy::Optional, Keying::Dtls),
    ] {
        let config = SrtpConfig::new(policy, SignalingTransport::Tls)
            .with_keying(keying, Some(fingerprint().clone()));
        let Ok(mut us) = Negotiator::new(config) else {
            return;
        };
        // As answerer.
        let mut answer = basic_audio_sdp("192.0.2.1".parse().unwrap(), 5000, 1);
        answer.medias = sdp.medias.iter().map(|_| answer.medias[0].clone()).collect();
        if us.answer_offer(&sdp, &mut answer).is_ok() {
            let _ = write_sdp(&answer);
        }
        // As offerer, with the input as the answer.
        let mut offer = basic_audio_sdp("192.0.2.1".parse().unwrap(), 4000, 1);
        offer.medias = sdp.medias.iter().map(|_| offer.medias[0].clone()).collect();
        if !offer.medias.is_empty() && us.create_offer(&mut offer).is_ok() {
            let _ = us.accept_answer(&sdp);
        }
    }
});
