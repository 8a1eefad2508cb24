//! Fuzz what the web interface parses from outside bytes before anything
//! else sees them: form bodies (`application/x-www-form-urlencoded`), the
//! settings document built from them for the atomic apply, and uploaded
//! file names. Any bytes give a value or an error, never a panic; a built
//! document has exactly one `key = value` line per field (no smuggled
//! lines); an accepted file name is a plain name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sigil_web::form::{parse_urlencoded, settings_document, MAX_FIELDS};

fuzz_target!(|data: &[u8]| {
    if let Ok(pairs) = parse_urlencoded(data) {
        assert!(pairs.len() <= MAX_FIELDS);
        match settings_document(&pairs) {
            Ok(doc) => {
                assert_eq!(doc.lines().count(), pairs.len());
                for (line, (key, _)) in doc.lines().zip(&pairs) {
                    assert!(line.starts_with(&format!("{key} = ")), "{line}");
                    assert!(key != "admin.password" && key != "admin.password.hash");
                }
                // The provisioning parser judges the values; it must never panic.
                let _ = sigil_provisioning::Settings::parse("web", doc.as_bytes());
            }
            Err(reasons) => assert!(!reasons.is_empty()),
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(name) = sigil_web::sanitize_file_name(text) {
            assert!(!name.is_empty() && name.len() <= 100);
            assert!(!name.contains(['/', '\\']) && !name.contains("..") && !name.starts_with('.'));
            assert!(!name.chars().any(char::is_control));
        }
    }
});
