//! The fleet load test behind `scripts/fleet N`: N devices with their own
//! factory certificates (P-256, minted once) hold mutual-TLS connections
//! (TLS 1.3) to a SIP server, REGISTER and keep alive with CRLF pings, all
//! on 127.0.0.1; the same client loads our fleet acceptor (`sigil sip serve
//! --async`) and Kamailio's TLS module, then again with 10 % misbehaving
//! clients (stalled handshakes, garbage, no certificate); and the blocking
//! acceptor (`sigil sip serve`) meets `openssl s_server` on the latency of
//! one handshake at a time.
//!
//! Output, one line per server (the line for Kamailio is prefixed `kamailio`):
//!
//! ```text
//! connections=N held=N handshakes_per_s=H cpu_ms_per_handshake=C hs_p50_ms=L rss_kb_per_conn=R p99_ms=P hs_p99_ms=… reg_p50_ms=…
//! kamailio connections=N …
//! ratio_handshakes=X ratio_rss=Y
//! ```
//!
//! `handshakes_per_s` is wall-clock (client and server share the machine),
//! `cpu_ms_per_handshake` the server's CPU time (user + system, all its
//! processes) over the connect phase divided by the handshakes, so
//! `1000 / cpu_ms_per_handshake` is handshakes per second per core;
//! `ratio_handshakes` is ours ÷ Kamailio's handshakes per core-second (goal
//! ≥ 2) and `ratio_rss` ours ÷ Kamailio's memory per idle connection (goal
//! ≤ 0.5). Memory is the proportional set size (PSS, /proc smaps_rollup) of
//! all the server's processes while the connections are held, minus the
//! same before the load, per connection. `hs_*` is TCP connect to the end of
//! the client's handshake; `p99_ms` (and `reg_p50_ms`) REGISTER sent to 200
//! OK received. Then `bad10 …` lines (the same with the misbehaving clients
//! added; what our limits did is in `limits …`) and `blocking …` (handshake
//! latency, one at a time, of the blocking acceptor, the fleet acceptor and
//! `openssl s_server`, in turn; `ratio` is blocking ÷ openssl, goal ≤ 1).
//!
//! Kamailio runs one TLS worker (`tcp_children=1`, `--kamailio-workers`):
//! Debian's 5.6.3 with OpenSSL 3.0 corrupts its shared memory and crashes
//! (double free in the TLS module, kamailio issues #3791 and #4055; the
//! `tls_threads_mode` fix came in 5.7.5) as soon as two workers do
//! handshakes at once. CPU per handshake, the per-core comparison, does not
//! depend on it; wall-clock handshakes per second do.
//!
//! Run: `scripts/fleet N` (builds, raises the fd limit, runs this with the
//! `sigil` binary). Arguments: `--connections N --sigil PATH [--bad PCT]
//! [--concurrency C] [--hold SECONDS] [--latency M] [--workers W]
//! [--kamailio-workers K] [--no-kamailio]`.

mod client;
mod servers;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use sigil_identity::mint::{mint_device, mint_server, DeviceRequest, ServerRequest, VendorCa};
use sigil_identity::{ClientCertResolver, Identity, Mac};
use sigil_sip_tls::{Connector, TlsPolicy};
use sigil_trust::TrustStore;
use tokio::sync::watch;

use client::{Bad, Live, Outcome, Plan};
use servers::{Files, Server};

struct Args {
    connections: usize,
    bad_pct: usize,
    concurrency: usize,
    hold: Duration,
    latency: usize,
    workers: usize,
    kamailio_workers: usize,
    sigil: PathBuf,
    kamailio: bool,
}

fn args() -> Args {
    let argv: Vec<String> = std::env::args().collect();
    let value = |name: &str| {
        argv.iter()
            .position(|a| a == name)
            .and_then(|i| argv.get(i + 1))
            .cloned()
    };
    let number = |name: &str, default: usize| {
        value(name)
            .map(|v| {
                v.parse()
                    .unwrap_or_else(|_| panic!("{name} {v}: not a number"))
            })
            .unwrap_or(default)
    };
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    Args {
        connections: number("--connections", 1000).max(1),
        bad_pct: number("--bad", 10),
        concurrency: number("--concurrency", 64),
        hold: Duration::from_secs(number("--hold", 5) as u64),
        latency: number("--latency", 200),
        workers: number("--workers", cores),
        kamailio_workers: number("--kamailio-workers", 1),
        sigil: PathBuf::from(value("--sigil").expect("--sigil PATH (the sigil binary)")),
        kamailio: !argv.iter().any(|a| a == "--no-kamailio"),
    }
}

/// The vendor PKI, the server certificate and `n` devices.
struct Pki {
    store: Arc<TrustStore>,
    devices: Vec<Arc<Connector>>,
    anonymous: Arc<Connector>,
    files: Files,
    _dir: tempfile::TempDir,
}

fn connector(store: &Arc<TrustStore>, identity: Option<Identity>) -> Arc<Connector> {
    let resolver = identity.map(|i| {
        Arc::new(ClientCertResolver::new([i]))
            as Arc<dyn sigil_sip_tls::rustls::client::ResolvesClientCert>
    });
    Arc::new(
        Connector::new(
            "example.com",
            &TlsPolicy::default(),
            store.clone(),
            resolver,
        )
        .expect("connector")
        // Every handshake is a first one, as for a fleet that just (re)started.
        .with_resumption(sigil_sip_tls::rustls::client::Resumption::disabled()),
    )
}

fn mint(n: usize) -> Pki {
    let dir = tempfile::tempdir().expect("temporary directory");
    let ca = VendorCa::generate("Fleet Vendor").expect("vendor CA");
    let server = mint_server(
        &ca,
        &ServerRequest::new(["sip.example.com", "sip:example.com", "127.0.0.1"]),
    )
    .expect("server certificate");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write PKI file");
        path
    };
    let files = Files {
        dir: dir.path().to_owned(),
        cert: write("server.pem", &server.full_chain_pem()),
        key: write("server.key", server.key_pem()),
        intermediate: write("intermediate.pem", ca.intermediate_pem()),
        vendor_chain: write("vendor-chain.pem", &ca.chain_pem()),
    };
    let store = Arc::new(
        TrustStore::builder()
            .builtin(false)
            .vendor_bytes("vendor", ca.chain_pem().as_bytes())
            .expect("vendor chain")
            .build(),
    );
    let devices = (0..n)
        .map(|i| {
            let b = (i as u32).to_be_bytes();
            let mac = Mac::new([0x00, 0x22, b[0], b[1], b[2], b[3]]);
            let m = mint_device(&ca, &DeviceRequest::new(mac)).expect("device certificate");
            let id = Identity::from_pem(
                m.full_chain_pem().as_bytes(),
                Some(m.key_pem().as_bytes()),
                "device",
            )
            .expect("device identity");
            connector(&store, Some(id))
        })
        .collect();
    let anonymous = connector(&store, None);
    Pki {
        store,
        devices,
        anonymous,
        files,
        _dir: dir,
    }
}

/// What one run measured.
struct Run {
    n: usize,
    held: usize,
    handshakes_per_s: f64,
    cpu_ms_per_handshake: f64,
    hs_p50: f64,
    hs_p99: f64,
    reg_p50: f64,
    reg_p99: f64,
    rss_kb_per_conn: f64,
    failed: usize,
    first_error: Option<String>,
    bad_closed: usize,
    bad: usize,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Loads `server` with the devices (and `bad` misbehaving clients), holds, stops.
async fn load(server: &Server, pki: &Pki, n: usize, bad: usize, a: &Args) -> Run {
    let plan = Plan {
        server: server.addr,
        ping_every: Duration::from_secs(2),
        timeout: Duration::from_secs(120),
    };
    let (stop_tx, stop) = watch::channel(false);
    let live = Arc::new(Live::default());
    let cpu0 = server.cpu();
    let pss0 = server.pss_kib();
    let start = tokio::time::Instant::now();
    // The misbehaving clients come in along with the devices, outside the connect limiter.
    let bad_tasks: Vec<_> = (0..bad)
        .map(|j| {
            let kind = [Bad::Stall, Bad::Garbage, Bad::NoCertificate][j % 3];
            tokio::spawn(client::bad(
                j,
                kind,
                pki.anonymous.clone(),
                plan,
                stop.clone(),
            ))
        })
        .collect();
    let limiter = client::limiter(a.concurrency);
    let mut tasks = Vec::with_capacity(n);
    for (i, connector) in pki.devices.iter().take(n).enumerate() {
        let permit = limiter.clone().acquire_owned().await.ok();
        tasks.push(tokio::spawn(client::device(
            i,
            connector.clone(),
            plan,
            permit,
            live.clone(),
            stop.clone(),
        )));
    }
    // The connect phase ends when every device registered or failed (bounded by their timeouts).
    while live.settled.load(Ordering::SeqCst) < n {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if start.elapsed() > plan.timeout + Duration::from_secs(30) {
            break;
        }
    }
    let cpu = server.cpu().saturating_sub(cpu0);
    // Hold: pings go on; then look at memory and at who is still connected.
    // With misbehaving clients, hold past the handshake timeout (10 s) so
    // that the stalled handshakes meet it.
    let hold = if bad > 0 {
        a.hold.max(Duration::from_secs(12))
    } else {
        a.hold
    };
    tokio::time::sleep(hold).await;
    let pss = server.pss_kib().saturating_sub(pss0);
    let held = live.alive.load(Ordering::SeqCst);
    let _ = stop_tx.send(true);
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(n);
    for t in tasks {
        outcomes.push(t.await.unwrap_or_default());
    }
    let mut bad_closed = 0;
    for t in bad_tasks {
        bad_closed += usize::from(t.await.unwrap_or(false));
    }
    let mut hs: Vec<f64> = outcomes
        .iter()
        .filter_map(|o| o.handshake)
        .map(ms)
        .collect();
    let mut reg: Vec<f64> = outcomes.iter().filter_map(|o| o.register).map(ms).collect();
    hs.sort_by(f64::total_cmp);
    reg.sort_by(f64::total_cmp);
    let last_hs = outcomes.iter().filter_map(|o| o.handshake_done).max();
    let span = last_hs.map_or(f64::NAN, |t| (t - start).as_secs_f64());
    let failed = outcomes.iter().filter(|o| o.register.is_none()).count();
    Run {
        n,
        held,
        handshakes_per_s: hs.len() as f64 / span,
        cpu_ms_per_handshake: ms(cpu) / hs.len().max(1) as f64,
        hs_p50: percentile(&hs, 0.5),
        hs_p99: percentile(&hs, 0.99),
        reg_p50: percentile(&reg, 0.5),
        reg_p99: percentile(&reg, 0.99),
        rss_kb_per_conn: pss as f64 / held.max(1) as f64,
        failed,
        first_error: outcomes.iter().find_map(|o| o.error.clone()),
        bad_closed,
        bad,
    }
}

/// The last lines a server wrote to its standard error, when a run went wrong.
fn tail(files: &Files, name: &str) -> String {
    let text = std::fs::read_to_string(files.dir.join(name)).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

fn line(prefix: &str, r: &Run) -> String {
    let mut s = format!(
        "{prefix}connections={} held={} handshakes_per_s={:.0} cpu_ms_per_handshake={:.3} hs_p50_ms={:.1} rss_kb_per_conn={:.1} p99_ms={:.1} hs_p99_ms={:.1} reg_p50_ms={:.1}",
        r.n, r.held, r.handshakes_per_s, r.cpu_ms_per_handshake, r.hs_p50, r.rss_kb_per_conn, r.reg_p99, r.hs_p99, r.reg_p50
    );
    if r.bad > 0 {
        s.push_str(&format!(
            " bad={} bad_closed_by_server={}",
            r.bad, r.bad_closed
        ));
    }
    if r.failed > 0 {
        s.push_str(&format!(
            " failed={} first_error={:?}",
            r.failed,
            r.first_error.as_deref().unwrap_or("")
        ));
    }
    s
}

/// One handshake at a time against each server in turn: the median latencies.
async fn latency(servers: &[&Server], pki: &Pki, samples: usize) -> Vec<(f64, f64)> {
    let mut all: Vec<Vec<f64>> = vec![Vec::new(); servers.len()];
    for k in 0..samples {
        for (s, server) in servers.iter().enumerate() {
            let connector = &pki.devices[(k * servers.len() + s) % pki.devices.len()];
            let t0 = tokio::time::Instant::now();
            if client::handshake_only(server.addr, connector).await.is_ok() {
                all[s].push(ms(t0.elapsed()));
            }
        }
    }
    all.into_iter()
        .map(|mut v| {
            v.sort_by(f64::total_cmp);
            (percentile(&v, 0.5), percentile(&v, 0.9))
        })
        .collect()
}

fn main() {
    let a = args();
    let n = a.connections;
    let bad = n * a.bad_pct / 100;
    eprintln!(
        "fleet: minting {} device certificates…",
        n.max(2 * a.latency)
    );
    let pki = mint(n.max(2 * a.latency));
    let _ = &pki.store;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let max = (n + bad) * 2 + 100;

    eprintln!("fleet: ours (sigil sip serve --async), {n} devices…");
    let ours_server = Server::sigil(&a.sigil, &pki.files, true, max, Some(a.workers));
    let ours = runtime.block_on(load(&ours_server, &pki, n, 0, &a));
    ours_server.stop();
    if ours.failed > 0 {
        eprintln!(
            "fleet: our server's last words:\n{}",
            tail(&pki.files, "sigil-async.err")
        );
    }
    let ours_failed = ours.failed;
    println!("{}", line("", &ours));

    let kam = kamailio_bin().filter(|_| a.kamailio);
    let mut kam_run = None;
    if let Some((bin, modules)) = &kam {
        eprintln!("fleet: kamailio, {n} devices…");
        let server = Server::kamailio(bin, modules, &pki.files, max, a.kamailio_workers);
        let r = runtime.block_on(load(&server, &pki, n, 0, &a));
        server.stop();
        if r.failed > 0 {
            eprintln!(
                "fleet: kamailio's last words:\n{}",
                tail(&pki.files, "kamailio.err")
            );
        }
        println!("{}", line("kamailio ", &r));
        kam_run = Some(r);
    } else {
        eprintln!("fleet: kamailio with its TLS module not found: no comparison");
    }
    if let Some(k) = &kam_run {
        println!(
            "ratio_handshakes={:.2} ratio_rss={:.2} ratio_handshakes_wall={:.2}",
            k.cpu_ms_per_handshake / ours.cpu_ms_per_handshake,
            ours.rss_kb_per_conn / k.rss_kb_per_conn,
            ours.handshakes_per_s / k.handshakes_per_s
        );
    }

    if bad > 0 {
        eprintln!("fleet: ours with {bad} misbehaving clients…");
        let server = Server::sigil(&a.sigil, &pki.files, true, max, Some(a.workers));
        let r = runtime.block_on(load(&server, &pki, n, bad, &a));
        // Let the stats line catch up with the stalled handshakes' timeouts.
        std::thread::sleep(Duration::from_millis(1500));
        let stats = server.last_stats().unwrap_or_default();
        server.stop();
        println!("{}", line("bad10 ", &r));
        println!("limits {}", stats.trim_start_matches("stats "));
        if let Some((bin, modules)) = &kam {
            eprintln!("fleet: kamailio with {bad} misbehaving clients…");
            let server = Server::kamailio(bin, modules, &pki.files, max, a.kamailio_workers);
            let r = runtime.block_on(load(&server, &pki, n, bad, &a));
            server.stop();
            println!("{}", line("kamailio bad10 ", &r));
        }
    }

    if a.latency > 0 {
        let openssl = sigil_testkit::peer(sigil_testkit::Peer::Openssl);
        eprintln!(
            "fleet: handshake latency, one at a time, {} each…",
            a.latency
        );
        let blocking = Server::sigil(&a.sigil, &pki.files, false, max, None);
        let fleet = Server::sigil(&a.sigil, &pki.files, true, max, Some(a.workers));
        let s_server = openssl.as_ref().map(|bin| Server::openssl(bin, &pki.files));
        let mut list = vec![&blocking, &fleet];
        if let Some(s) = &s_server {
            list.push(s);
        }
        let lat = runtime.block_on(latency(&list, &pki, a.latency));
        let mut out = format!(
            "blocking hs_p50_ms={:.2} hs_p90_ms={:.2} async_hs_p50_ms={:.2}",
            lat[0].0, lat[0].1, lat[1].0
        );
        if let Some(o) = lat.get(2) {
            out.push_str(&format!(
                " openssl_hs_p50_ms={:.2} openssl_hs_p90_ms={:.2} ratio={:.2}",
                o.0,
                o.1,
                lat[0].0 / o.0
            ));
        }
        println!("{out}");
    }
    if ours_failed > 0 {
        eprintln!("fleet: {ours_failed} devices failed against our server");
        std::process::exit(1);
    }
}

/// Kamailio and its module directory, when installed with the TLS module.
fn kamailio_bin() -> Option<(PathBuf, PathBuf)> {
    let bin = sigil_testkit::peer(sigil_testkit::Peer::Kamailio)?;
    let modules = sigil_testkit::kamailio::module_dir()?;
    Some((bin, modules))
}
