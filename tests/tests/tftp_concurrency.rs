//! Many clients at once against `awl serve` (RELIABILITY S9, reduced): a
//! burst of 150 requests, well past any internal queue, all served to the
//! byte; and with a table of 32, the rest are refused "server busy" at once
//! rather than left to time out.

use std::process::Command;

use awl_tests::{AwlServer, TempDir};

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
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while done() < 150 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
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
    let started = std::time::Instant::now();
    let (ok, text) = load("127.0.0.62:6969", "f.bin", 64, len);
    assert!(!ok, "64 clients cannot all fit 32 slots: {text}");
    let log = server.log();
    let busy = log.matches("refused: ERROR NotDefined server busy").count();
    let done = log.matches(" done \"f.bin\"").count();
    assert!(busy >= 1 && done >= 32, "busy {busy}, done {done}\n{text}");
    assert_eq!(
        done + busy.min(64 - done),
        64,
        "every client was either served or refused\n{text}"
    );
    assert!(
        started.elapsed().as_secs() < 60,
        "refusals are immediate, not timeouts"
    );
}
