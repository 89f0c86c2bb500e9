//! `awl serve --interface IF --dhcp-range` with real DHCP clients, busybox
//! udhcpc and ISC dhclient, in a network namespace this test creates: each
//! gets an address from the pool and the configured options, and the lease
//! is in the journal (and in `awl leases`).

use std::process::{Command, Stdio};
use std::time::Duration;

use awl_tests::{
    awl_binary, require_tool, serve_dhcp, try_wait_until, AwlServer, NetnsPair, TempDir,
};

fn start(net: &NetnsPair, dir: &TempDir, extra: &[&str]) -> AwlServer {
    let mut args = vec!["--dhcp-dns", "10.9.9.9", "--dhcp-domain", "lab.example"];
    args.extend_from_slice(extra);
    serve_dhcp(net, dir, &args)
}

fn script(dir: &TempDir, name: &str) -> String {
    let out = dir.0.join(format!("{name}.env"));
    let path = dir.0.join(format!("{name}.sh"));
    std::fs::write(&path, format!("#!/bin/sh\nenv >> {}\n", out.display())).unwrap();
    Command::new("chmod").arg("+x").arg(&path).status().unwrap();
    path.to_str().unwrap().to_string()
}

fn env_of(dir: &TempDir, name: &str) -> String {
    std::fs::read_to_string(dir.0.join(format!("{name}.env"))).unwrap_or_default()
}

#[test]
fn udhcpc_gets_a_lease_with_the_configured_options() {
    require_tool("busybox");
    let net = NetnsPair::new(61, 0);
    let dir = TempDir::new("dhcp-udhcpc");
    let server = start(&net, &dir, &[]);
    let script = script(&dir, "udhcpc");
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &net.client,
            "timeout",
            "20",
            "busybox",
            "udhcpc",
            "-f",
            "-q",
            "-n",
        ])
        .args([
            "-t",
            "5",
            "-T",
            "1",
            "-i",
            &net.client_if,
            "-s",
            &script,
            "-x",
            "hostname:udhcpc-test",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    let env = env_of(&dir, "udhcpc");
    assert!(env.contains("ip=10.77.61.1"), "{env}");
    let ip = env.lines().find_map(|l| l.strip_prefix("ip=")).unwrap();
    let last: u8 = ip.rsplit('.').next().unwrap().parse().unwrap();
    assert!((100..=110).contains(&last), "{ip}");
    for want in [
        "subnet=255.255.255.0",
        "router=10.77.61.1",
        "dns=10.9.9.9",
        "domain=lab.example",
        "serverid=10.77.61.1",
        "lease=3600",
    ] {
        assert!(env.lines().any(|l| l == want), "{want} missing:\n{env}");
    }
    // The lease is on disk and listed.
    let leases = Command::new(awl_binary())
        .args(["leases", "--lease-file"])
        .arg(dir.0.join("leases"))
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&leases.stdout);
    assert!(listed.contains(ip), "{listed}");
    assert!(
        server.log().contains(&format!("ack {ip}")),
        "{}",
        server.log()
    );
}

#[test]
fn dhclient_gets_a_lease_with_the_configured_options() {
    require_tool("dhclient");
    let net = NetnsPair::new(62, 0);
    let dir = TempDir::new("dhcp-dhclient");
    let server = start(&net, &dir, &[]);
    let script = script(&dir, "dhclient");
    let lease = dir.0.join("dhclient.leases");
    let pid = dir.0.join("dhclient.pid");
    let mut child = Command::new("ip")
        .args([
            "netns",
            "exec",
            &net.client,
            "dhclient",
            "-4",
            "-d",
            "-v",
            "-sf",
            &script,
        ])
        .arg("-lf")
        .arg(&lease)
        .arg("-pf")
        .arg(&pid)
        .arg(&net.client_if)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let bound = try_wait_until(Duration::from_secs(30), || {
        env_of(&dir, "dhclient").contains("reason=BOUND")
    });
    let _ = child.kill();
    let _ = child.wait();
    let env = env_of(&dir, "dhclient");
    assert!(bound, "not bound within 30 s:\n{env}\n{}", server.log());
    for want in [
        "new_subnet_mask=255.255.255.0",
        "new_routers=10.77.61.1".replace("61", "62").as_str(),
        "new_domain_name_servers=10.9.9.9",
        "new_domain_name=lab.example",
        "new_dhcp_lease_time=3600",
    ] {
        assert!(env.lines().any(|l| l == want), "{want} missing:\n{env}");
    }
    let ip = env
        .lines()
        .find_map(|l| l.strip_prefix("new_ip_address="))
        .unwrap();
    assert!(ip.starts_with("10.77.62.1"), "{ip}");
}

/// nmap's `broadcast-dhcp-discover` script, a third client implementation,
/// sees awl's offer with the configured options.
#[test]
fn nmap_broadcast_dhcp_discover_sees_the_offer() {
    require_tool("nmap");
    let net = NetnsPair::new(63, 0);
    let dir = TempDir::new("dhcp-nmap");
    let server = start(&net, &dir, &[]);
    // nmap's broadcast scripts want an interface with an IPv4 address.
    let status = Command::new("ip")
        .args([
            "-n",
            &net.client,
            "addr",
            "add",
            "10.77.63.2/24",
            "dev",
            &net.client_if,
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            &net.client,
            "timeout",
            "60",
            "nmap",
            "-n",
            "--script",
            "broadcast-dhcp-discover",
        ])
        .args([
            "-e",
            &net.client_if,
            "--script-args",
            "broadcast-dhcp-discover.timeout=5",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("IP Offered: 10.77.63.1"),
        "{text}\n{}",
        server.log()
    );
    for want in [
        "DHCP Message Type: DHCPOFFER",
        "Server Identifier: 10.77.63.1",
        "Subnet Mask: 255.255.255.0",
        "Router: 10.77.63.1",
        "Domain Name Server: 10.9.9.9",
        "Domain Name: lab.example",
    ] {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }
}
