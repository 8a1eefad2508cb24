//! nginx as a test peer: a foreground, single-process nginx whose files
//! (configuration, logs, temporary folders) all stay in one test folder, and
//! the HTTPS `server` block that requires a device certificate.
//!
//! Find the binary first with [`crate::peer`]`(`[`crate::Peer::Nginx`]`)`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::{wait_for_tcp, ChildGuard};

/// How long [`Nginx::start`] waits for each port to accept TCP.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A running nginx; killed when dropped.
#[derive(Debug)]
pub struct Nginx {
    _guard: ChildGuard,
    /// Its error log (`nginx-error.log` in its folder).
    pub error_log: PathBuf,
}

impl Nginx {
    /// Writes `dir/nginx.conf` (no daemon, no master process, one worker;
    /// pid file, logs and temporary folders in `dir`) with `servers` — nginx
    /// `server { … }` blocks — inside its `http` block, starts nginx with
    /// `dir` as its prefix, and waits (at most 10 s each) until every one of
    /// `ports` accepts TCP on 127.0.0.1.
    ///
    /// # Panics
    ///
    /// When it cannot be spawned or a port does not open in time; the
    /// message carries its error log.
    pub fn start(bin: &Path, dir: &Path, servers: &str, ports: &[u16]) -> Nginx {
        let d = dir.display();
        let error_log = dir.join("nginx-error.log");
        let conf = format!(
            "user root root;\nmaster_process off;\ndaemon off;\nworker_processes 1;\n\
             pid {d}/nginx.pid;\nerror_log {d}/nginx-error.log info;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log {d}/nginx-access.log;\n  default_type text/plain;\n\
             client_body_temp_path {d}/t_body;\n  proxy_temp_path {d}/t_proxy;\n\
             fastcgi_temp_path {d}/t_fcgi;\n  uwsgi_temp_path {d}/t_uwsgi;\n\
             scgi_temp_path {d}/t_scgi;\n{servers}}}\n"
        );
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", conf_path.display()));
        let guard = ChildGuard::spawn(
            Command::new(bin)
                .arg("-p")
                .arg(dir)
                .arg("-e")
                .arg(&error_log)
                .arg("-c")
                .arg(&conf_path),
        )
        .unwrap_or_else(|e| panic!("cannot spawn nginx: {e}"));
        let nginx = Nginx {
            _guard: guard,
            error_log,
        };
        for &port in ports {
            assert!(
                wait_for_tcp(([127, 0, 0, 1], port).into(), START_TIMEOUT),
                "nginx did not start on port {port}: {}",
                nginx.log()
            );
        }
        nginx
    }

    /// Its error log so far (empty when it cannot be read).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.error_log).unwrap_or_default()
    }
}

/// A `server { … }` block for [`Nginx::start`]: HTTPS on 127.0.0.1:`port`
/// with `dir/server.pem` and `dir/server.key`, requiring a client
/// certificate that chains (depth 3 at most) to `dir/vendor-chain.pem`,
/// serving `dir/www`; `extra` (nginx directives such as `location` blocks)
/// goes inside the block.
pub fn mtls_server(dir: &Path, port: u16, extra: &str) -> String {
    let d = dir.display();
    format!(
        "  server {{\n    listen 127.0.0.1:{port} ssl;\n\
         ssl_certificate {d}/server.pem;\n    ssl_certificate_key {d}/server.key;\n\
         ssl_client_certificate {d}/vendor-chain.pem;\n    ssl_verify_client on;\n\
         ssl_verify_depth 3;\n    root {d}/www;\n{extra}  }}\n"
    )
}
