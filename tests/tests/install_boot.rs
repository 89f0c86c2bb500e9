//! Machines boot what the inventory says (issue 11): QEMU PCs with their
//! own firmware (the BIOS iPXE ROM of a virtio NIC, and OVMF's UEFI PXE)
//! network-boot from awl on a network namespace this test makes. The
//! inventory is written with the `awl` CLI while awl serves:
//!
//! * a known machine gets its profile's kernel and initrd (over HTTP, or
//!   TFTP) and fetches its own answer file; the small OS in the initrd
//!   (`awl_tests::tiny`) prints the size and SHA-256 of what it fetched,
//!   compared here with what awl serves at that URL;
//! * a machine with `netboot = never` gets "boot from the local disk";
//! * an unknown machine gets the menu.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use awl_tests::{bridge_tap, require_tool, tiny, wait_for, AwlServer, Child, NetnsPair, TempDir};

struct Lab {
    net: NetnsPair,
    dir: TempDir,
    server: AwlServer,
    tap: String,
    inventory: String,
}

fn awl(inventory: &str, args: &[&str]) {
    awl_tests::awl_inventory(inventory, args);
}

fn lab(subnet: u8) -> Lab {
    require_tool("qemu-system-x86_64");
    let net = NetnsPair::new(subnet, 0);
    let tap = bridge_tap(&net);
    let dir = TempDir::new("install-boot");
    let root = tiny::files_root(&dir.0);
    std::fs::copy("/usr/lib/ipxe/ipxe.efi", root.join("ipxe.efi"))
        .expect("ipxe package (./test.sh installs it)");
    let ip = net.server_ip.clone();
    let prefix = ip.rsplit_once('.').unwrap().0.to_string();
    let inventory = dir.0.join("inventory.toml").display().to_string();
    // The inventory exists before awl starts; machines are added later,
    // while it serves.
    tiny::add_distro(&inventory, "console=ttyS0 panic=-1");
    awl(
        &inventory,
        &[
            "profile",
            "add",
            "tiny",
            "--distro",
            "tiny",
            "--template",
            "kickstart",
        ],
    );
    let leases = dir.0.join("leases");
    let server = AwlServer::start(
        Some(&net.server),
        &[
            "--tftp-root",
            root.to_str().unwrap(),
            "--tftp-listen",
            &format!("{ip}:69"),
            "--http-listen",
            &format!("{ip}:80"),
            "--inventory",
            &inventory,
            "--interface",
            &net.server_if,
            "--dhcp-range",
            &format!("{prefix}.100,{prefix}.150"),
            "--lease-file",
            leases.to_str().unwrap(),
        ],
    );
    Lab {
        net,
        dir,
        server,
        tap,
        inventory,
    }
}

/// A QEMU PC in the client namespace; its serial console goes to
/// `console-NAME.log` in the lab folder.
fn machine(lab: &Lab, name: &str, firmware: &[&str], nic: &str) -> Child {
    let netdev = format!("tap,id=n0,ifname={},script=no,downscript=no", lab.tap);
    let console = lab.dir.0.join(format!("console-{name}.log"));
    let child = Command::new("ip")
        .args(["netns", "exec", &lab.net.client, "qemu-system-x86_64"])
        .args(["-m", "384", "-display", "none", "-monitor", "none"])
        .arg("-serial")
        .arg(format!("file:{}", console.display()))
        .args(firmware)
        .args(["-netdev", &netdev, "-device", nic])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("qemu-system-x86_64 (./test.sh installs it)");
    Child(child)
}

fn console(lab: &Lab, name: &str) -> String {
    std::fs::read_to_string(lab.dir.0.join(format!("console-{name}.log"))).unwrap_or_default()
}

fn wait_for_log(lab: &Lab, what: &str, limit: Duration) {
    lab.server.wait_for_log(limit, &[what]);
}

/// The size and SHA-256 of what awl serves at `url`, fetched with curl in
/// the server's namespace.
fn served(lab: &Lab, url: &str) -> (u64, String) {
    let path = lab.dir.0.join("served");
    let status = Command::new("ip")
        .args(["netns", "exec", &lab.net.server, "curl", "-sf", "-o"])
        .arg(&path)
        .arg(url)
        .status()
        .unwrap();
    assert!(status.success(), "curl {url}");
    let bytes = std::fs::read(&path).unwrap();
    let sha = Command::new("sha256sum").arg(&path).output().unwrap();
    let sha = String::from_utf8_lossy(&sha.stdout)
        .split(' ')
        .next()
        .unwrap()
        .to_string();
    (bytes.len() as u64, sha)
}

/// Waits until the machine's small OS has fetched its answer file and
/// checks the bytes against what awl serves.
fn fetched_answer(lab: &Lab, vm: &str, system: &str) -> String {
    let base = format!("http://{}/answer/system/{system}?token=", lab.net.server_ip);
    let fetched = wait_for(
        Duration::from_secs(300),
        &format!("{vm} prints what it fetched"),
        || {
            let out = console(lab, vm);
            out.contains("AWL-TINY-DONE").then(|| tiny::fetched(&out))
        },
    );
    // Its URL carries its install token (docs/lifecycle.md).
    let url = fetched
        .first()
        .map(|(u, _, _)| u.clone())
        .filter(|u| u.starts_with(&base))
        .unwrap_or_else(|| panic!("no answer file with a token in {fetched:?}"));
    let (size, sha) = served(lab, &url);
    assert_eq!(
        fetched,
        vec![(url.clone(), size, sha)],
        "the machine fetched its own answer file, byte for byte\nconsole:\n{}\nserver:\n{}",
        console(lab, vm),
        lab.server.log()
    );
    let path = lab.dir.0.join("served");
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn bios_machines_boot_what_the_inventory_says() {
    let lab = lab(81);
    let inv = lab.inventory.as_str();
    // Added while awl serves: effective at the next request.
    awl(
        inv,
        &[
            "system",
            "add",
            "web1",
            "--mac",
            "52:54:00:aa:81:01",
            "--ip",
            "10.77.81.21",
            "--hostname",
            "web1",
            "--profile",
            "tiny",
        ],
    );
    awl(
        inv,
        &[
            "system",
            "add",
            "db1",
            "--mac",
            "52:54:00:aa:81:02",
            "--profile",
            "tiny",
            "--netboot",
            "never",
        ],
    );
    let bios = ["-machine", "pc,accel=tcg", "-boot", "n", "-no-reboot"];
    // One tap, so one machine at a time: each is ended (by PID) before
    // the next starts.
    let web1 = machine(
        &lab,
        "web1",
        &bios,
        "virtio-net-pci,netdev=n0,mac=52:54:00:aa:81:01",
    );
    let kickstart = fetched_answer(&lab, "web1", "web1");
    assert!(kickstart.contains("web1"), "{kickstart}");
    let log = lab.server.log();
    assert!(
        log.contains("ipxe for 52:54:00:aa:81:01: system web1 installs profile tiny"),
        "{log}"
    );
    // The fixed address added with the CLI while awl served: DHCP gave it.
    assert!(log.contains("52:54:00:aa:81:01 offer 10.77.81.21"), "{log}");

    drop(web1);
    let db1 = machine(
        &lab,
        "db1",
        &bios,
        "virtio-net-pci,netdev=n0,mac=52:54:00:aa:81:02",
    );
    wait_for_log(
        &lab,
        "ipxe for 52:54:00:aa:81:02: system db1 boots from its disk (netboot never)",
        Duration::from_secs(180),
    );
    drop(db1);
    let _stranger = machine(
        &lab,
        "stranger",
        &bios,
        "virtio-net-pci,netdev=n0,mac=52:54:00:aa:81:03",
    );
    wait_for_log(
        &lab,
        "ipxe for 52:54:00:aa:81:03: unknown machine gets the menu",
        Duration::from_secs(180),
    );
}

#[test]
fn an_ovmf_machine_boots_its_kernel_over_tftp_and_fetches_its_answer_file() {
    let lab = lab(82);
    let inv = lab.inventory.as_str();
    let ip = lab.net.server_ip.clone();
    // The same distro, its kernel and initrd over TFTP this time.
    awl(
        inv,
        &[
            "distro",
            "add",
            "tiny-tftp",
            "--kernel",
            &format!("tftp://{ip}/tiny/vmlinuz"),
            "--initrd",
            &format!("tftp://{ip}/tiny/initrd.cpio"),
            "--family",
            "redhat",
            "--kernel-args",
            "console=ttyS0 panic=-1",
        ],
    );
    awl(
        inv,
        &[
            "profile",
            "add",
            "tiny-tftp",
            "--distro",
            "tiny-tftp",
            "--template",
            "kickstart",
        ],
    );
    awl(
        inv,
        &[
            "system",
            "add",
            "efi1",
            "--mac",
            "52:54:00:aa:82:01",
            "--profile",
            "tiny-tftp",
        ],
    );
    let vars = lab.dir.0.join("OVMF_VARS.fd");
    std::fs::copy("/usr/share/OVMF/OVMF_VARS_4M.fd", &vars).expect("ovmf (./test.sh installs it)");
    let code = "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd";
    let vars_drive = format!("if=pflash,format=raw,file={}", vars.display());
    let _efi1 = machine(
        &lab,
        "efi1",
        &[
            "-machine",
            "q35,accel=tcg",
            "-drive",
            code,
            "-drive",
            &vars_drive,
            "-no-reboot",
        ],
        "virtio-net-pci,netdev=n0,mac=52:54:00:aa:82:01,romfile=,bootindex=0",
    );
    fetched_answer(&lab, "efi1", "efi1");
    let log = lab.server.log();
    assert!(
        log.contains("done \"tiny/vmlinuz\""),
        "kernel over TFTP:\n{log}"
    );
    assert!(
        log.contains("done \"tiny/initrd.cpio\""),
        "initrd over TFTP:\n{log}"
    );
    let _ = Path::new(&lab.inventory);
}
