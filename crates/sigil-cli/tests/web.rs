//! The HTTPS admin interface of `sigil device run --web-listen`: the JSON API
//! contract with a real HTTPS client that trusts the device only by its
//! `httpd.pem`, every bad input of issue 13, and the good paths.
#![cfg(feature = "web")]

mod common;
mod webkit;

use std::path::Path;

use serde_json::json;
use sigil_identity::mint::{mint_device, mint_server, DeviceRequest, ServerRequest};
use webkit::{agent_for, agent_trusting, bare_scene, pem_certs, scene, Api, Device, MAC};

const NEW_PASSWORD: &str = "Lobby-Door-2026";

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|e| {
            e.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// A truncated PEM: the first half of a certificate, no END line.
fn truncated(pem: &str) -> Vec<u8> {
    pem.as_bytes()[..pem.len() / 2].to_vec()
}

/// The start of a PKCS#12 (PFX) file: SEQUENCE, version 3, authSafe data.
fn pkcs12() -> Vec<u8> {
    let mut v = vec![
        0x30, 0x82, 0x01, 0x00, 0x02, 0x01, 0x03, 0x30, 0x82, 0x00, 0xf0, 0x06, 0x09, 0x2a, 0x86,
        0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01, 0xa0, 0x00,
    ];
    v.resize(260, 0x04);
    v
}

#[test]
fn api_contract_bad_inputs_and_good_paths() {
    let s = scene();
    let data = s.data();
    let device = Device::start(&data);
    let mut api = Api::new(agent_for(&data), device.base());

    // A fresh device: 403 "change the default password" on everything but login.
    let a = api.get("/api/status");
    assert_eq!(a.status, 403, "{a:?}");
    assert!(a.json()["error"]
        .as_str()
        .unwrap()
        .contains("change the default password"));
    assert_eq!(api.get("/").status, 403);
    assert_eq!(api.get("/api/settings").status, 403);
    // Security headers on every answer.
    assert!(a
        .header("content-security-policy")
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert_eq!(a.header("x-frame-options"), Some("DENY"));
    assert!(a
        .header("strict-transport-security")
        .unwrap()
        .starts_with("max-age="));

    // Login: wrong password → 401; the default → 200 and must change it.
    assert_eq!(api.login("wrong").status, 401);
    let a = api.login("sigil");
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.json()["must_change_password"], true);
    let cookie = a.header("set-cookie").unwrap();
    for attr in ["Secure", "HttpOnly", "SameSite=Strict"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert_eq!(
        api.get("/api/status").status,
        403,
        "still the default password"
    );

    // Password change: CSRF needed, rules checked, then stored as a hash only.
    let change = json!({"old": "sigil", "new": NEW_PASSWORD});
    let a = api.send_json("POST", "/api/password", &change, false);
    assert_eq!(a.status, 403, "missing CSRF token: {a:?}");
    assert!(a.json()["error"].as_str().unwrap().contains("CSRF"));
    let a = api.post("/api/password", &json!({"old": "sigil", "new": "short"}));
    assert_eq!(a.status, 400, "{a:?}");
    let a = api.post(
        "/api/password",
        &json!({"old": "nope", "new": NEW_PASSWORD}),
    );
    assert_eq!(a.status, 403, "{a:?}");
    let a = api.post("/api/password", &change);
    assert_eq!(a.status, 200, "{a:?}");
    let config = std::fs::read_to_string(data.join("user/config.conf")).unwrap();
    assert!(
        config.contains("admin.password.hash = $argon2id$"),
        "{config}"
    );
    assert!(!config.contains(NEW_PASSWORD));

    // A fresh login with the new password; the status contract.
    let mut api = Api::new(agent_for(&data), device.base());
    assert_eq!(api.login("sigil").status, 401);
    let a = api.login(NEW_PASSWORD);
    assert_eq!(a.json()["must_change_password"], false);
    let st = api.get("/api/status");
    assert_eq!(st.status, 200, "{st:?}");
    let st = st.json();
    assert_eq!(st["mac"], MAC);
    assert_eq!(st["identity"], "factory");
    assert_eq!(st["manufacturer_certificate"]["state"], "installed");
    assert!(st["manufacturer_certificate"]["sha256"]
        .as_str()
        .unwrap()
        .contains(':'));
    assert!(st["manufacturer_certificate"]["not_after"]
        .as_str()
        .unwrap()
        .starts_with("20"));
    assert!(st["manufacturer_certificate"]["subject"]
        .as_str()
        .unwrap()
        .contains(MAC));
    assert_eq!(st["registration"]["state"], "registered", "{st}");

    // Trusted CA uploads: missing CSRF changes nothing.
    let trusted = data.join("user/certs/trusted");
    let before = files_in(&trusted);
    let root = s.ca.root_pem().to_owned();
    let a = api
        .upload(
            "/api/certs/trusted",
            &[("file", Some("root.pem"), root.as_bytes())],
            false,
        )
        .unwrap();
    assert_eq!(a.status, 403, "{a:?}");
    assert_eq!(files_in(&trusted), before);

    // One good file among bad ones: each judged, the good one installed.
    let key = mint_device(
        &s.ca,
        &DeviceRequest::new("00:22:ee:00:00:01".parse().unwrap()),
    )
    .unwrap()
    .key_pem()
    .to_owned();
    let big = vec![b'A'; 1024 * 1024 + 10];
    let factory_key = std::fs::read(data.join("factory/device.key")).unwrap();
    let a = api
        .upload(
            "/api/certs/trusted",
            &[
                ("file", Some("vendor-root.pem"), root.as_bytes()),
                ("file", Some("cut.pem"), &truncated(&root)),
                ("file", Some("bundle.p12"), &pkcs12()),
                ("file", Some("key.pem"), key.as_bytes()),
                ("file", Some("../../factory/device.key"), root.as_bytes()),
                ("file", Some("sipclient.pem"), root.as_bytes()),
                ("file", Some("huge.pem"), &big),
            ],
            true,
        )
        .unwrap();
    assert_eq!(a.status, 200, "{a:?}");
    let results = a.json();
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), 7);
    let reason = |i: usize| results[i]["reason"].as_str().unwrap_or_default().to_owned();
    assert_eq!(results[0]["accepted"], true, "{results:?}");
    assert!(
        results[1..].iter().all(|r| r["accepted"] == false),
        "{results:?}"
    );
    assert!(reason(1).contains("truncated PEM"), "{}", reason(1));
    assert!(reason(2).contains("PKCS#12"), "{}", reason(2));
    assert!(reason(3).contains("private key"), "{}", reason(3));
    assert!(reason(4).contains("is a path"), "{}", reason(4));
    assert!(reason(5).contains("belongs in certs/"), "{}", reason(5));
    assert!(reason(6).contains("larger than"), "{}", reason(6));
    for (i, r) in results.iter().enumerate() {
        println!(
            "trusted upload #{i} {}: accepted {} — {}",
            r["name"],
            r["accepted"],
            reason(i)
        );
    }
    assert_eq!(files_in(&trusted), vec!["vendor-root.pem".to_owned()]);
    assert_eq!(
        std::fs::read(data.join("factory/device.key")).unwrap(),
        factory_key
    );
    let listing = api.get("/api/certs/trusted").json();
    assert_eq!(listing["trusted"][0]["name"], "vendor-root.pem");
    assert!(listing["trusted"][0]["certificates"][0]["subject"]
        .as_str()
        .unwrap()
        .contains("Web Test Vendor"));

    // Delete: a path is refused, the file by its id goes.
    let a = api.delete("/api/certs/trusted/..%2F..%2Ffactory%2Fdevice.key");
    assert!(a.status == 404 || a.status == 400, "{a:?}");
    assert!(data.join("factory/device.key").exists());
    let a = api.delete("/api/certs/trusted/vendor-root.pem");
    assert_eq!(a.status, 200, "{a:?}");
    assert!(files_in(&trusted).is_empty());

    // The override: bad ones refused with the reason (factory stays); a good one used.
    let cert_only = mint_device(
        &s.ca,
        &DeviceRequest::new("00:22:ee:00:00:02".parse().unwrap()),
    )
    .unwrap()
    .full_chain_pem();
    for (name, bytes, why) in [
        ("sipclient.pem", truncated(&cert_only), "PEM"),
        ("sipclient.p12", pkcs12(), "PKCS#12"),
        (
            "sipclient.pem",
            cert_only.clone().into_bytes(),
            "no private key",
        ),
    ] {
        let a = api
            .upload(
                "/api/certs/sipclient",
                &[("file", Some(name), &bytes)],
                true,
            )
            .unwrap();
        assert_eq!(a.status, 400, "{a:?}");
        assert_eq!(a.json()["accepted"], false);
        let reason = a.json()["reason"].as_str().unwrap().to_owned();
        assert!(reason.contains(why), "{why}: {reason}");
        println!("sipclient upload {name}: refused — {reason}");
    }
    assert!(!data.join("user/certs/sipclient.pem").exists());
    assert_eq!(api.get("/api/status").json()["identity"], "factory");
    let good = mint_device(
        &s.ca,
        &DeviceRequest::new("00:22:ee:00:00:03".parse().unwrap()),
    )
    .unwrap();
    let a = api
        .upload(
            "/api/certs/sipclient",
            &[("file", Some("mine.pem"), good.combined_pem().as_bytes())],
            true,
        )
        .unwrap();
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.json()["accepted"], true);
    assert_eq!(a.json()["identity"], "override");
    assert_eq!(a.json()["restart"]["ok"], true, "{a:?}");
    assert_eq!(api.get("/api/status").json()["identity"], "override");

    // Settings: secrets masked, changes validated by the provisioning code.
    let settings = api.get("/api/settings").json();
    assert_eq!(settings["sip.u1.pwd"], "********");
    assert_eq!(settings["web.https.port"], "443");
    assert!(!api.get("/api/settings").text.contains(webkit::SIP_PASSWORD));
    let config_before = std::fs::read(data.join("user/config.conf")).unwrap();
    for bad in [
        json!({"sip.transport": "carrier-pigeon"}),
        json!({"sip.u1.dname": "x\nadmin.password = pwned"}),
        json!({"admin.password.hash": "x"}),
        json!({"no.such.key": "1"}),
    ] {
        let a = api.send_json("PUT", "/api/settings", &bad, true);
        assert_eq!(a.status, 400, "{bad}: {a:?}");
        assert!(!a.json()["reasons"].as_array().unwrap().is_empty());
        println!("PUT /api/settings {bad}: 400 {}", a.json()["reasons"]);
    }
    let a = api.send_json(
        "PUT",
        "/api/settings",
        &json!({"sip.u1.dname": "Lobby"}),
        false,
    );
    assert_eq!(a.status, 403, "no CSRF token");
    assert_eq!(
        std::fs::read(data.join("user/config.conf")).unwrap(),
        config_before
    );
    let a = api.send_json(
        "PUT",
        "/api/settings",
        &json!({"sip.u1.dname": "Lobby", "sip.u1.pwd": "n3w-secret"}),
        true,
    );
    assert_eq!(a.status, 200, "{a:?}");
    let changes = a.json()["changes"].clone();
    assert!(
        changes
            .as_array()
            .unwrap()
            .contains(&json!("+ sip.u1.dname = Lobby")),
        "{changes}"
    );
    assert!(
        changes
            .as_array()
            .unwrap()
            .contains(&json!("~ sip.u1.pwd = ******** (changed)")),
        "{changes}"
    );
    assert!(!a.text.contains("n3w-secret"));
    assert_eq!(api.get("/api/settings").json()["sip.u1.dname"], "Lobby");

    // A 100 MB body is refused before it is read; nothing changes, the server carries on.
    let huge = vec![b'x'; 100 * 1024 * 1024];
    match api.upload(
        "/api/certs/trusted",
        &[("file", Some("huge.pem"), &huge)],
        true,
    ) {
        Ok(a) => assert_eq!(a.status, 413, "{a:?}"),
        Err(e) => println!("100 MB upload: connection closed by the server ({e})"),
    }
    assert!(files_in(&trusted).is_empty());
    assert_eq!(api.get("/api/status").status, 200);

    // The device certificate, public part only.
    let pem = api.get("/api/certs/device.pem");
    assert_eq!(pem.status, 200);
    assert!(pem.text.contains("BEGIN CERTIFICATE") && !pem.text.contains("PRIVATE KEY"));

    // Provisioning now: the lab file again (the web's own changes were made locally).
    let a = api.post("/api/provision", &json!({}));
    assert_eq!(a.status, 200, "{a:?}");
    assert!(
        a.json()["url"]
            .as_str()
            .unwrap()
            .contains("algom0022ee0a0b0c.conf"),
        "{a:?}"
    );

    // httpd.pem: a bad one refused (the current one kept); a good one served from the next connection on.
    let old_pem = std::fs::read(data.join("user/certs/httpd.pem")).unwrap();
    let a = api
        .upload(
            "/api/certs/httpd",
            &[("file", Some("httpd.pem"), &truncated(s.ca.root_pem()))],
            true,
        )
        .unwrap();
    assert_eq!(a.status, 400, "{a:?}");
    assert_eq!(
        std::fs::read(data.join("user/certs/httpd.pem")).unwrap(),
        old_pem
    );
    let web = mint_server(&s.ca, &ServerRequest::new(["127.0.0.1"])).unwrap();
    let a = api
        .upload(
            "/api/certs/httpd",
            &[("file", Some("httpd.pem"), web.combined_pem().as_bytes())],
            true,
        )
        .unwrap();
    assert_eq!(a.status, 200, "{a:?}");
    let mut by_ca = Api::new(
        agent_trusting(&pem_certs(s.ca.root_pem().as_bytes())),
        device.base(),
    );
    by_ca.cookie = api.cookie.clone();
    assert_eq!(
        by_ca.get("/api/status").status,
        200,
        "the uploaded certificate is served"
    );
    let old_pinned = agent_trusting(&pem_certs(&old_pem));
    assert!(
        old_pinned
            .get(format!("{}/login", device.base()))
            .call()
            .is_err(),
        "a client pinned on the old httpd.pem no longer connects"
    );

    // Factory reset: user store wiped, factory partition kept, default password back.
    let mut api = by_ca;
    api.csrf = None;
    api.cookie = None;
    assert_eq!(api.login(NEW_PASSWORD).status, 200);
    let a = api.post("/api/factory-reset", &json!({}));
    assert_eq!(a.status, 200, "{a:?}");
    assert!(!data.join("user/config.conf").exists());
    assert!(!data.join("user/certs/sipclient.pem").exists());
    assert!(data.join("factory/device.pem").exists() && data.join("factory/device.key").exists());
    let mut fresh = Api::new(agent_for(&data), device.base());
    assert_eq!(fresh.get("/api/status").status, 403);
    assert_eq!(fresh.login("sigil").json()["must_change_password"], true);
}

#[test]
fn wrong_password_fifty_times_is_rate_limited() {
    let s = bare_scene();
    let data = s.data();
    let device = Device::start(&data);
    let mut api = Api::new(agent_for(&data), device.base());
    let mut seen = Vec::new();
    for _ in 0..50 {
        let a = api.login("not-the-password");
        seen.push(a.status);
        if a.status == 429 {
            assert!(a.header("retry-after").is_some(), "{a:?}");
        }
    }
    let unauthorized = seen.iter().filter(|&&s| s == 401).count();
    let limited = seen.iter().filter(|&&s| s == 429).count();
    println!("50 wrong passwords: {unauthorized} × 401, then {limited} × 429");
    assert_eq!(unauthorized, 5, "{seen:?}");
    assert_eq!(limited, 45, "{seen:?}");
    // Even the right password waits out the back-off; nothing was written.
    assert_eq!(api.login("sigil").status, 429);
    assert!(!data.join("user/config.conf").exists());
    // The page says so too.
    let a = api.get("/login");
    assert_eq!(a.status, 200);
    assert!(a.text.contains("<form"));
}

#[test]
fn pages_refuse_cross_site_posts_and_escape_what_they_show() {
    let s = bare_scene();
    let data = s.data();
    let device = Device::start(&data);
    let mut api = Api::new(agent_for(&data), device.base());
    assert_eq!(api.login("sigil").status, 200);
    assert_eq!(
        api.post(
            "/api/password",
            &json!({"old": "sigil", "new": NEW_PASSWORD})
        )
        .status,
        200
    );
    let mut api = Api::new(agent_for(&data), device.base());
    assert_eq!(api.login(NEW_PASSWORD).status, 200);
    // A request announcing another site as its origin is refused even with the token.
    let r = api
        .agent
        .put(format!("{}/api/settings", device.base()))
        .header("Cookie", api.cookie.as_deref().unwrap())
        .header("X-CSRF-Token", api.csrf.as_deref().unwrap())
        .header("Origin", "https://evil.example")
        .header("Content-Type", "application/json")
        .send(r#"{"sip.u1.dname": "x"}"#)
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    // Markup in a setting comes back escaped on the page.
    let a = api.send_json(
        "PUT",
        "/api/settings",
        &json!({"sip.u1.dname": "<script>alert(1)</script>"}),
        true,
    );
    assert_eq!(a.status, 200, "{a:?}");
    let page = api.get("/settings");
    assert_eq!(page.status, 200);
    assert!(!page.text.contains("<script>alert(1)"));
    assert!(page.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    // Without a session: redirected to the login page.
    let anonymous = Api::new(agent_for(&data), device.base());
    let a = anonymous.get("/settings");
    assert_eq!(a.status, 303);
    assert_eq!(a.header("location"), Some("/login"));
    let a = anonymous.get("/api/settings");
    assert_eq!(a.status, 401);
}
