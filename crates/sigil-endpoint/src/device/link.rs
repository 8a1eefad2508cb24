//! The connection to the SIP server and the registration over it: connect,
//! keep alive (in the TLS connection), reconnect with backoff, register
//! after every (re)connect, un-REGISTER at shutdown (SPEC S4, E2).

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use sigil_sip::{
    Credentials, Message, Registration, RegistrationConfig, RegistrationEvent, RegistrationOutput,
    RegistrationState, Uri,
};
use sigil_sip_tls::TlsInfo;

use super::conn::{Conn, ConnError, Transport};
use super::io::{ConnId, Transmit};
use super::{Device, Event};

/// The server connection and registration state.
#[derive(Default)]
pub(crate) struct Link {
    /// The current connection (connecting or up).
    pub(crate) conn: Option<ConnId>,
    /// It is up (TLS handshake done).
    pub(crate) up: bool,
    /// Reconnect attempts since the last success.
    attempt: u32,
    /// When to try again.
    pub(crate) retry_at: Option<Instant>,
    /// Up at least once.
    connected_once: bool,
    pub(crate) registration: Option<Registration>,
    /// The Contact of the current registration.
    pub(crate) contact: Option<Uri>,
    /// The contact the registrar granted last and we have not removed.
    bound_contact: Option<Uri>,
    /// What the last TLS handshake negotiated.
    pub(crate) tls: Option<TlsInfo>,
    /// Our end of the connection.
    pub(crate) local: Option<SocketAddr>,
}

impl Link {
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let registration = self
            .registration
            .as_ref()
            .and_then(Registration::poll_timeout);
        registration.into_iter().chain(self.retry_at).min()
    }

    /// A binding may exist at the registrar (granted, or a REGISTER in flight).
    pub(crate) fn binding_may_exist(&self) -> bool {
        self.bound_contact.is_some()
            || self.registration.as_ref().is_some_and(|r| {
                matches!(
                    r.state(),
                    RegistrationState::Registering | RegistrationState::Unregistering
                )
            })
    }

    /// The local IP address for Contact, Via and media (`0.0.0.0` before the first connect).
    pub(crate) fn local_ip(&self) -> IpAddr {
        self.local
            .map(|a| a.ip())
            .unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }
}

/// `sip:user@host:port;transport=…` for our end of the connection.
pub(crate) fn contact_for(user: &str, local: SocketAddr, transport: Transport) -> Option<Uri> {
    let host = match local.ip() {
        IpAddr::V6(v6) => format!("[{v6}]"),
        v4 => v4.to_string(),
    };
    let param = match transport {
        Transport::Udp => String::new(),
        t => format!(";transport={}", t.via().to_ascii_lowercase()),
    };
    format!("sip:{user}@{host}:{}{param}", local.port())
        .parse()
        .ok()
}

impl Device {
    /// Starts a connection attempt to the server.
    pub(super) fn connect_link(&mut self, _now: Instant) {
        // While stopping, only to remove a binding the registrar may hold.
        if self.stopping.is_some() && !self.link.binding_may_exist() {
            return;
        }
        let id = ConnId(self.next_id());
        let limits = self.config.connection.limits;
        self.conns
            .insert(id, Conn::outgoing(self.transport, limits));
        self.link.conn = Some(id);
        self.link.up = false;
        self.link.retry_at = None;
        self.transmits.push_back(Transmit::Connect {
            conn: id,
            server: self.server.clone(),
            udp: self.transport == Transport::Udp,
        });
    }

    /// The handshake completed: register.
    pub(super) fn link_up(&mut self, now: Instant) {
        let Some(id) = self.link.conn else {
            return;
        };
        let (local, tls) = match self.conns.get(&id) {
            Some(c) => (c.local, c.tls_info().cloned()),
            None => return,
        };
        let reconnected = self.link.connected_once;
        self.link.up = true;
        self.link.connected_once = true;
        self.link.attempt = 0;
        self.link.local = local;
        self.link.tls = tls.clone();
        self.event(Event::Connected {
            server: self.server.clone(),
            tls: tls.map(Box::new),
            reconnected,
        });
        let Some(local) = local else {
            return;
        };
        if self.stopping.is_none() {
            self.listen_on(local.ip());
        }
        if self.stopping.is_some() {
            // Never register while stopping; remove what the registrar may
            // still hold from before the loss.
            if let Some(old) = self.link.bound_contact.clone() {
                if let Some(config) = self.registration_config(&old, local) {
                    let mut registration = Registration::new(config);
                    registration.unregister(now);
                    self.link.registration = Some(registration);
                    log::info!("un-REGISTER {old} (reconnected while stopping)");
                }
            }
            return;
        }
        let Some(contact) = contact_for(&self.config.user, local, self.transport) else {
            log::warn!("cannot build a Contact for {local}");
            return;
        };
        let Some(config) = self.registration_config(&contact, local) else {
            return;
        };
        let mut registration = Registration::new(config);
        registration.register(now);
        self.link.registration = Some(registration);
        self.link.contact = Some(contact.clone());
        self.registration_status.contact = Some(contact.to_string());
        self.registration_status.state = "registering".into();
    }

    fn registration_config(&self, contact: &Uri, local: SocketAddr) -> Option<RegistrationConfig> {
        let registrar: Uri = format!("sip:{}", self.domain).parse().ok()?;
        let aor: Uri = self.aor().parse().ok()?;
        let mut c = RegistrationConfig::new(registrar, aor, contact.clone());
        c.via_host = local.ip().to_string();
        c.via_port = Some(local.port());
        c.transport = self.transport.via().to_owned();
        c.reliable = self.transport.reliable();
        c.user_agent = Some(self.config.user_agent.clone());
        c.credentials = self.credentials();
        Some(c)
    }

    /// Digest credentials of `sip.u1.*`, if a password is set.
    pub(super) fn credentials(&self) -> Option<Credentials> {
        let s = &self.config.settings;
        if s.sip_u1_pwd.is_empty() {
            return None;
        }
        let auth = if s.sip_u1_auth.is_empty() {
            &self.config.user
        } else {
            &s.sip_u1_auth
        };
        Some(Credentials::new(auth, s.sip_u1_pwd.expose()))
    }

    /// The connection failed or was lost: report it and schedule a retry.
    pub(super) fn link_down(&mut self, error: ConnError, now: Instant) {
        let was_up = self.link.up;
        self.link.conn = None;
        self.link.up = false;
        if self.registration_status.state == "registered"
            || self.registration_status.state == "registering"
        {
            self.registration_status.state = "registering".into();
        }
        let retry_in = if self.stopping.is_some() {
            None
        } else {
            let mut random = [0u8; 4];
            let _ = getrandom::getrandom(&mut random);
            let delay = self
                .config
                .backoff
                .delay(self.link.attempt, u32::from_le_bytes(random));
            self.link.attempt = self.link.attempt.saturating_add(1);
            self.link.retry_at = Some(sigil_sip::timer::deadline_after(now, delay));
            Some(delay)
        };
        if was_up {
            self.event(Event::ConnectionLost {
                reason: error.reason,
                retry_in,
            });
        } else {
            self.event(Event::ConnectionFailed {
                server: self.server.clone(),
                reason: error.reason,
                diagnosis: error.diagnosis,
                retry_in,
            });
        }
    }

    /// Reconnect and registration timers.
    pub(super) fn link_timers(&mut self, now: Instant) {
        if self.link.retry_at.is_some_and(|t| t <= now) {
            self.connect_link(now);
        }
        if let Some(r) = &mut self.link.registration {
            if r.poll_timeout().is_some_and(|t| t <= now) {
                r.handle_timeout(now);
            }
        }
    }

    /// Sends what the registration produced and reports its events.
    pub(super) fn drive_registration(&mut self, now: Instant) {
        // Bounded: the registration produces a handful of outputs per input.
        for _ in 0..64 {
            let Some(output) = self
                .link
                .registration
                .as_mut()
                .and_then(Registration::poll_output)
            else {
                return;
            };
            match output {
                RegistrationOutput::Send(request) => {
                    if let Some(id) = self.link.conn.filter(|_| self.link.up) {
                        self.send(id, &Message::Request(request), now);
                    }
                }
                RegistrationOutput::Event(e) => self.registration_event(e),
            }
        }
    }

    fn registration_event(&mut self, event: RegistrationEvent) {
        match event {
            RegistrationEvent::Registered { expires } => {
                let contact = self.link.contact.clone();
                self.link.bound_contact = contact.clone();
                let st = &mut self.registration_status;
                st.state = "registered".into();
                st.expires = Some(expires.as_secs());
                st.error = None;
                st.successes += 1;
                self.event(Event::Registered {
                    aor: self.aor(),
                    contact: contact.map(|c| c.to_string()).unwrap_or_default(),
                    expires,
                });
            }
            RegistrationEvent::Unregistered => {
                self.link.bound_contact = None;
                self.registration_status.state = "idle".into();
                self.event(Event::Unregistered);
            }
            RegistrationEvent::Failed(f) => {
                let reason = f.to_string();
                self.registration_status.state = "failed".into();
                self.registration_status.error = Some(reason.clone());
                if self.stopping.is_some() {
                    // A failed un-REGISTER: nothing more to do.
                    self.link.bound_contact = None;
                }
                self.event(Event::RegistrationFailed { reason });
            }
        }
    }

    /// A response on the server connection for the registration.
    pub(super) fn registration_response(
        &mut self,
        response: &sigil_sip::Response,
        now: Instant,
    ) -> bool {
        self.link
            .registration
            .as_mut()
            .is_some_and(|r| r.handle_response(response, now))
    }

    /// Shutdown: remove the binding (or the one a REGISTER in flight creates).
    pub(super) fn unregister_for_shutdown(&mut self, now: Instant) {
        if !self.link.binding_may_exist() {
            self.link.retry_at = None;
            return;
        }
        if !self.link.up {
            // Removed over the next connection (the reconnect already
            // scheduled), if it comes up within the shutdown wait.
            return;
        }
        if let Some(r) = &mut self.link.registration {
            r.unregister(now);
            self.registration_status.state = "unregistering".into();
        }
    }
}
