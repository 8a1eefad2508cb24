//! The Status / About page.

use super::*;

pub(super) fn status_body(s: &Value) -> String {
    let mut body = String::new();
    let m = &s["manufacturer_certificate"];
    let identity = text(&s["identity"]);
    body.push_str("<section><h2>Device</h2>");
    body.push_str(&facts(
        "device",
        &[
            ("MAC", text(&s["mac"])),
            ("Model", text(&s["model"])),
            ("Firmware version", text(&s["firmware"])),
            (
                "Identity in use",
                format!("{identity}: {}", text(&s["identity_reason"])),
            ),
        ],
    ));
    body.push_str("</section><section><h2>Manufacturer certificate</h2>");
    body.push_str(&facts(
        "manufacturer",
        &[
            ("State", text(&m["state"])),
            ("Subject", text(&m["subject"])),
            ("MAC", text(&m["mac"])),
            ("Issuer", text(&m["issuer"])),
            ("Valid from", text(&m["not_before"])),
            ("Valid until", text(&m["not_after"])),
            ("SHA-256", text(&m["sha256"])),
            ("Problem", text(&m["problem"])),
        ],
    ));
    let o = &s["override"];
    body.push_str("</section><section><h2>Override certificate (certs/sipclient.pem)</h2>");
    body.push_str(&facts(
        "override",
        &[
            ("State", text(&o["state"])),
            ("Subject", text(&o["subject"])),
            ("Valid until", text(&o["not_after"])),
            ("SHA-256", text(&o["sha256"])),
            ("Problem", text(&o["problem"])),
        ],
    ));
    let h = &s["httpd"];
    body.push_str("</section><section><h2>Web certificate (certs/httpd.pem)</h2>");
    body.push_str(&facts(
        "httpd",
        &[
            ("State", text(&h["file"]["state"])),
            ("Subject", text(&h["file"]["subject"])),
            ("Issuer", text(&h["file"]["issuer"])),
            ("Valid until", text(&h["file"]["not_after"])),
            ("SHA-256 served", text(&h["served_sha256"])),
            ("Problem", text(&h["problem"])),
        ],
    ));
    let t = &s["trust"];
    body.push_str("</section><section><h2>Trust store</h2>");
    body.push_str(&facts(
        "trust",
        &[
            ("Built-in (web PKI)", text(&t["builtin"])),
            ("Vendor chain", text(&t["vendor"])),
            ("Uploaded (certs/trusted/)", text(&t["user"])),
        ],
    ));
    let mut problems: Vec<String> = Vec::new();
    for key in ["refused", "problems"] {
        problems.extend(t[key].as_array().into_iter().flatten().map(text));
    }
    if !problems.is_empty() {
        body.push_str(&message_list(
            "error",
            "Problems in the trust store",
            &problems,
        ));
    }
    let r = &s["registration"];
    body.push_str("</section><section><h2>Registration</h2>");
    body.push_str(&facts(
        "registration",
        &[
            ("State", text(&r["state"])),
            ("Address of record", text(&r["aor"])),
            ("Contact", text(&r["contact"])),
            ("Last error", text(&r["error"])),
        ],
    ));
    body.push_str("<table class=\"list\" id=\"connections\"><tr><th>Connection</th><th>Peer</th><th>TLS</th><th>Suite</th><th>Server</th><th>Up</th></tr>");
    for c in s["connections"].as_array().into_iter().flatten() {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&text(&c["purpose"])),
            esc(&text(&c["peer"])),
            esc(&text(&c["version"])),
            esc(&text(&c["cipher_suite"])),
            esc(&text(&c["verification"])),
            esc(&text(&c["up"]))
        );
    }
    body.push_str("</table></section><section><h2>Calls</h2>");
    body.push_str("<table class=\"list\" id=\"calls\"><tr><th>Peer</th><th>Direction</th><th>State</th><th>Media (SRTP)</th><th>Sent / received / lost</th><th>Jitter ms</th></tr>");
    for c in s["calls"].as_array().into_iter().flatten() {
        let st = &c["stats"];
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} / {} / {}</td><td>{}</td></tr>",
            esc(&text(&c["peer"])),
            esc(&text(&c["direction"])),
            esc(&text(&c["state"])),
            esc(&text(&c["media"])),
            esc(&text(&st["packets_sent"])),
            esc(&text(&st["packets_received"])),
            esc(&text(&st["packets_lost"])),
            esc(&text(&st["jitter_ms"]))
        );
    }
    body.push_str("</table></section>");
    let problems: Vec<String> = s["problems"]
        .as_array()
        .into_iter()
        .flatten()
        .map(text)
        .collect();
    if !problems.is_empty() {
        body.push_str(&message_list("error", "Problems", &problems));
    }
    body
}

pub(super) async fn status_page(State(state): Shared, headers: HeaderMap) -> Response<Body> {
    let ctx = match gate(&state, &headers, None) {
        Ok(c) => c,
        Err(r) => return r,
    };
    match blocking(move || state.status()).await {
        Ok(s) => html(
            StatusCode::OK,
            page(
                "Status / About",
                "/",
                Some(&ctx.session.csrf),
                &status_body(&s),
            ),
        ),
        Err(f) => error_page(&f, Some(&ctx.session.csrf)),
    }
}

// ---- Certificates -----------------------------------------------------------
