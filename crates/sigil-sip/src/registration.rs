//! A sans-IO registration client (RFC 3261 §10): REGISTER with a Contact,
//! digest challenge/response, refresh before expiry, un-REGISTER, 423 Interval
//! Too Brief, failures and transaction timeout as events.
//!
//! The caller owns the clock and the connection: it passes `Instant`s in,
//! sends what [`Registration::poll_output`] yields, feeds responses to
//! [`Registration::handle_response`], and calls [`Registration::handle_timeout`]
//! when [`Registration::poll_timeout`] is reached.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::digest::{Challenge, Credentials, DigestClient, DigestError};
use crate::header::{Header, HeaderName};
use crate::message::{Request, Response};
use crate::timer::deadline_after;
use crate::uri::Uri;
use crate::values::{CSeq, Method, NameAddr, Param, Via};

/// RFC 3261 T1 (RTT estimate).
pub const T1: Duration = Duration::from_millis(500);
/// RFC 3261 T2 (maximum retransmit interval for non-INVITE requests).
pub const T2: Duration = Duration::from_secs(4);
/// Timer F: non-INVITE transaction timeout, 64·T1 = 32 s.
pub const TIMER_F: Duration = Duration::from_secs(32);

/// Settings of a registration.
#[derive(Debug, Clone)]
pub struct RegistrationConfig {
    /// Request-URI of the REGISTER (the registrar's domain), e.g. `sip:example.com`.
    pub registrar: Uri,
    /// Address of record, used in From and To, e.g. `sip:alice@example.com`.
    pub aor: Uri,
    /// Our contact, e.g. `sip:alice@192.0.2.10:5061;transport=tls`.
    pub contact: Uri,
    /// Requested registration lifetime in seconds.
    pub expires: u32,
    /// Credentials for digest challenges; `None` fails on the first 401/407.
    pub credentials: Option<Credentials>,
    /// Transport in our Via (`TLS`, `TCP`, `UDP`).
    pub transport: String,
    /// Host in our Via sent-by.
    pub via_host: String,
    /// Port in our Via sent-by.
    pub via_port: Option<u16>,
    /// `true` for TCP/TLS: no retransmissions, only Timer F.
    pub reliable: bool,
    /// User-Agent header, if any.
    pub user_agent: Option<String>,
    /// After a failure, try again after this long (`None`: stay failed until `register` is called).
    pub retry_after_failure: Option<Duration>,
}

impl RegistrationConfig {
    /// A TLS registration of `aor` at `registrar` with `contact`, 3600 s, no credentials,
    /// Via host taken from the contact, retry 60 s after a failure. A `sip:`
    /// contact that names no transport gets `;transport=tls`.
    pub fn new(registrar: Uri, aor: Uri, mut contact: Uri) -> Self {
        if let Uri::Sip(s) = &mut contact {
            if s.param("transport").is_none() && !s.secure {
                s.set_param("transport", Some("tls"));
            }
        }
        let (via_host, via_port) = match contact.as_sip() {
            Some(s) => (s.host.clone(), s.port),
            None => ("invalid".to_string(), None),
        };
        RegistrationConfig {
            registrar,
            aor,
            contact,
            expires: 3600,
            credentials: None,
            transport: "TLS".to_string(),
            via_host,
            via_port,
            reliable: true,
            user_agent: None,
            retry_after_failure: Some(Duration::from_secs(60)),
        }
    }
}

/// Why a registration failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationFailure {
    /// The registrar answered with a final failure status.
    #[error("registrar rejected the registration: {status} {reason}")]
    Rejected {
        /// Status code.
        status: u16,
        /// Reason phrase.
        reason: String,
    },
    /// A challenge came back after we answered one without `stale=true`: wrong user name or password.
    #[error("authentication failed ({status}): check the SIP user name and password")]
    AuthenticationFailed {
        /// 401 or 407.
        status: u16,
    },
    /// The registrar asked for credentials and none are configured.
    #[error("the registrar requires authentication ({status}) and no credentials are configured")]
    NoCredentials {
        /// 401 or 407.
        status: u16,
    },
    /// The challenge could not be answered.
    #[error("cannot answer the challenge: {0}")]
    Challenge(DigestError),
    /// 423 without a usable Min-Expires, or asking for more than we can give.
    #[error("registrar answered 423 Interval Too Brief without a usable Min-Expires")]
    IntervalTooBrief,
    /// No final response within Timer F (32 s).
    #[error("no response from the registrar within {0:?} (Timer F)")]
    Timeout(Duration),
}

/// Something the application should know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationEvent {
    /// The registrar accepted our contact for this long.
    Registered {
        /// Granted lifetime.
        expires: Duration,
    },
    /// Our contact was removed (un-REGISTER succeeded).
    Unregistered,
    /// The registration failed.
    Failed(RegistrationFailure),
}

/// What the caller must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationOutput {
    /// Send this request on the connection.
    Send(Request),
    /// Report this event.
    Event(RegistrationEvent),
}

/// Where the registration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationState {
    /// Nothing sent yet, or unregistered.
    Idle,
    /// A REGISTER is outstanding and we are not registered.
    Registering,
    /// Registered until `expires_at` (a refresh may be outstanding).
    Registered {
        /// When the binding lapses at the registrar.
        expires_at: Instant,
    },
    /// An un-REGISTER is outstanding.
    Unregistering,
    /// The last attempt failed.
    Failed,
}

#[derive(Debug)]
struct Transaction {
    branch: String,
    cseq: u32,
    request: Request,
    expires: u32,
    unregister: bool,
    timeout_at: Instant,
    retransmit_at: Option<Instant>,
    retransmit_interval: Duration,
    auth_attempts: u8,
    interval_retries: u8,
}

/// The sans-IO registration client. See the [module documentation](self).
#[derive(Debug)]
pub struct Registration {
    config: RegistrationConfig,
    call_id: String,
    from_tag: String,
    cseq: u32,
    expires: u32,
    digest: Option<DigestClient>,
    state: RegistrationState,
    transaction: Option<Transaction>,
    refresh_at: Option<Instant>,
    retry_at: Option<Instant>,
    out: VecDeque<RegistrationOutput>,
}

/// A request to `uri` with the headers every request of ours starts with
/// (RFC 3261 §8.1.1), in this order: Via, Max-Forwards 70, From and To
/// (`ends`), Call-ID and CSeq.
pub(crate) fn request_head(
    method: Method,
    uri: Uri,
    via: Via,
    ends: (NameAddr, NameAddr),
    call_id: &str,
    cseq: u32,
) -> Request {
    let mut r = Request::new(method.clone(), uri);
    r.headers.push(Header::typed(HeaderName::Via, via));
    r.headers.push(Header::typed(HeaderName::MaxForwards, 70));
    r.headers.push(Header::typed(HeaderName::From, ends.0));
    r.headers.push(Header::typed(HeaderName::To, ends.1));
    r.headers
        .push(Header::unchecked(HeaderName::CallId, call_id.to_string()));
    r.headers
        .push(Header::typed(HeaderName::CSeq, CSeq { seq: cseq, method }));
    r
}

/// Adds a User-Agent header when `user_agent` is set and a valid header value.
pub(crate) fn push_user_agent(r: &mut Request, user_agent: Option<&str>) {
    if let Some(h) =
        user_agent.and_then(|ua| Header::new(HeaderName::UserAgent, ua.to_string()).ok())
    {
        r.headers.push(h);
    }
}

/// A new Via branch: the RFC 3261 magic cookie and 80 random bits.
pub(crate) fn new_branch() -> String {
    format!("z9hG4bK{}", random_hex(10))
}

/// `bytes` random bytes as lower-case hex: unique identifiers (Call-ID,
/// tags, branches).
pub(crate) fn random_hex(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    if getrandom::getrandom(&mut raw).is_err() {
        // Fall back to the standard library's randomly keyed hasher; these
        // identifiers must be unique, not secret.
        use std::hash::{BuildHasher, Hasher};
        for chunk in raw.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_usize(chunk.len());
            let v = h.finish().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

/// When to refresh a binding granted for `granted` seconds.
fn refresh_delay(granted: u32) -> Duration {
    let g = u64::from(granted);
    Duration::from_secs(if g <= 60 {
        g / 2
    } else {
        g.saturating_sub(30).max(g / 2)
    })
}

fn same_contact(a: &Uri, b: &Uri) -> bool {
    match (a.as_sip(), b.as_sip()) {
        (Some(x), Some(y)) => {
            x.user == y.user
                && x.host.eq_ignore_ascii_case(&y.host)
                && x.port.unwrap_or(0) == y.port.unwrap_or(0)
        }
        _ => a == b,
    }
}

impl Registration {
    /// A registration client, idle until [`Registration::register`].
    pub fn new(config: RegistrationConfig) -> Self {
        let call_id = format!(
            "{}@{}",
            random_hex(12),
            config.via_host.trim_matches(['[', ']']).replace(':', ".")
        );
        let digest = config.credentials.clone().map(DigestClient::new);
        Registration {
            expires: config.expires,
            config,
            call_id,
            from_tag: random_hex(6),
            cseq: 0,
            digest,
            state: RegistrationState::Idle,
            transaction: None,
            refresh_at: None,
            retry_at: None,
            out: VecDeque::new(),
        }
    }

    /// Current state.
    pub fn state(&self) -> RegistrationState {
        self.state
    }

    /// The Call-ID used for every REGISTER of this registration.
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// Register (or refresh now). Also call this after the connection was re-established.
    pub fn register(&mut self, now: Instant) {
        self.refresh_at = None;
        self.retry_at = None;
        if !matches!(self.state, RegistrationState::Registered { .. }) {
            self.state = RegistrationState::Registering;
        }
        self.start(now, false, false);
    }

    /// Remove our contact (REGISTER with `expires=0`).
    pub fn unregister(&mut self, now: Instant) {
        self.refresh_at = None;
        self.retry_at = None;
        self.state = RegistrationState::Unregistering;
        self.start(now, true, false);
    }

    /// Remove every binding of the address of record (`Contact: *`, `Expires: 0`).
    pub fn unregister_all(&mut self, now: Instant) {
        self.refresh_at = None;
        self.retry_at = None;
        self.state = RegistrationState::Unregistering;
        self.start(now, true, true);
    }

    fn build(&mut self, unregister: bool, star: bool, branch: &str) -> Request {
        self.cseq = self.cseq.wrapping_add(1) % (1 << 31);
        let c = &self.config;
        let mut via = Via::new(&c.transport, &c.via_host, c.via_port, branch);
        via.params.push(Param::new("rport", None));
        let mut from = NameAddr::new(c.aor.clone());
        from.set_param("tag", Some(&self.from_tag));
        let mut r = request_head(
            Method::Register,
            c.registrar.clone(),
            via,
            (from, NameAddr::new(c.aor.clone())),
            &self.call_id,
            self.cseq,
        );
        let expires = if unregister { 0 } else { self.expires };
        if star {
            r.headers
                .push(Header::unchecked(HeaderName::Contact, "*".to_string()));
        } else {
            let mut contact = NameAddr::new(c.contact.clone());
            contact.set_param("expires", Some(&expires.to_string()));
            r.headers.push(Header::typed(HeaderName::Contact, contact));
        }
        r.headers.push(Header::typed(HeaderName::Expires, expires));
        push_user_agent(&mut r, c.user_agent.as_deref());
        r.headers.push(Header::typed(HeaderName::ContentLength, 0));
        r
    }

    fn start(&mut self, now: Instant, unregister: bool, star: bool) {
        let branch = new_branch();
        let mut request = self.build(unregister, star, &branch);
        if let Some(d) = &mut self.digest {
            // Pre-emptive credentials from the last challenge save a round trip; a stale nonce is answered by a new challenge.
            let _ = d.authorize_cached(&mut request);
        }
        let interval_retries = self.transaction.as_ref().map_or(0, |t| t.interval_retries);
        self.send(now, request, branch, unregister, 0, interval_retries);
    }

    fn send(
        &mut self,
        now: Instant,
        request: Request,
        branch: String,
        unregister: bool,
        auth_attempts: u8,
        interval_retries: u8,
    ) {
        let reliable = self.config.reliable;
        self.transaction = Some(Transaction {
            branch,
            cseq: self.cseq,
            request: request.clone(),
            expires: self.expires,
            unregister,
            timeout_at: now + TIMER_F,
            retransmit_at: (!reliable).then(|| now + T1),
            retransmit_interval: T1,
            auth_attempts,
            interval_retries,
        });
        self.out.push_back(RegistrationOutput::Send(request));
    }

    /// Resend the outstanding request with a new branch and CSeq (after a challenge or a 423).
    fn resend(
        &mut self,
        now: Instant,
        auth_response: Option<&Response>,
    ) -> Result<(), RegistrationFailure> {
        let Some(t) = self.transaction.take() else {
            return Ok(());
        };
        let branch = new_branch();
        let star = t.request.headers.contact_is_star();
        let mut request = self.build(t.unregister, star, &branch);
        let mut auth_attempts = t.auth_attempts;
        if let Some(resp) = auth_response {
            let status = resp.status;
            let Some(d) = &mut self.digest else {
                return Err(RegistrationFailure::NoCredentials { status });
            };
            let challenge =
                Challenge::from_response(resp).map_err(RegistrationFailure::Challenge)?;
            if auth_attempts >= 1 && !challenge.stale {
                d.reset();
                return Err(RegistrationFailure::AuthenticationFailed { status });
            }
            if auth_attempts >= 3 {
                return Err(RegistrationFailure::AuthenticationFailed { status });
            }
            d.authorize_request(resp, &mut request)
                .map_err(RegistrationFailure::Challenge)?;
            auth_attempts += 1;
        } else if let Some(d) = &mut self.digest {
            let _ = d.authorize_cached(&mut request);
        }
        self.send(
            now,
            request,
            branch,
            t.unregister,
            auth_attempts,
            t.interval_retries,
        );
        Ok(())
    }

    fn fail(&mut self, now: Instant, failure: RegistrationFailure) {
        self.transaction = None;
        self.state = RegistrationState::Failed;
        self.refresh_at = None;
        self.retry_at = self
            .config
            .retry_after_failure
            .map(|d| deadline_after(now, d));
        self.out
            .push_back(RegistrationOutput::Event(RegistrationEvent::Failed(
                failure,
            )));
    }

    /// Feed a response received on the connection. Returns `false` when it does
    /// not belong to our outstanding REGISTER (the caller may route it elsewhere).
    pub fn handle_response(&mut self, response: &Response, now: Instant) -> bool {
        let Some(t) = &self.transaction else {
            return false;
        };
        let branch_ok = response
            .headers
            .top_via()
            .and_then(|v| v.branch().map(str::to_string))
            .as_deref()
            == Some(t.branch.as_str());
        let cseq_ok = response
            .headers
            .cseq()
            .is_some_and(|c| c.seq == t.cseq && c.method == Method::Register);
        if !branch_ok || !cseq_ok || response.headers.call_id() != Some(self.call_id.as_str()) {
            return false;
        }
        let status = response.status;
        match status {
            100..=199 => {
                // Provisional: stop fast retransmissions (RFC 3261 §17.1.2.2: continue at T2).
                if let Some(t) = &mut self.transaction {
                    if t.retransmit_at.is_some() {
                        t.retransmit_interval = T2;
                        t.retransmit_at = Some(now + T2);
                    }
                }
            }
            200..=299 => {
                let Some(t) = self.transaction.take() else {
                    return true;
                };
                if t.unregister {
                    self.state = RegistrationState::Idle;
                    self.out
                        .push_back(RegistrationOutput::Event(RegistrationEvent::Unregistered));
                    return true;
                }
                let granted = response
                    .headers
                    .contacts()
                    .iter()
                    .find(|c| same_contact(&c.uri, &self.config.contact))
                    .and_then(NameAddr::expires)
                    .or_else(|| response.headers.expires())
                    .unwrap_or(t.expires);
                if granted == 0 {
                    self.fail(
                        now,
                        RegistrationFailure::Rejected {
                            status,
                            reason: "binding granted with zero lifetime".into(),
                        },
                    );
                    return true;
                }
                let expires = Duration::from_secs(u64::from(granted));
                self.state = RegistrationState::Registered {
                    expires_at: deadline_after(now, expires),
                };
                self.refresh_at = Some(deadline_after(now, refresh_delay(granted)));
                self.out
                    .push_back(RegistrationOutput::Event(RegistrationEvent::Registered {
                        expires,
                    }));
            }
            401 | 407 => {
                if let Err(f) = self.resend(now, Some(response)) {
                    self.fail(now, f);
                }
            }
            423 => {
                let min = response.headers.min_expires();
                let retries = t.interval_retries;
                match min {
                    Some(min) if min > self.expires && retries < 3 => {
                        self.expires = min;
                        if let Some(t) = &mut self.transaction {
                            t.interval_retries += 1;
                        }
                        if let Err(f) = self.resend(now, None) {
                            self.fail(now, f);
                        }
                    }
                    _ => self.fail(now, RegistrationFailure::IntervalTooBrief),
                }
            }
            _ => {
                let reason = response.reason.clone();
                self.fail(now, RegistrationFailure::Rejected { status, reason });
            }
        }
        true
    }

    /// The next instant at which [`Registration::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let t = self.transaction.as_ref().map(|t| {
            t.retransmit_at
                .map_or(t.timeout_at, |r| r.min(t.timeout_at))
        });
        [t, self.refresh_at, self.retry_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// Run the timers due at `now`: retransmission, Timer F, refresh and retry.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(t) = &mut self.transaction {
            if now >= t.timeout_at {
                self.fail(now, RegistrationFailure::Timeout(TIMER_F));
                return;
            }
            if let Some(at) = t.retransmit_at {
                if now >= at {
                    t.retransmit_interval = (t.retransmit_interval * 2).min(T2);
                    t.retransmit_at = Some(now + t.retransmit_interval);
                    self.out
                        .push_back(RegistrationOutput::Send(t.request.clone()));
                }
            }
        }
        if self.refresh_at.is_some_and(|at| now >= at) && self.transaction.is_none() {
            self.refresh_at = None;
            self.start(now, false, false);
        }
        if self.retry_at.is_some_and(|at| now >= at) && self.transaction.is_none() {
            self.retry_at = None;
            self.state = RegistrationState::Registering;
            self.start(now, false, false);
        }
        if let RegistrationState::Registered { expires_at } = self.state {
            if now >= expires_at && self.transaction.is_none() {
                self.state = RegistrationState::Registering;
                self.start(now, false, false);
            }
        }
    }

    /// The next request to send or event to report.
    pub fn poll_output(&mut self) -> Option<RegistrationOutput> {
        self.out.pop_front()
    }
}
