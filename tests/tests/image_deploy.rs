//! Machines come out installed (issue 14, the image path), on QEMU PCs
//! whose firmware nobody here wrote (SeaBIOS with its NIC's iPXE ROM, and
//! OVMF's own UEFI PXE), on a network namespace this test makes:
//!
//! 1. power-on with an empty disk: awl's DHCP, iPXE (BIOS) or GRUB
//!    (UEFI, `images/grub-net.sh`, as MAAS boots UEFI machines), the deploy
//!    environment (`images/deploy-env.sh`) booted from awl, which streams
//!    the Debian image (`images/debian-image.sh`) to the disk, checks its
//!    SHA-256 and reports `written`; its syslog reaches awl;
//! 2. the machine reboots; awl answers "boot from disk" (iPXE `sanboot`,
//!    GRUB chainloading the disk's EFI loader); the installed
//!    system's cloud-init reads its NoCloud seed from awl (hostname,
//!    user, a file, a command), its `phone_home` reports, and awl shows
//!    the system installed; the serial console shows the hostname the
//!    inventory gave at the login prompt, and the file the user-data
//!    wrote;
//! 3. a second power-on boots the disk, without a second deploy;
//! 4. after `awl system reinstall`, the next power-on deploys again;
//! 5. an image whose bytes do not match the inventory's checksum is
//!    reported failed, and the disk it was written to cannot boot (its
//!    first MiB zeroed).
//!
//! The image and the deploy environment are built by `./test.sh` into
//! `target/images/` (natively, with mmdebstrap).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use awl_tests::{
    awl_binary, awl_inventory, bridge_tap, install_serve_args, ovmf_machine, repo_root,
    require_tool, wait_for, wait_until, AwlServer, Child, NetnsPair, TempDir,
};

/// The image folder `./test.sh` builds; a missing one is a missing
/// install step, not a reason to skip.
fn built_images() -> PathBuf {
    let dir = repo_root().join("target/images");
    for file in [
        "debian-12.img",
        "deploy/vmlinuz",
        "deploy/initrd.img",
        "grubnetx64.efi",
    ] {
        assert!(
            dir.join(file).is_file(),
            "{}: missing; ./test.sh builds it (images/*.sh)",
            dir.join(file).display()
        );
    }
    dir
}

struct Lab {
    net: NetnsPair,
    dir: TempDir,
    tap: String,
    inventory: String,
    state: PathBuf,
    server: AwlServer,
}

/// awl serving DHCP, TFTP, HTTP and syslog in a namespace pair, with the
/// image imported (hard links into the files root) and one system.
fn lab(subnet: u8, system: &str, mac: &str, firmware: Firmware) -> Lab {
    require_tool("qemu-system-x86_64");
    let images = built_images();
    let net = NetnsPair::new(subnet, 0);
    let tap = bridge_tap(&net);
    let dir = TempDir::new("image-deploy");
    let root = dir.0.join("root");
    let folder = root.join("images/debian-12");
    std::fs::create_dir_all(folder.join("deploy")).unwrap();
    for file in ["debian-12.img", "deploy/vmlinuz", "deploy/initrd.img"] {
        std::fs::hard_link(images.join(file), folder.join(file)).unwrap();
    }
    // UEFI machines get GRUB (images/grub-net.sh): iPXE's `exit` does
    // not hand an OVMF machine back to its disk here (docs/images.md).
    std::fs::hard_link(images.join("grubnetx64.efi"), root.join("grubnetx64.efi")).unwrap();
    let inventory = dir.0.join("inventory.toml").display().to_string();
    let out = Command::new(awl_binary())
        .args(["import", "--inventory", &inventory, "--name", "debian-12"])
        .arg("--files-root")
        .arg(&root)
        .arg(&folder)
        .output()
        .unwrap();
    assert!(out.status.success(), "awl import: {out:?}");
    awl_inventory(
        &inventory,
        &[
            "profile",
            "add",
            "debian-12",
            "--distro",
            "debian-12",
            "--kernel-args",
            "console=ttyS0,115200",
            "--var",
            "install_timeout_minutes=30",
        ],
    );
    // The command prints the file the user-data wrote on the serial
    // console, where the test reads it.
    awl_inventory(
        &inventory,
        &[
            "system",
            "add",
            system,
            "--mac",
            mac,
            "--hostname",
            &format!("{system}.lab.example"),
            "--profile",
            "debian-12",
            "--netboot",
            "once",
            "--var",
            r#"runcmd=[["sh", "-c", "sed 's/^/AWL-FILE /' /etc/awl-install > /dev/ttyS0"]]"#,
        ],
    );
    let state = dir.0.join("state");
    let mut args = install_serve_args(&net, &dir.0, &root, &inventory, &state);
    if firmware == Firmware::Uefi {
        args.extend(["--boot-uefi-x64".into(), "grubnetx64.efi".into()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = AwlServer::start(Some(&net.server), &args);
    server.wait_for_log(Duration::from_secs(10), &["http: serving"]);
    Lab {
        net,
        dir,
        tap,
        inventory,
        state,
        server,
    }
}

/// The machine's firmware.
#[derive(Clone, Copy, PartialEq)]
enum Firmware {
    /// SeaBIOS, booting the iPXE ROM of its virtio NIC first, then its
    /// disk.
    Bios,
    /// OVMF (fresh variables), booting its own UEFI PXE first (which
    /// loads GRUB from awl), then its disk.
    Uefi,
}

/// Powers on the machine: QEMU with `disk`, network first, its serial
/// console appended to `console-NAME-RUN.log`. Guest reboots stay in the
/// same QEMU; power-off ends it.
fn power_on(lab: &Lab, name: &str, run: u32, mac: &str, disk: &Path, firmware: Firmware) -> Child {
    let netdev = format!("tap,id=n0,ifname={},script=no,downscript=no", lab.tap);
    let console = lab.dir.0.join(format!("console-{name}-{run}.log"));
    let mut qemu = Command::new("ip");
    qemu.args(["netns", "exec", &lab.net.client, "qemu-system-x86_64"])
        .args(["-m", "1024", "-display", "none", "-monitor", "none"])
        .arg("-serial")
        .arg(format!("file:{}", console.display()))
        .args(["-netdev", &netdev])
        .arg("-drive")
        .arg(format!(
            "file={},if=none,id=d0,format=raw,cache=unsafe",
            disk.display()
        ))
        .args(["-device", "virtio-blk-pci,drive=d0,bootindex=1"]);
    match firmware {
        Firmware::Bios => {
            qemu.args(["-machine", "pc,accel=tcg", "-device"])
                .arg(format!("virtio-net-pci,netdev=n0,mac={mac},bootindex=0"));
        }
        Firmware::Uefi => {
            let vars = lab.dir.0.join(format!("OVMF_VARS-{name}.fd"));
            ovmf_machine(&mut qemu, &vars, mac);
        }
    }
    let child = qemu
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("qemu-system-x86_64 (./test.sh installs it)");
    Child(child)
}

fn console(lab: &Lab, name: &str, run: u32) -> String {
    let path = lab.dir.0.join(format!("console-{name}-{run}.log"));
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
}

/// `awl status --json`'s row for `system` (null when it has none).
fn row_of(lab: &Lab, system: &str) -> serde_json::Value {
    let out = Command::new(awl_binary())
        .args(["status", "--json", "--state-dir"])
        .arg(&lab.state)
        .output()
        .unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    rows.as_array()
        .into_iter()
        .flatten()
        .find(|r| r["system"] == system)
        .cloned()
        .unwrap_or_default()
}

fn state_of(lab: &Lab, system: &str) -> String {
    row_of(lab, system)["state"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// Waits for `marker` on run `run`'s console; on timeout, fails with the
/// console and awl's log.
fn wait_console(lab: &Lab, name: &str, run: u32, marker: &str, limit: Duration) {
    let found = awl_tests::try_wait_until(limit, || console(lab, name, run).contains(marker));
    assert!(
        found,
        "no {marker:?} on {name}'s console (run {run}) within {limit:?}\nconsole:\n{}\nawl:\n{}",
        console(lab, name, run),
        lab.server.log()
    );
}

fn count(text: &str, what: &str) -> usize {
    text.matches(what).count()
}

/// The whole cycle for one machine.
fn install_cycle(subnet: u8, name: &str, mac: &str, firmware: Firmware) {
    let lab = lab(subnet, name, mac, firmware);
    let image = built_images().join("debian-12.img");
    let size = std::fs::metadata(&image).unwrap().len();
    let disk = lab.dir.0.join(format!("{name}.disk"));
    // An empty disk, a little larger than the image.
    std::fs::File::create(&disk)
        .unwrap()
        .set_len(size + (64 << 20))
        .unwrap();
    let deploy_served = format!("answer file image/deploy.conf for system {name}");

    // 1. Power-on with an empty disk: deployed, then the first boot.
    let machine = power_on(&lab, name, 1, mac, &disk, firmware);
    wait_console(
        &lab,
        name,
        1,
        "AWL-DEPLOY-WRITTEN",
        Duration::from_secs(900),
    );
    let login = format!("{name} login:");
    wait_console(&lab, name, 1, &login, Duration::from_secs(900));
    wait_until(Duration::from_secs(120), "phone_home reported", || {
        state_of(&lab, name) == "installed"
    });
    let installed_at = row_of(&lab, name)["installed_at"].clone();
    assert!(installed_at.is_u64(), "{installed_at}");
    let out = console(&lab, name, 1);
    assert!(
        out.contains(&format!("AWL-FILE system={name}"))
            && out.contains("AWL-FILE profile=debian-12"),
        "the file the user-data wrote:\n{out}"
    );
    let log = lab.server.log();
    assert_eq!(count(&log, &deploy_served), 1, "one deploy:\n{log}");
    assert!(
        log.contains(&format!(
            "system {name}: image written; it boots from its disk"
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!("system {name} boots from its disk")),
        "awl answered local boot after the deploy:\n{log}"
    );
    assert!(log.contains(&format!("answer file image/user-data for system {name}")));
    assert!(
        log.contains("http: callback from") && log.contains(&format!("system {name} installed"))
    );
    // The deploy environment's syslog, filed under the system.
    let syslog = std::fs::read_to_string(lab.state.join("logs").join(format!("{name}.log")))
        .unwrap_or_default();
    assert!(syslog.contains("awl-deploy"), "installer syslog:\n{syslog}");
    drop(machine);

    // 2. A second power-on: its disk, no deploy.
    let machine = power_on(&lab, name, 2, mac, &disk, firmware);
    wait_console(&lab, name, 2, &login, Duration::from_secs(900));
    let out = console(&lab, name, 2);
    assert!(!out.contains("AWL-DEPLOY"), "deployed again:\n{out}");
    assert_eq!(count(&lab.server.log(), &deploy_served), 1);
    // Local boot, then the installed system's own DHCP (seen): still the
    // same install.
    let row = row_of(&lab, name);
    assert!(row["state"] == "local" || row["state"] == "seen", "{row}");
    assert_eq!(row["installed_at"], installed_at, "{row}");
    drop(machine);

    // 3. Reinstall: the next power-on deploys again.
    let out = Command::new(awl_binary())
        .args(["system", "reinstall", name, "--inventory", &lab.inventory])
        .arg("--state-dir")
        .arg(&lab.state)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let _machine = power_on(&lab, name, 3, mac, &disk, firmware);
    wait_console(&lab, name, 3, "AWL-DEPLOY", Duration::from_secs(600));
    wait_for(Duration::from_secs(60), "a second deploy served", || {
        (count(&lab.server.log(), &deploy_served) == 2).then_some(())
    });
}

#[test]
fn a_bios_machine_installs_the_image_once() {
    install_cycle(98, "bios1", "52:54:00:aa:98:01", Firmware::Bios);
}

#[test]
fn a_uefi_machine_installs_the_image_once() {
    install_cycle(99, "uefi1", "52:54:00:aa:99:01", Firmware::Uefi);
}

/// A checksum that does not match: the deploy environment reports the
/// failure, zeroes the disk's start, powers off; awl shows `failed`.
#[test]
fn a_bad_checksum_fails_the_deploy_and_the_disk_does_not_boot() {
    let (name, mac) = ("bad1", "52:54:00:aa:a0:01");
    let lab = lab(100, name, mac, Firmware::Bios);
    awl_inventory(
        &lab.inventory,
        &[
            "distro",
            "edit",
            "debian-12",
            "--image-sha256",
            &"0".repeat(64),
        ],
    );
    let size = std::fs::metadata(built_images().join("debian-12.img"))
        .unwrap()
        .len();
    // The disk holds something bootable-looking from before.
    let disk = lab.dir.0.join(format!("{name}.disk"));
    std::fs::write(&disk, vec![0xa5u8; 1 << 20]).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&disk)
        .unwrap()
        .set_len(size + (64 << 20))
        .unwrap();
    let mut machine = power_on(&lab, name, 1, mac, &disk, Firmware::Bios);
    wait_console(
        &lab,
        name,
        1,
        "AWL-DEPLOY-FAILED sha256 mismatch",
        Duration::from_secs(900),
    );
    // It powers itself off.
    let exited = awl_tests::try_wait_until(Duration::from_secs(120), || {
        matches!(machine.0.try_wait(), Ok(Some(_)))
    });
    assert!(
        exited,
        "the machine did not power off:\n{}",
        console(&lab, name, 1)
    );
    wait_until(Duration::from_secs(30), "the failure reported", || {
        state_of(&lab, name) == "failed"
    });
    let mut start = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(std::fs::File::open(&disk).unwrap(), 1 << 20),
        &mut start,
    )
    .unwrap();
    assert_eq!(start.len(), 1 << 20);
    assert!(
        start.iter().all(|&b| b == 0),
        "the disk's first MiB is not zeroed"
    );
    let log = lab.server.log();
    assert!(
        log.contains(&format!("system {name}: the installer reported a failure")),
        "{log}"
    );
    assert!(
        !log.contains("image written; it boots from its disk"),
        "{log}"
    );
}
