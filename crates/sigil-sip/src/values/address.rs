//! Addresses: From, To, Contact, Route and Record-Route.

use std::fmt;

use nom::bytes::complete::tag;

use crate::syntax::{all_consumed, quoted_string, sws, token, unquote, Res};
use crate::uri::Uri;

use super::{
    find_param, list, list_check, params_each, parse_delta_seconds, to_param, verr, write_params,
    Param, ValueError,
};

/// A name-addr or addr-spec with header parameters: the value of From, To,
/// Contact, Route and Record-Route.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NameAddr {
    /// Display name as sent: a quoted string (with its quotes) or tokens joined by single spaces.
    pub display_name: Option<String>,
    /// The address.
    pub uri: Uri,
    /// Header parameters (`tag`, `expires`, `q`, …) in order.
    pub params: Vec<Param>,
}

impl NameAddr {
    /// An address without display name or parameters.
    pub fn new(uri: Uri) -> Self {
        NameAddr {
            display_name: None,
            uri,
            params: Vec::new(),
        }
    }
    /// The `tag` parameter.
    pub fn tag(&self) -> Option<&str> {
        self.param("tag").and_then(|p| p.value.as_deref())
    }
    /// The `expires` parameter (Contact), saturated at 2³²−1.
    pub fn expires(&self) -> Option<u32> {
        self.param("expires")
            .and_then(|p| p.value.as_deref())
            .and_then(|v| parse_delta_seconds(v).ok())
    }
    /// The display name without quotes and escapes.
    pub fn display_name_text(&self) -> Option<String> {
        self.display_name.as_deref().map(unquote)
    }
    /// A header parameter by name (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&Param> {
        find_param(&self.params, name)
    }
    /// Set (or replace) a header parameter.
    pub fn set_param(&mut self, name: &str, value: Option<&str>) {
        let value = value.map(str::to_string);
        if let Some(p) = self
            .params
            .iter_mut()
            .find(|p| p.name.eq_ignore_ascii_case(name))
        {
            p.value = value;
        } else {
            self.params.push(Param {
                name: name.to_string(),
                value,
            });
        }
    }

    /// The grammar of one address: display name (raw) and the URI, checked or
    /// parsed by `uri`; header parameters go to `f`.
    fn scan<'a, U>(
        i: &'a str,
        f: impl FnMut(&'a str, Option<&'a str>),
        uri: impl FnOnce(&'a str) -> Result<U, crate::uri::UriError>,
    ) -> Res<'a, (Option<DisplayName<'a>>, U)> {
        fn fail(at: &str) -> nom::Err<nom::error::Error<&str>> {
            nom::Err::Error(nom::error::Error::new(at, nom::error::ErrorKind::Verify))
        }
        let (i, _) = sws(i)?;
        let (i, display) = if i.starts_with('"') {
            let (i, q) = quoted_string(i)?;
            (i, Some(DisplayName::Quoted(q)))
        } else if i.starts_with('<') {
            (i, None)
        } else {
            // Tokens separated by LWS and followed by '<', or else an addr-spec.
            let mut j = i;
            let mut words_end = None;
            while let Ok((rest, _)) = token(j) {
                words_end = Some(rest);
                let (rest, _) = sws(rest)?;
                j = rest;
            }
            match words_end {
                Some(end) if j.starts_with('<') => {
                    (j, Some(DisplayName::Tokens(&i[..i.len() - end.len()])))
                }
                _ => {
                    // addr-spec: no '<'. The URI runs to ';', ',' or white space, and
                    // may not contain '?' (RFC 3261 §20: such URIs need <>).
                    let end = i.find([';', ',', ' ', '\t']).unwrap_or(i.len());
                    let text = &i[..end];
                    if text.contains('?') {
                        return Err(fail(i));
                    }
                    let u = uri(text).map_err(|_| fail(i))?;
                    let (rest, ()) = params_each(&i[end..], f)?;
                    let (rest, _) = sws(rest)?;
                    return Ok((rest, (None, u)));
                }
            }
        };
        let (i, _) = sws(i)?;
        let (i, _) = tag("<")(i)?;
        let end = i.find('>').ok_or_else(|| fail(i))?;
        let u = uri(&i[..end]).map_err(|_| fail(i))?;
        let (i, ()) = params_each(&i[end + 1..], f)?;
        let (i, _) = sws(i)?;
        Ok((i, (display, u)))
    }

    fn nom(i: &str) -> Res<'_, NameAddr> {
        let mut params = Vec::new();
        let (rest, (display, uri)) =
            NameAddr::scan(i, |n, v| params.push(to_param(n, v)), Uri::parse)?;
        let display_name = display.map(|d| match d {
            DisplayName::Quoted(q) => q.to_string(),
            DisplayName::Tokens(t) if !t.contains(['\t']) && !t.contains("  ") => t.to_string(),
            DisplayName::Tokens(t) => t.split_ascii_whitespace().collect::<Vec<_>>().join(" "),
        });
        Ok((
            rest,
            NameAddr {
                display_name,
                uri,
                params,
            },
        ))
    }

    /// Check one address without building it.
    pub(crate) fn check(v: &str) -> Result<(), ValueError> {
        all_consumed(v, |i| NameAddr::scan(i, |_, _| {}, Uri::check))
            .map(drop)
            .map_err(|p| verr("malformed address (name-addr or addr-spec)", p))
    }

    /// Check a comma-separated list of addresses without building it.
    pub(crate) fn check_list(v: &str) -> Result<(), ValueError> {
        list_check(v, NameAddr::check)
    }

    /// Parse one address (From, To, one Contact or Route entry).
    pub fn parse(v: &str) -> Result<NameAddr, ValueError> {
        all_consumed(v, NameAddr::nom)
            .map_err(|p| verr("malformed address (name-addr or addr-spec)", p))
    }

    /// Parse a comma-separated list of addresses (Contact, Route, Record-Route).
    pub fn parse_list(v: &str) -> Result<Vec<NameAddr>, ValueError> {
        list(v, NameAddr::parse)
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display_name {
            write!(f, "{d} ")?;
        }
        write!(f, "<{}>", self.uri)?;
        write_params(f, &self.params)
    }
}

/// A display name as found in the text.
enum DisplayName<'a> {
    /// A quoted string, with its quotes.
    Quoted(&'a str),
    /// Tokens separated by white space.
    Tokens(&'a str),
}

/// The value of a Contact header: `*` or addresses.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ContactValue {
    /// `Contact: *` (remove all bindings, with `Expires: 0`).
    Star,
    /// One or more addresses.
    Addresses(Vec<NameAddr>),
}

impl ContactValue {
    /// Parse a Contact header value.
    pub fn parse(v: &str) -> Result<ContactValue, ValueError> {
        if v.trim() == "*" {
            Ok(ContactValue::Star)
        } else {
            NameAddr::parse_list(v).map(ContactValue::Addresses)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_addr_forms() {
        let a = NameAddr::parse(
            r#""J Rosenberg \\\""       <sip:jdrosen@example.com> ;  tag = 98asjd8"#,
        )
        .unwrap();
        assert_eq!(a.tag(), Some("98asjd8"));
        assert_eq!(a.display_name_text().as_deref(), Some(r#"J Rosenberg \""#));
        let b = NameAddr::parse("caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(b.display_name.as_deref(), Some("caller"));
        let c = NameAddr::parse("sip:user@example.com ;   tag    = 1918181833n").unwrap();
        assert_eq!(c.tag(), Some("1918181833n"));
        assert!(NameAddr::parse("Bell, Alexander <sip:a@b>").is_err());
        assert!(NameAddr::parse("\"Mr. J. User <sip:j.user@example.com>").is_err());
        assert!(NameAddr::parse("< sip:a@b >").is_err());
        assert!(NameAddr::parse("sip:user@example.com?Route=%3Csip:x%3E").is_err());
        assert!(NameAddr::parse("\"Joe\" <sip:joe@example.org>;;;;").is_err());
    }
}
