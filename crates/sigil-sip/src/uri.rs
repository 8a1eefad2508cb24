//! SIP and other URIs (RFC 3261 §19.1, §25.1), kept in their escaped wire form.

use std::fmt;
use std::str::FromStr;

use crate::syntax::{all1, escapes_ok, find_byte};

/// Why a URI was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid URI: {reason}")]
pub struct UriError {
    /// What is wrong, in words.
    pub reason: &'static str,
}

fn err(reason: &'static str) -> UriError {
    UriError { reason }
}

/// A URI parameter (`;name=value` inside a SIP URI), in escaped wire form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UriParam {
    /// Parameter name, as received.
    pub name: String,
    /// Parameter value, if any.
    pub value: Option<String>,
}

/// A `sip:` or `sips:` URI. Text fields keep their `%`-escapes as received so
/// that serialising gives back the same bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SipUri {
    /// `true` for `sips:`.
    pub secure: bool,
    /// User part (escaped form), if any.
    pub user: Option<String>,
    /// Password part (escaped form), if any. Deprecated by RFC 3261; kept for fidelity.
    pub password: Option<String>,
    /// Host name, IPv4 address or bracketed IPv6 reference.
    pub host: String,
    /// Port, if given.
    pub port: Option<u16>,
    /// URI parameters in order (`transport`, `lr`, `maddr`, …).
    pub params: Vec<UriParam>,
    /// URI headers (`?name=value&…`) in order; never allowed in a Request-URI.
    pub headers: Vec<(String, String)>,
}

/// Any URI found in a SIP message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Uri {
    /// A `sip:` or `sips:` URI.
    Sip(SipUri),
    /// Any other absolute URI (`tel:`, `http:`, unknown schemes), kept verbatim.
    Other {
        /// The scheme, as received.
        scheme: String,
        /// Everything after the first `:`.
        rest: String,
    },
}

fn is_unreserved(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '!' | '~' | '*' | '\'' | '(' | ')')
}
fn is_user_char(c: char) -> bool {
    is_unreserved(c) || c == '%' || matches!(c, '&' | '=' | '+' | '$' | ',' | ';' | '?' | '/')
}
fn is_password_char(c: char) -> bool {
    is_unreserved(c) || c == '%' || matches!(c, '&' | '=' | '+' | '$' | ',')
}
fn is_param_char(c: char) -> bool {
    is_unreserved(c) || c == '%' || matches!(c, '[' | ']' | '/' | ':' | '&' | '+' | '$')
}
fn is_hnv_char(c: char) -> bool {
    is_unreserved(c) || c == '%' || matches!(c, '[' | ']' | '/' | '?' | ':' | '+' | '$')
}
fn is_uric(c: char) -> bool {
    is_unreserved(c)
        || c == '%'
        || matches!(
            c,
            ';' | '/' | '?' | ':' | '@' | '&' | '=' | '+' | '$' | ',' | '[' | ']' | '#'
        )
}

/// Check a host: a host name or IPv4 address, or an IPv6 reference in brackets.
pub(crate) fn valid_host(h: &str) -> bool {
    let b = h.as_bytes();
    match b.first() {
        None | Some(b'.' | b'-') => false,
        Some(b'[') => match b.get(1..b.len() - 1) {
            Some(inner) if b.len() >= 2 && b[b.len() - 1] == b']' => {
                !inner.is_empty()
                    && inner
                        .iter()
                        .all(|&c| c.is_ascii_hexdigit() || c == b':' || c == b'.')
                    && inner.contains(&b':')
            }
            _ => false,
        },
        Some(_) => b
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.'),
    }
}

/// Parse a decimal port (1 to 5 digits, at most 65535).
pub(crate) fn parse_port(p: &str) -> Option<u16> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse().ok()
}

impl SipUri {
    /// A `sip:` URI for `host` with no user, port or parameters.
    pub fn new(host: impl Into<String>) -> Self {
        SipUri {
            secure: false,
            user: None,
            password: None,
            host: host.into(),
            port: None,
            params: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// The value of URI parameter `name` (case-insensitive): `Some(None)` when present without a value.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| p.value.as_deref())
    }

    /// The `transport` parameter, if present.
    pub fn transport(&self) -> Option<&str> {
        self.param("transport").flatten()
    }

    /// Set (or replace) a URI parameter.
    pub fn set_param(&mut self, name: &str, value: Option<&str>) {
        let value = value.map(str::to_string);
        if let Some(p) = self
            .params
            .iter_mut()
            .find(|p| p.name.eq_ignore_ascii_case(name))
        {
            p.value = value;
        } else {
            self.params.push(UriParam {
                name: name.to_string(),
                value,
            });
        }
    }

    fn parse(secure: bool, rest: &str) -> Result<Self, UriError> {
        let mut params = Vec::new();
        let mut headers = Vec::new();
        let parts = scan_sip(
            rest,
            |name, value| {
                params.push(UriParam {
                    name: name.to_string(),
                    value: value.map(str::to_string),
                })
            },
            |n, v| headers.push((n.to_string(), v.to_string())),
        )?;
        Ok(SipUri {
            secure,
            user: parts.user.map(str::to_string),
            password: parts.password.map(str::to_string),
            host: parts.host.to_string(),
            port: parts.port,
            params,
            headers,
        })
    }
}

/// User, password, host and port of a SIP URI, borrowed from the text.
struct SipParts<'a> {
    user: Option<&'a str>,
    password: Option<&'a str>,
    host: &'a str,
    port: Option<u16>,
}

/// The parts of a SIP URI after the scheme, borrowed; parameters and headers
/// are handed to the callbacks as they are checked.
fn scan_sip<'a>(
    rest: &'a str,
    mut on_param: impl FnMut(&'a str, Option<&'a str>),
    mut on_header: impl FnMut(&'a str, &'a str),
) -> Result<SipParts<'a>, UriError> {
    let (userinfo, hostpart) = match find_byte(rest, b'@') {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    };
    let (user, password) = match userinfo {
        None => (None, None),
        Some(ui) => {
            let (u, p) = match find_byte(ui, b':') {
                Some(c) => (&ui[..c], Some(&ui[c + 1..])),
                None => (ui, None),
            };
            if !all1(u, is_user_char) || !escapes_ok(u) {
                return Err(err("bad character in user part"));
            }
            if let Some(p) = p {
                if !p.chars().all(is_password_char) || !escapes_ok(p) {
                    return Err(err("bad character in password"));
                }
            }
            (Some(u), p)
        }
    };
    let (hostport, tail) = match hostpart.bytes().position(|b| b == b';' || b == b'?') {
        Some(i) => (&hostpart[..i], &hostpart[i..]),
        None => (hostpart, ""),
    };
    let (host, port) = if hostport.starts_with('[') {
        match find_byte(hostport, b']') {
            Some(end) => {
                let after = &hostport[end + 1..];
                let port = match after.strip_prefix(':') {
                    Some(p) => Some(parse_port(p).ok_or(err("bad port"))?),
                    None if after.is_empty() => None,
                    None => return Err(err("junk after IPv6 reference")),
                };
                (&hostport[..=end], port)
            }
            None => return Err(err("unterminated IPv6 reference")),
        }
    } else {
        match find_byte(hostport, b':') {
            Some(c) => (
                &hostport[..c],
                Some(parse_port(&hostport[c + 1..]).ok_or(err("bad port"))?),
            ),
            None => (hostport, None),
        }
    };
    if !valid_host(host) {
        return Err(err("bad host"));
    }
    let (param_text, header_text) = match find_byte(tail, b'?') {
        Some(q) => (&tail[..q], Some(&tail[q + 1..])),
        None => (tail, None),
    };
    if !param_text.is_empty() {
        // param_text starts with ';'
        for p in param_text[1..].split(';') {
            let (name, value) = match p.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (p, None),
            };
            if !all1(name, is_param_char) || !escapes_ok(name) {
                return Err(err("bad URI parameter name"));
            }
            if let Some(v) = value {
                if !all1(v, is_param_char) || !escapes_ok(v) {
                    return Err(err("bad URI parameter value"));
                }
            }
            on_param(name, value);
        }
    }
    if let Some(h) = header_text {
        for pair in h.split('&') {
            let (n, v) = pair.split_once('=').ok_or(err("URI header without '='"))?;
            if !all1(n, is_hnv_char) || !v.chars().all(is_hnv_char) || !escapes_ok(pair) {
                return Err(err("bad URI header"));
            }
            on_header(n, v);
        }
    }
    Ok(SipParts {
        user,
        password,
        host,
        port,
    })
}

/// `scheme ":" rest` of an absolute URI, the scheme checked (RFC 3986 §3.1).
fn split_scheme(s: &str) -> Result<(&str, &str), UriError> {
    let colon = find_byte(s, b':').ok_or(err("no scheme"))?;
    let (scheme, rest) = (&s[..colon], &s[colon + 1..]);
    let b = scheme.as_bytes();
    if !b.first().is_some_and(u8::is_ascii_alphabetic)
        || !b[1..]
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
    {
        return Err(err("bad scheme"));
    }
    Ok((scheme, rest))
}

/// Checks the part after the scheme of a URI that is not `sip:`/`sips:`.
fn check_other(rest: &str) -> Result<(), UriError> {
    if !all1(rest, is_uric) || !escapes_ok(rest) {
        return Err(err("bad character in URI"));
    }
    Ok(())
}

impl Uri {
    /// Parse a URI. `sip:`/`sips:` URIs are parsed into parts; other schemes are
    /// checked for URI characters and kept verbatim.
    pub fn parse(s: &str) -> Result<Uri, UriError> {
        let (scheme, rest) = split_scheme(s)?;
        if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
            return SipUri::parse(scheme.len() == 4, rest).map(Uri::Sip);
        }
        check_other(rest)?;
        Ok(Uri::Other {
            scheme: scheme.to_string(),
            rest: rest.to_string(),
        })
    }

    /// Check a URI without building it (the parser's validation path).
    pub(crate) fn check(s: &str) -> Result<(), UriError> {
        let (scheme, rest) = split_scheme(s)?;
        if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
            return scan_sip(rest, |_, _| {}, |_, _| {}).map(drop);
        }
        check_other(rest)
    }

    /// The SIP URI, when this is one.
    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Uri::Sip(s) => Some(s),
            Uri::Other { .. } => None,
        }
    }
}

impl FromStr for Uri {
    type Err = UriError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uri::parse(s)
    }
}

impl From<SipUri> for Uri {
    fn from(s: SipUri) -> Self {
        Uri::Sip(s)
    }
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.secure { "sips:" } else { "sip:" })?;
        if let Some(u) = &self.user {
            f.write_str(u)?;
            if let Some(p) = &self.password {
                write!(f, ":{p}")?;
            }
            f.write_str("@")?;
        }
        f.write_str(&self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        for p in &self.params {
            write!(f, ";{}", p.name)?;
            if let Some(v) = &p.value {
                write!(f, "={v}")?;
            }
        }
        for (i, (n, v)) in self.headers.iter().enumerate() {
            write!(f, "{}{n}={v}", if i == 0 { '?' } else { '&' })?;
        }
        Ok(())
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Sip(s) => s.fmt(f),
            Uri::Other { scheme, rest } => write!(f, "{scheme}:{rest}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_uri_parts() {
        let u = Uri::parse("sips:alice:pw@[2001:db8::1]:5061;transport=tls;lr?Subject=x").unwrap();
        let s = u.as_sip().unwrap();
        assert!(s.secure);
        assert_eq!(s.user.as_deref(), Some("alice"));
        assert_eq!(s.host, "[2001:db8::1]");
        assert_eq!(s.port, Some(5061));
        assert_eq!(s.transport(), Some("tls"));
        assert_eq!(s.param("lr"), Some(None));
        assert_eq!(s.headers, vec![("Subject".into(), "x".into())]);
        assert_eq!(
            u.to_string(),
            "sips:alice:pw@[2001:db8::1]:5061;transport=tls;lr?Subject=x"
        );
    }

    #[test]
    fn rejects_bad_uris() {
        for bad in [
            "<sip:a@b>",
            "sip:",
            "sip:a@b:99999",
            "sip:a b@c",
            "nocolon",
            "sip:a@b;",
            "sip:%zz@b",
        ] {
            assert!(Uri::parse(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            Uri::parse("isbn:2983792873").unwrap(),
            Uri::Other { .. }
        ));
    }
}
