//! Authentication headers: WWW-Authenticate, Proxy-Authenticate,
//! Authorization, Proxy-Authorization.

use std::fmt;

use crate::syntax::{all_consumed, lws, sep, sws, token, Res};

use super::{find_param, one_param_raw, to_param, verr, Param, ValueError};

/// A challenge (WWW-/Proxy-Authenticate) or credentials (Authorization,
/// Proxy-Authorization): a scheme and its comma-separated parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AuthValue {
    /// The scheme, e.g. `Digest`.
    pub scheme: String,
    /// Parameters in order; values keep their quotes.
    pub params: Vec<Param>,
}

impl AuthValue {
    /// The grammar: scheme, then comma-separated parameters handed to `f`.
    fn scan<'a>(i: &'a str, mut f: impl FnMut(&'a str, Option<&'a str>)) -> Res<'a, &'a str> {
        let (i, _) = sws(i)?;
        let (i, scheme) = token(i)?;
        let (i, _) = lws(i)?;
        let (mut i, (n, v)) = one_param_raw(i)?;
        f(n, v);
        let mut count = 1;
        while let Ok((rest, _)) = sep(",")(i) {
            let (rest, (n, v)) = one_param_raw(rest)?;
            f(n, v);
            i = rest;
            count += 1;
            if count > 64 {
                break;
            }
        }
        let (i, _) = sws(i)?;
        Ok((i, scheme))
    }

    /// Parse a challenge or credentials value.
    pub fn parse(v: &str) -> Result<AuthValue, ValueError> {
        let mut params = Vec::new();
        let scheme = all_consumed(v, |i| {
            AuthValue::scan(i, |n, val| params.push(to_param(n, val)))
        })
        .map_err(|p| verr("malformed authentication header", p))?;
        Ok(AuthValue {
            scheme: scheme.to_string(),
            params,
        })
    }

    /// Check a challenge or credentials value without building it.
    pub(crate) fn check(v: &str) -> Result<(), ValueError> {
        all_consumed(v, |i| AuthValue::scan(i, |_, _| {}))
            .map(drop)
            .map_err(|p| verr("malformed authentication header", p))
    }

    /// A parameter value without quotes (case-insensitive name).
    pub fn param(&self, name: &str) -> Option<String> {
        find_param(&self.params, name).and_then(Param::unquoted)
    }
}

impl fmt::Display for AuthValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.scheme)?;
        for (n, p) in self.params.iter().enumerate() {
            if n > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}
