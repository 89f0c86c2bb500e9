//! TFTP server tests without a network: datagrams in, datagrams out, time
//! as an argument. `cve_*` tests follow RELIABILITY.md rows T1–T16.

#![allow(clippy::octal_escapes)] // `\0` then a digit is NUL then the digit

use std::collections::BTreeMap;
use std::string::String;
use std::vec::Vec;

use super::*;
use crate::wire::tftp::{Request, TftpOptions};

/// Files in memory; handles are indexes into `names`.
#[derive(Default)]
struct MemFiles {
    files: BTreeMap<String, Vec<u8>>,
    names: Vec<String>,
    open: usize,
    /// Uploads kept (complete) and dropped (incomplete).
    kept: Vec<String>,
    dropped: Vec<String>,
    /// Blocks of at least this many bytes are sent from the file (as the
    /// host does with `sendfile`); `None`: all copied.
    from_file_at: Option<usize>,
}

impl MemFiles {
    fn with(files: &[(&str, Vec<u8>)]) -> Self {
        Self {
            files: files
                .iter()
                .map(|(n, d)| (n.to_string(), d.clone()))
                .collect(),
            ..Self::default()
        }
    }
}

impl FileSource for MemFiles {
    type Handle = usize;
    fn open(&mut self, path: &str) -> Result<(usize, u64), FileError> {
        let data = self.files.get(path).ok_or(FileError::NotFound)?;
        self.names.push(path.to_string());
        self.open += 1;
        Ok((self.names.len() - 1, data.len() as u64))
    }
    fn read_at(&mut self, h: usize, offset: u64, dst: &mut [u8]) -> Result<usize, FileError> {
        let data = &self.files[&self.names[h]];
        let rest = data.get(offset as usize..).unwrap_or(&[]);
        let n = rest.len().min(dst.len());
        dst[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    }
    fn sends_from_file(&self, _: usize, len: usize) -> bool {
        self.from_file_at.is_some_and(|at| len >= at)
    }
    fn close(&mut self, _: usize) {
        self.open -= 1;
    }
    fn create(&mut self, path: &str) -> Result<usize, FileError> {
        if self.files.contains_key(path) {
            return Err(FileError::Exists);
        }
        self.files.insert(path.to_string(), Vec::new());
        self.names.push(path.to_string());
        self.open += 1;
        Ok(self.names.len() - 1)
    }
    fn write_at(&mut self, h: usize, offset: u64, data: &[u8]) -> Result<(), FileError> {
        let file = self.files.get_mut(&self.names[h]).unwrap();
        assert_eq!(file.len() as u64, offset, "writes arrive in order");
        file.extend_from_slice(data);
        Ok(())
    }
    fn finish(&mut self, h: usize, complete: bool) {
        self.open -= 1;
        let name = self.names[h].clone();
        if complete {
            self.kept.push(name);
        } else {
            self.files.remove(&name);
            self.dropped.push(name);
        }
    }
}

/// A file whose bytes are a function of their offset, of any size, without
/// memory (for rollover tests).
struct Pattern(u64);

fn pattern_byte(offset: u64) -> u8 {
    (offset.wrapping_mul(2_654_435_761) >> 13) as u8
}

impl FileSource for Pattern {
    type Handle = ();
    fn open(&mut self, _: &str) -> Result<((), u64), FileError> {
        Ok(((), self.0))
    }
    fn read_at(&mut self, _: (), offset: u64, dst: &mut [u8]) -> Result<usize, FileError> {
        let n = self.0.saturating_sub(offset).min(dst.len() as u64) as usize;
        for (i, b) in dst[..n].iter_mut().enumerate() {
            *b = pattern_byte(offset + i as u64);
        }
        Ok(n)
    }
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 7], port))
}

const CLIENT: u16 = 3000;

struct Sim<F: FileSource>
where
    F::Handle: 'static,
{
    server: TftpServer<'static, F::Handle>,
    files: F,
    now: Instant,
    /// Datagrams whose data came from the file rather than the buffer.
    from_file: usize,
}

impl<F: FileSource> Sim<F>
where
    F::Handle: 'static,
{
    fn new(config: Config, slots: usize, files: F) -> Self {
        let storage: Vec<Option<Transfer<F::Handle>>> = (0..slots).map(|_| None).collect();
        Self {
            server: TftpServer::new(config, storage),
            files,
            now: Instant::ZERO,
            from_file: 0,
        }
    }

    fn send(&mut self, local: Local, from: u16, bytes: &[u8]) {
        self.server
            .handle(self.now, local, addr(from), bytes, &mut self.files);
    }

    fn rrq(&mut self, from: u16, bytes: &[u8]) {
        self.send(Local::Listener, from, bytes);
    }

    /// Every datagram the server has to send now, completed from the file
    /// where it says so (as a driver's `sendfile` would).
    fn drain(&mut self) -> Vec<(Transmit<F::Handle>, Vec<u8>)> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 65_536];
        while let Some(t) = self
            .server
            .poll_transmit(self.now, &mut self.files, &mut buf)
        {
            let mut datagram = buf[..t.len].to_vec();
            if let Some(f) = t.from_file {
                assert_eq!(t.len, 4, "only the DATA header is in the buffer");
                assert_eq!(&datagram[..2], &[0, 3]);
                let mut data = vec![0u8; f.len];
                let n = self.files.read_at(f.handle, f.offset, &mut data).unwrap();
                datagram.extend_from_slice(&data[..n]);
                self.from_file += 1;
            }
            out.push((t, datagram));
            assert!(out.len() < 100_000, "livelock");
        }
        out
    }

    fn advance_to_timeout(&mut self) -> bool {
        match self.server.poll_timeout() {
            Some(t) => {
                self.now = self.now.max(t);
                self.server.handle_timeout(self.now, &mut self.files);
                true
            }
            None => false,
        }
    }

    fn events(&mut self) -> Vec<Event> {
        core::iter::from_fn(|| self.server.poll_event()).collect()
    }
}

fn parse(bytes: &[u8]) -> Repr<'_> {
    Repr::parse(bytes).unwrap()
}

fn ack(block: u16) -> [u8; 4] {
    let b = block.to_be_bytes();
    [0, 4, b[0], b[1]]
}

fn data_blocks(out: &[(Transmit<usize>, Vec<u8>)]) -> Vec<u16> {
    out.iter()
        .filter_map(|(_, d)| match parse(d) {
            Repr::Data { block, .. } => Some(block),
            _ => None,
        })
        .collect()
}

fn local_of<H>(out: &[(Transmit<H>, Vec<u8>)]) -> Local {
    out.first().expect("a reply").0.local
}

fn file(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

fn sim(files: &[(&str, Vec<u8>)]) -> Sim<MemFiles> {
    Sim::new(Config::default(), 8, MemFiles::with(files))
}

#[test]
fn plain_rrq_no_options_sends_data_1_first_and_finishes() {
    let mut s = sim(&[("f", file(1000))]);
    s.rrq(CLIENT, b"\0\x01f\0octet\0");
    let out = s.drain();
    assert_eq!(data_blocks(&out), [1], "no OACK when no option was asked");
    let local = local_of(&out);
    assert_eq!(out[0].0.dst, addr(CLIENT));
    s.send(local, CLIENT, &ack(1));
    let out = s.drain();
    assert_eq!(out.len(), 1);
    let Repr::Data { block: 2, data } = parse(&out[0].1) else {
        panic!()
    };
    assert_eq!(data, &file(1000)[512..]);
    s.send(local, CLIENT, &ack(2));
    assert!(s.drain().is_empty());
    let Local::Transfer(id) = local else { panic!() };
    assert!(!s.server.is_active(id));
    assert_eq!(s.files.open, 0, "file closed");
    let events = s.events();
    assert!(matches!(events[0], Event::Started { size: 1000, .. }));
    assert!(matches!(
        events[1],
        Event::Finished {
            bytes: 1000,
            retransmits: 0,
            ..
        }
    ));
}

#[test]
fn cve_t6_duplicate_ack_sends_nothing() {
    let mut s = sim(&[("f", file(2000))]);
    s.rrq(CLIENT, b"\0\x01f\0octet\0");
    let local = local_of(&s.drain());
    s.send(local, CLIENT, &ack(1));
    assert_eq!(data_blocks(&s.drain()), [2]);
    s.send(local, CLIENT, &ack(1));
    assert!(
        s.drain().is_empty(),
        "a duplicate ACK must not resend (Sorcerer's Apprentice)"
    );
    // Only the timer retransmits.
    assert!(s.advance_to_timeout());
    assert_eq!(data_blocks(&s.drain()), [2]);
}

#[test]
fn windowed_transfer_sends_whole_windows_and_recovers_from_a_gap_at_once() {
    let mut s = sim(&[("f", file(8 * 20))]);
    s.rrq(CLIENT, b"\0\x01f\0octet\0blksize\08\0windowsize\04\0");
    let out = s.drain();
    assert_eq!(
        parse(&out[0].1),
        Repr::Oack {
            options: TftpOptions {
                blksize: Some(8),
                windowsize: Some(4),
                ..Default::default()
            }
        }
    );
    let local = local_of(&out);
    s.send(local, CLIENT, &ack(0));
    assert_eq!(data_blocks(&s.drain()), [1, 2, 3, 4]);
    s.send(local, CLIENT, &ack(4));
    assert_eq!(data_blocks(&s.drain()), [5, 6, 7, 8]);
    // Block 7 lost: the client ACKs 6, the last in order.
    s.send(local, CLIENT, &ack(6));
    assert_eq!(
        data_blocks(&s.drain()),
        [7, 8, 9, 10],
        "resend from 7 at once, no stall"
    );
    // A duplicate of that ACK changes nothing.
    s.send(local, CLIENT, &ack(6));
    assert!(s.drain().is_empty());
    s.send(local, CLIENT, &ack(10));
    assert_eq!(data_blocks(&s.drain()), [11, 12, 13, 14]);
    s.send(local, CLIENT, &ack(14));
    assert_eq!(data_blocks(&s.drain()), [15, 16, 17, 18]);
    s.send(local, CLIENT, &ack(18));
    // 160 bytes = 20 full blocks, then an empty block 21 ends the file.
    let out = s.drain();
    assert_eq!(data_blocks(&out), [19, 20, 21]);
    let Repr::Data { data, .. } = parse(&out[2].1) else {
        panic!()
    };
    assert!(data.is_empty());
    s.send(local, CLIENT, &ack(21));
    assert_eq!(s.server.active(), 0);
}

#[test]
fn cve_t4_blksize_8_with_every_option() {
    let mut s = sim(&[("f", file(20))]);
    s.rrq(
        CLIENT,
        b"\0\x01f\0octet\0blksize\08\0timeout\03\0tsize\00\0windowsize\064\0",
    );
    let out = s.drain();
    assert_eq!(out.len(), 1, "first flight is the OACK alone");
    assert_eq!(
        &out[0].1[..],
        b"\0\x06blksize\08\0tsize\020\0timeout\03\0windowsize\064\0"
    );
    s.send(local_of(&out), CLIENT, &ack(0));
    let out = s.drain();
    assert!(out.iter().all(|(_, d)| d.len() <= 8 + 4));
    assert_eq!(data_blocks(&out), [1, 2, 3]);
}

#[test]
fn cve_t4_blksize_out_of_range() {
    for (asked, granted) in [
        ("7", None),
        ("0", None),
        ("65465", Some(1468)),
        ("65464", Some(1468)),
        ("1024", Some(1024)),
    ] {
        let mut s = sim(&[("f", file(10))]);
        let rrq = format!("\0\x01f\0octet\0blksize\0{asked}\0");
        s.rrq(CLIENT, rrq.as_bytes());
        let out = s.drain();
        match granted {
            Some(b) => assert_eq!(
                parse(&out[0].1),
                Repr::Oack {
                    options: TftpOptions {
                        blksize: Some(b),
                        ..Default::default()
                    }
                }
            ),
            None => assert_eq!(data_blocks(&out), [1], "blksize {asked}: left out, no OACK"),
        }
    }
}

#[test]
fn blksize_follows_the_path_mtu() {
    assert_eq!(Config::blksize_for_mtu(1500, false), 1468);
    assert_eq!(Config::blksize_for_mtu(1280, true), 1228);
    assert_eq!(Config::blksize_for_mtu(576, false), 544);
    assert_eq!(Config::blksize_for_mtu(65536, false), 65464);
    let config = Config {
        max_blksize: Config::blksize_for_mtu(576, false),
        ..Config::default()
    };
    let mut s = Sim::new(config, 2, MemFiles::with(&[("f", file(10))]));
    s.rrq(CLIENT, b"\0\x01f\0octet\0blksize\065464\0");
    assert_eq!(
        parse(&s.drain()[0].1),
        Repr::Oack {
            options: TftpOptions {
                blksize: Some(544),
                ..Default::default()
            }
        }
    );
}

#[test]
fn windowsize_is_capped_and_oack_is_a_subset_of_the_request() {
    let mut s = sim(&[("f", file(10))]);
    s.rrq(CLIENT, b"\0\x01f\0octet\0windowsize\065535\0unknown\01\0");
    assert_eq!(
        parse(&s.drain()[0].1),
        Repr::Oack {
            options: TftpOptions {
                windowsize: Some(64),
                ..Default::default()
            }
        }
    );
    let mut s = sim(&[("f", file(10))]);
    s.rrq(
        CLIENT,
        b"\0\x01f\0octet\0windowsize\00\0timeout\0256\0tsize\0x\0",
    );
    assert_eq!(data_blocks(&s.drain()), [1], "nothing acceptable: no OACK");
}

/// OVMF: RRQ tsize=0 blksize=1468 windowsize=4, OACK, ERROR 8, a new RRQ
/// from a new port (the sequence in tests/vectors/captured/ovmf-uefi-pxe.pcap).
#[test]
fn uefi_tsize_probe_then_abort_then_real_read() {
    let mut s = sim(&[("boot/grubx64.efi", file(5000))]);
    s.rrq(
        1592,
        b"\0\x01boot/grubx64.efi\0octet\0tsize\00\0blksize\01468\0windowsize\04\0",
    );
    let out = s.drain();
    assert_eq!(
        parse(&out[0].1),
        Repr::Oack {
            options: TftpOptions {
                blksize: Some(1468),
                tsize: Some(5000),
                windowsize: Some(4),
                timeout: None
            }
        }
    );
    let probe = local_of(&out);
    s.send(probe, 1592, b"\0\x05\0\x08User aborted the transfer\0");
    assert!(s.drain().is_empty(), "no reply to the abort");
    assert_eq!(s.server.active(), 0, "the slot is free at once");
    s.rrq(
        1593,
        b"\0\x01boot/grubx64.efi\0octet\0blksize\01468\0windowsize\04\0",
    );
    let out = s.drain();
    let real = local_of(&out);
    assert_ne!(real, probe);
    s.send(real, 1593, &ack(0));
    assert_eq!(data_blocks(&s.drain()), [1, 2, 3, 4]);
    s.send(real, 1593, &ack(4));
    assert!(s.drain().is_empty() && s.server.active() == 0);
    let events = s.events();
    assert!(
        matches!(
            events[1],
            Event::Aborted {
                code: ErrorCode::OptionRefused,
                ..
            }
        ),
        "{events:?}"
    );
    assert!(matches!(events[3], Event::Finished { bytes: 5000, .. }));
}

#[test]
fn missing_file_is_the_first_and_only_reply() {
    let mut s = sim(&[]);
    s.rrq(CLIENT, b"\0\x01nope\0octet\0tsize\00\0blksize\01468\0");
    let out = s.drain();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0.local, Local::Listener);
    assert_eq!(
        parse(&out[0].1),
        Repr::Error {
            code: ErrorCode::FileNotFound,
            message: b"file not found"
        }
    );
}

#[test]
fn cve_t8_error_for_a_600_character_missing_path_is_exact() {
    let mut s = sim(&[]);
    let mut rrq = b"\0\x01".to_vec();
    rrq.extend(std::iter::repeat_n(b'a', 600));
    rrq.extend_from_slice(b"\0octet\0");
    s.rrq(CLIENT, &rrq);
    let out = s.drain();
    let d = &out[0].1;
    assert!(d.len() <= 512);
    assert_eq!(
        d.len(),
        4 + d[4..].iter().position(|&b| b == 0).unwrap() + 1
    );
    assert_eq!(*d.last().unwrap(), 0);
}

#[test]
fn cve_t10_datagram_from_another_port_gets_error_5_and_the_transfer_goes_on() {
    let data = file(3000);
    let mut s = sim(&[("f", data.clone())]);
    s.rrq(CLIENT, b"\0\x01f\0octet\0");
    let out = s.drain();
    let local = local_of(&out);
    let mut got = Vec::new();
    let Repr::Data { data: d, .. } = parse(&out[0].1) else {
        panic!()
    };
    got.extend_from_slice(d);
    s.send(local, 4444, &ack(1));
    let out = s.drain();
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].0,
        Transmit {
            local,
            dst: addr(4444),
            len: out[0].1.len(),
            from_file: None,
        }
    );
    assert!(matches!(
        parse(&out[0].1),
        Repr::Error {
            code: ErrorCode::UnknownTid,
            ..
        }
    ));
    let mut block = 1;
    loop {
        s.send(local, CLIENT, &ack(block));
        let out = s.drain();
        if out.is_empty() {
            break;
        }
        let Repr::Data { block: b, data: d } = parse(&out[0].1) else {
            panic!()
        };
        got.extend_from_slice(d);
        block = b;
    }
    assert_eq!(got, data);
}

#[test]
fn cve_t1_short_error_datagrams_to_a_transfer() {
    for datagram in [&b"\0\x05"[..], b"\0", b"", b"\0\x05\0\x01"] {
        let mut s = sim(&[("f", file(3000)), ("g", file(3000))]);
        s.rrq(CLIENT, b"\0\x01f\0octet\0");
        s.rrq(CLIENT + 1, b"\0\x01g\0octet\0");
        let out = s.drain();
        let (first, second) = (out[0].0.local, out[1].0.local);
        s.send(first, CLIENT, datagram);
        assert!(s.drain().is_empty());
        let aborted = datagram.len() == 4;
        assert_eq!(
            s.server.active(),
            if aborted { 1 } else { 2 },
            "{datagram:?}"
        );
        // The other transfer carries on.
        s.send(second, CLIENT + 1, &ack(1));
        assert_eq!(data_blocks(&s.drain()), [2]);
    }
}

#[test]
fn cve_t13_short_datagrams_to_the_listener() {
    let mut s = sim(&[("f", file(10))]);
    for d in [&b""[..], b"\0"] {
        s.rrq(CLIENT, d);
        assert!(s.drain().is_empty());
    }
    for d in [&b"\0\x01"[..], b"\0\x04\0"] {
        s.rrq(CLIENT, d);
        let out = s.drain();
        assert!(out.iter().all(|(_, d)| matches!(
            parse(d),
            Repr::Error {
                code: ErrorCode::IllegalOperation,
                ..
            }
        )));
    }
    // ACK/DATA/ERROR on the listener are dropped silently.
    for d in [&ack(1)[..], b"\0\x03\0\x01abc", b"\0\x05\0\x00x\0"] {
        s.rrq(CLIENT, d);
        assert!(s.drain().is_empty());
    }
    assert_eq!(s.server.active(), 0);
}

#[test]
fn cve_t5_malformed_requests_get_the_right_error() {
    let cases: &[(&[u8], ErrorCode)] = &[
        (b"\0\x01f", ErrorCode::IllegalOperation),
        (b"\0\x01f\0octet", ErrorCode::IllegalOperation),
        (b"\0\x01f\0octet\0blksize", ErrorCode::IllegalOperation),
        (
            b"\0\x01f\0octet\0blksize\01468",
            ErrorCode::IllegalOperation,
        ),
        (b"\0\x01f\0octet\0blksize\0", ErrorCode::OptionRefused),
        (b"\0\x01\0octet\0", ErrorCode::IllegalOperation),
        (b"\0\x01f\0binary\0", ErrorCode::IllegalOperation),
        (b"\0\x01f\0mail\0", ErrorCode::IllegalOperation),
        (b"\0\x02f\0octet\0", ErrorCode::AccessViolation),
    ];
    for (rrq, code) in cases {
        let mut s = sim(&[("f", file(10))]);
        s.rrq(CLIENT, rrq);
        let out = s.drain();
        assert_eq!(out.len(), 1, "{rrq:?}");
        let Repr::Error { code: got, message } = parse(&out[0].1) else {
            panic!()
        };
        assert_eq!(got, *code, "{rrq:?}");
        assert!(!message.is_empty());
    }
}

#[test]
fn cve_t12_traversal_is_refused_before_any_file_is_opened() {
    let mut s = sim(&[("etc/passwd", file(10))]);
    for name in ["../x", "a/../../x", "/../x", "..\\x", "a\\..\\..\\x"] {
        s.rrq(CLIENT, format!("\0\x01{name}\0octet\0").as_bytes());
        let out = s.drain();
        assert!(
            matches!(
                parse(&out[0].1),
                Repr::Error {
                    code: ErrorCode::AccessViolation,
                    ..
                }
            ),
            "{name}"
        );
    }
    assert!(s.files.names.is_empty(), "nothing opened");
    s.rrq(CLIENT, b"\0\x01/etc/passwd\0octet\0");
    assert_eq!(data_blocks(&s.drain()), [1], "a leading / means the root");
}

#[test]
fn cve_t2_full_table_answers_server_busy_and_frees_slots() {
    let mut s = Sim::new(Config::default(), 2, MemFiles::with(&[("f", file(100))]));
    s.rrq(1, b"\0\x01f\0octet\0");
    s.rrq(2, b"\0\x01f\0octet\0");
    s.rrq(3, b"\0\x01f\0octet\0");
    let out = s.drain();
    let busy: Vec<_> = out.iter().filter(|(t, _)| t.dst == addr(3)).collect();
    assert_eq!(busy.len(), 1);
    assert!(
        matches!(parse(&busy[0].1), Repr::Error { code: ErrorCode::NotDefined, message } if message.starts_with(b"server busy"))
    );
    assert_eq!(s.server.active(), 2);
    let first = out.iter().find(|(t, _)| t.dst == addr(1)).unwrap().0.local;
    s.send(first, 1, &ack(1));
    s.rrq(3, b"\0\x01f\0octet\0");
    assert_eq!(data_blocks(&s.drain()), [1]);
}

#[test]
fn per_ip_limit() {
    let config = Config {
        max_per_ip: 2,
        ..Config::default()
    };
    let mut s = Sim::new(config, 8, MemFiles::with(&[("f", file(100))]));
    for port in 1..=3 {
        s.rrq(port, b"\0\x01f\0octet\0");
    }
    let out = s.drain();
    assert_eq!(s.server.active(), 2);
    assert!(matches!(
        parse(&out.iter().find(|(t, _)| t.dst == addr(3)).unwrap().1),
        Repr::Error { .. }
    ));
}

#[test]
fn retransmitted_rrq_does_not_start_a_second_transfer() {
    let mut s = sim(&[("f", file(100))]);
    s.rrq(CLIENT, b"\0\x01f\0octet\0blksize\01024\0");
    assert_eq!(s.drain().len(), 1);
    s.rrq(CLIENT, b"\0\x01f\0octet\0blksize\01024\0");
    assert!(s.drain().is_empty(), "no second OACK right away (Pi #1041)");
    assert_eq!(s.server.active(), 1);
}

#[test]
fn cve_t16_silent_peer_costs_a_bounded_number_of_bytes() {
    for windowsize in [1u64, 64] {
        let mut s = Sim::new(Config::default(), 4, Pattern(100 * 1024 * 1024));
        let rrq = format!("\0\x01big\0octet\0blksize\01468\0windowsize\0{windowsize}\0");
        s.rrq(CLIENT, rrq.as_bytes());
        let mut sent = 0usize;
        let mut datagrams = 0usize;
        loop {
            for (_, d) in s.drain() {
                sent += d.len();
                datagrams += 1;
            }
            if !s.advance_to_timeout() {
                break;
            }
        }
        let retries = usize::from(read::UNPROVEN_RETRIES);
        // Only the OACK goes out, then two retransmissions: the window
        // never opens without ACK 0, and an unproven peer gets no more.
        assert_eq!(datagrams, 1 + retries, "windowsize {windowsize}");
        let ratio = sent as f64 / rrq.len() as f64;
        assert!(ratio < 2.0 * (1 + retries) as f64, "amplification {ratio}");
        assert!(matches!(s.events().last(), Some(Event::TimedOut { .. })));
        assert_eq!(s.server.active(), 0);
    }
}

#[test]
fn an_unproven_peer_gets_the_first_block_and_two_retransmissions() {
    // A plain request: DATA 1 (512 bytes) three times, then the give-up;
    // the same request again renews that allowance, and nothing goes out
    // at once.
    let mut s = sim(&[("f", file(100_000))]);
    let rrq = b"\0\x01f\0octet\0";
    s.rrq(CLIENT, rrq);
    let mut sent = s.drain();
    assert!(s.advance_to_timeout());
    sent.extend(s.drain());
    s.rrq(CLIENT, rrq);
    assert!(s.drain().is_empty(), "no resend right away");
    while s.advance_to_timeout() {
        sent.extend(s.drain());
    }
    assert_eq!(data_blocks(&sent), [1, 1, 1, 1]);
    assert!(sent.iter().all(|(_, d)| d.len() == 516));
    assert!(matches!(s.events().last(), Some(Event::TimedOut { .. })));
}

#[test]
fn retransmission_backs_off_and_gives_up() {
    // A peer that acknowledged the OACK, then fell silent.
    let mut s = sim(&[("f", file(100_000))]);
    s.rrq(CLIENT, b"\0\x01f\0octet\0blksize\0512\0");
    let local = local_of(&s.drain());
    s.send(local, CLIENT, &ack(0));
    s.drain();
    let mut times = Vec::new();
    while s.advance_to_timeout() {
        times.push(s.now.total_micros());
        s.drain();
    }
    let retries = usize::from(Config::default().max_retries);
    assert_eq!(
        times.len(),
        retries + 1,
        "{retries} retransmissions, then the give-up"
    );
    assert!(times.windows(2).all(|w| w[1] > w[0]));
    assert!(
        s.now.total_micros() <= 60_000_000,
        "gives up within a minute: {:?}",
        times
    );
}

#[test]
fn a_live_client_repeating_its_ack_is_not_given_up() {
    let mut s = sim(&[("f", file(5000))]);
    s.rrq(CLIENT, b"\0\x01f\0octet\0blksize\0512\0windowsize\04\0");
    let local = local_of(&s.drain());
    s.send(local, CLIENT, &ack(0));
    s.drain();
    // Every window is lost; the client keeps repeating ACK 0.
    for _ in 0..3 * usize::from(Config::default().max_retries) {
        assert!(s.advance_to_timeout());
        assert_eq!(data_blocks(&s.drain()), [1, 2, 3, 4], "the timer resends");
        s.send(local, CLIENT, &ack(0));
        assert!(
            s.drain().is_empty(),
            "the repeated ACK itself sends nothing"
        );
    }
    assert_eq!(s.server.active(), 1, "still alive");
}

#[test]
fn spurious_timeout_calls_do_nothing() {
    let mut s = sim(&[("f", file(100))]);
    s.rrq(CLIENT, b"\0\x01f\0octet\0");
    s.drain();
    for _ in 0..10 {
        s.server.handle_timeout(s.now, &mut s.files);
        assert!(s.drain().is_empty());
    }
}

#[test]
fn cve_t7_rollover_past_65535_blocks() {
    // 65600 blocks of 8 bytes + 3 bytes: block 65536 goes out as 0.
    let size = 65_600 * 8 + 3;
    let mut s = Sim::new(Config::default(), 2, Pattern(size));
    s.rrq(CLIENT, b"\0\x01big\0octet\0blksize\08\0windowsize\016\0");
    let local = local_of(&s.drain());
    s.send(local, CLIENT, &ack(0));
    let mut received = 0u64;
    let mut wire_blocks = Vec::new();
    let mut last_ack = 0u16;
    let mut stale_checked = false;
    let mut next_out = s.drain();
    loop {
        let out = std::mem::take(&mut next_out);
        if out.is_empty() {
            break;
        }
        for (_, d) in &out {
            let Repr::Data { block, data } = parse(d) else {
                panic!()
            };
            for (i, b) in data.iter().enumerate() {
                assert_eq!(*b, pattern_byte(received + i as u64));
            }
            received += data.len() as u64;
            last_ack = block;
            if wire_blocks.len() < 70_000 {
                wire_blocks.push(block);
            }
        }
        s.send(local, CLIENT, &ack(last_ack));
        next_out = s.drain();
        if !stale_checked && received > 65_540 * 8 {
            // The server has acknowledged past the wrap: a late ACK 65535
            // from before it must not rewind the transfer.
            stale_checked = true;
            s.send(local, CLIENT, &ack(65_535));
            assert!(
                s.drain().is_empty(),
                "a stale ACK from before the wrap caused a send"
            );
        }
    }
    assert!(stale_checked);
    assert_eq!(received, size);
    assert_eq!(wire_blocks[65_534], 65_535);
    assert_eq!(wire_blocks[65_535], 0);
    assert_eq!(wire_blocks[65_536], 1);
    assert_eq!(s.server.active(), 0);
}

#[test]
fn cve_t14_netascii_conversion_and_window_of_one() {
    let mut s = sim(&[("t", b"foo\nbar\rbaz\n".to_vec())]);
    s.rrq(CLIENT, b"\0\x01t\0netascii\0windowsize\08\0tsize\00\0");
    let out = s.drain();
    assert_eq!(
        data_blocks(&out),
        [1],
        "no windowsize or tsize for netascii: no OACK"
    );
    let Repr::Data { data, .. } = parse(&out[0].1) else {
        panic!()
    };
    assert_eq!(data, b"foo\r\nbar\r\0baz\r\n");
}

/// Decodes netascii back (what a client does).
fn from_netascii(wire: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < wire.len() {
        match (wire[i], wire.get(i + 1)) {
            (b'\r', Some(b'\n')) => {
                out.push(b'\n');
                i += 2;
            }
            (b'\r', Some(0)) => {
                out.push(b'\r');
                i += 2;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

#[test]
fn cve_t14_netascii_cr_and_lf_at_block_boundaries_survive_loss() {
    let mut text = Vec::new();
    for i in 0..3000 {
        text.push(if i % 7 == 0 {
            b'\r'
        } else if i % 5 == 0 {
            b'\n'
        } else {
            b'a' + (i % 26) as u8
        });
    }
    *text.last_mut().unwrap() = b'\n';
    for blksize in [8u16, 9, 512] {
        let mut s = sim(&[("t", text.clone())]);
        s.rrq(
            CLIENT,
            format!("\0\x01t\0netascii\0blksize\0{blksize}\0").as_bytes(),
        );
        let local = local_of(&s.drain());
        s.send(local, CLIENT, &ack(0));
        let mut wire = Vec::new();
        let mut expect = 1u16;
        let mut dropped = 0;
        loop {
            let out = s.drain();
            if out.is_empty() {
                if !s.advance_to_timeout() || s.server.active() == 0 {
                    break;
                }
                continue;
            }
            let Repr::Data { block, data } = parse(&out[0].1) else {
                panic!()
            };
            assert_eq!(block, expect);
            // Drop every 5th block once, so it is resent from the same start.
            if block % 5 == 0 && dropped < block {
                dropped = block;
                continue;
            }
            wire.extend_from_slice(data);
            s.send(local, CLIENT, &ack(block));
            expect = block.wrapping_add(1);
            if data.len() < usize::from(blksize) {
                break;
            }
        }
        assert_eq!(from_netascii(&wire), text, "blksize {blksize}");
    }
}

#[test]
fn empty_file_and_exact_multiple_end_with_a_short_block() {
    let mut s = sim(&[("empty", vec![]), ("f", file(1024))]);
    s.rrq(CLIENT, b"\0\x01empty\0octet\0");
    let out = s.drain();
    let Repr::Data { block: 1, data } = parse(&out[0].1) else {
        panic!()
    };
    assert!(data.is_empty());
    s.send(out[0].0.local, CLIENT, &ack(1));
    assert_eq!(s.server.active(), 0);
    s.rrq(CLIENT, b"\0\x01f\0octet\0");
    let local = local_of(&s.drain());
    s.send(local, CLIENT, &ack(1));
    s.drain();
    s.send(local, CLIENT, &ack(2));
    let out = s.drain();
    let Repr::Data { block: 3, data } = parse(&out[0].1) else {
        panic!()
    };
    assert!(data.is_empty());
}

#[test]
fn late_packets_after_the_end_are_ignored() {
    let mut s = sim(&[("f", file(10))]);
    s.rrq(CLIENT, b"\0\x01f\0octet\0");
    let local = local_of(&s.drain());
    s.send(local, CLIENT, &ack(1));
    s.send(local, CLIENT, &ack(1));
    s.send(local, CLIENT, b"\0\x03\0\x01x");
    assert!(s.drain().is_empty());
}

/// A small RFC 7440 client for the loss simulation: ACKs at the end of each
/// window, or the last in-order block on a gap; re-ACKs on its own timeout.
struct Client {
    windowsize: u16,
    received: Vec<u8>,
    expect: u16,
    in_window: u16,
    done: bool,
}

/// A tiny deterministic PRNG (xorshift) for loss decisions.
struct Rng(u64);
impl Rng {
    fn chance(&mut self, percent: u64) -> bool {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % 100 < percent
    }
}

/// A whole read of a `size`-byte file under `loss` percent loss both ways;
/// blocks of `from_file_at` bytes or more are sent from the file. Returns
/// the file, what the client got, the retransmissions, and how many
/// datagrams came from the file.
fn lossy_transfer(
    size: usize,
    (blksize, windowsize): (u16, u16),
    loss: u64,
    seed: u64,
    from_file_at: Option<usize>,
) -> (Vec<u8>, Vec<u8>, u64, usize) {
    let data = file(size);
    let mut s = sim(&[("f", data.clone())]);
    s.files.from_file_at = from_file_at;
    let mut rng = Rng(seed);
    let mut c = Client {
        windowsize,
        received: Vec::new(),
        expect: 1,
        in_window: 0,
        done: false,
    };
    s.rrq(
        CLIENT,
        format!("\0\x01f\0octet\0blksize\0{blksize}\0windowsize\0{windowsize}\0").as_bytes(),
    );
    let mut local = None;
    let mut client_clock = s.now;
    for _ in 0..1_000_000 {
        let out = s.drain();
        let mut acks = Vec::new();
        for (t, d) in out {
            if rng.chance(loss) {
                continue; // lost on the way to the client
            }
            local = Some(t.local);
            match parse(&d) {
                Repr::Oack { .. } => acks.push(0),
                Repr::Data { block, data } => {
                    if block == c.expect {
                        c.received.extend_from_slice(data);
                        c.expect = c.expect.wrapping_add(1);
                        c.in_window += 1;
                        if data.len() < usize::from(blksize) {
                            c.done = true;
                            acks.push(block);
                        } else if c.in_window == c.windowsize {
                            c.in_window = 0;
                            acks.push(block);
                        }
                    } else if block == c.expect.wrapping_sub(1) {
                        // A block it already has (its ACK was lost): ACK
                        // it again, as RFC 1350 clients do.
                        acks.push(block);
                    } else if block.wrapping_sub(c.expect) < 0x8000 {
                        // A gap: ACK the last block in order, once per window.
                        if c.in_window != u16::MAX {
                            acks.push(c.expect.wrapping_sub(1));
                            c.in_window = u16::MAX;
                        }
                    }
                }
                other => panic!("{other:?}"),
            }
        }
        if c.in_window == u16::MAX {
            c.in_window = 0;
        }
        for a in acks {
            if !rng.chance(loss) {
                s.send(local.unwrap(), CLIENT, &ack(a));
            }
        }
        if s.server.active() == 0 {
            break;
        }
        // Nothing in flight: time passes; the client re-ACKs after 2 s.
        if s.server.ready().next().is_none() {
            let next = s.server.poll_timeout().unwrap();
            if next > client_clock + Duration::from_secs(2) && !rng.chance(loss) {
                s.now = client_clock + Duration::from_secs(2);
                client_clock = s.now;
                s.send(local.unwrap(), CLIENT, &ack(c.expect.wrapping_sub(1)));
            } else {
                s.advance_to_timeout();
                client_clock = client_clock.max(s.now);
            }
        }
    }
    let retransmits = s
        .events()
        .iter()
        .find_map(|e| match e {
            Event::Finished { retransmits, .. } => Some(*retransmits),
            _ => None,
        })
        .unwrap_or(u64::MAX);
    (data, c.received, retransmits, s.from_file)
}

#[test]
fn transfers_complete_under_5_and_20_percent_loss() {
    for (loss, seed) in [(5, 1), (20, 2), (20, 3)] {
        for (blksize, windowsize) in [(512, 1), (1468, 16), (512, 64)] {
            let (sent, got, retransmits, _) =
                lossy_transfer(200_000, (blksize, windowsize), loss, seed, None);
            assert!(
                got == sent,
                "loss {loss}% blksize {blksize} window {windowsize}: {} of {} bytes",
                got.len(),
                sent.len()
            );
            assert_ne!(retransmits, u64::MAX, "finished");
        }
    }
}

#[test]
fn negotiate_property_oack_is_subset_and_values_are_legal() {
    for blksize in [
        None,
        Some(0),
        Some(7),
        Some(8),
        Some(1468),
        Some(65464),
        Some(65465),
        Some(u64::MAX),
    ] {
        for windowsize in [None, Some(0), Some(1), Some(64), Some(65535), Some(1 << 40)] {
            for timeout in [None, Some(0), Some(1), Some(255), Some(256)] {
                for mode in [Mode::Octet, Mode::Netascii] {
                    let asked = TftpOptions {
                        blksize,
                        tsize: Some(0),
                        timeout,
                        windowsize,
                    };
                    let n = negotiate(&Request::new("f", mode, asked), 77, &Config::default());
                    assert!((8..=1468).contains(&n.blksize) || n.blksize == 512);
                    assert!((1..=64).contains(&n.windowsize));
                    if let Some(o) = n.oack {
                        assert!(o.blksize.is_none() || blksize.is_some());
                        assert!(o.windowsize.is_none() || windowsize.is_some());
                        assert!(o.timeout.is_none() || timeout.is_some());
                    }
                }
            }
        }
    }
}

fn upload_sim(files: &[(&str, Vec<u8>)], max_upload: u64) -> Sim<MemFiles> {
    let config = Config {
        allow_write: true,
        max_upload,
        ..Config::default()
    };
    Sim::new(config, 4, MemFiles::with(files))
}

fn data(block: u16, bytes: &[u8]) -> Vec<u8> {
    let mut d = vec![0, 3, (block >> 8) as u8, block as u8];
    d.extend_from_slice(bytes);
    d
}

fn acks(out: &[(Transmit<usize>, Vec<u8>)]) -> Vec<u16> {
    out.iter()
        .filter_map(|(_, d)| match parse(d) {
            Repr::Ack { block } => Some(block),
            _ => None,
        })
        .collect()
}

#[test]
fn write_requests_are_refused_by_default() {
    let mut s = sim(&[]);
    s.rrq(CLIENT, b"\0\x02up.bin\0octet\0");
    let out = s.drain();
    assert!(matches!(
        parse(&out[0].1),
        Repr::Error {
            code: ErrorCode::AccessViolation,
            ..
        }
    ));
    assert!(s.files.files.is_empty());
}

#[test]
fn upload_without_options_acks_each_block_and_keeps_the_file() {
    let body = file(1300);
    let mut s = upload_sim(&[], 1 << 20);
    s.rrq(CLIENT, b"\0\x02up.bin\0octet\0");
    let out = s.drain();
    assert_eq!(acks(&out), [0]);
    let local = local_of(&out);
    for (i, chunk) in body.chunks(512).enumerate() {
        s.send(local, CLIENT, &data(i as u16 + 1, chunk));
        assert_eq!(acks(&s.drain()), [i as u16 + 1]);
    }
    // The final ACK was lost: the client sends the last block again.
    s.send(local, CLIENT, &data(3, &body[1024..]));
    assert_eq!(
        acks(&s.drain()),
        [3],
        "dally: the final block is ACKed again"
    );
    assert_eq!(s.files.files["up.bin"], body);
    while s.advance_to_timeout() {}
    assert_eq!(s.server.active(), 0);
    assert_eq!(s.files.kept, ["up.bin"]);
    assert!(s
        .events()
        .iter()
        .any(|e| matches!(e, Event::Finished { bytes: 1300, .. })));
}

#[test]
fn windowed_upload_acks_windows_and_recovers_from_a_gap() {
    let body = file(8 * 10 + 3);
    let mut s = upload_sim(&[], 1 << 20);
    s.rrq(
        CLIENT,
        b"\0\x02up.bin\0octet\0blksize\08\0windowsize\04\0tsize\083\0",
    );
    let out = s.drain();
    assert_eq!(
        parse(&out[0].1),
        Repr::Oack {
            options: TftpOptions {
                blksize: Some(8),
                tsize: Some(83),
                windowsize: Some(4),
                timeout: None
            }
        }
    );
    let local = local_of(&out);
    let block = |n: u16| {
        data(
            n,
            &body[usize::from(n - 1) * 8..(usize::from(n) * 8).min(body.len())],
        )
    };
    for n in 1..=4 {
        s.send(local, CLIENT, &block(n));
    }
    assert_eq!(acks(&s.drain()), [4], "one ACK per window");
    // Block 5 lost: 6 and 7 arrive; one ACK 4 says where to resume.
    s.send(local, CLIENT, &block(6));
    s.send(local, CLIENT, &block(7));
    assert_eq!(acks(&s.drain()), [4]);
    for n in 5..=8 {
        s.send(local, CLIENT, &block(n));
    }
    assert_eq!(acks(&s.drain()), [8]);
    for n in 9..=11 {
        s.send(local, CLIENT, &block(n));
    }
    assert_eq!(acks(&s.drain()), [11]);
    assert_eq!(s.files.files["up.bin"], body);
}

#[test]
fn uploads_never_overwrite() {
    let mut s = upload_sim(&[("up.bin", file(10))], 1 << 20);
    s.rrq(CLIENT, b"\0\x02up.bin\0octet\0");
    let out = s.drain();
    assert_eq!(
        parse(&out[0].1),
        Repr::Error {
            code: ErrorCode::FileExists,
            message: b"file already exists"
        }
    );
    assert_eq!(s.files.files["up.bin"], file(10));
}

#[test]
fn upload_size_limit_by_tsize_and_by_data() {
    let mut s = upload_sim(&[], 1000);
    s.rrq(CLIENT, b"\0\x02big\0octet\0tsize\01001\0");
    let out = s.drain();
    assert!(matches!(
        parse(&out[0].1),
        Repr::Error {
            code: ErrorCode::DiskFull,
            ..
        }
    ));
    assert!(s.files.files.is_empty(), "nothing created");
    s.rrq(CLIENT, b"\0\x02big\0octet\0");
    let local = local_of(&s.drain());
    s.send(local, CLIENT, &data(1, &[1; 512]));
    s.drain();
    s.send(local, CLIENT, &data(2, &[2; 512]));
    let out = s.drain();
    assert!(matches!(
        parse(&out[0].1),
        Repr::Error {
            code: ErrorCode::DiskFull,
            ..
        }
    ));
    assert_eq!(s.server.active(), 0);
    assert_eq!(s.files.dropped, ["big"], "the partial upload is removed");
    assert!(!s.files.files.contains_key("big"));
}

#[test]
fn aborted_or_silent_uploads_are_removed() {
    let mut s = upload_sim(&[], 1 << 20);
    s.rrq(CLIENT, b"\0\x02a\0octet\0");
    let local = local_of(&s.drain());
    s.send(local, CLIENT, &data(1, &[1; 512]));
    s.drain();
    s.send(local, CLIENT, b"\0\x05\0\x00cancelled\0");
    assert_eq!(s.files.dropped, ["a"]);
    s.rrq(CLIENT + 1, b"\0\x02b\0octet\0");
    s.drain();
    let mut acks_sent = 0;
    while s.advance_to_timeout() {
        acks_sent += s.drain().len();
    }
    assert_eq!(acks_sent, usize::from(Config::default().max_retries));
    assert_eq!(s.files.dropped, ["a", "b"]);
    assert_eq!(s.files.open, 0);
}

#[test]
fn upload_block_larger_than_blksize_is_refused() {
    let mut s = upload_sim(&[], 1 << 20);
    s.rrq(CLIENT, b"\0\x02a\0octet\0");
    let local = local_of(&s.drain());
    s.send(local, CLIENT, &data(1, &[0; 600]));
    assert!(matches!(
        parse(&s.drain()[0].1),
        Repr::Error {
            code: ErrorCode::IllegalOperation,
            ..
        }
    ));
    assert_eq!(s.files.dropped, ["a"]);
}

#[test]
fn blocks_sent_from_the_file_arrive_as_if_copied() {
    // Sizes around the block size, with and without loss; full blocks go
    // from the file and the short last one is copied (from 512 bytes), or
    // every block goes from the file (from 1 byte).
    for size in [0, 1, 511, 512, 513, 4096, 70_001] {
        for (at, loss, seed) in [(512, 0, 1), (1, 0, 2), (512, 20, 3)] {
            let (sent, got, retransmits, from_file) =
                lossy_transfer(size, (512, 4), loss, seed, Some(at));
            assert!(got == sent, "size {size} from {at}: {} bytes", got.len());
            assert_ne!(retransmits, u64::MAX, "finished");
            let full = size / 512;
            if loss == 0 {
                let short = usize::from(at == 1 && size % 512 != 0);
                assert_eq!(from_file, full + short, "size {size} from {at}");
            }
        }
    }
}

#[test]
fn netascii_blocks_are_always_copied() {
    let mut s = sim(&[("f", b"a\nb\n".repeat(300))]);
    s.files.from_file_at = Some(1);
    s.rrq(CLIENT, b"\0\x01f\0netascii\0");
    let out = s.drain();
    assert_eq!(out.len(), 1);
    assert!(out[0].0.from_file.is_none());
    assert_eq!(out[0].1.len(), 4 + 512);
    assert_eq!(s.from_file, 0);
}

/// The lines drivers log, through the server: the file name comes from the
/// driver (here the test's own table of names, by handle).
#[test]
fn events_read_as_one_line_of_words() {
    let mut s = sim(&[("boot/ipxe.efi", file(3000)), ("notes.txt", file(10))]);
    s.now = Instant::from_millis(1000);
    s.rrq(
        CLIENT,
        b"\0\x01boot/ipxe.efi\0octet\0blksize\01468\0windowsize\016\0tsize\00\0",
    );
    let local = local_of(&s.drain());
    let Local::Transfer(id) = local else { panic!() };
    let name = s.files.names[s.server.file_handle(id).unwrap()].clone();
    s.send(local, CLIENT, &ack(0));
    s.drain();
    s.now = Instant::from_millis(1012);
    s.send(local, CLIENT, &ack(3));
    s.drain();
    let lines: Vec<String> = s
        .events()
        .iter()
        .map(|e| e.display_with(&name).to_string())
        .collect();
    assert_eq!(
        lines,
        [
            "192.0.2.7:3000 start \"boot/ipxe.efi\" (3000 bytes): blksize 1468, windowsize 16, tsize 3000",
            "192.0.2.7:3000 done \"boot/ipxe.efi\" 3000 bytes in 12 ms (250 kB/s), 0 blocks resent",
        ]
    );

    s.rrq(CLIENT + 1, b"\0\x01notes.txt\0netascii\0");
    let events = s.events();
    assert_eq!(
        events[0].display_with("notes.txt").to_string(),
        "192.0.2.7:3001 start \"notes.txt\" (10 bytes, netascii): blksize 512, windowsize 1 (no options)"
    );
    // Without the name (Display alone).
    assert_eq!(
        events[0].to_string(),
        "192.0.2.7:3001 start (10 bytes, netascii): blksize 512, windowsize 1 (no options)"
    );

    s.rrq(CLIENT + 2, b"\0\x01nope\0octet\0");
    assert_eq!(
        s.events()[0].to_string(),
        "192.0.2.7:3002 refused: ERROR file not found (1): file not found"
    );
}

#[test]
fn endings_name_the_error_code_and_the_time() {
    let id = TransferId {
        slot: 0,
        generation: 1,
    };
    let peer = addr(CLIENT);
    let line = |e: Event| e.display_with("a \"b\"\x1b.bin").to_string();
    assert_eq!(
        line(Event::Aborted {
            id,
            peer,
            code: ErrorCode::OptionRefused,
            bytes: 0,
            elapsed: Duration::from_micros(2_400),
        }),
        "192.0.2.7:3000 aborted \"a \\\"b\\\"\\x1b.bin\": client sent ERROR option refused (8) after 0 bytes in 2 ms"
    );
    assert_eq!(
        line(Event::TimedOut {
            id,
            peer,
            bytes: 1468,
            elapsed: Duration::from_millis(12_345),
        }),
        "192.0.2.7:3000 timed out on \"a \\\"b\\\"\\x1b.bin\" after 1468 bytes in 12.345 s"
    );
    assert_eq!(
        Event::TimedOut {
            id,
            peer,
            bytes: 0,
            elapsed: Duration::from_secs(6),
        }
        .to_string(),
        "192.0.2.7:3000 timed out after 0 bytes in 6.000 s"
    );
    assert_eq!(
        Event::Failed {
            id,
            peer,
            code: ErrorCode::DiskFull,
            reason: "upload exceeds the server's size limit",
        }
        .display_with("up/x.bin")
        .to_string(),
        "192.0.2.7:3000 failed \"up/x.bin\": sent ERROR disk full (3): upload exceeds the server's size limit"
    );
    assert_eq!(
        Event::Refused {
            peer,
            code: ErrorCode::Unknown(42),
            reason: "odd",
        }
        .to_string(),
        "192.0.2.7:3000 refused: ERROR code 42: odd"
    );
    assert_eq!(
        Event::Finished {
            id,
            peer,
            bytes: 33_554_433,
            retransmits: 3,
            elapsed: Duration::from_millis(250),
        }
        .display_with("big.bin")
        .to_string(),
        "192.0.2.7:3000 done \"big.bin\" 33554433 bytes in 250 ms (134.2 MB/s), 3 blocks resent"
    );
    let oack = TftpOptions {
        timeout: Some(3),
        tsize: Some(4000),
        ..TftpOptions::default()
    };
    assert_eq!(
        Event::Started {
            id,
            peer,
            size: 4000,
            negotiated: Negotiated {
                blksize: 512,
                windowsize: 1,
                timeout: Duration::from_secs(3),
                oack: Some(oack),
            },
            mode: Mode::Octet,
            upload: true,
        }
        .display_with("up/x.bin")
        .to_string(),
        "192.0.2.7:3000 upload \"up/x.bin\": blksize 512, windowsize 1, timeout 3 s, tsize 4000"
    );
}
