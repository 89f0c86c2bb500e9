//! Real clients' packets, captured here by `tests/capture/capture.sh`
//! (see `tests/vectors/captured/README.md` for the commands and versions):
//! the fields a PXE server decides on must parse to what tshark decoded.

use std::net::Ipv4Addr;

use awl_core::wire::dhcp::pxe::{self, BootClient, ClientArch, Guid, Ndi, SubOptions, VendorClass};
use awl_core::wire::dhcp::{code, MessageType, Op, Packet};
use awl_core::wire::tftp::{ErrorCode, Mode, Repr, TftpOptions};
use awl_tests::{captured_datagrams, Datagram};

/// The client's DHCP messages in a capture (replies from QEMU's slirp
/// server are left out).
fn client_dhcp(name: &str) -> Vec<Datagram> {
    let all: Vec<Datagram> = captured_datagrams(name)
        .into_iter()
        .filter(|d| d.dst.port() == 67)
        .collect();
    assert!(!all.is_empty(), "{name}: no DHCP request in the capture");
    all
}

fn tftp(name: &str) -> Vec<Datagram> {
    captured_datagrams(name)
        .into_iter()
        .filter(|d| ![67, 68].contains(&d.src.port()) && ![67, 68].contains(&d.dst.port()))
        .collect()
}

fn prl(p: &Packet<&[u8]>) -> Vec<u8> {
    p.parameter_request_list()
        .expect("option 55")
        .bytes()
        .collect()
}

fn contiguous(p: &Packet<&[u8]>, code: u8) -> Vec<u8> {
    p.option(code)
        .unwrap_or_else(|| panic!("option {code}"))
        .contiguous()
        .expect("one piece")
        .to_vec()
}

/// The GUID QEMU was given (`-uuid 8a1c3f52-2c44-4d6e-9b1a-0a77c0ffee01`),
/// as firmware puts it on the wire: first three fields little-endian.
const GUID: [u8; 16] = [
    0x52, 0x3f, 0x1c, 0x8a, 0x44, 0x2c, 0x6e, 0x4d, 0x9b, 0x1a, 0x0a, 0x77, 0xc0, 0xff, 0xee, 0x01,
];

#[test]
fn udhcpc_discover() {
    for d in client_dhcp("udhcpc-discover.pcap") {
        let p = Packet::new_checked(&d.payload[..]).expect("udhcpc DISCOVER parses");
        assert_eq!(p.op(), Op::Request);
        assert_eq!(p.message_type(), Some(MessageType::Discover));
        assert_eq!(p.client_mac(), Some([0x02, 0xaa, 0, 0, 0, 0x01]));
        assert!(!p.broadcast());
        assert_eq!(p.max_message_size(), Some(576));
        assert_eq!(prl(&p), [1, 3, 6, 12, 15, 28, 42]);
        assert_eq!(p.host_name().unwrap().contiguous(), Some(&b"awltest"[..]));
        assert_eq!(contiguous(&p, code::VENDOR_CLASS), b"udhcp 1.35.0");
        assert_eq!(
            VendorClass::parse(b"udhcp 1.35.0"),
            None,
            "not a network-boot client"
        );
        assert_eq!(
            contiguous(&p, code::CLIENT_ID),
            [0x01, 0x02, 0xaa, 0, 0, 0, 0x01]
        );
        assert_eq!(p.client_arch().count(), 0);
        assert!(!p.is_ipxe());
        assert_eq!(d.payload.len(), 300);
    }
}

#[test]
fn dhclient_discover() {
    for d in client_dhcp("dhclient-discover.pcap") {
        let p = Packet::new_checked(&d.payload[..]).expect("dhclient DISCOVER parses");
        assert_eq!(p.message_type(), Some(MessageType::Discover));
        assert_eq!(p.client_mac(), Some([0x02, 0xaa, 0, 0, 0, 0x02]));
        assert_eq!(prl(&p), [1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42]);
        assert_eq!(p.host_name().unwrap().contiguous(), Some(&b"awltest"[..]));
        for absent in [57, 60, 61, 77, 93, 94, 97, 175] {
            assert!(p.option(absent).is_none(), "option {absent}");
        }
    }
}

/// iPXE as QEMU's BIOS NIC ROM: arch 0, user class `iPXE`, option 175.
#[test]
fn ipxe_bios_discover_and_request() {
    let msgs = client_dhcp("ipxe-bios-dhcp.pcap");
    let types: Vec<_> = msgs
        .iter()
        .map(|d| Packet::new_checked(&d.payload[..]).unwrap().message_type())
        .collect();
    assert_eq!(
        types,
        [
            Some(MessageType::Discover),
            Some(MessageType::Discover),
            Some(MessageType::Request)
        ]
    );
    for d in &msgs {
        let p = Packet::new_checked(&d.payload[..]).unwrap();
        assert_eq!(p.client_mac(), Some([0x52, 0x54, 0, 0xaa, 0, 0x03]));
        assert_eq!(p.max_message_size(), Some(1472));
        assert_eq!(p.client_arch().collect::<Vec<_>>(), [ClientArch::X86Bios]);
        assert_eq!(
            p.client_ndi(),
            Some(Ndi {
                kind: 1,
                major: 2,
                minor: 1
            })
        );
        let vc = VendorClass::parse(&contiguous(&p, code::VENDOR_CLASS)).unwrap();
        assert_eq!(
            vc,
            VendorClass {
                kind: BootClient::Pxe,
                arch: Some(ClientArch::X86Bios),
                undi: Some((2, 1))
            }
        );
        let uc = p.user_class().unwrap();
        assert!(!uc.is_rfc3004(), "iPXE sends a plain string");
        assert!(uc.contains(b"iPXE"));
        assert!(p.is_ipxe());
        assert_eq!(
            prl(&p),
            [
                1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119, 128, 129, 130, 131, 132, 133, 134,
                135, 175, 203
            ]
        );
        assert_eq!(p.client_guid(), Some(Guid(GUID)));
        assert_eq!(
            contiguous(&p, code::CLIENT_ID),
            [0x01, 0x52, 0x54, 0, 0xaa, 0, 0x03]
        );
        let encap = contiguous(&p, code::IPXE_ENCAP);
        let subs: Vec<_> = SubOptions::encapsulated(&encap)
            .map(|s| (s.code, s.data.to_vec()))
            .collect();
        assert_eq!(subs.len(), 14);
        assert!(subs.contains(&(pxe::ipxe_code::BUS_ID, vec![0x01, 0x80, 0x86, 0x10, 0x0e])));
        assert!(subs.contains(&(pxe::ipxe_code::VERSION, vec![1, 0, 0])));
        assert!(subs.contains(&(pxe::ipxe_code::FEATURE_HTTP, vec![1])));
        assert!(subs.contains(&(pxe::ipxe_code::FEATURE_PXE_EXT, vec![2])));
        assert!(SubOptions::encapsulated(&encap).is_well_formed());
    }
    let request = Packet::new_checked(&msgs[2].payload[..]).unwrap();
    assert_eq!(request.requested_ip(), Some(Ipv4Addr::new(10, 0, 2, 15)));
    assert_eq!(request.server_id(), Some(Ipv4Addr::new(10, 0, 2, 2)));
}

/// iPXE's EFI build (OVMF with QEMU's efi-e1000 ROM): arch 7, still iPXE.
#[test]
fn ipxe_efi_discover() {
    for d in client_dhcp("ipxe-efi-dhcp.pcap") {
        let p = Packet::new_checked(&d.payload[..]).unwrap();
        assert_eq!(p.client_mac(), Some([0x52, 0x54, 0, 0xaa, 0, 0x05]));
        assert_eq!(p.client_arch().collect::<Vec<_>>(), [ClientArch::X64Uefi]);
        assert_eq!(
            p.client_ndi(),
            Some(Ndi {
                kind: 1,
                major: 3,
                minor: 10
            })
        );
        let vc = VendorClass::parse(&contiguous(&p, code::VENDOR_CLASS)).unwrap();
        assert_eq!(
            (vc.arch, vc.undi),
            (Some(ClientArch::X64Uefi), Some((3, 10)))
        );
        assert!(p.is_ipxe());
        assert!(p.user_class().unwrap().contains(b"iPXE"));
    }
}

/// OVMF's own EDK II PXE client: arch 7, broadcast flag, no 61/77/175, and
/// a larger option 57 in its REQUEST than in its DISCOVER.
#[test]
fn ovmf_uefi_pxe_dhcp() {
    let msgs = client_dhcp("ovmf-uefi-pxe.pcap");
    assert_eq!(msgs.len(), 2);
    for (d, (kind, max_size)) in msgs
        .iter()
        .zip([(MessageType::Discover, 1472), (MessageType::Request, 65280)])
    {
        let p = Packet::new_checked(&d.payload[..]).unwrap();
        assert_eq!(p.message_type(), Some(kind));
        assert!(p.broadcast());
        assert_eq!(p.client_mac(), Some([0x52, 0x54, 0, 0xaa, 0, 0x04]));
        assert_eq!(p.max_message_size(), Some(max_size));
        assert_eq!(p.client_arch().collect::<Vec<_>>(), [ClientArch::X64Uefi]);
        assert_eq!(
            p.client_ndi(),
            Some(Ndi {
                kind: 1,
                major: 3,
                minor: 0
            })
        );
        assert_eq!(p.client_guid(), Some(Guid(GUID)));
        let vc = VendorClass::parse(&contiguous(&p, code::VENDOR_CLASS)).unwrap();
        assert_eq!(
            vc,
            VendorClass {
                kind: BootClient::Pxe,
                arch: Some(ClientArch::X64Uefi),
                undi: Some((3, 0))
            }
        );
        assert!(!p.is_ipxe());
        for absent in [61, 77, 175] {
            assert!(p.option(absent).is_none(), "option {absent}");
        }
        let prl = prl(&p);
        assert_eq!(prl.len(), 35);
        assert!(
            prl.contains(&43)
                && prl.contains(&60)
                && prl.contains(&66)
                && prl.contains(&67)
                && prl.contains(&97)
        );
    }
}

/// OVMF's tsize probe: RRQ tsize=0 blksize=1468 windowsize=4, then ERROR 8
/// after the OACK, then the real RRQ from a new port without tsize.
#[test]
fn ovmf_uefi_pxe_tftp_probe_then_read() {
    let msgs = tftp("ovmf-uefi-pxe.pcap");
    let client: Vec<&Datagram> = msgs
        .iter()
        .filter(|d| d.dst.port() == 69 || d.src.ip() == &Ipv4Addr::new(10, 0, 2, 15))
        .collect();
    let Repr::Rrq(probe) = Repr::parse(&client[0].payload).unwrap() else {
        panic!("first is an RRQ")
    };
    assert_eq!((probe.filename, probe.mode), ("awl-test.bin", Mode::Octet));
    assert_eq!(
        probe.options,
        TftpOptions {
            blksize: Some(1468),
            tsize: Some(0),
            timeout: None,
            windowsize: Some(4)
        }
    );
    assert_eq!(
        Repr::parse(&client[1].payload).unwrap(),
        Repr::Error {
            code: ErrorCode::OptionRefused,
            message: b"User aborted the transfer"
        }
    );
    assert_eq!(
        client[1].src.port(),
        client[0].src.port(),
        "the abort comes from the probe's port"
    );
    let Repr::Rrq(read) = Repr::parse(&client[2].payload).unwrap() else {
        panic!("third is an RRQ")
    };
    assert_ne!(
        client[2].src.port(),
        client[0].src.port(),
        "the real read comes from a new port"
    );
    assert_eq!(
        read.options,
        TftpOptions {
            blksize: Some(1468),
            tsize: None,
            timeout: None,
            windowsize: Some(4)
        }
    );
}

fn first_rrq(name: &str) -> TftpOptions {
    let msgs = tftp(name);
    let Repr::Rrq(r) = Repr::parse(&msgs[0].payload).expect("RRQ parses") else {
        panic!("{name}: first is not an RRQ")
    };
    assert_eq!(r.mode, Mode::Octet);
    assert!(r.filename.starts_with("awl-test."), "{}", r.filename);
    assert!(!r.invalid_options.any());
    // Everything after the request parses too (OACK, ACK, DATA).
    for d in &msgs[1..] {
        Repr::parse(&d.payload).unwrap_or_else(|e| panic!("{name} frame {}: {e}", d.frame));
    }
    r.options
}

#[test]
fn ipxe_tftp_rrq() {
    let expect = TftpOptions {
        blksize: Some(1432),
        tsize: Some(0),
        timeout: None,
        windowsize: None,
    };
    assert_eq!(first_rrq("ipxe-bios-dhcp.pcap"), expect);
    assert_eq!(first_rrq("ipxe-efi-dhcp.pcap"), expect);
}

#[test]
fn atftp_rrq() {
    assert_eq!(
        first_rrq("atftp-rrq.pcap"),
        TftpOptions {
            blksize: Some(1468),
            tsize: Some(0),
            timeout: None,
            windowsize: Some(16)
        }
    );
}

#[test]
fn curl_rrq() {
    assert_eq!(
        first_rrq("curl-rrq.pcap"),
        TftpOptions {
            blksize: Some(1468),
            tsize: Some(0),
            timeout: Some(3),
            windowsize: None
        }
    );
}

#[test]
fn tftp_hpa_rrq() {
    assert_eq!(first_rrq("tftp-hpa-rrq.pcap"), TftpOptions::default());
}

/// The OACKs and DATA of the real servers in the captures read back with
/// the sizes tshark saw.
#[test]
fn server_side_tftp_packets() {
    let msgs = tftp("atftp-rrq.pcap");
    assert_eq!(
        Repr::parse(&msgs[1].payload).unwrap(),
        Repr::Oack {
            options: TftpOptions {
                blksize: Some(1468),
                tsize: Some(4000),
                timeout: None,
                windowsize: None
            }
        }
    );
    let sizes: Vec<(u16, usize)> = msgs
        .iter()
        .filter_map(|d| match Repr::parse(&d.payload) {
            Ok(Repr::Data { block, data }) => Some((block, data.len())),
            _ => None,
        })
        .collect();
    assert_eq!(sizes, [(1, 1468), (2, 1468), (3, 1064)]);
}
