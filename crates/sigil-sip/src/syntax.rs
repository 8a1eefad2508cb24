//! Character classes and small grammar pieces of RFC 3261 §25, as `nom` parsers
//! over already unfolded, UTF-8 header text.

use nom::bytes::complete::tag;
use nom::IResult;

/// Result type of the crate's internal `nom` parsers.
pub(crate) type Res<'a, T> = IResult<&'a str, T, nom::error::Error<&'a str>>;

/// `token` bytes (RFC 3261 §25.1) as a table: the parser asks for every byte of every name.
const TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            );
        b += 1;
    }
    t
};

/// A `token` byte (RFC 3261 §25.1); never true for a byte of a multi-byte character.
#[inline]
pub(crate) fn is_token_byte(b: u8) -> bool {
    TOKEN[usize::from(b)]
}

/// True when `s` is a non-empty `token`.
#[inline]
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_byte)
}

/// `token` characters (RFC 3261 §25.1).
#[inline]
pub(crate) fn is_token_char(c: char) -> bool {
    c.is_ascii() && is_token_byte(c as u8)
}

/// `word` characters, used by Call-ID.
pub(crate) fn is_word_char(c: char) -> bool {
    is_token_char(c)
        || matches!(
            c,
            '(' | ')' | '<' | '>' | ':' | '\\' | '"' | '/' | '[' | ']' | '?' | '{' | '}'
        )
}

/// Position of the first byte `b` (ASCII) in `s`: a plain loop, quicker than
/// `str::find` on the short texts of header values.
#[inline]
pub(crate) fn find_byte(s: &str, b: u8) -> Option<usize> {
    s.bytes().position(|c| c == b)
}

/// `s` without leading and trailing spaces and tabs.
#[inline]
pub(crate) fn trim_ws(s: &str) -> &str {
    trim_ws_end(trim_ws_start(s))
}

/// `s` without leading spaces and tabs.
#[inline]
pub(crate) fn trim_ws_start(s: &str) -> &str {
    let n = s.bytes().take_while(|&b| b == b' ' || b == b'\t').count();
    s.get(n..).unwrap_or_default()
}

/// `s` without trailing spaces and tabs.
#[inline]
pub(crate) fn trim_ws_end(s: &str) -> &str {
    let n = s
        .bytes()
        .rev()
        .take_while(|&b| b == b' ' || b == b'\t')
        .count();
    s.get(..s.len() - n).unwrap_or_default()
}

/// The longest prefix of ASCII bytes satisfying `f` (which must be false for
/// non-ASCII bytes, so the split is at a character boundary): nom's
/// `take_while` over bytes instead of decoded characters.
#[inline]
fn take_ascii(i: &str, f: impl Fn(u8) -> bool) -> (&str, &str) {
    let n = i.bytes().take_while(|&b| f(b)).count();
    match (i.get(n..), i.get(..n)) {
        (Some(rest), Some(taken)) => (rest, taken),
        _ => (i, ""),
    }
}

/// [`take_ascii`], at least one byte (nom's `take_while1`, same error).
#[inline]
pub(crate) fn take_ascii1(i: &str, f: impl Fn(u8) -> bool) -> Res<'_, &str> {
    match take_ascii(i, f) {
        (_, "") => Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::TakeWhile1,
        ))),
        (rest, taken) => Ok((rest, taken)),
    }
}

/// Optional linear white space (after unfolding: spaces and tabs).
#[inline]
pub(crate) fn sws(i: &str) -> Res<'_, &str> {
    Ok(take_ascii(i, |b| b == b' ' || b == b'\t'))
}

/// At least one space or tab.
#[inline]
pub(crate) fn lws(i: &str) -> Res<'_, &str> {
    take_ascii1(i, |b| b == b' ' || b == b'\t')
}

/// A `token`.
#[inline]
pub(crate) fn token(i: &str) -> Res<'_, &str> {
    take_ascii1(i, is_token_byte)
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
        take_ascii1(i, |b| is_token_byte(b) || matches!(b, b':' | b'[' | b']'))
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
    let mut pos = 0;
    // All delimiters are ASCII, and UTF-8 continuation bytes are never ASCII,
    // so a byte search finds the same positions as a char scan. Outside
    // quotes and brackets only '"', '<' and ',' matter.
    while let Some(found) = memchr::memchr3(b'"', b'<', b',', bytes.get(pos..).unwrap_or_default())
    {
        let at = pos + found;
        match bytes[at] {
            b',' => {
                f(trim_ws(value.get(start..at).unwrap_or_default()))?;
                start = at + 1;
                pos = at + 1;
            }
            b'"' => match quoted_end(bytes, at + 1) {
                Some(end) => pos = end,
                None => return Ok(false),
            },
            _ => {
                // Inside <…>: only '>' and quoted strings matter.
                let mut p = at + 1;
                loop {
                    let Some(o) = memchr::memchr2(b'>', b'"', bytes.get(p..).unwrap_or_default())
                    else {
                        return Ok(false);
                    };
                    let q = p + o;
                    if bytes[q] == b'>' {
                        pos = q + 1;
                        break;
                    }
                    match quoted_end(bytes, q + 1) {
                        Some(end) => p = end,
                        None => return Ok(false),
                    }
                }
            }
        }
    }
    f(trim_ws(value.get(start..).unwrap_or_default()))?;
    Ok(true)
}

/// The position after the closing quote of a quoted string whose content
/// starts at `from` (backslash escapes any byte), or `None` when it is not closed.
fn quoted_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut p = from;
    loop {
        let q = p + memchr::memchr2(b'"', b'\\', bytes.get(p..)?)?;
        if bytes[q] == b'"' {
            return Some(q + 1);
        }
        p = q + 2;
    }
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
/// `f` must be false for every non-ASCII character: bytes are tested, not
/// characters, and a byte of a multi-byte character is never ASCII.
pub(crate) fn all1(s: &str, f: impl Fn(char) -> bool) -> bool {
    !s.is_empty() && s.bytes().all(|b| f(char::from(b)))
}

/// True when `%` escapes in `s` are followed by two hex digits.
pub(crate) fn escapes_ok(s: &str) -> bool {
    let b = s.as_bytes();
    if memchr::memchr(b'%', b).is_none() {
        return true;
    }
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
