//! The Content-Type header.

use std::fmt;

use crate::syntax::{all_consumed, sep, sws, token};

use super::{header_params, params_each, verr, write_params, Param, ValueError};

/// A Content-Type (`type/subtype;params`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContentType {
    /// Top-level type, e.g. `application`.
    pub mtype: String,
    /// Subtype, e.g. `sdp`.
    pub subtype: String,
    /// Parameters.
    pub params: Vec<Param>,
}

impl ContentType {
    /// Parse a Content-Type value.
    pub fn parse(v: &str) -> Result<ContentType, ValueError> {
        all_consumed(v, |i| {
            let (i, _) = sws(i)?;
            let (i, t) = token(i)?;
            let (i, _) = sep("/")(i)?;
            let (i, s) = token(i)?;
            let (i, params) = header_params(i)?;
            let (i, _) = sws(i)?;
            Ok((
                i,
                ContentType {
                    mtype: t.to_string(),
                    subtype: s.to_string(),
                    params,
                },
            ))
        })
        .map_err(|p| verr("malformed media type", p))
    }

    /// Check a Content-Type value without building it.
    pub(crate) fn check(v: &str) -> Result<(), ValueError> {
        all_consumed(v, |i| {
            let (i, _) = sws(i)?;
            let (i, _) = token(i)?;
            let (i, _) = sep("/")(i)?;
            let (i, _) = token(i)?;
            let (i, ()) = params_each(i, |_, _| {})?;
            sws(i)
        })
        .map(drop)
        .map_err(|p| verr("malformed media type", p))
    }

    /// True for `type/subtype`, compared case-insensitively.
    pub fn is(&self, mtype: &str, subtype: &str) -> bool {
        self.mtype.eq_ignore_ascii_case(mtype) && self.subtype.eq_ignore_ascii_case(subtype)
    }
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.mtype, self.subtype)?;
        write_params(f, &self.params)
    }
}
