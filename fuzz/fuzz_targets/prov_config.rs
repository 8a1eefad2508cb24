//! Fuzz the provisioning config parser: any bytes give settings or located
//! errors; accepted settings render to a file that parses back to the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sigil_provisioning::{render, Settings};

fuzz_target!(|data: &[u8]| {
    match Settings::parse("fuzz.conf", data) {
        Ok(parsed) => {
            let text = render(&parsed.settings);
            let again = Settings::parse("again.conf", text.as_bytes())
                .expect("rendered settings must parse");
            assert_eq!(again.settings, parsed.settings);
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            for error in errors {
                assert!(error.text.chars().count() <= 200);
            }
        }
    }
});
