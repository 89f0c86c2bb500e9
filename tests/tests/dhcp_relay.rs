//! A subnet served through a relay agent: ISC dhcrelay forwards dhclient's
//! requests from a second network to awl, which picks the relayed subnet's
//! pool from `giaddr` and answers through the relay. Three network
//! namespaces this test creates: server — relay — client.

use std::process::{Command, Stdio};
use std::time::Duration;

use awl_tests::{ip, require_tool, try_wait_until, AwlServer, Child, NetnsPair, TempDir};

/// The client's namespace on the far side of the relay; removed on drop.
struct FarSide {
    ns: String,
}

impl Drop for FarSide {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}

#[test]
fn dhclient_behind_dhcrelay_gets_an_address_of_the_relayed_subnet() {
    require_tool("dhclient");
    require_tool("dhcrelay");
    // Server 10.77.65.1 — 10.77.65.2 relay 10.78.65.1 — client.
    let net = NetnsPair::new(65, 0);
    let relay = net.client.clone();
    let far = FarSide {
        ns: format!("awlf-{}-65", std::process::id()),
    };
    let (relay_if, client_if) = (
        format!("vr65x{}", std::process::id() % 10_000),
        format!("vf65x{}", std::process::id() % 10_000),
    );
    ip(&["netns", "add", &far.ns]);
    ip(&[
        "-n", &relay, "link", "add", &relay_if, "type", "veth", "peer", "name", &client_if,
        "netns", &far.ns,
    ]);
    ip(&[
        "-n",
        &relay,
        "addr",
        "add",
        "10.78.65.1/24",
        "dev",
        &relay_if,
    ]);
    ip(&["-n", &relay, "link", "set", &relay_if, "up"]);
    ip(&["-n", &far.ns, "link", "set", &client_if, "up"]);
    ip(&["-n", &far.ns, "link", "set", "lo", "up"]);
    ip(&[
        "-n",
        &net.server,
        "route",
        "add",
        "10.78.65.0/24",
        "via",
        "10.77.65.2",
    ]);
    let sysctl = Command::new("ip")
        .args([
            "netns",
            "exec",
            &relay,
            "sysctl",
            "-qw",
            "net.ipv4.ip_forward=1",
        ])
        .status()
        .unwrap();
    assert!(sysctl.success());

    let dir = TempDir::new("dhcp-relay");
    let root = dir.0.to_str().unwrap().to_string();
    let lease_file = dir.0.join("leases");
    let server = AwlServer::start(
        Some(&net.server),
        &[
            "--tftp-root",
            &root,
            "--tftp-listen",
            "10.77.65.1:69",
            "--interface",
            &net.server_if,
            "--dhcp-range",
            "10.77.65.100,10.77.65.110",
            "--dhcp-relayed",
            "10.78.65.0/24,10.78.65.50,10.78.65.60,10.78.65.1",
            "--lease-file",
            lease_file.to_str().unwrap(),
        ],
    );
    assert!(
        server.log().contains("relayed subnet 10.78.65.0/24"),
        "{}",
        server.log()
    );
    let _relay = Child(
        Command::new("ip")
            .args(["netns", "exec", &relay, "dhcrelay", "-4", "-d", "-q"])
            .arg("-pf")
            .arg(dir.0.join("dhcrelay.pid"))
            .args(["-id", &relay_if, "-iu", &net.client_if, "10.77.65.1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    let env_file = dir.0.join("env");
    let script = dir.0.join("script.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nenv >> {}\n", env_file.display()),
    )
    .unwrap();
    Command::new("chmod")
        .arg("+x")
        .arg(&script)
        .status()
        .unwrap();
    let _client = Child(
        Command::new("ip")
            .args(["netns", "exec", &far.ns, "dhclient", "-4", "-d", "-v"])
            .arg("-sf")
            .arg(&script)
            .arg("-lf")
            .arg(dir.0.join("dhclient.leases"))
            .arg("-pf")
            .arg(dir.0.join("dhclient.pid"))
            .arg(&client_if)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let read = || std::fs::read_to_string(&env_file).unwrap_or_default();
    let bound = try_wait_until(Duration::from_secs(40), || read().contains("reason=BOUND"));
    let env = read();
    assert!(bound, "not bound within 40 s:\n{env}\n{}", server.log());
    let got = |key: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("new_{key}=")))
            .unwrap_or_default()
            .to_string()
    };
    let addr: std::net::Ipv4Addr = got("ip_address").parse().unwrap();
    assert!(
        (50..=60).contains(&addr.octets()[3]) && addr.octets()[..3] == [10, 78, 65],
        "{addr} is not from the relayed pool\n{}",
        server.log()
    );
    assert_eq!(got("subnet_mask"), "255.255.255.0");
    assert_eq!(got("routers"), "10.78.65.1");
    assert_eq!(got("dhcp_server_identifier"), "10.77.65.1");
    assert!(
        server.log().contains(&format!("ack {addr}")),
        "{}",
        server.log()
    );
}
