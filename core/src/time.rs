//! Time as an argument: the core never reads a clock. Drivers convert their
//! clock (std `Instant`, smoltcp `Instant`) into these.

use core::ops::{Add, Sub};

/// A point in time, in microseconds since an epoch the driver chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Instant {
    micros: i64,
}

impl Instant {
    /// The epoch.
    pub const ZERO: Self = Self { micros: 0 };

    /// From microseconds since the epoch.
    pub const fn from_micros(micros: i64) -> Self {
        Self { micros }
    }

    /// From milliseconds since the epoch.
    pub const fn from_millis(millis: i64) -> Self {
        Self {
            micros: millis.saturating_mul(1000),
        }
    }

    /// Microseconds since the epoch.
    pub const fn total_micros(&self) -> i64 {
        self.micros
    }

    /// Time since `earlier` (zero when `earlier` is later).
    pub fn saturating_since(&self, earlier: Self) -> Duration {
        Duration::from_micros(
            u64::try_from(self.micros.saturating_sub(earlier.micros)).unwrap_or(0),
        )
    }
}

/// A length of time, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Duration {
    micros: u64,
}

impl Duration {
    /// No time.
    pub const ZERO: Self = Self { micros: 0 };

    /// From microseconds.
    pub const fn from_micros(micros: u64) -> Self {
        Self { micros }
    }

    /// From milliseconds.
    pub const fn from_millis(millis: u64) -> Self {
        Self {
            micros: millis.saturating_mul(1000),
        }
    }

    /// From seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Self {
            micros: secs.saturating_mul(1_000_000),
        }
    }

    /// Microseconds.
    pub const fn total_micros(&self) -> u64 {
        self.micros
    }

    /// Milliseconds.
    pub const fn total_millis(&self) -> u64 {
        self.micros / 1000
    }

    /// `self * factor`, saturating.
    pub const fn saturating_mul(self, factor: u64) -> Self {
        Self {
            micros: self.micros.saturating_mul(factor),
        }
    }
}

impl Add<Duration> for Instant {
    type Output = Self;
    fn add(self, rhs: Duration) -> Self {
        let delta = i64::try_from(rhs.micros).unwrap_or(i64::MAX);
        Self {
            micros: self.micros.saturating_add(delta),
        }
    }
}

impl Sub for Instant {
    type Output = Duration;
    fn sub(self, rhs: Self) -> Duration {
        self.saturating_since(rhs)
    }
}

impl Add for Duration {
    type Output = Self;
    fn add(self, rhs: Self) -> Self {
        Self {
            micros: self.micros.saturating_add(rhs.micros),
        }
    }
}

#[cfg(feature = "std")]
impl From<Duration> for std::time::Duration {
    fn from(d: Duration) -> Self {
        Self::from_micros(d.micros)
    }
}
