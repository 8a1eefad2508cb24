//! Typed header values: Via, name-addr (From, To, Contact, Route, Record-Route),
//! CSeq, methods, Content-Type, Warning and authentication headers.
//
// One file per header family: `method` (methods and CSeq), `scalar` (numbers,
// Call-ID, Date), `via`, `address` (name-addr and Contact), `content_type`,
// `warning` and `auth`. The shared pieces stay here: the error type, header
// parameters and comma-separated lists.

mod address;
mod auth;
mod content_type;
mod method;
mod scalar;
mod via;
mod warning;

use std::fmt;

use crate::syntax::{gen_value, sep, split_list, split_list_each, token, unquote, Res};

pub use address::{ContactValue, NameAddr};
pub use auth::AuthValue;
pub use content_type::ContentType;
pub use method::{CSeq, Method};
pub use scalar::{
    check_call_id, check_date, parse_content_length, parse_delta_seconds, parse_max_forwards,
};
pub use via::Via;
pub use warning::Warning;

/// Why a header value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} (at character {position} of the value)")]
pub struct ValueError {
    /// What is wrong, in words.
    pub reason: String,
    /// Byte position inside the (unfolded) header value.
    pub position: usize,
}

fn verr(reason: impl Into<String>, position: usize) -> ValueError {
    ValueError {
        reason: reason.into(),
        position,
    }
}

/// A header parameter (`;name=value`). The value keeps its quotes when it was a quoted string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Param {
    /// Parameter name as received.
    pub name: String,
    /// Raw value, if any (quoted strings keep their quotes).
    pub value: Option<String>,
}

impl Param {
    /// A parameter with a value.
    pub fn new(name: impl Into<String>, value: Option<&str>) -> Self {
        Param {
            name: name.into(),
            value: value.map(str::to_string),
        }
    }

    /// The value without quotes and escapes.
    pub fn unquoted(&self) -> Option<String> {
        self.value.as_deref().map(unquote)
    }
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(v) = &self.value {
            write!(f, "={v}")?;
        }
        Ok(())
    }
}

fn find_param<'a>(params: &'a [Param], name: &str) -> Option<&'a Param> {
    params.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// `generic-param`: a token, optionally `=` and a value, borrowed.
fn one_param_raw(i: &str) -> Res<'_, (&str, Option<&str>)> {
    let (i, name) = token(i)?;
    match sep("=")(i) {
        Ok((i2, _)) => {
            let (i2, v) = gen_value(i2)?;
            Ok((i2, (name, Some(v))))
        }
        Err(_) => Ok((i, (name, None))),
    }
}

fn to_param(name: &str, value: Option<&str>) -> Param {
    Param {
        name: name.to_string(),
        value: value.map(str::to_string),
    }
}

/// `*( SEMI generic-param )`, handing each parameter to `f` (no allocation).
pub(crate) fn params_each<'a>(
    mut i: &'a str,
    mut f: impl FnMut(&'a str, Option<&'a str>),
) -> Res<'a, ()> {
    loop {
        let Ok((rest, _)) = sep(";")(i) else {
            return Ok((i, ()));
        };
        let (rest, (n, v)) = one_param_raw(rest)?;
        f(n, v);
        i = rest;
    }
}

/// `*( SEMI generic-param )`, collected.
pub(crate) fn header_params(i: &str) -> Res<'_, Vec<Param>> {
    let mut out = Vec::new();
    let (i, ()) = params_each(i, |n, v| out.push(to_param(n, v)))?;
    Ok((i, out))
}

fn write_params(f: &mut fmt::Formatter<'_>, params: &[Param]) -> fmt::Result {
    for p in params {
        write!(f, ";{p}")?;
    }
    Ok(())
}

fn list_check(
    v: &str,
    mut one: impl FnMut(&str) -> Result<(), ValueError>,
) -> Result<(), ValueError> {
    let balanced = split_list_each(v, |part| {
        if part.is_empty() {
            return Err(verr("empty list element", 0));
        }
        let offset = part.as_ptr() as usize - v.as_ptr() as usize;
        one(part).map_err(|e| verr(e.reason, offset + e.position))
    })?;
    if balanced {
        Ok(())
    } else {
        Err(verr("unbalanced quotes or angle brackets", v.len()))
    }
}

fn list<T>(v: &str, one: impl Fn(&str) -> Result<T, ValueError>) -> Result<Vec<T>, ValueError> {
    let parts =
        split_list(v).ok_or_else(|| verr("unbalanced quotes or angle brackets", v.len()))?;
    let mut out = Vec::with_capacity(parts.len());
    for part in parts {
        if part.is_empty() {
            return Err(verr("empty list element", 0));
        }
        let offset = part.as_ptr() as usize - v.as_ptr() as usize;
        out.push(one(part).map_err(|e| verr(e.reason, offset + e.position))?);
    }
    Ok(out)
}
