//! `linphonec` (Debian `linphone-cli` 5.1, liblinphone with belle-sip on
//! mbedTLS 2.28 and libsrtp2) as a real SIP softphone for tests: it
//! registers to a proxy (Kamailio in our tests) over TLS with a client
//! certificate, places and answers calls with SDES-SRTP (or without), plays
//! a WAV file into every call and records what it receives to a WAV file,
//! all headless, on 127.0.0.1.
//!
//! Find the binary first with [`crate::peer`]`(`[`crate::Peer::Linphone`]`)`,
//! then [`Linphone::start`] one instance per user. Everything observed while
//! writing this module is in `crates/sigil-testkit/LINPHONE.md`; the
//! linphonerc keys used are documented where they are written, in
//! [`linphonerc`].
//!
//! How an instance is driven: `linphonec -c FILE -d 6 -l LOG [-a]` with its
//! own `HOME`, commands written to its stdin (kept open: end of input makes
//! it quit), its stdout read by a thread. Every wait polls that output (and
//! the log file for what linphonec does not print) with a deadline.
//!
//! ```no_run
//! use std::time::Duration;
//! use sigil_testkit::linphone::{free_rtp_ports, Linphone, LinphoneConfig, MediaEncryption};
//! # let (bin, dir, ca) = (std::path::PathBuf::new(), std::path::PathBuf::new(), std::path::PathBuf::new());
//! let mut config = LinphoneConfig::new(([127, 0, 0, 1], 5061).into(), "alice", "secret", &ca);
//! config.encryption = MediaEncryption::SrtpMandatory;
//! let mut alice = Linphone::start(&bin, &dir, &config);
//! alice.wait_registered(Duration::from_secs(10));
//! alice.call("sip:bob@127.0.0.1");
//! let call = alice.wait_call_established(Duration::from_secs(10));
//! assert!(call.encrypted);
//! alice.terminate();
//! alice.wait_call_ended(Duration::from_secs(10));
//! ```

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::ChildGuard;

/// How long [`Linphone::start`] waits for linphonec to read its first command.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// How often waits poll the captured output.
const POLL: Duration = Duration::from_millis(50);

/// The line linphonec prints when `soundcard use files` is done; also
/// [`Linphone::start`]'s sign that it reads its commands.
const USING_FILES: &str = "Using wav files instead of soundcard.";

/// The SIP transport to the proxy (`;transport=` of `reg_proxy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    /// SIP over TLS (the default): linphonec dials the proxy and keeps the connection.
    #[default]
    Tls,
    /// SIP over TCP.
    Tcp,
    /// SIP over UDP.
    Udp,
}

impl Transport {
    fn param(self) -> &'static str {
        match self {
            Transport::Tls => "tls",
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }
}

/// linphonec's media encryption (`[sip] media_encryption` and
/// `media_encryption_mandatory`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MediaEncryption {
    /// `media_encryption=none`: offers `RTP/AVP` without crypto. As answerer
    /// it still accepts an `RTP/SAVP` offer with SDES (media is SRTP) and
    /// answers an `RTP/AVP` offer carrying `a=crypto` with plain RTP.
    #[default]
    None,
    /// `media_encryption=srtp`, `media_encryption_mandatory=0`: offers
    /// `RTP/SAVP` with four `a=crypto` lines (there is no `RTP/AVP` +
    /// `a=crypto` offer); as answerer it takes `RTP/SAVP` offers with SRTP
    /// and `RTP/AVP` offers (with or without `a=crypto`) with plain RTP.
    SrtpOptional,
    /// `media_encryption=srtp`, `media_encryption_mandatory=1`: offers
    /// `RTP/SAVP` with four `a=crypto` lines; as answerer it declines any
    /// `RTP/AVP` offer, even one with `a=crypto`, with 488 Not acceptable here.
    SrtpMandatory,
}

/// What [`Linphone::start`] writes into the instance's linphonerc.
#[derive(Debug, Clone)]
pub struct LinphoneConfig {
    /// The proxy (registrar) address; `reg_proxy=<sip:IP:PORT;transport=…>`.
    pub proxy: SocketAddr,
    /// The SIP domain of the identity `sip:user@domain` and of the digest
    /// credentials (Kamailio's realm in our configuration is the To domain).
    pub domain: String,
    /// The user part of the identity and the digest user name.
    pub user: String,
    /// The digest password. With a wrong one linphonec answers the second
    /// 401 by giving up: `status register` says `registered=-1` for good
    /// (no password prompt appeared on stdout).
    pub password: String,
    /// SIP transport to the proxy.
    pub transport: Transport,
    /// Trust anchors for the proxy's certificate (`[sip] root_ca`, a PEM
    /// file; the root is enough, the proxy sends its intermediate). `None`
    /// leaves belle-sip's default (`/etc/ssl/certs`).
    pub ca_file: Option<PathBuf>,
    /// `[sip] verify_server_cn`. The chain is verified against `ca_file` either
    /// way. belle-sip's mbedTLS 2.28 matches the host only against dNSName
    /// SANs (or the CN when there are no SANs), never iPAddress SANs: a
    /// server certificate for `127.0.0.1` needs a dNSName SAN `127.0.0.1`
    /// for this to be `true`; with an IP SAN only (what
    /// `sigil_identity::mint::mint_server` makes) set it to `false`.
    pub verify_server_name: bool,
    /// Client certificate chain, PEM, leaf first (`[sip] client_cert_chain`):
    /// presented when the proxy asks for one.
    pub client_cert: Option<PathBuf>,
    /// The client certificate's private key, PEM, unencrypted (`[sip] client_cert_key`).
    pub client_key: Option<PathBuf>,
    /// Media encryption.
    pub encryption: MediaEncryption,
    /// Answer incoming calls at once (`-a`).
    pub auto_answer: bool,
    /// A WAV file played into every call, looped with 0.5 s pauses
    /// (`[sound] hold_music`); `None` sends silence.
    pub play_wav: Option<PathBuf>,
    /// Where the audio received in a call is written, as a 16-bit mono WAV
    /// at the codec rate (command `record FILE`); each call overwrites it.
    pub record_wav: Option<PathBuf>,
    /// Local RTP/RTCP ports for audio (`[rtp] audio_rtp_port=MIN-MAX`); RTCP
    /// uses the RTP port + 1, so give at least 4 ports. See [`free_rtp_ports`].
    pub rtp_ports: RangeInclusive<u16>,
}

impl LinphoneConfig {
    /// A configuration for `user` at `proxy` over TLS, domain the proxy's IP,
    /// trusting `ca_file`, host name verified, no client certificate, no
    /// media encryption, no auto-answer, no files, RTP ports from
    /// [`free_rtp_ports`]`(10)`.
    pub fn new(proxy: SocketAddr, user: &str, password: &str, ca_file: &Path) -> Self {
        LinphoneConfig {
            proxy,
            domain: proxy.ip().to_string(),
            user: user.into(),
            password: password.into(),
            transport: Transport::Tls,
            ca_file: Some(ca_file.into()),
            verify_server_name: true,
            client_cert: None,
            client_key: None,
            encryption: MediaEncryption::None,
            auto_answer: false,
            play_wav: None,
            record_wav: None,
            rtp_ports: free_rtp_ports(10),
        }
    }

    /// This user's SIP URI, `sip:user@domain`.
    pub fn uri(&self) -> String {
        format!("sip:{}@{}", self.user, self.domain)
    }
}

/// `count` consecutive UDP ports (starting at an even port) that were free on
/// all addresses a moment ago and that this test process has not handed out
/// before, for [`LinphoneConfig::rtp_ports`].
///
/// # Panics
///
/// When no such range is found after 1000 tries.
pub fn free_rtp_ports(count: u16) -> RangeInclusive<u16> {
    static GIVEN: Mutex<Vec<RangeInclusive<u16>>> = Mutex::new(Vec::new());
    let count = count.max(2);
    for _ in 0..1000 {
        // Let the kernel pick a free ephemeral port as the base.
        let Ok(base) = UdpSocket::bind("0.0.0.0:0")
            .and_then(|s| s.local_addr())
            .map(|a| a.port() & !1)
        else {
            continue;
        };
        let Some(last) = base.checked_add(count - 1) else {
            continue;
        };
        if base < 1024 {
            continue;
        }
        let range = base..=last;
        let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        if given
            .iter()
            .any(|r| r.start() <= range.end() && range.start() <= r.end())
        {
            continue;
        }
        // Hold them all at once so that the check is about this moment.
        let held: Result<Vec<UdpSocket>, _> = range
            .clone()
            .map(|port| UdpSocket::bind(("0.0.0.0", port)))
            .collect();
        if held.is_ok() {
            given.push(range.clone());
            return range;
        }
    }
    panic!("no {count} consecutive free UDP ports after 1000 tries");
}

/// The linphonerc [`Linphone::start`] writes for `config`, with `dir` the
/// instance's folder. Every key, and what was seen with it (Debian
/// linphone-cli 5.1.65):
///
/// - `[sip] sip_port=0`, `sip_tcp_port=0`, `sip_tls_port=-1`: 0 disables a
///   transport, -1 listens on a random port. The default is UDP and TCP on
///   5060, which two instances (or anything else) would fight over. Only the
///   transport in use gets a random port; calls come in over the
///   registration connection (Kamailio's connection reuse) for TLS and TCP.
/// - `[sip] default_proxy=0`: `[proxy_0]` is the account calls go out through.
/// - `[sip] root_ca=FILE`: PEM trust anchors for the proxy certificate
///   (belle-sip logs "Root ca path set to FILE"). A wrong CA: handshake fails
///   with "flags=[not-trusted ]" in the log and no registration.
/// - `[sip] verify_server_certs=1`, `verify_server_cn=0|1`: see
///   [`LinphoneConfig::verify_server_name`]; a name mismatch shows as
///   "flags=[CN-mismatch ]" and "SSL handshake failed" in the log.
/// - `[sip] client_cert_chain=FILE`, `client_cert_key=FILE`: client
///   certificate chain and key (PEM, PKCS#8 key) presented when the server
///   requests one; Kamailio with `require_certificate = yes` accepts it and
///   `$tls_peer_subject_cn` is its CN. (`[auth_info_N]` takes the same two
///   keys per account; one global pair is enough here.)
/// - `[sip] media_encryption=none|srtp`, `media_encryption_mandatory=0|1`:
///   see [`MediaEncryption`]. liblinphone logs "Negotiated media encryption
///   is LinphoneMediaEncryptionSRTP|None" per call; linphonec prints nothing
///   about SDES (its "Call N is fully encrypted" line is for ZRTP/DTLS only).
/// - `[sip] use_ipv6=0`.
/// - `[proxy_0] reg_proxy=<sip:IP:PORT;transport=tls>`, `reg_identity="user"
///   <sip:user@domain>`, `reg_expires=600`, `reg_sendregister=1`, `publish=0`.
/// - `[auth_info_0] username`, `passwd`, `domain`, `realm` (= domain, the
///   realm Kamailio's `pv_www_authenticate("$td", …)` challenges with).
/// - `[rtp] audio_rtp_port=MIN-MAX`: the m=audio port is picked in the range
///   (RTCP on port + 1, no rtcp-mux offered); `nortp_timeout=30` (default)
///   ends a call after 30 s without RTP.
/// - `[sound] echocancellation=0`; `hold_music=FILE`: the file played into
///   calls when no sound card is used (liblinphone's `play_file`; there is no
///   `play_file`/`record_file`/`use_files` key). A missing file logs
///   "on-hold music file does not exist" and calls carry silence — used for
///   "play nothing", since leaving the key out plays liblinphone's default
///   on-hold music.
/// - `[video] capture=0`, `display=0`, `automatically_initiate=0`,
///   `automatically_accept=0`: no m=video line (linphonec also disables
///   video unless run with -V/-C/-D).
/// - `[misc] add_missing_audio_codecs=0`, `add_missing_video_codecs=0` and
///   `[audio_codec_0]` PCMU/8000, `[audio_codec_1]` PCMA/8000: the offer is
///   `0 8 96` (96 = telephone-event, which stays). Without the
///   `add_missing_*` keys every other supported codec (opus, speex, …) is
///   appended, enabled.
///
/// No ICE or STUN is configured, and none is used: no `a=candidate`.
pub fn linphonerc(config: &LinphoneConfig, dir: &Path) -> String {
    let mut sip = vec![
        format!(
            "sip_port={}",
            if config.transport == Transport::Udp {
                -1
            } else {
                0
            }
        ),
        format!(
            "sip_tcp_port={}",
            if config.transport == Transport::Tcp {
                -1
            } else {
                0
            }
        ),
        format!(
            "sip_tls_port={}",
            if config.transport == Transport::Tls {
                -1
            } else {
                0
            }
        ),
        "default_proxy=0".into(),
        "use_ipv6=0".into(),
        "verify_server_certs=1".into(),
        format!("verify_server_cn={}", u8::from(config.verify_server_name)),
    ];
    if let Some(ca) = &config.ca_file {
        sip.push(format!("root_ca={}", ca.display()));
    }
    if let (Some(cert), Some(key)) = (&config.client_cert, &config.client_key) {
        sip.push(format!("client_cert_chain={}", cert.display()));
        sip.push(format!("client_cert_key={}", key.display()));
    }
    let (encryption, mandatory) = match config.encryption {
        MediaEncryption::None => ("none", 0),
        MediaEncryption::SrtpOptional => ("srtp", 0),
        MediaEncryption::SrtpMandatory => ("srtp", 1),
    };
    sip.push(format!("media_encryption={encryption}"));
    sip.push(format!("media_encryption_mandatory={mandatory}"));

    let hold_music = config
        .play_wav
        .clone()
        .unwrap_or_else(|| dir.join("no-such-file-so-silence.wav"));
    let proxy_ip = config.proxy.ip();
    let host = if proxy_ip.is_ipv6() {
        format!("[{proxy_ip}]")
    } else {
        proxy_ip.to_string()
    };
    format!(
        "[sip]\n{sip}\n\n\
         [proxy_0]\n\
         reg_proxy=<sip:{host}:{port};transport={transport}>\n\
         reg_identity=\"{user}\" <sip:{user}@{domain}>\n\
         reg_expires=600\n\
         reg_sendregister=1\n\
         publish=0\n\n\
         [auth_info_0]\n\
         username={user}\n\
         passwd={password}\n\
         domain={domain}\n\
         realm={domain}\n\n\
         [rtp]\n\
         audio_rtp_port={rtp_min}-{rtp_max}\n\
         nortp_timeout=30\n\n\
         [sound]\n\
         echocancellation=0\n\
         hold_music={hold_music}\n\n\
         [video]\n\
         capture=0\n\
         display=0\n\
         automatically_initiate=0\n\
         automatically_accept=0\n\n\
         [misc]\n\
         add_missing_audio_codecs=0\n\
         add_missing_video_codecs=0\n\n\
         [audio_codec_0]\n\
         mime=PCMU\n\
         rate=8000\n\
         channels=1\n\
         enabled=1\n\n\
         [audio_codec_1]\n\
         mime=PCMA\n\
         rate=8000\n\
         channels=1\n\
         enabled=1\n",
        sip = sip.join("\n"),
        port = config.proxy.port(),
        transport = config.transport.param(),
        user = config.user,
        domain = config.domain,
        password = config.password,
        rtp_min = config.rtp_ports.start(),
        rtp_max = config.rtp_ports.end(),
        hold_music = hold_music.display(),
    )
}

/// An established call, as [`Linphone::wait_call_established`] saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallInfo {
    /// linphonec's call id (1, 2, … per instance).
    pub id: u32,
    /// The remote party as linphonec prints it (`sip:bob@127.0.0.1` or
    /// `"alice" <sip:alice@127.0.0.1>`).
    pub remote: String,
    /// Media is SRTP (the log says "Negotiated media encryption is
    /// LinphoneMediaEncryptionSRTP").
    pub encrypted: bool,
    /// The negotiated encryption as liblinphone names it, e.g.
    /// `LinphoneMediaEncryptionSRTP` or `LinphoneMediaEncryptionNone`.
    pub media_encryption: String,
    /// The `m=audio` lines of the SDP bodies logged since the previous call
    /// was established, in order: usually the offer, then the answer
    /// (e.g. `m=audio 20006 RTP/SAVP 0 8 96`).
    pub sdp_audio: Vec<String>,
}

/// How a call attempt came out ([`Linphone::wait_call_outcome`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOutcome {
    /// Media streams are running.
    Established(CallInfo),
    /// The call failed or ended before media ran ("Call N with X error." or
    /// "ended (…)").
    Failed {
        /// linphonec's call id.
        id: u32,
        /// What linphonec printed, plus the last SIP error status line
        /// logged (e.g. `SIP/2.0 488 Not acceptable here`) when there is one.
        reason: String,
    },
    /// Nothing happened in time.
    TimedOut,
}

/// One call event parsed from linphonec's output.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    Incoming { id: u32 },
    Established { id: u32, remote: String },
    Error { id: u32, remote: String },
    Ended { id: u32, reason: String },
}

/// Strips readline's echoed prompts ("linphonec> ", possibly several) from a line.
fn strip_prompt(mut line: &str) -> &str {
    while let Some(rest) = line.strip_prefix("linphonec> ") {
        line = rest;
    }
    line.trim_end()
}

fn parse_event(line: &str) -> Option<Event> {
    let line = strip_prompt(line);
    if let Some(rest) = line.strip_prefix("Media streams established with ") {
        // "{remote} for call {id} (audio)."
        let (remote, tail) = rest.rsplit_once(" for call ")?;
        let id = tail.split_whitespace().next()?.parse().ok()?;
        return Some(Event::Established {
            id,
            remote: remote.into(),
        });
    }
    if let Some(rest) = line.strip_prefix("Receiving new incoming call from ") {
        let (_, id) = rest.rsplit_once(", assigned id ")?;
        return Some(Event::Incoming {
            id: id.trim().parse().ok()?,
        });
    }
    let rest = line.strip_prefix("Call ")?;
    let (id, rest) = rest.split_once(" with ")?;
    let id: u32 = id.parse().ok()?;
    if let Some(remote) = rest.strip_suffix(" error.") {
        return Some(Event::Error {
            id,
            remote: remote.into(),
        });
    }
    if let Some(head) = rest.strip_suffix(").") {
        let (_, reason) = head.rsplit_once(" ended (")?;
        return Some(Event::Ended {
            id,
            reason: reason.into(),
        });
    }
    None
}

/// A running linphonec; killed when dropped.
#[derive(Debug)]
pub struct Linphone {
    child: ChildGuard,
    stdin: ChildStdin,
    output: Arc<Mutex<String>>,
    log: PathBuf,
    user: String,
    /// Call ids whose establishment (or failure) was reported.
    reported: HashSet<u32>,
    /// Call ids whose end was reported.
    ended: HashSet<u32>,
    /// Log length when the last call was reported established (for `sdp_audio`).
    log_mark: usize,
}

impl Linphone {
    /// Writes `dir/linphonerc` ([`linphonerc`]) and `dir/home` (its `HOME`,
    /// with `~/.local/share/linphone`, without which the core never starts),
    /// starts `linphonec -c dir/linphonerc -d 6 -l dir/linphonec.log` (`-a`
    /// with `auto_answer`), sends `soundcard use files` (never a real sound
    /// card, even on a desktop) and `record FILE` when `record_wav` is set,
    /// and waits (at most 10 s) until it has read them. It registers on its
    /// own: see [`Linphone::wait_registered`].
    ///
    /// # Panics
    ///
    /// When a file cannot be written, linphonec cannot be spawned, or it does
    /// not take its first command in time.
    pub fn start(bin: &Path, dir: &Path, config: &LinphoneConfig) -> Linphone {
        let home = dir.join("home");
        let data = home.join(".local/share/linphone");
        std::fs::create_dir_all(&data)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", data.display()));
        let rc = dir.join("linphonerc");
        std::fs::write(&rc, linphonerc(config, dir))
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", rc.display()));
        let log = dir.join("linphonec.log");
        let _ = std::fs::remove_file(&log);
        let mut command = Command::new(bin);
        command
            .arg("-c")
            .arg(&rc)
            .args(["-d", "6", "-l"])
            .arg(&log)
            .env("HOME", &home)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if config.auto_answer {
            command.arg("-a");
        }
        let mut child = ChildGuard::spawn(&mut command)
            .unwrap_or_else(|e| panic!("cannot spawn {}: {e}", bin.display()));
        let output = Arc::new(Mutex::new(String::new()));
        let stdout = child.0.stdout.take().expect("piped stdout");
        let stderr = child.0.stderr.take().expect("piped stderr");
        spawn_reader(stdout, Arc::clone(&output));
        spawn_reader(stderr, Arc::clone(&output));
        let stdin = child.0.stdin.take().expect("piped stdin");
        let mut linphone = Linphone {
            child,
            stdin,
            output,
            log,
            user: config.user.clone(),
            reported: HashSet::new(),
            ended: HashSet::new(),
            log_mark: 0,
        };
        linphone.send("soundcard use files");
        if let Some(record) = &config.record_wav {
            linphone.send(&format!("record {}", record.display()));
        }
        let deadline = Instant::now() + START_TIMEOUT;
        while !linphone.output().contains(USING_FILES) {
            if Instant::now() >= deadline || linphone.child.exited().is_some() {
                panic!(
                    "linphonec ({}) did not start: {}",
                    linphone.user,
                    linphone.diagnostics()
                );
            }
            std::thread::sleep(POLL);
        }
        linphone
    }

    /// Writes one command line to linphonec's stdin.
    ///
    /// # Panics
    ///
    /// When linphonec's stdin is closed (it has exited).
    pub fn send(&mut self, command: &str) {
        let written = self
            .stdin
            .write_all(format!("{command}\n").as_bytes())
            .and_then(|()| self.stdin.flush());
        if let Err(e) = written {
            panic!(
                "cannot send {command:?} to linphonec ({}): {e}; {}",
                self.user,
                self.diagnostics()
            );
        }
    }

    /// Asks `status register` and waits (at most 1 s) for the answer: true
    /// for "registered, identity=…", false for "registered=-1" (trying or
    /// failed), "registered=0" (no account) or no answer.
    pub fn is_registered(&mut self) -> bool {
        fn answers(out: &str) -> Vec<String> {
            out.lines()
                .map(strip_prompt)
                .filter(|line| line.starts_with("registered"))
                .map(str::to_owned)
                .collect()
        }
        let before = answers(&self.output()).len();
        self.send("status register");
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            let now = answers(&self.output());
            if now.len() > before {
                return now[before].starts_with("registered, identity=");
            }
            std::thread::sleep(POLL);
        }
        false
    }

    /// Waits (at most `timeout`) until linphonec reports its account
    /// registered, asking `status register` every 0.1 s.
    ///
    /// # Panics
    ///
    /// On timeout; the message carries the output and the log lines about
    /// registration and TLS.
    pub fn wait_registered(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if self.output().contains("registered, identity=") {
                return;
            }
            if Instant::now() >= deadline || self.child.exited().is_some() {
                panic!(
                    "linphonec ({}) did not register within {timeout:?}: {}",
                    self.user,
                    self.diagnostics()
                );
            }
            self.send("status register");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Places a call (`call URI`). Wait for it with
    /// [`Linphone::wait_call_established`] or [`Linphone::wait_call_outcome`].
    pub fn call(&mut self, uri: &str) {
        self.send(&format!("call {uri}"));
    }

    /// Answers the ringing incoming call (`answer`), for instances without auto-answer.
    pub fn answer(&mut self) {
        self.send("answer");
    }

    /// Ends the current call (`terminate`); see [`Linphone::wait_call_ended`].
    pub fn terminate(&mut self) {
        self.send("terminate");
    }

    /// Waits (at most `timeout`) until an incoming call is announced
    /// ("Receiving new incoming call from …, assigned id N") and returns its id.
    ///
    /// # Panics
    ///
    /// On timeout, with the output.
    pub fn wait_incoming(&mut self, timeout: Duration) -> u32 {
        let deadline = Instant::now() + timeout;
        loop {
            let incoming = self.events().into_iter().find_map(|e| match e {
                Event::Incoming { id } if !self.reported.contains(&id) => Some(id),
                _ => None,
            });
            if let Some(id) = incoming {
                return id;
            }
            if Instant::now() >= deadline {
                panic!(
                    "linphonec ({}) saw no incoming call within {timeout:?}: {}",
                    self.user,
                    self.diagnostics()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// Waits (at most `timeout`) for the next call (outgoing or incoming)
    /// not reported yet to have its media running or to fail.
    pub fn wait_call_outcome(&mut self, timeout: Duration) -> CallOutcome {
        let deadline = Instant::now() + timeout;
        loop {
            for event in self.events() {
                match event {
                    Event::Established { id, remote } if !self.reported.contains(&id) => {
                        self.reported.insert(id);
                        return CallOutcome::Established(self.call_info(id, remote));
                    }
                    Event::Error { id, remote } if !self.reported.contains(&id) => {
                        self.reported.insert(id);
                        self.ended.insert(id);
                        return CallOutcome::Failed {
                            id,
                            reason: self.failure_reason(&format!("call to {remote}: error")),
                        };
                    }
                    Event::Ended { id, reason } if !self.reported.contains(&id) => {
                        self.reported.insert(id);
                        self.ended.insert(id);
                        return CallOutcome::Failed {
                            id,
                            reason: self.failure_reason(&format!("ended ({reason})")),
                        };
                    }
                    _ => {}
                }
            }
            if Instant::now() >= deadline || self.child.exited().is_some() {
                return CallOutcome::TimedOut;
            }
            std::thread::sleep(POLL);
        }
    }

    /// Waits (at most `timeout`) until the next call has its media running
    /// ("Media streams established with … for call N").
    ///
    /// # Panics
    ///
    /// When the call fails or nothing happens in time; the message carries
    /// the reason and the output.
    pub fn wait_call_established(&mut self, timeout: Duration) -> CallInfo {
        match self.wait_call_outcome(timeout) {
            CallOutcome::Established(info) => info,
            CallOutcome::Failed { id, reason } => panic!(
                "linphonec ({}) call {id} failed: {reason}; {}",
                self.user,
                self.diagnostics()
            ),
            CallOutcome::TimedOut => panic!(
                "linphonec ({}) established no call within {timeout:?}: {}",
                self.user,
                self.diagnostics()
            ),
        }
    }

    /// Waits (at most `timeout`) until a call not reported ended yet ends
    /// ("Call N with … ended (REASON)." or "… error."); returns the reason
    /// (`No error` for a normal hang-up on either side).
    ///
    /// # Panics
    ///
    /// On timeout, with the output.
    pub fn wait_call_ended(&mut self, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            for event in self.events() {
                match event {
                    Event::Ended { id, reason } if !self.ended.contains(&id) => {
                        self.ended.insert(id);
                        self.reported.insert(id);
                        return reason;
                    }
                    Event::Error { id, .. } if !self.ended.contains(&id) => {
                        self.ended.insert(id);
                        self.reported.insert(id);
                        return "error".into();
                    }
                    _ => {}
                }
            }
            if Instant::now() >= deadline {
                panic!(
                    "linphonec ({}) saw no call end within {timeout:?}: {}",
                    self.user,
                    self.diagnostics()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// Everything linphonec printed on stdout and stderr so far (commands
    /// echoed after "linphonec> " prompts, call states, answers).
    pub fn output(&self) -> String {
        self.output
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// liblinphone's log so far (`-d 6`: SIP messages with SDP, TLS
    /// verification, registration and call state changes); empty when unreadable.
    pub fn log(&self) -> String {
        let mut bytes = Vec::new();
        let _ = std::fs::File::open(&self.log).and_then(|mut f| f.read_to_end(&mut bytes));
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The output plus the log lines that explain most failures
    /// (registration and call states, TLS, SIP status lines, encryption),
    /// for assertion messages.
    pub fn diagnostics(&self) -> String {
        let log = self.log();
        let keys = [
            "moving from state",
            "handshake",
            "flags=",
            "Cannot connect",
            "SIP/2.0 ",
            "Negotiated media encryption",
            "m=audio",
            "error-",
            "Root ca path",
        ];
        let lines: Vec<&str> = log
            .lines()
            .filter(|line| keys.iter().any(|k| line.contains(k)))
            .collect();
        let skip = lines.len().saturating_sub(80);
        format!(
            "\n--- linphonec ({}) output ---\n{}\n--- log excerpts ({}) ---\n{}\n",
            self.user,
            self.output(),
            self.log.display(),
            lines[skip..].join("\n")
        )
    }

    fn events(&self) -> Vec<Event> {
        self.output().lines().filter_map(parse_event).collect()
    }

    fn call_info(&mut self, id: u32, remote: String) -> CallInfo {
        // liblinphone logs the negotiation before the state change that
        // makes linphonec print its line; allow the log a moment to be flushed.
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut log = self.log();
        while !tail_from(&log, self.log_mark).contains("Negotiated media encryption is ")
            && Instant::now() < deadline
        {
            std::thread::sleep(POLL);
            log = self.log();
        }
        let media_encryption = log
            .lines()
            .rev()
            .find_map(|line| line.split_once("Negotiated media encryption is "))
            .map(|(_, enc)| enc.trim().to_owned())
            .unwrap_or_default();
        let sdp_audio = tail_from(&log, self.log_mark)
            .lines()
            .filter(|line| line.starts_with("m=audio"))
            .map(|line| line.trim_end().to_owned())
            .collect();
        self.log_mark = log.len();
        CallInfo {
            id,
            remote,
            encrypted: media_encryption == "LinphoneMediaEncryptionSRTP",
            media_encryption,
            sdp_audio,
        }
    }

    /// `what` plus the last final SIP error status logged (not the 401/407
    /// digest challenges), e.g. "SIP/2.0 488 Not acceptable here".
    fn failure_reason(&self, what: &str) -> String {
        let log = self.log();
        let status = log.lines().rev().find(|line| {
            line.strip_prefix("SIP/2.0 ")
                .and_then(|rest| rest.get(..3))
                .and_then(|code| code.parse::<u16>().ok())
                .is_some_and(|code| code >= 300 && code != 401 && code != 407)
        });
        match status {
            Some(status) => format!("{what} ({})", status.trim_end()),
            None => what.to_owned(),
        }
    }
}

/// `text` from byte `mark` on (from the next character boundary; empty past the end).
fn tail_from(text: &str, mark: usize) -> &str {
    (mark..=text.len())
        .find(|&at| text.is_char_boundary(at))
        .map_or("", |at| &text[at..])
}

fn spawn_reader(mut from: impl Read + Send + 'static, into: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => into
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_str(&String::from_utf8_lossy(&buf[..n])),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_lines_linphonec_prints() {
        assert_eq!(
            parse_event("linphonec> Receiving new incoming call from \"alice\" <sip:alice@127.0.0.1>, assigned id 1"),
            Some(Event::Incoming { id: 1 })
        );
        assert_eq!(
            parse_event("Media streams established with sip:bob@127.0.0.1 for call 2 (audio)."),
            Some(Event::Established {
                id: 2,
                remote: "sip:bob@127.0.0.1".into()
            })
        );
        assert_eq!(
            parse_event("linphonec> Call 1 with sip:nobody@127.0.0.1 error."),
            Some(Event::Error {
                id: 1,
                remote: "sip:nobody@127.0.0.1".into()
            })
        );
        assert_eq!(
            parse_event("Call 1 with \"alice\" <sip:alice@127.0.0.1> ended (No error)."),
            Some(Event::Ended {
                id: 1,
                reason: "No error".into()
            })
        );
        assert_eq!(parse_event("Call 1 to sip:bob@127.0.0.1 ringing."), None);
        assert_eq!(
            parse_event("Call 1 with sip:bob@127.0.0.1 connected."),
            None
        );
    }

    #[test]
    fn linphonerc_has_the_keys_for_tls_srtp_and_files() {
        let mut config = LinphoneConfig::new(
            ([127, 0, 0, 1], 5061).into(),
            "alice",
            "pw",
            Path::new("/ca.pem"),
        );
        config.client_cert = Some("/alice.pem".into());
        config.client_key = Some("/alice.key".into());
        config.encryption = MediaEncryption::SrtpMandatory;
        config.play_wav = Some("/tone.wav".into());
        config.rtp_ports = 20000..=20009;
        let rc = linphonerc(&config, Path::new("/d"));
        for line in [
            "sip_port=0",
            "sip_tcp_port=0",
            "sip_tls_port=-1",
            "root_ca=/ca.pem",
            "verify_server_cn=1",
            "client_cert_chain=/alice.pem",
            "client_cert_key=/alice.key",
            "media_encryption=srtp",
            "media_encryption_mandatory=1",
            "reg_proxy=<sip:127.0.0.1:5061;transport=tls>",
            "reg_identity=\"alice\" <sip:alice@127.0.0.1>",
            "passwd=pw",
            "realm=127.0.0.1",
            "audio_rtp_port=20000-20009",
            "hold_music=/tone.wav",
            "add_missing_audio_codecs=0",
            "mime=PCMA",
        ] {
            assert!(rc.lines().any(|l| l == line), "{line} missing from\n{rc}");
        }
        config.play_wav = None;
        config.encryption = MediaEncryption::SrtpOptional;
        config.transport = Transport::Udp;
        let rc = linphonerc(&config, Path::new("/d"));
        assert!(rc.contains("hold_music=/d/no-such-file-so-silence.wav\n"));
        assert!(rc.contains("media_encryption_mandatory=0\n"));
        assert!(rc.contains("sip_port=-1\n") && rc.contains("sip_tls_port=0\n"));
        assert!(rc.contains(";transport=udp>"));
    }

    #[test]
    fn log_tails_start_on_character_boundaries() {
        assert_eq!(tail_from("a\u{e9} b", 2), " b");
        assert_eq!(tail_from("abc", 1), "bc");
        assert_eq!(tail_from("abc", 9), "");
    }

    #[test]
    fn rtp_port_ranges_do_not_overlap() {
        let a = free_rtp_ports(10);
        let b = free_rtp_ports(10);
        assert_eq!(a.end() - a.start(), 9);
        assert_eq!(a.start() % 2, 0);
        assert!(a.end() < b.start() || b.end() < a.start());
    }
}
