//! A minimal SIP registrar for labs and tests (what `sigil sip serve` runs):
//! answers OPTIONS, accepts REGISTER with optional digest authentication
//! (SHA-256 and MD5 challenges, `qop=auth`), and reports each device's MAC
//! and registration. Not a proxy: other requests get 501.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use md5::Digest as _;
use sigil_sip::{Header, HeaderName, Message, Method, Request, Response};
use zeroize::Zeroizing;

use sigil_sip_tls::{Handler, HandshakeDiagnosis, PeerInfo};

/// Something the registrar wants reported (the CLI prints these lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrarEvent {
    /// A client completed the TLS handshake.
    Connected {
        /// Its address.
        addr: String,
        /// The device MAC from its certificate, when it presented one.
        mac: Option<String>,
        /// SHA-256 fingerprint of its certificate.
        fingerprint: Option<String>,
        /// `TLSv1.3 TLS13_AES_256_GCM_SHA384`.
        tls: String,
    },
    /// A handshake was refused.
    Refused {
        /// Its address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// A binding was added or refreshed.
    Registered {
        /// Address of record.
        aor: String,
        /// Contact.
        contact: String,
        /// Granted seconds.
        expires: u32,
        /// The device MAC from its certificate.
        mac: Option<String>,
    },
    /// A binding was removed.
    Unregistered {
        /// Address of record.
        aor: String,
    },
    /// A REGISTER was challenged or its credentials were wrong.
    AuthFailed {
        /// Address of record.
        aor: String,
        /// Why.
        reason: String,
    },
    /// A connection ended.
    Closed {
        /// Its address.
        addr: String,
    },
}

impl std::fmt::Display for RegistrarEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mac = |m: &Option<String>| m.clone().unwrap_or_else(|| "-".into());
        match self {
            RegistrarEvent::Connected {
                addr,
                mac: m,
                fingerprint,
                tls,
            } => write!(
                f,
                "connected {addr} mac={} fingerprint={} {tls}",
                mac(m),
                fingerprint.clone().unwrap_or_else(|| "-".into())
            ),
            RegistrarEvent::Refused { addr, reason } => write!(f, "refused {addr}: {reason}"),
            RegistrarEvent::Registered {
                aor,
                contact,
                expires,
                mac: m,
            } => {
                write!(
                    f,
                    "registered {aor} contact={contact} expires={expires} mac={}",
                    mac(m)
                )
            }
            RegistrarEvent::Unregistered { aor } => write!(f, "unregistered {aor}"),
            RegistrarEvent::AuthFailed { aor, reason } => write!(f, "auth {aor}: {reason}"),
            RegistrarEvent::Closed { addr } => write!(f, "closed {addr}"),
        }
    }
}

type Reporter = Arc<dyn Fn(&RegistrarEvent) + Send + Sync>;

/// The lab registrar. Share it as `Arc<Registrar>` with a [`sigil_sip_tls::Server`].
pub struct Registrar {
    realm: Option<String>,
    password: Option<Zeroizing<String>>,
    nonces: Mutex<HashMap<String, Instant>>,
    bindings: Mutex<HashMap<String, (String, Instant)>>,
    reporter: Reporter,
}

impl std::fmt::Debug for Registrar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registrar")
            .field("realm", &self.realm)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// How long an issued nonce is accepted.
const NONCE_LIFETIME: Duration = Duration::from_secs(300);
/// Most outstanding nonces kept.
const MAX_NONCES: usize = 4096;
/// Most bindings kept.
const MAX_BINDINGS: usize = 10_000;

fn random_hex(n: usize) -> String {
    let mut raw = vec![0u8; n];
    if getrandom::getrandom(&mut raw).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        return format!("{t:032x}");
    }
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hash(sha256: bool, data: &str) -> String {
    if sha256 {
        hex(&sha2::Sha256::digest(data.as_bytes()))
    } else {
        hex(&md5::Md5::digest(data.as_bytes()))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A response to `request` with its Via, From, To (with a tag), Call-ID and CSeq.
pub fn response_to(request: &Request, status: u16, reason: &str) -> Response {
    let mut r = Response::new(status, reason);
    for h in request.headers.iter() {
        match h.name() {
            HeaderName::Via | HeaderName::From | HeaderName::CallId | HeaderName::CSeq => {
                r.headers.push(h.clone())
            }
            _ => {}
        }
    }
    if let Some(mut to) = request.headers.to() {
        if to.tag().is_none() && status > 100 {
            to.set_param("tag", Some(&random_hex(6)));
        }
        if let Ok(h) = Header::new(HeaderName::To, to.to_string()) {
            r.headers.push(h);
        }
    }
    r
}

impl Registrar {
    /// A registrar. The digest realm is `realm`, or (`None`) the domain of
    /// each REGISTER's To URI, as Kamailio's `$td`. With a password every
    /// REGISTER must answer a digest challenge with it (any user name).
    pub fn new(realm: Option<&str>, password: Option<&str>) -> Registrar {
        Registrar {
            realm: realm.map(str::to_owned),
            password: password.map(|p| Zeroizing::new(p.to_owned())),
            nonces: Mutex::new(HashMap::new()),
            bindings: Mutex::new(HashMap::new()),
            reporter: Arc::new(|e| log::info!("{e}")),
        }
    }

    /// Report events to `reporter` instead of the log.
    pub fn with_reporter(
        mut self,
        reporter: impl Fn(&RegistrarEvent) + Send + Sync + 'static,
    ) -> Self {
        self.reporter = Arc::new(reporter);
        self
    }

    /// The current contact of an address of record.
    pub fn binding(&self, aor: &str) -> Option<String> {
        let now = Instant::now();
        self.bindings
            .lock()
            .ok()?
            .get(aor)
            .filter(|(_, until)| *until > now)
            .map(|(c, _)| c.clone())
    }

    fn new_nonce(&self) -> String {
        let nonce = random_hex(16);
        if let Ok(mut n) = self.nonces.lock() {
            let now = Instant::now();
            n.retain(|_, at| now.duration_since(*at) < NONCE_LIFETIME);
            if n.len() < MAX_NONCES {
                n.insert(nonce.clone(), now);
            }
        }
        nonce
    }

    fn realm_for(&self, request: &Request) -> String {
        if let Some(r) = &self.realm {
            return r.clone();
        }
        request
            .headers
            .to()
            .and_then(|t| t.uri.as_sip().map(|s| s.host.clone()))
            .filter(|h| !h.is_empty() && !h.contains(['"', '\\']))
            .unwrap_or_else(|| "sigil".to_owned())
    }

    fn challenge(&self, request: &Request, stale: bool) -> Response {
        let mut r = response_to(request, 401, "Unauthorized");
        for alg in ["SHA-256", "MD5"] {
            let value = format!(
                "Digest realm=\"{}\", nonce=\"{}\", algorithm={alg}, qop=\"auth\"{}",
                self.realm_for(request),
                self.new_nonce(),
                if stale { ", stale=true" } else { "" }
            );
            if let Ok(h) = Header::new(HeaderName::WwwAuthenticate, value) {
                r.headers.push(h);
            }
        }
        r
    }

    /// `Ok(())` when the request carries valid credentials; `Err(stale)` otherwise.
    fn check_auth(&self, request: &Request, password: &str) -> Result<(), (bool, String)> {
        let Some(auth) = request
            .headers
            .authorization()
            .into_iter()
            .find(|a| a.scheme.eq_ignore_ascii_case("Digest"))
        else {
            return Err((false, "no credentials".into()));
        };
        let p = |n: &str| auth.param(n).unwrap_or_default();
        let (user, realm, nonce, uri, resp) = (
            p("username"),
            p("realm"),
            p("nonce"),
            p("uri"),
            p("response"),
        );
        let sha256 = match p("algorithm").to_ascii_uppercase().as_str() {
            "" | "MD5" => false,
            "SHA-256" => true,
            other => return Err((false, format!("unsupported algorithm {other}"))),
        };
        if realm != self.realm_for(request) {
            return Err((false, format!("wrong realm {realm:?}")));
        }
        let known = self
            .nonces
            .lock()
            .map(|n| {
                n.get(&nonce)
                    .is_some_and(|at| at.elapsed() < NONCE_LIFETIME)
            })
            .unwrap_or(false);
        let ha1 = Zeroizing::new(hash(sha256, &format!("{user}:{realm}:{password}")));
        let ha2 = hash(sha256, &format!("{}:{uri}", request.method.as_str()));
        let qop = p("qop");
        let expected = if qop.is_empty() {
            hash(sha256, &format!("{}:{nonce}:{ha2}", ha1.as_str()))
        } else {
            hash(
                sha256,
                &format!(
                    "{}:{nonce}:{}:{}:{qop}:{ha2}",
                    ha1.as_str(),
                    p("nc"),
                    p("cnonce")
                ),
            )
        };
        if !constant_time_eq(expected.as_bytes(), resp.to_ascii_lowercase().as_bytes()) {
            return Err((false, format!("wrong password for user {user:?}")));
        }
        if !known {
            return Err((true, "stale nonce".into()));
        }
        Ok(())
    }

    fn register(&self, peer: &PeerInfo, request: &Request) -> Response {
        let aor = request
            .headers
            .to()
            .map(|t| t.uri.to_string())
            .unwrap_or_default();
        if let Some(password) = &self.password {
            if let Err((stale, reason)) = self.check_auth(request, password) {
                (self.reporter)(&RegistrarEvent::AuthFailed { aor, reason });
                return self.challenge(request, stale);
            }
        }
        let expires = request
            .headers
            .contacts()
            .first()
            .and_then(|c| c.expires())
            .or_else(|| request.headers.expires())
            .unwrap_or(3600)
            .min(86_400);
        let mac = peer
            .tls
            .peer_device
            .as_ref()
            .and_then(|d| d.mac)
            .map(|m| m.to_string());
        let mut r = response_to(request, 200, "OK");
        if expires == 0 || request.headers.contact_is_star() {
            if let Ok(mut b) = self.bindings.lock() {
                b.remove(&aor);
            }
            (self.reporter)(&RegistrarEvent::Unregistered { aor });
            return r;
        }
        let contact = request
            .headers
            .contacts()
            .first()
            .map(|c| c.uri.to_string())
            .unwrap_or_default();
        if let Ok(mut b) = self.bindings.lock() {
            if b.len() < MAX_BINDINGS || b.contains_key(&aor) {
                b.insert(
                    aor.clone(),
                    (
                        contact.clone(),
                        sigil_sip::timer::deadline_after(
                            Instant::now(),
                            Duration::from_secs(u64::from(expires)),
                        ),
                    ),
                );
            }
        }
        if let Ok(h) = Header::new(
            HeaderName::Contact,
            format!("<{contact}>;expires={expires}"),
        ) {
            r.headers.push(h);
        }
        (self.reporter)(&RegistrarEvent::Registered {
            aor,
            contact,
            expires,
            mac,
        });
        r
    }
}

impl Handler for Registrar {
    fn on_connect(&self, peer: &PeerInfo) {
        let device = peer.tls.peer_device.as_ref();
        (self.reporter)(&RegistrarEvent::Connected {
            addr: peer.addr.to_string(),
            mac: device.and_then(|d| d.mac).map(|m| m.to_string()),
            fingerprint: device.map(|d| d.fingerprint_sha256.clone()),
            tls: format!("{} {}", peer.tls.version, peer.tls.cipher_suite),
        });
    }

    fn on_message(&self, peer: &PeerInfo, message: Message) -> Vec<Message> {
        let Message::Request(request) = message else {
            return Vec::new(); // responses to nothing we sent
        };
        let reply = match request.method {
            Method::Options => {
                let mut r = response_to(&request, 200, "OK");
                if let Ok(h) = Header::new(HeaderName::Other("Allow".into()), "OPTIONS, REGISTER") {
                    r.headers.push(h);
                }
                r
            }
            Method::Register => self.register(peer, &request),
            Method::Ack => return Vec::new(),
            _ => response_to(&request, 501, "Not Implemented"),
        };
        vec![Message::Response(reply)]
    }

    fn on_refused(&self, addr: std::net::SocketAddr, diagnosis: &HandshakeDiagnosis) {
        (self.reporter)(&RegistrarEvent::Refused {
            addr: addr.to_string(),
            reason: diagnosis.to_string(),
        });
    }

    fn on_close(&self, peer: &PeerInfo, _reason: Option<&str>) {
        (self.reporter)(&RegistrarEvent::Closed {
            addr: peer.addr.to_string(),
        });
    }
}
