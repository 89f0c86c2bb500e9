//! Helpers shared by awl's end-to-end tests.

use std::path::PathBuf;

pub use awl::capture::{udp_datagrams, Datagram};

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

/// Panics (never skips) when a tool a test needs is not installed.
pub fn require_tool(tool: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|p| p.join(tool).is_file()))
        .unwrap_or(false);
    assert!(found, "{tool} is not installed: ./test.sh installs it (apt-get install)");
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
        let log = std::env::temp_dir().join(format!("awl-test-{}-{}.log", std::process::id(), unique()));
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
            .arg("serve")
            .args(args)
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .expect("start awl serve");
        let server = Self { child, log };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !server.log().contains("tftp: serving") {
            assert!(std::time::Instant::now() < deadline, "awl did not start:\n{}", server.log());
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        server
    }

    /// Everything the server has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
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
        let dir = std::env::temp_dir().join(format!("awl-{name}-{}-{}", std::process::id(), unique()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
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
