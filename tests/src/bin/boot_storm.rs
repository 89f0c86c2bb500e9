//! `boot_storm`: the load generator of `bench/storm.sh`. One process
//! simulates N machines booting at once, each with its own MAC:
//!
//! 1. DHCP: DISCOVER, OFFER, REQUEST, ACK, broadcast on `--interface`
//!    (PXE's vendor class, the broadcast flag set), through one UDP socket
//!    on port 68 shared by every machine, replies told apart by `xid` and
//!    `chaddr`. A message unanswered is sent again after 1 s, then 2, 4 and
//!    8 s (at most 5 sends); every resend is counted as a DHCP retransmit.
//! 2. TFTP: the boot file from the leased address, lock-step as iPXE and
//!    PXE ROMs fetch it (`blksize` and `tsize` asked, no `windowsize`),
//!    resending the last packet after 1 s of silence (at most 5 in a row).
//!    The machine's thread hands its socket to a pump (one per core, each
//!    waiting on its fetches with one epoll) and waits for the end; with
//!    `--tftp-threads` it waits on its socket itself, one wake-up of its
//!    own per block (the client of the first storm runs).
//! 3. HTTP: the kernel and the initrd from the leased address, HTTP/1.1 on
//!    one keep-alive connection (a new one when the server closes it).
//!
//! Every byte received is compared with what the file must hold: the
//! benchmark files are the deterministic pattern of `tftp_load`
//! (`boot_storm --generate PATH --len N` writes one: byte `o` is byte
//! `o % 8` of SplitMix64(`o / 8`), little-endian), laid out in memory once
//! before the clock starts. The lengths must match too.
//!
//! The machines' sockets are bound to the leased addresses: the client
//! namespace must treat the whole pool as local (`ip route add local
//! POOL/PREFIX dev lo`, the "AnyIP" route), so that it can send from and
//! answer ARP for any address the server leases without configuring 500
//! addresses. With `--static-first IP` there is no DHCP and no TFTP unless
//! asked: machine `i` uses address `IP + i` (the nginx-alone run).
//!
//! ```text
//! boot_storm --generate PATH --len BYTES
//! boot_storm --clients N --server IP [--interface IF | --static-first IP]
//!            [--tftp NAME:LEN] [--blksize 1468] [--http PATH:LEN]...
//!            [--http-port 80] [--deadline-s 300] [--label TEXT] [--verbose]
//!            [--tftp-threads]
//! ```
//!
//! It prints a `boot_storm failure ...` line for each machine that failed
//! (at most 20), a `boot_storm client ...` line per machine with
//! `--verbose`, and one `boot_storm summary ...` line (`key=value`
//! separated by spaces; MB is 10^6 bytes). The exit code is 0 only when
//! every machine got through every phase with every byte right.

use std::collections::BTreeSet;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream, UdpSocket};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::time::{Duration, Instant};

use awl_core::wire::dhcp::{DhcpOption, MessageType, Op, Packet, Reply};
use awl_core::wire::tftp::{Mode, Repr, Request, TftpOptions};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::eventfd::EventFd;
use nix::sys::resource::{getrusage, UsageWho};
use socket2::{Domain, Protocol, Socket, Type};

const USAGE: &str = "usage:
  boot_storm --generate PATH --len BYTES
  boot_storm --clients N --server IP [--interface IF | --static-first IP]
             [--tftp NAME:LEN] [--blksize 1468] [--http PATH:LEN]...
             [--http-port 80] [--deadline-s 300] [--label TEXT] [--verbose]
             [--tftp-threads]";

/// The vendor class of a BIOS PXE ROM (arch 0, UNDI 2.1).
const PXE_CLASS: &[u8] = b"PXEClient:Arch:00000:UNDI:002001";
/// What a PXE ROM asks for (option 55).
const PARAMS: &[u8] = &[1, 3, 6, 43, 54, 60, 66, 67];
/// First DHCP resend after this; doubled for each further one.
const DHCP_FIRST_WAIT: Duration = Duration::from_secs(1);
/// Sends of one DHCP message at most (the first and 4 resends).
const DHCP_SENDS: u32 = 5;
/// DORA started over after a NAK at most this many times.
const DHCP_RESTARTS: u32 = 3;
/// TFTP: resend the last packet after this much silence.
const TFTP_WAIT: Duration = Duration::from_secs(1);
/// TFTP: give up after this many resends in a row.
const TFTP_TRIES: u32 = 5;
/// Each machine's xid is this plus its number.
const XID_BASE: u32 = 0x5b00_0000;

#[derive(Debug, Clone)]
struct Config {
    clients: usize,
    server: Ipv4Addr,
    interface: Option<String>,
    static_first: Option<Ipv4Addr>,
    tftp: Option<(String, u64)>,
    blksize: u64,
    http: Vec<(String, u64)>,
    http_port: u16,
    deadline: Duration,
    label: String,
    verbose: bool,
    /// Each machine's thread waits on its own TFTP socket (the client before
    /// the pumps), instead of one pump per core running every fetch.
    tftp_threads: bool,
}

enum Command {
    Generate { path: String, len: u64 },
    Run(Config),
}

fn name_len(flag: &str, v: &str) -> Result<(String, u64), String> {
    let (name, len) = v
        .rsplit_once(':')
        .ok_or_else(|| format!("{flag} {v}: NAME:LEN"))?;
    let len = len
        .parse::<u64>()
        .map_err(|_| format!("{flag} {v}: LEN is not a number"))?;
    Ok((name.to_string(), len))
}

fn parse_args(args: &[String]) -> Result<Command, String> {
    let mut it = args.iter();
    let mut clients = 1usize;
    let mut server = None;
    let mut interface = None;
    let mut static_first = None;
    let mut tftp = None;
    let mut blksize = 1468u64;
    let mut http = Vec::new();
    let mut http_port = 80u16;
    let mut deadline_s = 300u64;
    let mut label = String::from("-");
    let mut verbose = false;
    let mut tftp_threads = false;
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
        let address = |v: String| {
            v.parse::<Ipv4Addr>()
                .map_err(|_| format!("{flag}: not an IPv4 address: {v}"))
        };
        match flag.as_str() {
            "--clients" => {
                clients = usize::try_from(number(value()?)?).map_err(|e| e.to_string())?;
            }
            "--server" => server = Some(address(value()?)?),
            "--interface" => interface = Some(value()?),
            "--static-first" => static_first = Some(address(value()?)?),
            "--tftp" => tftp = Some(name_len(flag, &value()?)?),
            "--blksize" => blksize = number(value()?)?,
            "--http" => http.push(name_len(flag, &value()?)?),
            "--http-port" => {
                http_port = u16::try_from(number(value()?)?).map_err(|e| e.to_string())?;
            }
            "--deadline-s" => deadline_s = number(value()?)?,
            "--label" => label = value()?,
            "--verbose" => verbose = true,
            "--tftp-threads" => tftp_threads = true,
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
    let server = server.ok_or_else(|| format!("--server is needed\n{USAGE}"))?;
    if interface.is_some() == static_first.is_some() {
        return Err(format!(
            "exactly one of --interface and --static-first\n{USAGE}"
        ));
    }
    if clients == 0 || clients > 60_000 {
        return Err("--clients: 1 to 60000".into());
    }
    if !(8..=65464).contains(&blksize) {
        return Err("--blksize: 8 to 65464".into());
    }
    Ok(Command::Run(Config {
        clients,
        server,
        interface,
        static_first,
        tftp,
        blksize,
        http,
        http_port,
        deadline: Duration::from_secs(deadline_s),
        label,
        verbose,
        tftp_threads,
    }))
}

// --- the pattern (the same as tftp_load's) ---------------------------------

/// SplitMix64: the pattern's 8-byte word number `index`.
fn splitmix64(index: u64) -> u64 {
    let mut z = index.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The pattern's first `len` bytes.
fn pattern(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    let mut index = 0u64;
    while out.len() < len {
        out.extend_from_slice(&splitmix64(index).to_le_bytes());
        index += 1;
    }
    out.truncate(len);
    out
}

fn generate(path: &str, len: u64) -> io::Result<()> {
    let len = usize::try_from(len).map_err(io::Error::other)?;
    std::fs::write(path, pattern(len))
}

// --- DHCP ----------------------------------------------------------------------

/// What the dispatcher hands a machine: one reply to its xid.
struct DhcpReply {
    kind: MessageType,
    yiaddr: Ipv4Addr,
    server_id: Option<Ipv4Addr>,
    boot_file: String,
}

fn mac_of(i: usize) -> [u8; 6] {
    let [_, _, hi, lo] = u32::try_from(i).unwrap_or(0).to_be_bytes();
    [0x02, 0xb5, 0x70, 0x12, hi, lo]
}

fn dhcp_request(kind: MessageType, mac: [u8; 6], xid: u32, extra: &[DhcpOption<'_>]) -> Vec<u8> {
    let mut required = vec![
        DhcpOption::MessageType(kind),
        DhcpOption::MaxMessageSize(1472),
        DhcpOption::VendorClass(PXE_CLASS),
        DhcpOption::ParameterRequestList(PARAMS),
    ];
    required.extend_from_slice(extra);
    let mut buf = vec![0u8; 576];
    let len = Reply {
        op: Op::Request,
        htype: 1,
        chaddr: &mac,
        xid,
        broadcast: true,
        required: &required,
        max_len: 548,
        ..Reply::default()
    }
    .emit(&mut buf)
    .unwrap_or(0);
    buf.truncate(len);
    buf
}

/// The socket every machine sends its broadcasts from and the dispatcher
/// reads every reply on: port 68 of `interface`.
fn dhcp_socket(interface: &str) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.set_broadcast(true)?;
    socket.bind_device(Some(interface.as_bytes()))?;
    // Room for a whole storm of replies: a reply dropped here would count
    // as the server's retransmit. SO_RCVBUFFORCE (root) passes rmem_max.
    let _ =
        nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::RcvBufForce, &(16 << 20));
    socket.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, 68)).into())?;
    socket.set_read_timeout(Some(Duration::from_millis(100)))?;
    Ok(socket.into())
}

/// Reads every reply on port 68 and hands it to the machine whose xid and
/// MAC it carries, until `stop`.
fn dispatch(socket: &UdpSocket, to: &[mpsc::Sender<DhcpReply>], stop: &AtomicBool) {
    let mut buf = [0u8; 1500];
    while !stop.load(Ordering::Relaxed) {
        let Ok((len, _)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let Ok(p) = Packet::new_checked(&buf[..len]) else {
            continue;
        };
        if p.op() != Op::Reply {
            continue;
        }
        let i = p.xid().wrapping_sub(XID_BASE) as usize;
        let Some(tx) = to.get(i) else { continue };
        if p.chaddr().get(..6) != Some(&mac_of(i)[..]) {
            continue;
        }
        let Some(kind) = p.message_type() else {
            continue;
        };
        let mut name = [0u8; 256];
        let boot_file = p
            .option(67)
            .and_then(|o| o.copy_into(&mut name).ok().map(<[u8]>::to_vec))
            .or_else(|| p.file().filter(|f| !f.is_empty()).map(<[u8]>::to_vec))
            .map(|f| {
                String::from_utf8_lossy(&f)
                    .trim_end_matches('\0')
                    .to_string()
            })
            .unwrap_or_default();
        let _ = tx.send(DhcpReply {
            kind,
            yiaddr: p.yiaddr(),
            server_id: p.server_id(),
            boot_file,
        });
    }
}

/// Sends `datagram` until a reply of type `want` comes (resending after 1,
/// 2, 4, 8 s); counts the resends in `retransmits`.
fn dhcp_exchange(
    socket: &UdpSocket,
    datagram: &[u8],
    rx: &mpsc::Receiver<DhcpReply>,
    want: MessageType,
    retransmits: &mut u32,
) -> Result<DhcpReply, String> {
    let to = SocketAddr::from((Ipv4Addr::BROADCAST, 67));
    let mut wait = DHCP_FIRST_WAIT;
    for send in 0..DHCP_SENDS {
        if send > 0 {
            *retransmits += 1;
        }
        socket
            .send_to(datagram, to)
            .map_err(|e| format!("send: {e}"))?;
        let until = Instant::now() + wait;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match rx.recv_timeout(left) {
                Ok(r) if r.kind == want => return Ok(r),
                Ok(r) if r.kind == MessageType::Nak => return Err("NAK".into()),
                // A late duplicate of an earlier answer (an OFFER while
                // waiting for the ACK): not what this step waits for.
                Ok(_) => {}
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => return Err("dispatcher gone".into()),
            }
        }
        wait *= 2;
    }
    Err(format!("no {want:?} after {DHCP_SENDS} sends"))
}

/// A whole DORA, started over from DISCOVER after a NAK (as a client in
/// INIT does, RFC 2131 3.1), at most [`DHCP_RESTARTS`] times; the leased
/// address and the boot file named. Counts resends and NAKs.
fn dora(
    socket: &UdpSocket,
    rx: &mpsc::Receiver<DhcpReply>,
    i: usize,
    retransmits: &mut u32,
    naks: &mut u32,
) -> Result<(Ipv4Addr, String), String> {
    let mac = mac_of(i);
    let xid = XID_BASE.wrapping_add(u32::try_from(i).unwrap_or(0));
    let discover = dhcp_request(MessageType::Discover, mac, xid, &[]);
    loop {
        let offer = dhcp_exchange(socket, &discover, rx, MessageType::Offer, retransmits)?;
        let server = offer.server_id.ok_or("OFFER without a server identifier")?;
        let request = dhcp_request(
            MessageType::Request,
            mac,
            xid,
            &[
                DhcpOption::ServerId(server),
                DhcpOption::RequestedIp(offer.yiaddr),
            ],
        );
        match dhcp_exchange(socket, &request, rx, MessageType::Ack, retransmits) {
            Ok(ack) if ack.yiaddr == offer.yiaddr => return Ok((ack.yiaddr, ack.boot_file)),
            Ok(ack) => {
                return Err(format!(
                    "ACK for {} after OFFER of {}",
                    ack.yiaddr, offer.yiaddr
                ))
            }
            Err(e) if e == "NAK" && *naks < DHCP_RESTARTS => {
                *naks += 1;
                // Stale OFFERs of the first round are not answers to the next.
                while rx.try_recv().is_ok() {}
            }
            Err(e) => return Err(e),
        }
    }
}

// --- TFTP ------------------------------------------------------------------------

/// One boot-file fetch, lock-step as a PXE ROM does it: the client's state,
/// fed the datagrams of its socket by whoever waits on that socket (the
/// machine's own thread with `--tftp-threads`, else a [`Pump`]).
struct Fetch {
    socket: UdpSocket,
    len: u64,
    blksize: u64,
    /// The last packet sent (resent after silence) and where it went.
    last: Vec<u8>,
    to: SocketAddr,
    /// The server's transfer port, once known.
    peer: Option<SocketAddr>,
    got: u64,
    next: u64,
    block_len: u64,
    /// Silences in a row; resends in all.
    tries: u32,
    resends: u32,
    /// When the last packet was sent.
    sent_at: Instant,
}

/// What a datagram or a silence leaves a fetch with.
enum Step {
    More,
    Done(Result<u64, String>),
}

impl Fetch {
    /// Binds a socket to `from` and sends the read request for `name`
    /// (`len` bytes) to `server`:69.
    fn start(
        from: Ipv4Addr,
        server: Ipv4Addr,
        name: &str,
        len: u64,
        blksize: u64,
    ) -> Result<Self, String> {
        let socket = UdpSocket::bind((from, 0)).map_err(|e| format!("bind {from}: {e}"))?;
        let mut last = vec![0u8; 600];
        let options = TftpOptions {
            blksize: Some(blksize),
            tsize: Some(0),
            timeout: None,
            windowsize: None,
        };
        let n = Repr::Rrq(Request::new(name, Mode::Octet, options))
            .emit(&mut last)
            .map_err(|e| format!("RRQ: {e:?}"))?;
        last.truncate(n);
        let to = SocketAddr::from((server, 69));
        socket.send_to(&last, to).map_err(|e| e.to_string())?;
        Ok(Self {
            socket,
            len,
            blksize,
            last,
            to,
            peer: None,
            got: 0,
            next: 1,
            block_len: 512,
            tries: 0,
            resends: 0,
            sent_at: Instant::now(),
        })
    }

    /// Takes one datagram from `src`; checks every byte against `reference`.
    fn on_datagram(&mut self, data: &[u8], src: SocketAddr, reference: &[u8]) -> Step {
        match self.answer(data, src, reference) {
            Ok(None) => Step::More,
            Ok(Some(reply)) => {
                self.tries = 0;
                self.to = src;
                self.last.resize(600, 0);
                match reply.emit(&mut self.last) {
                    Ok(n) => self.last.truncate(n),
                    Err(e) => return Step::Done(Err(format!("{e:?}"))),
                }
                self.sent_at = Instant::now();
                match self.socket.send_to(&self.last, self.to) {
                    Ok(_) => Step::More,
                    Err(e) => Step::Done(Err(e.to_string())),
                }
            }
            Err(done) => Step::Done(done),
        }
    }

    /// What to send for `data` (`None`: nothing), or the end of the fetch.
    fn answer(
        &mut self,
        data: &[u8],
        src: SocketAddr,
        reference: &[u8],
    ) -> Result<Option<Repr<'static>>, Result<u64, String>> {
        if self.peer.is_some_and(|p| p != src) {
            return Ok(None); // another TID: not this transfer
        }
        let repr = Repr::parse(data).map_err(|e| Err(format!("TFTP: bad datagram: {e:?}")))?;
        match repr {
            Repr::Oack { options } if self.next == 1 => {
                if options.blksize.is_some_and(|b| b > self.blksize || b < 8) {
                    return Err(Err(format!("OACK grants blksize {:?}", options.blksize)));
                }
                if options.tsize.is_some_and(|t| t != self.len) {
                    let len = self.len;
                    return Err(Err(format!(
                        "OACK tsize {:?}, expected {len}",
                        options.tsize
                    )));
                }
                self.block_len = options.blksize.unwrap_or(512);
                self.peer = Some(src);
                Ok(Some(Repr::Ack { block: 0 }))
            }
            Repr::Data { block, data } => {
                if self.peer.is_none() {
                    // The server ignored every option: 512-byte blocks.
                    self.peer = Some(src);
                    self.block_len = 512;
                }
                if block == self.next as u16 {
                    let start = usize::try_from(self.got).unwrap_or(usize::MAX);
                    if reference.get(start..start + data.len()) != Some(data) {
                        let (next, got) = (self.next, self.got);
                        return Err(Err(format!(
                            "TFTP: wrong bytes in block {next} (offset {got})"
                        )));
                    }
                    self.got += data.len() as u64;
                    self.next += 1;
                    if (data.len() as u64) < self.block_len {
                        let mut ack = [0u8; 4];
                        if let Ok(n) = (Repr::Ack { block }).emit(&mut ack) {
                            let _ = self.socket.send_to(&ack[..n], src);
                        }
                        if self.got != self.len {
                            let (got, len) = (self.got, self.len);
                            return Err(Err(format!("TFTP: {got} bytes, expected {len}")));
                        }
                        return Err(Ok(self.got));
                    }
                    Ok(Some(Repr::Ack { block }))
                } else if block == (self.next - 1) as u16 {
                    Ok(Some(Repr::Ack { block })) // our ACK was lost: again
                } else {
                    Ok(None)
                }
            }
            Repr::Error { code, message } => Err(Err(format!(
                "TFTP error {code:?}: {}",
                String::from_utf8_lossy(message)
            ))),
            _ => Ok(None),
        }
    }

    /// [`TFTP_WAIT`] passed with nothing: resend the last packet, or give up
    /// after [`TFTP_TRIES`] in a row.
    fn on_silence(&mut self) -> Step {
        self.tries += 1;
        if self.tries > TFTP_TRIES {
            let got = self.got;
            return Step::Done(Err(format!(
                "TFTP: {TFTP_TRIES} timeouts in a row at {got} bytes"
            )));
        }
        self.resends += 1;
        self.sent_at = Instant::now();
        match self.socket.send_to(&self.last, self.to) {
            Ok(_) => Step::More,
            Err(e) => Step::Done(Err(e.to_string())),
        }
    }
}

/// Runs `fetch` to its end on the calling thread, blocked on its socket.
fn fetch_here(mut fetch: Fetch, reference: &[u8]) -> (Result<u64, String>, u32) {
    if let Err(e) = fetch.socket.set_read_timeout(Some(TFTP_WAIT)) {
        return (Err(e.to_string()), 0);
    }
    let mut buf = vec![0u8; 65536];
    loop {
        let step = match fetch.socket.recv_from(&mut buf) {
            Ok((n, src)) => fetch.on_datagram(&buf[..n], src, reference),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                fetch.on_silence()
            }
            Err(e) => Step::Done(Err(format!("TFTP recv: {e}"))),
        };
        if let Step::Done(result) = step {
            return (result, fetch.resends);
        }
    }
}

/// A fetch handed to a pump, and where its result goes (with its resends).
type Job = (Fetch, mpsc::Sender<(Result<u64, String>, u32)>);

/// A thread that runs many machines' fetches on one epoll, so that a block
/// costs the load generator a read and a send, not a thread's wake-up: the
/// client shares the cores with the servers it measures, and 500 threads
/// each woken per block took much of them (BENCHMARKS.md, "Boot storm").
struct Pump {
    jobs: mpsc::Sender<Job>,
    wake: Arc<EventFd>,
    thread: std::thread::JoinHandle<()>,
}

/// The epoll token of a pump's wake-up.
const WAKE: u64 = u64::MAX;

impl Pump {
    fn spawn(shared: Arc<Shared>) -> Result<Self, String> {
        let (jobs, rx) = mpsc::channel();
        let wake = Arc::new(EventFd::new().map_err(|e| format!("eventfd: {e}"))?);
        let woken = wake.clone();
        let thread = std::thread::Builder::new()
            .name("tftp-pump".into())
            .spawn(move || {
                if let Err(e) = pump(&rx, &woken, &shared.reference) {
                    eprintln!("boot_storm: TFTP pump: {e}");
                }
            })
            .map_err(|e| format!("pump thread: {e}"))?;
        Ok(Self { jobs, wake, thread })
    }

    /// Runs `fetch` on the pump; its result and resends.
    fn fetch(&self, fetch: Fetch) -> (Result<u64, String>, u32) {
        let (tx, rx) = mpsc::channel();
        if let Err(e) = fetch.socket.set_nonblocking(true) {
            return (Err(e.to_string()), 0);
        }
        if self.jobs.send((fetch, tx)).is_err() {
            return (Err("TFTP pump gone".into()), 0);
        }
        let _ = self.wake.write(1);
        rx.recv()
            .unwrap_or_else(|_| (Err("TFTP pump gone".into()), 0))
    }

    /// Stops taking fetches; returns once those under way ended.
    fn finish(self) {
        drop(self.jobs);
        let _ = self.wake.write(1);
        let _ = self.thread.join();
    }
}

fn pump(rx: &mpsc::Receiver<Job>, wake: &EventFd, reference: &[u8]) -> nix::Result<()> {
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
    epoll.add(wake, EpollEvent::new(EpollFlags::EPOLLIN, WAKE))?;
    let mut slots: Vec<Option<Job>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut live = 0usize;
    let mut open = true;
    let mut events = vec![EpollEvent::empty(); 256];
    let mut buf = vec![0u8; 65536];
    let mut swept = Instant::now();
    let end = |slots: &mut Vec<Option<Job>>, free: &mut Vec<usize>, slot: usize, r| {
        if let Some((fetch, tx)) = slots.get_mut(slot).and_then(Option::take) {
            let _ = epoll.delete(&fetch.socket);
            let _ = tx.send((r, fetch.resends));
            free.push(slot);
        }
    };
    while open || live > 0 {
        let n = match epoll.wait(&mut events, EpollTimeout::from(100u8)) {
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => 0,
            Err(e) => return Err(e),
        };
        for event in &events[..n] {
            let token = event.data();
            if token == WAKE {
                let _ = wake.read();
                loop {
                    match rx.try_recv() {
                        Ok(job) => {
                            let slot = free.pop().unwrap_or_else(|| {
                                slots.push(None);
                                slots.len() - 1
                            });
                            let flags = EpollFlags::EPOLLIN;
                            epoll.add(&job.0.socket, EpollEvent::new(flags, slot as u64))?;
                            slots[slot] = Some(job);
                            live += 1;
                        }
                        Err(mpsc::TryRecvError::Empty) => break,
                        Err(mpsc::TryRecvError::Disconnected) => {
                            open = false;
                            break;
                        }
                    }
                }
                continue;
            }
            let slot = usize::try_from(token).unwrap_or(usize::MAX);
            while let Some((fetch, _)) = slots.get_mut(slot).and_then(Option::as_mut) {
                let step = match fetch.socket.recv_from(&mut buf) {
                    Ok((n, src)) => fetch.on_datagram(&buf[..n], src, reference),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => Step::Done(Err(format!("TFTP recv: {e}"))),
                };
                if let Step::Done(r) = step {
                    end(&mut slots, &mut free, slot, r);
                    live -= 1;
                }
            }
        }
        if swept.elapsed() >= Duration::from_millis(100) {
            swept = Instant::now();
            for slot in 0..slots.len() {
                let Some((fetch, _)) = slots[slot].as_mut() else {
                    continue;
                };
                if fetch.sent_at.elapsed() < TFTP_WAIT {
                    continue;
                }
                if let Step::Done(r) = fetch.on_silence() {
                    end(&mut slots, &mut free, slot, r);
                    live -= 1;
                }
            }
        }
    }
    Ok(())
}

// --- HTTP ------------------------------------------------------------------------

fn http_connect(from: Ipv4Addr, server: SocketAddrV4) -> Result<TcpStream, String> {
    let socket =
        Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).map_err(|e| e.to_string())?;
    socket
        .bind(&SocketAddr::from((from, 0)).into())
        .map_err(|e| format!("bind {from}: {e}"))?;
    socket
        .connect_timeout(&SocketAddr::V4(server).into(), Duration::from_secs(10))
        .map_err(|e| format!("connect {server}: {e}"))?;
    socket.set_tcp_nodelay(true).map_err(|e| e.to_string())?;
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    Ok(socket.into())
}

/// GET `path` on `stream`: checks the status, the length and every byte.
/// Whether the server keeps the connection open.
fn http_get(
    stream: &mut TcpStream,
    host: Ipv4Addr,
    path: &str,
    len: u64,
    reference: &[u8],
    buf: &mut [u8],
    deadline: Instant,
) -> Result<bool, String> {
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: boot_storm\r\nConnection: keep-alive\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("HTTP send: {e}"))?;
    // The head.
    let mut have = 0usize;
    let head_end = loop {
        let n = stream
            .read(&mut buf[have..])
            .map_err(|e| format!("HTTP head: {e}"))?;
        if n == 0 {
            return Err("HTTP: closed before the head".into());
        }
        have += n;
        if let Some(p) = buf[..have].windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        if have == buf.len() {
            return Err("HTTP: head too long".into());
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    if status.split(' ').nth(1) != Some("200") {
        return Err(format!("HTTP {path}: {}", status.trim()));
    }
    let mut length = None;
    let mut close = status.starts_with("http/1.0");
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            match k.trim() {
                "content-length" => length = v.trim().parse::<u64>().ok(),
                "connection" if v.trim() == "close" => close = true,
                "connection" if v.trim() == "keep-alive" => close = false,
                "transfer-encoding" => return Err("HTTP: chunked body not handled".into()),
                _ => {}
            }
        }
    }
    if length != Some(len) {
        return Err(format!(
            "HTTP {path}: content-length {length:?}, expected {len}"
        ));
    }
    // The body.
    let mut got = 0usize;
    let total = usize::try_from(len).unwrap_or(usize::MAX);
    let mut pending = head_end..have;
    loop {
        let chunk = &buf[pending.clone()];
        if got + chunk.len() > total {
            return Err(format!("HTTP {path}: more than {len} bytes"));
        }
        if reference.get(got..got + chunk.len()) != Some(chunk) {
            return Err(format!("HTTP {path}: wrong bytes at offset {got}"));
        }
        got += chunk.len();
        if got == total {
            return Ok(!close);
        }
        if Instant::now() > deadline {
            return Err(format!("HTTP {path}: deadline at {got} bytes"));
        }
        let n = stream
            .read(buf)
            .map_err(|e| format!("HTTP {path} body at {got}: {e}"))?;
        if n == 0 {
            return Err(format!("HTTP {path}: closed at {got} of {len} bytes"));
        }
        pending = 0..n;
    }
}

// --- one machine ---------------------------------------------------------------

#[derive(Default)]
struct Outcome {
    addr: Option<Ipv4Addr>,
    boot_file: String,
    dhcp: Option<Duration>,
    tftp: Option<Duration>,
    http: Option<Duration>,
    /// Since the release of every machine.
    end: Duration,
    retransmits: u32,
    naks: u32,
    tftp_resends: u32,
    bytes: u64,
    error: Option<(&'static str, String)>,
}

struct Shared {
    cfg: Config,
    reference: Vec<u8>,
    dhcp: Option<Arc<UdpSocket>>,
}

fn machine(
    shared: &Shared,
    i: usize,
    rx: Option<mpsc::Receiver<DhcpReply>>,
    pump: Option<&Pump>,
    t0: Instant,
) -> Outcome {
    let cfg = &shared.cfg;
    let deadline = t0 + cfg.deadline;
    let mut out = Outcome::default();
    let fail = |out: &mut Outcome, phase, e: String| {
        out.error = Some((phase, e));
        out.end = t0.elapsed();
    };
    // DHCP, or a fixed address.
    let start = Instant::now();
    let addr = match (&shared.dhcp, rx, cfg.static_first) {
        (Some(socket), Some(rx), _) => {
            match dora(socket, &rx, i, &mut out.retransmits, &mut out.naks) {
                Ok((a, file)) => {
                    out.dhcp = Some(start.elapsed());
                    out.boot_file = file;
                    a
                }
                Err(e) => {
                    fail(&mut out, "dhcp", e);
                    return out;
                }
            }
        }
        (_, _, Some(first)) => {
            Ipv4Addr::from(u32::from(first).wrapping_add(u32::try_from(i).unwrap_or(0)))
        }
        _ => {
            fail(&mut out, "dhcp", "no DHCP socket and no address".into());
            return out;
        }
    };
    out.addr = Some(addr);
    // TFTP.
    if let Some((name, len)) = &cfg.tftp {
        let start = Instant::now();
        let run = |fetch: Fetch| match pump {
            Some(p) => p.fetch(fetch),
            None => fetch_here(fetch, &shared.reference),
        };
        let (result, resends) =
            match Fetch::start(addr, cfg.server, name, *len, cfg.blksize).map(run) {
                Ok(done) => done,
                Err(e) => (Err(e), 0),
            };
        out.tftp_resends += resends;
        match result {
            Ok(n) => {
                out.bytes += n;
                out.tftp = Some(start.elapsed());
            }
            Err(e) => {
                fail(&mut out, "tftp", e);
                return out;
            }
        }
    }
    // HTTP.
    if !cfg.http.is_empty() {
        let start = Instant::now();
        let server = SocketAddrV4::new(cfg.server, cfg.http_port);
        let mut buf = vec![0u8; 128 << 10];
        let mut stream = None;
        for (path, len) in &cfg.http {
            let s = match stream.take() {
                Some(s) => s,
                None => match http_connect(addr, server) {
                    Ok(s) => s,
                    Err(e) => {
                        fail(&mut out, "http", e);
                        return out;
                    }
                },
            };
            let mut s = s;
            match http_get(
                &mut s,
                cfg.server,
                path,
                *len,
                &shared.reference,
                &mut buf,
                deadline,
            ) {
                Ok(keep) => {
                    out.bytes += len;
                    if keep {
                        stream = Some(s);
                    }
                }
                Err(e) => {
                    fail(&mut out, "http", e);
                    return out;
                }
            }
        }
        out.http = Some(start.elapsed());
    }
    out.end = t0.elapsed();
    out
}

// --- the run -------------------------------------------------------------------

fn secs(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64())
}

/// `p50/p90/max` of the phase times that exist, in seconds; `-` if none.
fn spread(mut v: Vec<Duration>) -> String {
    if v.is_empty() {
        return "-".into();
    }
    v.sort();
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    format!("{}/{}/{}", secs(at(0.5)), secs(at(0.9)), secs(at(1.0)))
}

fn run(cfg: Config) -> Result<bool, String> {
    let longest = cfg
        .http
        .iter()
        .map(|(_, l)| *l)
        .chain(cfg.tftp.iter().map(|(_, l)| *l))
        .max()
        .unwrap_or(0);
    let reference = pattern(usize::try_from(longest).map_err(|e| e.to_string())?);
    let dhcp = match &cfg.interface {
        Some(ifname) => Some(Arc::new(
            dhcp_socket(ifname).map_err(|e| format!("DHCP socket on {ifname}: {e}"))?,
        )),
        None => None,
    };
    let n = cfg.clients;
    let shared = Arc::new(Shared {
        cfg: cfg.clone(),
        reference,
        dhcp,
    });
    let mut senders = Vec::new();
    let mut receivers = Vec::new();
    for _ in 0..n {
        let (tx, rx) = mpsc::channel();
        senders.push(tx);
        receivers.push(Some(rx));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let dispatcher = shared.dhcp.clone().map(|socket| {
        let stop = stop.clone();
        std::thread::spawn(move || dispatch(&socket, &senders, &stop))
    });
    let pumps = if cfg.tftp.is_some() && !cfg.tftp_threads {
        let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
        (0..cores)
            .map(|_| Pump::spawn(shared.clone()))
            .collect::<Result<Vec<_>, _>>()?
    } else {
        Vec::new()
    };
    let pumps = Arc::new(pumps);
    let barrier = Arc::new(Barrier::new(n + 1));
    let mut threads = Vec::with_capacity(n);
    for (i, rx) in receivers.iter_mut().enumerate() {
        let rx = if shared.dhcp.is_some() {
            rx.take()
        } else {
            None
        };
        let shared = shared.clone();
        let barrier = barrier.clone();
        let pumps = pumps.clone();
        let t = std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(move || {
                barrier.wait();
                let t0 = Instant::now();
                let pump = pumps.get(i % pumps.len().max(1));
                machine(&shared, i, rx, pump, t0)
            })
            .map_err(|e| format!("thread {i}: {e}"))?;
        threads.push(t);
    }
    barrier.wait();
    let t0 = Instant::now();
    let outcomes: Vec<Outcome> = threads
        .into_iter()
        .map(|t| {
            t.join().unwrap_or_else(|_| Outcome {
                error: Some(("panic", "thread panicked".into())),
                ..Outcome::default()
            })
        })
        .collect();
    let wall = t0.elapsed();
    if let Ok(pumps) = Arc::try_unwrap(pumps) {
        pumps.into_iter().for_each(Pump::finish);
    }
    // What the load generator itself cost (it shares the cores with the
    // servers): user + system CPU of every thread, since it started.
    let cpu = getrusage(UsageWho::RUSAGE_SELF).map_or(0.0, |u| {
        let t = |v: nix::sys::time::TimeVal| v.tv_sec() as f64 + v.tv_usec() as f64 / 1e6;
        t(u.user_time()) + t(u.system_time())
    });
    stop.store(true, Ordering::Relaxed);
    if let Some(d) = dispatcher {
        let _ = d.join();
    }

    let failed: Vec<(usize, &Outcome)> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| o.error.is_some())
        .collect();
    for (i, o) in failed.iter().take(20) {
        if let Some((phase, e)) = &o.error {
            println!(
                "boot_storm failure label={} client={i} phase={phase} at_s={} error={e}",
                cfg.label,
                secs(o.end)
            );
        }
    }
    if cfg.verbose {
        for (i, o) in outcomes.iter().enumerate() {
            let t = |d: Option<Duration>| d.map_or("-".into(), secs);
            println!(
                "boot_storm client={i} addr={} dhcp_s={} tftp_s={} http_s={} end_s={} retransmits={} ok={}",
                o.addr.map_or("-".into(), |a| a.to_string()),
                t(o.dhcp),
                t(o.tftp),
                t(o.http),
                secs(o.end),
                o.retransmits,
                o.error.is_none()
            );
        }
    }
    let retransmits: u32 = outcomes.iter().map(|o| o.retransmits).sum();
    let retransmitting = outcomes.iter().filter(|o| o.retransmits > 0).count();
    let naks: u32 = outcomes.iter().map(|o| o.naks).sum();
    let tftp_resends: u32 = outcomes.iter().map(|o| o.tftp_resends).sum();
    let bytes: u64 = outcomes.iter().map(|o| o.bytes).sum();
    let files: BTreeSet<&str> = outcomes.iter().map(|o| o.boot_file.as_str()).collect();
    let mut fail_phases = String::new();
    for phase in ["dhcp", "tftp", "http", "panic"] {
        let k = failed
            .iter()
            .filter(|(_, o)| o.error.as_ref().is_some_and(|(p, _)| *p == phase))
            .count();
        if k > 0 {
            fail_phases.push_str(&format!("{phase}:{k},"));
        }
    }
    let phase_end = |f: &dyn Fn(&Outcome) -> bool| {
        outcomes
            .iter()
            .filter(|o| f(o))
            .map(|o| o.end)
            .max()
            .map_or("-".into(), secs)
    };
    println!(
        "boot_storm summary label={} clients={n} completed={} failed={} fail_phases={} wall_s={} \
         dhcp_retransmits={retransmits} clients_retransmitting={retransmitting} dhcp_naks={naks} tftp_resends={tftp_resends} \
         dhcp_s={} tftp_s={} http_s={} last_end_s={} bytes={bytes} MBps={:.1} boot_files={} \
         client_cpu_s={cpu:.2} tftp_client={}",
        cfg.label,
        n - failed.len(),
        failed.len(),
        if fail_phases.is_empty() { "-" } else { fail_phases.trim_end_matches(',') },
        secs(wall),
        spread(outcomes.iter().filter_map(|o| o.dhcp).collect()),
        spread(outcomes.iter().filter_map(|o| o.tftp).collect()),
        spread(outcomes.iter().filter_map(|o| o.http).collect()),
        phase_end(&|o: &Outcome| o.error.is_none()),
        bytes as f64 / wall.as_secs_f64() / 1e6,
        files
            .iter()
            .map(|f| if f.is_empty() { "-" } else { f })
            .collect::<Vec<_>>()
            .join("/"),
        if cfg.tftp_threads { "threads" } else { "pumps" },
    );
    Ok(failed.is_empty())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse_args(&args) {
        Ok(Command::Generate { path, len }) => match generate(&path, len) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("boot_storm: {path}: {e}");
                ExitCode::FAILURE
            }
        },
        Ok(Command::Run(cfg)) => match run(cfg) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(e) => {
                eprintln!("boot_storm: {e}");
                ExitCode::from(2)
            }
        },
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}
