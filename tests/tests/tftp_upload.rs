//! Uploads (TFTP write requests) with real clients: refused unless an
//! upload directory is given; then stored there, never overwriting, never
//! over the size limit, and never left half-written.

use std::process::Command;

use awl_tests::{pattern, require_tool, wait_until, AwlServer, TempDir};

fn put(client: &str, ip: &str, local: &str, remote: &str) -> bool {
    require_tool(if client == "tftp-hpa" { "tftp" } else { client });
    let url = format!("tftp://{ip}:6969/{remote}");
    let args: Vec<&str> = match client {
        "curl" => vec!["curl", "-sS", "--tftp-blksize", "1468", "-T", local, &url],
        "atftp" => vec![
            "atftp",
            "--option",
            "blksize 1468",
            "-p",
            "-l",
            local,
            "-r",
            remote,
            ip,
            "6969",
        ],
        "busybox" => vec![
            "busybox", "tftp", "-b", "1468", "-p", "-l", local, "-r", remote, ip, "6969",
        ],
        _ => vec![
            "tftp", "-m", "binary", ip, "6969", "-c", "put", local, remote,
        ],
    };
    let out = Command::new("timeout")
        .arg("30")
        .args(&args)
        .output()
        .unwrap();
    // tftp-hpa exits 0 even on an ERROR; it prints "Error code N: ..." to
    // its standard output then.
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.status.success() && !said.contains("Error code")
}

#[test]
fn uploads_with_every_client() {
    let root = TempDir::new("up-root");
    let uploads = TempDir::new("up-dir");
    let src = TempDir::new("up-src");
    let server = AwlServer::start(
        None,
        &[
            "--tftp-root",
            root.0.to_str().unwrap(),
            "--tftp-listen",
            "127.0.0.41:6969",
            "--tftp-upload-dir",
            uploads.0.to_str().unwrap(),
            "--tftp-max-upload",
            "3000000",
        ],
    );
    for (i, client) in ["curl", "atftp", "busybox", "tftp-hpa"]
        .into_iter()
        .enumerate()
    {
        for size in [0usize, 1, 512, 1468, 100_000, 2_000_000] {
            if client == "curl" && size == 0 {
                continue; // curl 7.88 cannot send an empty file
            }
            let body = pattern(size, (i * 10 + size) as u64);
            let local = src.0.join(format!("{client}-{size}"));
            std::fs::write(&local, &body).unwrap();
            let name = format!("{client}-{size}.bin");
            assert!(
                put(client, "127.0.0.41", local.to_str().unwrap(), &name),
                "{client} {size}\n{}",
                server.log()
            );
            let stored = std::fs::read(uploads.0.join(&name)).unwrap();
            assert!(
                stored == body,
                "{client} {size}: {} bytes stored",
                stored.len()
            );
        }
    }
    assert!(
        !root.0.read_dir().unwrap().any(|_| true),
        "nothing lands in the served root"
    );

    // No overwrite: the second upload of a name fails and changes nothing.
    let other = src.0.join("other");
    std::fs::write(&other, b"other bytes").unwrap();
    for client in ["curl", "atftp", "busybox", "tftp-hpa"] {
        assert!(
            !put(
                client,
                "127.0.0.41",
                other.to_str().unwrap(),
                "atftp-1468.bin"
            ),
            "{client} overwrote"
        );
    }
    let kept = std::fs::read(uploads.0.join("atftp-1468.bin")).unwrap();
    assert!(
        kept == pattern(1468, 10 + 1468),
        "the first upload was changed"
    );

    // Over the limit: refused, nothing left behind.
    let big = src.0.join("big");
    std::fs::write(&big, pattern(3_000_001, 5)).unwrap();
    for client in ["curl", "atftp", "tftp-hpa"] {
        let name = format!("big-{client}.bin");
        assert!(
            !put(client, "127.0.0.41", big.to_str().unwrap(), &name),
            "{client} exceeded the limit"
        );
        // The server removes the partial file when it ends the transfer,
        // which can be just after the client has its ERROR.
        wait_until(
            std::time::Duration::from_secs(5),
            &format!("the server removes {client}'s partial upload {name}"),
            || !uploads.0.join(&name).exists(),
        );
    }
    // Traversal out of the upload directory is refused.
    assert!(!put(
        "tftp-hpa",
        "127.0.0.41",
        other.to_str().unwrap(),
        "../escape.bin"
    ));
    assert!(!uploads.0.parent().unwrap().join("escape.bin").exists());
    let log = server.log();
    assert!(
        log.contains("refused: ERROR file already exists (6)"),
        "{log}"
    );
}

#[test]
fn uploads_are_refused_by_default() {
    let root = TempDir::new("noup-root");
    let src = TempDir::new("noup-src");
    let _server = AwlServer::start(
        None,
        &[
            "--tftp-root",
            root.0.to_str().unwrap(),
            "--tftp-listen",
            "127.0.0.42:6969",
        ],
    );
    let local = src.0.join("f");
    std::fs::write(&local, b"data").unwrap();
    assert!(!put(
        "tftp-hpa",
        "127.0.0.42",
        local.to_str().unwrap(),
        "f.bin"
    ));
    assert!(!put("curl", "127.0.0.42", local.to_str().unwrap(), "f.bin"));
    assert!(!root.0.join("f.bin").exists());
}
