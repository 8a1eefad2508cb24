//! `sigil device run | status | call | factory-reset`: the whole device on a data directory.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sigil_endpoint::{
    BootStep, CallOptions, CallStatus, DeviceDir, DeviceStatus, Event, FileAudio, Record,
    RunOptions,
};

/// The device commands.
#[derive(Debug, clap::Subcommand)]
pub enum Cmd {
    /// Boot and keep running (answering calls) until SIGINT/SIGTERM, then un-REGISTER and exit 0.
    Run {
        /// The device data directory (factory/ and user/).
        #[arg(long)]
        data: PathBuf,
        /// Log boot steps and events as JSON lines on stdout.
        #[arg(long)]
        json_log: bool,
        /// Play this WAV (8 kHz, mono, 16-bit) into answered calls, looped; default a 440 Hz tone.
        #[arg(long, value_name = "FILE.wav")]
        play: Option<PathBuf>,
        /// Record each answered call into DIR/call-N.wav (8 kHz, mono, 16-bit).
        #[arg(long, value_name = "DIR")]
        record_dir: Option<PathBuf>,
        /// Serve the HTTPS admin interface on ADDR:PORT (e.g. 127.0.0.1:8443), overriding
        /// `web.https.port` (default 443 on every address; 0 = off); `off` turns it off.
        #[cfg(feature = "web")]
        #[arg(long, value_name = "ADDR:PORT")]
        web_listen: Option<String>,
    },
    /// What the device would use if booted now (identity, trust, configuration, problems), without network.
    Status {
        /// The device data directory.
        #[arg(long)]
        data: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Boot, register, call, send N seconds of tone, hang up; print the call summary. Exit 0 when
    /// the call was set up with the media the policy demands.
    Call {
        /// The device data directory.
        #[arg(long)]
        data: PathBuf,
        /// Whom to call, e.g. sip:1002@pbx.example.com.
        #[arg(long)]
        to: String,
        /// Seconds the call stays up once answered.
        #[arg(long, default_value_t = 1.0)]
        seconds: f64,
        /// Play this WAV (8 kHz, mono, 16-bit) into the call, looped; default a 440 Hz tone.
        #[arg(long, value_name = "FILE.wav")]
        play: Option<PathBuf>,
        /// Record what the call receives into this WAV (8 kHz, mono, 16-bit).
        #[arg(long, value_name = "FILE.wav")]
        record: Option<PathBuf>,
    },
    /// Wipe the user store (configuration, certs/, certs/trusted/); the factory partition stays.
    FactoryReset {
        /// The device data directory.
        #[arg(long)]
        data: PathBuf,
    },
}

/// Runs a device command.
pub fn run(cmd: Cmd) -> anyhow::Result<ExitCode> {
    match cmd {
        Cmd::Run {
            data,
            json_log,
            play,
            record_dir,
            #[cfg(feature = "web")]
            web_listen,
        } => {
            if let Some(dir) = &record_dir {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            let record = record_dir.clone().map_or(Record::Nothing, Record::Folder);
            let audio = FileAudio::new(play.as_deref(), record)?;
            #[cfg(feature = "web")]
            {
                let web = crate::web::listen_address(&data, web_listen.as_deref())?;
                if let Some(listen) = web {
                    return crate::web::run_with_web(data, json_log, play, record_dir, listen);
                }
            }
            run_device(data, json_log, audio)
        }
        Cmd::Status { data, json } => status(data, json),
        Cmd::Call {
            data,
            to,
            seconds,
            play,
            record,
        } => {
            let audio = FileAudio::new(
                play.as_deref(),
                record.map_or(Record::Nothing, Record::File),
            )?;
            call(data, &to, seconds, audio)
        }
        Cmd::FactoryReset { data } => {
            let device = DeviceDir::open(&data)?;
            let report = device.factory_reset()?;
            if report.removed.is_empty() {
                println!("user store was already empty; the device boots on its factory identity");
            } else {
                for p in &report.removed {
                    println!("removed {}", p.display());
                }
                println!("factory reset done: the device boots on its factory identity");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub(crate) fn print_step(step: &BootStep, json: bool) {
    if json {
        let line = serde_json::json!({"type": "boot", "step": step});
        println!("{line}");
    } else {
        println!("{step}");
    }
    let _ = std::io::stdout().flush();
}

/// Prints the device's events (JSON lines or text).
pub(crate) fn event_printer(json_log: bool) -> sigil_endpoint::EventSink {
    Arc::new(move |e: &Event| {
        if json_log {
            // A finished call carries its whole summary, statistics included.
            let call = match e {
                Event::CallEnded { status, .. } => serde_json::to_value(status).ok(),
                _ => None,
            };
            println!(
                "{}",
                serde_json::json!({"type": "event", "event": {"event": e.name(), "detail": e.to_string(), "call": call}})
            );
        } else {
            println!("{e}");
        }
        let _ = std::io::stdout().flush();
    })
}

/// Prints how the device stopped.
pub(crate) fn print_stopped(status: &DeviceStatus, json_log: bool) {
    if json_log {
        println!(
            "{}",
            serde_json::json!({"type": "stopped", "registration": status.registration.state, "calls": status.calls.len()})
        );
    } else {
        println!(
            "stopped: registration {}, {} call(s)",
            status.registration.state,
            status.calls.len()
        );
    }
}

fn run_device(data: PathBuf, json_log: bool, audio: FileAudio) -> anyhow::Result<ExitCode> {
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])
    .context("cannot install the SIGINT/SIGTERM handler")?;
    let device = DeviceDir::open(&data)?;
    let events = event_printer(json_log);
    let options = RunOptions {
        events: Some(events),
        audio: Box::new(audio),
        status_file: Some(running_status_file(&data)),
        ..RunOptions::default()
    };
    let running = match device.boot(options, &mut |s| print_step(s, json_log)) {
        Ok(r) => r,
        Err(failure) => {
            if json_log {
                println!(
                    "{}",
                    serde_json::json!({"type": "boot failed", "step": failure.step, "error": failure.error.to_string()})
                );
            } else {
                eprintln!("{failure}");
            }
            return Ok(ExitCode::from(1));
        }
    };
    // Sleeps until SIGINT or SIGTERM: no polling.
    let _ = signals.forever().next();
    let status = running.shutdown();
    print_stopped(&status, json_log);
    Ok(ExitCode::SUCCESS)
}

/// Where `sigil device run` keeps its status for `sigil device status`.
pub(crate) fn running_status_file(data: &std::path::Path) -> PathBuf {
    data.join("user").join("status.json")
}

fn status(data: PathBuf, json: bool) -> anyhow::Result<ExitCode> {
    let device = DeviceDir::open(&data)?;
    let status = device.offline_status();
    // What `sigil device run` last reported (registration, connections, calls with statistics).
    let running: Option<serde_json::Value> = std::fs::read(running_status_file(&data))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    if json {
        let mut value = serde_json::to_value(&status)?;
        if let (Some(map), Some(running)) = (value.as_object_mut(), &running) {
            map.insert("running".into(), running.clone());
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print_status(&status);
        if let Some(running) = &running {
            print_running(running);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The last status `sigil device run` wrote: registration and calls.
fn print_running(v: &serde_json::Value) {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or("-").to_owned();
    println!(
        "last run:      registration {} ({})",
        text(&v["registration"]["state"]),
        text(&v["registration"]["contact"])
    );
    for c in v["calls"].as_array().into_iter().flatten() {
        let s = &c["stats"];
        println!(
            "  call {} {}: {}; {} sent, {} received, {} lost, jitter {} ms, rtt {} ms; {}",
            text(&c["direction"]),
            text(&c["peer"]),
            text(&c["media"]),
            s["packets_sent"],
            s["packets_received"],
            s["packets_lost"],
            s["jitter_ms"],
            s["rtt_ms"],
            c["ended"].as_str().unwrap_or("running")
        );
    }
}

fn print_status(s: &DeviceStatus) {
    println!("device {}", s.data_dir);
    if let Some(id) = &s.identity {
        let factory = id
            .factory
            .certificate
            .as_ref()
            .map(|c| {
                format!(
                    "{} (MAC {}, issuer {}, valid {} to {}, SHA-256 {})",
                    c.subject,
                    c.mac.map(|m| m.to_string()).unwrap_or_else(|| "-".into()),
                    c.issuer,
                    c.not_before.date(),
                    c.not_after.date(),
                    c.fingerprint_sha256
                )
            })
            .unwrap_or_else(|| format!("{:?}", id.factory.state).to_lowercase());
        println!("identity:      factory {factory}");
        println!(
            "               override {}",
            format!("{:?}", id.sipclient.state).to_lowercase()
        );
        println!(
            "               in use: {} ({})",
            format!("{:?}", id.active).to_lowercase(),
            id.reason
        );
    }
    let t = &s.trust;
    println!(
        "trust store:   {} built-in, {} vendor, {} uploaded anchors; {} refused file(s)",
        t.builtin,
        t.vendor,
        t.user,
        t.refused.len()
    );
    let c = &s.configuration;
    println!("configuration: {} (in use: {})", c.file, c.source);
    println!(
        "               prov.server {}, sip.proxy {}, sip.transport {}, sip.u1.user {}, sip.srtp.offer {}, sip.tls.validate {}, sip.tls.listen {}",
        c.prov_server.as_deref().unwrap_or("-"),
        c.sip_proxy.as_deref().unwrap_or("-"),
        c.sip_transport,
        if c.sip_user.is_empty() { "-" } else { &c.sip_user },
        c.srtp_offer,
        u8::from(c.sip_tls_validate),
        c.sip_tls_listen
    );
    for w in &c.warnings {
        println!("               warning: {w}");
    }
    if s.problems.is_empty() {
        println!("problems:      none");
    } else {
        for p in &s.problems {
            println!("problem:       {p}");
        }
    }
}

fn print_call(c: &CallStatus) {
    println!("call to {}", c.peer);
    println!("  policy:   {}", c.policy);
    println!("  media:    {}", c.media);
    if let Some(exposure) = &c.key_exposure {
        println!("  warning:  {exposure}");
    }
    let s = &c.stats;
    println!(
        "  packets:  {} sent, {} received, {} lost, {} SRTP authentication failures, {} replays",
        s.packets_sent, s.packets_received, s.packets_lost, s.srtp_auth_failures, s.srtp_replays
    );
    println!(
        "  quality:  jitter {:.1} ms, round trip {}, jitter buffer {} ms, {} frames concealed, RTCP {} sent / {} received",
        s.jitter_ms,
        s.rtt_ms.map_or_else(|| "-".to_owned(), |r| format!("{r:.1} ms")),
        s.jitter_buffer_delay_ms,
        s.concealed_frames,
        s.rtcp_sent,
        s.rtcp_received
    );
    println!(
        "  result:   {}",
        if c.established {
            "set up with the media the policy demands".to_owned()
        } else {
            format!("not set up: {}", c.ended.clone().unwrap_or_default())
        }
    );
    if let Some(e) = &c.ended {
        println!("  ended:    {e}");
    }
}

fn call(data: PathBuf, to: &str, seconds: f64, audio: FileAudio) -> anyhow::Result<ExitCode> {
    if !(0.0..=3600.0).contains(&seconds) {
        anyhow::bail!("--seconds must be between 0 and 3600");
    }
    let device = DeviceDir::open(&data)?;
    let options = RunOptions {
        audio: Box::new(audio),
        ..RunOptions::default()
    };
    let running = match device.boot(options, &mut |s| print_step(s, false)) {
        Ok(r) => r,
        Err(failure) => {
            eprintln!("{failure}");
            return Ok(ExitCode::from(2));
        }
    };
    let result = running.call_and_wait(
        to,
        CallOptions {
            duration: Duration::from_secs_f64(seconds),
            ..CallOptions::default()
        },
    );
    let _ = running.shutdown();
    let call = result?;
    print_call(&call);
    // `established` is only set when the media matches the policy (Standard refuses plain media).
    Ok(if call.established {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
