//! Key state: each master key's derived session keys and usage counters,
//! and the session keys of other derivation epochs under a non-zero key
//! derivation rate.

use crate::crypto::{Kdf, Kind, SessionKeys};

/// One master key with its derived session keys and usage counters.
pub(super) struct KeySlot {
    pub(super) mki: [u8; 4],
    pub(super) kdf: Kdf,
    pub(super) rtp: SessionKeys,
    pub(super) rtcp: SessionKeys,
    pub(super) srtp_used: u64,
    pub(super) srtcp_used: u64,
}

/// Session keys derived for master key `slot` and derivation epoch `r`
/// (r = index DIV kdr) under a non-zero key derivation rate.
#[derive(Clone)]
pub(super) struct Derived {
    slot: usize,
    r: u64,
    keys: SessionKeys,
}

/// Which of the two places of an [`EpochKeys`] holds the keys a packet uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Place {
    Current,
    Scratch,
}

/// The derived session keys of one stream and kind (SRTP or SRTCP) under a
/// non-zero key derivation rate: at most one derivation per epoch change,
/// whatever arrives.
///
/// `current` holds the keys of the newest epoch a packet was protected in or
/// authenticated in. Keys of any other epoch are derived into `scratch` and
/// stay there until a packet that uses them authenticates: only then does
/// [`EpochKeys::commit`] make them current (the previous current keys move to
/// `scratch`, where late packets of the previous epoch find them). A forged
/// packet therefore never replaces the keys in use, and a run of forged
/// packets claiming one epoch finds that epoch's keys in `scratch` after the
/// first. Derived keys depend only on the master key and the epoch, so
/// keeping them after a failed packet is safe.
///
/// Allocated with the stream (or the session), so the packet path never
/// allocates; replaced keys are wiped when dropped.
#[derive(Default)]
pub(super) struct EpochKeys {
    pub(super) current: Option<Derived>,
    scratch: Option<Derived>,
}

impl EpochKeys {
    /// The keys of (`slot`, `r`) and where they are, derived into the
    /// scratch place first when neither place holds them.
    fn locate(
        &mut self,
        slot: usize,
        r: u64,
        derive: impl FnOnce() -> SessionKeys,
    ) -> (&SessionKeys, Place) {
        let holds = |d: &Derived| d.slot == slot && d.r == r;
        if let Some(d) = self.current.as_ref().filter(|d| holds(d)) {
            return (&d.keys, Place::Current);
        }
        if !self.scratch.as_ref().is_some_and(holds) {
            // Wipes the keys of the epoch held before.
            self.scratch = None;
        }
        let d = self.scratch.get_or_insert_with(|| Derived {
            slot,
            r,
            keys: derive(),
        });
        (&d.keys, Place::Scratch)
    }

    /// The keys at `place`, if any.
    pub(super) fn get(&self, place: Place) -> Option<&Derived> {
        match place {
            Place::Current => self.current.as_ref(),
            Place::Scratch => self.scratch.as_ref(),
        }
    }

    /// Called once the packet that used the keys at `place` was protected or
    /// authenticated: keys of an epoch at least as new as the current one
    /// become current.
    pub(super) fn commit(&mut self, place: Place) {
        if place != Place::Scratch {
            return;
        }
        let newer = match (&self.current, &self.scratch) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(current), Some(scratch)) => scratch.r >= current.r,
        };
        if newer {
            std::mem::swap(&mut self.current, &mut self.scratch);
        }
    }
}

/// The derived keys of one stream (or, in the session, of packets whose
/// stream does not exist yet), SRTP and SRTCP.
#[derive(Default)]
pub(super) struct StreamEpochs {
    pub(super) rtp: EpochKeys,
    pub(super) rtcp: EpochKeys,
}

/// The session keys of `kind` for epoch `r` of master key `slot_index`: the
/// slot's own for epoch 0, else those `epochs` holds or derives (counted in
/// `derivations`). `spare` stands in for `epochs` when there is none (never
/// the case with a non-zero KDR, whose streams always have one).
#[inline]
pub(super) fn keys_for<'a>(
    slot: &'a KeySlot,
    slot_index: usize,
    kind: Kind,
    r: u64,
    epochs: Option<&'a mut EpochKeys>,
    spare: &'a mut Option<EpochKeys>,
    derivations: &mut u64,
) -> (&'a SessionKeys, Option<Place>) {
    if r == 0 {
        let keys = match kind {
            Kind::Srtp => &slot.rtp,
            Kind::Srtcp => &slot.rtcp,
        };
        return (keys, None);
    }
    let epochs = match epochs {
        Some(epochs) => epochs,
        None => spare.insert(EpochKeys::default()),
    };
    let (keys, place) = epochs.locate(slot_index, r, || {
        *derivations += 1;
        slot.kdf.session_keys(kind, r)
    });
    (keys, Some(place))
}
