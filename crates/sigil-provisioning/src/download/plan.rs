//! Where to look: the search plan of SPEC P5 (per-device, model, generic
//! file) and its URLs.

use super::DownloadError;
use crate::settings::Settings;
use crate::values::{normalize_mac, DownloadMethod, ProvServer};

/// Which files to look for, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPlan {
    /// The directory URL, ending in `/`.
    pub base: String,
    /// The method of `base`.
    pub method: DownloadMethod,
    /// File names in search order: per-device, model, generic.
    pub names: Vec<String>,
}

impl SearchPlan {
    /// The search order of SPEC P5 for `server`: the per-device file (when
    /// the MAC is known), the model file (when the model is known), the
    /// generic file; names from the settings' patterns (`prov.name.*`,
    /// defaults `algom<mac>.conf`, `algop<model>.conf`, `algop.conf`).
    ///
    /// `server` overrides `prov.server`; its scheme, else
    /// `prov.download.method`, decides the method. The MAC is written as 12
    /// lowercase hex digits.
    ///
    /// # Errors
    ///
    /// No server, or a MAC or model that cannot be part of a file name.
    pub fn new(
        settings: &Settings,
        server: Option<&ProvServer>,
        mac: Option<&str>,
        model: Option<&str>,
    ) -> Result<SearchPlan, DownloadError> {
        let server = server
            .or(settings.prov_server.as_ref())
            .ok_or(DownloadError::NoServer)?;
        let method = server
            .scheme
            .or(settings.prov_download_method)
            .unwrap_or(DownloadMethod::Https);
        let mut path = server.path.clone();
        if !path.ends_with('/') {
            path.push('/');
        }
        let base = format!("{method}://{}{path}", server.authority);
        let mut names = Vec::new();
        if let Some(mac) = mac {
            let mac = normalize_mac(mac).map_err(DownloadError::BadName)?;
            names.push(settings.prov_name_device.replace("{mac}", &mac));
        }
        if let Some(model) = model {
            if model.is_empty()
                || model.len() > 64
                || !model
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                || model.contains("..")
            {
                return Err(DownloadError::BadName(format!(
                    "{model:?} is not a model name (letters, digits, '-', '_', '.')"
                )));
            }
            names.push(settings.prov_name_model.replace("{model}", model));
        }
        names.push(settings.prov_name_generic.clone());
        Ok(SearchPlan {
            base,
            method,
            names,
        })
    }

    /// The URLs in search order.
    pub fn urls(&self) -> Vec<String> {
        self.names
            .iter()
            .map(|name| format!("{}{name}", self.base))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_order_and_names() {
        let s = Settings::parse("t", b"prov.server = https://prov.example.com:8443/cfg\n")
            .unwrap()
            .settings;
        let plan = SearchPlan::new(&s, None, Some("00:08:EE:12:34:56"), Some("8301")).unwrap();
        assert_eq!(
            plan.urls(),
            vec![
                "https://prov.example.com:8443/cfg/algom0008ee123456.conf",
                "https://prov.example.com:8443/cfg/algop8301.conf",
                "https://prov.example.com:8443/cfg/algop.conf",
            ]
        );
        let s = Settings::parse(
            "t",
            b"prov.server = p.example\nprov.download.method = http\nprov.name.device = dev-{mac}.cfg\nprov.name.generic = all.cfg\n",
        )
        .unwrap()
        .settings;
        let plan = SearchPlan::new(&s, None, Some("0008ee123456"), None).unwrap();
        assert_eq!(
            plan.urls(),
            vec![
                "http://p.example/dev-0008ee123456.cfg",
                "http://p.example/all.cfg"
            ]
        );
        assert!(matches!(
            SearchPlan::new(&Settings::default(), None, None, None),
            Err(DownloadError::NoServer)
        ));
        assert!(SearchPlan::new(&s, None, None, Some("../x")).is_err());
        assert!(SearchPlan::new(&s, None, Some("nope"), None).is_err());
    }
}
