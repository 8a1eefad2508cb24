//! `sigil sip probe` and `sigil sip serve`: SIP over TLS at a shell prompt.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{json, Value};
use sigil_identity::{DeviceVerifier, FactoryPartition, IdentitySet, UserStore};
use sigil_lab::Registrar;
use sigil_sip::Message;
use sigil_sip_tls::{
    establish, Acceptor, ClientAuth, ClientAuthOutcome, ConnectionEvent, ConnectionSettings,
    Connector, Error, HandshakeDiagnosis, Server, ServerOptions, TlsInfo, TlsPolicy, TlsVersion,
};
use sigil_trust::TrustStore;

/// How long `probe` waits for the answer to its OPTIONS.
const RESPONSE_WAIT: Duration = Duration::from_secs(3);

/// Options of `sigil sip probe`.
#[derive(Debug, clap::Args)]
pub struct ProbeArgs {
    /// The SIP server to connect to, HOST:PORT (TLS is usually port 5061).
    #[arg(long, value_name = "HOST:PORT")]
    server: String,
    /// The SIP domain contacted: the server certificate must name it (RFC 5922) and it is sent as SNI.
    #[arg(long, value_name = "DOMAIN")]
    domain: String,
    /// Uploaded trust anchors (`certs/trusted/`); default: USER/certs/trusted when --user is given.
    #[arg(long, value_name = "DIR")]
    trusted: Option<PathBuf>,
    /// The vendor CA chain (PEM or DER), a layer of trust anchors.
    #[arg(long, value_name = "FILE")]
    vendor: Option<PathBuf>,
    /// Leave out the built-in web PKI roots.
    #[arg(long)]
    no_builtin: bool,
    /// The factory partition (device.pem, device.key): the identity presented for mutual TLS.
    #[arg(long, value_name = "DIR")]
    factory: Option<PathBuf>,
    /// The user store (certs/sipclient.pem overrides the factory identity).
    #[arg(long, value_name = "DIR")]
    user: Option<PathBuf>,
    /// Do not validate the server certificate (sip.tls.validate = 0): encrypted, "not verified".
    #[arg(long)]
    no_verify: bool,
    /// The lowest TLS version allowed.
    #[arg(long, value_name = "1.2|1.3", default_value = "1.2", value_parser = parse_version)]
    tls_min: TlsVersion,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Options of `sigil sip serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on, e.g. 127.0.0.1:5061.
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: SocketAddr,
    /// The server certificate (PEM, followed by its chain).
    #[arg(long, value_name = "FILE")]
    pub(crate) cert: PathBuf,
    /// The server private key (PEM).
    #[arg(long, value_name = "FILE")]
    pub(crate) key: PathBuf,
    /// The vendor CA chain (PEM): device certificates must chain to it.
    #[arg(long, value_name = "FILE")]
    pub(crate) vendor_chain: PathBuf,
    /// Require digest authentication of REGISTER with this password (any user name).
    #[arg(long, value_name = "PASSWORD")]
    pub(crate) password: Option<String>,
    /// Serve with the fleet acceptor (tokio, one task per connection, for
    /// thousands of devices) instead of one thread per connection (256 at most).
    #[arg(long = "async")]
    pub(crate) use_async: bool,
    /// Print no line per event (connections, registrations); `--async` still
    /// prints a `stats …` line each second when the counters changed.
    #[arg(long)]
    pub(crate) quiet: bool,
    /// `--async`: worker threads (default: one per CPU).
    #[arg(long, value_name = "N", requires = "use_async")]
    pub(crate) workers: Option<usize>,
    /// `--async`: most connections per client IP address.
    #[arg(long, value_name = "N", default_value_t = 64, requires = "use_async")]
    pub(crate) max_per_source: usize,
    /// Most connections in total (`--async`; the threaded server takes 256).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 20_000,
        requires = "use_async"
    )]
    pub(crate) max_connections: usize,
    /// `--async`: seconds a TLS handshake may take.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 10,
        requires = "use_async"
    )]
    pub(crate) handshake_timeout: u64,
    /// `--async`: seconds without traffic before a connection is closed.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 300,
        requires = "use_async"
    )]
    pub(crate) idle_timeout: u64,
}

fn parse_version(text: &str) -> Result<TlsVersion, String> {
    TlsVersion::parse(text).map_err(|e| e.to_string())
}

fn random_hex(n: usize) -> String {
    let mut out = String::new();
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut x = t ^ (u128::from(std::process::id()) << 64);
    for _ in 0..n {
        out.push(char::from(b"0123456789abcdef"[(x & 15) as usize]));
        x = x.rotate_right(4) ^ 0x9e37_79b9_7f4a_7c15;
    }
    out
}

fn options_request(domain: &str, local: Option<SocketAddr>) -> anyhow::Result<Message> {
    let host = local.map_or_else(
        || "invalid".to_owned(),
        |a| match a {
            SocketAddr::V4(v4) => format!("{}:{}", v4.ip(), v4.port()),
            SocketAddr::V6(v6) => format!("[{}]:{}", v6.ip(), v6.port()),
        },
    );
    let domain_host = if domain.parse::<std::net::Ipv6Addr>().is_ok() {
        format!("[{domain}]")
    } else {
        domain.to_owned()
    };
    let text = format!(
        "OPTIONS sip:{domain_host} SIP/2.0\r\n\
         Via: SIP/2.0/TLS {host};branch=z9hG4bK{};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:probe@{domain_host}>;tag={}\r\n\
         To: <sip:{domain_host}>\r\n\
         Call-ID: {}@sigil-probe\r\n\
         CSeq: 1 OPTIONS\r\n\
         User-Agent: sigil-probe\r\n\
         Accept: application/sdp\r\n\
         Content-Length: 0\r\n\r\n",
        random_hex(16),
        random_hex(8),
        random_hex(20)
    );
    sigil_sip::parse(text.as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot build OPTIONS for {domain:?}: {e}"))
}

fn build_store(args: &ProbeArgs) -> anyhow::Result<TrustStore> {
    let mut builder = TrustStore::builder().builtin(!args.no_builtin);
    if let Some(vendor) = &args.vendor {
        builder = builder.vendor_file(vendor)?;
    }
    let trusted = args
        .trusted
        .clone()
        .or_else(|| args.user.as_ref().map(|u| UserStore::new(u).trusted_dir()));
    if let Some(dir) = trusted {
        builder = builder.user_dir(&dir)?;
    }
    let store = builder.build();
    for refused in store.refused() {
        eprintln!("trust store: {} refused: {}", refused.path, refused.reason);
    }
    Ok(store)
}

fn identity(
    args: &ProbeArgs,
) -> Option<Arc<dyn sigil_sip_tls::rustls::client::ResolvesClientCert>> {
    if args.factory.is_none() && args.user.is_none() {
        return None;
    }
    // A path that does not exist stands for "no such partition".
    let none = std::env::temp_dir().join(format!("sigil-probe-none-{}", std::process::id()));
    let set = IdentitySet::load(
        &FactoryPartition::new(args.factory.clone().unwrap_or_else(|| none.clone())),
        &UserStore::new(args.user.clone().unwrap_or(none)),
    );
    let resolver = set.client_resolver();
    if resolver.candidates().is_empty() {
        eprintln!("no device identity loaded: {}", set.status().reason);
        return None;
    }
    Some(resolver)
}

/// Runs `sigil sip probe`.
pub fn probe(args: ProbeArgs) -> anyhow::Result<ExitCode> {
    let policy = TlsPolicy {
        min_version: args.tls_min,
        validate: !args.no_verify,
        ..TlsPolicy::default()
    };
    let store = Arc::new(build_store(&args)?);
    let connector = Connector::new(&args.domain, &policy, store, identity(&args))?;
    let settings = ConnectionSettings {
        keepalive_interval: None,
        ..ConnectionSettings::default()
    };
    let outcome = establish(&connector, &args.server, Duration::from_secs(5), settings).and_then(
        |(stream, conn)| {
            let info = conn.tls_info().cloned();
            exchange(stream, conn, &args.domain).map(|resp| (info, resp))
        },
    );
    match outcome {
        Ok((info, response)) => {
            let Some(info) = info else {
                anyhow::bail!("the handshake completed without connection details");
            };
            report_ok(&args, &info, response.as_ref())?;
            Ok(ExitCode::SUCCESS)
        }
        Err(Error::Handshake(d)) => {
            report_failure(&args, &d)?;
            Ok(ExitCode::from(1))
        }
        Err(other) => {
            let d = HandshakeDiagnosis::Protocol {
                detail: other.to_string(),
            };
            report_failure(&args, &d)?;
            Ok(ExitCode::from(1))
        }
    }
}

/// Sends OPTIONS and waits briefly for the response; a refusal of our
/// certificate after a TLS 1.3 handshake surfaces here as a handshake error.
fn exchange(
    mut stream: std::net::TcpStream,
    mut conn: sigil_sip_tls::SipTlsConnection,
    domain: &str,
) -> Result<Option<sigil_sip::Response>, Error> {
    let request = options_request(domain, stream.local_addr().ok()).map_err(|e| {
        Error::from(HandshakeDiagnosis::Protocol {
            detail: e.to_string(),
        })
    })?;
    conn.send(&request)?;
    conn.write_tls_to(&mut stream)?;
    let deadline = Instant::now() + RESPONSE_WAIT;
    let mut buf = vec![0u8; 16 * 1024];
    let mut response = None;
    // Bounded by the deadline.
    while response.is_none() && Instant::now() < deadline {
        stream.set_read_timeout(Some(
            deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1)),
        ))?;
        let result = match stream.read(&mut buf) {
            Ok(0) => conn.handle_eof(Instant::now()),
            Ok(n) => conn.handle_input(buf.get(..n).unwrap_or_default(), Instant::now()),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                Err(Error::from(HandshakeDiagnosis::PeerClosed))
            }
            Err(e) => Err(Error::Io(e)),
        };
        let _ = conn.write_tls_to(&mut stream);
        result?;
        let mut closed = false;
        while let Some(ev) = conn.poll_event() {
            match ev {
                ConnectionEvent::Message(Message::Response(r)) => response = Some(r),
                ConnectionEvent::Closed => closed = true,
                _ => {}
            }
        }
        if closed {
            break;
        }
    }
    conn.close();
    let _ = conn.write_tls_to(&mut stream);
    Ok(response)
}

fn client_cert_text(outcome: Option<&ClientAuthOutcome>) -> String {
    match outcome {
        Some(ClientAuthOutcome::Presented { subject }) => format!("sent ({subject})"),
        Some(ClientAuthOutcome::RequestedNone) => "requested by the server, none available".into(),
        _ => "not requested".into(),
    }
}

fn report_ok(
    args: &ProbeArgs,
    info: &TlsInfo,
    response: Option<&sigil_sip::Response>,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let status = info.verification_status();
    if args.json {
        let v = json!({
            "server": args.server,
            "domain": args.domain,
            "handshake": "completed",
            "tls_version": info.version,
            "cipher_suite": info.cipher_suite,
            "resumed": info.resumed,
            "server_chain": info.peer_chain,
            "verification": status,
            "verification_detail": info.verification,
            "client_certificate_sent": info.client_auth.as_ref().is_some_and(ClientAuthOutcome::sent),
            "client_auth": info.client_auth,
            "sip_response": response.map(|r| json!({ "status": r.status, "reason": r.reason })).unwrap_or(Value::Null),
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "server:             {} (SIP domain {})",
        args.server, args.domain
    )?;
    writeln!(out, "handshake:          completed")?;
    writeln!(out, "TLS version:        {}", info.version)?;
    writeln!(out, "cipher suite:       {}", info.cipher_suite)?;
    for (i, subject) in info.peer_chain.iter().enumerate() {
        let label = if i == 0 { "server chain:" } else { "" };
        writeln!(out, "{label:<20}{subject}")?;
    }
    match &info.verification {
        Some(v) => writeln!(out, "verification:       {status} ({v})")?,
        None => writeln!(out, "verification:       {status}")?,
    }
    writeln!(
        out,
        "client certificate: {}",
        client_cert_text(info.client_auth.as_ref())
    )?;
    match response {
        Some(r) => writeln!(out, "SIP response:       {} {}", r.status, r.reason)?,
        None => writeln!(
            out,
            "SIP response:       none within {} s",
            RESPONSE_WAIT.as_secs()
        )?,
    }
    Ok(())
}

fn report_failure(args: &ProbeArgs, d: &HandshakeDiagnosis) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if args.json {
        let v = json!({
            "server": args.server,
            "domain": args.domain,
            "handshake": "failed",
            "diagnosis": d.code(),
            "detail": d,
            "message": d.to_string(),
            "fix": d.fix(),
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        writeln!(
            out,
            "server:             {} (SIP domain {})",
            args.server, args.domain
        )?;
        writeln!(out, "handshake:          failed")?;
        writeln!(out, "diagnosis:          {d}")?;
        writeln!(out, "fix:                {}", d.fix())?;
    }
    Ok(())
}

/// Runs `sigil sip serve` until the process is killed.
pub fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let verifier = DeviceVerifier::from_pem_file(&args.vendor_chain)
        .with_context(|| format!("vendor chain {}", args.vendor_chain.display()))?;
    let acceptor = Acceptor::from_pem_files(
        &args.cert,
        &args.key,
        ClientAuth::Required(Arc::new(verifier)),
        &TlsPolicy::default(),
    )?;
    let quiet = args.quiet;
    let registrar = Registrar::new(None, args.password.as_deref()).with_reporter(move |event| {
        if !quiet {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{event}");
            let _ = out.flush();
        }
    });
    if args.use_async {
        return super::sip_serve_async::serve(&args, acceptor, Arc::new(registrar));
    }
    let server = Server::bind(args.listen, acceptor, ServerOptions::default())
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "listening on tls:{} (device certificates required)",
            server.local_addr()?
        )?;
        out.flush()?;
    }
    server.run(Arc::new(registrar))?;
    Ok(ExitCode::SUCCESS)
}
