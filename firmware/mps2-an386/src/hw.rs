//! The board's memory-mapped devices: the only `unsafe` in this crate.
//!
//! Each device is a block of 32-bit registers at a fixed address of QEMU's
//! mps2-an386 machine (hw/arm/mps2.c). An [`Mmio`] can only be made for one
//! of those blocks, and only reads or writes whole, aligned words inside
//! it, so every access below is to a device register that exists.

/// SMSC LAN9118 Ethernet controller (0x100 bytes of registers).
pub(crate) const LAN9118: Mmio = Mmio {
    base: 0x4020_0000,
    len: 0x100,
};

/// CMSDK APB UART0 (0x1000 bytes).
pub(crate) const UART0: Mmio = Mmio {
    base: 0x4000_4000,
    len: 0x1000,
};

/// A block of device registers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mmio {
    base: usize,
    len: usize,
}

impl Mmio {
    fn address(&self, offset: usize) -> *mut u32 {
        // Out-of-block or unaligned offsets are a bug in this crate's
        // drivers (constants), never input from outside: stop there.
        assert!(offset < self.len && offset % 4 == 0, "register offset");
        (self.base + offset) as *mut u32
    }

    /// Reads the register at `offset`.
    #[inline]
    pub(crate) fn read(&self, offset: usize) -> u32 {
        let address = self.address(offset);
        // SAFETY: `address` is an aligned 32-bit register inside one of the
        // device blocks above (checked by `address`), which the machine
        // always maps; a volatile read of it has no effect on Rust memory.
        // Reading a FIFO register pops the FIFO, which is what the driver
        // means to do.
        unsafe { core::ptr::read_volatile(address) }
    }

    /// Writes `value` to the register at `offset`.
    #[inline]
    pub(crate) fn write(&self, offset: usize, value: u32) {
        let address = self.address(offset);
        // SAFETY: as in `read`: an aligned register of a mapped device, not
        // memory any Rust object lives in.
        unsafe { core::ptr::write_volatile(address, value) }
    }
}

/// Stack measurement: the free RAM below the stack is painted at start-up
/// and the deepest word no longer painted tells how much stack was used.
pub(crate) mod stack {
    use core::sync::atomic::{AtomicUsize, Ordering};

    const PAINT: u32 = 0x5354_4143;
    /// How far below `main`'s first frame is painted.
    const DEPTH: usize = 256 * 1024;

    extern "C" {
        // From cortex-m-rt's link.x: end of .bss/.uninit, top of stack.
        static __sheap: u32;
        static _stack_start: u32;
    }

    static PAINTED_FROM: AtomicUsize = AtomicUsize::new(0);

    fn top() -> usize {
        // Only the linker symbol's address is taken, never its value.
        core::ptr::addr_of!(_stack_start) as usize
    }

    /// Paints the unused stack. Call first in `main`, before any interrupt
    /// is enabled (an exception frame pushed below the stack pointer while
    /// painting would be overwritten).
    pub(crate) fn paint() {
        let bottom = core::ptr::addr_of!(__sheap) as usize;
        let sp = cortex_m::register::msp::read() as usize;
        let from = bottom.max(sp.saturating_sub(DEPTH)).next_multiple_of(4);
        let to = sp.saturating_sub(256) & !3;
        let mut a = from;
        while a < to {
            // SAFETY: `a` is an aligned word between the end of all statics
            // (`__sheap`; there is no heap) and 256 bytes below the current
            // stack pointer: RAM no Rust object occupies, with interrupts
            // still disabled so no exception frame lives there.
            unsafe { core::ptr::write_volatile(a as *mut u32, PAINT) };
            a += 4;
        }
        PAINTED_FROM.store(from, Ordering::Relaxed);
    }

    /// The most stack used since `paint`, in bytes.
    pub(crate) fn used() -> usize {
        let from = PAINTED_FROM.load(Ordering::Relaxed);
        if from == 0 {
            return 0;
        }
        let mut a = from;
        let sp = cortex_m::register::msp::read() as usize;
        // SAFETY: reads of aligned words painted by `paint` (or since used
        // as stack), all below the live stack pointer, in mapped RAM.
        while a < sp && unsafe { core::ptr::read_volatile(a as *const u32) } == PAINT {
            a += 4;
        }
        top().saturating_sub(a)
    }
}

extern "C" {
    /// cortex-m-rt's handler for every interrupt nobody claims.
    fn DefaultHandler();
}

/// The device part of the vector table: QEMU's mps2-an386 NVIC has 32
/// external interrupts (UARTs, timers, the LAN9118 on IRQ 13). None is
/// enabled; they all go to cortex-m-rt's `DefaultHandler`. cortex-m-rt is
/// built with its `device` feature (as the NUCLEO's PAC needs it in the same
/// workspace build), so the board provides this table and `device.x`.
#[link_section = ".vector_table.interrupts"]
#[no_mangle]
#[used]
static __INTERRUPTS: [unsafe extern "C" fn(); 32] = [DefaultHandler; 32];
