//! The configuration file format (SPEC P1): `key = value` lines.
//!
//! - One setting per line: `key = value`; spaces or tabs around `=` are optional.
//! - A `#` starts a comment only at the start of a line (leading spaces or tabs
//!   allowed); a `#` after a value is part of the value.
//! - Blank lines are allowed; lines end in LF or CRLF; an optional UTF-8 byte
//!   order mark is skipped.
//! - Keys are dotted lowercase names made of `a-z 0-9 . _ -`.
//! - A key given twice: the last value wins and a warning names both lines.
//!
//! The parser is total and bounded: any bytes yield a [`Document`] or a list of
//! [`LocatedError`]s, never a panic; file size, line length, key and value
//! lengths and the number of lines and of reported errors are limited.

use std::collections::HashMap;
use std::fmt;

use nom::bytes::complete::{tag, take_while, take_while1};
use nom::character::complete::space0;
use nom::combinator::rest;
use nom::{IResult, Parser};
use zeroize::Zeroizing;

use crate::secret::{display_value, is_secret_key, MASK};

/// Largest configuration file accepted (1 MiB).
pub const MAX_FILE_BYTES: usize = 1024 * 1024;
/// Longest line accepted, in bytes (without the line end).
pub const MAX_LINE_BYTES: usize = 8 * 1024;
/// Longest key accepted, in characters.
pub const MAX_KEY_LEN: usize = 128;
/// Longest value accepted, in bytes.
pub const MAX_VALUE_BYTES: usize = 4 * 1024;
/// Most lines accepted in one file.
pub const MAX_LINES: usize = 20_000;
/// At most this many errors are collected; parsing stops after that.
pub const MAX_ERRORS: usize = 100;
/// Longest excerpt of an offending line kept in an error, in characters.
const MAX_EXCERPT_CHARS: usize = 160;

/// An error at a place in a configuration file: `FILE:LINE:COL: message`,
/// with the offending line's text (secret values masked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocatedError {
    /// The file name as given by the caller (a path or a URL).
    pub file: String,
    /// 1-based line number (0 when the error concerns the whole file).
    pub line: usize,
    /// 1-based column, in characters (0 when the error concerns the whole file).
    pub col: usize,
    /// What is wrong, in words an installer can act on. Never contains a secret.
    pub message: String,
    /// The offending line with secret values masked and control characters
    /// escaped (empty when the error concerns the whole file).
    pub text: String,
}

impl fmt::Display for LocatedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.col, self.message
        )
    }
}

impl std::error::Error for LocatedError {}

/// A non-fatal finding (duplicate key, unknown key, an inert setting).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The file name as given by the caller.
    pub file: String,
    /// 1-based line number (0 when not tied to a line).
    pub line: usize,
    /// What the installer should know. Never contains a secret.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: warning: {}", self.file, self.line, self.message)
    }
}

/// One `key = value` line.
#[derive(Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key, e.g. `sip.proxy`.
    pub key: String,
    /// The value with surrounding spaces removed; wiped from memory on drop.
    pub value: Zeroizing<String>,
    /// 1-based line number.
    pub line: usize,
    /// 1-based column where the value starts.
    pub value_col: usize,
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("key", &self.key)
            .field("value", &display_value(&self.key, &self.value))
            .field("line", &self.line)
            .finish()
    }
}

/// One line of a configuration file, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// An empty or whitespace-only line.
    Blank,
    /// A comment line, kept verbatim (including the `#` and any leading spaces).
    Comment(String),
    /// A setting.
    Entry(Entry),
}

/// A parsed configuration file: its lines in order plus warnings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document {
    /// The file name as given by the caller (used in messages).
    pub file: String,
    /// Every line, in order.
    pub items: Vec<Item>,
    /// Non-fatal findings, e.g. duplicate keys.
    pub warnings: Vec<Warning>,
}

impl Document {
    /// The entries in file order, duplicates included.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.items.iter().filter_map(|item| match item {
            Item::Entry(entry) => Some(entry),
            _ => None,
        })
    }

    /// The effective entries: one per key, the last occurrence, in the order
    /// of each key's last occurrence.
    pub fn effective(&self) -> Vec<&Entry> {
        let mut last: HashMap<&str, usize> = HashMap::new();
        for entry in self.entries() {
            last.insert(entry.key.as_str(), entry.line);
        }
        self.entries()
            .filter(|entry| last.get(entry.key.as_str()) == Some(&entry.line))
            .collect()
    }

    /// The effective value of `key`, if the file sets it.
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries().filter(|entry| entry.key == key).last()
    }
}

/// Whether `c` may appear in a key.
pub fn is_key_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// What a single line is, syntactically.
enum LineKind<'a> {
    Blank,
    Comment,
    Entry {
        key: &'a str,
        value: &'a str,
        value_offset: usize,
    },
}

/// A syntax error inside a line: byte offset and message.
struct LineError {
    offset: usize,
    message: String,
}

fn comment(input: &str) -> IResult<&str, ()> {
    let (input, _) = (space0, tag("#"), rest).parse(input)?;
    Ok((input, ()))
}

fn blank(input: &str) -> IResult<&str, ()> {
    let (input, _) = space0(input)?;
    if input.is_empty() {
        Ok((input, ()))
    } else {
        Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::Eof,
        )))
    }
}

/// `spaces key spaces = spaces value`; the value runs to the end of the line.
fn entry(input: &str) -> IResult<&str, (&str, &str)> {
    let (input, (_, key, _, _, _, value)) = (
        space0,
        take_while1(is_key_char),
        space0,
        tag("="),
        space0,
        rest,
    )
        .parse(input)?;
    Ok((input, (key, value)))
}

/// The raw key token: everything up to whitespace or `=`.
fn raw_key(input: &str) -> IResult<&str, &str> {
    take_while(|c: char| !is_blank(c) && c != '=')(input)
}

fn offset_in(line: &str, rest: &str) -> usize {
    line.len().saturating_sub(rest.len())
}

fn classify(line: &str) -> Result<LineKind<'_>, LineError> {
    if blank(line).is_ok() {
        return Ok(LineKind::Blank);
    }
    if comment(line).is_ok() {
        return Ok(LineKind::Comment);
    }
    if let Ok((_, (key, value_raw))) = entry(line) {
        let value = value_raw.trim_end_matches(is_blank);
        let value_offset = offset_in(line, value_raw);
        if key.chars().count() > MAX_KEY_LEN {
            return Err(LineError {
                offset: offset_in(line, line.trim_start_matches(is_blank)),
                message: format!("key is longer than {MAX_KEY_LEN} characters"),
            });
        }
        if value.len() > MAX_VALUE_BYTES {
            return Err(LineError {
                offset: value_offset,
                message: format!("value is longer than {MAX_VALUE_BYTES} bytes"),
            });
        }
        if let Some((i, c)) = value
            .char_indices()
            .find(|(_, c)| c.is_control() && *c != '\t')
        {
            return Err(LineError {
                offset: value_offset + i,
                message: format!("control character U+{:04X} in value", c as u32),
            });
        }
        return Ok(LineKind::Entry {
            key,
            value,
            value_offset,
        });
    }
    // Not a valid entry: explain why, precisely.
    let Some(eq) = line.find('=') else {
        return Err(LineError {
            offset: offset_in(line, line.trim_start_matches(is_blank)),
            message:
                "line has no '=' (expected `key = value`, or `#` at the start of a comment line)"
                    .to_owned(),
        });
    };
    let (after_space, _) = space0::<&str, nom::error::Error<&str>>(line).unwrap_or((line, ""));
    let (after_key, key) = raw_key(after_space).unwrap_or((after_space, ""));
    if key.is_empty() {
        return Err(LineError {
            offset: offset_in(line, after_space),
            message: if offset_in(line, after_space) == eq {
                "empty key before '='".to_owned()
            } else {
                "expected a key".to_owned()
            },
        });
    }
    if let Some((i, c)) = key.char_indices().find(|(_, c)| !is_key_char(*c)) {
        let hint = if c.is_ascii_uppercase() {
            " (keys are lowercase)"
        } else {
            ""
        };
        return Err(LineError {
            offset: offset_in(line, after_space) + i,
            message: format!("invalid character {c:?} in key (allowed: a-z 0-9 . _ -){hint}"),
        });
    }
    let (after_gap, _) =
        space0::<&str, nom::error::Error<&str>>(after_key).unwrap_or((after_key, ""));
    Err(LineError {
        offset: offset_in(line, after_gap),
        message: "expected '=' after the key (keys contain no spaces)".to_owned(),
    })
}

/// Makes the text of an offending line safe to show: values of secret keys
/// are masked, control characters escaped and the excerpt shortened. A line
/// that is not `key = value` (no `=`, or a key that is not a key) shows only
/// its first token and a mask: whatever follows may be a password typed
/// without its `=` (`admin.password hunter2`).
pub fn masked_line(line: &str) -> String {
    let body = line.trim_start_matches(is_blank);
    let lead = &line[..line.len() - body.len()];
    let (after_key, key) = raw_key(body).unwrap_or((body, ""));
    let after_gap = after_key.trim_start_matches(is_blank);
    let well_formed = !key.is_empty() && key.chars().all(is_key_char);
    let shown = match after_gap.strip_prefix('=') {
        Some(value) if well_formed => {
            let value = value.trim_start_matches(is_blank);
            let head = &line[..line.len() - value.len()];
            if is_secret_key(key) {
                format!("{head}{MASK}")
            } else {
                format!("{head}{}", display_value(key, value))
            }
        }
        _ if after_gap.is_empty() => line.to_owned(),
        _ => format!("{lead}{key} {MASK}"),
    };
    let mut out = String::new();
    let mut count = 0;
    for c in shown.chars() {
        let piece: String = if c.is_control() && c != '\t' {
            c.escape_default().collect()
        } else {
            c.to_string()
        };
        count += piece.chars().count();
        if count > MAX_EXCERPT_CHARS {
            out.push('…');
            break;
        }
        out.push_str(&piece);
    }
    out
}

/// Column (1-based, in characters) of byte `offset` in `line`.
fn col_of(line: &str, offset: usize) -> usize {
    let offset = offset.min(line.len());
    line.char_indices().take_while(|(i, _)| *i < offset).count() + 1
}

/// Parses a configuration file.
///
/// `file` names the file in messages (a path or a URL). Returns the document,
/// or every error found (at most [`MAX_ERRORS`]), each with file, line,
/// column and the line's text with secrets masked.
pub fn parse_document(file: &str, bytes: &[u8]) -> Result<Document, Vec<LocatedError>> {
    let (doc, errors) = parse_document_partial(file, bytes);
    if errors.is_empty() {
        Ok(doc)
    } else {
        Err(errors)
    }
}

/// Parses as much as possible: the document of every line that is valid,
/// and the errors of the others (at most [`MAX_ERRORS`]). Lets a checker
/// report value errors of good lines together with syntax errors.
pub fn parse_document_partial(file: &str, bytes: &[u8]) -> (Document, Vec<LocatedError>) {
    let whole_file = |message: String| LocatedError {
        file: file.to_owned(),
        line: 0,
        col: 0,
        message,
        text: String::new(),
    };
    if bytes.len() > MAX_FILE_BYTES {
        let doc = Document {
            file: file.to_owned(),
            ..Document::default()
        };
        let error = whole_file(format!(
            "file is {} bytes, more than the limit of {MAX_FILE_BYTES}",
            bytes.len()
        ));
        return (doc, vec![error]);
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut doc = Document {
        file: file.to_owned(),
        ..Document::default()
    };
    let mut errors = Vec::new();
    let mut first_line: HashMap<String, usize> = HashMap::new();
    let mut lines = bytes.split(|b| *b == b'\n').peekable();
    let mut number = 0usize;
    while let Some(raw) = lines.next() {
        // A final LF does not start another line.
        if raw.is_empty() && lines.peek().is_none() {
            break;
        }
        number += 1;
        if errors.len() >= MAX_ERRORS {
            break;
        }
        if number > MAX_LINES {
            errors.push(whole_file(format!("file has more than {MAX_LINES} lines")));
            break;
        }
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let error_at = |line_text: &str, offset: usize, message: String| LocatedError {
            file: file.to_owned(),
            line: number,
            col: col_of(line_text, offset),
            message,
            text: masked_line(line_text),
        };
        if raw.len() > MAX_LINE_BYTES {
            let prefix = String::from_utf8_lossy(&raw[..64.min(raw.len())]).into_owned();
            errors.push(error_at(
                &prefix,
                0,
                format!("line is longer than {MAX_LINE_BYTES} bytes"),
            ));
            continue;
        }
        let line = match std::str::from_utf8(raw) {
            Ok(line) => line,
            Err(bad) => {
                let valid = String::from_utf8_lossy(raw).into_owned();
                let good = std::str::from_utf8(&raw[..bad.valid_up_to()]).unwrap_or("");
                let col = good.chars().count() + 1;
                let mut error = error_at(
                    &valid,
                    0,
                    format!(
                        "invalid UTF-8 (byte 0x{:02X})",
                        raw.get(bad.valid_up_to()).copied().unwrap_or(0)
                    ),
                );
                error.col = col;
                errors.push(error);
                continue;
            }
        };
        match classify(line) {
            Ok(LineKind::Blank) => doc.items.push(Item::Blank),
            Ok(LineKind::Comment) => doc.items.push(Item::Comment(line.to_owned())),
            Ok(LineKind::Entry {
                key,
                value,
                value_offset,
            }) => {
                if let Some(first) = first_line.get(key) {
                    doc.warnings.push(Warning {
                        file: file.to_owned(),
                        line: number,
                        message: format!(
                            "{key} is set again (first on line {first}); the last value wins"
                        ),
                    });
                } else {
                    first_line.insert(key.to_owned(), number);
                }
                doc.items.push(Item::Entry(Entry {
                    key: key.to_owned(),
                    value: Zeroizing::new(value.to_owned()),
                    line: number,
                    value_col: col_of(line, value_offset),
                }));
            }
            Err(LineError { offset, message }) => errors.push(error_at(line, offset, message)),
        }
    }
    (doc, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Document, Vec<LocatedError>> {
        parse_document("t.conf", text.as_bytes())
    }

    fn pairs(doc: &Document) -> Vec<(String, String)> {
        doc.effective()
            .into_iter()
            .map(|e| (e.key.clone(), e.value.as_str().to_owned()))
            .collect()
    }

    #[test]
    fn basic_lines_spaces_comments() {
        let doc = parse("# header\n\nsip.proxy=pbx.example.com\n  sip.u1.user =  100  \n\tsip.u1.dname\t=\tFront # door\n")
            .unwrap();
        assert_eq!(
            pairs(&doc),
            vec![
                ("sip.proxy".into(), "pbx.example.com".into()),
                ("sip.u1.user".into(), "100".into()),
                ("sip.u1.dname".into(), "Front # door".into()),
            ]
        );
        assert_eq!(doc.items.len(), 5);
        assert_eq!(doc.items[0], Item::Comment("# header".into()));
        assert_eq!(doc.items[1], Item::Blank);
    }

    #[test]
    fn bom_crlf_and_no_final_newline() {
        let doc = parse("\u{feff}a = 1\r\nb = 2\r\n# c\r\nd=4").unwrap();
        assert_eq!(
            pairs(&doc),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "2".into()),
                ("d".into(), "4".into())
            ]
        );
        assert_eq!(doc.get("d").unwrap().line, 4);
    }

    #[test]
    fn hash_inside_value_and_empty_value() {
        let doc = parse("x = a#b\ny =\n").unwrap();
        assert_eq!(doc.get("x").unwrap().value.as_str(), "a#b");
        assert_eq!(doc.get("y").unwrap().value.as_str(), "");
    }

    #[test]
    fn errors_have_line_col_and_text() {
        let errors = parse("a = 1\nno equals here\n= v\nBad.Key = 1\nsp ace = 1\n").unwrap_err();
        let shown: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(shown.len(), 4, "{shown:?}");
        assert!(
            shown[0].starts_with("t.conf:2:1: line has no '='"),
            "{}",
            shown[0]
        );
        assert!(
            shown[1].starts_with("t.conf:3:1: empty key"),
            "{}",
            shown[1]
        );
        assert!(
            shown[2].starts_with("t.conf:4:1: invalid character 'B'"),
            "{}",
            shown[2]
        );
        assert!(
            shown[3].starts_with("t.conf:5:4: expected '='"),
            "{}",
            shown[3]
        );
        // Only the first token: the rest may be a password typed without its `=`.
        assert_eq!(errors[0].text, format!("no {MASK}"));
    }

    #[test]
    fn invalid_utf8_located() {
        let errors = parse_document("t.conf", b"a = 1\nb = x\xffy\n").unwrap_err();
        assert_eq!((errors[0].line, errors[0].col), (2, 6));
        assert!(errors[0].message.contains("UTF-8"));
    }

    #[test]
    fn secrets_masked_in_error_text() {
        let errors = parse("sip.u1.pwd = hunter2\x07\n").unwrap_err();
        assert_eq!(errors[0].line, 1);
        assert!(!errors[0].text.contains("hunter2"), "{}", errors[0].text);
        assert!(!errors[0].message.contains("hunter2"));
        let errors = parse("SIP.U1.PWD = hunter2\n").unwrap_err();
        assert!(!errors[0].text.contains("hunter2"), "{}", errors[0].text);
    }

    #[test]
    fn malformed_lines_never_echo_what_follows_the_key() {
        for line in [
            "admin.password hunter2",
            "sip.u1.password hunter2",
            "  admin.password\thunter2 more",
            "Admin.Password = hunter2",
            "sip u1 pwd = hunter2",
            "admin.password: hunter2",
        ] {
            let errors = parse(&format!("{line}\n")).unwrap_err();
            let error = &errors[0];
            for shown in [&error.text, &error.message, &error.to_string()] {
                assert!(!shown.contains("hunter2"), "{line:?} showed {shown:?}");
            }
            assert!(error.text.contains(MASK), "{line:?} -> {:?}", error.text);
        }
        let errors = parse("admin.password hunter2\n").unwrap_err();
        assert_eq!(errors[0].text, format!("admin.password {MASK}"));
        assert_eq!((errors[0].line, errors[0].col), (1, 1));
        // A bad value of an ordinary key is still shown: it is what to fix.
        assert_eq!(masked_line("sip.transport = udpx"), "sip.transport = udpx");
    }

    #[test]
    fn duplicate_last_wins_with_warning() {
        let doc = parse("a = 1\nb = 2\na = 3\n").unwrap();
        assert_eq!(
            pairs(&doc),
            vec![("b".into(), "2".into()), ("a".into(), "3".into())]
        );
        assert_eq!(doc.warnings.len(), 1);
        assert_eq!(doc.warnings[0].line, 3);
        assert!(doc.warnings[0].message.contains("first on line 1"));
    }

    #[test]
    fn limits() {
        let long = format!("a = {}\n", "x".repeat(MAX_LINE_BYTES));
        assert!(parse(&long).is_err());
        let many = "= x\n".repeat(MAX_ERRORS * 2);
        assert_eq!(parse(&many).unwrap_err().len(), MAX_ERRORS);
        assert!(parse_document("t", &vec![b'a'; MAX_FILE_BYTES + 1]).is_err());
        let controls = parse_document("t", &[1u8; 100]).unwrap_err();
        assert!(controls[0].text.chars().count() <= MAX_EXCERPT_CHARS + 1);
    }
}
