//! Single-valued headers: Max-Forwards, Expires, Content-Length, Call-ID, Date.

use crate::syntax::is_word_char;

use super::{verr, ValueError};

/// Parse an unsigned decimal, refusing non-digits and values above `max`.
pub(super) fn bounded_number(s: &str, max: u64, what: &str) -> Result<u64, ValueError> {
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
    use crate::values::CSeq;

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
