//! Audio checked by content: tone WAV files to play into calls, a reader for
//! the WAV files peers record (tolerant of the sizes linphonec's recorder
//! writes), and a Goertzel filter that says how much of a stretch of audio
//! is one frequency.
//!
//! ```
//! use sigil_testkit::audio::{tone, tone_ratio, rms};
//!
//! let samples = tone(1000.0, 0.5, 8000);
//! assert!(tone_ratio(&samples, 8000, 1000.0) > 0.95);
//! assert!(tone_ratio(&samples, 8000, 600.0) < 0.01);
//! assert!(rms(&samples) > 8000.0);
//! ```

use std::path::Path;

/// A decoded 16-bit PCM WAV file (channels interleaved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wav {
    /// Samples per second.
    pub rate: u32,
    /// Number of channels.
    pub channels: u16,
    /// The samples, interleaved when there are several channels.
    pub samples: Vec<i16>,
}

impl Wav {
    /// Duration in seconds.
    pub fn seconds(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.channels.max(1)) / f64::from(self.rate.max(1))
    }
}

/// `seconds` of a sine at `freq` Hz, amplitude 12000 (about −8.7 dBFS), at
/// `rate` samples per second.
pub fn tone(freq: f64, seconds: f64, rate: u32) -> Vec<i16> {
    let n = (seconds * f64::from(rate)).round() as usize;
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            (12000.0 * (2.0 * std::f64::consts::PI * freq * t).sin()).round() as i16
        })
        .collect()
}

/// Writes `samples` as a 16-bit mono PCM WAV file at `rate`.
///
/// # Panics
///
/// When the file cannot be written.
pub fn write_wav(path: &Path, rate: u32, samples: &[i16]) {
    let data_len = u32::try_from(samples.len() * 2).expect("WAV data under 4 GiB");
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes()); // byte rate
    out.extend_from_slice(&2u16.to_le_bytes()); // block align
    out.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for sample in samples {
        out.extend_from_slice(&sample.to_le_bytes());
    }
    std::fs::write(path, out).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// Writes a mono 16-bit WAV of `seconds` of a `freq` Hz tone at `rate`.
pub fn write_tone_wav(path: &Path, freq: f64, seconds: f64, rate: u32) {
    write_wav(path, rate, &tone(freq, seconds, rate));
}

/// Reads a 16-bit PCM WAV file. A `data` chunk that claims more bytes than
/// the file holds is read up to the end of the file: linphonec 5.1's
/// recorder (MSFileRec) writes a `data` size 44 bytes larger than what follows.
///
/// # Errors
///
/// A description when the file cannot be read or is not 16-bit PCM WAV.
pub fn read_wav(path: &Path) -> Result<Wav, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(format!("{} is not a RIFF/WAVE file", path.display()));
    }
    let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]);
    let u32_at =
        |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let mut at = 12;
    let mut format = None;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = u32_at(at + 4) as usize;
        let body = at + 8;
        if id == b"fmt " {
            if body + 16 > bytes.len() {
                return Err(format!("{}: truncated fmt chunk", path.display()));
            }
            let (tag, channels, rate, bits) = (
                u16_at(body),
                u16_at(body + 2),
                u32_at(body + 4),
                u16_at(body + 14),
            );
            if tag != 1 || bits != 16 {
                return Err(format!(
                    "{}: format tag {tag}, {bits} bits: only 16-bit PCM is read",
                    path.display()
                ));
            }
            format = Some((channels, rate));
        } else if id == b"data" {
            let (channels, rate) =
                format.ok_or_else(|| format!("{}: data before fmt", path.display()))?;
            let end = body.saturating_add(len).min(bytes.len());
            let samples = bytes[body..end]
                .chunks_exact(2)
                .map(|pair| i16::from_le_bytes([pair[0], pair[1]]))
                .collect();
            return Ok(Wav {
                rate,
                channels,
                samples,
            });
        }
        at = body.saturating_add(len + (len & 1));
    }
    Err(format!("{}: no data chunk", path.display()))
}

/// Root mean square of `samples`.
pub fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / samples.len() as f64).sqrt()
}

/// The share of the energy of `samples` (mono, `rate` per second) that lies
/// at `freq` Hz, by the Goertzel algorithm: about 1 for a pure tone at that
/// frequency, about 0 for silence, noise or another tone. Use stretches of at
/// least 0.1 s (the bin width is rate / length).
pub fn tone_ratio(samples: &[i16], rate: u32, freq: f64) -> f64 {
    let n = samples.len();
    if n == 0 {
        return 0.0;
    }
    let coeff = 2.0 * (2.0 * std::f64::consts::PI * freq / f64::from(rate)).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    let energy: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    if energy == 0.0 {
        return 0.0;
    }
    // A full-scale sine of amplitude A over n samples gives power (A n / 2)^2
    // and energy A^2 n / 2, hence the n / 2.
    power / (energy * n as f64 / 2.0)
}

/// How many seconds of `wav` (first channel) are `freq` Hz: the number of
/// 0.1 s windows whose [`tone_ratio`] is at least 0.8 and whose [`rms`] is at
/// least 1000 (so silence never counts), times 0.1.
pub fn tone_seconds(wav: &Wav, freq: f64) -> f64 {
    let channels = usize::from(wav.channels.max(1));
    let mono: Vec<i16> = wav.samples.iter().step_by(channels).copied().collect();
    let window = (wav.rate / 10).max(1) as usize;
    let hits = mono
        .chunks_exact(window)
        .filter(|w| rms(w) >= 1000.0 && tone_ratio(w, wav.rate, freq) >= 0.8)
        .count();
    hits as f64 * 0.1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_tone_reads_back_and_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.wav");
        write_tone_wav(&path, 1000.0, 1.0, 8000);
        let wav = read_wav(&path).unwrap();
        assert_eq!((wav.rate, wav.channels, wav.samples.len()), (8000, 1, 8000));
        assert!((tone_seconds(&wav, 1000.0) - 1.0).abs() < 1e-9);
        assert_eq!(tone_seconds(&wav, 600.0), 0.0);
    }

    #[test]
    fn a_data_chunk_longer_than_the_file_is_read_to_the_end() {
        // What linphonec's recorder leaves: the data size counts 44 bytes too many.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.wav");
        write_wav(&path, 8000, &[1, 2, 3]);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[40..44].copy_from_slice(&(6u32 + 44).to_le_bytes());
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(read_wav(&path).unwrap().samples, vec![1, 2, 3]);
    }

    #[test]
    fn silence_and_other_tones_are_not_the_tone() {
        assert_eq!(tone_ratio(&[0; 800], 8000, 1000.0), 0.0);
        assert!(tone_ratio(&tone(600.0, 0.1, 8000), 8000, 1000.0) < 0.01);
    }
}
