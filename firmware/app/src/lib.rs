/*! awl's appliance: the board-independent half of the firmware. It owns a
smoltcp [`Interface`] and [`SocketSet`] in static storage ([`Resources`])
and, on every [`Appliance::poll`], moves datagrams between smoltcp's UDP
sockets and `awl-core`'s sans-IO DHCP and TFTP servers.

```text
board main                                   Appliance::poll(now, device)
  resources!() (bss, no heap)                  iface.poll(now, device, sockets)
  clock (SysTick, ms)                          DHCP  :67 / :4011  <-> DhcpServer
  Device (LAN9118 / stm32-eth)                 TFTP  :69 + one port per transfer <-> TftpServer
  Log sink (UART / defmt)                      HTTP  :80 (TCP) -> http::serve (hook)
  loop { if !poll() { wfi } }                  every core event -> one log line
```

Sockets hold one outgoing datagram each; a server is asked for its next
datagram only when the socket it goes out of is empty, so the core never
hands over a datagram that smoltcp would then drop. Capacities are the
constants in [`capacity`].
*/
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod capacity;
pub mod files;
pub mod http;
pub mod log;
pub mod packed;

use core::net::{SocketAddr, SocketAddrV4};

use awl_core::boot::BootConfig;
use awl_core::dhcp::{self, DhcpServer, Ingress};
use awl_core::tftp::{self, Local, TftpServer, TransferId};
use awl_core::time::{Duration as CoreDuration, Instant as CoreInstant};
use awl_core::wire::dhcp::{PXE_PORT, SERVER_PORT};
use smoltcp::iface::{Config as IfaceConfig, Interface, SocketHandle, SocketSet, SocketStorage};
use smoltcp::phy::Device;
use smoltcp::socket::{tcp, udp};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, IpEndpoint, Ipv4Cidr};

use crate::capacity::{
    DHCP_RX_DATAGRAMS, HTTP_CONNECTIONS, HTTP_RX_BYTES, HTTP_TX_BYTES, LEASES, POOL_BITMAP,
    TFTP_MAX_BLKSIZE, TFTP_MAX_WINDOWSIZE, TRANSFERS, UDP_MAX_PAYLOAD,
};
use crate::files::FlashFiles;
use crate::log::{Log, Mac};
use crate::packed::{DhcpMode, Packed};

/// Sockets in the set: DHCP (67), PXE (4011), TFTP (69), one per transfer,
/// one per HTTP connection.
pub const SOCKETS: usize = 3 + TRANSFERS + HTTP_CONNECTIONS + 1;

/// The TFTP port.
pub const TFTP_PORT: u16 = 69;
/// The HTTP port.
pub const HTTP_PORT: u16 = 80;

/// Receive buffer bytes and datagrams of each UDP socket; each sends one
/// datagram of up to [`UDP_MAX_PAYLOAD`] bytes at a time (the listener on 69
/// only refusals).
const DHCP_RX: usize = 2048;
const PXE_RX: usize = 1024;
const PXE_RX_DATAGRAMS: usize = 2;
const TFTP_RX: usize = 1024;
const TFTP_RX_DATAGRAMS: usize = 4;
const TFTP_TX: usize = 256;
/// A transfer's socket receives ACKs (and a client's ERROR).
const TRANSFER_RX: usize = 256;
const TRANSFER_RX_DATAGRAMS: usize = 4;
/// The socket that answers 503 while every HTTP connection is taken: it
/// reads nothing it needs and sends one short response.
const REFUSAL_RX: usize = 128;
const REFUSAL_TX: usize = awl_core::http::ERROR_RESPONSE_MAX;
/// Packet metadata slots of all UDP sockets.
#[doc(hidden)]
pub const METAS: usize = DHCP_RX_DATAGRAMS
    + 1
    + PXE_RX_DATAGRAMS
    + 1
    + TFTP_RX_DATAGRAMS
    + 1
    + TRANSFERS * (TRANSFER_RX_DATAGRAMS + 1);

/// The byte buffers of every socket and the pool bitmap: all zeroes, so a
/// `static` of it lands in `.bss` (RAM only) with a `const` initialiser.
pub struct Buffers {
    pool: [u8; POOL_BITMAP],
    dhcp_rx: [u8; DHCP_RX],
    dhcp_tx: [u8; UDP_MAX_PAYLOAD],
    pxe_rx: [u8; PXE_RX],
    pxe_tx: [u8; UDP_MAX_PAYLOAD],
    tftp_rx: [u8; TFTP_RX],
    tftp_tx: [u8; TFTP_TX],
    transfer_rx: [[u8; TRANSFER_RX]; TRANSFERS],
    transfer_tx: [[u8; UDP_MAX_PAYLOAD]; TRANSFERS],
    http_rx: [[u8; HTTP_RX_BYTES]; HTTP_CONNECTIONS],
    http_tx: [[u8; HTTP_TX_BYTES]; HTTP_CONNECTIONS],
    refusal_rx: [u8; REFUSAL_RX],
    refusal_tx: [u8; REFUSAL_TX],
}

impl Buffers {
    /// All zeroes.
    pub const fn new() -> Self {
        Self {
            pool: [0; POOL_BITMAP],
            dhcp_rx: [0; DHCP_RX],
            dhcp_tx: [0; UDP_MAX_PAYLOAD],
            pxe_rx: [0; PXE_RX],
            pxe_tx: [0; UDP_MAX_PAYLOAD],
            tftp_rx: [0; TFTP_RX],
            tftp_tx: [0; TFTP_TX],
            transfer_rx: [[0; TRANSFER_RX]; TRANSFERS],
            transfer_tx: [[0; UDP_MAX_PAYLOAD]; TRANSFERS],
            http_rx: [[0; HTTP_RX_BYTES]; HTTP_CONNECTIONS],
            http_tx: [[0; HTTP_TX_BYTES]; HTTP_CONNECTIONS],
            refusal_rx: [0; REFUSAL_RX],
            refusal_tx: [0; REFUSAL_TX],
        }
    }
}

impl Default for Buffers {
    fn default() -> Self {
        Self::new()
    }
}

/// The rest of the appliance's storage: slots whose empty value is not all
/// zeroes (smoltcp's socket and packet metadata slots, the core's lease and
/// transfer slots have non-zero niches), so each array is filled at
/// start-up (see [`resources!`]) rather than copied from flash.
pub struct Slots {
    /// The socket set.
    pub sockets: &'static mut [SocketStorage<'static>; SOCKETS],
    /// UDP packet metadata.
    pub metas: &'static mut [udp::PacketMetadata; METAS],
    /// The DHCP lease table.
    pub leases: &'static mut [LeaseSlot; LEASES],
    /// The TFTP transfer table.
    pub transfers: &'static mut [Option<Transfer<u16>>; TRANSFERS],
}

/// Everything the appliance stores, sized by [`capacity`]; made once by
/// [`resources!`].
pub struct Resources {
    /// Byte buffers (`.bss`).
    pub buffers: &'static mut Buffers,
    /// Slots (`.bss`, filled at start-up).
    pub slots: Slots,
}

#[doc(hidden)]
pub use smoltcp as __smoltcp;
#[doc(hidden)]
pub use static_cell as __static_cell;

/// The appliance's storage in `static`s, handed out once: `.bss` only, no
/// heap, no `.data` (flash). Returns `None` when called a second time.
/// Each slot array is built by a loop straight into its static, never as a
/// whole value on the stack.
#[macro_export]
macro_rules! resources {
    () => {{
        use $crate::__static_cell::{ConstStaticCell, StaticCell};
        static BUFFERS: ConstStaticCell<$crate::Buffers> =
            ConstStaticCell::new($crate::Buffers::new());
        static SOCKETS: StaticCell<
            [$crate::__smoltcp::iface::SocketStorage<'static>; $crate::SOCKETS],
        > = StaticCell::new();
        static METAS: StaticCell<[$crate::__smoltcp::socket::udp::PacketMetadata; $crate::METAS]> =
            StaticCell::new();
        // `LeaseSlot::EMPTY` is all zero bytes: a const initialiser keeps
        // the table in `.bss` and never builds it on the stack.
        static LEASES: ConstStaticCell<[$crate::LeaseSlot; $crate::capacity::LEASES]> =
            ConstStaticCell::new([$crate::LeaseSlot::EMPTY; $crate::capacity::LEASES]);
        static TRANSFERS: StaticCell<[Option<$crate::Transfer<u16>>; $crate::capacity::TRANSFERS]> =
            StaticCell::new();
        match (BUFFERS.try_take(), LEASES.try_take()) {
            (Some(buffers), Some(leases)) => Some($crate::Resources {
                buffers,
                slots: $crate::Slots {
                    sockets: SOCKETS.init_with(|| {
                        [$crate::__smoltcp::iface::SocketStorage::EMPTY; $crate::SOCKETS]
                    }),
                    metas: METAS.init_with(|| {
                        [$crate::__smoltcp::socket::udp::PacketMetadata::EMPTY; $crate::METAS]
                    }),
                    leases,
                    transfers: TRANSFERS
                        .init_with(|| [const { None }; $crate::capacity::TRANSFERS]),
                },
            }),
            _ => None,
        }
    }};
}

#[doc(hidden)]
pub use awl_core::dhcp::LeaseSlot;
#[doc(hidden)]
pub use awl_core::tftp::Transfer;

fn udp_socket(
    metas: &mut &'static mut [udp::PacketMetadata],
    rx_datagrams: usize,
    rx: &'static mut [u8],
    tx: &'static mut [u8],
) -> udp::Socket<'static> {
    let (rx_meta, rest) = core::mem::take(metas).split_at_mut(rx_datagrams.min(METAS));
    let (tx_meta, rest) = rest.split_at_mut(1.min(rest.len()));
    *metas = rest;
    udp::Socket::new(
        udp::PacketBuffer::new(rx_meta, rx),
        udp::PacketBuffer::new(tx_meta, tx),
    )
}

/// The core's clock from smoltcp's.
pub fn core_instant(now: Instant) -> CoreInstant {
    CoreInstant::from_micros(now.total_micros())
}

fn smoltcp_instant(at: CoreInstant) -> Instant {
    Instant::from_micros(at.total_micros())
}

fn v4(endpoint: IpEndpoint) -> SocketAddrV4 {
    let IpAddress::Ipv4(ip) = endpoint.addr;
    SocketAddrV4::new(ip, endpoint.port)
}

fn endpoint(addr: SocketAddr) -> Option<IpEndpoint> {
    match addr {
        SocketAddr::V4(a) => Some(IpEndpoint::new(IpAddress::Ipv4(*a.ip()), a.port())),
        SocketAddr::V6(_) => None,
    }
}

/// Whether a socket's single outgoing datagram has gone out.
fn empty(socket: &udp::Socket<'_>) -> bool {
    socket.send_queue() == 0 && socket.can_send()
}

/// The core's DHCP server with the board's queue lengths.
pub type Dhcp<'a> = DhcpServer<'a, { capacity::DHCP_REPLIES }, { capacity::DHCP_EVENTS }>;

/// The appliance: network interface, sockets, DHCP and TFTP servers.
pub struct Appliance<L: Log> {
    packed: &'static Packed,
    iface: Interface,
    sockets: SocketSet<'static>,
    dhcp: Option<Dhcp<'static>>,
    tftp: TftpServer<'static, u16, { capacity::TFTP_EVENTS }>,
    files: FlashFiles,
    dhcp_socket: SocketHandle,
    pxe_socket: SocketHandle,
    tftp_socket: SocketHandle,
    transfer_sockets: [SocketHandle; TRANSFERS],
    /// Which transfer each transfer socket serves now.
    transfer_owner: [Option<TransferId>; TRANSFERS],
    /// The file each transfer slot serves (for the end-of-transfer line).
    transfer_file: [&'static str; TRANSFERS],
    http_sockets: [SocketHandle; HTTP_CONNECTIONS],
    http_slots: [http::Slot; HTTP_CONNECTIONS],
    refusal_socket: SocketHandle,
    refusal_sent: bool,
    next_port: u16,
    out: [u8; UDP_MAX_PAYLOAD],
    log: L,
}

impl<L: Log> Appliance<L> {
    /// Brings the appliance up on `device` with the settings and files in
    /// `packed`; `seed` should differ between boots (smoltcp's TCP initial
    /// sequence numbers, the DHCP pool's starting point, transfer ports).
    pub fn new<D: Device>(
        resources: Resources,
        packed: &'static Packed,
        device: &mut D,
        now: Instant,
        seed: u64,
        mut log: L,
    ) -> Self {
        let Resources { buffers, slots } = resources;
        let Buffers {
            pool,
            dhcp_rx,
            dhcp_tx,
            pxe_rx,
            pxe_tx,
            tftp_rx,
            tftp_tx,
            transfer_rx,
            transfer_tx,
            http_rx,
            http_tx,
            refusal_rx,
            refusal_tx,
        } = buffers;
        let Slots {
            sockets: socket_storage,
            metas,
            leases,
            transfers,
        } = slots;
        let mut metas: &'static mut [udp::PacketMetadata] = &mut metas[..];

        let mut config = IfaceConfig::new(HardwareAddress::Ethernet(EthernetAddress(packed.mac)));
        config.random_seed = seed;
        let mut iface = Interface::new(config, device, now);
        iface.update_ip_addrs(|addrs| {
            let _ = addrs.push(IpCidr::Ipv4(Ipv4Cidr::new(packed.ip, packed.prefix_len)));
        });
        if let Some(gateway) = packed.gateway {
            let _ = iface.routes_mut().add_default_ipv4_route(gateway);
        }

        let mut sockets = SocketSet::new(&mut socket_storage[..]);
        let mut dhcp_udp = udp_socket(&mut metas, DHCP_RX_DATAGRAMS, dhcp_rx, dhcp_tx);
        let _ = dhcp_udp.bind(SERVER_PORT);
        let dhcp_socket = sockets.add(dhcp_udp);
        let mut pxe_udp = udp_socket(&mut metas, PXE_RX_DATAGRAMS, pxe_rx, pxe_tx);
        let _ = pxe_udp.bind(PXE_PORT);
        let pxe_socket = sockets.add(pxe_udp);
        let mut tftp_udp = udp_socket(&mut metas, TFTP_RX_DATAGRAMS, tftp_rx, tftp_tx);
        let _ = tftp_udp.bind(TFTP_PORT);
        let tftp_socket = sockets.add(tftp_udp);
        let mut transfer_tx = transfer_tx.iter_mut();
        let transfer_sockets = transfer_rx.each_mut().map(|rx| {
            let tx = transfer_tx.next().map_or(&mut [][..], |tx| &mut tx[..]);
            sockets.add(udp_socket(&mut metas, TRANSFER_RX_DATAGRAMS, rx, tx))
        });
        let mut http_tx = http_tx.iter_mut();
        let http_sockets = http_rx.each_mut().map(|rx| {
            let tx = http_tx.next().map_or(&mut [][..], |tx| &mut tx[..]);
            let mut socket = tcp::Socket::new(
                tcp::SocketBuffer::new(&mut rx[..]),
                tcp::SocketBuffer::new(tx),
            );
            // A client that goes quiet loses its connection.
            socket.set_timeout(Some(smoltcp::time::Duration::from_secs(10)));
            let _ = socket.listen(HTTP_PORT);
            sockets.add(socket)
        });
        // Added last, so smoltcp hands it a SYN only when no connection
        // socket above is listening.
        let mut refusal = tcp::Socket::new(
            tcp::SocketBuffer::new(&mut refusal_rx[..]),
            tcp::SocketBuffer::new(&mut refusal_tx[..]),
        );
        refusal.set_timeout(Some(smoltcp::time::Duration::from_secs(5)));
        let _ = refusal.listen(HTTP_PORT);
        let refusal_socket = sockets.add(refusal);

        let dhcp = match packed.dhcp {
            DhcpMode::Off => None,
            mode => {
                let mut config = dhcp::Config::default();
                config.server_ip = packed.ip;
                config.mode = if mode == DhcpMode::Proxy {
                    dhcp::Mode::Proxy
                } else {
                    dhcp::Mode::Full
                };
                config.subnet_mask = packed.netmask();
                config.pool_first = packed.pool_first;
                config.pool_last = packed.pool_last;
                config.routers = packed.routers;
                config.dns = packed.dns;
                config.domain = packed.domain;
                config.lease_time = CoreDuration::from_secs(u64::from(packed.lease_secs));
                config.random_seed = seed;
                config.mtu = capacity::MTU;
                config.boot = BootConfig {
                    tftp_server: packed.ip,
                    bios: packed.bios,
                    uefi_x64: packed.uefi_x64,
                    uefi_ia32: packed.uefi_ia32,
                    uefi_arm64: packed.uefi_arm64,
                    ipxe_script: packed.ipxe_script,
                    http_boot: packed.http_boot,
                };
                let bitmap =
                    dhcp::pool_bitmap_len(packed.pool_first, packed.pool_last).min(POOL_BITMAP);
                let pool = pool.get_mut(..bitmap).unwrap_or(&mut []);
                Some(Dhcp::with_queues(config, &mut leases[..], pool))
            }
        };

        let mut tftp_config = tftp::Config::default();
        tftp_config.max_blksize = TFTP_MAX_BLKSIZE;
        tftp_config.max_windowsize = TFTP_MAX_WINDOWSIZE;
        tftp_config.allow_write = false;
        let tftp = TftpServer::with_event_queue(tftp_config, &mut transfers[..]);

        crate::log!(
            log,
            "awl-firmware: {} {}/{}, dhcp {}, {} files, mirror {}",
            Mac(packed.mac),
            packed.ip,
            packed.prefix_len,
            match packed.dhcp {
                DhcpMode::Full => "full",
                DhcpMode::Proxy => "proxy",
                DhcpMode::Off => "off",
            },
            packed.files.len(),
            if packed.mirror.is_empty() {
                "-"
            } else {
                packed.mirror
            }
        );
        if packed.dhcp == DhcpMode::Full {
            crate::log!(
                log,
                "dhcp: pool {}-{}, {} leases",
                packed.pool_first,
                packed.pool_last,
                LEASES
            );
        }
        for file in packed.files {
            crate::log!(log, "file: {} {} bytes", file.name, file.bytes.len());
        }
        crate::log!(log, "awl-firmware: up {}", packed.ip);

        Self {
            packed,
            iface,
            sockets,
            dhcp,
            tftp,
            files: FlashFiles::new(packed.files),
            dhcp_socket,
            pxe_socket,
            tftp_socket,
            transfer_sockets,
            transfer_owner: [None; TRANSFERS],
            transfer_file: ["?"; TRANSFERS],
            http_sockets,
            http_slots: [const { http::Slot::new() }; HTTP_CONNECTIONS],
            refusal_socket,
            refusal_sent: false,
            next_port: 49152 + (seed % 8192) as u16,
            out: [0; UDP_MAX_PAYLOAD],
            log,
        }
    }

    /// The settings the appliance runs with.
    pub fn packed(&self) -> &'static Packed {
        self.packed
    }

    /// The log sink.
    pub fn log_mut(&mut self) -> &mut L {
        &mut self.log
    }

    /// One pass: frames in and out of `device`, datagrams between the
    /// sockets and the servers, timers. Returns whether anything moved:
    /// call again at once when it did, else wait for the next tick (or
    /// until [`Appliance::poll_at`]).
    pub fn poll<D: Device>(&mut self, now: Instant, device: &mut D) -> bool {
        let t = core_instant(now);
        let mut busy = matches!(
            self.iface.poll(now, device, &mut self.sockets),
            smoltcp::iface::PollResult::SocketStateChanged
        );
        busy |= self.dhcp_pass(t);
        busy |= self.tftp_pass(t);
        busy |= self.http_pass();
        if busy {
            // Send what the passes queued without waiting for the next call.
            self.iface.poll(now, device, &mut self.sockets);
        }
        busy
    }

    /// When [`Appliance::poll`] has work next, if nothing arrives before.
    pub fn poll_at(&mut self, now: Instant) -> Option<Instant> {
        let core = [
            self.dhcp.as_ref().and_then(DhcpServer::poll_timeout),
            self.tftp.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
        .map(smoltcp_instant);
        match (self.iface.poll_at(now, &self.sockets), core) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn dhcp_pass(&mut self, t: CoreInstant) -> bool {
        let Some(server) = self.dhcp.as_mut() else {
            return false;
        };
        let mut busy = false;
        for (handle, ingress) in [
            (self.dhcp_socket, Ingress::Dhcp),
            (self.pxe_socket, Ingress::Pxe),
        ] {
            let socket = self.sockets.get_mut::<udp::Socket<'_>>(handle);
            while let Ok((data, meta)) = socket.recv() {
                server.handle(t, ingress, v4(meta.endpoint), data);
                busy = true;
            }
        }
        if server.poll_timeout().is_some_and(|at| at <= t) {
            server.handle_timeout(t);
        }
        while let Some(event) = server.poll_event() {
            crate::log!(self.log, "dhcp: {}", event);
        }
        // Replies go out of port 67 or 4011: ask for one only when both
        // sockets can take it.
        if empty(self.sockets.get::<udp::Socket<'_>>(self.dhcp_socket))
            && empty(self.sockets.get::<udp::Socket<'_>>(self.pxe_socket))
        {
            if let Some(tx) = server.poll_transmit(t, &mut self.out) {
                let handle = if tx.src_port == PXE_PORT {
                    self.pxe_socket
                } else {
                    self.dhcp_socket
                };
                let to = IpEndpoint::new(IpAddress::Ipv4(*tx.dst.ip()), tx.dst.port());
                let bytes = self.out.get(..tx.len).unwrap_or(&[]);
                let socket = self.sockets.get_mut::<udp::Socket<'_>>(handle);
                if let Err(e) = socket.send_slice(bytes, to) {
                    crate::log!(self.log, "dhcp: reply to {} dropped: {}", tx.dst, e);
                }
                busy = true;
            }
        }
        while let Some(event) = server.poll_event() {
            crate::log!(self.log, "dhcp: {}", event);
        }
        busy
    }

    fn tftp_pass(&mut self, t: CoreInstant) -> bool {
        let mut busy = false;
        let socket = self.sockets.get_mut::<udp::Socket<'_>>(self.tftp_socket);
        while let Ok((data, meta)) = socket.recv() {
            let from = SocketAddr::V4(v4(meta.endpoint));
            self.tftp
                .handle(t, Local::Listener, from, data, &mut self.files);
            busy = true;
        }
        for (slot, owner) in self.transfer_owner.iter().enumerate() {
            let (Some(id), Some(&handle)) = (owner, self.transfer_sockets.get(slot)) else {
                continue;
            };
            let socket = self.sockets.get_mut::<udp::Socket<'_>>(handle);
            while let Ok((data, meta)) = socket.recv() {
                let from = SocketAddr::V4(v4(meta.endpoint));
                self.tftp
                    .handle(t, Local::Transfer(*id), from, data, &mut self.files);
                busy = true;
            }
        }
        if self.tftp.poll_timeout().is_some_and(|at| at <= t) {
            self.tftp.handle_timeout(t, &mut self.files);
        }
        self.tftp_events();

        // Each transfer with something to send, out of its own socket.
        let mut ready = [None; TRANSFERS];
        for (place, id) in ready.iter_mut().zip(self.tftp.ready()) {
            *place = Some(id);
        }
        for id in ready.into_iter().flatten() {
            let Some(handle) = self.transfer_socket(id) else {
                continue;
            };
            if !empty(self.sockets.get::<udp::Socket<'_>>(handle)) {
                continue; // the previous datagram is still going out
            }
            if let Some(tx) = self
                .tftp
                .poll_transmit_for(t, id, &mut self.files, &mut self.out)
            {
                self.send_tftp(handle, tx);
                busy = true;
            }
        }
        // Refusals, out of the listener (a transfer's datagram that comes
        // this way goes out of its own socket, or is lost like any other
        // datagram and resent by the transfer's timer).
        if empty(self.sockets.get::<udp::Socket<'_>>(self.tftp_socket)) {
            if let Some(tx) = self.tftp.poll_transmit(t, &mut self.files, &mut self.out) {
                let handle = match tx.local {
                    Local::Listener => Some(self.tftp_socket),
                    Local::Transfer(id) => self.transfer_socket(id),
                };
                if let Some(handle) = handle {
                    self.send_tftp(handle, tx);
                }
                busy = true;
            }
        }
        self.tftp_events();

        // Free the sockets of transfers that have ended, once their last
        // datagram has gone out.
        for (slot, owner) in self.transfer_owner.iter_mut().enumerate() {
            let (Some(id), Some(&handle)) = (*owner, self.transfer_sockets.get(slot)) else {
                continue;
            };
            let socket = self.sockets.get_mut::<udp::Socket<'_>>(handle);
            if !self.tftp.is_active(id) && socket.send_queue() == 0 {
                socket.close();
                *owner = None;
            }
        }
        busy
    }

    fn send_tftp(&mut self, handle: SocketHandle, tx: tftp::Transmit<u16>) {
        let Some(to) = endpoint(tx.dst) else {
            return;
        };
        let bytes = self.out.get(..tx.len).unwrap_or(&[]);
        let socket = self.sockets.get_mut::<udp::Socket<'_>>(handle);
        if let Err(e) = socket.send_slice(bytes, to) {
            // Lost like a dropped datagram: the transfer's timer resends.
            crate::log!(self.log, "tftp: datagram to {} dropped: {}", tx.dst, e);
        }
    }

    /// Transfer `id`'s socket, bound to a fresh port the first time.
    fn transfer_socket(&mut self, id: TransferId) -> Option<SocketHandle> {
        let slot = id.slot();
        let handle = *self.transfer_sockets.get(slot)?;
        let owner = self.transfer_owner.get_mut(slot)?;
        if *owner == Some(id) {
            return Some(handle);
        }
        // A new transfer ID (port) for each transfer, never one in use.
        let mut port;
        loop {
            port = self.next_port;
            self.next_port = if self.next_port == u16::MAX {
                49152
            } else {
                self.next_port + 1
            };
            let taken = self.transfer_sockets.iter().any(|&h| {
                let s = self.sockets.get::<udp::Socket<'_>>(h);
                s.is_open() && s.endpoint().port == port
            });
            if !taken {
                break;
            }
        }
        let socket = self.sockets.get_mut::<udp::Socket<'_>>(handle);
        socket.close();
        socket.bind(port).ok()?;
        *owner = Some(id);
        Some(handle)
    }

    /// One line per transfer start and end (and refusal), in the core's
    /// words, with the transfer's file.
    fn tftp_events(&mut self) {
        while let Some(event) = self.tftp.poll_event() {
            let file = match event {
                tftp::Event::Started { id, .. } => {
                    let file = self
                        .tftp
                        .file_handle(id)
                        .map_or("?", |h| self.files.name(h));
                    if let Some(name) = self.transfer_file.get_mut(id.slot()) {
                        *name = file;
                    }
                    let _ = self.transfer_socket(id);
                    file
                }
                tftp::Event::Finished { id, .. }
                | tftp::Event::Aborted { id, .. }
                | tftp::Event::TimedOut { id, .. }
                | tftp::Event::Failed { id, .. } => file_of(&self.transfer_file, id),
                _ => "",
            };
            crate::log!(self.log, "tftp: {}", event.display_with(file));
        }
    }

    fn http_pass(&mut self) -> bool {
        let mut busy = false;
        let mut site = http::FlashSite::new(self.packed, self.dhcp.as_ref());
        for (&handle, slot) in self.http_sockets.iter().zip(&mut self.http_slots) {
            let socket = self.sockets.get_mut::<tcp::Socket<'_>>(handle);
            match socket.state() {
                tcp::State::Closed => {
                    // The last connection is over: ready for the next.
                    http::reset(slot, &mut site);
                    let _ = socket.listen(HTTP_PORT);
                }
                // Both sides have closed: no need to hold the socket for
                // TIME-WAIT with two of them.
                tcp::State::TimeWait => socket.abort(),
                tcp::State::Listen | tcp::State::SynReceived => {}
                _ => busy |= http::serve(socket, slot, &mut site, &mut self.log),
            }
        }
        let socket = self.sockets.get_mut::<tcp::Socket<'_>>(self.refusal_socket);
        busy |= http::refuse(socket, &mut self.refusal_sent, &mut self.log);
        busy
    }
}

fn file_of(files: &[&'static str], id: TransferId) -> &'static str {
    files.get(id.slot()).copied().unwrap_or("?")
}
