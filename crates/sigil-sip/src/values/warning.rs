//! The Warning header.

use std::fmt;

use nom::bytes::complete::take_while1;

use crate::syntax::{all_consumed, is_token_char, lws, quoted_string, unquote};

use super::{list, verr, ValueError};

/// One Warning value (RFC 3261 §20.43).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Warning {
    /// Three-digit warning code.
    pub code: u16,
    /// The warn-agent (host or pseudonym).
    pub agent: String,
    /// The warn-text, without quotes.
    pub text: String,
}

impl Warning {
    fn parse(v: &str) -> Result<Warning, ValueError> {
        all_consumed(v, |i| {
            let (i, code) = take_while1(|c: char| c.is_ascii_digit())(i)?;
            let (i, _) = lws(i)?;
            let (i, agent) =
                take_while1(|c: char| is_token_char(c) || matches!(c, ':' | '[' | ']'))(i)?;
            let (i, _) = lws(i)?;
            let (i, text) = quoted_string(i)?;
            Ok((i, (code, agent, text)))
        })
        .map_err(|p| verr("malformed Warning", p))
        .and_then(|(code, agent, text)| {
            if code.len() != 3 {
                return Err(verr("warning code must have three digits", 0));
            }
            Ok(Warning {
                code: code.parse().map_err(|_| verr("bad warning code", 0))?,
                agent: agent.to_string(),
                text: unquote(text),
            })
        })
    }

    /// Parse a Warning header value (comma-separated list).
    pub fn parse_list(v: &str) -> Result<Vec<Warning>, ValueError> {
        list(v, Warning::parse)
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.code,
            self.agent,
            crate::syntax::quote(&self.text)
        )
    }
}
