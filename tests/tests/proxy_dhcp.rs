//! proxyDHCP beside dnsmasq, the network's only address server: a QEMU
//! machine (its own iPXE ROM) on the same L2 segment gets its address from
//! dnsmasq and its boot from awl (`awl serve --proxy`), and runs the script
//! awl points it at, proven by the marker file that script chains.

use std::process::Command;
use std::time::Duration;

use awl_tests::{
    bridge_tap, dnsmasq_dhcp, ipxe_bios_machine, require_tool, try_wait_until, AwlServer,
    NetnsPair, TempDir,
};

fn run(args: &[&str]) {
    let status = Command::new(args[0]).args(&args[1..]).status().unwrap();
    assert!(status.success(), "{args:?}");
}

/// A third namespace on the client's bridge, for dnsmasq.
struct Namespace(String);

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

#[test]
fn proxy_beside_dnsmasq_boots_a_real_machine() {
    require_tool("dnsmasq");
    require_tool("qemu-system-x86_64");
    let net = NetnsPair::new(91, 0);
    let tap = bridge_tap(&net);
    let dns_ns = Namespace(format!("awld-{}", std::process::id()));
    let (dv, dc) = (
        format!("vd{}", std::process::id() % 100_000),
        format!("vdc{}", std::process::id() % 100_000),
    );
    run(&["ip", "netns", "add", &dns_ns.0]);
    run(&[
        "ip",
        "-n",
        &dns_ns.0,
        "link",
        "add",
        &dv,
        "type",
        "veth",
        "peer",
        "name",
        &dc,
        "netns",
        &net.client,
    ]);
    run(&[
        "ip",
        "-n",
        &dns_ns.0,
        "addr",
        "add",
        "10.77.91.2/24",
        "dev",
        &dv,
    ]);
    run(&["ip", "-n", &dns_ns.0, "link", "set", &dv, "up"]);
    run(&["ip", "-n", &net.client, "link", "set", &dc, "master", "br0"]);
    run(&["ip", "-n", &net.client, "link", "set", &dc, "up"]);

    let dir = TempDir::new("proxy");
    let (_dnsmasq, dnsmasq_log) = dnsmasq_dhcp(
        &dns_ns.0,
        &dv,
        "10.77.91.100,10.77.91.150,255.255.255.0,1h",
        &dir.0,
    );
    let marker = format!("proxy-marker-{}.ipxe", std::process::id());
    std::fs::write(
        dir.0.join("boot.ipxe"),
        format!("#!ipxe\nchain tftp://10.77.91.1/{marker}\n"),
    )
    .unwrap();
    std::fs::write(dir.0.join(&marker), "#!ipxe\nsleep 60\n").unwrap();
    let server = AwlServer::start(
        Some(&net.server),
        &[
            "--tftp-root",
            dir.0.to_str().unwrap(),
            "--tftp-listen",
            "10.77.91.1:69",
            "--interface",
            &net.server_if,
            "--proxy",
            "--ipxe-script",
            "tftp://10.77.91.1/boot.ipxe",
            "--lease-file",
            dir.0.join("leases").to_str().unwrap(),
        ],
    );
    assert!(
        server.log().contains("dhcp: proxyDHCP on"),
        "{}",
        server.log()
    );

    let _vm = ipxe_bios_machine(&net.client, &tap, "52:54:00:aa:91:01");
    let done = format!("done \"{marker}\"");
    assert!(
        try_wait_until(Duration::from_secs(120), || server.log().contains(&done)),
        "no boot within 120 s\nawl:\n{}\ndnsmasq:\n{}",
        server.log(),
        std::fs::read_to_string(&dnsmasq_log).unwrap_or_default()
    );
    let log = server.log();
    // awl offered no address, only the boot...
    assert!(
        log.contains(
            "52:54:00:aa:91:01 proxy offer (x86 BIOS, iPXE): boot tftp://10.77.91.1/boot.ipxe"
        ),
        "{log}"
    );
    assert!(
        !log.contains(" ack 10.77.91."),
        "awl must not hand out addresses in proxy mode\n{log}"
    );
    // ...the address came from dnsmasq.
    let dnsmasq = std::fs::read_to_string(&dnsmasq_log).unwrap();
    assert!(
        dnsmasq.contains("DHCPACK") && dnsmasq.contains("52:54:00:aa:91:01"),
        "{dnsmasq}"
    );
    // The TFTP client address is one of dnsmasq's.
    assert!(
        log.contains("tftp: 10.77.91.1") && log.contains(&format!("done \"{marker}\"")),
        "{log}"
    );
}
