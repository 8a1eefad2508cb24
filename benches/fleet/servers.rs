//! The servers under load, as processes: ours (`sigil sip serve`), Kamailio
//! with its TLS module, `openssl s_server`; and what /proc says they cost.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server process (and, for Kamailio, its children), stopped on drop.
pub struct Server {
    pub addr: SocketAddr,
    child: Child,
    /// Where its standard output goes (our stats lines).
    pub stdout: PathBuf,
}

/// The files every server is given.
pub struct Files {
    pub dir: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub intermediate: PathBuf,
    pub vendor_chain: PathBuf,
}

/// A free port on 127.0.0.1 (bound, then released for the server to take).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

fn wait_for(addr: SocketAddr, child: &mut Child, what: &str, log: &Path) {
    let log_text = || std::fs::read_to_string(log).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            // Let the probe connection's close settle before measuring anything.
            std::thread::sleep(Duration::from_millis(300));
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before listening: {status}\n{}", log_text());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "{what} did not listen on {addr} within 20 s\n{}",
        log_text()
    );
}

fn output(path: &Path) -> std::fs::File {
    std::fs::File::create(path).unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()))
}

impl Server {
    /// `sigil sip serve` (`--async`: the fleet acceptor; else the blocking one).
    pub fn sigil(
        bin: &Path,
        files: &Files,
        fleet: bool,
        max_connections: usize,
        workers: Option<usize>,
    ) -> Server {
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let name = if fleet {
            "sigil-async"
        } else {
            "sigil-blocking"
        };
        let stdout = files.dir.join(format!("{name}.out"));
        let mut cmd = Command::new(bin);
        cmd.args(["sip", "serve", "--quiet", "--listen", &addr.to_string()])
            .arg("--cert")
            .arg(&files.cert)
            .arg("--key")
            .arg(&files.key)
            .arg("--vendor-chain")
            .arg(&files.vendor_chain);
        if fleet {
            cmd.args(["--async", "--max-connections", &max_connections.to_string()]);
            if let Some(w) = workers {
                cmd.args(["--workers", &w.to_string()]);
            }
        }
        let mut child = cmd
            .env("RUST_LOG", "error")
            .stdin(Stdio::null())
            .stdout(output(&stdout))
            .stderr(output(&files.dir.join(format!("{name}.err"))))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        wait_for(
            addr,
            &mut child,
            name,
            &files.dir.join(format!("{name}.err")),
        );
        Server {
            addr,
            child,
            stdout,
        }
    }

    /// Kamailio with the TLS module: mutual TLS against the vendor chain,
    /// REGISTER answered from memory (usrloc), `tcp_children` workers.
    pub fn kamailio(
        bin: &Path,
        modules: &Path,
        files: &Files,
        max_connections: usize,
        workers: usize,
    ) -> Server {
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let d = &files.dir;
        let tls_cfg = d.join("tls.cfg");
        std::fs::write(
            &tls_cfg,
            format!(
                "[server:default]\nmethod = TLSv1.2+\nverify_certificate = yes\nrequire_certificate = yes\nverify_depth = 3\nprivate_key = {}\ncertificate = {}\nca_list = {}\ncipher_list = ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305\n\n[client:default]\nverify_certificate = no\nrequire_certificate = no\n",
                files.key.display(),
                files.cert.display(),
                files.vendor_chain.display()
            ),
        )
        .expect("tls.cfg");
        // Connections are held open as long as the load lasts; no UDP or TCP listeners.
        let cfg = format!(
            r#"#!KAMAILIO
debug=1
log_stderror=yes
children=1
tcp_children={workers}
auto_aliases=no
enable_tls=yes
listen=tls:{addr}
tcp_connection_lifetime=3605
tcp_max_connections={max}
tls_max_connections={max}
open_files_limit={files}
tcp_accept_no_cl=no
mpath="{mpath}/"
loadmodule "tls.so"
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
modparam("tls", "config", "{tls}")
modparam("usrloc", "db_mode", 0)
request_route {{
	if (is_method("REGISTER")) {{
		if (!save("location")) {{
			sl_reply_error();
		}}
		exit;
	}}
	sl_send_reply("501", "Not Implemented");
}}
"#,
            workers = workers,
            addr = addr,
            max = max_connections,
            files = (max_connections * 2 + 1024).min(hard_fd_limit()),
            mpath = modules.display(),
            tls = tls_cfg.display(),
        );
        let cfg_path = d.join("kamailio.cfg");
        std::fs::write(&cfg_path, cfg).expect("kamailio.cfg");
        // Shared memory: the TLS module keeps every OpenSSL connection there.
        let shm_mb = (256 + max_connections / 8).to_string();
        let stdout = d.join("kamailio.out");
        let mut child = Command::new(bin)
            .arg("-f")
            .arg(&cfg_path)
            .args(["-DD", "-E", "-m", &shm_mb, "-M", "16", "-Y"])
            .arg(d)
            .arg("-w")
            .arg(d)
            .arg("-P")
            .arg(d.join("kamailio.pid"))
            .current_dir(d)
            .stdin(Stdio::null())
            .stdout(output(&stdout))
            .stderr(output(&d.join("kamailio.err")))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start kamailio: {e}"));
        wait_for(addr, &mut child, "kamailio", &d.join("kamailio.err"));
        Server {
            addr,
            child,
            stdout,
        }
    }

    /// `openssl s_server` requiring a client certificate (handshakes one at a time).
    pub fn openssl(bin: &Path, files: &Files) -> Server {
        let addr: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let stdout = files.dir.join("s_server.out");
        let mut child = Command::new(bin)
            .args([
                "s_server",
                "-quiet",
                "-accept",
                &addr.to_string(),
                "-Verify",
                "3",
            ])
            .arg("-cert")
            .arg(&files.cert)
            .arg("-key")
            .arg(&files.key)
            .arg("-cert_chain")
            .arg(&files.intermediate)
            .arg("-CAfile")
            .arg(&files.vendor_chain)
            // s_server may exit on end of input: keep its stdin open.
            .stdin(Stdio::piped())
            .stdout(output(&stdout))
            .stderr(output(&files.dir.join("s_server.err")))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start openssl: {e}"));
        wait_for(
            addr,
            &mut child,
            "openssl s_server",
            &files.dir.join("s_server.err"),
        );
        Server {
            addr,
            child,
            stdout,
        }
    }

    /// This process and its children (Kamailio's workers).
    fn pids(&self) -> Vec<u32> {
        let main = self.child.id();
        let mut pids = vec![main];
        if let Ok(entries) = std::fs::read_dir("/proc") {
            for entry in entries.flatten() {
                let Some(pid) = entry
                    .file_name()
                    .to_str()
                    .and_then(|s| s.parse::<u32>().ok())
                else {
                    continue;
                };
                if stat_fields(pid)
                    .is_some_and(|f| f.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(main))
                {
                    pids.push(pid);
                }
            }
        }
        pids
    }

    /// CPU time used so far (user + system), all its processes.
    pub fn cpu(&self) -> Duration {
        let ticks: u64 = self
            .pids()
            .into_iter()
            .filter_map(stat_fields)
            .map(|f| {
                // After the command: state(0) ppid(1) … utime(11) stime(12).
                let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
                n(11) + n(12)
            })
            .sum();
        // USER_HZ is 100 on Linux for /proc.
        Duration::from_millis(ticks * 10)
    }

    /// Proportional set size in KiB (shared pages split between the
    /// processes that map them), all its processes.
    pub fn pss_kib(&self) -> u64 {
        self.pids()
            .into_iter()
            .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok())
            .filter_map(|text| {
                text.lines()
                    .find_map(|l| l.strip_prefix("Pss:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
            .sum()
    }

    /// The last `stats …` line ours printed.
    pub fn last_stats(&self) -> Option<String> {
        std::fs::read_to_string(&self.stdout)
            .ok()?
            .lines()
            .rev()
            .find(|l| l.starts_with("stats "))
            .map(str::to_owned)
    }

    /// Stops it (see the `Drop` implementation).
    pub fn stop(self) {}
}

impl Drop for Server {
    /// SIGTERM (so Kamailio stops its workers), then kill after 10 s.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The hard limit on open files (`/proc/self/limits`): Kamailio refuses to
/// start when `open_files_limit` asks for more than it may raise to.
fn hard_fd_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(4))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(usize::MAX)
}

/// `/proc/PID/stat` after the command name: state, ppid, …
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = text.rsplit_once(')')?.1;
    Some(after.split_whitespace().map(str::to_owned).collect())
}
