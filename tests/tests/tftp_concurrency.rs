//! Many clients at once against `awl serve` (RELIABILITY S9, reduced): a
//! burst of 150 requests, well past any internal queue, all served to the
//! byte; and with a table of 32, the rest are refused "server busy" at once
//! rather than left to time out.

use std::process::Command;
use std::time::{Duration, Instant};

use awl_tests::{try_wait_until, AwlServer, TempDir};

const LOAD: &str = env!("CARGO_BIN_EXE_tftp_load");

fn generate(dir: &TempDir, name: &str, len: u64) {
    let status = Command::new(LOAD)
        .args([
            "--generate",
            dir.0.join(name).to_str().unwrap(),
            "--len",
            &len.to_string(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
}

fn load(server: &str, file: &str, clients: u32, len: u64) -> (bool, String) {
    let out = Command::new("timeout")
        .args([
            "120",
            LOAD,
            "--server",
            server,
            "--file",
            file,
            "--blksize",
            "1468",
            "--windowsize",
            "16",
        ])
        .args([
            "--clients",
            &clients.to_string(),
            "--expect-len",
            &len.to_string(),
            "--quiet",
        ])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn a_burst_of_150_clients_is_served_completely() {
    let root = TempDir::new("burst-root");
    let len = 2 << 20;
    generate(&root, "f.bin", len);
    let server = AwlServer::start(
        None,
        &[
            "--tftp-root",
            root.0.to_str().unwrap(),
            "--tftp-listen",
            "127.0.0.61:6969",
            "--tftp-max-per-ip",
            "0",
        ],
    );
    let (ok, text) = load("127.0.0.61:6969", "f.bin", 150, len);
    assert!(ok, "{text}\n{}", server.log());
    // A client is done when the last block arrives; the server logs the end
    // when the last ACK does, a moment later.
    let done = || server.log().matches(" done \"f.bin\"").count();
    assert!(
        try_wait_until(Duration::from_secs(5), || done() >= 150),
        "{} of 150 transfers logged done within 5 s\n{text}",
        done()
    );
    assert_eq!(done(), 150, "{text}");
}

#[test]
fn a_full_table_says_server_busy_at_once() {
    let root = TempDir::new("busy-root");
    let len = 8 << 20;
    generate(&root, "f.bin", len);
    let server = AwlServer::start(
        None,
        &[
            "--tftp-root",
            root.0.to_str().unwrap(),
            "--tftp-listen",
            "127.0.0.62:6969",
            "--tftp-max-per-ip",
            "0",
            "--tftp-transfers",
            "32",
        ],
    );
    let started = Instant::now();
    let (ok, text) = load("127.0.0.62:6969", "f.bin", 64, len);
    let took = started.elapsed();
    assert!(!ok, "64 clients cannot all fit 32 slots: {text}");
    let ends = |log: &str| {
        let busy = log
            .matches("refused: ERROR not defined (0): server busy")
            .count();
        let done = log.matches(" done \"f.bin\"").count();
        (busy, done)
    };
    // As above, the server logs a transfer's end a moment after the client
    // is done: wait until every client shows in the log; if they never do,
    // the checks below say what is missing.
    let _ = try_wait_until(Duration::from_secs(5), || {
        let (busy, done) = ends(&server.log());
        done + busy.min(64usize.saturating_sub(done)) >= 64
    });
    let (busy, done) = ends(&server.log());
    assert!(busy >= 1 && done >= 32, "busy {busy}, done {done}\n{text}");
    assert_eq!(
        done + busy.min(64 - done),
        64,
        "every client was either served or refused\n{text}"
    );
    assert!(
        took.as_secs() < 60,
        "refusals are immediate, not timeouts (took {took:?})"
    );
}
