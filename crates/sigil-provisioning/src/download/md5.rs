//! The optional `<file>.md5` check of a download.

use md5::{Digest, Md5};

use super::fetch::{get, Got};
use super::tls::Observed;
use super::{DownloadError, Md5Check};

/// Size limit of a `.md5` file.
const MAX_MD5_SIZE: u64 = 1024;

pub(super) fn check_md5(
    agent: &ureq::Agent,
    url: &str,
    body: &[u8],
    observed: &Observed,
) -> Result<Md5Check, DownloadError> {
    let md5_url = format!("{url}.md5");
    match get(agent, &md5_url, MAX_MD5_SIZE, observed)? {
        Got::NotFound => Ok(Md5Check::Absent),
        Got::Body {
            body: published, ..
        } => {
            // `md5sum` output is "<hex>  <name>": the first word is the checksum.
            let text = String::from_utf8_lossy(&published);
            let expected = text.split_whitespace().next().unwrap_or("");
            if expected.len() != 32
                || !expected
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            {
                return Err(DownloadError::Md5Invalid {
                    url: url.to_owned(),
                });
            }
            let actual: String = Md5::digest(body)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            if actual == expected {
                Ok(Md5Check::Matched(actual))
            } else {
                Err(DownloadError::Md5Mismatch {
                    url: url.to_owned(),
                    expected: expected.to_owned(),
                    actual,
                })
            }
        }
    }
}
