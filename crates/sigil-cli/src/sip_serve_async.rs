//! `sigil sip serve --async`: the lab registrar behind the fleet acceptor
//! (sigil-sip-tls `fleet`, tokio): one task per device connection.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sigil_lab::Registrar;
use sigil_sip_tls::fleet::{DeviceConnection, FleetLimits, FleetListener, FleetStats};
use sigil_sip_tls::{Acceptor, Handler};

use super::sip_tls::ServeArgs;

/// How often the counters are looked at (a line is printed when they changed).
const STATS_EVERY: Duration = Duration::from_secs(1);

/// One `stats …` line: what the listener counted, for logs and `scripts/fleet`.
fn stats_line(s: &FleetStats) -> String {
    format!(
        "stats accepted={} verified={} refused={} handshake_timeouts={} over_capacity={} over_source_limit={} idle_closed={} framing_closed={} active={}",
        s.accepted,
        s.verified,
        s.refused,
        s.handshake_timeouts,
        s.over_capacity,
        s.over_source_limit,
        s.idle_closed,
        s.framing_closed,
        s.active
    )
}

/// Serves until killed.
pub fn serve(
    args: &ServeArgs,
    acceptor: Acceptor,
    registrar: Arc<Registrar>,
) -> anyhow::Result<ExitCode> {
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.workers {
        runtime.worker_threads(n.max(1));
    }
    let runtime = runtime
        .enable_io()
        .enable_time()
        .build()
        .context("cannot start the async runtime")?;
    let limits = FleetLimits {
        max_per_source: args.max_per_source.max(1),
        max_connections: args.max_connections.max(1),
        handshake_timeout: Duration::from_secs(args.handshake_timeout.max(1)),
        idle_timeout: Duration::from_secs(args.idle_timeout.max(1)),
        ..FleetLimits::default()
    };
    runtime.block_on(async move {
        let reporter = registrar.clone();
        let mut listener = FleetListener::bind_reporting(
            args.listen,
            acceptor,
            limits,
            Some(Arc::new(move |addr, diagnosis| {
                reporter.on_refused(addr, diagnosis)
            })),
        )
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
        {
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "listening on tls:{} (device certificates required, async, {} connections at most, {} per address)",
                listener.local_addr(),
                limits.max_connections,
                limits.max_per_source
            )?;
            out.flush()?;
        }
        let mut ticker = tokio::time::interval(STATS_EVERY);
        let mut last = FleetStats::default();
        loop {
            tokio::select! {
                device = listener.accept() => {
                    let Some(device) = device else { break };
                    tokio::spawn(serve_device(device, registrar.clone()));
                }
                _ = ticker.tick() => {
                    let now = listener.stats();
                    if now != last {
                        let mut out = std::io::stdout().lock();
                        let _ = writeln!(out, "{}", stats_line(&now));
                        let _ = out.flush();
                        last = now;
                    }
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// One device: its messages to the registrar, the replies back, until it goes.
async fn serve_device(mut device: DeviceConnection, registrar: Arc<Registrar>) {
    let peer = device.peer().clone();
    registrar.on_connect(&peer);
    let reason = 'connection: loop {
        match device.next_message().await {
            Ok(Some(message)) => {
                for reply in registrar.on_message(&peer, message) {
                    if let Err(e) = device.send(&reply).await {
                        break 'connection Some(e.to_string());
                    }
                }
            }
            Ok(None) => break None,
            Err(e) => break Some(e.to_string()),
        }
    };
    registrar.on_close(&peer, reason.as_deref());
}
