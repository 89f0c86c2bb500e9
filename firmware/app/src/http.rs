//! HTTP on port 80: each accepted TCP connection's bytes go to the core's
//! sans-IO GET responder (`awl_core::http::Connection`), which reads the
//! bodies from [`FlashSite`]: the packed files, at `/<name>` and
//! `/boot/<name>`; a file packed with `render = true` is a boot-script
//! template (`awl_core::script`) filled in for the asking client (its
//! address, its MAC from the DHCP lease table, the server, the mirror).

use core::net::{Ipv4Addr, SocketAddr};

use awl_core::http::{Connection, Resource, Site};
use awl_core::script::{self, ClientVars};
use awl_core::wire::http::Status;
use smoltcp::socket::tcp;

use crate::log::Log;
use crate::packed::Packed;

/// What a response reads: a packed file, raw or rendered for a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// The bytes of file `index`.
    File(u16),
    /// File `index` rendered as a template for this client.
    Script {
        /// The file.
        index: u16,
        /// The client's address.
        ip: Ipv4Addr,
        /// Its MAC, when it has a lease.
        mac: Option<[u8; 6]>,
    },
}

/// The packed files as an HTTP site.
pub struct FlashSite<'s> {
    packed: &'static Packed,
    dhcp: Option<&'s crate::Dhcp<'s>>,
}

impl<'s> FlashSite<'s> {
    /// Serves `packed`'s files; MACs of clients come from `dhcp`'s leases.
    pub fn new(packed: &'static Packed, dhcp: Option<&'s crate::Dhcp<'s>>) -> Self {
        Self { packed, dhcp }
    }

    fn template(&self, index: u16) -> Option<&'static str> {
        let file = self.packed.files.get(usize::from(index))?;
        core::str::from_utf8(file.bytes).ok()
    }

    fn vars(&self, ip: Ipv4Addr, mac: Option<[u8; 6]>) -> ClientVars<'static> {
        ClientVars {
            server: self.packed.ip,
            mirror: self.packed.mirror,
            mac,
            ip,
            hostname: "",
        }
    }
}

fn content_type(name: &str) -> &'static str {
    if name.ends_with(".ipxe") || name.ends_with(".txt") || name.ends_with(".cfg") {
        "text/plain"
    } else {
        "application/octet-stream"
    }
}

impl Site for FlashSite<'_> {
    type Handle = Body;

    fn open(&mut self, path: &str, peer: SocketAddr) -> Option<Resource<Body>> {
        let name = path.strip_prefix("boot/").unwrap_or(path);
        let index = self.packed.files.iter().position(|f| f.name == name)?;
        let file = self.packed.files.get(index)?;
        let index = u16::try_from(index).ok()?;
        let content_type = content_type(name);
        let SocketAddr::V4(peer) = peer else {
            return None;
        };
        if file.render {
            let ip = *peer.ip();
            let mac = self
                .dhcp
                .and_then(|d| d.leases().find(|l| l.ip == ip).map(|l| l.mac));
            let template = self.template(index)?;
            let (_, len) = script::render(template, &self.vars(ip, mac), 0, &mut []);
            Some(Resource {
                handle: Body::Script { index, ip, mac },
                len,
                content_type,
            })
        } else {
            Some(Resource {
                handle: Body::File(index),
                len: file.bytes.len() as u64,
                content_type,
            })
        }
    }

    fn read_at(&mut self, handle: Body, offset: u64, buf: &mut [u8]) -> usize {
        match handle {
            Body::File(index) => {
                let Some(file) = self.packed.files.get(usize::from(index)) else {
                    return 0;
                };
                let start = usize::try_from(offset).unwrap_or(usize::MAX);
                let rest = file.bytes.get(start..).unwrap_or(&[]);
                let n = rest.len().min(buf.len());
                if let (Some(dst), Some(src)) = (buf.get_mut(..n), rest.get(..n)) {
                    dst.copy_from_slice(src);
                }
                n
            }
            Body::Script { index, ip, mac } => match self.template(index) {
                Some(template) => script::render(template, &self.vars(ip, mac), offset, buf).0,
                None => 0,
            },
        }
    }
}

/// One HTTP connection slot: the responder's state and whether its log
/// line has been written.
pub struct Slot {
    connection: Connection<Body>,
    logged: bool,
}

impl Slot {
    /// A slot waiting for a connection.
    pub const fn new() -> Self {
        Self {
            connection: Connection::new(),
            logged: false,
        }
    }
}

impl Default for Slot {
    fn default() -> Self {
        Self::new()
    }
}

/// **The hook**: serves one TCP connection for one poll pass. Feeds what
/// the client sent to the core's responder, sends what fits of the answer,
/// closes when it is all out. Returns whether anything moved.
pub fn serve<L: Log>(
    socket: &mut tcp::Socket<'_>,
    slot: &mut Slot,
    site: &mut FlashSite<'_>,
    log: &mut L,
) -> bool {
    let Some(remote) = socket.remote_endpoint() else {
        return false;
    };
    let smoltcp::wire::IpAddress::Ipv4(ip) = remote.addr;
    let peer = SocketAddr::from((ip, remote.port));
    let mut moved = false;
    let conn = &mut slot.connection;
    if socket.can_recv() {
        let answered = conn.answered().is_some();
        let _ = socket.recv(|data| {
            // After the head, whatever else comes is not needed.
            let n = if answered {
                data.len()
            } else {
                conn.receive(site, peer, data)
            };
            (n, ())
        });
        moved = true;
    }
    if let (Some(answered), false) = (conn.answered(), slot.logged) {
        crate::log!(
            log,
            "http: {} {} {} {} bytes",
            peer,
            conn.target(),
            answered.status.code(),
            answered.len
        );
        slot.logged = true;
    }
    while socket.can_send() && !conn.is_done() {
        let sent = socket
            .send(|buf| {
                let n = conn.poll_send(site, buf);
                (n, n)
            })
            .unwrap_or(0);
        if sent == 0 {
            break;
        }
        moved = true;
    }
    // The client went away without a whole request: nothing to answer.
    let abandoned = !socket.may_recv() && conn.answered().is_none();
    if (abandoned || conn.is_done()) && socket.send_queue() == 0 && socket.may_send() {
        socket.close();
        moved = true;
    }
    moved
}

/// The connection that came while all [`HTTP_CONNECTIONS`] were taken:
/// answered `503 Service Unavailable` (with `Retry-After`) at once, what
/// it sent thrown away, then closed, and the socket listens again. `sent`
/// remembers that this connection has had its answer. Returns whether
/// anything moved.
///
/// [`HTTP_CONNECTIONS`]: crate::capacity::HTTP_CONNECTIONS
// Not inlined: inlined into the main loop it made LLVM keep a second,
// 6 KiB larger frame for `main` (14.4 KiB instead of 8.4; see the stack
// figures in BENCHMARKS.md).
#[inline(never)]
pub fn refuse<L: Log>(socket: &mut tcp::Socket<'_>, sent: &mut bool, log: &mut L) -> bool {
    match socket.state() {
        tcp::State::Closed => {
            *sent = false;
            let _ = socket.listen(crate::HTTP_PORT);
            false
        }
        tcp::State::TimeWait => {
            socket.abort();
            true
        }
        tcp::State::Listen | tcp::State::SynReceived => false,
        _ => {
            let mut moved = false;
            if socket.can_recv() {
                let _ = socket.recv(|data| (data.len(), ()));
                moved = true;
            }
            if !*sent && socket.can_send() {
                let mut response = [0u8; awl_core::http::ERROR_RESPONSE_MAX];
                let n = awl_core::http::emit_error(&mut response, Status::Unavailable);
                let _ = socket.send_slice(response.get(..n).unwrap_or(&[]));
                *sent = true;
                moved = true;
                if let Some(remote) = socket.remote_endpoint() {
                    crate::log!(
                        log,
                        "http: {} refused with 503: all {} connections busy",
                        remote,
                        crate::capacity::HTTP_CONNECTIONS
                    );
                }
            }
            if *sent && socket.send_queue() == 0 && socket.may_send() {
                socket.close();
                moved = true;
            }
            moved
        }
    }
}

/// Makes a slot ready for the next connection.
pub fn reset(slot: &mut Slot, site: &mut FlashSite<'_>) {
    slot.connection.reset(site);
    slot.logged = false;
}
