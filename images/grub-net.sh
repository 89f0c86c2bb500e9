#!/bin/bash
# Builds OUT_DIR/grubnetx64.efi: GRUB for UEFI machines that network-boot
# (OVMF's or a server's own UEFI PXE loads it over TFTP), with its prefix
# on the TFTP server it came from, "(tftp)/grub". That prefix is what makes
# GRUB look for its machine's own config first, grub/grub.cfg-01-MAC (then
# by address, then grub/grub.cfg), which awl renders per machine: install,
# or boot the local disk by chainloading its EFI loader. (Debian's
# monolithic grubnetx64.efi has a prefix of "/grub": it asks only for
# grub/grub.cfg, the menu.)
#
# Usage: images/grub-net.sh OUT_DIR        (needs grub-efi-amd64-bin)
# Serve it:  awl serve --boot-uefi-x64 grubnetx64.efi ...  (in the TFTP root)
set -euo pipefail
die() { echo "grub-net.sh: error: $*" >&2; exit 1; }
[ $# -eq 1 ] || die "usage: $0 OUT_DIR"
command -v grub-mkimage >/dev/null || die "grub-mkimage not found (apt-get install grub-common)"
[ -d /usr/lib/grub/x86_64-efi ] || die "/usr/lib/grub/x86_64-efi missing (apt-get install grub-efi-amd64-bin)"
mkdir -p "$1"
grub-mkimage -O x86_64-efi -p '(tftp)/grub' -o "$1/grubnetx64.efi" \
  normal configfile echo test true sleep \
  net efinet tftp http linux chain boot \
  search search_fs_file search_label search_fs_uuid \
  part_msdos part_gpt fat ext2 efi_gop all_video \
  || die "grub-mkimage failed"
echo "grub-net.sh: $1/grubnetx64.efi ($(stat -c %s "$1/grubnetx64.efi") bytes)"
