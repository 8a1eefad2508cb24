//! The Provisioning and Maintenance pages: provisioning now, restart, factory reset.

use super::*;

pub(super) fn provisioning_body(csrf: &str, result: Option<&Value>, last: &Value) -> String {
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

pub(super) async fn provisioning_page(State(state): Shared, headers: HeaderMap) -> Response<Body> {
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

pub(super) async fn provisioning_post(
    State(state): Shared,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let (_, ctx) = match gate_form(&state, &headers, &body) {
        Ok(p) => p,
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

pub(super) fn maintenance_body(csrf: &str, notice: &str) -> String {
    format!(
        "{notice}<section><h2>SIP stack</h2><form method=\"post\" action=\"/maintenance/restart\" class=\"card\">{c}\
         <button type=\"submit\" id=\"restart\">Restart the SIP stack</button></form></section>\
         <section><h2>Factory reset</h2><p>Wipes the configuration, certs/ and certs/trusted/. The factory partition \
         (device certificate and key) is never touched. The admin password returns to the default and a new web certificate is made.</p>\
         <form method=\"post\" action=\"/maintenance/factory-reset\" class=\"card\">{c}<button type=\"submit\" id=\"factory-reset\" class=\"danger\">Factory reset…</button></form></section>",
        c = csrf_field(csrf)
    )
}

pub(super) async fn maintenance_page(State(state): Shared, headers: HeaderMap) -> Response<Body> {
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

pub(super) async fn restart_post(
    State(state): Shared,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let (_, ctx) = match gate_form(&state, &headers, &body) {
        Ok(p) => p,
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

pub(super) async fn factory_reset_post(
    State(state): Shared,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let (pairs, ctx) = match gate_form(&state, &headers, &body) {
        Ok(p) => p,
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
