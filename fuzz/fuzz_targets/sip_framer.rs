//! The stream framer on arbitrary bytes cut at arbitrary places: never
//! panics, stays within its limits, and gives the same events however the
//! stream is chunked (server keep-alive role).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sigil_sip::{Framer, KeepAliveRole, Limits};

fn run(data: &[u8], cuts: &[usize], limits: Limits) -> Vec<String> {
    let mut f = Framer::with_limits(limits, KeepAliveRole::Server);
    let mut out = Vec::new();
    let mut pos = 0;
    for &cut in cuts.iter().chain(std::iter::once(&data.len())) {
        let end = cut.clamp(pos, data.len());
        f.push(&data[pos..end]);
        pos = end;
        while let Some(ev) = f.poll() {
            out.push(format!("{ev:?}"));
        }
        assert!(f.buffered() <= limits.max_head_len + limits.max_body_len + data.len());
    }
    out
}

fuzz_target!(|input: (Vec<u8>, Vec<u8>)| {
    let (cut_bytes, data) = input;
    let limits = Limits { max_headers: 16, max_line_len: 256, max_head_len: 1024, max_body_len: 512 };
    let mut cuts: Vec<usize> = cut_bytes.iter().scan(0usize, |acc, &b| {
        *acc += usize::from(b);
        Some(*acc)
    }).collect();
    cuts.sort_unstable();
    let whole = run(&data, &[], limits);
    let chunked = run(&data, &cuts, limits);
    assert_eq!(whole, chunked, "framing must not depend on chunking");
});
