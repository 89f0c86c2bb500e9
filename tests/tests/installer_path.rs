//! A real distribution installer reaches awl (issue 14, the installer
//! path): Debian's own debian-installer (netboot kernel and initrd from the
//! `debian-installer-12-netboot-amd64` package, brought in with `awl
//! import`) on QEMU PCs with SeaBIOS + iPXE ROM and with OVMF, on a network
//! namespace this test makes:
//!
//! * it fetches the preseed awl renders for its system, with its install
//!   token, and asks no question;
//! * it finds the package mirror awl serves (a subset that
//!   `images/mirror.sh` builds with apt's configured mirror, under the
//!   files root: `http://SERVER/boot/mirror`), and fetches the mirror's
//!   `Release` and the installer's `Packages.xz`, then its components,
//!   from awl;
//! * its syslog (d-i's `log_host`/`log_port`, which awl puts on the kernel
//!   command line) is filed by awl under the system.
//!
//! The mirror reachable here lacks most installer components (partman,
//! debootstrap, ...: issue 14), so the install cannot finish; the test
//! ends once the installer has loaded components from awl's mirror.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use awl_tests::{
    awl_binary, awl_inventory, bridge_tap, install_serve_args, ovmf_machine, repo_root,
    require_tool, try_wait_until, AwlServer, Child, NetnsPair, TempDir,
};

/// debian-installer's netboot tree, from Debian's package.
const NETBOOT: &str = "/usr/lib/debian-installer/images/12/amd64/text";

/// The mirror subset `./test.sh` builds (images/mirror.sh).
fn built_mirror() -> PathBuf {
    let dir = repo_root().join("target/mirror");
    assert!(
        dir.join("dists/bookworm/Release").is_file(),
        "{}: missing; ./test.sh builds it (images/mirror.sh)",
        dir.display()
    );
    dir
}

/// Waits until `done()`; on timeout, fails with what the machine and awl
/// showed.
fn wait(
    limit: Duration,
    what: &str,
    server: &AwlServer,
    console: &std::path::Path,
    syslog: &std::path::Path,
    mut done: impl FnMut() -> bool,
) {
    if !try_wait_until(limit, &mut done) {
        panic!(
            "{what}: not within {limit:?}\nconsole:\n{}\nsyslog:\n{}\nawl:\n{}",
            String::from_utf8_lossy(&std::fs::read(console).unwrap_or_default()),
            std::fs::read_to_string(syslog).unwrap_or_default(),
            server.log()
        );
    }
}

fn installer_reaches_awl(subnet: u8, name: &str, mac: &str, uefi: bool) {
    require_tool("qemu-system-x86_64");
    assert!(
        std::path::Path::new(NETBOOT).is_dir(),
        "{NETBOOT}: debian-installer-12-netboot-amd64 (./test.sh installs it)"
    );
    let mirror = built_mirror();
    let net = NetnsPair::new(subnet, 0);
    let tap = bridge_tap(&net);
    let dir = TempDir::new("installer-path");
    let root = dir.0.join("root");
    std::fs::create_dir_all(&root).unwrap();
    // The mirror under the files root, as hard links.
    let status = Command::new("cp")
        .arg("-al")
        .arg(&mirror)
        .arg(root.join("mirror"))
        .status()
        .unwrap();
    assert!(status.success(), "cp -al the mirror");
    std::fs::copy("/usr/lib/ipxe/ipxe.efi", root.join("ipxe.efi"))
        .expect("ipxe package (./test.sh installs it)");
    let ip = net.server_ip.clone();
    let inventory = dir.0.join("inventory.toml").display().to_string();
    let out = Command::new(awl_binary())
        .args(["import", NETBOOT, "--copy", "--name", "debian-12"])
        .args(["--inventory", &inventory, "--files-root"])
        .arg(&root)
        .arg("--tree-url")
        .arg(format!("http://{ip}/boot/mirror"))
        .output()
        .unwrap();
    assert!(out.status.success(), "awl import: {out:?}");
    // A plain serial console (TERM=dumb: no GNU screen), and the name
    // server netcfg asks for before the preseed is read.
    let kernel_args = format!(
        "console=ttyS0,115200n8 DEBIAN_FRONTEND=text TERM=dumb netcfg/get_nameservers={ip}"
    );
    awl_inventory(
        &inventory,
        &[
            "profile",
            "add",
            "di",
            "--distro",
            "debian-12",
            "--template",
            "preseed",
            "--kernel-args",
            &kernel_args,
            "--var",
            "allow_unauthenticated=true",
        ],
    );
    awl_inventory(
        &inventory,
        &[
            "system",
            "add",
            name,
            "--mac",
            mac,
            "--hostname",
            name,
            "--profile",
            "di",
            "--netboot",
            "once",
        ],
    );
    let state = dir.0.join("state");
    let args = install_serve_args(&net, &dir.0, &root, &inventory, &state);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = AwlServer::start(Some(&net.server), &args);
    server.wait_for_log(Duration::from_secs(10), &["http: serving"]);

    let disk = dir.0.join("disk.raw");
    std::fs::File::create(&disk)
        .unwrap()
        .set_len(4 << 30)
        .unwrap();
    let console = dir.0.join("console.log");
    let netdev = format!("tap,id=n0,ifname={tap},script=no,downscript=no");
    let mut qemu = Command::new("ip");
    qemu.args(["netns", "exec", &net.client, "qemu-system-x86_64"])
        .args(["-m", "1024", "-display", "none", "-monitor", "none"])
        .arg("-serial")
        .arg(format!("file:{}", console.display()))
        .args(["-netdev", &netdev, "-drive"])
        .arg(format!("file={},if=virtio,format=raw", disk.display()));
    if uefi {
        ovmf_machine(&mut qemu, &dir.0.join("OVMF_VARS.fd"), mac);
    } else {
        qemu.args(["-machine", "pc,accel=tcg", "-boot", "n", "-device"])
            .arg(format!("virtio-net-pci,netdev=n0,mac={mac}"));
    }
    let _machine = Child(
        qemu.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("qemu-system-x86_64 (./test.sh installs it)"),
    );
    let syslog = state.join("logs").join(format!("{name}.log"));
    let read = |path: &std::path::Path| {
        String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
    };

    // Its components come from awl's mirror: the installer got that far
    // on the preseed alone.
    let pool = format!("URL:http://{ip}/boot/mirror/pool/");
    wait(
        Duration::from_secs(900),
        "debian-installer loads components from awl's mirror",
        &server,
        &console,
        &syslog,
        || read(&syslog).contains(&pool),
    );
    let log = server.log();
    let syslog_text = read(&syslog);
    let screen = read(&console);
    assert!(
        log.contains(&format!("http: answer file preseed for system {name}")),
        "{log}"
    );
    assert!(
        log.contains(&format!("GET /answer/system/{name}?token=(hidden) 200")),
        "the preseed, with its token:\n{log}"
    );
    for index in [
        "GET /boot/mirror/dists/bookworm/Release 200",
        "GET /boot/mirror/dists/bookworm/main/debian-installer/binary-amd64/Packages.xz 200",
        "GET /boot/mirror/pool/",
    ] {
        assert!(log.contains(index), "{index:?} not in awl's log:\n{log}");
    }
    for line in [
        format!("preseed: successfully loaded preseed file from http://{ip}/answer/system/{name}?token=(hidden)"),
        "suite/codename set to: bookworm/bookworm".into(),
        "Not verifying Release signature: unauthenticated mode enabled".into(),
        format!("URL:http://{ip}/boot/mirror/dists/bookworm/Release"),
    ] {
        assert!(
            syslog_text.contains(&line),
            "{line:?} not in the installer's syslog:\n{syslog_text}"
        );
    }
    assert!(
        screen.contains("Loading additional components") && !screen.contains("Prompt:"),
        "the installer asked a question:\n{screen}"
    );
    let out = Command::new(awl_binary())
        .args(["status", "--json", "--state-dir"])
        .arg(&state)
        .output()
        .unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["system"] == name)
        .unwrap();
    assert_eq!(row["state"], "installing", "{rows}");
}

#[test]
fn debian_installer_on_bios_fetches_its_preseed_and_awls_mirror() {
    installer_reaches_awl(101, "di-bios", "52:54:00:aa:a1:01", false);
}

#[test]
fn debian_installer_on_uefi_fetches_its_preseed_and_awls_mirror() {
    installer_reaches_awl(102, "di-uefi", "52:54:00:aa:a2:01", true);
}
