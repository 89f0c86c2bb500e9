//! `awl serve` with real TFTP clients that nobody here wrote: curl, atftp,
//! tftp-hpa and busybox tftp fetch files of every awkward size, including
//! one past 65535 blocks (block-number rollover); every download must equal
//! the file byte for byte.

use std::path::Path;
use std::process::Command;

use awl_tests::{pattern, require_tool, AwlServer, TempDir};

/// Sizes around block boundaries for 512 and 1468-byte blocks.
const SIZES: [usize; 8] = [0, 1, 511, 512, 513, 1468, 1468 * 3, 1468 * 3 + 1];

/// 65536 blocks of 512 bytes plus one: block numbers wrap past 65535.
const ROLLOVER: usize = 65_536 * 512 + 1;

struct Fixture {
    root: TempDir,
    out: TempDir,
    server: AwlServer,
    addr: String,
}

/// Sizes around 64 KiB blocks, which the server sends from the file
/// (`sendfile`) rather than through its buffer.
const LARGE: [usize; 6] = [
    65_463,
    65_464,
    65_465,
    65_464 * 3,
    65_464 * 3 + 1,
    1_000_003,
];

fn fixture(ip: &str, with_rollover: bool) -> Fixture {
    fixture_with(ip, with_rollover, &SIZES)
}

fn fixture_with(ip: &str, with_rollover: bool, sizes: &[usize]) -> Fixture {
    let root = TempDir::new("tftp-root");
    for (i, size) in sizes.iter().enumerate() {
        std::fs::write(
            root.0.join(format!("f{size}.bin")),
            pattern(*size, i as u64),
        )
        .unwrap();
    }
    if with_rollover {
        std::fs::write(root.0.join("rollover.bin"), pattern(ROLLOVER, 99)).unwrap();
    }
    let addr = format!("{ip}:6969");
    let server = AwlServer::start(
        None,
        &[
            "--tftp-root",
            root.0.to_str().unwrap(),
            "--tftp-listen",
            &addr,
        ],
    );
    Fixture {
        root,
        out: TempDir::new("tftp-out"),
        server,
        addr: ip.to_string(),
    }
}

fn check(f: &Fixture, name: &str, client: &str, mut cmd: Command) {
    let out = f.out.0.join(format!("{client}-{name}"));
    let status = cmd.current_dir(&f.out.0).output().unwrap();
    let got = std::fs::read(&out).unwrap_or_else(|_| {
        panic!(
            "{client} {name}: no output file; exit {:?}\nstdout {}\nstderr {}\nserver log:\n{}",
            status.status,
            String::from_utf8_lossy(&status.stdout),
            String::from_utf8_lossy(&status.stderr),
            f.server.log()
        )
    });
    let want = std::fs::read(f.root.0.join(name)).unwrap();
    assert!(
        got == want,
        "{client} {name}: {} bytes received, {} expected\n{}",
        got.len(),
        want.len(),
        f.server.log()
    );
}

fn out(f: &Fixture, client: &str, name: &str) -> String {
    let p: &Path = &f.out.0;
    p.join(format!("{client}-{name}"))
        .to_str()
        .unwrap()
        .to_string()
}

fn curl(f: &Fixture, name: &str, blksize: u32) {
    require_tool("curl");
    let mut c = Command::new("timeout");
    c.args(["60", "curl", "-sS", "--tftp-blksize", &blksize.to_string()])
        .arg(format!("tftp://{}:6969/{name}", f.addr))
        .args(["-o", &out(f, "curl", name)]);
    check(f, name, "curl", c);
}

fn atftp(f: &Fixture, name: &str, blksize: u32, windowsize: u32) {
    require_tool("atftp");
    let mut c = Command::new("timeout");
    c.args([
        "60",
        "atftp",
        "--option",
        &format!("blksize {blksize}"),
        "--option",
        "tsize 0",
    ])
    .args(["--option", &format!("windowsize {windowsize}")])
    .args([
        "-g",
        "-r",
        name,
        "-l",
        &out(f, "atftp", name),
        &f.addr,
        "6969",
    ]);
    check(f, name, "atftp", c);
}

fn tftp_hpa(f: &Fixture, name: &str) {
    require_tool("tftp");
    let mut c = Command::new("timeout");
    c.args([
        "60",
        "tftp",
        "-m",
        "binary",
        &f.addr,
        "6969",
        "-c",
        "get",
        name,
        &out(f, "tftp-hpa", name),
    ]);
    check(f, name, "tftp-hpa", c);
}

fn busybox(f: &Fixture, name: &str, blksize: u32) {
    require_tool("busybox");
    let mut c = Command::new("timeout");
    c.args([
        "60",
        "busybox",
        "tftp",
        "-g",
        "-b",
        &blksize.to_string(),
        "-r",
        name,
    ])
    .args(["-l", &out(f, "busybox", name), &f.addr, "6969"]);
    check(f, name, "busybox", c);
}

#[test]
fn curl_every_size() {
    let f = fixture("127.0.0.11", false);
    // curl 7.88 cannot fetch an empty file from any server (tftpd-hpa too:
    // "getpeername() failed with errno 107"); the other clients cover size 0.
    for size in SIZES.into_iter().filter(|&s| s != 0) {
        curl(&f, &format!("f{size}.bin"), 1468);
        curl(&f, &format!("f{size}.bin"), 512);
    }
    assert!(
        f.server.log().contains("done \"f4405.bin\""),
        "transfers are logged"
    );
}

#[test]
fn atftp_every_size_windowed() {
    let f = fixture("127.0.0.12", false);
    for size in SIZES {
        atftp(&f, &format!("f{size}.bin"), 1468, 16);
        atftp(&f, &format!("f{size}.bin"), 512, 1);
    }
}

#[test]
fn tftp_hpa_every_size() {
    let f = fixture("127.0.0.13", false);
    for size in SIZES {
        tftp_hpa(&f, &format!("f{size}.bin"));
    }
}

#[test]
fn busybox_every_size() {
    let f = fixture("127.0.0.14", false);
    for size in SIZES {
        busybox(&f, &format!("f{size}.bin"), 1468);
        busybox(&f, &format!("f{size}.bin"), 512);
    }
}

/// Blocks of 32 KiB and more go from the file (`sendfile`): every client
/// gets every byte, with the short or empty last block in its place.
#[test]
fn large_blocks_every_size() {
    let f = fixture_with("127.0.0.16", false, &LARGE);
    for size in LARGE {
        let name = format!("f{size}.bin");
        atftp(&f, &name, 65_464, 16);
        curl(&f, &name, 65_464);
        busybox(&f, &name, 40_000);
    }
    assert!(
        f.server.log().contains("blksize 65464, windowsize 16"),
        "{}",
        f.server.log()
    );
}

/// 33 554 433 bytes at blksize 512: 65537 blocks, so block numbers wrap.
#[test]
fn rollover_past_65535_blocks_every_client() {
    let f = fixture("127.0.0.15", true);
    curl(&f, "rollover.bin", 512);
    tftp_hpa(&f, "rollover.bin");
    atftp(&f, "rollover.bin", 512, 16);
    busybox(&f, "rollover.bin", 512);
}
