//! The trust-store checker: does this server chain verify, and if not, why?
//!
//! ```text
//! check_chain [CHAIN.pem NAME [TRUSTED_DIR]]
//! ```
//!
//! With a chain (the server's certificate first, then its intermediates, PEM
//! or DER), it is verified for NAME (a host name or IP address) against the
//! built-in web PKI roots plus the CA certificates in TRUSTED_DIR (a
//! device's `certs/trusted/`). It prints the store, the verdict and the
//! diagnostics, and exits 0 only when verified.
//!
//! Without arguments it makes a small PKI in a temporary directory (a root
//! uploaded to `certs/trusted/` next to a private key uploaded by mistake,
//! an intermediate, server certificates) and shows one chain that verifies
//! and three that do not — unknown issuer, expired, wrong name — with what
//! an installer would be told. It exits 0 when each verdict is the expected one.
//!
//! `cargo run -p sigil-trust --example check_chain`

use std::path::Path;
use std::process::ExitCode;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use sigil_trust::pki_types::{CertificateDer, UnixTime};
use sigil_trust::{parse_file, ExpectedName, TrustStore, VerifyError};
use time::{Duration, OffsetDateTime};

type Error = Box<dyn std::error::Error>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first() {
        Some(chain) => check_file(
            Path::new(chain),
            args.get(1).map(String::as_str),
            args.get(2).map(Path::new),
        ),
        None => demo(),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("check_chain: {e}");
            ExitCode::from(2)
        }
    }
}

/// Prints what the store holds: counts per layer and every refused file.
fn print_store(store: &TrustStore) {
    let listing = store.listing();
    let count = |layer: &str| {
        listing
            .anchors
            .iter()
            .filter(|a| a.layer.to_string() == layer)
            .count()
    };
    println!(
        "trust store: {} built-in, {} vendor, {} uploaded anchors",
        count("built-in"),
        count("vendor"),
        count("user")
    );
    for refused in store.refused() {
        println!("  refused {}: {}", refused.path, refused.reason);
    }
}

/// Verifies `chain` for `name` now and prints the verdict.
fn verdict(
    store: &TrustStore,
    chain: &[CertificateDer<'_>],
    name: &ExpectedName,
) -> Result<(), VerifyError> {
    match store.verify(chain, name, UnixTime::now()) {
        Ok(verified) => {
            println!("  VERIFIED: {verified}");
            Ok(())
        }
        Err(e) => {
            println!("  NOT VERIFIED: {e}");
            Err(e)
        }
    }
}

fn check_file(chain: &Path, name: Option<&str>, trusted: Option<&Path>) -> Result<bool, Error> {
    let bytes =
        std::fs::read(chain).map_err(|e| format!("cannot read {}: {e}", chain.display()))?;
    let certs = parse_file(&bytes).map_err(|e| format!("{}: {e}", chain.display()))?;
    let mut builder = TrustStore::builder();
    if let Some(dir) = trusted {
        builder = builder.user_dir(dir)?;
    }
    let store = builder.build();
    print_store(&store);
    let Some(name) = name else {
        return Err("usage: check_chain [CHAIN.pem NAME [TRUSTED_DIR]] \
                    (NAME: the host name or IP address the server must have)"
            .into());
    };
    println!(
        "{} ({} certificates) for {name}:",
        chain.display(),
        certs.len()
    );
    Ok(verdict(&store, &certs, &ExpectedName::host(name)).is_ok())
}

/// A CA certificate and its issuer.
struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn ca(name: &str, parent: Option<&Ca>) -> Result<Ca, Error> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = match parent {
        Some(parent) => params.signed_by(&key, &parent.issuer)?,
        None => params.self_signed(&key)?,
    };
    Ok(Ca {
        pem: cert.pem(),
        issuer: Issuer::new(params, key),
    })
}

/// A server certificate for `name` issued by `issuer`, valid for a year until `not_after`.
fn server(name: &str, issuer: &Ca, not_after: OffsetDateTime) -> Result<rcgen::Certificate, Error> {
    let mut params = CertificateParams::new(vec![name.to_owned()])?;
    params.distinguished_name.push(DnType::CommonName, name);
    params.not_before = not_after - Duration::days(365);
    params.not_after = not_after;
    Ok(params.signed_by(&KeyPair::generate()?, &issuer.issuer)?)
}

fn demo() -> Result<bool, Error> {
    let now = OffsetDateTime::now_utc();
    let root = ca("Example Root CA", None)?;
    let intermediate = ca("Example SIP CA", Some(&root))?;
    let stranger = ca("Someone Else's CA", None)?;

    // The installer's uploads: the root, and a private key by mistake.
    let dir = tempfile::tempdir()?;
    let trusted = dir.path().join("certs/trusted");
    std::fs::create_dir_all(&trusted)?;
    std::fs::write(trusted.join("example-root.pem"), &root.pem)?;
    std::fs::write(
        trusted.join("server.key"),
        KeyPair::generate()?.serialize_pem(),
    )?;
    let store = TrustStore::builder().user_dir(&trusted)?.build();
    print_store(&store);

    let intermediate_der = parse_file(intermediate.pem.as_bytes())?.remove(0);
    let good = server("sip.example.com", &intermediate, now + Duration::days(300))?;
    // The chain file a server would send, written and read back as the checker does.
    let chain_file = dir.path().join("chain.pem");
    std::fs::write(&chain_file, format!("{}{}", good.pem(), intermediate.pem))?;
    let chain = parse_file(&std::fs::read(&chain_file)?)?;

    let sip = ExpectedName::sip("sip.example.com", false);
    let mut ok = true;

    println!("1. sip.example.com, chain to the uploaded root:");
    ok &= verdict(&store, &chain, &sip).is_ok();

    println!("2. a server certificate from a CA nobody uploaded:");
    let foreign = vec![
        server("sip.example.com", &stranger, now + Duration::days(300))?
            .der()
            .clone(),
    ];
    ok &= matches!(
        verdict(&store, &foreign, &sip),
        Err(VerifyError::UnknownIssuer { .. })
    );

    println!("3. a server certificate that expired last week:");
    let expired = vec![
        server("sip.example.com", &intermediate, now - Duration::days(7))?
            .der()
            .clone(),
        intermediate_der,
    ];
    ok &= matches!(
        verdict(&store, &expired, &sip),
        Err(VerifyError::Expired { .. })
    );

    println!("4. the good chain, but the device dialled pbx.example.org:");
    ok &= matches!(
        verdict(&store, &chain, &ExpectedName::sip("pbx.example.org", false)),
        Err(VerifyError::NameMismatch { .. })
    );

    println!(
        "{}",
        if ok {
            "every verdict as expected"
        } else {
            "UNEXPECTED VERDICT"
        }
    );
    Ok(ok && store.refused().len() == 1)
}
