//! Factory identity, override, web certificate, status and factory reset on real directories.
#![cfg(feature = "mint")]

mod common;

use common::*;
use sigil_identity::mint::{mint_device, mint_server, DeviceRequest, KeyKind, ServerRequest};
use sigil_identity::{
    ActiveIdentity, FactoryPartition, IdentitySet, Mac, SlotState, UserStore, Validity, WebOrigin,
};

fn first_cert_fingerprint(pem_path: &std::path::Path) -> String {
    let pem = std::fs::read_to_string(pem_path).unwrap();
    sigil_identity::fingerprint(certs(&pem)[0].as_ref())
}

#[test]
fn fresh_device_uses_the_factory_identity_and_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let ca = vendor("Acme Paging");
    let factory = factory(&dir.path().join("factory"), &ca, mac());
    let user = UserStore::new(dir.path().join("user"));
    let set = IdentitySet::load(&factory, &user);
    let status = set.status();

    assert_eq!(status.active, ActiveIdentity::Factory);
    assert!(status.client_auth);
    assert_eq!(status.factory.state, SlotState::Installed);
    assert_eq!(status.sipclient.state, SlotState::Absent);
    assert_eq!(status.httpd.state, SlotState::Absent);
    assert!(
        status.reason.contains("no certs/sipclient.pem"),
        "{}",
        status.reason
    );
    let cert = status.factory.certificate.as_ref().unwrap();
    assert_eq!(cert.mac, Some(mac()));
    assert_eq!(cert.common_name.as_deref(), Some(MAC));
    assert!(cert.subject.contains(MAC), "{}", cert.subject);
    assert_eq!(cert.issuer, "O=Acme Paging, CN=Acme Paging Device CA");
    assert_eq!(cert.key, "ECDSA P-256");
    assert!(cert.client_auth && cert.server_auth && !cert.is_ca);
    assert_eq!(status.factory.validity, Some(Validity::Valid));
    assert_eq!(
        cert.fingerprint_sha256,
        first_cert_fingerprint(&factory.cert_path())
    );
    let years = cert.not_after.year() - time::OffsetDateTime::now_utc().year();
    assert_eq!(years, 30);
    assert_eq!(
        status.factory.chain.len(),
        1,
        "device.pem = device certificate + intermediate"
    );

    assert_eq!(set.mac(), Some(mac()));
    // The presented chain is leaf + intermediate.
    assert_eq!(set.active().unwrap().chain().len(), 2);

    let json = serde_json::to_value(status).unwrap();
    assert_eq!(json["active"], "factory");
    assert_eq!(json["factory"]["certificate"]["mac"], MAC);
    assert_eq!(json["factory"]["state"], "installed");
    assert!(json["factory"]["certificate"]["not_after"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    let text = status.to_string();
    assert!(
        text.contains("Manufacturer certificate: installed"),
        "{text}"
    );
    assert!(text.contains("MAC:         00:22:ee:01:02:03"), "{text}");
}

#[test]
fn device_without_factory_certificate_works_without_client_auth() {
    let dir = tempfile::tempdir().unwrap();
    let set = IdentitySet::load(
        &FactoryPartition::new(dir.path().join("nope")),
        &UserStore::new(dir.path()),
    );
    let status = set.status();
    assert_eq!(status.active, ActiveIdentity::None);
    assert!(!status.client_auth);
    assert_eq!(status.factory.state, SlotState::Absent);
    assert!(
        status.reason.contains("no manufacturer certificate"),
        "{}",
        status.reason
    );
    assert!(
        status.reason.contains("without client authentication"),
        "{}",
        status.reason
    );
    assert!(set.active().is_none());
    use rustls::client::ResolvesClientCert;
    assert!(!set.client_resolver().has_certs());
}

#[test]
fn factory_key_that_does_not_match_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let ca = vendor("Acme Paging");
    let factory = factory(dir.path(), &ca, mac());
    let other = mint_device(&ca, &DeviceRequest::new(Mac::new([2; 6]))).unwrap();
    std::fs::write(factory.key_path(), other.key_pem()).unwrap();
    let set = IdentitySet::load(&factory, &UserStore::new(dir.path().join("user")));
    assert_eq!(set.status().factory.state, SlotState::Rejected);
    assert_eq!(
        set.status().factory.problem.as_ref().unwrap().code,
        "key_mismatch"
    );
    assert_eq!(set.status().active, ActiveIdentity::None);
}

#[test]
fn valid_override_replaces_the_factory_identity() {
    let dir = tempfile::tempdir().unwrap();
    let ca = vendor("Acme Paging");
    let operator = vendor("Hosted PBX Operator");
    let factory = factory(&dir.path().join("factory"), &ca, mac());
    let user = UserStore::new(dir.path().join("user"));
    let ldevid = mint_device(&operator, &DeviceRequest::new(Mac::new([0xaa; 6]))).unwrap();
    ldevid.write_combined(&user.sipclient_path()).unwrap();

    let set = IdentitySet::load(&factory, &user);
    assert_eq!(set.status().active, ActiveIdentity::Override);
    assert_eq!(set.status().sipclient.state, SlotState::Installed);
    assert_eq!(
        set.active().unwrap().certificate().mac,
        Some(Mac::new([0xaa; 6]))
    );
    assert_eq!(
        set.active().unwrap().certificate().fingerprint_sha256,
        first_cert_fingerprint(&user.sipclient_path())
    );
}

/// Each broken override is not used, the factory identity stays active, and the status says why.
#[test]
fn broken_overrides_fall_back_to_the_factory_identity_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let ca = vendor("Acme Paging");
    let factory = factory(&dir.path().join("factory"), &ca, mac());
    let user = UserStore::new(dir.path().join("user"));
    std::fs::create_dir_all(user.certs_dir()).unwrap();
    let good = mint_device(&ca, &DeviceRequest::new(Mac::new([0xaa; 6]))).unwrap();
    let other = mint_device(&ca, &DeviceRequest::new(Mac::new([0xbb; 6]))).unwrap();
    let expired = expired_device(&ca, Mac::new([0xcc; 6]));
    let server = mint_server(&ca, &ServerRequest::new(["sip.example.com"])).unwrap();

    let cases: Vec<(&str, String, &str)> = vec![
        ("no key", good.full_chain_pem(), "no_key"),
        (
            "key of another device",
            format!("{}{}", good.full_chain_pem(), other.key_pem()),
            "key_mismatch",
        ),
        ("key only", good.key_pem().to_owned(), "no_certificate"),
        ("expired", expired.combined_pem().to_string(), "expired"),
        (
            "server certificate",
            server.combined_pem().to_string(),
            "not_client_certificate",
        ),
        (
            "truncated",
            good.combined_pem()[..good.combined_pem().len() / 2].to_owned(),
            "bad_pem",
        ),
    ];
    for (what, pem, code) in cases {
        std::fs::write(user.sipclient_path(), pem).unwrap();
        let set = IdentitySet::load(&factory, &user);
        let status = set.status();
        assert_eq!(status.active, ActiveIdentity::Factory, "{what}");
        assert_eq!(status.sipclient.state, SlotState::Rejected, "{what}");
        let problem = status.sipclient.problem.as_ref().unwrap();
        assert_eq!(problem.code, code, "{what}: {}", problem.message);
        assert!(
            status.reason.contains("certs/sipclient.pem is not used"),
            "{what}: {}",
            status.reason
        );
        assert!(status.reason.contains(&problem.message), "{what}");
        assert_eq!(
            set.active().unwrap().certificate().mac,
            Some(mac()),
            "{what}"
        );
        assert!(
            !problem.message.contains("PRIVATE KEY"),
            "{what}: no key material in messages"
        );
    }
}

#[test]
fn chain_in_the_wrong_order_is_put_right() {
    let dir = tempfile::tempdir().unwrap();
    let ca = vendor("Acme Paging");
    let minted = mint_device(&ca, &DeviceRequest::new(mac())).unwrap();
    std::fs::write(
        dir.path().join("device.pem"),
        format!("{}{}", minted.chain_pem, minted.cert_pem),
    )
    .unwrap();
    std::fs::write(dir.path().join("device.key"), minted.key_pem()).unwrap();
    let identity = FactoryPartition::new(dir.path()).load().unwrap().unwrap();
    assert_eq!(identity.certificate().mac, Some(mac()));
    assert_eq!(
        identity.chain_info()[0].subject,
        "O=Acme Paging, CN=Acme Paging Device CA"
    );
}

#[test]
fn rsa_device_certificate_loads() {
    let dir = tempfile::tempdir().unwrap();
    let ca = vendor("Acme Paging");
    let mut request = DeviceRequest::new(mac());
    request.key = KeyKind::Rsa2048;
    mint_device(&ca, &request)
        .unwrap()
        .write_factory(dir.path())
        .unwrap();
    let identity = FactoryPartition::new(dir.path()).load().unwrap().unwrap();
    assert_eq!(identity.certificate().key, "RSA 2048");
    assert_eq!(identity.certificate().mac, Some(mac()));
}

#[test]
fn web_certificate_is_generated_once_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let user = UserStore::new(dir.path());
    let names = vec!["paging-adapter.local".to_owned(), "192.168.1.20".to_owned()];
    let (first, origin) = user.web_identity(Some(mac()), &names).unwrap();
    assert_eq!(origin, WebOrigin::Generated);
    let cert = first.certificate();
    assert_eq!(cert.common_name.as_deref(), Some(MAC));
    assert_eq!(
        cert.subject_alt_names,
        vec![
            "DNS:paging-adapter.local".to_owned(),
            "IP:192.168.1.20".to_owned()
        ]
    );
    assert!(!cert.is_ca && cert.server_auth && !cert.client_auth);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(user.httpd_path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let (second, origin) = user.web_identity(Some(mac()), &names).unwrap();
    assert_eq!(origin, WebOrigin::Installed);
    assert_eq!(
        second.certificate().fingerprint_sha256,
        cert.fingerprint_sha256
    );

    // And the status sees it.
    let set = IdentitySet::load(&FactoryPartition::new(dir.path().join("f")), &user);
    assert_eq!(set.status().httpd.state, SlotState::Installed);
}

#[test]
fn broken_web_certificate_is_reported_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let user = UserStore::new(dir.path());
    std::fs::create_dir_all(user.certs_dir()).unwrap();
    let ca = vendor("Acme Paging");
    let device = mint_device(&ca, &DeviceRequest::new(mac())).unwrap();
    std::fs::write(user.httpd_path(), device.full_chain_pem()).unwrap();
    let error = user.web_identity(Some(mac()), &[]).unwrap_err();
    assert_eq!(error.code(), "no_key");
    assert_eq!(
        std::fs::read_to_string(user.httpd_path()).unwrap(),
        device.full_chain_pem()
    );
}

#[test]
fn factory_reset_wipes_the_user_store_and_keeps_the_factory_identity() {
    let dir = tempfile::tempdir().unwrap();
    let ca = vendor("Acme Paging");
    let factory = factory(&dir.path().join("factory"), &ca, mac());
    let factory_before = std::fs::read(factory.cert_path()).unwrap();
    let key_before = std::fs::read(factory.key_path()).unwrap();
    let user = UserStore::new(dir.path().join("user"));
    mint_device(
        &vendor("Operator"),
        &DeviceRequest::new(Mac::new([0xaa; 6])),
    )
    .unwrap()
    .write_combined(&user.sipclient_path())
    .unwrap();
    user.web_identity(Some(mac()), &[]).unwrap();
    std::fs::create_dir_all(user.trusted_dir()).unwrap();
    std::fs::write(user.trusted_dir().join("pbx.pem"), ca.root_pem()).unwrap();
    std::fs::write(user.dir().join("sigil.conf"), "sip.transport = tls\n").unwrap();
    assert_eq!(
        IdentitySet::load(&factory, &user).status().active,
        ActiveIdentity::Override
    );

    let report = user.factory_reset().unwrap();
    assert_eq!(report.removed.len(), 2, "{report:?}"); // certs/ and sigil.conf
    assert_eq!(std::fs::read_dir(user.dir()).unwrap().count(), 0);
    assert_eq!(std::fs::read(factory.cert_path()).unwrap(), factory_before);
    assert_eq!(std::fs::read(factory.key_path()).unwrap(), key_before);
    let set = IdentitySet::load(&factory, &user);
    assert_eq!(set.status().active, ActiveIdentity::Factory);
    assert_eq!(set.status().sipclient.state, SlotState::Absent);
    assert_eq!(set.active().unwrap().certificate().mac, Some(mac()));

    // A second reset is harmless, and the factory partition itself is refused.
    user.factory_reset().unwrap();
    let error = UserStore::new(factory.dir()).factory_reset().unwrap_err();
    assert_eq!(error.code(), "refuse_wipe");
    // …and so is the data directory that holds it.
    let error = UserStore::new(dir.path()).factory_reset().unwrap_err();
    assert_eq!(error.code(), "refuse_wipe", "{error}");
    assert!(factory.cert_path().exists());
}

#[test]
fn key_without_certificate_on_the_factory_partition_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let ca = vendor("Acme Paging");
    let factory = factory(dir.path(), &ca, mac());
    std::fs::remove_file(factory.cert_path()).unwrap();
    assert_eq!(factory.load().unwrap_err().code(), "no_certificate");
    let set = IdentitySet::load(&factory, &UserStore::new(dir.path().join("user")));
    assert_eq!(set.status().factory.state, SlotState::Rejected);
    assert!(
        set.status()
            .reason
            .contains("factory certificate is unusable"),
        "{}",
        set.status().reason
    );
}

#[test]
fn installed_web_certificate_is_served_even_when_the_clock_disagrees() {
    let dir = tempfile::tempdir().unwrap();
    let user = UserStore::new(dir.path());
    let ca = vendor("Acme Paging");
    let mut request = ServerRequest::new(["device.example"]);
    request.not_before = time::macros::datetime!(2001-01-01 0:00 UTC);
    request.not_after = time::macros::datetime!(2002-01-01 0:00 UTC);
    mint_server(&ca, &request)
        .unwrap()
        .write_combined(&user.httpd_path())
        .unwrap();
    let (identity, origin) = user.web_identity(Some(mac()), &[]).unwrap();
    assert_eq!(origin, WebOrigin::Installed);
    assert_eq!(
        identity.certificate().common_name.as_deref(),
        Some("device.example")
    );
    let set = IdentitySet::load(&FactoryPartition::new(dir.path().join("f")), &user);
    assert_eq!(set.status().httpd.state, SlotState::Installed);
    assert_eq!(set.status().httpd.validity, Some(Validity::Expired));
    assert_eq!(set.status().httpd.problem.as_ref().unwrap().code, "expired");
}

#[test]
fn minting_never_overwrites_vendor_or_device_keys() {
    let dir = tempfile::tempdir().unwrap();
    let ca = vendor("Acme Paging");
    ca.write(&dir.path().join("vendor")).unwrap();
    let root_key = std::fs::read(dir.path().join("vendor/root.key")).unwrap();
    let error = vendor("Acme Paging")
        .write(&dir.path().join("vendor"))
        .unwrap_err();
    assert_eq!(error.code(), "already_exists", "{error}");
    assert_eq!(
        std::fs::read(dir.path().join("vendor/root.key")).unwrap(),
        root_key
    );

    let factory = factory(&dir.path().join("factory"), &ca, mac());
    let before = std::fs::read(factory.key_path()).unwrap();
    let again = mint_device(&ca, &DeviceRequest::new(mac())).unwrap();
    assert_eq!(
        again.write_factory(factory.dir()).unwrap_err().code(),
        "already_exists"
    );
    assert_eq!(std::fs::read(factory.key_path()).unwrap(), before);
}

/// A crash can leave `device.key.tmp` (or `httpd.pem.tmp`) behind, readable
/// by everyone. The next write must not reuse it: the key ends up 0600, and
/// no temporary file is left.
#[cfg(unix)]
#[test]
fn stale_world_readable_temp_files_never_leak_keys() {
    use std::os::unix::fs::PermissionsExt;
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let stale = |path: &std::path::Path| {
        std::fs::write(path, b"stale").unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
    };
    let dir = tempfile::tempdir().unwrap();
    let ca = vendor("Acme Paging");

    let factory_dir = dir.path().join("factory");
    std::fs::create_dir_all(&factory_dir).unwrap();
    stale(&factory_dir.join("device.key.tmp"));
    mint_device(&ca, &DeviceRequest::new(mac()))
        .unwrap()
        .write_factory(&factory_dir)
        .unwrap();
    assert_eq!(mode(&factory_dir.join("device.key")), 0o600);
    assert!(!factory_dir.join("device.key.tmp").exists());

    let user = UserStore::new(dir.path().join("user"));
    std::fs::create_dir_all(user.httpd_path().parent().unwrap()).unwrap();
    let mut tmp = user.httpd_path().into_os_string();
    tmp.push(".tmp");
    stale(std::path::Path::new(&tmp));
    user.web_identity(Some(mac()), &["device.local".to_owned()])
        .unwrap();
    assert_eq!(mode(&user.httpd_path()), 0o600);
    assert!(!std::path::Path::new(&tmp).exists());
}
