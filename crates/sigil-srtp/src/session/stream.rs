//! Stream state: one per SSRC (replay windows, roll-over counter, SRTCP
//! index), found, admitted against the policy or created per packet.

use super::keys::{Place, StreamEpochs};
use super::Session;
use crate::crypto::Kind;
use crate::policy::Ssrc;
use crate::replay::ReplayWindow;
use crate::SrtpError;

/// The state of one SSRC.
pub(super) struct Stream {
    pub(super) ssrc: u32,
    /// Accepted (or, outbound, sent) SRTP indices; its top is ROC ‖ s_l.
    pub(super) rtp: ReplayWindow,
    /// ROC assumed before the first packet (set by [`Session::set_roc`]).
    pub(super) roc_hint: u32,
    /// Inbound: accepted SRTCP indices.
    pub(super) rtcp: ReplayWindow,
    /// Outbound: the next SRTCP index to send.
    pub(super) rtcp_next: u64,
    /// Session keys of epochs other than 0 (only with a non-zero KDR).
    pub(super) epochs: Option<Box<StreamEpochs>>,
}

impl Stream {
    fn new(ssrc: u32, window: usize, kdr: bool) -> Stream {
        Stream {
            ssrc,
            rtp: ReplayWindow::new(window),
            roc_hint: 0,
            rtcp: ReplayWindow::new(window),
            rtcp_next: 0,
            epochs: kdr.then(Box::default),
        }
    }
}

impl Session {
    /// The roll-over counter of `ssrc`: the ROC of the highest packet index
    /// seen (or the value set with [`Session::set_roc`] before any packet).
    /// `None` when the session has no stream for `ssrc`.
    pub fn roc(&self, ssrc: u32) -> Option<u32> {
        let stream = self.streams.get(*self.by_ssrc.get(&ssrc)?)?;
        Some(match stream.rtp.top() {
            Some(top) => (top >> 16) as u32,
            None => stream.roc_hint,
        })
    }

    /// Sets the roll-over counter of `ssrc`, for a late joiner that learns it
    /// out of band (creating the stream if needed). On a stream that has
    /// already seen packets this keeps the highest sequence number, replaces
    /// its ROC and forgets the replay history.
    pub fn set_roc(&mut self, ssrc: u32, roc: u32) -> Result<(), SrtpError> {
        let index = self.stream_index(ssrc)?;
        if let Some(stream) = self.streams.get_mut(index) {
            match stream.rtp.top() {
                Some(top) => stream
                    .rtp
                    .reset(Some((u64::from(roc) << 16) | (top & 0xffff))),
                None => stream.roc_hint = roc,
            }
        }
        Ok(())
    }

    /// Forgets the stream of `ssrc` — its roll-over counter, replay windows
    /// and SRTCP index — as libsrtp's `srtp_remove_stream` does; a later
    /// packet of `ssrc` starts a new stream. Returns whether there was one.
    /// The master keys' usage counts are kept: they belong to the keys.
    pub fn remove_stream(&mut self, ssrc: u32) -> bool {
        let Some(index) = self.by_ssrc.remove(&ssrc) else {
            return false;
        };
        if index < self.streams.len() {
            self.streams.swap_remove(index);
        }
        if let Some(moved) = self.streams.get(index) {
            self.by_ssrc.insert(moved.ssrc, index);
        }
        self.last = 0;
        true
    }

    pub(super) fn add_stream(&mut self, ssrc: u32) -> usize {
        let index = self.streams.len();
        self.streams
            .push(Stream::new(ssrc, self.window, self.kdr_shift.is_some()));
        self.by_ssrc.insert(ssrc, index);
        index
    }

    #[inline]
    fn find_stream(&mut self, ssrc: u32) -> Option<usize> {
        if self.streams.get(self.last).is_some_and(|s| s.ssrc == ssrc) {
            return Some(self.last);
        }
        let found = self.by_ssrc.get(&ssrc).copied();
        if let Some(index) = found {
            self.last = index;
        }
        found
    }

    /// The stream `ssrc` has, if any, once `ssrc` is checked against the
    /// policy and, for a new stream, against the stream limit.
    #[inline]
    pub(super) fn admit(&mut self, ssrc: u32) -> Result<Option<usize>, SrtpError> {
        if let Ssrc::Specific(expected) = self.ssrc {
            if expected != ssrc {
                return Err(SrtpError::SsrcMismatch {
                    expected,
                    got: ssrc,
                });
            }
        }
        let existing = self.find_stream(ssrc);
        if existing.is_none() && self.streams.len() >= self.max_streams {
            return Err(SrtpError::StreamLimit {
                limit: self.max_streams,
            });
        }
        Ok(existing)
    }

    /// The stream for `ssrc`, checked as by [`Session::admit`]; created if new.
    #[inline]
    pub(super) fn stream_index(&mut self, ssrc: u32) -> Result<usize, SrtpError> {
        if let Some(index) = self.admit(ssrc)? {
            return Ok(index);
        }
        let index = self.add_stream(ssrc);
        self.last = index;
        Ok(index)
    }

    /// After an inbound packet of `kind` authenticated (and only then):
    /// accepts its `index` in the stream's replay window (creating the
    /// stream if `existing` is `None`), keeps the session keys it used (a new
    /// stream starts with the keys its first packet authenticated with) and
    /// counts it against master key `slot_index`'s lifetime.
    #[inline]
    pub(super) fn commit_inbound(
        &mut self,
        kind: Kind,
        existing: Option<usize>,
        ssrc: u32,
        slot_index: usize,
        index: u64,
        place: Option<Place>,
    ) -> Result<(), SrtpError> {
        let si = match existing {
            Some(i) => i,
            None => self.stream_index(ssrc)?,
        };
        if let Some(stream) = self.streams.get_mut(si) {
            let (window, epochs) = match kind {
                Kind::Srtp => (
                    &mut stream.rtp,
                    stream.epochs.as_deref_mut().map(|e| &mut e.rtp),
                ),
                Kind::Srtcp => (
                    &mut stream.rtcp,
                    stream.epochs.as_deref_mut().map(|e| &mut e.rtcp),
                ),
            };
            window.accept(index);
            if let (Some(place), Some(epochs)) = (place, epochs) {
                match existing {
                    Some(_) => epochs.commit(place),
                    None => {
                        epochs.current = self
                            .new_streams
                            .as_deref()
                            .map(|n| match kind {
                                Kind::Srtp => &n.rtp,
                                Kind::Srtcp => &n.rtcp,
                            })
                            .and_then(|keys| keys.get(place))
                            .cloned();
                    }
                }
            }
        }
        if let Some(slot) = self.keys.get_mut(slot_index) {
            match kind {
                Kind::Srtp => slot.srtp_used += 1,
                Kind::Srtcp => slot.srtcp_used += 1,
            }
        }
        Ok(())
    }
}
