//! Header names (with compact forms), header fields in order, and typed access.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use crate::syntax::is_token;
use crate::values::{
    check_call_id, check_date, parse_content_length, parse_delta_seconds, parse_max_forwards,
    AuthValue, CSeq, ContactValue, ContentType, NameAddr, ValueError, Via, Warning,
};

macro_rules! header_names {
    ($( $variant:ident => $name:literal, $compact:expr, $doc:literal; )*) => {
        /// A header field name. Known names are variants (matched case-insensitively,
        /// compact forms included); anything else is kept as received in `Other`.
        #[derive(Debug, Clone, Eq)]
        pub enum HeaderName {
            $( #[doc = $doc] $variant, )*
            /// Any other header, spelled as received.
            Other(String),
        }

        impl HeaderName {
            /// The canonical (long) name.
            pub fn as_str(&self) -> &str {
                match self {
                    $( HeaderName::$variant => $name, )*
                    HeaderName::Other(s) => s,
                }
            }

            /// The compact form, if the header has one.
            pub fn compact(&self) -> Option<char> {
                match self {
                    $( HeaderName::$variant => $compact, )*
                    HeaderName::Other(_) => None,
                }
            }

            /// Look a name up as it appears on the wire (case-insensitive; compact forms expanded).
            pub fn from_wire(s: &str) -> HeaderName {
                if s.len() == 1 {
                    let c = s.as_bytes()[0].to_ascii_lowercase() as char;
                    $( if $compact == Some(c) { return HeaderName::$variant; } )*
                    let long = match c {
                        'a' => "Accept-Contact",
                        'b' => "Referred-By",
                        'd' => "Request-Disposition",
                        'j' => "Reject-Contact",
                        'n' => "Identity-Info",
                        'u' => "Allow-Events",
                        'x' => "Session-Expires",
                        'y' => "Identity",
                        _ => return HeaderName::Other(s.to_string()),
                    };
                    return HeaderName::Other(long.to_string());
                }
                known_long(s).unwrap_or_else(|| HeaderName::Other(s.to_string()))
            }
        }

        /// Every known name (for tests).
        #[cfg(test)]
        fn all_known() -> Vec<HeaderName> {
            vec![$( HeaderName::$variant, )*]
        }
    };
}

/// A known header by its long name (case-insensitive), dispatched on the
/// length first: the parser looks up every header line.
fn known_long(s: &str) -> Option<HeaderName> {
    use HeaderName as H;
    let is = |name: &str| s.eq_ignore_ascii_case(name);
    Some(match s.len() {
        2 if is("To") => H::To,
        3 if is("Via") => H::Via,
        4 if is("From") => H::From,
        4 if is("CSeq") => H::CSeq,
        4 if is("Date") => H::Date,
        5 if is("Route") => H::Route,
        5 if is("Event") => H::Event,
        5 if is("Allow") => H::Allow,
        6 if is("Server") => H::Server,
        7 if is("Call-ID") => H::CallId,
        7 if is("Contact") => H::Contact,
        7 if is("Expires") => H::Expires,
        7 if is("Warning") => H::Warning,
        7 if is("Subject") => H::Subject,
        7 if is("Require") => H::Require,
        8 if is("Refer-To") => H::ReferTo,
        9 if is("Supported") => H::Supported,
        10 if is("User-Agent") => H::UserAgent,
        11 if is("Min-Expires") => H::MinExpires,
        12 if is("Max-Forwards") => H::MaxForwards,
        12 if is("Content-Type") => H::ContentType,
        12 if is("Record-Route") => H::RecordRoute,
        13 if is("Authorization") => H::Authorization,
        14 if is("Content-Length") => H::ContentLength,
        16 if is("Content-Encoding") => H::ContentEncoding,
        16 if is("WWW-Authenticate") => H::WwwAuthenticate,
        18 if is("Proxy-Authenticate") => H::ProxyAuthenticate,
        19 if is("Proxy-Authorization") => H::ProxyAuthorization,
        _ => return None,
    })
}

header_names! {
    Via => "Via", Some('v'), "Via (compact `v`).";
    From => "From", Some('f'), "From (compact `f`).";
    To => "To", Some('t'), "To (compact `t`).";
    CallId => "Call-ID", Some('i'), "Call-ID (compact `i`).";
    CSeq => "CSeq", None, "CSeq.";
    Contact => "Contact", Some('m'), "Contact (compact `m`).";
    MaxForwards => "Max-Forwards", None, "Max-Forwards.";
    ContentLength => "Content-Length", Some('l'), "Content-Length (compact `l`).";
    ContentType => "Content-Type", Some('c'), "Content-Type (compact `c`).";
    ContentEncoding => "Content-Encoding", Some('e'), "Content-Encoding (compact `e`).";
    Expires => "Expires", None, "Expires.";
    MinExpires => "Min-Expires", None, "Min-Expires (in 423 responses).";
    RecordRoute => "Record-Route", None, "Record-Route.";
    Route => "Route", None, "Route.";
    WwwAuthenticate => "WWW-Authenticate", None, "WWW-Authenticate (401 challenges).";
    ProxyAuthenticate => "Proxy-Authenticate", None, "Proxy-Authenticate (407 challenges).";
    Authorization => "Authorization", None, "Authorization.";
    ProxyAuthorization => "Proxy-Authorization", None, "Proxy-Authorization.";
    Warning => "Warning", None, "Warning.";
    Date => "Date", None, "Date.";
    Subject => "Subject", Some('s'), "Subject (compact `s`).";
    Supported => "Supported", Some('k'), "Supported (compact `k`).";
    Event => "Event", Some('o'), "Event (compact `o`).";
    ReferTo => "Refer-To", Some('r'), "Refer-To (compact `r`).";
    Allow => "Allow", None, "Allow.";
    Require => "Require", None, "Require.";
    UserAgent => "User-Agent", None, "User-Agent.";
    Server => "Server", None, "Server.";
}

impl PartialEq for HeaderName {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (HeaderName::Other(a), HeaderName::Other(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a header could not be created or was refused while parsing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// The name is not a token.
    #[error("header name {0:?} is not a token")]
    BadName(String),
    /// The value contains CR or LF.
    #[error("value of {0} contains a line break")]
    LineBreak(String),
    /// The value does not follow the header's grammar.
    #[error("invalid {name} value: {source}")]
    BadValue {
        /// Header name.
        name: String,
        /// What is wrong with the value.
        source: ValueError,
    },
}

/// One header field: a name and its (unfolded, trimmed) value.
///
/// A `Header` made with [`Header::new`] or by [`crate::parse`] holds a valid
/// value for its name: known headers are checked against their grammar. One
/// from [`crate::parse_lazy`] is only framed; [`crate::Message::validate`]
/// checks it on request, and a typed accessor returns `None` for a value
/// that breaks its grammar.
#[derive(Clone)]
pub struct Header {
    name: HeaderName,
    value: Text,
    /// Offsets of the line and of the value in the parsed input, for the
    /// errors of [`crate::Message::validate`]; `None` when built by hand.
    at: Option<(u32, u32)>,
}

/// A header value: a range of a shared text — the header block of a parsed
/// message, copied once for all its headers instead of once per header — or
/// a text of its own.
#[derive(Clone)]
struct Text {
    buf: Arc<str>,
    range: Range<usize>,
}

impl Text {
    fn owned(s: String) -> Text {
        let range = 0..s.len();
        Text {
            buf: Arc::from(s),
            range,
        }
    }

    fn as_str(&self) -> &str {
        self.buf.get(self.range.clone()).unwrap_or_default()
    }
}

impl PartialEq for Header {
    /// Name and value; where a header was found does not matter.
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.value() == other.value()
    }
}

impl Eq for Header {}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Header")
            .field("name", &self.name)
            .field("value", &self.value())
            .finish()
    }
}

fn offsets(line: usize, value_at: usize) -> (u32, u32) {
    let off = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    (off(line), off(value_at))
}

/// Check `value` against the grammar of `name`.
pub(crate) fn validate(name: &HeaderName, value: &str) -> Result<(), ValueError> {
    match name {
        HeaderName::Via => Via::check_list(value),
        HeaderName::From | HeaderName::To => NameAddr::check(value),
        HeaderName::Contact if value == "*" => Ok(()),
        HeaderName::Contact => NameAddr::check_list(value),
        HeaderName::Route | HeaderName::RecordRoute => NameAddr::check_list(value),
        HeaderName::CallId => check_call_id(value),
        HeaderName::CSeq => CSeq::parse(value).map(drop),
        HeaderName::MaxForwards => parse_max_forwards(value).map(drop),
        HeaderName::ContentLength => parse_content_length(value).map(drop),
        HeaderName::ContentType => ContentType::check(value),
        HeaderName::Expires | HeaderName::MinExpires => parse_delta_seconds(value).map(drop),
        HeaderName::WwwAuthenticate
        | HeaderName::ProxyAuthenticate
        | HeaderName::Authorization
        | HeaderName::ProxyAuthorization => AuthValue::check(value),
        HeaderName::Warning => Warning::parse_list(value).map(drop),
        HeaderName::Date => check_date(value),
        _ => Ok(()),
    }
}

impl Header {
    /// A header with a checked value. `value` is trimmed; it must not contain line breaks.
    pub fn new(name: HeaderName, value: impl Into<String>) -> Result<Header, HeaderError> {
        let value: String = value.into();
        let value = value.trim_matches([' ', '\t']).to_string();
        if let HeaderName::Other(n) = &name {
            if !is_token(n) {
                return Err(HeaderError::BadName(n.clone()));
            }
        }
        if value.contains(['\r', '\n']) {
            return Err(HeaderError::LineBreak(name.to_string()));
        }
        validate(&name, &value).map_err(|source| HeaderError::BadValue {
            name: name.to_string(),
            source,
        })?;
        Ok(Header::unchecked(name, value))
    }

    /// A header from a typed value (its `Display` form is valid by construction).
    pub(crate) fn typed(name: HeaderName, value: impl fmt::Display) -> Header {
        let mut value = value.to_string();
        if value.contains(['\r', '\n']) {
            // Typed values built by hand from public fields could carry line
            // breaks; never let them split the header (header injection).
            value = value.replace(['\r', '\n'], " ");
        }
        Header::unchecked(name, value)
    }

    pub(crate) fn unchecked(name: HeaderName, value: String) -> Header {
        Header {
            name,
            value: Text::owned(value),
            at: None,
        }
    }

    /// A header as the parser found it: its value is `head[range]`; `line`
    /// and `value_at` are the offsets of its line and of its value in the input.
    pub(crate) fn parsed(
        name: HeaderName,
        head: &Arc<str>,
        range: Range<usize>,
        line: usize,
        value_at: usize,
    ) -> Header {
        Header {
            name,
            value: Text {
                buf: head.clone(),
                range,
            },
            at: Some(offsets(line, value_at)),
        }
    }

    /// A parsed header whose value had to be unfolded into a text of its own.
    pub(crate) fn parsed_owned(
        name: HeaderName,
        value: String,
        line: usize,
        value_at: usize,
    ) -> Header {
        Header {
            name,
            value: Text::owned(value),
            at: Some(offsets(line, value_at)),
        }
    }

    /// Offsets of the line and of the value in the parsed input (0 when built by hand).
    pub(crate) fn offsets(&self) -> (usize, usize) {
        let (line, value) = self.at.unwrap_or((0, 0));
        (line as usize, value as usize)
    }

    /// The name.
    pub fn name(&self) -> &HeaderName {
        &self.name
    }

    /// The value (unfolded, trimmed).
    pub fn value(&self) -> &str {
        self.value.as_str()
    }
}

/// The header fields of a message, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<Header>);

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Headers(Vec::new())
    }

    /// No headers, with room for `n`.
    pub fn with_capacity(n: usize) -> Self {
        Headers(Vec::with_capacity(n))
    }

    /// Number of header fields (lines).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no headers.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// All header fields in order.
    pub fn iter(&self) -> impl Iterator<Item = &Header> {
        self.0.iter()
    }

    /// All header fields in order, as a slice.
    pub fn as_slice(&self) -> &[Header] {
        &self.0
    }

    /// Append a header field.
    pub fn push(&mut self, header: Header) {
        self.0.push(header);
    }

    /// Insert a header field before all others (e.g. a new top Via).
    pub fn push_front(&mut self, header: Header) {
        self.0.insert(0, header);
    }

    /// Remove every field named `name`; returns how many were removed.
    pub fn remove(&mut self, name: &HeaderName) -> usize {
        let before = self.0.len();
        self.0.retain(|h| &h.name != name);
        before - self.0.len()
    }

    /// Replace all fields named `name` by one field with `header`'s value, at the first one's position.
    pub fn set(&mut self, header: Header) {
        match self.0.iter().position(|h| h.name == header.name) {
            Some(pos) => {
                let name = header.name.clone();
                self.0[pos] = header;
                let mut seen = 0;
                self.0.retain(|h| {
                    if h.name == name {
                        seen += 1;
                        seen == 1
                    } else {
                        true
                    }
                });
            }
            None => self.0.push(header),
        }
    }

    /// The value of the first field named `name`.
    pub fn get(&self, name: &HeaderName) -> Option<&str> {
        self.0.iter().find(|h| &h.name == name).map(Header::value)
    }

    /// The values of every field named `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |h| &h.name == name)
            .map(Header::value)
    }

    fn list<T>(&self, name: HeaderName, parse: fn(&str) -> Result<Vec<T>, ValueError>) -> Vec<T> {
        self.get_all(&name)
            .filter_map(|v| parse(v).ok())
            .flatten()
            .collect()
    }

    /// Every Via entry, top first (several per line are split).
    pub fn via(&self) -> Vec<Via> {
        self.list(HeaderName::Via, Via::parse_list)
    }

    /// The top Via entry.
    pub fn top_via(&self) -> Option<Via> {
        self.get(&HeaderName::Via)
            .and_then(|v| Via::parse_first(v).ok())
    }

    /// From.
    pub fn from(&self) -> Option<NameAddr> {
        self.get(&HeaderName::From)
            .and_then(|v| NameAddr::parse(v).ok())
    }

    /// To.
    pub fn to(&self) -> Option<NameAddr> {
        self.get(&HeaderName::To)
            .and_then(|v| NameAddr::parse(v).ok())
    }

    /// Call-ID.
    pub fn call_id(&self) -> Option<&str> {
        self.get(&HeaderName::CallId)
    }

    /// CSeq.
    pub fn cseq(&self) -> Option<CSeq> {
        self.get(&HeaderName::CSeq)
            .and_then(|v| CSeq::parse(v).ok())
    }

    /// Every Contact address (empty for `Contact: *`; see [`Headers::contact_is_star`]).
    pub fn contacts(&self) -> Vec<NameAddr> {
        self.get_all(&HeaderName::Contact)
            .filter_map(|v| match ContactValue::parse(v) {
                Ok(ContactValue::Addresses(a)) => Some(a),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// True when a Contact header is `*`.
    pub fn contact_is_star(&self) -> bool {
        self.get_all(&HeaderName::Contact).any(|v| v == "*")
    }

    /// Max-Forwards.
    pub fn max_forwards(&self) -> Option<u8> {
        self.get(&HeaderName::MaxForwards)
            .and_then(|v| parse_max_forwards(v).ok())
    }

    /// Content-Length as written in the message.
    pub fn content_length(&self) -> Option<usize> {
        self.get(&HeaderName::ContentLength)
            .and_then(|v| parse_content_length(v).ok())
    }

    /// Content-Type.
    pub fn content_type(&self) -> Option<ContentType> {
        self.get(&HeaderName::ContentType)
            .and_then(|v| ContentType::parse(v).ok())
    }

    /// Expires (seconds).
    pub fn expires(&self) -> Option<u32> {
        self.get(&HeaderName::Expires)
            .and_then(|v| parse_delta_seconds(v).ok())
    }

    /// Min-Expires (seconds), from a 423 Interval Too Brief.
    pub fn min_expires(&self) -> Option<u32> {
        self.get(&HeaderName::MinExpires)
            .and_then(|v| parse_delta_seconds(v).ok())
    }

    /// Record-Route entries in order.
    pub fn record_route(&self) -> Vec<NameAddr> {
        self.list(HeaderName::RecordRoute, NameAddr::parse_list)
    }

    /// Route entries in order.
    pub fn route(&self) -> Vec<NameAddr> {
        self.list(HeaderName::Route, NameAddr::parse_list)
    }

    fn auth(&self, name: HeaderName) -> Vec<AuthValue> {
        self.get_all(&name)
            .filter_map(|v| AuthValue::parse(v).ok())
            .collect()
    }

    /// WWW-Authenticate challenges (401).
    pub fn www_authenticate(&self) -> Vec<AuthValue> {
        self.auth(HeaderName::WwwAuthenticate)
    }

    /// Proxy-Authenticate challenges (407).
    pub fn proxy_authenticate(&self) -> Vec<AuthValue> {
        self.auth(HeaderName::ProxyAuthenticate)
    }

    /// Authorization credentials.
    pub fn authorization(&self) -> Vec<AuthValue> {
        self.auth(HeaderName::Authorization)
    }

    /// Proxy-Authorization credentials.
    pub fn proxy_authorization(&self) -> Vec<AuthValue> {
        self.auth(HeaderName::ProxyAuthorization)
    }

    /// Warning values.
    pub fn warnings(&self) -> Vec<Warning> {
        self.list(HeaderName::Warning, Warning::parse_list)
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = &'a Header;
    type IntoIter = std::slice::Iter<'a, Header>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_name_is_found() {
        for name in all_known() {
            let long = name.as_str();
            assert_eq!(HeaderName::from_wire(long), name, "{long}");
            assert_eq!(HeaderName::from_wire(&long.to_ascii_lowercase()), name);
            assert_eq!(HeaderName::from_wire(&long.to_ascii_uppercase()), name);
            assert!(matches!(known_long(long), Some(n) if n == name), "{long}");
            if let Some(c) = name.compact() {
                assert_eq!(HeaderName::from_wire(&c.to_string()), name);
            }
        }
        assert_eq!(all_known().len(), 28);
    }

    #[test]
    fn compact_forms_and_case() {
        assert_eq!(HeaderName::from_wire("v"), HeaderName::Via);
        assert_eq!(HeaderName::from_wire("I"), HeaderName::CallId);
        assert_eq!(
            HeaderName::from_wire("MaX-fOrWaRdS"),
            HeaderName::MaxForwards
        );
        assert_eq!(HeaderName::from_wire("k"), HeaderName::Supported);
        assert_eq!(
            HeaderName::from_wire("x"),
            HeaderName::Other("Session-Expires".into())
        );
        assert_eq!(
            HeaderName::from_wire("C%6Fntact"),
            HeaderName::Other("c%6fntact".into())
        );
    }

    use proptest::prelude::*;

    proptest! {
        /// The allocation-free checks used while parsing accept exactly what the typed parsers accept,
        /// so a typed accessor never returns `None` for a header that passed parsing.
        #[test]
        fn checks_agree_with_typed_parsers(v in "[ \t\"<>;,=:@/.a-zA-Z0-9?%*\\-]{0,40}") {
            prop_assert_eq!(Via::check_list(&v).is_ok(), Via::parse_list(&v).is_ok(), "Via {:?}", v);
            prop_assert_eq!(NameAddr::check(&v).is_ok(), NameAddr::parse(&v).is_ok(), "addr {:?}", v);
            prop_assert_eq!(NameAddr::check_list(&v).is_ok(), NameAddr::parse_list(&v).is_ok(), "list {:?}", v);
            prop_assert_eq!(ContentType::check(&v).is_ok(), ContentType::parse(&v).is_ok(), "ct {:?}", v);
            prop_assert_eq!(AuthValue::check(&v).is_ok(), AuthValue::parse(&v).is_ok(), "auth {:?}", v);
        }

        #[test]
        fn checks_agree_on_likely_values(
            scheme in prop::sample::select(vec!["sip:", "sips:", "tel:", "SIP/2.0/TLS ", "Digest ", "application/", "\"a b\" <sip:", "x y <sip:"]),
            rest in "[ ;,=:@/.a-z0-9?%<>\"-]{0,30}",
        ) {
            let v = format!("{scheme}{rest}");
            prop_assert_eq!(Via::check_list(&v).is_ok(), Via::parse_list(&v).is_ok(), "Via {:?}", v);
            prop_assert_eq!(Via::parse_first(&v).ok(), Via::parse_list(&v).ok().and_then(|l| l.into_iter().next()), "top Via {:?}", v);
            prop_assert_eq!(NameAddr::check_list(&v).is_ok(), NameAddr::parse_list(&v).is_ok(), "list {:?}", v);
            prop_assert_eq!(ContentType::check(&v).is_ok(), ContentType::parse(&v).is_ok(), "ct {:?}", v);
            prop_assert_eq!(AuthValue::check(&v).is_ok(), AuthValue::parse(&v).is_ok(), "auth {:?}", v);
        }
    }

    #[test]
    fn header_new_validates() {
        assert!(Header::new(HeaderName::MaxForwards, "300").is_err());
        assert!(Header::new(HeaderName::Other("X-A".into()), "a\r\nb").is_err());
        assert_eq!(
            Header::new(HeaderName::CSeq, " 1 REGISTER ")
                .unwrap()
                .value(),
            "1 REGISTER"
        );
    }
}
