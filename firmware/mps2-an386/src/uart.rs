//! Log lines over CMSDK APB UART0, which QEMU writes to `-serial`.

use core::fmt::{self, Write};

use awl_firmware::log::Log;

use crate::hw::{Mmio, UART0};

const DATA: usize = 0x0;
const STATE: usize = 0x4;
const CTRL: usize = 0x8;
const BAUDDIV: usize = 0x10;
const STATE_TX_FULL: u32 = 1;
const CTRL_TX_ENABLE: u32 = 1;

/// UART0, transmit only.
#[derive(Debug)]
pub(crate) struct Uart {
    regs: Mmio,
}

impl Uart {
    /// Enables the transmitter (BAUDDIV must be at least 16).
    pub(crate) fn new() -> Self {
        let regs = UART0;
        regs.write(BAUDDIV, 16);
        regs.write(CTRL, CTRL_TX_ENABLE);
        Self { regs }
    }

    fn byte(&mut self, b: u8) {
        while self.regs.read(STATE) & STATE_TX_FULL != 0 {}
        self.regs.write(DATA, u32::from(b));
    }
}

impl Write for Uart {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            self.byte(b);
        }
        Ok(())
    }
}

impl Log for Uart {
    fn line(&mut self, args: fmt::Arguments<'_>) {
        let _ = self.write_fmt(args);
        self.byte(b'\n');
    }
}
