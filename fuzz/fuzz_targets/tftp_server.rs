//! The TFTP server under arbitrary sequences of datagrams (to the listener
//! and to live transfers, from known and unknown ports) and time steps.
//! Uploads are enabled, so both directions are driven.
//! Invariants: no panic; transfers <= capacity; one transfer per peer; every
//! datagram fits the buffer and the negotiated block size; DATA within a
//! transfer never skips ahead of the window.
#![no_main]

use std::collections::HashMap;
use std::net::SocketAddr;

use awl_core::tftp::{Config, FileError, FileSource, Local, TftpServer, Transfer, TransferId};
use awl_core::time::{Duration, Instant};
use awl_core::wire::tftp::Repr;
use libfuzzer_sys::fuzz_target;

struct Files;

const NAMES: [&str; 3] = ["a", "empty", "text"];

impl FileSource for Files {
    type Handle = usize;
    fn open(&mut self, path: &str) -> Result<(usize, u64), FileError> {
        let i = NAMES.iter().position(|n| *n == path).ok_or(FileError::NotFound)?;
        Ok((i, [3000, 0, 700][i]))
    }
    fn read_at(&mut self, h: usize, offset: u64, dst: &mut [u8]) -> Result<usize, FileError> {
        let size = [3000u64, 0, 700, 0][h];
        let n = size.saturating_sub(offset).min(dst.len() as u64) as usize;
        for (i, b) in dst[..n].iter_mut().enumerate() {
            *b = if h == 2 { b"ab\r\n"[(offset as usize + i) % 4] } else { (offset as usize + i) as u8 };
        }
        Ok(n)
    }
    // Full blocks of "a" go from the file, as the host's large blocks do.
    fn sends_from_file(&self, h: usize, len: usize) -> bool {
        h == 0 && len >= 512
    }
    fn create(&mut self, path: &str) -> Result<usize, FileError> {
        if NAMES.contains(&path) { Err(FileError::Exists) } else { Ok(3) }
    }
    fn write_at(&mut self, _: usize, _: u64, data: &[u8]) -> Result<(), FileError> {
        if data.first() == Some(&0xff) { Err(FileError::Full) } else { Ok(()) }
    }
}

fn peer(port: u8) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1 + (port & 1)], 1000 + u16::from(port)))
}

fuzz_target!(|data: &[u8]| {
    let mut config = Config::default();
    config.max_blksize = 600;
    config.max_per_ip = 3;
    config.allow_write = true;
    config.max_upload = 5000;
    let mut slots: Vec<Option<Transfer<usize>>> = (0..4).map(|_| None).collect();
    let mut server = TftpServer::new(config, &mut slots[..]);
    let mut files = Files;
    let mut now = Instant::ZERO;
    let mut ids: Vec<(TransferId, SocketAddr)> = Vec::new();
    let mut highest: HashMap<TransferId, u16> = HashMap::new();
    let mut buf = vec![0u8; 700];
    let mut rest = data;
    while let [op, a, b, tail @ ..] = rest {
        let len = usize::from(*b).min(tail.len());
        let (payload, after) = tail.split_at(len);
        rest = after;
        match op % 4 {
            0 => server.handle(now, Local::Listener, peer(*a), payload, &mut files),
            1 => {
                if let Some(&(id, p)) = ids.get(usize::from(*a) % ids.len().max(1)) {
                    let from = if op & 0x80 != 0 { peer(a.wrapping_add(7)) } else { p };
                    server.handle(now, Local::Transfer(id), from, payload, &mut files);
                }
            }
            2 => {
                now = now + Duration::from_millis(u64::from(*a) * 40);
                server.handle_timeout(now, &mut files);
            }
            _ => {
                // An ACK from the right peer for a block near the last sent.
                if let Some(&(id, p)) = ids.get(usize::from(*a) % ids.len().max(1)) {
                    let block = highest.get(&id).copied().unwrap_or(0).wrapping_sub(u16::from(*b % 4));
                    let ack = [0, 4, (block >> 8) as u8, block as u8];
                    server.handle(now, Local::Transfer(id), p, &ack, &mut files);
                }
            }
        }
        while let Some(t) = server.poll_transmit(now, &mut files, &mut buf) {
            assert!(t.len <= buf.len());
            if let Some(f) = t.from_file {
                assert_eq!((t.len, f.handle), (4, 0));
                assert!(f.len >= 512 && f.len <= 600 && f.offset + f.len as u64 <= 3000);
                assert!(matches!(Repr::parse(&buf[..4]), Ok(Repr::Data { .. })));
            }
            if let Local::Transfer(id) = t.local {
                if !ids.iter().any(|(i, _)| *i == id) {
                    ids.push((id, t.dst));
                }
                if let Ok(Repr::Data { block, data }) = Repr::parse(&buf[..t.len]) {
                    assert!(data.len() <= 600);
                    let prev = highest.entry(id).or_insert(0);
                    // Never more than a window (64) past the highest sent.
                    assert!(block.wrapping_sub(*prev) <= 64 || prev.wrapping_sub(block) <= 64 + 1);
                    if block.wrapping_sub(*prev) <= 64 {
                        *prev = block;
                    }
                }
            }
        }
        while server.poll_event().is_some() {}
        assert!(server.active() <= server.capacity());
        ids.retain(|(id, _)| server.is_active(*id));
        let mut peers: Vec<SocketAddr> = ids.iter().map(|(_, p)| *p).collect();
        peers.sort();
        peers.dedup();
        assert_eq!(peers.len(), ids.len(), "one transfer per peer");
    }
});
