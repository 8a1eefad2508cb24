//! The demo: a whole device on loopback, in one process.
//! `cargo run --release --example demo` runs [`run`]; the tests run it too.
//!
//! It mints a vendor PKI, a device (factory partition) and a server
//! certificate into a temporary directory; starts an HTTPS provisioning
//! server and a SIP registrar with two peers on 127.0.0.1, both requiring
//! device certificates; boots the device, showing each step; places three
//! calls — Standard ↔ SRTP peer, Optional ↔ plain phone, Standard ↔ plain
//! phone — and prints a summary table. Every claim is checked: the result
//! says which step did not do what it says.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sigil_identity::mint::{mint_device, mint_server, DeviceRequest, ServerRequest, VendorCa};
use sigil_identity::{DeviceVerifier, Identity, Mac};
use sigil_srtp::negotiate::OfferPolicy;

use sigil_endpoint::{CallOptions, CallStatus, DeviceDir, Outcome, RunOptions};

use crate::servers::{ProvisioningServer, SipServer, PLAIN_PHONE, SRTP_PEER};

/// One row of the summary: a claim and whether it held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What the demo claims.
    pub what: String,
    /// Whether it held.
    pub ok: bool,
    /// The evidence.
    pub detail: String,
}

/// What the demo did.
#[derive(Debug, Clone, Default)]
pub struct DemoReport {
    /// Every claim, in order.
    pub checks: Vec<Check>,
    /// Wall time.
    pub elapsed: Duration,
}

impl DemoReport {
    /// Whether every claim held.
    pub fn ok(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.ok)
    }
}

type DemoResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const MAC: &str = "00:22:ee:01:02:03";
const PASSWORD: &str = "demo-secret-1001";
const TONE: Duration = Duration::from_secs(1);
/// Frames in one second of tone.
const FRAMES: u64 = 50;

fn check(report: &mut DemoReport, out: &mut dyn Write, what: &str, ok: bool, detail: String) {
    let _ = writeln!(out, "    {} {what}: {detail}", if ok { "✓" } else { "✗" });
    report.checks.push(Check {
        what: what.to_owned(),
        ok,
        detail,
    });
}

/// Runs the demo, writing its story to `out`. `Err` only when the scene
/// could not be set up (minting, sockets); a device that misbehaves shows
/// as failed [`Check`]s.
pub fn run(out: &mut dyn Write) -> DemoResult<DemoReport> {
    let started = Instant::now();
    let mut report = DemoReport::default();
    let tmp = tempfile::Builder::new().prefix("sigil-demo-").tempdir()?;
    let dir = tmp.path();
    writeln!(
        out,
        "sigil demo: one device on 127.0.0.1, data directory {}",
        dir.display()
    )?;

    // 1. Manufacturing: vendor PKI, the device's factory partition, server certificates.
    writeln!(out, "\n[1] manufacturing")?;
    let ca = VendorCa::generate("Sigil Demo Vendor")?;
    let mac: Mac = MAC.parse()?;
    let device_cert = mint_device(&ca, &DeviceRequest::new(mac))?;
    device_cert.write_factory(&dir.join("device/factory"))?;
    std::fs::write(dir.join("device/factory/vendor-chain.pem"), ca.chain_pem())?;
    let server_cert = mint_server(&ca, &ServerRequest::new(["127.0.0.1"]))?;
    let server_identity = Identity::from_pem(
        server_cert.full_chain_pem().as_bytes(),
        Some(server_cert.key_pem().as_bytes()),
        "server.pem",
    )?;
    let devices = Arc::new(DeviceVerifier::new(&[ca.root_der()?])?);
    writeln!(
        out,
        "    vendor root and device CA minted; device {MAC} (factory/device.pem, 30 years); server certificate for 127.0.0.1"
    )?;

    // 2. The servers, both requiring a device certificate.
    writeln!(
        out,
        "\n[2] servers on 127.0.0.1 (both require a device certificate)"
    )?;
    let sip = SipServer::start(&server_identity, devices.clone(), "127.0.0.1", PASSWORD)?;
    let mac_file = MAC.replace(':', "");
    // The device's own SIP-over-TLS listener, on a port free right now.
    let listen = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let provisioned = format!(
        "# per-device file for {MAC}\nsip.proxy = 127.0.0.1:{}\nsip.transport = tls\nsip.u1.user = 1001\nsip.u1.pwd = {PASSWORD}\nsip.u1.dname = Demo Door Phone\nsip.srtp.offer = standard\nsip.tls.listen = {listen}\n",
        sip.addr().port()
    );
    let mut files = HashMap::new();
    files.insert(
        format!("/prov/algom{mac_file}.conf"),
        provisioned.into_bytes(),
    );
    let prov = ProvisioningServer::start(&server_identity, devices, files)?;
    writeln!(out, "    HTTPS provisioning: https://{}/prov/", prov.addr())?;
    writeln!(
        out,
        "    SIP registrar + peers ({SRTP_PEER}: SRTP, {PLAIN_PHONE}: no SRTP): sips {}",
        sip.addr()
    )?;

    // The device knows only its provisioning server.
    std::fs::create_dir_all(dir.join("device/user"))?;
    std::fs::write(
        dir.join("device/user/config.conf"),
        format!("prov.server = https://{}/prov\n", prov.addr()),
    )?;

    // 3. Boot.
    writeln!(out, "\n[3] boot")?;
    let device = DeviceDir::open(dir.join("device"))?;
    let boot_started = Instant::now();
    let booted = device.boot(RunOptions::default(), &mut |step| {
        let _ = writeln!(out, "    {step}");
    });
    let boot_ms = boot_started.elapsed().as_millis();
    let running = match booted {
        Ok(r) => r,
        Err(failure) => {
            check(&mut report, out, "boot", false, failure.to_string());
            report.elapsed = started.elapsed();
            return Ok(report);
        }
    };
    let status = running.status();
    let requests = prov.requests();
    let fetched = requests.iter().find(|r| r.status == 200).map(|r| {
        format!(
            "https://{}{} by device {} ({})",
            prov.addr(),
            r.path,
            r.device.clone().unwrap_or_default(),
            r.tls
        )
    });
    check(
        &mut report,
        out,
        "provisioned over mutual TLS",
        status.provisioning.result == "applied"
            && requests
                .iter()
                .any(|r| r.status == 200 && r.device.as_deref() == Some(MAC)),
        fetched.unwrap_or_else(|| format!("{:?}", status.provisioning)),
    );
    let conn = status.connections.first();
    check(
        &mut report,
        out,
        "SIP server verified",
        conn.is_some_and(|c| c.verification == "verified"),
        conn.map(|c| {
            format!(
                "{} {} {}, {}",
                c.peer, c.version, c.cipher_suite, c.verification
            )
        })
        .unwrap_or_else(|| "no connection".into()),
    );
    let registered_mac = sip.events().iter().find_map(|e| match e {
        crate::RegistrarEvent::Registered { aor, mac, .. } => Some(format!(
            "{aor} as device {}",
            mac.clone().unwrap_or_default()
        )),
        _ => None,
    });
    check(
        &mut report,
        out,
        "registered with digest over mutual TLS",
        status.registration.state == "registered"
            && registered_mac.as_deref().is_some_and(|m| m.ends_with(MAC)),
        format!(
            "{} (boot to registered: {boot_ms} ms)",
            registered_mac.unwrap_or_else(|| "registrar saw no REGISTER".into())
        ),
    );
    check(
        &mut report,
        out,
        "every boot step succeeded",
        status
            .boot
            .iter()
            .all(|s| s.outcome == Outcome::Ok || s.outcome == Outcome::Skipped),
        status
            .boot
            .iter()
            .map(|s| format!("{} {}", s.outcome.mark(), s.step))
            .collect::<Vec<_>>()
            .join(", "),
    );

    // 4. Calls.
    let calls: [(&str, &str, OfferPolicy, bool); 3] = [
        ("1", SRTP_PEER, OfferPolicy::Standard, true),
        ("2", PLAIN_PHONE, OfferPolicy::Optional, true),
        ("3", PLAIN_PHONE, OfferPolicy::Standard, false),
    ];
    let mut rows = Vec::new();
    for (n, peer, policy, expect_up) in calls {
        writeln!(
            out,
            "\n[4.{n}] call sip:{peer}@127.0.0.1 with SDP SRTP Offer = {policy}"
        )?;
        let before = sip.calls().len();
        let call = running.call_and_wait(
            &format!("sip:{peer}@127.0.0.1"),
            CallOptions {
                duration: TONE,
                policy: Some(policy),
                ..CallOptions::default()
            },
        );
        let call = match call {
            Ok(c) => c,
            Err(e) => {
                check(&mut report, out, &format!("call {n}"), false, e.to_string());
                continue;
            }
        };
        // The far end's counters (its media stops when our BYE arrives).
        let far = wait_far_end(&sip, before);
        writeln!(
            out,
            "    media: {}; sent {} frames, received {}; ended: {}",
            call.media,
            call.stats.packets_sent,
            call.stats.packets_received,
            call.ended.clone().unwrap_or_default()
        )?;
        match n {
            "1" => {
                let far_ok = far.as_ref().is_some_and(|f| {
                    f.media.starts_with("SRTP")
                        && f.stats.packets_received >= FRAMES * 9 / 10
                        && f.stats.srtp_auth_failures == 0
                        && f.stats.srtp_replays == 0
                });
                check(
                    &mut report,
                    out,
                    "call 1: SRTP, tone decrypted at the far end",
                    call.established && call.encrypted && call.media.starts_with("SRTP") && far_ok,
                    format!(
                        "{}; far end decrypted {} of {} frames ({} auth failures, {} replays)",
                        call.media,
                        far.as_ref().map_or(0, |f| f.stats.packets_received),
                        call.stats.packets_sent,
                        far.as_ref().map_or(0, |f| f.stats.srtp_auth_failures),
                        far.as_ref().map_or(0, |f| f.stats.srtp_replays),
                    ),
                );
            }
            "2" => {
                let far_ok = far
                    .as_ref()
                    .is_some_and(|f| f.stats.packets_received >= FRAMES * 9 / 10);
                check(
                    &mut report,
                    out,
                    "call 2: plain RTP, and the device says so",
                    call.established
                        && !call.encrypted
                        && call.media.starts_with("plain RTP")
                        && far_ok,
                    format!(
                        "{}; far end received {} of {} frames",
                        call.media,
                        far.as_ref().map_or(0, |f| f.stats.packets_received),
                        call.stats.packets_sent
                    ),
                );
            }
            _ => {
                let ended = call.ended.clone().unwrap_or_default();
                let acked_then_bye = far.as_ref().is_some_and(|f| {
                    f.acked && f.ended && f.end_reason.as_deref() == Some("the peer hung up")
                });
                check(
                    &mut report,
                    out,
                    "call 3: refused, SRTP required (ACK, then BYE)",
                    !call.established
                        && call.stats.packets_sent == 0
                        && ended.contains("SRTP required")
                        && acked_then_bye,
                    format!(
                        "{}; {ended}; the phone got ACK: {}, then BYE: {}",
                        call.media,
                        far.as_ref().is_some_and(|f| f.acked),
                        far.as_ref()
                            .is_some_and(|f| f.end_reason.as_deref() == Some("the peer hung up"))
                    ),
                );
            }
        }
        rows.push((n, peer, policy, expect_up, call, far));
    }

    // 5. Summary.
    let final_status = running.shutdown();
    writeln!(out, "\n[5] summary")?;
    writeln!(
        out,
        "    {:<2} {:<26} {:<9} {:<42} {:>5} {:>9} {:>6}  result",
        "#", "peer", "policy", "media", "sent", "far recv", "auth✗"
    )?;
    for (n, peer, policy, _, call, far) in &rows {
        writeln!(
            out,
            "    {:<2} {:<26} {:<9} {:<42} {:>5} {:>9} {:>6}  {}",
            n,
            format!("sip:{peer}@127.0.0.1"),
            policy.to_string(),
            truncate(&call.media, 42),
            call.stats.packets_sent,
            far.as_ref().map_or(0, |f| f.stats.packets_received),
            far.as_ref().map_or(0, |f| f.stats.srtp_auth_failures),
            result_word(call),
        )?;
    }
    check(
        &mut report,
        out,
        "un-registered at shutdown",
        final_status.registration.state == "idle",
        format!("registration {}", final_status.registration.state),
    );
    report.elapsed = started.elapsed();
    let failed = report.checks.iter().filter(|c| !c.ok).count();
    writeln!(
        out,
        "\n{} checks, {} failed, {:.1} s",
        report.checks.len(),
        failed,
        report.elapsed.as_secs_f64()
    )?;
    Ok(report)
}

fn result_word(call: &CallStatus) -> String {
    if call.established {
        "ok".into()
    } else if call
        .ended
        .as_deref()
        .is_some_and(|e| e.contains("SRTP required"))
    {
        "refused: SRTP required".into()
    } else {
        format!("failed: {}", call.ended.clone().unwrap_or_default())
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// The far end's record of the call that started after `before` calls, once it ended (bounded wait).
fn wait_far_end(sip: &SipServer, before: usize) -> Option<crate::servers::PeerCall> {
    for _ in 0..200 {
        if let Some(c) = sip.calls().get(before) {
            if c.ended {
                return Some(c.clone());
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    sip.calls().get(before).cloned()
}
