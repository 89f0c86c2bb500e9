//! Typed DHCP option values, one type for parsing and for emitting.

use core::net::Ipv4Addr;

use super::pxe::{Archs, Ndi};
use super::MessageType;
use crate::wire::{Error, Result, Writer};

/// Option codes (RFC 2132 and the PXE/iPXE registrations).
pub mod code {
    /// Padding.
    pub const PAD: u8 = 0;
    /// Subnet mask.
    pub const SUBNET_MASK: u8 = 1;
    /// Routers.
    pub const ROUTER: u8 = 3;
    /// Domain name servers.
    pub const DNS_SERVERS: u8 = 6;
    /// Host name.
    pub const HOST_NAME: u8 = 12;
    /// Domain name.
    pub const DOMAIN_NAME: u8 = 15;
    /// Interface MTU.
    pub const INTERFACE_MTU: u8 = 26;
    /// Broadcast address.
    pub const BROADCAST_ADDRESS: u8 = 28;
    /// Vendor-specific information (PXE sub-options for PXE clients).
    pub const VENDOR_SPECIFIC: u8 = 43;
    /// Requested IP address.
    pub const REQUESTED_IP: u8 = 50;
    /// IP address lease time.
    pub const LEASE_TIME: u8 = 51;
    /// Option overload.
    pub const OVERLOAD: u8 = 52;
    /// DHCP message type.
    pub const MESSAGE_TYPE: u8 = 53;
    /// Server identifier.
    pub const SERVER_ID: u8 = 54;
    /// Parameter request list.
    pub const PARAMETER_REQUEST_LIST: u8 = 55;
    /// Message (text explaining a NAK).
    pub const MESSAGE: u8 = 56;
    /// Maximum DHCP message size.
    pub const MAX_MESSAGE_SIZE: u8 = 57;
    /// Renewal (T1) time.
    pub const RENEWAL_TIME: u8 = 58;
    /// Rebinding (T2) time.
    pub const REBINDING_TIME: u8 = 59;
    /// Vendor class identifier.
    pub const VENDOR_CLASS: u8 = 60;
    /// Client identifier.
    pub const CLIENT_ID: u8 = 61;
    /// TFTP server name.
    pub const TFTP_SERVER_NAME: u8 = 66;
    /// Boot file name.
    pub const BOOTFILE_NAME: u8 = 67;
    /// User class (RFC 3004).
    pub const USER_CLASS: u8 = 77;
    /// Relay agent information (RFC 3046).
    pub const RELAY_AGENT_INFO: u8 = 82;
    /// Client system architecture (RFC 4578).
    pub const CLIENT_ARCH: u8 = 93;
    /// Client network device interface (RFC 4578).
    pub const CLIENT_NDI: u8 = 94;
    /// Client machine identifier, UUID/GUID (RFC 4578).
    pub const CLIENT_GUID: u8 = 97;
    /// iPXE encapsulated options.
    pub const IPXE_ENCAP: u8 = 175;
    /// End of options.
    pub const END: u8 = 255;
}

/// A list of IPv4 addresses: a slice when emitting, wire bytes when parsed.
/// Two lists are equal when they hold the same addresses.
#[derive(Debug, Clone, Copy)]
pub enum Addrs<'a> {
    /// Addresses given by the caller.
    Slice(&'a [Ipv4Addr]),
    /// Addresses as they stand on the wire (a multiple of 4 bytes).
    Wire(&'a [u8]),
}

impl<'a> Addrs<'a> {
    /// The addresses, in order.
    pub fn iter(&self) -> impl Iterator<Item = Ipv4Addr> + 'a {
        let (slice, wire): (&'a [Ipv4Addr], &'a [u8]) = match *self {
            Self::Slice(s) => (s, &[]),
            Self::Wire(w) => (&[], w),
        };
        slice.iter().copied().chain(
            wire.chunks_exact(4)
                .filter_map(|c| <[u8; 4]>::try_from(c).ok())
                .map(Ipv4Addr::from),
        )
    }

    /// Number of addresses.
    pub fn len(&self) -> usize {
        match *self {
            Self::Slice(s) => s.len(),
            Self::Wire(w) => w.len() / 4,
        }
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl PartialEq for Addrs<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

/// The typed value of one DHCP option.
///
/// [`DhcpOption::parse`] reads a whole (concatenated) value; the emitter
/// writes any variant, splitting values longer than 255 bytes into several
/// instances (RFC 3396). Codes without a variant are [`DhcpOption::Other`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum DhcpOption<'a> {
    /// 1
    SubnetMask(Ipv4Addr),
    /// 3
    Router(Addrs<'a>),
    /// 6
    DnsServers(Addrs<'a>),
    /// 12
    HostName(&'a [u8]),
    /// 15
    DomainName(&'a [u8]),
    /// 26
    InterfaceMtu(u16),
    /// 28
    BroadcastAddress(Ipv4Addr),
    /// 43: for PXE clients, PXE sub-options (see [`super::pxe::PxeOption`]).
    VendorSpecific(&'a [u8]),
    /// 50
    RequestedIp(Ipv4Addr),
    /// 51, seconds
    LeaseTime(u32),
    /// 53
    MessageType(MessageType),
    /// 54
    ServerId(Ipv4Addr),
    /// 55
    ParameterRequestList(&'a [u8]),
    /// 56
    Message(&'a [u8]),
    /// 57
    MaxMessageSize(u16),
    /// 58, seconds
    RenewalTime(u32),
    /// 59, seconds
    RebindingTime(u32),
    /// 60
    VendorClass(&'a [u8]),
    /// 61
    ClientId(&'a [u8]),
    /// 66
    TftpServerName(&'a [u8]),
    /// 67
    BootfileName(&'a [u8]),
    /// 77 (RFC 3004 instances, or iPXE's plain string)
    UserClass(&'a [u8]),
    /// 82, echoed byte for byte
    RelayAgentInfo(&'a [u8]),
    /// 93
    ClientArch(Archs<'a>),
    /// 94
    ClientNdi(Ndi),
    /// 97 (type byte, then the 16-byte GUID)
    ClientGuid(&'a [u8]),
    /// 175
    IpxeEncap(&'a [u8]),
    /// Any other code.
    Other {
        /// Option code (not PAD or END).
        code: u8,
        /// Value bytes.
        data: &'a [u8],
    },
}

fn exact<const N: usize>(data: &[u8]) -> Result<[u8; N]> {
    data.try_into().map_err(|_| Error::BadLength)
}

fn non_empty(data: &[u8]) -> Result<&[u8]> {
    if data.is_empty() {
        Err(Error::BadLength)
    } else {
        Ok(data)
    }
}

fn addr_list(data: &[u8]) -> Result<Addrs<'_>> {
    if data.is_empty() || data.len() % 4 != 0 {
        Err(Error::BadLength)
    } else {
        Ok(Addrs::Wire(data))
    }
}

impl<'a> DhcpOption<'a> {
    /// Reads the whole value of option `code`. Known codes with a length
    /// their type does not allow (including length 0 where a value is
    /// needed) give [`Error::BadLength`].
    pub fn parse(code: u8, data: &'a [u8]) -> Result<Self> {
        use crate::wire::dhcp::code as c;
        Ok(match code {
            c::PAD | c::END => return Err(Error::BadLength),
            c::SUBNET_MASK => Self::SubnetMask(exact::<4>(data)?.into()),
            c::ROUTER => Self::Router(addr_list(data)?),
            c::DNS_SERVERS => Self::DnsServers(addr_list(data)?),
            c::HOST_NAME => Self::HostName(non_empty(data)?),
            c::DOMAIN_NAME => Self::DomainName(non_empty(data)?),
            c::INTERFACE_MTU => Self::InterfaceMtu(u16::from_be_bytes(exact(data)?)),
            c::BROADCAST_ADDRESS => Self::BroadcastAddress(exact::<4>(data)?.into()),
            c::VENDOR_SPECIFIC => Self::VendorSpecific(non_empty(data)?),
            c::REQUESTED_IP => Self::RequestedIp(exact::<4>(data)?.into()),
            c::LEASE_TIME => Self::LeaseTime(u32::from_be_bytes(exact(data)?)),
            c::MESSAGE_TYPE => {
                let [t] = exact::<1>(data)?;
                Self::MessageType(MessageType::from(t))
            }
            c::SERVER_ID => Self::ServerId(exact::<4>(data)?.into()),
            c::PARAMETER_REQUEST_LIST => Self::ParameterRequestList(non_empty(data)?),
            c::MESSAGE => Self::Message(non_empty(data)?),
            c::MAX_MESSAGE_SIZE => Self::MaxMessageSize(u16::from_be_bytes(exact(data)?)),
            c::RENEWAL_TIME => Self::RenewalTime(u32::from_be_bytes(exact(data)?)),
            c::REBINDING_TIME => Self::RebindingTime(u32::from_be_bytes(exact(data)?)),
            c::VENDOR_CLASS => Self::VendorClass(non_empty(data)?),
            c::CLIENT_ID => Self::ClientId(if data.len() >= 2 {
                data
            } else {
                return Err(Error::BadLength);
            }),
            c::TFTP_SERVER_NAME => Self::TftpServerName(non_empty(data)?),
            c::BOOTFILE_NAME => Self::BootfileName(non_empty(data)?),
            c::USER_CLASS => Self::UserClass(non_empty(data)?),
            c::RELAY_AGENT_INFO => Self::RelayAgentInfo(non_empty(data)?),
            c::CLIENT_ARCH => {
                if data.is_empty() || data.len() % 2 != 0 {
                    return Err(Error::BadLength);
                }
                Self::ClientArch(Archs::Wire(data))
            }
            c::CLIENT_NDI => {
                let [kind, major, minor] = exact::<3>(data)?;
                Self::ClientNdi(Ndi { kind, major, minor })
            }
            c::CLIENT_GUID => Self::ClientGuid(non_empty(data)?),
            c::IPXE_ENCAP => Self::IpxeEncap(non_empty(data)?),
            code => Self::Other { code, data },
        })
    }

    /// The option code.
    pub fn code(&self) -> u8 {
        use crate::wire::dhcp::code as c;
        match self {
            Self::SubnetMask(_) => c::SUBNET_MASK,
            Self::Router(_) => c::ROUTER,
            Self::DnsServers(_) => c::DNS_SERVERS,
            Self::HostName(_) => c::HOST_NAME,
            Self::DomainName(_) => c::DOMAIN_NAME,
            Self::InterfaceMtu(_) => c::INTERFACE_MTU,
            Self::BroadcastAddress(_) => c::BROADCAST_ADDRESS,
            Self::VendorSpecific(_) => c::VENDOR_SPECIFIC,
            Self::RequestedIp(_) => c::REQUESTED_IP,
            Self::LeaseTime(_) => c::LEASE_TIME,
            Self::MessageType(_) => c::MESSAGE_TYPE,
            Self::ServerId(_) => c::SERVER_ID,
            Self::ParameterRequestList(_) => c::PARAMETER_REQUEST_LIST,
            Self::Message(_) => c::MESSAGE,
            Self::MaxMessageSize(_) => c::MAX_MESSAGE_SIZE,
            Self::RenewalTime(_) => c::RENEWAL_TIME,
            Self::RebindingTime(_) => c::REBINDING_TIME,
            Self::VendorClass(_) => c::VENDOR_CLASS,
            Self::ClientId(_) => c::CLIENT_ID,
            Self::TftpServerName(_) => c::TFTP_SERVER_NAME,
            Self::BootfileName(_) => c::BOOTFILE_NAME,
            Self::UserClass(_) => c::USER_CLASS,
            Self::RelayAgentInfo(_) => c::RELAY_AGENT_INFO,
            Self::ClientArch(_) => c::CLIENT_ARCH,
            Self::ClientNdi(_) => c::CLIENT_NDI,
            Self::ClientGuid(_) => c::CLIENT_GUID,
            Self::IpxeEncap(_) => c::IPXE_ENCAP,
            Self::Other { code, .. } => *code,
        }
    }

    /// Length of the value (before splitting into 255-byte pieces).
    pub fn value_len(&self) -> usize {
        match self {
            Self::MessageType(_) => 1,
            Self::InterfaceMtu(_) | Self::MaxMessageSize(_) => 2,
            Self::ClientNdi(_) => 3,
            Self::SubnetMask(_)
            | Self::BroadcastAddress(_)
            | Self::RequestedIp(_)
            | Self::ServerId(_)
            | Self::LeaseTime(_)
            | Self::RenewalTime(_)
            | Self::RebindingTime(_) => 4,
            Self::Router(a) | Self::DnsServers(a) => a.len().saturating_mul(4),
            Self::ClientArch(a) => a.len().saturating_mul(2),
            Self::HostName(d)
            | Self::DomainName(d)
            | Self::VendorSpecific(d)
            | Self::ParameterRequestList(d)
            | Self::Message(d)
            | Self::VendorClass(d)
            | Self::ClientId(d)
            | Self::TftpServerName(d)
            | Self::BootfileName(d)
            | Self::UserClass(d)
            | Self::RelayAgentInfo(d)
            | Self::ClientGuid(d)
            | Self::IpxeEncap(d)
            | Self::Other { data: d, .. } => d.len(),
        }
    }

    /// Bytes the option takes on the wire, with one code/length header per
    /// 255-byte piece.
    pub fn wire_len(&self) -> usize {
        let len = self.value_len();
        let pieces = len.div_ceil(255).max(1);
        len.saturating_add(pieces.saturating_mul(2))
    }

    fn write_value(&self, w: &mut Writer<'_>) -> Result<()> {
        match self {
            Self::MessageType(t) => w.u8((*t).into()),
            Self::InterfaceMtu(v) | Self::MaxMessageSize(v) => w.u16(*v),
            Self::ClientNdi(n) => w.bytes(&[n.kind, n.major, n.minor]),
            Self::SubnetMask(a)
            | Self::BroadcastAddress(a)
            | Self::RequestedIp(a)
            | Self::ServerId(a) => w.bytes(&a.octets()),
            Self::LeaseTime(v) | Self::RenewalTime(v) | Self::RebindingTime(v) => {
                w.bytes(&v.to_be_bytes())
            }
            Self::Router(list) | Self::DnsServers(list) => {
                list.iter().try_for_each(|a| w.bytes(&a.octets()))
            }
            Self::ClientArch(list) => list.iter().try_for_each(|a| w.u16(a.into())),
            Self::HostName(d)
            | Self::DomainName(d)
            | Self::VendorSpecific(d)
            | Self::ParameterRequestList(d)
            | Self::Message(d)
            | Self::VendorClass(d)
            | Self::ClientId(d)
            | Self::TftpServerName(d)
            | Self::BootfileName(d)
            | Self::UserClass(d)
            | Self::RelayAgentInfo(d)
            | Self::ClientGuid(d)
            | Self::IpxeEncap(d)
            | Self::Other { data: d, .. } => w.bytes(d),
        }
    }

    /// Writes the option at `pos` in `buf`, split into 255-byte pieces when
    /// longer (RFC 3396); returns the position after it. Writes exactly
    /// [`DhcpOption::wire_len`] bytes or fails with
    /// [`Error::BufferTooSmall`].
    pub(crate) fn write(&self, buf: &mut [u8], pos: usize) -> Result<usize> {
        let code = self.code();
        if code == code::PAD || code == code::END {
            return Err(Error::Unrepresentable);
        }
        let len = self.value_len();
        let pieces = len.div_ceil(255).max(1);
        let end = pos
            .checked_add(self.wire_len())
            .ok_or(Error::BufferTooSmall)?;
        if end > buf.len() {
            return Err(Error::BufferTooSmall);
        }
        // Write the value in one run after room for every header, then move
        // each piece down to its place behind its own header. Piece i moves
        // from `pos + 2*pieces + 255*i` to `pos + 257*i + 2`, never upward,
        // so moving pieces in order never overwrites one not yet moved.
        let value_at = pos.saturating_add(pieces.saturating_mul(2));
        let mut w = Writer::at(buf, value_at);
        self.write_value(&mut w)?;
        if w.position() != end {
            return Err(Error::Unrepresentable);
        }
        for i in 0..pieces {
            let from = value_at.saturating_add(i.saturating_mul(255));
            let piece_len = len.saturating_sub(i.saturating_mul(255)).min(255);
            let header = pos.saturating_add(i.saturating_mul(257));
            buf.copy_within(
                from..from.saturating_add(piece_len),
                header.saturating_add(2),
            );
            let head = buf
                .get_mut(header..header.saturating_add(2))
                .ok_or(Error::BufferTooSmall)?;
            head.copy_from_slice(&[code, piece_len as u8]);
        }
        Ok(end)
    }
}
