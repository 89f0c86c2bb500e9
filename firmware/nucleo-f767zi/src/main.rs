//! awl firmware for the NUCLEO-F767ZI: STM32F767ZI at 216 MHz from the
//! ST-LINK's 8 MHz clock, Ethernet through `stm32-eth` (RMII to the
//! LAN8742A PHY at MII address 0), log lines through defmt over RTT.
//! See ../README.md to flash it.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::fmt;
use core::sync::atomic::{AtomicU32, Ordering};

use awl_firmware::log::Log;
use awl_firmware::Appliance;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::{entry, exception};
use defmt_rtt as _;
use panic_probe as _;
use static_cell::StaticCell;
use stm32_eth::dma::{RxRingEntry, TxRingEntry};
use stm32_eth::hal::gpio::GpioExt;
use stm32_eth::hal::prelude::*;
use stm32_eth::hal::rcc::{HSEClock, HSEClockMode, RccExt};
use stm32_eth::hal::rng::RngExt;
use stm32_eth::mac::phy::{PhySpeed, LAN8742A};
use stm32_eth::mac::Speed;
use stm32_eth::stm32::{CorePeripherals, Peripherals};
use stm32_eth::{EthPins, Parts, PartsIn};

#[allow(unreachable_pub)]
mod packed {
    include!(concat!(env!("OUT_DIR"), "/appliance.rs"));
}
use packed::APPLIANCE;

/// The LAN8742A's MII address on the NUCLEO-144 boards.
const PHY_ADDRESS: u8 = 0;
/// Ethernet DMA descriptors and frame buffers.
const RX_RING: usize = 4;
const TX_RING: usize = 2;

static RX: StaticCell<[RxRingEntry; RX_RING]> = StaticCell::new();
static TX: StaticCell<[TxRingEntry; TX_RING]> = StaticCell::new();
static MILLIS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    MILLIS.fetch_add(1, Ordering::Relaxed);
}

/// Log lines through defmt (formatted by core::fmt on the board).
struct Defmt;

impl Log for Defmt {
    fn line(&mut self, args: fmt::Arguments<'_>) {
        defmt::info!("{}", defmt::Display2Format(&args));
    }
}

/// Milliseconds since boot, extended past the 32-bit tick's wrap.
#[derive(Default)]
struct Clock {
    last: u32,
    high: u64,
}

impl Clock {
    fn now(&mut self) -> smoltcp::time::Instant {
        let ms = MILLIS.load(Ordering::Relaxed);
        if ms < self.last {
            self.high += 1 << 32;
        }
        self.last = ms;
        smoltcp::time::Instant::from_millis((self.high + u64::from(ms)) as i64)
    }
}

#[entry]
fn main() -> ! {
    let (Some(p), Some(mut cp)) = (Peripherals::take(), CorePeripherals::take()) else {
        halt("peripherals taken twice")
    };
    let clocks = p
        .RCC
        .constrain()
        .cfgr
        .hse(HSEClock::new(8.MHz(), HSEClockMode::Bypass))
        .sysclk(216.MHz())
        .hclk(216.MHz())
        .freeze();

    cp.SYST.set_clock_source(SystClkSource::Core);
    cp.SYST.set_reload(clocks.hclk().raw() / 1000 - 1);
    cp.SYST.clear_current();
    cp.SYST.enable_interrupt();
    cp.SYST.enable_counter();
    let mut clock = Clock::default();

    // A boot-to-boot different seed from the hardware RNG.
    let mut rng = p.RNG.init();
    let seed = (0..2).fold(0u64, |acc, _| {
        (acc << 32) | u64::from(rng.get_rand().unwrap_or(MILLIS.load(Ordering::Relaxed)))
    });

    let gpioa = p.GPIOA.split();
    let gpiob = p.GPIOB.split();
    let gpioc = p.GPIOC.split();
    let gpiog = p.GPIOG.split();
    // RMII on the NUCLEO-F767ZI: REF_CLK PA1, MDIO PA2, CRS_DV PA7,
    // TXD1 PB13, MDC PC1, RXD0 PC4, RXD1 PC5, TX_EN PG11, TXD0 PG13.
    let pins = EthPins {
        ref_clk: gpioa.pa1,
        crs: gpioa.pa7,
        tx_en: gpiog.pg11,
        tx_d0: gpiog.pg13,
        tx_d1: gpiob.pb13,
        rx_d0: gpioc.pc4,
        rx_d1: gpioc.pc5,
    };
    let mdio = gpioa.pa2.into_alternate::<11>();
    let mdc = gpioc.pc1.into_alternate::<11>();

    let parts = PartsIn {
        mac: p.ETHERNET_MAC,
        mmc: p.ETHERNET_MMC,
        dma: p.ETHERNET_DMA,
    };
    let rx = RX.init_with(|| [RxRingEntry::INIT; RX_RING]);
    let tx = TX.init_with(|| [TxRingEntry::INIT; TX_RING]);
    let Ok(Parts { mut dma, mac }) =
        stm32_eth::new_with_mii(parts, rx, tx, clocks, pins, mdio, mdc)
    else {
        halt("stm32-eth: HCLK below 25 MHz")
    };
    let mut phy = LAN8742A::new(mac, PHY_ADDRESS);
    phy.phy_init();
    defmt::info!("eth: waiting for the link");
    phy.block_until_link();
    let speed = match phy.link_speed() {
        Some(PhySpeed::HalfDuplexBase10T) => Speed::HalfDuplexBase10T,
        Some(PhySpeed::FullDuplexBase10T) => Speed::FullDuplexBase10T,
        Some(PhySpeed::HalfDuplexBase100Tx) => Speed::HalfDuplexBase100Tx,
        Some(PhySpeed::FullDuplexBase100Tx) | None => Speed::FullDuplexBase100Tx,
    };
    let mut mac = phy.release();
    mac.set_speed(speed);
    defmt::info!("eth: link up");

    let Some(resources) = awl_firmware::resources!() else {
        halt("resources taken twice")
    };
    let now = clock.now();
    // In a static (.bss), not in main's frame: see the mps2-an386 board.
    static APP: StaticCell<Appliance<Defmt>> = StaticCell::new();
    let app = APP.init_with(|| Appliance::new(resources, &APPLIANCE, &mut dma, now, seed, Defmt));
    loop {
        let now = clock.now();
        if !app.poll(now, &mut dma) {
            cortex_m::asm::wfi();
        }
    }
}

fn halt(why: &str) -> ! {
    defmt::error!("awl-firmware: halted: {}", why);
    loop {
        cortex_m::asm::wfi();
    }
}
