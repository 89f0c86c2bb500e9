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
# This runs on every test.sh run (apt-get is a no-op when all is there) and
# stops the run loudly when it fails. See README.md, "What the tests install".
need_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
# Real clients and the tools the end-to-end tests use.
packages=(atftp curl xz-utils tftp-hpa busybox-static nftables iproute2 isc-dhcp-client isc-dhcp-relay nmap dnsmasq-base qemu-system-x86 qemu-system-arm ipxe-qemu ovmf ipxe
  cloud-init grub-common debian-installer-12-netboot-amd64
  chromium chromium-driver python3-selenium
  mmdebstrap e2fsprogs fdisk dosfstools mtools grub-pc-bin grub-efi-amd64-bin)
# The image deploy tests build a Debian disk image natively (mmdebstrap,
# mkfs.ext4 -d, mtools, GRUB for BIOS and UEFI written into the file: no
# loop device, no mount) and a deploy environment (images/).
# The status page is checked in a real headless Chromium, driven by Selenium
# (Debian's python3-selenium, run with /usr/bin/python3).
# Answer-file validators nobody here wrote: pykickstart's ksvalidator (PyPI),
# debconf-set-selections --checkonly (debconf, on every Debian), cloud-init
# schema, grub-script-check.
pip_packages=(pykickstart==3.78)
# The machine image ships a backported qemu-utils (10.0) that Breaks Debian
# 12's qemu-system-common (7.2); the tests use Debian 12's QEMU 7.2 and its
# firmware paths, so qemu-utils goes back to bookworm's in the same
# transaction.
pins=(qemu-utils/bookworm)
apt_args=(install -y --no-install-recommends --allow-downgrades "${packages[@]}" "${pins[@]}")
# The image's own package state as shipped (a dpkg status file recorded on a
# new machine of this kind): the same transaction must resolve against it, so a
# conflict with what the image ships shows here even on a machine that already
# has everything.
image_status=$PWD/.ci/image/dpkg-status
# Every command is checked by hand: `set -e` does not apply inside a
# function called as an `if` condition.
install_deps() {
  local sim=/tmp/awl-apt-sim.$$ kernel_pkg
  need_root apt-get update -qq || return 1
  echo "install: checking the package transaction against the image's own state ($image_status)"
  # The record is named in an apt configuration file of its own (not a
  # -o word on the command line, which a wrapper may split or drop).
  local sim_conf=/tmp/awl-apt-sim.$$.conf
  printf 'Dir::State::status "%s";\n' "$image_status" >"$sim_conf"
  if ! APT_CONFIG="$sim_conf" apt-get -s "${apt_args[@]}" >"$sim" 2>&1; then
    cat "$sim"
    echo "install: FAILED: the packages cannot be installed on the machine image as shipped" >&2
    return 1
  fi
  # apt reads a status file it cannot find as an empty machine and then
  # resolves anything: make sure the record was read (the image's
  # backported qemu-utils is what the pin takes back).
  if ! grep -q '^Inst qemu-utils \[1:10' "$sim"; then
    cat "$sim"
    echo "install: FAILED: the simulation did not see the image's qemu-utils; is $image_status read?" >&2
    return 1
  fi
  grep -E 'upgraded|newly installed' "$sim" | sed 's/^/install: on a new machine: /'
  rm -f "$sim" "$sim_conf"
  # cloud-init only to validate user-data: never let it run on this machine.
  need_root mkdir -p /etc/cloud && need_root touch /etc/cloud/cloud-init.disabled || return 1
  need_root env DEBIAN_FRONTEND=noninteractive apt-get -qq "${apt_args[@]}" >/dev/null || return 1
  python3 -m pip install -q "${pip_packages[@]}" || return 1
  command -v ksvalidator >/dev/null || { echo "install: FAILED: ksvalidator not on PATH after pip install" >&2; return 1; }
  echo "install: $(qemu-system-x86_64 --version | head -1)"
  # A Linux kernel for the QEMU machines that boot an installer's kernel:
  # Debian 12's cloud kernel, unpacked into target/ (not installed: no
  # initramfs hooks run on this machine). The tests build their own small
  # initramfs around it (tests/src/tiny.rs).
  kernel_pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
  [ -n "$kernel_pkg" ] || { echo "install: FAILED: no linux-image-cloud-amd64 kernel package" >&2; return 1; }
  if [ ! -d "target/test-kernel/$kernel_pkg" ]; then
    rm -rf target/test-kernel && mkdir -p target/test-kernel/download || return 1
    (cd target/test-kernel/download && apt-get download -q "$kernel_pkg" 2>/dev/null) || return 1
    dpkg-deb -x target/test-kernel/download/*.deb "target/test-kernel/$kernel_pkg" || return 1
    rm -rf target/test-kernel/download
  fi
  echo "install: test kernel $kernel_pkg in target/test-kernel"
  # The Debian disk image and the deploy environment the image deploy
  # tests (tests/tests/image_deploy.rs) install machines with, built
  # natively into target/images/ (a few minutes) and rebuilt when the
  # scripts change.
  local stamp
  stamp=$(cat images/debian-image.sh images/deploy-env.sh images/grub-net.sh | sha256sum | cut -d' ' -f1)
  if [ "$(cat target/images/.stamp 2>/dev/null)" != "$stamp" ]; then
    rm -rf target/images && mkdir -p target/images || return 1
    images/debian-image.sh target/images >target/images.log 2>&1 || { tail -30 target/images.log; return 1; }
    images/deploy-env.sh target/images "$(echo "$PWD"/target/test-kernel/linux-image-*)" >>target/images.log 2>&1 || { tail -30 target/images.log; return 1; }
    images/grub-net.sh target/images >>target/images.log 2>&1 || { tail -30 target/images.log; return 1; }
    echo "$stamp" >target/images/.stamp
  fi
  echo "install: disk image $(du -h --apparent-size target/images/debian-12.img | cut -f1) and deploy environment in target/images"
  # The mirror subset debian-installer fetches its components from
  # (tests/tests/installer_path.rs); idempotent, seconds when present.
  images/mirror.sh target/mirror >target/mirror.log 2>&1 || { tail -30 target/mirror.log; return 1; }
  echo "install: installer mirror subset in target/mirror ($(du -sh target/mirror | cut -f1))"
  rustup target add thumbv7em-none-eabihf >/dev/null || return 1
  rustup component add clippy rustfmt >/dev/null || return 1
  rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal || return 1
  cargo +nightly fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked || return 1
}
if ! install_deps; then
  echo "test.sh: installing what the tests need failed; no check was run" >&2
  echo "test.sh: 0 passed, 1 failed"
  exit 1
fi

# --- checks ----------------------------------------------------------------
# The recorded image state is only worth checking against while it is the
# image's: compare it with the workplace's list for this machine kind.
image_list=${AWL_IMAGE_PACKAGE_LIST:-/work/.library/env/packages/installed-rust.txt}
if [ -f "$image_list" ]; then
  step "image package state is current ($image_status)" .ci/image/check.sh "$image_list"
else
  echo "NOT RUN: image package state check: $image_list absent (set AWL_IMAGE_PACKAGE_LIST)"
fi
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
step "benchmarks compile" cargo bench -p awl-tests --no-run
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
