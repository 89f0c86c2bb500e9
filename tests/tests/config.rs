//! The configuration file: `awl serve --config FILE` serves what the file
//! says, flags win over it, and `awl check` names file, line and field.

use std::process::Command;

use awl_tests::{awl_binary, pattern, require_tool, AwlServer, TempDir};

#[test]
fn serve_from_a_config_file_with_a_flag_overriding_it() {
    require_tool("curl");
    let root = TempDir::new("cfg-root");
    let other = TempDir::new("cfg-other");
    std::fs::write(root.0.join("a.bin"), pattern(5000, 1)).unwrap();
    std::fs::write(other.0.join("a.bin"), pattern(5000, 2)).unwrap();
    let config = root.0.join("awl.toml");
    std::fs::write(
        &config,
        format!(
            "[tftp]\nroot = \"{}\"\nlisten = \"127.0.0.51:6969\"\nmax_windowsize = 8\n",
            root.0.display()
        ),
    )
    .unwrap();
    let server = AwlServer::start(None, &["--config", config.to_str().unwrap()]);
    let out = root.0.join("got");
    let status = Command::new("curl")
        .args(["-sS", "tftp://127.0.0.51:6969/a.bin", "-o"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(std::fs::read(&out).unwrap(), pattern(5000, 1));
    assert!(
        server.log().contains("windowsize up to 8"),
        "{}",
        server.log()
    );
    drop(server);

    // --tftp-root on the command line wins over the file.
    let server = AwlServer::start(
        None,
        &[
            "--config",
            config.to_str().unwrap(),
            "--tftp-root",
            other.0.to_str().unwrap(),
        ],
    );
    let status = Command::new("curl")
        .args(["-sS", "tftp://127.0.0.51:6969/a.bin", "-o"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(std::fs::read(&out).unwrap(), pattern(5000, 2));
    drop(server);
}

#[test]
fn check_names_file_line_and_field() {
    let dir = TempDir::new("cfg-check");
    let bad = dir.0.join("bad.toml");
    std::fs::write(&bad, "[tftp]\nroot = \"/no/such/dir\"\ntransfers = 0\n").unwrap();
    let out = Command::new(awl_binary())
        .args(["check", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml:2:8: tftp.root: /no/such/dir is not a directory"),
        "{err}"
    );
    assert!(err.contains("bad.toml:3:13: tftp.transfers"), "{err}");
    let typo = dir.0.join("typo.toml");
    std::fs::write(&typo, "[tftp]\nroot = \"/\"\nwindowsize = 4\n").unwrap();
    let out = Command::new(awl_binary())
        .args(["check", "--config"])
        .arg(&typo)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("typo.toml:3:1") && err.contains("windowsize"),
        "{err}"
    );
    let good = dir.0.join("good.toml");
    std::fs::write(&good, "[tftp]\nroot = \"/\"\n").unwrap();
    let out = Command::new(awl_binary())
        .args(["check", "--config"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_refuses_a_relayed_pool_outside_its_network() {
    let dir = TempDir::new("cfg-relayed");
    let path = dir.0.join("awl.toml");
    std::fs::write(
        &path,
        "[dhcp]\nrange = \"10.0.0.100,10.0.0.200\"\n\n[[dhcp.relayed]]\nnetwork = \"10.1.0.0/16\"\n\
         range = \"10.1.0.10,10.1.0.20\"\n\n[[dhcp.relayed]]\nnetwork = \"10.2.0.0/24\"\n\
         range = \"10.3.0.10,10.3.0.20\"\n",
    )
    .unwrap();
    let out = Command::new(awl_binary())
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}:10:9: dhcp.relayed.range: range 10.3.0.10,10.3.0.20 is not inside 10.2.0.0/24",
            path.display()
        )),
        "{err}"
    );
    assert!(!err.contains(":6:"), "the first subnet is fine: {err}");
}
