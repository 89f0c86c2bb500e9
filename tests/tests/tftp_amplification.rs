//! TFTP as a reflection amplifier (issue 13, RELIABILITY T16 and S10):
//! requests with a forged source address, and what reaches that address.
//! The "victim" is a UDP socket on loopback that never answers (it stays
//! open, so no ICMP error tells awl anything); once awl has given up on
//! every transfer, the test counts what the socket holds.

use std::net::UdpSocket;
use std::time::Duration;

use awl_core::wire::tftp::Repr;
use awl_tests::{pattern, wait_until, AwlServer, TempDir};

struct Case {
    name: &'static str,
    request: Vec<u8>,
    /// Datagrams the forged address may receive.
    max_datagrams: usize,
    /// Bytes out (UDP payloads) over bytes in.
    max_ratio: f64,
    /// Whether a transfer starts (and so ends by timing out).
    times_out: bool,
}

fn rrq(file: &str, options: &[(&str, &str)]) -> Vec<u8> {
    let mut r = b"\0\x01".to_vec();
    for part in [file, "octet"] {
        r.extend_from_slice(part.as_bytes());
        r.push(0);
    }
    for (k, v) in options {
        for part in [k, v] {
            r.extend_from_slice(part.as_bytes());
            r.push(0);
        }
    }
    r
}

#[test]
fn forged_requests_cost_a_bounded_number_of_bytes() {
    let root = TempDir::new("amp-root");
    std::fs::write(root.0.join("big.bin"), pattern(64 << 20, 3)).unwrap();
    let server = AwlServer::start(
        None,
        &[
            "--tftp-root",
            root.0.to_str().unwrap(),
            "--tftp-listen",
            "127.0.0.31:6969",
        ],
    );
    let cases = [
        Case {
            name: "plain",
            request: rrq("big.bin", &[]),
            max_datagrams: 3,
            max_ratio: 100.0,
            times_out: true,
        },
        Case {
            name: "tsize",
            request: rrq("big.bin", &[("tsize", "0")]),
            max_datagrams: 3,
            max_ratio: 10.0,
            times_out: true,
        },
        Case {
            name: "blksize 65464, windowsize 64",
            request: rrq("big.bin", &[("blksize", "65464"), ("windowsize", "64")]),
            max_datagrams: 3,
            max_ratio: 10.0,
            times_out: true,
        },
        Case {
            name: "missing file",
            request: rrq("missing.bin", &[]),
            max_datagrams: 1,
            max_ratio: 2.0,
            times_out: false,
        },
    ];
    // The forged source: an address awl has never heard from otherwise.
    let victims: Vec<UdpSocket> = cases
        .iter()
        .map(|c| {
            let s = UdpSocket::bind("127.0.0.32:0").unwrap();
            s.send_to(&c.request, "127.0.0.31:6969").unwrap();
            s
        })
        .collect();
    let peers: Vec<String> = victims
        .iter()
        .map(|s| s.local_addr().unwrap().to_string())
        .collect();
    for (case, peer) in cases.iter().zip(&peers).filter(|(c, _)| c.times_out) {
        wait_until(
            Duration::from_secs(60),
            &format!("awl gives up on the forged {} request", case.name),
            || server.log().contains(&format!("tftp: {peer} timed out")),
        );
    }
    for (case, victim) in cases.iter().zip(&victims) {
        victim.set_nonblocking(true).unwrap();
        let mut buf = vec![0u8; 65_536];
        let (mut datagrams, mut bytes) = (0usize, 0usize);
        let mut kinds = Vec::new();
        while let Ok((n, _)) = victim.recv_from(&mut buf) {
            datagrams += 1;
            bytes += n;
            kinds.push(match Repr::parse(&buf[..n]) {
                Ok(Repr::Data { block, .. }) => format!("DATA {block}"),
                Ok(Repr::Oack { .. }) => "OACK".to_string(),
                Ok(Repr::Error { .. }) => "ERROR".to_string(),
                other => format!("{other:?}"),
            });
        }
        let ratio = bytes as f64 / case.request.len() as f64;
        println!(
            "{}: {}-byte request, {datagrams} datagrams ({}), {bytes} bytes, {ratio:.1}x",
            case.name,
            case.request.len(),
            kinds.join(", ")
        );
        assert!(datagrams >= 1, "{}: the first answer goes out", case.name);
        assert!(
            datagrams <= case.max_datagrams,
            "{}: {datagrams} datagrams ({kinds:?})",
            case.name
        );
        assert!(ratio <= case.max_ratio, "{}: {ratio:.1}x", case.name);
        assert!(
            !kinds
                .iter()
                .any(|k| k.starts_with("DATA") && case.name.contains("65464")),
            "no large block to an unproven peer"
        );
    }
}
