//! The appliance end to end: the awl firmware for QEMU's `mps2-an386`
//! (Cortex-M4, LAN9118), built with an appliance file this test writes
//! (a marker fixed at build time inside its boot scripts), boots in
//! `qemu-system-arm` on a bridge inside a network namespace this test
//! creates. Then, on the same bridge:
//!
//! * curl fetches the boot script over HTTP and over TFTP;
//! * five TFTP requests that are never acknowledged fill the 4 transfer
//!   slots, and the fifth gets ERROR 0 "server busy"; two idle TCP
//!   connections hold both HTTP slots, and the third is answered 503;
//! * a QEMU x86_64 machine with its own iPXE NIC ROM (BIOS) gets an address
//!   and the script URL from the firmware's DHCP, fetches the script over
//!   HTTP and the script it chains over TFTP (the firmware's log says so);
//! * a QEMU x86_64 machine with OVMF (UEFI PXE) gets `snponly.efi` over
//!   TFTP, which asks again as iPXE, fetches the script over HTTP and
//!   chains the second one over TFTP; both print the marker, and the
//!   machine's serial console shows them (the HTTP one filled in with the
//!   machine's own MAC and address by the firmware).
//!
//! A second test runs the appliance in proxy mode beside dnsmasq, the
//! segment's only address server, and boots a BIOS machine from it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use awl_tests::{
    dnsmasq_dhcp, ip, ipxe_bios_machine, repo_root, require_tool, try_wait_for, try_wait_until,
    Child, TempDir,
};

const NET: &str = "10.79.9";

/// A namespace with a bridge (10.79.9.1/24) and taps for the machines;
/// removed on drop.
struct Segment {
    ns: String,
}

impl Segment {
    /// The bridge gets `{net}.1/24`.
    fn new(net: &str, taps: &[&str]) -> Self {
        let last = net.rsplit('.').next().unwrap_or("");
        let seg = Self {
            ns: format!("awlfw-{}-{last}", std::process::id()),
        };
        ip(&["netns", "add", &seg.ns]);
        ip(&["-n", &seg.ns, "link", "set", "lo", "up"]);
        ip(&["-n", &seg.ns, "link", "add", "br0", "type", "bridge"]);
        ip(&[
            "-n",
            &seg.ns,
            "addr",
            "add",
            &format!("{net}.1/24"),
            "dev",
            "br0",
        ]);
        ip(&["-n", &seg.ns, "link", "set", "br0", "up"]);
        for tap in taps {
            ip(&["-n", &seg.ns, "tuntap", "add", "dev", tap, "mode", "tap"]);
            ip(&["-n", &seg.ns, "link", "set", tap, "master", "br0"]);
            ip(&["-n", &seg.ns, "link", "set", tap, "up"]);
        }
        seg
    }

    fn exec(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns, program]);
        c
    }

    /// The firmware `image` in `qemu-system-arm` on `tap`, its UART written
    /// to `log`.
    fn firmware(&self, image: &Path, log: &Path, tap: &str) -> Child {
        let child = self
            .exec("qemu-system-arm")
            .args(["-M", "mps2-an386", "-nographic", "-monitor", "none"])
            .arg("-kernel")
            .arg(image)
            .arg("-serial")
            .arg(format!("file:{}", log.display()))
            .arg("-nic")
            .arg(format!(
                "tap,ifname={tap},script=no,downscript=no,model=lan9118"
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Child(child)
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}

fn read(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
}

/// Waits until `file` contains `what`; fails with `context()` if it does
/// not within `limit`.
fn wait_for_line(file: &Path, what: &str, limit: Duration, context: &dyn Fn() -> String) {
    assert!(
        try_wait_until(limit, || read(file).contains(what)),
        "no \"{what}\" in {} within {limit:?}\n{}",
        file.display(),
        context()
    );
}

/// Builds the mps2-an386 image for `appliance` and copies it into `dest`
/// (one build at a time: the tests share the firmware's target folder).
fn build_firmware(appliance: &Path, dest: &Path) -> PathBuf {
    static BUILD: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let dir = repo_root().join("firmware");
    let out = Command::new("cargo")
        .current_dir(&dir)
        .args(["build", "--release", "-p", "awl-mps2-an386"])
        .env("AWL_APPLIANCE", appliance)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "firmware build failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let image = dest.join("awl-mps2-an386");
    std::fs::copy(
        dir.join("target/thumbv7em-none-eabihf/release/awl-mps2-an386"),
        &image,
    )
    .unwrap();
    image
}

#[test]
fn x86_machines_boot_from_the_firmware_in_qemu() {
    require_tool("qemu-system-arm");
    require_tool("qemu-system-x86_64");
    require_tool("curl");
    let dir = TempDir::new("firmware-qemu");
    let marker = format!("m{}x{}", std::process::id(), awl_tests::unique());
    std::fs::write(
        dir.0.join("boot.ipxe"),
        format!(
            "#!ipxe\necho awl-http-{marker} for {{{{mac}}}} at {{{{ip}}}} from {{{{server}}}}\n\
             chain tftp://{NET}.2/second.ipxe\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.0.join("second.ipxe"),
        format!("#!ipxe\necho awl-tftp-{marker}\nsleep 120\n"),
    )
    .unwrap();
    let appliance = dir.0.join("appliance.toml");
    std::fs::write(
        &appliance,
        format!(
            "[network]\nmac = \"02:a7:10:00:09:02\"\naddress = \"{NET}.2\"\nnetmask = \"255.255.255.0\"\n\n\
             [dhcp]\nmode = \"full\"\npool_first = \"{NET}.100\"\npool_last = \"{NET}.150\"\nlease_secs = 600\n\n\
             [boot]\nbios = \"undionly.kpxe\"\nuefi_x64 = \"snponly.efi\"\n\
             ipxe_script = \"http://{NET}.2/boot.ipxe\"\nmirror = \"http://{NET}.1/mirror\"\n\n\
             [[files]]\nname = \"boot.ipxe\"\npath = \"boot.ipxe\"\nrender = true\n\n\
             [[files]]\nname = \"second.ipxe\"\npath = \"second.ipxe\"\n\n\
             [[files]]\nname = \"snponly.efi\"\npath = \"/usr/lib/ipxe/snponly.efi\"\n\n\
             [[files]]\nname = \"undionly.kpxe\"\npath = \"/usr/lib/ipxe/undionly.kpxe\"\n"
        ),
    )
    .unwrap();
    let image = build_firmware(&appliance, &dir.0);

    let (arm_tap, bios_tap, uefi_tap) = ("tfwarm", "tfwbios", "tfwuefi");
    let seg = Segment::new(NET, &[arm_tap, bios_tap, uefi_tap]);
    let fw_log = dir.0.join("firmware.log");
    let _firmware = seg.firmware(&image, &fw_log, arm_tap);
    let fw = || format!("firmware log:\n{}", read(&fw_log));
    wait_for_line(
        &fw_log,
        &format!("awl-firmware: up {NET}.2"),
        Duration::from_secs(30),
        &fw,
    );

    // curl: the script over HTTP (rendered for curl's own address) and the
    // second one over TFTP, byte for byte.
    let curl = |url: &str| {
        let out = seg
            .exec("curl")
            .args(["-sS", "--max-time", "20", url])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "curl {url}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            fw()
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(
        curl(&format!("http://{NET}.2/boot.ipxe")),
        format!(
            "#!ipxe\necho awl-http-{marker} for  at {NET}.1 from {NET}.2\n\
             chain tftp://{NET}.2/second.ipxe\n"
        ),
        "the bridge has no lease, so no MAC"
    );
    assert_eq!(
        curl(&format!("tftp://{NET}.2/second.ipxe")),
        read(&dir.0.join("second.ipxe"))
    );

    // A full transfer table refuses politely: five requests that are never
    // acknowledged hold the 4 slots, and the fifth gets ERROR "server busy".
    let ns = seg.ns.clone();
    let replies = std::thread::spawn(move || fill_transfer_table(&ns))
        .join()
        .unwrap();
    assert_eq!(
        replies.iter().filter(|r| r.starts_with("DATA")).count(),
        4,
        "{replies:?}\n{}",
        fw()
    );
    assert!(
        replies
            .iter()
            .any(|r| r.starts_with("ERROR 0") && r.contains("busy")),
        "{replies:?}\n{}",
        fw()
    );

    // HTTP the same: two idle connections hold both slots; the third is
    // answered 503 at once; when the two go, the next is served again.
    let ns = seg.ns.clone();
    let (busy, served) = std::thread::spawn(move || fill_http_connections(&ns))
        .join()
        .unwrap();
    assert!(
        busy.starts_with("HTTP/1.1 503 Service Unavailable\r\n")
            && busy.contains("\r\nRetry-After: 1\r\n")
            && busy.ends_with("\r\n\r\n503 Service Unavailable\n"),
        "{busy}\n{}",
        fw()
    );
    assert!(
        served.starts_with("HTTP/1.1 200 OK\r\n"),
        "{served}\n{}",
        fw()
    );
    // The firmware may log the refusal after the response has gone out.
    wait_for_line(
        &fw_log,
        "refused with 503: all 2 connections busy",
        Duration::from_secs(10),
        &fw,
    );

    // The BIOS machine: its own iPXE ROM.
    {
        let _bios = ipxe_bios_machine(&seg.ns, bios_tap, "52:54:00:aa:79:01");
        // curl's fetch was the first "second.ipxe"; the machine's is the
        // second.
        assert!(
            try_wait_until(Duration::from_secs(120), || {
                read(&fw_log).matches("done \"second.ipxe\"").count() >= 2
            }),
            "the BIOS machine never chained second.ipxe\n{}",
            fw()
        );
        let log = read(&fw_log);
        assert!(
            log.contains("52:54:00:aa:79:01 offer")
                && log.contains(&format!("(x86 BIOS, iPXE): boot http://{NET}.2/boot.ipxe")),
            "{log}"
        );
        assert!(log.contains("/boot.ipxe 200"), "{log}");
    }

    // The UEFI machine: OVMF's PXE, then iPXE (snponly.efi) from the firmware.
    let vars = dir.0.join("OVMF_VARS.fd");
    std::fs::copy("/usr/share/OVMF/OVMF_VARS_4M.fd", &vars)
        .expect("ovmf package (./test.sh installs it)");
    let console = dir.0.join("uefi-console.log");
    let _uefi = Child(
        seg.exec("qemu-system-x86_64")
            .args(["-m", "256", "-machine", "q35,accel=tcg", "-display", "none"])
            .arg("-serial")
            .arg(format!("file:{}", console.display()))
            .args(["-monitor", "none", "-no-reboot"])
            .args([
                "-drive",
                "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd",
            ])
            .arg("-drive")
            .arg(format!("if=pflash,format=raw,file={}", vars.display()))
            .args([
                "-netdev",
                &format!("tap,id=n0,ifname={uefi_tap},script=no,downscript=no"),
                "-device",
                "virtio-net-pci,netdev=n0,mac=52:54:00:aa:79:02,romfile=,bootindex=0",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let both = || format!("console:\n{}\n{}", read(&console), fw());
    wait_for_line(
        &console,
        &format!("awl-tftp-{marker}"),
        Duration::from_secs(300),
        &both,
    );
    let screen = read(&console);
    let log = read(&fw_log);
    // The HTTP script ran, rendered for this machine by the firmware.
    let lease = log
        .lines()
        .filter(|l| l.contains("52:54:00:aa:79:02 ack "))
        .filter_map(|l| l.split("ack ").nth(1)?.split(':').next())
        .next_back()
        .unwrap_or_else(|| panic!("no lease for the UEFI machine\n{log}"))
        .trim()
        .to_string();
    assert!(
        screen.contains(&format!(
            "awl-http-{marker} for 52:54:00:aa:79:02 at {lease} from {NET}.2"
        )),
        "{}",
        both()
    );
    // The firmware's own RAM figures (for BENCHMARKS.md; --nocapture).
    for line in log.lines().filter(|l| l.starts_with("ram: ")) {
        println!("firmware {line}");
    }
    // OVMF's own PXE got snponly.efi over TFTP.
    assert!(log.contains("(x64 UEFI): boot snponly.efi"), "{log}");
}

/// From inside `netns`: five TFTP requests from five ports, never
/// acknowledged, each sent once the one before has its first reply (so the
/// fifth is the one that finds the table full); returns the first reply to
/// each ("DATA n" or "ERROR code message"), then aborts the transfers with
/// ERRORs of its own.
fn fill_transfer_table(netns: &str) -> Vec<String> {
    let ns = std::fs::File::open(format!("/run/netns/{netns}")).unwrap();
    nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
    let server: std::net::SocketAddr = format!("{NET}.2:69").parse().unwrap();
    let sockets: Vec<std::net::UdpSocket> = (0..5)
        .map(|_| {
            let s = std::net::UdpSocket::bind(format!("{NET}.1:0")).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            s
        })
        .collect();
    let mut replies = Vec::new();
    let mut transfers = Vec::new();
    for s in &sockets {
        s.send_to(b"\x00\x01snponly.efi\x00octet\x00", server)
            .unwrap();
        let mut buf = [0u8; 1024];
        match s.recv_from(&mut buf) {
            Ok((n, from)) => {
                let d = &buf[..n];
                let text = match d.get(1) {
                    Some(3) => format!("DATA {}", u16::from_be_bytes([d[2], d[3]])),
                    Some(5) => format!(
                        "ERROR {} {}",
                        u16::from_be_bytes([d[2], d[3]]),
                        String::from_utf8_lossy(&d[4..]).trim_end_matches('\0')
                    ),
                    _ => format!("other {d:?}"),
                };
                if text.starts_with("DATA") {
                    transfers.push((s, from));
                }
                replies.push(text);
            }
            Err(e) => replies.push(format!("nothing: {e}")),
        }
    }
    // Only now, with all five asked, free the slots.
    for (s, from) in transfers {
        let _ = s.send_to(b"\x00\x05\x00\x00test done\x00", from);
    }
    replies
}

/// From inside `netns`: holds both HTTP connections of the firmware open
/// without a request, sends a request on a third and reads its whole
/// response; then lets the two go and returns that response and the
/// answer to the next request: the first 200 OK, asking again for up to
/// 10 s (the firmware frees the slots a moment after the two close), else
/// the last answer.
fn fill_http_connections(netns: &str) -> (String, String) {
    use std::io::{Read, Write};
    let ns = std::fs::File::open(format!("/run/netns/{netns}")).unwrap();
    nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
    let server: std::net::SocketAddr = format!("{NET}.2:80").parse().unwrap();
    let get = || {
        let mut s = match std::net::TcpStream::connect_timeout(&server, Duration::from_secs(5)) {
            Ok(s) => s,
            Err(e) => return format!("connect: {e}"),
        };
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"GET /second.ipxe HTTP/1.1\r\nHost: fw\r\n\r\n")
            .unwrap();
        let mut response = Vec::new();
        match s.read_to_end(&mut response) {
            Ok(_) => String::from_utf8_lossy(&response).into_owned(),
            Err(e) => format!("{e} after {:?}", String::from_utf8_lossy(&response)),
        }
    };
    let idle: Vec<std::net::TcpStream> = (0..2)
        .map(|_| std::net::TcpStream::connect_timeout(&server, Duration::from_secs(5)).unwrap())
        .collect();
    // Both connected: the firmware's two connection sockets have left
    // LISTEN (they answered the SYNs), so the third SYN can only reach its
    // refusal socket.
    let busy = get();
    drop(idle);
    let mut last = String::new();
    let served = try_wait_for(Duration::from_secs(10), || {
        last = get();
        last.starts_with("HTTP/1.1 200 OK\r\n")
            .then(|| last.clone())
    });
    (busy, served.unwrap_or(last))
}

/// The appliance in proxy mode beside dnsmasq, the network's only address
/// server: a BIOS machine (its own iPXE ROM) gets its address from dnsmasq
/// and its boot script from the firmware, which it runs (it chains the
/// second script over TFTP).
#[test]
fn proxy_firmware_beside_dnsmasq_boots_a_bios_machine() {
    require_tool("qemu-system-arm");
    require_tool("qemu-system-x86_64");
    require_tool("dnsmasq");
    const NET: &str = "10.79.8";
    let dir = TempDir::new("firmware-proxy");
    std::fs::write(
        dir.0.join("boot.ipxe"),
        format!("#!ipxe\necho proxy boot of {{{{mac}}}}\nchain tftp://{NET}.2/second.ipxe\n"),
    )
    .unwrap();
    std::fs::write(dir.0.join("second.ipxe"), "#!ipxe\nsleep 120\n").unwrap();
    let appliance = dir.0.join("appliance.toml");
    std::fs::write(
        &appliance,
        format!(
            "[network]\nmac = \"02:a7:10:00:08:02\"\naddress = \"{NET}.2\"\nnetmask = \"255.255.255.0\"\n\n\
             [dhcp]\nmode = \"proxy\"\n\n\
             [boot]\nipxe_script = \"http://{NET}.2/boot.ipxe\"\n\n\
             [[files]]\nname = \"boot.ipxe\"\npath = \"boot.ipxe\"\nrender = true\n\n\
             [[files]]\nname = \"second.ipxe\"\npath = \"second.ipxe\"\n"
        ),
    )
    .unwrap();
    let image = build_firmware(&appliance, &dir.0);
    let seg = Segment::new(NET, &["tpxarm", "tpxbios"]);
    let (_dnsmasq, dnsmasq_log) = dnsmasq_dhcp(
        &seg.ns,
        "br0",
        &format!("{NET}.100,{NET}.150,255.255.255.0,1h"),
        &dir.0,
    );
    let fw_log = dir.0.join("firmware.log");
    let _firmware = seg.firmware(&image, &fw_log, "tpxarm");
    let both = || {
        format!(
            "firmware log:\n{}\ndnsmasq log:\n{}",
            read(&fw_log),
            read(&dnsmasq_log)
        )
    };
    wait_for_line(
        &fw_log,
        &format!("awl-firmware: up {NET}.2"),
        Duration::from_secs(30),
        &both,
    );
    let _bios = ipxe_bios_machine(&seg.ns, "tpxbios", "52:54:00:aa:78:01");
    wait_for_line(
        &fw_log,
        "done \"second.ipxe\"",
        Duration::from_secs(120),
        &both,
    );
    let log = read(&fw_log);
    let dns = read(&dnsmasq_log);
    // The address came from dnsmasq ...
    let acked = dns
        .lines()
        .find(|l| l.contains("DHCPACK(br0)") && l.contains("52:54:00:aa:78:01"))
        .unwrap_or_else(|| panic!("dnsmasq never acked the machine\n{}", both()));
    let address = acked
        .split_whitespace()
        .find(|w| w.starts_with(&format!("{NET}.")))
        .unwrap_or_else(|| panic!("{acked}"));
    // ... the boot from the firmware, which handed out no address ...
    assert!(
        log.contains("52:54:00:aa:78:01 proxy offer (x86 BIOS, iPXE)")
            || log.contains("52:54:00:aa:78:01 boot server ack"),
        "{}",
        both()
    );
    assert!(!log.contains("52:54:00:aa:78:01 ack "), "{}", both());
    // ... and the machine fetched the script from its dnsmasq address.
    assert!(
        log.contains(&format!("http: {address}:")) && log.contains("/boot.ipxe 200"),
        "{}",
        both()
    );
}
