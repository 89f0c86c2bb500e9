//! The install lifecycle (issue 12, docs/lifecycle.md) on a running `awl
//! serve`:
//!
//! * forged callbacks (curl on loopback): a wrong token, another system's
//!   token, a GET, an unknown system, a replay after `awl system
//!   reinstall`, a second callback with a spent token: all refused, `awl
//!   status` unchanged; the right token moves installing → installed;
//! * answer files need the system's armed token (403 without, or with a
//!   wrong one; 200 with it);
//! * netboot once survives `kill -9`: after the callback, the next boot
//!   script is "boot from disk", also after a restart, with the same
//!   install time; and a QEMU machine (its own BIOS iPXE ROM, the small
//!   OS of `awl_tests::tiny`) installs once: it fetches its answer file
//!   with its token, POSTs the callback that file names, and after a
//!   `kill -9` and restart of awl, boots from its disk;
//! * a full disk: the callback gets 503 and nothing changes; with room
//!   again, the installer's retry succeeds.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use awl_tests::{
    awl_binary, bridge_tap, install_serve_args, require_tool, tiny, tiny_machine, wait_for,
    wait_until, AwlServer, NetnsPair, TempDir, Tmpfs,
};

/// `awl ARGS --inventory INV`, which must succeed; its stdout.
fn awl(inventory: &Path, args: &[&str]) -> String {
    let out = Command::new(awl_binary())
        .args(args)
        .arg("--inventory")
        .arg(inventory)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "awl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `awl status --json --state-dir DIR`.
fn status(dir: &Path) -> serde_json::Value {
    let out = Command::new(awl_binary())
        .args(["status", "--json", "--state-dir"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// One system's row of `awl status --json`.
fn row(dir: &Path, system: &str) -> serde_json::Value {
    status(dir)
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["system"] == system)
        .cloned()
        .unwrap_or_else(|| panic!("no {system} in awl status"))
}

/// curl's status and body for `method` on `url`.
fn curl(method: &str, url: &str) -> (u16, String) {
    curl_with(method, url, &[])
}

/// As [`curl`], with more curl arguments.
fn curl_with(method: &str, url: &str, extra: &[&str]) -> (u16, String) {
    let out = Command::new("timeout")
        .args(["30", "curl", "-sS", "-X", method, "-w", "\n%{http_code}"])
        .args(extra)
        .arg(url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "curl {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.trim().parse().unwrap(), body.to_string())
}

/// The `token=…` of the first URL in `text` that starts with `prefix`.
fn token_after(text: &str, prefix: &str) -> String {
    let at = text
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} in {text}"));
    text[at + prefix.len()..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect()
}

/// An inventory with distro `tiny` (kernel args `args`), profile `tiny`
/// (kickstart) and systems from `systems` (name, MAC, netboot).
fn inventory(dir: &Path, args: &str, systems: &[(&str, &str, &str)]) -> std::path::PathBuf {
    let inv = dir.join("inventory.toml");
    tiny::add_distro(inv.to_str().unwrap(), args);
    awl(
        &inv,
        &[
            "profile",
            "add",
            "tiny",
            "--distro",
            "tiny",
            "--template",
            "kickstart",
        ],
    );
    add_systems(&inv, "tiny", systems);
    inv
}

/// Systems (name, MAC, netboot) of `profile`.
fn add_systems(inv: &Path, profile: &str, systems: &[(&str, &str, &str)]) {
    for (name, mac, netboot) in systems {
        awl(
            inv,
            &[
                "system",
                "add",
                name,
                "--mac",
                mac,
                "--profile",
                profile,
                "--netboot",
                netboot,
            ],
        );
    }
}

fn serve_loopback(root: &Path, inv: &Path, state: &Path) -> AwlServer {
    serve_on("127.0.91.1", root, inv, state)
}

fn serve_on(ip: &str, root: &Path, inv: &Path, state: &Path) -> AwlServer {
    let server = AwlServer::start(
        None,
        &[
            "--tftp-root",
            root.to_str().unwrap(),
            "--tftp-listen",
            &format!("{ip}:6969"),
            "--http-listen",
            &format!("{ip}:8080"),
            "--inventory",
            inv.to_str().unwrap(),
            "--state-dir",
            state.to_str().unwrap(),
        ],
    );
    server.wait_for_log(Duration::from_secs(10), &["http: serving"]);
    server
}

const BASE: &str = "http://127.0.91.1:8080";

#[test]
fn forged_callbacks_and_tokenless_answer_files_are_refused() {
    require_tool("curl");
    let dir = TempDir::new("lifecycle");
    let root = dir.0.join("root");
    std::fs::create_dir_all(root.join("tiny")).unwrap();
    std::fs::write(root.join("tiny/vmlinuz"), "not really a kernel\n").unwrap();
    std::fs::write(root.join("tiny/initrd.cpio"), "not really an initrd\n").unwrap();
    let state = dir.0.join("state");
    let inv = inventory(
        &dir.0,
        "console=ttyS0",
        &[
            ("web1", "52:54:00:aa:91:01", "once"),
            ("web2", "52:54:00:aa:91:02", "once"),
        ],
    );
    let server = serve_loopback(&root, &inv, &state);

    // Booting arms each install with a token of its own.
    let ipxe = |mac: &str| curl("GET", &format!("{BASE}/ipxe?mac={mac}&platform=pcbios"));
    let (code, script1) = ipxe("52:54:00:aa:91:01");
    assert_eq!(code, 200, "{script1}");
    let t1 = token_after(&script1, "/answer/system/web1?token=");
    let t2 = token_after(&ipxe("52:54:00:aa:91:02").1, "/answer/system/web2?token=");
    assert_eq!(t1.len(), 32, "128 bits: {script1}");
    assert_ne!(t1, t2);
    assert_eq!(row(&state, "web1")["state"], "booting");
    let log = server.log();
    assert!(
        !log.contains(&t1) && !log.contains(&t2),
        "a token in the log:\n{log}"
    );

    // Answer files: only with the system's own token.
    let answer = |token: &str| curl("GET", &format!("{BASE}/answer/system/web1{token}"));
    assert_eq!(answer("").0, 403);
    assert_eq!(answer("?token=").0, 403);
    assert_eq!(answer(&format!("?token={t2}")).0, 403);
    // The same but its last digit (never equal to it).
    let last = if t1.ends_with('0') { '1' } else { '0' };
    let wrong = format!("{}{last}", &t1[..31]);
    assert_eq!(answer(&format!("?token={wrong}")).0, 403);
    assert_eq!(
        row(&state, "web1")["state"],
        "booting",
        "refusals change nothing"
    );
    let (code, kickstart) = answer(&format!("?token={t1}"));
    assert_eq!(code, 200, "{kickstart}");
    let callback = format!("{BASE}/callback/web1?token={t1}");
    assert!(
        kickstart.contains(&format!("awl_callback='{callback}'")),
        "{kickstart}"
    );
    assert!(
        kickstart.contains("curl -fsS --retry 3 -d ''"),
        "a POST: {kickstart}"
    );
    assert_eq!(row(&state, "web1")["state"], "installing");

    // Forged callbacks: refused, nothing changes.
    let before = status(&state);
    for (method, url, code) in [
        ("POST", format!("{BASE}/callback/web1?token={wrong}"), 403),
        ("POST", format!("{BASE}/callback/web1"), 403),
        ("POST", format!("{BASE}/callback/web1?token={t2}"), 403),
        ("POST", format!("{BASE}/callback/web2?token={t1}"), 403),
        ("GET", callback.clone(), 405),
        ("HEAD", callback.clone(), 405),
        ("POST", format!("{BASE}/callback/nobody?token={t1}"), 404),
        // web2 is booting, not installing: its own token cannot finish it.
        ("POST", format!("{BASE}/callback/web2?token={t2}"), 403),
        // Only an image deploy reports `written`.
        (
            "POST",
            format!("{BASE}/callback/web1?token={t1}&status=written"),
            403,
        ),
    ] {
        let got = if method == "HEAD" {
            let out = Command::new("curl")
                .args(["-sS", "-I", "-o", "/dev/null", "-w", "%{http_code}", &url])
                .output()
                .unwrap();
            String::from_utf8(out.stdout)
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        } else {
            curl(method, &url).0
        };
        assert_eq!(got, code, "{method} {url}");
        assert_eq!(status(&state), before, "{method} {url} changed the state");
    }

    // The right token: installed, the token spent.
    let (code, body) = curl("POST", &callback);
    assert_eq!(code, 200, "{body}");
    let installed = row(&state, "web1");
    assert_eq!(installed["state"], "installed");
    let after = status(&state);
    assert_eq!(curl("POST", &callback).0, 403, "a spent token");
    assert_eq!(answer(&format!("?token={t1}")).0, 403, "a spent token");
    assert_eq!(status(&state), after);

    // netboot once: boot from disk now, and after a kill -9 and restart.
    let (_, local) = ipxe("52:54:00:aa:91:01");
    assert!(local.contains("booting from the local disk"), "{local}");
    drop(server);
    let server = serve_loopback(&root, &inv, &state);
    let (_, local) = ipxe("52:54:00:aa:91:01");
    assert!(local.contains("booting from the local disk"), "{local}");
    server.wait_for_log(
        Duration::from_secs(5),
        &["system web1 boots from its disk (netboot once)"],
    );
    let again = row(&state, "web1");
    assert_eq!(again["installed_at"], installed["installed_at"]);
    assert_eq!(again["state"], "local");

    // Reinstall: a new token; the old one replayed is refused.
    let out = awl(
        &inv,
        &[
            "system",
            "reinstall",
            "web1",
            "--state-dir",
            state.to_str().unwrap(),
        ],
    );
    assert!(out.contains("armed"), "{out}");
    assert_eq!(row(&state, "web1")["state"], "armed");
    let (_, script) = ipxe("52:54:00:aa:91:01");
    let t3 = token_after(&script, "/answer/system/web1?token=");
    assert_ne!(t3, t1);
    let before = status(&state);
    assert_eq!(curl("POST", &callback).0, 403, "replayed after reinstall");
    assert_eq!(answer(&format!("?token={t1}")).0, 403);
    assert_eq!(status(&state), before);
    assert_eq!(answer(&format!("?token={t3}")).0, 200);
    let table = Command::new(awl_binary())
        .args(["status", "--state-dir", state.to_str().unwrap()])
        .output()
        .unwrap();
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(
        table.contains("web1") && table.contains("installing"),
        "{table}"
    );
    assert!(!table.contains(&t3), "a token in awl status:\n{table}");
    let log = server.log();
    assert!(
        !log.contains(&t3) && !log.contains(&t1),
        "a token in the log:\n{log}"
    );
}

/// curl's status for a GET of `url` from source address `from`.
fn curl_from(from: &str, url: &str) -> u16 {
    curl_with("GET", url, &["--interface", from]).0
}

#[test]
fn an_installer_reports_a_failure_and_mac_and_ip_may_stand_for_the_token() {
    require_tool("curl");
    let dir = TempDir::new("lifecycle-failure");
    let root = dir.0.join("root");
    std::fs::create_dir_all(&root).unwrap();
    let state = dir.0.join("state");
    let inv = inventory(
        &dir.0,
        "console=ttyS0",
        &[("web3", "52:54:00:aa:91:03", "once")],
    );
    // web4 opts in to MAC and address together (installers that cannot
    // carry a token).
    awl(
        &inv,
        &[
            "system",
            "add",
            "web4",
            "--mac",
            "52:54:00:aa:91:04",
            "--ip",
            "127.0.91.44",
            "--profile",
            "tiny",
            "--netboot",
            "once",
            "--var",
            "answer_auth=mac-ip",
        ],
    );
    let _server = serve_on("127.0.91.3", &root, &inv, &state);
    let base = "http://127.0.91.3:8080";
    let ipxe = |mac: &str| curl("GET", &format!("{base}/ipxe?mac={mac}&platform=pcbios"));

    // The installer says it failed: failed, the token revoked.
    let t = token_after(&ipxe("52:54:00:aa:91:03").1, "/answer/system/web3?token=");
    assert_eq!(
        curl("GET", &format!("{base}/answer/system/web3?token={t}")).0,
        200
    );
    let before = status(&state);
    let (code, body) = curl(
        "POST",
        &format!("{base}/callback/web3?token={t}&status=bogus"),
    );
    assert_eq!(code, 400, "{body}");
    assert_eq!(status(&state), before, "a bad status changes nothing");
    let (code, body) = curl(
        "POST",
        &format!("{base}/callback/web3?token={t}&status=failed"),
    );
    assert_eq!((code, body.trim()), (200, "failed"));
    let failed = row(&state, "web3");
    assert_eq!(failed["state"], "failed");
    assert_eq!(failed["installed_at"], serde_json::Value::Null);
    assert_eq!(
        failed["last_event"],
        "callback: the installer reported a failure"
    );
    // Which machines failed: `awl status --state`, and the API's filter.
    let only = |args: &[&str]| -> Vec<String> {
        let out = Command::new(awl_binary())
            .args(["status", "--json", "--state-dir"])
            .arg(&state)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let rows = rows.as_array().unwrap().iter();
        rows.map(|r| r["system"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(only(&["--state", "failed"]), ["web3"]);
    assert!(only(&["--state", "installed,local"]).is_empty());
    assert_eq!(only(&["web3"]), ["web3"]);
    assert!(only(&["web4", "--state", "failed"]).is_empty());
    let (code, body) = curl("GET", &format!("{base}/api/v1/status?state=failed"));
    let rows: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (code, rows.as_array().map(Vec::len)),
        (200, Some(1)),
        "{body}"
    );
    assert_eq!(rows[0]["system"], "web3");
    let (code, body) = curl("GET", &format!("{base}/api/v1/status?state=broken"));
    assert!(
        code == 400 && body.contains("broken: not a state"),
        "{code} {body}"
    );
    assert_eq!(
        curl("POST", &format!("{base}/callback/web3?token={t}")).0,
        403,
        "spent"
    );
    // Its next boot installs again, with a new token.
    let t2 = token_after(&ipxe("52:54:00:aa:91:03").1, "/answer/system/web3?token=");
    assert_ne!(t2, t);
    assert_eq!(row(&state, "web3")["state"], "booting");

    // MAC and address together, for web4 only.
    let script = ipxe("52:54:00:aa:91:04").1;
    let t4 = token_after(&script, "/answer/system/web4?token=");
    let answer = |mac: &str| format!("{base}/answer/system/web4?mac={mac}");
    assert_eq!(curl_from("127.0.91.44", &answer("52:54:00:aa:91:04")), 200);
    assert_eq!(row(&state, "web4")["state"], "installing");
    assert_eq!(
        curl_from("127.0.91.45", &answer("52:54:00:aa:91:04")),
        403,
        "another address"
    );
    assert_eq!(
        curl_from("127.0.91.44", &answer("52:54:00:aa:91:03")),
        403,
        "another MAC"
    );
    assert_eq!(
        curl_from("127.0.91.44", &format!("{base}/answer/system/web4")),
        403,
        "no MAC"
    );
    // web3 did not opt in.
    let web3 = format!("{base}/answer/system/web3?mac=52:54:00:aa:91:03");
    assert_eq!(curl_from("127.0.91.44", &web3), 403);
    // Installed: MAC and address no longer open it (no install armed).
    let (code, _) = curl("POST", &format!("{base}/callback/web4?token={t4}"));
    assert_eq!(code, 200);
    assert_eq!(
        curl_from("127.0.91.44", &answer("52:54:00:aa:91:04")),
        403,
        "installed"
    );
}

#[test]
fn a_netboot_once_machine_installs_once_across_a_kill() {
    require_tool("qemu-system-x86_64");
    let net = NetnsPair::new(87, 0);
    let tap = bridge_tap(&net);
    let dir = TempDir::new("lifecycle-qemu");
    let root = tiny::files_root(&dir.0);
    let mac = "52:54:00:aa:87:01";
    // awl.report: the small OS POSTs the callback its answer file names.
    let inv = inventory(
        &dir.0,
        "console=ttyS0 panic=-1 awl.report",
        &[("web1", mac, "once")],
    );
    let ip = net.server_ip.clone();
    let state = dir.0.join("state");
    let args = install_serve_args(&net, &dir.0, &root, inv.to_str().unwrap(), &state);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = AwlServer::start(Some(&net.server), &args);

    let console = |name: &str| {
        std::fs::read_to_string(dir.0.join(format!("console-{name}.log"))).unwrap_or_default()
    };
    let first = tiny_machine(&net, &tap, &dir.0, "first", mac);
    let out = wait_for(Duration::from_secs(300), "the machine installs", || {
        let out = console("first");
        out.contains("AWL-TINY-DONE").then_some(out)
    });
    drop(first);
    let fetched = tiny::fetched(&out);
    let prefix_url = format!("http://{ip}/answer/system/web1?token=");
    assert!(
        fetched.len() == 1 && fetched[0].0.starts_with(&prefix_url),
        "its answer file, with its token: {fetched:?}\n{out}\n{}",
        server.log()
    );
    assert!(out.contains("AWL-CALLBACK-OK"), "{out}\n{}", server.log());
    let installed = row(&state, "web1");
    assert_eq!(installed["state"], "installed", "{}", server.log());
    assert!(server.log().contains("system web1 installed"));
    // Its history: DHCP's answers, the boot script, the answer file, the
    // callback.
    let events: Vec<&str> = installed["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["what"].as_str().unwrap())
        .collect();
    for what in [
        "dhcp: ack",
        "ipxe: install served",
        "answer file served",
        "callback: install done",
    ] {
        assert!(
            events.iter().any(|e| e.starts_with(what)),
            "{what} in {events:?}"
        );
    }

    // kill -9, start again: the same machine boots from its disk.
    drop(server);
    let server = AwlServer::start(Some(&net.server), &args);
    assert_eq!(
        row(&state, "web1")["installed_at"],
        installed["installed_at"]
    );
    let _second = tiny_machine(&net, &tap, &dir.0, "second", mac);
    server.wait_for_log(
        Duration::from_secs(180),
        &[&format!(
            "ipxe for {mac}: system web1 boots from its disk (netboot once)"
        )],
    );
    let after = row(&state, "web1");
    // `seen` again if its firmware asks DHCP once more.
    assert!(
        after["state"] == "local" || after["state"] == "seen",
        "{after}"
    );
    assert!(
        after["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["what"] == "ipxe: boot from disk"),
        "{after}"
    );
    assert_eq!(after["installed_at"], installed["installed_at"]);
    assert!(
        !server.log().contains("installs profile"),
        "{}",
        server.log()
    );
}

#[test]
fn a_full_disk_refuses_the_callback_with_503() {
    require_tool("curl");
    let dir = TempDir::new("lifecycle-full");
    let root = dir.0.join("root");
    std::fs::create_dir_all(root.join("tiny")).unwrap();
    std::fs::write(root.join("tiny/vmlinuz"), "not really a kernel\n").unwrap();
    std::fs::write(root.join("tiny/initrd.cpio"), "not really an initrd\n").unwrap();
    let state = dir.0.join("state");
    std::fs::create_dir_all(&state).unwrap();
    let tmpfs = Tmpfs::new(&state, "256k");
    let inv = inventory(
        &dir.0,
        "console=ttyS0",
        &[("web1", "52:54:00:aa:92:01", "once")],
    );
    let _server = serve_on("127.0.91.2", &root, &inv, &state);
    let base = "http://127.0.91.2:8080";
    let (_, script) = curl("GET", &format!("{base}/ipxe?mac=52:54:00:aa:92:01"));
    let token = token_after(&script, "/answer/system/web1?token=");
    let answer = format!("{base}/answer/system/web1?token={token}");
    assert_eq!(curl("GET", &answer).0, 200);
    assert_eq!(row(&state, "web1")["state"], "installing");
    // Fill the disk. A write costs one journal line, which still fits in
    // a page the file already has: pad the journal (blank lines, which it
    // allows) to a page's end first, so the callback's line needs a page
    // the disk no longer has.
    let journal = state.join("installs.journal");
    let len = std::fs::metadata(&journal).unwrap().len();
    let pad = (4096 - len % 4096) % 4096;
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&journal)
        .unwrap();
    std::io::Write::write_all(&mut file, &vec![b'\n'; pad as usize]).unwrap();
    drop(file);
    let filler = tmpfs.fill();
    let before = status(&state);
    let callback = format!("{base}/callback/web1?token={token}");
    assert_eq!(curl("POST", &callback).0, 503);
    assert_eq!(status(&state), before, "nothing changed");
    // Room again: the installer's retry with the same token succeeds.
    std::fs::remove_file(&filler).unwrap();
    assert_eq!(curl("POST", &callback).0, 200);
    assert_eq!(row(&state, "web1")["state"], "installed");
}

/// A disk image (family `image`), over HTTP as awl's deploy environment
/// and the image's first boot (cloud-init) use it: `awl import` finds the
/// image and computes its checksum; the deploy configuration names the
/// image, its checksum, the NoCloud seed and the written/failed
/// callbacks; `status=written` moves the system to `firstboot`, where its
/// network boots get "boot from disk" and its seed stays open to its
/// token; cloud-init's `phone_home` (a form POST) finishes the install. A
/// deploy that reports a failure installs again with a new token.
#[test]
fn an_image_deploy_boots_its_disk_and_its_first_boot_reports() {
    require_tool("curl");
    let dir = TempDir::new("lifecycle-image");
    let root = dir.0.join("root");
    let folder = root.join("images/lab");
    std::fs::create_dir_all(folder.join("deploy")).unwrap();
    std::fs::write(folder.join("deploy/vmlinuz"), "not really a kernel\n").unwrap();
    std::fs::write(folder.join("deploy/initrd.img"), "not really an initrd\n").unwrap();
    let mut image = vec![7u8; 64 * 1024];
    image[510] = 0x55;
    image[511] = 0xaa;
    std::fs::write(folder.join("debian-12.img"), &image).unwrap();
    let inv = dir.0.join("inventory.toml");
    let out = awl(
        &inv,
        &[
            "import",
            folder.to_str().unwrap(),
            "--files-root",
            root.to_str().unwrap(),
            "--arch",
            "x86_64",
            "--name",
            "lab",
        ],
    );
    let sum = {
        let out = Command::new("sha256sum")
            .arg(folder.join("debian-12.img"))
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()[..64].to_string()
    };
    assert!(out.contains(&format!("sha256   {sum}")), "{out}");
    let shown = awl(&inv, &["distro", "show", "lab", "--json"]);
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["family"], "image");
    assert_eq!(shown["image"], "images/lab/debian-12.img");
    assert_eq!(shown["kernel"], "images/lab/deploy/vmlinuz");
    awl(&inv, &["profile", "add", "lab", "--distro", "lab"]);
    add_systems(
        &inv,
        "lab",
        &[
            ("m1", "52:54:00:aa:94:01", "once"),
            ("m2", "52:54:00:aa:94:02", "once"),
            ("m3", "52:54:00:aa:94:03", "always"),
        ],
    );
    // m4's and m5's first boots may take 3 s before they count as failed.
    for (name, mac) in [("m4", "52:54:00:aa:94:04"), ("m5", "52:54:00:aa:94:05")] {
        awl(
            &inv,
            &[
                "system",
                "add",
                name,
                "--mac",
                mac,
                "--profile",
                "lab",
                "--netboot",
                "once",
                "--var",
                "install_timeout_minutes=0.05",
            ],
        );
    }
    let check = Command::new(awl_binary())
        .args(["check", "--inventory", inv.to_str().unwrap(), "--tftp-root"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");
    let state = dir.0.join("state");
    let _server = serve_on("127.0.91.4", &root, &inv, &state);
    let base = "http://127.0.91.4:8080";
    let ipxe = |mac: &str| curl("GET", &format!("{base}/ipxe?mac={mac}&platform=pcbios")).1;

    let script = ipxe("52:54:00:aa:94:01");
    assert!(
        script.contains("/boot/images/lab/deploy/vmlinuz"),
        "{script}"
    );
    let token = token_after(
        &script,
        &format!("awl.deploy={base}/answer/system/m1?token="),
    );
    let (code, conf) = curl("GET", &format!("{base}/answer/system/m1?token={token}"));
    assert_eq!(code, 200, "{conf}");
    let value = |key: &str| -> String {
        conf.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key} in:\n{conf}"))
            .trim_matches('\'')
            .to_string()
    };
    assert_eq!(value("image_sha256"), sum);
    assert_eq!(value("image_size"), image.len().to_string());
    let image_url = value("image_url");
    assert_eq!(image_url, format!("{base}/boot/images/lab/debian-12.img"));
    let fetched = Command::new("curl")
        .args(["-sS", "-f", &image_url])
        .output()
        .unwrap();
    assert_eq!(fetched.stdout, image, "the image's bytes");
    let seed = value("seed_url");
    assert_eq!(seed, format!("{base}/answer/system/m1/token/{token}/"));
    assert_eq!(row(&state, "m1")["state"], "installing");

    // Written too early for another system, or with a wrong token: refused.
    let written = value("written_url");
    assert_eq!(
        curl("POST", &written.replace(&token, &"0".repeat(32))).0,
        403
    );
    let (code, body) = curl("POST", &written);
    assert_eq!((code, body.as_str()), (200, "written\n"));
    assert_eq!(row(&state, "m1")["state"], "firstboot");
    assert_eq!(curl("POST", &written).0, 403, "written once");

    // Its network boots now boot its disk, and it stays in firstboot.
    let local = ipxe("52:54:00:aa:94:01");
    assert!(local.contains("booting from the local disk"), "{local}");
    assert_eq!(row(&state, "m1")["state"], "firstboot");

    // The first boot reads its seed with the token, then phones home.
    let (code, user_data) = curl("GET", &format!("{seed}user-data"));
    assert_eq!(code, 200, "{user_data}");
    assert!(user_data.starts_with("#cloud-config\n"), "{user_data}");
    let callback = format!("{base}/callback/m1?token={token}");
    assert!(
        user_data.contains(&format!("phone_home:\n  url: \"{callback}\"")),
        "{user_data}"
    );
    let (code, meta) = curl("GET", &format!("{seed}meta-data"));
    assert_eq!(code, 200);
    assert!(meta.contains("local-hostname: \"m1\""), "{meta}");
    assert_eq!(
        curl("GET", &format!("{base}/answer/system/m1/user-data")).0,
        403
    );
    assert_eq!(row(&state, "m1")["state"], "firstboot");
    let (code, body) = curl_with(
        "POST",
        &callback,
        &["--data", "instance_id=awl-m1&hostname=m1&fqdn=m1"],
    );
    assert_eq!((code, body.as_str()), (200, "installed\n"));
    let installed = row(&state, "m1");
    assert_eq!(installed["state"], "installed");
    assert_eq!(
        curl("GET", &format!("{seed}user-data")).0,
        403,
        "token spent"
    );
    assert!(ipxe("52:54:00:aa:94:01").contains("booting from the local disk"));
    assert_eq!(row(&state, "m1")["state"], "local");

    // m2's deploy fails (a bad checksum): failed, and its next boot
    // deploys again with a new token. `written` before its answer file
    // (booting) is refused.
    let script = ipxe("52:54:00:aa:94:02");
    let t2 = token_after(&script, "/answer/system/m2?token=");
    assert_eq!(
        curl(
            "POST",
            &format!("{base}/callback/m2?token={t2}&status=written")
        )
        .0,
        403
    );
    assert_eq!(row(&state, "m2")["state"], "booting");
    assert_eq!(
        curl("GET", &format!("{base}/answer/system/m2?token={t2}")).0,
        200
    );
    let (code, _) = curl(
        "POST",
        &format!("{base}/callback/m2?token={t2}&status=failed"),
    );
    assert_eq!(code, 200);
    assert_eq!(row(&state, "m2")["state"], "failed");
    let again = ipxe("52:54:00:aa:94:02");
    let t3 = token_after(&again, "/answer/system/m2?token=");
    assert_ne!(t3, t2);
    assert!(again.contains("deploy/vmlinuz"), "{again}");

    // netboot always: after `written` it too boots its disk until its
    // first boot reports (else it would write its image forever).
    let deploy = |mac: &str, name: &str| -> String {
        let t = token_after(&ipxe(mac), &format!("/answer/system/{name}?token="));
        assert_eq!(
            curl("GET", &format!("{base}/answer/system/{name}?token={t}")).0,
            200
        );
        let (code, body) = curl(
            "POST",
            &format!("{base}/callback/{name}?token={t}&status=written"),
        );
        assert_eq!((code, body.as_str()), (200, "written\n"));
        t
    };
    let t = deploy("52:54:00:aa:94:03", "m3");
    assert!(ipxe("52:54:00:aa:94:03").contains("booting from the local disk"));
    assert_eq!(row(&state, "m3")["state"], "firstboot");
    assert_eq!(
        curl("POST", &format!("{base}/callback/m3?token={t}")).0,
        200
    );
    assert!(
        ipxe("52:54:00:aa:94:03").contains("deploy/vmlinuz"),
        "netboot always deploys at its next boot"
    );

    // m4's first boot does not report within its timeout: failed. A
    // report that comes late still counts, as long as no new install
    // started.
    let t4 = deploy("52:54:00:aa:94:04", "m4");
    wait_until(Duration::from_secs(30), "m4's first boot times out", || {
        row(&state, "m4")["state"] == "failed"
    });
    let (code, body) = curl("POST", &format!("{base}/callback/m4?token={t4}"));
    assert_eq!((code, body.as_str()), (200, "installed\n"), "a late report");
    assert_eq!(row(&state, "m4")["state"], "installed");
    // m5's never comes: its next network boot deploys again with a new
    // token, and the old one (which its seed file kept on the disk)
    // opens nothing any more.
    let t5 = deploy("52:54:00:aa:94:05", "m5");
    wait_until(Duration::from_secs(30), "m5's first boot times out", || {
        row(&state, "m5")["state"] == "failed"
    });
    let again = ipxe("52:54:00:aa:94:05");
    let t6 = token_after(&again, "/answer/system/m5?token=");
    assert_ne!(t6, t5, "a new token after the timeout");
    assert_eq!(
        curl(
            "GET",
            &format!("{base}/answer/system/m5/token/{t5}/user-data")
        )
        .0,
        403
    );
    assert_eq!(
        curl("POST", &format!("{base}/callback/m5?token={t5}")).0,
        403
    );
    assert_eq!(row(&state, "m5")["state"], "booting");
}
