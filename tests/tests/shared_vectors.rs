//! Public captures from other projects (`../shared/vectors`, read in place;
//! licences in its SOURCES.md): valid ones decode to their golden fields,
//! malformed ones give an error and never a panic (RELIABILITY.md S3).

use std::net::Ipv4Addr;
use std::path::Path;

use awl::tools::capture::udp_in_ipv4;
use awl_core::wire::dhcp::pxe::{ClientArch, Guid, Ndi, PxeOption, VendorClass};
use awl_core::wire::dhcp::{code, MessageType, Op, Packet};
use awl_core::wire::tftp::{Mode, Repr, TftpOptions};
use awl_core::wire::Error;
use awl_tests::{shared_vectors, udp_datagrams, Datagram};

fn datagrams(dir: &Path, name: &str) -> Vec<Datagram> {
    let path = dir.join(name);
    udp_datagrams(&path).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()))
}

fn hex_file(dir: &Path, name: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(dir.join(name)).unwrap();
    let text = text.trim();
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// netboot's `dhcp.parsed` golden decode of a real BIOS PXE exchange with a
/// pixiecore proxyDHCP OFFER.
#[test]
fn pixiecore_proxy_exchange_matches_golden_decode() {
    let Some(dir) = shared_vectors() else { return };
    let msgs = datagrams(&dir, "pixiecore-netboot/dhcp.pcap");
    assert_eq!(msgs.len(), 4);
    let mac = [0xd0, 0x50, 0x99, 0x4e, 0x05, 0x57];

    let discover = Packet::new_checked(&msgs[0].payload[..]).unwrap();
    assert_eq!(discover.message_type(), Some(MessageType::Discover));
    assert_eq!(discover.xid(), 0x9b4e_0557);
    assert!(discover.broadcast());
    assert_eq!(discover.client_mac(), Some(mac));
    assert_eq!(discover.max_message_size(), Some(0x04ec));
    assert_eq!(
        discover.client_arch().collect::<Vec<_>>(),
        [ClientArch::X86Bios]
    );
    assert_eq!(
        discover.client_ndi(),
        Some(Ndi {
            kind: 1,
            major: 2,
            minor: 1
        })
    );
    assert_eq!(
        discover.client_guid(),
        Some(Guid([0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8, 0, 9]))
    );
    let vc = discover.vendor_class().unwrap().contiguous().unwrap();
    assert_eq!(vc, b"PXEClient:Arch:00000:UNDI:002001");
    assert_eq!(
        VendorClass::parse(vc).unwrap().arch,
        Some(ClientArch::X86Bios)
    );
    let prl: Vec<u8> = discover.parameter_request_list().unwrap().bytes().collect();
    assert_eq!(prl.len(), 36);
    assert_eq!(&prl[..6], &[1, 2, 3, 4, 5, 6]);
    assert_eq!(discover.sname(), Some(&b""[..]));
    assert_eq!(discover.file(), Some(&b""[..]));

    // pixiecore's proxyDHCP OFFER: no address, 60 = PXEClient, 43 with
    // discovery control 3, one boot server, a one-item menu and a prompt.
    let proxy = Packet::new_checked(&msgs[1].payload[..]).unwrap();
    assert_eq!(
        (proxy.op(), proxy.message_type()),
        (Op::Reply, Some(MessageType::Offer))
    );
    assert_eq!(proxy.yiaddr(), Ipv4Addr::UNSPECIFIED);
    assert_eq!(proxy.server_id(), Some(Ipv4Addr::new(192, 168, 16, 10)));
    assert_eq!(
        proxy.vendor_class().unwrap().contiguous(),
        Some(&b"PXEClient"[..])
    );
    assert_eq!(proxy.client_guid(), discover.client_guid());
    let vendor = proxy
        .option(code::VENDOR_SPECIFIC)
        .unwrap()
        .contiguous()
        .unwrap();
    assert_eq!(
        PxeOption::iter(vendor).collect::<Vec<_>>(),
        [
            PxeOption::DiscoveryControl(3),
            PxeOption::BootServers(&[0x80, 0x00, 1, 192, 168, 16, 10]),
            PxeOption::BootMenu(&[
                0x80, 0x00, 9, b'P', b'i', b'x', b'i', b'e', b'c', b'o', b'r', b'e'
            ]),
            PxeOption::MenuPrompt {
                timeout: 0,
                prompt: b"Pixiecore"
            },
        ]
    );

    let offer = Packet::new_checked(&msgs[2].payload[..]).unwrap();
    assert_eq!(offer.yiaddr(), Ipv4Addr::new(192, 168, 16, 12));
    assert_eq!(offer.lease_time(), Some(3600));
    assert_eq!(
        offer.host_name().unwrap().contiguous(),
        Some(&b"core01"[..])
    );

    let relayed = Packet::new_checked(&msgs[3].payload[..]).unwrap();
    assert_eq!(relayed.message_type(), Some(MessageType::Request));
    assert_eq!(relayed.giaddr(), Ipv4Addr::new(192, 168, 40, 1));
    assert_eq!(relayed.requested_ip(), Some(Ipv4Addr::new(192, 168, 40, 4)));
}

/// Kea's fuzz seeds: a relayed DISCOVER behind a Linux cooked header, the
/// same payload alone, and the headers with no payload.
#[test]
fn kea_relayed_discover_and_truncated_headers() {
    let Some(dir) = shared_vectors() else { return };
    // Kea's payload-only seed starts with one byte its harness takes for
    // itself (0x21) before the DHCP message: as a datagram it is misaligned.
    let seed = hex_file(&dir, "kea/dhcp-payload-only.hex");
    assert_eq!(
        Packet::new_checked(&seed[..]).unwrap_err(),
        Error::BadCookie
    );
    let payload = seed[1..].to_vec();
    let full = hex_file(&dir, "kea/full-dhcp-packet.hex");
    let from_full = udp_in_ipv4(&full[16..], 1).expect("IPv4/UDP after the SLL header");
    assert_eq!(from_full.payload, payload);
    let p = Packet::new_checked(&payload[..]).unwrap();
    assert_eq!(p.message_type(), Some(MessageType::Discover));
    assert_eq!(p.hops(), 1);
    assert_eq!(p.giaddr(), Ipv4Addr::new(10, 1, 0, 1));
    assert_eq!(p.client_mac(), Some([0x00, 0x0c, 0x01, 0x02, 0x03, 0x04]));
    let codes: Vec<u8> = p.options().map(|o| o.code).collect();
    assert_eq!(codes, [53, 55, 61]);

    let headers = hex_file(&dir, "kea/udp-header.hex");
    let payload = udp_in_ipv4(&headers[16..], 1)
        .map(|d| d.payload)
        .unwrap_or_default();
    assert_eq!(
        Packet::new_checked(&payload[..]).unwrap_err(),
        Error::Truncated
    );
}

#[test]
fn tcpdump_dhcp_vectors_decode() {
    let Some(dir) = shared_vectors() else { return };

    let rfc3004 = datagrams(&dir, "tcpdump/dhcp-rfc3004.pcap");
    let p = Packet::new_checked(&rfc3004[0].payload[..]).unwrap();
    assert_eq!(
        (p.message_type(), p.xid()),
        (Some(MessageType::Discover), 0x06e3_2864)
    );
    assert_eq!(p.client_mac(), Some([0x00, 0x0c, 0x29, 0x1f, 0x74, 0x06]));
    let uc = p.user_class().unwrap();
    assert!(uc.is_rfc3004());
    assert_eq!(
        uc.iter().collect::<Vec<_>>(),
        [&b"subopt1"[..], b"subopt2-123456789", b"subopt3-12"]
    );
    assert!(!p.is_ipxe());

    let rfc5859 = datagrams(&dir, "tcpdump/dhcp-rfc5859.pcap");
    let reply = rfc5859.iter().find(|d| d.src.port() == 67).unwrap();
    let p = Packet::new_checked(&reply.payload[..]).unwrap();
    assert_eq!(
        p.option(150).unwrap().contiguous(),
        Some(&[192, 168, 1, 10, 192, 168, 1, 11][..])
    );

    let mud = datagrams(&dir, "tcpdump/dhcp-mud.pcap");
    let p = Packet::new_checked(&mud[0].payload[..]).unwrap();
    assert_eq!((p.op(), p.hops(), p.xid()), (Op::Request, 1, 0x068c_4847));
    assert_eq!(p.giaddr(), Ipv4Addr::new(62, 12, 173, 121));
    assert_eq!(p.ciaddr(), Ipv4Addr::new(62, 12, 173, 123));
    assert_eq!(
        p.option(161).unwrap().contiguous(),
        Some(&b"https://mudctl.example.com/.well-known/mud/v1/rasbp101"[..])
    );

    let route = datagrams(&dir, "tcpdump/dhcp-option-33.pcap");
    let p = Packet::new_checked(&route[0].payload[..]).unwrap();
    assert_eq!((p.op(), p.xid()), (Op::Reply, 0x1234_5678));
    assert_eq!(p.yiaddr(), Ipv4Addr::new(192, 168, 1, 100));
    assert_eq!(
        p.option(33).unwrap().contiguous(),
        Some(&[10, 0, 0, 1, 10, 0, 0, 2][..])
    );
    // Every datagram in these captures parses.
    for d in rfc3004.iter().chain(&rfc5859).chain(&mud).chain(&route) {
        Packet::new_checked(&d.payload[..]).unwrap_or_else(|e| panic!("frame {}: {e}", d.frame));
    }
}

#[test]
fn tcpdump_malformed_vectors_are_errors() {
    let Some(dir) = shared_vectors() else { return };
    for name in ["tcpdump/bootp_asan.pcap", "tcpdump/bootp_asan-2.pcap"] {
        let msgs = datagrams(&dir, name);
        assert!(!msgs.is_empty(), "{name}");
        for d in msgs {
            assert!(
                Packet::new_checked(&d.payload[..]).is_err(),
                "{name} frame {}",
                d.frame
            );
        }
    }
    let msgs = datagrams(&dir, "tcpdump/tftp-heapoverflow.pcap");
    assert!(!msgs.is_empty());
    for d in msgs {
        assert_eq!(
            Repr::parse(&d.payload).unwrap_err(),
            Error::MissingNul,
            "frame {}",
            d.frame
        );
    }
}

#[test]
fn tcpdump_tftp_read() {
    let Some(dir) = shared_vectors() else { return };
    let msgs = datagrams(&dir, "tcpdump/tftp.pcap");
    let Repr::Rrq(r) = Repr::parse(&msgs[0].payload).unwrap() else {
        panic!("RRQ first")
    };
    assert_eq!(
        (r.filename, r.mode, r.options),
        ("file1", Mode::Octet, TftpOptions::default())
    );
    let blocks: Vec<(u16, usize)> = msgs[1..]
        .iter()
        .filter_map(|d| match Repr::parse(&d.payload).unwrap() {
            Repr::Data { block, data } => Some((block, data.len())),
            Repr::Ack { .. } => None,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(blocks, [(1, 512), (2, 512), (3, 105)]);
}
