//! Shared fixtures: a vendor PKI, a device identity, server certificates, pumps.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use sigil_identity::mint::{
    mint_device, mint_server, DeviceRequest, Minted, ServerRequest, VendorCa,
};
use sigil_identity::{ClientCertResolver, DeviceVerifier, Identity, Mac};
use sigil_sip_tls::{
    Acceptor, ClientAuth, ConnectionEvent, Connector, SipTlsConnection, TlsPolicy,
};
use sigil_trust::TrustStore;

pub const MAC: &str = "00:22:ee:01:02:03";
pub const DOMAIN: &str = "example.com";

pub struct Pki {
    pub vendor: VendorCa,
    pub device: Minted,
    pub server: Minted,
}

impl Pki {
    /// One PKI per test binary (minting is the slow part of property tests).
    pub fn new_cached() -> &'static Pki {
        static PKI: std::sync::OnceLock<Pki> = std::sync::OnceLock::new();
        PKI.get_or_init(Pki::new)
    }

    pub fn new() -> Pki {
        let vendor = VendorCa::generate("Sigil Test Vendor").unwrap();
        let device = mint_device(&vendor, &DeviceRequest::new(Mac::parse(MAC).unwrap())).unwrap();
        let server = mint_server(
            &vendor,
            &ServerRequest::new(["sip.example.com", "sip:example.com", "127.0.0.1"]),
        )
        .unwrap();
        Pki {
            vendor,
            device,
            server,
        }
    }

    pub fn device_identity(&self) -> Identity {
        identity(&self.device)
    }

    pub fn resolver(&self) -> Arc<ClientCertResolver> {
        Arc::new(ClientCertResolver::new([self.device_identity()]))
    }

    /// A store with only the vendor chain (no built-in roots).
    pub fn store(&self) -> Arc<TrustStore> {
        Arc::new(
            TrustStore::builder()
                .builtin(false)
                .vendor_bytes("vendor-chain.pem", self.vendor.chain_pem().as_bytes())
                .unwrap()
                .build(),
        )
    }

    pub fn device_verifier(&self) -> Arc<DeviceVerifier> {
        Arc::new(DeviceVerifier::new(&certs(&self.vendor.chain_pem())).unwrap())
    }

    pub fn connector(&self, policy: &TlsPolicy, with_identity: bool) -> Connector {
        let resolver: Option<Arc<dyn rustls::client::ResolvesClientCert>> = if with_identity {
            Some(self.resolver())
        } else {
            None
        };
        Connector::new(DOMAIN, policy, self.store(), resolver).unwrap()
    }

    pub fn acceptor(&self, auth: ClientAuth, policy: &TlsPolicy) -> Acceptor {
        Acceptor::new(&identity(&self.server), auth, policy).unwrap()
    }

    pub fn write_files(&self, dir: &Path) {
        std::fs::write(dir.join("vendor-chain.pem"), self.vendor.chain_pem()).unwrap();
        std::fs::write(dir.join("server.pem"), self.server.full_chain_pem()).unwrap();
        std::fs::write(dir.join("server.key"), self.server.key_pem()).unwrap();
        std::fs::write(dir.join("device.pem"), self.device.full_chain_pem()).unwrap();
        std::fs::write(dir.join("device.key"), self.device.key_pem()).unwrap();
    }
}

pub fn identity(m: &Minted) -> Identity {
    Identity::from_pem(
        m.full_chain_pem().as_bytes(),
        Some(m.key_pem().as_bytes()),
        "test",
    )
    .unwrap()
}

pub fn certs(pem: &str) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(|c| c.unwrap())
        .collect()
}

/// Moves bytes both ways until neither side has anything to send (bounded).
/// Returns the first error of each side.
pub fn pump(
    client: &mut SipTlsConnection,
    server: &mut SipTlsConnection,
    now: Instant,
) -> (Option<sigil_sip_tls::Error>, Option<sigil_sip_tls::Error>) {
    let (mut ce, mut se) = (None, None);
    for _ in 0..50 {
        let to_server = client.take_transmit();
        let to_client = server.take_transmit();
        if to_server.is_empty() && to_client.is_empty() {
            break;
        }
        if !to_server.is_empty() && se.is_none() {
            if let Err(e) = server.handle_input(&to_server, now) {
                se = Some(e);
            }
        }
        if !to_client.is_empty() && ce.is_none() {
            if let Err(e) = client.handle_input(&to_client, now) {
                ce = Some(e);
            }
        }
    }
    (ce, se)
}

pub fn events(c: &mut SipTlsConnection) -> Vec<ConnectionEvent> {
    let mut out = Vec::new();
    while let Some(e) = c.poll_event() {
        out.push(e);
    }
    out
}
