#!/bin/bash
# Builds OUT_DIR/debian-12.img: a raw Debian 12 (bookworm) disk image that
# boots from the same file under a BIOS (SeaBIOS: GRUB i386-pc in the MBR
# and the MBR gap) and under UEFI (OVMF: GRUB x86_64-efi standalone at
# \EFI\BOOT\BOOTX64.EFI on a small FAT ESP). Root is ext4, LABEL=awl-root.
# cloud-init uses only the NoCloud datasource; the seed URL is not baked
# in: a deploy environment writes /etc/cloud/cloud.cfg.d/91-awl-seed.cfg.
#
# No loop device and no mount for the disk: sfdisk on the file, mkfs.ext4 -d
# and mkfs.vfat + mtools into partition-sized files, dd conv=notrunc.
# (mmdebstrap itself runs maintainer scripts in a chroot: it needs root, or
# MMDEBSTRAP_MODE=unshare where user namespaces are allowed.)
#
# Usage: images/debian-image.sh OUT_DIR [DEB_CACHE_DIR]
#   DEB_CACHE_DIR (default OUT_DIR/debs): downloaded .debs, reused next time.
# Environment: MIRROR (default http://deb.debian.org/debian),
#   SECURITY_MIRROR (default http://deb.debian.org/debian-security),
#   MMDEBSTRAP_MODE (default auto), IMAGE_HOSTNAME (default debian),
#   KEEP_WORK=1 keeps OUT_DIR/.debian-image-work (the root tree) for a look.
# Needs: mmdebstrap, e2fsprogs, fdisk (sfdisk), dosfstools, mtools,
#   grub-pc-bin, grub-efi-amd64-bin.
set -euo pipefail

die() { echo "debian-image.sh: error: $*" >&2; exit 1; }
[ $# -ge 1 ] || die "usage: $0 OUT_DIR [DEB_CACHE_DIR]"

OUT=$(mkdir -p "$1" && cd "$1" && pwd)
CACHE=${2:-$OUT/debs}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}
MODE=${MMDEBSTRAP_MODE:-auto}
HOSTNAME_DEFAULT=${IMAGE_HOSTNAME:-debian}
LABEL=awl-root
IMG=$OUT/debian-12.img

for tool in mmdebstrap mkfs.ext4 sfdisk mkfs.vfat mcopy mmd grub-mkimage grub-mkstandalone; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install mmdebstrap e2fsprogs fdisk dosfstools mtools grub-pc-bin grub-efi-amd64-bin)"
done
for dir in /usr/lib/grub/i386-pc /usr/lib/grub/x86_64-efi; do
  [ -d "$dir" ] || die "$dir missing (grub-pc-bin, grub-efi-amd64-bin)"
done

WORK=$OUT/.debian-image-work
rm -rf "$WORK"
mkdir -p "$WORK"
ROOT=$WORK/root
start=$(date +%s)

# Kernel command line, shared by both loaders.
CMDLINE="root=LABEL=$LABEL ro console=tty0 console=ttyS0,115200"

echo "== mmdebstrap bookworm into $ROOT (debs cached in $CACHE)"
# Packages: initramfs-tools is installed with the kernel in the same apt run,
# so the initramfs is built once (by its trigger). systemd-networkd (part of
# systemd) brings up the NIC that cloud-init describes; cloud-guest-utils
# gives growpart so the root grows to the disk at first boot;
# systemd-resolved puts the DNS servers from DHCP into /etc/resolv.conf.
# The merged-usr hook makes /usr merged as debootstrap does (usr-is-merged
# instead of usrmerge, which would pull in perl: 45 MB).
mmdebstrap \
  --mode="$MODE" \
  --variant=minbase \
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
  --include=systemd-sysv,udev,initramfs-tools,linux-image-cloud-amd64,e2fsprogs,cloud-init,cloud-guest-utils,iproute2,systemd-resolved \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-include=/usr/share/locale/locale.alias' \
  --dpkgopt='path-exclude=/usr/share/i18n/*' \
  --dpkgopt='path-exclude=/usr/share/lintian/*' \
  --dpkgopt='path-exclude=/usr/share/linda/*' \
  --skip=download/empty \
  --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
  --setup-hook="sync-in '$CACHE' /var/cache/apt/archives/" \
  --essential-hook='mkdir -p "$1"/etc/initramfs-tools/conf.d && printf "MODULES=most\nCOMPRESS=zstd\n" > "$1"/etc/initramfs-tools/conf.d/awl.conf' \
  --customize-hook="sync-out /var/cache/apt/archives '$CACHE'" \
  --customize-hook='rm -f "$1"/var/cache/apt/archives/*.deb' \
  --customize-hook='chroot "$1" systemctl enable systemd-networkd.service' \
  bookworm "$ROOT" \
  "deb $MIRROR bookworm main" \
  "deb $MIRROR bookworm-updates main" \
  "deb $SECURITY_MIRROR bookworm-security main" \
  || die "mmdebstrap failed"

echo "== configuring the root filesystem"
echo "$HOSTNAME_DEFAULT" > "$ROOT/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
  "$HOSTNAME_DEFAULT" > "$ROOT/etc/hosts"
printf 'LABEL=%s\t/\text4\terrors=remount-ro\t0\t1\n' "$LABEL" > "$ROOT/etc/fstab"
# Every machine makes its own machine-id at first boot.
: > "$ROOT/etc/machine-id"
rm -f "$ROOT/var/lib/dbus/machine-id"
# Network: systemd-networkd runs the config cloud-init renders (DHCP on the
# first NIC, from cloud-init's fallback config).
# Only wait for one link, not for all of them.
mkdir -p "$ROOT/etc/systemd/system/systemd-networkd-wait-online.service.d"
cat > "$ROOT/etc/systemd/system/systemd-networkd-wait-online.service.d/awl.conf" <<'EOF'
[Service]
ExecStart=
ExecStart=/lib/systemd/systemd-networkd-wait-online --any --timeout=60
EOF

mkdir -p "$ROOT/etc/cloud/cloud.cfg.d"
cat > "$ROOT/etc/cloud/cloud.cfg.d/90-awl.cfg" <<'EOF'
# awl: NoCloud only. The seed (seedfrom: http://.../) is written by the
# deploy environment into 91-awl-seed.cfg; cloud-init's network stage
# (NoCloudNet) fetches user-data and meta-data from it.
datasource_list: [ NoCloud, None ]
system_info:
  network:
    renderers: [ networkd ]
# Nothing slow or networked that a first boot does not need.
package_update: false
package_upgrade: false
cloud_init_modules:
  - seed_random
  - bootcmd
  - write-files
  - growpart
  - resizefs
  - set_hostname
  - update_hostname
  - update_etc_hosts
  - users-groups
cloud_config_modules:
  - set-passwords
  - timezone
  - runcmd
cloud_final_modules:
  - scripts-vendor
  - scripts-per-once
  - scripts-per-boot
  - scripts-per-instance
  - scripts-user
  - phone-home
  - final-message
  - power-state-change
EOF

# Clean what is not needed on the disk.
rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin "$ROOT"/var/log/*.log \
  "$ROOT"/var/log/apt/* "$ROOT"/tmp/* "$ROOT"/var/tmp/* "$ROOT"/var/cache/debconf/*-old

# The kernel and initramfs the loaders boot (paths inside the root fs).
KERNEL=/vmlinuz
INITRD=/initrd.img
if [ ! -e "$ROOT$KERNEL" ] || [ ! -e "$ROOT$INITRD" ]; then
  KERNEL=/boot/$(cd "$ROOT/boot" && ls vmlinuz-* | sort -V | tail -n1)
  INITRD=/boot/$(cd "$ROOT/boot" && ls initrd.img-* | sort -V | tail -n1)
fi
[ -e "$ROOT$KERNEL" ] || die "no kernel in $ROOT/boot"
[ -e "$ROOT$INITRD" ] || die "no initramfs in $ROOT/boot (did update-initramfs run?)"

GRUBCFG=$WORK/grub.cfg
cat > "$GRUBCFG" <<EOF
set timeout=0
insmod part_msdos
insmod ext2
search --no-floppy --label $LABEL --set=root
echo "Booting Debian 12 from \$root"
linux $KERNEL $CMDLINE
initrd $INITRD
boot
EOF
mkdir -p "$ROOT/boot/grub"
cp "$GRUBCFG" "$ROOT/boot/grub/grub.cfg"

echo "== building ext4 root (LABEL=$LABEL)"
used_kib=$(du -sk --apparent-size "$ROOT" | cut -f1)
inodes=$(find "$ROOT" -xdev | wc -l)
# Used size + 30% headroom + room for the inode tables and the journal.
root_mib=$(( (used_kib * 13 / 10 + inodes / 4 ) / 1024 + 64 ))
ROOTFS=$WORK/root.ext4
rm -f "$ROOTFS"
mkfs.ext4 -q -F -L "$LABEL" -m 1 -N $(( inodes * 2 + 8192 )) -E root_owner=0:0 \
  -d "$ROOT" "$ROOTFS" "${root_mib}M" || die "mkfs.ext4 -d failed"

echo "== building ESP (FAT) with GRUB x86_64-efi"
ESP_MIB=16
ESP=$WORK/esp.fat
grub-mkstandalone -O x86_64-efi -o "$WORK/BOOTX64.EFI" \
  --modules="part_msdos ext2 fat search search_label linux normal echo" \
  --install-modules="part_msdos part_gpt ext2 fat search search_label search_fs_uuid search_fs_file linux normal echo configfile test boot loadenv" \
  --locales= --fonts= --themes= \
  "boot/grub/grub.cfg=$GRUBCFG" || die "grub-mkstandalone failed"
rm -f "$ESP"
mkfs.vfat -C -n AWL-ESP "$ESP" $(( ESP_MIB * 1024 )) >/dev/null || die "mkfs.vfat failed"
mmd -i "$ESP" ::/EFI ::/EFI/BOOT
mcopy -i "$ESP" "$WORK/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI

echo "== building GRUB i386-pc core.img"
grub-mkimage -O i386-pc -o "$WORK/core.img" -p "(hd0,msdos2)/boot/grub" \
  -c "$GRUBCFG" \
  biosdisk part_msdos ext2 search search_label linux echo normal test boot \
  || die "grub-mkimage i386-pc failed"
core_size=$(stat -c %s "$WORK/core.img")
# core.img goes to sectors 1..2047 (the gap before partition 1).
[ "$core_size" -le $(( 2047 * 512 )) ] || die "core.img ($core_size bytes) does not fit the MBR gap"

echo "== assembling $IMG"
esp_start=2048
esp_sectors=$(( ESP_MIB * 2048 ))
root_start=$(( esp_start + esp_sectors ))
root_sectors=$(( root_mib * 2048 ))
total_sectors=$(( root_start + root_sectors ))
rm -f "$IMG.tmp"
truncate -s $(( total_sectors * 512 )) "$IMG.tmp"
sfdisk -q --no-reread --no-tell-kernel "$IMG.tmp" <<EOF || die "sfdisk failed"
label: dos
unit: sectors

start=$esp_start, size=$esp_sectors, type=ef, bootable
start=$root_start, size=$root_sectors, type=83
EOF
dd if="$ESP" of="$IMG.tmp" bs=1M seek=1 conv=notrunc,sparse status=none
dd if="$ROOTFS" of="$IMG.tmp" bs=1M seek=$(( root_start / 2048 )) conv=notrunc,sparse status=none
# GRUB boot.img: the first 440 bytes of the MBR (the partition table stays).
# Its defaults already load core.img from sector 1 (grub-mkimage wrote the
# core's length into diskboot's block list). Like grub-bios-setup for a hard
# disk, replace the 2-byte jump of the boot-drive check (offset 0x66) with
# NOPs, for BIOSes that pass a wrong drive number.
dd if=/usr/lib/grub/i386-pc/boot.img of="$IMG.tmp" bs=440 count=1 conv=notrunc status=none
printf '\x90\x90' | dd of="$IMG.tmp" bs=1 seek=$((0x66)) conv=notrunc status=none
dd if="$WORK/core.img" of="$IMG.tmp" bs=512 seek=1 conv=notrunc status=none
mv "$IMG.tmp" "$IMG"

sha256sum "$IMG" | cut -d' ' -f1 > "$IMG.sha256"
[ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
size=$(stat -c %s "$IMG")
echo "== done in $(( $(date +%s) - start ))s"
echo "image:  $IMG"
echo "size:   $size bytes ($(( size / 1024 / 1024 )) MiB; root fs ${root_mib} MiB, used $(( used_kib / 1024 )) MiB)"
echo "sha256: $(cat "$IMG.sha256")"
echo "kernel: $KERNEL  initrd: $INITRD  cmdline: $CMDLINE"
