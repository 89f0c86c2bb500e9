//! Real machines network-boot from awl: QEMU x86_64 with its own iPXE NIC
//! ROM (BIOS), and with OVMF's own UEFI PXE client, on a tap bridged in a
//! network namespace this test creates, get their address and boot file
//! from awl's DHCP, fetch over awl's TFTP, and run the script awl points
//! them at: the script chains a second file whose name only it knows, and
//! awl's log shows that file delivered.

use std::process::{Command, Stdio};
use std::time::Duration;

use awl_tests::{bridge_tap, require_tool, try_wait_until, AwlServer, Child, NetnsPair, TempDir};

struct Lab {
    net: NetnsPair,
    dir: TempDir,
    server: AwlServer,
    tap: String,
    marker: String,
}

fn lab(subnet: u8) -> Lab {
    require_tool("qemu-system-x86_64");
    let net = NetnsPair::new(subnet, 0);
    let tap = bridge_tap(&net);
    let dir = TempDir::new("qemu-boot");
    let ip = net.server_ip.clone();
    let marker = format!("marker-{}-{subnet}.ipxe", std::process::id());
    std::fs::write(
        dir.0.join("boot.ipxe"),
        format!("#!ipxe\necho awl: boot.ipxe runs\nchain tftp://{ip}/{marker}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.0.join(&marker),
        "#!ipxe\necho awl: marker reached\nsleep 60\n",
    )
    .unwrap();
    // Debian's iPXE for UEFI, as awl's default x64 boot file.
    std::fs::copy("/usr/lib/ipxe/ipxe.efi", dir.0.join("ipxe.efi"))
        .expect("ipxe package (./test.sh installs it)");
    let subnet_prefix = ip.rsplit_once('.').unwrap().0.to_string();
    let range = format!("{subnet_prefix}.100,{subnet_prefix}.150");
    let script = format!("tftp://{ip}/boot.ipxe");
    let lease_file = dir.0.join("leases");
    let server = AwlServer::start(
        Some(&net.server),
        &[
            "--tftp-root",
            dir.0.to_str().unwrap(),
            "--tftp-listen",
            &format!("{ip}:69"),
            "--interface",
            &net.server_if,
            "--dhcp-range",
            &range,
            "--ipxe-script",
            &script,
            "--lease-file",
            lease_file.to_str().unwrap(),
        ],
    );
    Lab {
        net,
        dir,
        server,
        tap,
        marker,
    }
}

/// Starts QEMU in the client namespace; its stderr goes to `qemu.log` in
/// the lab folder (shown when a test fails).
fn qemu(lab: &Lab, machine: &str, firmware: &[&str], nic: &str) -> Child {
    let netdev = format!("tap,id=n0,ifname={},script=no,downscript=no", lab.tap);
    let log = std::fs::File::create(lab.dir.0.join("qemu.log")).unwrap();
    let child = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.net.client,
            "qemu-system-x86_64",
            "-m",
            "256",
        ])
        // TCG: KVM in sandboxes like this one fails on OVMF ("KVM internal
        // error"), and these machines only need to reach their network boot.
        .args(["-machine", &format!("{machine},accel=tcg")])
        .args([
            "-display",
            "none",
            "-serial",
            "null",
            "-monitor",
            "none",
            "-no-reboot",
        ])
        .args(firmware)
        .args(["-netdev", &netdev, "-device", nic])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    Child(child)
}

/// Waits until the server's log contains `what`.
fn wait_for_log(lab: &Lab, what: &str, limit: Duration) {
    assert!(
        try_wait_until(limit, || lab.server.log().contains(what)),
        "no \"{what}\" within {limit:?}; server log:\n{}\nqemu:\n{}",
        lab.server.log(),
        std::fs::read_to_string(lab.dir.0.join("qemu.log")).unwrap_or_default()
    );
}

#[test]
fn bios_ipxe_rom_boots_from_awl() {
    let lab = lab(71);
    let _vm = qemu(
        &lab,
        "pc",
        &["-boot", "n"],
        "e1000,netdev=n0,mac=52:54:00:aa:71:01",
    );
    wait_for_log(
        &lab,
        &format!("done \"{}\"", lab.marker),
        Duration::from_secs(120),
    );
    let log = lab.server.log();
    // DHCP saw iPXE on BIOS and answered with the script, not a binary.
    assert!(log.contains("52:54:00:aa:71:01 offer 10.77.71.1"), "{log}");
    assert!(
        log.contains("(x86 BIOS, iPXE): boot tftp://10.77.71.1/boot.ipxe"),
        "{log}"
    );
    assert!(log.contains("done \"boot.ipxe\""), "{log}");
}

#[test]
fn ovmf_uefi_pxe_boots_ipxe_efi_from_awl_then_the_script() {
    require_tool("qemu-system-x86_64");
    let vars = TempDir::new("ovmf-vars");
    let vars_file = vars.0.join("OVMF_VARS.fd");
    std::fs::copy("/usr/share/OVMF/OVMF_VARS_4M.fd", &vars_file)
        .expect("ovmf package (./test.sh installs it)");
    let lab = lab(72);
    let code = "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd".to_string();
    let vars_drive = format!("if=pflash,format=raw,file={}", vars_file.display());
    let _vm = qemu(
        &lab,
        "q35",
        &["-drive", &code, "-drive", &vars_drive],
        "virtio-net-pci,netdev=n0,mac=52:54:00:aa:72:01,romfile=,bootindex=0",
    );
    wait_for_log(
        &lab,
        &format!("done \"{}\"", lab.marker),
        Duration::from_secs(240),
    );
    let log = lab.server.log();
    // OVMF's own PXE (arch 7, not iPXE) was given ipxe.efi ...
    assert!(
        log.contains("(x64 UEFI): boot ipxe.efi from tftp 10.77.72.1"),
        "{log}"
    );
    assert!(log.contains("done \"ipxe.efi\""), "{log}");
    // ... which then asked again as iPXE and got the script.
    assert!(
        log.contains("(x64 UEFI, iPXE): boot tftp://10.77.72.1/boot.ipxe"),
        "{log}"
    );
    let _ = &lab.dir;
}
