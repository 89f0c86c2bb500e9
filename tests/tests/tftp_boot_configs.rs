//! Boot configs over TFTP (issue 11): GRUB (`grub.cfg-01-MAC`, then
//! `grub.cfg`), pxelinux (`pxelinux.cfg/01-MAC`, then `default`) and iPXE
//! (`boot.ipxe`) ask for their configuration over TFTP, and `awl serve`
//! renders it from the inventory per request, unless the TFTP root has a
//! real file of that name (which wins). Fetched with real clients nobody
//! here wrote (tftp-hpa, curl, atftp) from `awl serve` on loopback; the
//! inventory is written with the `awl` CLI, and an edit made while awl
//! serves changes the very next answer.

use std::path::{Path, PathBuf};
use std::process::Command;

use awl_tests::{require_tool, AwlServer, TempDir};

const WEB1: &str = "52:54:00:12:34:56";
const WEB1_DASHED: &str = "52-54-00-12-34-56";
const DB1_DASHED: &str = "52-54-00-12-34-57";

struct Lab {
    dir: TempDir,
    root: PathBuf,
    inventory: String,
    server: AwlServer,
    ip: String,
    http: String,
}

fn awl(inventory: &str, args: &[&str]) {
    awl_tests::awl_inventory(inventory, args);
}

/// An inventory made with the CLI (a distro whose kernel and initrd are in
/// the TFTP root, a profile, `web1` installing it, `db1` with netboot
/// never), and `awl serve` on `ip` (TFTP on port 6969, HTTP on 8080).
fn lab(ip: &str) -> Lab {
    let dir = TempDir::new("tftp-boot-configs");
    let root = dir.0.join("root");
    std::fs::create_dir_all(root.join("tiny")).unwrap();
    std::fs::write(root.join("tiny/vmlinuz"), b"not really a kernel\n").unwrap();
    std::fs::write(root.join("tiny/initrd.img"), b"not really an initrd\n").unwrap();
    let inventory = dir.0.join("inventory.toml").display().to_string();
    awl(
        &inventory,
        &[
            "distro",
            "add",
            "tiny",
            "--kernel",
            "tiny/vmlinuz",
            "--initrd",
            "tiny/initrd.img",
            "--family",
            "redhat",
            "--kernel-args",
            "console=ttyS0",
        ],
    );
    awl(
        &inventory,
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
    awl(
        &inventory,
        &["system", "add", "web1", "--mac", WEB1, "--profile", "tiny"],
    );
    awl(
        &inventory,
        &[
            "system",
            "add",
            "db1",
            "--mac",
            "52:54:00:12:34:57",
            "--profile",
            "tiny",
            "--netboot",
            "never",
        ],
    );
    let http = format!("{ip}:8080");
    let server = AwlServer::start(
        None,
        &[
            "--tftp-root",
            root.to_str().unwrap(),
            "--tftp-listen",
            &format!("{ip}:6969"),
            "--http-listen",
            &http,
            "--inventory",
            &inventory,
        ],
    );
    Lab {
        dir,
        root,
        inventory,
        server,
        ip: ip.to_string(),
        http,
    }
}

/// Which real client fetches, and how.
#[derive(Debug, Clone, Copy)]
enum Client {
    TftpHpa,
    TftpHpaNetascii,
    Curl,
    CurlNetascii,
    Atftp,
}

const CLIENTS: [Client; 5] = [
    Client::TftpHpa,
    Client::TftpHpaNetascii,
    Client::Curl,
    Client::CurlNetascii,
    Client::Atftp,
];

/// What the client got: the file, or its exit status and output.
fn try_fetch(lab: &Lab, client: Client, path: &str) -> Result<Vec<u8>, String> {
    let out = lab
        .dir
        .0
        .join(format!("got-{}-{client:?}", awl_tests::unique()));
    let local = out.to_str().unwrap();
    let mut c = Command::new("timeout");
    c.arg("30");
    match client {
        Client::TftpHpa | Client::TftpHpaNetascii => {
            require_tool("tftp");
            let mode = match client {
                Client::TftpHpa => "binary",
                _ => "ascii",
            };
            c.args([
                "tftp", "-m", mode, &lab.ip, "6969", "-c", "get", path, local,
            ]);
        }
        Client::Curl | Client::CurlNetascii => {
            require_tool("curl");
            let mode = match client {
                Client::Curl => "",
                _ => ";mode=netascii",
            };
            c.args(["curl", "-sS", "-o", local])
                .arg(format!("tftp://{}:6969/{path}{mode}", lab.ip));
        }
        Client::Atftp => {
            require_tool("atftp");
            c.args(["atftp", "-g", "-r", path, "-l", local, &lab.ip, "6969"]);
        }
    }
    let status = c.current_dir(&lab.dir.0).output().unwrap();
    let got = std::fs::read(&out).ok();
    let _ = std::fs::remove_file(&out);
    let said = format!(
        "{client:?} {path}: exit {:?}\nstdout {}\nstderr {}",
        status.status.code(),
        String::from_utf8_lossy(&status.stdout),
        String::from_utf8_lossy(&status.stderr)
    );
    // tftp-hpa exits 0 even on an ERROR, and leaves an empty file.
    let failed = !status.status.success()
        || !status.stderr.is_empty()
        || String::from_utf8_lossy(&status.stdout).contains("Error code");
    match got {
        // curl writes what came on the wire: netascii, decoded here.
        Some(bytes) if !failed && matches!(client, Client::CurlNetascii) => {
            Ok(from_netascii(&bytes).unwrap_or_else(|| panic!("{said}: not netascii: {bytes:?}")))
        }
        Some(bytes) if !failed => Ok(bytes),
        _ => Err(said),
    }
}

/// Netascii (RFC 764: CR LF for a new line, CR NUL for a CR) to bytes;
/// `None` for a CR or LF outside those pairs.
fn from_netascii(wire: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(wire.len());
    let mut bytes = wire.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'\r' => match bytes.next()? {
                b'\n' => out.push(b'\n'),
                0 => out.push(b'\r'),
                _ => return None,
            },
            b'\n' => return None,
            b => out.push(b),
        }
    }
    Some(out)
}

fn fetch(lab: &Lab, client: Client, path: &str) -> String {
    let bytes = try_fetch(lab, client, path)
        .unwrap_or_else(|e| panic!("{e}\nserver log:\n{}", lab.server.log()));
    String::from_utf8(bytes).unwrap()
}

/// The same path over HTTP (curl), rendered by the same code.
fn over_http(lab: &Lab, path: &str) -> String {
    let out = Command::new("curl")
        .args(["-sSf", &format!("http://{}/{path}", lab.http)])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "curl http {path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn grub_script_check(lab: &Lab, text: &str) {
    require_tool("grub-script-check");
    let path = lab.dir.0.join(format!("check-{}.cfg", awl_tests::unique()));
    std::fs::write(&path, text).unwrap();
    let out = Command::new("grub-script-check")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "grub-script-check: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The line of `text` that starts (after blanks) with `word`.
fn line<'t>(text: &'t str, word: &str) -> &'t str {
    text.lines()
        .map(str::trim_start)
        .find(|l| l.starts_with(word))
        .unwrap_or_else(|| panic!("no {word} line in:\n{text}"))
}

#[test]
fn loaders_get_their_configs_over_tftp_from_every_client() {
    let lab = lab("127.0.0.91");
    let grub_web1 = format!("grub/grub.cfg-01-{WEB1_DASHED}");
    let pxe_web1 = format!("pxelinux.cfg/01-{WEB1_DASHED}");
    let pxe_db1 = format!("pxelinux.cfg/01-{DB1_DASHED}");
    for client in CLIENTS {
        // GRUB, as shim and GRUB ask under their prefix: web1 installs.
        let grub = fetch(&lab, client, &grub_web1);
        let linux = line(&grub, "linux ");
        assert!(
            linux.contains("tiny/vmlinuz") && linux.contains("console=ttyS0"),
            "{client:?}: {linux}\n{grub}"
        );
        assert!(linux.contains("inst.ks="), "{client:?}: {linux}");
        assert!(line(&grub, "initrd ").contains("tiny/initrd.img"), "{grub}");
        assert_eq!(
            grub,
            over_http(&lab, &grub_web1),
            "{client:?}: as over HTTP"
        );
        grub_script_check(&lab, &grub);

        // pxelinux: web1 installs, db1 boots its disk.
        let pxe = fetch(&lab, client, &pxe_web1);
        assert_eq!(line(&pxe, "KERNEL "), "KERNEL /tiny/vmlinuz", "{pxe}");
        let append = line(&pxe, "APPEND ");
        assert!(
            append.contains("initrd=/tiny/initrd.img") && append.contains("console=ttyS0"),
            "{client:?}: {append}"
        );
        assert_eq!(pxe, over_http(&lab, &pxe_web1), "{client:?}: as over HTTP");
        let local = fetch(&lab, client, &pxe_db1);
        assert_eq!(line(&local, "LOCALBOOT"), "LOCALBOOT 0", "{local}");
        assert!(!local.contains("KERNEL"), "{local}");

        // The catch-all names: the menus, local disk first.
        let menu = fetch(&lab, client, "pxelinux.cfg/default");
        assert!(menu.contains("UI menu.c32"), "{menu}");
        assert_eq!(line(&menu, "DEFAULT "), "DEFAULT local", "{menu}");
        assert!(menu.contains("MENU LABEL Install tiny"), "{menu}");
        let grub_menu = fetch(&lab, client, "grub/grub.cfg");
        assert!(grub_menu.contains("menuentry"), "{grub_menu}");
        grub_script_check(&lab, &grub_menu);

        // iPXE's first script: chains to the machine's own over HTTP.
        let chain = fetch(&lab, client, "boot.ipxe");
        assert!(chain.starts_with("#!ipxe"), "{chain}");
        assert!(
            chain.contains(&format!("http://{}/ipxe?mac=${{net0/mac}}", lab.http)),
            "{chain}"
        );
        assert_eq!(chain, over_http(&lab, "boot.ipxe"));
    }
    // The real files beside them are still served as they are.
    let kernel = fetch(&lab, Client::TftpHpa, "tiny/vmlinuz");
    assert_eq!(kernel, "not really a kernel\n");
    let log = lab.server.log();
    // One line per rendered answer: the name, the client's address, what
    // the machine gets.
    assert!(
        log.lines()
            .any(|l| l.contains(&format!("tftp: \"{pxe_web1}\" for 127."))
                && l.ends_with(": system web1 installs profile tiny (rendered)")),
        "{log}"
    );
    assert!(
        log.contains("system db1 boots from its disk (netboot never)"),
        "{log}"
    );
}

#[test]
fn unknown_names_stay_not_found() {
    let lab = lab("127.0.0.92");
    for path in [
        // Not a boot config at all.
        "nothing.bin",
        "grub/grub.cfg.bak",
        "pxelinux.cfg/not-a-key",
        // A loader working down to `default`: by address, and by a MAC or
        // UUID no system has (pxelinux asks by UUID before the MAC).
        "pxelinux.cfg/7F00005C",
        "pxelinux.cfg/01-52-54-00-99-99-99",
        "pxelinux.cfg/12345678-1234-1234-1234-123456789abc",
        "grub/grub.cfg-01-52-54-00-99-99-99",
        "grub/grub.cfg-7F00005C",
    ] {
        for (client, says) in [
            // curl's exit 68 is "TFTP: File Not Found".
            (Client::Curl, "exit Some(68)"),
            (Client::TftpHpa, "Error code 1: file not found"),
            (Client::Atftp, "error received from server <file not found>"),
        ] {
            let said = try_fetch(&lab, client, path).expect_err(path);
            assert!(said.contains(says), "{path}: {said}\n{}", lab.server.log());
        }
    }
    // A system without a profile that netboots all the same (as a
    // `[[dhcp.host]]` machine does) is answered as an unknown machine: its
    // own names are not found, so the loader goes on to the menu, and
    // iPXE gets the menu.
    awl(
        &lab.inventory,
        &[
            "system",
            "add",
            "kiosk",
            "--mac",
            "52:54:00:12:34:58",
            "--netboot",
            "always",
        ],
    );
    for path in [
        "pxelinux.cfg/01-52-54-00-12-34-58",
        "grub/grub.cfg-01-52-54-00-12-34-58",
    ] {
        let said = try_fetch(&lab, Client::Curl, path).expect_err(path);
        assert!(said.contains("exit Some(68)"), "{path}: {said}");
    }
    let script = over_http(&lab, "ipxe?mac=52:54:00:12:34:58&platform=pcbios");
    assert!(script.contains("choose an install"), "{script}");
    assert!(
        lab.server.log().contains(
            "system kiosk has no profile (netboot always): answered as an unknown machine"
        ),
        "{}",
        lab.server.log()
    );
}

#[test]
fn a_real_file_wins_and_an_edit_changes_the_next_answer() {
    let lab = lab("127.0.0.93");
    let pxe_web1 = format!("pxelinux.cfg/01-{WEB1_DASHED}");
    let rendered = fetch(&lab, Client::Curl, "pxelinux.cfg/default");
    assert!(rendered.contains("UI menu.c32"), "{rendered}");

    // A real file of the same name, written while awl serves, wins.
    let real = "DEFAULT mine\nLABEL mine\n    KERNEL mine/vmlinuz\n";
    write(&lab.root, "pxelinux.cfg/default", real);
    for client in CLIENTS {
        assert_eq!(
            fetch(&lab, client, "pxelinux.cfg/default"),
            real,
            "{client:?}"
        );
    }
    // The other names of the folder are still rendered.
    let pxe = fetch(&lab, Client::Curl, &pxe_web1);
    assert_eq!(line(&pxe, "KERNEL "), "KERNEL /tiny/vmlinuz", "{pxe}");
    // And so is the menu again once the file is gone.
    std::fs::remove_file(lab.root.join("pxelinux.cfg/default")).unwrap();
    assert_eq!(
        fetch(&lab, Client::TftpHpa, "pxelinux.cfg/default"),
        rendered
    );

    // The same for boot.ipxe and a GRUB config.
    write(&lab.root, "boot.ipxe", "#!ipxe\nexit\n");
    assert_eq!(fetch(&lab, Client::Atftp, "boot.ipxe"), "#!ipxe\nexit\n");
    let grub_web1 = format!("grub/grub.cfg-01-{WEB1_DASHED}");
    write(&lab.root, &grub_web1, "set timeout=5\n");
    assert_eq!(fetch(&lab, Client::TftpHpa, &grub_web1), "set timeout=5\n");
    std::fs::remove_file(lab.root.join(&grub_web1)).unwrap();

    // An edit with the CLI changes the very next answer.
    let grub = fetch(&lab, Client::Curl, &grub_web1);
    assert!(line(&grub, "linux ").contains("tiny/vmlinuz"), "{grub}");
    awl(
        &lab.inventory,
        &["system", "edit", "web1", "--netboot", "never"],
    );
    let pxe = fetch(&lab, Client::TftpHpa, &pxe_web1);
    assert_eq!(line(&pxe, "LOCALBOOT"), "LOCALBOOT 0", "{pxe}");
    assert!(!pxe.contains("KERNEL"), "{pxe}");
    let grub = fetch(&lab, Client::Curl, &grub_web1);
    assert!(!grub.contains("linux "), "{grub}");
    grub_script_check(&lab, &grub);
    // And back.
    awl(
        &lab.inventory,
        &["system", "edit", "web1", "--netboot", "always"],
    );
    let pxe = fetch(&lab, Client::Atftp, &pxe_web1);
    assert_eq!(line(&pxe, "KERNEL "), "KERNEL /tiny/vmlinuz", "{pxe}");
    // A system added while awl serves is known at once.
    awl(
        &lab.inventory,
        &[
            "system",
            "add",
            "new1",
            "--mac",
            "52:54:00:12:34:58",
            "--profile",
            "tiny",
        ],
    );
    let pxe = fetch(
        &lab,
        Client::CurlNetascii,
        "pxelinux.cfg/01-52-54-00-12-34-58",
    );
    assert_eq!(line(&pxe, "KERNEL "), "KERNEL /tiny/vmlinuz", "{pxe}");
    assert!(pxe.contains("new1"), "{pxe}");
}

fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}
