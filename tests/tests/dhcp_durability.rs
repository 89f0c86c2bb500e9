//! Leases survive `kill -9` (RELIABILITY S12, reduced for CI): the same 200
//! clients in a network namespace get and renew leases while awl is killed
//! at varying moments mid-stream; after each restart every lease a client
//! was ACKed is still there (listed by `awl leases`, granted again on
//! INIT-REBOOT), and no client's address ever changes.

use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use awl_core::wire::dhcp::MessageType;
use awl_tests::dhcp_client::{client_socket, dora, reboot};
use awl_tests::{awl_binary, AwlServer, NetnsPair, TempDir};

fn start(net: &NetnsPair, dir: &TempDir) -> AwlServer {
    let lease_file = dir.0.join("leases");
    AwlServer::start(
        Some(&net.server),
        &[
            "--tftp-root",
            dir.0.to_str().unwrap(),
            "--tftp-listen",
            &format!("{}:69", net.server_ip),
            "--interface",
            &net.server_if,
            "--dhcp-range",
            "10.77.81.20,10.77.81.250",
            "--lease-file",
            lease_file.to_str().unwrap(),
        ],
    )
}

#[test]
fn acknowledged_leases_survive_kill_9() {
    let net = NetnsPair::new(81, 0);
    Command::new("ip")
        .args(["-n", &net.client, "addr", "flush", "dev", &net.client_if])
        .status()
        .unwrap();
    let dir = TempDir::new("durability");
    let server_ip = Ipv4Addr::new(10, 77, 81, 1);
    let mut acked: std::collections::BTreeMap<[u8; 6], Ipv4Addr> = Default::default();
    let mut cut_short = 0;
    for round in 0..5u8 {
        let server = start(&net, &dir);
        // Clients, until the server dies under them.
        let (tx, rx) = mpsc::channel();
        let (ns, ifname) = (net.client.clone(), net.client_if.clone());
        let clients = std::thread::spawn(move || {
            let socket = client_socket(&ns, &ifname);
            for i in 0..200u8 {
                let mac = [0x02, 0xaa, 0, 0, 0, i];
                match dora(
                    &socket,
                    mac,
                    u32::from_be_bytes([round, i, 7, 7]),
                    server_ip,
                ) {
                    Some(ip) => tx.send((mac, ip)).unwrap(),
                    None => return,
                }
            }
        });
        // Part of the test, not synchronisation: let the clients run a
        // different while each round, then kill the server under them.
        std::thread::sleep(Duration::from_millis(5 + 10 * u64::from(round)));
        drop(server); // SIGKILL, mid-stream
        clients.join().unwrap();
        let this_round: Vec<_> = rx.try_iter().collect();
        if this_round.len() < 200 {
            cut_short += 1;
        }
        for (mac, ip) in this_round {
            let before = acked.insert(mac, ip);
            assert!(
                before.is_none_or(|b| b == ip),
                "round {round}: {mac:02x?} moved from {before:?} to {ip}"
            );
        }

        let server = start(&net, &dir);
        let listed = Command::new(awl_binary())
            .args(["leases", "--lease-file"])
            .arg(dir.0.join("leases"))
            .output()
            .unwrap();
        let listed = String::from_utf8_lossy(&listed.stdout).to_string();
        for (mac, ip) in &acked {
            assert!(
                listed.contains(&format!("{ip} ")),
                "round {round}: lease {ip} lost\n{listed}\n{}",
                server.log()
            );
            let _ = mac;
        }
        let (ns, ifname) = (net.client.clone(), net.client_if.clone());
        let check: Vec<([u8; 6], Ipv4Addr)> = acked.iter().map(|(m, i)| (*m, *i)).collect();
        let results = std::thread::spawn(move || {
            let socket = client_socket(&ns, &ifname);
            check
                .iter()
                .map(|(mac, ip)| {
                    (
                        *ip,
                        reboot(&socket, *mac, 0x5151_0000 | u32::from(mac[5]), *ip),
                    )
                })
                .collect::<Vec<_>>()
        })
        .join()
        .unwrap();
        for (ip, reply) in results {
            assert_eq!(
                reply,
                Some((MessageType::Ack, ip)),
                "round {round}: {ip} not granted again\n{}",
                server.log()
            );
        }
        drop(server);
    }
    assert!(
        cut_short >= 3,
        "the kills did not land mid-stream ({cut_short} of 5 rounds)"
    );
    eprintln!(
        "{} clients' leases kept across 5 kills ({cut_short} rounds cut short)",
        acked.len()
    );
}
