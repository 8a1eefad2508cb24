//! The Certificates page: uploads, the file manager, the device certificate.

use super::*;

pub(super) fn results_html(results: &[FileResult]) -> String {
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

pub(super) fn certificates_body(state: &AppState, csrf: &str, notice: &str) -> String {
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

pub(super) async fn certificates_page(State(state): Shared, headers: HeaderMap) -> Response<Body> {
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
pub(super) async fn multipart_form(
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

pub(super) async fn show_certificates(
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

pub(super) fn upload_notice(results: &[FileResult]) -> (StatusCode, String) {
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

pub(super) async fn trusted_post(
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
pub(super) async fn upload_post(
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

pub(super) async fn identity_post(
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

pub(super) async fn sipclient_post(
    State(state): Shared,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response<Body> {
    identity_post(state, headers, multipart, IdentityFile::SipClient).await
}

pub(super) async fn httpd_post(
    State(state): Shared,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response<Body> {
    identity_post(state, headers, multipart, IdentityFile::Httpd).await
}

pub(super) async fn delete_post(
    State(state): Shared,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let (pairs, ctx) = match gate_form(&state, &headers, &body) {
        Ok(p) => p,
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

pub(super) async fn device_pem(State(state): Shared, headers: HeaderMap) -> Response<Body> {
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
