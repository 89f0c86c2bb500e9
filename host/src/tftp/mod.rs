//! The TFTP driver: moves datagrams between UDP sockets and the core's
//! `TftpServer`, and reads files. No protocol decisions are made here.
//!
//! One engine thread owns the server, the listener and each transfer's own
//! socket (a new port per transfer, as RFC 1350 asks), and waits on all of
//! them with one epoll. Each wake-up takes every datagram waiting on the
//! sockets that are ready (`recvmmsg`), feeds them to the core, then sends
//! each transfer's window in as few system calls as the kernel allows (UDP
//! GSO), its blocks read ahead with one `pread` per window
//! ([`readahead`]).
//!
//! A read of a name the root does not have can be answered by a
//! [`DynamicFiles`] source ([`start_with`]): `awl serve` gives it the
//! install layer, which renders boot configs and `boot.ipxe` per request.

pub mod files;
mod readahead;
mod udp;

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant as StdInstant;

use anyhow::{anyhow, Context, Result};
use awl_core::tftp::{Config, Event, FromFile, Local, TftpServer, Transfer, TransferId};
use awl_core::time::{Duration, Instant};
use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::eventfd::EventFd;
use tracing::{info, warn};

use crate::clock::core_now;
use crate::events::{self, Events};
use crate::supervise::Services;
pub use files::DynamicFiles;
use files::RootDir;
use readahead::ReadAhead;
use udp::{Gso, Receiver, GSO_BYTES, MAX_SEGMENTS};

/// What `awl serve` needs to serve TFTP.
#[derive(Debug, Clone)]
pub struct TftpOptions {
    /// Directory served.
    pub root: PathBuf,
    /// Where the listener binds (port 69 by default).
    pub listen: SocketAddr,
    /// Path MTU used to cap the block size.
    pub mtu: usize,
    /// Largest window granted.
    pub max_windowsize: u16,
    /// Concurrent transfers.
    pub capacity: usize,
    /// Concurrent transfers per client IP (0: unlimited).
    pub max_per_ip: u16,
    /// Where uploads go (write requests are refused when `None`).
    pub upload_dir: Option<PathBuf>,
    /// The largest upload accepted, in bytes.
    pub max_upload: u64,
}

/// The epoll token of the listener; a transfer's is its slot + 1.
const LISTENER: u64 = 0;
/// The epoll token of the stop request.
const STOP: u64 = u64::MAX;
/// Datagrams taken from one socket per system call.
const BATCH: usize = 8;
/// Room for any datagram (a request, or a block of up to 65464 bytes).
const LARGEST: usize = 65_536;
/// How stale the next retransmission deadline may get: finding it scans
/// every slot, so it is looked for again at most this often (and after
/// timeouts were handled). A retransmission is late by at most this.
const DEADLINE_EVERY: Duration = Duration::from_millis(5);

/// Binds the listener, then runs the TFTP server on a thread of its own
/// under `services` until it fails or is asked to stop. Every transfer's
/// start and end is logged and published to `events` (refusals are logged
/// only).
pub fn start(options: TftpOptions, events: &Events, services: &mut Services) -> Result<()> {
    start_with(options, None, events, services)
}

/// As [`start`], and a read request for a name the root does not have is
/// answered by `dynamic` when it makes that name (a real file of the root
/// always wins).
pub fn start_with(
    options: TftpOptions,
    dynamic: Option<Arc<dyn DynamicFiles>>,
    events: &Events,
    services: &mut Services,
) -> Result<()> {
    let engine = Engine::new(&options, dynamic, events.clone())?;
    let stop = Arc::clone(&engine.stop);
    services.spawn(
        "tftp",
        move || engine.run(),
        move || {
            let _ = stop.write(1);
        },
    )
}

struct TransferSocket {
    id: TransferId,
    socket: UdpSocket,
    /// A full DATA datagram (blksize + 4): the GSO segment size.
    segment: usize,
    /// The file's path (for the transfer's end).
    file: String,
}

struct Engine {
    server: TftpServer<'static, usize>,
    files: ReadAhead,
    listener: UdpSocket,
    epoll: Epoll,
    gso: Gso,
    /// Each transfer's socket, by slot.
    sockets: Vec<Option<TransferSocket>>,
    /// The slots that have a socket (so that finding ended transfers costs
    /// the transfers under way, not the table's size).
    open: Vec<usize>,
    bind_ip: SocketAddr,
    epoch: StdInstant,
    /// Written to when the engine must stop.
    stop: Arc<EventFd>,
    events: Events,
    /// Transfers a datagram or an event reached since the last round: the
    /// only ones that may have something new to send, or have ended,
    /// unless timeouts were handled (then every slot is looked at).
    touched: Vec<TransferId>,
}

impl Engine {
    fn new(
        options: &TftpOptions,
        dynamic: Option<Arc<dyn DynamicFiles>>,
        events: Events,
    ) -> Result<Self> {
        let root = RootDir::new(&options.root, options.upload_dir.as_deref())
            .with_context(|| {
                format!(
                    "--tftp-root {}: cannot open the directory",
                    options.root.display()
                )
            })?
            .with_dynamic(dynamic);
        let mut config = Config::default();
        config.max_blksize = Config::blksize_for_mtu(options.mtu, options.listen.is_ipv6());
        config.max_windowsize = options.max_windowsize;
        config.max_per_ip = options.max_per_ip;
        config.allow_write = options.upload_dir.is_some();
        config.max_upload = options.max_upload;
        let slots: Vec<Option<Transfer<usize>>> = (0..options.capacity).map(|_| None).collect();
        let server = TftpServer::new(config, slots);

        let listener = udp::bind(options.listen, 4 << 20, 4 << 20)?;
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).context("epoll_create")?;
        epoll
            .add(&listener, EpollEvent::new(EpollFlags::EPOLLIN, LISTENER))
            .context("epoll_ctl")?;
        let stop = Arc::new(EventFd::new().context("eventfd")?);
        epoll
            .add(&*stop, EpollEvent::new(EpollFlags::EPOLLIN, STOP))
            .context("epoll_ctl")?;
        let gso = Gso::probe(&listener);
        info!(
            "tftp: serving {} on {} (blksize up to {}, windowsize up to {}, {} transfers)",
            root.root().display(),
            listener.local_addr()?,
            config.max_blksize,
            config.max_windowsize,
            options.capacity
        );
        if root.has_dynamic() {
            info!("tftp: names the root does not have may be rendered (boot configs, boot.ipxe)");
        }
        Ok(Self {
            server,
            files: ReadAhead::new(root),
            listener,
            epoll,
            gso,
            sockets: (0..options.capacity).map(|_| None).collect(),
            open: Vec::new(),
            bind_ip: SocketAddr::new(options.listen.ip(), 0),
            epoch: StdInstant::now(),
            stop,
            events,
            touched: Vec::new(),
        })
    }

    fn now(&self) -> Instant {
        core_now(self.epoch)
    }

    /// Serves until an error, or until a stop request (then `Ok`).
    fn run(mut self) -> Result<()> {
        let mut events = vec![EpollEvent::empty(); 256];
        let mut receiver = Receiver::new(BATCH, LARGEST);
        let max_datagram = usize::from(self.server.config().max_blksize) + 4;
        // One GSO batch, plus room for the datagram that ends it.
        let mut batch = vec![0u8; GSO_BYTES + max_datagram.max(LARGEST)];
        let mut ready: Vec<TransferId> = Vec::new();
        // The next deadline, and when it was looked for (`None`: look now).
        let mut deadline: Option<Instant> = None;
        let mut looked: Option<Instant> = None;
        loop {
            let now = self.now();
            if looked.is_none_or(|at| now - at >= DEADLINE_EVERY) {
                deadline = self.server.poll_timeout();
                looked = Some(now);
            }
            // While transfers run, wake to look again; with none, a new
            // one wakes the engine anyway.
            let wake = match (deadline, looked) {
                (Some(d), Some(at)) if self.server.active() > 0 => Some(d.min(at + DEADLINE_EVERY)),
                (d, _) if self.server.active() > 0 => looked.map(|at| at + DEADLINE_EVERY).or(d),
                (d, _) => d,
            };
            let timeout = match wake {
                None => EpollTimeout::NONE,
                Some(d) => {
                    let wait = (d - now).total_micros(); // 0 once past
                                                         // Rounded up: waking before the deadline does nothing.
                    EpollTimeout::try_from(wait.div_ceil(1000)).unwrap_or(EpollTimeout::MAX)
                }
            };
            let n = match self.epoll.wait(&mut events, timeout) {
                Ok(n) => n,
                Err(Errno::EINTR) => 0,
                Err(e) => return Err(anyhow!("epoll_wait: {e}")),
            };
            let t = self.now();
            let mut handled = false;
            let mut requests = false;
            for event in &events[..n] {
                let token = event.data();
                if token == STOP {
                    return Ok(());
                }
                let local = if token == LISTENER {
                    Local::Listener
                } else {
                    let slot = usize::try_from(token - 1).unwrap_or(usize::MAX);
                    match self.sockets.get(slot).and_then(Option::as_ref) {
                        Some(s) => Local::Transfer(s.id),
                        None => continue,
                    }
                };
                // A burst on the listener is taken a few batches at a time,
                // so transfers under way keep being served.
                let rounds = if token == LISTENER { 8 } else { 1 };
                for _ in 0..rounds {
                    let socket = match local {
                        Local::Listener => &self.listener,
                        Local::Transfer(id) => match self.socket(id) {
                            Some(s) => &s.socket,
                            None => break,
                        },
                    };
                    let count = receiver.receive(socket);
                    match local {
                        Local::Transfer(id) if count > 0 => self.touched.push(id),
                        // A request repeated may make a transfer under way
                        // answer again, with no event: look at them all.
                        Local::Listener if count > 0 => requests = true,
                        _ => {}
                    }
                    for i in 0..count {
                        if let Some((from, data)) = receiver.datagram(i) {
                            // A request opens its file while it is handled;
                            // a rendered one is made for this address.
                            self.files.root_mut().set_peer(from.ip());
                            self.server.handle(t, local, from, data, &mut self.files);
                            handled = true;
                        }
                        // Read events as they come, so no log line is lost
                        // to a burst.
                        self.drain_events();
                    }
                    if count < BATCH {
                        break;
                    }
                }
            }
            let every = deadline.is_some_and(|d| d <= t);
            if every {
                self.server.handle_timeout(t, &mut self.files);
                looked = None;
            }
            self.drain_events();
            // Each transfer's window in as few system calls as the kernel
            // allows: every transfer after timeouts or requests, else the
            // ones reached.
            ready.clear();
            if every || requests {
                ready.extend(self.server.ready());
            } else {
                self.touched.sort_unstable_by_key(|id| id.slot());
                self.touched.dedup();
                ready.extend_from_slice(&self.touched);
            }
            for &id in &ready {
                self.ensure_socket(id);
                self.send_window(id, t, &mut batch);
            }
            if !ready.is_empty() && deadline.is_none() {
                looked = None; // a first transfer: its deadline counts
            }
            // What is left: refusals (only a datagram causes one), from the
            // listener or a transfer's port.
            while let Some(out) = handled
                .then(|| self.server.poll_transmit(t, &mut self.files, &mut batch))
                .flatten()
            {
                let socket = match out.local {
                    Local::Listener => &self.listener,
                    Local::Transfer(id) => match self.socket(id) {
                        Some(s) => &s.socket,
                        None => continue,
                    },
                };
                let sent = self.send_one(socket, out.dst, &batch[..out.len], out.from_file);
                if let Err(e) = sent {
                    warn!("tftp: send to {} failed: {e}", out.dst);
                }
            }
            self.drain_events();
            self.close_ended(every);
        }
    }

    fn socket(&self, id: TransferId) -> Option<&TransferSocket> {
        self.sockets.get(id.slot())?.as_ref().filter(|s| s.id == id)
    }

    /// Sends what transfer `id` has to send now, packing runs of equal-size
    /// datagrams (a window of DATA blocks) into single GSO sends.
    fn send_window(&mut self, id: TransferId, now: Instant, batch: &mut [u8]) {
        let Some(segment) = self.socket(id).map(|s| s.segment) else {
            return;
        };
        let window = self.server.negotiated(id).map_or(usize::MAX, |n| {
            usize::from(n.blksize) * usize::from(n.windowsize)
        });
        self.files.set_window(window);
        let max_segments = if self.gso.enabled() {
            (GSO_BYTES / segment).clamp(1, MAX_SEGMENTS)
        } else {
            1
        };
        loop {
            let mut filled = 0;
            let mut segments = 0;
            let mut size = 0;
            let mut dst = None;
            let mut more = true;
            let mut alone = None;
            while segments < max_segments {
                let Some(slot) = batch.get_mut(filled..) else {
                    break;
                };
                let Some(out) = self
                    .server
                    .poll_transmit_for(now, id, &mut self.files, slot)
                else {
                    more = false;
                    break;
                };
                if out.from_file.is_some() {
                    // Its data is not in the buffer: sent alone after the
                    // batch.
                    alone = Some((filled, out));
                    break;
                }
                if segments > 0 && (out.len > size || Some(out.dst) != dst) {
                    // Cannot join this batch: sent alone after it.
                    alone = Some((filled, out));
                    break;
                }
                if segments == 0 {
                    size = out.len;
                    dst = Some(out.dst);
                }
                filled += out.len;
                segments += 1;
                if out.len < size {
                    break; // a shorter datagram can only end a batch
                }
            }
            if let Some(to) = dst {
                self.send(id, to, &batch[..filled], (segments > 1).then_some(size));
            }
            if let Some((at, out)) = alone {
                if let Some(s) = self.socket(id) {
                    let bytes = &batch[at..at + out.len];
                    if let Err(e) = self.send_one(&s.socket, out.dst, bytes, out.from_file) {
                        Self::send_failed(out.dst, &e);
                    }
                }
            }
            if !more {
                return;
            }
        }
    }

    fn send(&self, id: TransferId, dst: SocketAddr, contents: &[u8], segment: Option<usize>) {
        let Some(s) = self.socket(id) else {
            return;
        };
        if let Err(e) = self.gso.send(&s.socket, dst, contents, segment) {
            Self::send_failed(dst, &e);
        }
    }

    fn send_failed(dst: SocketAddr, e: &std::io::Error) {
        // The send buffer stayed full: lost like a dropped datagram, and
        // the transfer's timer resends.
        if e.kind() != std::io::ErrorKind::WouldBlock {
            warn!("tftp: send to {dst} failed: {e}");
        }
    }

    /// Sends one datagram: `bytes`, then (a DATA block whose data the core
    /// left in the file) the file range, with `sendfile`.
    fn send_one(
        &self,
        socket: &UdpSocket,
        dst: SocketAddr,
        bytes: &[u8],
        from_file: Option<FromFile<usize>>,
    ) -> std::io::Result<()> {
        let Some(f) = from_file else {
            return socket.send_to(bytes, dst).map(|_| ());
        };
        let file = self
            .files
            .root()
            .file(f.handle)
            .map_err(|_| std::io::Error::other("the file is no longer open"))?;
        udp::send_from_file(socket, dst, bytes, file, f.offset, f.len)
    }

    /// Opens transfer `id`'s own socket (a new port, as RFC 1350 asks)
    /// unless it has one: on its first event or its first datagram,
    /// whichever comes first.
    fn ensure_socket(&mut self, id: TransferId) {
        if self.socket(id).is_some() {
            return;
        }
        let Some(negotiated) = self.server.negotiated(id) else {
            return;
        };
        let window = usize::from(negotiated.blksize + 32) * usize::from(negotiated.windowsize);
        let buffer = (window * 2).max(256 << 10);
        let opened = udp::bind(self.bind_ip, buffer, buffer).and_then(|socket| {
            let token = u64::try_from(id.slot()).unwrap_or(u64::MAX - 1) + 1;
            self.epoll
                .add(&socket, EpollEvent::new(EpollFlags::EPOLLIN, token))
                .context("epoll_ctl")?;
            Ok(socket)
        });
        let socket = match opened {
            Ok(socket) => socket,
            Err(e) => {
                warn!("tftp: cannot open a transfer socket: {e:#}");
                return;
            }
        };
        let file = self
            .server
            .file_handle(id)
            .map_or("?", |h| self.files.root().path(h))
            .to_string();
        if let Some(entry) = self.sockets.get_mut(id.slot()) {
            match entry.take() {
                Some(old) => {
                    let _ = self.epoll.delete(&old.socket);
                }
                None => self.open.push(id.slot()),
            }
            *entry = Some(TransferSocket {
                id,
                socket,
                segment: usize::from(negotiated.blksize) + 4,
                file,
            });
        }
    }

    /// Closes the sockets of transfers that have ended: among those
    /// reached this round, or (`every`) all.
    fn close_ended(&mut self, every: bool) {
        let touched = std::mem::take(&mut self.touched);
        if !every {
            for id in &touched {
                if self.server.is_active(*id) {
                    continue;
                }
                let Some(entry) = self.sockets.get_mut(id.slot()) else {
                    continue;
                };
                if entry.as_ref().is_some_and(|s| s.id == *id) {
                    if let Some(old) = entry.take() {
                        let _ = self.epoll.delete(&old.socket);
                    }
                    self.open.retain(|&slot| slot != id.slot());
                }
            }
            self.touched = touched;
            self.touched.clear();
            return;
        }
        self.touched = touched;
        self.touched.clear();
        let (server, sockets, epoll) = (&self.server, &mut self.sockets, &self.epoll);
        self.open.retain(|&slot| {
            let Some(entry) = sockets.get_mut(slot) else {
                return false;
            };
            if entry.as_ref().is_some_and(|s| server.is_active(s.id)) {
                return true;
            }
            if let Some(old) = entry.take() {
                let _ = epoll.delete(&old.socket);
            }
            false
        });
    }

    fn drain_events(&mut self) {
        while let Some(event) = self.server.poll_event() {
            self.on_event(event);
        }
    }

    /// Logs `event` with its transfer's file and publishes it.
    fn on_event(&mut self, event: Event) {
        let file = match event {
            Event::Started { id, .. } => self
                .server
                .file_handle(id)
                .map_or("?", |h| self.files.root().path(h))
                .to_string(),
            Event::Finished { id, .. }
            | Event::Aborted { id, .. }
            | Event::TimedOut { id, .. }
            | Event::Failed { id, .. } => self
                .socket(id)
                .map_or_else(|| "?".to_string(), |s| s.file.clone()),
            _ => String::new(),
        };
        let line = event.display_with(&file);
        match event {
            Event::TimedOut { .. } | Event::Failed { .. } => warn!("tftp: {line}"),
            _ => info!("tftp: {line}"),
        }
        if let Some(owned) = events::Event::tftp(&event, &file) {
            self.events.publish(owned);
        }
        match event {
            Event::Started { id, .. } => {
                self.ensure_socket(id);
                self.touched.push(id);
            }
            Event::Finished { id, .. }
            | Event::Aborted { id, .. }
            | Event::TimedOut { id, .. }
            | Event::Failed { id, .. } => self.touched.push(id),
            _ => {}
        }
    }
}
