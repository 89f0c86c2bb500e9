//! `awl boot` (quick mode, as pixiecore's `boot`): beside dnsmasq, the
//! network's only DHCP server, a QEMU PC with its own iPXE ROM boots the
//! kernel and initrd named on awl's command line, with no inventory
//! written by anyone: its small OS (`awl_tests::tiny`) fetches the initrd
//! back from awl over HTTP and prints its SHA-256.

use std::process::{Command, Stdio};
use std::time::Duration;

use awl_tests::{
    awl_binary, bridge_tap, dnsmasq_beside, require_tool, tiny, wait_for, AwlServer, Child,
    NetnsPair, TempDir,
};

#[test]
fn awl_boot_netboots_a_machine_into_a_kernel_beside_the_network_s_dhcp() {
    require_tool("dnsmasq");
    require_tool("qemu-system-x86_64");
    let _ = awl_binary();
    let kernel = tiny::test_kernel();
    let net = NetnsPair::new(93, 0);
    let tap = bridge_tap(&net);
    let dir = TempDir::new("quick");
    let (_dns_ns, _dnsmasq, dnsmasq_log) = dnsmasq_beside(&net, &dir.0);
    let initrd = dir.0.join("initrd.cpio");
    tiny::write_initramfs(&kernel, &initrd);
    let ip = net.server_ip.clone();
    let url = format!("http://{ip}/boot/quick/initrd0");
    let cmdline = format!("console=ttyS0 panic=-1 awl.fetch={url}");
    let server = AwlServer::start_command(
        Some(&net.server),
        "boot",
        &[
            "--kernel",
            kernel.vmlinuz.to_str().unwrap(),
            "--initrd",
            initrd.to_str().unwrap(),
            "--cmdline",
            &cmdline,
            "--interface",
            &net.server_if,
            "--dir",
            dir.0.join("awl").to_str().unwrap(),
        ],
    );
    let console = dir.0.join("console.log");
    let _vm = Child(
        Command::new("ip")
            .args(["netns", "exec", &net.client, "qemu-system-x86_64"])
            .args(["-m", "384", "-machine", "pc,accel=tcg", "-display", "none"])
            .args(["-monitor", "none", "-no-reboot", "-boot", "n", "-serial"])
            .arg(format!("file:{}", console.display()))
            .arg("-netdev")
            .arg(format!("tap,id=n0,ifname={tap},script=no,downscript=no"))
            .args(["-device", "virtio-net-pci,netdev=n0,mac=52:54:00:aa:93:01"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let fetched = wait_for(
        Duration::from_secs(300),
        "the machine boots and fetches",
        || {
            let out = std::fs::read_to_string(&console).unwrap_or_default();
            out.contains("AWL-TINY-DONE").then(|| tiny::fetched(&out))
        },
    );
    let bytes = std::fs::read(&initrd).unwrap();
    let sha = Command::new("sha256sum").arg(&initrd).output().unwrap();
    let sha = String::from_utf8_lossy(&sha.stdout)
        .split(' ')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        fetched,
        vec![(url, bytes.len() as u64, sha)],
        "console:\n{}\nawl:\n{}",
        std::fs::read_to_string(&console).unwrap_or_default(),
        server.log()
    );
    let log = server.log();
    // awl gave the boot, not the address; dnsmasq gave the address.
    assert!(log.contains("52:54:00:aa:93:01 proxy offer"), "{log}");
    assert!(
        log.contains("unknown machine installs the default profile quick"),
        "{log}"
    );
    let dnsmasq = std::fs::read_to_string(&dnsmasq_log).unwrap();
    assert!(
        dnsmasq.contains("DHCPACK") && dnsmasq.contains("52:54:00:aa:93:01"),
        "{dnsmasq}"
    );
}
