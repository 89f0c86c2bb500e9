//! Importing a disk image (family `image`): a folder as
//! `images/debian-image.sh` and `images/deploy-env.sh` leave it, found by
//! its content:
//!
//! * one raw disk image, `*.img` or `*.raw`, with a partition table (the
//!   MBR boot signature `55 AA` at byte 510);
//! * the deploy environment beside it: `deploy/vmlinuz` and
//!   `deploy/initrd.img` (the kernel and initrd awl boots to write the
//!   image; see docs/images.md).
//!
//! The image's SHA-256 is computed here, once, and kept in the distro
//! (`image_sha256`): the deploy environment checks the bytes it wrote
//! against it before the disk may boot.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use sha2::{Digest, Sha256};

use super::import::{debian_word, kernel_arch, Found, Kind};
use super::model::{Arch, Family};

/// The deploy environment's kernel and initrd, relative to the folder.
pub const DEPLOY_KERNEL: &str = "deploy/vmlinuz";
/// See [`DEPLOY_KERNEL`].
pub const DEPLOY_INITRD: &str = "deploy/initrd.img";

/// Whether `head` (a file's first 512 bytes) starts a partitioned disk.
pub fn is_disk_image(head: &[u8]) -> bool {
    head.get(510..512) == Some(&[0x55, 0xaa][..])
}

/// The disk images in `dir` (by name and boot signature), sorted.
fn images_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| anyhow!("{}: cannot list: {e}", dir.display()))? {
        let path = entry?.path();
        let named = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e == "img" || e == "raw");
        if !named || !path.is_file() {
            continue;
        }
        let mut head = Vec::new();
        File::open(&path)
            .and_then(|f| f.take(512).read_to_end(&mut head))
            .map_err(|e| anyhow!("{}: cannot read: {e}", path.display()))?;
        if is_disk_image(&head) {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

/// An image folder at `dir`, if it is one.
pub(super) fn detect(dir: &Path, want: Option<Arch>) -> Result<Option<Found>> {
    let kernel = dir.join(DEPLOY_KERNEL);
    let initrd = dir.join(DEPLOY_INITRD);
    if !kernel.is_file() || !initrd.is_file() {
        return Ok(None);
    }
    let image = match images_in(dir)?.as_slice() {
        [] => return Ok(None),
        [one] => one.clone(),
        many => bail!(
            "{}: {} disk images beside one deploy environment ({}): keep one per folder",
            dir.display(),
            many.len(),
            many.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut head = Vec::new();
    File::open(&kernel)
        .and_then(|f| f.take(4096).read_to_end(&mut head))
        .map_err(|e| anyhow!("{}: cannot read: {e}", kernel.display()))?;
    let (arch, arch_from) = match (kernel_arch(&head), want) {
        (Some(a), Some(w)) if a != w => {
            bail!("{}: the deploy kernel is {a}, not {w}", kernel.display())
        }
        (Some(a), _) => (a, format!("the header of {}", kernel.display())),
        (None, Some(w)) => (w, "--arch".to_string()),
        (None, None) => bail!(
            "{}: cannot tell the architecture from its header: give --arch",
            kernel.display()
        ),
    };
    let stem = image
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("image")
        .to_string();
    Ok(Some(Found {
        kind: Kind::Image,
        root: dir.to_path_buf(),
        metadata: None,
        product: None,
        short: stem,
        version: None,
        arch_word: debian_word(arch).to_string(),
        arch,
        arch_from,
        family: Family::Image,
        kernel,
        initrd: vec![initrd],
        default_tree: None,
        image: Some(image),
    }))
}

/// The SHA-256 of a file, in hex, read in 1 MiB pieces.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| anyhow!("{}: cannot read: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disk_image_is_told_by_its_boot_signature() {
        let mut sector = vec![0u8; 512];
        assert!(!is_disk_image(&sector));
        sector[510] = 0x55;
        sector[511] = 0xaa;
        assert!(is_disk_image(&sector));
        assert!(!is_disk_image(&sector[..511]));
    }

    #[test]
    fn sha256_of_a_file() {
        let path = std::env::temp_dir().join(format!("awl-sha-{}", std::process::id()));
        fs::write(&path, b"abc").unwrap();
        assert_eq!(
            sha256_file(&path).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        fs::remove_file(&path).unwrap();
    }
}
