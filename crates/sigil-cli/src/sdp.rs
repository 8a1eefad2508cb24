//! `sigil sdp`: SDP offers and answers under the SDP SRTP Offer policy, with
//! SDES keys (RFC 4568) and/or DTLS-SRTP fingerprints (RFC 5763, RFC 8842).

use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use sigil_srtp::dtls::{DtlsIdentity, DtlsRole, Fingerprint};
use sigil_srtp::negotiate::{
    basic_audio_sdp, parse_sdp, parse_suites, write_sdp, AnswerError, Keying, MediaOutcome,
    Negotiation, Negotiator, OfferPolicy, Sdp, SignalingTransport, SrtpConfig, MAX_SDP_LEN,
};
use zeroize::Zeroizing;

/// SDP offer/answer with SDES keys (`a=crypto`), per the SDP SRTP Offer policy.
#[derive(Debug, clap::Subcommand)]
pub enum Cmd {
    /// Print an SDP offer for one audio m-line (PCMU) on stdout; a note on
    /// what was offered, and why, goes to stderr.
    Offer {
        #[command(flatten)]
        settings: Settings,
        /// Address put in the offer's o= and c= lines.
        #[arg(long, default_value = "127.0.0.1")]
        address: IpAddr,
        /// RTP port of the audio m-line.
        #[arg(long, default_value_t = 4000)]
        port: u16,
    },
    /// Read an SDP offer on stdin; print the answer on stdout and a one-line
    /// summary on stderr (exit 0), or `reject 488: <reason>` (exit 2).
    /// Invalid SDP exits 1 with the parse error.
    Answer {
        #[command(flatten)]
        settings: Settings,
        /// Address put in the answer's o= and c= lines.
        #[arg(long, default_value = "127.0.0.1")]
        address: IpAddr,
        /// RTP port of the answered audio m-line(s).
        #[arg(long, default_value_t = 4002)]
        port: u16,
    },
    /// Read the peer's answer on stdin to our offer (--offer) and print one
    /// line: `srtp SUITE tag N` or `plain: REASON` (exit 0), or
    /// `srtp required: REASON` (exit 2: the call must end). Invalid SDP, an
    /// offer these settings do not make, or an answer that breaks
    /// offer/answer exits 1 with the error on stderr.
    Accept {
        #[command(flatten)]
        settings: Settings,
        /// Our offer, as `sigil sdp offer` printed it with the same settings
        /// (it holds our keys: keep the file private).
        #[arg(long, value_name = "FILE")]
        offer: PathBuf,
    },
}

/// The SRTP settings shared by the commands.
#[derive(Debug, clap::Args)]
pub struct Settings {
    /// SDP SRTP Offer: disabled, optional or standard.
    #[arg(long)]
    policy: OfferPolicy,
    /// SIP transport the SDP travels over: udp, tcp or tls.
    #[arg(long, default_value = "tls")]
    transport: SignalingTransport,
    /// Allow SDES keys in SDP over udp/tcp signaling (anyone reading the
    /// signaling can then decrypt the media).
    #[arg(long)]
    allow_insecure_signaling: bool,
    /// SRTP suites in preference order, comma separated (default: all,
    /// AEAD_AES_256_GCM first).
    #[arg(long, value_name = "LIST")]
    suites: Option<String>,
    /// How keys are agreed: sdes (a=crypto), dtls (UDP/TLS/RTP/SAVP with
    /// a=fingerprint and a=setup) or both.
    #[arg(long, default_value = "sdes")]
    keying: Keying,
    /// The SHA-256 fingerprint of our DTLS certificate (`AB:CD:…`, optionally
    /// prefixed `sha-256 `). With --keying dtls|both and no fingerprint, a
    /// fresh self-signed certificate is made and its fingerprint printed on
    /// stderr.
    #[arg(long, value_name = "SHA256")]
    fingerprint: Option<String>,
}

impl Settings {
    fn negotiator(&self) -> anyhow::Result<Negotiator> {
        let mut config = SrtpConfig::new(self.policy, self.transport)
            .with_insecure_signaling(self.allow_insecure_signaling);
        if let Some(list) = &self.suites {
            config = config.with_suites(parse_suites(list)?);
        }
        if self.keying.dtls() {
            let fingerprint = match &self.fingerprint {
                Some(text) => {
                    let text = text.trim();
                    let full = if text.contains(' ') {
                        text.to_owned()
                    } else {
                        format!("sha-256 {text}")
                    };
                    Fingerprint::parse(&full).context("--fingerprint")?
                }
                None => {
                    let identity = DtlsIdentity::generate()?;
                    eprintln!(
                        "made a self-signed DTLS certificate: {}",
                        identity.fingerprint()
                    );
                    identity.fingerprint().clone()
                }
            };
            config = config.with_keying(self.keying, Some(fingerprint));
        }
        Ok(Negotiator::new(config)?)
    }
}

/// Runs `sigil sdp …`.
pub fn run(cmd: Cmd) -> anyhow::Result<ExitCode> {
    match cmd {
        Cmd::Offer {
            settings,
            address,
            port,
        } => {
            let mut negotiator = settings.negotiator()?;
            let mut sdp = basic_audio_sdp(address, port, session_id());
            let info = negotiator.create_offer(&mut sdp)?;
            print!("{}", write_sdp(&sdp));
            eprintln!("{info}");
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Answer {
            settings,
            address,
            port,
        } => {
            let mut negotiator = settings.negotiator()?;
            let offer = read_sdp(std::io::stdin(), "the offer on stdin")?;
            let mut answer = answer_template(&offer, address, port);
            match negotiator.answer_offer(&offer, &mut answer) {
                Ok(negotiation) => {
                    print!("{}", write_sdp(&answer));
                    eprintln!("{}", negotiation.summary());
                    Ok(ExitCode::SUCCESS)
                }
                Err(rejection) => {
                    println!("reject {}: {}", rejection.code, rejection.reason);
                    for media in &rejection.media {
                        for skipped in &media.skipped {
                            eprintln!("m-line {}: skipped crypto {skipped}", media.index + 1);
                        }
                    }
                    Ok(ExitCode::from(2))
                }
            }
        }
        Cmd::Accept { settings, offer } => accept(&settings, &offer),
    }
}

/// `sigil sdp accept`: our offer from `offer_path`, the peer's answer on stdin.
fn accept(settings: &Settings, offer_path: &Path) -> anyhow::Result<ExitCode> {
    let mut negotiator = settings.negotiator()?;
    let what = format!("our offer {}", offer_path.display());
    let file = std::fs::File::open(offer_path).with_context(|| format!("reading {what}"))?;
    let offer = read_sdp(file, &what)?;
    negotiator
        .resume_offer(&offer)
        .with_context(|| format!("{what} cannot be resumed"))?;
    let answer = read_sdp(std::io::stdin(), "the answer on stdin")?;
    match negotiator.accept_answer(&answer) {
        Ok(negotiation) => {
            println!("{}", accepted(&negotiation)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(AnswerError::SrtpRequired { detail }) => {
            println!("srtp required: {detail}");
            Ok(ExitCode::from(2))
        }
        Err(error) => Err(error.into()),
    }
}

/// The line `sigil sdp accept` prints for what runs: `srtp SUITE tag N`,
/// `dtls client|server FINGERPRINT` or `plain: REASON`.
fn accepted(negotiation: &Negotiation) -> anyhow::Result<String> {
    if let Some((_, agreement)) = negotiation.srtp().next() {
        return Ok(format!("srtp {} tag {}", agreement.suite, agreement.tag));
    }
    if let Some((_, agreement)) = negotiation.dtls().next() {
        let role = match agreement.role {
            DtlsRole::Client => "client",
            DtlsRole::Server => "server",
        };
        let peer: Vec<String> = agreement
            .peer_fingerprints
            .iter()
            .map(ToString::to_string)
            .collect();
        return Ok(format!("dtls {role} {}", peer.join(", ")));
    }
    for media in &negotiation.media {
        if let MediaOutcome::Plain(reason) = &media.outcome {
            return Ok(format!("plain: {}", reason.detail()));
        }
    }
    bail!("the answer runs no audio: {}", negotiation.summary())
}

/// Reads and parses one SDP body (at most `MAX_SDP_LEN` bytes) from `input`;
/// `what` names it in errors. The bytes may hold keys: they are wiped after
/// parsing.
fn read_sdp(input: impl Read, what: &str) -> anyhow::Result<Sdp> {
    let mut body = Zeroizing::new(Vec::new());
    input
        .take(MAX_SDP_LEN as u64 + 1)
        .read_to_end(&mut body)
        .with_context(|| format!("reading {what}"))?;
    parse_sdp(&body).with_context(|| format!("{what} is not usable"))
}

fn session_id() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_secs())
}

/// One answer m-line per offered m-line: audio m-lines offering PCMU (payload
/// type 0) are answered with PCMU at our address; every other m-line is
/// declined with port 0.
fn answer_template(offer: &Sdp, address: IpAddr, port: u16) -> Sdp {
    let mut answer = basic_audio_sdp(address, port, session_id());
    let template = answer.medias.pop();
    for media in &offer.medias {
        let pcmu = media.media.eq_ignore_ascii_case("audio")
            && media.fmt.split_ascii_whitespace().any(|pt| pt == "0");
        match (&template, pcmu) {
            (Some(template), true) => answer.medias.push(template.clone()),
            _ => {
                let mut declined = media.clone();
                declined.port = 0;
                declined.connections.clear();
                declined.attributes.clear();
                answer.medias.push(declined);
            }
        }
    }
    answer
}
