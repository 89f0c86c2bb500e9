//! DHCP server tests without a network: requests in, replies out, time as
//! an argument. Names follow RFC 2131 §4.3 and RELIABILITY.md D-rows.

use std::vec::Vec;

use super::*;
use crate::wire::dhcp::pxe::{ClientArch, PxeOption};
use crate::wire::dhcp::{code, FLAG_BROADCAST, MAGIC_COOKIE};

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const ROUTERS: [Ipv4Addr; 1] = [SERVER];
const DNS: [Ipv4Addr; 1] = [Ipv4Addr::new(10, 0, 0, 2)];

fn config(first: u8, last: u8) -> Config<'static> {
    Config {
        server_ip: SERVER,
        pool_first: Ipv4Addr::new(10, 0, 0, first),
        pool_last: Ipv4Addr::new(10, 0, 0, last),
        routers: &ROUTERS,
        dns: &DNS,
        domain: "lab.example",
        boot: BootConfig {
            tftp_server: SERVER,
            ipxe_script: "http://10.0.0.1:8080/boot.ipxe",
            http_boot: "http://10.0.0.1:8080/boot/ipxe.efi",
            ..BootConfig::default()
        },
        random_seed: 7,
        ..Config::default()
    }
}

struct Sim {
    server: DhcpServer<'static>,
    now: Instant,
    /// Events taken from the server after every datagram, as a driver does.
    log: Vec<Event<'static>>,
    /// The machines the caller knows.
    machines: &'static [Reservation<'static>],
}

impl Sim {
    fn new(config: Config<'static>, slots: usize) -> Self {
        Self::knowing(config, slots, &[])
    }

    /// With `machines` known to the caller.
    fn knowing(
        config: Config<'static>,
        slots: usize,
        machines: &'static [Reservation<'static>],
    ) -> Self {
        let leases = vec![LeaseSlot::EMPTY; slots];
        let bitmap = vec![0u8; config.pool_bitmap_len()];
        Self {
            server: DhcpServer::new(config, leases, bitmap),
            now: Instant::ZERO,
            log: Vec::new(),
            machines,
        }
    }

    fn send(
        &mut self,
        ingress: Ingress,
        from: SocketAddrV4,
        bytes: &[u8],
    ) -> Vec<(Transmit, Vec<u8>)> {
        let machines = self.machines;
        self.server
            .handle_with(self.now, ingress, from, bytes, &machines);
        self.log
            .extend(core::iter::from_fn(|| self.server.poll_event()));
        self.drain()
    }

    fn dhcp(&mut self, bytes: &[u8]) -> Vec<(Transmit, Vec<u8>)> {
        self.send(
            Ingress::Dhcp,
            SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68),
            bytes,
        )
    }

    fn drain(&mut self) -> Vec<(Transmit, Vec<u8>)> {
        let mut out = Vec::new();
        let mut buf = [0u8; 1500];
        while let Some(t) = self.server.poll_transmit(self.now, &mut buf) {
            out.push((t, buf[..t.len].to_vec()));
        }
        out
    }

    fn events(&mut self) -> Vec<Event<'static>> {
        self.log
            .extend(core::iter::from_fn(|| self.server.poll_event()));
        core::mem::take(&mut self.log)
    }
}

/// A client message built byte by byte.
struct Req {
    kind: u8,
    mac: [u8; 6],
    ciaddr: Ipv4Addr,
    giaddr: Ipv4Addr,
    broadcast: bool,
    options: Vec<u8>,
}

fn req(kind: u8, last: u8) -> Req {
    Req {
        kind,
        mac: [0x52, 0x54, 0, 0, 0, last],
        ciaddr: Ipv4Addr::UNSPECIFIED,
        giaddr: Ipv4Addr::UNSPECIFIED,
        broadcast: false,
        options: Vec::new(),
    }
}

impl Req {
    fn opt(mut self, code: u8, data: &[u8]) -> Self {
        self.options.push(code);
        self.options.push(data.len() as u8);
        self.options.extend_from_slice(data);
        self
    }

    fn pxe(self, arch: u16) -> Self {
        let class = format!("PXEClient:Arch:{arch:05}:UNDI:003000");
        self.opt(60, class.as_bytes())
            .opt(93, &arch.to_be_bytes())
            .opt(
                97,
                &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16],
            )
    }

    fn bytes(&self) -> Vec<u8> {
        let mut p = vec![0u8; 240];
        p[0] = 1;
        p[1] = 1;
        p[2] = 6;
        p[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
        if self.broadcast {
            p[10..12].copy_from_slice(&FLAG_BROADCAST.to_be_bytes());
        }
        p[12..16].copy_from_slice(&self.ciaddr.octets());
        p[24..28].copy_from_slice(&self.giaddr.octets());
        p[28..34].copy_from_slice(&self.mac);
        p[236..240].copy_from_slice(&MAGIC_COOKIE);
        p.extend_from_slice(&[53, 1, self.kind]);
        p.extend_from_slice(&self.options);
        p.push(255);
        p
    }
}

fn parse(bytes: &[u8]) -> Packet<&[u8]> {
    Packet::new_checked(bytes).unwrap()
}

fn text(p: &Packet<&[u8]>, code: u8) -> Option<Vec<u8>> {
    p.option(code)
        .and_then(|o| o.contiguous())
        .map(<[u8]>::to_vec)
}

const BROADCAST: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::BROADCAST, 68);

/// DISCOVER then REQUEST; returns the ACK.
fn dora(s: &mut Sim, discover: Req) -> Vec<u8> {
    let out = s.dhcp(&discover.bytes());
    assert_eq!(out.len(), 1, "one OFFER");
    let offer = parse(&out[0].1);
    let ip = offer.yiaddr();
    let mut request = Req {
        kind: 3,
        ..discover
    };
    request = request.opt(54, &SERVER.octets()).opt(50, &ip.octets());
    let out = s.dhcp(&request.bytes());
    assert_eq!(out.len(), 1, "one ACK");
    out[0].1.clone()
}

#[test]
fn bios_pxe_client_dora_gets_an_address_and_undionly() {
    let mut s = Sim::new(config(100, 199), 64);
    let discover = req(1, 1).pxe(0).opt(55, &[1, 3, 6, 66, 67, 43, 60]);
    let out = s.dhcp(&discover.bytes());
    let (t, bytes) = &out[0];
    assert_eq!((t.dst, t.src_port), (BROADCAST, 67));
    let offer = parse(bytes);
    assert_eq!(offer.message_type(), Some(MessageType::Offer));
    assert_eq!(offer.xid(), 0x1234_5678);
    assert!(offer.table_ip_in(100, 199));
    assert_eq!(offer.siaddr(), SERVER);
    assert_eq!(offer.file(), Some(&b"undionly.kpxe"[..]));
    assert_eq!(offer.server_id(), Some(SERVER));
    assert_eq!(offer.lease_time(), Some(3600));
    assert_eq!(text(&offer, code::VENDOR_CLASS).unwrap(), b"PXEClient");
    assert_eq!(text(&offer, code::BOOTFILE_NAME).unwrap(), b"undionly.kpxe");
    assert_eq!(text(&offer, code::TFTP_SERVER_NAME).unwrap(), b"10.0.0.1");
    let vendor = text(&offer, code::VENDOR_SPECIFIC).unwrap();
    let pxe: Vec<_> = PxeOption::iter(&vendor).collect();
    assert_eq!(pxe, [PxeOption::DiscoveryControl(8)]);
    assert_eq!(
        offer.client_guid(),
        Some(crate::wire::dhcp::pxe::Guid([
            1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16
        ]))
    );
    // Options in the client's order: 53 first, then 1, 3, 6, 66, 67, 43, 60.
    let codes: Vec<u8> = offer.options().map(|o| o.code).collect();
    let pos = |c: u8| codes.iter().position(|&x| x == c).unwrap();
    assert_eq!(codes[0], 53);
    assert!(
        pos(1) < pos(3)
            && pos(3) < pos(6)
            && pos(6) < pos(66)
            && pos(66) < pos(67)
            && pos(67) < pos(43)
            && pos(43) < pos(60)
    );
    let ip = offer.yiaddr();
    let ack_bytes = dora(&mut s, req(1, 1).pxe(0));
    let ack = parse(&ack_bytes);
    assert_eq!(ack.message_type(), Some(MessageType::Ack));
    assert_eq!(ack.yiaddr(), ip, "the same address again");
    let events = s.events();
    assert!(events.iter().any(|e| matches!(e, Event::Bound { lease, .. } if lease.ip == ip && lease.state == LeaseState::Bound)));
    assert!(events.iter().any(
        |e| matches!(e, Event::Offered { facts, .. } if facts.arch == Some(ClientArch::X86Bios))
    ));
}

trait InPool {
    fn table_ip_in(&self, first: u8, last: u8) -> bool;
}

impl InPool for Packet<&[u8]> {
    fn table_ip_in(&self, first: u8, last: u8) -> bool {
        let o = self.yiaddr().octets();
        o[..3] == [10, 0, 0] && (first..=last).contains(&o[3])
    }
}

#[test]
fn each_client_kind_gets_its_boot_answer() {
    let mut s = Sim::new(config(100, 199), 64);
    let cases: Vec<(Req, &[u8], &[u8])> = vec![
        (req(1, 2).pxe(7), b"ipxe.efi", b"PXEClient"),
        (req(1, 3).pxe(9), b"ipxe.efi", b"PXEClient"),
        (req(1, 4).pxe(11), b"ipxe-arm64.efi", b"PXEClient"),
        (
            req(1, 5).pxe(0).opt(77, b"iPXE"),
            b"http://10.0.0.1:8080/boot.ipxe",
            b"PXEClient",
        ),
        (
            req(1, 6)
                .opt(60, b"HTTPClient:Arch:00016:UNDI:003001")
                .opt(93, &[0, 16]),
            b"http://10.0.0.1:8080/boot/ipxe.efi",
            b"HTTPClient",
        ),
    ];
    for (discover, file, class) in cases {
        let out = s.dhcp(&discover.bytes());
        let offer = parse(&out[0].1);
        assert_eq!(
            text(&offer, code::BOOTFILE_NAME).as_deref(),
            Some(file),
            "{:?}",
            discover.mac
        );
        assert_eq!(text(&offer, code::VENDOR_CLASS).as_deref(), Some(class));
        assert!(offer.table_ip_in(100, 199));
    }
    // Every boot answer names the next server, URL answers too: iPXE drops
    // a ProxyDHCP reply without siaddr and a file name.
    let out = s.dhcp(&req(1, 8).pxe(0).opt(77, b"iPXE").bytes());
    assert_eq!(parse(&out[0].1).siaddr(), SERVER);
    // A plain DHCP client: an address, no boot options.
    let out = s.dhcp(&req(1, 7).opt(60, b"udhcp 1.35.0").bytes());
    let offer = parse(&out[0].1);
    assert!(offer.table_ip_in(100, 199));
    for c in [
        code::VENDOR_CLASS,
        code::VENDOR_SPECIFIC,
        code::BOOTFILE_NAME,
        code::TFTP_SERVER_NAME,
    ] {
        assert!(offer.option(c).is_none(), "option {c}");
    }
    assert_eq!(offer.file(), Some(&b""[..]));
    // Always 1 and 3, even unasked (Raspberry Pi ROMs).
    assert!(offer.option(1).is_some() && offer.option(3).is_some());
}

#[test]
fn cve_d14_pool_exhaustion_refuses_politely_and_keeps_bound_clients() {
    let mut s = Sim::new(config(100, 103), 16);
    for mac in 1..=4 {
        dora(&mut s, req(1, mac));
    }
    assert!(
        s.dhcp(&req(1, 5).bytes()).is_empty(),
        "no offer for the fifth"
    );
    assert!(s
        .events()
        .iter()
        .any(|e| matches!(e, Event::PoolExhausted { mac } if mac[5] == 5)));
    // A flood of new MACs changes nothing for bound clients.
    for mac in 10..200u8 {
        s.dhcp(&req(1, mac).bytes());
    }
    assert!(s.server.leases().count() <= 16);
    // Bound clients still renew.
    let mut renew = req(3, 1);
    renew.ciaddr = Ipv4Addr::new(10, 0, 0, 100);
    let leases: Vec<_> = s
        .server
        .leases()
        .filter(|l| l.state == LeaseState::Bound)
        .map(|l| (l.mac[5], l.ip))
        .collect();
    assert_eq!(leases.len(), 4);
    for (mac, ip) in leases {
        let mut r = req(3, mac);
        r.ciaddr = ip;
        let out = s.dhcp(&r.bytes());
        assert_eq!(
            parse(&out[0].1).message_type(),
            Some(MessageType::Ack),
            "renew of {ip}"
        );
        assert_eq!(
            out[0].0.dst,
            SocketAddrV4::new(ip, 68),
            "renewals are answered by unicast"
        );
    }
    // After the leases lapse, the fifth client gets one.
    s.now = s.now + Duration::from_secs(3601);
    s.server.handle_timeout(s.now);
    assert_eq!(s.dhcp(&req(1, 5).bytes()).len(), 1);
}

#[test]
fn request_for_another_server_drops_our_offer() {
    let mut s = Sim::new(config(100, 100), 4);
    let out = s.dhcp(&req(1, 1).bytes());
    let ip = parse(&out[0].1).yiaddr();
    let out = s.dhcp(
        &req(3, 1)
            .opt(54, &[10, 0, 0, 9])
            .opt(50, &ip.octets())
            .bytes(),
    );
    assert!(out.is_empty());
    // The address is free again for someone else.
    assert_eq!(parse(&s.dhcp(&req(1, 2).bytes())[0].1).yiaddr(), ip);
}

#[test]
fn selecting_an_address_that_was_not_offered_is_nakked() {
    let mut s = Sim::new(config(100, 110), 8);
    s.dhcp(&req(1, 1).bytes());
    let out = s.dhcp(
        &req(3, 1)
            .opt(54, &SERVER.octets())
            .opt(50, &[10, 0, 0, 109])
            .bytes(),
    );
    let nak = parse(&out[0].1);
    assert_eq!(nak.message_type(), Some(MessageType::Nak));
    assert_eq!(out[0].0.dst, BROADCAST);
    assert_eq!(nak.yiaddr(), Ipv4Addr::UNSPECIFIED);
    assert!(nak.option(code::MESSAGE).is_some());
    assert!(nak.option(code::LEASE_TIME).is_none());
}

#[test]
fn cve_d11_init_reboot_cases() {
    let mut s = Sim::new(config(100, 110), 8);
    // Another network: NAK.
    let out = s.dhcp(&req(3, 1).opt(50, &[192, 168, 1, 50]).bytes());
    assert_eq!(parse(&out[0].1).message_type(), Some(MessageType::Nak));
    // A free address in the pool, no record: granted (authoritative).
    let out = s.dhcp(&req(3, 1).opt(50, &[10, 0, 0, 105]).bytes());
    assert_eq!(parse(&out[0].1).message_type(), Some(MessageType::Ack));
    // The same address from another client: NAK.
    let out = s.dhcp(&req(3, 2).opt(50, &[10, 0, 0, 105]).bytes());
    assert_eq!(parse(&out[0].1).message_type(), Some(MessageType::Nak));
    // Renewal of an address from elsewhere by a stranger: silence.
    let mut r = req(3, 3);
    r.ciaddr = Ipv4Addr::new(172, 16, 0, 9);
    assert!(s.dhcp(&r.bytes()).is_empty());
    // A REQUEST that names no address at all: NAK.
    let out = s.dhcp(&req(3, 4).bytes());
    assert_eq!(parse(&out[0].1).message_type(), Some(MessageType::Nak));
}

#[test]
fn decline_quarantines_and_release_frees() {
    let mut s = Sim::new(config(100, 101), 8);
    let ack = dora(&mut s, req(1, 1));
    let ip = parse(&ack).yiaddr();
    s.dhcp(&req(4, 1).opt(50, &ip.octets()).bytes());
    assert!(s
        .events()
        .iter()
        .any(|e| matches!(e, Event::Declined { ip: d, .. } if *d == ip)));
    // The declined address is not offered to the next client.
    let out = s.dhcp(&req(1, 2).bytes());
    assert_ne!(parse(&out[0].1).yiaddr(), ip);
    // Client 1 gets another address.
    let out = s.dhcp(&req(1, 1).bytes());
    assert!(out.is_empty() || parse(&out[0].1).yiaddr() != ip);
    // RELEASE frees.
    let mut s = Sim::new(config(100, 100), 8);
    let ip = parse(&dora(&mut s, req(1, 1))).yiaddr();
    let mut release = req(7, 1).opt(54, &SERVER.octets());
    release.ciaddr = ip;
    assert!(s.dhcp(&release.bytes()).is_empty());
    assert!(s
        .events()
        .iter()
        .any(|e| matches!(e, Event::Released { lease } if lease.ip == ip)));
    assert_eq!(parse(&s.dhcp(&req(1, 2).bytes())[0].1).yiaddr(), ip);
}

#[test]
fn inform_gets_options_without_a_lease() {
    let mut s = Sim::new(config(100, 110), 8);
    let mut inform = req(8, 1).opt(55, &[1, 3, 6, 15]);
    inform.ciaddr = Ipv4Addr::new(10, 0, 0, 50);
    let out = s.dhcp(&inform.bytes());
    let ack = parse(&out[0].1);
    assert_eq!(ack.message_type(), Some(MessageType::Ack));
    assert_eq!(ack.yiaddr(), Ipv4Addr::UNSPECIFIED);
    assert!(ack.option(code::LEASE_TIME).is_none());
    assert_eq!(text(&ack, code::DOMAIN_NAME).unwrap(), b"lab.example");
    assert_eq!(
        out[0].0.dst,
        SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 50), 68)
    );
    assert_eq!(s.server.leases().count(), 0);
}

#[test]
fn cve_d2_relayed_request_goes_to_the_relay_with_option_82_echoed() {
    let mut s = Sim::new(config(100, 110), 8);
    let relay_info = [1, 4, b'p', b'o', b'r', b't', 2, 3, b'r', b'i', b'd'];
    let mut d = req(1, 1).pxe(0).opt(82, &relay_info);
    d.giaddr = Ipv4Addr::new(10, 0, 0, 254);
    let out = s.dhcp(&d.bytes());
    assert_eq!(
        out[0].0.dst,
        SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 254), 67)
    );
    let offer = parse(&out[0].1);
    assert_eq!(offer.giaddr(), Ipv4Addr::new(10, 0, 0, 254));
    assert_eq!(text(&offer, code::RELAY_AGENT_INFO).unwrap(), relay_info);
    assert_eq!(
        offer.options().last().unwrap().code,
        82,
        "82 is last (RFC 3046)"
    );
    // An overrunning 82 is never echoed.
    let mut d = req(1, 2).opt(82, &[1, 9, b'x']);
    d.giaddr = Ipv4Addr::new(10, 0, 0, 254);
    let out = s.dhcp(&d.bytes());
    assert!(parse(&out[0].1).option(82).is_none());
    // A relay from a subnet this server does not serve: ignored.
    let mut d = req(1, 3);
    d.giaddr = Ipv4Addr::new(192, 168, 9, 1);
    assert!(s.dhcp(&d.bytes()).is_empty());
}

static RELAYED: [Subnet<'static>; 2] = [
    Subnet {
        network: Ipv4Addr::new(10, 1, 0, 0),
        mask: Ipv4Addr::new(255, 255, 0, 0),
        pool_first: Ipv4Addr::new(10, 1, 0, 10),
        pool_last: Ipv4Addr::new(10, 1, 0, 12),
        routers: &[Ipv4Addr::new(10, 1, 0, 1)],
    },
    Subnet {
        network: Ipv4Addr::new(10, 2, 0, 0),
        mask: Ipv4Addr::new(255, 255, 255, 0),
        pool_first: Ipv4Addr::new(10, 2, 0, 100),
        pool_last: Ipv4Addr::new(10, 2, 0, 200),
        routers: &[],
    },
];

#[test]
fn relayed_requests_get_addresses_and_options_of_the_relay_subnet() {
    let mut s = Sim::new(
        Config {
            relayed: &RELAYED,
            ..config(100, 110)
        },
        16,
    );
    // Local, then from each relay: each pool, each subnet's mask and routers.
    let cases = [
        (
            Ipv4Addr::UNSPECIFIED,
            (10, 0, 0),
            [255, 255, 255, 0],
            Some(ROUTERS[0]),
        ),
        (
            Ipv4Addr::new(10, 1, 0, 1),
            (10, 1, 0),
            [255, 255, 0, 0],
            Some(Ipv4Addr::new(10, 1, 0, 1)),
        ),
        (
            Ipv4Addr::new(10, 2, 0, 1),
            (10, 2, 0),
            [255, 255, 255, 0],
            None,
        ),
    ];
    let mut held = Vec::new();
    for (i, (giaddr, net, mask, router)) in cases.into_iter().enumerate() {
        let mut d = req(1, i as u8 + 1);
        d.giaddr = giaddr;
        let ack = dora(&mut s, d);
        let ack = parse(&ack);
        held.push(ack.yiaddr());
        assert_eq!(ack.message_type(), Some(MessageType::Ack));
        let [a, b, c, _] = ack.yiaddr().octets();
        assert_eq!((a, b, c), net, "address from the pool of {giaddr}");
        assert_eq!(text(&ack, code::SUBNET_MASK).unwrap(), mask);
        assert_eq!(
            text(&ack, code::ROUTER).map(|r| Ipv4Addr::new(r[0], r[1], r[2], r[3])),
            router
        );
        if !giaddr.is_unspecified() {
            assert_eq!(ack.giaddr(), giaddr);
        }
    }
    // A small relayed pool runs out on its own; the others still serve.
    for mac in 10..12 {
        let mut d = req(1, mac);
        d.giaddr = Ipv4Addr::new(10, 1, 0, 1);
        dora(&mut s, d);
    }
    let mut d = req(1, 12);
    d.giaddr = Ipv4Addr::new(10, 1, 0, 1);
    assert!(s.dhcp(&d.bytes()).is_empty(), "10.1.0.10-12 are all taken");
    let mut d = req(1, 13);
    d.giaddr = Ipv4Addr::new(10, 2, 0, 1);
    assert_eq!(parse(&dora(&mut s, d)).yiaddr().octets()[..3], [10, 2, 0]);
    // A client that moves to another subnet gets an address there.
    let mut d = req(1, 1);
    d.giaddr = Ipv4Addr::new(10, 2, 0, 1);
    assert_eq!(parse(&dora(&mut s, d)).yiaddr().octets()[..3], [10, 2, 0]);
    // Client 2, bound in 10.1/16, rebooting behind the 10.2.0 relay and
    // asking for its old address: NAK (it must start over there).
    let mut r = req(3, 2);
    r.giaddr = Ipv4Addr::new(10, 2, 0, 1);
    let r = r.opt(50, &held[1].octets());
    let out = s.dhcp(&r.bytes());
    assert_eq!(parse(&out[0].1).message_type(), Some(MessageType::Nak));
    // Relayed from a network nobody configured: ignored.
    let mut d = req(1, 20);
    d.giaddr = Ipv4Addr::new(192, 168, 9, 1);
    assert!(s.dhcp(&d.bytes()).is_empty());
}

#[test]
fn proxy_mode_answers_pxe_clients_only_with_boot_options() {
    let mut s = Sim::new(
        Config {
            mode: Mode::Proxy,
            ..config(100, 110)
        },
        8,
    );
    let out = s.dhcp(&req(1, 1).pxe(7).bytes());
    let offer = parse(&out[0].1);
    assert_eq!(offer.message_type(), Some(MessageType::Offer));
    assert_eq!(
        offer.yiaddr(),
        Ipv4Addr::UNSPECIFIED,
        "a proxy hands out no address"
    );
    assert!(
        offer.option(code::LEASE_TIME).is_none()
            && offer.option(1).is_none()
            && offer.option(3).is_none()
    );
    assert_eq!(text(&offer, code::VENDOR_CLASS).unwrap(), b"PXEClient");
    assert_eq!(offer.file(), Some(&b"ipxe.efi"[..]));
    assert!(offer.client_guid().is_some());
    // Not a PXE client: silence. REQUESTs on 67 belong to the real server.
    assert!(s
        .dhcp(&req(1, 2).opt(60, b"udhcp 1.35.0").bytes())
        .is_empty());
    assert!(s
        .dhcp(
            &req(3, 1)
                .pxe(7)
                .opt(50, &[10, 0, 0, 77])
                .opt(54, &[10, 0, 0, 9])
                .bytes()
        )
        .is_empty());
    assert_eq!(s.server.leases().count(), 0);
    // The PXE boot server request on 4011 gets an ACK back from 4011.
    let mut r = req(3, 1).pxe(7);
    r.ciaddr = Ipv4Addr::new(10, 0, 0, 77);
    let from = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 77), 4011);
    let out = s.send(Ingress::Pxe, from, &r.bytes());
    assert_eq!((out[0].0.dst, out[0].0.src_port), (from, 4011));
    let ack = parse(&out[0].1);
    assert_eq!(ack.message_type(), Some(MessageType::Ack));
    assert_eq!(text(&ack, code::BOOTFILE_NAME).unwrap(), b"ipxe.efi");
    // A client without option 97 (some Intel NICs) is still answered.
    let out = s.dhcp(
        &req(1, 3)
            .opt(60, b"PXEClient:Arch:00000:UNDI:002001")
            .bytes(),
    );
    let offer = parse(&out[0].1);
    assert_eq!(offer.file(), Some(&b"undionly.kpxe"[..]));
    assert!(offer.option(97).is_none());
}

#[test]
fn acks_wait_for_the_lease_journal() {
    let mut s = Sim::new(
        Config {
            hold_acks: true,
            ..config(100, 110)
        },
        8,
    );
    let out = s.dhcp(&req(1, 1).bytes());
    let ip = parse(&out[0].1).yiaddr();
    let out = s.dhcp(
        &req(3, 1)
            .opt(54, &SERVER.octets())
            .opt(50, &ip.octets())
            .bytes(),
    );
    assert!(out.is_empty(), "the ACK waits for the journal");
    let seq = s
        .events()
        .iter()
        .find_map(|e| match e {
            Event::Bound { seq, .. } => Some(*seq),
            _ => None,
        })
        .unwrap();
    s.server.committed(seq);
    let out = s.drain();
    assert_eq!(parse(&out[0].1).message_type(), Some(MessageType::Ack));
}

#[test]
fn reservations_fix_the_address_and_can_stop_netbooting() {
    static RESERVED: [Reservation<'static>; 2] = [
        Reservation {
            mac: [0x52, 0x54, 0, 0, 0, 1],
            client_id: &[],
            ip: Some(Ipv4Addr::new(10, 0, 0, 20)),
            netboot: true,
            boot_file: "",
        },
        Reservation {
            mac: [0x52, 0x54, 0, 0, 0, 2],
            client_id: &[],
            ip: None,
            netboot: false,
            boot_file: "",
        },
    ];
    static OVERRIDE: [Reservation<'static>; 1] = [Reservation {
        mac: [0x52, 0x54, 0, 0, 0, 3],
        client_id: &[],
        ip: None,
        netboot: true,
        boot_file: "custom/grubx64.efi",
    }];
    let mut s = Sim::knowing(config(100, 110), 8, &RESERVED);
    let out = s.dhcp(&req(1, 1).pxe(0).bytes());
    assert_eq!(parse(&out[0].1).yiaddr(), Ipv4Addr::new(10, 0, 0, 20));
    let ack = dora(&mut s, req(1, 1).pxe(0));
    assert_eq!(parse(&ack).yiaddr(), Ipv4Addr::new(10, 0, 0, 20));
    let out = s.dhcp(&req(1, 2).pxe(7).bytes());
    let offer = parse(&out[0].1);
    assert!(offer.table_ip_in(100, 110));
    assert!(
        offer.option(code::BOOTFILE_NAME).is_none(),
        "netboot never: no boot options"
    );
    let mut s = Sim::knowing(config(100, 110), 8, &OVERRIDE);
    let out = s.dhcp(&req(1, 3).pxe(7).bytes());
    assert_eq!(parse(&out[0].1).file(), Some(&b"custom/grubx64.efi"[..]));
}

#[test]
fn reservations_by_client_id_follow_the_identifier_not_the_mac() {
    // dnsmasq's `--dhcp-host=id:...`: a machine known by its option 61
    // (here a DUID-style one) keeps its address from any NIC; a MAC that
    // sends no such identifier does not get it.
    static BY_ID: [Reservation<'static>; 1] = [Reservation {
        mac: [0; 6],
        client_id: &[0xff, 0, 0, 0, 1, 0, 2, 0xaa, 0xbb],
        ip: Some(Ipv4Addr::new(10, 0, 0, 30)),
        netboot: true,
        boot_file: "",
    }];
    let mut s = Sim::knowing(config(100, 110), 8, &BY_ID);
    let id = [0xff, 0, 0, 0, 1, 0, 2, 0xaa, 0xbb];
    let ack = dora(&mut s, req(1, 4).pxe(0).opt(61, &id));
    assert_eq!(parse(&ack).yiaddr(), Ipv4Addr::new(10, 0, 0, 30));
    let ack = dora(&mut s, req(1, 5).pxe(0).opt(61, &id));
    assert_eq!(
        parse(&ack).yiaddr(),
        Ipv4Addr::new(10, 0, 0, 30),
        "another NIC, same id"
    );
    let out = s.dhcp(
        &req(1, 6)
            .pxe(0)
            .opt(61, &[1, 0x52, 0x54, 0, 0, 0, 6])
            .bytes(),
    );
    assert!(
        parse(&out[0].1).table_ip_in(100, 110),
        "another id: from the pool"
    );
    // A client asking for the reserved address by name does not get it.
    let out = s.dhcp(&req(1, 7).pxe(0).opt(50, &[10, 0, 0, 30]).bytes());
    assert!(parse(&out[0].1).table_ip_in(100, 110));
}

#[test]
fn cve_d4_small_option_57_keeps_the_reply_within_576() {
    let mut s = Sim::new(config(100, 110), 8);
    for size in [0u16, 100, 575, 576] {
        let big_prl: Vec<u8> = (1..=254).collect();
        let out = s.dhcp(
            &req(1, 1)
                .pxe(0)
                .opt(57, &size.to_be_bytes())
                .opt(55, &big_prl)
                .bytes(),
        );
        assert!(
            out[0].1.len() <= 548,
            "opt57 {size}: {} bytes",
            out[0].1.len()
        );
        assert_eq!(parse(&out[0].1).message_type(), Some(MessageType::Offer));
    }
}

#[test]
fn cve_d7_malformed_and_odd_datagrams_are_ignored_with_a_reason() {
    let mut s = Sim::new(config(100, 110), 8);
    let good = req(1, 1).bytes();
    for len in [0usize, 1, 235, 236, 239, 240] {
        assert!(s.dhcp(&good[..len]).is_empty());
    }
    let mut reply = good.clone();
    reply[0] = 2;
    assert!(s.dhcp(&reply).is_empty());
    let mut hops = good.clone();
    hops[3] = 17;
    assert!(s.dhcp(&hops).is_empty());
    let mut bootp = good.clone();
    bootp.truncate(240);
    bootp.push(255);
    assert!(s.dhcp(&bootp).is_empty());
    let reasons: Vec<&str> = s
        .events()
        .iter()
        .filter_map(|e| match e {
            Event::Ignored { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect();
    assert_eq!(reasons.len(), 9);
    assert!(reasons.contains(&"not a BOOTREQUEST") && reasons.contains(&"more than 16 relay hops"));
}

#[test]
fn restored_leases_are_served_again() {
    let mut s = Sim::new(config(100, 110), 8);
    let lease = Lease {
        client: ClientKey::from_mac(1, &[0x52, 0x54, 0, 0, 0, 1]),
        mac: [0x52, 0x54, 0, 0, 0, 1],
        ip: Ipv4Addr::new(10, 0, 0, 107),
        state: LeaseState::Bound,
        expires: Instant::from_millis(1_000_000),
    };
    assert!(s.server.restore(s.now, lease));
    assert!(
        !s.server.restore(
            s.now,
            Lease {
                ip: Ipv4Addr::new(10, 0, 0, 50),
                ..lease
            }
        ),
        "outside the pool"
    );
    let out = s.dhcp(&req(1, 1).bytes());
    assert_eq!(parse(&out[0].1).yiaddr(), Ipv4Addr::new(10, 0, 0, 107));
    // The same client identified by option 61 = 01:MAC is the same client.
    let out = s.dhcp(&req(1, 1).opt(61, &[1, 0x52, 0x54, 0, 0, 0, 1]).bytes());
    assert_eq!(parse(&out[0].1).yiaddr(), Ipv4Addr::new(10, 0, 0, 107));
    // Another client cannot take it.
    let out = s.dhcp(&req(1, 2).opt(50, &[10, 0, 0, 107]).bytes());
    assert_ne!(parse(&out[0].1).yiaddr(), Ipv4Addr::new(10, 0, 0, 107));
}

#[test]
fn random_seed_moves_the_first_address() {
    let first = |seed| {
        let mut s = Sim::new(
            Config {
                random_seed: seed,
                ..config(100, 199)
            },
            4,
        );
        parse(&s.dhcp(&req(1, 1).bytes())[0].1).yiaddr()
    };
    assert_eq!(first(1), first(1));
    assert!(
        (0..8)
            .map(first)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            > 1
    );
}

#[test]
fn a_burst_is_refused_before_any_state_changes_and_nothing_is_lost() {
    let mut s = Sim::new(config(1, 250), 300);
    // 100 DISCOVERs in one go, the driver reading nothing meanwhile.
    for mac in 0..100u8 {
        s.server.handle(
            s.now,
            Ingress::Dhcp,
            SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68),
            &req(1, mac).bytes(),
        );
    }
    let refused = s.server.busy_refusals();
    assert!(refused > 0, "the queues are bounded");
    let offers = s.drain().len();
    assert_eq!(
        offers as u64 + refused,
        100,
        "every DISCOVER was either answered or refused, none half-done"
    );
    assert_eq!(
        s.server.leases().count(),
        offers,
        "no state for refused requests"
    );
    // Afterwards the server serves everyone (the refused clients retry).
    for mac in 0..100u8 {
        assert_eq!(s.dhcp(&req(1, mac).bytes()).len(), 1, "client {mac}");
    }
}

#[test]
fn an_ack_held_for_the_journal_does_not_hold_back_other_replies() {
    let mut s = Sim::new(
        Config {
            hold_acks: true,
            ..config(100, 110)
        },
        8,
    );
    let out = s.dhcp(&req(1, 1).bytes());
    let ip = parse(&out[0].1).yiaddr();
    assert!(
        s.dhcp(
            &req(3, 1)
                .opt(54, &SERVER.octets())
                .opt(50, &ip.octets())
                .bytes()
        )
        .is_empty(),
        "ACK held"
    );
    // Another client's OFFER goes out while the ACK waits.
    let out = s.dhcp(&req(1, 2).bytes());
    assert_eq!(parse(&out[0].1).message_type(), Some(MessageType::Offer));
    let seq = s
        .events()
        .iter()
        .find_map(|e| {
            if let Event::Bound { seq, .. } = e {
                Some(*seq)
            } else {
                None
            }
        })
        .unwrap();
    s.server.committed(seq);
    assert_eq!(
        parse(&s.drain()[0].1).message_type(),
        Some(MessageType::Ack)
    );
}

#[test]
fn a_reservation_by_client_id_outside_the_pool_is_restored_after_a_restart() {
    // A machine known by its option 61 with a fixed address outside the
    // pool: after a restart its journalled lease comes back (matched
    // through the reservation's identifier, not the MAC it happened to
    // use), and it is still served that address.
    static BY_ID: [Reservation<'static>; 1] = [Reservation {
        mac: [0; 6],
        client_id: &[0xff, 0, 0, 0, 1, 0, 2, 0xaa, 0xbb],
        ip: Some(Ipv4Addr::new(10, 0, 0, 30)),
        netboot: true,
        boot_file: "",
    }];
    let id = [0xff, 0, 0, 0, 1, 0, 2, 0xaa, 0xbb];
    let reserved = config(100, 110);
    let mut s = Sim::knowing(reserved, 8, &BY_ID);
    dora(&mut s, req(1, 4).pxe(0).opt(61, &id));
    let held: Vec<Lease> = s.server.leases().copied().collect();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].ip, Ipv4Addr::new(10, 0, 0, 30));

    let mut restarted = Sim::knowing(reserved, 8, &BY_ID);
    let machines = &BY_ID[..];
    assert!(
        restarted
            .server
            .restore_with(restarted.now, held[0], &machines),
        "the reserved lease is restored through its client id"
    );
    // Another client's lease on that address is not.
    let other = Lease {
        client: ClientKey::from_client_id(&[1, 0x52, 0x54, 0, 0, 0, 4]),
        ..held[0]
    };
    assert!(!Sim::knowing(reserved, 8, &BY_ID).server.restore_with(
        restarted.now,
        other,
        &machines
    ));
    let ack = dora(&mut restarted, req(1, 4).pxe(0).opt(61, &id));
    assert_eq!(parse(&ack).yiaddr(), Ipv4Addr::new(10, 0, 0, 30));
}

#[test]
fn forged_addresses_aim_no_reply_outside_the_served_subnets() {
    // What a forged request can make awl send, and to whom: a reply goes
    // to the broadcast address, to a relay inside a served subnet, or to a
    // unicast address inside a served subnet; never elsewhere.
    let mut s = Sim::new(
        Config {
            relayed: &RELAYED,
            ..config(100, 110)
        },
        16,
    );
    let victim = Ipv4Addr::new(198, 51, 100, 7);
    let mut inform = req(8, 1);
    inform.ciaddr = victim;
    assert!(s.dhcp(&inform.bytes()).is_empty(), "INFORM from afar");
    let mut discover = req(1, 2).pxe(0);
    discover.ciaddr = victim;
    assert!(
        s.dhcp(&discover.bytes()).is_empty(),
        "DISCOVER with a forged ciaddr"
    );
    let mut pxe = req(3, 3).pxe(7).opt(97, &[0; 17]);
    pxe.ciaddr = victim;
    let from = SocketAddrV4::new(victim, 68);
    assert!(
        s.send(Ingress::Pxe, from, &pxe.bytes()).is_empty(),
        "port 4011 from afar"
    );
    let mut relayed = req(1, 4);
    relayed.giaddr = victim;
    assert!(
        s.dhcp(&relayed.bytes()).is_empty(),
        "a relay nobody configured"
    );
    let ignored = s
        .events()
        .iter()
        .filter(|e| matches!(e, Event::Ignored { .. }))
        .count();
    assert_eq!(ignored, 4, "each refusal is logged");

    // The same requests from addresses that are served are answered there,
    // a renewing client behind a relay included.
    for ciaddr in [Ipv4Addr::new(10, 0, 0, 50), Ipv4Addr::new(10, 2, 0, 9)] {
        let mut inform = req(8, 5);
        inform.ciaddr = ciaddr;
        let out = s.dhcp(&inform.bytes());
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0.dst, SocketAddrV4::new(ciaddr, 68));
    }
}

#[test]
fn a_reply_is_one_datagram_at_most_two_and_a_half_times_its_request() {
    // Reflection: one request, at most one reply, of bounded size. The
    // smallest request a server answers is 244 bytes; a reply without
    // option 57 fits 548 (RFC 2131's 576 less headers).
    let mut s = Sim::new(config(100, 110), 64);
    let all: Vec<u8> = (1..=254).collect();
    let mut requests = vec![
        req(1, 1).bytes(),
        req(1, 2).pxe(0).bytes(),
        req(1, 3).pxe(7).opt(55, &all).bytes(),
        req(1, 4)
            .pxe(7)
            .opt(57, &1500u16.to_be_bytes())
            .opt(55, &all)
            .bytes(),
        req(1, 5).opt(77, b"iPXE").opt(55, &all).bytes(),
    ];
    let mut inform = req(8, 6).pxe(0).opt(55, &all);
    inform.ciaddr = Ipv4Addr::new(10, 0, 0, 60);
    requests.push(inform.bytes());
    for request in &requests {
        let out = s.dhcp(request);
        assert_eq!(out.len(), 1);
        let ratio = out[0].1.len() as f64 / request.len() as f64;
        assert!(
            ratio <= 2.5,
            "{} bytes answered with {} ({ratio:.2}x)",
            request.len(),
            out[0].1.len()
        );
    }
}

#[test]
fn option_82_from_a_client_without_a_relay_is_echoed_and_trusted_for_nothing() {
    // Kea's rule: a non-empty, well-formed 82 is echoed whatever giaddr
    // says (RFC 3046 §2.2); an empty one is not. It never picks the subnet:
    // a link-selection sub-option (5) naming a relayed subnet changes
    // nothing for a client on the interface, and the reply is broadcast on
    // the client's own segment.
    let mut s = Sim::new(
        Config {
            relayed: &RELAYED,
            ..config(100, 110)
        },
        16,
    );
    let info = [1, 3, b'p', b'1', b'x', 5, 4, 10, 1, 0, 0];
    let out = s.dhcp(&req(1, 1).pxe(0).opt(82, &info).bytes());
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].0.dst,
        SocketAddrV4::new(Ipv4Addr::BROADCAST, 68),
        "to the client's segment"
    );
    let offer = parse(&out[0].1);
    assert!(offer.table_ip_in(100, 110), "from the interface's pool");
    assert_eq!(text(&offer, code::RELAY_AGENT_INFO).unwrap(), info);
    let out = s.dhcp(&req(1, 2).pxe(0).opt(82, &[]).bytes());
    assert!(parse(&out[0].1).option(82).is_none(), "an empty 82");
}

/// An inventory that can change between requests, as the host's does.
struct LiveInventory {
    by_uuid: [u8; 16],
    ip: core::cell::Cell<Option<Ipv4Addr>>,
    netboot: core::cell::Cell<bool>,
}

impl<'a> Machines<'a> for LiveInventory {
    fn lookup(&self, who: &Who<'_>) -> Option<Machine<'a>> {
        who.uuid
            .is_some_and(|g| g.0 == self.by_uuid)
            .then(|| Machine {
                ip: self.ip.get(),
                netboot: self.netboot.get(),
                boot_file: "",
            })
    }

    fn reserved_for_other(&self, ip: Ipv4Addr, who: &Who<'_>) -> bool {
        self.ip.get() == Some(ip) && self.lookup(who).is_none()
    }

    fn holds(&self, lease: &Lease) -> bool {
        self.ip.get() == Some(lease.ip)
    }
}

#[test]
fn the_inventory_is_asked_per_request_so_an_edit_reaches_the_next_answer() {
    let mut s = Sim::new(config(100, 110), 8);
    // `pxe()` sends option 97 = 0, then 1..=16.
    let uuid: [u8; 16] = core::array::from_fn(|i| i as u8 + 1);
    let inventory = LiveInventory {
        by_uuid: uuid,
        ip: core::cell::Cell::new(None),
        netboot: core::cell::Cell::new(true),
    };
    let discover = req(1, 1).pxe(0).bytes();
    let from = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68);
    let ask = |s: &mut Sim| {
        s.server
            .handle_with(s.now, Ingress::Dhcp, from, &discover, &inventory);
        s.drain()
    };
    let out = ask(&mut s);
    assert!(parse(&out[0].1).table_ip_in(100, 110));
    assert!(parse(&out[0].1).option(code::BOOTFILE_NAME).is_some());
    // Edited: a fixed address, by SMBIOS UUID; then no boot options.
    inventory.ip.set(Some(Ipv4Addr::new(10, 0, 0, 40)));
    let out = ask(&mut s);
    assert_eq!(parse(&out[0].1).yiaddr(), Ipv4Addr::new(10, 0, 0, 40));
    inventory.netboot.set(false);
    let out = ask(&mut s);
    assert!(parse(&out[0].1).option(code::BOOTFILE_NAME).is_none());
    // Another client never gets the fixed address.
    let mut other = req(1, 2);
    other.options.extend_from_slice(&[50, 4, 10, 0, 0, 40]);
    s.server
        .handle_with(s.now, Ingress::Dhcp, from, &other.bytes(), &inventory);
    assert!(parse(&s.drain()[0].1).table_ip_in(100, 110));
}

#[test]
fn an_offer_says_whether_the_inventory_knew_the_machine_and_its_uuid() {
    let uuid: [u8; 16] = core::array::from_fn(|i| i as u8 + 1);
    let inventory = LiveInventory {
        by_uuid: uuid,
        ip: core::cell::Cell::new(None),
        netboot: core::cell::Cell::new(true),
    };
    let from = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68);
    for mode in [Mode::Full, Mode::Proxy] {
        let mut s = Sim::new(
            Config {
                mode,
                ..config(100, 110)
            },
            8,
        );
        // Known by its UUID (`pxe()` sends 1..=16); then a stranger with
        // another UUID; then one that sent none.
        let mut other = req(1, 2).pxe(7);
        let at = other.options.len() - 16;
        other.options[at..].copy_from_slice(&[9; 16]);
        let mut none = req(1, 3).opt(60, b"PXEClient:Arch:00000:UNDI:002001");
        none = none.opt(93, &[0, 0]);
        let mut seen = Vec::new();
        for packet in [req(1, 1).pxe(0), other, none] {
            s.server
                .handle_with(s.now, Ingress::Dhcp, from, &packet.bytes(), &inventory);
            s.drain();
            for e in s.events() {
                if let Event::Offered {
                    mac, uuid, known, ..
                } = e
                {
                    seen.push((mac[5], uuid.map(|g| g.0[0]), known));
                }
            }
        }
        assert_eq!(
            seen,
            [(1, Some(1), true), (2, Some(9), false), (3, None, false)],
            "{mode:?}"
        );
    }
}

#[test]
fn a_removed_reservation_leaves_its_machine_a_pool_address() {
    let mut s = Sim::new(config(100, 110), 8);
    let uuid: [u8; 16] = core::array::from_fn(|i| i as u8 + 1);
    let inventory = LiveInventory {
        by_uuid: uuid,
        ip: core::cell::Cell::new(Some(Ipv4Addr::new(10, 0, 0, 40))),
        netboot: core::cell::Cell::new(true),
    };
    let from = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68);
    let send = |s: &mut Sim, packet: &[u8]| {
        s.server
            .handle_with(s.now, Ingress::Dhcp, from, packet, &inventory);
        s.drain()
    };
    // Bound at the fixed address.
    let out = send(&mut s, &req(1, 1).pxe(0).bytes());
    assert_eq!(parse(&out[0].1).yiaddr(), Ipv4Addr::new(10, 0, 0, 40));
    let request = req(3, 1)
        .pxe(0)
        .opt(54, &SERVER.octets())
        .opt(50, &[10, 0, 0, 40]);
    let out = send(&mut s, &request.bytes());
    assert_eq!(parse(&out[0].1).yiaddr(), Ipv4Addr::new(10, 0, 0, 40));
    // The system is removed: its old address is not renewed (NAK), and
    // its next DISCOVER gets one from the pool.
    inventory.ip.set(None);
    let mut renew = req(3, 1).pxe(0);
    renew.ciaddr = Ipv4Addr::new(10, 0, 0, 40);
    let out = send(&mut s, &renew.bytes());
    assert_eq!(parse(&out[0].1).message_type(), Some(MessageType::Nak));
    let out = send(&mut s, &req(1, 1).pxe(0).bytes());
    assert!(parse(&out[0].1).table_ip_in(100, 110));
}

/// The lines both drivers log (after `dhcp: `), one per decision.
#[test]
fn events_read_as_one_line_of_words() {
    let mut s = Sim::new(config(100, 199), 8);
    let ipxe = req(1, 1).pxe(0).opt(77, b"iPXE");
    let offer = s.dhcp(&ipxe.bytes());
    let ip = parse(&offer[0].1).yiaddr();
    let mut request = Req { kind: 3, ..ipxe };
    request = request.opt(54, &SERVER.octets()).opt(50, &ip.octets());
    s.dhcp(&request.bytes());
    let lines: Vec<String> = s.events().iter().map(|e| e.to_string()).collect();
    assert_eq!(
        lines,
        [
            format!("52:54:00:00:00:01 offer {ip} (x86 BIOS, iPXE): boot http://10.0.0.1:8080/boot.ipxe"),
            format!("52:54:00:00:00:01 ack {ip}: boot http://10.0.0.1:8080/boot.ipxe"),
        ]
    );
    let lease = match s.server.leases().next() {
        Some(l) => *l,
        None => panic!("a lease"),
    };
    assert_eq!(
        Event::Released { lease }.to_string(),
        format!("52:54:00:00:00:01 released {ip}")
    );

    let mut proxy = Sim::new(
        Config {
            mode: Mode::Proxy,
            ..config(100, 110)
        },
        8,
    );
    proxy.dhcp(&req(1, 2).pxe(7).bytes());
    assert_eq!(
        proxy.events()[0].to_string(),
        "52:54:00:00:00:02 proxy offer (x64 UEFI): boot ipxe.efi from tftp 10.0.0.1"
    );

    let mac = [0xaa, 0xbb, 0xcc, 0x0d, 0x0e, 0x0f];
    let others = [
        (
            Event::Nak {
                mac,
                requested: Ipv4Addr::new(10, 9, 9, 9),
                reason: "address not in this subnet",
            },
            "aa:bb:cc:0d:0e:0f nak 10.9.9.9: address not in this subnet",
        ),
        (
            Event::Declined {
                mac,
                ip: Ipv4Addr::new(10, 0, 0, 5),
            },
            "aa:bb:cc:0d:0e:0f declined 10.0.0.5: address in use on the network",
        ),
        (
            Event::PoolExhausted { mac },
            "aa:bb:cc:0d:0e:0f no offer: pool exhausted",
        ),
        (
            Event::BootAck {
                mac,
                boot: BootDecision::None,
            },
            "aa:bb:cc:0d:0e:0f boot server ack: no boot options",
        ),
        (
            Event::Ignored {
                mac: Some(mac),
                reason: "not a PXE client",
            },
            "aa:bb:cc:0d:0e:0f ignored: not a PXE client",
        ),
        (
            Event::Ignored {
                mac: None,
                reason: "malformed",
            },
            "ignored: malformed",
        ),
    ];
    for (event, line) in others {
        assert_eq!(event.to_string(), line);
    }
}
