/*! The DHCP server as a sans-IO state machine: full DHCP with PXE boot
options, or proxyDHCP beside a DHCP server awl does not control.

```text
handle(now, ingress, from, datagram)   one datagram received on port 67 or 4011
poll_transmit(now, buf)                -> Option<Transmit>: the next reply, written into buf
poll_timeout() / handle_timeout(now)   lease expiry
poll_event()                           -> Option<Event>: every decision, for logs and the lease journal
committed(seq)                         the lease journal holds everything up to `seq`
```

Replies follow RFC 2131 §4.3. Addressing (§4.1): to the relay (`giaddr`)
when there is one; a NAK is broadcast; to `ciaddr` when the client has an
address; otherwise broadcast, since a client without an address cannot be
reached by unicast without forging ARP (which a firmware stack cannot do).

With [`Config::hold_acks`], an ACK that binds a lease is held until the
driver has written the lease to stable storage and called
[`DhcpServer::committed`] with the [`Event::Bound`]'s `seq`: a crash never
loses a lease a client was told it has. The driver can batch one flush for
many clients.

Decisions the RFC leaves open, taken as dnsmasq does in authoritative mode:
an INIT-REBOOT request for a free address in the pool is granted even
without a record; for an address held by another client, or outside the
subnet, it is NAKed. A client the server has no record of, asking to renew
an address outside the subnet, gets silence.
*/

mod lease;
mod reply;

use core::net::{Ipv4Addr, SocketAddrV4};

use managed::ManagedSlice;

use lease::Table;
pub use lease::{pool_bitmap_len, ClientKey, Lease, LeaseSlot, LeaseState, MAX_POOLS};
use reply::Pending;

use crate::boot::{decide_for, BootConfig, BootDecision, ClientFacts};
use crate::time::{Duration, Instant};
use crate::wire::dhcp::{MessageType, Op, OptionData, Packet, CLIENT_PORT, PXE_PORT, SERVER_PORT};
use crate::wire::Mac;

/// Full DHCP server, or proxyDHCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Mode {
    /// The network's DHCP server: addresses and boot options.
    Full,
    /// Boot options only, to PXE clients, beside another DHCP server.
    Proxy,
}

/// A machine the inventory knows: a fixed address, or a boot override.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reservation<'a> {
    /// Its hardware address (ignored when `client_id` is set).
    pub mac: [u8; 6],
    /// Its client identifier (option 61: the type byte, then the
    /// identifier), for a client known by that rather than by its MAC;
    /// empty: matched by `mac`.
    pub client_id: &'a [u8],
    /// Its address (inside or outside the pool); `None`: from the pool.
    pub ip: Option<Ipv4Addr>,
    /// Whether it gets boot options (`false`: "netboot never").
    pub netboot: bool,
    /// A boot file or URL instead of the default one (empty: the default).
    pub boot_file: &'a str,
}

impl Reservation<'_> {
    /// Whether a client with this MAC and option 61 is this machine: by
    /// client identifier when the reservation names one, else by MAC.
    fn is_for(&self, mac: Option<[u8; 6]>, client_id: Option<OptionData<'_>>) -> bool {
        if self.client_id.is_empty() {
            mac == Some(self.mac)
        } else {
            client_id.is_some_and(|id| id.bytes().eq(self.client_id.iter().copied()))
        }
    }

    /// Whether a journalled lease is this machine's: by the same rule as
    /// [`Reservation::is_for`] (client identifier when the reservation
    /// names one, else MAC), so a machine known by option 61 gets its
    /// lease back after a restart.
    fn holds(&self, lease: &Lease) -> bool {
        if self.client_id.is_empty() {
            lease.mac == self.mac
        } else {
            lease.client == ClientKey::from_client_id(self.client_id)
        }
    }
}

/// Who a client says it is: what a [`Machines`] lookup is given.
#[derive(Debug, Clone, Copy)]
pub struct Who<'p> {
    /// Its hardware address (`chaddr`, when Ethernet-like).
    pub mac: Option<[u8; 6]>,
    /// Its client identifier (option 61).
    pub client_id: Option<OptionData<'p>>,
    /// Its SMBIOS UUID (option 97).
    pub uuid: Option<crate::wire::dhcp::pxe::Guid>,
}

impl Who<'_> {
    /// The identity a packet carries.
    pub fn of<'q>(packet: &'q Packet<&[u8]>) -> Who<'q> {
        Who {
            mac: packet.client_mac(),
            client_id: packet.client_id(),
            uuid: packet.client_guid(),
        }
    }
}

/// What the inventory says about one machine, for DHCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Machine<'a> {
    /// Its fixed address (inside or outside the pool); `None`: from the
    /// pool.
    pub ip: Option<Ipv4Addr>,
    /// Whether it gets boot options at all (`false`: an address only).
    pub netboot: bool,
    /// A boot file or URL instead of the default one (empty: the default).
    pub boot_file: &'a str,
}

/// The caller's inventory, asked per request (as [`crate::tftp::FileSource`]
/// is for files), so an edit reaches a running server at its next request.
/// A slice of [`Reservation`]s is one; the host's inventory is another.
pub trait Machines<'a> {
    /// The machine this client is, if the inventory knows it.
    fn lookup(&self, who: &Who<'_>) -> Option<Machine<'a>>;
    /// Whether `ip` is the fixed address of a machine other than `who`
    /// (called for each candidate address: keep it cheap).
    fn reserved_for_other(&self, ip: Ipv4Addr, who: &Who<'_>) -> bool;
    /// Whether a journalled lease is the fixed address of the machine it
    /// names (restored at start-up even outside the pool).
    fn holds(&self, lease: &Lease) -> bool;
}

impl<'a> Machines<'a> for &[Reservation<'a>] {
    fn lookup(&self, who: &Who<'_>) -> Option<Machine<'a>> {
        self.iter()
            .find(|r| r.is_for(who.mac, who.client_id))
            .map(|r| Machine {
                ip: r.ip,
                netboot: r.netboot,
                boot_file: r.boot_file,
            })
    }

    fn reserved_for_other(&self, ip: Ipv4Addr, who: &Who<'_>) -> bool {
        self.iter()
            .any(|r| r.ip == Some(ip) && !r.is_for(who.mac, who.client_id))
    }

    fn holds(&self, lease: &Lease) -> bool {
        self.iter()
            .any(|r| r.ip == Some(lease.ip) && r.holds(lease))
    }
}

/// No machine known.
const NO_MACHINES: &[Reservation<'static>] = &[];

/// One request's view of the inventory: the machine it is (looked up once)
/// and the lookup, for the addresses reserved for others.
struct Known<'m, 'a> {
    machine: Option<Machine<'a>>,
    machines: &'m dyn Machines<'a>,
}

impl<'a> Known<'_, 'a> {
    /// What this client boots: the policy, with the machine's own settings.
    fn boot(&self, facts: &ClientFacts, config: &BootConfig<'a>) -> BootDecision<'a> {
        match self.machine {
            Some(m) => decide_for(facts, config, m.netboot, m.boot_file),
            None => decide_for(facts, config, true, ""),
        }
    }
}

/// A subnet served through DHCP relay agents: a request whose `giaddr`
/// lies inside it gets an address from its pool, and its mask and routers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet<'a> {
    /// Its network address.
    pub network: Ipv4Addr,
    /// Its mask.
    pub mask: Ipv4Addr,
    /// First address handed out.
    pub pool_first: Ipv4Addr,
    /// Last address handed out.
    pub pool_last: Ipv4Addr,
    /// Routers (option 3); usually the relay's own address.
    pub routers: &'a [Ipv4Addr],
}

impl Subnet<'_> {
    fn contains(&self, ip: Ipv4Addr) -> bool {
        let mask = u32::from(self.mask);
        u32::from(ip) & mask == u32::from(self.network) & mask
    }
}

/// Server settings.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Config<'a> {
    /// This server's address (option 54, and the source of replies).
    pub server_ip: Ipv4Addr,
    /// Full or proxy.
    pub mode: Mode,
    /// The subnet's mask (option 1).
    pub subnet_mask: Ipv4Addr,
    /// First address handed out.
    pub pool_first: Ipv4Addr,
    /// Last address handed out.
    pub pool_last: Ipv4Addr,
    /// Routers (option 3).
    pub routers: &'a [Ipv4Addr],
    /// DNS servers (option 6).
    pub dns: &'a [Ipv4Addr],
    /// Domain name (option 15); empty: none.
    pub domain: &'a str,
    /// Lease time.
    pub lease_time: Duration,
    /// How long an offered address is held for the client's REQUEST.
    pub offer_hold: Duration,
    /// How long a declined address stays out of the pool.
    pub decline_hold: Duration,
    /// Boot files.
    pub boot: BootConfig<'a>,
    /// The link MTU (caps reply size with option 57).
    pub mtu: usize,
    /// Seed for the pool's starting point (so a restarted server does not
    /// hand out the same first address); tests fix it.
    pub random_seed: u64,
    /// Hold each binding ACK until [`DhcpServer::committed`] (a lease
    /// journal); off: send at once.
    pub hold_acks: bool,
    /// Further subnets, reached through relay agents (at most
    /// [`MAX_POOLS`]` - 1`; more are ignored). The local subnet is the
    /// one `server_ip`, `subnet_mask`, the pool and `routers` describe;
    /// DNS servers, domain and lease time are shared.
    pub relayed: &'a [Subnet<'a>],
}

impl Default for Config<'_> {
    fn default() -> Self {
        Self {
            server_ip: Ipv4Addr::UNSPECIFIED,
            mode: Mode::Full,
            subnet_mask: Ipv4Addr::new(255, 255, 255, 0),
            pool_first: Ipv4Addr::UNSPECIFIED,
            pool_last: Ipv4Addr::UNSPECIFIED,
            routers: &[],
            dns: &[],
            domain: "",
            lease_time: Duration::from_secs(3600),
            offer_hold: Duration::from_secs(60),
            decline_hold: Duration::from_secs(600),
            boot: BootConfig::default(),
            mtu: 1500,
            random_seed: 0,
            hold_acks: false,
            relayed: &[],
        }
    }
}

impl<'a> Config<'a> {
    /// Subnet `i`: 0 is the local one, then the relayed ones.
    pub(crate) fn subnet(&self, i: usize) -> Subnet<'a> {
        match i.checked_sub(1).and_then(|r| self.relayed.get(r)) {
            Some(s) => *s,
            None => Subnet {
                network: Ipv4Addr::from(u32::from(self.server_ip) & u32::from(self.subnet_mask)),
                mask: self.subnet_mask,
                pool_first: self.pool_first,
                pool_last: self.pool_last,
                routers: self.routers,
            },
        }
    }

    fn subnets(&self) -> impl Iterator<Item = Subnet<'a>> + '_ {
        (0..=self.relayed.len().min(MAX_POOLS.saturating_sub(1))).map(|i| self.subnet(i))
    }

    /// Which subnet a request belongs to: the local one when it was not
    /// relayed, else the one holding `giaddr` (`None`: not served).
    fn subnet_of(&self, giaddr: Ipv4Addr) -> Option<usize> {
        if giaddr.is_unspecified() {
            return Some(0);
        }
        self.subnets().position(|s| s.contains(giaddr))
    }

    /// Bytes of pool bitmap all the pools need.
    pub fn pool_bitmap_len(&self) -> usize {
        self.subnets()
            .map(|s| pool_bitmap_len(s.pool_first, s.pool_last))
            .fold(0usize, usize::saturating_add)
    }
}

/// A datagram to send from UDP port `src_port` to `dst`, the first `len`
/// bytes of the buffer given to [`DhcpServer::poll_transmit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// Destination (255.255.255.255 for a broadcast).
    pub dst: SocketAddrV4,
    /// Our port: 67, or 4011 for proxyDHCP boot server replies.
    pub src_port: u16,
    /// Bytes written.
    pub len: usize,
}

/// Something worth a log line (every decision), or the lease journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event<'a> {
    /// An address (and boot options) offered.
    Offered {
        /// Client.
        mac: [u8; 6],
        /// Address offered (0.0.0.0 from a proxy).
        ip: Ipv4Addr,
        /// What the request said about its firmware.
        facts: ClientFacts,
        /// What it was told to boot.
        boot: BootDecision<'a>,
        /// Its SMBIOS UUID (option 97), when it sent one.
        uuid: Option<crate::wire::dhcp::pxe::Guid>,
        /// Whether the inventory knew it ([`Machines::lookup`]): an
        /// unknown machine is one to discover.
        known: bool,
    },
    /// A lease was bound: write it to the journal, then call
    /// [`DhcpServer::committed`] with `seq` when `hold_acks` is set.
    Bound {
        /// The lease.
        lease: Lease,
        /// What it was told to boot.
        boot: BootDecision<'a>,
        /// Journal sequence number.
        seq: u64,
    },
    /// A proxyDHCP boot server (port 4011) ACK.
    BootAck {
        /// Client.
        mac: [u8; 6],
        /// What it was told to boot.
        boot: BootDecision<'a>,
    },
    /// A NAK.
    Nak {
        /// Client.
        mac: [u8; 6],
        /// The address it asked for.
        requested: Ipv4Addr,
        /// Why.
        reason: &'static str,
    },
    /// A client released its lease (journal: remove it).
    Released {
        /// The lease that ended.
        lease: Lease,
    },
    /// A client declined an address (in use on the wire); it is kept out
    /// of the pool for a while.
    Declined {
        /// Client.
        mac: [u8; 6],
        /// Address.
        ip: Ipv4Addr,
    },
    /// No address left for a new client (no offer sent).
    PoolExhausted {
        /// Client.
        mac: [u8; 6],
    },
    /// A datagram was not answered.
    Ignored {
        /// Client, when known.
        mac: Option<[u8; 6]>,
        /// Why.
        reason: &'static str,
    },
}

/// One line per event, the client's MAC first, as both drivers log it
/// (after `dhcp: `): `52:54:00:aa:71:01 offer 10.77.71.1 (x86 BIOS,
/// iPXE): boot tftp://10.77.71.1/boot.ipxe`. A proxyDHCP offer (no
/// address) reads `proxy offer (..): ..`.
impl core::fmt::Display for Event<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Offered {
                mac,
                ip,
                facts,
                boot,
                ..
            } if ip.is_unspecified() => write!(f, "{} proxy offer ({facts}): {boot}", Mac(*mac)),
            Self::Offered {
                mac,
                ip,
                facts,
                boot,
                ..
            } => write!(f, "{} offer {ip} ({facts}): {boot}", Mac(*mac)),
            Self::Bound { lease, boot, .. } => {
                write!(f, "{} ack {}: {boot}", Mac(lease.mac), lease.ip)
            }
            Self::BootAck { mac, boot } => write!(f, "{} boot server ack: {boot}", Mac(*mac)),
            Self::Nak {
                mac,
                requested,
                reason,
            } => write!(f, "{} nak {requested}: {reason}", Mac(*mac)),
            Self::Released { lease } => write!(f, "{} released {}", Mac(lease.mac), lease.ip),
            Self::Declined { mac, ip } => write!(
                f,
                "{} declined {ip}: address in use on the network",
                Mac(*mac)
            ),
            Self::PoolExhausted { mac } => write!(f, "{} no offer: pool exhausted", Mac(*mac)),
            Self::Ignored {
                mac: Some(mac),
                reason,
            } => write!(f, "{} ignored: {reason}", Mac(*mac)),
            Self::Ignored { mac: None, reason } => write!(f, "ignored: {reason}"),
        }
    }
}

/// Replies waiting to be sent (or for the journal), by default.
pub const REPLIES: usize = 32;
/// Events waiting for the driver, by default. A request is refused (the
/// client retries) while fewer than `RESERVE` places are free, so no event
/// (a `Bound` above all) is ever dropped.
pub const EVENTS: usize = 64;
const RESERVE: usize = 4;

/// The DHCP server. `Q` replies (about 0.5 KiB each) and `E` events may
/// wait for the driver: a board that polls after every datagram needs
/// few (`DhcpServer<'a, 4, 16>`); `E` must be above 4.
pub struct DhcpServer<'a, const Q: usize = REPLIES, const E: usize = EVENTS> {
    config: Config<'a>,
    table: Table<'a>,
    replies: heapless::Vec<Pending<'a>, Q>,
    /// Requests refused because the driver was behind (queues full).
    busy: u64,
    events: heapless::Deque<Event<'a>, E>,
    next_seq: u64,
    committed: u64,
}

/// Which port a datagram arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Ingress {
    /// Port 67.
    Dhcp,
    /// Port 4011 (PXE boot server requests).
    Pxe,
}

impl<'a> DhcpServer<'a> {
    /// A server with a lease table of `leases.len()` slots, a pool
    /// bitmap of [`Config::pool_bitmap_len`] bytes, and the default queues
    /// ([`REPLIES`], [`EVENTS`]).
    pub fn new(
        config: Config<'a>,
        leases: impl Into<ManagedSlice<'a, LeaseSlot>>,
        pool_bitmap: impl Into<ManagedSlice<'a, u8>>,
    ) -> Self {
        Self::with_queues(config, leases, pool_bitmap)
    }
}

impl<'a, const Q: usize, const E: usize> DhcpServer<'a, Q, E> {
    /// As [`DhcpServer::new`], with queues of `Q` replies and `E` events.
    pub fn with_queues(
        config: Config<'a>,
        leases: impl Into<ManagedSlice<'a, LeaseSlot>>,
        pool_bitmap: impl Into<ManagedSlice<'a, u8>>,
    ) -> Self {
        let start = (config.random_seed ^ (config.random_seed >> 29)) as u32;
        let mut pools: heapless::Vec<(Ipv4Addr, Ipv4Addr), MAX_POOLS> = heapless::Vec::new();
        for s in config.subnets() {
            let _ = pools.push((s.pool_first, s.pool_last));
        }
        Self {
            table: Table::new(leases.into(), pool_bitmap.into(), &pools, start),
            config,
            replies: heapless::Vec::new(),
            busy: 0,
            events: heapless::Deque::new(),
            next_seq: 1,
            committed: 0,
        }
    }

    /// The settings.
    pub fn config(&self) -> &Config<'a> {
        &self.config
    }

    /// How many clients the lease table can remember.
    pub fn capacity(&self) -> usize {
        self.table.capacity()
    }

    /// The leases the server holds (offered, bound, quarantined).
    pub fn leases(&self) -> impl Iterator<Item = &Lease> + '_ {
        self.table.iter()
    }

    /// Restores a lease from the journal at start-up; false when it does
    /// not fit (table full) or lies outside the pool (no machine is known:
    /// see [`DhcpServer::restore_with`]).
    pub fn restore(&mut self, now: Instant, lease: Lease) -> bool {
        self.restore_with(now, lease, &NO_MACHINES)
    }

    /// [`DhcpServer::restore`], with the caller's inventory.
    pub fn restore_with(
        &mut self,
        now: Instant,
        lease: Lease,
        machines: &dyn Machines<'a>,
    ) -> bool {
        let reserved = machines.holds(&lease);
        if lease.expires <= now || !(self.table.in_pool(lease.ip) || reserved) {
            return false;
        }
        if self
            .table
            .find_ip(lease.ip)
            .is_some_and(|s| self.table.get(s).is_some_and(|l| l.client != lease.client))
        {
            return false;
        }
        self.table.insert(now, lease).is_some()
    }

    /// The lease journal holds every [`Event::Bound`] up to `seq`: held
    /// ACKs up to it may go out.
    pub fn committed(&mut self, seq: u64) {
        self.committed = self.committed.max(seq);
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event<'a>> {
        self.events.pop_front()
    }

    fn event(&mut self, event: Event<'a>) {
        // `handle` keeps RESERVE places free, so this only drops an event
        // when the driver reads none at all, and then the oldest log line.
        if self.events.is_full() {
            self.events.pop_front();
        }
        let _ = self.events.push_back(event);
    }

    /// Replies waiting for the journal ([`Config::hold_acks`]): a driver
    /// that batches journal syncs syncs early when this grows.
    pub fn held(&self) -> usize {
        let committed = self.committed;
        self.replies
            .iter()
            .filter(|p| p.hold_until.is_some_and(|seq| seq > committed))
            .count()
    }

    /// Requests refused so far because the driver had not yet taken the
    /// replies or events of earlier ones (the clients retry).
    pub fn busy_refusals(&self) -> u64 {
        self.busy
    }

    /// When lapsed leases must next be swept.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.table.earliest_expiry()
    }

    /// Frees lapsed leases and offers.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.table.expire(now);
    }

    /// Feeds one datagram received on `ingress` from `from`, with no
    /// machine known (every client is served from the pool, with the
    /// default boot files): see [`DhcpServer::handle_with`].
    pub fn handle(&mut self, now: Instant, ingress: Ingress, from: SocketAddrV4, datagram: &[u8]) {
        self.handle_with(now, ingress, from, datagram, &NO_MACHINES);
    }

    /// Feeds one datagram received on `ingress` from `from`, asking
    /// `machines` who the client is.
    pub fn handle_with(
        &mut self,
        now: Instant,
        ingress: Ingress,
        from: SocketAddrV4,
        datagram: &[u8],
        machines: &dyn Machines<'a>,
    ) {
        // Refuse before changing any state while the driver is behind: a
        // dropped request is retried by its client; a dropped reply or
        // journal event would not be.
        if self.replies.is_full() || self.events.len().saturating_add(RESERVE) > E {
            self.busy = self.busy.saturating_add(1);
            return;
        }
        let Ok(packet) = Packet::new_checked(datagram) else {
            return self.event(Event::Ignored {
                mac: None,
                reason: "malformed DHCP datagram",
            });
        };
        let mac = packet.client_mac();
        if packet.op() != Op::Request {
            return self.event(Event::Ignored {
                mac,
                reason: "not a BOOTREQUEST",
            });
        }
        if packet.hops() > 16 {
            return self.event(Event::Ignored {
                mac,
                reason: "more than 16 relay hops",
            });
        }
        let Some(subnet) = self.config.subnet_of(packet.giaddr()) else {
            return self.event(Event::Ignored {
                mac,
                reason: "relayed from a subnet this server does not serve",
            });
        };
        if let Some(to) = self.unicast_target(ingress, &packet, from) {
            if !self.config.subnets().any(|s| s.contains(to)) {
                // A forged ciaddr or source would aim the reply at a host
                // anywhere: only addresses of served subnets get one.
                return self.event(Event::Ignored {
                    mac,
                    reason: "the reply would go to an address outside every served subnet",
                });
            }
        }
        let Some(kind) = packet.message_type() else {
            return self.event(Event::Ignored {
                mac,
                reason: "BOOTP request without a DHCP message type",
            });
        };
        self.table.expire(now);
        let known = Known {
            machine: machines.lookup(&Who::of(&packet)),
            machines,
        };
        match (self.config.mode, ingress, kind) {
            (_, Ingress::Pxe, MessageType::Request | MessageType::Inform) => {
                self.boot_server_ack(&packet, from, &known)
            }
            (_, Ingress::Pxe, _) => self.event(Event::Ignored {
                mac,
                reason: "only REQUESTs are answered on port 4011",
            }),
            (Mode::Proxy, Ingress::Dhcp, MessageType::Discover) => {
                self.proxy_offer(&packet, &known)
            }
            (Mode::Proxy, Ingress::Dhcp, _) => self.event(Event::Ignored {
                mac,
                reason: "proxy mode: the network's DHCP server answers this",
            }),
            (Mode::Full, _, MessageType::Discover) => self.discover(now, &packet, subnet, &known),
            (Mode::Full, _, MessageType::Request) => self.request(now, &packet, subnet, &known),
            (Mode::Full, _, MessageType::Decline) => self.decline(now, &packet),
            (Mode::Full, _, MessageType::Release) => self.release(&packet),
            (Mode::Full, _, MessageType::Inform) => self.inform(&packet, subnet, &known),
            (Mode::Full, _, _) => self.event(Event::Ignored {
                mac,
                reason: "not a client message",
            }),
        }
    }

    /// Where a reply to a request that came without a relay would be
    /// unicast (`ciaddr`, or the source on port 4011), in full mode;
    /// `None` when it is broadcast, goes to the relay, or awl is a proxy
    /// (whose clients' subnets it does not know).
    fn unicast_target(
        &self,
        ingress: Ingress,
        packet: &Packet<&[u8]>,
        from: SocketAddrV4,
    ) -> Option<Ipv4Addr> {
        if self.config.mode != Mode::Full || !packet.giaddr().is_unspecified() {
            return None;
        }
        let to = match ingress {
            Ingress::Pxe => *from.ip(),
            Ingress::Dhcp => packet.ciaddr(),
        };
        (!to.is_unspecified() && !to.is_broadcast()).then_some(to)
    }

    fn client_key(packet: &Packet<&[u8]>) -> ClientKey {
        match packet.client_id().and_then(|c| c.contiguous()) {
            Some(id) => ClientKey::from_client_id(id),
            None => ClientKey::from_mac(packet.htype(), packet.chaddr()),
        }
    }

    /// Records a lease for `duration`; when the table has no room, says so
    /// (an event) and returns `None`.
    fn store(
        &mut self,
        now: Instant,
        client: ClientKey,
        mac: Option<[u8; 6]>,
        ip: Ipv4Addr,
        state: LeaseState,
        duration: Duration,
    ) -> Option<Lease> {
        let lease = Lease {
            client,
            mac: mac.unwrap_or_default(),
            ip,
            state,
            expires: now + duration,
        };
        if self.table.insert(now, lease).is_none() {
            self.event(Event::PoolExhausted { mac: lease.mac });
            return None;
        }
        Some(lease)
    }

    fn queue(&mut self, pending: Pending<'a>) {
        if self.replies.push(pending).is_err() {
            self.event(Event::Ignored {
                mac: None,
                reason: "reply queue full: the client will retry",
            });
        }
    }

    /// An address for this client: its lease, its reservation, the one it
    /// asks for if free, or the next free one in the pool.
    fn choose_address(
        &mut self,
        packet: &Packet<&[u8]>,
        client: &ClientKey,
        subnet: usize,
        known: &Known<'_, 'a>,
    ) -> Option<Ipv4Addr> {
        let who = Who::of(packet);
        let net = self.config.subnet(subnet);
        if let Some(ip) = known.machine.and_then(|m| m.ip) {
            return Some(ip);
        }
        if let Some(lease) = self
            .table
            .find_client(client)
            .and_then(|s| self.table.get(s))
            // Outside the pool, a lease stands only while it is this
            // machine's reservation (handled above): one whose
            // reservation was removed gets a pool address.
            .filter(|l| net.contains(l.ip) && self.table.in_pool(l.ip))
        {
            return Some(lease.ip);
        }
        let server = self.config.server_ip;
        if let Some(ip) = packet.requested_ip() {
            if self.table.in_pool(ip)
                && net.contains(ip)
                && !self.table.pool_used(ip)
                && ip != server
                && !known.machines.reserved_for_other(ip, &who)
            {
                return Some(ip);
            }
        }
        self.table.next_free(subnet, |ip| {
            ip == server || known.machines.reserved_for_other(ip, &who)
        })
    }

    fn discover(
        &mut self,
        now: Instant,
        packet: &Packet<&[u8]>,
        subnet: usize,
        known: &Known<'_, 'a>,
    ) {
        let mac = packet.client_mac();
        let client = Self::client_key(packet);
        let Some(ip) = self.choose_address(packet, &client, subnet, known) else {
            return self.event(Event::PoolExhausted {
                mac: mac.unwrap_or_default(),
            });
        };
        let already_bound = self
            .table
            .find_client(&client)
            .and_then(|s| self.table.get(s))
            .is_some_and(|l| l.state == LeaseState::Bound && l.ip == ip);
        let hold = self.config.offer_hold;
        if !already_bound
            && self
                .store(now, client, mac, ip, LeaseState::Offered, hold)
                .is_none()
        {
            return;
        }
        let facts = ClientFacts::of(packet);
        let boot = known.boot(&facts, &self.config.boot);
        self.event(Event::Offered {
            mac: mac.unwrap_or_default(),
            ip,
            facts,
            boot,
            uuid: packet.client_guid(),
            known: known.machine.is_some(),
        });
        let mut pending =
            Pending::reply(&self.config, packet, MessageType::Offer, ip, boot, &facts);
        pending.subnet = subnet;
        self.queue(pending);
    }

    fn request(
        &mut self,
        now: Instant,
        packet: &Packet<&[u8]>,
        subnet: usize,
        known: &Known<'_, 'a>,
    ) {
        let net = self.config.subnet(subnet);
        let mac = packet.client_mac();
        let client = Self::client_key(packet);
        let slot = self.table.find_client(&client);
        let lease = slot.and_then(|s| self.table.get(s)).copied();
        let ciaddr = packet.ciaddr();
        let (wanted, selecting) = match (packet.server_id(), packet.requested_ip()) {
            // SELECTING: answering an OFFER.
            (Some(server), requested) => {
                if server != self.config.server_ip {
                    // It chose another server: let our offer go.
                    if let (Some(s), Some(l)) = (slot, lease) {
                        if l.state == LeaseState::Offered {
                            self.table.remove(s);
                        }
                    }
                    return self.event(Event::Ignored {
                        mac,
                        reason: "client chose another DHCP server",
                    });
                }
                (requested.unwrap_or(ciaddr), true)
            }
            // INIT-REBOOT.
            (None, Some(requested)) if ciaddr.is_unspecified() => (requested, false),
            // RENEWING / REBINDING.
            (None, _) if !ciaddr.is_unspecified() => (ciaddr, false),
            _ => return self.nak(packet, Ipv4Addr::UNSPECIFIED, "REQUEST names no address"),
        };
        let ours = lease.is_some_and(|l| l.ip == wanted && l.state != LeaseState::Declined)
            && net.contains(wanted)
            && self.table.in_pool(wanted);
        let reserved = known.machine.and_then(|m| m.ip) == Some(wanted);
        let grantable = ours
            || reserved
            || (!selecting
                && self.table.in_pool(wanted)
                && net.contains(wanted)
                && !self.table.pool_used(wanted)
                && wanted != self.config.server_ip
                && !known.machines.reserved_for_other(wanted, &Who::of(packet)));
        if !grantable {
            if !net.contains(wanted) && lease.is_none() && !selecting && !ciaddr.is_unspecified() {
                return self.event(Event::Ignored {
                    mac,
                    reason: "renewal of an address from another network",
                });
            }
            let reason = if !net.contains(wanted) {
                "address is not on this network"
            } else if selecting {
                "no matching offer"
            } else {
                "address belongs to another client or is not in the pool"
            };
            return self.nak(packet, wanted, reason);
        }
        let lease_time = self.config.lease_time;
        let Some(bound) = self.store(now, client, mac, wanted, LeaseState::Bound, lease_time)
        else {
            return;
        };
        let facts = ClientFacts::of(packet);
        let boot = known.boot(&facts, &self.config.boot);
        let seq = self.next_seq;
        self.next_seq = self.next_seq.saturating_add(1);
        self.event(Event::Bound {
            lease: bound,
            boot,
            seq,
        });
        let mut pending =
            Pending::reply(&self.config, packet, MessageType::Ack, wanted, boot, &facts);
        pending.subnet = subnet;
        if self.config.hold_acks {
            pending.hold_until = Some(seq);
        }
        self.queue(pending);
    }

    fn nak(&mut self, packet: &Packet<&[u8]>, requested: Ipv4Addr, reason: &'static str) {
        self.event(Event::Nak {
            mac: packet.client_mac().unwrap_or_default(),
            requested,
            reason,
        });
        let pending = Pending::nak(&self.config, packet, reason);
        self.queue(pending);
    }

    fn decline(&mut self, now: Instant, packet: &Packet<&[u8]>) {
        let mac = packet.client_mac();
        let client = Self::client_key(packet);
        let Some(ip) = packet.requested_ip() else {
            return self.event(Event::Ignored {
                mac,
                reason: "DECLINE without an address",
            });
        };
        let Some(slot) = self
            .table
            .find_client(&client)
            .filter(|&s| self.table.get(s).is_some_and(|l| l.ip == ip))
        else {
            return self.event(Event::Ignored {
                mac,
                reason: "DECLINE of an address the client does not hold",
            });
        };
        self.table
            .set_state(slot, LeaseState::Declined, now + self.config.decline_hold);
        self.event(Event::Declined {
            mac: mac.unwrap_or_default(),
            ip,
        });
    }

    fn release(&mut self, packet: &Packet<&[u8]>) {
        let client = Self::client_key(packet);
        let ip = packet.ciaddr();
        match self
            .table
            .find_client(&client)
            .filter(|&s| self.table.get(s).is_some_and(|l| l.ip == ip))
        {
            Some(slot) => {
                if let Some(lease) = self.table.remove(slot) {
                    self.event(Event::Released { lease });
                }
            }
            None => self.event(Event::Ignored {
                mac: packet.client_mac(),
                reason: "RELEASE of an address the client does not hold",
            }),
        }
    }

    fn inform(&mut self, packet: &Packet<&[u8]>, subnet: usize, known: &Known<'_, 'a>) {
        if packet.ciaddr().is_unspecified() {
            return self.event(Event::Ignored {
                mac: packet.client_mac(),
                reason: "INFORM without ciaddr",
            });
        }
        let facts = ClientFacts::of(packet);
        let boot = known.boot(&facts, &self.config.boot);
        let mut pending = Pending::reply(
            &self.config,
            packet,
            MessageType::Ack,
            Ipv4Addr::UNSPECIFIED,
            boot,
            &facts,
        );
        pending.lease = false;
        pending.subnet = subnet;
        self.queue(pending);
    }

    /// proxyDHCP: boot options to a PXE client's DISCOVER, no address.
    fn proxy_offer(&mut self, packet: &Packet<&[u8]>, known: &Known<'_, 'a>) {
        let mac = packet.client_mac();
        let facts = ClientFacts::of(packet);
        if !facts.netboot {
            return self.event(Event::Ignored {
                mac,
                reason: "proxy mode: not a network-boot client",
            });
        }
        let boot = known.boot(&facts, &self.config.boot);
        if boot == BootDecision::None {
            return self.event(Event::Ignored {
                mac,
                reason: "proxy mode: nothing to boot for this client",
            });
        }
        self.event(Event::Offered {
            mac: mac.unwrap_or_default(),
            ip: Ipv4Addr::UNSPECIFIED,
            facts,
            boot,
            uuid: packet.client_guid(),
            known: known.machine.is_some(),
        });
        let pending = Pending::boot_only(&self.config, packet, MessageType::Offer, boot, &facts);
        self.queue(pending);
    }

    /// A REQUEST to port 4011 (PXE boot server discovery): an ACK with the
    /// boot file, straight back to where it came from.
    fn boot_server_ack(
        &mut self,
        packet: &Packet<&[u8]>,
        from: SocketAddrV4,
        known: &Known<'_, 'a>,
    ) {
        let mac = packet.client_mac();
        let facts = ClientFacts::of(packet);
        let boot = known.boot(&facts, &self.config.boot);
        if boot == BootDecision::None {
            return self.event(Event::Ignored {
                mac,
                reason: "boot server: nothing to boot for this client",
            });
        }
        self.event(Event::BootAck {
            mac: mac.unwrap_or_default(),
            boot,
        });
        let mut pending = Pending::boot_only(&self.config, packet, MessageType::Ack, boot, &facts);
        pending.dst = if from.ip().is_unspecified() {
            SocketAddrV4::new(Ipv4Addr::BROADCAST, CLIENT_PORT)
        } else {
            from
        };
        pending.src_port = PXE_PORT;
        self.queue(pending);
    }

    /// The next reply, written into `buf` (at least 576 bytes; a larger
    /// buffer allows larger replies where the client accepts them).
    pub fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        loop {
            // The first reply that may go: an ACK held for the journal does
            // not hold back the replies behind it.
            let committed = self.committed;
            let ready = self
                .replies
                .iter()
                .position(|p| p.hold_until.is_none_or(|seq| seq <= committed))?;
            let pending = self.replies.remove(ready);
            match pending.emit(&self.config, buf) {
                Ok(len) => {
                    return Some(Transmit {
                        dst: pending.dst,
                        src_port: pending.src_port,
                        len,
                    })
                }
                Err(_) => self.event(Event::Ignored {
                    mac: None,
                    reason: "reply did not fit the client's size limit",
                }),
            }
        }
    }
}

/// Where a reply goes (RFC 2131 §4.1).
fn destination(packet: &Packet<&[u8]>, nak: bool) -> SocketAddrV4 {
    let giaddr = packet.giaddr();
    if !giaddr.is_unspecified() {
        SocketAddrV4::new(giaddr, SERVER_PORT)
    } else if nak || packet.ciaddr().is_unspecified() {
        SocketAddrV4::new(Ipv4Addr::BROADCAST, CLIENT_PORT)
    } else {
        SocketAddrV4::new(packet.ciaddr(), CLIENT_PORT)
    }
}

#[cfg(test)]
mod tests;
