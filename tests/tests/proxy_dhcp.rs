//! proxyDHCP beside dnsmasq, the network's only address server: a QEMU
//! machine (its own iPXE ROM) on the same L2 segment gets its address from
//! dnsmasq and its boot from awl (`awl serve --proxy`), and runs the script
//! awl points it at, proven by the marker file that script chains.

use std::time::Duration;

use awl_tests::{
    bridge_tap, dnsmasq_beside, ipxe_bios_machine, require_tool, try_wait_until, AwlServer,
    NetnsPair, TempDir,
};

#[test]
fn proxy_beside_dnsmasq_boots_a_real_machine() {
    require_tool("dnsmasq");
    require_tool("qemu-system-x86_64");
    let net = NetnsPair::new(91, 0);
    let tap = bridge_tap(&net);
    let dir = TempDir::new("proxy");
    let (_dns_ns, _dnsmasq, dnsmasq_log) = dnsmasq_beside(&net, &dir.0);
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
