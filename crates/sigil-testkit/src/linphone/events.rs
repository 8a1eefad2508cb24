//! What linphonec prints about calls: the call events parsed from its
//! output, and what a call came to.

/// An established call, as [`Linphone::wait_call_established`] saw it.
///
/// [`Linphone::wait_call_established`]: super::Linphone::wait_call_established
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallInfo {
    /// linphonec's call id (1, 2, … per instance).
    pub id: u32,
    /// The remote party as linphonec prints it (`sip:bob@127.0.0.1` or
    /// `"alice" <sip:alice@127.0.0.1>`).
    pub remote: String,
    /// Media is SRTP (the log says "Negotiated media encryption is
    /// LinphoneMediaEncryptionSRTP").
    pub encrypted: bool,
    /// The negotiated encryption as liblinphone names it, e.g.
    /// `LinphoneMediaEncryptionSRTP` or `LinphoneMediaEncryptionNone`.
    pub media_encryption: String,
    /// The `m=audio` lines of the SDP bodies logged since the previous call
    /// was established, in order: usually the offer, then the answer
    /// (e.g. `m=audio 20006 RTP/SAVP 0 8 96`).
    pub sdp_audio: Vec<String>,
}

/// How a call attempt came out ([`Linphone::wait_call_outcome`]).
///
/// [`Linphone::wait_call_outcome`]: super::Linphone::wait_call_outcome
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOutcome {
    /// Media streams are running.
    Established(CallInfo),
    /// The call failed or ended before media ran ("Call N with X error." or
    /// "ended (…)").
    Failed {
        /// linphonec's call id.
        id: u32,
        /// What linphonec printed, plus the last SIP error status line
        /// logged (e.g. `SIP/2.0 488 Not acceptable here`) when there is one.
        reason: String,
    },
    /// Nothing happened in time.
    TimedOut,
}

/// One call event parsed from linphonec's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Event {
    Incoming { id: u32 },
    Established { id: u32, remote: String },
    Error { id: u32, remote: String },
    Ended { id: u32, reason: String },
}

/// Strips readline's echoed prompts ("linphonec> ", possibly several) from a line.
pub(super) fn strip_prompt(mut line: &str) -> &str {
    while let Some(rest) = line.strip_prefix("linphonec> ") {
        line = rest;
    }
    line.trim_end()
}

pub(super) fn parse_event(line: &str) -> Option<Event> {
    let line = strip_prompt(line);
    if let Some(rest) = line.strip_prefix("Media streams established with ") {
        // "{remote} for call {id} (audio)."
        let (remote, tail) = rest.rsplit_once(" for call ")?;
        let id = tail.split_whitespace().next()?.parse().ok()?;
        return Some(Event::Established {
            id,
            remote: remote.into(),
        });
    }
    if let Some(rest) = line.strip_prefix("Receiving new incoming call from ") {
        let (_, id) = rest.rsplit_once(", assigned id ")?;
        return Some(Event::Incoming {
            id: id.trim().parse().ok()?,
        });
    }
    let rest = line.strip_prefix("Call ")?;
    let (id, rest) = rest.split_once(" with ")?;
    let id: u32 = id.parse().ok()?;
    if let Some(remote) = rest.strip_suffix(" error.") {
        return Some(Event::Error {
            id,
            remote: remote.into(),
        });
    }
    if let Some(head) = rest.strip_suffix(").") {
        let (_, reason) = head.rsplit_once(" ended (")?;
        return Some(Event::Ended {
            id,
            reason: reason.into(),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_lines_linphonec_prints() {
        assert_eq!(
            parse_event("linphonec> Receiving new incoming call from \"alice\" <sip:alice@127.0.0.1>, assigned id 1"),
            Some(Event::Incoming { id: 1 })
        );
        assert_eq!(
            parse_event("Media streams established with sip:bob@127.0.0.1 for call 2 (audio)."),
            Some(Event::Established {
                id: 2,
                remote: "sip:bob@127.0.0.1".into()
            })
        );
        assert_eq!(
            parse_event("linphonec> Call 1 with sip:nobody@127.0.0.1 error."),
            Some(Event::Error {
                id: 1,
                remote: "sip:nobody@127.0.0.1".into()
            })
        );
        assert_eq!(
            parse_event("Call 1 with \"alice\" <sip:alice@127.0.0.1> ended (No error)."),
            Some(Event::Ended {
                id: 1,
                reason: "No error".into()
            })
        );
        assert_eq!(parse_event("Call 1 to sip:bob@127.0.0.1 ringing."), None);
        assert_eq!(
            parse_event("Call 1 with sip:bob@127.0.0.1 connected."),
            None
        );
    }
}
