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
