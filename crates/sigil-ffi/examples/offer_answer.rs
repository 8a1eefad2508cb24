//! SDES offer/answer and SRTP media through Sigil's C API, called the way C
//! firmware calls it (`sigil.h`), from Rust.
//!
//! Two negotiators — the device with the `standard` SDP SRTP offer policy,
//! its peer with `optional`, both over TLS signaling — exchange an offer and
//! an answer as SDP strings. The SRTP sessions of the agreement come out of
//! the negotiators without the keys passing through the caller; ten RTP
//! packets go each way through them, and a forged one is refused. Finally a
//! configuration text with a mistake is checked, the way an installer's
//! upload would be.
//!
//! `cargo run -p sigil-ffi --example offer_answer` — no arguments, no
//! network; exits non-zero when a step does not give the expected result.

use std::ffi::{c_char, CStr, CString};
use std::process::ExitCode;
use std::ptr::{null, null_mut};

use sigil_ffi::config::*;
use sigil_ffi::sdp::*;
use sigil_ffi::srtp::*;
use sigil_ffi::status::sigil_strerror;
use sigil_ffi::{SigilStatus, SigilText};

type Error = Box<dyn std::error::Error>;

/// A caller-owned text buffer, as C code keeps one on its stack.
struct Text {
    buf: Vec<u8>,
    text: SigilText,
}

impl Text {
    fn new(cap: usize) -> Text {
        let mut buf = vec![0u8; cap];
        let text = SigilText {
            ptr: buf.as_mut_ptr().cast::<c_char>(),
            cap,
            len: 0,
        };
        Text { buf, text }
    }

    /// The text the library wrote.
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.text.len.min(self.buf.len())]).unwrap_or("(not UTF-8)")
    }

    /// The text as a C string, to pass on to the next call.
    fn to_c(&self) -> Result<CString, Error> {
        Ok(CString::new(self.as_str())?)
    }
}

/// `Ok` for `SIGIL_STATUS_OK`, else the status with `sigil_strerror`'s sentence.
fn check(what: &str, status: SigilStatus) -> Result<(), Error> {
    if status == SigilStatus::Ok {
        return Ok(());
    }
    // SAFETY: sigil_strerror returns a static NUL-terminated string for any value.
    let sentence = unsafe { CStr::from_ptr(sigil_strerror(status as i32)) };
    Err(format!("{what}: {}", sentence.to_string_lossy()).into())
}

/// A negotiator handle, freed on drop.
struct Negotiator(*mut SigilNegotiator);

impl Negotiator {
    fn new(policy: &CStr) -> Result<Negotiator, Error> {
        let mut handle = null_mut();
        let mut why = Text::new(512);
        // SAFETY: valid out-pointer, NUL-terminated strings, NULL for the default suites.
        let status = unsafe {
            sigil_negotiator_new(
                &mut handle,
                policy.as_ptr(),
                c"tls".as_ptr(),
                null(),
                0,
                &mut why.text,
            )
        };
        check(&format!("negotiator {policy:?} ({})", why.as_str()), status)?;
        Ok(Negotiator(handle))
    }
}

impl Drop for Negotiator {
    fn drop(&mut self) {
        // SAFETY: a live handle from sigil_negotiator_new, freed once.
        unsafe { sigil_negotiator_free(self.0) }
    }
}

/// An SRTP session handle, freed on drop.
struct Srtp(*mut SigilSrtp);

impl Drop for Srtp {
    fn drop(&mut self) {
        // SAFETY: NULL or a live handle from sigil_negotiator_srtp_sessions, freed once.
        unsafe { sigil_srtp_free(self.0) }
    }
}

/// The send and receive sessions a negotiation agreed on.
fn sessions(negotiator: &Negotiator) -> Result<(Srtp, Srtp), Error> {
    let (mut send, mut receive) = (null_mut(), null_mut());
    // SAFETY: a live negotiator, valid out-pointers.
    let status = unsafe { sigil_negotiator_srtp_sessions(negotiator.0, &mut send, &mut receive) };
    check("srtp sessions", status)?;
    Ok((Srtp(send), Srtp(receive)))
}

/// Protects RTP packet `seq` at `from`, unprotects it at `to`; true when intact.
fn send_packet(from: &Srtp, to: &Srtp, seq: u16, tamper: bool) -> Result<bool, Error> {
    let mut rtp = vec![0x80, 0x00];
    rtp.extend_from_slice(&seq.to_be_bytes());
    rtp.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    rtp.extend_from_slice(&0x5161_6c00u32.to_be_bytes());
    rtp.extend((0..160).map(|i| (i as u16 ^ seq) as u8));
    let mut buf = rtp.clone();
    buf.resize(rtp.len() + SIGIL_SRTP_MAX_TRAILER_LEN, 0);
    let mut len = rtp.len();
    // SAFETY: a live outbound session; `buf` has `buf.len()` bytes, `len` in use.
    let status = unsafe { sigil_srtp_protect_rtp(from.0, buf.as_mut_ptr(), &mut len, buf.len()) };
    check("protect", status)?;
    if tamper {
        buf[20] ^= 0x01;
    }
    // SAFETY: a live inbound session; `buf` has `len` bytes in use.
    let status = unsafe { sigil_srtp_unprotect_rtp(to.0, buf.as_mut_ptr(), &mut len) };
    Ok(status == SigilStatus::Ok && buf[..len] == rtp[..])
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("offer_answer: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<bool, Error> {
    // SAFETY: sigil_version returns a static NUL-terminated string.
    let version = unsafe { CStr::from_ptr(sigil_ffi::sigil_version()) };
    println!("libsigil_ffi {}", version.to_string_lossy());

    let device = Negotiator::new(c"standard")?;
    let peer = Negotiator::new(c"optional")?;

    // The offer: the caller's SDP template, with crypto lines added by the library.
    let mut template = Text::new(1024);
    // SAFETY: NUL-terminated address, a valid text.
    check("template", unsafe {
        sigil_sdp_basic_audio(c"192.0.2.10".as_ptr(), 4000, 1, &mut template.text)
    })?;
    let template = template.to_c()?;
    let (mut offer, mut summary) = (Text::new(8192), Text::new(512));
    // SAFETY: a live negotiator, NUL-terminated template, valid texts.
    check("offer", unsafe {
        sigil_negotiator_create_offer(
            device.0,
            template.as_ptr(),
            &mut offer.text,
            &mut summary.text,
        )
    })?;
    println!("device offers ({}):", summary.as_str());
    for line in offer.as_str().lines() {
        // The key is in the SDP; a log must not show it.
        match line.split_once("inline:") {
            Some((head, _)) => println!("  {head}inline:…"),
            None => println!("  {line}"),
        }
    }

    // The answer.
    let offer = offer.to_c()?;
    let mut peer_template = Text::new(1024);
    // SAFETY: as above.
    check("template", unsafe {
        sigil_sdp_basic_audio(c"192.0.2.20".as_ptr(), 5000, 2, &mut peer_template.text)
    })?;
    let peer_template = peer_template.to_c()?;
    let (mut answer, mut peer_summary) = (Text::new(8192), Text::new(512));
    // SAFETY: a live negotiator, NUL-terminated SDP, valid texts.
    check("answer", unsafe {
        sigil_negotiator_answer_offer(
            peer.0,
            offer.as_ptr(),
            peer_template.as_ptr(),
            &mut answer.text,
            &mut peer_summary.text,
        )
    })?;
    println!("peer answers: {}", peer_summary.as_str());
    let answer = answer.to_c()?;
    let mut agreed = Text::new(512);
    // SAFETY: a live negotiator, NUL-terminated SDP, a valid text.
    check("accept", unsafe {
        sigil_negotiator_accept_answer(device.0, answer.as_ptr(), &mut agreed.text)
    })?;
    println!("device accepts: {}", agreed.as_str());

    // Media through the agreed sessions.
    let (device_send, device_receive) = sessions(&device)?;
    let (peer_send, peer_receive) = sessions(&peer)?;
    let mut intact = 0;
    for seq in 0..10 {
        intact += u32::from(send_packet(&device_send, &peer_receive, seq, false)?);
        intact += u32::from(send_packet(&peer_send, &device_receive, seq, false)?);
    }
    println!("media: {intact} of 20 packets protected, unprotected and intact");
    let forged_refused = !send_packet(&device_send, &peer_receive, 10, true)?;
    let mut why = Text::new(256);
    // SAFETY: a live session, a valid text.
    check("last error", unsafe {
        sigil_srtp_last_error(peer_receive.0, &mut why.text)
    })?;
    println!("a forged packet: refused ({})", why.as_str());

    // A configuration check, as for an installer's upload.
    let config = b"sip.proxy = pbx.example.com\nsip.srtp.offer = always\n";
    let mut report = null_mut();
    // SAFETY: NUL-terminated name, `config` readable for its length, valid out-pointer.
    let status = unsafe {
        sigil_config_check(
            c"door17.conf".as_ptr(),
            config.as_ptr(),
            config.len(),
            &mut report,
        )
    };
    let mut text = Text::new(2048);
    // SAFETY: a live report, a valid text.
    check("report", unsafe {
        sigil_config_report_text(report, &mut text.text)
    })?;
    // SAFETY: a live report, freed once.
    unsafe { sigil_config_report_free(report) };
    println!(
        "configuration check: {status:?}\n{}",
        text.as_str().trim_end()
    );

    let ok = agreed.as_str().starts_with("SRTP")
        && intact == 20
        && forged_refused
        && status == SigilStatus::ConfigInvalid
        && text.as_str().contains("door17.conf:2:");
    println!(
        "{}",
        if ok {
            "every step as expected"
        } else {
            "UNEXPECTED RESULT"
        }
    );
    Ok(ok)
}
