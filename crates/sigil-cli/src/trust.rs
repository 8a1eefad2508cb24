//! `sigil trust`: list the layered trust store and verify a server chain against it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use sigil_trust::{ExpectedName, Layer, RefuseReason, TrustStore, VerifyError};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Where the store comes from (shared by both commands).
#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    /// The user folder of uploaded anchors (`certs/trusted/`); every file in it is read.
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// The vendor CA chain (PEM or DER), a third layer of anchors.
    #[arg(long, value_name = "FILE")]
    vendor: Option<PathBuf>,
    /// Leave out the built-in web PKI roots (webpki-roots).
    #[arg(long)]
    no_builtin: bool,
}

impl StoreArgs {
    fn build(&self, clock: Option<OffsetDateTime>) -> anyhow::Result<TrustStore> {
        let mut builder = TrustStore::builder().builtin(!self.no_builtin);
        if let Some(at) = clock {
            builder = builder.clock(at);
        }
        if let Some(vendor) = &self.vendor {
            builder = builder.vendor_file(vendor)?;
        }
        Ok(builder.user_dir(&self.dir)?.build())
    }
}

/// The trust store: built-in roots, vendor chain, uploaded anchors.
#[derive(Debug, clap::Subcommand)]
pub enum Cmd {
    /// List every anchor (layer, source, subject, issuer, SHA-256, validity, problems)
    /// and every refused file with its reason. Exit 0.
    List {
        #[command(flatten)]
        store: StoreArgs,
        /// Print the listing as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Verify a server's chain (leaf first) for a name, as the TLS client would.
    /// Prints `verified: …` and exits 0, or `not verified: <reason>` and exits 1.
    Verify {
        #[command(flatten)]
        store: StoreArgs,
        /// The server's chain, PEM or DER, server certificate first.
        #[arg(long, value_name = "FILE")]
        chain: PathBuf,
        /// The name the server must prove: a DNS name or an IP address
        /// (with --sip: the SIP domain).
        #[arg(long, value_name = "NAME")]
        name: String,
        /// Check NAME as a SIP domain (RFC 5922: `sip:` URI subjectAltNames first, then DNS names).
        #[arg(long)]
        sip: bool,
        /// With --sip: strict RFC 5922, no wildcard DNS names.
        #[arg(long, requires = "sip")]
        strict: bool,
        /// The clock to verify at (RFC 3339, e.g. 2030-01-01T00:00:00Z); default: now.
        #[arg(long, value_name = "RFC3339", value_parser = parse_rfc3339)]
        at: Option<OffsetDateTime>,
    },
}

fn parse_rfc3339(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|e| format!("not an RFC 3339 time like 2030-01-01T00:00:00Z ({e})"))
}

/// Runs a `sigil trust` command.
pub fn run(cmd: Cmd) -> anyhow::Result<ExitCode> {
    match cmd {
        Cmd::List { store, json } => list(&store, json),
        Cmd::Verify {
            store,
            chain,
            name,
            sip,
            strict,
            at,
        } => verify(&store, &chain, &name, sip, strict, at),
    }
}

fn fmt_time(at: &Option<OffsetDateTime>) -> String {
    at.and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "-".into())
}

fn list(args: &StoreArgs, json: bool) -> anyhow::Result<ExitCode> {
    let store = args.build(None)?;
    let listing = store.listing();
    if json {
        println!("{}", listing.to_json());
        return Ok(ExitCode::SUCCESS);
    }
    for anchor in &listing.anchors {
        println!("anchor [{}] {}", anchor.layer, anchor.source);
        println!("  subject:  {}", anchor.subject);
        if let Some(issuer) = &anchor.issuer {
            println!("  issuer:   {issuer}");
        }
        match &anchor.sha256 {
            Some(fp) => println!("  sha256:   {fp}"),
            None => println!("  spki sha256: {}", anchor.spki_sha256),
        }
        if anchor.not_before.is_some() || anchor.not_after.is_some() {
            println!(
                "  valid:    {} to {}",
                fmt_time(&anchor.not_before),
                fmt_time(&anchor.not_after)
            );
        }
        if anchor.problems.is_empty() {
            println!("  problems: none");
        } else {
            let problems: Vec<String> = anchor.problems.iter().map(ToString::to_string).collect();
            println!("  problems: {}", problems.join("; "));
        }
    }
    for refused in &listing.refused {
        println!("refused {}: {}", refused.path, refused.reason);
    }
    let count = |layer: Layer| listing.anchors.iter().filter(|a| a.layer == layer).count();
    println!(
        "{} anchors ({} built-in, {} vendor, {} user), {} refused files",
        listing.anchors.len(),
        count(Layer::BuiltIn),
        count(Layer::Vendor),
        count(Layer::User),
        listing.refused.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn verify(
    args: &StoreArgs,
    chain_path: &std::path::Path,
    name: &str,
    sip: bool,
    strict: bool,
    at: Option<OffsetDateTime>,
) -> anyhow::Result<ExitCode> {
    // refused files are reported on stderr by the store's log (level warn)
    let store = args.build(at)?;
    let bytes = std::fs::read(chain_path)
        .with_context(|| format!("cannot read the chain file {}", chain_path.display()))?;
    let chain = match sigil_trust::parse_file(&bytes) {
        Ok(chain) => chain,
        Err(RefuseReason::MalformedCertificate { index, detail }) => {
            println!("not verified: {}", VerifyError::Malformed { index, detail });
            return Ok(ExitCode::from(1));
        }
        Err(reason) => anyhow::bail!("the chain file {}: {reason}", chain_path.display()),
    };
    let expected = if sip {
        ExpectedName::sip(name, strict)
    } else {
        ExpectedName::host(name)
    };
    let now = sigil_trust::unix_time(at.unwrap_or_else(OffsetDateTime::now_utc));
    match store.verify(&chain, &expected, now) {
        Ok(verified) => {
            println!("verified: {verified}");
            Ok(ExitCode::SUCCESS)
        }
        Err(reason) => {
            println!("not verified: {reason}");
            Ok(ExitCode::from(1))
        }
    }
}
