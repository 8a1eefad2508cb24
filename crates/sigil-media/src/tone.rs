//! A sine tone source in 20 ms frames (the device's test tone) and a
//! single-frequency detector (Goertzel) to tell whether audio is that tone.

use std::f64::consts::PI;

use crate::codec::{SAMPLES_PER_FRAME, SAMPLE_RATE};

/// The device's test tone: 440 Hz.
pub const DEFAULT_TONE_HZ: f64 = 440.0;
/// Default amplitude: about −6 dBFS.
pub const DEFAULT_AMPLITUDE: i16 = 16000;

/// A sine tone as 16-bit PCM at 8 kHz, 20 ms at a time; the phase carries
/// over from frame to frame.
#[derive(Debug, Clone)]
pub struct ToneSource {
    step: f64,
    phase: f64,
    amplitude: f64,
}

impl Default for ToneSource {
    fn default() -> Self {
        ToneSource::new(DEFAULT_TONE_HZ)
    }
}

impl ToneSource {
    /// A tone of `frequency` Hz (clamped to 0–4000, what 8 kHz can carry)
    /// at [`DEFAULT_AMPLITUDE`].
    pub fn new(frequency: f64) -> Self {
        let frequency = if frequency.is_finite() {
            frequency.clamp(0.0, f64::from(SAMPLE_RATE) / 2.0)
        } else {
            0.0
        };
        ToneSource {
            step: 2.0 * PI * frequency / f64::from(SAMPLE_RATE),
            phase: 0.0,
            amplitude: f64::from(DEFAULT_AMPLITUDE),
        }
    }

    /// The same tone at peak `amplitude`.
    pub fn with_amplitude(mut self, amplitude: i16) -> Self {
        self.amplitude = f64::from(amplitude.unsigned_abs().min(i16::MAX as u16));
        self
    }

    /// Fills `out` with the next samples of the tone.
    pub fn fill(&mut self, out: &mut [i16]) {
        for s in out {
            // |sin| ≤ 1 and amplitude ≤ i16::MAX: the cast cannot overflow.
            *s = (self.phase.sin() * self.amplitude).round() as i16;
            self.phase += self.step;
            if self.phase >= 2.0 * PI {
                self.phase -= 2.0 * PI;
            }
        }
    }

    /// The next 20 ms frame: 160 samples.
    pub fn next_frame(&mut self) -> [i16; SAMPLES_PER_FRAME] {
        let mut frame = [0i16; SAMPLES_PER_FRAME];
        self.fill(&mut frame);
        frame
    }
}

/// How much of the energy of `samples` lies at `frequency` Hz (8 kHz
/// sampling), from 0.0 (none) to about 1.0 (a pure tone at exactly that
/// frequency).
///
/// A Hann window and the Goertzel recurrence evaluate one DFT bin; the
/// result is normalised so that a pure sine gives 1 whatever its
/// amplitude. Within the window's main lobe (about ±2 × 8000 / N Hz for N
/// samples) the ratio falls off smoothly, outside it is near 0. Use a second
/// or more of audio for a sharp answer. Empty or silent input gives 0.
pub fn tone_ratio(samples: &[i16], frequency: f64) -> f64 {
    let n = samples.len();
    if n < 2 || !frequency.is_finite() {
        return 0.0;
    }
    let omega = 2.0 * PI * frequency / f64::from(SAMPLE_RATE);
    let coeff = 2.0 * omega.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    let (mut energy, mut sum_w, mut sum_w2) = (0.0f64, 0.0f64, 0.0f64);
    let denom = (n - 1) as f64;
    for (i, &x) in samples.iter().enumerate() {
        let w = 0.5 - 0.5 * (2.0 * PI * i as f64 / denom).cos();
        let y = w * f64::from(x);
        energy += y * y;
        sum_w += w;
        sum_w2 += w * w;
        let s0 = y + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    if energy <= 0.0 || sum_w <= 0.0 {
        return 0.0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    // A sine of amplitude A: power ≈ (A·Σw/2)², energy ≈ A²·Σw²/2.
    (2.0 * sum_w2 * power / (energy * sum_w * sum_w)).max(0.0)
}

/// The frequency (Hz, to 1 Hz) between `low` and `high` where `samples`
/// has the most energy, with its [`tone_ratio`]; `None` for silence or an
/// empty range.
///
/// A coarse 10 Hz scan, then a 1 Hz refinement around the best bin: meant
/// for tests ("the received audio is a 440 Hz tone"), not for real time.
pub fn dominant_frequency(samples: &[i16], low: f64, high: f64) -> Option<(f64, f64)> {
    if !(low.is_finite() && high.is_finite()) || low > high {
        return None;
    }
    let best = |from: f64, to: f64, step: f64| {
        let mut best: Option<(f64, f64)> = None;
        let mut f = from;
        while f <= to {
            let r = tone_ratio(samples, f);
            if best.is_none_or(|(_, br)| r > br) {
                best = Some((f, r));
            }
            f += step;
        }
        best
    };
    let (coarse, _) = best(low, high, 10.0)?;
    let found = best((coarse - 10.0).max(low), (coarse + 10.0).min(high), 1.0)?;
    (found.1 > 0.0).then_some(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(frequency: f64, seconds: usize) -> Vec<i16> {
        let mut t = ToneSource::new(frequency);
        let mut v = vec![0; SAMPLE_RATE as usize * seconds];
        t.fill(&mut v);
        v
    }

    #[test]
    fn frames_continue_the_phase_and_reach_the_amplitude() {
        let mut t = ToneSource::default();
        let a = t.next_frame();
        let b = t.next_frame();
        let mut whole = ToneSource::default();
        let mut both = [0i16; 320];
        whole.fill(&mut both);
        assert_eq!(&both[..160], &a[..]);
        assert_eq!(&both[160..], &b[..]);
        let peak = both.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!((15900..=16000).contains(&peak), "{peak}");
        let quiet = ToneSource::new(1000.0).with_amplitude(-100).next_frame();
        assert!(quiet.iter().all(|s| s.abs() <= 100));
    }

    #[test]
    fn detector_finds_the_tone_and_nothing_else() {
        let a = tone(440.0, 1);
        assert!(tone_ratio(&a, 440.0) > 0.95, "{}", tone_ratio(&a, 440.0));
        assert!(tone_ratio(&a, 460.0) < 0.05);
        assert!(tone_ratio(&a, 1000.0) < 0.01);
        let (f, r) = dominant_frequency(&a, 100.0, 3900.0).unwrap();
        assert_eq!(f, 440.0);
        assert!(r > 0.95);
        let b = tone(1234.0, 1);
        assert_eq!(dominant_frequency(&b, 100.0, 3900.0).unwrap().0, 1234.0);
        // Amplitude does not matter; silence has no tone.
        let soft: Vec<i16> = a.iter().map(|s| s / 100).collect();
        assert!(tone_ratio(&soft, 440.0) > 0.95);
        assert_eq!(tone_ratio(&[0; 800], 440.0), 0.0);
        assert_eq!(dominant_frequency(&[0; 800], 100.0, 3900.0), None);
        assert_eq!(tone_ratio(&[], 440.0), 0.0);
    }

    #[test]
    fn detector_through_g711() {
        use crate::Codec;
        for codec in Codec::ALL {
            let a: Vec<i16> = tone(440.0, 1)
                .into_iter()
                .map(|s| codec.decode_sample(codec.encode_sample(s)))
                .collect();
            assert!(tone_ratio(&a, 440.0) > 0.95, "{codec}");
        }
    }
}
