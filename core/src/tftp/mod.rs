/*! The TFTP server as a sans-IO state machine.

The driver owns the sockets: one listener (port 69) and one socket per
transfer, as RFC 1350 asks (a new transfer ID, i.e. port, per transfer). It
feeds every datagram in with the socket it came from, and sends what the
server hands out from the socket it names:

```text
handle(now, local, from, datagram, files)  one received datagram
poll_transmit(now, files, buf)             -> Option<Transmit>: next datagram, written into buf
poll_timeout()                             -> Option<Instant>: when to call handle_timeout
handle_timeout(now)                        retransmissions and give-ups
poll_event()                               -> Option<Event>: starts, ends, refusals, for logs
is_active(id)                              whether a transfer's socket is still needed
```

Drain `poll_transmit` until it returns `None` after every `handle` and
`handle_timeout`. File bytes are pulled through [`FileSource`] straight into
the transmit buffer; the server never buffers file data. A source may
instead have the driver send a block's bytes from the file itself
([`FileSource::sends_from_file`], [`Transmit::from_file`]: the host does,
with `sendfile`, for large blocks).

```
use awl_core::tftp::{Config, FileError, FileSource, Local, TftpServer, Transfer};
use awl_core::time::Instant;

struct OneFile(&'static [u8]);
impl FileSource for OneFile {
    type Handle = ();
    fn open(&mut self, path: &str) -> Result<((), u64), FileError> {
        if path == "hello.txt" { Ok(((), self.0.len() as u64)) } else { Err(FileError::NotFound) }
    }
    fn read_at(&mut self, _: (), offset: u64, dst: &mut [u8]) -> Result<usize, FileError> {
        let rest = self.0.get(offset as usize..).unwrap_or(&[]);
        let n = rest.len().min(dst.len());
        dst[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    }
}

let mut slots: [Option<Transfer<()>>; 4] = Default::default();
let mut server = TftpServer::new(Config::default(), &mut slots[..]);
let mut files = OneFile(b"hi\n");
let client = "192.0.2.7:3000".parse().unwrap();
let now = Instant::from_millis(0);
server.handle(now, Local::Listener, client, b"\x00\x01hello.txt\x00octet\x00", &mut files);
let mut buf = [0u8; 516];
let t = server.poll_transmit(now, &mut files, &mut buf).unwrap();
assert_eq!(&buf[..t.len], b"\x00\x03\x00\x01hi\n"); // DATA 1, the whole file
let Local::Transfer(id) = t.local else { panic!() };
server.handle(now, t.local, client, b"\x00\x04\x00\x01", &mut files); // ACK 1
assert!(server.poll_transmit(now, &mut files, &mut buf).is_none());
assert!(!server.is_active(id));
```
*/

mod netascii;
mod options;
pub mod path;
mod read;
mod write;

use core::net::SocketAddr;

use managed::ManagedSlice;

use crate::time::{Duration, Instant};
use crate::wire::tftp::{ErrorCode, Mode, Repr};
use crate::wire::Error as WireError;
pub use options::{negotiate, Negotiated};
use read::Read;
use write::Write;

/// How a transfer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    Finished,
    Aborted(ErrorCode),
    TimedOut,
    Failed(ErrorCode, &'static str),
}

impl Ended {
    /// The event that says how transfer `id` ended.
    fn event(
        self,
        id: TransferId,
        peer: SocketAddr,
        bytes: u64,
        retransmits: u64,
        elapsed: Duration,
    ) -> Event {
        match self {
            Self::Finished => Event::Finished {
                id,
                peer,
                bytes,
                retransmits,
                elapsed,
            },
            Self::Aborted(code) => Event::Aborted {
                id,
                peer,
                code,
                bytes,
                elapsed,
            },
            Self::TimedOut => Event::TimedOut {
                id,
                peer,
                bytes,
                elapsed,
            },
            Self::Failed(code, reason) => Event::Failed {
                id,
                peer,
                code,
                reason,
            },
        }
    }
}

/// One transfer's state, read or write. The storage is the caller's (see
/// [`TftpServer::new`]); its contents are private.
pub struct Transfer<H> {
    generation: u16,
    kind: Kind<H>,
}

enum Kind<H> {
    Read(Read<H>),
    Write(Write<H>),
}

impl<H: Copy> Transfer<H> {
    fn peer(&self) -> SocketAddr {
        match &self.kind {
            Kind::Read(t) => t.peer,
            Kind::Write(t) => t.peer,
        }
    }

    fn handle(&self) -> H {
        match &self.kind {
            Kind::Read(t) => t.handle(),
            Kind::Write(t) => t.handle(),
        }
    }

    fn is_finished(&self) -> bool {
        match &self.kind {
            Kind::Read(t) => t.is_finished(),
            Kind::Write(t) => t.is_finished(),
        }
    }

    fn wants_to_send(&self) -> bool {
        match &self.kind {
            Kind::Read(t) => t.wants_to_send(),
            Kind::Write(t) => t.wants_to_send(),
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match &self.kind {
            Kind::Read(t) => t.poll_timeout(),
            Kind::Write(t) => t.poll_timeout(),
        }
    }

    fn on_datagram<F: FileSource<Handle = H>>(
        &mut self,
        now: Instant,
        repr: &Repr<'_>,
        config: &Config,
        files: &mut F,
    ) {
        match &mut self.kind {
            Kind::Read(t) => t.on_datagram(now, repr, config),
            Kind::Write(t) => t.on_datagram(now, repr, files),
        }
    }

    fn on_timeout(&mut self, now: Instant, config: &Config) {
        match &mut self.kind {
            Kind::Read(t) => t.on_timeout(now, config),
            Kind::Write(t) => t.on_timeout(now, config),
        }
    }

    fn poll_transmit<F: FileSource<Handle = H>>(
        &mut self,
        now: Instant,
        files: &mut F,
        buf: &mut [u8],
    ) -> Option<(usize, Option<FromFile<H>>)> {
        match &mut self.kind {
            Kind::Read(t) => t.poll_transmit(now, files, buf),
            Kind::Write(t) => t.poll_transmit(now, buf).map(|len| (len, None)),
        }
    }

    fn event(&self, id: TransferId, now: Instant) -> Option<Event> {
        match &self.kind {
            Kind::Read(t) => t.event(id, now),
            Kind::Write(t) => t.event(id, now),
        }
    }

    /// Hands the file back: a read is closed, an upload kept only when
    /// complete.
    fn release<F: FileSource<Handle = H>>(&self, files: &mut F) {
        match &self.kind {
            Kind::Read(t) => files.close(t.handle()),
            Kind::Write(t) => files.finish(t.handle(), t.complete()),
        }
    }
}

/// Server settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The largest block size granted: the driver sets it from the path MTU
    /// (MTU - 20 IPv4 - 8 UDP - 4 TFTP; 1468 for Ethernet) so no block is
    /// fragmented, which many boot ROMs cannot reassemble.
    pub max_blksize: u16,
    /// The largest window granted (tftp-hpa clients refuse more than 64).
    pub max_windowsize: u16,
    /// The longest wait before retransmitting when the client asks for no
    /// `timeout`.
    pub timeout: Duration,
    /// The shortest wait before retransmitting, however short the RTT.
    pub min_rto: Duration,
    /// Retransmissions in a row (without progress) before a transfer is
    /// given up. 10 keeps a transfer alive through 20% loss each way; a
    /// silent peer costs 11 datagrams.
    pub max_retries: u8,
    /// Concurrent transfers allowed from one IP address (0: no limit).
    pub max_per_ip: u16,
    /// Whether write requests (uploads) are accepted; refused with ERROR 2
    /// when not.
    pub allow_write: bool,
    /// The largest upload accepted, in bytes (ERROR 3 beyond it).
    pub max_upload: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_blksize: 1468,
            max_windowsize: 64,
            timeout: Duration::from_secs(1),
            min_rto: Duration::from_millis(20),
            max_retries: 10,
            max_per_ip: 64,
            allow_write: false,
            max_upload: 64 << 20,
        }
    }
}

impl Config {
    /// The largest block size for a path MTU (IPv4 or IPv6 headers).
    pub fn blksize_for_mtu(mtu: usize, ipv6: bool) -> u16 {
        let headers = if ipv6 { 40 + 8 + 4 } else { 20 + 8 + 4 };
        let size = mtu.saturating_sub(headers).clamp(
            usize::from(crate::wire::tftp::MIN_BLKSIZE),
            usize::from(crate::wire::tftp::MAX_BLKSIZE),
        );
        u16::try_from(size).unwrap_or(crate::wire::tftp::MAX_BLKSIZE)
    }
}

/// Why a file could not be opened or read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FileError {
    /// No such file (ERROR 1).
    NotFound,
    /// Refused: outside the root, not a regular file, no permission
    /// (ERROR 2).
    AccessDenied,
    /// Could not be read or written (ERROR 0).
    Io,
    /// An upload's name is taken: uploads never overwrite (ERROR 6).
    Exists,
    /// No room left (ERROR 3).
    Full,
}

/// Where the bytes of served files come from: the host reads a directory,
/// the firmware a table in flash. Called synchronously, once per block.
pub trait FileSource {
    /// What identifies an open file (an index, a slot id).
    type Handle: Copy;
    /// Opens `path`, a normalised relative path (see [`path::resolve`]);
    /// returns the handle and the file's size.
    fn open(&mut self, path: &str) -> Result<(Self::Handle, u64), FileError>;
    /// Reads at `offset` into `dst`; returns the bytes read (0 at the end).
    fn read_at(
        &mut self,
        handle: Self::Handle,
        offset: u64,
        dst: &mut [u8],
    ) -> Result<usize, FileError>;
    /// Whether the driver sends `len` bytes of `handle` straight from the
    /// file (`sendfile`) rather than from the datagram buffer. When it
    /// does, [`TftpServer::poll_transmit`] writes only a DATA block's
    /// 4-byte header into the buffer and names the bytes that follow in
    /// [`Transmit::from_file`]; [`FileSource::read_at`] is not called for
    /// them. Asked per block of an octet transfer (netascii is converted
    /// as it is read, so always copied). The default copies.
    fn sends_from_file(&self, handle: Self::Handle, len: usize) -> bool {
        let _ = (handle, len);
        false
    }
    /// The transfer using `handle` has ended.
    fn close(&mut self, handle: Self::Handle) {
        let _ = handle;
    }
    /// Creates `path` for an upload; must fail with [`FileError::Exists`]
    /// rather than replace a file. Sources that take no uploads keep the
    /// default, which refuses.
    fn create(&mut self, path: &str) -> Result<Self::Handle, FileError> {
        let _ = path;
        Err(FileError::AccessDenied)
    }
    /// Writes an upload's bytes at `offset`.
    fn write_at(
        &mut self,
        handle: Self::Handle,
        offset: u64,
        data: &[u8],
    ) -> Result<(), FileError> {
        let _ = (handle, offset, data);
        Err(FileError::AccessDenied)
    }
    /// An upload has ended: keep the file when `complete`, remove it when
    /// not.
    fn finish(&mut self, handle: Self::Handle, complete: bool) {
        let _ = complete;
        self.close(handle);
    }
}

/// A transfer's identity: its slot, and a generation so that a reused slot
/// is never confused with the transfer that had it before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TransferId {
    slot: u16,
    generation: u16,
}

impl TransferId {
    /// The slot index (below the table's capacity).
    pub fn slot(&self) -> usize {
        usize::from(self.slot)
    }
}

/// Which socket a datagram came in on, or goes out of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Local {
    /// The well-known port (69).
    Listener,
    /// A transfer's own port.
    Transfer(TransferId),
}

/// A datagram to send: from `local` to `dst`, the first `len` bytes of the
/// buffer given to [`TftpServer::poll_transmit`], then the file bytes named
/// by `from_file`, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit<H> {
    /// The socket to send from (the driver opens a transfer's socket on the
    /// first transmit that names it).
    pub local: Local,
    /// Where to.
    pub dst: SocketAddr,
    /// Bytes written into the buffer.
    pub len: usize,
    /// The rest of the datagram, for a source that
    /// [sends from the file](FileSource::sends_from_file).
    pub from_file: Option<FromFile<H>>,
}

/// The data of a DATA block that the driver sends from the file itself
/// (after the header in the buffer). Should the file have shrunk so that
/// fewer bytes are there, the datagram is sent shorter: the client sees a
/// short block, as it would from a copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FromFile<H> {
    /// The open file.
    pub handle: H,
    /// Where the bytes start.
    pub offset: u64,
    /// How many.
    pub len: usize,
}

/// Something worth a log line. Events are for logs only: the queue keeps
/// the newest when the driver falls behind, so a driver must not depend on
/// seeing every one (a transfer's socket is needed when
/// [`TftpServer::ready`] or a [`Transmit`] first names it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A read transfer started.
    Started {
        /// Transfer.
        id: TransferId,
        /// Client.
        peer: SocketAddr,
        /// File size.
        size: u64,
        /// Agreed options.
        negotiated: Negotiated,
        /// Transfer mode.
        mode: Mode,
        /// Whether this is an upload (WRQ).
        upload: bool,
    },
    /// The client acknowledged the last block.
    Finished {
        /// Transfer.
        id: TransferId,
        /// Client.
        peer: SocketAddr,
        /// Bytes delivered.
        bytes: u64,
        /// Blocks sent again.
        retransmits: u64,
        /// Time from request to last ACK.
        elapsed: Duration,
    },
    /// The client ended the transfer with an ERROR (EDK II's `tsize` probe
    /// ends with ERROR 8; that is normal).
    Aborted {
        /// Transfer.
        id: TransferId,
        /// Client.
        peer: SocketAddr,
        /// The client's error code.
        code: ErrorCode,
        /// Bytes acknowledged before.
        bytes: u64,
        /// Time from request to abort.
        elapsed: Duration,
    },
    /// The client stopped answering.
    TimedOut {
        /// Transfer.
        id: TransferId,
        /// Client.
        peer: SocketAddr,
        /// Bytes acknowledged before.
        bytes: u64,
        /// Time from request to giving up.
        elapsed: Duration,
    },
    /// The server ended the transfer with an ERROR (read or write error,
    /// upload over the size limit, oversized block).
    Failed {
        /// Transfer.
        id: TransferId,
        /// Client.
        peer: SocketAddr,
        /// The code sent.
        code: ErrorCode,
        /// The message sent.
        reason: &'static str,
    },
    /// A request or datagram was answered with an ERROR.
    Refused {
        /// Who sent it.
        peer: SocketAddr,
        /// The code sent back.
        code: ErrorCode,
        /// The message sent back.
        reason: &'static str,
    },
}

impl Event {
    /// The event's line with the name of the transfer's file, which the
    /// driver knows from the transfer's handle ([`TftpServer::file_handle`]
    /// when it starts): `10.0.0.7:2070 start "boot.ipxe" (151 bytes):
    /// blksize 1468, windowsize 16, tsize 151`. The name is shown escaped
    /// (quotes, backslashes and bytes outside printable ASCII as `\"`,
    /// `\\`, `\xNN`), so a log line is always one line of plain text. An
    /// empty `file` leaves the name out, as the plain `Display` does.
    pub fn display_with<'a>(&'a self, file: &'a str) -> EventLine<'a> {
        EventLine { event: self, file }
    }
}

/// An [`Event`] with its file's name: see [`Event::display_with`].
#[derive(Debug, Clone, Copy)]
pub struct EventLine<'a> {
    event: &'a Event,
    file: &'a str,
}

/// The event without its file's name (`start (151 bytes): ..`); drivers
/// log [`Event::display_with`] instead.
impl core::fmt::Display for Event {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.display_with("").fmt(f)
    }
}

/// ` "name"`, escaped; nothing for an empty name.
struct Quoted<'a>(&'a str);

impl core::fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.0.is_empty() {
            return Ok(());
        }
        write!(f, " \"{}\"", self.0.as_bytes().escape_ascii())
    }
}

/// `7 ms` under a second, `12.345 s` from a second on.
struct Elapsed(Duration);

impl core::fmt::Display for Elapsed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let ms = self.0.total_millis();
        if ms < 1000 {
            write!(f, "{ms} ms")
        } else {
            write!(f, "{}.{:03} s", ms / 1000, ms % 1000)
        }
    }
}

/// `bytes` over `elapsed`: `112.5 MB/s` from 1 MB/s on, `367 kB/s` from
/// 1 kB/s on, `600 B/s` below (decimal units, as network speeds are given).
struct Rate(u64, Duration);

impl core::fmt::Display for Rate {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let micros = self.1.total_micros().max(1);
        // Bytes per microsecond are MB/s.
        let tenths = self.0.saturating_mul(10) / micros;
        let per_sec = self.0.saturating_mul(1_000_000) / micros;
        if tenths >= 10 {
            write!(f, "{}.{} MB/s", tenths / 10, tenths % 10)
        } else if per_sec >= 1000 {
            write!(f, "{} kB/s", per_sec / 1000)
        } else {
            write!(f, "{per_sec} B/s")
        }
    }
}

impl core::fmt::Display for EventLine<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let file = Quoted(self.file);
        match *self.event {
            // Uploads are octet only; the size is the client's declared
            // tsize, shown with the options.
            Event::Started {
                peer,
                negotiated,
                upload: true,
                ..
            } => write!(f, "{peer} upload{file}: {negotiated}"),
            Event::Started {
                peer,
                size,
                negotiated,
                mode,
                ..
            } => {
                write!(f, "{peer} start{file} ({size} bytes")?;
                if mode != Mode::Octet {
                    write!(f, ", {mode}")?;
                }
                write!(f, "): {negotiated}")
            }
            Event::Finished {
                peer,
                bytes,
                retransmits,
                elapsed,
                ..
            } => write!(
                f,
                "{peer} done{file} {bytes} bytes in {} ({}), {retransmits} blocks resent",
                Elapsed(elapsed),
                Rate(bytes, elapsed)
            ),
            Event::Aborted {
                peer,
                code,
                bytes,
                elapsed,
                ..
            } => write!(
                f,
                "{peer} aborted{file}: client sent ERROR {code} after {bytes} bytes in {}",
                Elapsed(elapsed)
            ),
            Event::TimedOut {
                peer,
                bytes,
                elapsed,
                ..
            } => {
                let on = if self.file.is_empty() { "" } else { " on" };
                write!(
                    f,
                    "{peer} timed out{on}{file} after {bytes} bytes in {}",
                    Elapsed(elapsed)
                )
            }
            Event::Failed {
                peer, code, reason, ..
            } => write!(f, "{peer} failed{file}: sent ERROR {code}: {reason}"),
            Event::Refused { peer, code, reason } => {
                write!(f, "{peer} refused: ERROR {code}: {reason}")
            }
        }
    }
}

/// The longest normalised path a request may name.
pub const MAX_PATH: usize = 512;

/// ERRORs waiting to be sent (refusals do not take a transfer slot).
const QUEUE: usize = 16;
/// Events waiting for the driver, by default (log lines; the oldest are
/// dropped when the driver does not read them).
pub const EVENTS: usize = 32;

#[derive(Debug, Clone, Copy)]
struct Refusal {
    local: Local,
    dst: SocketAddr,
    code: ErrorCode,
    message: &'static str,
}

/// The TFTP server: a table of transfers in storage the caller provides,
/// and up to `E` log events waiting for the driver.
pub struct TftpServer<'a, H, const E: usize = EVENTS> {
    config: Config,
    slots: ManagedSlice<'a, Option<Transfer<H>>>,
    next_generation: u16,
    refusals: heapless::Deque<Refusal, QUEUE>,
    events: heapless::Deque<Event, E>,
    /// Slot to look at first in `poll_transmit` (round robin).
    cursor: usize,
}

/// The ERROR sent when a file cannot be opened or created.
fn file_error(e: FileError) -> (ErrorCode, &'static str) {
    match e {
        FileError::NotFound => (ErrorCode::FileNotFound, "file not found"),
        FileError::AccessDenied => (ErrorCode::AccessViolation, "access violation"),
        FileError::Exists => (ErrorCode::FileExists, "file already exists"),
        FileError::Full => (ErrorCode::DiskFull, "disk full"),
        FileError::Io => (ErrorCode::NotDefined, "cannot read the file"),
    }
}

/// The message sent for a request the parser refused.
fn refusal_for(error: WireError) -> (ErrorCode, &'static str) {
    match error {
        WireError::MissingNul => (
            ErrorCode::IllegalOperation,
            "malformed request: a string has no terminating NUL",
        ),
        WireError::EmptyFilename => (
            ErrorCode::IllegalOperation,
            "malformed request: empty filename",
        ),
        WireError::BadFilename => (
            ErrorCode::IllegalOperation,
            "malformed request: filename has control characters or is not UTF-8",
        ),
        WireError::BadMode => (
            ErrorCode::IllegalOperation,
            "malformed request: unknown transfer mode",
        ),
        WireError::BadOption => (
            ErrorCode::OptionRefused,
            "malformed option: a name is empty or has no value",
        ),
        WireError::Oversize => (ErrorCode::IllegalOperation, "request too long"),
        _ => (ErrorCode::IllegalOperation, "illegal TFTP operation"),
    }
}

impl<'a, H: Copy> TftpServer<'a, H> {
    /// A server with `slots.len()` transfer slots (all must be `None`) and
    /// the default event queue ([`EVENTS`]).
    pub fn new(config: Config, slots: impl Into<ManagedSlice<'a, Option<Transfer<H>>>>) -> Self {
        Self::with_event_queue(config, slots)
    }
}

impl<'a, H: Copy, const E: usize> TftpServer<'a, H, E> {
    /// As [`TftpServer::new`], with an event queue of `E` (a board that
    /// reads events after every poll needs few).
    pub fn with_event_queue(
        config: Config,
        slots: impl Into<ManagedSlice<'a, Option<Transfer<H>>>>,
    ) -> Self {
        Self {
            config,
            slots: slots.into(),
            next_generation: 0,
            refusals: heapless::Deque::new(),
            events: heapless::Deque::new(),
            cursor: 0,
        }
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Transfers in progress.
    pub fn active(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }

    /// How many transfers fit.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// The file handle transfer `id` reads or writes (for the driver's logs).
    pub fn file_handle(&self, id: TransferId) -> Option<H> {
        self.transfer(id).map(Transfer::handle)
    }

    /// What transfer `id` agreed with its client (for sizing its socket).
    pub fn negotiated(&self, id: TransferId) -> Option<Negotiated> {
        self.transfer(id).map(|t| match &t.kind {
            Kind::Read(r) => r.negotiated,
            Kind::Write(w) => w.negotiated,
        })
    }

    /// Whether transfer `id` still exists (its socket is still needed).
    pub fn is_active(&self, id: TransferId) -> bool {
        self.transfer(id).is_some()
    }

    fn transfer(&self, id: TransferId) -> Option<&Transfer<H>> {
        self.slots
            .get(id.slot())?
            .as_ref()
            .filter(|t| t.generation == id.generation)
    }

    fn transfer_mut(&mut self, id: TransferId) -> Option<&mut Transfer<H>> {
        self.slots
            .get_mut(id.slot())?
            .as_mut()
            .filter(|t| t.generation == id.generation)
    }

    fn id_of(slot: usize, transfer: &Transfer<H>) -> TransferId {
        TransferId {
            slot: u16::try_from(slot).unwrap_or(u16::MAX),
            generation: transfer.generation,
        }
    }

    /// Feeds one datagram received on `local` from `from`.
    pub fn handle<F: FileSource<Handle = H>>(
        &mut self,
        now: Instant,
        local: Local,
        from: SocketAddr,
        datagram: &[u8],
        files: &mut F,
    ) {
        match local {
            Local::Listener => self.handle_request(now, from, datagram, files),
            Local::Transfer(id) => {
                let config = self.config;
                let Some(transfer) = self.transfer_mut(id) else {
                    return; // a transfer that has ended: nothing to disturb
                };
                if transfer.peer() != from {
                    // RFC 1350 §4: a datagram from another TID gets ERROR 5
                    // and the transfer carries on undisturbed.
                    self.refuse(local, from, ErrorCode::UnknownTid, "unknown transfer ID");
                    return;
                }
                if let Ok(repr) = Repr::parse(datagram) {
                    transfer.on_datagram(now, &repr, &config, files);
                }
                self.reap(now, id.slot(), files);
            }
        }
    }

    fn handle_request<F: FileSource<Handle = H>>(
        &mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &[u8],
        files: &mut F,
    ) {
        if datagram.len() < 2 {
            return; // not even an opcode: drop (T13)
        }
        let (request, upload) = match Repr::parse(datagram) {
            Ok(Repr::Rrq(request)) => (request, false),
            Ok(Repr::Wrq(request)) if self.config.allow_write => (request, true),
            Ok(Repr::Wrq(_)) => {
                return self.refuse(
                    Local::Listener,
                    from,
                    ErrorCode::AccessViolation,
                    "writes are disabled on this server",
                );
            }
            // DATA, ACK, ERROR, OACK on the well-known port: late or stray,
            // and answering could feed a loop. Drop.
            Ok(_) => return,
            Err(e) => {
                let (code, message) = refusal_for(e);
                return self.refuse(Local::Listener, from, code, message);
            }
        };
        // A retransmitted request for a transfer already under way: no
        // second transfer starts; one whose peer is still unproven sends
        // its first answer again.
        if let Some(t) = self.slots.iter_mut().flatten().find(|t| t.peer() == from) {
            if let Kind::Read(read) = &mut t.kind {
                read.on_repeated_request();
            }
            return;
        }
        if self.config.max_per_ip != 0 {
            let from_ip = self
                .slots
                .iter()
                .flatten()
                .filter(|t| t.peer().ip() == from.ip())
                .count();
            if from_ip >= usize::from(self.config.max_per_ip) {
                return self.refuse(
                    Local::Listener,
                    from,
                    ErrorCode::NotDefined,
                    "server busy: too many transfers from your address",
                );
            }
        }
        let Some(slot) = self.slots.iter().position(|s| s.is_none()) else {
            return self.refuse(
                Local::Listener,
                from,
                ErrorCode::NotDefined,
                "server busy: all transfer slots in use, try again",
            );
        };
        if request.mode == Mode::Mail {
            return self.refuse(
                Local::Listener,
                from,
                ErrorCode::IllegalOperation,
                "mail mode is not supported",
            );
        }
        let mut path_buf = [0u8; MAX_PATH];
        let path = match path::resolve(request.filename, &mut path_buf) {
            Ok(path) => path,
            Err(e) => {
                let code = match e {
                    path::PathError::ParentSegment => ErrorCode::AccessViolation,
                    _ => ErrorCode::FileNotFound,
                };
                return self.refuse(Local::Listener, from, code, e.message());
            }
        };
        let (kind, size) = if upload {
            match self.start_write(now, from, &request, path, files) {
                Ok(started) => started,
                Err((code, message)) => return self.refuse(Local::Listener, from, code, message),
            }
        } else {
            // Opened before any OACK: a missing file is the first and only
            // reply (PXELINUX cannot handle an ERROR after an OACK).
            let (handle, size) = match files.open(path) {
                Ok(opened) => opened,
                Err(e) => {
                    let (code, message) = file_error(e);
                    return self.refuse(Local::Listener, from, code, message);
                }
            };
            let negotiated = negotiate(&request, size, &self.config);
            (
                Kind::Read(Read::new(now, from, handle, size, request.mode, negotiated)),
                size,
            )
        };
        self.next_generation = self.next_generation.wrapping_add(1);
        let transfer = Transfer {
            generation: self.next_generation,
            kind,
        };
        let id = Self::id_of(slot, &transfer);
        let negotiated = match &transfer.kind {
            Kind::Read(t) => t.negotiated,
            Kind::Write(t) => t.negotiated,
        };
        if let Some(s) = self.slots.get_mut(slot) {
            *s = Some(transfer);
        }
        self.push_event(Event::Started {
            id,
            peer: from,
            size,
            negotiated,
            mode: request.mode,
            upload,
        });
    }

    fn start_write<F: FileSource<Handle = H>>(
        &mut self,
        now: Instant,
        from: SocketAddr,
        request: &crate::wire::tftp::Request<'_>,
        path: &str,
        files: &mut F,
    ) -> Result<(Kind<H>, u64), (ErrorCode, &'static str)> {
        if request.mode == Mode::Netascii {
            return Err((ErrorCode::IllegalOperation, "uploads must use octet mode"));
        }
        let declared = request.options.tsize.unwrap_or(0);
        if declared > self.config.max_upload {
            return Err((
                ErrorCode::DiskFull,
                "upload exceeds the server's size limit",
            ));
        }
        let handle = files.create(path).map_err(file_error)?;
        let negotiated = negotiate(request, declared, &self.config);
        Ok((
            Kind::Write(Write::new(
                now,
                from,
                handle,
                negotiated,
                self.config.max_upload,
            )),
            declared,
        ))
    }

    /// Frees the slot of a transfer that has ended and has nothing left to
    /// send, with its event.
    fn reap<F: FileSource<Handle = H>>(&mut self, now: Instant, slot: usize, files: &mut F) {
        let Some(entry) = self.slots.get_mut(slot) else {
            return;
        };
        let Some(transfer) = entry.as_ref() else {
            return;
        };
        if !transfer.is_finished() {
            return;
        }
        let id = Self::id_of(slot, transfer);
        let event = transfer.event(id, now);
        transfer.release(files);
        *entry = None;
        if let Some(event) = event {
            self.push_event(event);
        }
    }

    /// The next datagram to send, written into `buf` (which must hold
    /// `max_blksize + 4` bytes); `None` when there is nothing to send now.
    /// Transfers take turns, one datagram each.
    pub fn poll_transmit<F: FileSource<Handle = H>>(
        &mut self,
        now: Instant,
        files: &mut F,
        buf: &mut [u8],
    ) -> Option<Transmit<H>> {
        if let Some(r) = self.refusals.pop_front() {
            let len = Repr::Error {
                code: r.code,
                message: r.message.as_bytes(),
            }
            .emit(buf)
            .ok()?;
            return Some(Transmit {
                local: r.local,
                dst: r.dst,
                len,
                from_file: None,
            });
        }
        let count = self.slots.len();
        for step in 0..count {
            let slot = (self.cursor + step) % count;
            let Some(Some(transfer)) = self.slots.get_mut(slot) else {
                continue;
            };
            if !transfer.wants_to_send() {
                continue;
            }
            let id = Self::id_of(slot, transfer);
            let peer = transfer.peer();
            let sent = transfer.poll_transmit(now, files, buf);
            self.cursor = slot + 1;
            self.reap(now, slot, files);
            if let Some((len, from_file)) = sent {
                return Some(Transmit {
                    local: Local::Transfer(id),
                    dst: peer,
                    len,
                    from_file,
                });
            }
        }
        None
    }

    /// The next datagram of transfer `id` only (for drivers that batch one
    /// transfer's window into one system call).
    pub fn poll_transmit_for<F: FileSource<Handle = H>>(
        &mut self,
        now: Instant,
        id: TransferId,
        files: &mut F,
        buf: &mut [u8],
    ) -> Option<Transmit<H>> {
        let transfer = self.transfer_mut(id)?;
        if !transfer.wants_to_send() {
            return None;
        }
        let peer = transfer.peer();
        let sent = transfer.poll_transmit(now, files, buf);
        self.reap(now, id.slot(), files);
        sent.map(|(len, from_file)| Transmit {
            local: Local::Transfer(id),
            dst: peer,
            len,
            from_file,
        })
    }

    /// Transfers with something to send now.
    pub fn ready(&self) -> impl Iterator<Item = TransferId> + '_ {
        self.slots.iter().enumerate().filter_map(|(slot, t)| {
            t.as_ref()
                .filter(|t| t.wants_to_send())
                .map(|t| Self::id_of(slot, t))
        })
    }

    /// When [`TftpServer::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.slots
            .iter()
            .flatten()
            .filter_map(Transfer::poll_timeout)
            .min()
    }

    /// Retransmits and gives up where deadlines have passed; calls before a
    /// deadline do nothing.
    pub fn handle_timeout<F: FileSource<Handle = H>>(&mut self, now: Instant, files: &mut F) {
        let config = self.config;
        for slot in 0..self.slots.len() {
            if let Some(Some(transfer)) = self.slots.get_mut(slot) {
                transfer.on_timeout(now, &config);
            }
            self.reap(now, slot, files);
        }
    }

    fn push_event(&mut self, event: Event) {
        if self.events.is_full() {
            self.events.pop_front();
        }
        let _ = self.events.push_back(event);
    }

    fn refuse(&mut self, local: Local, dst: SocketAddr, code: ErrorCode, message: &'static str) {
        self.push_event(Event::Refused {
            peer: dst,
            code,
            reason: message,
        });
        // When the queue is full the refusal is dropped: the client
        // retries, and a flood cannot make the server queue without bound.
        let _ = self.refusals.push_back(Refusal {
            local,
            dst,
            code,
            message,
        });
    }

    /// The next event for the driver's log.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests;
