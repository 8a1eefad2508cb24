//! Property tests: settings → file → settings, and the parser on arbitrary bytes.

use proptest::prelude::*;
use sigil_provisioning::format::parse_document;
use sigil_provisioning::settings::{keys, UnknownSetting};
use sigil_provisioning::values::{
    DownloadMethod, Host, HostPort, ListenClientCert, ProvServer, SipTransport, SrtpOffer,
    TlsCipher, TlsVersion,
};
use sigil_provisioning::{render, render_onto, Secret, Settings};
use sigil_srtp::Suite;
use zeroize::Zeroizing;

fn host() -> impl Strategy<Value = Host> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,10}[a-z0-9](\\.[a-z][a-z0-9]{0,8}){0,3}".prop_map(Host::Name),
        any::<[u8; 4]>().prop_map(|o| Host::V4(o.into())),
        any::<[u16; 8]>().prop_map(|s| Host::V6(s.into())),
    ]
}

fn host_port() -> impl Strategy<Value = HostPort> {
    (host(), proptest::option::of(1u16..=65535)).prop_map(|(host, port)| HostPort { host, port })
}

fn method() -> impl Strategy<Value = DownloadMethod> {
    prop_oneof![Just(DownloadMethod::Http), Just(DownloadMethod::Https)]
}

/// Text as a value can hold it: no control characters, no surrounding blanks.
fn text() -> impl Strategy<Value = String> {
    "[A-Za-z0-9#=@._:/ é-]{0,24}".prop_map(|s| s.trim().to_owned())
}

fn subset<T: Clone + std::fmt::Debug + 'static>(
    all: Vec<T>,
    min: usize,
) -> impl Strategy<Value = Vec<T>> {
    let len = all.len();
    Just(all)
        .prop_shuffle()
        .prop_flat_map(move |v| (Just(v), min..=len))
        .prop_map(|(v, n)| v[..n].to_vec())
}

prop_compose! {
    fn settings()(
        server in proptest::option::of((proptest::option::of(method()), host_port(), "(/[a-z0-9._-]{1,8}){0,3}/?")),
        method in proptest::option::of(method()),
        cert in any::<bool>(),
        device in "[a-z]{0,5}\\{mac\\}(\\.[a-z]{1,4})?",
        proxy in proptest::option::of(host_port()),
        user in text(), auth in text(), pwd in text(), dname in text(),
        auto_answer in any::<bool>(),
        transport in prop_oneof![Just(SipTransport::Udp), Just(SipTransport::Tcp), Just(SipTransport::Tls)],
        validate in any::<bool>(),
        version in prop_oneof![Just(TlsVersion::V1_2), Just(TlsVersion::V1_3)],
        ciphers in subset(TlsCipher::ALL.to_vec(), 0),
        listen in any::<u16>(),
        client_cert in prop_oneof![Just(ListenClientCert::Requested), Just(ListenClientCert::Required), Just(ListenClientCert::NotRequested)],
        offer in prop_oneof![Just(SrtpOffer::Disabled), Just(SrtpOffer::Optional), Just(SrtpOffer::Standard)],
        suites in subset(Suite::ALL.to_vec(), 1),
        insecure in any::<bool>(),
        web_port in any::<u16>(),
        unknown in proptest::collection::btree_map("x[a-z0-9._-]{0,12}", text(), 0..4),
    ) -> Settings {
        let prov_server = server.map(|(scheme, authority, path)| ProvServer { scheme, authority, path });
        // Keep the cross-field rules: a method needs a server, and agrees with its scheme.
        let prov_download_method = match &prov_server {
            None => None,
            Some(server) => server.scheme.or(method),
        };
        let mut ciphers = ciphers;
        if version == TlsVersion::V1_3 && !ciphers.is_empty() && !ciphers.iter().any(|c| c.is_tls13()) {
            ciphers.push(TlsCipher::Tls13Aes128GcmSha256);
        }
        let insecure = insecure || (offer == SrtpOffer::Standard && transport != SipTransport::Tls);
        Settings {
            prov_server,
            prov_download_method,
            prov_download_cert: cert,
            prov_name_device: device,
            sip_proxy: proxy,
            sip_u1_user: user,
            sip_u1_auth: auth,
            sip_u1_pwd: Secret::new(pwd),
            sip_u1_dname: dname,
            sip_auto_answer: auto_answer,
            sip_transport: transport,
            sip_tls_validate: validate,
            sip_tls_version_min: version,
            sip_tls_ciphers: ciphers,
            sip_tls_listen: listen,
            sip_tls_listen_client_cert: client_cert,
            sip_srtp_offer: offer,
            sip_srtp_suites: suites,
            sip_srtp_insecure_signaling: insecure,
            web_https_port: web_port,
            unknown: unknown
                .into_iter()
                .filter(|(k, _)| !keys::ALL.contains(&k.as_str()))
                .map(|(key, value)| UnknownSetting { key, value: Zeroizing::new(value) })
                .collect(),
            ..Settings::default()
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn settings_file_settings(s in settings()) {
        let text = render(&s);
        let parsed = Settings::parse("rt.conf", text.as_bytes());
        prop_assert!(parsed.is_ok(), "{:?}\n{}", parsed.err(), text.as_str());
        prop_assert_eq!(parsed.unwrap().settings, s);
    }

    #[test]
    fn render_onto_any_original_round_trips(original in settings(), s in settings()) {
        let doc = parse_document("orig.conf", render(&original).as_bytes()).unwrap();
        let text = render_onto(&s, &doc);
        let parsed = Settings::parse("rt.conf", text.as_bytes());
        prop_assert!(parsed.is_ok(), "{:?}", parsed.err());
        // Unknown keys follow the original file's order; compare them as a set.
        let sorted = |mut s: Settings| {
            s.unknown.sort_by(|a, b| a.key.cmp(&b.key));
            s
        };
        prop_assert_eq!(sorted(parsed.unwrap().settings), sorted(s));
    }

    #[test]
    fn parser_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Settings::parse("any.conf", &bytes);
    }

    #[test]
    fn parser_is_total_on_near_valid_text(lines in proptest::collection::vec("[a-z.=# \t\r\u{feff}0-9]{0,30}", 0..20)) {
        let text = lines.join("\n");
        if let Err(errors) = Settings::parse("near.conf", text.as_bytes()) {
            for e in errors {
                prop_assert!(e.line >= 1 || e.message.contains("file"));
            }
        }
    }
}
