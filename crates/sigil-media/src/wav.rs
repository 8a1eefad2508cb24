//! WAV files of call audio: 8000 Hz, mono, 16-bit PCM, read and written.
//!
//! The reader walks the RIFF chunks, skips what it does not need (`LIST`,
//! `fact`, `cue `, …) and refuses any other audio format with an error
//! that says what the file is and how to convert it. It never reads more
//! than [`MAX_WAV_SECONDS`] of audio. The [`WavWriter`] appends frames and
//! writes the real sizes into the header when finished.

use std::io::{Read, Seek, SeekFrom, Write};

use crate::codec::SAMPLE_RATE;
use crate::MediaError;

/// Longest audio the reader accepts: one hour.
pub const MAX_WAV_SECONDS: u64 = 3600;
/// Largest `data` chunk accepted, in bytes (one hour at 8 kHz, 16-bit).
pub const MAX_WAV_DATA: usize = (MAX_WAV_SECONDS * SAMPLE_RATE as u64 * 2) as usize;
/// Largest file [`read_wav_from`] reads: the audio plus 1 MiB of other chunks.
pub const MAX_WAV_FILE: usize = MAX_WAV_DATA + (1 << 20);

const FORMAT_PCM: u16 = 1;
const FORMAT_EXTENSIBLE: u16 = 0xFFFE;
const HEADER_LEN: usize = 44;
/// Size written by [`WavWriter`] until it is finished: "unknown, to the end".
const SIZE_UNKNOWN: u32 = u32::MAX;

/// The `fmt ` chunk fields that matter here.
#[derive(Debug, Clone, Copy)]
struct Format {
    tag: u16,
    channels: u16,
    sample_rate: u32,
    bits: u16,
}

impl Format {
    fn describe(&self) -> String {
        let channels = match self.channels {
            1 => "mono".to_string(),
            2 => "stereo".to_string(),
            n => format!("{n}-channel"),
        };
        let shape = format!("{} Hz {channels} {}-bit", self.sample_rate, self.bits);
        match self.tag {
            FORMAT_PCM => shape,
            3 => format!("IEEE float {shape}"),
            6 => format!("A-law {shape}"),
            7 => format!("µ-law {shape}"),
            0x11 => format!("IMA ADPCM {shape}"),
            0x55 => format!("MP3 {shape}"),
            tag => format!("format {tag:#06x} {shape}"),
        }
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Reads a WAV file from memory: 8000 Hz mono 16-bit PCM samples.
///
/// `fmt ` must be format 1 (PCM), or WAVE_FORMAT_EXTENSIBLE with the PCM
/// sub-format; unknown chunks are skipped. A `data` size of 0xFFFFFFFF (a
/// recording that was never finished) means "to the end of the file".
pub fn read_wav(bytes: &[u8]) -> Result<Vec<i16>, MediaError> {
    if bytes.len() < 12 {
        return Err(MediaError::WavNotWave {
            reason: "shorter than a RIFF header",
        });
    }
    if &bytes[..4] != b"RIFF" {
        let reason = if &bytes[..4] == b"RIFX" || &bytes[..4] == b"RF64" {
            "RIFX/RF64 files are not supported, only RIFF"
        } else {
            "no RIFF header"
        };
        return Err(MediaError::WavNotWave { reason });
    }
    if &bytes[8..12] != b"WAVE" {
        return Err(MediaError::WavNotWave {
            reason: "a RIFF file, but not WAVE",
        });
    }
    let mut format: Option<Format> = None;
    let mut at = 12;
    while at < bytes.len() {
        let (Some(id), Some(size)) = (bytes.get(at..at + 4), u32_at(bytes, at + 4)) else {
            return Err(MediaError::WavTruncated {
                what: "chunk header",
                offset: at,
            });
        };
        let body = at + 8;
        let size = size as usize;
        match id {
            b"fmt " => {
                let chunk =
                    bytes
                        .get(body..body.saturating_add(size))
                        .ok_or(MediaError::WavTruncated {
                            what: "fmt chunk",
                            offset: at,
                        })?;
                format = Some(parse_format(chunk, at)?);
            }
            b"data" => {
                let format = format.ok_or(MediaError::WavMissingChunk { chunk: "fmt " })?;
                check_format(&format)?;
                let available = bytes.len() - body;
                let len = if size == SIZE_UNKNOWN as usize {
                    available & !1
                } else if size > available {
                    return Err(MediaError::WavTruncated {
                        what: "data chunk",
                        offset: at,
                    });
                } else {
                    size
                };
                if len % 2 != 0 {
                    return Err(MediaError::WavOddData { len });
                }
                if len > MAX_WAV_DATA {
                    return Err(MediaError::WavTooLong {
                        seconds: len as u64 / 2 / u64::from(SAMPLE_RATE),
                        max_seconds: MAX_WAV_SECONDS,
                    });
                }
                let data = &bytes[body..body + len];
                return Ok(data
                    .chunks_exact(2)
                    .map(|s| i16::from_le_bytes([s[0], s[1]]))
                    .collect());
            }
            _ => {}
        }
        // Chunks are padded to an even length.
        at = body.saturating_add(size).saturating_add(size & 1);
    }
    Err(MediaError::WavMissingChunk {
        chunk: if format.is_some() { "data" } else { "fmt " },
    })
}

fn parse_format(chunk: &[u8], offset: usize) -> Result<Format, MediaError> {
    let truncated = MediaError::WavTruncated {
        what: "fmt chunk",
        offset,
    };
    let (Some(mut tag), Some(channels), Some(sample_rate), Some(bits)) = (
        u16_at(chunk, 0),
        u16_at(chunk, 2),
        u32_at(chunk, 4),
        u16_at(chunk, 14),
    ) else {
        return Err(truncated);
    };
    if tag == FORMAT_EXTENSIBLE {
        // cbSize(2) validBits(2) channelMask(4), then the sub-format GUID
        // whose first two bytes are the format tag.
        tag = u16_at(chunk, 24).ok_or(truncated)?;
    }
    Ok(Format {
        tag,
        channels,
        sample_rate,
        bits,
    })
}

fn check_format(format: &Format) -> Result<(), MediaError> {
    if format.tag == FORMAT_PCM
        && format.channels == 1
        && format.sample_rate == SAMPLE_RATE
        && format.bits == 16
    {
        Ok(())
    } else {
        Err(MediaError::WavFormat {
            found: format.describe(),
        })
    }
}

/// Reads a WAV file from `reader` (at most [`MAX_WAV_FILE`] bytes) as
/// [`read_wav`] does.
pub fn read_wav_from<R: Read>(reader: R) -> Result<Vec<i16>, MediaError> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_WAV_FILE as u64 + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() > MAX_WAV_FILE {
        return Err(MediaError::WavTooLong {
            seconds: bytes.len() as u64 / 2 / u64::from(SAMPLE_RATE),
            max_seconds: MAX_WAV_SECONDS,
        });
    }
    read_wav(&bytes)
}

/// Writes 8000 Hz mono 16-bit PCM as a WAV file to any `Write + Seek`.
///
/// The header is written first with sizes meaning "unknown" (which
/// [`read_wav`] reads to the end of the file), frames are appended as they
/// come, and [`WavWriter::finish`] writes the real sizes. Writing stops with
/// [`MediaError::WavTooLong`] at the RIFF limit of 4 GiB.
#[derive(Debug)]
pub struct WavWriter<W: Write + Seek> {
    inner: W,
    start: u64,
    data_bytes: u64,
}

impl<W: Write + Seek> WavWriter<W> {
    /// Starts a WAV file at the current position of `inner`.
    pub fn new(mut inner: W) -> Result<Self, MediaError> {
        let start = inner.stream_position()?;
        let mut header = [0u8; HEADER_LEN];
        header[..4].copy_from_slice(b"RIFF");
        header[4..8].copy_from_slice(&SIZE_UNKNOWN.to_le_bytes());
        header[8..16].copy_from_slice(b"WAVEfmt ");
        header[16..20].copy_from_slice(&16u32.to_le_bytes());
        header[20..22].copy_from_slice(&FORMAT_PCM.to_le_bytes());
        header[22..24].copy_from_slice(&1u16.to_le_bytes());
        header[24..28].copy_from_slice(&SAMPLE_RATE.to_le_bytes());
        header[28..32].copy_from_slice(&(SAMPLE_RATE * 2).to_le_bytes());
        header[32..34].copy_from_slice(&2u16.to_le_bytes());
        header[34..36].copy_from_slice(&16u16.to_le_bytes());
        header[36..40].copy_from_slice(b"data");
        header[40..44].copy_from_slice(&SIZE_UNKNOWN.to_le_bytes());
        inner.write_all(&header)?;
        Ok(WavWriter {
            inner,
            start,
            data_bytes: 0,
        })
    }

    /// Appends samples (a frame or any number).
    pub fn write_samples(&mut self, samples: &[i16]) -> Result<(), MediaError> {
        let bytes = 2 * samples.len() as u64;
        if self.data_bytes + bytes > u64::from(u32::MAX - 36) {
            return Err(MediaError::WavTooLong {
                seconds: (self.data_bytes + bytes) / 2 / u64::from(SAMPLE_RATE),
                max_seconds: u64::from(u32::MAX - 36) / 2 / u64::from(SAMPLE_RATE),
            });
        }
        let mut buf = [0u8; 512];
        for chunk in samples.chunks(buf.len() / 2) {
            for (b, s) in buf.chunks_exact_mut(2).zip(chunk) {
                b.copy_from_slice(&s.to_le_bytes());
            }
            self.inner.write_all(&buf[..2 * chunk.len()])?;
        }
        self.data_bytes += bytes;
        Ok(())
    }

    /// Samples written so far.
    pub fn samples_written(&self) -> u64 {
        self.data_bytes / 2
    }

    /// Writes the real sizes into the header, leaves the position at the
    /// end of the file and hands back the writer.
    pub fn finish(mut self) -> Result<W, MediaError> {
        // Bounded by write_samples: fits in u32.
        let data = self.data_bytes as u32;
        let end = self.inner.stream_position()?;
        self.inner.seek(SeekFrom::Start(self.start + 4))?;
        self.inner.write_all(&(data + 36).to_le_bytes())?;
        self.inner.seek(SeekFrom::Start(self.start + 40))?;
        self.inner.write_all(&data.to_le_bytes())?;
        self.inner.seek(SeekFrom::Start(end))?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A WAV header built by hand, field by field.
    fn wav(tag: u16, channels: u16, rate: u32, bits: u16, extra: &[u8], data: &[u8]) -> Vec<u8> {
        let mut fmt = Vec::new();
        fmt.extend_from_slice(&tag.to_le_bytes());
        fmt.extend_from_slice(&channels.to_le_bytes());
        fmt.extend_from_slice(&rate.to_le_bytes());
        let block = channels * bits / 8;
        fmt.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
        fmt.extend_from_slice(&block.to_le_bytes());
        fmt.extend_from_slice(&bits.to_le_bytes());
        let mut v = b"RIFF\0\0\0\0WAVE".to_vec();
        v.extend_from_slice(b"fmt ");
        v.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
        v.extend_from_slice(&fmt);
        v.extend_from_slice(extra);
        v.extend_from_slice(b"data");
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(data);
        let riff = (v.len() - 8) as u32;
        v[4..8].copy_from_slice(&riff.to_le_bytes());
        v
    }

    #[test]
    fn reads_a_hand_built_file_skipping_list() {
        // A LIST/INFO chunk of odd length (padded) before the data.
        let list = b"LIST\x07\0\0\0INFOabc\0";
        let bytes = wav(1, 1, 8000, 16, list, &[0x01, 0x00, 0xFF, 0xFF, 0x00, 0x80]);
        assert_eq!(read_wav(&bytes).unwrap(), vec![1, -1, i16::MIN]);
        assert_eq!(
            read_wav_from(Cursor::new(&bytes)).unwrap(),
            vec![1, -1, i16::MIN]
        );
    }

    #[test]
    fn refuses_other_formats_saying_what_they_are() {
        let err = read_wav(&wav(1, 2, 44100, 16, &[], &[0; 8])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "44100 Hz stereo 16-bit: need 8000 Hz mono 16-bit PCM \
             (convert with: sox in.wav -r 8000 -c 1 -b 16 out.wav)"
        );
        let err = read_wav(&wav(3, 1, 8000, 32, &[], &[0; 8])).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("IEEE float 8000 Hz mono 32-bit:"),
            "{err}"
        );
        let err = read_wav(&wav(7, 1, 8000, 8, &[], &[0; 8])).unwrap_err();
        assert!(
            err.to_string().starts_with("µ-law 8000 Hz mono 8-bit:"),
            "{err}"
        );
        let err = read_wav(&wav(1, 1, 16000, 16, &[], &[0; 8])).unwrap_err();
        assert!(
            err.to_string().starts_with("16000 Hz mono 16-bit:"),
            "{err}"
        );
    }

    #[test]
    fn accepts_extensible_pcm() {
        let mut bytes = b"RIFF\0\0\0\0WAVEfmt \x28\0\0\0".to_vec();
        bytes.extend_from_slice(&0xFFFEu16.to_le_bytes());
        bytes.extend_from_slice(&1u16.to_le_bytes());
        bytes.extend_from_slice(&8000u32.to_le_bytes());
        bytes.extend_from_slice(&16000u32.to_le_bytes());
        bytes.extend_from_slice(&[2, 0, 16, 0, 22, 0, 16, 0, 4, 0, 0, 0]);
        bytes.extend_from_slice(&[
            1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71,
        ]);
        bytes.extend_from_slice(b"data\x02\0\0\0\x05\0");
        assert_eq!(read_wav(&bytes).unwrap(), vec![5]);
    }

    #[test]
    fn truncated_and_broken_files() {
        let good = wav(1, 1, 8000, 16, &[], &[1, 0, 2, 0]);
        for cut in 0..good.len() {
            assert!(read_wav(&good[..cut]).is_err(), "cut at {cut}");
        }
        assert!(matches!(
            read_wav(b"RIFX\0\0\0\0WAVE"),
            Err(MediaError::WavNotWave { .. })
        ));
        assert!(matches!(
            read_wav(b"RIFF\0\0\0\0AVI "),
            Err(MediaError::WavNotWave { .. })
        ));
        assert!(matches!(
            read_wav(b"RIFF\0\0\0\0WAVEdata\0\0\0\0"),
            Err(MediaError::WavMissingChunk { chunk: "fmt " })
        ));
        let no_data = &good[..36];
        assert!(matches!(
            read_wav(no_data),
            Err(MediaError::WavMissingChunk { chunk: "data" })
        ));
        let mut odd = wav(1, 1, 8000, 16, &[], &[1, 0, 2]);
        odd.push(0);
        assert!(matches!(
            read_wav(&odd),
            Err(MediaError::WavOddData { len: 3 })
        ));
        // A huge declared chunk before the data does not make us allocate.
        let mut huge = b"RIFF\0\0\0\0WAVEjunk\xF0\xFF\xFF\xFF".to_vec();
        huge.extend_from_slice(&[0; 16]);
        assert!(read_wav(&huge).is_err());
    }

    #[test]
    fn too_long_is_refused() {
        let mut bytes = wav(1, 1, 8000, 16, &[], &[]);
        let n = bytes.len();
        bytes[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
        bytes.resize(n + MAX_WAV_DATA + 2, 0);
        assert!(matches!(
            read_wav(&bytes),
            Err(MediaError::WavTooLong {
                seconds: 3600,
                max_seconds: 3600
            })
        ));
    }

    #[test]
    fn writer_round_trips_and_patches_sizes() {
        let samples: Vec<i16> = (0..1000).map(|i| (i * 37 - 5000) as i16).collect();
        let mut w = WavWriter::new(Cursor::new(Vec::new())).unwrap();
        w.write_samples(&samples[..160]).unwrap();
        // Unfinished: still readable, "to the end".
        assert_eq!(read_wav(w.inner.get_ref()).unwrap(), &samples[..160]);
        w.write_samples(&samples[160..]).unwrap();
        assert_eq!(w.samples_written(), 1000);
        let bytes = w.finish().unwrap().into_inner();
        assert_eq!(bytes.len(), 44 + 2000);
        assert_eq!(u32_at(&bytes, 4), Some(36 + 2000));
        assert_eq!(u32_at(&bytes, 40), Some(2000));
        // The same header as one built by hand for 2000 bytes of data.
        assert_eq!(bytes[..44], wav(1, 1, 8000, 16, &[], &[0; 2000])[..44]);
        assert_eq!(read_wav(&bytes).unwrap(), samples);
    }
}
