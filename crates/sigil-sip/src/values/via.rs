//! The Via header.

use std::fmt;

use crate::syntax::{all_consumed, lws, sep, sws, take_ascii1, token, Res};
use crate::uri::{parse_port, valid_host};

use super::{
    find_param, list, list_check, params_each, to_param, verr, write_params, Param, ValueError,
};

/// A `Via` entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Via {
    /// Transport (`UDP`, `TCP`, `TLS`, `SCTP`, `WS`, …).
    pub transport: String,
    /// Host of sent-by.
    pub host: String,
    /// Port of sent-by, if given.
    pub port: Option<u16>,
    /// Parameters in order.
    pub params: Vec<Param>,
}

impl Via {
    /// A Via for `SIP/2.0/<transport> host[:port];branch=<branch>`.
    pub fn new(transport: &str, host: &str, port: Option<u16>, branch: &str) -> Via {
        Via {
            transport: transport.to_string(),
            host: host.to_string(),
            port,
            params: vec![Param::new("branch", Some(branch))],
        }
    }
    /// The `branch` parameter.
    pub fn branch(&self) -> Option<&str> {
        find_param(&self.params, "branch").and_then(|p| p.value.as_deref())
    }
    /// The `received` parameter.
    pub fn received(&self) -> Option<&str> {
        find_param(&self.params, "received").and_then(|p| p.value.as_deref())
    }
    /// The `rport` parameter: `Some(None)` when present without a value (a request for it),
    /// `Some(Some(port))` when filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        find_param(&self.params, "rport").map(|p| p.value.as_deref().and_then(parse_port))
    }
    /// Whether the `alias` parameter (RFC 5923 connection reuse) is present.
    pub fn alias(&self) -> bool {
        find_param(&self.params, "alias").is_some()
    }
    /// Any parameter by name.
    pub fn param(&self, name: &str) -> Option<&Param> {
        find_param(&self.params, name)
    }

    /// The grammar of one Via entry; parameters go to `f`.
    fn scan<'a>(
        i: &'a str,
        f: impl FnMut(&'a str, Option<&'a str>),
    ) -> Res<'a, (&'a str, &'a str, Option<u16>)> {
        let (i, _) = sws(i)?;
        let (i, proto) = token(i)?;
        let (i, _) = sep("/")(i)?;
        let (i, version) = token(i)?;
        let (i, _) = sep("/")(i)?;
        let (i, transport) = token(i)?;
        if !proto.eq_ignore_ascii_case("SIP") || version != "2.0" {
            return Err(nom::Err::Error(nom::error::Error::new(
                i,
                nom::error::ErrorKind::Tag,
            )));
        }
        let (i, _) = lws(i)?;
        let (i, host) = take_ascii1(i, |b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'[' | b']' | b':')
        })?;
        let (host, port) = split_host_port(host).ok_or_else(|| {
            nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Verify))
        })?;
        let (i, port) = match port {
            Some(p) => (i, Some(p)),
            None => match sep(":")(i) {
                Ok((i2, _)) => {
                    let (i2, digits) = take_ascii1(i2, |b| b.is_ascii_digit())?;
                    let p = parse_port(digits).ok_or_else(|| {
                        nom::Err::Error(nom::error::Error::new(i2, nom::error::ErrorKind::Digit))
                    })?;
                    (i2, Some(p))
                }
                Err(_) => (i, None),
            },
        };
        let (i, ()) = params_each(i, f)?;
        let (i, _) = sws(i)?;
        Ok((i, (transport, host, port)))
    }

    fn nom(i: &str) -> Res<'_, Via> {
        let mut params = Vec::new();
        let (i, (transport, host, port)) = Via::scan(i, |n, v| params.push(to_param(n, v)))?;
        Ok((
            i,
            Via {
                transport: transport.to_string(),
                host: host.to_string(),
                port,
                params,
            },
        ))
    }

    /// Check a Via header value (one or more entries) without building it.
    pub(crate) fn check_list(v: &str) -> Result<(), ValueError> {
        list_check(v, |item| {
            all_consumed(item, |i| Via::scan(i, |_, _| {}))
                .map(drop)
                .map_err(|p| verr("malformed Via", p))
        })
    }

    /// Parse one Via entry (not a comma list).
    pub fn parse(v: &str) -> Result<Via, ValueError> {
        all_consumed(v, Via::nom).map_err(|p| verr("malformed Via", p))
    }

    /// The first entry of a Via header value, when the whole value is valid
    /// (the other entries are checked, not built): what
    /// `parse_list(v)?.into_iter().next()` gives, without the allocations.
    pub(crate) fn parse_first(v: &str) -> Result<Via, ValueError> {
        let mut first = None;
        list_check(v, |item| {
            if first.is_none() {
                first = Some(Via::parse(item)?);
                Ok(())
            } else {
                all_consumed(item, |i| Via::scan(i, |_, _| {}))
                    .map(drop)
                    .map_err(|p| verr("malformed Via", p))
            }
        })?;
        first.ok_or_else(|| verr("empty Via", 0))
    }

    /// Parse a Via header value holding one or more comma-separated entries.
    pub fn parse_list(v: &str) -> Result<Vec<Via>, ValueError> {
        list(v, Via::parse)
    }
}

fn split_host_port(s: &str) -> Option<(&str, Option<u16>)> {
    let (h, p) = if s.starts_with('[') {
        let end = s.find(']')?;
        let after = &s[end + 1..];
        match after.strip_prefix(':') {
            Some(p) => (&s[..=end], Some(parse_port(p)?)),
            None if after.is_empty() => (s, None),
            None => return None,
        }
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h, Some(parse_port(p)?)),
            None => (s, None),
        }
    };
    valid_host(h).then_some((h, p))
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/2.0/{} {}", self.transport, self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write_params(f, &self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn via_with_whitespace_and_params() {
        let v = Via::parse_list("SIP  / 2.0  / TCP     spindle.example.com   ;  branch  =   z9hG4bK9ikj8  , SIP/2.0/UDP [::1]:5070;rport;received=::1;alias").unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].transport, "TCP");
        assert_eq!(v[0].branch(), Some("z9hG4bK9ikj8"));
        assert_eq!(v[1].host, "[::1]");
        assert_eq!(v[1].port, Some(5070));
        assert_eq!(v[1].rport(), Some(None));
        assert_eq!(v[1].received(), Some("::1"));
        assert!(v[1].alias());
        assert!(Via::parse_list("SIP/2.0/UDP 192.0.2.15;;,;,,").is_err());
    }
}
