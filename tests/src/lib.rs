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
