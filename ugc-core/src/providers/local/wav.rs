//! Reading the header of the WAV an engine wrote: proof that it is audio, and its duration.
//!
//! Engines streaming to a pipe cannot seek back to write the final sizes: espeak-ng leaves
//! placeholders (`0x7FFFF000`, some builds 0 or `0xFFFFFFFF`), text2wave leaves 0. The data
//! then runs to the end of the output, and the sizes are fixed from what arrived.

use std::fmt;
use std::time::Duration;

/// Why the output is not a usable WAV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WavError {
    /// It does not start with `RIFF....WAVE`.
    NotRiffWave,
    /// A chunk runs past the end, or there is no `data` chunk.
    Truncated,
    /// `data` comes before `fmt `, or `fmt ` is too short.
    NoFormat,
    /// The format gives no byte rate, channels or sample rate.
    BadFormat,
}

impl fmt::Display for WavError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WavError::NotRiffWave => "output is not a RIFF/WAVE file",
            WavError::Truncated => "WAV output is truncated",
            WavError::NoFormat => "WAV output has no format chunk before its data",
            WavError::BadFormat => "WAV output has an invalid format chunk",
        })
    }
}

/// The parts of a WAV header that matter here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    byte_rate: u32,
    block_align: u16,
    /// Offset of the first audio byte.
    data_start: usize,
    /// Audio bytes as declared by the header.
    declared: u32,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn layout(wav: &[u8]) -> Result<Layout, WavError> {
    if wav.get(0..4) != Some(b"RIFF") || wav.get(8..12) != Some(b"WAVE") {
        return Err(WavError::NotRiffWave);
    }
    let mut format: Option<(u32, u16)> = None;
    let mut at = 12usize;
    loop {
        let id = wav.get(at..at + 4).ok_or(WavError::Truncated)?;
        let size = u32_at(wav, at + 4).ok_or(WavError::Truncated)?;
        let body = at + 8;
        if id == b"data" {
            let (byte_rate, block_align) = format.ok_or(WavError::NoFormat)?;
            return Ok(Layout {
                byte_rate,
                block_align,
                data_start: body,
                declared: size,
            });
        }
        if id == b"fmt " {
            if size < 16 {
                return Err(WavError::NoFormat);
            }
            let field = |off| u16_at(wav, body + off).ok_or(WavError::Truncated);
            let (channels, block_align) = (field(2)?, field(12)?);
            let sample_rate = u32_at(wav, body + 4).ok_or(WavError::Truncated)?;
            let byte_rate = u32_at(wav, body + 8).ok_or(WavError::Truncated)?;
            if channels == 0 || sample_rate == 0 || byte_rate == 0 || block_align == 0 {
                return Err(WavError::BadFormat);
            }
            format = Some((byte_rate, block_align));
        }
        // Chunks are padded to an even size.
        let skip = usize::try_from(size).map_err(|_| WavError::Truncated)?;
        at = body
            .checked_add(skip + (skip & 1))
            .filter(|next| *next <= wav.len())
            .ok_or(WavError::Truncated)?;
    }
}

/// Checks that `wav` is a RIFF/WAVE file with a format and a data chunk, fixes sizes an engine
/// could not write, and returns the play length.
///
/// When the declared data size is 0 or more than arrived (a streamed header), the data is
/// taken to run to the end, cut to whole sample frames, and both RIFF and data sizes are
/// rewritten so that any player accepts the file.
pub(super) fn finalize(wav: &mut Vec<u8>) -> Result<Duration, WavError> {
    let l = layout(wav)?;
    let arrived = wav.len() - l.data_start;
    let declared = usize::try_from(l.declared).unwrap_or(usize::MAX);
    let audio = if declared == 0 || declared > arrived {
        let whole = arrived - arrived % usize::from(l.block_align);
        wav.truncate(l.data_start + whole);
        if let (Ok(riff), Ok(data)) = (u32::try_from(wav.len() - 8), u32::try_from(whole)) {
            wav[4..8].copy_from_slice(&riff.to_le_bytes());
            wav[l.data_start - 4..l.data_start].copy_from_slice(&data.to_le_bytes());
        }
        whole
    } else {
        declared
    };
    let nanos = audio as u128 * 1_000_000_000 / u128::from(l.byte_rate);
    Ok(Duration::from_nanos(
        u64::try_from(nanos).unwrap_or(u64::MAX),
    ))
}

/// Removes the second header text2wave appends to a piped WAV: it writes the header again at
/// the end, where a pipe leaves its "seek to the start" (44 bytes, `RIFF....WAVEfmt `).
pub(super) fn strip_trailing_header(wav: &mut Vec<u8>) {
    const HEADER: usize = 44;
    let Some(tail_start) = wav.len().checked_sub(HEADER) else {
        return;
    };
    // Only when a full header precedes it too: never eat into a short file.
    if tail_start >= HEADER
        && wav.get(tail_start..tail_start + 4) == Some(b"RIFF")
        && wav.get(tail_start + 8..tail_start + 16) == Some(b"WAVEfmt ")
    {
        wav.truncate(tail_start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mono 16-bit 8 kHz header declaring `data_size`, followed by `samples` zero samples.
    fn wav(data_size: u32, samples: usize) -> Vec<u8> {
        let mut w = Vec::new();
        w.extend_from_slice(b"RIFF");
        w.extend_from_slice(&data_size.wrapping_add(36).to_le_bytes());
        w.extend_from_slice(b"WAVEfmt ");
        w.extend_from_slice(&16u32.to_le_bytes());
        w.extend_from_slice(&1u16.to_le_bytes());
        w.extend_from_slice(&1u16.to_le_bytes());
        w.extend_from_slice(&8000u32.to_le_bytes());
        w.extend_from_slice(&16000u32.to_le_bytes());
        w.extend_from_slice(&2u16.to_le_bytes());
        w.extend_from_slice(&16u16.to_le_bytes());
        w.extend_from_slice(b"data");
        w.extend_from_slice(&data_size.to_le_bytes());
        w.resize(44 + samples * 2, 0);
        w
    }

    #[test]
    fn a_complete_header_gives_the_declared_duration() {
        let mut w = wav(16000, 8000);
        assert_eq!(finalize(&mut w), Ok(Duration::from_secs(1)));
        assert_eq!(w.len(), 44 + 16000);
    }

    #[test]
    fn streamed_sizes_are_taken_from_the_bytes_that_arrived_and_fixed() {
        for placeholder in [0, 0x7FFF_F000, u32::MAX] {
            let mut w = wav(placeholder, 4000);
            w.push(0); // half a sample frame: cut
            assert_eq!(finalize(&mut w), Ok(Duration::from_millis(500)));
            assert_eq!(w.len(), 44 + 8000);
            assert_eq!(u32_at(&w, 40), Some(8000));
            assert_eq!(u32_at(&w, 4), Some(36 + 8000));
        }
    }

    #[test]
    fn non_wav_output_is_refused() {
        assert_eq!(finalize(&mut b"hello".to_vec()), Err(WavError::NotRiffWave));
        assert_eq!(finalize(&mut Vec::new()), Err(WavError::NotRiffWave));
        let mut no_data = wav(0, 0);
        no_data.truncate(36);
        assert_eq!(finalize(&mut no_data), Err(WavError::Truncated));
        let mut zero_rate = wav(0, 10);
        zero_rate[28..32].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(finalize(&mut zero_rate), Err(WavError::BadFormat));
    }

    #[test]
    fn festivals_trailing_header_is_stripped_once() {
        let mut w = wav(0, 100);
        let trailer = wav(200, 0);
        w.extend_from_slice(&trailer);
        strip_trailing_header(&mut w);
        assert_eq!(w.len(), 44 + 200);
        strip_trailing_header(&mut w);
        assert_eq!(w.len(), 44 + 200);
        let mut lone = wav(0, 0);
        strip_trailing_header(&mut lone);
        assert_eq!(lone.len(), 44);
    }
}
