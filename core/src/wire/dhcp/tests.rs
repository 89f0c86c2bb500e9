//! DHCP wire tests, named by intent. Datagrams are built byte by byte here
//! (not with our emitter) so parser and emitter are checked independently.

use std::vec::Vec;

use super::pxe::{Archs, ClientArch, PxeOption, SubOptions, UserClass, VendorClass};
use super::*;
use crate::wire::Error;

const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

/// A BOOTREQUEST with `options` after the cookie (END not added).
fn request_with(options: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 240];
    p[0] = 1;
    p[1] = 1;
    p[2] = 6;
    p[4..8].copy_from_slice(&0xdead_beef_u32.to_be_bytes());
    p[10] = 0x80;
    p[28..34].copy_from_slice(&MAC);
    p[236..240].copy_from_slice(&MAGIC_COOKIE);
    p.extend_from_slice(options);
    p
}

fn discover() -> Vec<u8> {
    let mut opts = vec![53, 1, 1];
    opts.extend_from_slice(&[55, 4, 1, 3, 67, 66]);
    opts.extend_from_slice(&[57, 2, 0x05, 0xc0]);
    opts.extend_from_slice(&[93, 2, 0, 7]);
    opts.extend_from_slice(&[94, 3, 1, 3, 16]);
    opts.push(60);
    let vc = b"PXEClient:Arch:00007:UNDI:003016";
    opts.push(vc.len() as u8);
    opts.extend_from_slice(vc);
    opts.extend_from_slice(&[97, 17, 0]);
    opts.extend_from_slice(&[0xab; 16]);
    opts.push(255);
    request_with(&opts)
}

#[test]
fn test_parse_pxe_discover_fields() {
    let bytes = discover();
    let p = Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(p.op(), Op::Request);
    assert_eq!(p.xid(), 0xdead_beef);
    assert!(p.broadcast());
    assert_eq!(p.client_mac(), Some(MAC));
    assert_eq!(p.message_type(), Some(MessageType::Discover));
    let prl: Vec<u8> = p.parameter_request_list().unwrap().bytes().collect();
    assert_eq!(prl, [1, 3, 67, 66]);
    assert_eq!(p.max_message_size(), Some(1472));
    assert_eq!(p.client_arch().collect::<Vec<_>>(), [ClientArch::X64Uefi]);
    assert_eq!(
        p.client_ndi(),
        Some(pxe::Ndi {
            kind: 1,
            major: 3,
            minor: 16
        })
    );
    assert_eq!(p.client_guid(), Some(pxe::Guid([0xab; 16])));
    let vc = VendorClass::parse(p.vendor_class().unwrap().contiguous().unwrap()).unwrap();
    assert_eq!(vc.kind, pxe::BootClient::Pxe);
    assert_eq!(vc.arch, Some(ClientArch::X64Uefi));
    assert_eq!(vc.undi, Some((3, 16)));
    assert!(!p.is_ipxe());
    assert_eq!(p.file(), Some(&b""[..]));
}

#[test]
fn test_truncated_and_bad_header() {
    for len in [0usize, 1, 235, 236, 239] {
        let bytes = discover();
        assert_eq!(
            Packet::new_checked(&bytes[..len]).unwrap_err(),
            Error::Truncated,
            "len {len}"
        );
    }
    let mut bad_cookie = request_with(&[255]);
    bad_cookie[239] = 0;
    assert_eq!(
        Packet::new_checked(&bad_cookie[..]).unwrap_err(),
        Error::BadCookie
    );
    let no_end = request_with(&[]);
    assert_eq!(
        Packet::new_checked(&no_end[..]).unwrap_err(),
        Error::MissingEnd
    );
    let only_pad = request_with(&[0, 0, 0]);
    assert_eq!(
        Packet::new_checked(&only_pad[..]).unwrap_err(),
        Error::MissingEnd
    );
    let plain_bootp = request_with(&[255]);
    assert_eq!(
        Packet::new_checked(&plain_bootp[..])
            .unwrap()
            .message_type(),
        None
    );
    let huge = vec![0u8; MAX_DATAGRAM + 1];
    assert_eq!(Packet::new_checked(&huge[..]).unwrap_err(), Error::Oversize);
}

#[test]
fn test_hardware_length() {
    for (hlen, ok, mac) in [
        (0u8, true, false),
        (6, true, true),
        (16, true, false),
        (17, false, false),
        (255, false, false),
    ] {
        let mut bytes = discover();
        bytes[2] = hlen;
        match Packet::new_checked(&bytes[..]) {
            Ok(p) => {
                assert!(ok, "hlen {hlen}");
                assert_eq!(p.chaddr().len(), usize::from(hlen));
                assert_eq!(p.client_mac().is_some(), mac);
            }
            Err(e) => {
                assert!(!ok, "hlen {hlen}");
                assert_eq!(e, Error::BadHardwareLength);
            }
        }
    }
}

#[test]
fn test_option_overrun() {
    let len_past_end = request_with(&[53, 1, 1, 12, 10, b'a']);
    assert_eq!(
        Packet::new_checked(&len_past_end[..]).unwrap_err(),
        Error::OptionOverrun
    );
    let no_len = request_with(&[53, 1, 1, 12]);
    assert_eq!(
        Packet::new_checked(&no_len[..]).unwrap_err(),
        Error::OptionOverrun
    );
}

#[test]
fn test_zero_length_options_are_ignored() {
    let bytes = request_with(&[
        53, 0, 50, 0, 51, 0, 54, 0, 57, 0, 61, 0, 93, 0, 94, 0, 97, 0, 55, 0, 255,
    ]);
    let p = Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(p.message_type(), None);
    assert_eq!(p.requested_ip(), None);
    assert_eq!(p.lease_time(), None);
    assert_eq!(p.server_id(), None);
    assert_eq!(p.max_message_size(), None);
    assert!(p.client_id().is_none());
    assert_eq!(p.client_arch().count(), 0);
    assert_eq!(p.client_ndi(), None);
    assert_eq!(p.client_guid(), None);
    assert!(p.parameter_request_list().is_none());
    let mut scratch = [0u8; 16];
    assert_eq!(
        p.typed_option(code::MESSAGE_TYPE, &mut scratch),
        Some(Err(Error::BadLength))
    );
}

#[test]
fn test_odd_client_arch_lengths() {
    for (value, expect) in [
        (&[0u8][..], vec![]),
        (&[0, 0, 0][..], vec![]),
        (&[0, 0][..], vec![ClientArch::X86Bios]),
        (
            &[0, 11, 0, 7][..],
            vec![ClientArch::Arm64Uefi, ClientArch::X64Uefi],
        ),
    ] {
        let mut opts = vec![53, 1, 1, 93, value.len() as u8];
        opts.extend_from_slice(value);
        opts.push(255);
        let bytes = request_with(&opts);
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(p.client_arch().collect::<Vec<_>>(), expect);
    }
}

/// Places `opts` at the start of the `file` field.
fn put_file(bytes: &mut [u8], opts: &[u8]) {
    bytes[field::FILE.start..field::FILE.start + opts.len()].copy_from_slice(opts);
}

fn put_sname(bytes: &mut [u8], opts: &[u8]) {
    bytes[field::SNAME.start..field::SNAME.start + opts.len()].copy_from_slice(opts);
}

#[test]
fn test_overload_message_type_only_in_file() {
    let mut bytes = request_with(&[52, 1, 1, 255]);
    put_file(&mut bytes, &[53, 1, 1, 255]);
    let p = Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(p.overload(), 1);
    assert_eq!(p.message_type(), Some(MessageType::Discover));
    assert_eq!(p.file(), None, "file carries options, not a name");
    assert_eq!(p.sname(), Some(&b""[..]));
}

#[test]
fn test_overload_both_areas_and_concatenation_order() {
    // Option 43 in three pieces: options field, then file, then sname.
    let mut bytes = request_with(&[52, 1, 3, 53, 1, 3, 43, 2, b'a', b'b', 255]);
    put_file(&mut bytes, &[43, 2, b'c', b'd', 12, 2, b'h', b'i', 255]);
    put_sname(&mut bytes, &[43, 1, b'e']); // no END: the field's end ends it
    let p = Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(p.message_type(), Some(MessageType::Request));
    let vendor = p.option(code::VENDOR_SPECIFIC).unwrap();
    assert_eq!(vendor.pieces(), 3);
    assert_eq!(vendor.contiguous(), None);
    let mut buf = [0u8; 8];
    assert_eq!(vendor.copy_into(&mut buf).unwrap(), b"abcde");
    assert_eq!(p.host_name().unwrap().contiguous(), Some(&b"hi"[..]));
}

#[test]
fn test_overload_file_without_end_is_bounded() {
    let mut bytes = request_with(&[52, 1, 1, 53, 1, 1, 255]);
    // 128 bytes of option 12 pieces that exactly fill `file`, no END.
    let mut file = Vec::new();
    while file.len() + 2 + 10 <= 128 {
        file.extend_from_slice(&[12, 10]);
        file.extend_from_slice(b"0123456789");
    }
    let pad = 128 - file.len();
    file.extend(std::iter::repeat_n(0u8, pad));
    put_file(&mut bytes, &file);
    let p = Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(p.host_name().unwrap().len(), 100);
    // An option in `file` that would run past the field's end.
    let mut bytes = request_with(&[52, 1, 1, 53, 1, 1, 255]);
    bytes[field::FILE.end - 2] = 12;
    bytes[field::FILE.end - 1] = 5;
    assert_eq!(
        Packet::new_checked(&bytes[..]).unwrap_err(),
        Error::OptionOverrun
    );
}

#[test]
fn test_bad_overload_values() {
    let recursive = {
        let mut b = request_with(&[52, 1, 1, 53, 1, 1, 255]);
        put_file(&mut b, &[52, 1, 2, 255]);
        b
    };
    assert_eq!(
        Packet::new_checked(&recursive[..]).unwrap_err(),
        Error::BadOverload
    );
    for opts in [
        &[52u8, 1, 0, 255][..],
        &[52, 1, 4, 255],
        &[52, 1, 255, 255],
        &[52, 0, 255],
        &[52, 2, 1, 1, 255],
        &[52, 1, 1, 52, 1, 1, 255],
    ] {
        let b = request_with(opts);
        assert_eq!(
            Packet::new_checked(&b[..]).unwrap_err(),
            Error::BadOverload,
            "{opts:?}"
        );
    }
}

#[test]
fn test_file_is_a_name_without_overload() {
    let mut bytes = request_with(&[53, 1, 1, 255]);
    // A boot file name whose bytes would read as options: not parsed.
    put_file(&mut bytes, b"\x35\x01\x03pxelinux.0");
    let p = Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(p.file(), Some(&b"\x35\x01\x03pxelinux.0"[..]));
    assert_eq!(p.message_type(), Some(MessageType::Discover));
}

#[test]
fn test_concatenation_too_long_for_buffer_keeps_packet_usable() {
    let mut opts = vec![53, 1, 1];
    for _ in 0..3 {
        opts.push(43);
        opts.push(200);
        opts.extend(std::iter::repeat_n(7u8, 200));
    }
    opts.push(255);
    let bytes = request_with(&opts);
    let p = Packet::new_checked(&bytes[..]).unwrap();
    let vendor = p.option(code::VENDOR_SPECIFIC).unwrap();
    assert_eq!(vendor.len(), 600);
    let mut small = [0u8; 512];
    assert_eq!(vendor.copy_into(&mut small).unwrap_err(), Error::TooLong);
    assert_eq!(
        p.typed_option(code::VENDOR_SPECIFIC, &mut small),
        Some(Err(Error::TooLong))
    );
    assert_eq!(p.message_type(), Some(MessageType::Discover));
    let mut big = [0u8; 600];
    assert_eq!(vendor.copy_into(&mut big).unwrap().len(), 600);
}

#[test]
fn test_255_single_byte_pieces() {
    let mut opts = vec![53, 1, 1];
    for i in 0..255u8 {
        opts.extend_from_slice(&[12, 1, b'a' + i % 26]);
    }
    opts.push(255);
    let bytes = request_with(&opts);
    let p = Packet::new_checked(&bytes[..]).unwrap();
    let name = p.host_name().unwrap();
    assert_eq!((name.pieces(), name.len()), (255, 255));
    assert_eq!(name.bytes().nth(27), Some(b'b'));
}

#[test]
fn test_max_payload_len_from_option_57() {
    for (opt57, mtu, expect) in [
        (None, 1500, 548),
        (Some(0), 1500, 548),
        (Some(100), 1500, 548),
        (Some(575), 1500, 548),
        (Some(576), 1500, 548),
        (Some(577), 1500, 549),
        (Some(1472), 1500, 1444),
        (Some(1500), 1500, 1472),
        (Some(65535), 1500, 1472),
        (Some(65535), 9000, 8972),
        (Some(1500), 100, 548),
    ] {
        assert_eq!(max_payload_len(opt57, mtu), expect, "{opt57:?} {mtu}");
    }
}

fn offer<'a>(
    required: &'a [DhcpOption<'a>],
    optional: &'a [DhcpOption<'a>],
    prl: &'a [u8],
    max_len: usize,
) -> Reply<'a> {
    Reply {
        chaddr: &MAC,
        xid: 0xdead_beef,
        yiaddr: Ipv4Addr::new(10, 0, 0, 50),
        siaddr: Ipv4Addr::new(10, 0, 0, 1),
        file: b"ipxe.efi",
        required,
        optional,
        parameter_request_list: prl,
        max_len,
        ..Reply::default()
    }
}

fn codes(bytes: &[u8]) -> Vec<u8> {
    Packet::new_checked(bytes)
        .unwrap()
        .options()
        .map(|o| o.code)
        .collect()
}

const ROUTERS: [Ipv4Addr; 1] = [Ipv4Addr::new(10, 0, 0, 1)];
const DNS: [Ipv4Addr; 2] = [Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 3)];

#[test]
fn test_emit_orders_by_parameter_request_list() {
    let required = [
        DhcpOption::RelayAgentInfo(&[1, 2, b'x', b'y']),
        DhcpOption::ServerId(Ipv4Addr::new(10, 0, 0, 1)),
        DhcpOption::MessageType(MessageType::Offer),
        DhcpOption::LeaseTime(3600),
    ];
    let optional = [
        DhcpOption::VendorClass(b"PXEClient"),
        DhcpOption::SubnetMask(Ipv4Addr::new(255, 255, 255, 0)),
        DhcpOption::Router(Addrs::Slice(&ROUTERS)),
        DhcpOption::DnsServers(Addrs::Slice(&DNS)),
    ];
    let mut buf = [0u8; 1500];
    let len = offer(&required, &optional, &[6, 3, 1], 1472)
        .emit(&mut buf)
        .unwrap();
    assert_eq!(codes(&buf[..len]), [53, 6, 3, 1, 54, 51, 60, 82]);
    let p = Packet::new_checked(&buf[..len]).unwrap();
    assert_eq!(p.op(), Op::Reply);
    assert_eq!(p.yiaddr(), Ipv4Addr::new(10, 0, 0, 50));
    assert_eq!(p.file(), Some(&b"ipxe.efi"[..]));
    assert_eq!(
        len, BOOTP_MIN_LEN,
        "short replies are padded to the BOOTP minimum"
    );
}

#[test]
fn test_emit_never_writes_pad_before_end() {
    let required = [
        DhcpOption::MessageType(MessageType::Offer),
        DhcpOption::ServerId(Ipv4Addr::new(10, 0, 0, 1)),
    ];
    let optional = [DhcpOption::HostName(b"node1")];
    let mut buf = [0xaau8; 600];
    let len = offer(&required, &optional, &[], 548)
        .emit(&mut buf)
        .unwrap();
    let area = &buf[field::OPTIONS..len];
    let end = area.iter().position(|&b| b == 255).unwrap();
    let mut pos = 0;
    while pos < end {
        assert_ne!(area[pos], 0, "PAD inside the options at {pos}");
        pos += 2 + usize::from(area[pos + 1]);
    }
    assert!(area[end + 1..].iter().all(|&b| b == 0));
}

#[test]
fn test_emit_drops_unrequested_options_first_when_too_big() {
    let big = [b'v'; 200];
    let required = [
        DhcpOption::MessageType(MessageType::Offer),
        DhcpOption::ServerId(Ipv4Addr::new(10, 0, 0, 1)),
    ];
    let optional = [
        DhcpOption::Other {
            code: 224,
            data: &big,
        },
        DhcpOption::Other {
            code: 225,
            data: &big,
        },
        DhcpOption::HostName(&big),
        DhcpOption::DomainName(&big),
    ];
    // 548 - 240 - 1 - 9 = 298 bytes of room: one 202-byte option fits.
    let mut buf = [0u8; 1500];
    let len = offer(&required, &optional, &[15, 12], 548)
        .emit(&mut buf)
        .unwrap();
    assert!(len <= 548);
    assert_eq!(codes(&buf[..len]), [53, 15, 54]);
}

#[test]
fn test_emit_required_too_big_fails_without_overrun() {
    let big = [b'r'; 400];
    let required = [
        DhcpOption::MessageType(MessageType::Offer),
        DhcpOption::Message(&big),
    ];
    let mut buf = vec![0x55u8; 700];
    let err = offer(&required, &[], &[], 548).emit(&mut buf).unwrap_err();
    assert_eq!(err, Error::BufferTooSmall);
    let mut small = vec![0u8; 200];
    assert_eq!(
        offer(&[], &[], &[], 548).emit(&mut small).unwrap_err(),
        Error::BufferTooSmall
    );
}

#[test]
fn test_emit_splits_long_options_rfc3396() {
    let long: Vec<u8> = (0..600u32).map(|i| i as u8).collect();
    let required = [
        DhcpOption::MessageType(MessageType::Ack),
        DhcpOption::VendorSpecific(&long),
    ];
    let mut buf = [0u8; 1500];
    let len = offer(&required, &[], &[], 1472).emit(&mut buf).unwrap();
    let p = Packet::new_checked(&buf[..len]).unwrap();
    let vendor = p.option(code::VENDOR_SPECIFIC).unwrap();
    assert_eq!(vendor.pieces(), 3);
    let mut out = [0u8; 600];
    assert_eq!(vendor.copy_into(&mut out).unwrap(), &long[..]);
}

#[test]
fn test_emit_leaves_no_stale_bytes() {
    let required = [
        DhcpOption::MessageType(MessageType::Offer),
        DhcpOption::ServerId(Ipv4Addr::new(10, 0, 0, 1)),
    ];
    let optional = [DhcpOption::Router(Addrs::Slice(&ROUTERS))];
    let reply = offer(&required, &optional, &[3], 1472);
    let mut fresh = [0u8; 1500];
    let mut dirty = [0xeeu8; 1500];
    let a = reply.emit(&mut fresh).unwrap();
    let b = reply.emit(&mut dirty).unwrap();
    assert_eq!(fresh[..a], dirty[..b]);
}

#[test]
fn test_relay_agent_info_overrun_is_never_returned() {
    let good = request_with(&[53, 1, 1, 82, 6, 1, 2, b'a', b'b', 2, 0, 255]);
    let p = Packet::new_checked(&good[..]).unwrap();
    assert_eq!(p.relay_agent_info(), Some(&[1, 2, b'a', b'b', 2, 0][..]));
    let bad = request_with(&[53, 1, 1, 82, 4, 1, 5, b'a', b'b', 255]);
    let p = Packet::new_checked(&bad[..]).unwrap();
    assert_eq!(p.relay_agent_info(), None);
    assert!(!SubOptions::relay(&[1, 5, 0]).is_well_formed());
}

#[test]
fn test_user_class_forms() {
    let ipxe = UserClass::new(b"iPXE");
    assert!(!ipxe.is_rfc3004());
    assert!(ipxe.contains(b"iPXE"));
    let rfc = UserClass::new(b"\x04iPXE\x03foo");
    assert!(rfc.is_rfc3004());
    assert_eq!(rfc.iter().collect::<Vec<_>>(), [&b"iPXE"[..], b"foo"]);
    let truncated = UserClass::new(b"\x09abc");
    assert_eq!(truncated.iter().collect::<Vec<_>>(), [&b"\x09abc"[..]]);
    let bytes = request_with(&[53, 1, 1, 77, 4, b'i', b'P', b'X', b'E', 255]);
    assert!(Packet::new_checked(&bytes[..]).unwrap().is_ipxe());
    let bytes = request_with(&[53, 1, 1, 175, 3, 0x13, 1, 1, 255]);
    assert!(Packet::new_checked(&bytes[..]).unwrap().is_ipxe());
}

#[test]
fn test_vendor_class_variants() {
    let http = VendorClass::parse(b"HTTPClient:Arch:00016:UNDI:003001").unwrap();
    assert_eq!(http.kind, pxe::BootClient::Http);
    assert_eq!(http.arch, Some(ClientArch::X64UefiHttp));
    let bare = VendorClass::parse(b"PXEClient").unwrap();
    assert_eq!((bare.arch, bare.undi), (None, None));
    let garbage = VendorClass::parse(b"PXEClient:Arch:99999999999:UNDI:x").unwrap();
    assert_eq!((garbage.arch, garbage.undi), (None, None));
    assert_eq!(VendorClass::parse(b"udhcp 1.36.1"), None);
    assert_eq!(VendorClass::parse(b"MSFT 5.0"), None);
}

#[test]
fn test_pxe_sub_options_round_trip() {
    let servers = [0u8, 0, 1, 10, 0, 0, 1];
    let menu = [0u8, 0, 4, b'b', b'o', b'o', b't'];
    let opts = [
        PxeOption::DiscoveryControl(pxe::discovery::BOOT_FILE_DIRECTLY),
        PxeOption::BootServers(&servers),
        PxeOption::BootMenu(&menu),
        PxeOption::MenuPrompt {
            timeout: 0,
            prompt: b"awl",
        },
        PxeOption::BootItem {
            server_type: 0x8000,
            layer: 0,
        },
    ];
    let mut buf = [0u8; 64];
    let len = PxeOption::emit_all(&opts, &mut buf).unwrap();
    assert_eq!(buf[len - 1], 255);
    assert_eq!(PxeOption::iter(&buf[..len]).collect::<Vec<_>>(), opts);
    assert_eq!(
        PxeOption::emit_all(&opts, &mut buf[..10]).unwrap_err(),
        Error::BufferTooSmall
    );
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 1..max)
    }

    /// Owned stand-in for a `DhcpOption`, so proptest can generate it.
    #[derive(Debug, Clone)]
    enum Owned {
        Addr(u8, [u8; 4]),
        Addrs(u8, Vec<[u8; 4]>),
        U32(u8, u32),
        U16(u8, u16),
        Bytes(u8, Vec<u8>),
        Archs(Vec<u16>),
        Ndi(u8, u8, u8),
        Other(u8, Vec<u8>),
    }

    fn owned() -> impl Strategy<Value = Owned> {
        prop_oneof![
            (
                prop_oneof![Just(1u8), Just(28), Just(50), Just(54)],
                any::<[u8; 4]>()
            )
                .prop_map(|(c, a)| Owned::Addr(c, a)),
            (
                prop_oneof![Just(3u8), Just(6)],
                proptest::collection::vec(any::<[u8; 4]>(), 1..80)
            )
                .prop_map(|(c, a)| Owned::Addrs(c, a)),
            (prop_oneof![Just(51u8), Just(58), Just(59)], any::<u32>())
                .prop_map(|(c, v)| Owned::U32(c, v)),
            (prop_oneof![Just(26u8), Just(57)], any::<u16>()).prop_map(|(c, v)| Owned::U16(c, v)),
            (
                prop_oneof![
                    Just(12u8),
                    Just(15),
                    Just(43),
                    Just(55),
                    Just(56),
                    Just(60),
                    Just(66),
                    Just(67),
                    Just(77),
                    Just(82),
                    Just(97),
                    Just(175)
                ],
                bytes(400)
            )
                .prop_map(|(c, b)| Owned::Bytes(c, b)),
            (61u8..62, proptest::collection::vec(any::<u8>(), 2..300))
                .prop_map(|(c, b)| Owned::Bytes(c, b)),
            proptest::collection::vec(any::<u16>(), 1..150).prop_map(Owned::Archs),
            any::<(u8, u8, u8)>().prop_map(|(a, b, c)| Owned::Ndi(a, b, c)),
            (
                prop_oneof![Just(2u8), Just(100), Just(200), Just(254)],
                proptest::collection::vec(any::<u8>(), 0..300)
            )
                .prop_map(|(c, b)| Owned::Other(c, b)),
        ]
    }

    fn typed<'a>(o: &'a Owned, addrs: &'a [Ipv4Addr], archs: &'a [ClientArch]) -> DhcpOption<'a> {
        match o {
            Owned::Addr(c, a) => DhcpOption::parse(*c, a).unwrap(),
            Owned::Addrs(3, _) => DhcpOption::Router(Addrs::Slice(addrs)),
            Owned::Addrs(_, _) => DhcpOption::DnsServers(Addrs::Slice(addrs)),
            Owned::U32(c, v) => match c {
                51 => DhcpOption::LeaseTime(*v),
                58 => DhcpOption::RenewalTime(*v),
                _ => DhcpOption::RebindingTime(*v),
            },
            Owned::U16(26, v) => DhcpOption::InterfaceMtu(*v),
            Owned::U16(_, v) => DhcpOption::MaxMessageSize(*v),
            Owned::Bytes(c, b) => DhcpOption::parse(*c, b).unwrap(),
            Owned::Archs(_) => DhcpOption::ClientArch(Archs::Slice(archs)),
            Owned::Ndi(kind, major, minor) => DhcpOption::ClientNdi(pxe::Ndi {
                kind: *kind,
                major: *major,
                minor: *minor,
            }),
            Owned::Other(c, b) => DhcpOption::Other { code: *c, data: b },
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Every option the emitter writes reads back equal, whether it is
        /// required or optional, split into pieces or not.
        #[test]
        fn emit_then_parse_round_trips(option in owned(), required in any::<bool>(), prl in proptest::collection::vec(any::<u8>(), 0..20)) {
            let addrs: Vec<Ipv4Addr> = match &option { Owned::Addrs(_, a) => a.iter().map(|o| Ipv4Addr::from(*o)).collect(), _ => vec![] };
            let archs: Vec<ClientArch> = match &option { Owned::Archs(a) => a.iter().map(|&v| ClientArch::from(v)).collect(), _ => vec![] };
            let opt = typed(&option, &addrs, &archs);
            let head = [DhcpOption::MessageType(MessageType::Ack)];
            let with = [DhcpOption::MessageType(MessageType::Ack), opt];
            let (req, optl): (&[DhcpOption<'_>], &[DhcpOption<'_>]) = if required { (&with, &[]) } else { (&head, core::slice::from_ref(&opt)) };
            let reply = offer(req, optl, &prl, 2000);
            let mut buf = vec![0u8; 2000];
            let len = reply.emit(&mut buf).unwrap();
            prop_assert!(len <= 2000);
            let p = Packet::new_checked(&buf[..len]).unwrap();
            prop_assert_eq!(p.message_type(), Some(MessageType::Ack));
            let mut scratch = vec![0u8; 2000];
            let back = p.typed_option(opt.code(), &mut scratch).unwrap().unwrap();
            prop_assert_eq!(back, opt);
        }

        /// Whatever the limit, the reply fits it and parses.
        #[test]
        fn emit_respects_limit(max_len in 0usize..1600, n in 0usize..20) {
            let big = [7u8; 100];
            let optional: Vec<DhcpOption<'_>> = (0..n).map(|i| DhcpOption::Other { code: 200 + i as u8, data: &big }).collect();
            let required = [DhcpOption::MessageType(MessageType::Offer)];
            let mut buf = vec![0u8; 1600];
            match offer(&required, &optional, &[], max_len).emit(&mut buf) {
                Ok(len) => {
                    prop_assert!(len <= max_len);
                    prop_assert!(Packet::new_checked(&buf[..len]).is_ok());
                }
                Err(e) => prop_assert_eq!(e, Error::BufferTooSmall),
            }
        }

        /// No input makes the parser or any accessor panic.
        #[test]
        fn parse_any_bytes(mut bytes in proptest::collection::vec(any::<u8>(), 0..700), cookie in any::<bool>()) {
            if cookie && bytes.len() >= 240 {
                bytes[236..240].copy_from_slice(&MAGIC_COOKIE);
            }
            if let Ok(p) = Packet::new_checked(&bytes[..]) {
                let mut scratch = [0u8; 64];
                for code in 0..=255u8 {
                    let _ = p.typed_option(code, &mut scratch);
                }
                let _ = (p.message_type(), p.client_arch().count(), p.user_class(), p.relay_agent_info(), p.is_ipxe());
            }
        }
    }
}

#[test]
fn architectures_and_macs_read_as_words() {
    assert_eq!(ClientArch::X86Bios.to_string(), "x86 BIOS");
    assert_eq!(ClientArch::X64Uefi.to_string(), "x64 UEFI");
    assert_eq!(ClientArch::Arm64Uefi.to_string(), "ARM64 UEFI");
    assert_eq!(ClientArch::X64UefiHttp.to_string(), "x64 UEFI HTTP");
    assert_eq!(ClientArch::from(9).to_string(), "EFI BC");
    assert_eq!(ClientArch::from(300).to_string(), "arch 300");
    assert_eq!(ClientArch::from(300).name(), None);
    // Every named value has a name (the list and the names kept together).
    for n in 0..=64u16 {
        let arch = ClientArch::from(n);
        assert_eq!(
            arch.name().is_some(),
            !matches!(arch, ClientArch::Unknown(_)),
            "{n}"
        );
    }
    assert_eq!(
        crate::wire::Mac([0x52, 0x54, 0, 0xaa, 0x71, 0x01]).to_string(),
        "52:54:00:aa:71:01"
    );
}
