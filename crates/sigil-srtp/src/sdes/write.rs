//! Writing `a=crypto` lines: the attribute announcing our parameters and
//! the SDP text of each part (this text contains the key: SDP bodies only,
//! never logs).

use std::fmt;

use base64::Engine as _;
use zeroize::Zeroizing;

use super::{
    CryptoAttribute, CryptoParams, FecOrder, KeyParam, Lifetime, Mki, SessionParam, SuiteName,
    BASE64,
};

impl fmt::Display for Lifetime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lifetime::PowerOfTwo(n) => write!(f, "2^{n}"),
            Lifetime::Packets(n) => write!(f, "{n}"),
        }
    }
}

impl fmt::Display for Mki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.value, self.length)
    }
}

impl fmt::Display for KeyParam {
    /// Writes the key parameter as it appears in SDP (this includes the key:
    /// only format it into SDP bodies, never into logs).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let encoded = Zeroizing::new(BASE64.encode(self.key_salt.as_slice()));
        write!(f, "inline:{}", encoded.as_str())?;
        if let Some(lifetime) = self.lifetime {
            write!(f, "|{lifetime}")?;
        }
        if let Some(mki) = self.mki {
            write!(f, "|{mki}")?;
        }
        Ok(())
    }
}

impl fmt::Display for SessionParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionParam::Kdr(n) => write!(f, "KDR={n}"),
            SessionParam::UnencryptedSrtp => f.write_str("UNENCRYPTED_SRTP"),
            SessionParam::UnencryptedSrtcp => f.write_str("UNENCRYPTED_SRTCP"),
            SessionParam::UnauthenticatedSrtp => f.write_str("UNAUTHENTICATED_SRTP"),
            SessionParam::FecOrder(FecOrder::FecSrtp) => f.write_str("FEC_ORDER=FEC_SRTP"),
            SessionParam::FecOrder(FecOrder::SrtpFec) => f.write_str("FEC_ORDER=SRTP_FEC"),
            SessionParam::FecKey(keys) => {
                f.write_str("FEC_KEY=")?;
                write_key_params(f, keys)
            }
            SessionParam::Wsh(n) => write!(f, "WSH={n}"),
            SessionParam::Extension(text) => f.write_str(text),
        }
    }
}

fn write_key_params(f: &mut fmt::Formatter<'_>, keys: &[KeyParam]) -> fmt::Result {
    for (i, key) in keys.iter().enumerate() {
        if i > 0 {
            f.write_str(";")?;
        }
        write!(f, "{key}")?;
    }
    Ok(())
}

impl fmt::Display for CryptoAttribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ", self.tag, self.suite)?;
        write_key_params(f, &self.keys)?;
        for param in &self.params {
            write!(f, " {param}")?;
        }
        Ok(())
    }
}

impl CryptoAttribute {
    /// The attribute announcing `params` (the inverse of [`CryptoAttribute::check`]).
    pub fn from_params(params: &CryptoParams) -> Self {
        let mut keys: Vec<KeyParam> = params.keys.iter().map(KeyParam::from_master_key).collect();
        if let Some(lifetime) = params.lifetime {
            let lifetime = if lifetime.is_power_of_two() {
                // ok: trailing_zeros of a u64 is at most 63.
                Lifetime::PowerOfTwo(lifetime.trailing_zeros() as u8)
            } else {
                Lifetime::Packets(lifetime)
            };
            for key in &mut keys {
                key.lifetime = Some(lifetime);
            }
        }
        let mut session = Vec::new();
        if let Some(kdr) = params.kdr {
            session.push(SessionParam::Kdr(kdr));
        }
        if let Some(order) = params.fec_order {
            session.push(SessionParam::FecOrder(order));
        }
        if let Some(wsh) = params.wsh {
            session.push(SessionParam::Wsh(wsh));
        }
        CryptoAttribute {
            tag: params.tag,
            suite: SuiteName::Known(params.suite),
            keys,
            params: session,
        }
    }

    /// The attribute as an `sdp-types` attribute (`crypto` with this value).
    pub fn to_attribute(&self) -> sdp_types::Attribute {
        sdp_types::Attribute::with_value("crypto", self)
    }
}
