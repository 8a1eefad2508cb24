//! A registration kept alive over a [`Client`]: the sans-IO
//! `sigil_sip::Registration` driven by the blocking client, re-registering by
//! itself whenever the connection is re-established (SPEC S4).

use std::time::{Duration, Instant};

use sigil_sip::{Message, Registration, RegistrationConfig, RegistrationEvent, RegistrationOutput};

use crate::client::{Client, ClientEvent};

/// What [`RegisteredClient::poll`] reports.
// Events are handed over and consumed at once; boxing the message would cost an allocation per message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum RegisteredEvent {
    /// The registration changed (registered, unregistered, failed).
    Registration(RegistrationEvent),
    /// A SIP message that is not a response to our REGISTER (requests from the
    /// server, responses to other transactions).
    Message(Message),
    /// A connection event (keep-alive, loss, reconnect). After
    /// [`ClientEvent::Reconnected`] a new REGISTER is already on its way.
    Connection(ClientEvent),
}

/// A [`Client`] plus a registration: REGISTER with digest, refresh before
/// expiry, and a fresh REGISTER after every reconnect.
#[derive(Debug)]
pub struct RegisteredClient {
    client: Client,
    registration: Registration,
}

impl RegisteredClient {
    /// Starts registering `config` over `client` now.
    pub fn new(client: Client, config: RegistrationConfig) -> RegisteredClient {
        let mut registration = Registration::new(config);
        registration.register(Instant::now());
        RegisteredClient {
            client,
            registration,
        }
    }

    /// The connection.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// The registration state machine.
    pub fn registration(&self) -> &Registration {
        &self.registration
    }

    /// Removes the binding (REGISTER with expires 0); watch for
    /// `RegistrationEvent::Unregistered` in [`RegisteredClient::poll`].
    pub fn unregister(&mut self) {
        self.registration.unregister(Instant::now());
    }

    /// Runs the connection and the registration for up to `timeout`; returns
    /// the first event, or `None` when nothing happened.
    pub fn poll(&mut self, timeout: Duration) -> Option<RegisteredEvent> {
        let deadline = crate::client::deadline_after(timeout);
        // Bounded by the deadline: every round waits in `Client::recv` until
        // an event, the next registration timer or the deadline.
        loop {
            while let Some(out) = self.registration.poll_output() {
                match out {
                    RegistrationOutput::Send(request) => {
                        if let Err(e) = self.client.send(&Message::Request(request)) {
                            // Not connected: the REGISTER is sent again after the reconnect.
                            log::info!("REGISTER not sent now: {e}");
                        }
                    }
                    RegistrationOutput::Event(ev) => {
                        return Some(RegisteredEvent::Registration(ev))
                    }
                }
            }
            let now = Instant::now();
            if let Some(at) = self.registration.poll_timeout() {
                if at <= now {
                    self.registration.handle_timeout(now);
                    continue;
                }
            }
            if now >= deadline {
                return None;
            }
            let wake = self
                .registration
                .poll_timeout()
                .map_or(deadline, |t| t.min(deadline));
            match self.client.recv(wake.saturating_duration_since(now)) {
                None => {}
                Some(ClientEvent::Message(Message::Response(r)))
                    if self.registration.handle_response(&r, Instant::now()) => {}
                Some(ClientEvent::Message(m)) => return Some(RegisteredEvent::Message(m)),
                Some(ev @ ClientEvent::Reconnected(_)) => {
                    self.registration.register(Instant::now());
                    return Some(RegisteredEvent::Connection(ev));
                }
                Some(ev) => return Some(RegisteredEvent::Connection(ev)),
            }
        }
    }
}
