#!/usr/bin/env bash
# awl's one test command: installs what the tests need, then runs every test.
# Usage: ./test.sh            (FUZZ_SECONDS=N sets each fuzz target's run time)
set -euo pipefail
cd "$(dirname "$0")"

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
passed=0
failed=0
failures=()

step() {
  local name=$1
  shift
  echo
  echo "=== $name"
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failures+=("$name")
  fi
}

# --- what the tests need, installed here so a fresh machine works ---------
need_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
# Real clients and the tools the end-to-end tests use.
packages=(atftp curl tftp-hpa busybox nftables iproute2 isc-dhcp-client isc-dhcp-relay nmap dnsmasq-base qemu-system-x86 qemu-system-arm ipxe-qemu ovmf ipxe)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -ne 0 ]; then
  need_root apt-get update -qq
  need_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
rustup target add thumbv7em-none-eabihf >/dev/null
rustup component add clippy rustfmt >/dev/null
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
cargo +nightly fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked

# --- checks ----------------------------------------------------------------
step "fmt" cargo fmt --all -- --check
step "clippy (workspace)" cargo clippy --workspace --all-targets -- -D warnings
step "clippy (core, bare metal, no-panic lints)" \
  cargo clippy -p awl-core --target thumbv7em-none-eabihf -- -D warnings
step "core builds for thumbv7em-none-eabihf (no std, no alloc)" \
  cargo build -p awl-core --target thumbv7em-none-eabihf --release
step "core builds with defmt" \
  cargo build -p awl-core --target thumbv7em-none-eabihf --features defmt
step "docs" env RUSTDOCFLAGS=-Dwarnings cargo doc -p awl-core --no-deps
step "fmt (firmware)" bash -c 'cd firmware && cargo fmt --check'
step "clippy (firmware, both boards)" bash -c 'cd firmware && cargo clippy --release -- -D warnings'
step "firmware builds for both boards (sizes), awl-pack tests" firmware/build.sh
step "cargo test (workspace)" cargo test --workspace
step "benchmarks compile" cargo bench -p awl-core --no-run
step "clippy (fuzz targets)" bash -c 'cd fuzz && cargo +nightly clippy --all-targets -- -D warnings'
for target in $(cd fuzz && cargo +nightly fuzz list); do
  step "fuzz $target (${FUZZ_SECONDS}s)" fuzz/run.sh "$target" "$FUZZ_SECONDS"
done

echo
if [ "$failed" -ne 0 ]; then
  printf 'failed step: %s\n' "${failures[@]}"
fi
echo "test.sh: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
