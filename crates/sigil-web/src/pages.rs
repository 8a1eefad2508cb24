//! The pages: server-rendered HTML forms that work without JavaScript and
//! call the same actions as the API (see [`crate::state`]).

// The `Err` of the page helpers is the HTTP answer itself, sent at once: boxing it buys nothing.
#![allow(clippy::result_large_err)]

use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::multipart::MultipartRejection;
use axum::extract::{ConnectInfo, Multipart, State};
use axum::http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;

use crate::api::{blocking, clear_cookie, read_parts, session_cookie};
use crate::files::{FileResult, IdentityFile, Upload};
use crate::html::{csrf_field, esc, facts, message, message_list, page};
use crate::state::{shown_value, AppState, Ctx, Denied, Failure};
use crate::{FieldKind, FIELDS, GROUPS};

type Shared = State<Arc<AppState>>;

const STYLE: &str = include_str!("../static/style.css");

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/static/style.css", get(style))
        .route("/login", get(login_page).post(login_post))
        .route("/logout", post(logout_post))
        .route("/password", get(password_page).post(password_post))
        .route("/", get(status_page))
        .route("/certificates", get(certificates_page))
        .route("/certificates/trusted", post(trusted_post))
        .route("/certificates/upload", post(upload_post))
        .route("/certificates/sipclient", post(sipclient_post))
        .route("/certificates/httpd", post(httpd_post))
        .route("/certificates/delete", post(delete_post))
        .route("/certificates/device.pem", get(device_pem))
        .route("/settings", get(settings_page).post(settings_post))
        .route(
            "/provisioning",
            get(provisioning_page).post(provisioning_post),
        )
        .route("/maintenance", get(maintenance_page))
        .route("/maintenance/restart", post(restart_post))
        .route("/maintenance/factory-reset", post(factory_reset_post))
}

fn html(status: StatusCode, body: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .body(Body::from(body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn redirect(to: &str) -> Response<Body> {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, to)
        .body(Body::empty())
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn with_cookie(mut response: Response<Body>, cookie: &str) -> Response<Body> {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

fn error_page(f: &Failure, csrf: Option<&str>) -> Response<Body> {
    let body = message_list("error", &f.error, &f.reasons);
    html(f.status, page("Error", "", csrf, &body))
}

/// The page answer to a refused request.
fn denied(state: &AppState, headers: &HeaderMap, d: Denied) -> Response<Body> {
    match d {
        Denied::NotLoggedIn => redirect("/login"),
        Denied::DefaultPassword => {
            if state.session(headers).is_some() {
                return html(
                    StatusCode::FORBIDDEN,
                    password_form(state, headers, Some(d.message())),
                );
            }
            let body = format!(
                "{}{}",
                message("error", "Change the default password: this device still has its built-in admin password. Log in with it, then choose a new one."),
                login_form()
            );
            html(
                StatusCode::FORBIDDEN,
                page("Change the default password", "", None, &body),
            )
        }
        Denied::Csrf | Denied::CrossOrigin => error_page(&d.into(), None),
    }
}

fn gate(state: &AppState, headers: &HeaderMap, csrf: Option<&str>) -> Result<Ctx, Response<Body>> {
    state
        .authorize(headers, csrf)
        .map_err(|d| denied(state, headers, d))
}

fn form_value<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_default()
}

pub(crate) async fn not_found() -> Response<Body> {
    html(
        StatusCode::NOT_FOUND,
        page(
            "Not found",
            "",
            None,
            &message("error", "There is no such page."),
        ),
    )
}

async fn style() -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/css; charset=utf-8")
        .header(header::CACHE_CONTROL, "max-age=3600")
        .body(Body::from(STYLE))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

// ---- login, logout, password ------------------------------------------------

fn login_form() -> String {
    "<form method=\"post\" action=\"/login\" class=\"card\" id=\"login-form\">\
     <label>Admin password <input type=\"password\" name=\"password\" id=\"password\" autocomplete=\"current-password\" required autofocus></label>\
     <button type=\"submit\" id=\"login\">Log in</button></form>"
        .to_owned()
}

async fn login_page() -> Response<Body> {
    let body = format!(
        "{}{}",
        message(
            "note",
            "A new device's admin password is sigil; it must be changed at the first login."
        ),
        login_form()
    );
    html(StatusCode::OK, page("Log in", "", None, &body))
}

async fn login_post(
    State(state): Shared,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    if let Err(d) = state.same_origin(&headers) {
        return error_page(&d.into(), None);
    }
    let pairs = match crate::form::parse_urlencoded(&body) {
        Ok(p) => p,
        Err(e) => return error_page(&Failure::new(StatusCode::BAD_REQUEST, e.to_string()), None),
    };
    let password = zeroize::Zeroizing::new(form_value(&pairs, "password").to_owned());
    match blocking(move || state.login(peer.ip(), &password)).await {
        Ok(Ok((id, _, must_change))) => with_cookie(
            redirect(if must_change { "/password" } else { "/" }),
            &session_cookie(&id),
        ),
        Ok(Err(f)) | Err(f) => {
            let body = format!("{}{}", message_list("error", &f.error, &[]), login_form());
            html(f.status, page("Log in", "", None, &body))
        }
    }
}

async fn logout_post(State(state): Shared, headers: HeaderMap, body: Bytes) -> Response<Body> {
    let pairs = crate::form::parse_urlencoded(&body).unwrap_or_default();
    if let Some(ctx) = state.session(&headers) {
        if !crate::auth::same_token(form_value(&pairs, "csrf"), &ctx.session.csrf) {
            return error_page(&Denied::Csrf.into(), None);
        }
    }
    state.logout(&headers);
    with_cookie(redirect("/login"), &clear_cookie())
}

fn password_form(state: &AppState, headers: &HeaderMap, note: Option<&str>) -> String {
    let Some(ctx) = state.session(headers) else {
        return page("Change the admin password", "", None, &login_form());
    };
    let mut body = String::new();
    if let Some(note) = note {
        body.push_str(&message("error", note));
    }
    if ctx.session.must_change {
        body.push_str(&message(
            "note",
            "This device still has its default admin password. Choose a new one (at least 8 characters) before anything else.",
        ));
    }
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/password\" class=\"card\" id=\"password-form\">{}\
         <label>Current password <input type=\"password\" name=\"old\" id=\"old\" autocomplete=\"current-password\" required></label>\
         <label>New password <input type=\"password\" name=\"new\" id=\"new\" autocomplete=\"new-password\" minlength=\"8\" required></label>\
         <label>New password again <input type=\"password\" name=\"confirm\" id=\"confirm\" autocomplete=\"new-password\" minlength=\"8\" required></label>\
         <button type=\"submit\" id=\"change\">Change password</button></form>",
        csrf_field(&ctx.session.csrf)
    );
    let csrf = (!ctx.session.must_change).then_some(ctx.session.csrf.as_str());
    page("Change the admin password", "", csrf, &body)
}

async fn password_page(State(state): Shared, headers: HeaderMap) -> Response<Body> {
    if state.session(&headers).is_none() {
        return redirect("/login");
    }
    html(StatusCode::OK, password_form(&state, &headers, None))
}

async fn password_post(
    State(state): Shared,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let pairs = match crate::form::parse_urlencoded(&body) {
        Ok(p) => p,
        Err(e) => return error_page(&Failure::new(StatusCode::BAD_REQUEST, e.to_string()), None),
    };
    let ctx = match state.authorize_password_change(&headers, form_value(&pairs, "csrf")) {
        Ok(ctx) => ctx,
        Err(d) => return denied(&state, &headers, d),
    };
    let old = zeroize::Zeroizing::new(form_value(&pairs, "old").to_owned());
    let new = zeroize::Zeroizing::new(form_value(&pairs, "new").to_owned());
    if form_value(&pairs, "confirm") != new.as_str() {
        let f = Failure::new(StatusCode::BAD_REQUEST, "the two new passwords differ");
        return html(f.status, password_form(&state, &headers, Some(&f.error)));
    }
    let worker = state.clone();
    match blocking(move || worker.change_password(&ctx, peer.ip(), &old, &new)).await {
        Ok(Ok(())) => {
            let csrf = state.session(&headers).map(|c| c.session.csrf);
            let body = format!(
                "{}<p><a href=\"/\" id=\"continue\">Continue to the status page</a></p>",
                message(
                    "ok",
                    "Password changed. It is stored only as an Argon2id hash."
                )
            );
            html(
                StatusCode::OK,
                page("Password changed", "", csrf.as_deref(), &body),
            )
        }
        Ok(Err(f)) | Err(f) => {
            let mut text = f.error.clone();
            for r in &f.reasons {
                text.push_str("; ");
                text.push_str(r);
            }
            html(f.status, password_form(&state, &headers, Some(&text)))
        }
    }
}

// ---- Status / About ---------------------------------------------------------

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn status_body(s: &Value) -> String {
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

async fn status_page(State(state): Shared, headers: HeaderMap) -> Response<Body> {
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

fn results_html(results: &[FileResult]) -> String {
    let mut out = String::from("<ul class=\"results\" id=\"upload-results\">");
    for r in results {
        let (class, verdict) = if r.accepted {
            ("accepted", "accepted")
        } else {
            ("refused", "refused")
        };
        let _ = write!(
            out,
            "<li class=\"{class}\"><strong>{}</strong>: {verdict}",
            esc(&r.name)
        );
        if let Some(reason) = &r.reason {
            let _ = write!(out, " — {}", esc(reason));
        }
        if !r.certificates.is_empty() {
            let _ = write!(out, " ({})", esc(&r.certificates.join("; ")));
        }
        out.push_str("</li>");
    }
    out.push_str("</ul>");
    out
}

fn certificates_body(state: &AppState, csrf: &str, notice: &str) -> String {
    let data = state.certificates();
    let status = state.status();
    let mut body = if notice.is_empty() {
        String::new()
    } else {
        format!("<div id=\"notice\">{notice}</div>")
    };
    let _ = write!(
        body,
        "<section><h2>Identity in use</h2>{}<p><a href=\"/certificates/device.pem\" id=\"download-device\">Download the device certificate</a> (public part only)</p></section>",
        facts("identity", &[("Identity in use", text(&status["identity"])), ("Why", text(&status["identity_reason"]))])
    );
    let folder_options = "<option value=\"trusted\">certs/trusted/ (CA certificates)</option><option value=\"certs\">certs/ (sipclient.pem, httpd.pem)</option>";
    let _ = write!(
        body,
        "<section><h2>Upload</h2>\
         <form method=\"post\" action=\"/certificates/trusted\" enctype=\"multipart/form-data\" class=\"card\" id=\"trusted-form\">{csrf}\
         <label>Trusted CA certificates (PEM or DER, one or many) <input type=\"file\" name=\"file\" id=\"trusted-file\" multiple required></label>\
         <button type=\"submit\" id=\"trusted-upload\">Upload to certs/trusted/</button></form>\
         <form method=\"post\" action=\"/certificates/sipclient\" enctype=\"multipart/form-data\" class=\"card\" id=\"sipclient-form\">{csrf}\
         <label>Override identity sipclient.pem (certificate + private key in one PEM) <input type=\"file\" name=\"file\" id=\"sipclient-file\" required></label>\
         <button type=\"submit\" id=\"sipclient-upload\">Install override</button></form>\
         <form method=\"post\" action=\"/certificates/httpd\" enctype=\"multipart/form-data\" class=\"card\" id=\"httpd-form\">{csrf}\
         <label>Web certificate httpd.pem (certificate + private key in one PEM) <input type=\"file\" name=\"file\" id=\"httpd-file\" required></label>\
         <button type=\"submit\" id=\"httpd-upload\">Install web certificate</button></form></section>",
        csrf = csrf_field(csrf)
    );
    let _ = write!(
        body,
        "<section><h2>File manager</h2>\
         <form method=\"post\" action=\"/certificates/upload\" enctype=\"multipart/form-data\" class=\"card inline\" id=\"manager-form\">{}\
         <label>Folder <select name=\"folder\" id=\"folder\">{folder_options}</select></label>\
         <input type=\"file\" name=\"file\" id=\"manager-file\" multiple required>\
         <button type=\"submit\" id=\"manager-upload\">Upload</button></form>",
        csrf_field(csrf)
    );
    for (folder, key) in [("certs/", "certs"), ("certs/trusted/", "trusted")] {
        let _ = write!(
            body,
            "<h3>{folder}</h3><table class=\"list\" id=\"files-{key}\"><tr><th>File</th><th>Size</th><th>State</th><th>Certificates</th><th></th></tr>"
        );
        let files = data[key].as_array().cloned().unwrap_or_default();
        if files.is_empty() {
            body.push_str("<tr><td colspan=\"5\">(empty)</td></tr>");
        }
        for f in files {
            let name = text(&f["name"]);
            let mut certs = String::new();
            for c in f["certificates"].as_array().into_iter().flatten() {
                let problems: Vec<String> = c["problems"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| text(&p["problem"]))
                    .collect();
                let _ = write!(
                    certs,
                    "<div>{} <small>SHA-256 {} · until {}{}</small></div>",
                    esc(&text(&c["subject"])),
                    esc(&text(&c["sha256"])),
                    esc(&text(&c["not_after"])),
                    if problems.is_empty() {
                        String::new()
                    } else {
                        format!(" · {}", esc(&problems.join(", ")))
                    }
                );
            }
            if let Some(reason) = f["refused"].as_str() {
                let _ = write!(certs, "<div class=\"refused\">{}</div>", esc(reason));
            }
            let deletable = key == "trusted" || name == "sipclient.pem";
            let delete = if deletable {
                format!(
                    "<form method=\"post\" action=\"/certificates/delete\">{}<input type=\"hidden\" name=\"folder\" value=\"{key}\"><input type=\"hidden\" name=\"name\" value=\"{}\"><button type=\"submit\">Delete</button></form>",
                    csrf_field(csrf),
                    esc(&name)
                )
            } else {
                String::new()
            };
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{certs}</td><td>{delete}</td></tr>",
                esc(&name),
                esc(&text(&f["size"])),
                esc(&text(&f["state"]))
            );
        }
        body.push_str("</table>");
    }
    body.push_str("</section>");
    body
}

async fn certificates_page(State(state): Shared, headers: HeaderMap) -> Response<Body> {
    let ctx = match gate(&state, &headers, None) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let csrf = ctx.session.csrf.clone();
    match blocking(move || certificates_body(&state, &csrf, "")).await {
        Ok(body) => html(
            StatusCode::OK,
            page(
                "Certificates",
                "/certificates",
                Some(&ctx.session.csrf),
                &body,
            ),
        ),
        Err(f) => error_page(&f, Some(&ctx.session.csrf)),
    }
}

/// Reads a multipart form and checks its CSRF field; `Err` is the answer.
async fn multipart_form(
    state: &AppState,
    headers: &HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(Ctx, crate::api::Parts), Response<Body>> {
    // Before reading the body: a session is needed at all.
    if let Err(d) = state.authorize(headers, None) {
        return Err(denied(state, headers, d));
    }
    let parts = read_parts(multipart)
        .await
        .map_err(|f| error_page(&f, None))?;
    let csrf = form_value(&parts.fields, "csrf").to_owned();
    let ctx = gate(state, headers, Some(&csrf))?;
    Ok((ctx, parts))
}

async fn show_certificates(
    state: Arc<AppState>,
    ctx: Ctx,
    status: StatusCode,
    notice: String,
) -> Response<Body> {
    let csrf = ctx.session.csrf.clone();
    match blocking(move || certificates_body(&state, &csrf, &notice)).await {
        Ok(body) => html(
            status,
            page(
                "Certificates",
                "/certificates",
                Some(&ctx.session.csrf),
                &body,
            ),
        ),
        Err(f) => error_page(&f, Some(&ctx.session.csrf)),
    }
}

fn upload_notice(results: &[FileResult]) -> (StatusCode, String) {
    let accepted = results.iter().filter(|r| r.accepted).count();
    let refused = results.len() - accepted;
    let summary = format!("{accepted} file(s) installed, {refused} refused");
    let kind = if refused == 0 { "ok" } else { "error" };
    let status = if accepted == 0 {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    (
        status,
        format!("{}{}", message(kind, &summary), results_html(results)),
    )
}

async fn trusted_post(
    State(state): Shared,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response<Body> {
    let (ctx, parts) = match multipart_form(&state, &headers, multipart).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let worker = state.clone();
    let results = match blocking(move || worker.upload_trusted(&parts.uploads)).await {
        Ok(r) => r,
        Err(f) => return error_page(&f, Some(&ctx.session.csrf)),
    };
    let (status, notice) = upload_notice(&results);
    show_certificates(state, ctx, status, notice).await
}

/// The file manager's upload: into `certs/trusted/`, or into `certs/`
/// where only `sipclient.pem` and `httpd.pem` belong.
async fn upload_post(
    State(state): Shared,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response<Body> {
    let (ctx, parts) = match multipart_form(&state, &headers, multipart).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let folder = form_value(&parts.fields, "folder").to_owned();
    let worker = state.clone();
    let results = blocking(move || {
        if folder != "certs" {
            return worker.upload_trusted(&parts.uploads);
        }
        parts
            .uploads
            .iter()
            .map(|u| {
                let which = match crate::sanitize_file_name(&u.name).as_deref() {
                    Ok("sipclient.pem") => Some(IdentityFile::SipClient),
                    Ok("httpd.pem") => Some(IdentityFile::Httpd),
                    Ok(_) => None,
                    Err(reason) => {
                        return FileResult { name: crate::files::printable(&u.name), accepted: false, reason: Some(reason.clone()), certificates: Vec::new() };
                    }
                };
                match which {
                    None => FileResult {
                        name: crate::files::printable(&u.name),
                        accepted: false,
                        reason: Some("certs/ holds only sipclient.pem (override identity) and httpd.pem (web certificate); CA certificates go in certs/trusted/".to_owned()),
                        certificates: Vec::new(),
                    },
                    Some(which) => match worker.upload_identity(which, u) {
                        Ok(v) => FileResult { name: crate::files::printable(&u.name), accepted: true, reason: None, certificates: vec![text(&v["subject"])] },
                        Err(f) => FileResult { name: crate::files::printable(&u.name), accepted: false, reason: Some(f.error), certificates: Vec::new() },
                    },
                }
            })
            .collect::<Vec<FileResult>>()
    })
    .await;
    match results {
        Ok(results) => {
            let (status, notice) = upload_notice(&results);
            show_certificates(state, ctx, status, notice).await
        }
        Err(f) => error_page(&f, Some(&ctx.session.csrf)),
    }
}

async fn identity_post(
    state: Arc<AppState>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
    which: IdentityFile,
) -> Response<Body> {
    let (ctx, mut parts) = match multipart_form(&state, &headers, multipart).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if parts.uploads.len() != 1 {
        let f = Failure::new(StatusCode::BAD_REQUEST, "choose exactly one file");
        return show_certificates(state, ctx, f.status, message("error", &f.error)).await;
    }
    let upload: Upload = parts.uploads.remove(0);
    let name = crate::files::printable(&upload.name);
    let worker = state.clone();
    let (status, notice) = match blocking(move || worker.upload_identity(which, &upload)).await {
        Ok(Ok(v)) => {
            let mut lines = vec![format!(
                "{} installed as {}: {}",
                name,
                text(&v["installed_as"]),
                text(&v["subject"])
            )];
            if let Some(note) = v["note"].as_str() {
                lines.push(note.to_owned());
            }
            if !v["restart"].is_null() {
                lines.push(format!(
                    "SIP stack restarted: {}",
                    text(&v["restart"]["detail"])
                ));
            }
            (StatusCode::OK, message_list("ok", "accepted", &lines))
        }
        Ok(Err(f)) | Err(f) => (
            f.status,
            message_list("error", &format!("{name}: refused"), &[f.error]),
        ),
    };
    show_certificates(state, ctx, status, notice).await
}

async fn sipclient_post(
    State(state): Shared,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response<Body> {
    identity_post(state, headers, multipart, IdentityFile::SipClient).await
}

async fn httpd_post(
    State(state): Shared,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response<Body> {
    identity_post(state, headers, multipart, IdentityFile::Httpd).await
}

async fn delete_post(State(state): Shared, headers: HeaderMap, body: Bytes) -> Response<Body> {
    let pairs = crate::form::parse_urlencoded(&body).unwrap_or_default();
    let ctx = match gate(&state, &headers, Some(form_value(&pairs, "csrf"))) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let folder = form_value(&pairs, "folder").to_owned();
    let name = form_value(&pairs, "name").to_owned();
    let worker = state.clone();
    let outcome = blocking(move || {
        if folder == "certs" && name == "sipclient.pem" {
            worker
                .delete_override()
                .map(|_| "certs/sipclient.pem deleted; the factory identity is in use".to_owned())
        } else if folder == "trusted" {
            worker
                .delete_trusted(&name)
                .map(|n| format!("certs/trusted/{n} deleted"))
        } else {
            Err(Failure::new(
                StatusCode::BAD_REQUEST,
                "only files of certs/trusted/ and certs/sipclient.pem can be deleted",
            ))
        }
    })
    .await;
    let (status, notice) = match outcome {
        Ok(Ok(text)) => (StatusCode::OK, message("ok", &text)),
        Ok(Err(f)) | Err(f) => (f.status, message("error", &f.error)),
    };
    show_certificates(state, ctx, status, notice).await
}

async fn device_pem(State(state): Shared, headers: HeaderMap) -> Response<Body> {
    if let Err(r) = gate(&state, &headers, None) {
        return r;
    }
    let data = state.config.data_dir.clone();
    match blocking(move || crate::files::device_certificate_pem(&data)).await {
        Ok(Some(pem)) => Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "application/x-pem-file")
            .header(
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"device.pem\"",
            )
            .body(Body::from(pem))
            .unwrap_or_else(|_| Response::new(Body::empty())),
        Ok(None) => error_page(
            &Failure::new(
                StatusCode::NOT_FOUND,
                "no manufacturer certificate is installed",
            ),
            None,
        ),
        Err(f) => error_page(&f, None),
    }
}

// ---- Settings ----------------------------------------------------------------

fn settings_body(state: &AppState, csrf: &str, notice: &str) -> String {
    let settings = state.settings();
    let mut body = String::from(notice);
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/settings\" id=\"settings-form\">{}",
        csrf_field(csrf)
    );
    for group in GROUPS {
        let _ = write!(
            body,
            "<fieldset><legend>{}</legend><table class=\"settings\">",
            esc(group)
        );
        for field in FIELDS.iter().filter(|f| f.group == group) {
            let value = shown_value(&settings, field.key);
            let id = field.key.replace('.', "-");
            let input = match field.kind {
                FieldKind::Secret => format!(
                    "<input type=\"password\" name=\"{key}\" id=\"{id}\" autocomplete=\"new-password\" placeholder=\"{}\">",
                    if value.is_empty() { "not set" } else { "set — leave empty to keep" },
                    key = field.key
                ),
                FieldKind::Bool => format!(
                    "<select name=\"{key}\" id=\"{id}\"><option value=\"1\"{}>1 (on)</option><option value=\"0\"{}>0 (off)</option></select>",
                    if value == "1" { " selected" } else { "" },
                    if value == "0" { " selected" } else { "" },
                    key = field.key
                ),
                FieldKind::Choice(options) => {
                    let mut s = format!("<select name=\"{}\" id=\"{id}\">", field.key);
                    for option in options {
                        let label = if option.is_empty() { "(not set)" } else { option };
                        let _ = write!(
                            s,
                            "<option value=\"{}\"{}>{}</option>",
                            esc(option),
                            if value == *option { " selected" } else { "" },
                            esc(label)
                        );
                    }
                    s.push_str("</select>");
                    s
                }
                FieldKind::Text | FieldKind::Number => format!(
                    "<input type=\"text\" name=\"{}\" id=\"{id}\" value=\"{}\">",
                    field.key,
                    esc(&value)
                ),
            };
            let _ = write!(
                body,
                "<tr><th><label for=\"{id}\">{}</label></th><td>{input}</td><td><code>{}</code></td><td class=\"help\">{}</td></tr>",
                esc(field.label),
                esc(field.key),
                esc(field.help)
            );
        }
        body.push_str("</table></fieldset>");
    }
    body.push_str("<button type=\"submit\" id=\"save-settings\">Apply</button></form>");
    body
}

async fn settings_page(State(state): Shared, headers: HeaderMap) -> Response<Body> {
    let ctx = match gate(&state, &headers, None) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let csrf = ctx.session.csrf.clone();
    match blocking(move || settings_body(&state, &csrf, "")).await {
        Ok(body) => html(
            StatusCode::OK,
            page("Settings", "/settings", Some(&ctx.session.csrf), &body),
        ),
        Err(f) => error_page(&f, Some(&ctx.session.csrf)),
    }
}

async fn settings_post(State(state): Shared, headers: HeaderMap, body: Bytes) -> Response<Body> {
    let pairs = match crate::form::parse_urlencoded(&body) {
        Ok(p) => p,
        Err(e) => return error_page(&Failure::new(StatusCode::BAD_REQUEST, e.to_string()), None),
    };
    let ctx = match gate(&state, &headers, Some(form_value(&pairs, "csrf"))) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let worker = state.clone();
    let outcome = blocking(move || {
        // Only what the form changed: unchanged values and empty secret fields are left alone.
        let current = worker.settings();
        let changed: Vec<(String, String)> = pairs
            .into_iter()
            .filter(|(k, _)| k != "csrf")
            .filter(|(k, v)| {
                let secret = crate::settings::field(k).is_some_and(|f| f.kind == FieldKind::Secret);
                if secret {
                    !v.is_empty()
                } else {
                    *v != shown_value(&current, k)
                }
            })
            .collect();
        if changed.is_empty() {
            return Ok(None);
        }
        worker.apply_settings(&changed).map(Some)
    })
    .await;
    let (status, notice) = match outcome {
        Ok(Ok(None)) => (StatusCode::OK, message("note", "Nothing changed.")),
        Ok(Ok(Some(v))) => {
            let mut lines: Vec<String> = v["changes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(text)
                .collect();
            lines.extend(
                v["warnings"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|w| format!("warning: {}", text(w))),
            );
            if !v["restart"].is_null() {
                lines.push(format!(
                    "SIP stack restarted: {}",
                    text(&v["restart"]["detail"])
                ));
            }
            (
                StatusCode::OK,
                format!(
                    "<div id=\"settings-result\">{}</div>",
                    message_list("ok", "Applied to config.conf:", &lines)
                ),
            )
        }
        Ok(Err(f)) | Err(f) => (
            f.status,
            format!(
                "<div id=\"settings-result\">{}</div>",
                message_list("error", &f.error, &f.reasons)
            ),
        ),
    };
    let csrf = ctx.session.csrf.clone();
    match blocking(move || settings_body(&state, &csrf, &notice)).await {
        Ok(body) => html(
            status,
            page("Settings", "/settings", Some(&ctx.session.csrf), &body),
        ),
        Err(f) => error_page(&f, Some(&ctx.session.csrf)),
    }
}

// ---- Provisioning and maintenance -------------------------------------------

fn provisioning_body(csrf: &str, result: Option<&Value>, last: &Value) -> String {
    let mut body = String::new();
    let show = |v: &Value, id: &str| {
        let changes: Vec<String> = v["changes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(text)
            .collect();
        facts(
            id,
            &[
                ("Result", text(&v["result"])),
                ("URL", text(&v["url"])),
                ("Server", text(&v["server"])),
                (
                    "Keys changed",
                    if changes.is_empty() {
                        "none".to_owned()
                    } else {
                        changes.join(", ")
                    },
                ),
                ("Error", text(&v["error"])),
            ],
        )
    };
    if let Some(r) = result {
        let _ = write!(
            body,
            "<section><h2>Result</h2>{}</section>",
            show(r, "provision-result")
        );
    }
    let _ = write!(
        body,
        "<section><h2>Last provisioning</h2>{}</section><form method=\"post\" action=\"/provisioning\" class=\"card\">{}<button type=\"submit\" id=\"provision-now\">Provision now</button></form>",
        show(last, "provision-last"),
        csrf_field(csrf)
    );
    body
}

async fn provisioning_page(State(state): Shared, headers: HeaderMap) -> Response<Body> {
    let ctx = match gate(&state, &headers, None) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let last = blocking(move || serde_json::json!(state.device.status().provisioning))
        .await
        .unwrap_or_default();
    html(
        StatusCode::OK,
        page(
            "Provisioning",
            "/provisioning",
            Some(&ctx.session.csrf),
            &provisioning_body(&ctx.session.csrf, None, &last),
        ),
    )
}

async fn provisioning_post(
    State(state): Shared,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let pairs = crate::form::parse_urlencoded(&body).unwrap_or_default();
    let ctx = match gate(&state, &headers, Some(form_value(&pairs, "csrf"))) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let result = blocking(move || state.provision())
        .await
        .unwrap_or_default();
    html(
        StatusCode::OK,
        page(
            "Provisioning",
            "/provisioning",
            Some(&ctx.session.csrf),
            &provisioning_body(&ctx.session.csrf, Some(&result), &result),
        ),
    )
}

fn maintenance_body(csrf: &str, notice: &str) -> String {
    format!(
        "{notice}<section><h2>SIP stack</h2><form method=\"post\" action=\"/maintenance/restart\" class=\"card\">{c}\
         <button type=\"submit\" id=\"restart\">Restart the SIP stack</button></form></section>\
         <section><h2>Factory reset</h2><p>Wipes the configuration, certs/ and certs/trusted/. The factory partition \
         (device certificate and key) is never touched. The admin password returns to the default and a new web certificate is made.</p>\
         <form method=\"post\" action=\"/maintenance/factory-reset\" class=\"card\">{c}<button type=\"submit\" id=\"factory-reset\" class=\"danger\">Factory reset…</button></form></section>",
        c = csrf_field(csrf)
    )
}

async fn maintenance_page(State(state): Shared, headers: HeaderMap) -> Response<Body> {
    let ctx = match gate(&state, &headers, None) {
        Ok(c) => c,
        Err(r) => return r,
    };
    html(
        StatusCode::OK,
        page(
            "Maintenance",
            "/maintenance",
            Some(&ctx.session.csrf),
            &maintenance_body(&ctx.session.csrf, ""),
        ),
    )
}

async fn restart_post(State(state): Shared, headers: HeaderMap, body: Bytes) -> Response<Body> {
    let pairs = crate::form::parse_urlencoded(&body).unwrap_or_default();
    let ctx = match gate(&state, &headers, Some(form_value(&pairs, "csrf"))) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let r = blocking(move || state.restart()).await.unwrap_or_default();
    let notice = if r["ok"] == Value::Bool(true) {
        message(
            "ok",
            &format!("SIP stack restarted: {}", text(&r["detail"])),
        )
    } else {
        message(
            "error",
            &format!("The SIP stack did not come back: {}", text(&r["detail"])),
        )
    };
    html(
        StatusCode::OK,
        page(
            "Maintenance",
            "/maintenance",
            Some(&ctx.session.csrf),
            &maintenance_body(&ctx.session.csrf, &notice),
        ),
    )
}

async fn factory_reset_post(
    State(state): Shared,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let pairs = crate::form::parse_urlencoded(&body).unwrap_or_default();
    let ctx = match gate(&state, &headers, Some(form_value(&pairs, "csrf"))) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if form_value(&pairs, "confirm") != "yes" {
        let body = format!(
            "{}<form method=\"post\" action=\"/maintenance/factory-reset\" class=\"card\">{}<input type=\"hidden\" name=\"confirm\" value=\"yes\">\
             <button type=\"submit\" id=\"confirm-reset\" class=\"danger\">Yes, wipe the user store</button> <a href=\"/maintenance\">Cancel</a></form>",
            message("error", "Really reset to factory settings? The configuration, uploaded certificates and the admin password are wiped; the factory identity stays."),
            csrf_field(&ctx.session.csrf)
        );
        return html(
            StatusCode::OK,
            page(
                "Confirm factory reset",
                "/maintenance",
                Some(&ctx.session.csrf),
                &body,
            ),
        );
    }
    match blocking(move || state.factory_reset()).await {
        Ok(Ok(v)) => {
            let mut lines: Vec<String> = v["removed"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| format!("removed {}", text(p)))
                .collect();
            lines.push(format!(
                "new web certificate SHA-256 {}",
                text(&v["web_certificate"]["sha256"])
            ));
            lines.push(
                "The admin password is back to the default; log in again with it.".to_owned(),
            );
            let body = format!(
                "<div id=\"reset-result\">{}</div><p><a href=\"/login\">Log in</a></p>",
                message_list(
                    "ok",
                    "Factory reset done. The factory partition is untouched.",
                    &lines
                )
            );
            with_cookie(
                html(StatusCode::OK, page("Factory reset done", "", None, &body)),
                &clear_cookie(),
            )
        }
        Ok(Err(f)) | Err(f) => error_page(&f, Some(&ctx.session.csrf)),
    }
}
