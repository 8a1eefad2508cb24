//! Parsing what browsers and scripts send: `application/x-www-form-urlencoded`
//! bodies, and settings changes turned into a configuration document for
//! [`sigil_provisioning::ConfigStore::apply`]. Total and bounded: any bytes
//! give pairs or an error, never a panic.

/// Most fields in one form.
pub const MAX_FIELDS: usize = 200;
/// Longest field name (bytes, decoded).
pub const MAX_NAME: usize = 64;
/// Longest field value (bytes, decoded).
pub const MAX_VALUE: usize = 4096;

/// Why a form body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    /// More than [`MAX_FIELDS`] fields.
    #[error("the form has more than {MAX_FIELDS} fields")]
    TooManyFields,
    /// A name or value is too long.
    #[error("a form field is too long")]
    TooLong,
    /// A `%` escape is not two hex digits.
    #[error("bad %-escape in the form")]
    BadEscape,
    /// The decoded text is not UTF-8.
    #[error("the form is not UTF-8 text")]
    NotUtf8,
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn decode(part: &[u8], limit: usize) -> Result<String, FormError> {
    let mut out = Vec::with_capacity(part.len().min(limit));
    let mut i = 0;
    while let Some(&b) = part.get(i) {
        let byte = match b {
            b'+' => b' ',
            b'%' => {
                let hi = part.get(i + 1).copied().and_then(hex);
                let lo = part.get(i + 2).copied().and_then(hex);
                match (hi, lo) {
                    (Some(hi), Some(lo)) => {
                        i += 2;
                        hi << 4 | lo
                    }
                    _ => return Err(FormError::BadEscape),
                }
            }
            other => other,
        };
        if out.len() >= limit {
            return Err(FormError::TooLong);
        }
        out.push(byte);
        i += 1;
    }
    String::from_utf8(out).map_err(|_| FormError::NotUtf8)
}

/// Parses an `application/x-www-form-urlencoded` body into `(name, value)`
/// pairs in order (`+` is a space, `%XX` a byte; empty segments skipped).
///
/// # Errors
///
/// Too many or too long fields, a bad escape, or text that is not UTF-8.
pub fn parse_urlencoded(body: &[u8]) -> Result<Vec<(String, String)>, FormError> {
    let mut pairs = Vec::new();
    for segment in body.split(|&b| b == b'&') {
        if segment.is_empty() {
            continue;
        }
        if pairs.len() >= MAX_FIELDS {
            return Err(FormError::TooManyFields);
        }
        let (name, value) = match segment.iter().position(|&b| b == b'=') {
            Some(eq) => (&segment[..eq], &segment[eq + 1..]),
            None => (segment, &b""[..]),
        };
        pairs.push((decode(name, MAX_NAME)?, decode(value, MAX_VALUE)?));
    }
    Ok(pairs)
}

/// Turns settings changes into a configuration document (`key = value`
/// lines) for the atomic apply, after checking what the file format cannot
/// say: every key is one the Settings page edits (the admin password has its
/// own call), and no value holds a line break or another control character
/// (which would smuggle in another line). Values are trimmed; a secret with
/// blanks around it is refused rather than silently changed.
///
/// # Errors
///
/// Every refused pair, in words (secret values never shown).
pub fn settings_document(pairs: &[(String, String)]) -> Result<String, Vec<String>> {
    let mut errors = Vec::new();
    let mut text = String::new();
    if pairs.is_empty() {
        errors.push("no setting to change".to_owned());
    }
    for (key, value) in pairs.iter().take(MAX_FIELDS) {
        let shown_key: String = key
            .chars()
            .take(MAX_NAME)
            .filter(|c| !c.is_control())
            .collect();
        if key == sigil_provisioning::settings::keys::ADMIN_PASSWORD
            || key == sigil_provisioning::settings::keys::ADMIN_PASSWORD_HASH
        {
            errors.push(format!(
                "{shown_key}: change the admin password with POST /api/password (old and new password)"
            ));
            continue;
        }
        let Some(field) = crate::settings::field(key) else {
            errors.push(format!("{shown_key}: not a setting of this device"));
            continue;
        };
        if value.chars().any(char::is_control) {
            errors.push(format!(
                "{}: the value contains a line break or another control character",
                field.key
            ));
            continue;
        }
        if value.len() > MAX_VALUE {
            errors.push(format!("{}: the value is too long", field.key));
            continue;
        }
        let trimmed = value.trim();
        if field.kind == crate::FieldKind::Secret && trimmed.len() != value.len() {
            errors.push(format!(
                "{}: a password cannot start or end with a blank",
                field.key
            ));
            continue;
        }
        text.push_str(field.key);
        text.push_str(" = ");
        text.push_str(trimmed);
        text.push('\n');
    }
    if errors.is_empty() {
        Ok(text)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencoded() {
        let p = parse_urlencoded(b"a=1&b=x+y%21&&c&d=%E2%9C%93").unwrap();
        assert_eq!(
            p,
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y!".into()),
                ("c".into(), String::new()),
                ("d".into(), "\u{2713}".into())
            ]
        );
        assert_eq!(parse_urlencoded(b"a=%4"), Err(FormError::BadEscape));
        assert_eq!(parse_urlencoded(b"a=%zz"), Err(FormError::BadEscape));
        assert_eq!(parse_urlencoded(b"a=%ff"), Err(FormError::NotUtf8));
        let many = "a=1&".repeat(MAX_FIELDS + 1);
        assert_eq!(
            parse_urlencoded(many.as_bytes()),
            Err(FormError::TooManyFields)
        );
        let long = format!("a={}", "x".repeat(MAX_VALUE + 1));
        assert_eq!(parse_urlencoded(long.as_bytes()), Err(FormError::TooLong));
    }

    #[test]
    fn settings_documents() {
        let doc = settings_document(&[
            ("sip.u1.dname".into(), " Lobby ".into()),
            ("sip.srtp.offer".into(), "standard".into()),
        ])
        .unwrap();
        assert_eq!(doc, "sip.u1.dname = Lobby\nsip.srtp.offer = standard\n");
        let e = settings_document(&[
            ("sip.u1.dname".into(), "x\nadmin.password = pwned".into()),
            ("admin.password".into(), "x".into()),
            ("no.such.key".into(), "1".into()),
            ("sip.u1.pwd".into(), " spaced ".into()),
        ])
        .unwrap_err();
        assert_eq!(e.len(), 4, "{e:?}");
        assert!(e
            .iter()
            .all(|m| !m.contains("spaced") && !m.contains("pwned")));
        assert!(settings_document(&[]).is_err());
    }
}
