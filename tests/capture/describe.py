#!/usr/bin/python3
"""Write README.md (to stdout) describing the pcaps in DIR.

Every field is read from the capture twice: once by tshark (the reference
decoder) and once by a small raw parser here; the two must agree or this
script fails.  The raw parser gives exact byte values (option payloads in hex)
for use as golden expectations in the Rust tests.
"""
import struct
import subprocess
import sys
from pathlib import Path

# file -> (packages that produced it, command, notes)
META = {
    "udhcpc-discover.pcap": (
        ["busybox"],
        "ip netns exec awlcap-cli busybox udhcpc -f -i cli0 -n -q -t 2 -T 1 -s /bin/true "
        "-x hostname:awltest   (veth cli0 MAC 02:aa:00:00:00:01; no server; captured on the peer srv0)",
        "",
    ),
    "dhclient-discover.pcap": (
        ["isc-dhcp-client"],
        "ip netns exec awlcap-cli dhclient -4 -d -v -sf /bin/true -cf $WORK/dhclient.conf "
        "-lf $WORK/dhclient.leases -pf $WORK/dhclient.pid cli0   (dhclient.conf = Debian's default with "
        "`send host-name = \"awltest\";` instead of gethostname(); veth MAC 02:aa:00:00:00:02; no server)",
        "",
    ),
    "ipxe-bios-dhcp.pcap": (
        ["qemu-system-x86", "ipxe-qemu"],
        "qemu-system-x86_64 -accel tcg -machine pc -boot n -uuid 8a1c3f52-2c44-4d6e-9b1a-0a77c0ffee01 "
        "-netdev user,id=n0,restrict=on,tftp=$WORK/tftproot,bootfile=awl-test.bin "
        "-object filter-dump,id=f0,netdev=n0,file=... -device e1000,netdev=n0,mac=52:54:00:aa:00:03 "
        "(SeaBIOS runs the legacy-BIOS iPXE in QEMU's default e1000 option ROM, efi-e1000.rom from ipxe-qemu; "
        "replies are QEMU slirp's)",
        "",
    ),
    "ovmf-uefi-pxe.pcap": (
        ["qemu-system-x86", "ovmf"],
        "qemu-system-x86_64 -accel tcg -machine q35 -uuid 8a1c3f52-2c44-4d6e-9b1a-0a77c0ffee01 "
        "-drive if=pflash,...,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd -drive if=pflash,...,file=<copy of OVMF_VARS_4M.fd> "
        "-netdev user,id=n0,restrict=on,tftp=$WORK/tftproot,bootfile=awl-test.bin -object filter-dump,... "
        "-device virtio-net-pci,netdev=n0,mac=52:54:00:aa:00:04,romfile=,bootindex=0 "
        "(empty romfile: EDK II's own VirtioNetDxe + native UEFI PxeBcDxe, NOT iPXE; replies are QEMU slirp's)",
        "",
    ),
    "ipxe-efi-dhcp.pcap": (
        ["qemu-system-x86", "ovmf", "ipxe-qemu"],
        "qemu-system-x86_64 -accel tcg -machine q35 -uuid 8a1c3f52-2c44-4d6e-9b1a-0a77c0ffee01 "
        "-drive if=pflash,...OVMF_CODE_4M.fd -drive if=pflash,...<copy of OVMF_VARS_4M.fd> "
        "-netdev user,id=n0,restrict=on,tftp=$WORK/tftproot,bootfile=awl-test.bin -object filter-dump,... "
        "-device e1000,netdev=n0,mac=52:54:00:aa:00:05,bootindex=0 "
        "(OVMF loads the iPXE EFI driver from QEMU's default efi-e1000.rom; this is iPXE's EFI build, not EDK II PXE; "
        "replies are QEMU slirp's; only iPXE's DHCP transaction is kept: after iPXE fails to boot the dummy file, "
        "OVMF's native PXE starts a new DHCP transaction (vendor class PXEClient:Arch:00007:UNDI:003001, apparently EDK II PxeBc running over the iPXE driver's network interface); that one is trimmed away)",
        "",
    ),
    "atftp-rrq.pcap": (
        ["atftp", "tftpd-hpa"],
        'atftp --option "blksize 1468" --option "tsize 0" --option "windowsize 16" -g -r awl-test.txt '
        "-l $WORK/atftp.out 127.0.0.69 16969   (server: in.tftpd -L -s $WORK/tftproot -a 127.0.0.69:16969; captured on lo)",
        "",
    ),
    "curl-rrq.pcap": (
        ["curl", "tftpd-hpa"],
        "curl -sS --max-time 10 --tftp-blksize 1468 tftp://127.0.0.69:16969/awl-test.txt -o $WORK/curl.out   "
        "(server: in.tftpd-hpa as above; captured on lo)",
        "",
    ),
    "tftp-hpa-rrq.pcap": (
        ["tftp-hpa", "tftpd-hpa"],
        "tftp -m binary 127.0.0.69 16969 -c get awl-test.txt $WORK/tftp-hpa.out   "
        "(tftp-hpa's client has no option support (no blksize/tsize), so the RRQ carries no options; "
        "server: in.tftpd-hpa as above; captured on lo)",
        "",
    ),
}

DHCP_TYPES = {1: "DHCPDISCOVER", 2: "DHCPOFFER", 3: "DHCPREQUEST", 4: "DHCPDECLINE",
              5: "DHCPACK", 6: "DHCPNAK", 7: "DHCPRELEASE", 8: "DHCPINFORM"}
TFTP_OPS = {1: "RRQ", 2: "WRQ", 3: "DATA", 4: "ACK", 5: "ERROR", 6: "OACK"}
KEY_OPTS = [53, 55, 57, 60, 61, 77, 93, 94, 97, 175]
TEXT_OPTS = {12, 15, 60, 66, 67}


def fail(msg):
    sys.exit(f"describe.py: {msg}")


def read_pcap(path):
    data = path.read_bytes()
    magic = data[:4]
    if magic != b"\xd4\xc3\xb2\xa1":
        fail(f"{path.name}: not a little-endian microsecond classic pcap (magic {magic.hex()})")
    _vmaj, _vmin, _tz, _sig, _snap, linktype = struct.unpack_from("<HHiIII", data, 4)
    if linktype != 1:
        fail(f"{path.name}: linktype {linktype}, want 1 (Ethernet)")
    off, frames = 24, []
    while off < len(data):
        sec, usec, incl, _orig = struct.unpack_from("<IIII", data, off)
        off += 16
        frames.append((sec + usec / 1e6, data[off:off + incl]))
        off += incl
    return frames


def mac(b):
    return ":".join(f"{x:02x}" for x in b)


def ip4(b):
    return ".".join(str(x) for x in b)


def parse_udp(frame):
    if struct.unpack_from(">H", frame, 12)[0] != 0x0800:
        return None
    ihl = (frame[14] & 0x0F) * 4
    if frame[14 + 9] != 17:
        return None
    ip = frame[14:]
    src, dst = ip4(ip[12:16]), ip4(ip[16:20])
    sport, dport, ulen = struct.unpack_from(">HHH", ip, ihl)
    payload = ip[ihl + 8: ihl + ulen]
    return dict(esrc=mac(frame[6:12]), edst=mac(frame[0:6]), src=src, dst=dst,
                sport=sport, dport=dport, payload=payload)


def parse_dhcp(p):
    op, htype, hlen, hops, xid, secs, flags = struct.unpack_from(">BBBBIHH", p, 0)
    d = dict(op=op, xid=xid, secs=secs, flags=flags, ciaddr=ip4(p[12:16]), yiaddr=ip4(p[16:20]),
             siaddr=ip4(p[20:24]), giaddr=ip4(p[24:28]), chaddr=mac(p[28:28 + hlen]),
             sname=p[44:108].split(b"\0")[0].decode("latin1"),
             file=p[108:236].split(b"\0")[0].decode("latin1"), opts=[], udplen=len(p))
    if p[236:240] != b"\x63\x82\x53\x63":
        fail("no DHCP magic cookie")
    i = 240
    while i < len(p):
        code = p[i]
        if code == 0:
            i += 1
            continue
        if code == 255:
            break
        ln = p[i + 1]
        d["opts"].append((code, p[i + 2:i + 2 + ln]))
        i += 2 + ln
    return d


def parse_tftp(p):
    op = struct.unpack_from(">H", p, 0)[0]
    t = dict(op=op)
    if op in (1, 2, 6):
        parts = p[2:].split(b"\0")
        if parts and parts[-1] == b"":
            parts = parts[:-1]
        parts = [x.decode("latin1") for x in parts]
        if op == 6:
            t["opts"] = list(zip(parts[0::2], parts[1::2]))
        else:
            t["file"], t["mode"] = parts[0], parts[1]
            rest = parts[2:]
            t["opts"] = list(zip(rest[0::2], rest[1::2]))
    elif op == 3:
        t["block"] = struct.unpack_from(">H", p, 2)[0]
        t["len"] = len(p) - 4
    elif op == 4:
        t["block"] = struct.unpack_from(">H", p, 2)[0]
    elif op == 5:
        t["code"] = struct.unpack_from(">H", p, 2)[0]
        t["msg"] = p[4:].split(b"\0")[0].decode("latin1")
    return t


def tshark_rows(path, fields, dfilter):
    cmd = ["tshark", "-r", str(path), "-Y", dfilter, "-T", "fields", "-E", "occurrence=a",
           "-E", "aggregator=|", "-E", "separator=\t"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rows = {}
    for line in out.splitlines():
        cols = line.split("\t")
        rows[int(cols[0])] = cols[1:]
    return rows


def fmt_opt(code, val):
    h = val.hex()
    if code == 53:
        return f"{h} ({DHCP_TYPES.get(val[0], '?')})"
    if code == 55:
        return "[" + ",".join(str(x) for x in val) + "]"
    if code == 57:
        return f"{h} ({struct.unpack('>H', val)[0]})"
    if code == 93:
        return f"{h} (" + ",".join(str(x) for x in struct.unpack(f">{len(val)//2}H", val)) + ")"
    if code == 94:
        return f"{h} (type {val[0]}, UNDI {val[1]}.{val[2]})" if len(val) == 3 else h
    if code == 61 and val and val[0] == 1 and len(val) == 7:
        return f"{h} (htype 1, {mac(val[1:])})"
    if code == 97 and len(val) == 17:
        return f"{h} (type {val[0]}, 16 GUID bytes as sent)"
    if code == 77:
        s = val.decode("latin1")
        return f'{h} ("{s}", raw text, no RFC 3004 length prefix)' if s.isprintable() else h
    if code == 50 or code == 54:
        return f"{h} ({ip4(val)})"
    if code in TEXT_OPTS or (val and all(32 <= c < 127 for c in val)):
        return f'"{val.decode("latin1")}" (hex {h})'
    return h


def is_dhcp(u):
    return u is not None and bool({u["sport"], u["dport"]} & {67, 68})


def describe_dhcp(path, rows, no, ts, t0, u, out, seq):
    if True:
        d = parse_dhcp(u["payload"])
        # cross-check against tshark
        tr = rows.get(no)
        if tr is None:
            fail(f"{path.name} frame {no}: tshark did not decode DHCP")
        t_type, t_mac, t_xid, t_types, t_vals = tr
        opts = d["opts"]
        mt = dict(opts).get(53)
        if mt is None or int(t_type) != mt[0]:
            fail(f"{path.name} frame {no}: message type mismatch")
        if t_mac.split("|")[0] != d["chaddr"] or int(t_xid, 16) != d["xid"]:
            fail(f"{path.name} frame {no}: chaddr/xid mismatch")
        t_codes = [int(x) for x in t_types.split("|") if x not in ("0", "255")]
        if t_codes != [c for c, _ in opts]:
            fail(f"{path.name} frame {no}: option list mismatch {t_codes} vs {[c for c, _ in opts]}")
        t_values = [v for v in t_vals.split("|") if v != ""]
        mine = [v.hex() for _, v in opts if v]
        if t_values != mine:
            fail(f"{path.name} frame {no}: option values mismatch")
        direction = "client->server" if u["sport"] == 68 else "server->client"
        seq.append(f"{no} {DHCP_TYPES.get(mt[0], mt[0])} {'c>s' if u['sport'] == 68 else 's>c'}")
        line = (f"- frame {no} (t={ts - t0:.6f}s) {direction} {u['src']}:{u['sport']} -> "
                f"{u['dst']}:{u['dport']}, eth {u['esrc']} -> {u['edst']}, UDP payload {d['udplen']} bytes: "
                f"**{DHCP_TYPES.get(mt[0], mt[0])}** op={d['op']} xid=0x{d['xid']:08x} secs={d['secs']} "
                f"flags=0x{d['flags']:04x} ciaddr={d['ciaddr']} yiaddr={d['yiaddr']} siaddr={d['siaddr']} "
                f"chaddr={d['chaddr']}")
        if d["sname"]:
            line += f' sname="{d["sname"]}"'
        if d["file"]:
            line += f' file="{d["file"]}"'
        out.append(line)
        out.append("  - options in wire order: " + "; ".join(f"{c}={fmt_opt(c, v)}" for c, v in opts))
        present = dict(opts)
        if direction == "client->server":
            absent = [str(c) for c in KEY_OPTS if c not in present]
            out.append("  - key options absent: " + (", ".join(absent) if absent else "none"))
            if 175 in present:
                out.append("  - option 175 (iPXE encapsulated) sub-options: " + "; ".join(
                    f"{c}={v.hex()}" for c, v in iter_subopts(present[175])))


def iter_subopts(b):
    i = 0
    while i + 1 < len(b):
        c, ln = b[i], b[i + 1]
        yield c, b[i + 2:i + 2 + ln]
        i += 2 + ln


def describe_tftp(path, rows, no, ts, t0, u, out, seq):
    if True:
        t = parse_tftp(u["payload"])
        t_op, t_file, t_mode, t_on, t_ov, t_blk = rows[no]
        if int(t_op) != t["op"]:
            fail(f"{path.name} frame {no}: TFTP opcode mismatch")
        if t["op"] in (1, 2) and (t_file != t["file"] or t_mode != t["mode"]):
            fail(f"{path.name} frame {no}: TFTP file/mode mismatch")
        if "opts" in t:
            names = [x for x in t_on.split("|") if x]
            vals = [x for x in t_ov.split("|") if x]
            if [(a, b) for a, b in zip(names, vals)] != t["opts"]:
                fail(f"{path.name} frame {no}: TFTP options mismatch {names} {vals} vs {t['opts']}")
        if t["op"] in (3, 4) and int(t_blk) != t["block"]:
            fail(f"{path.name} frame {no}: TFTP block mismatch")
        seq.append(f"{no} {TFTP_OPS.get(t['op'], t['op'])}"
                   + (f" {t['block']}" if t["op"] in (3, 4) else "")
                   + (f" {t['code']}" if t["op"] == 5 else ""))
        line = (f"- frame {no} (t={ts - t0:.6f}s) {u['src']}:{u['sport']} -> {u['dst']}:{u['dport']}, "
                f"UDP payload {len(u['payload'])} bytes: **{TFTP_OPS.get(t['op'], t['op'])}** (opcode {t['op']})")
        if t["op"] in (1, 2):
            line += f' filename="{t["file"]}" mode="{t["mode"]}"'
        if "opts" in t:
            line += " options=" + (", ".join(f"{a}={b}" for a, b in t["opts"]) if t["opts"] else "(none)")
        if t["op"] == 3:
            line += f" block={t['block']} data={t['len']} bytes"
        if t["op"] == 4:
            line += f" block={t['block']}"
        if t["op"] == 5:
            line += f' code={t["code"]} message="{t["msg"]}"'
        if t["op"] in (1, 2):
            line += f" (RRQ payload hex: {u['payload'].hex()})"
        out.append(line)


def pkg_versions(pkgs):
    out = subprocess.run(["dpkg-query", "-W"] + pkgs, capture_output=True, text=True).stdout
    return ", ".join(line.replace("\t", " ") for line in out.splitlines())


def main():
    d = Path(sys.argv[1])
    pcaps = sorted(d.glob("*.pcap"))
    summary, details = [], []
    for p in pcaps:
        pkgs, cmd, _ = META.get(p.name, ([], "(unknown)", ""))
        frames = read_pcap(p)
        body, seq, nd, nt = [], [], 0, 0
        drows = tshark_rows(p, ["frame.number", "dhcp.option.dhcp", "dhcp.hw.mac_addr", "dhcp.id",
                                "dhcp.option.type", "dhcp.option.value"], "dhcp")
        trows = tshark_rows(p, ["frame.number", "tftp.opcode", "tftp.source_file", "tftp.type",
                                "tftp.option.name", "tftp.option.value", "tftp.block"], "tftp")
        t0 = frames[0][0]
        for no, (ts, fr) in enumerate(frames, 1):
            u = parse_udp(fr)
            if is_dhcp(u):
                describe_dhcp(p, drows, no, ts, t0, u, body, seq)
                nd += 1
            elif u is not None and no in trows:
                describe_tftp(p, trows, no, ts, t0, u, body, seq)
                nt += 1
            else:
                fail(f"{p.name} frame {no}: neither DHCP nor TFTP")
        kinds = []
        if nd:
            kinds.append(f"{nd} DHCP")
        if nt:
            kinds.append(f"{nt} TFTP")
        summary.append(f"- `{p.name}`: {pkg_versions(pkgs)}; {len(frames)} frames ({' + '.join(kinds)}: "
                       f"{', '.join(seq)}); command: `{cmd}`")
        details.append(f"### {p.name}\n\n{len(frames)} frames, classic pcap, linktype 1 (Ethernet), "
                       f"microsecond timestamps.\n\n" + "\n".join(body) + "\n")
    print("# Captured client packets (test vectors)\n")
    print("Generated by `tests/capture/capture.sh` (which runs `tests/capture/describe.py`); "
          "do not edit by hand, re-run the script.  Every value below is read from the pcap by "
          "tshark and cross-checked against a raw byte parse (the script fails on any disagreement). "
          "DHCP option values are the option payload bytes in hex, in wire order; option 55 is the "
          "list of requested codes in order.  `$WORK` is a temporary directory.  Loopback captures "
          "(`tcpdump -i lo`) have all-zero Ethernet addresses.  Package versions are `dpkg-query -W` "
          "output on the capturing machine (Debian 12).  Option 97's 16 GUID bytes are the SMBIOS "
          "UUID `-uuid 8a1c3f52-2c44-4d6e-9b1a-0a77c0ffee01` with its first three fields "
          "little-endian (523f1c8a 442c 6e4d ...), exactly as both iPXE and EDK II put them on the wire; "
          "tshark displays them back as 8a1c3f52-....  In the summaries, c>s = client to server, s>c = "
          "server (QEMU slirp or in.tftpd) to client; TFTP DATA/ACK are followed by the block number, ERROR by its code.\n")
    print("## Files\n")
    print("\n".join(summary))
    print("\n## Packets\n")
    print("\n".join(details))


if __name__ == "__main__":
    main()
