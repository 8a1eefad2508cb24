//! The WAV reader on arbitrary files: never panics, never returns more
//! samples than the file has bytes for.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sigil_media::read_wav;

fuzz_target!(|data: &[u8]| {
    if let Ok(samples) = read_wav(data) {
        assert!(samples.len() * 2 <= data.len());
    }
});
