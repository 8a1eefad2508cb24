//! The login, logout and password pages.

use super::*;

pub(super) fn login_form() -> String {
    "<form method=\"post\" action=\"/login\" class=\"card\" id=\"login-form\">\
     <label>Admin password <input type=\"password\" name=\"password\" id=\"password\" autocomplete=\"current-password\" required autofocus></label>\
     <button type=\"submit\" id=\"login\">Log in</button></form>"
        .to_owned()
}

pub(super) async fn login_page() -> Response<Body> {
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

pub(super) async fn login_post(
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

pub(super) async fn logout_post(
    State(state): Shared,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let pairs = crate::form::parse_urlencoded(&body).unwrap_or_default();
    if let Some(ctx) = state.session(&headers) {
        if !crate::auth::same_token(form_value(&pairs, "csrf"), &ctx.session.csrf) {
            return error_page(&Denied::Csrf.into(), None);
        }
    }
    state.logout(&headers);
    with_cookie(redirect("/login"), &clear_cookie())
}

pub(super) fn password_form(state: &AppState, headers: &HeaderMap, note: Option<&str>) -> String {
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

pub(super) async fn password_page(State(state): Shared, headers: HeaderMap) -> Response<Body> {
    if state.session(&headers).is_none() {
        return redirect("/login");
    }
    html(StatusCode::OK, password_form(&state, &headers, None))
}

pub(super) async fn password_post(
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
