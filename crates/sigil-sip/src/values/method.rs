//! Methods and the CSeq header.

use std::fmt;
use std::str::FromStr;

use crate::syntax::is_token;

use super::scalar::bounded_number;
use super::{verr, ValueError};

/// A SIP method. Methods are case-sensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// INVITE
    Invite,
    /// ACK
    Ack,
    /// BYE
    Bye,
    /// CANCEL
    Cancel,
    /// OPTIONS
    Options,
    /// REGISTER
    Register,
    /// PRACK
    Prack,
    /// SUBSCRIBE
    Subscribe,
    /// NOTIFY
    Notify,
    /// PUBLISH
    Publish,
    /// INFO
    Info,
    /// REFER
    Refer,
    /// MESSAGE
    Message,
    /// UPDATE
    Update,
    /// Any other token.
    Extension(String),
}

impl Method {
    /// The method name as sent on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Register => "REGISTER",
            Method::Prack => "PRACK",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Publish => "PUBLISH",
            Method::Info => "INFO",
            Method::Refer => "REFER",
            Method::Message => "MESSAGE",
            Method::Update => "UPDATE",
            Method::Extension(s) => s,
        }
    }
}

impl FromStr for Method {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        if !is_token(s) {
            return Err(verr("a method must be a token", 0));
        }
        Ok(match s {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "OPTIONS" => Method::Options,
            "REGISTER" => Method::Register,
            "PRACK" => Method::Prack,
            "SUBSCRIBE" => Method::Subscribe,
            "NOTIFY" => Method::Notify,
            "PUBLISH" => Method::Publish,
            "INFO" => Method::Info,
            "REFER" => Method::Refer,
            "MESSAGE" => Method::Message,
            "UPDATE" => Method::Update,
            other => Method::Extension(other.to_string()),
        })
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `CSeq: <seq> <method>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CSeq {
    /// Sequence number (below 2³¹, RFC 3261 §8.1.1.5).
    pub seq: u32,
    /// Method of the transaction.
    pub method: Method,
}

impl CSeq {
    /// Parse a CSeq value.
    pub fn parse(v: &str) -> Result<CSeq, ValueError> {
        let space = v
            .bytes()
            .position(|b| b == b' ' || b == b'\t')
            .ok_or_else(|| verr("CSeq needs a number and a method", 0))?;
        let (num, rest) = (&v[..space], &v[space + 1..]);
        let seq = bounded_number(num, (1 << 31) - 1, "CSeq number")? as u32;
        let m = crate::syntax::trim_ws_start(rest);
        let method = m
            .parse()
            .map_err(|_| verr("CSeq method is not a token", v.len() - m.len()))?;
        Ok(CSeq { seq, method })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}
