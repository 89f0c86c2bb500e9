//! Writing a DHCP reply into a caller's buffer.

use core::net::Ipv4Addr;

use super::{code, field, DhcpOption, Op, FLAG_BROADCAST, MAGIC_COOKIE};
use crate::wire::{Error, Result, Writer};

/// The smallest BOOTP message (RFC 951: a 64-byte vendor area). Replies are
/// padded with zeros after END up to this size; some clients drop anything
/// shorter. No PAD is ever written before END (Raspberry Pi ROMs drop such
/// replies).
pub const BOOTP_MIN_LEN: usize = 300;

/// IPv4 header (no options) plus UDP header.
const IP_UDP_HEADERS: usize = 28;

/// The minimum IP datagram every DHCP client must accept (RFC 2131 §2).
const MIN_IP_DATAGRAM: usize = 576;

/// The largest DHCP payload a reply to a client may take: option 57 counts
/// the whole IP datagram, with a floor of 576 (values below it are treated
/// as 576), and never more than the link allows (`mtu`, the IP MTU).
pub fn max_payload_len(max_message_size: Option<u16>, mtu: usize) -> usize {
    let client = max_message_size.map_or(MIN_IP_DATAGRAM, |v| usize::from(v).max(MIN_IP_DATAGRAM));
    client
        .min(mtu.max(MIN_IP_DATAGRAM))
        .saturating_sub(IP_UDP_HEADERS)
}

/// A reply to emit: the fixed header fields and the options.
///
/// Options in `required` are always written (the emit fails when they do not
/// fit); options in `optional` are written while they fit, the most wanted
/// first. Order on the wire: 53 first, then every option the client asked
/// for in the order of its parameter request list, then the rest in the
/// order given (required before optional), and 82 last (RFC 3046). When the
/// size limit forces a choice, unrequested optional options go first, then
/// requested ones from the end of the request list.
#[derive(Debug, Clone, Copy)]
pub struct Reply<'a> {
    /// `op` (a server writes [`Op::Reply`]).
    pub op: Op,
    /// Hardware type, copied from the request.
    pub htype: u8,
    /// Client hardware address, copied from the request (at most 16 bytes).
    pub chaddr: &'a [u8],
    /// Relay hops (0 in replies).
    pub hops: u8,
    /// Transaction id, copied from the request.
    pub xid: u32,
    /// Seconds (0 in replies).
    pub secs: u16,
    /// The broadcast flag, copied from the request.
    pub broadcast: bool,
    /// Client address.
    pub ciaddr: Ipv4Addr,
    /// Address given to the client.
    pub yiaddr: Ipv4Addr,
    /// Next server (TFTP) address.
    pub siaddr: Ipv4Addr,
    /// Relay agent address, copied from the request.
    pub giaddr: Ipv4Addr,
    /// Server host name (at most 63 bytes; NUL-terminated on the wire).
    pub sname: &'a [u8],
    /// Boot file name (at most 127 bytes; NUL-terminated on the wire).
    pub file: &'a [u8],
    /// Options that must be present.
    pub required: &'a [DhcpOption<'a>],
    /// Options that may be left out when the reply would not fit.
    /// Required and optional together are at most [`MAX_REPLY_OPTIONS`].
    pub optional: &'a [DhcpOption<'a>],
    /// The client's parameter request list (option 55), possibly empty.
    pub parameter_request_list: &'a [u8],
    /// The size limit of the DHCP payload (see [`max_payload_len`]).
    pub max_len: usize,
}

impl Default for Reply<'_> {
    fn default() -> Self {
        Self {
            op: Op::Reply,
            htype: 1,
            chaddr: &[],
            hops: 0,
            xid: 0,
            secs: 0,
            broadcast: false,
            ciaddr: Ipv4Addr::UNSPECIFIED,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            siaddr: Ipv4Addr::UNSPECIFIED,
            giaddr: Ipv4Addr::UNSPECIFIED,
            sname: &[],
            file: &[],
            required: &[],
            optional: &[],
            parameter_request_list: &[],
            max_len: 576 - IP_UDP_HEADERS,
        }
    }
}

/// The most options one reply may carry (required and optional together).
pub const MAX_REPLY_OPTIONS: usize = 96;

/// Sort key: where the option goes on the wire (smaller first): 53 first,
/// then the client's request order, then the order given, 82 last.
fn rank(code: u8, index: usize, prl: &[u8]) -> u16 {
    match code {
        code::MESSAGE_TYPE => 0,
        code::RELAY_AGENT_INFO => u16::MAX,
        c => match prl.iter().position(|&p| p == c) {
            Some(at) => u16::try_from(at).map_or(u16::MAX - 1, |at| at.saturating_add(1)),
            None => u16::try_from(index).map_or(u16::MAX - 1, |i| i.saturating_add(1000)),
        },
    }
}

impl Reply<'_> {
    /// Writes the reply into `buf`; returns its length. Never writes past
    /// `buf` or past `max_len`; every byte up to the returned length is
    /// written by this call.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let limit = self.max_len.min(buf.len());
        if self.chaddr.len() > 16 || self.sname.len() > 63 || self.file.len() > 127 {
            return Err(Error::Unrepresentable);
        }
        let base = self.required.len();
        let total = base.saturating_add(self.optional.len());
        if total > MAX_REPLY_OPTIONS {
            return Err(Error::Unrepresentable);
        }
        let option = |index: usize| {
            if index < base {
                self.required.get(index)
            } else {
                self.optional.get(index.saturating_sub(base))
            }
        };

        // Rank every option once; (rank, index) pairs are unique.
        let mut order = [(0u16, 0u8); MAX_REPLY_OPTIONS];
        let order = order.get_mut(..total).ok_or(Error::Unrepresentable)?;
        for (index, slot) in order.iter_mut().enumerate() {
            let code = option(index).map_or(0, DhcpOption::code);
            let index_u8 = u8::try_from(index).map_err(|_| Error::Unrepresentable)?;
            *slot = (rank(code, index, self.parameter_request_list), index_u8);
        }
        sort_small(order);

        // Required options must fit; optional ones are taken, most wanted
        // first, while they fit.
        let required_len = self
            .required
            .iter()
            .fold(0usize, |n, o| n.saturating_add(o.wire_len()));
        let mut budget = limit
            .checked_sub(required_len.saturating_add(field::OPTIONS + 1))
            .ok_or(Error::BufferTooSmall)?;
        let mut chosen = [false; MAX_REPLY_OPTIONS];
        for &(_, index) in order.iter() {
            let index = usize::from(index);
            let Some(opt) = option(index) else { continue };
            let take = if index < base {
                true
            } else if opt.wire_len() <= budget {
                budget = budget.saturating_sub(opt.wire_len());
                true
            } else {
                false
            };
            if let Some(slot) = chosen.get_mut(index) {
                *slot = take;
            }
        }

        let buf = buf.get_mut(..limit).ok_or(Error::BufferTooSmall)?;
        let mut pos = self.write_header(buf)?;
        for &(_, index) in order.iter() {
            let index = usize::from(index);
            if chosen.get(index) == Some(&true) {
                if let Some(opt) = option(index) {
                    pos = opt.write(buf, pos)?;
                }
            }
        }
        let mut w = Writer::at(buf, pos);
        w.u8(code::END)?;
        let end = w.position();
        let padded = end.max(BOOTP_MIN_LEN.min(limit));
        w.zeros(padded.saturating_sub(end))?;
        Ok(padded)
    }

    fn write_header(&self, buf: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(buf);
        let hlen = u8::try_from(self.chaddr.len()).map_err(|_| Error::Unrepresentable)?;
        w.u8(self.op.into())?;
        w.u8(self.htype)?;
        w.u8(hlen)?;
        w.u8(self.hops)?;
        w.bytes(&self.xid.to_be_bytes())?;
        w.u16(self.secs)?;
        w.u16(if self.broadcast { FLAG_BROADCAST } else { 0 })?;
        for addr in [self.ciaddr, self.yiaddr, self.siaddr, self.giaddr] {
            w.bytes(&addr.octets())?;
        }
        for (value, size) in [(self.chaddr, 16usize), (self.sname, 64), (self.file, 128)] {
            w.bytes(value)?;
            w.zeros(size.saturating_sub(value.len()))?;
        }
        w.bytes(&MAGIC_COOKIE)?;
        Ok(w.position())
    }
}

/// Sorts a few dozen pairs (insertion sort): `sort_unstable` would add
/// 6.5 KiB of code to a firmware image for this one call.
fn sort_small(v: &mut [(u16, u8)]) {
    for i in 1..v.len() {
        let mut j = i;
        while let Some(k) = j.checked_sub(1) {
            match (v.get(k), v.get(j)) {
                (Some(a), Some(b)) if a > b => {
                    v.swap(k, j);
                    j = k;
                }
                _ => break,
            }
        }
    }
}
