//! Proof against a real softphone: Sigil devices and `linphonec` (Debian
//! linphone-cli 5.1, liblinphone with libsrtp2) registered to one Kamailio
//! over mutual TLS — the devices with their factory certificates, each
//! linphonec with a client certificate from the same test PKI — call each
//! other with SDES-SRTP under every combination of policies:
//!
//! (linphonec `none` / `srtp` optional / `srtp` mandatory) × (our
//! `sip.srtp.offer` disabled / optional / standard) × (device calls
//! linphonec / linphonec calls device) = 18 calls.
//!
//! Each call's outcome is checked against what SPEC §5 M3 and linphonec's
//! behaviour (crates/sigil-testkit/LINPHONE.md) predict ([`expected`]),
//! including linphonec's own fallback: with optional SRTP it calls again
//! without SRTP after a 488. Established calls are checked by content both
//! ways: the device plays a 1 kHz WAV and records each call, linphonec plays
//! a 600 Hz WAV and records; each recording must hold the other side's tone
//! for most of the call and never its own. Encryption is checked on both
//! sides (our `CallStatus`, linphonec's "Negotiated media encryption" log
//! line). RTCP is checked both ways: each established call stays up until
//! our device has accepted an RTCP report of linphonec's (SRTCP when the
//! media is SRTP: a packet failing authentication is not counted) and
//! linphonec's log says its audio stream received one of ours ("receiving
//! RTCP SR"), then oRTP's counters at the end of the call must show it.
//!
//! One Kamailio and nginx, three devices (one per policy), three linphonecs
//! (one per mode), calls one after the other. The matrix is printed
//! (`--nocapture`) and in the failure message.

mod common;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{calls_after, last_call_id, DeviceSpec, Lab, PASSWORD};
use sigil_endpoint::{CallId, CallStatus, FileAudio, Record, RunOptions, RunningDevice};
use sigil_srtp::negotiate::OfferPolicy;
use sigil_testkit::audio::{read_wav, tone_seconds, write_tone_wav};
use sigil_testkit::linphone::{CallOutcome, Linphone, LinphoneConfig, MediaEncryption};
use sigil_testkit::{peer, Peer};

/// How long an established call stays up at least.
const TALK: Duration = Duration::from_secs(2);
/// How long an established call may stay up waiting for RTCP both ways.
const RTCP_WAIT: Duration = Duration::from_secs(10);
/// Bound on every wait for a call to be set up or to end.
const WAIT: Duration = Duration::from_secs(10);
/// The device's tone.
const DEVICE_HZ: f64 = 1000.0;
/// linphonec's tone.
const LINPHONE_HZ: f64 = 600.0;
/// The share of the call each side must hear the other's tone for.
const HEARD_SHARE: f64 = 0.6;

/// Who places the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    DeviceCalls,
    LinphoneCalls,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::DeviceCalls => "device → linphonec",
            Direction::LinphoneCalls => "linphonec → device",
        })
    }
}

/// How a call comes out.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CallResult {
    /// Established with plain RTP.
    Rtp,
    /// Established with SDES-SRTP.
    Srtp,
    /// Declined by the callee with 488 Not Acceptable Here.
    Refused488,
    /// Declined with 488, then linphonec called again without SRTP
    /// (`RTP/AVP`, no crypto): plain RTP.
    RtpAfter488,
    /// Anything else (with what happened).
    Other(String),
}

impl fmt::Display for CallResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallResult::Rtp => f.write_str("RTP"),
            CallResult::Srtp => f.write_str("SRTP"),
            CallResult::Refused488 => f.write_str("488"),
            CallResult::RtpAfter488 => f.write_str("488, RTP"),
            CallResult::Other(what) => write!(f, "other: {what}"),
        }
    }
}

fn mode_name(mode: MediaEncryption) -> &'static str {
    match mode {
        MediaEncryption::None => "none",
        MediaEncryption::SrtpOptional => "srtp optional",
        MediaEncryption::SrtpMandatory => "srtp mandatory",
        MediaEncryption::DtlsMandatory => "dtls mandatory",
    }
}

/// What the call should do, from SPEC §5 M3 (our side) and LINPHONE.md
/// (linphonec's side: its offers and its answers to our three offers).
fn expected(direction: Direction, linphone: MediaEncryption, ours: OfferPolicy) -> CallResult {
    use MediaEncryption::{None as LinNone, SrtpMandatory, SrtpOptional};
    use OfferPolicy::{Disabled, Standard};
    match direction {
        // We offer: Disabled → RTP/AVP without crypto; Optional → RTP/AVP
        // with a=crypto (RFC 8643); Standard → RTP/SAVP with a=crypto.
        Direction::DeviceCalls => match (ours, linphone) {
            // An RTP/SAVP offer with SDES is taken by every linphonec mode,
            // "none" included (it accepts SAVP offers as answerer).
            (Standard, _) => CallResult::Srtp,
            // A mandatory linphonec declines any RTP/AVP offer, even one
            // carrying a=crypto, with 488.
            (_, SrtpMandatory) => CallResult::Refused488,
            // linphonec never does SRTP on RTP/AVP: it answers our Optional
            // offer RTP/AVP without crypto, and our Optional falls back to
            // plain RTP ("peer has no SRTP"); Disabled is plain anyway.
            _ => CallResult::Rtp,
        },
        // linphonec offers: "none" → RTP/AVP without crypto; "srtp"
        // (optional or mandatory alike) → RTP/SAVP with four a=crypto lines.
        Direction::LinphoneCalls => match (linphone, ours) {
            // Standard: an incoming offer without acceptable crypto gets 488.
            (LinNone, Standard) => CallResult::Refused488,
            // Disabled answers plain; Optional with no crypto offered → plain.
            (LinNone, _) => CallResult::Rtp,
            // Disabled: an SRTP-only (RTP/SAVP) offer is declined with 488.
            // linphonec with optional SRTP then calls again with RTP/AVP
            // and no crypto (liblinphone: "Retrying CallSession … with
            // AVP"), which Disabled answers plain; mandatory gives up.
            (SrtpOptional, Disabled) => CallResult::RtpAfter488,
            (_, Disabled) => CallResult::Refused488,
            // Optional and Standard answer with one of the offered crypto lines.
            _ => CallResult::Srtp,
        },
    }
}

/// One cell of the matrix, as observed.
struct Row {
    direction: Direction,
    mode: MediaEncryption,
    policy: OfferPolicy,
    expected: CallResult,
    got: CallResult,
    /// Encrypted per our device / per linphonec (established calls).
    encrypted: Option<(bool, bool)>,
    /// Seconds of linphonec's tone in the device's recording, of the device's
    /// own tone there, and the recording's length.
    device_heard: Option<(f64, f64, f64)>,
    /// Seconds of the device's tone in linphonec's recording, of its own, length.
    linphone_heard: Option<(f64, f64, f64)>,
    /// RTCP packets linphonec sent and received in the call (its oRTP counters).
    linphone_rtcp: Option<(u64, u64)>,
    /// Our call record (the established one when there were several).
    ours: Option<CallStatus>,
    /// What went wrong, beyond `got` ≠ `expected`.
    problems: Vec<String>,
}

impl Row {
    /// The recording holds the other side's tone for [`HEARD_SHARE`] of the
    /// call (of the recording's length, or of [`TALK`] if that is longer),
    /// and none of its own.
    fn audio_ok(heard: Option<(f64, f64, f64)>) -> Option<bool> {
        heard.map(|(other, own, len)| {
            other >= HEARD_SHARE * len.max(TALK.as_secs_f64()) && own < 0.2
        })
    }

    fn line(&self) -> String {
        let yes_no = |b: bool| if b { "yes" } else { "NO" };
        let encrypted = match self.encrypted {
            Some((ours, theirs)) if ours == theirs => yes_no(ours).to_owned(),
            Some((ours, theirs)) => format!("ours {ours}, linphonec {theirs}"),
            None => "-".into(),
        };
        let audio = |heard: Option<(f64, f64, f64)>| match heard {
            Some((other, _, len)) => format!(
                "{} {other:.1}/{len:.1}s",
                yes_no(Row::audio_ok(heard).unwrap_or(false))
            ),
            None => "-".into(),
        };
        let rtcp = match &self.ours {
            Some(c) if c.established => format!(
                "{}/{}{}",
                c.stats.rtcp_sent,
                c.stats.rtcp_received,
                c.stats
                    .rtt_ms
                    .map(|r| format!(" rtt {r:.0}ms"))
                    .unwrap_or_default()
            ),
            _ => "-".into(),
        };
        let linphone_rtcp = self
            .linphone_rtcp
            .map_or("-".into(), |(sent, received)| format!("{sent}/{received}"));
        let media = match &self.ours {
            Some(c) if c.established => c.media.clone(),
            _ => "-".into(),
        };
        let verdict = if self.got == self.expected && self.problems.is_empty() {
            "ok"
        } else {
            "FAIL"
        };
        format!(
            "{:<19} {:<14} {:<8} {:<8} {:<8} {:<9} {:<13} {:<13} {:<15} {:<9} {verdict:<7} {media}",
            self.direction.to_string(),
            mode_name(self.mode),
            self.policy.to_string(),
            self.expected.to_string(),
            self.got.to_string(),
            encrypted,
            audio(self.device_heard),
            audio(self.linphone_heard),
            rtcp,
            linphone_rtcp,
        )
    }
}

fn table(rows: &[Row]) -> String {
    let mut out = format!(
        "{:<19} {:<14} {:<8} {:<8} {:<8} {:<9} {:<13} {:<13} {:<15} {:<9} {:<7} {}\n",
        "direction",
        "linphonec",
        "ours",
        "expected",
        "got",
        "encrypted",
        "device heard",
        "linph. heard",
        "our rtcp s/r",
        "linph s/r",
        "verdict",
        "our media"
    );
    for row in rows {
        out.push_str(&row.line());
        out.push('\n');
        for p in &row.problems {
            out.push_str(&format!("    ! {p}\n"));
        }
    }
    out
}

/// A device under test: its policy, user and recordings folder.
struct Dev {
    policy: OfferPolicy,
    user: String,
    running: RunningDevice,
    recordings: PathBuf,
}

/// A linphonec under test.
struct Phone {
    mode: MediaEncryption,
    linphone: Linphone,
    config: LinphoneConfig,
}

/// Seconds of `other_hz` and of `own_hz` in the WAV at `path`, and its length.
fn heard(path: &Path, other_hz: f64, own_hz: f64) -> Result<(f64, f64, f64), String> {
    let wav = read_wav(path)?;
    if (wav.rate, wav.channels) != (8000, 1) {
        return Err(format!(
            "{}: {} Hz, {} channels",
            path.display(),
            wav.rate,
            wav.channels
        ));
    }
    Ok((
        tone_seconds(&wav, other_hz),
        tone_seconds(&wav, own_hz),
        wav.seconds(),
    ))
}

/// The part of `log` from byte `mark` on.
fn log_since(log: &str, mark: usize) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(&log.as_bytes()[mark.min(log.len())..])
}

/// linphonec's log line when its audio stream takes an RTCP report of the
/// device (after SRTCP authentication and decryption when the media is SRTP).
const LINPHONE_GOT_RTCP: &str = "]: receiving RTCP ";

/// Keeps an established call up for [`TALK`], then until RTCP has gone both
/// ways (the device accepted a report of linphonec's; linphonec's log says
/// it received one of the device's), at most [`RTCP_WAIT`] in all. The
/// device's first report goes out 1.25–3.75 s into the call (RFC 3550
/// §6.2, half the 5 s minimum, randomised); linphonec's came about 1.6 s in.
fn hold_until_rtcp(dev: &Dev, phone: &Phone, before: Option<CallId>, log_mark: usize) {
    std::thread::sleep(TALK);
    let deadline = Instant::now() + RTCP_WAIT.saturating_sub(TALK);
    while Instant::now() < deadline {
        let ours = dev
            .running
            .status()
            .calls
            .into_iter()
            .find(|c| before.is_none_or(|b| c.id > b) && c.established && c.ended.is_none());
        let Some(ours) = ours else {
            return;
        };
        let theirs = log_since(&phone.linphone.log(), log_mark).contains(LINPHONE_GOT_RTCP);
        if ours.stats.rtcp_received > 0 && theirs {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Places one call of the matrix and checks everything about it.
fn run_cell(direction: Direction, dev: &Dev, phone: &mut Phone) -> Row {
    let mut row = Row {
        direction,
        mode: phone.mode,
        policy: dev.policy,
        expected: expected(direction, phone.mode, dev.policy),
        got: CallResult::Other("not run".into()),
        encrypted: None,
        device_heard: None,
        linphone_heard: None,
        linphone_rtcp: None,
        ours: None,
        problems: Vec::new(),
    };
    let recording = phone.config.record_wav.clone().expect("linphonec records");
    // Each call rewrites it; remove it so that a stale one is never read.
    let _ = std::fs::remove_file(&recording);
    let before = last_call_id(&dev.running);
    let log_mark = phone.linphone.log().len();

    // Our calls (more than one when linphonec retries), and linphonec's outcome.
    let (calls, theirs) = match direction {
        Direction::DeviceCalls => {
            let id = dev
                .running
                .dial(&phone.config.uri(), None)
                .unwrap_or_else(|e| panic!("{}: {e}", dev.user));
            let mut theirs = None;
            match dev.running.wait_established(id, WAIT) {
                Ok(true) => {
                    let outcome = phone.linphone.wait_call_outcome(WAIT);
                    if matches!(outcome, CallOutcome::Established(_)) {
                        hold_until_rtcp(dev, phone, before, log_mark);
                    }
                    theirs = Some(outcome);
                    let _ = dev.running.hangup(id);
                }
                // linphonec prints nothing when it declines an incoming
                // call: there is nothing to wait for on its side.
                Ok(false) => {}
                Err(e) => {
                    row.problems.push(format!("call not set up: {e}"));
                    let _ = dev.running.hangup(id);
                }
            }
            let ours = dev.running.wait_ended(id, WAIT).ok();
            if matches!(theirs, Some(CallOutcome::Established(_))) {
                phone.linphone.wait_call_ended(WAIT);
            }
            (ours.into_iter().collect::<Vec<_>>(), theirs)
        }
        Direction::LinphoneCalls => {
            phone.linphone.call(&format!("sip:{}@127.0.0.1", dev.user));
            let outcome = phone.linphone.wait_call_outcome(WAIT);
            if matches!(outcome, CallOutcome::Established(_)) {
                hold_until_rtcp(dev, phone, before, log_mark);
                phone.linphone.terminate();
                phone.linphone.wait_call_ended(WAIT);
            }
            (
                calls_after(&dev.running, before, Duration::from_secs(5)),
                Some(outcome),
            )
        }
    };
    let log = phone.linphone.log();
    let log = log_since(&log, log_mark);

    let established = calls.iter().find(|c| c.established);
    let declined_488 = |c: &CallStatus| c.ended.as_deref().unwrap_or("").contains("488");
    row.got = match (established, calls.first(), &theirs) {
        (Some(c), Some(first), _) if c.ended.is_some() => match c.encrypted {
            true => CallResult::Srtp,
            // linphonec (SRTP optional) calls again with RTP/AVP after a 488.
            false if first.id != c.id && declined_488(first) => CallResult::RtpAfter488,
            false => CallResult::Rtp,
        },
        (None, Some(first), _) if declined_488(first) && calls.len() == 1 => {
            match (direction, &theirs) {
                (Direction::DeviceCalls, _) => CallResult::Refused488,
                (_, Some(CallOutcome::Failed { reason, .. })) if reason.contains(" 488 ") => {
                    CallResult::Refused488
                }
                _ => CallResult::Other(format!("we declined with 488; linphonec: {theirs:?}")),
            }
        }
        _ => CallResult::Other(format!(
            "device: {:?}; linphonec: {theirs:?}",
            calls
                .iter()
                .map(|c| format!("{} / {:?}", c.media, c.ended))
                .collect::<Vec<_>>()
        )),
    };
    if row.got == CallResult::RtpAfter488 && !log.contains("Retrying CallSession") {
        row.problems
            .push("linphonec's log does not say it retried the call".into());
    }

    match (established, &theirs) {
        (Some(c), Some(CallOutcome::Established(info))) => {
            row.encrypted = Some((c.encrypted, info.encrypted));
            if c.encrypted != info.encrypted {
                row.problems.push(format!(
                    "encryption differs: ours {} ({}), linphonec {} (SDP {:?})",
                    c.encrypted, c.media, info.media_encryption, info.sdp_audio
                ));
            }
            check_media(&mut row, c, dev, &recording);
            check_linphone_rtcp(&mut row, &log);
        }
        (Some(c), _) => row.problems.push(format!(
            "established here ({}) but not at linphonec: {theirs:?}{}",
            c.media,
            phone.linphone.diagnostics()
        )),
        (None, Some(CallOutcome::Established(info))) => row.problems.push(format!(
            "established at linphonec ({info:?}) but not here: {calls:?}"
        )),
        (None, _) => {
            // Not established: our record must say why, and the 488 must
            // come from the callee (not from Kamailio).
            match calls.first() {
                Some(c) if c.media.starts_with("none (") => {}
                Some(c) => row
                    .problems
                    .push(format!("a failed call that says media {:?}", c.media)),
                None => row.problems.push("no call record on the device".into()),
            }
            let declined_here = calls.first().is_some_and(|c| {
                c.ended
                    .as_deref()
                    .is_some_and(|e| e.starts_with("we declined"))
            });
            // In a call to linphonec, the only 488 in its log is the one it sent.
            let declined_there = log.lines().any(|l| l.starts_with("SIP/2.0 488 "));
            let by_callee = match direction {
                Direction::DeviceCalls => declined_there && !declined_here,
                Direction::LinphoneCalls => declined_here,
            };
            if row.got == CallResult::Refused488 && !by_callee {
                row.problems.push(format!(
                    "the 488 did not come from the callee: ours {:?}, linphonec sent one: {declined_there}",
                    calls.first().and_then(|c| c.ended.clone())
                ));
            }
        }
    }
    row.ours = established.or(calls.first()).cloned();
    row
}

/// Audio both ways, SRTP health and RTCP of an established call.
fn check_media(row: &mut Row, c: &CallStatus, dev: &Dev, linphone_recording: &Path) {
    let ours = dev.recordings.join(format!("call-{}.wav", c.id.0));
    match heard(&ours, LINPHONE_HZ, DEVICE_HZ) {
        Ok(h) => row.device_heard = Some(h),
        Err(e) => row.problems.push(format!("device recording: {e}")),
    }
    match heard(linphone_recording, DEVICE_HZ, LINPHONE_HZ) {
        Ok(h) => row.linphone_heard = Some(h),
        Err(e) => row.problems.push(format!("linphonec recording: {e}")),
    }
    for (who, h) in [
        ("device", row.device_heard),
        ("linphonec", row.linphone_heard),
    ] {
        if Row::audio_ok(h) == Some(false) {
            row.problems.push(format!(
                "{who} heard the other's tone {:.1} s and its own {:.1} s in {:.1} s",
                h.map_or(0.0, |h| h.0),
                h.map_or(0.0, |h| h.1),
                h.map_or(0.0, |h| h.2)
            ));
        }
    }
    let s = &c.stats;
    if s.srtp_auth_failures != 0 || s.srtp_replays != 0 {
        row.problems.push(format!(
            "{} SRTP/SRTCP authentication failures, {} replays",
            s.srtp_auth_failures, s.srtp_replays
        ));
    }
    if s.packets_received == 0 || s.packets_sent == 0 {
        row.problems.push(format!(
            "RTP: {} packets sent, {} received",
            s.packets_sent, s.packets_received
        ));
    }
    // linphonec's RTCP reached us and was accepted (SRTCP authenticated and
    // decrypted when the media is SRTP); ours went out, more than the
    // final BYE.
    if s.rtcp_received == 0 {
        row.problems.push("no RTCP accepted from linphonec".into());
    }
    if s.rtcp_sent < 2 {
        row.problems.push(format!(
            "{} RTCP packets sent (a report, then the BYE, at least)",
            s.rtcp_sent
        ));
    }
}

/// What linphonec says about our RTCP: while the call ran, a "receiving
/// RTCP SR" line (its audio stream took our report — after SRTCP
/// authentication when the media is SRTP); at the end, oRTP's counters
/// ("sent rtcp N packets", "received rtcp N packets").
fn check_linphone_rtcp(row: &mut Row, log: &str) {
    let counter = |what: &str| {
        log.lines()
            .rev()
            .filter_map(|l| l.split_once(what))
            .find_map(|(_, rest)| rest.split_whitespace().next()?.parse::<u64>().ok())
    };
    let received = counter("ortp-message-received rtcp");
    let sent = counter("ortp-message-sent rtcp");
    row.linphone_rtcp = Some((sent.unwrap_or(0), received.unwrap_or(0)));
    if !log.contains(LINPHONE_GOT_RTCP) {
        row.problems
            .push("linphonec's log shows no RTCP report of ours received".into());
    }
    if received.unwrap_or(0) == 0 {
        row.problems.push(format!(
            "linphonec counted no RTCP received (its counter: {received:?})"
        ));
    }
}

#[test]
fn devices_and_linphonec_call_each_other_under_every_srtp_policy() {
    let started = Instant::now();
    let Some(linphonec) = peer(Peer::Linphone) else {
        return;
    };
    let Some(lab) = Lab::start() else {
        return;
    };
    let dirs = tempfile::tempdir().unwrap();
    let d = dirs.path();
    let device_tone = d.join("device-1khz.wav");
    write_tone_wav(&device_tone, DEVICE_HZ, 3.0, 8000);
    // Longer than any call: linphonec pauses 0.5 s between loops.
    let linphone_tone = d.join("linphonec-600hz.wav");
    write_tone_wav(&linphone_tone, LINPHONE_HZ, 10.0, 8000);
    let root_pem = d.join("root.pem");
    std::fs::write(&root_pem, lab.root_pem()).unwrap();

    let mut devices = Vec::new();
    for (i, policy) in [
        OfferPolicy::Disabled,
        OfferPolicy::Optional,
        OfferPolicy::Standard,
    ]
    .into_iter()
    .enumerate()
    {
        let user = format!("100{}", i + 1);
        let mac = format!("00:22:ee:30:00:0{}", i + 1);
        let root = d.join(&user);
        let recordings = root.join("recordings");
        std::fs::create_dir_all(&recordings).unwrap();
        let options = RunOptions {
            audio: Box::new(
                FileAudio::new(Some(&device_tone), Record::Folder(recordings.clone())).unwrap(),
            ),
            auto_answer: true,
            ..RunOptions::default()
        };
        let spec = DeviceSpec {
            mac: &mac,
            user: &user,
            policy: &policy.to_string(),
            sip_port: lab.sip_port,
            extra: "",
        };
        let running = lab.device_with(&root, spec, options);
        assert_eq!(
            running.status().configuration.srtp_offer,
            policy.to_string()
        );
        lab.assert_registered(&mac);
        devices.push(Dev {
            policy,
            user,
            running,
            recordings,
        });
    }

    let mut phones = Vec::new();
    for (i, mode) in [
        MediaEncryption::None,
        MediaEncryption::SrtpOptional,
        MediaEncryption::SrtpMandatory,
    ]
    .into_iter()
    .enumerate()
    {
        let user = format!("200{}", i + 1);
        let home = d.join(&user);
        std::fs::create_dir_all(&home).unwrap();
        let cert = lab.client_cert(&user);
        let (cert_path, key_path) = (home.join("client.pem"), home.join("client.key"));
        cert.write_chain_pem(&cert_path);
        std::fs::write(&key_path, cert.key_pem()).unwrap();
        let proxy = ([127, 0, 0, 1], lab.sip_port).into();
        let mut config = LinphoneConfig::new(proxy, &user, PASSWORD, &root_pem);
        config.client_cert = Some(cert_path);
        config.client_key = Some(key_path);
        config.encryption = mode;
        config.auto_answer = true;
        config.play_wav = Some(linphone_tone.clone());
        config.record_wav = Some(home.join("received.wav"));
        let linphone = Linphone::start(&linphonec, &home, &config);
        phones.push(Phone {
            mode,
            linphone,
            config,
        });
    }
    for phone in &mut phones {
        phone.linphone.wait_registered(WAIT);
        lab.assert_registered(&phone.config.user);
    }
    println!("set up in {:?}", started.elapsed());

    let mut rows = Vec::new();
    for phone in &mut phones {
        for dev in &devices {
            for direction in [Direction::DeviceCalls, Direction::LinphoneCalls] {
                let row = run_cell(direction, dev, phone);
                println!("{}", row.line());
                if let Some(c) = row.ours.as_ref().filter(|c| c.established) {
                    println!("    {:?}", c.stats);
                }
                rows.push(row);
            }
        }
    }
    let matrix = table(&rows);
    println!("\n{matrix}\n18 calls, {:?} in all", started.elapsed());
    let failed = rows
        .iter()
        .filter(|r| r.got != r.expected || !r.problems.is_empty())
        .count();
    assert_eq!(failed, 0, "{failed} of 18 cells failed:\n{matrix}");
    for dev in devices {
        assert_eq!(dev.running.shutdown().registration.state, "idle");
    }
}
