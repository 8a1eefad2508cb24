//! Who may reach the device (SPEC E8): the optional SIP-over-TLS listener
//! (`sip.tls.listen`, off by default), its limits, and `sip.inbound.accept`
//! — the rule every request that would start something is checked against.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use sigil_provisioning::values::{InboundAccept, ListenClientCert};
use sigil_sip::dialog::stateless_response;
use sigil_sip::{Message, Request};
use sigil_sip_tls::{Acceptor, ClientAuth, TlsPolicy};

use super::config::MAX_PER_SOURCE;
use super::conn::{Conn, Role};
use super::io::{ConnId, Transmit};
use super::{Device, Event};
use crate::status::ListenerStatus;

/// The listener's state.
pub(crate) enum Listener {
    /// `sip.tls.listen = 0`.
    Off,
    /// Configured; asked for once the server connection shows our address.
    Pending { port: u16, client_auth: String },
    /// Asked for, not confirmed yet.
    Starting {
        addr: SocketAddr,
        client_auth: String,
    },
    /// Listening.
    Up {
        addr: SocketAddr,
        client_auth: String,
    },
    /// Could not start (no identity, nothing to verify against, bind failed).
    Failed(String),
    /// Stopped at shutdown.
    Stopped,
}

impl Listener {
    pub(crate) fn status(&self) -> ListenerStatus {
        let (state, addr, client_auth) = match self {
            Listener::Off => ("off", None, None),
            Listener::Pending { client_auth, .. } => ("starting", None, Some(client_auth)),
            Listener::Starting { addr, client_auth } => ("starting", Some(addr), Some(client_auth)),
            Listener::Up { addr, client_auth } => ("up", Some(addr), Some(client_auth)),
            Listener::Failed(why) => {
                return ListenerStatus {
                    state: format!("failed: {why}"),
                    ..ListenerStatus::default()
                }
            }
            Listener::Stopped => ("stopped", None, None),
        };
        ListenerStatus {
            state: state.into(),
            addr: addr.map(ToString::to_string),
            client_certificate: client_auth.cloned(),
        }
    }
}

impl Device {
    /// Prepares the listener of `sip.tls.listen` (it starts once the server
    /// connection shows which address to listen on).
    pub(super) fn start_listener(&mut self, policy: &TlsPolicy) {
        let port = self.config.settings.sip_tls_listen;
        if port == 0 {
            self.listener = Listener::Off;
            return;
        }
        let Some(identity) = self.config.server_identity.clone() else {
            self.listen_failed("no usable device identity to present".into());
            return;
        };
        let verifier =
            sigil_identity::DeviceVerifier::new(&self.config.inbound_anchors).map(Arc::new);
        let (client_auth, label) = match (self.config.listen_client_cert(), verifier) {
            (ListenClientCert::NotRequested, _) => (ClientAuth::None, "not requested"),
            (ListenClientCert::Requested, Ok(v)) => (
                ClientAuth::Optional(v),
                "requested, verified when presented",
            ),
            (ListenClientCert::Required, Ok(v)) => (ClientAuth::Required(v), "required"),
            (ListenClientCert::Requested, Err(_)) => (
                ClientAuth::None,
                "not requested (no vendor chain or uploaded anchors to verify one)",
            ),
            (ListenClientCert::Required, Err(e)) => {
                self.listen_failed(format!(
                    "a client certificate is required but there is nothing to verify it against: {e}"
                ));
                return;
            }
        };
        if self.config.settings.sip_inbound_accept == InboundAccept::Verified
            && matches!(client_auth, ClientAuth::None)
        {
            log::warn!(
                "sip.inbound.accept = verified, but the listener asks for no client certificate: only calls through the SIP server will be accepted"
            );
        }
        match Acceptor::new(&identity, client_auth, policy) {
            Ok(acceptor) => {
                self.acceptor = Some(acceptor);
                self.listener = Listener::Pending {
                    port,
                    client_auth: label.to_owned(),
                };
            }
            Err(e) => self.listen_failed(e.to_string()),
        }
    }

    fn listen_failed(&mut self, reason: String) {
        self.listener = Listener::Failed(reason.clone());
        self.event(Event::ListenFailed { reason });
    }

    /// The server connection is up: listen on its address.
    pub(super) fn listen_on(&mut self, ip: std::net::IpAddr) {
        if let Listener::Pending { port, client_auth } = &self.listener {
            let addr = SocketAddr::new(ip, *port);
            self.listener = Listener::Starting {
                addr,
                client_auth: client_auth.clone(),
            };
            self.transmits.push_back(Transmit::Listen { addr });
        }
    }

    pub(super) fn on_listening(&mut self, local: SocketAddr) {
        if let Listener::Starting { client_auth, .. } = &self.listener {
            let client_auth = client_auth.clone();
            self.listener = Listener::Up {
                addr: local,
                client_auth: client_auth.clone(),
            };
            self.event(Event::Listening {
                addr: local,
                client_auth,
            });
        }
    }

    pub(super) fn on_listen_failed(&mut self, reason: String) {
        if matches!(self.listener, Listener::Starting { .. }) {
            self.listen_failed(reason);
        }
    }

    pub(super) fn stop_listener(&mut self) {
        if matches!(
            self.listener,
            Listener::Up { .. } | Listener::Starting { .. }
        ) {
            self.transmits.push_back(Transmit::StopListening);
        }
        if !matches!(self.listener, Listener::Off | Listener::Failed(_)) {
            self.listener = Listener::Stopped;
        }
    }

    /// The driver accepted a connection on the listener: its id, or `None`
    /// when it must be closed at once (listener not up, shutting down, at
    /// the connection limit `sip.tls.listen.max`, or two connections from
    /// that address already).
    pub fn accept(&mut self, peer: SocketAddr, local: SocketAddr, now: Instant) -> Option<ConnId> {
        let refuse = |device: &mut Device, reason: String| {
            device.event(Event::InboundRefused {
                peer: peer.to_string(),
                reason,
            });
            None
        };
        if !matches!(self.listener, Listener::Up { .. }) || self.stopping.is_some() {
            return refuse(self, "the listener is not accepting".into());
        }
        let inbound = self.conns.values().filter(|c| c.role == Role::Inbound);
        let (total, same_source) = inbound.fold((0, 0), |(t, s), c| {
            (
                t + 1,
                s + usize::from(c.peer.map(|p| p.ip()) == Some(peer.ip())),
            )
        });
        let max = usize::from(self.config.settings.sip_tls_listen_max);
        if total >= max {
            return refuse(
                self,
                format!("{max} listener connections already (sip.tls.listen.max)"),
            );
        }
        if same_source >= MAX_PER_SOURCE {
            return refuse(
                self,
                format!("{MAX_PER_SOURCE} connections from this address already"),
            );
        }
        let acceptor = self.acceptor.as_ref()?;
        let tls = match acceptor.connection(now, self.config.inbound_connection()) {
            Ok(tls) => tls,
            Err(e) => return refuse(self, e.to_string()),
        };
        let id = ConnId(self.next_id());
        let limits = self.config.inbound_connection().limits;
        self.conns
            .insert(id, Conn::inbound(tls, local, peer, limits));
        Some(id)
    }

    /// An inbound handshake completed.
    pub(super) fn inbound_up(&mut self, id: ConnId) {
        if let Some(c) = self.conns.get(&id) {
            let who = c
                .peer_device()
                .map(|d| d.to_string())
                .unwrap_or_else(|| "no client certificate".into());
            let tls = c
                .tls_info()
                .map(|i| format!("{} {}", i.version, i.cipher_suite))
                .unwrap_or_default();
            log::info!(
                "inbound connection {id} from {} ({who}), {tls}",
                c.peer.map(|p| p.to_string()).unwrap_or_default()
            );
        }
    }

    /// Whether a request on `conn` may start something here (SPEC E8):
    /// always over the server connection; on the listener as
    /// `sip.inbound.accept` says.
    pub(super) fn may_reach_us(&self, conn: ConnId) -> Result<(), String> {
        if self.link.conn == Some(conn) {
            return Ok(());
        }
        let Some(c) = self.conns.get(&conn) else {
            return Err("unknown connection".into());
        };
        match self.config.settings.sip_inbound_accept {
            InboundAccept::Any => Ok(()),
            InboundAccept::Verified if c.peer_device().is_some() => Ok(()),
            InboundAccept::Verified => Err(
                "sip.inbound.accept = verified and the peer presented no verified device certificate"
                    .into(),
            ),
            InboundAccept::Registrar => {
                Err("sip.inbound.accept = registrar: calls come through the SIP server only".into())
            }
        }
    }

    /// 403 for a request that may not reach us; nothing else happens.
    pub(super) fn refuse_request(
        &mut self,
        conn: ConnId,
        request: &Request,
        why: String,
        now: Instant,
    ) {
        let peer = self
            .conns
            .get(&conn)
            .and_then(|c| c.peer)
            .map(|p| p.to_string())
            .unwrap_or_default();
        self.event(Event::InboundRefused {
            peer,
            reason: format!("{} refused: {why}", request.method.as_str()),
        });
        if request.method != sigil_sip::Method::Ack {
            if let Some(r) = stateless_response(request, 403, None) {
                self.send(conn, &Message::Response(r), now);
            }
        }
    }
}
