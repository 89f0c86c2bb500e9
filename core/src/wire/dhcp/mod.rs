/*! DHCPv4 (RFC 2131/2132) with the PXE (RFC 4578, PXE 2.1) and iPXE
extensions a network-install server needs.

* [`Packet`] is a checked, zero-copy view over a received datagram: the BOOTP
  fixed header, the magic cookie and the options, which may continue in the
  `file` and `sname` fields (option 52, overload) and may be split into
  several instances that form one value (RFC 3396). [`Packet::new_checked`]
  validates every option length in every area once, so the accessors and
  iterators after it never see a length that runs past its area.
* [`DhcpOption`] is the typed value of one option, the same type for parsing
  and for emitting, so every option the emitter writes can be read back.
* [`Reply`] writes a reply into a caller's buffer, ordering options by the
  client's parameter request list (55), fitting the client's maximum message
  size (57, with the RFC floor of 576) and splitting long values (RFC 3396).

The layout of the fixed header:

```text
 0      op | htype | hlen | hops
 4      xid
 8      secs | flags
12      ciaddr   16 yiaddr   20 siaddr   24 giaddr
28      chaddr (16)
44      sname (64)
108     file (128)
236     magic cookie 99.130.83.99
240     options
```
*/

mod emit;
mod option;
mod options;
pub mod pxe;

pub use emit::{max_payload_len, Reply, BOOTP_MIN_LEN, MAX_REPLY_OPTIONS};
pub use option::{code, Addrs, DhcpOption};
pub use options::{OptionData, Options, RawOption};

use core::net::Ipv4Addr;

use super::{enum_with_unknown, read_u16, read_u32, Error, Result};

/// Byte ranges of the fixed BOOTP header.
pub(crate) mod field {
    use core::ops::Range;
    pub(crate) const OP: usize = 0;
    pub(crate) const HTYPE: usize = 1;
    pub(crate) const HLEN: usize = 2;
    pub(crate) const HOPS: usize = 3;
    pub(crate) const XID: usize = 4;
    pub(crate) const SECS: usize = 8;
    pub(crate) const FLAGS: usize = 10;
    pub(crate) const CIADDR: usize = 12;
    pub(crate) const YIADDR: usize = 16;
    pub(crate) const SIADDR: usize = 20;
    pub(crate) const GIADDR: usize = 24;
    pub(crate) const CHADDR: Range<usize> = 28..44;
    pub(crate) const SNAME: Range<usize> = 44..108;
    pub(crate) const FILE: Range<usize> = 108..236;
    pub(crate) const COOKIE: Range<usize> = 236..240;
    pub(crate) const OPTIONS: usize = 240;
}

/// The DHCP magic cookie (RFC 2131 §3).
pub const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];

/// The largest UDP payload an IPv4 datagram can carry.
pub const MAX_DATAGRAM: usize = 65_507;

/// Server port (BOOTP/DHCP).
pub const SERVER_PORT: u16 = 67;
/// Client port (BOOTP/DHCP).
pub const CLIENT_PORT: u16 = 68;
/// PXE boot server port (proxyDHCP REQUEST/ACK).
pub const PXE_PORT: u16 = 4011;

/// The broadcast bit of the `flags` field.
pub const FLAG_BROADCAST: u16 = 0x8000;

enum_with_unknown! {
    /// BOOTP `op` field.
    pub enum Op(u8) {
        /// A client's request.
        Request = 1,
        /// A server's reply.
        Reply = 2,
    }
}

enum_with_unknown! {
    /// DHCP message type (option 53).
    pub enum MessageType(u8) {
        /// DHCPDISCOVER
        Discover = 1,
        /// DHCPOFFER
        Offer = 2,
        /// DHCPREQUEST
        Request = 3,
        /// DHCPDECLINE
        Decline = 4,
        /// DHCPACK
        Ack = 5,
        /// DHCPNAK
        Nak = 6,
        /// DHCPRELEASE
        Release = 7,
        /// DHCPINFORM
        Inform = 8,
    }
}

/// A checked view over a DHCP/BOOTP datagram.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
    /// Value of option 52, validated by `new_checked` (0 when absent).
    overload: u8,
    /// Codes present, and codes in several pieces, across all areas.
    codes: options::CodeSet,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Validates `buffer` as a DHCP datagram: the fixed header is complete,
    /// the magic cookie is right, `hlen` fits `chaddr`, every option in the
    /// options field ends inside it and is followed by END, option 52 (if
    /// any) is well formed, and every option in an overloaded `file`/`sname`
    /// ends inside that field.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let data = buffer.as_ref();
        if data.len() > MAX_DATAGRAM {
            return Err(Error::Oversize);
        }
        if data.len() < field::OPTIONS {
            return Err(Error::Truncated);
        }
        if data.get(field::COOKIE) != Some(&MAGIC_COOKIE[..]) {
            return Err(Error::BadCookie);
        }
        if data.get(field::HLEN).copied().unwrap_or(0) > 16 {
            return Err(Error::BadHardwareLength);
        }
        let main = data.get(field::OPTIONS..).unwrap_or(&[]);
        let mut codes = options::CodeSet::default();
        let overload = options::check_area(main, options::AreaKind::Main, &mut codes)?;
        if overload & 1 != 0 {
            let file = data.get(field::FILE).unwrap_or(&[]);
            options::check_area(file, options::AreaKind::Overloaded, &mut codes)?;
        }
        if overload & 2 != 0 {
            let sname = data.get(field::SNAME).unwrap_or(&[]);
            options::check_area(sname, options::AreaKind::Overloaded, &mut codes)?;
        }
        Ok(Self {
            buffer,
            overload,
            codes,
        })
    }

    fn data(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    fn byte(&self, at: usize) -> u8 {
        self.data().get(at).copied().unwrap_or(0)
    }

    fn addr(&self, at: usize) -> Ipv4Addr {
        Ipv4Addr::from(read_u32(self.data(), at).unwrap_or(0))
    }

    /// The whole datagram.
    pub fn as_bytes(&self) -> &[u8] {
        self.data()
    }

    /// `op`: request from a client, or reply from a server.
    pub fn op(&self) -> Op {
        Op::from(self.byte(field::OP))
    }

    /// Hardware address type (1 = Ethernet).
    pub fn htype(&self) -> u8 {
        self.byte(field::HTYPE)
    }

    /// Hardware address length (checked to be at most 16).
    pub fn hlen(&self) -> u8 {
        self.byte(field::HLEN)
    }

    /// Relay hops.
    pub fn hops(&self) -> u8 {
        self.byte(field::HOPS)
    }

    /// Transaction id chosen by the client.
    pub fn xid(&self) -> u32 {
        read_u32(self.data(), field::XID).unwrap_or(0)
    }

    /// Seconds since the client began.
    pub fn secs(&self) -> u16 {
        read_u16(self.data(), field::SECS).unwrap_or(0)
    }

    /// The raw `flags` field.
    pub fn flags(&self) -> u16 {
        read_u16(self.data(), field::FLAGS).unwrap_or(0)
    }

    /// Whether the client asked for broadcast replies.
    pub fn broadcast(&self) -> bool {
        self.flags() & FLAG_BROADCAST != 0
    }

    /// Client address (set when the client is bound, renewing or informing).
    pub fn ciaddr(&self) -> Ipv4Addr {
        self.addr(field::CIADDR)
    }

    /// "Your" address (set by the server).
    pub fn yiaddr(&self) -> Ipv4Addr {
        self.addr(field::YIADDR)
    }

    /// Next server (TFTP) address.
    pub fn siaddr(&self) -> Ipv4Addr {
        self.addr(field::SIADDR)
    }

    /// Relay agent address.
    pub fn giaddr(&self) -> Ipv4Addr {
        self.addr(field::GIADDR)
    }

    /// The client hardware address, `hlen` bytes long.
    pub fn chaddr(&self) -> &[u8] {
        let len = usize::from(self.hlen());
        self.data()
            .get(field::CHADDR)
            .and_then(|c| c.get(..len))
            .unwrap_or(&[])
    }

    /// The client's MAC address, when `htype` is Ethernet and `hlen` is 6.
    pub fn client_mac(&self) -> Option<[u8; 6]> {
        if self.htype() != 1 || self.hlen() != 6 {
            return None;
        }
        self.chaddr().try_into().ok()
    }

    /// Value of option 52 (0 when absent): bit 0 = `file` holds options,
    /// bit 1 = `sname` holds options.
    pub fn overload(&self) -> u8 {
        self.overload
    }

    /// The server host name field up to its first NUL, or `None` when the
    /// field carries options (overload).
    pub fn sname(&self) -> Option<&[u8]> {
        if self.overload & 2 != 0 {
            return None;
        }
        Some(until_nul(self.data().get(field::SNAME).unwrap_or(&[])))
    }

    /// The boot file name field up to its first NUL, or `None` when the field
    /// carries options (overload).
    pub fn file(&self) -> Option<&[u8]> {
        if self.overload & 1 != 0 {
            return None;
        }
        Some(until_nul(self.data().get(field::FILE).unwrap_or(&[])))
    }

    /// Every option instance, in RFC 3396 order: the options field, then
    /// `file`, then `sname` (the last two only when overloaded). PAD is
    /// skipped; END ends an area. Instances of one code are not merged here:
    /// see [`Packet::option`].
    pub fn options(&self) -> Options<'_> {
        let data = self.data();
        let main = data.get(field::OPTIONS..).unwrap_or(&[]);
        let file = if self.overload & 1 != 0 {
            data.get(field::FILE).unwrap_or(&[])
        } else {
            &[]
        };
        let sname = if self.overload & 2 != 0 {
            data.get(field::SNAME).unwrap_or(&[])
        } else {
            &[]
        };
        Options::new([main, file, sname])
    }

    /// The value of option `code`: all its instances, in order, form one
    /// value (RFC 3396). `None` when the option is absent.
    pub fn option(&self, code: u8) -> Option<OptionData<'_>> {
        OptionData::find(self.options(), code, &self.codes)
    }

    /// The typed value of option `code`.
    ///
    /// `Some(Err(..))` when the option is present but malformed for its type
    /// (for example a message type of length 0), or when it is split into
    /// pieces whose total is longer than `scratch` can hold.
    pub fn typed_option<'s>(
        &'s self,
        code: u8,
        scratch: &'s mut [u8],
    ) -> Option<Result<DhcpOption<'s>>> {
        let data = self.option(code)?;
        Some(
            data.contiguous_or_copy(scratch)
                .and_then(|v| DhcpOption::parse(code, v)),
        )
    }

    /// Option 53.
    pub fn message_type(&self) -> Option<MessageType> {
        let [value] = self.option(code::MESSAGE_TYPE)?.fixed::<1>()?;
        Some(MessageType::from(value))
    }

    /// Option 50.
    pub fn requested_ip(&self) -> Option<Ipv4Addr> {
        self.option(code::REQUESTED_IP)?
            .fixed::<4>()
            .map(Ipv4Addr::from)
    }

    /// Option 54.
    pub fn server_id(&self) -> Option<Ipv4Addr> {
        self.option(code::SERVER_ID)?
            .fixed::<4>()
            .map(Ipv4Addr::from)
    }

    /// Option 51, in seconds.
    pub fn lease_time(&self) -> Option<u32> {
        self.option(code::LEASE_TIME)?
            .fixed::<4>()
            .map(u32::from_be_bytes)
    }

    /// Option 57 as the client sent it (see [`max_payload_len`] for the
    /// size a reply may take).
    pub fn max_message_size(&self) -> Option<u16> {
        self.option(code::MAX_MESSAGE_SIZE)?
            .fixed::<2>()
            .map(u16::from_be_bytes)
    }

    /// Option 55: the codes the client asks for, in its order of preference.
    pub fn parameter_request_list(&self) -> Option<OptionData<'_>> {
        self.option(code::PARAMETER_REQUEST_LIST)
            .filter(|o| !o.is_empty())
    }

    /// Option 60.
    pub fn vendor_class(&self) -> Option<OptionData<'_>> {
        self.option(code::VENDOR_CLASS).filter(|o| !o.is_empty())
    }

    /// Option 61 (type byte followed by the identifier).
    pub fn client_id(&self) -> Option<OptionData<'_>> {
        self.option(code::CLIENT_ID).filter(|o| o.len() >= 2)
    }

    /// Option 12.
    pub fn host_name(&self) -> Option<OptionData<'_>> {
        self.option(code::HOST_NAME).filter(|o| !o.is_empty())
    }

    /// Option 93: the client's architectures, in its order. Empty when the
    /// option is absent or has an odd or zero length.
    pub fn client_arch(&self) -> impl Iterator<Item = pxe::ClientArch> + '_ {
        let data = self
            .option(code::CLIENT_ARCH)
            .filter(|o| !o.is_empty() && o.len() % 2 == 0);
        let mut bytes = data.into_iter().flat_map(|d| d.bytes());
        core::iter::from_fn(move || {
            let hi = bytes.next()?;
            let lo = bytes.next()?;
            Some(pxe::ClientArch::from(u16::from_be_bytes([hi, lo])))
        })
    }

    /// Option 94.
    pub fn client_ndi(&self) -> Option<pxe::Ndi> {
        let [kind, major, minor] = self.option(code::CLIENT_NDI)?.fixed::<3>()?;
        Some(pxe::Ndi { kind, major, minor })
    }

    /// Option 97 (type 0 followed by a 16-byte UUID/GUID).
    pub fn client_guid(&self) -> Option<pxe::Guid> {
        let bytes = self.option(code::CLIENT_GUID)?.fixed::<17>()?;
        pxe::Guid::from_option(&bytes)
    }

    /// Option 77 (user class), when it is in one piece.
    pub fn user_class(&self) -> Option<pxe::UserClass<'_>> {
        let data = self.option(code::USER_CLASS)?.contiguous()?;
        (!data.is_empty()).then_some(pxe::UserClass::new(data))
    }

    /// Option 82 (relay agent information) when it is in one piece and its
    /// sub-options fill it exactly; a value whose sub-options overrun it is
    /// not returned, so it can never be echoed.
    pub fn relay_agent_info(&self) -> Option<&[u8]> {
        let data = self.option(code::RELAY_AGENT_INFO)?.contiguous()?;
        pxe::SubOptions::relay(data)
            .is_well_formed()
            .then_some(data)
    }

    /// Whether the client is iPXE: option 77 says `iPXE` or option 175
    /// (iPXE's encapsulated options) is present.
    pub fn is_ipxe(&self) -> bool {
        self.user_class().is_some_and(|u| u.contains(b"iPXE"))
            || self.option(code::IPXE_ENCAP).is_some()
    }
}

/// The bytes before the first NUL (all of them when there is none).
pub(crate) fn until_nul(data: &[u8]) -> &[u8] {
    match data.iter().position(|&b| b == 0) {
        Some(end) => data.get(..end).unwrap_or(data),
        None => data,
    }
}

#[cfg(test)]
mod tests;
