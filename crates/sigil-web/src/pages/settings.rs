//! The Settings page.

use super::*;

pub(super) fn settings_body(state: &AppState, csrf: &str, notice: &str) -> String {
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

pub(super) async fn settings_page(State(state): Shared, headers: HeaderMap) -> Response<Body> {
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

pub(super) async fn settings_post(
    State(state): Shared,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
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
