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
