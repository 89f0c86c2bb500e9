//! `awl decode`: what a PXE server reads in each captured datagram.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use awl_core::wire::dhcp::{self, pxe, Packet};
use awl_core::wire::tftp;

use crate::tools::capture::{udp_datagrams, Datagram};

/// Prints every DHCP and TFTP datagram of the pcap at `path`.
pub fn run(path: &Path) -> Result<()> {
    for d in udp_datagrams(path)? {
        println!("{}", describe(&d));
    }
    Ok(())
}

/// Whether a datagram is DHCP by its ports.
pub fn is_dhcp(d: &Datagram) -> bool {
    let ports = [dhcp::SERVER_PORT, dhcp::CLIENT_PORT, dhcp::PXE_PORT];
    ports.contains(&d.src.port()) || ports.contains(&d.dst.port())
}

/// One datagram as text: a header line, then its fields.
pub fn describe(d: &Datagram) -> String {
    let mut out = format!(
        "#{} {} -> {} ({} bytes)",
        d.frame,
        d.src,
        d.dst,
        d.payload.len()
    );
    if is_dhcp(d) {
        describe_dhcp(&d.payload, &mut out);
    } else {
        describe_tftp(&d.payload, &mut out);
    }
    out
}

/// Bytes as text, with anything unprintable escaped (log-injection safe).
pub fn printable(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

fn describe_dhcp(payload: &[u8], out: &mut String) {
    let p = match Packet::new_checked(payload) {
        Ok(p) => p,
        Err(e) => {
            let _ = write!(out, "\n  DHCP: malformed: {e}");
            return;
        }
    };
    let mac = p
        .chaddr()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    let _ = write!(
        out,
        "\n  DHCP {:?} {:?} xid {:#010x} chaddr {mac} broadcast {} ciaddr {} yiaddr {} siaddr {} giaddr {}",
        p.op(),
        p.message_type(),
        p.xid(),
        p.broadcast(),
        p.ciaddr(),
        p.yiaddr(),
        p.siaddr(),
        p.giaddr()
    );
    if let Some(file) = p.file().filter(|f| !f.is_empty()) {
        let _ = write!(out, "\n  file {}", printable(file));
    }
    let mut scratch = [0u8; 2048];
    let mut seen = Vec::new();
    for raw in p.options() {
        if seen.contains(&raw.code) {
            continue;
        }
        seen.push(raw.code);
        let _ = write!(out, "\n  option {:3}: ", raw.code);
        match p.typed_option(raw.code, &mut scratch) {
            Some(Ok(value)) => {
                let _ = write!(out, "{}", describe_option(&value));
            }
            Some(Err(e)) => {
                let _ = write!(out, "malformed: {e}");
            }
            None => {}
        }
    }
}

fn describe_option(value: &dhcp::DhcpOption<'_>) -> String {
    use dhcp::DhcpOption as O;
    match value {
        O::Router(a) | O::DnsServers(a) => format!("{:?}", a.iter().collect::<Vec<_>>()),
        O::ClientArch(a) => format!("ClientArch {:?}", a.iter().collect::<Vec<_>>()),
        O::VendorClass(v) => match pxe::VendorClass::parse(v) {
            Some(class) => format!("VendorClass \"{}\" {class:?}", printable(v)),
            None => format!("VendorClass \"{}\"", printable(v)),
        },
        O::UserClass(v) => {
            let classes: Vec<String> = pxe::UserClass::new(v).iter().map(printable).collect();
            format!("UserClass {classes:?}")
        }
        O::VendorSpecific(v) => format!(
            "VendorSpecific {:?}",
            pxe::PxeOption::iter(v).collect::<Vec<_>>()
        ),
        O::IpxeEncap(v) => format!(
            "IpxeEncap {:?}",
            pxe::SubOptions::encapsulated(v).collect::<Vec<_>>()
        ),
        O::HostName(v)
        | O::DomainName(v)
        | O::TftpServerName(v)
        | O::BootfileName(v)
        | O::Message(v) => {
            format!("{:?} \"{}\"", value.code(), printable(v))
        }
        other => format!("{other:?}"),
    }
}

fn describe_tftp(payload: &[u8], out: &mut String) {
    match tftp::Repr::parse(payload) {
        Ok(tftp::Repr::Rrq(r) | tftp::Repr::Wrq(r)) => {
            let pairs: Vec<String> = r
                .pairs
                .map(|(n, v)| format!("{}={}", printable(n), printable(v)))
                .collect();
            let _ = write!(
                out,
                "\n  TFTP request {:?} {:?} options [{}]",
                r.filename,
                r.mode,
                pairs.join(" ")
            );
        }
        Ok(tftp::Repr::Data { block, data }) => {
            let _ = write!(out, "\n  TFTP DATA block {block} ({} bytes)", data.len());
        }
        Ok(tftp::Repr::Error { code, message }) => {
            let _ = write!(out, "\n  TFTP ERROR {code:?} \"{}\"", printable(message));
        }
        Ok(other) => {
            let _ = write!(out, "\n  TFTP {other:?}");
        }
        Err(e) => {
            let _ = write!(out, "\n  not TFTP: {e}");
        }
    }
}
