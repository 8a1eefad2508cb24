//! The demo, run as a test: every claim it prints must hold.

#[test]
fn demo_runs_and_every_check_holds() {
    let mut out = Vec::new();
    let report = sigil_lab::demo::run(&mut out).expect("the demo scene could be set up");
    let text = String::from_utf8_lossy(&out);
    println!("{text}");
    for c in &report.checks {
        assert!(c.ok, "demo check failed: {}: {}\n{text}", c.what, c.detail);
    }
    assert!(report.ok());
    assert!(text.contains("SRTP AEAD_AES_256_GCM"), "{text}");
    assert!(text.contains("plain RTP"), "{text}");
    assert!(text.contains("SRTP required"), "{text}");
}
