//! The DHCP driver: sockets on one interface (ports 67 and 4011), the lease
//! journal, and log lines for every decision. Protocol decisions are the
//! core's (`awl_core::dhcp`).
//!
//! It runs on a thread of its own so that file serving never delays a
//! DHCP reply, and forces large receive buffers on its sockets (a PXE ROM
//! whose DISCOVER is dropped waits 4 s, then 8, then 16). When the lease
//! journal cannot be written it ends with that error, which stops awl,
//! rather than answer from leases that are not on disk.

pub mod leases;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Instant as StdInstant;

use anyhow::{anyhow, bail, Context, Result};
use awl_core::boot::BootConfig;
use awl_core::dhcp::{Config, DhcpServer, Event, Ingress, LeaseSlot, Mode, Subnet};
use awl_core::time::{Duration, Instant};
use awl_core::wire::Mac;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tracing::{debug, info, warn};

use crate::clock::{core_now, sleep_until};
use crate::events::{self, Events};
use crate::supervise::Services;
use leases::Journal;

/// What `awl serve` needs to serve DHCP.
#[derive(Debug, Clone)]
pub struct DhcpOptions {
    /// The interface served.
    pub interface: String,
    /// Full server with this pool, or proxyDHCP when `None`.
    pub range: Option<(Ipv4Addr, Ipv4Addr)>,
    /// Subnets served through relay agents.
    pub relayed: Vec<crate::settings::Relayed>,
    /// Routers (option 3); empty: this server.
    pub routers: Vec<Ipv4Addr>,
    /// DNS servers (option 6).
    pub dns: Vec<Ipv4Addr>,
    /// Domain (option 15).
    pub domain: String,
    /// Lease time in seconds.
    pub lease_secs: u64,
    /// The lease journal.
    pub lease_file: PathBuf,
    /// Leases remembered at once.
    pub capacity: usize,
    /// Boot file for BIOS clients.
    pub bios: String,
    /// Boot file for x64 UEFI clients.
    pub uefi_x64: String,
    /// Boot file for ARM64 UEFI clients.
    pub uefi_arm64: String,
    /// URL for clients already running iPXE.
    pub ipxe_script: String,
    /// URL for UEFI HTTP Boot clients.
    pub http_boot: String,
    /// The machines known (the inventory's systems and the
    /// configuration's `[[dhcp.host]]`), asked per request.
    pub machines: std::sync::Arc<crate::install::InventoryMachines>,
}

/// Checks the configuration's machines (`--dhcp-host`): a fixed address
/// must lie in a subnet served (the interface's, or a relayed one) and
/// must not be this server's; in proxy mode addresses are not ours to
/// give, so fixed ones are refused rather than silently ignored.
fn check_hosts(options: &DhcpOptions, mode: Mode, ip: Ipv4Addr, mask: Ipv4Addr) -> Result<()> {
    let same_net = |a: Ipv4Addr, net: Ipv4Addr, mask: Ipv4Addr| {
        u32::from(a) & u32::from(mask) == u32::from(net) & u32::from(mask)
    };
    for m in options.machines.hosts() {
        let Some(fixed) = m.ip else { continue };
        if mode == Mode::Proxy {
            bail!(
                "--dhcp-host {}: a fixed address needs --dhcp-range (proxyDHCP gives no addresses)",
                m.id
            );
        }
        let served = same_net(fixed, ip, mask)
            || options
                .relayed
                .iter()
                .any(|r| same_net(fixed, r.network, r.mask));
        if !served || fixed == ip {
            bail!(
                "--dhcp-host {}: {fixed} is {}",
                m.id,
                if served {
                    "this server's own address"
                } else {
                    "not in a subnet served here"
                }
            );
        }
    }
    Ok(())
}

/// The IPv4 address and netmask of `interface`.
pub fn interface_address(interface: &str) -> Result<(Ipv4Addr, Ipv4Addr)> {
    for ifa in nix::ifaddrs::getifaddrs().context("cannot list network interfaces")? {
        if ifa.interface_name != interface {
            continue;
        }
        let addr = ifa
            .address
            .as_ref()
            .and_then(|a| a.as_sockaddr_in())
            .map(|a| a.ip());
        let mask = ifa
            .netmask
            .as_ref()
            .and_then(|a| a.as_sockaddr_in())
            .map(|a| a.ip());
        if let (Some(addr), Some(mask)) = (addr, mask) {
            return Ok((addr, mask));
        }
    }
    bail!("--interface {interface}: no such interface with an IPv4 address")
}

fn dhcp_socket(interface: &str, port: u16) -> Result<UdpSocket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_nonblocking(true)?;
    socket.set_reuse_address(true)?;
    socket.set_broadcast(true)?;
    socket
        .bind_device(Some(interface.as_bytes()))
        .with_context(|| format!("cannot bind to interface {interface}"))?;
    // Past the sysctl limit (which cannot be raised inside a network
    // namespace) when running as root; the plain call otherwise.
    let size = 8 << 20;
    if nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::RcvBufForce, &size).is_err()
    {
        let _ = socket.set_recv_buffer_size(size);
    }
    let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
    socket
        .bind(&addr.into())
        .with_context(|| format!("cannot bind UDP port {port}"))?;
    Ok(UdpSocket::from_std(socket.into())?)
}

/// Starts DHCP on a thread of its own under `services`; returns once its
/// sockets are bound and its leases restored. It then runs until it fails
/// (the lease journal cannot be written, say) or is asked to stop. Every
/// answer is logged and published to `events` (ignored datagrams are
/// logged at debug level only).
pub fn start(options: DhcpOptions, events: &Events, services: &mut Services) -> Result<()> {
    let (ip, mask) = interface_address(&options.interface)?;
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    let events = events.clone();
    services.spawn(
        "dhcp",
        move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(run(options, ip, mask, events, ready_tx, stop_rx))
        },
        move || {
            let _ = stop_tx.send(());
        },
    )?;
    ready_rx
        .recv()
        .unwrap_or_else(|_| Err(anyhow!("the DHCP thread ended before it was ready")))
}

async fn run(
    options: DhcpOptions,
    ip: Ipv4Addr,
    mask: Ipv4Addr,
    events: Events,
    ready: std::sync::mpsc::Sender<Result<()>>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) -> Result<()> {
    let sockets = dhcp_socket(&options.interface, 67)
        .and_then(|a| Ok((a, dhcp_socket(&options.interface, 4011)?)));
    let (dhcp, pxe) = match sockets {
        Ok(s) => s,
        Err(e) => {
            let _ = ready.send(Err(e));
            return Ok(());
        }
    };
    let routers = if options.routers.is_empty() {
        vec![ip]
    } else {
        options.routers.clone()
    };
    let mode = if options.range.is_some() {
        Mode::Full
    } else {
        Mode::Proxy
    };
    let (first, last) = options.range.unwrap_or((ip, ip));
    let mut config = Config::default();
    config.server_ip = ip;
    config.mode = mode;
    config.subnet_mask = mask;
    config.pool_first = first;
    config.pool_last = last;
    config.routers = &routers;
    config.dns = &options.dns;
    config.domain = &options.domain;
    config.lease_time = Duration::from_secs(options.lease_secs);
    config.hold_acks = true;
    config.random_seed = leases::unix_now() ^ u64::from(std::process::id());
    let relayed: Vec<Subnet<'_>> = options
        .relayed
        .iter()
        .map(|r| Subnet {
            network: r.network,
            mask: r.mask,
            pool_first: r.range.0,
            pool_last: r.range.1,
            routers: &r.routers,
        })
        .collect();
    config.relayed = &relayed;
    if let Err(e) = check_hosts(&options, mode, ip, mask) {
        let _ = ready.send(Err(e));
        return Ok(());
    }
    config.boot = BootConfig {
        tftp_server: ip,
        bios: &options.bios,
        uefi_x64: &options.uefi_x64,
        uefi_arm64: &options.uefi_arm64,
        ipxe_script: &options.ipxe_script,
        http_boot: &options.http_boot,
        ..BootConfig::default()
    };
    let table = vec![LeaseSlot::EMPTY; options.capacity];
    let bitmap = vec![0u8; config.pool_bitmap_len()];
    let mut server = DhcpServer::new(config, table, bitmap);

    let epoch = StdInstant::now();
    let now = move || core_now(epoch);
    let live = leases::load(&options.lease_file);
    let mut restored = Vec::new();
    for record in &live {
        if server.restore_with(
            now(),
            leases::lease_of(record, now()),
            &options.machines.view(),
        ) {
            restored.push(record.clone());
        } else {
            warn!(
                "{}: lease of {} for {} not restored (outside the pool or taken)",
                options.lease_file.display(),
                record.ip,
                Mac(record.mac)
            );
        }
    }
    let mut journal = match Journal::open(&options.lease_file, &restored) {
        Ok(j) => j,
        Err(e) => {
            let _ = ready.send(Err(e));
            return Ok(());
        }
    };
    let hosts = options.machines.hosts();
    if !hosts.is_empty() {
        info!(
            "dhcp: {} machines of their own ({} with fixed addresses, {} never netboot)",
            hosts.len(),
            hosts.iter().filter(|m| m.ip.is_some()).count(),
            hosts.iter().filter(|m| !m.netboot).count()
        );
    }
    for r in &options.relayed {
        info!(
            "dhcp: relayed subnet {}/{}, pool {}-{}",
            r.network,
            u32::from(r.mask).count_ones(),
            r.range.0,
            r.range.1
        );
    }
    info!(
        "dhcp: {} on {} ({ip}/{mask}){}, {} leases restored from {}",
        if mode == Mode::Full {
            "serving"
        } else {
            "proxyDHCP"
        },
        options.interface,
        options
            .range
            .map_or(String::new(), |(a, b)| format!(", pool {a}-{b}")),
        restored.len(),
        options.lease_file.display()
    );
    let _ = ready.send(Ok(()));

    let mut buf = vec![0u8; 65_536];
    let mut pxe_buf = vec![0u8; 65_536];
    let mut out = vec![0u8; 1500];
    let mut reporter = Reporter {
        events,
        last_exhausted: StdInstant::now() - std::time::Duration::from_secs(10),
    };
    let mut busy_logged = 0;
    loop {
        let deadline = server.poll_timeout();
        tokio::select! {
            r = dhcp.recv_from(&mut buf) => {
                if let Ok((len, SocketAddr::V4(from))) = r {
                    server.handle_with(now(), Ingress::Dhcp, from, &buf[..len], &options.machines.view());
                }
            }
            r = pxe.recv_from(&mut pxe_buf) => {
                if let Ok((len, SocketAddr::V4(from))) = r {
                    server.handle_with(now(), Ingress::Pxe, from, &pxe_buf[..len], &options.machines.view());
                }
            }
            _ = sleep_until(epoch, deadline) => server.handle_timeout(now()),
            // Nothing is lost: ACKs still held were never sent.
            _ = &mut stop => return Ok(()),
        }
        // Events and the replies that may go (OFFERs, NAKs; not yet ACKs)
        // after every datagram, so no queue in the core fills up; then
        // whatever else is waiting, and one journal sync for the batch.
        let mut commit = take_events(&mut server, &mut journal, &mut reporter, now())?;
        send_ready(&mut server, &dhcp, &pxe, &mut out, now()).await;
        for _ in 0..256 {
            match dhcp.try_recv_from(&mut buf) {
                Ok((len, SocketAddr::V4(from))) => {
                    server.handle_with(
                        now(),
                        Ingress::Dhcp,
                        from,
                        &buf[..len],
                        &options.machines.view(),
                    );
                    let seq = take_events(&mut server, &mut journal, &mut reporter, now())?;
                    commit = commit.max(seq);
                    // Sync early when ACKs pile up, so the reply queue keeps
                    // room: one sync still covers many clients.
                    if server.held() >= 16 {
                        journal.sync()?;
                        if let Some(seq) = commit.take() {
                            server.committed(seq);
                        }
                    }
                    send_ready(&mut server, &dhcp, &pxe, &mut out, now()).await;
                }
                _ => break,
            }
        }
        // The leases are on disk before their ACKs leave.
        journal.sync()?;
        if let Some(seq) = commit {
            server.committed(seq);
        }
        let t = now();
        send_ready(&mut server, &dhcp, &pxe, &mut out, t).await;
        if server.busy_refusals() > busy_logged {
            warn!(
                "dhcp: {} requests refused so far while catching up (clients retry)",
                server.busy_refusals()
            );
            busy_logged = server.busy_refusals();
        }
        if journal.appended() > 1000 + 10 * server.capacity() {
            let live: Vec<_> = server
                .leases()
                .filter(|l| l.state == awl_core::dhcp::LeaseState::Bound)
                .map(|l| leases::record_of(l, t))
                .collect();
            journal.compact(&live)?;
        }
    }
}

/// Logs each event in the core's words, and publishes the answers.
struct Reporter {
    events: Events,
    /// When "pool exhausted" was last said (once a second at most: a full
    /// pool is asked again and again).
    last_exhausted: StdInstant,
}

impl Reporter {
    fn report(&mut self, event: &Event<'_>) {
        match event {
            Event::Declined { .. } => warn!("dhcp: {event}"),
            Event::PoolExhausted { .. } => {
                if self.last_exhausted.elapsed() < std::time::Duration::from_secs(1) {
                    return;
                }
                self.last_exhausted = StdInstant::now();
                warn!("dhcp: {event}");
            }
            Event::Ignored { .. } => {
                // Not published either: noise for whoever listens.
                debug!("dhcp: {event}");
                return;
            }
            _ => info!("dhcp: {event}"),
        }
        if let Some(owned) = events::Event::dhcp(event) {
            self.events.publish(owned);
        }
    }
}

/// Reports the server's events and writes leases to the journal (not yet
/// synced); returns the highest binding's sequence number.
fn take_events(
    server: &mut DhcpServer<'_>,
    journal: &mut Journal,
    reporter: &mut Reporter,
    now: Instant,
) -> Result<Option<u64>> {
    let mut commit = None;
    while let Some(event) = server.poll_event() {
        reporter.report(&event);
        match event {
            Event::Bound { lease, seq, .. } => {
                journal.bound(&leases::record_of(&lease, now))?;
                commit = Some(seq);
            }
            Event::Released { lease } => journal.free(lease.client.as_bytes(), lease.ip)?,
            _ => {}
        }
    }
    Ok(commit)
}

/// Sends every reply the server may send now.
async fn send_ready(
    server: &mut DhcpServer<'_>,
    dhcp: &UdpSocket,
    pxe: &UdpSocket,
    out: &mut [u8],
    now: Instant,
) {
    while let Some(tx) = server.poll_transmit(now, out) {
        let socket = if tx.src_port == 4011 { pxe } else { dhcp };
        if let Err(e) = socket.send_to(&out[..tx.len], SocketAddr::V4(tx.dst)).await {
            warn!("dhcp: send to {} failed: {e}", tx.dst);
        }
    }
}
