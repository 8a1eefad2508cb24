//! Fuzzes SDP parsing (sdp-types, bounded by sigil-srtp) and SDES `a=crypto`
//! parsing and checking, then runs both negotiator roles over the result.
//! Invariants: nothing panics; a checked crypto line writes back to the same
//! parameters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sigil_srtp::negotiate::{
    basic_audio_sdp, parse_sdp, Negotiator, OfferPolicy, SignalingTransport, SrtpConfig,
};
use sigil_srtp::sdes::CryptoAttribute;

fuzz_target!(|data: &[u8]| {
    // The bytes as one a=crypto value.
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(attr) = CryptoAttribute::parse(text) {
            let written = attr.to_string();
            let again = CryptoAttribute::parse(&written).expect("our own output parses");
            assert_eq!(again, attr, "write → parse round trip");
            if let Ok(params) = attr.check() {
                let line = CryptoAttribute::from_params(&params).to_string();
                let back = CryptoAttribute::parse(&line)
                    .expect("params write back")
                    .check();
                assert_eq!(back.as_ref().ok(), Some(&params));
                let _ = params.policy();
            }
        }
    }

    // The bytes as an SDP body, answered and (as an answer) accepted.
    let Ok(sdp) = parse_sdp(data) else { return };
    for policy in [
        OfferPolicy::Disabled,
        OfferPolicy::Optional,
        OfferPolicy::Standard,
    ] {
        let config = SrtpConfig::new(policy, SignalingTransport::Tls);
        let Ok(mut answerer) = Negotiator::new(config.clone()) else {
            return;
        };
        let mut answer = basic_audio_sdp([127, 0, 0, 1].into(), 4000, 1);
        let line = answer.medias[0].clone();
        answer.medias = sdp.medias.iter().map(|_| line.clone()).collect();
        let _ = answerer.answer_offer(&sdp, &mut answer);

        let Ok(mut offerer) = Negotiator::new(config) else {
            return;
        };
        let mut offer = basic_audio_sdp([127, 0, 0, 1].into(), 4000, 1);
        if offerer.create_offer(&mut offer).is_ok() {
            let _ = offerer.accept_answer(&sdp);
        }
    }
});
