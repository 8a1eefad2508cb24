//! Identity-PEM parsing (`sipclient.pem`, `httpd.pem`, `device.pem`/`device.key`, vendor
//! chains) must be total: any bytes give a value or an error, never a panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(parsed) = sigil_identity::parse_identity_pem(data, "fuzz.pem") {
        for der in &parsed.certificates {
            let _ = sigil_identity::CertInfo::from_der(der.as_ref());
        }
    }
    // The whole load path: certificates + key, key match, chain order.
    if let Ok(identity) = sigil_identity::Identity::from_pem(data, None, "fuzz.pem") {
        let _ = identity.certificate().mac;
    }
    // The server side: a vendor chain file and a peer certificate.
    if let Ok(parsed) = sigil_identity::parse_identity_pem(data, "fuzz.pem") {
        let _ = sigil_identity::DeviceVerifier::new(&parsed.certificates);
        let _ = sigil_identity::PeerDevice::from_peer_certificates(Some(&parsed.certificates));
    }
});
