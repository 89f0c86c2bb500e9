//! Packs the appliance TOML and boot files (see `awl-pack`), and puts
//! `memory.x` where cortex-m-rt's `link.x` finds it.

use std::path::PathBuf;

fn main() {
    awl_pack::generate(awl_pack::Board {
        name: "mps2-an386",
        flash_bytes: 4 << 20,
    });
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    if let Err(e) = std::fs::copy("memory.x", out.join("memory.x")) {
        eprintln!("error: memory.x: {e}");
        std::process::exit(1);
    }
    // cortex-m-rt's `device` feature: the interrupt vectors are ours (see
    // src/hw.rs), no handler names to provide.
    if let Err(e) = std::fs::write(out.join("device.x"), "/* mps2-an386: see src/hw.rs */\n") {
        eprintln!("error: device.x: {e}");
        std::process::exit(1);
    }
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
}
