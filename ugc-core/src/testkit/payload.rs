//! Small but well-formed media payloads for test doubles.

/// A mono 16-bit PCM WAV of `millis` of silence at 8 kHz: a file any player accepts.
///
/// ```
/// let wav = ugc_core::testkit::silent_wav(250);
/// assert_eq!(&wav[..4], b"RIFF");
/// assert_eq!(wav.len(), 44 + 2 * 2000);
/// ```
pub fn silent_wav(millis: u32) -> Vec<u8> {
    const RATE: u32 = 8_000;
    // 44 header bytes of a fixed layout; a crate (hound) would add a dependency for this alone.
    let samples = RATE / 1000 * millis;
    let data_len = samples * 2;
    let mut wav = Vec::with_capacity(44 + data_len as usize);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&RATE.to_le_bytes());
    wav.extend_from_slice(&(RATE * 2).to_le_bytes()); // byte rate
    wav.extend_from_slice(&2u16.to_le_bytes()); // block align
    wav.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    wav.resize(44 + data_len as usize, 0);
    wav
}

/// The `ftyp` box that opens an ISO base media (MP4) file: enough for content sniffing.
///
/// ```
/// assert_eq!(&ugc_core::testkit::mp4_header()[4..8], b"ftyp");
/// ```
pub fn mp4_header() -> Vec<u8> {
    let mut mp4 = Vec::with_capacity(24);
    mp4.extend_from_slice(&24u32.to_be_bytes());
    mp4.extend_from_slice(b"ftypisom");
    mp4.extend_from_slice(&0x200u32.to_be_bytes());
    mp4.extend_from_slice(b"isommp41");
    mp4
}
