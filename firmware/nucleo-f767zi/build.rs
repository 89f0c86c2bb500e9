//! Packs the appliance TOML and boot files (see `awl-pack`), and puts
//! `memory.x` where cortex-m-rt's `link.x` finds it; defmt's `defmt.x` too.

use std::path::PathBuf;

fn main() {
    awl_pack::generate(awl_pack::Board {
        name: "STM32F767ZI",
        flash_bytes: 2 << 20,
    });
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    if let Err(e) = std::fs::copy("memory.x", out.join("memory.x")) {
        eprintln!("error: memory.x: {e}");
        std::process::exit(1);
    }
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    println!("cargo:rustc-link-arg-bins=-Tdefmt.x");
}
