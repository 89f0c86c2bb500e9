//! No silent death of a service: when the DHCP side cannot write its lease
//! journal, awl stops (exit status 1, the reason on stderr and in the log)
//! instead of serving TFTP on alone, never ACKs a lease the journal does not
//! hold, and a full disk never cuts the journal short. Each test mounts its
//! own small file system (a tmpfs, an ext4 image on a loop device) on a
//! folder it creates, and unmounts it at the end, also on failure.

use std::fs::File;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::time::Duration;

use awl_tests::dhcp_client::{client_socket, dora};
use awl_tests::{awl_binary, pattern, require_tool, wait_until, Child, NetnsPair, TempDir};

/// A file system mounted on a new folder; unmounted when dropped.
struct Mount(PathBuf);

impl Mount {
    /// `mount ARGS AT`.
    fn new(at: PathBuf, args: &[&str]) -> Self {
        std::fs::create_dir_all(&at).unwrap();
        let out = Command::new("mount").args(args).arg(&at).output().unwrap();
        assert!(
            out.status.success(),
            "mount {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self(at)
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// `awl serve` in the server namespace of `net`: DHCP with the pool .20 to
/// .250 and the lease journal `journal`, TFTP on the server's address. Its
/// log (stdout) and stderr go to separate files in `dir`, and how it ended
/// can be read (which `AwlServer` does not offer). Killed when dropped if
/// still running.
struct Awl {
    child: Child,
    log: PathBuf,
    stderr: PathBuf,
}

impl Awl {
    fn start(net: &NetnsPair, dir: &Path, tftp_root: &Path, journal: &Path) -> Self {
        let subnet = net.server_ip.rsplit_once('.').unwrap().0;
        let (log, stderr) = (dir.join("awl.log"), dir.join("awl.stderr"));
        let child = Command::new("ip")
            .args(["netns", "exec", &net.server])
            .arg(awl_binary())
            .arg("serve")
            .arg("--tftp-root")
            .arg(tftp_root)
            .args(["--tftp-listen", &format!("{}:69", net.server_ip)])
            .args(["--interface", &net.server_if, "--dhcp-range"])
            .arg(format!("{subnet}.20,{subnet}.250"))
            .arg("--lease-file")
            .arg(journal)
            .stdout(File::create(&log).unwrap())
            .stderr(File::create(&stderr).unwrap())
            .spawn()
            .expect("start awl serve");
        let mut awl = Self {
            child: Child(child),
            log,
            stderr,
        };
        wait_until(Duration::from_secs(20), "awl serves (or ends)", || {
            awl.log().contains("tftp: serving") || awl.exited().is_some()
        });
        assert!(
            awl.exited().is_none(),
            "awl did not start: {}",
            awl.output()
        );
        assert!(awl.log().contains("dhcp: serving"), "{}", awl.output());
        awl
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn output(&self) -> String {
        format!(
            "\n--- log ---\n{}--- stderr ---\n{}",
            self.log(),
            self.stderr()
        )
    }

    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.0.try_wait().unwrap()
    }

    /// Waits until awl ends; its exit status.
    fn ended(&mut self, what: &str) -> ExitStatus {
        wait_until(Duration::from_secs(30), what, || self.exited().is_some());
        self.exited().unwrap()
    }

    /// Checks that awl ended with status 1, the reason (the journal's path
    /// and `why`) on stderr and logged at error level.
    fn assert_stopped_by(&mut self, journal: &Path, why: &str) {
        let status = self.ended("awl stops");
        assert_eq!(status.code(), Some(1), "{status}: {}", self.output());
        let reason = format!("lease journal {}", journal.display());
        let stderr = self.stderr();
        assert!(
            stderr.contains("awl: dhcp stopped: ")
                && stderr.contains(&reason)
                && stderr.contains(why),
            "{}",
            self.output()
        );
        assert!(
            self.log()
                .lines()
                .any(|l| l.contains("ERROR") && l.contains(&reason) && l.contains(why)),
            "{}",
            self.output()
        );
    }
}

/// Whole DORAs, one client (MAC address) at a time, from a thread inside
/// the client namespace of `net`.
struct Clients {
    macs: Sender<[u8; 6]>,
    acks: Receiver<Option<Ipv4Addr>>,
}

impl Clients {
    fn new(net: &NetnsPair) -> Self {
        let (macs, asked) = channel::<[u8; 6]>();
        let (answer, acks) = channel();
        let (ns, ifname) = (net.client.clone(), net.client_if.clone());
        let server: Ipv4Addr = net.server_ip.parse().unwrap();
        std::thread::spawn(move || {
            let socket = client_socket(&ns, &ifname);
            for mac in asked {
                let xid = u32::from_be_bytes([0x5f, mac[3], mac[4], mac[5]]);
                if answer.send(dora(&socket, mac, xid, server)).is_err() {
                    return;
                }
            }
        });
        Self { macs, acks }
    }

    /// The address the client `mac` was ACKed, if any.
    fn lease(&self, mac: [u8; 6]) -> Option<Ipv4Addr> {
        self.macs.send(mac).unwrap();
        self.acks.recv().expect("the DHCP client thread failed")
    }
}

/// `awl leases --lease-file JOURNAL`.
fn listed(journal: &Path) -> String {
    let out = Command::new(awl_binary())
        .args(["leases", "--lease-file"])
        .arg(journal)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every address in `acked` is listed in `journal`.
fn assert_listed(journal: &Path, acked: &[Ipv4Addr]) {
    let listed = listed(journal);
    for ip in acked {
        assert!(
            listed.contains(&format!(" {ip} ")),
            "{ip} was ACKed but is not in the journal:\n{listed}"
        );
    }
}

#[test]
fn a_full_disk_stops_awl_and_keeps_every_acked_lease() {
    let net = NetnsPair::new(83, 0);
    let dir = TempDir::new("full-disk");
    // 16 pages: after the filler, the journal can grow only within its
    // last page.
    let disk = Mount::new(
        dir.0.join("disk"),
        &["-t", "tmpfs", "-o", "size=64k", "tmpfs"],
    );
    let journal = disk.0.join("leases");
    let mut awl = Awl::start(&net, &dir.0, &dir.0, &journal);
    let clients = Clients::new(&net);
    let mac = |n: u8| [0x02, 0xd1, 0x5c, 0, 0, n];

    // Leases while there is room.
    let mut acked: Vec<Ipv4Addr> = (0..5)
        .map(|n| {
            clients
                .lease(mac(n))
                .unwrap_or_else(|| panic!("client {n}: no ACK{}", awl.output()))
        })
        .collect();
    let before = std::fs::read(&journal).unwrap();

    // Fill the disk.
    let mut filler = File::create(disk.0.join("filler")).unwrap();
    let chunk = vec![0x55u8; 4096];
    loop {
        match filler.write(&chunk) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
            Err(e) => panic!("filler: {e}"),
        }
    }
    drop(filler);

    // More clients, until the journal cannot grow and awl stops.
    let mut after_full = 0;
    for n in 5..=230 {
        if awl.exited().is_some() {
            break;
        }
        if let Some(ip) = clients.lease(mac(n)) {
            acked.push(ip);
            after_full += 1;
        }
    }
    awl.assert_stopped_by(&journal, "No space left on device");

    // Not one byte of what was there is gone, the file ends with a whole
    // record (the one cut off by the full disk was taken out again), and it
    // holds exactly the leases ACKed: none was ACKed without being on disk.
    let after = std::fs::read(&journal).unwrap();
    assert!(after.starts_with(&before), "the journal lost records");
    assert!(after.ends_with(b"\n"), "torn record at the end");
    let text = String::from_utf8(after).unwrap();
    assert!(text.lines().all(|l| l.starts_with("bound ")), "{text}");
    assert_eq!(text.lines().count(), acked.len(), "{text}");
    assert_listed(&journal, &acked);
    assert!(after_full > 0, "the journal never grew after the filler");
    eprintln!(
        "{} leases ACKed, {after_full} of them once the disk was full; then: {}",
        acked.len(),
        awl.stderr().trim()
    );
}

/// Fetches `file` over TFTP with curl from the client namespace; `None`
/// when that fails.
fn fetch(net: &NetnsPair, dir: &Path, file: &str) -> Option<Vec<u8>> {
    let out = dir.join("fetched");
    let _ = std::fs::remove_file(&out);
    let fetched = Command::new("ip")
        .args([
            "netns",
            "exec",
            &net.client,
            "curl",
            "-sS",
            "--max-time",
            "10",
        ])
        .arg(format!("tftp://{}/{file}", net.server_ip))
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap();
    fetched.success().then(|| std::fs::read(&out).unwrap())
}

#[test]
fn a_journal_that_cannot_be_written_stops_awl_serving_tftp() {
    require_tool("curl");
    require_tool("mkfs.ext4");
    require_tool("findmnt");
    let net = NetnsPair::new(84, 0);
    let dir = TempDir::new("failed-disk");
    let image = dir.0.join("disk.img");
    File::create(&image).unwrap().set_len(8 << 20).unwrap();
    let made = Command::new("mkfs.ext4")
        .args(["-q", "-F"])
        .arg(&image)
        .status()
        .unwrap();
    assert!(made.success());
    // On an error, ext4 turns the file system read-only.
    let mount_args = ["-o", "loop,errors=remount-ro", image.to_str().unwrap()];
    let disk = Mount::new(dir.0.join("disk"), &mount_args);
    let journal = disk.0.join("leases");
    let root = dir.0.join("root");
    std::fs::create_dir(&root).unwrap();
    let boot = pattern(100_000, 84);
    std::fs::write(root.join("boot.bin"), &boot).unwrap();
    let mut awl = Awl::start(&net, &dir.0, &root, &journal);
    let clients = Clients::new(&net);

    // Serving both: a file over TFTP, a lease on disk.
    assert_eq!(fetch(&net, &dir.0, "boot.bin").as_ref(), Some(&boot));
    let first = clients
        .lease([0x02, 0xd2, 0, 0, 0, 1])
        .unwrap_or_else(|| panic!("no ACK{}", awl.output()));

    // The disk fails under awl.
    let source = Command::new("findmnt")
        .args(["-n", "-o", "SOURCE"])
        .arg(&disk.0)
        .output()
        .unwrap();
    let source = String::from_utf8(source.stdout).unwrap();
    let device = Path::new(source.trim()).file_name().unwrap();
    let trigger = Path::new("/sys/fs/ext4")
        .join(device)
        .join("trigger_fs_error");
    std::fs::write(&trigger, "1").unwrap();

    let second = clients.lease([0x02, 0xd2, 0, 0, 0, 2]);
    assert_eq!(second, None, "ACKed without the journal{}", awl.output());
    awl.assert_stopped_by(&journal, "Read-only file system");
    assert_eq!(
        fetch(&net, &dir.0, "boot.bin"),
        None,
        "TFTP still served after awl stopped"
    );

    // The lease ACKed before the failure is on disk.
    drop(awl);
    drop(disk);
    let disk = Mount::new(dir.0.join("disk"), &mount_args);
    assert_listed(&disk.0.join("leases"), &[first]);
}
