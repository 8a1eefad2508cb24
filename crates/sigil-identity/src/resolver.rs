//! The client side of mutual TLS: which certificate the device presents (SPEC ID5).

use std::sync::Arc;

use rustls::client::ResolvesClientCert;
use rustls::sign::CertifiedKey;
use rustls::SignatureScheme;

use crate::identity::Identity;

/// A rustls [`ResolvesClientCert`] presenting the device's identity with its chain.
///
/// Holds candidate identities in order of preference (the override first,
/// then the factory identity, as [`IdentitySet::client_resolver`](crate::IdentitySet::client_resolver) builds it).
/// When the server's CertificateRequest lists acceptable CAs, the first
/// candidate whose chain contains one of those names (as subject or issuer) is
/// chosen; otherwise the first candidate whose key can sign with one of the
/// server's signature schemes. With no candidates it presents nothing and the
/// handshake goes on without client authentication.
#[derive(Debug, Clone, Default)]
pub struct ClientCertResolver {
    candidates: Vec<Identity>,
}

impl ClientCertResolver {
    /// A resolver offering `identities`, most preferred first.
    pub fn new(identities: impl IntoIterator<Item = Identity>) -> Self {
        ClientCertResolver {
            candidates: identities.into_iter().collect(),
        }
    }

    /// The identity that would be presented for this acceptable-CA list
    /// (DER X.500 names) and these signature schemes, if any.
    pub fn choose(
        &self,
        acceptable_cas: &[&[u8]],
        sigschemes: &[SignatureScheme],
    ) -> Option<&Identity> {
        let mut usable = self.candidates.iter().filter(|identity| {
            identity
                .certified_key()
                .key
                .choose_scheme(sigschemes)
                .is_some()
        });
        let first = usable.clone().next();
        if !acceptable_cas.is_empty() {
            if let Some(hit) =
                usable.find(|identity| acceptable_cas.iter().any(|ca| identity.chains_to_name(ca)))
            {
                return Some(hit);
            }
        }
        first
    }

    /// The candidates, most preferred first.
    pub fn candidates(&self) -> &[Identity] {
        &self.candidates
    }
}

impl ResolvesClientCert for ClientCertResolver {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        let chosen = self.choose(root_hint_subjects, sigschemes);
        match chosen {
            Some(identity) => log::debug!(
                "presenting client certificate {} from {}",
                identity.certificate().subject,
                identity.source()
            ),
            None => {
                log::info!("server asked for a client certificate; this device has none to present")
            }
        }
        chosen.map(Identity::certified_key)
    }

    fn has_certs(&self) -> bool {
        !self.candidates.is_empty()
    }
}
