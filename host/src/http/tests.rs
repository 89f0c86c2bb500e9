//! The server end to end on loopback (short limits), and its pure parts.

use super::*;

#[test]
fn paths_are_decoded_and_checked() {
    assert_eq!(
        check_path("/boot/a.ipxe"),
        Ok(("/boot/a.ipxe".into(), None))
    );
    assert_eq!(
        check_path("/boot.ipxe?mac=52%3A54"),
        Ok(("/boot.ipxe".into(), Some("mac=52%3A54")))
    );
    assert_eq!(check_path("/a%20b"), Ok(("/a b".into(), None)));
    assert_eq!(check_path("http://10.0.0.1/x"), Ok(("/x".into(), None)));
    assert_eq!(check_path("HTTP://10.0.0.1"), Ok(("/".into(), None)));
    assert_eq!(check_path("/..a/b..").map(|p| p.0), Ok("/..a/b..".into()));
    for (target, status) in [
        ("/boot/../etc/passwd", 403),
        ("/..", 403),
        ("/boot/%2e%2e/%2e%2e/etc/passwd", 403),
        ("/boot/%2E%2E/x", 403),
        ("/boot/..%2fetc/passwd", 403),
        ("/boot/.%2e/x", 403),
        ("/boot/..\\etc", 400),
        ("/boot/%5c..%5cetc", 400),
        ("/boot/a%00", 400),
        ("/boot/a%0a", 400),
        ("/boot/a%2", 400),
        ("/boot/a%zz", 400),
        ("/boot/%ff", 400),
        ("boot/a", 400),
        ("*", 400),
        ("ftp://x/y", 400),
    ] {
        assert_eq!(check_path(target), Err(status), "{target}");
    }
}

#[test]
fn framing_fields() {
    let h = |pairs: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static [u8])> {
        pairs.iter().map(|(n, v)| (*n, v.as_bytes())).collect()
    };
    assert_eq!(body_length(&h(&[])), Ok(0));
    assert_eq!(body_length(&h(&[("Content-Length", "0")])), Ok(0));
    assert_eq!(body_length(&h(&[("content-length", " 5 ")])), Ok(5));
    assert_eq!(
        body_length(&h(&[("Transfer-Encoding", "chunked")])),
        Err(BodyLength::Unsized)
    );
    assert_eq!(
        body_length(&h(&[("Content-Length", "-1")])),
        Err(BodyLength::Bad)
    );
    assert_eq!(
        body_length(&h(&[("Content-Length", "1,1")])),
        Err(BodyLength::Bad)
    );
    let two = h(&[("Content-Length", "1"), ("Content-Length", "2")]);
    assert_eq!(body_length(&two), Err(BodyLength::Bad));
    assert!(wants_close(&h(&[("Connection", "keep-alive, Close")])));
    assert!(!wants_close(&h(&[("Connection", "keep-alive")])));
    assert_eq!(
        find_header(&h(&[("RANGE", " bytes=0-1 ")]), "range"),
        Some("bytes=0-1")
    );
}

#[test]
fn dynamic_replies_keep_their_framing_to_us() {
    let mut reply = Reply::new(200, "text/plain", "#!ipxe\n");
    reply.headers = vec![
        ("Content-Length".into(), "999".into()),
        ("Cache-Control".into(), "no-store".into()),
    ];
    let r = from_reply(reply);
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), Some(7));
    assert_eq!(
        r.headers,
        [
            ("Cache-Control".to_string(), "no-store".to_string()),
            ("Content-Type".to_string(), "text/plain".to_string())
        ]
    );
    assert_eq!(from_reply(Reply::new(304, "x", "body")).body.len(), None);
    assert_eq!(from_reply(Reply::new(101, "x", "")).status, 500);
}

#[test]
fn log_lines_are_bounded() {
    assert_eq!(shorten("abc"), "abc");
    assert_eq!(shorten(&"x".repeat(500)).chars().count(), 201);
}

// The server on loopback, driven by a plain blocking client.

use std::io::{Read, Write};
use std::net::TcpStream as Client;
use std::path::Path;

/// A folder under the temporary one, removed on drop.
pub(super) struct Tree(pub(super) PathBuf);

impl Tree {
    /// Creates it, empty, under a name no other caller gets.
    pub(super) fn new(name: &str) -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("awl-http-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Answers `/hello` itself.
struct Hello;

impl Dynamic for Hello {
    fn respond(&self, request: &Request<'_>) -> Option<Reply> {
        (request.path == "/hello").then(|| {
            let mut reply = Reply::new(
                200,
                "text/plain",
                format!("hello {}\n", request.query.unwrap_or("")),
            );
            reply
                .headers
                .push(("Cache-Control".into(), "no-store".into()));
            reply
        })
    }

    fn refuse_body(&self, request: &Request<'_>) -> Option<Reply> {
        (request.path == "/refuse").then(|| Reply::new(401, "text/plain", "no\n"))
    }
}

/// Serves `root` under `/boot/` with `limits`, on a thread of its own.
fn start(root: &Path, limits: Limits) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut settings = HttpSettings::new(
        addr,
        vec![Mount {
            prefix: "/boot/".into(),
            root: root.to_path_buf(),
        }],
    );
    settings.limits = limits;
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = TcpListener::from_std(listener).unwrap();
            serve(listener, Arc::new(settings), Some(Arc::new(Hello))).await
        })
    });
    addr
}

fn connect(addr: SocketAddr) -> Client {
    let c = Client::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c
}

/// One response: status, head, body (read to its Content-Length; none
/// for a HEAD or a 304).
fn response(c: &mut Client, head_only: bool) -> (u16, String, Vec<u8>) {
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(c.read(&mut byte).unwrap(), 1, "closed mid-head: {head:?}");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let status = head[9..12].parse().unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .map_or(0, |n| n.parse().unwrap());
    let mut body = vec![0u8; if head_only { 0 } else { len }];
    c.read_exact(&mut body).unwrap();
    (status, head, body)
}

/// Reads until the server closes; what came, and how long it took.
fn until_closed(c: &mut Client) -> (Vec<u8>, Duration) {
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    (rest, started.elapsed())
}

#[test]
fn keep_alive_pipelining_and_close() {
    let tree = Tree::new("keepalive");
    std::fs::write(tree.0.join("a.ipxe"), "#!ipxe\nboot\n").unwrap();
    let addr = start(&tree.0, Limits::default());
    let mut c = connect(addr);
    // Two requests in one write (and a stray blank line between them).
    c.write_all(b"GET /boot/a.ipxe HTTP/1.1\r\nHost: x\r\n\r\n\r\nHEAD /hello?x HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (status, head, body) = response(&mut c, false);
    assert_eq!((status, body.as_slice()), (200, &b"#!ipxe\nboot\n"[..]));
    assert!(head.contains("Content-Type: text/plain\r\n") && !head.contains("Connection"));
    let (status, head, _) = response(&mut c, true);
    assert_eq!(status, 200);
    assert!(head.contains("Content-Length: 8\r\n") && head.contains("Cache-Control: no-store"));
    c.write_all(b"GET /hello?y HTTP/1.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (status, head, body) = response(&mut c, false);
    assert_eq!((status, body.as_slice()), (200, &b"hello y\n"[..]));
    assert!(head.contains("Connection: close\r\n"));
    assert_eq!(until_closed(&mut c).0, b"");
    // HTTP/1.0 closes after one answer.
    let mut c = connect(addr);
    c.write_all(b"GET /boot/nope HTTP/1.0\r\n\r\n").unwrap();
    let (status, head, body) = response(&mut c, false);
    assert_eq!((status, body.as_slice()), (404, &b"404 Not Found\n"[..]));
    assert!(head.contains("Connection: close\r\n"));
    assert_eq!(until_closed(&mut c).0, b"");
}

#[test]
fn other_methods_and_bad_heads() {
    let tree = Tree::new("methods");
    let addr = start(&tree.0, Limits::default());
    let mut c = connect(addr);
    c.write_all(b"DELETE /boot/x HTTP/1.1\r\n\r\n").unwrap();
    let (status, head, _) = response(&mut c, false);
    assert_eq!(status, 405);
    assert!(head.contains("Allow: GET, HEAD\r\n"));
    // A body is read whole, so the connection goes on after it.
    c.write_all(
        b"POST /boot/x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /hello HTTP/1.1\r\n\r\n",
    )
    .unwrap();
    let (status, head, _) = response(&mut c, false);
    assert!(status == 405 && !head.contains("Connection: close"));
    assert_eq!(response(&mut c, false).0, 200);
    // A body awl does not take: without a length (chunked), or too large.
    for (post, status) in [
        (
            &b"POST /callback/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"[..],
            411,
        ),
        (
            b"POST /callback/x HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n",
            413,
        ),
        // Only the API takes more than 4 KiB.
        (
            b"POST /callback/x HTTP/1.1\r\nContent-Length: 4097\r\n\r\n",
            413,
        ),
        (
            b"PUT /api/v1/x HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n",
            413,
        ),
    ] {
        let mut c = connect(addr);
        c.write_all(post).unwrap();
        let (got, head, _) = response(&mut c, false);
        assert_eq!(got, status, "{post:?}");
        assert!(head.contains("Connection: close"));
    }
    // A body refused before it is read: the answer comes at once (a body
    // awaited would end in 408 after the head timeout), then the close.
    let mut c = connect(addr);
    c.write_all(b"POST /refuse HTTP/1.1\r\nContent-Length: 100\r\n\r\n")
        .unwrap();
    let (status, head, body) = response(&mut c, false);
    assert_eq!((status, body.as_slice()), (401, &b"no\n"[..]));
    assert!(head.contains("Connection: close"));
    for (bad, status) in [
        (&b"GET / HTTP/1.1\r\nNo colon\r\n\r\n"[..], 400),
        (b"GET /boot/a HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400),
        (b"GET /boot/%zz HTTP/1.1\r\n\r\n", 400),
        (b"GET /boot/..%2f..%2fetc/passwd HTTP/1.1\r\n\r\n", 403),
    ] {
        let mut c = connect(addr);
        c.write_all(bad).unwrap();
        assert_eq!(response(&mut c, false).0, status, "{bad:?}");
    }
    let many: String = (0..65).map(|i| format!("X-{i}: y\r\n")).collect();
    let mut c = connect(addr);
    c.write_all(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes())
        .unwrap();
    assert_eq!(response(&mut c, false).0, 431);
    assert_eq!(until_closed(&mut c).0, b"");
}

#[test]
fn a_head_too_large_or_too_slow_is_cut_off() {
    let tree = Tree::new("slow");
    let limits = Limits {
        max_head: 1024,
        head_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let addr = start(&tree.0, limits);
    let mut c = connect(addr);
    let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(2000));
    c.write_all(long.as_bytes()).unwrap();
    assert_eq!(response(&mut c, false).0, 431);
    // Half a head, then nothing: 408 and a close, in about the timeout.
    let mut c = connect(addr);
    c.write_all(b"GET /boot/x HTTP/1.1\r\nHost:").unwrap();
    let (rest, took) = until_closed(&mut c);
    assert!(rest.starts_with(b"HTTP/1.1 408 Request Timeout\r\n"));
    assert!(took < Duration::from_secs(3), "{took:?}");
    // Dripping does not extend the deadline.
    let mut c = connect(addr);
    let started = std::time::Instant::now();
    for b in b"GET /boot/x HTTP/1.1\r\n" {
        if c.write_all(&[*b]).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let (rest, _) = until_closed(&mut c);
    assert!(rest.starts_with(b"HTTP/1.1 408"));
    assert!(started.elapsed() < Duration::from_secs(3));
    // Connected, silent: closed without a word.
    let mut c = connect(addr);
    let (rest, took) = until_closed(&mut c);
    assert!(rest.is_empty() || rest.starts_with(b"HTTP/1.1 408"));
    assert!(took < Duration::from_secs(3), "{took:?}");
    // Idle after an answer: closed silently.
    let mut c = connect(addr);
    c.write_all(b"GET /hello HTTP/1.1\r\n\r\n").unwrap();
    assert_eq!(response(&mut c, false).0, 200);
    let (rest, took) = until_closed(&mut c);
    assert!(rest.is_empty() && took < Duration::from_secs(3), "{took:?}");
}

#[test]
fn ranges_on_the_wire() {
    let tree = Tree::new("ranges");
    let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(tree.0.join("big.img"), &data).unwrap();
    let addr = start(&tree.0, Limits::default());
    let mut c = connect(addr);
    c.write_all(b"GET /boot/big.img HTTP/1.1\r\nRange: bytes=10-19\r\n\r\n")
        .unwrap();
    let (status, head, body) = response(&mut c, false);
    assert_eq!((status, body.as_slice()), (206, &data[10..20]));
    assert!(head.contains("Content-Range: bytes 10-19/100000\r\n"));
    c.write_all(b"GET /boot/big.img HTTP/1.1\r\nRange: bytes=-5,0-1,99990-\r\n\r\n")
        .unwrap();
    let (status, head, body) = response(&mut c, false);
    assert_eq!(status, 206);
    let boundary = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Type: multipart/byteranges; boundary="))
        .unwrap();
    let expected = format!(
        "--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 0-1/100000\r\n\r\n"
    );
    assert!(body.starts_with(expected.as_bytes()));
    assert!(body.ends_with(format!("\r\n--{boundary}--\r\n").as_bytes()));
    let second = "Content-Range: bytes 99990-99999/100000\r\n\r\n";
    let at = body
        .windows(second.len())
        .position(|w| w == second.as_bytes())
        .unwrap()
        + second.len();
    assert_eq!(&body[at..at + 10], &data[99_990..]);
    // The last request on the connection still works: the lengths were right.
    c.write_all(b"GET /boot/big.img HTTP/1.1\r\nRange: bytes=100000-\r\n\r\n")
        .unwrap();
    let (status, head, _) = response(&mut c, false);
    assert_eq!(status, 416);
    assert!(head.contains("Content-Range: bytes */100000\r\n"));
}

#[test]
fn tokens_are_hidden_in_log_lines() {
    assert_eq!(
        redact("/answer/system/web1?token=0123abcd&x=1"),
        "/answer/system/web1?token=(hidden)&x=1"
    );
    assert_eq!(
        redact("/answer/system/u1/token/0123abcd/user-data"),
        "/answer/system/u1/token/(hidden)/user-data"
    );
    assert_eq!(
        redact("/callback/web1?token=ff"),
        "/callback/web1?token=(hidden)"
    );
    assert_eq!(redact("/boot/tokens.txt"), "/boot/tokens.txt");
}
