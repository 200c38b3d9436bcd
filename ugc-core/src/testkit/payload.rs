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

/// An ISO base media (MP4) box sequence: `ftyp`, `free`, and an `mdat` of `payload` bytes.
/// Every box has a correct size, so box parsers and content sniffers accept it.
///
/// ```
/// let mp4 = ugc_core::testkit::mp4_boxes(16);
/// assert_eq!(&mp4[4..8], b"ftyp");
/// assert_eq!(mp4.len(), 24 + 8 + 8 + 16);
/// ```
pub fn mp4_boxes(payload: usize) -> Vec<u8> {
    let mut mp4 = Vec::with_capacity(40 + payload);
    mp4.extend_from_slice(&24u32.to_be_bytes());
    mp4.extend_from_slice(b"ftypisom");
    mp4.extend_from_slice(&0x200u32.to_be_bytes());
    mp4.extend_from_slice(b"isommp41");
    mp4.extend_from_slice(&8u32.to_be_bytes());
    mp4.extend_from_slice(b"free");
    let mdat = u32::try_from(8 + payload).unwrap_or(u32::MAX);
    mp4.extend_from_slice(&mdat.to_be_bytes());
    mp4.extend_from_slice(b"mdat");
    mp4.resize(40 + payload, 0);
    mp4
}

/// One silent MPEG-1 Layer III frame (128 kbit/s, 44.1 kHz, joint stereo): 417 bytes that
/// MP3 decoders play as 26 ms of silence.
///
/// ```
/// let mp3 = ugc_core::testkit::mp3_frame();
/// assert_eq!((mp3[0], mp3[1] & 0xE0, mp3.len()), (0xFF, 0xE0, 417));
/// ```
pub fn mp3_frame() -> Vec<u8> {
    // Sync + MPEG-1 + Layer III + no CRC; bitrate 128k, 44.1 kHz, no padding; joint stereo.
    let mut frame = vec![0xFF, 0xFB, 0x90, 0x44];
    frame.resize(144 * 128_000 / 44_100, 0);
    frame
}

/// A valid 1×1 transparent PNG (signature, IHDR, IDAT, IEND with correct CRCs).
///
/// ```
/// assert_eq!(&ugc_core::testkit::png_1x1()[1..4], b"PNG");
/// ```
pub fn png_1x1() -> Vec<u8> {
    const PNG: [u8; 67] = [
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F,
        0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00,
        0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49,
        0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
    ];
    PNG.to_vec()
}
