#!/usr/bin/env bash
# Record real DHCP / PXE / TFTP clients' packets into small classic-pcap
# files (linktype 1, Ethernet, microsecond timestamps) used as test vectors.
#
# Usage: bash tests/capture/capture.sh [NAME ...]
#   NAME is one of: udhcpc dhclient ipxe-bios ovmf ipxe-efi atftp curl tftp-hpa
#   (default: all).  Output goes to tests/vectors/captured/, and
#   tests/vectors/captured/README.md is regenerated from the pcaps by
#   tests/capture/describe.py (tshark decodes).
#
# Network rules: traffic only on loopback (127.0.0.0/8, the TFTP server is a
# throwaway in.tftpd bound to 127.0.0.69), on veth pairs inside network
# namespaces this script creates (awlcap-*), or inside QEMU's user-mode network
# (slirp, with restrict=on so nothing is forwarded off the VM).  Every client
# is wrapped in `timeout`; only processes started here are ended, by PID.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
OUT="$REPO/tests/vectors/captured"
TFTP_ADDR=127.0.0.69
TFTP_PORT=16969
GUEST_UUID=8a1c3f52-2c44-4d6e-9b1a-0a77c0ffee01   # fixed SMBIOS UUID -> option 97
QEMU_SECS=${QEMU_SECS:-150}                         # hard cap per QEMU run

log() { printf '[capture] %s\n' "$*" >&2; }

# ---------------------------------------------------------------- packages --
PKGS=(busybox isc-dhcp-client qemu-system-x86 ipxe-qemu ovmf atftp tftpd-hpa
      tftp-hpa curl tshark tcpdump iproute2 python3)
install_packages() {
    local missing=() p
    for p in "${PKGS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if ((${#missing[@]})); then
        log "installing: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
        apt-get update -qq
        # policy-rc.d 101: do not start the tftpd-hpa system service on install
        local prc=/usr/sbin/policy-rc.d created_prc=0
        if [[ ! -e $prc ]]; then printf '#!/bin/sh\nexit 101\n' >"$prc"; chmod +x "$prc"; created_prc=1; fi
        apt-get install -y -qq --no-install-recommends "${missing[@]}" || { ((created_prc)) && rm -f "$prc"; exit 1; }
        ((created_prc)) && rm -f "$prc"
    fi
}
install_packages

# ----------------------------------------------------------- bookkeeping --
WORK="$(mktemp -d /tmp/awlcap.XXXXXX)"
chmod 755 "$WORK"
PIDS=()
cleanup_procs() {
    local p ns
    for p in "${PIDS[@]:-}"; do
        [[ -n $p ]] && kill "$p" 2>/dev/null || true
    done
    sleep 0.3
    for p in "${PIDS[@]:-}"; do
        [[ -n $p ]] && kill -9 "$p" 2>/dev/null || true
    done
    for ns in awlcap-cli awlcap-srv; do
        ip netns del "$ns" 2>/dev/null || true
    done
    PIDS=()
}
cleanup() { cleanup_procs; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$OUT"

# Start tcpdump in the background (optionally inside a netns); wait until it
# is listening.  Sets TCPDUMP_PID.
start_tcpdump() { # ns|"" iface outfile count filter
    local ns=$1 ifc=$2 file=$3 count=$4 filter=$5 err="$WORK/tcpdump.$RANDOM.err"
    local pre=()
    [[ -n $ns ]] && pre=(ip netns exec "$ns")
    rm -f "$file"
    "${pre[@]}" timeout 60 tcpdump -n -U -s 0 -i "$ifc" -c "$count" -w "$file" "$filter" 2>"$err" &
    TCPDUMP_PID=$!
    PIDS+=("$TCPDUMP_PID")
    local i
    for i in $(seq 100); do
        grep -q 'listening on' "$err" 2>/dev/null && return 0
        sleep 0.1
    done
    log "tcpdump did not start: $(cat "$err")"; return 1
}
stop_tcpdump() { # give late packets a moment, then SIGINT (tcpdump flushes)
    sleep "${1:-1}"
    kill -INT "$TCPDUMP_PID" 2>/dev/null || true
    wait "$TCPDUMP_PID" 2>/dev/null || true
}

# Normalise to classic pcap, Ethernet, microseconds.
finish_pcap() { # raw out
    editcap -F pcap "$1" "$2"
    log "$(basename "$2"): $(capinfos -c -E -t -T -m "$2" | tail -1)"
}

# ---------------------------------------------------- DHCP clients on veth --
setup_veth() { # client MAC
    ip netns del awlcap-cli 2>/dev/null || true
    ip netns del awlcap-srv 2>/dev/null || true
    ip netns add awlcap-cli
    ip netns add awlcap-srv
    ip -n awlcap-cli link add cli0 type veth peer name srv0 netns awlcap-srv
    ip -n awlcap-cli link set cli0 address "$1"
    ip -n awlcap-srv link set srv0 address 02:aa:00:00:00:fe
    ip -n awlcap-cli link set lo up
    ip -n awlcap-cli link set cli0 up
    ip -n awlcap-srv link set srv0 up
    # IPv6 off so only DHCPv4 traffic appears
    ip netns exec awlcap-srv sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    ip netns exec awlcap-cli sysctl -qw net.ipv6.conf.all.disable_ipv6=1
}

cap_udhcpc() {
    log "udhcpc: busybox udhcpc in netns awlcap-cli"
    setup_veth 02:aa:00:00:00:01
    start_tcpdump awlcap-srv srv0 "$WORK/udhcpc.raw" 2 'udp port 67 or udp port 68'
    ip netns exec awlcap-cli timeout 10 \
        busybox udhcpc -f -i cli0 -n -q -t 2 -T 1 -s /bin/true -x hostname:awltest \
        >"$WORK/udhcpc.log" 2>&1 || true
    stop_tcpdump 1
    finish_pcap "$WORK/udhcpc.raw" "$OUT/udhcpc-discover.pcap"
}

cap_dhclient() {
    log "dhclient: ISC dhclient in netns awlcap-cli"
    setup_veth 02:aa:00:00:00:02
    # Debian's default dhclient.conf, with a fixed host name instead of
    # gethostname() so the capture does not depend on this machine.
    sed 's/^send host-name = gethostname();/send host-name = "awltest";/' \
        /etc/dhcp/dhclient.conf >"$WORK/dhclient.conf"
    start_tcpdump awlcap-srv srv0 "$WORK/dhclient.raw" 2 'udp port 67 or udp port 68'
    ip netns exec awlcap-cli timeout 12 \
        dhclient -4 -d -v -sf /bin/true -cf "$WORK/dhclient.conf" \
        -lf "$WORK/dhclient.leases" -pf "$WORK/dhclient.pid" cli0 \
        >"$WORK/dhclient.log" 2>&1 || true
    stop_tcpdump 1
    finish_pcap "$WORK/dhclient.raw" "$OUT/dhclient-discover.pcap"
}

# ------------------------------------------------------------------- QEMU --
# Count packets in a (possibly still growing) pcap that match a display filter.
count_matching() { # file filter
    tshark -r "$1" -Y "$2" 2>/dev/null | wc -l || echo 0
}

# Run QEMU with slirp user networking + filter-dump until the dump contains
# `want` frames matching `done_filter`, or QEMU_SECS pass.
run_qemu_pxe() { # name raw done_filter want -- qemu args...
    local name=$1 raw=$2 done_filter=$3 want=$4; shift 5
    rm -f "$raw"
    log "$name: starting qemu (cap ${QEMU_SECS}s)"
    timeout "$QEMU_SECS" qemu-system-x86_64 -accel tcg -m 512 -nodefaults \
        -display none -serial "file:$WORK/$name.serial" -monitor none \
        -uuid "$GUEST_UUID" -no-reboot \
        -netdev "user,id=n0,restrict=on,net=10.0.2.0/24,tftp=$WORK/tftproot,bootfile=awl-test.bin" \
        -object "filter-dump,id=f0,netdev=n0,file=$raw" \
        "$@" >"$WORK/$name.qemu.log" 2>&1 &
    local qpid=$!
    PIDS+=("$qpid")
    local t0=$SECONDS n=0
    while kill -0 "$qpid" 2>/dev/null; do
        sleep 3
        [[ -s $raw ]] && n=$(count_matching "$raw" "$done_filter")
        if ((n >= want)); then
            log "$name: got $n frames matching [$done_filter] after $((SECONDS - t0))s"
            sleep 2   # let the retry / next packets land
            break
        fi
    done
    kill "$qpid" 2>/dev/null || true
    wait "$qpid" 2>/dev/null || true
    if ((n < want)); then
        log "$name: only $n frames matching [$done_filter]; qemu log:"; cat "$WORK/$name.qemu.log" >&2 || true
    fi
}

# Keep only the first client's DHCP exchange (transaction ID of the first
# DHCP frame) and the first TFTP packets; drop ARP, IPv6, later boot attempts.
trim_pcap() { # raw out filter maxframes
    local raw=$1 out=$2 filter=$3 max=$4 frames xid
    xid=$(tshark -r "$raw" -Y dhcp -T fields -e dhcp.id 2>/dev/null | head -n1)
    [[ -n $xid ]] && filter="($filter) and (not dhcp or dhcp.id == $xid)"
    frames=$(tshark -r "$raw" -Y "$filter" -T fields -e frame.number 2>/dev/null | head -n "$max" | paste -sd' ')
    [[ -n $frames ]] || { log "no frames matched [$filter] in $raw"; return 1; }
    # editcap keeps the listed frames when -r is given
    editcap -F pcap -r "$raw" "$WORK/trim.pcap" $frames
    finish_pcap "$WORK/trim.pcap" "$out"
}

prepare_tftproot() {
    mkdir -p "$WORK/tftproot"
    # 4000 bytes of deterministic content: 3 blocks at blksize 1468, 8 at 512
    head -c 4000 /dev/zero | tr '\0' 'A' >"$WORK/tftproot/awl-test.bin"
    cp "$WORK/tftproot/awl-test.bin" "$WORK/tftproot/awl-test.txt"
    chmod -R a+rX "$WORK/tftproot"
}

QEMU_KEEP='dhcp or tftp'

cap_ipxe_bios() {
    prepare_tftproot
    run_qemu_pxe ipxe-bios "$WORK/ipxe-bios.raw" 'tftp.opcode == 1' 1 -- \
        -machine pc -boot n \
        -device e1000,netdev=n0,mac=52:54:00:aa:00:03
    trim_pcap "$WORK/ipxe-bios.raw" "$OUT/ipxe-bios-dhcp.pcap" "$QEMU_KEEP" 16
}

ovmf_vars() {
    cp /usr/share/OVMF/OVMF_VARS_4M.fd "$WORK/$1.vars.fd"
}

cap_ovmf() {
    prepare_tftproot
    ovmf_vars ovmf
    # virtio-net with an empty romfile: EDK II's own VirtioNetDxe + PxeBcDxe,
    # not the iPXE EFI driver shipped in QEMU's efi-*.rom option ROMs.
    run_qemu_pxe ovmf "$WORK/ovmf.raw" 'tftp.opcode == 1' 2 -- \
        -machine q35 \
        -drive "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd" \
        -drive "if=pflash,format=raw,unit=1,file=$WORK/ovmf.vars.fd" \
        -device virtio-net-pci,netdev=n0,mac=52:54:00:aa:00:04,romfile=,bootindex=0
    trim_pcap "$WORK/ovmf.raw" "$OUT/ovmf-uefi-pxe.pcap" "$QEMU_KEEP" 16
}

cap_ipxe_efi() {
    prepare_tftproot
    ovmf_vars ipxe-efi
    # e1000 with QEMU's default efi-e1000.rom: OVMF runs iPXE's EFI driver.
    run_qemu_pxe ipxe-efi "$WORK/ipxe-efi.raw" 'tftp.opcode == 1' 1 -- \
        -machine q35 \
        -drive "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd" \
        -drive "if=pflash,format=raw,unit=1,file=$WORK/ipxe-efi.vars.fd" \
        -device e1000,netdev=n0,mac=52:54:00:aa:00:05,bootindex=0
    trim_pcap "$WORK/ipxe-efi.raw" "$OUT/ipxe-efi-dhcp.pcap" "$QEMU_KEEP" 16
}

# --------------------------------------------------- TFTP clients on lo --
TFTPD_PID=
start_tftpd() {
    [[ -n $TFTPD_PID ]] && return 0
    prepare_tftproot
    # 127.0.0.0/8 is all local on Linux: binding 127.0.0.69 needs no address change
    timeout 300 in.tftpd -L -v -s "$WORK/tftproot" -a "$TFTP_ADDR:$TFTP_PORT" \
        >"$WORK/tftpd.log" 2>&1 &
    TFTPD_PID=$!
    PIDS+=("$TFTPD_PID")
    sleep 0.5
    kill -0 "$TFTPD_PID" || { log "in.tftpd failed: $(cat "$WORK/tftpd.log")"; exit 1; }
}

tftp_capture() { # name outfile -- client command...
    local name=$1 out=$2; shift 3
    start_tftpd
    start_tcpdump "" lo "$WORK/$name.raw" 40 "udp and host $TFTP_ADDR"
    (cd "$WORK" && timeout 15 "$@") >"$WORK/$name.log" 2>&1 || log "$name client exit $? ($(tr '\n' ' ' <"$WORK/$name.log"))"
    stop_tcpdump 1
    finish_pcap "$WORK/$name.raw" "$out"
}

cap_atftp() {
    tftp_capture atftp "$OUT/atftp-rrq.pcap" -- \
        atftp --option "blksize 1468" --option "tsize 0" --option "windowsize 16" \
        -g -r awl-test.txt -l "$WORK/atftp.out" "$TFTP_ADDR" "$TFTP_PORT"
}

cap_curl() {
    tftp_capture curl "$OUT/curl-rrq.pcap" -- \
        curl -sS --max-time 10 --tftp-blksize 1468 \
        "tftp://$TFTP_ADDR:$TFTP_PORT/awl-test.txt" -o "$WORK/curl.out"
}

cap_tftp_hpa() {
    tftp_capture tftp-hpa "$OUT/tftp-hpa-rrq.pcap" -- \
        tftp -m binary "$TFTP_ADDR" "$TFTP_PORT" -c get awl-test.txt "$WORK/tftp-hpa.out"
}

# ------------------------------------------------------------------- main --
ALL=(udhcpc dhclient ipxe-bios ovmf ipxe-efi atftp curl tftp-hpa)
WANT=("$@")
((${#WANT[@]})) || WANT=("${ALL[@]}")
FAILED=()
for c in "${WANT[@]}"; do
    fn="cap_${c//-/_}"
    declare -F "$fn" >/dev/null || { log "unknown capture $c"; exit 2; }
    # each capture in a subshell; its own EXIT trap ends what it started
    if ! ( trap cleanup_procs EXIT; "$fn" ); then FAILED+=("$c"); log "$c: FAILED"; fi
done

/usr/bin/python3 "$HERE/describe.py" "$OUT" >"$OUT/README.md"

echo "Produced in $OUT:"
for f in "$OUT"/*.pcap; do
    printf '  %-28s %6d bytes  %s packets\n' "$(basename "$f")" "$(stat -c %s "$f")" \
        "$(capinfos -c -T -m "$f" | tail -1 | cut -d, -f2)"
done
echo "  README.md (decoded with tshark)"
if ((${#FAILED[@]})); then echo "FAILED: ${FAILED[*]}"; exit 1; fi
