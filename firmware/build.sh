#!/bin/sh
# Builds both boards in release and prints their flash/RAM use (text, data,
# bss, as arm-none-eabi-size prints them), then checks and tests the
# build-time packer on the host. Needs: rustup target thumbv7em-none-eabihf,
# and llvm-size (rustup component add llvm-tools, installed below if
# missing; Debian's llvm package works too).
#
#   ./build.sh                         the default appliance (appliance.toml)
#   AWL_APPLIANCE=/abs/path.toml ./build.sh   another one
set -eu
cd "$(dirname "$0")"
rustup target add thumbv7em-none-eabihf >/dev/null 2>&1 || true
SIZE=$(ls "$(rustc --print sysroot)"/lib/rustlib/*/bin/llvm-size 2>/dev/null | head -n1 || true)
if [ -z "$SIZE" ]; then
    rustup component add llvm-tools >/dev/null 2>&1 || true
    SIZE=$(ls "$(rustc --print sysroot)"/lib/rustlib/*/bin/llvm-size 2>/dev/null | head -n1 || true)
fi
[ -n "$SIZE" ] || SIZE=$(command -v llvm-size || command -v arm-none-eabi-size)
HOST=$(rustc -vV | sed -n 's/^host: //p')

cargo build --release -p awl-mps2-an386 -p awl-nucleo-f767zi
cargo clippy --release --target "$HOST" -p awl-pack --all-targets -- -D warnings
cargo test --release --target "$HOST" -p awl-pack

OUT=target/thumbv7em-none-eabihf/release
echo
echo "Capacities (app/src/capacity.rs): $(grep -E '^pub const (LEASES|TRANSFERS|HTTP_CONNECTIONS|MAX_POOL)' app/src/capacity.rs | sed 's/pub const //; s/: usize//; s/;//' | tr '\n' ' ')"
"$SIZE" "$OUT/awl-mps2-an386" "$OUT/awl-nucleo-f767zi"
echo "(text = code + read-only data + packed boot files, all in flash; data: initialised RAM, also in flash; bss: zeroed RAM; the stack comes on top of bss)"
