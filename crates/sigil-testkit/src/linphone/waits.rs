//! Waiting on an instance: registration, incoming calls, call outcomes
//! and call ends, each polled with a deadline.

use std::time::{Duration, Instant};

use super::events::{strip_prompt, Event};
use super::{CallInfo, CallOutcome, Linphone, POLL};

impl Linphone {
    /// Asks `status register` and waits (at most 1 s) for the answer: true
    /// for "registered, identity=…", false for "registered=-1" (trying or
    /// failed), "registered=0" (no account) or no answer.
    pub fn is_registered(&mut self) -> bool {
        fn answers(out: &str) -> Vec<String> {
            out.lines()
                .map(strip_prompt)
                .filter(|line| line.starts_with("registered"))
                .map(str::to_owned)
                .collect()
        }
        let before = answers(&self.output()).len();
        self.send("status register");
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            let now = answers(&self.output());
            if now.len() > before {
                return now[before].starts_with("registered, identity=");
            }
            std::thread::sleep(POLL);
        }
        false
    }

    /// Waits (at most `timeout`) until linphonec reports its account
    /// registered, asking `status register` every 0.1 s.
    ///
    /// # Panics
    ///
    /// On timeout; the message carries the output and the log lines about
    /// registration and TLS.
    pub fn wait_registered(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if self.output().contains("registered, identity=") {
                return;
            }
            if Instant::now() >= deadline || self.child.exited().is_some() {
                panic!(
                    "linphonec ({}) did not register within {timeout:?}: {}",
                    self.user,
                    self.diagnostics()
                );
            }
            self.send("status register");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits (at most `timeout`) until an incoming call is announced
    /// ("Receiving new incoming call from …, assigned id N") and returns its id.
    ///
    /// # Panics
    ///
    /// On timeout, with the output.
    pub fn wait_incoming(&mut self, timeout: Duration) -> u32 {
        let deadline = Instant::now() + timeout;
        loop {
            let incoming = self.events().into_iter().find_map(|e| match e {
                Event::Incoming { id } if !self.reported.contains(&id) => Some(id),
                _ => None,
            });
            if let Some(id) = incoming {
                return id;
            }
            if Instant::now() >= deadline {
                panic!(
                    "linphonec ({}) saw no incoming call within {timeout:?}: {}",
                    self.user,
                    self.diagnostics()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// Waits (at most `timeout`) for the next call (outgoing or incoming)
    /// not reported yet to have its media running or to fail.
    pub fn wait_call_outcome(&mut self, timeout: Duration) -> CallOutcome {
        let deadline = Instant::now() + timeout;
        loop {
            for event in self.events() {
                match event {
                    Event::Established { id, remote } if !self.reported.contains(&id) => {
                        self.reported.insert(id);
                        return CallOutcome::Established(self.call_info(id, remote));
                    }
                    Event::Error { id, remote } if !self.reported.contains(&id) => {
                        self.reported.insert(id);
                        self.ended.insert(id);
                        return CallOutcome::Failed {
                            id,
                            reason: self.failure_reason(&format!("call to {remote}: error")),
                        };
                    }
                    Event::Ended { id, reason } if !self.reported.contains(&id) => {
                        self.reported.insert(id);
                        self.ended.insert(id);
                        return CallOutcome::Failed {
                            id,
                            reason: self.failure_reason(&format!("ended ({reason})")),
                        };
                    }
                    _ => {}
                }
            }
            if Instant::now() >= deadline || self.child.exited().is_some() {
                return CallOutcome::TimedOut;
            }
            std::thread::sleep(POLL);
        }
    }

    /// Waits (at most `timeout`) until the next call has its media running
    /// ("Media streams established with … for call N").
    ///
    /// # Panics
    ///
    /// When the call fails or nothing happens in time; the message carries
    /// the reason and the output.
    pub fn wait_call_established(&mut self, timeout: Duration) -> CallInfo {
        match self.wait_call_outcome(timeout) {
            CallOutcome::Established(info) => info,
            CallOutcome::Failed { id, reason } => panic!(
                "linphonec ({}) call {id} failed: {reason}; {}",
                self.user,
                self.diagnostics()
            ),
            CallOutcome::TimedOut => panic!(
                "linphonec ({}) established no call within {timeout:?}: {}",
                self.user,
                self.diagnostics()
            ),
        }
    }

    /// Waits (at most `timeout`) until a call not reported ended yet ends
    /// ("Call N with … ended (REASON)." or "… error."); returns the reason
    /// (`No error` for a normal hang-up on either side).
    ///
    /// # Panics
    ///
    /// On timeout, with the output.
    pub fn wait_call_ended(&mut self, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            for event in self.events() {
                match event {
                    Event::Ended { id, reason } if !self.ended.contains(&id) => {
                        self.ended.insert(id);
                        self.reported.insert(id);
                        return reason;
                    }
                    Event::Error { id, .. } if !self.ended.contains(&id) => {
                        self.ended.insert(id);
                        self.reported.insert(id);
                        return "error".into();
                    }
                    _ => {}
                }
            }
            if Instant::now() >= deadline {
                panic!(
                    "linphonec ({}) saw no call end within {timeout:?}: {}",
                    self.user,
                    self.diagnostics()
                );
            }
            std::thread::sleep(POLL);
        }
    }
}
