//! A DHCP client for tests that need many clients at once (each "client"
//! is a MAC address): joins a network namespace, binds port 68 on an
//! interface, and runs DISCOVER/OFFER/REQUEST/ACK or INIT-REBOOT requests,
//! built with awl-core's emitter.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use awl_core::wire::dhcp::{DhcpOption, MessageType, Op, Packet, Reply};
use socket2::{Domain, Protocol, Socket, Type};

/// A socket on port 68 of `interface` inside network namespace `netns`.
/// Moves the calling thread into that namespace: call it from a thread
/// of its own.
pub fn client_socket(netns: &str, interface: &str) -> UdpSocket {
    let ns = File::open(format!("/run/netns/{netns}")).expect("network namespace");
    nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
    socket.set_reuse_address(true).unwrap();
    socket.set_broadcast(true).unwrap();
    socket.bind_device(Some(interface.as_bytes())).unwrap();
    socket
        .bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, 68)).into())
        .unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    socket.into()
}

fn request(kind: MessageType, mac: [u8; 6], xid: u32, options: &[DhcpOption<'_>]) -> Vec<u8> {
    let mut required = vec![DhcpOption::MessageType(kind)];
    required.extend_from_slice(options);
    let mut buf = vec![0u8; 576];
    let len = Reply {
        op: Op::Request,
        chaddr: &mac,
        xid,
        broadcast: true,
        required: &required,
        max_len: 548,
        ..Reply::default()
    }
    .emit(&mut buf)
    .unwrap();
    buf.truncate(len);
    buf
}

/// Sends `datagram` and waits (up to `wait`) for a reply to `xid`;
/// returns its type and address.
fn exchange(
    socket: &UdpSocket,
    datagram: &[u8],
    xid: u32,
    wait: Duration,
) -> Option<(MessageType, Ipv4Addr)> {
    socket.send_to(datagram, "255.255.255.255:67").ok()?;
    let deadline = Instant::now() + wait;
    let mut buf = [0u8; 1500];
    while Instant::now() < deadline {
        let Ok((len, _)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let Ok(p) = Packet::new_checked(&buf[..len]) else {
            continue;
        };
        if p.op() == Op::Reply && p.xid() == xid {
            return Some((p.message_type()?, p.yiaddr()));
        }
    }
    None
}

/// A whole DORA for `mac`; the address on ACK.
pub fn dora(socket: &UdpSocket, mac: [u8; 6], xid: u32, server: Ipv4Addr) -> Option<Ipv4Addr> {
    let (kind, offered) = exchange(
        socket,
        &request(MessageType::Discover, mac, xid, &[]),
        xid,
        Duration::from_secs(1),
    )?;
    if kind != MessageType::Offer {
        return None;
    }
    let req = request(
        MessageType::Request,
        mac,
        xid,
        &[
            DhcpOption::ServerId(server),
            DhcpOption::RequestedIp(offered),
        ],
    );
    match exchange(socket, &req, xid, Duration::from_secs(2))? {
        (MessageType::Ack, ip) => Some(ip),
        _ => None,
    }
}

/// INIT-REBOOT: asks for `ip` again (after a reboot); the reply's type.
pub fn reboot(
    socket: &UdpSocket,
    mac: [u8; 6],
    xid: u32,
    ip: Ipv4Addr,
) -> Option<(MessageType, Ipv4Addr)> {
    exchange(
        socket,
        &request(
            MessageType::Request,
            mac,
            xid,
            &[DhcpOption::RequestedIp(ip)],
        ),
        xid,
        Duration::from_secs(2),
    )
}
