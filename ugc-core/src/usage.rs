//! Measured or estimated consumption of one request: what quotas and budgets count.

use std::ops::{Add, AddAssign};

/// Consumption of a request, in integer units so that accounting is exact.
///
/// ```
/// use ugc_core::Usage;
/// let a = Usage { characters: 120, cost_micros: 1_800, ..Usage::request() };
/// let b = a + a;
/// assert_eq!((b.requests, b.characters, b.cost_micros), (2, 240, 3_600));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Usage {
    /// Number of requests (1 for one generation).
    pub requests: u64,
    /// Characters of input text.
    pub characters: u64,
    /// Milliseconds of audio produced.
    pub audio_millis: u64,
    /// Milliseconds of video produced.
    pub video_millis: u64,
    /// Cost in micro-dollars (1 USD = 1,000,000).
    pub cost_micros: u64,
}

impl Usage {
    /// The usage of one request with nothing else counted.
    pub const fn request() -> Self {
        Self {
            requests: 1,
            characters: 0,
            audio_millis: 0,
            video_millis: 0,
            cost_micros: 0,
        }
    }

    /// Field-wise saturating sum.
    #[must_use]
    pub const fn saturating_add(self, other: Self) -> Self {
        Self {
            requests: self.requests.saturating_add(other.requests),
            characters: self.characters.saturating_add(other.characters),
            audio_millis: self.audio_millis.saturating_add(other.audio_millis),
            video_millis: self.video_millis.saturating_add(other.video_millis),
            cost_micros: self.cost_micros.saturating_add(other.cost_micros),
        }
    }
}

impl Add for Usage {
    type Output = Usage;

    fn add(self, rhs: Usage) -> Usage {
        self.saturating_add(rhs)
    }
}

impl AddAssign for Usage {
    fn add_assign(&mut self, rhs: Usage) {
        *self = self.saturating_add(rhs);
    }
}
