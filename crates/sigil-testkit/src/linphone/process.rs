//! Running linphonec: starting an instance, sending it commands, and
//! reading its output and log.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::events::{parse_event, Event};
use super::{linphonerc, CallInfo, Linphone, LinphoneConfig, POLL};
use crate::ChildGuard;

/// How long [`Linphone::start`] waits for linphonec to read its first command.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The line linphonec prints when `soundcard use files` is done; also
/// [`Linphone::start`]'s sign that it reads its commands.
const USING_FILES: &str = "Using wav files instead of soundcard.";

impl Linphone {
    /// Writes `dir/linphonerc` ([`linphonerc`]) and `dir/home` (its `HOME`,
    /// with `~/.local/share/linphone`, without which the core never starts),
    /// starts `linphonec -c dir/linphonerc -d 6 -l dir/linphonec.log` (`-a`
    /// with `auto_answer`), sends `soundcard use files` (never a real sound
    /// card, even on a desktop) and `record FILE` when `record_wav` is set,
    /// and waits (at most 10 s) until it has read them. It registers on its
    /// own: see [`Linphone::wait_registered`].
    ///
    /// # Panics
    ///
    /// When a file cannot be written, linphonec cannot be spawned, or it does
    /// not take its first command in time.
    pub fn start(bin: &Path, dir: &Path, config: &LinphoneConfig) -> Linphone {
        let home = dir.join("home");
        let data = home.join(".local/share/linphone");
        std::fs::create_dir_all(&data)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", data.display()));
        let rc = dir.join("linphonerc");
        std::fs::write(&rc, linphonerc(config, dir))
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", rc.display()));
        let log = dir.join("linphonec.log");
        let _ = std::fs::remove_file(&log);
        let mut command = Command::new(bin);
        command
            .arg("-c")
            .arg(&rc)
            .args(["-d", "6", "-l"])
            .arg(&log)
            .env("HOME", &home)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if config.auto_answer {
            command.arg("-a");
        }
        let mut child = ChildGuard::spawn(&mut command)
            .unwrap_or_else(|e| panic!("cannot spawn {}: {e}", bin.display()));
        let output = Arc::new(Mutex::new(String::new()));
        let stdout = child.0.stdout.take().expect("piped stdout");
        let stderr = child.0.stderr.take().expect("piped stderr");
        spawn_reader(stdout, Arc::clone(&output));
        spawn_reader(stderr, Arc::clone(&output));
        let stdin = child.0.stdin.take().expect("piped stdin");
        let mut linphone = Linphone {
            child,
            stdin,
            output,
            log,
            user: config.user.clone(),
            reported: HashSet::new(),
            ended: HashSet::new(),
            log_mark: 0,
        };
        linphone.send("soundcard use files");
        if let Some(record) = &config.record_wav {
            linphone.send(&format!("record {}", record.display()));
        }
        let deadline = Instant::now() + START_TIMEOUT;
        while !linphone.output().contains(USING_FILES) {
            if Instant::now() >= deadline || linphone.child.exited().is_some() {
                panic!(
                    "linphonec ({}) did not start: {}",
                    linphone.user,
                    linphone.diagnostics()
                );
            }
            std::thread::sleep(POLL);
        }
        linphone
    }

    /// Writes one command line to linphonec's stdin.
    ///
    /// # Panics
    ///
    /// When linphonec's stdin is closed (it has exited).
    pub fn send(&mut self, command: &str) {
        let written = self
            .stdin
            .write_all(format!("{command}\n").as_bytes())
            .and_then(|()| self.stdin.flush());
        if let Err(e) = written {
            panic!(
                "cannot send {command:?} to linphonec ({}): {e}; {}",
                self.user,
                self.diagnostics()
            );
        }
    }

    /// Places a call (`call URI`). Wait for it with
    /// [`Linphone::wait_call_established`] or [`Linphone::wait_call_outcome`].
    pub fn call(&mut self, uri: &str) {
        self.send(&format!("call {uri}"));
    }

    /// Answers the ringing incoming call (`answer`), for instances without auto-answer.
    pub fn answer(&mut self) {
        self.send("answer");
    }

    /// Ends the current call (`terminate`); see [`Linphone::wait_call_ended`].
    pub fn terminate(&mut self) {
        self.send("terminate");
    }

    /// Everything linphonec printed on stdout and stderr so far (commands
    /// echoed after "linphonec> " prompts, call states, answers).
    pub fn output(&self) -> String {
        self.output
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// liblinphone's log so far (`-d 6`: SIP messages with SDP, TLS
    /// verification, registration and call state changes); empty when unreadable.
    pub fn log(&self) -> String {
        let mut bytes = Vec::new();
        let _ = std::fs::File::open(&self.log).and_then(|mut f| f.read_to_end(&mut bytes));
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The output plus the log lines that explain most failures
    /// (registration and call states, TLS, SIP status lines, encryption),
    /// for assertion messages.
    pub fn diagnostics(&self) -> String {
        let log = self.log();
        let keys = [
            "moving from state",
            "handshake",
            "flags=",
            "Cannot connect",
            "SIP/2.0 ",
            "Negotiated media encryption",
            "m=audio",
            "error-",
            "Root ca path",
        ];
        let lines: Vec<&str> = log
            .lines()
            .filter(|line| keys.iter().any(|k| line.contains(k)))
            .collect();
        let skip = lines.len().saturating_sub(80);
        format!(
            "\n--- linphonec ({}) output ---\n{}\n--- log excerpts ({}) ---\n{}\n",
            self.user,
            self.output(),
            self.log.display(),
            lines[skip..].join("\n")
        )
    }

    pub(super) fn events(&self) -> Vec<Event> {
        self.output().lines().filter_map(parse_event).collect()
    }

    pub(super) fn call_info(&mut self, id: u32, remote: String) -> CallInfo {
        // liblinphone logs the negotiation before the state change that
        // makes linphonec print its line; allow the log a moment to be flushed.
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut log = self.log();
        while !tail_from(&log, self.log_mark).contains("Negotiated media encryption is ")
            && Instant::now() < deadline
        {
            std::thread::sleep(POLL);
            log = self.log();
        }
        let media_encryption = log
            .lines()
            .rev()
            .find_map(|line| line.split_once("Negotiated media encryption is "))
            .map(|(_, enc)| enc.trim().to_owned())
            .unwrap_or_default();
        let sdp_audio = tail_from(&log, self.log_mark)
            .lines()
            .filter(|line| line.starts_with("m=audio"))
            .map(|line| line.trim_end().to_owned())
            .collect();
        self.log_mark = log.len();
        CallInfo {
            id,
            remote,
            encrypted: media_encryption == "LinphoneMediaEncryptionSRTP"
                || media_encryption == "LinphoneMediaEncryptionDTLS",
            media_encryption,
            sdp_audio,
        }
    }

    /// `what` plus the last final SIP error status logged (not the 401/407
    /// digest challenges), e.g. "SIP/2.0 488 Not acceptable here".
    pub(super) fn failure_reason(&self, what: &str) -> String {
        let log = self.log();
        let status = log.lines().rev().find(|line| {
            line.strip_prefix("SIP/2.0 ")
                .and_then(|rest| rest.get(..3))
                .and_then(|code| code.parse::<u16>().ok())
                .is_some_and(|code| code >= 300 && code != 401 && code != 407)
        });
        match status {
            Some(status) => format!("{what} ({})", status.trim_end()),
            None => what.to_owned(),
        }
    }
}

/// `text` from byte `mark` on (from the next character boundary; empty past the end).
fn tail_from(text: &str, mark: usize) -> &str {
    (mark..=text.len())
        .find(|&at| text.is_char_boundary(at))
        .map_or("", |at| &text[at..])
}

fn spawn_reader(mut from: impl Read + Send + 'static, into: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => into
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_str(&String::from_utf8_lossy(&buf[..n])),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_tails_start_on_character_boundaries() {
        assert_eq!(tail_from("a\u{e9} b", 2), " b");
        assert_eq!(tail_from("abc", 1), "bc");
        assert_eq!(tail_from("abc", 9), "");
    }
}
