use std::string::String;
use std::vec;
use std::vec::Vec;

use proptest::prelude::*;

use super::*;
use crate::script::{render, ClientVars};
use core::net::{Ipv4Addr, SocketAddrV4};

const SCRIPT: &str = "#!ipxe\necho hello {{ip}} from {{server}}\n";

/// Two files and a script rendered per client; counts opens and closes.
#[derive(Default)]
struct TestSite {
    open: i32,
    short: bool,
}

impl Site for TestSite {
    type Handle = (u8, Ipv4Addr);
    fn open(&mut self, path: &str, peer: SocketAddr) -> Option<Resource<Self::Handle>> {
        let SocketAddr::V4(peer) = peer else {
            return None;
        };
        let (id, len) = match path {
            "empty" => (0, 0),
            "big.bin" => (1, 100_000),
            "boot.ipxe" => (2, render(SCRIPT, &vars(*peer.ip()), 0, &mut []).1),
            _ => return None,
        };
        self.open += 1;
        Some(Resource {
            handle: (id, *peer.ip()),
            len: if self.short { len + 10 } else { len },
            content_type: "application/octet-stream",
        })
    }
    fn read_at(&mut self, (id, ip): Self::Handle, offset: u64, buf: &mut [u8]) -> usize {
        match id {
            1 => {
                let n = (100_000 - offset.min(100_000)) as usize;
                let n = n.min(buf.len());
                for (i, b) in buf[..n].iter_mut().enumerate() {
                    *b = ((offset as usize + i) % 251) as u8;
                }
                n
            }
            2 => render(SCRIPT, &vars(ip), offset, buf).0,
            _ => 0,
        }
    }
    fn close(&mut self, _: Self::Handle) {
        self.open -= 1;
    }
}

fn vars(ip: Ipv4Addr) -> ClientVars<'static> {
    ClientVars {
        server: Ipv4Addr::new(10, 0, 0, 1),
        mirror: "",
        mac: None,
        ip,
        hostname: "",
    }
}

fn peer() -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 100), 40000))
}

/// Sends `request` in pieces of `chunk` bytes, then drains the response
/// with a send buffer of `out` bytes.
fn exchange(site: &mut TestSite, request: &[u8], chunk: usize, out: usize) -> Vec<u8> {
    let mut c: Connection<(u8, Ipv4Addr)> = Connection::new();
    for piece in request.chunks(chunk.max(1)) {
        c.receive(site, peer(), piece);
    }
    let mut response = Vec::new();
    let mut buf = vec![0u8; out];
    for _ in 0..1_000_000 {
        let n = c.poll_send(site, &mut buf);
        response.extend_from_slice(&buf[..n]);
        if c.is_done() {
            return response;
        }
        assert!(n > 0, "a connection with a response never stalls");
    }
    panic!("response never ended");
}

fn split(response: &[u8]) -> (String, Vec<u8>) {
    let at = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    (
        String::from_utf8(response[..at].to_vec()).unwrap(),
        response[at..].to_vec(),
    )
}

#[test]
fn serves_a_rendered_script_to_ipxe() {
    let mut site = TestSite::default();
    let req = b"GET /boot.ipxe HTTP/1.1\r\nConnection: keep-alive\r\nUser-Agent: iPXE/1.21.1\r\nHost: 10.0.0.1\r\n\r\n";
    let (head, body) = split(&exchange(&mut site, req, 7, 16));
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("Connection: close\r\n"));
    assert_eq!(body, b"#!ipxe\necho hello 10.0.0.100 from 10.0.0.1\n");
    assert!(head.contains(&format!("Content-Length: {}\r\n", body.len())));
    assert_eq!(site.open, 0, "the resource is closed");
}

#[test]
fn large_bodies_stream_in_any_buffer_size() {
    let mut site = TestSite::default();
    for out in [1, 100, 1460, 65536] {
        let (head, body) = split(&exchange(
            &mut site,
            b"GET /big.bin HTTP/1.0\r\n\r\n",
            1024,
            out,
        ));
        assert!(head.contains("Content-Length: 100000\r\n"));
        assert_eq!(body.len(), 100_000);
        assert!(body.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8));
    }
    assert_eq!(site.open, 0);
}

#[test]
fn head_gets_the_length_and_no_body() {
    let mut site = TestSite::default();
    let (head, body) = split(&exchange(
        &mut site,
        b"HEAD /big.bin HTTP/1.1\r\n\r\n",
        100,
        100,
    ));
    assert!(head.contains("Content-Length: 100000\r\n"), "{head}");
    assert!(body.is_empty());
    assert_eq!(site.open, 0);
    // Empty lines before the request line are skipped (RFC 9112 2.2): still
    // a HEAD, still no body (the fuzz harness once thought otherwise).
    let (head, body) = split(&exchange(
        &mut site,
        b"\r\n\nHEAD /big.bin HTTP/1.0\n\r\n",
        1,
        100,
    ));
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(body.is_empty());
}

fn status_of(request: &[u8]) -> (String, String) {
    let mut site = TestSite::default();
    let (head, body) = split(&exchange(&mut site, request, 1024, 64));
    assert_eq!(site.open, 0);
    (
        head.lines().next().unwrap().into(),
        String::from_utf8(body).unwrap(),
    )
}

#[test]
fn refusals_say_why() {
    let cases: [(&[u8], &str); 9] = [
        (b"GET /nope HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found"),
        (b"GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found"),
        (
            b"GET /../etc/passwd HTTP/1.1\r\n\r\n",
            "HTTP/1.1 403 Forbidden",
        ),
        (
            b"GET /%2e%2e/etc/passwd HTTP/1.1\r\n\r\n",
            "HTTP/1.1 403 Forbidden",
        ),
        (
            b"POST /boot.ipxe HTTP/1.1\r\n\r\n",
            "HTTP/1.1 405 Method Not Allowed",
        ),
        (b"GET /a%00b HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request"),
        (
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
            "HTTP/1.1 400 Bad Request",
        ),
        (
            b"GET /boot.ipxe HTTP/2.0\r\n\r\n",
            "HTTP/1.1 400 Bad Request",
        ),
        (b"GET /\xff HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request"),
    ];
    for (req, want) in cases {
        let (line, body) = status_of(req);
        assert_eq!(line, want, "{}", String::from_utf8_lossy(req));
        assert_eq!(body, format!("{}\n", &want[9..]));
    }
}

#[test]
fn a_full_server_answers_503_without_reading_the_request() {
    let mut buf = [0u8; ERROR_RESPONSE_MAX];
    let n = emit_error(&mut buf, Status::Unavailable);
    let text = std::str::from_utf8(&buf[..n]).unwrap();
    assert_eq!(
        text,
        "HTTP/1.1 503 Service Unavailable\r\nServer: awl\r\nContent-Length: 24\r\n\
         Content-Type: text/plain\r\nRetry-After: 1\r\nConnection: close\r\n\r\n\
         503 Service Unavailable\n"
    );
    // Every status fits; a buffer too short gets nothing rather than half.
    for status in [
        Status::NotFound,
        Status::MethodNotAllowed,
        Status::HeadersTooLarge,
    ] {
        assert!(emit_error(&mut buf, status) > 0);
    }
    assert_eq!(emit_error(&mut buf[..n - 1], Status::Unavailable), 0);
    assert_eq!(emit_error(&mut [], Status::Unavailable), 0);
}

#[test]
fn oversized_heads_are_refused() {
    let mut long_uri = b"GET /".to_vec();
    long_uri.extend(std::iter::repeat_n(b'a', 2000));
    assert_eq!(status_of(&long_uri).0, "HTTP/1.1 414 URI Too Long");
    let mut many = b"GET /boot.ipxe HTTP/1.1\r\n".to_vec();
    for i in 0..200 {
        many.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
    }
    assert_eq!(
        status_of(&many).0,
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    let mut headers = b"GET /boot.ipxe HTTP/1.1\r\n".to_vec();
    for i in 0..40 {
        headers.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
    }
    headers.extend_from_slice(b"\r\n");
    assert_eq!(
        status_of(&headers).0,
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
}

#[test]
fn a_resource_shorter_than_announced_ends_the_response() {
    let mut site = TestSite {
        short: true,
        ..TestSite::default()
    };
    let (head, body) = split(&exchange(
        &mut site,
        b"GET /big.bin HTTP/1.1\r\n\r\n",
        100,
        4096,
    ));
    assert!(head.contains("Content-Length: 100010\r\n"));
    assert_eq!(body.len(), 100_000);
    assert_eq!(site.open, 0);
}

#[test]
fn reset_mid_response_closes_the_resource() {
    let mut site = TestSite::default();
    let mut c: Connection<(u8, Ipv4Addr)> = Connection::new();
    c.receive(&mut site, peer(), b"GET /big.bin HTTP/1.1\r\n\r\n");
    let mut buf = [0u8; 512];
    assert!(c.poll_send(&mut site, &mut buf) > 0);
    assert_eq!(site.open, 1);
    c.reset(&mut site);
    assert_eq!(site.open, 0);
    assert!(!c.is_done());
    assert_eq!(c.poll_send(&mut site, &mut buf), 0);
}

#[test]
fn bytes_after_the_head_are_not_taken() {
    let mut site = TestSite::default();
    let mut c: Connection<(u8, Ipv4Addr)> = Connection::new();
    let req = b"GET /empty HTTP/1.1\r\n\r\nGET /big.bin HTTP/1.1\r\n\r\n";
    assert_eq!(c.receive(&mut site, peer(), req), 23);
    assert_eq!(c.target(), "/empty");
    assert_eq!(c.receive(&mut site, peer(), b"more"), 0);
    assert_eq!(
        c.answered().map(|a| (a.status, a.len)),
        Some((Status::Ok, 0))
    );
}

proptest! {
    /// Any bytes, in any pieces: never a panic, never a leaked resource,
    /// and a response always ends.
    #[test]
    fn any_input_ends_cleanly(data in proptest::collection::vec(any::<u8>(), 0..1500), chunk in 1usize..64) {
        let mut site = TestSite::default();
        let mut c: Connection<(u8, Ipv4Addr)> = Connection::new();
        for piece in data.chunks(chunk) {
            c.receive(&mut site, peer(), piece);
        }
        let mut buf = [0u8; 700];
        for _ in 0..1000 {
            if c.is_done() { break; }
            c.poll_send(&mut site, &mut buf);
        }
        prop_assert!(c.is_done() || c.answered().is_none());
        c.reset(&mut site);
        prop_assert_eq!(site.open, 0);
    }
}
