//! Sessions, CSRF tokens and the login rate limit (SPEC W2).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use base64::Engine;

/// Most sessions at once; the least recently used one goes first.
const MAX_SESSIONS: usize = 16;
/// Wrong passwords allowed from one address before the back-off starts.
pub(crate) const FREE_ATTEMPTS: u32 = 5;
/// The longest back-off.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// A source's failures are forgotten after this long without one.
const FORGET_AFTER: Duration = Duration::from_secs(3600);
/// Most sources tracked by the rate limit.
const MAX_SOURCES: usize = 1024;

/// 32 random bytes, URL-safe Base64 (256 bits: session ids and CSRF tokens).
pub(crate) fn random_token() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| format!("no system randomness: {e}"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Compares two tokens without revealing where they differ.
pub(crate) fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// One logged-in administrator.
#[derive(Clone)]
pub(crate) struct Session {
    /// The CSRF token every change of this session must carry.
    pub(crate) csrf: String,
    /// Logged in with the built-in default password: only the password change is allowed.
    pub(crate) must_change: bool,
    last_seen: Instant,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("must_change", &self.must_change)
            .finish_non_exhaustive()
    }
}

/// The sessions, by id.
#[derive(Default)]
pub(crate) struct Sessions {
    map: HashMap<String, Session>,
}

impl Sessions {
    /// Opens a session: `(id, csrf token)`.
    pub(crate) fn create(
        &mut self,
        must_change: bool,
        now: Instant,
    ) -> Result<(String, String), String> {
        self.expire(now);
        if self.map.len() >= MAX_SESSIONS {
            if let Some(oldest) = self
                .map
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(id, _)| id.clone())
            {
                self.map.remove(&oldest);
            }
        }
        let id = random_token()?;
        let csrf = random_token()?;
        self.map.insert(
            id.clone(),
            Session {
                csrf: csrf.clone(),
                must_change,
                last_seen: now,
            },
        );
        Ok((id, csrf))
    }

    /// The session `id`, touched, unless it idled past [`crate::SESSION_IDLE`].
    pub(crate) fn touch(&mut self, id: &str, now: Instant) -> Option<Session> {
        self.expire(now);
        let session = self.map.get_mut(id)?;
        session.last_seen = now;
        Some(session.clone())
    }

    /// Ends one session.
    pub(crate) fn remove(&mut self, id: &str) {
        self.map.remove(id);
    }

    /// Ends every session but `keep` (after a password change), and clears
    /// `keep`'s must-change mark.
    pub(crate) fn password_changed(&mut self, keep: &str) {
        self.map.retain(|id, _| id == keep);
        if let Some(s) = self.map.get_mut(keep) {
            s.must_change = false;
        }
    }

    /// Ends every session (factory reset).
    pub(crate) fn clear(&mut self) {
        self.map.clear();
    }

    fn expire(&mut self, now: Instant) {
        self.map
            .retain(|_, s| now.saturating_duration_since(s.last_seen) < crate::SESSION_IDLE);
    }
}

struct Failures {
    count: u32,
    locked_until: Option<Instant>,
    last: Instant,
}

/// Failed logins per source address, with exponential back-off: after
/// [`FREE_ATTEMPTS`] wrong passwords, each further one locks the source out
/// for 1 s, 2 s, 4 s … up to 5 minutes. A locked-out source is refused
/// without the password even being checked.
#[derive(Default)]
pub(crate) struct RateLimit {
    map: HashMap<IpAddr, Failures>,
}

impl RateLimit {
    /// `Err(retry after)` while `source` is locked out.
    pub(crate) fn check(&mut self, source: IpAddr, now: Instant) -> Result<(), Duration> {
        self.map
            .retain(|_, f| now.saturating_duration_since(f.last) < FORGET_AFTER);
        match self.map.get(&source).and_then(|f| f.locked_until) {
            Some(until) if until > now => Err(until - now),
            _ => Ok(()),
        }
    }

    /// Records a wrong password from `source`.
    pub(crate) fn failed(&mut self, source: IpAddr, now: Instant) {
        if self.map.len() >= MAX_SOURCES && !self.map.contains_key(&source) {
            if let Some(oldest) = self
                .map
                .iter()
                .min_by_key(|(_, f)| f.last)
                .map(|(ip, _)| *ip)
            {
                self.map.remove(&oldest);
            }
        }
        let entry = self.map.entry(source).or_insert(Failures {
            count: 0,
            locked_until: None,
            last: now,
        });
        entry.count = entry.count.saturating_add(1);
        entry.last = now;
        if entry.count >= FREE_ATTEMPTS {
            let exponent = (entry.count - FREE_ATTEMPTS).min(16);
            let backoff = Duration::from_secs(1u64 << exponent).min(MAX_BACKOFF);
            entry.locked_until = Some(now + backoff);
            log::warn!(
                "web login: {} wrong passwords from {source}; locked out for {backoff:?}",
                entry.count
            );
        }
    }

    /// A good password from `source`: its failures are forgotten.
    pub(crate) fn succeeded(&mut self, source: IpAddr) {
        self.map.remove(&source);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_compared_whole() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(same_token(&a, &a.clone()));
        assert!(!same_token(&a, &b));
        assert!(!same_token(&a, &a[..42]));
    }

    #[test]
    fn sessions_expire_when_idle() {
        let mut s = Sessions::default();
        let t0 = Instant::now();
        let (id, csrf) = s.create(false, t0).unwrap();
        assert_eq!(
            s.touch(&id, t0 + Duration::from_secs(60)).unwrap().csrf,
            csrf
        );
        assert!(s
            .touch(&id, t0 + Duration::from_secs(60) + crate::SESSION_IDLE)
            .is_none());
        for _ in 0..40 {
            s.create(false, t0).unwrap();
        }
        assert!(s.map.len() <= MAX_SESSIONS);
    }

    #[test]
    fn back_off_grows_and_resets() {
        let mut r = RateLimit::default();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..FREE_ATTEMPTS - 1 {
            r.failed(ip, t0);
            assert!(r.check(ip, t0).is_ok());
        }
        r.failed(ip, t0);
        assert_eq!(r.check(ip, t0), Err(Duration::from_secs(1)));
        r.failed(ip, t0);
        assert_eq!(r.check(ip, t0), Err(Duration::from_secs(2)));
        for _ in 0..50 {
            r.failed(ip, t0);
        }
        assert_eq!(r.check(ip, t0), Err(MAX_BACKOFF));
        assert!(r.check(ip, t0 + MAX_BACKOFF).is_ok());
        r.succeeded(ip);
        assert!(r.check(ip, t0).is_ok());
        let other: IpAddr = "192.0.2.8".parse().unwrap();
        assert!(r.check(other, t0).is_ok());
    }
}
