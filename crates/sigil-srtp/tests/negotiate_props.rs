//! Properties of offer/answer between two of our negotiators with random
//! settings: both sides always agree on what runs, the keys each side uses to
//! receive are the keys the other sends with, and the policies' promises hold.

use proptest::prelude::*;
use sigil_srtp::negotiate::{
    basic_audio_sdp, parse_sdp, write_sdp, MediaOutcome, Negotiator, OfferPolicy,
    SignalingTransport, SrtpConfig,
};
use sigil_srtp::Suite;

fn policy() -> impl Strategy<Value = OfferPolicy> {
    prop_oneof![
        Just(OfferPolicy::Disabled),
        Just(OfferPolicy::Optional),
        Just(OfferPolicy::Standard),
    ]
}

fn transport() -> impl Strategy<Value = SignalingTransport> {
    prop_oneof![
        Just(SignalingTransport::Udp),
        Just(SignalingTransport::Tcp),
        Just(SignalingTransport::Tls),
    ]
}

fn suites() -> impl Strategy<Value = Vec<Suite>> {
    Just(Suite::ALL.to_vec())
        .prop_shuffle()
        .prop_flat_map(|all| (1..=all.len()).prop_map(move |n| all[..n].to_vec()))
}

fn config() -> impl Strategy<Value = SrtpConfig> {
    (policy(), transport(), suites(), any::<bool>()).prop_map(|(p, t, s, allow)| {
        SrtpConfig::new(p, t)
            .with_suites(s)
            .with_insecure_signaling(allow)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn both_sides_agree(a in config(), b in config()) {
        // Both ends of one call see the same signaling transport.
        let b = SrtpConfig { transport: a.transport, ..b };
        let (Ok(mut alice), Ok(mut bob)) = (Negotiator::new(a.clone()), Negotiator::new(b.clone())) else {
            // Only Standard over insecure signaling without permission is a set-up error.
            prop_assert!(
                [&a, &b].iter().any(|c| c.policy == OfferPolicy::Standard && !c.keys_may_travel())
            );
            return Ok(());
        };
        let mut offer = basic_audio_sdp("127.0.0.1".parse().unwrap(), 4000, 1);
        alice.create_offer(&mut offer).unwrap();
        let offer_text = write_sdp(&offer);
        if !a.keys_may_travel() || a.policy == OfferPolicy::Disabled {
            prop_assert!(!offer_text.contains("a=crypto"), "no keys in this offer");
        }
        let mut answer = basic_audio_sdp("127.0.0.1".parse().unwrap(), 4002, 2);
        let at_bob = match bob.answer_offer(&parse_sdp(offer_text.as_bytes()).unwrap(), &mut answer) {
            Ok(n) => n,
            Err(r) => {
                prop_assert_eq!(r.code, 488);
                return Ok(());
            }
        };
        let answer_text = write_sdp(&answer);
        if !b.keys_may_travel() || b.policy == OfferPolicy::Disabled {
            prop_assert!(!answer_text.contains("a=crypto"), "no keys in this answer");
        }
        let at_alice = match alice.accept_answer(&parse_sdp(answer_text.as_bytes()).unwrap()) {
            Ok(n) => n,
            Err(e) => {
                // Only a Standard offerer ends a call after a valid answer.
                prop_assert_eq!(a.policy, OfferPolicy::Standard, "{}", e);
                prop_assert!(e.to_string().starts_with("SRTP required"), "{}", e);
                return Ok(());
            }
        };
        match (&at_alice.media[0].outcome, &at_bob.media[0].outcome) {
            (MediaOutcome::Srtp(x), MediaOutcome::Srtp(y)) => {
                prop_assert_eq!(x.suite, y.suite);
                prop_assert_eq!(x.tag, y.tag);
                prop_assert!(a.suites.contains(&x.suite) && b.suites.contains(&x.suite));
                // What each receives with is what the other sends with.
                prop_assert_eq!(&x.local, &y.remote);
                prop_assert_eq!(&x.remote, &y.local);
                prop_assert!(x.local != x.remote, "each direction has its own key");
                prop_assert_eq!(at_alice.summary(), at_bob.summary());
                prop_assert!(a.policy != OfferPolicy::Disabled && b.policy != OfferPolicy::Disabled);
            }
            (MediaOutcome::Plain(_), MediaOutcome::Plain(_)) => {
                prop_assert!(a.policy != OfferPolicy::Standard && b.policy != OfferPolicy::Standard);
            }
            other => prop_assert!(false, "the two sides disagree: {:?}", other),
        }
    }
}
