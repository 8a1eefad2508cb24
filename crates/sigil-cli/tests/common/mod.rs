//! Shared by the CLI tests: running the built `sigil` binary.
// Each test binary uses its own subset.
#![allow(dead_code)]

use std::process::{Command, Output};

/// The built `sigil` binary, ready for arguments.
pub fn sigil_command() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sigil"))
}

/// Runs `sigil args…` (stdin closed) and returns what it did.
pub fn sigil(args: &[&str]) -> Output {
    sigil_command().args(args).output().expect("run sigil")
}

/// Runs `sigil args…` with `stdin` as its input.
pub fn sigil_with_stdin(args: &[&str], stdin: &str) -> Output {
    sigil_testkit::run_with_input(sigil_command().args(args), stdin.as_bytes())
}

/// Its stdout as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Its stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `sigil args…`, which must succeed, and returns its stdout.
pub fn ok(args: &[&str]) -> String {
    let out = sigil(args);
    assert!(
        out.status.success(),
        "sigil {args:?}: {}{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}
