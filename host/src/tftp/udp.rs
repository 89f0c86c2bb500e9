//! The engine's UDP plumbing: sockets, batched receive (`recvmmsg`),
//! batched send (UDP GSO: a run of equal-size datagrams in one `sendmsg`)
//! and large blocks sent from the page cache (`sendfile`).

use std::fs::File;
use std::io::{self, IoSlice, IoSliceMut};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::sys::sendfile::sendfile;
use nix::sys::socket::{
    recvmmsg, sendmsg, setsockopt, sockopt, ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage,
};
use socket2::{Domain, Protocol, Socket, Type};

/// The longest a send may wait for room in a full send buffer before its
/// datagrams count as lost (the transfer's timer resends them).
const SEND_PATIENCE: Duration = Duration::from_millis(10);

/// The most datagrams in one GSO send (the kernel's `UDP_MAX_SEGMENTS`).
pub(super) const MAX_SEGMENTS: usize = 64;
/// The most bytes in one GSO send (an IPv4 datagram's length is 16 bits).
pub(super) const GSO_BYTES: usize = 65_000;

/// A UDP socket bound to `addr`. Sockets stay blocking so that a send waits
/// (at most [`SEND_PATIENCE`]) for room; receives never wait
/// (`MSG_DONTWAIT`), since epoll says when to read.
pub(super) fn bind(addr: SocketAddr, send_buffer: usize, recv_buffer: usize) -> Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    let _ = socket.set_send_buffer_size(send_buffer);
    let _ = socket.set_recv_buffer_size(recv_buffer);
    socket.set_write_timeout(Some(SEND_PATIENCE))?;
    socket
        .bind(&addr.into())
        .with_context(|| format!("cannot bind UDP {addr}"))?;
    Ok(socket.into())
}

/// Whether this kernel takes `UDP_SEGMENT` (GSO); cleared for good when a
/// send with it fails the way unsupported devices fail.
pub(super) struct Gso(AtomicBool);

impl Gso {
    pub(super) fn probe(socket: &UdpSocket) -> Self {
        // Setting the socket-wide default to 0 changes nothing, but fails
        // on kernels without UDP GSO.
        Self(AtomicBool::new(
            setsockopt(socket, sockopt::UdpGsoSegment, &0).is_ok(),
        ))
    }

    pub(super) fn enabled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Sends `contents` to `dst`: one datagram, or (`segment` given) a run
    /// of `segment`-byte datagrams, the last possibly shorter.
    pub(super) fn send(
        &self,
        socket: &UdpSocket,
        dst: SocketAddr,
        contents: &[u8],
        segment: Option<usize>,
    ) -> io::Result<()> {
        let addr = SockaddrStorage::from(dst);
        let iov = [IoSlice::new(contents)];
        let size = segment.and_then(|s| u16::try_from(s).ok());
        let result = match size {
            Some(size) if self.enabled() => {
                let cmsg = [ControlMessage::UdpGsoSegments(&size)];
                sendmsg(
                    socket.as_raw_fd(),
                    &iov,
                    &cmsg,
                    MsgFlags::empty(),
                    Some(&addr),
                )
            }
            _ if segment.is_some() => return self.send_each(socket, dst, contents, segment),
            _ => sendmsg(
                socket.as_raw_fd(),
                &iov,
                &[],
                MsgFlags::empty(),
                Some(&addr),
            ),
        };
        match result {
            Ok(_) => Ok(()),
            // Devices without segmentation offload fail this way (and the
            // kernel has no other way to say so): send one by one from now on.
            Err(Errno::EIO | Errno::EINVAL) if size.is_some() => {
                self.0.store(false, Ordering::Relaxed);
                self.send_each(socket, dst, contents, segment)
            }
            Err(e) => Err(e.into()),
        }
    }

    fn send_each(
        &self,
        socket: &UdpSocket,
        dst: SocketAddr,
        contents: &[u8],
        segment: Option<usize>,
    ) -> io::Result<()> {
        let step = segment.unwrap_or(contents.len()).max(1);
        for datagram in contents.chunks(step) {
            socket.send_to(datagram, dst)?;
        }
        Ok(())
    }
}

/// Sends one datagram to `dst`: `header`, then `len` bytes of `file` from
/// `offset`, which the kernel takes from the page cache without a copy
/// through user space. The header is held back (`MSG_MORE`) until
/// `sendfile` appends the bytes and ends the datagram. When the kernel
/// fails the append, it drops the whole pending datagram (lost, and the
/// transfer's timer resends). When the file turned out shorter, what is
/// pending goes out short (an empty send ends it), as a copy would have.
pub(super) fn send_from_file(
    socket: &UdpSocket,
    dst: SocketAddr,
    header: &[u8],
    file: &File,
    offset: u64,
    len: usize,
) -> io::Result<()> {
    let addr = SockaddrStorage::from(dst);
    let more = MsgFlags::from_bits_retain(libc::MSG_MORE);
    let iov = [IoSlice::new(header)];
    sendmsg(socket.as_raw_fd(), &iov, &[], more, Some(&addr))?;
    let mut at = i64::try_from(offset).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let sent = sendfile(socket, file, Some(&mut at), len);
    if sent != Ok(len) {
        let _ = sendmsg::<SockaddrStorage>(
            socket.as_raw_fd(),
            &[],
            &[],
            MsgFlags::empty(),
            Some(&addr),
        );
    }
    match sent {
        Ok(_) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// One datagram received: where from, how long.
#[derive(Clone, Copy)]
pub(super) struct Received {
    pub(super) from: SocketAddr,
    pub(super) len: usize,
}

/// `recvmmsg` with buffers allocated once.
pub(super) struct Receiver {
    headers: MultiHeaders<SockaddrStorage>,
    buf: Box<[u8]>,
    slot: usize,
    got: Vec<Received>,
}

impl Receiver {
    /// Room for `count` datagrams of up to `slot` bytes (longer ones are
    /// cut to `slot`). Pages are touched only as datagrams fill them.
    pub(super) fn new(count: usize, slot: usize) -> Self {
        Self {
            headers: MultiHeaders::preallocate(count, None),
            buf: vec![0; count * slot].into_boxed_slice(),
            slot,
            got: Vec::with_capacity(count),
        }
    }

    /// Reads what is waiting on `socket`, without waiting; returns how many
    /// datagrams (see [`Receiver::datagram`]). Errors (ICMP unreachable
    /// from a client that went away) count as nothing received.
    pub(super) fn receive(&mut self, socket: &UdpSocket) -> usize {
        self.got.clear();
        let mut slices: Vec<[IoSliceMut<'_>; 1]> = self
            .buf
            .chunks_exact_mut(self.slot)
            .map(|chunk| [IoSliceMut::new(chunk)])
            .collect();
        let Ok(results) = recvmmsg(
            socket.as_raw_fd(),
            &mut self.headers,
            slices.iter_mut(),
            MsgFlags::MSG_DONTWAIT,
            None,
        ) else {
            return 0;
        };
        for message in results {
            let from = message.address.and_then(|a: SockaddrStorage| {
                a.as_sockaddr_in()
                    .map(|a| SocketAddr::V4((*a).into()))
                    .or_else(|| a.as_sockaddr_in6().map(|a| SocketAddr::V6((*a).into())))
            });
            if let Some(from) = from {
                self.got.push(Received {
                    from,
                    len: message.bytes.min(self.slot),
                });
            } else {
                // Keep the numbering: an unusable datagram is empty.
                self.got.push(Received {
                    from: SocketAddr::from(([0, 0, 0, 0], 0)),
                    len: 0,
                });
            }
        }
        self.got.len()
    }

    /// Datagram `i` of the last [`Receiver::receive`].
    pub(super) fn datagram(&self, i: usize) -> Option<(SocketAddr, &[u8])> {
        let r = self.got.get(i)?;
        if r.len == 0 && r.from.port() == 0 {
            return None;
        }
        let start = i * self.slot;
        Some((r.from, self.buf.get(start..start + r.len)?))
    }
}
