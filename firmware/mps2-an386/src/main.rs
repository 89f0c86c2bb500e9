//! awl firmware for QEMU's mps2-an386 board: Cortex-M4, LAN9118 Ethernet at
//! 0x40200000, log lines on UART0. See ../README.md for the QEMU command.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

mod clock;
#[allow(unsafe_code)]
mod hw;
mod lan9118;
mod uart;

use core::panic::PanicInfo;

use awl_firmware::log::Log;
use awl_firmware::{log, Appliance};
use cortex_m_rt::entry;

#[allow(unreachable_pub)]
mod packed {
    include!(concat!(env!("OUT_DIR"), "/appliance.rs"));
}
use packed::APPLIANCE;

#[entry]
fn main() -> ! {
    hw::stack::paint();
    let mut log = uart::Uart::new();
    let Some(core) = cortex_m::Peripherals::take() else {
        halt(&mut log, "core peripherals taken twice")
    };
    clock::start(core.SYST);
    let mut clock = clock::Clock::default();
    let mut eth = match lan9118::Lan9118::new(APPLIANCE.mac) {
        Ok(eth) => eth,
        Err(e) => halt(&mut log, format_args!("lan9118: {e:?}")),
    };
    log!(log, "lan9118: id {:08x}", eth.id());
    let seed = u64::from(eth.free_run()) << 32
        ^ u64::from_le_bytes([
            APPLIANCE.mac[0],
            APPLIANCE.mac[1],
            APPLIANCE.mac[2],
            APPLIANCE.mac[3],
            APPLIANCE.mac[4],
            APPLIANCE.mac[5],
            0,
            0,
        ]);
    let now = clock.now();
    let Some(resources) = awl_firmware::resources!() else {
        halt(&mut log, "resources taken twice")
    };
    // In a static (.bss), not in main's frame: the appliance is the largest
    // value the firmware has, and a static keeps it off the stack.
    static APP: static_cell::StaticCell<Appliance<uart::Uart>> = static_cell::StaticCell::new();
    let app = APP.init_with(|| Appliance::new(resources, &APPLIANCE, &mut eth, now, seed, log));
    log!(
        app.log_mut(),
        "ram: appliance {} bytes (static), {} bytes stack so far",
        size_of::<Appliance<uart::Uart>>(),
        hw::stack::used()
    );
    let mut stack_logged = 0;
    let mut next_check = clock.now();
    loop {
        let now = clock.now();
        if now >= next_check {
            // Say when the deepest stack use grows (for the RAM figures).
            next_check = now + smoltcp::time::Duration::from_secs(5);
            let used = hw::stack::used();
            if used > stack_logged {
                log!(app.log_mut(), "ram: {} bytes stack at most", used);
                stack_logged = used;
            }
        }
        if !app.poll(now, &mut eth) {
            // Nothing moved: sleep until the next tick (1 ms).
            cortex_m::asm::wfi();
        }
    }
}

fn halt(log: &mut uart::Uart, why: impl core::fmt::Display) -> ! {
    log!(log, "awl-firmware: halted: {}", why);
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    let mut log = uart::Uart::new();
    log.line(format_args!("awl-firmware: panic: {info}"));
    loop {
        cortex_m::asm::wfi();
    }
}
