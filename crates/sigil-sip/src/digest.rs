//! Digest authentication, client side (RFC 3261 §22, RFC 2617, RFC 7616,
//! RFC 8760 for SHA-256 in SIP): challenge parsing, `qop=auth` with nonce
//! count and client nonce, `stale=true` handling, for 401 and 407.

use std::fmt;

use md5::{Digest as _, Md5};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::header::{Header, HeaderName};
use crate::message::{Request, Response};
use crate::syntax::quote;
use crate::values::{AuthValue, Param, ValueError};

/// A digest authentication failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// The header does not parse as a challenge.
    #[error("malformed challenge: {0}")]
    Malformed(ValueError),
    /// The challenge's scheme is not Digest.
    #[error("authentication scheme {0:?} is not supported (only Digest)")]
    UnsupportedScheme(String),
    /// A required parameter is missing.
    #[error("challenge lacks the {0} parameter")]
    MissingParam(&'static str),
    /// The algorithm is neither MD5 nor SHA-256 (with or without -sess).
    #[error("digest algorithm {0:?} is not supported (MD5, SHA-256 and their -sess forms are)")]
    UnsupportedAlgorithm(String),
    /// The challenge offers qop values we do not implement (only `auth`, `auth-int`).
    #[error("qop {0:?} is not supported")]
    UnsupportedQop(String),
    /// The response carried no challenge we can answer.
    #[error("the {status} response carries no Digest challenge we support")]
    NoUsableChallenge {
        /// Status code of the response.
        status: u16,
    },
    /// The system random generator failed (for the client nonce).
    #[error("cannot generate a client nonce: the system random source failed")]
    Random,
}

/// Hash algorithm of a digest challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// MD5 (RFC 2617; the SIP default when `algorithm` is absent).
    Md5,
    /// MD5-sess.
    Md5Sess,
    /// SHA-256 (RFC 7616, RFC 8760).
    Sha256,
    /// SHA-256-sess.
    Sha256Sess,
}

impl Algorithm {
    fn parse(s: &str) -> Option<Algorithm> {
        Some(match s.to_ascii_uppercase().as_str() {
            "MD5" => Algorithm::Md5,
            "MD5-SESS" => Algorithm::Md5Sess,
            "SHA-256" => Algorithm::Sha256,
            "SHA-256-SESS" => Algorithm::Sha256Sess,
            _ => return None,
        })
    }

    /// The name used in the `algorithm` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
        }
    }

    fn is_sess(self) -> bool {
        matches!(self, Algorithm::Md5Sess | Algorithm::Sha256Sess)
    }

    fn strength(self) -> u8 {
        match self {
            Algorithm::Sha256 | Algorithm::Sha256Sess => 2,
            Algorithm::Md5 | Algorithm::Md5Sess => 1,
        }
    }

    /// Lower-case hex digest of `data`.
    fn hex(self, data: &[u8]) -> String {
        // The raw digest of HA1 is password-equivalent: wipe it after use.
        let bytes: Zeroizing<Vec<u8>> = Zeroizing::new(match self {
            Algorithm::Md5 | Algorithm::Md5Sess => Md5::digest(data).to_vec(),
            Algorithm::Sha256 | Algorithm::Sha256Sess => Sha256::digest(data).to_vec(),
        });
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(bytes.len() * 2);
        for &b in bytes.iter() {
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
        s
    }
}

/// Quality of protection chosen for a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qop {
    /// `auth`: authenticates method and URI.
    Auth,
    /// `auth-int`: also covers the body.
    AuthInt,
}

/// A parsed Digest challenge from WWW-Authenticate (401) or Proxy-Authenticate (407).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Protection realm.
    pub realm: String,
    /// Server nonce.
    pub nonce: String,
    /// Opaque value to echo back.
    pub opaque: Option<String>,
    /// Hash algorithm.
    pub algorithm: Algorithm,
    /// Offered qop values (`auth`, `auth-int`); empty for RFC 2069 servers.
    pub qop: Vec<String>,
    /// `stale=true`: the nonce expired but the credentials were right; retry with the new nonce.
    pub stale: bool,
    /// `true` when it came from Proxy-Authenticate (answer with Proxy-Authorization).
    pub proxy: bool,
}

/// Bound on the length of any challenge parameter we keep.
const MAX_PARAM_LEN: usize = 1024;

impl Challenge {
    /// Parse the value of a WWW-Authenticate (`proxy = false`) or Proxy-Authenticate (`proxy = true`) header.
    pub fn parse(value: &str, proxy: bool) -> Result<Challenge, DigestError> {
        let v = AuthValue::parse(value).map_err(DigestError::Malformed)?;
        Challenge::from_auth_value(&v, proxy)
    }

    /// Interpret an already parsed authentication header value.
    pub fn from_auth_value(v: &AuthValue, proxy: bool) -> Result<Challenge, DigestError> {
        if !v.scheme.eq_ignore_ascii_case("Digest") {
            return Err(DigestError::UnsupportedScheme(
                v.scheme.chars().take(64).collect(),
            ));
        }
        let get = |n: &'static str| v.param(n).filter(|s| s.len() <= MAX_PARAM_LEN);
        let realm = get("realm").ok_or(DigestError::MissingParam("realm"))?;
        let nonce = get("nonce").ok_or(DigestError::MissingParam("nonce"))?;
        let algorithm = match get("algorithm") {
            None => Algorithm::Md5,
            Some(a) => Algorithm::parse(&a)
                .ok_or_else(|| DigestError::UnsupportedAlgorithm(a.chars().take(64).collect()))?,
        };
        let qop: Vec<String> = get("qop")
            .map(|q| {
                q.split(',')
                    .map(|s| s.trim().to_ascii_lowercase())
                    .filter(|s| !s.is_empty())
                    .take(8)
                    .collect()
            })
            .unwrap_or_default();
        if !qop.is_empty() && !qop.iter().any(|q| q == "auth" || q == "auth-int") {
            return Err(DigestError::UnsupportedQop(qop.join(",")));
        }
        Ok(Challenge {
            realm,
            nonce,
            opaque: get("opaque"),
            algorithm,
            qop,
            stale: get("stale").is_some_and(|s| s.eq_ignore_ascii_case("true")),
            proxy,
        })
    }

    /// The best challenge of a 401/407 response: SHA-256 before MD5 (RFC 8760 §2.4).
    pub fn from_response(response: &Response) -> Result<Challenge, DigestError> {
        let mut best: Option<Challenge> = None;
        for (values, proxy) in [
            (response.headers.www_authenticate(), false),
            (response.headers.proxy_authenticate(), true),
        ] {
            for v in values.iter().take(16) {
                if let Ok(c) = Challenge::from_auth_value(v, proxy) {
                    if best
                        .as_ref()
                        .is_none_or(|b| c.algorithm.strength() > b.algorithm.strength())
                    {
                        best = Some(c);
                    }
                }
            }
        }
        best.ok_or(DigestError::NoUsableChallenge {
            status: response.status,
        })
    }

    fn chosen_qop(&self) -> Option<Qop> {
        if self.qop.iter().any(|q| q == "auth") {
            Some(Qop::Auth)
        } else if self.qop.iter().any(|q| q == "auth-int") {
            Some(Qop::AuthInt)
        } else {
            None
        }
    }
}

/// A user name and password. The password is wiped from memory on drop and never shown by `Debug`.
#[derive(Clone)]
pub struct Credentials {
    username: String,
    password: Zeroizing<String>,
    realm: Option<String>,
}

impl Credentials {
    /// Credentials for any realm.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            password: Zeroizing::new(password.into()),
            realm: None,
        }
    }

    /// Only answer challenges of this realm.
    pub fn for_realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// The user name.
    pub fn username(&self) -> &str {
        &self.username
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("realm", &self.realm)
            .finish()
    }
}

/// Answers digest challenges, keeping the nonce count per server nonce.
#[derive(Debug, Clone)]
pub struct DigestClient {
    credentials: Credentials,
    /// The last challenge answered and the nonce count used with it.
    last: Option<(Challenge, u32)>,
}

impl DigestClient {
    /// A client answering with `credentials`.
    pub fn new(credentials: Credentials) -> Self {
        DigestClient {
            credentials,
            last: None,
        }
    }

    /// The credentials' user name.
    pub fn username(&self) -> &str {
        self.credentials.username()
    }

    /// Forget the cached challenge (e.g. after the server rejected the credentials).
    pub fn reset(&mut self) {
        self.last = None;
    }

    /// The most recently answered challenge, usable to authorize the next
    /// request pre-emptively with [`DigestClient::authorize_cached`].
    pub fn cached_challenge(&self) -> Option<&Challenge> {
        self.last.as_ref().map(|(c, _)| c)
    }

    fn next_nc(&mut self, challenge: &Challenge) -> u32 {
        match &mut self.last {
            Some((c, nc)) if c.nonce == challenge.nonce && c.realm == challenge.realm => {
                *nc = nc.saturating_add(1);
                *c = challenge.clone();
                *nc
            }
            _ => {
                self.last = Some((challenge.clone(), 1));
                1
            }
        }
    }

    /// Answer `challenge` for a request with `method`, `uri` (the Request-URI as sent) and `body`,
    /// with a fresh random client nonce.
    pub fn authorize(
        &mut self,
        challenge: &Challenge,
        method: &str,
        uri: &str,
        body: &[u8],
    ) -> Result<AuthValue, DigestError> {
        let mut raw = [0u8; 12];
        getrandom::getrandom(&mut raw).map_err(|_| DigestError::Random)?;
        let cnonce: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        Ok(self.authorize_with_cnonce(challenge, method, uri, body, &cnonce))
    }

    /// [`DigestClient::authorize`] with a given client nonce (for tests and known-answer vectors).
    pub fn authorize_with_cnonce(
        &mut self,
        challenge: &Challenge,
        method: &str,
        uri: &str,
        body: &[u8],
        cnonce: &str,
    ) -> AuthValue {
        let nc = self.next_nc(challenge);
        let alg = challenge.algorithm;
        let qop = challenge.chosen_qop();
        let nc_text = format!("{nc:08x}");
        let mut ha1 = Zeroizing::new(
            alg.hex(
                Zeroizing::new(format!(
                    "{}:{}:{}",
                    self.credentials.username,
                    challenge.realm,
                    self.credentials.password.as_str()
                ))
                .as_bytes(),
            ),
        );
        if alg.is_sess() {
            ha1 = Zeroizing::new(
                alg.hex(
                    Zeroizing::new(format!("{}:{}:{}", ha1.as_str(), challenge.nonce, cnonce))
                        .as_bytes(),
                ),
            );
        }
        let ha2 = match qop {
            Some(Qop::AuthInt) => alg.hex(format!("{method}:{uri}:{}", alg.hex(body)).as_bytes()),
            _ => alg.hex(format!("{method}:{uri}").as_bytes()),
        };
        let response = match qop {
            Some(q) => {
                let q = if q == Qop::Auth { "auth" } else { "auth-int" };
                alg.hex(
                    Zeroizing::new(format!(
                        "{}:{}:{nc_text}:{cnonce}:{q}:{ha2}",
                        ha1.as_str(),
                        challenge.nonce
                    ))
                    .as_bytes(),
                )
            }
            None => alg.hex(
                Zeroizing::new(format!("{}:{}:{ha2}", ha1.as_str(), challenge.nonce)).as_bytes(),
            ),
        };
        let mut params = vec![
            Param::new("username", Some(&quote(&self.credentials.username))),
            Param::new("realm", Some(&quote(&challenge.realm))),
            Param::new("nonce", Some(&quote(&challenge.nonce))),
            Param::new("uri", Some(&quote(uri))),
            Param::new("response", Some(&quote(&response))),
            Param::new("algorithm", Some(alg.as_str())),
        ];
        if let Some(q) = qop {
            params.push(Param::new("cnonce", Some(&quote(cnonce))));
            params.push(Param::new(
                "qop",
                Some(if q == Qop::Auth { "auth" } else { "auth-int" }),
            ));
            params.push(Param::new("nc", Some(&nc_text)));
        }
        if let Some(o) = &challenge.opaque {
            params.push(Param::new("opaque", Some(&quote(o))));
        }
        AuthValue {
            scheme: "Digest".to_string(),
            params,
        }
    }

    /// Answer the challenge in a 401/407 `response` by adding an Authorization
    /// or Proxy-Authorization header to `request` (replacing an earlier one).
    /// Returns the challenge answered.
    pub fn authorize_request(
        &mut self,
        response: &Response,
        request: &mut Request,
    ) -> Result<Challenge, DigestError> {
        let challenge = Challenge::from_response(response)?;
        if let Some(realm) = &self.credentials.realm {
            if realm != &challenge.realm {
                return Err(DigestError::NoUsableChallenge {
                    status: response.status,
                });
            }
        }
        self.apply(&challenge, request)?;
        Ok(challenge)
    }

    /// Authorize `request` with the cached challenge (next nonce count), if there is one.
    pub fn authorize_cached(&mut self, request: &mut Request) -> Result<bool, DigestError> {
        let Some((challenge, _)) = self.last.clone() else {
            return Ok(false);
        };
        self.apply(&challenge, request)?;
        Ok(true)
    }

    fn apply(&mut self, challenge: &Challenge, request: &mut Request) -> Result<(), DigestError> {
        let uri = request.uri.to_string();
        let value = self.authorize(challenge, request.method.as_str(), &uri, &request.body)?;
        let name = if challenge.proxy {
            HeaderName::ProxyAuthorization
        } else {
            HeaderName::Authorization
        };
        request.headers.remove(&name);
        request.headers.push(Header::typed(name, value));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response_of(v: &AuthValue) -> String {
        v.param("response").unwrap_or_default()
    }

    /// RFC 2617 §3.5.
    #[test]
    fn rfc2617_md5_example() {
        let c = Challenge::parse(
            r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
            false,
        )
        .unwrap();
        let mut client = DigestClient::new(Credentials::new("Mufasa", "Circle Of Life"));
        let v = client.authorize_with_cnonce(&c, "GET", "/dir/index.html", b"", "0a4f113b");
        assert_eq!(response_of(&v), "6629fae49393a05397450978507c4ef1");
        assert_eq!(v.param("nc").as_deref(), Some("00000001"));
        assert_eq!(
            v.param("opaque").as_deref(),
            Some("5ccc069c403ebaf9f0171e9517f40e41")
        );
    }

    /// RFC 7616 §3.9.1, SHA-256 and MD5.
    #[test]
    fn rfc7616_examples() {
        let common = r#"realm="http-auth@example.org", qop="auth, auth-int", nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#;
        let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
        let sha = Challenge::parse(&format!("Digest {common}, algorithm=SHA-256"), false).unwrap();
        let md5 = Challenge::parse(&format!("Digest {common}, algorithm=MD5"), false).unwrap();
        let mut client = DigestClient::new(Credentials::new("Mufasa", "Circle of Life"));
        let v = client.authorize_with_cnonce(&sha, "GET", "/dir/index.html", b"", cnonce);
        assert_eq!(
            response_of(&v),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
        let mut client = DigestClient::new(Credentials::new("Mufasa", "Circle of Life"));
        let v = client.authorize_with_cnonce(&md5, "GET", "/dir/index.html", b"", cnonce);
        assert_eq!(response_of(&v), "8ca523f5e9506fed4657c9700eebdbec");
    }

    #[test]
    fn nonce_count_increments_per_nonce() {
        let c = Challenge::parse(r#"Digest realm="r", nonce="n1", qop="auth""#, false).unwrap();
        let mut client = DigestClient::new(Credentials::new("u", "p"));
        assert_eq!(
            client
                .authorize(&c, "REGISTER", "sip:r", b"")
                .unwrap()
                .param("nc")
                .as_deref(),
            Some("00000001")
        );
        assert_eq!(
            client
                .authorize(&c, "REGISTER", "sip:r", b"")
                .unwrap()
                .param("nc")
                .as_deref(),
            Some("00000002")
        );
        let c2 = Challenge::parse(
            r#"Digest realm="r", nonce="n2", qop="auth", stale=TRUE"#,
            false,
        )
        .unwrap();
        assert!(c2.stale);
        assert_eq!(
            client
                .authorize(&c2, "REGISTER", "sip:r", b"")
                .unwrap()
                .param("nc")
                .as_deref(),
            Some("00000001")
        );
    }

    #[test]
    fn password_not_in_debug() {
        let c = Credentials::new("alice", "s3cret-pw");
        assert!(!format!("{c:?}").contains("s3cret"));
        assert!(!format!("{:?}", DigestClient::new(c)).contains("s3cret"));
    }

    #[test]
    fn rejects_unsupported() {
        assert!(matches!(
            Challenge::parse("Basic realm=\"x\"", false),
            Err(DigestError::UnsupportedScheme(_))
        ));
        assert!(matches!(
            Challenge::parse("Digest realm=\"x\", nonce=\"n\", algorithm=SHA-512", false),
            Err(DigestError::UnsupportedAlgorithm(_))
        ));
        assert!(matches!(
            Challenge::parse("Digest realm=\"x\"", false),
            Err(DigestError::MissingParam("nonce"))
        ));
    }
}
