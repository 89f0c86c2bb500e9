//! Reading UDP datagrams out of pcap files (for `awl decode` and for tests
//! that replay real clients' captures).

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;

use anyhow::{bail, Context, Result};
use pcap_file::pcap::PcapReader;
use pcap_file::DataLink;

/// One UDP datagram found in a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// 1-based frame number in the capture.
    pub frame: usize,
    /// Source address and port.
    pub src: SocketAddrV4,
    /// Destination address and port.
    pub dst: SocketAddrV4,
    /// The UDP payload (as captured: may be shorter than the UDP length
    /// says when the capture was truncated).
    pub payload: Vec<u8>,
}

/// Every IPv4 UDP datagram in the pcap at `path`, in order. Frames that are
/// not IPv4/UDP, and IP fragments after the first, are skipped.
pub fn udp_datagrams(path: &Path) -> Result<Vec<Datagram>> {
    let file = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let mut reader =
        PcapReader::new(file).with_context(|| format!("{}: not a pcap file", path.display()))?;
    let link = reader.header().datalink;
    let mut out = Vec::new();
    let mut frame = 0;
    while let Some(packet) = reader.next_packet() {
        let packet = packet.with_context(|| format!("{}: frame {}", path.display(), frame + 1))?;
        frame += 1;
        let ip = match link {
            DataLink::ETHERNET => ethernet_payload(&packet.data),
            DataLink::LINUX_SLL => packet
                .data
                .get(14..)
                .filter(|_| ether_type(&packet.data, 14) == Some(0x0800)),
            DataLink::RAW | DataLink::IPV4 => Some(&packet.data[..]),
            other => bail!("{}: link type {other:?} not supported", path.display()),
        };
        if let Some(d) = ip.and_then(|ip| udp_in_ipv4(ip, frame)) {
            out.push(d);
        }
    }
    Ok(out)
}

fn ether_type(frame: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*frame.get(at)?, *frame.get(at + 1)?]))
}

fn ethernet_payload(frame: &[u8]) -> Option<&[u8]> {
    match ether_type(frame, 12)? {
        0x0800 => frame.get(14..),
        // One 802.1Q tag.
        0x8100 if ether_type(frame, 16)? == 0x0800 => frame.get(18..),
        _ => None,
    }
}

fn udp_in_ipv4(ip: &[u8], frame: usize) -> Option<Datagram> {
    let first = *ip.first()?;
    if first >> 4 != 4 || *ip.get(9)? != 17 {
        return None;
    }
    let fragment_offset = u16::from_be_bytes([*ip.get(6)?, *ip.get(7)?]) & 0x1fff;
    if fragment_offset != 0 {
        return None;
    }
    let header_len = usize::from(first & 0x0f) * 4;
    let total_len = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
    let src = Ipv4Addr::new(*ip.get(12)?, *ip.get(13)?, *ip.get(14)?, *ip.get(15)?);
    let dst = Ipv4Addr::new(*ip.get(16)?, *ip.get(17)?, *ip.get(18)?, *ip.get(19)?);
    let udp = ip.get(header_len..total_len.max(header_len).min(ip.len()))?;
    let sport = u16::from_be_bytes([*udp.first()?, *udp.get(1)?]);
    let dport = u16::from_be_bytes([*udp.get(2)?, *udp.get(3)?]);
    let udp_len = usize::from(u16::from_be_bytes([*udp.get(4)?, *udp.get(5)?]));
    let payload = udp.get(8..udp_len.clamp(8, udp.len()))?.to_vec();
    Some(Datagram {
        frame,
        src: SocketAddrV4::new(src, sport),
        dst: SocketAddrV4::new(dst, dport),
        payload,
    })
}
