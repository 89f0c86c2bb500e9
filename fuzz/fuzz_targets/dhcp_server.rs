//! The DHCP server under arbitrary datagram sequences on ports 67 and 4011,
//! in full and proxy mode, with time steps and journal commits.
//! Invariants: no panic; the table never exceeds its capacity; no two
//! leases share an address; every bound or offered address is in the pool
//! or reserved; every reply fits its buffer and parses.
#![no_main]

use std::net::{Ipv4Addr, SocketAddrV4};

use awl_core::boot::BootConfig;
use awl_core::dhcp::{pool_bitmap_len, Config, DhcpServer, Ingress, LeaseSlot, Mode, Reservation};
use awl_core::time::{Duration, Instant};
use awl_core::wire::dhcp::Packet;
use libfuzzer_sys::fuzz_target;

static RESERVED: [Reservation<'static>; 2] =
    [
        Reservation { mac: [2, 0, 0, 0, 0, 9], client_id: &[], ip: Some(Ipv4Addr::new(10, 0, 0, 5)), netboot: true, boot_file: "" },
        Reservation { mac: [0; 6], client_id: &[1, 2, 0, 0, 0, 0, 8], ip: Some(Ipv4Addr::new(10, 0, 0, 6)), netboot: false, boot_file: "" },
    ];

fuzz_target!(|data: &[u8]| {
    let Some((&flags, mut rest)) = data.split_first() else { return };
    let mut config = Config::default();
    config.server_ip = Ipv4Addr::new(10, 0, 0, 1);
    config.mode = if flags & 1 == 0 { Mode::Full } else { Mode::Proxy };
    config.pool_first = Ipv4Addr::new(10, 0, 0, 100);
    config.pool_last = Ipv4Addr::new(10, 0, 0, 107);
    config.hold_acks = flags & 2 != 0;
    config.boot = BootConfig { tftp_server: config.server_ip, ipxe_script: "http://10.0.0.1/boot.ipxe", ..BootConfig::default() };
    let mut leases = vec![LeaseSlot::EMPTY; 6];
    let mut bitmap = vec![0u8; pool_bitmap_len(config.pool_first, config.pool_last)];
    let mut server = DhcpServer::new(config, &mut leases[..], &mut bitmap[..]);
    let mut now = Instant::ZERO;
    let mut buf = [0u8; 1500];
    while let [op, len_hi, len_lo, tail @ ..] = rest {
        let len = (usize::from(*len_hi) << 8 | usize::from(*len_lo)).min(tail.len());
        let (datagram, after) = tail.split_at(len);
        rest = after;
        match op % 4 {
            0 | 1 => {
                let ingress = if op % 4 == 0 { Ingress::Dhcp } else { Ingress::Pxe };
                let from = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, *len_lo), 68);
                server.handle_with(now, ingress, from, datagram, &&RESERVED[..]);
            }
            2 => {
                now = now + Duration::from_secs(u64::from(*len_lo) * 30);
                server.handle_timeout(now);
            }
            _ => server.committed(u64::from(*len_lo)),
        }
        while let Some(t) = server.poll_transmit(now, &mut buf) {
            assert!(t.len <= buf.len());
            Packet::new_checked(&buf[..t.len]).expect("replies parse");
        }
        while let Some(e) = server.poll_event() {
            let _ = format!("{e:?}");
        }
        assert!(server.leases().count() <= server.capacity());
        let mut ips: Vec<Ipv4Addr> = server.leases().map(|l| l.ip).collect();
        for ip in &ips {
            let n = u32::from(*ip);
            let reserved = RESERVED.iter().any(|r| r.ip == Some(*ip));
            assert!((u32::from(config.pool_first)..=u32::from(config.pool_last)).contains(&n) || reserved);
        }
        ips.sort();
        let before = ips.len();
        ips.dedup();
        assert_eq!(before, ips.len(), "two leases share an address");
    }
});
