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
//! ```text
//! tftp_load --generate PATH --len BYTES
//! tftp_load --server 127.0.0.1:69 --file NAME [--blksize B] [--windowsize W]
//!           [--clients N] [--expect-len L] [--no-verify] [--no-tsize]
//!           [--timeout-ms 1000] [--tries 5] [--deadline-s 300]
//!           [--label TEXT] [--verbose | --quiet]
//! ```
//!
//! It prints one `tftp_load transfer ...` line per transfer (by default
//! only when there are at most 8 clients) and one `tftp_load summary ...`
//! line, both `key=value` separated by spaces. MB is 10^6 bytes. The exit
//! code is 0 only when every transfer completed and verified.

use std::fmt::Write as _;
use std::io::{self, BufWriter, ErrorKind, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use awl_core::wire::tftp::{ErrorCode, Mode, Repr, Request, TftpOptions, MAX_DATAGRAM};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

const USAGE: &str = "usage:
  tftp_load --generate PATH --len BYTES
  tftp_load --server ADDR:PORT --file NAME [--blksize B] [--windowsize W]
            [--clients N] [--expect-len L] [--no-verify] [--no-tsize]
            [--timeout-ms MS] [--tries N] [--deadline-s S] [--label TEXT]
            [--verbose | --quiet]
  (--blksize 0 / --windowsize 0: do not ask for the option)";

/// What one run does.
#[derive(Debug, Clone)]
struct Config {
    server: SocketAddr,
    file: String,
    blksize: Option<u64>,
    windowsize: Option<u64>,
    tsize: bool,
    clients: usize,
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

/// One read transfer, start to end.
fn transfer(cfg: &Config) -> Result<Outcome, String> {
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
    let mut out = [0u8; 64];
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    let mut expected_bytes = vec![0u8; MAX_DATAGRAM];

    let start = Instant::now();
    let mut peer: Option<SocketAddr> = None;
    let mut oack: Option<TftpOptions> = None;
    let mut blksize = 512u64;
    let mut window = 1u64;
    // The block number (not wrapped) expected next; the last one ACKed.
    let mut next = 1u64;
    let mut acked: Option<u64> = None;
    let mut in_window = 0u64;
    let mut received = 0u64;
    let mut tries = 0u32;
    let mut timeouts = 0u32;
    let mut nacks = 0u32;
    let mut gap_acked = false;
    let _ = socket.send_to(&rrq, cfg.server);
    loop {
        if start.elapsed() > cfg.deadline {
            return Err(format!(
                "deadline of {:?} passed after {received} bytes",
                cfg.deadline
            ));
        }
        let (n, from) = match socket.recv_from(&mut buf) {
            Ok(got) => got,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                tries += 1;
                if tries > cfg.tries {
                    return Err(format!(
                        "no reply after {} tries of {:?} ({received} bytes in, block {next} expected)",
                        cfg.tries, cfg.timeout
                    ));
                }
                timeouts += 1;
                in_window = 0;
                match (peer, acked) {
                    (Some(p), Some(a)) => {
                        send(&socket, p, &Repr::Ack { block: a as u16 }, &mut out)?
                    }
                    _ => {
                        let _ = socket.send_to(&rrq, cfg.server);
                    }
                }
                continue;
            }
            Err(e) => return Err(format!("receive: {e}")),
        };
        if from.ip() != cfg.server.ip() {
            continue;
        }
        match peer {
            Some(p) if p != from => {
                let error = Repr::Error {
                    code: ErrorCode::UnknownTid,
                    message: b"unknown transfer ID",
                };
                send(&socket, from, &error, &mut out)?;
                continue;
            }
            Some(_) => {}
            None => peer = Some(from),
        }
        let datagram = buf.get(..n).unwrap_or_default();
        let repr = Repr::parse(datagram).map_err(|e| format!("bad datagram from {from}: {e:?}"))?;
        match repr {
            Repr::Oack { options } if next == 1 => {
                if oack.is_none() {
                    if let Some(b) = options.blksize {
                        if cfg.blksize.is_none_or(|asked| b > asked) || b < 8 {
                            return Err(format!(
                                "OACK grants blksize {b}, asked {:?}",
                                cfg.blksize
                            ));
                        }
                    }
                    if let Some(w) = options.windowsize {
                        if cfg.windowsize.is_none_or(|asked| w > asked) || w == 0 {
                            return Err(format!(
                                "OACK grants windowsize {w}, asked {:?}",
                                cfg.windowsize
                            ));
                        }
                    }
                    blksize = options.blksize.unwrap_or(512);
                    window = options.windowsize.unwrap_or(1);
                    oack = Some(options);
                }
                tries = 0;
                acked = Some(0);
                send(&socket, from, &Repr::Ack { block: 0 }, &mut out)?;
            }
            Repr::Data { block, data } => {
                let expected = next as u16;
                if block == expected {
                    let len = data.len() as u64;
                    if len > blksize {
                        return Err(format!("block {next}: {len} bytes, blksize is {blksize}"));
                    }
                    if cfg.verify {
                        let want = expected_bytes.get_mut(..data.len()).unwrap_or_default();
                        pattern_fill(received, want);
                        if want != data {
                            return Err(format!(
                                "block {next} (offset {received}): bytes differ from the pattern"
                            ));
                        }
                    }
                    received += len;
                    tries = 0;
                    gap_acked = false;
                    in_window += 1;
                    if len < blksize {
                        send(&socket, from, &Repr::Ack { block }, &mut out)?;
                        break;
                    }
                    if in_window >= window {
                        send(&socket, from, &Repr::Ack { block }, &mut out)?;
                        acked = Some(next);
                        in_window = 0;
                    }
                    next += 1;
                } else if block.wrapping_sub(expected) < 0x8000 {
                    // Ahead: blocks were lost. ACK the last in-order block
                    // once, so the server resends from the gap (RFC 7440).
                    if !gap_acked {
                        let last = next - 1;
                        send(&socket, from, &Repr::Ack { block: last as u16 }, &mut out)?;
                        acked = Some(last);
                        gap_acked = true;
                        nacks += 1;
                        in_window = 0;
                    }
                } else if block == expected.wrapping_sub(1) && acked == Some(next - 1) {
                    // The server resent the block we last ACKed: that ACK
                    // was lost (or late). Say it again.
                    send(&socket, from, &Repr::Ack { block }, &mut out)?;
                    in_window = 0;
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
    }
    let seconds = start.elapsed().as_secs_f64();
    if let Some(l) = cfg.expect_len {
        if received != l {
            return Err(format!("got {received} bytes, expected {l}"));
        }
    }
    if let Some(t) = oack.and_then(|o| o.tsize) {
        if t != received {
            return Err(format!("got {received} bytes, OACK tsize said {t}"));
        }
    }
    Ok(Outcome {
        bytes: received,
        seconds,
        oack,
        blksize,
        windowsize: window,
        timeouts,
        nacks,
    })
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

fn run(cfg: &Config) -> bool {
    let barrier = Arc::new(Barrier::new(cfg.clients + 1));
    let mut handles = Vec::with_capacity(cfg.clients);
    for _ in 0..cfg.clients {
        let cfg = cfg.clone();
        let barrier = Arc::clone(&barrier);
        let spawned = std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(move || {
                barrier.wait();
                let result = transfer(&cfg);
                (result, Instant::now())
            });
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => {
                eprintln!("tftp_load: cannot start client thread: {e}");
                // Release the threads already waiting, then report.
                return false;
            }
        }
    }
    barrier.wait();
    let start = Instant::now();
    let mut outcomes = Vec::new();
    let mut failed = 0usize;
    let mut end = start;
    for (i, h) in handles.into_iter().enumerate() {
        match h.join() {
            Ok((Ok(o), done)) => {
                end = end.max(done);
                outcomes.push((i, o));
            }
            Ok((Err(e), done)) => {
                end = end.max(done);
                failed += 1;
                eprintln!("tftp_load: client {i} failed: {e}");
            }
            Err(_) => {
                failed += 1;
                eprintln!("tftp_load: client {i} panicked");
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
}
