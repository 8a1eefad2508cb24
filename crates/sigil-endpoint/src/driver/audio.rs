//! Audio in and out of calls, frame by frame: what a driver plays into a
//! call and does with what it receives. An integrator connects a
//! microphone and a speaker here; the CLI plays a tone or a WAV file and
//! records to WAV files.

use crate::device::CallId;

/// Samples in one 20 ms frame at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;

/// The audio of calls, driven by each call's 20 ms media clock: once per
/// frame the driver hands over what was received ([`CallAudio::playback`])
/// and asks for what to send ([`CallAudio::capture`]). Called on the
/// driver's thread: keep it quick (copy into a ring buffer, say).
pub trait CallAudio: Send {
    /// The media of `call` started.
    fn started(&mut self, call: CallId) {
        let _ = call;
    }
    /// Fill `frame` (160 samples, 16-bit PCM, 8 kHz) with the next 20 ms to
    /// send on `call`; return `false` to send nothing this time.
    fn capture(&mut self, call: CallId, frame: &mut [i16]) -> bool;
    /// 20 ms received on `call` (`concealed`: made up for a lost packet).
    fn playback(&mut self, call: CallId, frame: &[i16], concealed: bool);
    /// `call` ended.
    fn ended(&mut self, call: CallId) {
        let _ = call;
    }
}

/// Sends a sine tone into every call and discards what arrives: the
/// device's test signal (440 Hz unless told otherwise).
#[derive(Debug, Clone)]
pub struct ToneAudio {
    frequency: f64,
    /// Sample counter per call, so every call starts at phase 0.
    samples: std::collections::HashMap<CallId, u64>,
}

impl ToneAudio {
    /// A tone of `frequency` Hz at about −6 dBFS.
    pub fn new(frequency: f64) -> ToneAudio {
        ToneAudio {
            frequency,
            samples: std::collections::HashMap::new(),
        }
    }
}

impl Default for ToneAudio {
    fn default() -> Self {
        ToneAudio::new(440.0)
    }
}

impl CallAudio for ToneAudio {
    fn capture(&mut self, call: CallId, frame: &mut [i16]) -> bool {
        let n = self.samples.entry(call).or_insert(0);
        for sample in frame.iter_mut() {
            let t = *n as f64 / 8000.0;
            // ok: |value| ≤ 16000, fits i16.
            *sample = ((2.0 * std::f64::consts::PI * self.frequency * t).sin() * 16000.0) as i16;
            *n += 1;
        }
        true
    }

    fn playback(&mut self, _call: CallId, _frame: &[i16], _concealed: bool) {}

    fn ended(&mut self, call: CallId) {
        self.samples.remove(&call);
    }
}

/// Where [`FileAudio`] records what calls receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// Nowhere.
    Nothing,
    /// The first call into this file.
    File(std::path::PathBuf),
    /// Every call into its own file `call-N.wav` in this folder.
    Folder(std::path::PathBuf),
}

/// Plays a WAV file (8 kHz, mono, 16-bit; looped) or, without one, a 440 Hz
/// tone into every call, and records what each call receives as WAV
/// (8 kHz, mono, 16-bit). The CLI's `--play`, `--record` and `--record-dir`.
pub struct FileAudio {
    play: Option<std::sync::Arc<Vec<i16>>>,
    positions: std::collections::HashMap<CallId, usize>,
    tone: ToneAudio,
    record: Record,
    recorded_first: bool,
    writers: std::collections::HashMap<CallId, sigil_media::WavWriter<std::fs::File>>,
}

impl std::fmt::Debug for FileAudio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileAudio")
            .field("play_samples", &self.play.as_ref().map(|p| p.len()))
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

impl FileAudio {
    /// Plays `play` (or the tone) and records per `record`.
    ///
    /// # Errors
    ///
    /// The file cannot be read, or is not 8 kHz mono 16-bit PCM WAV (the
    /// error says what it is and how to convert it), or is empty.
    pub fn new(
        play: Option<&std::path::Path>,
        record: Record,
    ) -> Result<FileAudio, crate::EndpointError> {
        let play = match play {
            Some(path) => {
                let file =
                    std::fs::File::open(path).map_err(|source| crate::EndpointError::Io {
                        path: path.to_owned(),
                        source,
                    })?;
                let samples = sigil_media::read_wav_from(std::io::BufReader::new(file))
                    .map_err(|e| crate::EndpointError::Media(format!("{}: {e}", path.display())))?;
                if samples.is_empty() {
                    return Err(crate::EndpointError::Media(format!(
                        "{}: the WAV file holds no audio",
                        path.display()
                    )));
                }
                Some(std::sync::Arc::new(samples))
            }
            None => None,
        };
        Ok(FileAudio {
            play,
            positions: std::collections::HashMap::new(),
            tone: ToneAudio::default(),
            record,
            recorded_first: false,
            writers: std::collections::HashMap::new(),
        })
    }

    fn writer_path(&mut self, call: CallId) -> Option<std::path::PathBuf> {
        match &self.record {
            Record::Nothing => None,
            Record::File(path) if !self.recorded_first => {
                self.recorded_first = true;
                Some(path.clone())
            }
            Record::File(_) => None,
            Record::Folder(dir) => Some(dir.join(format!("call-{}.wav", call.0))),
        }
    }
}

impl CallAudio for FileAudio {
    fn started(&mut self, call: CallId) {
        if let Some(path) = self.writer_path(call) {
            let opened = std::fs::File::create(&path)
                .map_err(|e| e.to_string())
                .and_then(|f| sigil_media::WavWriter::new(f).map_err(|e| e.to_string()));
            match opened {
                Ok(w) => {
                    self.writers.insert(call, w);
                }
                Err(e) => log::warn!("cannot record {call} into {}: {e}", path.display()),
            }
        }
    }

    fn capture(&mut self, call: CallId, frame: &mut [i16]) -> bool {
        let Some(play) = &self.play else {
            return self.tone.capture(call, frame);
        };
        let position = self.positions.entry(call).or_insert(0);
        for sample in frame.iter_mut() {
            *sample = play.get(*position).copied().unwrap_or(0);
            *position = (*position + 1) % play.len().max(1);
        }
        true
    }

    fn playback(&mut self, call: CallId, frame: &[i16], _concealed: bool) {
        if let Some(w) = self.writers.get_mut(&call) {
            if let Err(e) = w.write_samples(frame) {
                log::warn!("recording {call}: {e}; recording stopped");
                self.writers.remove(&call);
            }
        }
    }

    fn ended(&mut self, call: CallId) {
        self.positions.remove(&call);
        self.tone.ended(call);
        if let Some(w) = self.writers.remove(&call) {
            if let Err(e) = w.finish() {
                log::warn!("finishing the recording of {call}: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plays_a_file_in_a_loop_and_records_each_call() {
        let dir = tempfile::tempdir().unwrap();
        let wav = dir.path().join("in.wav");
        let mut w = sigil_media::WavWriter::new(std::fs::File::create(&wav).unwrap()).unwrap();
        w.write_samples(&[1, 2, 3]).unwrap();
        w.finish().unwrap();
        let mut audio = FileAudio::new(Some(&wav), Record::Folder(dir.path().to_owned())).unwrap();
        let call = CallId(7);
        audio.started(call);
        let mut frame = [0i16; 5];
        assert!(audio.capture(call, &mut frame));
        assert_eq!(frame, [1, 2, 3, 1, 2]);
        audio.playback(call, &[9; 160], false);
        audio.ended(call);
        let bytes = std::fs::read(dir.path().join("call-7.wav")).unwrap();
        assert_eq!(sigil_media::read_wav(&bytes).unwrap(), vec![9; 160]);
    }

    #[test]
    fn a_wav_in_another_format_is_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let wav = dir.path().join("cd.wav");
        // A 44.1 kHz stereo header with a few bytes of data.
        let mut bytes = b"RIFF\x28\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x02\x00\x44\xac\x00\x00\x10\xb1\x02\x00\x04\x00\x10\x00data\x04\x00\x00\x00".to_vec();
        bytes.extend_from_slice(&[0, 0, 0, 0]);
        std::fs::write(&wav, bytes).unwrap();
        let e = FileAudio::new(Some(&wav), Record::Nothing)
            .unwrap_err()
            .to_string();
        assert!(e.contains("44100") && e.contains("8000"), "{e}");
    }
}
