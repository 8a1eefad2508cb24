//! `include/sigil.h` is what cbindgen generates from this crate: the test
//! regenerates it and fails on any difference. After changing the C API,
//! regenerate the checked-in header with
//!
//! ```text
//! SIGIL_BLESS_HEADER=1 cargo test -p sigil-ffi --test header
//! ```

use std::path::Path;

fn generate() -> String {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .unwrap_or_else(|e| panic!("cbindgen.toml: {e}"));
    let mut out = Vec::new();
    cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .unwrap_or_else(|e| panic!("cbindgen cannot generate the header: {e}"))
        .write(&mut out);
    String::from_utf8(out).expect("the header is UTF-8")
}

#[test]
fn checked_in_header_matches_a_fresh_generation() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/sigil.h");
    let fresh = generate();
    if std::env::var_os("SIGIL_BLESS_HEADER").is_some() {
        std::fs::write(&path, &fresh).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        eprintln!("wrote {}", path.display());
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    if checked_in != fresh {
        let line = checked_in
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| checked_in.lines().count().min(fresh.lines().count()))
            + 1;
        panic!(
            "{} differs from what cbindgen generates (first difference at line {line}).\n\
             Regenerate it: SIGIL_BLESS_HEADER=1 cargo test -p sigil-ffi --test header",
            path.display()
        );
    }
}
