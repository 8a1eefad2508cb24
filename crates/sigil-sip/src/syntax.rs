//! Character classes and small grammar pieces of RFC 3261 §25, as `nom` parsers
//! over already unfolded, UTF-8 header text.

use nom::bytes::complete::{tag, take_while, take_while1};
use nom::IResult;

/// Result type of the crate's internal `nom` parsers.
pub(crate) type Res<'a, T> = IResult<&'a str, T, nom::error::Error<&'a str>>;

/// `token` characters (RFC 3261 §25.1).
pub(crate) fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '-' | '.' | '!' | '%' | '*' | '_' | '+' | '`' | '\'' | '~'
        )
}

/// `word` characters, used by Call-ID.
pub(crate) fn is_word_char(c: char) -> bool {
    is_token_char(c)
        || matches!(
            c,
            '(' | ')' | '<' | '>' | ':' | '\\' | '"' | '/' | '[' | ']' | '?' | '{' | '}'
        )
}

/// Optional linear white space (after unfolding: spaces and tabs).
pub(crate) fn sws(i: &str) -> Res<'_, &str> {
    take_while(|c| c == ' ' || c == '\t')(i)
}

/// At least one space or tab.
pub(crate) fn lws(i: &str) -> Res<'_, &str> {
    take_while1(|c| c == ' ' || c == '\t')(i)
}

/// A `token`.
pub(crate) fn token(i: &str) -> Res<'_, &str> {
    take_while1(is_token_char)(i)
}

/// A separator with optional white space on both sides (`SEMI`, `EQUAL`, `COMMA`, `SLASH`…).
pub(crate) fn sep(c: &'static str) -> impl Fn(&str) -> Res<'_, &str> {
    move |i| {
        let (i, _) = sws(i)?;
        let (i, s) = tag(c)(i)?;
        let (i, _) = sws(i)?;
        Ok((i, s))
    }
}

fn fail(i: &str) -> nom::Err<nom::error::Error<&str>> {
    nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Verify))
}

/// A `quoted-string`, returned with its quotes. Quoted pairs may escape any
/// character except CR and LF; unescaped control characters are refused.
pub(crate) fn quoted_string(i: &str) -> Res<'_, &str> {
    let (rest, _) = tag("\"")(i)?;
    let mut escaped = false;
    for (pos, c) in rest.char_indices() {
        if escaped {
            if c == '\r' || c == '\n' {
                return Err(fail(&rest[pos..]));
            }
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '"' => {
                let end = pos + 1; // ok: '"' is one byte
                let whole_len = 1 + end;
                return Ok((&i[whole_len..], &i[..whole_len]));
            }
            '\t' => {}
            c if c.is_control() => return Err(fail(&rest[pos..])),
            _ => {}
        }
    }
    Err(fail(""))
}

/// Remove the quotes and quoted-pair backslashes of a quoted string; other text is returned unchanged.
pub fn unquote(s: &str) -> String {
    let Some(inner) = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) else {
        return s.to_string();
    };
    let mut out = String::with_capacity(inner.len());
    let mut escaped = false;
    for c in inner.chars() {
        if escaped {
            out.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else {
            out.push(c);
        }
    }
    out
}

/// Quote `s` as a SIP quoted-string, escaping `"` and `\`. CR and LF cannot
/// appear in a quoted string and are left out.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars().filter(|&c| c != '\r' && c != '\n') {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The value of a generic parameter: a quoted string, or a run of token
/// characters, `:` and brackets (hosts, IPv6 addresses).
pub(crate) fn gen_value(i: &str) -> Res<'_, &str> {
    if i.starts_with('"') {
        quoted_string(i)
    } else {
        take_while1(|c| is_token_char(c) || matches!(c, ':' | '[' | ']'))(i)
    }
}

/// Hand each comma-separated element of a header value to `f`, respecting
/// quoted strings and `<…>`; elements are trimmed. Returns `Ok(false)` when
/// quotes or brackets do not balance (elements before the imbalance may
/// already have been handed over).
pub(crate) fn split_list_each<'a, E>(
    value: &'a str,
    mut f: impl FnMut(&'a str) -> Result<(), E>,
) -> Result<bool, E> {
    let bytes = value.as_bytes();
    let mut start = 0;
    let mut in_quotes = false;
    let mut escaped = false;
    let mut in_angle = false;
    // All delimiters are ASCII, and UTF-8 continuation bytes are never ASCII,
    // so a byte scan finds the same positions as a char scan.
    for (pos, &c) in bytes.iter().enumerate() {
        if in_quotes {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_quotes = false;
            }
            continue;
        }
        match c {
            b'"' => in_quotes = true,
            b'<' if !in_angle => in_angle = true,
            b'>' if in_angle => in_angle = false,
            b',' if !in_angle => {
                f(value[start..pos].trim_matches([' ', '\t']))?;
                start = pos + 1;
            }
            _ => {}
        }
    }
    if in_quotes || in_angle {
        return Ok(false);
    }
    f(value[start..].trim_matches([' ', '\t']))?;
    Ok(true)
}

/// Split a header value into its comma-separated elements (see [`split_list_each`]);
/// `None` if quotes or brackets do not balance.
pub(crate) fn split_list(value: &str) -> Option<Vec<&str>> {
    let mut out = Vec::new();
    match split_list_each(value, |item| {
        out.push(item);
        Ok::<(), ()>(())
    }) {
        Ok(true) => Some(out),
        _ => None,
    }
}

/// True when every character of `s` satisfies `f` and `s` is not empty.
pub(crate) fn all1(s: &str, f: impl Fn(char) -> bool) -> bool {
    !s.is_empty() && s.chars().all(f)
}

/// True when `%` escapes in `s` are followed by two hex digits.
pub(crate) fn escapes_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            match (b.get(i + 1), b.get(i + 2)) {
                (Some(x), Some(y)) if x.is_ascii_hexdigit() && y.is_ascii_hexdigit() => i += 3,
                _ => return false,
            }
        } else {
            i += 1;
        }
    }
    true
}

/// Parse a string entirely with `p`, requiring nothing left over.
pub(crate) fn all_consumed<'a, T>(
    input: &'a str,
    mut p: impl FnMut(&'a str) -> Res<'a, T>,
) -> Result<T, usize> {
    match p(input) {
        Ok(("", v)) => Ok(v),
        Ok((rest, _)) => Err(input.len() - rest.len()),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(input.len() - e.input.len()),
        Err(nom::Err::Incomplete(_)) => Err(input.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_strings() {
        assert_eq!(
            quoted_string(r#""a\"b" rest"#).unwrap(),
            (" rest", r#""a\"b""#)
        );
        assert!(quoted_string("\"open").is_err());
        assert_eq!(unquote(r#""J Rosenberg \\\"""#), r#"J Rosenberg \""#);
        assert_eq!(quote(r#"a"b\"#), r#""a\"b\\""#);
    }

    #[test]
    fn lists_respect_quotes_and_brackets() {
        assert_eq!(
            split_list(r#""a,b" <sip:x;y=1,2>, <sip:z> ;q=1"#).unwrap(),
            vec![r#""a,b" <sip:x;y=1,2>"#, "<sip:z> ;q=1"]
        );
        assert!(split_list("\"a,b").is_none());
    }
}
