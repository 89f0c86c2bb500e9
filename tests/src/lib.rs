//! Helpers shared by awl's end-to-end tests.

pub mod dhcp_client;
pub mod tiny;

use std::path::{Path, PathBuf};

pub use awl::tools::capture::{udp_datagrams, Datagram};

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A capture made by `tests/capture/capture.sh`.
pub fn captured(name: &str) -> PathBuf {
    repo_root().join("tests/vectors/captured").join(name)
}

/// The UDP datagrams of a capture made here; panics when it cannot be read.
pub fn captured_datagrams(name: &str) -> Vec<Datagram> {
    let path = captured(name);
    udp_datagrams(&path).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()))
}

/// `../shared/vectors` (public captures from other projects, read in place,
/// never copied into this repository), or `AWL_SHARED_VECTORS` when set.
///
/// CI always has the folder. Elsewhere a test that needs it says plainly
/// that it is absent and returns `None`; under `CI=true`, absence panics, so
/// it can never pass by skipping.
pub fn shared_vectors() -> Option<PathBuf> {
    let dir = std::env::var_os("AWL_SHARED_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/vectors"));
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "CI=true but the shared vectors folder {} is absent",
            dir.display()
        );
    }
    eprintln!(
        "NOT RUN: the shared vectors folder {} is absent, so this test checked nothing",
        dir.display()
    );
    None
}

/// The `awl` binary of this workspace, built (once per test process) so a
/// stale binary is never tested.
pub fn awl_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = std::process::Command::new(cargo)
                .args(["build", "-p", "awl", "--bin", "awl"])
                .current_dir(repo_root())
                .status()
                .expect("run cargo build");
            assert!(status.success(), "cargo build -p awl failed");
            repo_root().join("target/debug/awl")
        })
        .clone()
}

/// How long [`try_wait_for`] sleeps between two polls.
const POLL_EVERY: std::time::Duration = std::time::Duration::from_millis(15);

/// Polls `f` until it returns `Some`, sleeping briefly between polls, and
/// returns that value; `None` once `limit` has passed (after one last poll
/// at or past the limit, so a condition met just in time still counts).
///
/// The one poll loop of the tests: [`try_wait_until`], [`wait_for`] and
/// [`wait_until`] are this. Tests wait for the condition an assertion
/// checks, never a fixed time before asserting it.
///
/// For a caller that reports a timeout with its own context (a log, say);
/// otherwise use [`wait_for`] or [`wait_until`].
#[must_use]
pub fn try_wait_for<T>(limit: std::time::Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = std::time::Instant::now();
    loop {
        if let Some(value) = f() {
            return Some(value);
        }
        let waited = start.elapsed();
        if waited >= limit {
            return None;
        }
        std::thread::sleep(POLL_EVERY.min(limit - waited));
    }
}

/// Polls `condition` until it returns true; whether it did before `limit`
/// passed. For a caller that fails with its own context:
/// `assert!(try_wait_until(limit, || ...), "...{}", server.log())`.
#[must_use]
pub fn try_wait_until(limit: std::time::Duration, mut condition: impl FnMut() -> bool) -> bool {
    try_wait_for(limit, || condition().then_some(())).is_some()
}

/// Polls `f` until it returns `Some` and returns that value; panics naming
/// `what` and `limit` when `limit` passes first.
///
/// `what` reads as what was awaited: "the server logs the upload".
pub fn wait_for<T>(limit: std::time::Duration, what: &str, f: impl FnMut() -> Option<T>) -> T {
    try_wait_for(limit, f)
        .unwrap_or_else(|| panic!("timed out after {limit:?} waiting until {what}"))
}

/// Polls `condition` until it returns true; panics naming `what` and
/// `limit` when `limit` passes first. How tests wait for something to
/// happen: never sleep a fixed time and then assert.
///
/// `what` reads as what was awaited: "the server logs the upload".
pub fn wait_until(limit: std::time::Duration, what: &str, mut condition: impl FnMut() -> bool) {
    wait_for(limit, what, || condition().then_some(()))
}

/// Panics (never skips) when a tool a test needs is not installed.
pub fn require_tool(tool: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|p| p.join(tool).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "{tool} is not installed: ./test.sh installs it (apt-get install)"
    );
}

/// A running `awl serve`, ended by its PID when dropped.
pub struct AwlServer {
    child: std::process::Child,
    log: PathBuf,
}

impl AwlServer {
    /// Starts `awl serve ARGS` (inside network namespace `netns` when
    /// given) and waits until TFTP is listening.
    pub fn start(netns: Option<&str>, args: &[&str]) -> Self {
        Self::start_command(netns, "serve", args)
    }

    /// Starts `awl COMMAND ARGS` (`serve`, or `boot`, which serves too) and
    /// waits until TFTP is listening.
    pub fn start_command(netns: Option<&str>, subcommand: &str, args: &[&str]) -> Self {
        let log =
            std::env::temp_dir().join(format!("awl-test-{}-{}.log", std::process::id(), unique()));
        let file = std::fs::File::create(&log).expect("log file");
        let mut command = match netns {
            Some(ns) => {
                let mut c = std::process::Command::new("ip");
                c.args(["netns", "exec", ns]).arg(awl_binary());
                c
            }
            None => std::process::Command::new(awl_binary()),
        };
        let child = command
            .arg(subcommand)
            .args(args)
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .expect("start awl serve");
        let server = Self { child, log };
        server.wait_for_log(std::time::Duration::from_secs(20), &["tftp: serving"]);
        server
    }

    /// Everything the server has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log contains every one of `lines`; fails with the
    /// log when `limit` passes first.
    pub fn wait_for_log(&self, limit: std::time::Duration, lines: &[&str]) {
        assert!(
            try_wait_until(limit, || {
                let log = self.log();
                lines.iter().all(|line| log.contains(line))
            }),
            "no {lines:?} in awl's log within {limit:?}:\n{}",
            self.log()
        );
    }
}

impl Drop for AwlServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A number no other caller in this process gets.
pub fn unique() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// A fresh directory under the system's temporary folder, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// Creates it.
    pub fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("awl-{name}-{}-{}", std::process::id(), unique()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A small tmpfs mounted on a folder (a disk that fills), unmounted when
/// dropped.
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` (`256k`) on `dir` (needs root).
    pub fn new(dir: &Path, size: &str) -> Self {
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .expect("mount (run the tests as root)");
        assert!(status.success(), "mount -t tmpfs: run the tests as root");
        Self(dir.to_path_buf())
    }

    /// Fills it: a file `filler` as large as the room left (`dd` stops at
    /// ENOSPC); remove it to make room again.
    pub fn fill(&self) -> PathBuf {
        let filler = self.0.join("filler");
        let _ = std::process::Command::new("dd")
            .args(["if=/dev/zero", "bs=4k"])
            .arg(format!("of={}", filler.display()))
            .stderr(std::process::Stdio::null())
            .status();
        filler
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// Deterministic file contents of `len` bytes (differs by `seed`).
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Two network namespaces joined by a veth pair (server side `.1`, client
/// side `.2` of 10.77.N.0/24), with optional random loss on what each side
/// receives (nftables `numgen random` in the prerouting hook: this kernel
/// has no netem). Removed on drop. Only these namespaces carry traffic.
pub struct NetnsPair {
    /// The server's namespace.
    pub server: String,
    /// The client's namespace.
    pub client: String,
    /// The server's address.
    pub server_ip: String,
    /// The server side's interface (inside `server`).
    pub server_if: String,
    /// The client side's interface (inside `client`).
    pub client_if: String,
}

fn run(args: &[&str]) {
    let out = std::process::Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect(args[0]);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl NetnsPair {
    /// Creates the pair; `subnet` (1–254) must differ between tests that
    /// run at the same time.
    pub fn new(subnet: u8, loss_percent: u8) -> Self {
        Self::with_loss(subnet, loss_percent, loss_percent)
    }

    /// As [`NetnsPair::new`], with loss set per direction: `to_client` is
    /// dropped on arrival in the client namespace, `to_server` on arrival
    /// in the server namespace.
    pub fn with_loss(subnet: u8, to_client: u8, to_server: u8) -> Self {
        require_tool("ip");
        require_tool("nft");
        let tag = format!("{}-{subnet}", std::process::id());
        let (server, client) = (format!("awls-{tag}"), format!("awlc-{tag}"));
        let (sv, cv) = (
            format!("vs{subnet}x{}", std::process::id() % 10_000),
            format!("vc{subnet}x{}", std::process::id() % 10_000),
        );
        let pair = Self {
            server: server.clone(),
            client: client.clone(),
            server_ip: format!("10.77.{subnet}.1"),
            server_if: sv.clone(),
            client_if: cv.clone(),
        };
        run(&["ip", "netns", "add", &server]);
        run(&["ip", "netns", "add", &client]);
        run(&[
            "ip", "-n", &server, "link", "add", &sv, "type", "veth", "peer", "name", &cv, "netns",
            &client,
        ]);
        for (ns, dev, ip, loss_percent) in
            [(&server, &sv, 1, to_server), (&client, &cv, 2, to_client)]
        {
            run(&[
                "ip",
                "-n",
                ns,
                "addr",
                "add",
                &format!("10.77.{subnet}.{ip}/24"),
                "dev",
                dev,
            ]);
            run(&["ip", "-n", ns, "link", "set", dev, "up"]);
            run(&["ip", "-n", ns, "link", "set", "lo", "up"]);
            if loss_percent > 0 {
                let rules = format!(
                    "table inet awlloss {{\n chain pre {{\n  type filter hook prerouting priority 0;\n  \
                     meta l4proto udp numgen random mod 100 < {loss_percent} drop\n }}\n}}\n"
                );
                let mut child = std::process::Command::new("ip")
                    .args(["netns", "exec", ns, "nft", "-f", "-"])
                    .stdin(std::process::Stdio::piped())
                    .spawn()
                    .expect("nft");
                use std::io::Write;
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(rules.as_bytes())
                    .unwrap();
                assert!(child.wait().unwrap().success(), "nft rules in {ns}");
            }
        }
        pair
    }
}

impl Drop for NetnsPair {
    fn drop(&mut self) {
        for ns in [&self.server, &self.client] {
            let _ = std::process::Command::new("ip")
                .args(["netns", "del", ns])
                .status();
        }
    }
}

/// A bridge `br0` inside the client namespace joining its veth end and a
/// new tap device, so a QEMU machine started in that namespace sits on the
/// same L2 segment as the server. Returns the tap's name.
pub fn bridge_tap(net: &NetnsPair) -> String {
    let tap = format!("tap{}", &net.client_if[2..]);
    let ns = net.client.as_str();
    run(&["ip", "-n", ns, "addr", "flush", "dev", &net.client_if]);
    run(&["ip", "-n", ns, "link", "add", "br0", "type", "bridge"]);
    run(&["ip", "-n", ns, "tuntap", "add", "dev", &tap, "mode", "tap"]);
    run(&[
        "ip",
        "-n",
        ns,
        "link",
        "set",
        &net.client_if,
        "master",
        "br0",
    ]);
    run(&["ip", "-n", ns, "link", "set", &tap, "master", "br0"]);
    for dev in ["br0", tap.as_str()] {
        run(&["ip", "-n", ns, "link", "set", dev, "up"]);
    }
    tap
}

/// A child process ended by its PID when dropped.
pub struct Child(pub std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A QEMU x86_64 PC (TCG, no disk) that network-boots with the iPXE ROM of
/// its own e1000 NIC, attached to `tap` inside namespace `netns` with the
/// MAC `mac`. Its console goes nowhere; what it did shows in the servers'
/// logs. Ended when dropped.
pub fn ipxe_bios_machine(netns: &str, tap: &str, mac: &str) -> Child {
    ipxe_bios_machine_with(netns, tap, mac, &[])
}

/// [`ipxe_bios_machine`] with more QEMU arguments (`-uuid U`: its SMBIOS
/// UUID, which its ROM sends as DHCP option 97).
pub fn ipxe_bios_machine_with(netns: &str, tap: &str, mac: &str, extra: &[&str]) -> Child {
    let child = std::process::Command::new("ip")
        .args(["netns", "exec", netns, "qemu-system-x86_64"])
        .args(["-m", "256", "-machine", "pc,accel=tcg", "-display", "none"])
        .args(["-serial", "null", "-monitor", "none", "-no-reboot"])
        .args(["-boot", "n", "-netdev"])
        .arg(format!("tap,id=n0,ifname={tap},script=no,downscript=no"))
        .arg("-device")
        .arg(format!("e1000,netdev=n0,mac={mac}"))
        .args(extra)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("qemu-system-x86_64 (./test.sh installs it)");
    Child(child)
}

/// A QEMU PC with the BIOS iPXE ROM of its virtio NIC; its serial console
/// goes to `console-NAME.log` in `dir`.
pub fn tiny_machine(net: &NetnsPair, tap: &str, dir: &Path, name: &str, mac: &str) -> Child {
    let netdev = format!("tap,id=n0,ifname={tap},script=no,downscript=no");
    let console = dir.join(format!("console-{name}.log"));
    let child = std::process::Command::new("ip")
        .args(["netns", "exec", &net.client, "qemu-system-x86_64"])
        .args(["-m", "384", "-display", "none", "-monitor", "none"])
        .arg("-serial")
        .arg(format!("file:{}", console.display()))
        .args(["-machine", "pc,accel=tcg", "-boot", "n", "-no-reboot"])
        .args(["-netdev", &netdev, "-device"])
        .arg(format!("virtio-net-pci,netdev=n0,mac={mac}"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("qemu-system-x86_64 (./test.sh installs it)");
    Child(child)
}

/// dnsmasq as a network's only DHCP server (no DNS), inside `netns` on
/// `interface`, handing out `range` (dnsmasq's `--dhcp-range` syntax). Its
/// log (`--log-dhcp`) and lease file go to `dir`; returns the process and
/// the log's path.
pub fn dnsmasq_dhcp(netns: &str, interface: &str, range: &str, dir: &Path) -> (Child, PathBuf) {
    let log = dir.join("dnsmasq.log");
    let child = std::process::Command::new("ip")
        .args(["netns", "exec", netns, "dnsmasq", "--no-daemon", "--port=0"])
        .args(["--bind-interfaces", "--log-dhcp", "--log-facility=-"])
        .arg(format!("--interface={interface}"))
        .arg(format!("--dhcp-range={range}"))
        .arg(format!(
            "--dhcp-leasefile={}",
            dir.join("dnsmasq.leases").display()
        ))
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("dnsmasq (./test.sh installs it)");
    (Child(child), log)
}

/// `awl serve` in the server namespace of `net` as the network's DHCP
/// server (pool .100 to .110 of the pair's /24, TFTP on the server's
/// address, the lease journal and TFTP root in `dir`), then `extra`. The
/// client side's address is flushed first: it gets one by DHCP.
pub fn serve_dhcp(net: &NetnsPair, dir: &TempDir, extra: &[&str]) -> AwlServer {
    let status = std::process::Command::new("ip")
        .args(["-n", &net.client, "addr", "flush", "dev", &net.client_if])
        .status()
        .unwrap();
    assert!(status.success());
    let subnet = net.server_ip.rsplit_once('.').unwrap().0.to_string();
    let range = format!("{subnet}.100,{subnet}.110");
    let lease_file = dir.0.join("leases");
    let root = dir.0.to_str().unwrap().to_string();
    let listen = format!("{}:69", net.server_ip);
    let mut args = vec![
        "--tftp-root",
        &root,
        "--tftp-listen",
        &listen,
        "--interface",
        &net.server_if,
        "--dhcp-range",
        &range,
        "--lease-file",
        lease_file.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let server = AwlServer::start(Some(&net.server), &args);
    assert!(server.log().contains("dhcp: serving"), "{}", server.log());
    server
}

/// `awl serve`'s flags for a whole install network in `net`'s server
/// namespace: DHCP (pool .100 to .150, the lease journal `dir/leases`),
/// TFTP and HTTP (port 80) and installers' syslog (port 514) on the
/// server's address, files from `root`, the inventory `inventory`, the
/// install states in `state`.
pub fn install_serve_args(
    net: &NetnsPair,
    dir: &Path,
    root: &Path,
    inventory: &str,
    state: &Path,
) -> Vec<String> {
    let ip = &net.server_ip;
    let prefix = ip.rsplit_once('.').unwrap().0;
    vec![
        "--tftp-root".into(),
        root.display().to_string(),
        "--tftp-listen".into(),
        format!("{ip}:69"),
        "--http-listen".into(),
        format!("{ip}:80"),
        "--inventory".into(),
        inventory.into(),
        "--state-dir".into(),
        state.display().to_string(),
        "--interface".into(),
        net.server_if.clone(),
        "--dhcp-range".into(),
        format!("{prefix}.100,{prefix}.150"),
        "--lease-file".into(),
        dir.join("leases").display().to_string(),
        "--syslog-listen".into(),
        format!("{ip}:514"),
    ]
}

/// Runs `ip ARGS...` (iproute2); fails the test with its stderr if it fails.
pub fn ip(args: &[&str]) {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A namespace ended (with what runs in it) when dropped.
pub struct Namespace(pub String);

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.0])
            .status();
    }
}

/// The network's own DHCP server beside awl: dnsmasq in a third namespace
/// on the client's bridge (see [`bridge_tap`]), at `ADDR.2` of `net`'s
/// /24, handing out `.100`–`.150`. Returns the namespace, dnsmasq and its
/// log's path.
pub fn dnsmasq_beside(net: &NetnsPair, dir: &Path) -> (Namespace, Child, PathBuf) {
    let ns = Namespace(format!("awld-{}-{}", std::process::id(), unique()));
    let id = std::process::id() % 100_000;
    let (dv, dc) = (format!("vd{id}"), format!("vdc{id}"));
    let prefix = net.server_ip.rsplit_once('.').unwrap().0.to_string();
    run(&["ip", "netns", "add", &ns.0]);
    run(&[
        "ip",
        "-n",
        &ns.0,
        "link",
        "add",
        &dv,
        "type",
        "veth",
        "peer",
        "name",
        &dc,
        "netns",
        &net.client,
    ]);
    run(&[
        "ip",
        "-n",
        &ns.0,
        "addr",
        "add",
        &format!("{prefix}.2/24"),
        "dev",
        &dv,
    ]);
    run(&["ip", "-n", &ns.0, "link", "set", &dv, "up"]);
    run(&["ip", "-n", &net.client, "link", "set", &dc, "master", "br0"]);
    run(&["ip", "-n", &net.client, "link", "set", &dc, "up"]);
    let range = format!("{prefix}.100,{prefix}.150,255.255.255.0,1h");
    let (child, log) = dnsmasq_dhcp(&ns.0, &dv, &range, dir);
    (ns, child, log)
}

/// Runs `awl ARGS --inventory FILE` (an inventory edit or query) and
/// fails the test, with awl's stderr, when it does not succeed.
pub fn awl_inventory(inventory: &str, args: &[&str]) {
    let out = std::process::Command::new(awl_binary())
        .args(args)
        .args(["--inventory", inventory])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "awl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes `qemu` (a `qemu-system-x86_64` command) an OVMF machine: q35,
/// OVMF's code read-only, its variables in `vars` (a copy of OVMF's
/// fresh variables, made when missing, kept across power-ons), and a
/// virtio NIC on `-netdev` `n0` with MAC `mac` that boots first with
/// OVMF's own UEFI PXE (no option ROM).
pub fn ovmf_machine(qemu: &mut std::process::Command, vars: &Path, mac: &str) {
    if !vars.exists() {
        std::fs::copy("/usr/share/OVMF/OVMF_VARS_4M.fd", vars)
            .expect("ovmf (./test.sh installs it)");
    }
    qemu.args(["-machine", "q35,accel=tcg", "-drive"])
        .arg("if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd")
        .arg("-drive")
        .arg(format!("if=pflash,format=raw,file={}", vars.display()))
        .arg("-device")
        .arg(format!(
            "virtio-net-pci,netdev=n0,mac={mac},romfile=,bootindex=0"
        ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn wait_until_polls_until_the_condition_holds() {
        let mut polls = 0;
        wait_until(Duration::from_secs(5), "the third poll", || {
            polls += 1;
            polls == 3
        });
        assert_eq!(polls, 3);
    }

    #[test]
    #[should_panic(expected = "timed out after 50ms waiting until it never happens")]
    fn wait_until_names_what_and_the_limit() {
        wait_until(Duration::from_millis(50), "it never happens", || false);
    }

    #[test]
    fn try_wait_for_gives_the_value_or_none_after_polling_at_the_limit() {
        assert_eq!(try_wait_for(Duration::ZERO, || Some(7)), Some(7));
        let mut polls = 0;
        let started = std::time::Instant::now();
        let none: Option<()> = try_wait_for(Duration::from_millis(50), || {
            polls += 1;
            None
        });
        assert!(none.is_none() && started.elapsed() >= Duration::from_millis(50));
        assert!(polls >= 2, "{polls} polls");
        assert_eq!(
            wait_for(Duration::from_secs(5), "a value", || Some("v")),
            "v"
        );
    }
}
