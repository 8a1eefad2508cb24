//! Parsing `a=crypto` lines: the RFC 4568 grammar, strict base64, bounded
//! lengths and counts ([`CryptoAttribute::parse`]).

use base64::Engine as _;
use nom::branch::alt;
use nom::bytes::complete::{tag, take_while1, take_while_m_n};
use nom::character::complete::{char, space0, space1};
use nom::combinator::{all_consuming, opt, recognize};
use nom::sequence::{preceded, separated_pair};
use nom::{IResult, Parser};
use zeroize::Zeroizing;

use super::{
    CryptoAttribute, FecOrder, KeyParam, Lifetime, Mki, SdesError, SessionParam, SuiteName, BASE64,
    MAX_ATTRIBUTE_LEN, MAX_KEY_PARAMS, MAX_KEY_SALT_CHARS, MAX_SESSION_PARAMS,
};

impl CryptoAttribute {
    /// Parses an `a=crypto` attribute value (the text after `a=crypto:`).
    ///
    /// Checks the grammar only; call [`CryptoAttribute::check`] to find out
    /// whether Sigil can honour the line. Total: never panics, bounded by
    /// [`MAX_ATTRIBUTE_LEN`], [`MAX_KEY_PARAMS`] and [`MAX_SESSION_PARAMS`].
    pub fn parse(value: &str) -> Result<Self, SdesError> {
        if value.len() > MAX_ATTRIBUTE_LEN {
            return Err(SdesError::TooLong {
                len: value.len(),
                max: MAX_ATTRIBUTE_LEN,
            });
        }
        let at = |rest: &str| value.len() - rest.len();
        let syntax = |rest: &str, expected| SdesError::Syntax {
            at: at(rest),
            expected,
        };

        let (rest, tag_text) =
            digits(1, 9)(value).map_err(|_| syntax(value, "a tag of 1 to 9 digits"))?;
        let tag: u32 = tag_text
            .parse()
            .map_err(|_| syntax(value, "a tag of 1 to 9 digits"))?;
        let (rest, _) = space1(rest).map_err(|_: nom::Err<nom::error::Error<&str>>| {
            syntax(rest, "a space after the tag")
        })?;
        let (rest, suite) = take_while1(|c: char| c.is_ascii_alphanumeric() || c == '_')(rest)
            .map_err(|_: nom::Err<nom::error::Error<&str>>| syntax(rest, "a crypto-suite name"))?;
        let (rest, _) = space1(rest).map_err(|_: nom::Err<nom::error::Error<&str>>| {
            syntax(rest, "a space after the crypto suite")
        })?;
        let (rest, key_text) = token(rest).map_err(|_| syntax(rest, "key parameters"))?;
        let keys = parse_key_params(key_text, at(key_text))?;

        let mut params = Vec::new();
        let mut rest = rest;
        loop {
            let (after_space, spaces) = space0::<&str, nom::error::Error<&str>>(rest)
                .map_err(|_| syntax(rest, "a space"))?;
            if after_space.is_empty() {
                break;
            }
            if spaces.is_empty() {
                return Err(syntax(rest, "a space before a session parameter"));
            }
            let (after, param_text) =
                token(after_space).map_err(|_| syntax(after_space, "a session parameter"))?;
            if params.len() == MAX_SESSION_PARAMS {
                return Err(SdesError::TooMany {
                    what: "session parameters",
                    max: MAX_SESSION_PARAMS,
                });
            }
            params.push(parse_session_param(param_text, at(param_text))?);
            rest = after;
        }

        Ok(CryptoAttribute {
            tag,
            suite: SuiteName::from(suite),
            keys,
            params,
        })
    }
}

type Res<'a, T> = IResult<&'a str, T, nom::error::Error<&'a str>>;

fn digits(min: usize, max: usize) -> impl Fn(&str) -> Res<'_, &str> {
    move |i| take_while_m_n(min, max, |c: char| c.is_ascii_digit()).parse(i)
}

/// A run of visible characters (no space, no tab, no control characters).
fn token(i: &str) -> Res<'_, &str> {
    take_while1(|c: char| c.is_ascii_graphic()).parse(i)
}

fn parse_key_params(text: &str, offset: usize) -> Result<Vec<KeyParam>, SdesError> {
    let mut keys = Vec::new();
    let mut pos = offset;
    for part in text.split(';') {
        if keys.len() == MAX_KEY_PARAMS {
            return Err(SdesError::TooMany {
                what: "key parameters",
                max: MAX_KEY_PARAMS,
            });
        }
        keys.push(parse_key_param(part, pos)?);
        pos += part.len() + 1;
    }
    Ok(keys)
}

/// `key-method ":" key-info`, where only `inline` is understood.
fn parse_key_param(text: &str, offset: usize) -> Result<KeyParam, SdesError> {
    let syntax = |rest: &str, expected| SdesError::Syntax {
        at: offset + text.len() - rest.len(),
        expected,
    };
    let method = |i| -> Res<'_, &str> {
        take_while1(|c: char| c.is_ascii_alphanumeric() || c == '_').parse(i)
    };
    let (rest, name) = method(text).map_err(|_| syntax(text, "a key method such as inline:"))?;
    let (rest, _) = char::<&str, nom::error::Error<&str>>(':')(rest)
        .map_err(|_| syntax(rest, "':' after the key method"))?;
    if !name.eq_ignore_ascii_case("inline") {
        return Err(SdesError::UnsupportedKeyMethod {
            method: name.to_owned(),
        });
    }

    let key_salt_p = |i| -> Res<'_, &str> {
        recognize((
            take_while1(|c: char| c.is_ascii_alphanumeric() || c == '+' || c == '/'),
            take_while_m_n(0, 2, |c: char| c == '='),
        ))
        .parse(i)
    };
    let mki_p = |i| -> Res<'_, (&str, &str)> {
        separated_pair(digits(1, 40), char(':'), digits(1, 3)).parse(i)
    };
    let lifetime_p =
        |i| -> Res<'_, (Option<&str>, &str)> { (opt(tag("2^")), digits(1, 20)).parse(i) };
    type Parts<'a> = (
        &'a str,
        Option<(Option<&'a str>, &'a str)>,
        Option<(&'a str, &'a str)>,
    );
    let mut whole = all_consuming(|i| -> Res<'_, Parts<'_>> {
        let (i, key_salt) = key_salt_p(i)?;
        alt((
            // key-salt "|" lifetime "|" mki
            |i| -> Res<'_, Parts<'_>> {
                let (i, l) = preceded(char('|'), lifetime_p).parse(i)?;
                let (i, m) = preceded(char('|'), mki_p).parse(i)?;
                Ok((i, (key_salt, Some(l), Some(m))))
            },
            // key-salt "|" mki
            |i| -> Res<'_, Parts<'_>> {
                let (i, m) = preceded(char('|'), mki_p).parse(i)?;
                Ok((i, (key_salt, None, Some(m))))
            },
            // key-salt "|" lifetime
            |i| -> Res<'_, Parts<'_>> {
                let (i, l) = preceded(char('|'), lifetime_p).parse(i)?;
                Ok((i, (key_salt, Some(l), None)))
            },
            |i| -> Res<'_, Parts<'_>> { Ok((i, (key_salt, None, None))) },
        ))
        .parse(i)
    });
    let (_, (key_salt, lifetime, mki)) = whole.parse(rest).map_err(|e| match e {
        nom::Err::Error(e) | nom::Err::Failure(e) => {
            syntax(e.input, "inline:<base64 key||salt>[|lifetime][|MKI:length]")
        }
        nom::Err::Incomplete(_) => syntax("", "more input"),
    })?;

    if key_salt.len() > MAX_KEY_SALT_CHARS {
        return Err(syntax(rest, "a key no longer than 256 base64 characters"));
    }
    let decoded = Zeroizing::new(
        BASE64
            .decode(key_salt.as_bytes())
            .map_err(|_| SdesError::BadBase64)?,
    );

    let lifetime = match lifetime {
        None => None,
        Some((power, number)) => {
            let bad = || SdesError::BadLifetime {
                value: format!("{}{number}", power.unwrap_or("")),
            };
            let n: u64 = number.parse().map_err(|_| bad())?;
            if power.is_some() {
                Some(Lifetime::PowerOfTwo(
                    u8::try_from(n).ok().filter(|n| *n < 64).ok_or_else(bad)?,
                ))
            } else if n == 0 {
                return Err(bad());
            } else {
                Some(Lifetime::Packets(n))
            }
        }
    };

    let mki = match mki {
        None => None,
        Some((value, length)) => {
            let bad = || SdesError::BadMki {
                value: value.to_owned(),
                length: length.to_owned(),
            };
            let length: u8 = length.parse().map_err(|_| bad())?;
            if !(1..=128).contains(&length) {
                return Err(bad());
            }
            let mki = Mki {
                value: value.parse().map_err(|_| bad())?,
                length,
            };
            if !mki.fits() {
                return Err(bad());
            }
            Some(mki)
        }
    };

    Ok(KeyParam {
        key_salt: decoded,
        lifetime,
        mki,
    })
}

fn parse_session_param(text: &str, offset: usize) -> Result<SessionParam, SdesError> {
    let value_of = |name: &str| -> Option<&str> {
        let (head, tail) = text.split_at_checked(name.len())?;
        head.eq_ignore_ascii_case(name).then_some(tail)
    };
    let bad = |param: &'static str, value: &str| SdesError::BadSessionParamValue {
        param,
        value: value.to_owned(),
    };

    if let Some(v) = value_of("KDR=") {
        let ok = digits(1, 2)(v)
            .ok()
            .filter(|(rest, _)| rest.is_empty())
            .and_then(|(_, d)| d.parse::<u8>().ok())
            .filter(|n| *n <= 24);
        return ok.map(SessionParam::Kdr).ok_or_else(|| bad("KDR", v));
    }
    if let Some(v) = value_of("WSH=") {
        let ok = digits(2, 9)(v)
            .ok()
            .filter(|(rest, _)| rest.is_empty())
            .and_then(|(_, d)| d.parse::<u32>().ok())
            .filter(|n| *n >= 64);
        return ok.map(SessionParam::Wsh).ok_or_else(|| bad("WSH", v));
    }
    if let Some(v) = value_of("FEC_ORDER=") {
        return if v.eq_ignore_ascii_case("FEC_SRTP") {
            Ok(SessionParam::FecOrder(FecOrder::FecSrtp))
        } else if v.eq_ignore_ascii_case("SRTP_FEC") {
            Ok(SessionParam::FecOrder(FecOrder::SrtpFec))
        } else {
            Err(bad("FEC_ORDER", v))
        };
    }
    if let Some(v) = value_of("FEC_KEY=") {
        return parse_key_params(v, offset + 8).map(SessionParam::FecKey);
    }
    for (name, param) in [
        ("UNENCRYPTED_SRTP", SessionParam::UnencryptedSrtp),
        ("UNENCRYPTED_SRTCP", SessionParam::UnencryptedSrtcp),
        ("UNAUTHENTICATED_SRTP", SessionParam::UnauthenticatedSrtp),
    ] {
        if text.eq_ignore_ascii_case(name) {
            return Ok(param);
        }
    }
    for name in ["KDR", "WSH", "FEC_ORDER", "FEC_KEY"] {
        if text.eq_ignore_ascii_case(name) {
            return Err(SdesError::Syntax {
                at: offset + text.len(),
                expected: "'=' and a value",
            });
        }
    }
    Ok(SessionParam::Extension(text.to_owned()))
}
