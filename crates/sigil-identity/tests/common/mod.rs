//! Shared helpers for the identity integration tests (minting with the crate's own `mint` feature).
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};
use sigil_identity::mint::{
    mint_device, mint_server, DeviceRequest, Minted, ServerRequest, VendorCa,
};
use sigil_identity::{ClientCertResolver, DeviceVerifier, FactoryPartition, Mac};

pub const MAC: &str = "00:22:ee:01:02:03";

pub fn mac() -> Mac {
    Mac::parse(MAC).unwrap()
}

pub fn vendor(name: &str) -> VendorCa {
    VendorCa::generate(name).unwrap()
}

/// Writes a factory partition for `mac` signed by `ca` into `dir`.
pub fn factory(dir: &Path, ca: &VendorCa, mac: Mac) -> FactoryPartition {
    mint_device(ca, &DeviceRequest::new(mac))
        .unwrap()
        .write_factory(dir)
        .unwrap();
    FactoryPartition::new(dir)
}

pub fn expired_device(ca: &VendorCa, mac: Mac) -> Minted {
    let mut request = DeviceRequest::new(mac);
    request.not_before = time::macros::datetime!(2001-01-01 0:00 UTC);
    request.not_after = time::macros::datetime!(2002-01-01 0:00 UTC);
    mint_device(ca, &request).unwrap()
}

pub fn certs(pem: &str) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(|c| c.unwrap())
        .collect()
}

pub fn key(pem: &str) -> PrivateKeyDer<'static> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).unwrap()
}

pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A rustls server config presenting a `localhost` certificate of `server_ca`
/// and verifying clients with `verifier`.
pub fn server_config(server_ca: &VendorCa, verifier: Arc<DeviceVerifier>) -> Arc<ServerConfig> {
    let minted = mint_server(server_ca, &ServerRequest::new(["localhost", "127.0.0.1"])).unwrap();
    Arc::new(
        ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs(&minted.full_chain_pem()), key(minted.key_pem()))
            .unwrap(),
    )
}

pub fn client_config(server_ca: &VendorCa, resolver: Arc<ClientCertResolver>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(server_ca.root_der().unwrap()).unwrap();
    Arc::new(
        ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_client_cert_resolver(resolver),
    )
}

/// Runs a handshake in memory (bounded). Returns the server's result and the server connection.
pub fn handshake(
    client: Arc<ClientConfig>,
    server: Arc<ServerConfig>,
) -> (Result<(), rustls::Error>, ServerConnection) {
    let mut client =
        ClientConnection::new(client, ServerName::try_from("localhost").unwrap()).unwrap();
    let mut server = ServerConnection::new(server).unwrap();
    for _ in 0..20 {
        let mut buf = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut buf).unwrap();
        }
        if !buf.is_empty() {
            server.read_tls(&mut &buf[..]).unwrap();
            if let Err(error) = server.process_new_packets() {
                return (Err(error), server);
            }
        }
        let mut buf = Vec::new();
        while server.wants_write() {
            server.write_tls(&mut buf).unwrap();
        }
        if !buf.is_empty() {
            client.read_tls(&mut &buf[..]).unwrap();
            if let Err(error) = client.process_new_packets() {
                panic!("client failed before the server decided: {error}");
            }
        }
        if !client.is_handshaking() && !server.is_handshaking() && !client.wants_write() {
            return (Ok(()), server);
        }
    }
    panic!("handshake did not finish in 20 rounds");
}
