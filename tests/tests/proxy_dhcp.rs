//! proxyDHCP beside dnsmasq, the network's only address server: a QEMU
//! machine (its own iPXE ROM) on the same L2 segment gets its address from
//! dnsmasq and its boot from awl (`awl serve --proxy`), and runs the script
//! awl points it at, proven by the marker file that script chains. The
//! machine, not in awl's inventory, is then listed by `awl discovered`.

use std::time::Duration;

use awl_tests::{
    bridge_tap, dnsmasq_beside, ipxe_bios_machine_with, require_tool, try_wait_until, AwlServer,
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
    let inventory = dir.0.join("inventory.toml");
    std::fs::write(&inventory, "").unwrap();
    let state = dir.0.join("state");
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
            "--inventory",
            inventory.to_str().unwrap(),
            "--state-dir",
            state.to_str().unwrap(),
        ],
    );
    assert!(
        server.log().contains("dhcp: proxyDHCP on"),
        "{}",
        server.log()
    );

    let uuid = "4c4c4544-0042-3510-8052-b4c04f4b4d32";
    let _vm = ipxe_bios_machine_with(&net.client, &tap, "52:54:00:aa:91:01", &["-uuid", uuid]);
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
    // The machine is not in the inventory: listed, with what its DHCP
    // said, and no address (awl offered none).
    let discovered = || -> Vec<serde_json::Value> {
        let out = std::process::Command::new(awl_tests::awl_binary())
            .args(["discovered", "--json", "--inventory"])
            .arg(&inventory)
            .arg("--state-dir")
            .arg(&state)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    };
    assert!(
        try_wait_until(Duration::from_secs(10), || discovered().len() == 1),
        "{:?}\n{log}",
        discovered()
    );
    let row = &discovered()[0];
    assert_eq!(row["mac"], "52:54:00:aa:91:01", "{row}");
    assert_eq!(row["arch"], "x86 BIOS", "{row}");
    assert!(row["address"].is_null(), "{row}");
    assert!(row["offers"].as_u64() >= Some(1), "{row}");
    assert_eq!(row["uuid"], uuid, "{row}");
    // The TFTP client address is one of dnsmasq's.
    assert!(
        log.contains("tftp: 10.77.91.1") && log.contains(&format!("done \"{marker}\"")),
        "{log}"
    );
}
