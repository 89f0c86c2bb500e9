//! HTTP on a running `awl serve` (the TFTP root under `/boot/`), with curl
//! and plain TCP on loopback: a 64 MiB file whole, by HEAD, by single,
//! suffix and multiple ranges; conditional requests; the CVE-2011-3192
//! range shapes answered within a bound; no escape from the tree; a
//! stalled head cut off; keep-alive.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use awl_tests::{pattern, require_tool, wait_until, AwlServer, TempDir};

const BIG: usize = 64 << 20;

/// `awl serve` with `root` over TFTP and HTTP on `ip` (ports 6969, 8080).
fn start(root: &Path, ip: &str) -> AwlServer {
    let server = AwlServer::start(
        None,
        &[
            "--tftp-root",
            root.to_str().unwrap(),
            "--tftp-listen",
            &format!("{ip}:6969"),
            "--http-listen",
            &format!("{ip}:8080"),
        ],
    );
    wait_until(Duration::from_secs(10), "awl logs http: serving", || {
        server.log().contains("http: serving")
    });
    server
}

/// What curl got.
struct Got {
    status: u16,
    head: String,
    body: Vec<u8>,
    took: Duration,
}

impl Got {
    /// A field of the response head (any case), trimmed.
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

/// Runs curl on `url` with `args` (at most 60 s).
fn curl(args: &[&str], url: &str) -> Got {
    let dir = TempDir::new("http-curl");
    let (head, body) = (dir.0.join("head"), dir.0.join("body"));
    let started = Instant::now();
    let out = Command::new("timeout")
        .args(["60", "curl", "-sS", "-D"])
        .arg(&head)
        .arg("-o")
        .arg(&body)
        .args(args)
        .arg(url)
        .output()
        .expect("run curl");
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "curl {args:?} {url}: {stderr}");
    let head = std::fs::read_to_string(&head).unwrap();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    Got {
        status,
        head,
        body: std::fs::read(&body).unwrap_or_default(),
        took,
    }
}

/// Sends `request` as is on a new connection and reads until the server
/// closes (at most 30 s); the bytes and how long it took.
fn raw(addr: &str, request: &[u8]) -> (Vec<u8>, Duration) {
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    c.write_all(request).unwrap();
    let started = Instant::now();
    let mut got = Vec::new();
    c.read_to_end(&mut got)
        .expect("the server closes within 30 s");
    (got, started.elapsed())
}

/// The parts of a `multipart/byteranges` body: (first, last, total) from
/// each part's `Content-Range`, and its bytes.
fn parts(body: &[u8], boundary: &str) -> Vec<((u64, u64, u64), Vec<u8>)> {
    let delimiter = format!("--{boundary}");
    let find = |from: usize, what: &[u8]| {
        body[from..]
            .windows(what.len())
            .position(|w| w == what)
            .map(|i| from + i)
    };
    let mut out = Vec::new();
    let mut at = find(0, delimiter.as_bytes()).expect("a first delimiter");
    loop {
        at += delimiter.len();
        if body[at..].starts_with(b"--") {
            assert_eq!(&body[at..], b"--\r\n", "what follows the closing delimiter");
            return out;
        }
        let fields_end = find(at, b"\r\n\r\n").expect("a part head") + 4;
        let fields = std::str::from_utf8(&body[at..fields_end]).unwrap();
        let range = fields
            .lines()
            .find_map(|l| l.strip_prefix("Content-Range: bytes "))
            .expect("a Content-Range in each part");
        let (span, total) = range.split_once('/').unwrap();
        let (first, last) = span.split_once('-').unwrap();
        let (first, last, total): (u64, u64, u64) = (
            first.parse().unwrap(),
            last.parse().unwrap(),
            total.parse().unwrap(),
        );
        let end = fields_end + (last - first + 1) as usize;
        out.push(((first, last, total), body[fields_end..end].to_vec()));
        assert!(
            body[end..].starts_with(format!("\r\n{delimiter}").as_bytes()),
            "a part ends at its length"
        );
        at = end + 2;
    }
}

#[test]
fn a_large_file_whole_by_ranges_and_conditionally() {
    require_tool("curl");
    let root = TempDir::new("http-big");
    let data = pattern(BIG, 41);
    std::fs::write(root.0.join("big.img"), &data).unwrap();
    let server = start(&root.0, "127.0.0.81");
    let url = "http://127.0.0.81:8080/boot/big.img";

    // Whole, byte for byte, with the length announced.
    let whole = curl(&[], url);
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("content-length"), Some(BIG.to_string()));
    assert_eq!(whole.header("accept-ranges").as_deref(), Some("bytes"));
    assert!(whole.body == data, "the body differs from the file");
    let etag = whole.header("etag").expect("an ETag");
    let last_modified = whole.header("last-modified").expect("a Last-Modified");

    // HEAD: the same length, no body (read to the server's close).
    let head = curl(&["-I"], url);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some(BIG.to_string()));
    assert_eq!(head.header("etag"), Some(etag.clone()));
    let (got, _) = raw(
        "127.0.0.81:8080",
        b"HEAD /boot/big.img HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let text = String::from_utf8(got).expect("a HEAD answer is only a head");
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(
        text.contains(&format!("Content-Length: {BIG}\r\n")),
        "{text}"
    );
    assert!(text.ends_with("\r\n\r\n"), "bytes after the head: {text:?}");

    // A single range, and a suffix range.
    let one = curl(&["-r", "1000000-1999999"], url);
    assert_eq!(one.status, 206);
    assert_eq!(
        one.header("content-range").as_deref(),
        Some(format!("bytes 1000000-1999999/{BIG}").as_str())
    );
    assert!(one.body == data[1_000_000..2_000_000]);
    let suffix = curl(&["-r", "-4096"], url);
    assert_eq!(suffix.status, 206);
    assert!(suffix.body == data[BIG - 4096..]);

    // Several ranges: multipart/byteranges, each part its bytes.
    let multi = curl(&["-r", "0-99,5000000-5000999,67108000-"], url);
    assert_eq!(multi.status, 206);
    let content_type = multi.header("content-type").unwrap();
    let boundary = content_type
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap_or_else(|| panic!("{content_type}"));
    assert_eq!(
        multi.header("content-length"),
        Some(multi.body.len().to_string())
    );
    let got = parts(&multi.body, boundary);
    let want = [
        (0, 99),
        (5_000_000, 5_000_999),
        (67_108_000, BIG as u64 - 1),
    ];
    assert_eq!(got.len(), want.len());
    for (((first, last, total), bytes), (w_first, w_last)) in got.iter().zip(want) {
        assert_eq!((*first, *last, *total), (w_first, w_last, BIG as u64));
        assert!(bytes[..] == data[w_first as usize..=w_last as usize]);
    }

    // Conditional requests.
    let inm = curl(&["-H", &format!("If-None-Match: {etag}")], url);
    assert_eq!((inm.status, inm.body.len()), (304, 0));
    assert_eq!(inm.header("etag"), Some(etag.clone()));
    let ims = curl(&["-H", &format!("If-Modified-Since: {last_modified}")], url);
    assert_eq!((ims.status, ims.body.len()), (304, 0));
    let old = curl(
        &[
            "-H",
            "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT",
            "-I",
        ],
        url,
    );
    assert_eq!(old.status, 200);
    let stale = curl(&["-r", "0-99", "-H", "If-Range: \"stale\""], url);
    assert_eq!(stale.status, 200);
    assert!(stale.body == data, "a stale If-Range gets the whole file");
    let fresh = curl(&["-r", "0-99", "-H", &format!("If-Range: {etag}")], url);
    assert_eq!((fresh.status, fresh.body.len()), (206, 100));

    // Past the end.
    let past = curl(&["-r", "70000000-"], url);
    assert_eq!(past.status, 416);
    assert_eq!(past.header("content-range"), Some(format!("bytes */{BIG}")));

    // CVE-2011-3192's shape: 2000 overlapping ranges are one part.
    let overlapping: Vec<String> = (0..2000).map(|i| format!("0-{i}")).collect();
    let overlapping = format!("Range: bytes={}", overlapping.join(","));
    assert!(overlapping.len() > 8192, "a header past 8 KiB");
    let cve = curl(&["-H", &overlapping], url);
    assert_eq!(cve.status, 206);
    assert_eq!(
        cve.header("content-range").as_deref(),
        Some(format!("bytes 0-1999/{BIG}").as_str())
    );
    assert!(cve.body == data[..2000]);
    assert!(cve.took < Duration::from_secs(10), "{:?}", cve.took);
    // 1200 disjoint ones: the whole file once, not 1200 parts.
    let disjoint: Vec<String> = (0..1200).map(|i| format!("{}-{}", i * 2, i * 2)).collect();
    let disjoint = format!("Range: bytes={}", disjoint.join(","));
    let cve = curl(&["-H", &disjoint], url);
    assert_eq!(cve.status, 200);
    assert!(cve.body.len() <= BIG, "{} bytes", cve.body.len());
    assert!(cve.took < Duration::from_secs(10), "{:?}", cve.took);
    // The same bytes asked for twice: more than the file, so the file.
    let twice = curl(&["-r", "0-,0-"], url);
    assert_eq!((twice.status, twice.body.len()), (200, BIG));
    // A head past the 16 KiB bound: 431, at once.
    let huge: Vec<String> = (0..4000).map(|i| format!("0-{i}")).collect();
    let huge = format!("Range: bytes={}", huge.join(","));
    let too_big = curl(&["-H", &huge], url);
    assert_eq!(too_big.status, 431);
    assert!(too_big.took < Duration::from_secs(5), "{:?}", too_big.took);

    // Every answer logged in plain words.
    let log = server.log();
    assert!(
        log.contains(&format!("GET /boot/big.img 200, {BIG} bytes")),
        "{log}"
    );
    assert!(log.contains("GET /boot/big.img 304, 0 bytes"), "{log}");
    assert!(log.contains("HEAD /boot/big.img 200, 0 bytes"), "{log}");
}

#[test]
fn paths_never_leave_the_tree() {
    require_tool("curl");
    let dir = TempDir::new("http-escape");
    let root = dir.0.join("root");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("ok.txt"), "inside\n").unwrap();
    std::fs::create_dir(root.join("sub")).unwrap();
    let secret = "SECRET-BESIDE-THE-ROOT";
    std::fs::write(dir.0.join("secret.txt"), secret).unwrap();
    std::os::unix::fs::symlink("/etc", root.join("etc-link")).unwrap();
    std::os::unix::fs::symlink(dir.0.join("secret.txt"), root.join("out")).unwrap();
    let _server = start(&root, "127.0.0.82");
    let base = "http://127.0.0.82:8080";
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let first_line = passwd.lines().next().unwrap();

    assert_eq!(curl(&[], &format!("{base}/boot/ok.txt")).body, b"inside\n");
    let never = |got: &Got, what: &str| {
        assert!((400..500).contains(&got.status), "{what}: {}", got.status);
        let body = String::from_utf8_lossy(&got.body);
        assert!(
            !body.contains(first_line) && !body.contains(secret),
            "{what} leaked: {body}"
        );
    };
    for (path, status) in [
        ("/boot/../etc/passwd", 403),
        ("/boot/../../../../etc/passwd", 403),
        ("/boot/%2e%2e/%2e%2e/%2e%2e/etc/passwd", 403),
        ("/boot/%2E%2E/secret.txt", 403),
        ("/boot/..%2f..%2f..%2fetc%2fpasswd", 403),
        ("/boot/.%2e/secret.txt", 403),
        ("/boot/..%5c..%5cetc%5cpasswd", 400),
        ("/boot/ok.txt%00.ipxe", 400),
        ("/boot/%zz", 400),
        ("/boot/etc-link/passwd", 403),
        ("/boot/out", 403),
        ("/boot/sub", 404),
        ("/boot/sub/", 404),
        ("/boot/", 404),
        ("/ok.txt", 404),
        ("/etc/passwd", 404),
    ] {
        let got = curl(&["--path-as-is"], &format!("{base}{path}"));
        never(&got, path);
        assert_eq!(got.status, status, "{path}");
    }
    // A raw backslash (curl would not send it as is).
    let (got, _) = raw(
        "127.0.0.82:8080",
        b"GET /boot/..\\..\\etc\\passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 400 "), "{text}");
    assert!(!text.contains(first_line));
}

#[test]
fn a_stalled_head_is_cut_off_and_connections_are_kept_alive() {
    require_tool("curl");
    let root = TempDir::new("http-conn");
    let data = pattern(3 << 20, 43);
    std::fs::write(root.0.join("initrd.gz"), &data).unwrap();
    let server = start(&root.0, "127.0.0.83");
    let url = "http://127.0.0.83:8080/boot/initrd.gz";

    // Two URLs, one connection.
    let dir = TempDir::new("http-conn-out");
    let (a, b) = (dir.0.join("a"), dir.0.join("b"));
    let out = Command::new("timeout")
        .args(["60", "curl", "-sS", "-v", url, "-o"])
        .arg(&a)
        .arg(url)
        .arg("-o")
        .arg(&b)
        .output()
        .unwrap();
    let trace = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{trace}");
    assert!(trace.contains("Re-using existing connection"), "{trace}");
    assert!(std::fs::read(&a).unwrap() == data && std::fs::read(&b).unwrap() == data);
    // The server saw both on one connection: one client address twice.
    wait_until(Duration::from_secs(5), "awl logs both answers", || {
        server.log().matches("GET /boot/initrd.gz 200").count() >= 2
    });
    let log = server.log();
    let peers: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("GET /boot/initrd.gz 200"))
        .filter_map(|l| l.split("http: ").nth(1)?.split(' ').next())
        .collect();
    assert_eq!(peers.len(), 2, "{log}");
    assert_eq!(peers[0], peers[1], "two connections: {log}");
    // `Connection: close` is honoured.
    let close = curl(&["-H", "Connection: close", "-r", "0-9"], url);
    assert_eq!(close.header("connection").as_deref(), Some("close"));

    // Half a head, then nothing: the server answers 408 and closes at its
    // head timeout (10 s), not at the client's 30 s.
    let (got, took) = raw(
        "127.0.0.83:8080",
        b"GET /boot/initrd.gz HTTP/1.1\r\nHost: 127.0.0.83\r\nUser-Agent: sl",
    );
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{text}"
    );
    assert!(
        took >= Duration::from_secs(5) && took < Duration::from_secs(20),
        "closed after {took:?}"
    );
}

#[test]
fn an_http_port_in_use_stops_awl() {
    let root = TempDir::new("http-busy");
    let taken = std::net::TcpListener::bind("127.0.0.84:8080").unwrap();
    let out = Command::new("timeout")
        .arg("20")
        .arg(awl_tests::awl_binary())
        .args(["serve", "--tftp-root"])
        .arg(&root.0)
        .args([
            "--tftp-listen",
            "127.0.0.84:6969",
            "--http-listen",
            "127.0.0.84:8080",
        ])
        .output()
        .unwrap();
    drop(taken);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("http: cannot listen on 127.0.0.84:8080"),
        "{stderr}"
    );
}
