//! HTML by hand: every text that reaches a page goes through [`esc`]; the
//! pages share one layout. No inline script or style (the CSP forbids them).

use std::fmt::Write;

/// Escapes text for HTML element content and double-quoted attributes.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// The navigation entries: (path, label).
const NAV: [(&str, &str); 5] = [
    ("/", "Status / About"),
    ("/certificates", "Certificates"),
    ("/settings", "Settings"),
    ("/provisioning", "Provisioning"),
    ("/maintenance", "Maintenance"),
];

/// A whole page. `csrf`: the session's token when logged in (shows the
/// navigation and the logout button).
pub(crate) fn page(title: &str, active: &str, csrf: Option<&str>, body: &str) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} — Sigil device</title><link rel=\"stylesheet\" href=\"/static/style.css\"></head><body>\
         <header><span class=\"brand\">Sigil device</span>",
        esc(title)
    );
    if let Some(csrf) = csrf {
        out.push_str("<nav>");
        for (path, label) in NAV {
            let class = if path == active {
                " class=\"active\""
            } else {
                ""
            };
            let _ = write!(out, "<a href=\"{path}\"{class}>{}</a>", esc(label));
        }
        let _ = write!(
            out,
            "</nav><form method=\"post\" action=\"/logout\" class=\"logout\">{}<button type=\"submit\">Log out</button></form>",
            csrf_field(csrf)
        );
    }
    let _ = write!(
        out,
        "</header><main><h1>{}</h1>{body}</main></body></html>",
        esc(title)
    );
    out
}

/// The hidden CSRF field of a form.
pub(crate) fn csrf_field(csrf: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(csrf)
    )
}

/// A message box: `kind` is `ok`, `error` or `note`.
pub(crate) fn message(kind: &str, text: &str) -> String {
    format!("<p class=\"msg {kind}\">{}</p>", esc(text))
}

/// A message with a list of reasons.
pub(crate) fn message_list(kind: &str, text: &str, items: &[String]) -> String {
    let mut out = format!("<div class=\"msg {kind}\"><p>{}</p>", esc(text));
    if !items.is_empty() {
        out.push_str("<ul>");
        for item in items {
            let _ = write!(out, "<li>{}</li>", esc(item));
        }
        out.push_str("</ul>");
    }
    out.push_str("</div>");
    out
}

/// A two-column table of label / value rows (values escaped).
pub(crate) fn facts(id: &str, rows: &[(&str, String)]) -> String {
    let mut out = format!("<table class=\"facts\" id=\"{}\">", esc(id));
    for (label, value) in rows {
        let _ = write!(
            out,
            "<tr><th>{}</th><td>{}</td></tr>",
            esc(label),
            esc(value)
        );
    }
    out.push_str("</table>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(esc("a\u{0}b"), "a\u{fffd}b");
        let p = page("<T>", "/", Some("tok\"en"), "<p>x</p>");
        assert!(p.contains("<h1>&lt;T&gt;</h1>"));
        assert!(p.contains("value=\"tok&quot;en\""));
    }
}
