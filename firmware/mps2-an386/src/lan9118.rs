//! smoltcp [`Device`] for the SMSC LAN9118 (QEMU's hw/net/lan9118.c, as
//! wired on mps2-an386 at 0x40200000, 32-bit bus).
//!
//! * Receive: RX_FIFO_INF says how many frames wait; RX_STATUS_FIFO gives
//!   one frame's length (with the 4-byte FCS) and error bit, then its words
//!   are read from RX_DATA_FIFO (little-endian), FCS last.
//! * Transmit: TX command A (buffer length, first and last segment), command
//!   B (frame length, tag), then the frame's words into TX_DATA_FIFO; the TX
//!   status FIFO is drained so it never fills.
//! * MAC registers go through MAC_CSR_CMD/MAC_CSR_DATA.
//!
//! No interrupts: the poll loop asks RX_FIFO_INF every pass.

use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

use crate::hw::{Mmio, LAN9118};

// System control and status registers (byte offsets).
const RX_DATA_FIFO: usize = 0x00;
const TX_DATA_FIFO: usize = 0x20;
const RX_STATUS_FIFO: usize = 0x40;
const TX_STATUS_FIFO: usize = 0x48;
const ID_REV: usize = 0x50;
const INT_EN: usize = 0x5c;
const BYTE_TEST: usize = 0x64;
const RX_CFG: usize = 0x6c;
const TX_CFG: usize = 0x70;
const HW_CFG: usize = 0x74;
const RX_DP_CTRL: usize = 0x78;
const RX_FIFO_INF: usize = 0x7c;
const TX_FIFO_INF: usize = 0x80;
const PMT_CTRL: usize = 0x84;
const FREE_RUN: usize = 0x9c;
const MAC_CSR_CMD: usize = 0xa4;
const MAC_CSR_DATA: usize = 0xa8;

const BYTE_TEST_VALUE: u32 = 0x8765_4321;
const HW_CFG_SRST: u32 = 1;
const PMT_CTRL_READY: u32 = 1;
const TX_CFG_TX_ON: u32 = 1 << 1;
const RX_DP_CTRL_FFWD: u32 = 1 << 31;
const CSR_BUSY: u32 = 1 << 31;
const CSR_READ: u32 = 1 << 30;

// MAC CSR indices and bits.
const MAC_CR: u32 = 1;
const MAC_ADDRH: u32 = 2;
const MAC_ADDRL: u32 = 3;
const MAC_CR_RXEN: u32 = 1 << 2;
const MAC_CR_TXEN: u32 = 1 << 3;
const MAC_CR_FDPX: u32 = 1 << 20;

// TX command A: first and last segment.
const TX_CMD_A_FIRST: u32 = 1 << 13;
const TX_CMD_A_LAST: u32 = 1 << 12;

// RX status: error summary, length.
const RX_STS_ERROR: u32 = 1 << 15;

/// An Ethernet frame without FCS: 1514 bytes; buffers hold the FCS too.
const FRAME: usize = 1518;
const MTU: usize = 1514;

/// Why the controller could not be brought up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Error {
    /// BYTE_TEST did not read 0x87654321: no LAN9118 at this address.
    NotFound(u32),
    /// The soft reset did not finish.
    ResetTimeout,
}

/// The controller and one receive and one transmit frame buffer.
pub(crate) struct Lan9118 {
    regs: Mmio,
    rx: [u8; FRAME + 2],
    tx: [u8; FRAME],
    /// Frames dropped (errors, oversize).
    pub(crate) dropped: u32,
}

impl Lan9118 {
    /// Resets the controller and starts it with Ethernet address `mac`,
    /// accepting frames to `mac` and broadcasts.
    pub(crate) fn new(mac: [u8; 6]) -> Result<Self, Error> {
        let regs = LAN9118;
        let test = regs.read(BYTE_TEST);
        if test != BYTE_TEST_VALUE {
            return Err(Error::NotFound(test));
        }
        regs.write(HW_CFG, HW_CFG_SRST);
        if !wait(|| {
            regs.read(HW_CFG) & HW_CFG_SRST == 0 && regs.read(PMT_CTRL) & PMT_CTRL_READY != 0
        }) {
            return Err(Error::ResetTimeout);
        }
        regs.write(INT_EN, 0);
        regs.write(RX_CFG, 0); // no offset, no end padding
        let dev = Self {
            regs,
            rx: [0; FRAME + 2],
            tx: [0; FRAME],
            dropped: 0,
        };
        let [a, b, c, d, e, f] = mac;
        dev.mac_write(MAC_ADDRL, u32::from_le_bytes([a, b, c, d]));
        dev.mac_write(MAC_ADDRH, u32::from_le_bytes([e, f, 0, 0]));
        // Not promiscuous (the reset state), broadcasts accepted (BCAST
        // clear), full duplex.
        dev.mac_write(MAC_CR, MAC_CR_RXEN | MAC_CR_TXEN | MAC_CR_FDPX);
        dev.regs.write(TX_CFG, TX_CFG_TX_ON);
        Ok(dev)
    }

    /// The chip's ID and revision.
    pub(crate) fn id(&self) -> u32 {
        self.regs.read(ID_REV)
    }

    /// The free-running 25 MHz counter (a seed).
    pub(crate) fn free_run(&self) -> u32 {
        self.regs.read(FREE_RUN)
    }

    fn mac_write(&self, index: u32, value: u32) {
        let _ = wait(|| self.regs.read(MAC_CSR_CMD) & CSR_BUSY == 0);
        self.regs.write(MAC_CSR_DATA, value);
        self.regs.write(MAC_CSR_CMD, CSR_BUSY | index);
        let _ = wait(|| self.regs.read(MAC_CSR_CMD) & CSR_BUSY == 0);
    }

    #[allow(dead_code)]
    fn mac_read(&self, index: u32) -> u32 {
        let _ = wait(|| self.regs.read(MAC_CSR_CMD) & CSR_BUSY == 0);
        self.regs.write(MAC_CSR_CMD, CSR_BUSY | CSR_READ | index);
        let _ = wait(|| self.regs.read(MAC_CSR_CMD) & CSR_BUSY == 0);
        self.regs.read(MAC_CSR_DATA)
    }

    /// Reads the next good frame into `self.rx`; returns its length without
    /// the FCS.
    fn next_frame(&mut self) -> Option<usize> {
        loop {
            if (self.regs.read(RX_FIFO_INF) >> 16) & 0xff == 0 {
                return None;
            }
            let status = self.regs.read(RX_STATUS_FIFO);
            let len = ((status >> 16) & 0x3fff) as usize;
            let words = len.div_ceil(4);
            if status & RX_STS_ERROR != 0 || !(14 + 4..=FRAME).contains(&len) {
                self.dropped = self.dropped.wrapping_add(1);
                self.discard(words);
                continue;
            }
            for chunk in self.rx.chunks_exact_mut(4).take(words) {
                chunk.copy_from_slice(&self.regs.read(RX_DATA_FIFO).to_le_bytes());
            }
            return Some(len - 4);
        }
    }

    /// Skips a frame of `words` words.
    fn discard(&mut self, words: usize) {
        if words >= 4 {
            self.regs.write(RX_DP_CTRL, RX_DP_CTRL_FFWD);
            let _ = wait(|| self.regs.read(RX_DP_CTRL) & RX_DP_CTRL_FFWD == 0);
        } else {
            for _ in 0..words {
                let _ = self.regs.read(RX_DATA_FIFO);
            }
        }
    }

    fn tx_room(&self) -> bool {
        (self.regs.read(TX_FIFO_INF) & 0xffff) as usize >= FRAME + 8
    }
}

/// Spins until `done` (bounded).
fn wait(mut done: impl FnMut() -> bool) -> bool {
    (0..100_000).any(|_| done())
}

/// Sends `frame`.
fn send(regs: Mmio, frame: &[u8]) {
    let len = frame.len() as u32;
    regs.write(TX_DATA_FIFO, TX_CMD_A_FIRST | TX_CMD_A_LAST | len);
    regs.write(TX_DATA_FIFO, (len << 16) | len);
    let mut words = frame.chunks_exact(4);
    for w in &mut words {
        regs.write(TX_DATA_FIFO, u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 4];
        w[..rest.len()].copy_from_slice(rest);
        regs.write(TX_DATA_FIFO, u32::from_le_bytes(w));
    }
    // Drain the TX status FIFO (one status per frame).
    while (regs.read(TX_FIFO_INF) >> 16) & 0xff != 0 {
        let _ = regs.read(TX_STATUS_FIFO);
    }
}

/// A received frame.
pub(crate) struct RxToken<'a> {
    frame: &'a [u8],
}

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        f(self.frame)
    }
}

/// Room for one frame to send.
pub(crate) struct TxToken<'a> {
    regs: Mmio,
    buf: &'a mut [u8; FRAME],
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let len = len.min(MTU);
        let frame = &mut self.buf[..len];
        let result = f(frame);
        send(self.regs, frame);
        result
    }
}

impl Device for Lan9118 {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        let len = self.next_frame()?;
        let regs = self.regs;
        Some((
            RxToken {
                frame: &self.rx[..len],
            },
            TxToken {
                regs,
                buf: &mut self.tx,
            },
        ))
    }

    fn transmit(&mut self, _: Instant) -> Option<TxToken<'_>> {
        if !self.tx_room() {
            return None;
        }
        Some(TxToken {
            regs: self.regs,
            buf: &mut self.tx,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MTU;
        caps.max_burst_size = Some(1);
        caps
    }
}
