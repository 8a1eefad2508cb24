//! Typed header values: Via, name-addr (From, To, Contact, Route, Record-Route),
//! CSeq, methods, Content-Type, Warning and authentication headers.

use std::fmt;
use std::str::FromStr;

use nom::bytes::complete::{tag, take_while1};

use crate::syntax::{
    all_consumed, gen_value, is_token_char, is_word_char, lws, quoted_string, sep, split_list,
    split_list_each, sws, token, unquote, Res,
};
use crate::uri::{parse_port, valid_host, Uri};

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
        if !s.chars().all(is_token_char) || s.is_empty() {
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

/// Parse an unsigned decimal, refusing non-digits and values above `max`.
fn bounded_number(s: &str, max: u64, what: &str) -> Result<u64, ValueError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(verr(format!("{what} must be a decimal number"), 0));
    }
    let digits = s.trim_start_matches('0');
    if digits.len() > 19 {
        return Err(verr(format!("{what} is larger than {max}"), 0));
    }
    let v: u64 = if digits.is_empty() {
        0
    } else {
        digits
            .parse()
            .map_err(|_| verr(format!("{what} is too large"), 0))?
    };
    if v > max {
        return Err(verr(format!("{what} {v} is larger than {max}"), 0));
    }
    Ok(v)
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
        let (num, rest) = v
            .split_once([' ', '\t'])
            .ok_or_else(|| verr("CSeq needs a number and a method", 0))?;
        let seq = bounded_number(num, (1 << 31) - 1, "CSeq number")? as u32;
        let m = rest.trim_start_matches([' ', '\t']);
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

/// Parse Max-Forwards (0–255).
pub fn parse_max_forwards(v: &str) -> Result<u8, ValueError> {
    Ok(bounded_number(v, 255, "Max-Forwards")? as u8)
}

/// Parse a delta-seconds value (Expires, Min-Expires, `;expires=`): values
/// beyond 2³²−1 are treated as 2³²−1, as RFC 3261 §20.19 allows.
pub fn parse_delta_seconds(v: &str) -> Result<u32, ValueError> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(verr("expiry must be a decimal number of seconds", 0));
    }
    let digits = v.trim_start_matches('0');
    if digits.len() > 10 {
        return Ok(u32::MAX);
    }
    Ok(digits.parse::<u64>().unwrap_or(0).min(u32::MAX as u64) as u32)
}

/// Parse a Content-Length value (decimal digits only; no sign).
pub fn parse_content_length(v: &str) -> Result<usize, ValueError> {
    Ok(bounded_number(v, usize::MAX as u64, "Content-Length")? as usize)
}

/// Check a Call-ID: `word [ "@" word ]`.
pub fn check_call_id(v: &str) -> Result<(), ValueError> {
    let mut parts = v.splitn(2, '@');
    for part in parts.by_ref() {
        if part.is_empty() || !part.chars().all(is_word_char) {
            return Err(verr("Call-ID must be word[@word]", 0));
        }
    }
    Ok(())
}

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
        let (i, host) = take_while1(|c: char| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':')
        })(i)?;
        let (host, port) = split_host_port(host).ok_or_else(|| {
            nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Verify))
        })?;
        let (i, port) = match port {
            Some(p) => (i, Some(p)),
            None => match sep(":")(i) {
                Ok((i2, _)) => {
                    let (i2, digits) = take_while1(|c: char| c.is_ascii_digit())(i2)?;
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

fn list_check(v: &str, one: impl Fn(&str) -> Result<(), ValueError>) -> Result<(), ValueError> {
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

    /// The grammar of one address: display name (raw) and URI text (checked);
    /// header parameters go to `f`.
    fn scan<'a>(
        i: &'a str,
        f: impl FnMut(&'a str, Option<&'a str>),
    ) -> Res<'a, (Option<DisplayName<'a>>, &'a str)> {
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
                    Uri::check(text).map_err(|_| fail(i))?;
                    let (rest, ()) = params_each(&i[end..], f)?;
                    let (rest, _) = sws(rest)?;
                    return Ok((rest, (None, text)));
                }
            }
        };
        let (i, _) = sws(i)?;
        let (i, _) = tag("<")(i)?;
        let end = i.find('>').ok_or_else(|| fail(i))?;
        let text = &i[..end];
        Uri::check(text).map_err(|_| fail(i))?;
        let (i, ()) = params_each(&i[end + 1..], f)?;
        let (i, _) = sws(i)?;
        Ok((i, (display, text)))
    }

    fn nom(i: &str) -> Res<'_, NameAddr> {
        let mut params = Vec::new();
        let (rest, (display, text)) = NameAddr::scan(i, |n, v| params.push(to_param(n, v)))?;
        let uri = Uri::parse(text).map_err(|_| {
            nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Verify))
        })?;
        let display_name = display.map(|d| match d {
            DisplayName::Quoted(q) => q.to_string(),
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
        all_consumed(v, |i| NameAddr::scan(i, |_, _| {}))
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

/// Check an RFC 1123 date as SIP requires it (`Sat, 13 Nov 2010 23:29:00 GMT`, GMT only).
pub fn check_date(v: &str) -> Result<(), ValueError> {
    let parts: Vec<&str> = v.split_ascii_whitespace().collect();
    const DAYS: [&str; 7] = ["Mon,", "Tue,", "Wed,", "Thu,", "Fri,", "Sat,", "Sun,"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let ok = parts.len() == 6
        && DAYS.contains(&parts[0])
        && parts[1].len() == 2
        && parts[1].bytes().all(|b| b.is_ascii_digit())
        && MONTHS.contains(&parts[2])
        && parts[3].len() == 4
        && parts[3].bytes().all(|b| b.is_ascii_digit())
        && parts[4].len() == 8
        && parts[4].bytes().enumerate().all(|(n, b)| {
            if n == 2 || n == 5 {
                b == b':'
            } else {
                b.is_ascii_digit()
            }
        });
    if !ok {
        return Err(verr("Date must be an RFC 1123 date", 0));
    }
    if parts[5] != "GMT" {
        return Err(verr("Date must be in GMT", v.len() - parts[5].len()));
    }
    Ok(())
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

    #[test]
    fn scalars() {
        assert!(CSeq::parse("36893488147419103232 REGISTER").is_err());
        assert_eq!(CSeq::parse("0009 INVITE").unwrap().seq, 9);
        assert!(parse_max_forwards("300").is_err());
        assert_eq!(
            parse_delta_seconds("10000000000000000000000").unwrap(),
            u32::MAX
        );
        assert!(parse_content_length("-999").is_err());
        assert!(check_date("Fri, 01 Jan 2010 16:00:00 EST").is_err());
        assert!(check_date("Sat, 15 Oct 2005 04:44:56 GMT").is_ok());
    }
}
