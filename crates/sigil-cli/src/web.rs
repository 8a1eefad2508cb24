//! `sigil device run` with the HTTPS admin interface (feature `web`): the
//! device runs on its driver thread, the web interface beside it on its own
//! thread, and a boot that fails leaves the web interface up to fix it.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use sigil_endpoint::{DeviceDir, FileAudio, Record, RunOptions, ToneAudio};
use sigil_provisioning::ConfigStore;
use sigil_web::{EndpointDevice, WebConfig, WebServer};

use crate::device::{event_printer, print_step, print_stopped, running_status_file};

/// Where the web interface listens: `--web-listen` (`off` = nowhere), else
/// `web.https.port` of the configuration on every address (0 = nowhere).
pub fn listen_address(data: &Path, flag: Option<&str>) -> anyhow::Result<Option<SocketAddr>> {
    match flag {
        Some("off") => Ok(None),
        Some(addr) => addr.parse().map(Some).with_context(|| {
            format!("--web-listen {addr:?}: expected ADDR:PORT, e.g. 127.0.0.1:8443, or off")
        }),
        None => {
            let port = ConfigStore::new(data.join("user"))
                .load_last_good()
                .settings
                .web_https_port;
            Ok((port != 0).then(|| SocketAddr::from(([0, 0, 0, 0], port))))
        }
    }
}

/// Runs the device and the web interface until SIGINT/SIGTERM.
pub fn run_with_web(
    data: PathBuf,
    json_log: bool,
    play: Option<PathBuf>,
    record_dir: Option<PathBuf>,
    listen: SocketAddr,
) -> anyhow::Result<ExitCode> {
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])
    .context("cannot install the SIGINT/SIGTERM handler")?;
    let dir = DeviceDir::open(&data)?;
    let status_file = running_status_file(&data);
    let events = event_printer(json_log);
    // Each boot (the first, and every restart from the web interface) gets fresh options.
    let options = Box::new(move || {
        let record = record_dir.clone().map_or(Record::Nothing, Record::Folder);
        let audio: Box<dyn sigil_endpoint::CallAudio> =
            match FileAudio::new(play.as_deref(), record) {
                Ok(a) => Box::new(a),
                Err(e) => {
                    log::warn!("audio: {e}; playing a tone instead");
                    Box::new(ToneAudio::default())
                }
            };
        RunOptions {
            events: Some(events.clone()),
            audio,
            status_file: Some(status_file.clone()),
            ..RunOptions::default()
        }
    });
    let device = Arc::new(
        EndpointDevice::new(dir.clone(), options)
            .with_observer(Box::new(move |s| print_step(s, json_log))),
    );
    if let Err(failure) = device.boot() {
        if json_log {
            println!(
                "{}",
                serde_json::json!({"type": "boot failed", "error": failure, "web": "the web interface stays up to fix the configuration"})
            );
        } else {
            eprintln!("{failure}; the web interface stays up to fix the configuration");
        }
    }
    let config = WebConfig::new(dir.data_dir().clone(), listen);
    let web = match WebServer::start(config, device.clone()) {
        Ok(web) => Some(web),
        Err(e) => {
            eprintln!("web interface not started: {e}");
            None
        }
    };
    match &web {
        Some(web) if json_log => println!(
            "{}",
            serde_json::json!({"type": "web", "listen": web.local_addr().to_string()})
        ),
        Some(web) => println!("web interface on https://{}", web.local_addr()),
        None => {}
    }
    let _ = std::io::stdout().flush();
    if web.is_none() && !device.is_running() {
        return Ok(ExitCode::from(1));
    }
    // Sleeps until SIGINT or SIGTERM: no polling.
    let _ = signals.forever().next();
    if let Some(web) = web {
        web.shutdown();
    }
    match device.stop() {
        Some(status) => print_stopped(&status, json_log),
        None => {
            if json_log {
                println!(
                    "{}",
                    serde_json::json!({"type": "stopped", "registration": "idle", "calls": 0})
                );
            } else {
                println!("stopped");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
