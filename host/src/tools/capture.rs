//! Reading UDP datagrams out of pcap files (for `awl decode` and for tests
//! that replay real clients' captures).

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;

use anyhow::{bail, Context, Result};

/// Link types (tcpdump's LINKTYPE_* values) this reader understands.
const LINKTYPE_ETHERNET: u32 = 1;
const LINKTYPE_RAW: u32 = 101;
const LINKTYPE_LINUX_SLL: u32 = 113;
const LINKTYPE_IPV4: u32 = 228;

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

/// The frames of a classic pcap file (either byte order, micro- or
/// nanosecond timestamps) with its link type.
///
/// Written here rather than taken from a crate because the captures that
/// matter most are malformed ones: a record whose length exceeds the file's
/// snap length (tcpdump's ASan regression vectors) is still returned, and a
/// record cut short by the end of the file is returned as far as it goes.
pub fn pcap_frames(path: &Path) -> Result<(u32, Vec<Vec<u8>>)> {
    let data = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let Some(magic) = data.get(..4) else {
        bail!("{}: not a pcap file (too short)", path.display())
    };
    let little = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => bail!(
            "{}: not a classic pcap file (pcapng is not read)",
            path.display()
        ),
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b: [u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
        Some(if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    // The low 16 bits are the link type; the upper ones carry FCS flags.
    let link =
        u32_at(20).with_context(|| format!("{}: pcap header truncated", path.display()))? & 0xffff;
    let mut frames = Vec::new();
    let mut at = 24;
    while let Some(incl) = u32_at(at + 8) {
        let start = at + 16;
        let end = start.saturating_add(incl as usize).min(data.len());
        frames.push(data.get(start..end).unwrap_or_default().to_vec());
        at = end;
    }
    Ok((link, frames))
}

/// Every IPv4 UDP datagram in the pcap at `path`, in order. Frames that are
/// not IPv4/UDP, and IP fragments after the first, are skipped.
pub fn udp_datagrams(path: &Path) -> Result<Vec<Datagram>> {
    let (link, frames) = pcap_frames(path)?;
    let mut out = Vec::new();
    for (index, frame) in frames.iter().enumerate() {
        let ip = match link {
            LINKTYPE_ETHERNET => ethernet_payload(frame),
            LINKTYPE_LINUX_SLL => frame
                .get(16..)
                .filter(|_| ether_type(frame, 14) == Some(0x0800)),
            LINKTYPE_RAW | LINKTYPE_IPV4 => Some(&frame[..]),
            other => bail!("{}: link type {other} not supported", path.display()),
        };
        if let Some(d) = ip.and_then(|ip| udp_in_ipv4(ip, index + 1)) {
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

/// The UDP datagram inside one IPv4 packet (`frame` is recorded as given);
/// `None` when it is not IPv4/UDP, is a later fragment, or is too short for
/// the UDP header. A payload cut short by the capture is returned as cut.
pub fn udp_in_ipv4(ip: &[u8], frame: usize) -> Option<Datagram> {
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
    let payload = udp.get(8..udp_len.min(udp.len()).max(8))?.to_vec();
    Some(Datagram {
        frame,
        src: SocketAddrV4::new(src, sport),
        dst: SocketAddrV4::new(dst, dport),
        payload,
    })
}
