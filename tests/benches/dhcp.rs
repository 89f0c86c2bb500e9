//! DHCP wire benchmark: awl-core beside the `dhcproto` crate on the same
//! bytes, in the same run (figures in BENCHMARKS.md; run with `./bench.sh`).
//!
//! * parse: a real iPXE DISCOVER (QEMU's BIOS NIC ROM, captured by
//!   tests/capture/capture.sh), then read what a PXE server decides on:
//!   message type, MAC, option 55, 57, 60, 77, 93, 97.
//! * emit: a PXE OFFER (address, server id, lease, mask, router, DNS,
//!   60 PXEClient, 43 discovery control, boot file) ordered by option 55.

use std::hint::black_box;
use std::net::Ipv4Addr;

use awl_core::wire::dhcp::pxe::{self, PxeOption};
use awl_core::wire::dhcp::{code, Addrs, DhcpOption, MessageType, Packet, Reply};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dhcproto::v4;
use dhcproto::{Decodable, Decoder, Encodable, Encoder};

fn discover() -> Vec<u8> {
    awl_tests::captured_datagrams("ipxe-bios-dhcp.pcap")
        .into_iter()
        .find(|d| d.dst.port() == 67)
        .expect("a DISCOVER in the capture")
        .payload
}

/// The fields a PXE server reads, folded into a number so nothing is
/// optimised away.
fn awl_parse(bytes: &[u8]) -> usize {
    let p = Packet::new_checked(bytes).expect("parses");
    let mut n = usize::from(p.message_type().map_or(0, u8::from));
    n += p.client_mac().map_or(0, |m| usize::from(m[5]));
    n += p.parameter_request_list().map_or(0, |o| o.len());
    n += usize::from(p.max_message_size().unwrap_or(0));
    n += p
        .vendor_class()
        .and_then(|v| v.contiguous())
        .and_then(pxe::VendorClass::parse)
        .map_or(0, |v| v.undi.map_or(1, |u| usize::from(u.0)));
    n += usize::from(p.is_ipxe());
    n += p
        .client_arch()
        .map(|a| usize::from(u16::from(a)))
        .sum::<usize>();
    n += p.client_guid().map_or(0, |g| usize::from(g.0[0]));
    n
}

fn dhcproto_parse(bytes: &[u8]) -> usize {
    let m = v4::Message::decode(&mut Decoder::new(bytes)).expect("parses");
    let opts = m.opts();
    let mut n = match opts.get(v4::OptionCode::MessageType) {
        Some(v4::DhcpOption::MessageType(t)) => usize::from(u8::from(*t)),
        _ => 0,
    };
    n += usize::from(m.chaddr()[5]);
    if let Some(v4::DhcpOption::ParameterRequestList(l)) =
        opts.get(v4::OptionCode::ParameterRequestList)
    {
        n += l.len();
    }
    if let Some(v4::DhcpOption::MaxMessageSize(s)) = opts.get(v4::OptionCode::MaxMessageSize) {
        n += usize::from(*s);
    }
    if let Some(v4::DhcpOption::ClassIdentifier(v)) = opts.get(v4::OptionCode::ClassIdentifier) {
        n += pxe::VendorClass::parse(v).map_or(0, |v| v.undi.map_or(1, |u| usize::from(u.0)));
    }
    if let Some(v4::DhcpOption::UserClass(u)) = opts.get(v4::OptionCode::UserClass) {
        n += usize::from(u == b"iPXE");
    }
    if let Some(v4::DhcpOption::ClientSystemArchitecture(a)) =
        opts.get(v4::OptionCode::ClientSystemArchitecture)
    {
        n += usize::from(u16::from(*a));
    }
    if let Some(v4::DhcpOption::ClientMachineIdentifier(g)) =
        opts.get(v4::OptionCode::ClientMachineIdentifier)
    {
        n += usize::from(g.get(1).copied().unwrap_or(0));
    }
    n
}

fn dhcproto_borrowed_parse(bytes: &[u8]) -> usize {
    let m = v4::borrowed::Message::new(bytes).expect("parses");
    let mut n = usize::from(m.chaddr()[5]);
    for opt in m.opts() {
        let data = opt.data();
        n += match u8::from(opt.code()) {
            code::MESSAGE_TYPE => usize::from(data.first().copied().unwrap_or(0)),
            code::PARAMETER_REQUEST_LIST => data.len(),
            code::MAX_MESSAGE_SIZE => data
                .get(..2)
                .map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]]))),
            code::VENDOR_CLASS => {
                pxe::VendorClass::parse(data).map_or(0, |v| v.undi.map_or(1, |u| usize::from(u.0)))
            }
            code::USER_CLASS => usize::from(data == b"iPXE"),
            code::CLIENT_ARCH => data
                .get(..2)
                .map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]]))),
            code::CLIENT_GUID => usize::from(data.get(1).copied().unwrap_or(0)),
            _ => 0,
        };
    }
    n
}

const ROUTER: [Ipv4Addr; 1] = [Ipv4Addr::new(10, 0, 2, 2)];
const DNS: [Ipv4Addr; 1] = [Ipv4Addr::new(10, 0, 2, 3)];

fn awl_offer(request: &[u8], buf: &mut [u8]) -> usize {
    let p = Packet::new_checked(request).expect("parses");
    let mut prl = [0u8; 256];
    let prl = p
        .parameter_request_list()
        .map_or(Ok(&[][..]), |o| o.copy_into(&mut prl))
        .expect("prl");
    let mut vendor = [0u8; 8];
    let vendor_len = PxeOption::emit_all(
        &[PxeOption::DiscoveryControl(
            pxe::discovery::BOOT_FILE_DIRECTLY,
        )],
        &mut vendor,
    )
    .expect("43");
    let required = [
        DhcpOption::MessageType(MessageType::Offer),
        DhcpOption::ServerId(Ipv4Addr::new(10, 0, 2, 2)),
        DhcpOption::LeaseTime(86_400),
        DhcpOption::VendorClass(b"PXEClient"),
    ];
    let optional = [
        DhcpOption::SubnetMask(Ipv4Addr::new(255, 255, 255, 0)),
        DhcpOption::Router(Addrs::Slice(&ROUTER)),
        DhcpOption::DnsServers(Addrs::Slice(&DNS)),
        DhcpOption::VendorSpecific(&vendor[..vendor_len]),
        DhcpOption::BootfileName(b"undionly.kpxe"),
    ];
    Reply {
        chaddr: p.chaddr(),
        xid: p.xid(),
        broadcast: p.broadcast(),
        yiaddr: Ipv4Addr::new(10, 0, 2, 15),
        siaddr: Ipv4Addr::new(10, 0, 2, 2),
        file: b"undionly.kpxe",
        required: &required,
        optional: &optional,
        parameter_request_list: prl,
        max_len: awl_core::wire::dhcp::max_payload_len(p.max_message_size(), 1500),
        ..Reply::default()
    }
    .emit(buf)
    .expect("emits")
}

fn dhcproto_offer(request: &[u8], out: &mut Vec<u8>) -> usize {
    let req = v4::Message::decode(&mut Decoder::new(request)).expect("parses");
    let mut m = v4::Message::new_with_id(
        req.xid(),
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::new(10, 0, 2, 15),
        Ipv4Addr::new(10, 0, 2, 2),
        Ipv4Addr::UNSPECIFIED,
        req.chaddr(),
    );
    m.set_opcode(v4::Opcode::BootReply)
        .set_flags(req.flags())
        .set_fname_str("undionly.kpxe");
    let o = m.opts_mut();
    o.insert(v4::DhcpOption::MessageType(v4::MessageType::Offer));
    o.insert(v4::DhcpOption::ServerIdentifier(Ipv4Addr::new(10, 0, 2, 2)));
    o.insert(v4::DhcpOption::AddressLeaseTime(86_400));
    o.insert(v4::DhcpOption::ClassIdentifier(b"PXEClient".to_vec()));
    o.insert(v4::DhcpOption::SubnetMask(Ipv4Addr::new(255, 255, 255, 0)));
    o.insert(v4::DhcpOption::Router(ROUTER.to_vec()));
    o.insert(v4::DhcpOption::DomainNameServer(DNS.to_vec()));
    o.insert(v4::DhcpOption::VendorExtensions(vec![6, 1, 8, 255]));
    o.insert(v4::DhcpOption::BootfileName(b"undionly.kpxe".to_vec()));
    out.clear();
    m.encode(&mut Encoder::new(out)).expect("encodes");
    out.len()
}

fn bench(c: &mut Criterion) {
    let bytes = discover();
    assert_eq!(
        awl_parse(&bytes),
        dhcproto_parse(&bytes),
        "both read the same fields"
    );
    assert_eq!(
        awl_parse(&bytes),
        dhcproto_borrowed_parse(&bytes),
        "both read the same fields"
    );

    let mut g = c.benchmark_group("parse iPXE DISCOVER");
    g.throughput(Throughput::Elements(1));
    g.bench_function("awl-core", |b| b.iter(|| awl_parse(black_box(&bytes))));
    g.bench_function("dhcproto (owned)", |b| {
        b.iter(|| dhcproto_parse(black_box(&bytes)))
    });
    g.bench_function("dhcproto (borrowed)", |b| {
        b.iter(|| dhcproto_borrowed_parse(black_box(&bytes)))
    });
    g.finish();

    let mut g = c.benchmark_group("parse DISCOVER + emit OFFER");
    g.throughput(Throughput::Elements(1));
    let mut buf = [0u8; 1500];
    g.bench_function("awl-core", |b| {
        b.iter(|| awl_offer(black_box(&bytes), &mut buf))
    });
    let mut out = Vec::with_capacity(1500);
    g.bench_function("dhcproto (owned)", |b| {
        b.iter(|| dhcproto_offer(black_box(&bytes), &mut out))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
