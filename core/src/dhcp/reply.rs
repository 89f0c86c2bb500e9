//! A reply waiting to be sent: what it needs from the request, copied (the
//! request's buffer is the driver's), and how it is written.

use core::net::{Ipv4Addr, SocketAddrV4};

use super::{destination, Config};
use crate::boot::{BootDecision, ClientFacts};
use crate::wire::dhcp::pxe::{discovery, PxeOption};
use crate::wire::dhcp::{
    max_payload_len, Addrs, DhcpOption, MessageType, Op, Packet, Reply, SERVER_PORT,
};
use crate::wire::Result;

pub(crate) struct Pending<'a> {
    kind: MessageType,
    xid: u32,
    htype: u8,
    chaddr: [u8; 16],
    hlen: u8,
    broadcast: bool,
    ciaddr: Ipv4Addr,
    yiaddr: Ipv4Addr,
    giaddr: Ipv4Addr,
    pub(crate) dst: SocketAddrV4,
    pub(crate) src_port: u16,
    prl: heapless::Vec<u8, 96>,
    max_len: usize,
    boot: BootDecision<'a>,
    /// The client is a PXE or HTTP Boot client: echo 60, add 43 and 97.
    netboot_client: bool,
    guid: Option<[u8; 17]>,
    relay: heapless::Vec<u8, 255>,
    message: &'static str,
    /// Lease time options (51, 58, 59).
    pub(crate) lease: bool,
    /// Subnet options (1, 3, 6, 15, 28).
    pub(crate) network_options: bool,
    /// Held until the lease journal reaches this sequence number.
    pub(crate) hold_until: Option<u64>,
    /// Whose mask and routers it carries (see [`Config::subnet`]).
    pub(crate) subnet: usize,
}

impl<'a> Pending<'a> {
    pub(crate) fn reply(
        config: &Config<'_>,
        packet: &Packet<&[u8]>,
        kind: MessageType,
        yiaddr: Ipv4Addr,
        boot: BootDecision<'a>,
        facts: &ClientFacts,
    ) -> Self {
        let mut chaddr = [0u8; 16];
        let hw = packet.chaddr();
        if let Some(dst) = chaddr.get_mut(..hw.len()) {
            dst.copy_from_slice(hw);
        }
        let mut prl = heapless::Vec::new();
        if let Some(list) = packet.parameter_request_list() {
            for code in list.bytes() {
                if prl.push(code).is_err() {
                    break;
                }
            }
        }
        let mut relay = heapless::Vec::new();
        if let Some(info) = packet.relay_agent_info() {
            // Echoed byte for byte, or not at all (RFC 3046, D2).
            if relay.extend_from_slice(info).is_err() {
                relay.clear();
            }
        }
        Self {
            kind,
            xid: packet.xid(),
            htype: packet.htype(),
            chaddr,
            hlen: packet.hlen(),
            broadcast: packet.broadcast(),
            ciaddr: packet.ciaddr(),
            yiaddr,
            giaddr: packet.giaddr(),
            dst: destination(packet, false),
            src_port: SERVER_PORT,
            prl,
            max_len: max_payload_len(packet.max_message_size(), config.mtu),
            boot,
            netboot_client: facts.netboot,
            guid: packet.client_guid().map(|g| g.to_option()),
            relay,
            message: "",
            lease: kind != MessageType::Nak,
            network_options: true,
            hold_until: None,
            subnet: 0,
        }
    }

    /// Boot options only: no address, no lease, no subnet options (a
    /// proxyDHCP OFFER, or the ACK of a PXE boot server on port 4011).
    pub(crate) fn boot_only(
        config: &Config<'_>,
        packet: &Packet<&[u8]>,
        kind: MessageType,
        boot: BootDecision<'a>,
        facts: &ClientFacts,
    ) -> Self {
        let mut pending = Self::reply(config, packet, kind, Ipv4Addr::UNSPECIFIED, boot, facts);
        pending.lease = false;
        pending.network_options = false;
        pending
    }

    pub(crate) fn nak(config: &Config<'_>, packet: &Packet<&[u8]>, message: &'static str) -> Self {
        let facts = ClientFacts {
            netboot: false,
            ..ClientFacts::of(packet)
        };
        let mut pending = Self::reply(
            config,
            packet,
            MessageType::Nak,
            Ipv4Addr::UNSPECIFIED,
            BootDecision::None,
            &facts,
        );
        pending.dst = destination(packet, true);
        pending.message = message;
        pending.lease = false;
        pending.network_options = false;
        pending.ciaddr = Ipv4Addr::UNSPECIFIED;
        pending
    }

    pub(crate) fn emit(&self, config: &Config<'_>, buf: &mut [u8]) -> Result<usize> {
        let lease_secs =
            u32::try_from(config.lease_time.total_micros() / 1_000_000).unwrap_or(u32::MAX);
        let mut pxe_options = [0u8; 8];
        let mut server_text = [0u8; 15];
        let pxe_len = PxeOption::emit_all(
            &[PxeOption::DiscoveryControl(discovery::BOOT_FILE_DIRECTLY)],
            &mut pxe_options,
        )?;
        // Every boot answer names a next server (siaddr), URL answers too:
        // iPXE ignores a ProxyDHCP reply without siaddr and a file name
        // (its dhcp_has_pxeopts), and dnsmasq always sets it.
        let next_server = if config.boot.tftp_server.is_unspecified() {
            config.server_ip
        } else {
            config.boot.tftp_server
        };
        let (siaddr, file, tftp): (Ipv4Addr, &str, bool) = match self.boot {
            BootDecision::Tftp { server, file } => (
                if server.is_unspecified() {
                    next_server
                } else {
                    server
                },
                file,
                true,
            ),
            BootDecision::Url { url, .. } => (next_server, url, false),
            BootDecision::None => (Ipv4Addr::UNSPECIFIED, "", false),
        };
        let server_len = dotted(siaddr, &mut server_text);
        let mut required: heapless::Vec<DhcpOption<'_>, 16> = heapless::Vec::new();
        let mut optional: heapless::Vec<DhcpOption<'_>, 16> = heapless::Vec::new();
        let _ = required.push(DhcpOption::MessageType(self.kind));
        let _ = required.push(DhcpOption::ServerId(config.server_ip));
        if self.kind == MessageType::Nak {
            let _ = required.push(DhcpOption::Message(self.message.as_bytes()));
        }
        if self.lease {
            let _ = required.push(DhcpOption::LeaseTime(lease_secs));
            let _ = optional.push(DhcpOption::RenewalTime(lease_secs / 2));
            let _ = optional.push(DhcpOption::RebindingTime(lease_secs / 8 * 7));
        }
        if self.network_options {
            // 1 and 3 go out whether or not the client listed them (Pi ROMs
            // do not ask for them and need them).
            let net = config.subnet(self.subnet);
            let _ = required.push(DhcpOption::SubnetMask(net.mask));
            if !net.routers.is_empty() {
                let _ = required.push(DhcpOption::Router(Addrs::Slice(net.routers)));
            }
            if !config.dns.is_empty() {
                let _ = optional.push(DhcpOption::DnsServers(Addrs::Slice(config.dns)));
            }
            if !config.domain.is_empty() {
                let _ = optional.push(DhcpOption::DomainName(config.domain.as_bytes()));
            }
            let mask = u32::from(net.mask);
            let bcast = Ipv4Addr::from((u32::from(net.network) & mask) | !mask);
            let _ = optional.push(DhcpOption::BroadcastAddress(bcast));
        }
        if self.boot != BootDecision::None {
            if self.netboot_client {
                let class: &[u8] = match self.boot {
                    BootDecision::Url {
                        http_client: true, ..
                    } => b"HTTPClient",
                    _ => b"PXEClient",
                };
                let _ = required.push(DhcpOption::VendorClass(class));
                if class == b"PXEClient" {
                    // Boot this reply's file: no prompt, menu or discovery.
                    let _ = required.push(DhcpOption::VendorSpecific(
                        pxe_options.get(..pxe_len).unwrap_or(&[]),
                    ));
                }
                if let Some(guid) = &self.guid {
                    let _ = required.push(DhcpOption::ClientGuid(guid));
                }
            }
            if tftp {
                let _ = optional.push(DhcpOption::TftpServerName(
                    server_text.get(..server_len).unwrap_or(&[]),
                ));
            }
            let _ = required.push(DhcpOption::BootfileName(file.as_bytes()));
        }
        if !self.relay.is_empty() {
            let _ = required.push(DhcpOption::RelayAgentInfo(&self.relay));
        }
        let file_field = if file.len() <= 127 {
            file.as_bytes()
        } else {
            &[]
        };
        Reply {
            op: Op::Reply,
            htype: self.htype,
            chaddr: self
                .chaddr
                .get(..usize::from(self.hlen).min(16))
                .unwrap_or(&[]),
            hops: 0,
            xid: self.xid,
            secs: 0,
            broadcast: self.broadcast,
            ciaddr: self.ciaddr,
            yiaddr: self.yiaddr,
            siaddr,
            giaddr: self.giaddr,
            sname: &[],
            file: file_field,
            required: &required,
            optional: &optional,
            parameter_request_list: &self.prl,
            max_len: self.max_len,
        }
        .emit(buf)
    }
}

/// Writes `ip` as dotted decimal; returns the length.
fn dotted(ip: Ipv4Addr, out: &mut [u8; 15]) -> usize {
    let mut len = 0;
    for (i, octet) in ip.octets().iter().enumerate() {
        if i > 0 {
            if let Some(b) = out.get_mut(len) {
                *b = b'.';
            }
            len += 1;
        }
        let digits = [octet / 100, octet / 10 % 10, octet % 10];
        let skip = if *octet >= 100 {
            0
        } else if *octet >= 10 {
            1
        } else {
            2
        };
        for d in digits.iter().skip(skip) {
            if let Some(b) = out.get_mut(len) {
                *b = b'0' + d;
            }
            len += 1;
        }
    }
    len
}
