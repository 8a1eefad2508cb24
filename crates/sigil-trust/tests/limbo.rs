//! x509-limbo path-validation cases (the TLS-server subset in
//! `testdata/x509-limbo/` of the repository) run against OUR verifier,
//! [`TrustStore::verify`]: anchors are the case's `trusted_certs` loaded the
//! way an installer's uploads are ([`TrustStoreBuilder::user_bytes`], built-in
//! roots off), the chain is the leaf followed by `untrusted_intermediates`,
//! the name is checked with our name check ([`ExpectedName::Dns`] /
//! [`ExpectedName::Ip`]) and the clock is the case's `validation_time`.
//!
//! Every case where our answer differs from limbo's must be listed in
//! `tests/limbo-divergences.json` with its category and reason; the test fails
//! on any unlisted difference and on any listed divergence that now matches.
//! Divergences we inherit from rustls-webpki must also be in the data's own
//! `exceptions.json` (same answer, same category); the webpki divergences our
//! additions repair are listed under `fixed` and must really match now.
//! See `crates/sigil-trust/LIMBO.md`.
//!
//! Run: `cargo test -p sigil-trust --test limbo -- --nocapture`
//! (`LIMBO_VERBOSE=1` prints every case with our answer and reason).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, UnixTime};
use serde_json::Value;
use sigil_trust::{ExpectedName, TrustStore, VerifyError};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// One JSON file of the suite in the repository's `testdata/x509-limbo/`.
fn load_json(name: &str) -> Value {
    let path = sigil_testkit::testdata(&format!("x509-limbo/{name}"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    fn parse(text: &str) -> Outcome {
        match text {
            "SUCCESS" => Outcome::Success,
            "FAILURE" => Outcome::Failure,
            other => panic!("unknown result {other:?}"),
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Outcome::Success => "SUCCESS",
            Outcome::Failure => "FAILURE",
        })
    }
}

fn str_field<'a>(case: &'a Value, field: &str) -> &'a str {
    case.get(field)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("case field {field:?} is not a string: {case:.200}"))
}

fn pem_list(case: &Value, field: &str) -> Vec<String> {
    case.get(field)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("case field {field:?} is not a list"))
        .iter()
        .map(|v| v.as_str().expect("PEM strings").to_owned())
        .collect()
}

/// Why a case failed: a short kind for the tally, and the message.
struct Failed {
    kind: String,
    message: String,
}

impl Failed {
    fn harness(kind: &str, message: String) -> Failed {
        Failed {
            kind: kind.to_owned(),
            message,
        }
    }
}

/// Runs one case through our verifier.
fn run_case(case: &Value) -> Result<(), Failed> {
    let leaf_pem = str_field(case, "peer_certificate");
    let leaf = CertificateDer::from_pem_slice(leaf_pem.as_bytes())
        .map_err(|e| Failed::harness("leaf_pem", format!("leaf PEM does not parse: {e}")))?;
    // Intermediates that do not even decode from PEM cannot be sent by a server; skip them.
    let mut chain = vec![leaf];
    for pem in pem_list(case, "untrusted_intermediates") {
        if let Ok(der) = CertificateDer::from_pem_slice(pem.as_bytes()) {
            chain.push(der);
        }
    }

    let now = match case.get("validation_time").and_then(Value::as_str) {
        // floors fractional seconds, as rustls' UnixTime does
        Some(text) => OffsetDateTime::parse(text, &Rfc3339)
            .map_err(|e| format!("validation_time {text:?}: {e}"))
            .map(sigil_trust::unix_time)
            .expect("limbo times are RFC 3339"),
        None => UnixTime::now(),
    };
    let clock = OffsetDateTime::from_unix_timestamp(now.as_secs() as i64).expect("in range");

    // Each trusted certificate is one uploaded file, through the upload checks.
    let mut builder = TrustStore::builder().builtin(false).clock(clock);
    for (i, pem) in pem_list(case, "trusted_certs").iter().enumerate() {
        builder = builder.user_bytes(&format!("trusted-{i}.pem"), pem.as_bytes());
    }
    let store = builder.build();
    if store.is_empty() {
        let why: Vec<String> = store
            .refused()
            .iter()
            .map(|r| r.reason.to_string())
            .collect();
        return Err(Failed::harness(
            "no_anchor_loaded",
            format!("every trusted cert was refused: {}", why.join("; ")),
        ));
    }

    let name = case.get("expected_peer_name").expect("expected_peer_name");
    let value = str_field(name, "value");
    let expected = match str_field(name, "kind") {
        "DNS" => ExpectedName::Dns(value.to_owned()),
        "IP" => ExpectedName::Ip(
            value
                .parse::<IpAddr>()
                .unwrap_or_else(|e| panic!("IP {value:?}: {e}")),
        ),
        other => panic!("unexpected name kind {other:?}"),
    };

    store
        .verify(&chain, &expected, now)
        .map(|_| ())
        .map_err(|e: VerifyError| Failed {
            kind: serde_json::to_value(&e)
                .ok()
                .and_then(|v| v["reason"].as_str().map(str::to_owned))
                .unwrap_or_else(|| "unknown".into()),
            message: e.to_string(),
        })
}

/// One entry of our own divergence list.
struct Listed {
    actual: Outcome,
    category: String,
    reason: String,
}

#[test]
fn limbo_server_subset() {
    let suite = load_json("limbo-server-subset.json");
    let exceptions = load_json("exceptions.json");
    let ours: Value = serde_json::from_str(include_str!("limbo-divergences.json"))
        .expect("tests/limbo-divergences.json is valid JSON");

    let mut listed: BTreeMap<String, Listed> = BTreeMap::new();
    for entry in ours["divergences"].as_array().expect("divergences list") {
        let id = str_field(entry, "id").to_owned();
        let item = Listed {
            actual: Outcome::parse(str_field(entry, "actual")),
            category: str_field(entry, "category").to_owned(),
            reason: str_field(entry, "reason").to_owned(),
        };
        assert!(!item.reason.is_empty(), "{id}: empty reason");
        assert!(
            listed.insert(id.clone(), item).is_none(),
            "{id} listed twice"
        );
    }
    let mut fixed: BTreeMap<String, String> = BTreeMap::new();
    for entry in ours["fixed"].as_array().expect("fixed list") {
        let id = str_field(entry, "id").to_owned();
        let reason = str_field(entry, "reason").to_owned();
        assert!(
            !listed.contains_key(&id),
            "{id} is both a divergence and fixed"
        );
        assert!(
            fixed.insert(id.clone(), reason).is_none(),
            "{id} fixed twice"
        );
    }

    // The list must be honest about where a divergence comes from.
    let mut problems = Vec::new();
    for (id, item) in &listed {
        if let Some(upstream) = item.category.strip_prefix("webpki:") {
            match exceptions.get(id) {
                None => problems.push(format!(
                    "{id}: category {} but not in exceptions.json",
                    item.category
                )),
                Some(exc) => {
                    if exc["category"].as_str() != Some(upstream) {
                        problems.push(format!(
                            "{id}: category {} but exceptions.json says {}",
                            item.category, exc["category"]
                        ));
                    }
                    if exc["actual"].as_str() != Some(&item.actual.to_string()) {
                        problems.push(format!(
                            "{id}: we list {} but webpki's actual was {}",
                            item.actual, exc["actual"]
                        ));
                    }
                }
            }
        } else if !item.category.starts_with("sigil:") {
            problems.push(format!(
                "{id}: category {} must start with webpki: or sigil:",
                item.category
            ));
        }
    }
    for id in fixed.keys() {
        if exceptions.get(id).is_none() {
            problems.push(format!("{id}: listed as fixed but not in exceptions.json"));
        }
    }

    let cases = suite["testcases"].as_array().expect("testcases");
    assert_eq!(cases.len(), 354, "the subset has 354 cases");
    let mut seen = BTreeSet::new();
    let mut matches = 0usize;
    let mut documented: BTreeMap<String, usize> = BTreeMap::new();
    let mut fixed_seen = 0usize;
    // (limbo's answer, our failure reason) -> count
    let mut failure_kinds: BTreeMap<(Outcome, String), usize> = BTreeMap::new();
    let verbose = std::env::var_os("LIMBO_VERBOSE").is_some();
    for case in cases {
        let id = str_field(case, "id").to_owned();
        assert!(seen.insert(id.clone()), "duplicate case id {id}");
        let expected = Outcome::parse(str_field(case, "expected_result"));
        let result = std::panic::catch_unwind(|| run_case(case));
        let result = match result {
            Ok(result) => result,
            Err(_) => {
                problems.push(format!("{id}: PANICKED (see the panic message above)"));
                continue;
            }
        };
        let actual = if result.is_ok() {
            Outcome::Success
        } else {
            Outcome::Failure
        };
        let why = match result {
            Ok(()) => String::new(),
            Err(failed) => {
                *failure_kinds
                    .entry((expected, failed.kind.clone()))
                    .or_default() += 1;
                format!(" ({}: {})", failed.kind, failed.message)
            }
        };
        if verbose {
            println!("{id}: limbo {expected}, ours {actual}{why}");
        }
        match listed.get(&id) {
            Some(item) if actual != expected && item.actual == actual => {
                *documented.entry(item.category.clone()).or_default() += 1;
            }
            Some(item) => problems.push(format!(
                "{id}: listed as a divergence ({}: {}) but now limbo {expected} / ours {actual}: \
                 remove it from tests/limbo-divergences.json (and LIMBO.md){why}",
                item.category, item.reason
            )),
            None if actual == expected => {
                matches += 1;
                if fixed.contains_key(&id) {
                    fixed_seen += 1;
                }
            }
            None => problems.push(format!(
                "{id}: UNDOCUMENTED divergence: limbo {expected}, ours {actual}{why}"
            )),
        }
        if fixed.contains_key(&id) && actual != expected {
            problems.push(format!(
                "{id}: listed as fixed (\"{}\") but ours is {actual}, limbo {expected}",
                fixed[&id]
            ));
        }
    }
    for id in listed.keys().chain(fixed.keys()) {
        if !seen.contains(id) {
            problems.push(format!("{id}: listed but not a case of the suite"));
        }
    }

    let total_documented: usize = documented.values().sum();
    let by_category: Vec<String> = documented
        .iter()
        .map(|(category, n)| format!("{category} {n}"))
        .collect();
    println!(
        "x509-limbo: {} cases, {matches} match, {total_documented} documented divergences \
         ({}); {fixed_seen} webpki divergences fixed by our additions \
         (plain rustls-webpki 0.103: 298 match, 56 diverge)",
        cases.len(),
        by_category.join(", ")
    );
    let kinds: Vec<String> = failure_kinds
        .iter()
        .map(|((limbo, kind), n)| format!("{kind} {n} (limbo {limbo})"))
        .collect();
    println!("x509-limbo: our failures by reason: {}", kinds.join(", "));
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}
