//! Hostile and odd input against a running `awl serve`, while a real client
//! (curl) downloads beside it: every bad datagram gets the right ERROR (or
//! is dropped), and the good download still completes byte for byte.
//! Also replays OVMF's own TFTP datagrams from our capture (its tsize probe,
//! ERROR 8, then the real read from a new port).

use std::net::UdpSocket;
use std::process::Command;
use std::time::Duration;

use awl_core::wire::tftp::{ErrorCode, Repr, TftpOptions};
use awl_tests::{captured_datagrams, pattern, require_tool, AwlServer, TempDir};

fn socket() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s
}

fn reply(s: &UdpSocket) -> (Vec<u8>, std::net::SocketAddr) {
    let mut buf = [0u8; 65_536];
    let (n, from) = s.recv_from(&mut buf).expect("a reply within 3 s");
    (buf[..n].to_vec(), from)
}

fn error_code(datagram: &[u8]) -> ErrorCode {
    match Repr::parse(datagram).unwrap() {
        Repr::Error { code, .. } => code,
        other => panic!("expected an ERROR, got {other:?}"),
    }
}

#[test]
fn bad_input_gets_clear_errors_and_good_clients_carry_on() {
    require_tool("curl");
    let root = TempDir::new("bad-root");
    let big = pattern(8 << 20, 7);
    std::fs::write(root.0.join("big.bin"), &big).unwrap();
    std::fs::write(root.0.join("small.bin"), pattern(3000, 8)).unwrap();
    // A symlink inside the root that leads out of it.
    std::os::unix::fs::symlink("/etc", root.0.join("etc-link")).unwrap();
    std::fs::create_dir(root.0.join("dir")).unwrap();
    let server = AwlServer::start(
        None,
        &[
            "--tftp-root",
            root.0.to_str().unwrap(),
            "--tftp-listen",
            "127.0.0.21:6969",
        ],
    );
    let out = TempDir::new("bad-out");

    // A good download runs the whole time.
    let good = std::thread::spawn({
        let path = out.0.join("big.bin");
        move || {
            Command::new("timeout")
                .args([
                    "60",
                    "curl",
                    "-sS",
                    "--tftp-blksize",
                    "512",
                    "tftp://127.0.0.21:6969/big.bin",
                    "-o",
                ])
                .arg(&path)
                .status()
                .unwrap();
            std::fs::read(&path).unwrap_or_default()
        }
    });

    let s = socket();
    let listener = "127.0.0.21:6969";
    let cases: &[(&[u8], ErrorCode)] = &[
        (b"\0\x01../etc/passwd\0octet\0", ErrorCode::AccessViolation),
        (
            b"\0\x01a/../../etc/passwd\0octet\0",
            ErrorCode::AccessViolation,
        ),
        (
            b"\0\x01..\\..\\etc\\passwd\0octet\0",
            ErrorCode::AccessViolation,
        ),
        (
            b"\0\x01etc-link/passwd\0octet\0",
            ErrorCode::AccessViolation,
        ),
        (b"\0\x01dir\0octet\0", ErrorCode::AccessViolation),
        (b"\0\x01/etc/passwd\0octet\0", ErrorCode::FileNotFound),
        (b"\0\x01%2e%2e/etc/passwd\0octet\0", ErrorCode::FileNotFound),
        (b"\0\x01missing\0octet\0", ErrorCode::FileNotFound),
        (b"\0\x01small.bin", ErrorCode::IllegalOperation),
        (b"\0\x01small.bin\0octet", ErrorCode::IllegalOperation),
        (
            b"\0\x01small.bin\0octet\0blksize\0",
            ErrorCode::OptionRefused,
        ),
        (b"\0\x01\0octet\0", ErrorCode::IllegalOperation),
        (b"\0\x01a\x1b[31m\0octet\0", ErrorCode::IllegalOperation),
        (b"\0\x01small.bin\0mail\0", ErrorCode::IllegalOperation),
        (b"\0\x02upload.bin\0octet\0", ErrorCode::AccessViolation),
        (b"\0\x09", ErrorCode::IllegalOperation),
    ];
    for (datagram, code) in cases {
        s.send_to(datagram, listener).unwrap();
        let (r, from) = reply(&s);
        assert_eq!(
            error_code(&r),
            *code,
            "{:?}",
            String::from_utf8_lossy(datagram)
        );
        assert!(r.len() <= 512 && r.ends_with(&[0]));
        assert_eq!(from.to_string(), listener);
    }
    // Datagrams too short to answer are dropped: no reply at all (300 ms
    // of silence is the evidence; there is no event to wait for).
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    for datagram in [&b""[..], b"\0", b"\x01"] {
        s.send_to(datagram, listener).unwrap();
        let mut buf = [0u8; 600];
        assert!(s.recv_from(&mut buf).is_err(), "{datagram:?} got a reply");
    }
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();

    // A transfer of our own; an ACK to its port from another socket gets
    // ERROR 5 and the transfer goes on.
    s.send_to(b"\0\x01small.bin\0octet\0", listener).unwrap();
    let (first, tid) = reply(&s);
    assert!(matches!(
        Repr::parse(&first).unwrap(),
        Repr::Data { block: 1, .. }
    ));
    assert_ne!(tid.to_string(), listener, "a new port per transfer");
    let intruder = socket();
    intruder.send_to(&[0, 4, 0, 1], tid).unwrap();
    let (r, from) = reply(&intruder);
    assert_eq!(error_code(&r), ErrorCode::UnknownTid);
    assert_eq!(from, tid);
    let mut got = match Repr::parse(&first).unwrap() {
        Repr::Data { data, .. } => data.to_vec(),
        _ => unreachable!(),
    };
    let mut block = 1u16;
    loop {
        s.send_to(&[0, 4, (block >> 8) as u8, block as u8], tid)
            .unwrap();
        if got.len() == 3000 {
            break;
        }
        let (d, _) = reply(&s);
        let Repr::Data { block: b, data } = Repr::parse(&d).unwrap() else {
            panic!()
        };
        got.extend_from_slice(data);
        block = b;
    }
    assert_eq!(got, pattern(3000, 8));

    assert!(
        good.join().unwrap() == big,
        "the good download was disturbed"
    );
    // The server may log a refusal just after sending it.
    server.wait_for_log(
        Duration::from_secs(5),
        &[
            "refused: ERROR access violation (2)",
            "refused: ERROR unknown transfer ID (5)",
        ],
    );
    assert!(
        !server.log().contains('\x1b'),
        "control characters reach the log"
    );
}

/// OVMF's datagrams, replayed byte for byte from
/// tests/vectors/captured/ovmf-uefi-pxe.pcap.
#[test]
fn uefi_tsize_probe_abort_and_reread_from_a_new_port() {
    let ovmf: Vec<_> = captured_datagrams("ovmf-uefi-pxe.pcap")
        .into_iter()
        .filter(|d| d.dst.port() == 69 || d.src.ip().octets() == [10, 0, 2, 15])
        .collect();
    let (probe, abort, reread) = (&ovmf[0].payload, &ovmf[1].payload, &ovmf[2].payload);
    let root = TempDir::new("ovmf-root");
    let file = pattern(4000, 3);
    std::fs::write(root.0.join("awl-test.bin"), &file).unwrap();
    let server = AwlServer::start(
        None,
        &[
            "--tftp-root",
            root.0.to_str().unwrap(),
            "--tftp-listen",
            "127.0.0.22:6969",
        ],
    );

    let first = socket();
    first.send_to(probe, "127.0.0.22:6969").unwrap();
    let (oack, tid) = reply(&first);
    assert_eq!(
        Repr::parse(&oack).unwrap(),
        Repr::Oack {
            options: TftpOptions {
                blksize: Some(1468),
                tsize: Some(4000),
                timeout: None,
                windowsize: Some(4)
            }
        }
    );
    first.send_to(abort, tid).unwrap();

    let second = socket();
    second.send_to(reread, "127.0.0.22:6969").unwrap();
    let (oack, tid2) = reply(&second);
    assert_ne!(tid2, tid);
    assert_eq!(
        Repr::parse(&oack).unwrap(),
        Repr::Oack {
            options: TftpOptions {
                blksize: Some(1468),
                tsize: None,
                timeout: None,
                windowsize: Some(4)
            }
        }
    );
    second.send_to(&[0, 4, 0, 0], tid2).unwrap();
    let mut got = Vec::new();
    for expect in 1..=3u16 {
        let (d, _) = reply(&second);
        let Repr::Data { block, data } = Repr::parse(&d).unwrap() else {
            panic!()
        };
        assert_eq!(block, expect);
        got.extend_from_slice(data);
    }
    second.send_to(&[0, 4, 0, 3], tid2).unwrap();
    assert_eq!(got, file);
    // The server logs each transfer's end when what ends it (the ERROR, the
    // last ACK) arrives, after this client has sent it.
    server.wait_for_log(
        Duration::from_secs(5),
        &[
            "aborted \"awl-test.bin\": client sent ERROR option refused (8) after 0 bytes",
            "done \"awl-test.bin\" 4000 bytes",
        ],
    );
}
