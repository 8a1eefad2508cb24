//! Fuzz the provisioning config parser: any bytes give settings or located
//! errors; accepted settings render to a file that parses back to the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sigil_provisioning::{render, AdminPassword, Settings};

fuzz_target!(|data: &[u8]| {
    match Settings::parse("fuzz.conf", data) {
        Ok(parsed) => {
            let text = render(&parsed.settings);
            let again = Settings::parse("again.conf", text.as_bytes())
                .expect("rendered settings must parse");
            // A plain-text admin.password is never rendered (the apply hashes it first).
            let mut expected = parsed.settings.clone();
            if matches!(expected.admin_password, AdminPassword::Plain(_)) {
                expected.admin_password = AdminPassword::Default;
            }
            assert!(!text.contains("admin.password ="));
            assert_eq!(again.settings, expected);
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            for error in errors {
                assert!(error.text.chars().count() <= 200);
            }
        }
    }
});
