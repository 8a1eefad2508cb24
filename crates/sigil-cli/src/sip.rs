//! `sigil sip`: SIP messages (parse now; `probe` and `serve` join this enum with the TLS transport).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use base64::Engine as _;
use serde_json::{json, Value};
use sigil_sip::{Limits, Message, NameAddr, Param, Uri};

#[path = "sip_serve_async.rs"]
mod sip_serve_async;
#[path = "sip_tls.rs"]
mod sip_tls;

/// SIP messages and SIP over TLS.
#[derive(Debug, clap::Subcommand)]
pub enum Cmd {
    /// Parse one SIP message from FILE ("-" for stdin) and print it in
    /// canonical form (exit 0), or print the error with its byte offset (exit 1).
    Parse {
        /// The message file (a datagram's worth: start line, headers, body).
        file: PathBuf,
        /// Print the parsed message as JSON (headers in order plus typed fields).
        #[arg(long)]
        json: bool,
    },
    /// Connect to a SIP server over TLS, handshake, send OPTIONS and print TLS
    /// version, cipher suite, server chain, verification, client certificate
    /// and the SIP response. Exit 0 when the handshake completed, 1 with the diagnosis otherwise.
    Probe(sip_tls::ProbeArgs),
    /// A minimal SIP-over-TLS registrar for labs and tests: requires device
    /// certificates, answers OPTIONS, accepts REGISTER (digest with --password),
    /// logs each device's MAC and registration; runs until killed. `--async`
    /// serves with the fleet acceptor (thousands of devices, with limits).
    Serve(sip_tls::ServeArgs),
}

/// Run a `sigil sip` command.
pub fn run(cmd: Cmd) -> anyhow::Result<ExitCode> {
    match cmd {
        Cmd::Parse { file, json } => parse(&file, json),
        Cmd::Probe(args) => sip_tls::probe(args),
        Cmd::Serve(args) => sip_tls::serve(args),
    }
}

fn read_input(file: &PathBuf, limit: usize) -> anyhow::Result<Vec<u8>> {
    let mut data = Vec::new();
    let reader: Box<dyn Read> = if file.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(
            std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?,
        )
    };
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut data)
        .with_context(|| format!("cannot read {}", file.display()))?;
    Ok(data)
}

fn parse(file: &PathBuf, as_json: bool) -> anyhow::Result<ExitCode> {
    let limits = Limits::default();
    let data = read_input(file, limits.max_head_len + limits.max_body_len)?;
    match sigil_sip::parse_with(&data, &limits) {
        Ok(message) => {
            let canonical = message.to_canonical();
            let mut out = std::io::stdout().lock();
            if as_json {
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&to_json(&canonical))?
                )?;
            } else {
                out.write_all(&canonical.to_bytes())?;
            }
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if as_json {
                let v = json!({ "error": e.kind.to_string(), "offset": e.offset });
                println!("{}", serde_json::to_string_pretty(&v)?);
            }
            eprintln!("{}: {} (at byte {})", file.display(), e.kind, e.offset);
            Ok(ExitCode::from(1))
        }
    }
}

fn params(ps: &[Param]) -> Value {
    Value::Array(
        ps.iter()
            .map(|p| json!({ "name": p.name, "value": p.unquoted() }))
            .collect(),
    )
}

fn uri(u: &Uri) -> Value {
    match u {
        Uri::Sip(s) => json!({
            "text": u.to_string(),
            "scheme": if s.secure { "sips" } else { "sip" },
            "user": s.user,
            "host": s.host,
            "port": s.port,
            "transport": s.transport(),
        }),
        Uri::Other { scheme, .. } => json!({ "text": u.to_string(), "scheme": scheme }),
    }
}

fn addr(a: &NameAddr) -> Value {
    json!({
        "display_name": a.display_name_text(),
        "uri": uri(&a.uri),
        "tag": a.tag(),
        "expires": a.expires(),
        "params": params(&a.params),
    })
}

fn to_json(m: &Message) -> Value {
    let h = m.headers();
    let mut v = match m {
        Message::Request(r) => {
            json!({ "kind": "request", "method": r.method.as_str(), "uri": uri(&r.uri) })
        }
        Message::Response(r) => {
            json!({ "kind": "response", "status": r.status, "reason": r.reason })
        }
    };
    let headers: Vec<Value> = h
        .iter()
        .map(|x| json!({ "name": x.name().as_str(), "value": x.value() }))
        .collect();
    let via: Vec<Value> = h
        .via()
        .iter()
        .map(|x| {
            json!({
                "transport": x.transport, "host": x.host, "port": x.port, "branch": x.branch(),
                "received": x.received(), "rport": x.rport().map(|p| p.map_or(Value::Bool(true), |p| json!(p))),
                "alias": x.alias(), "params": params(&x.params),
            })
        })
        .collect();
    let body = m.body();
    v["headers"] = Value::Array(headers);
    v["typed"] = json!({
        "via": via,
        "from": h.from().as_ref().map(addr),
        "to": h.to().as_ref().map(addr),
        "call_id": h.call_id(),
        "cseq": h.cseq().map(|c| json!({ "seq": c.seq, "method": c.method.as_str() })),
        "contact": if h.contact_is_star() { json!("*") } else { Value::Array(h.contacts().iter().map(addr).collect()) },
        "max_forwards": h.max_forwards(),
        "expires": h.expires(),
        "content_type": h.content_type().map(|c| c.to_string()),
        "content_length": body.len(),
        "route": h.route().iter().map(addr).collect::<Vec<_>>(),
        "record_route": h.record_route().iter().map(addr).collect::<Vec<_>>(),
        "warning": h.warnings().iter().map(|w| json!({ "code": w.code, "agent": w.agent, "text": w.text })).collect::<Vec<_>>(),
    });
    match std::str::from_utf8(body) {
        Ok(text) => v["body"] = json!(text),
        Err(_) => v["body_base64"] = json!(base64::engine::general_purpose::STANDARD.encode(body)),
    }
    v
}
