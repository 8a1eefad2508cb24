//! Alternatives in an offer: one stream offered as several audio m-lines,
//! of which the answer keeps exactly one (RFC 3264 §6).

use sdp_types::Media;

use super::sdp::{is_audio_rtp, Profile};
use super::{MediaOutcome, MediaResult, Sdp};
use crate::sdes::CryptoParams;

/// Which offered audio m-lines are alternatives of one stream, as group
/// numbers (the index of the group's first m-line) per m-line; `None` for
/// m-lines that are not audio RTP, are disabled (port 0) or stand alone.
///
/// Two shapes are alternatives:
///
/// - m-lines on the same address and port (FreeSWITCH's "optional" offers the
///   stream as `RTP/SAVP` with crypto, then again as `RTP/AVP`, on one port);
/// - an SRTP-only m-line with `a=crypto` and a plain `RTP/AVP(F)` m-line
///   without, on different ports (best-effort SRTP by duplicated m-lines):
///   each remaining SRTP one is paired with the first remaining plain one.
fn alternative_groups(offer: &Sdp) -> Vec<Option<usize>> {
    let address = |m: &Media| -> Option<String> {
        m.connections
            .first()
            .or(offer.connection.as_ref())
            .map(|c| c.connection_address.clone())
    };
    let active: Vec<Option<(Profile, usize)>> = offer
        .medias
        .iter()
        .map(|m| {
            let profile = is_audio_rtp(m).filter(|_| m.port != 0)?;
            let cryptos = m
                .attributes
                .iter()
                .filter(|a| a.attribute.eq_ignore_ascii_case("crypto"))
                .count();
            Some((profile, cryptos))
        })
        .collect();
    let n = active.len();
    let mut group: Vec<Option<usize>> = vec![None; n];
    // Same address and port.
    for i in 0..n {
        let (Some(mi), Some(Some(_)), Some(None)) =
            (offer.medias.get(i), active.get(i), group.get(i).copied())
        else {
            continue;
        };
        let same: Vec<usize> = (i + 1..n)
            .filter(|&j| {
                active.get(j).is_some_and(Option::is_some)
                    && offer
                        .medias
                        .get(j)
                        .is_some_and(|mj| mj.port == mi.port && address(mj) == address(mi))
            })
            .collect();
        if same.is_empty() {
            continue;
        }
        for j in std::iter::once(i).chain(same) {
            if let Some(slot) = group.get_mut(j) {
                *slot = Some(i);
            }
        }
    }
    // SRTP-only with crypto + plain without, among the m-lines left alone.
    let alone = |group: &[Option<usize>], j: usize, secure: bool| {
        group.get(j) == Some(&None)
            && matches!(active.get(j), Some(Some((p, c))) if p.secure == secure && (*c > 0) == secure)
    };
    for i in 0..n {
        if !alone(&group, i, true) {
            continue;
        }
        let Some(j) = (0..n).find(|&j| alone(&group, j, false)) else {
            break;
        };
        let first = i.min(j);
        for k in [i, j] {
            if let Some(slot) = group.get_mut(k) {
                *slot = Some(first);
            }
        }
    }
    group
}

/// Keeps one stream per group of alternatives ([`alternative_groups`]): the
/// best accepted m-line (SRTP before plain, then the first) stays, the other
/// accepted ones are declined (RFC 3264 §6: port 0 in the answer).
pub(super) fn resolve_alternatives(
    offer: &Sdp,
    results: &mut [MediaResult],
    ours: &mut [Option<CryptoParams>],
) {
    let groups = alternative_groups(offer);
    let rank = |r: &MediaResult| match r.outcome {
        MediaOutcome::Srtp(_) | MediaOutcome::Dtls(_) => 2,
        MediaOutcome::Plain(_) => 1,
        _ => 0,
    };
    for (i, g) in groups.iter().enumerate() {
        if *g != Some(i) {
            continue;
        }
        let members: Vec<usize> = (0..groups.len())
            .filter(|&j| groups.get(j) == Some(&Some(i)))
            .collect();
        let best = members
            .iter()
            .copied()
            .filter(|&j| results.get(j).is_some_and(|r| rank(r) > 0))
            .max_by_key(|&j| (results.get(j).map_or(0, rank), std::cmp::Reverse(j)));
        let Some(best) = best else { continue };
        let same_port = offer.medias.get(best).map(|m| m.port);
        for &j in &members {
            if j == best {
                continue;
            }
            if let Some(r) = results.get_mut(j) {
                if rank(r) > 0 {
                    let how = if offer.medias.get(j).map(|m| m.port) == same_port {
                        "same address and port"
                    } else {
                        "the same stream offered with and without SRTP"
                    };
                    r.outcome = MediaOutcome::Declined(format!(
                        "alternative to m-line {} ({how}), which was chosen",
                        best + 1
                    ));
                    if let Some(slot) = ours.get_mut(j) {
                        *slot = None;
                    }
                }
            }
        }
    }
}
