//! Any bytes, split anywhere, into the HTTP responder, then the response
//! drained through send buffers of changing size: never a panic, the
//! response always starts with a status line, says `Connection: close`,
//! carries exactly its Content-Length, and every resource opened is closed.
#![no_main]

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use awl_core::http::{Connection, Resource, Site};
use libfuzzer_sys::fuzz_target;

struct FuzzSite {
    open: i32,
}

impl Site for FuzzSite {
    type Handle = u64;
    fn open(&mut self, path: &str, _peer: SocketAddr) -> Option<Resource<u64>> {
        assert!(!path.starts_with('/') && !path.split('/').any(|s| s == ".." || s.is_empty()));
        let len = match path {
            "a" => 0,
            "b" => 5000,
            _ => return None,
        };
        self.open += 1;
        Some(Resource { handle: len, len, content_type: "application/octet-stream" })
    }
    fn read_at(&mut self, len: u64, offset: u64, buf: &mut [u8]) -> usize {
        let n = (len.saturating_sub(offset) as usize).min(buf.len());
        buf[..n].fill(b'x');
        n
    }
    fn close(&mut self, _: u64) {
        self.open -= 1;
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else { return };
    let peer = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 9), 1234));
    let mut site = FuzzSite { open: 0 };
    let mut c: Connection<u64> = Connection::new();
    for piece in rest.chunks(usize::from(split).max(1)) {
        c.receive(&mut site, peer, piece);
    }
    let mut out = Vec::new();
    let mut buf = [0u8; 1500];
    let mut size = usize::from(split) % 97 + 1;
    for _ in 0..100_000 {
        if c.is_done() {
            break;
        }
        let n = c.poll_send(&mut site, &mut buf[..size]);
        out.extend_from_slice(&buf[..n]);
        size = size * 7 % 1500 + 1;
    }
    if let Some(answered) = c.answered() {
        assert!(c.is_done());
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("HTTP/1.1 "));
        assert!(text.contains("\r\nConnection: close\r\n"));
        let at = out.windows(4).position(|w| w == b"\r\n\r\n").expect("a head") + 4;
        let body = (out.len() - at) as u64;
        let head = std::str::from_utf8(&out[..at]).expect("ASCII head");
        let announced: u64 = head
            .split("\r\n")
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .and_then(|v| v.parse().ok())
            .expect("Content-Length");
        assert_eq!(announced, answered.len);
        // Empty lines before the request line are skipped (RFC 9112 2.2).
        let start = rest.iter().position(|b| !matches!(b, b'\r' | b'\n')).unwrap_or(rest.len());
        let is_head = rest[start..].starts_with(b"HEAD ");
        assert!(body == announced || (is_head && body == 0));
    }
    c.reset(&mut site);
    assert_eq!(site.open, 0);
});
