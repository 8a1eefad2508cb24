//! The C programs of `examples/c/`, compiled with `gcc -Wall -Wextra -Werror`
//! against `include/sigil.h` and `libsigil_ffi.a`, run, and run again built
//! with AddressSanitizer + UndefinedBehaviorSanitizer and under valgrind
//! (no invalid access, no definite or indirect leak).
//!
//! The static library is the one cargo built for this test run: the test
//! binary lives in `<target dir>/<profile>/deps/`, so the library is
//! `<target dir>/<profile>/libsigil_ffi.a` — whatever `CARGO_TARGET_DIR` and
//! the profile are. The offer/answer test talks to the `sigil` command of
//! the same directory, building it with cargo when it is missing.
//!
//! Needs `gcc` and, for the libsrtp interop, Debian's `libsrtp2-dev`; the
//! valgrind runs need `valgrind`. Each is a real peer: missing, the test
//! skips loudly, or fails under `CI=true` (`./scripts/test` installs them).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sigil_testkit::pki::{LeafSpec, TestCa};
use sigil_testkit::{peer, run_with_input, Peer};

/// What every C program is built with.
const CFLAGS: &[&str] = &["-Wall", "-Wextra", "-Werror", "-std=c11", "-g"];
/// What a Rust static library needs from the system (`--print native-static-libs`).
const SYSTEM_LIBS: &[&str] = &["-lpthread", "-ldl", "-lm"];
/// Exit status valgrind gives when it found an error (distinct from the programs' own).
const VALGRIND_ERROR: i32 = 99;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `<target dir>/<profile>`: where cargo put the library and binaries of this run.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.parent()
        .and_then(Path::parent)
        .expect("the test binary lives in <target>/<profile>/deps")
        .to_path_buf()
}

/// The static library cargo built with these tests. `cargo build` copies it
/// to `<profile>/`; `cargo test` may leave it in `<profile>/deps/` only.
fn static_lib() -> PathBuf {
    let profile = profile_dir();
    let candidates = [
        profile.join("libsigil_ffi.a"),
        profile.join("deps/libsigil_ffi.a"),
    ];
    candidates
        .iter()
        .find(|lib| lib.is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "libsigil_ffi.a is in neither {} nor {}: cargo builds it with the tests (crate-type staticlib)",
                candidates[0].display(),
                candidates[1].display()
            )
        })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Build {
    Plain,
    /// AddressSanitizer (with LeakSanitizer) and UndefinedBehaviorSanitizer.
    Sanitized,
}

/// A C program compiled into a temporary directory.
struct Program {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

/// Compiles `examples/c/<name>.c`; `None` when gcc is missing (skipped).
fn compile(name: &str, libs: &[&str], build: Build) -> Option<Program> {
    let gcc = peer(Peer::Gcc)?;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let suffix = if build == Build::Sanitized {
        "-asan"
    } else {
        ""
    };
    let path = dir.path().join(format!("{name}{suffix}"));
    let source = workspace().join("examples/c").join(format!("{name}.c"));
    let mut command = Command::new(gcc);
    command.args(CFLAGS);
    if build == Build::Sanitized {
        command.args([
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
            "-fno-omit-frame-pointer",
        ]);
    }
    command
        .arg("-I")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("include"))
        .arg(&source)
        .arg(static_lib())
        .args(libs)
        .args(SYSTEM_LIBS)
        .arg("-o")
        .arg(&path);
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run gcc: {e}"));
    assert!(
        out.status.success(),
        "gcc -Wall -Wextra -Werror failed on {}:\n{}",
        source.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(Program { path, _dir: dir })
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn show(what: &str, out: &Output) -> String {
    format!(
        "{what}: {}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    )
}

/// Runs `program` with `args` and `input` on stdin, directly or under valgrind.
fn run(program: &Program, args: &[&str], input: &[u8], valgrind: Option<&Path>) -> Output {
    let mut command = match valgrind {
        Some(valgrind) => {
            let mut c = Command::new(valgrind);
            c.args([
                "-q",
                &format!("--error-exitcode={VALGRIND_ERROR}"),
                "--leak-check=full",
                "--show-leak-kinds=definite,indirect",
                "--errors-for-leak-kinds=definite,indirect",
            ])
            .arg(&program.path);
            c
        }
        None => Command::new(&program.path),
    };
    command.args(args);
    // LeakSanitizer is on by default with ASan; make a leak or a UB report fail the run.
    command.env(
        "ASAN_OPTIONS",
        "detect_leaks=1:abort_on_error=0:exitcode=98",
    );
    command.env(
        "UBSAN_OPTIONS",
        "print_stacktrace=1:halt_on_error=1:exitcode=97",
    );
    run_with_input(&mut command, input)
}

/// Runs a program under valgrind and fails on any valgrind error; returns its output.
fn run_valgrind(program: &Program, args: &[&str], input: &[u8]) -> Option<Output> {
    let valgrind = peer(Peer::Valgrind)?;
    let out = run(program, args, input, Some(&valgrind));
    assert_ne!(
        out.status.code(),
        Some(VALGRIND_ERROR),
        "{}",
        show("valgrind found errors", &out)
    );
    eprintln!(
        "valgrind {} {}: no errors, no definite or indirect leaks",
        program.path.display(),
        args.join(" ")
    );
    Some(out)
}

// ---------------------------------------------------------------- SRTP

fn libsrtp_program(build: Build) -> Option<Program> {
    peer(Peer::Libsrtp2Dev)?;
    compile("srtp_libsrtp", &["-lsrtp2"], build)
}

fn check_libsrtp_output(out: &Output) {
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", show("srtp_libsrtp", out));
    assert!(stdout.contains("sigil = libsrtp = expected"), "{stdout}");
    for suite in [
        "AES_CM_128_HMAC_SHA1_80",
        "AES_CM_128_HMAC_SHA1_32",
        "AES_256_CM_HMAC_SHA1_80",
        "AES_256_CM_HMAC_SHA1_32",
    ] {
        let row = stdout
            .lines()
            .find(|l| l.starts_with(suite))
            .unwrap_or_else(|| panic!("no row for {suite}:\n{stdout}"));
        assert_eq!(row.matches("ok").count(), 5, "{row}");
        assert!(row.contains("ok 200 RTP 20 RTCP"), "{row}");
        assert!(row.contains("12/12"), "{row}");
    }
    assert!(stdout.contains("all checks passed"), "{stdout}");
}

#[test]
fn srtp_round_trips_with_libsrtp_both_ways_for_every_suite() {
    let Some(program) = libsrtp_program(Build::Plain) else {
        return;
    };
    let out = run(&program, &[], b"", None);
    eprintln!("{}", text(&out.stdout));
    check_libsrtp_output(&out);
}

#[test]
fn srtp_with_libsrtp_is_clean_under_address_and_ub_sanitizers() {
    let Some(program) = libsrtp_program(Build::Sanitized) else {
        return;
    };
    let out = run(&program, &[], b"", None);
    check_libsrtp_output(&out);
}

#[test]
fn srtp_with_libsrtp_is_clean_under_valgrind() {
    let Some(program) = libsrtp_program(Build::Plain) else {
        return;
    };
    if let Some(out) = run_valgrind(&program, &[], b"") {
        check_libsrtp_output(&out);
    }
}

// ---------------------------------------------------------------- trust

/// A PKI on disk: root, intermediate, a server for `sip:example.com`, an
/// expired server, and the folders a device has.
struct TrustFixture {
    dir: tempfile::TempDir,
}

impl TrustFixture {
    fn new() -> TrustFixture {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let root = TestCa::root("Sigil Test Root");
        let inter = root.intermediate("Sigil Test Intermediate");
        let server = inter.leaf(&LeafSpec::server("sip.example.com").uri("sip:example.com"));
        let expired = inter.leaf(&LeafSpec::server("sip.example.com").expired());
        let d = dir.path();
        server.write_chain_pem(&d.join("chain.pem"));
        expired.write_chain_pem(&d.join("expired.pem"));
        std::fs::create_dir_all(d.join("trusted")).unwrap();
        std::fs::create_dir_all(d.join("empty")).unwrap();
        std::fs::write(d.join("trusted/root.pem"), root.cert().cert_pem()).unwrap();
        // An installer's mistake the store must refuse (and say why), loading the rest.
        std::fs::write(d.join("trusted/server.key"), server.key_pem()).unwrap();
        std::fs::write(d.join("vendor-chain.pem"), root.cert().cert_pem()).unwrap();
        TrustFixture { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

#[test]
fn trust_check_from_pem_files_prints_the_diagnosis_and_the_fix() {
    let Some(program) = compile("trust_check", &[], Build::Plain) else {
        return;
    };
    let pki = TrustFixture::new();
    let (chain, trusted, empty, vendor) = (
        pki.path("chain.pem"),
        pki.path("trusted"),
        pki.path("empty"),
        pki.path("vendor-chain.pem"),
    );
    let case = |args: &[&str], exit: i32, wanted: &[&str]| {
        let out = run(&program, args, b"", None);
        let stdout = text(&out.stdout);
        eprintln!("$ trust_check {}\n{stdout}", args.join(" "));
        assert_eq!(
            out.status.code(),
            Some(exit),
            "{}",
            show("trust_check", &out)
        );
        for w in wanted {
            assert!(stdout.contains(w), "wanted {w:?} in:\n{stdout}");
        }
    };
    // Verified through an uploaded root, for the SIP domain (sip: URI SAN).
    case(
        &[&chain, "example.com", "sip", &trusted, "-"],
        0,
        &[
            "store: 1 anchors, 1 refused files",
            "server.key: this is a private key",
            "chain: 2 certificate(s)",
            "verified: \"",
            "URI:sip:example.com",
            "code: VERIFIED",
        ],
    );
    // Verified through the vendor chain instead.
    case(
        &[&chain, "sip.example.com", "host", "-", &vendor],
        0,
        &["verified:", "DNS:sip.example.com"],
    );
    // Nothing trusted: the issuer to upload, and the fix line.
    case(
        &[&chain, "example.com", "sip", &empty, "-"],
        1,
        &[
            "not verified: unknown issuer",
            "CN=Sigil Test Root\", which is not in the trust store",
            "code: UNKNOWN_ISSUER",
            "fix: upload the CA certificate \"O=Sigil Test PKI, CN=Sigil Test Root\"",
        ],
    );
    // The wrong name.
    case(
        &[&chain, "other.example.net", "host", &trusted, "-"],
        1,
        &[
            "name mismatch",
            "code: NAME_MISMATCH",
            "fix: set the SIP domain",
        ],
    );
    // Expired, and the clock moved past the end of a valid chain.
    case(
        &[
            &pki.path("expired.pem"),
            "sip.example.com",
            "host",
            &trusted,
            "-",
        ],
        1,
        &[
            "expired",
            "code: EXPIRED",
            "fix: renew the server certificate",
        ],
    );
    case(
        &[&chain, "example.com", "sip", &trusted, "-", "4102444800"],
        1,
        &["2100-01-01", "code: EXPIRED"],
    );
    // An unreadable vendor file is an error, not an empty layer.
    case(
        &[&chain, "example.com", "sip", "-", &pki.path("missing.pem")],
        2,
        &["cannot load the trust store: a file or folder could not be read"],
    );
}

#[test]
fn trust_check_is_clean_under_sanitizers_and_valgrind() {
    let pki = TrustFixture::new();
    let chain = pki.path("chain.pem");
    let trusted = pki.path("trusted");
    let empty = pki.path("empty");
    let cases: [(&[&str], i32); 2] = [
        (&[&chain, "example.com", "sip", &trusted, "-"], 0),
        (&[&chain, "example.com", "sip", &empty, "-"], 1),
    ];
    if let Some(program) = compile("trust_check", &[], Build::Sanitized) {
        for (args, exit) in cases {
            let out = run(&program, args, b"", None);
            assert_eq!(out.status.code(), Some(exit), "{}", show("asan", &out));
        }
    }
    if let Some(program) = compile("trust_check", &[], Build::Plain) {
        for (args, exit) in cases {
            if let Some(out) = run_valgrind(&program, args, b"") {
                assert_eq!(out.status.code(), Some(exit), "{}", show("valgrind", &out));
            }
        }
    }
}

// ---------------------------------------------------------------- offer/answer

/// The `sigil` command next to this test's library, built when missing.
fn sigil_command() -> PathBuf {
    let dir = profile_dir();
    let sigil = dir.join("sigil");
    if !sigil.is_file() {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(cargo);
        build.args(["build", "--quiet", "-p", "sigil-cli", "--bin", "sigil"]);
        if dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        if let Some(target) = dir.parent() {
            build.env("CARGO_TARGET_DIR", target);
        }
        let status = build
            .current_dir(workspace())
            .status()
            .unwrap_or_else(|e| panic!("cannot run cargo to build `sigil`: {e}"));
        assert!(status.success(), "cargo build -p sigil-cli failed");
    }
    sigil
}

const POLICIES: [&str; 3] = ["disabled", "optional", "standard"];

/// What SPEC M3 says an offer under `offerer` answered under `answerer` gives.
fn expected(offerer: &str, answerer: &str) -> &'static str {
    match (offerer, answerer) {
        ("standard", "disabled") | ("disabled", "standard") => "reject 488",
        (_, "disabled") | ("disabled", _) => "plain",
        _ => "srtp AEAD_AES_256_GCM tag 1", // the default preference's first suite
    }
}

#[test]
fn offer_answer_between_the_c_api_and_sigil_sdp_for_every_policy_pair() {
    let Some(program) = compile("offer_answer", &[], Build::Plain) else {
        return;
    };
    let sigil = sigil_command();
    let dir = tempfile::tempdir().unwrap();
    let c = |args: &[&str], input: &[u8]| run(&program, args, input, None);
    let cli = |args: &[&str], input: &[u8]| run_with_input(Command::new(&sigil).args(args), input);
    for offerer in POLICIES {
        for answerer in POLICIES {
            let want = expected(offerer, answerer);

            // The C API offers, `sigil sdp answer` answers, the C API accepts.
            let offer = c(&["offer", offerer], b"");
            assert!(offer.status.success(), "{}", show("C offer", &offer));
            let offer_file = dir.path().join("c-offer.sdp");
            std::fs::write(&offer_file, &offer.stdout).unwrap();
            let answer = cli(&["sdp", "answer", "--policy", answerer], &offer.stdout);
            let outcome = if answer.status.code() == Some(2) {
                text(&answer.stdout)
            } else {
                assert!(
                    answer.status.success(),
                    "{}",
                    show("sigil sdp answer", &answer)
                );
                let accepted = c(
                    &["accept", offerer, &offer_file.display().to_string()],
                    &answer.stdout,
                );
                assert!(accepted.status.success(), "{}", show("C accept", &accepted));
                text(&accepted.stdout)
            };
            eprintln!("C {offerer:9} -> sigil {answerer:9}: {}", outcome.trim());
            assert!(
                outcome.starts_with(want),
                "C {offerer} offers, sigil {answerer} answers: {outcome}"
            );

            // `sigil sdp offer` offers, the C API answers, `sigil sdp accept` accepts.
            let offer = cli(&["sdp", "offer", "--policy", offerer], b"");
            assert!(
                offer.status.success(),
                "{}",
                show("sigil sdp offer", &offer)
            );
            let offer_file = dir.path().join("cli-offer.sdp");
            std::fs::write(&offer_file, &offer.stdout).unwrap();
            let answer = c(&["answer", answerer], &offer.stdout);
            let outcome = if answer.status.code() == Some(2) {
                text(&answer.stdout)
            } else {
                assert!(answer.status.success(), "{}", show("C answer", &answer));
                let accepted = cli(
                    &[
                        "sdp",
                        "accept",
                        "--policy",
                        offerer,
                        "--offer",
                        &offer_file.display().to_string(),
                    ],
                    &answer.stdout,
                );
                assert!(
                    accepted.status.success(),
                    "{}",
                    show("sigil sdp accept", &accepted)
                );
                text(&accepted.stdout)
            };
            eprintln!("sigil {offerer:9} -> C {answerer:9}: {}", outcome.trim());
            assert!(
                outcome.starts_with(want),
                "sigil {offerer} offers, C {answerer} answers: {outcome}"
            );
        }
    }
}

#[test]
fn offer_answer_in_process_carries_media_through_the_negotiated_sessions() {
    let Some(program) = compile("offer_answer", &[], Build::Sanitized) else {
        return;
    };
    for offerer in POLICIES {
        for answerer in POLICIES {
            let out = run(&program, &["self", offerer, answerer], b"", None);
            let stdout = text(&out.stdout);
            eprintln!("{offerer:9} -> {answerer:9}: {}", stdout.trim());
            let want = expected(offerer, answerer);
            match want {
                "reject 488" => assert_eq!(out.status.code(), Some(2), "{}", show("self", &out)),
                "plain" => assert!(
                    out.status.success() && stdout.starts_with("plain"),
                    "{}",
                    show("self", &out)
                ),
                _ => assert!(
                    out.status.success()
                        && stdout.contains("SRTP AEAD_AES_256_GCM, tag 1; 100 packets both ways"),
                    "{}",
                    show("self", &out)
                ),
            }
        }
    }
}

#[test]
fn offer_answer_is_clean_under_valgrind() {
    let Some(program) = compile("offer_answer", &[], Build::Plain) else {
        return;
    };
    for (offerer, answerer) in [
        ("standard", "optional"),
        ("optional", "disabled"),
        ("standard", "disabled"),
    ] {
        if let Some(out) = run_valgrind(&program, &["self", offerer, answerer], b"") {
            assert!(
                out.status.code() == Some(0) || out.status.code() == Some(2),
                "{}",
                show("valgrind self", &out)
            );
        }
    }
}

// ---------------------------------------------------------------- device

/// A device with a factory identity for MAC 00:22:ee:01:02:03, an empty
/// user store, a broken configuration (with the SIP password on a bad line)
/// and a good one.
struct DeviceFixture {
    dir: tempfile::TempDir,
}

impl DeviceFixture {
    fn new() -> DeviceFixture {
        use sigil_identity::mint::{mint_device, DeviceRequest, VendorCa};
        let dir = tempfile::tempdir().expect("a temporary directory");
        let d = dir.path();
        let vendor = VendorCa::generate("Sigil Test Vendor").expect("a vendor CA");
        let mac = sigil_identity::Mac::parse("00:22:ee:01:02:03").unwrap();
        mint_device(&vendor, &DeviceRequest::new(mac))
            .and_then(|device| device.write_factory(&d.join("factory")))
            .expect("a factory partition");
        std::fs::create_dir_all(d.join("user")).unwrap();
        std::fs::write(
            d.join("bad.conf"),
            "sip.proxy = sip.example.com:5061\nsip.u1.user = 1001\nsip.u1.pwd = hunter2secret\n\
             sip.transport = carrier-pigeon\nsip.u1.pwd hunter2again\nsip.srtp.offer = sometimes\n",
        )
        .unwrap();
        std::fs::write(
            d.join("good.conf"),
            "sip.proxy = sip.example.com:5061\nsip.u1.pwd = hunter2secret\nfoo.bar = 1\n\
             sip.u1.user = 1001\nsip.u1.user = 1002\n",
        )
        .unwrap();
        DeviceFixture { dir }
    }

    fn args(&self, config: &str) -> Vec<String> {
        ["factory", "user", config]
            .iter()
            .map(|name| self.dir.path().join(name).display().to_string())
            .collect()
    }
}

#[test]
fn device_check_reports_the_identity_mac_and_every_config_error_with_secrets_masked() {
    let Some(program) = compile("device_check", &[], Build::Plain) else {
        return;
    };
    let device = DeviceFixture::new();
    let args = device.args("bad.conf");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&program, &args, b"", None);
    let stdout = text(&out.stdout);
    eprintln!("{stdout}");
    assert_eq!(out.status.code(), Some(1), "{}", show("device_check", &out));
    for wanted in [
        "identity in use: factory (factory certificate; no certs/sipclient.pem is installed)",
        "mac: 00:22:ee:01:02:03 (0022ee010203)",
        "Manufacturer certificate: installed",
        "config: INVALID, 3 error(s)",
        "error line 4 col 17: invalid value for sip.transport",
        "error line 5 col 1: line has no '='",
        "| sip.u1.pwd ********",
        "error line 6 col 18: invalid value for sip.srtp.offer",
        "bad.conf:4:17: invalid value for sip.transport",
    ] {
        assert!(stdout.contains(wanted), "wanted {wanted:?} in:\n{stdout}");
    }
    assert!(!stdout.contains("hunter2"), "a secret leaked:\n{stdout}");

    let args = device.args("good.conf");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&program, &args, b"", None);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", show("device_check", &out));
    assert!(
        stdout.contains("config: OK, 0 error(s), 2 warning(s)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("warning line 5: sip.u1.user is set again"),
        "{stdout}"
    );
    assert!(!stdout.contains("hunter2"), "a secret leaked:\n{stdout}");
}

#[test]
fn device_check_is_clean_under_sanitizers_and_valgrind() {
    let device = DeviceFixture::new();
    let args = device.args("bad.conf");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    if let Some(program) = compile("device_check", &[], Build::Sanitized) {
        let out = run(&program, &args, b"", None);
        assert_eq!(out.status.code(), Some(1), "{}", show("asan", &out));
    }
    if let Some(program) = compile("device_check", &[], Build::Plain) {
        if let Some(out) = run_valgrind(&program, &args, b"") {
            assert_eq!(out.status.code(), Some(1), "{}", show("valgrind", &out));
        }
    }
}

// ---------------------------------------------------------------- edges

fn check_edges(out: &Output) {
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", show("api_edges", out));
    assert!(stdout.contains(" checks, 0 failed"), "{stdout}");
}

#[test]
fn every_entry_point_refuses_null_and_bad_arguments_from_c() {
    let Some(program) = compile("api_edges", &[], Build::Plain) else {
        return;
    };
    let out = run(&program, &[], b"", None);
    eprintln!("{}", text(&out.stdout));
    check_edges(&out);
}

#[test]
fn api_edges_are_clean_under_sanitizers_and_valgrind() {
    if let Some(program) = compile("api_edges", &[], Build::Sanitized) {
        check_edges(&run(&program, &[], b"", None));
    }
    if let Some(program) = compile("api_edges", &[], Build::Plain) {
        if let Some(out) = run_valgrind(&program, &[], b"") {
            check_edges(&out);
        }
    }
}
