//! The TFTP driver: moves datagrams between UDP sockets and the core's
//! `TftpServer`, and reads files. No protocol decisions are made here.
//!
//! One engine task owns the server. The listener and each transfer's own
//! socket (a new port per transfer, as RFC 1350 asks) have a reader task
//! that forwards what arrives, tagged with the socket it came from.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant as StdInstant;

use anyhow::{Context, Result};
use awl_core::tftp::{Config, Event, Local, TftpServer, Transfer, TransferId};
use awl_core::time::Instant;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::clock::{core_now, sleep_until};
use crate::decode::printable;
use crate::files::RootDir;

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

struct Datagram {
    local: Local,
    from: SocketAddr,
    data: Vec<u8>,
}

/// A UDP socket with large buffers: a window of blocks must fit the send
/// buffer, and requests must not be dropped while the engine is busy.
fn udp_socket(addr: SocketAddr, buffer: usize) -> Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_nonblocking(true)?;
    let _ = socket.set_send_buffer_size(buffer);
    let _ = socket.set_recv_buffer_size(buffer);
    socket
        .bind(&addr.into())
        .with_context(|| format!("cannot bind UDP {addr}"))?;
    Ok(UdpSocket::from_std(socket.into())?)
}

/// Reads datagrams of up to `largest` bytes (longer ones are cut, and then
/// fail to parse or are refused as oversized blocks).
fn spawn_reader(
    socket: Arc<UdpSocket>,
    local: Local,
    largest: usize,
    tx: mpsc::Sender<Datagram>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut buf = vec![0u8; largest];
        loop {
            match socket.recv_from(&mut buf).await {
                Ok((len, from)) => {
                    let datagram = Datagram {
                        local,
                        from,
                        data: buf[..len].to_vec(),
                    };
                    if tx.send(datagram).await.is_err() {
                        return;
                    }
                }
                // ICMP errors from a vanished client surface here; the
                // transfer's own timer deals with the silence.
                Err(_) => tokio::task::yield_now().await,
            }
        }
    })
}

struct TransferSocket {
    socket: Arc<UdpSocket>,
    /// Sends a window of equal-size blocks in one system call (UDP GSO).
    gso: quinn_udp::UdpSocketState,
    reader: JoinHandle<()>,
    file: String,
    started: StdInstant,
}

/// Runs the TFTP server until the task is dropped.
pub async fn serve(options: TftpOptions) -> Result<()> {
    let mut files =
        RootDir::new(&options.root, options.upload_dir.as_deref()).with_context(|| {
            format!(
                "--tftp-root {}: cannot open the directory",
                options.root.display()
            )
        })?;
    let mut config = Config::default();
    config.max_blksize = Config::blksize_for_mtu(options.mtu, options.listen.is_ipv6());
    config.max_windowsize = options.max_windowsize;
    config.max_per_ip = options.max_per_ip;
    config.allow_write = options.upload_dir.is_some();
    config.max_upload = options.max_upload;
    let slots: Vec<Option<Transfer<usize>>> = (0..options.capacity).map(|_| None).collect();
    let mut server = TftpServer::new(config, slots);

    let listener = Arc::new(udp_socket(options.listen, 4 << 20)?);
    info!(
        "tftp: serving {} on {} (blksize up to {}, windowsize up to {}, {} transfers)",
        files.root().display(),
        listener.local_addr()?,
        config.max_blksize,
        config.max_windowsize,
        options.capacity
    );
    let (tx, mut rx) = mpsc::channel::<Datagram>(4096);
    let _listener_reader = spawn_reader(listener.clone(), Local::Listener, 65_536, tx.clone());
    let mut sockets: HashMap<TransferId, TransferSocket> = HashMap::new();
    let epoch = StdInstant::now();
    let now = move || core_now(epoch);
    let mut buf = vec![0u8; usize::from(config.max_blksize) + 4];
    let mut batch = vec![0u8; (usize::from(config.max_blksize) + 4) * MAX_SEGMENTS];
    let mut ready: Vec<TransferId> = Vec::new();
    let bind_ip = SocketAddr::new(options.listen.ip(), 0);

    loop {
        let deadline = server.poll_timeout();
        tokio::select! {
            received = rx.recv() => {
                let Some(first) = received else { return Ok(()) };
                let t = now();
                server.handle(t, first.local, first.from, &first.data, &mut files);
                // Take whatever else is waiting before sending, reading
                // events as they come so no log line is lost to a burst.
                while let Ok(more) = rx.try_recv() {
                    while let Some(event) = server.poll_event() {
                        on_event(event, &server, &files, &mut sockets, bind_ip, &tx);
                    }
                    server.handle(t, more.local, more.from, &more.data, &mut files);
                }
            }
            _ = sleep_until(epoch, deadline) => {
                server.handle_timeout(now(), &mut files);
            }
        }
        while let Some(event) = server.poll_event() {
            on_event(event, &server, &files, &mut sockets, bind_ip, &tx);
        }
        let t = now();
        // Each transfer's window in as few system calls as the kernel allows.
        ready.clear();
        ready.extend(server.ready());
        for &id in &ready {
            ensure_socket(&server, &files, &mut sockets, id, bind_ip, &tx);
            if let Some(socket) = sockets.get(&id) {
                send_window(&mut server, &mut files, socket, id, t, &mut batch).await;
            }
        }
        // What is left: refusals from the listener.
        while let Some(out) = server.poll_transmit(t, &mut files, &mut buf) {
            let socket = match out.local {
                Local::Listener => &listener,
                Local::Transfer(id) => match sockets.get(&id) {
                    Some(s) => &s.socket,
                    None => continue,
                },
            };
            if let Err(e) = socket.send_to(&buf[..out.len], out.dst).await {
                warn!("tftp: send to {} failed: {e}", out.dst);
            }
        }
        while let Some(event) = server.poll_event() {
            on_event(event, &server, &files, &mut sockets, bind_ip, &tx);
        }
        sockets.retain(|id, s| {
            let keep = server.is_active(*id);
            if !keep {
                s.reader.abort();
            }
            keep
        });
    }
}

/// The most datagrams in one GSO send (the kernel allows 64, and at most
/// 64 KiB in all).
const MAX_SEGMENTS: usize = 64;

/// Sends what transfer `id` has to send now, packing runs of equal-size
/// datagrams (a window of DATA blocks) into single GSO sends.
async fn send_window(
    server: &mut TftpServer<'_, usize>,
    files: &mut RootDir,
    socket: &TransferSocket,
    id: TransferId,
    now: Instant,
    batch: &mut [u8],
) {
    let datagram_cap = batch.len() / MAX_SEGMENTS;
    let max_segments = socket
        .gso
        .max_gso_segments()
        .min(MAX_SEGMENTS)
        .min((65_000 / datagram_cap).max(1));
    loop {
        let mut filled = 0;
        let mut segments = 0;
        let mut segment_size = 0;
        let mut dst = None;
        let mut more = true;
        while segments < max_segments {
            let slot = &mut batch[filled..filled + datagram_cap];
            let Some(out) = server.poll_transmit_for(now, id, files, slot) else {
                more = false;
                break;
            };
            if segments > 0 && out.len > segment_size {
                // Cannot join this batch: send the batch, then this alone.
                send(socket, &batch[..filled], segment_size, segments, dst).await;
                let alone = batch[filled..filled + out.len].to_vec();
                send(socket, &alone, out.len, 1, Some(out.dst)).await;
                segments = 0;
                break;
            }
            if segments == 0 {
                segment_size = out.len;
                dst = Some(out.dst);
            }
            filled += out.len;
            segments += 1;
            if out.len < segment_size {
                break; // a shorter datagram can only end a batch
            }
        }
        if segments > 0 {
            send(socket, &batch[..filled], segment_size, segments, dst).await;
        }
        if !more {
            return;
        }
    }
}

async fn send(
    socket: &TransferSocket,
    contents: &[u8],
    segment_size: usize,
    segments: usize,
    dst: Option<SocketAddr>,
) {
    let Some(destination) = dst else { return };
    let transmit = quinn_udp::Transmit {
        destination,
        ecn: None,
        contents,
        segment_size: (segments > 1).then_some(segment_size),
        src_ip: None,
    };
    loop {
        let sent = socket.socket.try_io(tokio::io::Interest::WRITABLE, || {
            socket.gso.try_send((&*socket.socket).into(), &transmit)
        });
        match sent {
            Ok(()) => return,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if socket.socket.writable().await.is_err() {
                    return;
                }
            }
            Err(e) => {
                // Lost like a dropped datagram: the transfer's timer resends.
                warn!("tftp: send to {destination} failed: {e}");
                return;
            }
        }
    }
}

/// Opens transfer `id`'s own socket (a new port, as RFC 1350 asks) unless
/// it has one: on its first event or its first datagram, whichever comes
/// first.
fn ensure_socket(
    server: &TftpServer<'_, usize>,
    files: &RootDir,
    sockets: &mut HashMap<TransferId, TransferSocket>,
    id: TransferId,
    bind: SocketAddr,
    tx: &mpsc::Sender<Datagram>,
) {
    if sockets.contains_key(&id) {
        return;
    }
    let Some(negotiated) = server.negotiated(id) else {
        return;
    };
    let window = usize::from(negotiated.blksize + 32) * usize::from(negotiated.windowsize);
    let opened = udp_socket(bind, (window * 2).max(256 << 10)).and_then(|socket| {
        let socket = Arc::new(socket);
        let gso = quinn_udp::UdpSocketState::new((&*socket).into())?;
        Ok((socket, gso))
    });
    let (socket, gso) = match opened {
        Ok(opened) => opened,
        Err(e) => {
            warn!("tftp: cannot open a transfer socket: {e:#}");
            return;
        }
    };
    let reader = spawn_reader(
        socket.clone(),
        Local::Transfer(id),
        usize::from(negotiated.blksize) + 5,
        tx.clone(),
    );
    let file = server
        .file_handle(id)
        .map_or("?", |h| files.path(h))
        .to_string();
    sockets.insert(
        id,
        TransferSocket {
            socket,
            gso,
            reader,
            file,
            started: StdInstant::now(),
        },
    );
}

fn on_event(
    event: Event,
    server: &TftpServer<'_, usize>,
    files: &RootDir,
    sockets: &mut HashMap<TransferId, TransferSocket>,
    bind: SocketAddr,
    tx: &mpsc::Sender<Datagram>,
) {
    match event {
        Event::Started {
            id,
            peer,
            size,
            negotiated,
            mode,
            upload,
        } => {
            let file = server
                .file_handle(id)
                .map_or("?", |h| files.path(h))
                .to_string();
            info!(
                "tftp: {peer} {} \"{}\" {:?} size {size} blksize {} windowsize {} oack {:?}",
                if upload { "upload" } else { "start" },
                printable(file.as_bytes()),
                mode,
                negotiated.blksize,
                negotiated.windowsize,
                negotiated.oack
            );
            ensure_socket(server, files, sockets, id, bind, tx);
        }
        Event::Finished {
            id,
            peer,
            bytes,
            retransmits,
            elapsed,
        } => {
            let (file, secs) = describe(sockets.get(&id));
            let secs = secs.max(elapsed.total_micros() as f64 / 1e6);
            info!(
                "tftp: {peer} done \"{file}\" {bytes} bytes in {secs:.3} s ({:.1} MB/s), {retransmits} blocks resent",
                bytes as f64 / secs.max(1e-6) / 1e6
            );
        }
        Event::Aborted {
            id,
            peer,
            code,
            bytes,
            ..
        } => {
            let (file, _) = describe(sockets.get(&id));
            info!("tftp: {peer} aborted \"{file}\" with ERROR {code:?} after {bytes} bytes");
        }
        Event::TimedOut {
            id, peer, bytes, ..
        } => {
            let (file, _) = describe(sockets.get(&id));
            warn!("tftp: {peer} timed out on \"{file}\" after {bytes} bytes");
        }
        Event::Failed {
            id,
            peer,
            code,
            reason,
        } => {
            let (file, _) = describe(sockets.get(&id));
            warn!("tftp: {peer} failed \"{file}\": sent ERROR {code:?} {reason}");
        }
        Event::Refused { peer, code, reason } => {
            info!("tftp: {peer} refused: ERROR {code:?} {reason}")
        }
        _ => {}
    }
}

fn describe(socket: Option<&TransferSocket>) -> (String, f64) {
    socket.map_or(("?".into(), 0.0), |s| {
        (
            printable(s.file.as_bytes()),
            s.started.elapsed().as_secs_f64(),
        )
    })
}
