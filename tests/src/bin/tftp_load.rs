//! `tftp_load`: the TFTP read client of `bench/tftp.sh`.
//!
//! A real RFC 1350 client with options (RFC 2347 OACK, 2348 blksize, 2349
//! tsize, 7440 windowsize): it sends an RRQ, accepts an OACK (answered with
//! ACK 0) or a direct DATA 1 (the server ignored the options: 512-byte
//! blocks, window 1), ACKs the last block of each window, ACKs the last
//! in-order block at once when a block arrives out of order (so the server
//! resends from there), re-ACKs when the server resends the block it last
//! acknowledged, follows block numbers past 65535, ends on a short block and
//! retransmits its last packet on a receive timeout (a bounded number of
//! times). Every byte is checked against the deterministic pattern the
//! benchmark files are generated with (`--generate`), and the length against
//! `--expect-len`.
//!
//! The client must not be what limits a benchmark, since it is the same for
//! every server. It receives in batches (`recvmmsg`) with UDP GRO enabled,
//! so that a run of equal-size datagrams sent in one GSO send arrives (on
//! loopback) as one buffer, split here by the segment size the kernel
//! reports; it allocates nothing per datagram; and N clients share a few
//! threads (one per core by default, `--threads`), each waiting on its
//! clients' sockets with one epoll, rather than one thread each.
//!
//! ```text
//! tftp_load --generate PATH --len BYTES
//! tftp_load --server 127.0.0.1:69 --file NAME [--blksize B] [--windowsize W]
//!           [--clients N] [--threads T] [--expect-len L] [--no-verify]
//!           [--no-tsize] [--timeout-ms 1000] [--tries 5] [--deadline-s 300]
//!           [--label TEXT] [--verbose | --quiet]
//! ```
//!
//! It prints one `tftp_load transfer ...` line per transfer (by default
//! only when there are at most 8 clients) and one `tftp_load summary ...`
//! line, both `key=value` separated by spaces. MB is 10^6 bytes. The exit
//! code is 0 only when every transfer completed and verified.

use std::fmt::Write as _;
use std::io::{self, BufWriter, IoSliceMut, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::ExitCode;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use awl_core::wire::tftp::{ErrorCode, Mode, Repr, Request, TftpOptions};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::socket::{
    recvmmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrStorage,
};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

const USAGE: &str = "usage:
  tftp_load --generate PATH --len BYTES
  tftp_load --server ADDR:PORT --file NAME [--blksize B] [--windowsize W]
            [--clients N] [--threads T] [--expect-len L] [--no-verify]
            [--no-tsize] [--timeout-ms MS] [--tries N] [--deadline-s S]
            [--label TEXT] [--verbose | --quiet]
  (--blksize 0 / --windowsize 0: do not ask for the option;
   --threads 0, the default: one thread per core, at most one per client)";

/// What one run does.
#[derive(Debug, Clone)]
struct Config {
    server: SocketAddr,
    file: String,
    blksize: Option<u64>,
    windowsize: Option<u64>,
    tsize: bool,
    clients: usize,
    threads: usize,
    expect_len: Option<u64>,
    verify: bool,
    timeout: Duration,
    tries: u32,
    deadline: Duration,
    label: String,
    verbose: Option<bool>,
}

enum Command {
    Generate { path: String, len: u64 },
    Load(Config),
}

fn parse_args(args: &[String]) -> Result<Command, String> {
    let mut it = args.iter();
    let mut server = None;
    let mut file = None;
    let mut blksize = Some(1468);
    let mut windowsize = None;
    let mut tsize = true;
    let mut clients = 1usize;
    let mut threads = 0usize;
    let mut expect_len = None;
    let mut verify = true;
    let mut timeout_ms = 1000u64;
    let mut tries = 5u32;
    let mut deadline_s = 300u64;
    let mut label = String::from("-");
    let mut verbose = None;
    let mut generate = None;
    let mut len = None;
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        let number = |v: String| {
            v.parse::<u64>()
                .map_err(|_| format!("{flag}: not a number: {v}"))
        };
        match flag.as_str() {
            "--server" => {
                let v = value()?;
                server = Some(
                    v.parse::<SocketAddr>()
                        .map_err(|e| format!("--server {v}: {e}"))?,
                );
            }
            "--file" => file = Some(value()?),
            "--blksize" => blksize = Some(number(value()?)?).filter(|&b| b != 0),
            "--windowsize" => windowsize = Some(number(value()?)?).filter(|&w| w != 0),
            "--no-tsize" => tsize = false,
            "--clients" => {
                clients = usize::try_from(number(value()?)?).map_err(|e| e.to_string())?;
            }
            "--threads" => {
                threads = usize::try_from(number(value()?)?).map_err(|e| e.to_string())?;
            }
            "--expect-len" => expect_len = Some(number(value()?)?),
            "--no-verify" => verify = false,
            "--timeout-ms" => timeout_ms = number(value()?)?,
            "--tries" => tries = u32::try_from(number(value()?)?).map_err(|e| e.to_string())?,
            "--deadline-s" => deadline_s = number(value()?)?,
            "--label" => label = value()?,
            "--verbose" => verbose = Some(true),
            "--quiet" => verbose = Some(false),
            "--generate" => generate = Some(value()?),
            "--len" => len = Some(number(value()?)?),
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if let Some(path) = generate {
        let len = len.ok_or("--generate needs --len")?;
        return Ok(Command::Generate { path, len });
    }
    if !(1..=10_000).contains(&clients) {
        return Err("--clients must be between 1 and 10000".into());
    }
    if timeout_ms == 0 {
        return Err("--timeout-ms must be above 0".into());
    }
    if let Some(b) = blksize {
        if !(8..=65_464).contains(&b) {
            return Err("--blksize must be between 8 and 65464 (or 0)".into());
        }
    }
    if let Some(w) = windowsize {
        if w > 65_535 {
            return Err("--windowsize must be between 1 and 65535 (or 0)".into());
        }
    }
    Ok(Command::Load(Config {
        server: server.ok_or_else(|| format!("--server is required\n{USAGE}"))?,
        file: file.ok_or_else(|| format!("--file is required\n{USAGE}"))?,
        blksize,
        windowsize,
        tsize,
        clients,
        threads,
        expect_len,
        verify,
        timeout: Duration::from_millis(timeout_ms),
        tries,
        deadline: Duration::from_secs(deadline_s),
        label: label.replace(char::is_whitespace, "_"),
        verbose,
    }))
}

/// SplitMix64: the pattern's 8-byte word number `index`.
fn splitmix64(index: u64) -> u64 {
    let mut z = index.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Fills `out` with the pattern's bytes from `offset` on: byte `o` of a
/// benchmark file is byte `o % 8` (little-endian) of `splitmix64(o / 8)`.
fn pattern_fill(offset: u64, out: &mut [u8]) {
    let mut pos = offset;
    let mut rest = out;
    while !rest.is_empty() {
        let word = splitmix64(pos / 8).to_le_bytes();
        let start = (pos % 8) as usize;
        let tail = word.get(start..).unwrap_or(&[]);
        let n = tail.len().min(rest.len());
        let (head, after) = rest.split_at_mut(n);
        head.copy_from_slice(tail.get(..n).unwrap_or(&[]));
        rest = after;
        pos += n as u64;
    }
}

/// Whether `data` is the pattern's bytes from `offset` on (what
/// [`pattern_fill`] would write), compared a word at a time.
fn pattern_matches(offset: u64, data: &[u8]) -> bool {
    let mut pos = offset;
    let mut rest = data;
    // Up to the next multiple of 8.
    let misalign = (pos % 8) as usize;
    if misalign != 0 {
        let word = splitmix64(pos / 8).to_le_bytes();
        let n = (8 - misalign).min(rest.len());
        if rest.get(..n) != word.get(misalign..misalign + n) {
            return false;
        }
        rest = rest.get(n..).unwrap_or_default();
        pos += n as u64;
    }
    let mut index = pos / 8;
    let mut words = rest.chunks_exact(8);
    let mut diff = 0u64;
    for chunk in &mut words {
        let got = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        diff |= got ^ splitmix64(index);
        index += 1;
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        let word = splitmix64(index).to_le_bytes();
        if word.get(..tail.len()) != Some(tail) {
            return false;
        }
    }
    diff == 0
}

fn generate(path: &str, len: u64) -> io::Result<()> {
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    let mut chunk = vec![0u8; 1 << 20];
    let mut offset = 0u64;
    while offset < len {
        let n = (len - offset).min(chunk.len() as u64) as usize;
        let part = chunk.get_mut(..n).unwrap_or_default();
        pattern_fill(offset, part);
        out.write_all(part)?;
        offset += n as u64;
    }
    out.flush()
}

/// One finished transfer.
#[derive(Debug, Clone)]
struct Outcome {
    bytes: u64,
    seconds: f64,
    /// The OACK's options, or `None` when the server answered DATA 1.
    oack: Option<TftpOptions>,
    blksize: u64,
    windowsize: u64,
    /// Packets resent after a receive timeout.
    timeouts: u32,
    /// ACKs sent at once for an out-of-order block.
    nacks: u32,
}

impl Outcome {
    fn mbps(&self) -> f64 {
        if self.seconds > 0.0 {
            self.bytes as f64 / self.seconds / 1e6
        } else {
            0.0
        }
    }
}

fn oack_text(oack: Option<&TftpOptions>) -> String {
    let Some(o) = oack else {
        return "none".into();
    };
    let mut s = String::new();
    for (name, value) in [
        ("blksize", o.blksize),
        ("windowsize", o.windowsize),
        ("tsize", o.tsize),
        ("timeout", o.timeout),
    ] {
        if let Some(v) = value {
            if !s.is_empty() {
                s.push(',');
            }
            let _ = write!(s, "{name}:{v}");
        }
    }
    if s.is_empty() {
        s.push_str("empty");
    }
    s
}

fn open_socket(cfg: &Config) -> io::Result<UdpSocket> {
    let (domain, local) = match cfg.server.ip() {
        IpAddr::V4(ip) if ip.is_loopback() => (Domain::IPV4, IpAddr::V4(ip)),
        IpAddr::V4(_) => (Domain::IPV4, IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        IpAddr::V6(ip) if ip.is_loopback() => (Domain::IPV6, IpAddr::V6(ip)),
        IpAddr::V6(_) => (Domain::IPV6, IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
    };
    let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    // Room for a whole window of the largest blocks (the kernel caps this
    // at net.core.rmem_max): a full receive queue would drop blocks and
    // measure the client, not the server.
    let block = cfg.blksize.unwrap_or(512).max(512) + 4;
    let window = cfg.windowsize.unwrap_or(1).max(1);
    let want = (block.next_power_of_two() * 2 * window).clamp(1 << 20, 64 << 20);
    socket.set_recv_buffer_size(usize::try_from(want).unwrap_or(64 << 20))?;
    socket.bind(&SockAddr::from(SocketAddr::new(local, 0)))?;
    let socket: UdpSocket = socket.into();
    // A run of blocks sent with GSO arrives as one buffer (where the kernel
    // can keep it whole: on loopback); older kernels simply do not coalesce.
    let _ = setsockopt(&socket, sockopt::UdpGroSegment, &true);
    // The single-client loop blocks in recvmmsg; the epoll loop reads with
    // MSG_DONTWAIT.
    socket.set_read_timeout(Some(cfg.timeout))?;
    Ok(socket)
}

/// Sends one packet. A send that fails (a full queue, a firewall drop)
/// counts as a lost packet: the receive timeout resends it, and a peer
/// that never answers ends the transfer there.
fn send(socket: &UdpSocket, to: SocketAddr, repr: &Repr<'_>, buf: &mut [u8]) -> Result<(), String> {
    let n = repr.emit(buf).map_err(|e| format!("emit: {e:?}"))?;
    let _ = socket.send_to(buf.get(..n).unwrap_or_default(), to);
    Ok(())
}

/// How a transfer ended, and when.
type Ended = (Result<Outcome, String>, Instant);

/// One read transfer's state, fed the datagrams its socket receives.
struct Client<'c> {
    cfg: &'c Config,
    /// The file's expected bytes, when they were laid out in advance.
    reference: Option<&'c [u8]>,
    socket: UdpSocket,
    rrq: Vec<u8>,
    out: [u8; 64],
    start: Instant,
    /// When the last datagram arrived (or the last packet was resent): a
    /// receive timeout runs from here.
    heard: Instant,
    peer: Option<SocketAddr>,
    oack: Option<TftpOptions>,
    blksize: u64,
    window: u64,
    /// The block number (not wrapped) expected next; the last one ACKed.
    next: u64,
    acked: Option<u64>,
    in_window: u64,
    received: u64,
    tries: u32,
    timeouts: u32,
    nacks: u32,
    gap_acked: bool,
    /// How the transfer ended (`None`: still running), and when.
    result: Option<Ended>,
}

impl<'c> Client<'c> {
    fn new(cfg: &'c Config, reference: Option<&'c [u8]>) -> Result<Self, String> {
        let socket = open_socket(cfg).map_err(|e| format!("socket: {e}"))?;
        let options = TftpOptions {
            blksize: cfg.blksize,
            tsize: cfg.tsize.then_some(0),
            timeout: None,
            windowsize: cfg.windowsize,
        };
        let mut rrq = vec![0u8; 1024];
        let rrq_len = Repr::Rrq(Request::new(&cfg.file, Mode::Octet, options))
            .emit(&mut rrq)
            .map_err(|e| format!("RRQ does not fit: {e:?}"))?;
        rrq.truncate(rrq_len);
        let now = Instant::now();
        Ok(Self {
            cfg,
            reference,
            socket,
            rrq,
            out: [0u8; 64],
            start: now,
            heard: now,
            peer: None,
            oack: None,
            blksize: 512,
            window: 1,
            next: 1,
            acked: None,
            in_window: 0,
            received: 0,
            tries: 0,
            timeouts: 0,
            nacks: 0,
            gap_acked: false,
            result: None,
        })
    }

    fn begin(&mut self) {
        self.start = Instant::now();
        self.heard = self.start;
        let _ = self.socket.send_to(&self.rrq, self.cfg.server);
    }

    fn running(&self) -> bool {
        self.result.is_none()
    }

    fn end(&mut self, result: Result<Outcome, String>) {
        if self.result.is_none() {
            self.result = Some((result, Instant::now()));
        }
    }

    /// When the receive timeout fires.
    fn timeout_at(&self) -> Instant {
        self.heard + self.cfg.timeout
    }

    /// The receive timeout fired: resend the last packet, or give up.
    fn on_timeout(&mut self, now: Instant) {
        if let Err(e) = self.timed_out(now) {
            self.end(Err(e));
        }
    }

    fn timed_out(&mut self, now: Instant) -> Result<(), String> {
        self.check_deadline(now)?;
        self.heard = now;
        self.tries += 1;
        if self.tries > self.cfg.tries {
            return Err(format!(
                "no reply after {} tries of {:?} ({} bytes in, block {} expected)",
                self.cfg.tries, self.cfg.timeout, self.received, self.next
            ));
        }
        self.timeouts += 1;
        self.in_window = 0;
        match (self.peer, self.acked) {
            (Some(p), Some(a)) => send(
                &self.socket,
                p,
                &Repr::Ack { block: a as u16 },
                &mut self.out,
            )?,
            _ => {
                let _ = self.socket.send_to(&self.rrq, self.cfg.server);
            }
        }
        Ok(())
    }

    fn check_deadline(&self, now: Instant) -> Result<(), String> {
        if now.duration_since(self.start) > self.cfg.deadline {
            return Err(format!(
                "deadline of {:?} passed after {} bytes",
                self.cfg.deadline, self.received
            ));
        }
        Ok(())
    }

    /// A buffer received from `from`: one datagram, or (`segment` given,
    /// UDP GRO) a run of `segment`-byte datagrams, the last maybe shorter.
    fn on_receive(&mut self, now: Instant, from: SocketAddr, data: &[u8], segment: Option<usize>) {
        self.heard = now;
        let step = segment.filter(|&s| s > 0).unwrap_or(data.len().max(1));
        for datagram in data.chunks(step) {
            if !self.running() {
                return;
            }
            match self.on_datagram(from, datagram) {
                Ok(false) => {}
                Ok(true) => {
                    let outcome = self.finish();
                    self.end(outcome);
                }
                Err(e) => self.end(Err(e)),
            }
        }
        if self.running() {
            if let Err(e) = self.check_deadline(now) {
                self.end(Err(e));
            }
        }
    }

    /// One datagram; `Ok(true)` when it was the last block.
    fn on_datagram(&mut self, from: SocketAddr, datagram: &[u8]) -> Result<bool, String> {
        if from.ip() != self.cfg.server.ip() {
            return Ok(false);
        }
        match self.peer {
            Some(p) if p != from => {
                let error = Repr::Error {
                    code: ErrorCode::UnknownTid,
                    message: b"unknown transfer ID",
                };
                send(&self.socket, from, &error, &mut self.out)?;
                return Ok(false);
            }
            Some(_) => {}
            None => self.peer = Some(from),
        }
        let repr = Repr::parse(datagram).map_err(|e| format!("bad datagram from {from}: {e:?}"))?;
        match repr {
            Repr::Oack { options } if self.next == 1 => {
                if self.oack.is_none() {
                    if let Some(b) = options.blksize {
                        if self.cfg.blksize.is_none_or(|asked| b > asked) || b < 8 {
                            return Err(format!(
                                "OACK grants blksize {b}, asked {:?}",
                                self.cfg.blksize
                            ));
                        }
                    }
                    if let Some(w) = options.windowsize {
                        if self.cfg.windowsize.is_none_or(|asked| w > asked) || w == 0 {
                            return Err(format!(
                                "OACK grants windowsize {w}, asked {:?}",
                                self.cfg.windowsize
                            ));
                        }
                    }
                    self.blksize = options.blksize.unwrap_or(512);
                    self.window = options.windowsize.unwrap_or(1);
                    self.oack = Some(options);
                }
                self.tries = 0;
                self.acked = Some(0);
                send(&self.socket, from, &Repr::Ack { block: 0 }, &mut self.out)?;
            }
            Repr::Data { block, data } => {
                let expected = self.next as u16;
                if block == expected {
                    let len = data.len() as u64;
                    if len > self.blksize {
                        return Err(format!(
                            "block {}: {len} bytes, blksize is {}",
                            self.next, self.blksize
                        ));
                    }
                    if self.cfg.verify && !self.expected(data) {
                        return Err(format!(
                            "block {} (offset {}): bytes differ from the pattern",
                            self.next, self.received
                        ));
                    }
                    self.received += len;
                    self.tries = 0;
                    self.gap_acked = false;
                    self.in_window += 1;
                    if len < self.blksize {
                        send(&self.socket, from, &Repr::Ack { block }, &mut self.out)?;
                        return Ok(true);
                    }
                    if self.in_window >= self.window {
                        send(&self.socket, from, &Repr::Ack { block }, &mut self.out)?;
                        self.acked = Some(self.next);
                        self.in_window = 0;
                    }
                    self.next += 1;
                } else if block.wrapping_sub(expected) < 0x8000 {
                    // Ahead: blocks were lost. ACK the last in-order block
                    // once, so the server resends from the gap (RFC 7440).
                    if !self.gap_acked {
                        let last = self.next - 1;
                        send(
                            &self.socket,
                            from,
                            &Repr::Ack { block: last as u16 },
                            &mut self.out,
                        )?;
                        self.acked = Some(last);
                        self.gap_acked = true;
                        self.nacks += 1;
                        self.in_window = 0;
                    }
                } else if block == expected.wrapping_sub(1) && self.acked == Some(self.next - 1) {
                    // The server resent the block we last ACKed: that ACK
                    // was lost (or late). Say it again.
                    send(&self.socket, from, &Repr::Ack { block }, &mut self.out)?;
                    self.in_window = 0;
                }
            }
            Repr::Error { code, message } => {
                return Err(format!(
                    "server ERROR {code:?}: {}",
                    String::from_utf8_lossy(message)
                ));
            }
            other => {
                return Err(format!("unexpected {:?} from {from}", other.opcode()));
            }
        }
        Ok(false)
    }

    /// Whether `data`, the bytes at `self.received`, are the pattern's.
    fn expected(&self, data: &[u8]) -> bool {
        let at = usize::try_from(self.received).unwrap_or(usize::MAX);
        match self
            .reference
            .and_then(|r| r.get(at..at.checked_add(data.len())?))
        {
            Some(want) => want == data,
            None => pattern_matches(self.received, data),
        }
    }

    fn finish(&self) -> Result<Outcome, String> {
        let seconds = self.start.elapsed().as_secs_f64();
        let received = self.received;
        if let Some(l) = self.cfg.expect_len {
            if received != l {
                return Err(format!("got {received} bytes, expected {l}"));
            }
        }
        if let Some(t) = self.oack.and_then(|o| o.tsize) {
            if t != received {
                return Err(format!("got {received} bytes, OACK tsize said {t}"));
            }
        }
        Ok(Outcome {
            bytes: received,
            seconds,
            oack: self.oack,
            blksize: self.blksize,
            windowsize: self.window,
            timeouts: self.timeouts,
            nacks: self.nacks,
        })
    }
}

/// Datagrams (or GRO buffers) taken per `recvmmsg`.
const BATCH: usize = 16;
/// Room for the largest buffer GRO hands over (64 KiB) or datagram.
const SLOT: usize = 1 << 16;

/// `recvmmsg` with its buffers and headers allocated once per thread.
struct Receiver {
    headers: MultiHeaders<SockaddrStorage>,
    buf: Vec<u8>,
}

impl Receiver {
    fn new() -> Self {
        Self {
            headers: MultiHeaders::preallocate(BATCH, Some(nix::cmsg_space!(i32))),
            buf: vec![0u8; BATCH * SLOT],
        }
    }

    /// Reads what `client`'s socket holds into it: waits for the first
    /// datagram (up to the socket's read timeout) when `wait`. Returns
    /// false when nothing came.
    fn receive(&mut self, client: &mut Client<'_>, wait: bool) -> bool {
        let flags = if wait {
            MsgFlags::MSG_WAITFORONE
        } else {
            MsgFlags::MSG_DONTWAIT
        };
        let mut slices: Vec<[IoSliceMut<'_>; 1]> = self
            .buf
            .chunks_exact_mut(SLOT)
            .map(|chunk| [IoSliceMut::new(chunk)])
            .collect();
        // Fresh headers each time: the kernel shrinks each header's control
        // length to what it last wrote, and nix does not restore it, so a
        // reused header would lose the GRO segment size after a plain
        // datagram.
        self.headers = MultiHeaders::preallocate(BATCH, Some(nix::cmsg_space!(i32)));
        let Ok(results) = recvmmsg(
            client.socket.as_raw_fd(),
            &mut self.headers,
            slices.iter_mut(),
            flags,
            None,
        ) else {
            return false;
        };
        let now = Instant::now();
        let mut any = false;
        for message in results {
            any = true;
            let segment = message.cmsgs().ok().and_then(|mut c| {
                c.find_map(|m| match m {
                    ControlMessageOwned::UdpGroSegments(size) => usize::try_from(size).ok(),
                    _ => None,
                })
            });
            let from = message.address.and_then(|a: SockaddrStorage| {
                a.as_sockaddr_in()
                    .map(|a| SocketAddr::V4((*a).into()))
                    .or_else(|| a.as_sockaddr_in6().map(|a| SocketAddr::V6((*a).into())))
            });
            let data = message.iovs().next().unwrap_or_default();
            if let Some(from) = from {
                client.on_receive(now, from, data, segment);
            }
            if !client.running() {
                break;
            }
        }
        any
    }
}

/// One thread's clients, run to their end; each result with when it came.
fn run_clients(
    mut clients: Vec<Client<'_>>,
    barrier: &Barrier,
) -> Vec<(Result<Outcome, String>, Instant)> {
    let mut receiver = Receiver::new();
    barrier.wait();
    for c in &mut clients {
        c.begin();
    }
    if let [client] = clients.as_mut_slice() {
        // One client: block in recvmmsg (no epoll round trip).
        while client.running() {
            if !receiver.receive(client, true) {
                client.on_timeout(Instant::now());
            }
        }
    } else if let Err(e) = run_epoll(&mut clients, &mut receiver) {
        for c in &mut clients {
            c.end(Err(format!("epoll: {e}")));
        }
    }
    clients
        .into_iter()
        .map(|c| {
            c.result
                .unwrap_or_else(|| (Err("not run".into()), Instant::now()))
        })
        .collect()
}

fn run_epoll(clients: &mut [Client<'_>], receiver: &mut Receiver) -> nix::Result<()> {
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
    for (i, c) in clients.iter().enumerate() {
        epoll.add(&c.socket, EpollEvent::new(EpollFlags::EPOLLIN, i as u64))?;
    }
    let mut events = vec![EpollEvent::empty(); clients.len().min(256)];
    let mut left = clients.len();
    while left > 0 {
        let now = Instant::now();
        let next = clients
            .iter()
            .filter(|c| c.running())
            .map(Client::timeout_at)
            .min()
            .unwrap_or(now);
        let wait_ms = next
            .saturating_duration_since(now)
            .as_micros()
            .div_ceil(1000);
        let timeout = EpollTimeout::try_from(wait_ms).unwrap_or(EpollTimeout::MAX);
        let n = match epoll.wait(&mut events, timeout) {
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => 0,
            Err(e) => return Err(e),
        };
        for event in events.get(..n).unwrap_or_default() {
            let Some(c) = usize::try_from(event.data())
                .ok()
                .and_then(|i| clients.get_mut(i))
            else {
                continue;
            };
            if c.running() {
                receiver.receive(c, false);
                if !c.running() {
                    let _ = epoll.delete(&c.socket);
                    left -= 1;
                }
            }
        }
        let now = Instant::now();
        for c in clients.iter_mut() {
            if c.running() && c.timeout_at() <= now {
                c.on_timeout(now);
                if !c.running() {
                    let _ = epoll.delete(&c.socket);
                    left -= 1;
                }
            }
        }
    }
    Ok(())
}

fn opt(v: Option<u64>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

/// The distinct values, joined with `/` (`mixed` lists show that clients
/// were granted different things).
fn distinct(values: impl Iterator<Item = String>) -> String {
    let mut seen: Vec<String> = Vec::new();
    for v in values {
        if !seen.contains(&v) {
            seen.push(v);
        }
    }
    if seen.is_empty() {
        "-".into()
    } else {
        seen.join("/")
    }
}

/// The largest file whose bytes are laid out in memory to check against.
const REFERENCE_MAX: u64 = 2 << 30;

/// The benchmark file's bytes (`--expect-len` of them), filled on every
/// core; `None` when not verifying, the length is unknown or too large
/// (then the pattern is computed as blocks arrive).
fn reference(cfg: &Config) -> Option<Vec<u8>> {
    let len = cfg
        .expect_len
        .filter(|&l| cfg.verify && l <= REFERENCE_MAX)?;
    let mut bytes = vec![0u8; usize::try_from(len).ok()?];
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = bytes.len().div_ceil(cores).max(1 << 20);
    std::thread::scope(|scope| {
        for (i, part) in bytes.chunks_mut(chunk).enumerate() {
            scope.spawn(move || pattern_fill((i * chunk) as u64, part));
        }
    });
    Some(bytes)
}

fn run(cfg: &Config) -> bool {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = if cfg.threads == 0 { cores } else { cfg.threads }.clamp(1, cfg.clients);
    // The expected bytes laid out before the clocks start (a comparison
    // with memory is several times cheaper than computing the pattern).
    let reference = reference(cfg);
    // Every socket is opened before the clocks start.
    let mut groups: Vec<Vec<Client<'_>>> = (0..threads).map(|_| Vec::new()).collect();
    let mut failed = 0usize;
    for i in 0..cfg.clients {
        match Client::new(cfg, reference.as_deref()) {
            Ok(c) => groups[i % threads].push(c),
            Err(e) => {
                failed += 1;
                eprintln!("tftp_load: client {i} failed: {e}");
            }
        }
    }
    let barrier = Barrier::new(threads + 1);
    let (start, results) = std::thread::scope(|scope| {
        let handles: Vec<_> = groups
            .into_iter()
            .map(|group| {
                let barrier = &barrier;
                std::thread::Builder::new()
                    .stack_size(1 << 20)
                    .spawn_scoped(scope, move || run_clients(group, barrier))
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let mut results = Vec::new();
        for h in handles {
            match h
                .map_err(|e| e.to_string())
                .and_then(|h| h.join().map_err(|_| "client thread panicked".to_string()))
            {
                Ok(r) => results.push(r),
                Err(e) => {
                    eprintln!("tftp_load: {e}");
                    failed += 1;
                }
            }
        }
        (start, results)
    });
    let mut outcomes = Vec::new();
    let mut end = start;
    // Clients were dealt round robin; number them back in that order.
    let mut numbered: Vec<(usize, Ended)> = Vec::new();
    for (t, group) in results.into_iter().enumerate() {
        for (k, r) in group.into_iter().enumerate() {
            numbered.push((k * threads + t, r));
        }
    }
    numbered.sort_by_key(|(i, _)| *i);
    for (i, (result, done)) in numbered {
        end = end.max(done);
        match result {
            Ok(o) => outcomes.push((i, o)),
            Err(e) => {
                failed += 1;
                eprintln!("tftp_load: client {i} failed: {e}");
            }
        }
    }
    let wall = end.duration_since(start).as_secs_f64();
    let verbose = cfg.verbose.unwrap_or(cfg.clients <= 8);
    if verbose {
        for (i, o) in &outcomes {
            println!(
                "tftp_load transfer label={} client={i} bytes={} seconds={:.4} mbps={:.2} oack={} blksize={} windowsize={} timeouts={} nacks={}",
                cfg.label,
                o.bytes,
                o.seconds,
                o.mbps(),
                oack_text(o.oack.as_ref()),
                o.blksize,
                o.windowsize,
                o.timeouts,
                o.nacks
            );
        }
    }
    let mut rates: Vec<f64> = outcomes.iter().map(|(_, o)| o.mbps()).collect();
    rates.sort_by(f64::total_cmp);
    let median = match rates.len() {
        0 => 0.0,
        n if n % 2 == 1 => rates.get(n / 2).copied().unwrap_or(0.0),
        n => {
            (rates.get(n / 2 - 1).copied().unwrap_or(0.0)
                + rates.get(n / 2).copied().unwrap_or(0.0))
                / 2.0
        }
    };
    let bytes: u64 = outcomes.iter().map(|(_, o)| o.bytes).sum();
    let aggregate = if wall > 0.0 {
        bytes as f64 / wall / 1e6
    } else {
        0.0
    };
    let with_oack = outcomes.iter().filter(|(_, o)| o.oack.is_some()).count();
    println!(
        "tftp_load summary label={} clients={} completed={} failed={failed} bytes={bytes} wall_s={wall:.4} aggregate_mbps={aggregate:.2} min_mbps={:.2} median_mbps={median:.2} max_mbps={:.2} req_blksize={} req_windowsize={} oack={with_oack}/{} granted={} blksize={} windowsize={} timeouts={} nacks={}",
        cfg.label,
        cfg.clients,
        outcomes.len(),
        rates.first().copied().unwrap_or(0.0),
        rates.last().copied().unwrap_or(0.0),
        opt(cfg.blksize),
        opt(cfg.windowsize),
        outcomes.len(),
        distinct(outcomes.iter().map(|(_, o)| oack_text(o.oack.as_ref()))),
        distinct(outcomes.iter().map(|(_, o)| o.blksize.to_string())),
        distinct(outcomes.iter().map(|(_, o)| o.windowsize.to_string())),
        outcomes.iter().map(|(_, o)| u64::from(o.timeouts)).sum::<u64>(),
        outcomes.iter().map(|(_, o)| u64::from(o.nacks)).sum::<u64>(),
    );
    failed == 0
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse_args(&args) {
        Ok(Command::Generate { path, len }) => match generate(&path, len) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tftp_load: {path}: {e}");
                ExitCode::FAILURE
            }
        },
        Ok(Command::Load(cfg)) => {
            if run(&cfg) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("tftp_load: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_is_random_access() {
        let mut whole = vec![0u8; 100];
        pattern_fill(0, &mut whole);
        for start in 0..100 {
            let mut part = vec![0u8; 100 - start];
            pattern_fill(start as u64, &mut part);
            assert_eq!(part, whole[start..]);
        }
    }

    #[test]
    fn pattern_matches_what_fill_writes() {
        let mut whole = vec![0u8; 200];
        pattern_fill(0, &mut whole);
        for start in 0..100 {
            for len in [0, 1, 7, 8, 9, 17, 64, 100] {
                let part = &whole[start..start + len];
                assert!(pattern_matches(start as u64, part), "{start} {len}");
                if len > 0 {
                    for flip in [0, len / 2, len - 1] {
                        let mut bad = part.to_vec();
                        bad[flip] ^= 1;
                        assert!(!pattern_matches(start as u64, &bad), "{start} {len} {flip}");
                    }
                }
            }
        }
    }
}
