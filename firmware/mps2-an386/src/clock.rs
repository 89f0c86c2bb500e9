//! Milliseconds since boot from SysTick at the 25 MHz system clock (QEMU
//! drives it from real time, without -icount).

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::SYST;
use cortex_m_rt::exception;

/// The mps2-an386 system clock.
const SYSCLK_HZ: u32 = 25_000_000;

static MILLIS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    MILLIS.fetch_add(1, Ordering::Relaxed);
}

/// Starts the 1 ms tick.
pub(crate) fn start(mut syst: SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(SYSCLK_HZ / 1000 - 1);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
}

/// Extends the 32-bit tick count (which wraps after 49 days) to 64 bits.
#[derive(Debug, Default)]
pub(crate) struct Clock {
    last: u32,
    high: u64,
}

impl Clock {
    /// Now, for smoltcp.
    pub(crate) fn now(&mut self) -> smoltcp::time::Instant {
        let ms = MILLIS.load(Ordering::Relaxed);
        if ms < self.last {
            self.high += 1 << 32;
        }
        self.last = ms;
        smoltcp::time::Instant::from_millis((self.high + u64::from(ms)) as i64)
    }
}
