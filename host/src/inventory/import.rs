//! `awl distro import PATH`: a distro from an install tree, or from an ISO
//! that is mounted or extracted, found by the files the installer itself
//! needs (see `docs/inventory.md`, "Importing a distro").
//!
//! There is no list of known releases: a tree is recognised by its layout,
//! and its product, version and architecture are read from the tree's own
//! metadata, so a release that did not exist when awl was built imports
//! the same way.
//!
//! | kind | found by | read from |
//! | --- | --- | --- |
//! | [`Kind::Treeinfo`] | `.treeinfo` (or `treeinfo`) | its `[release]` (`[product]`, `[general]`), `[tree]` and `[images-ARCH]` |
//! | [`Kind::DebianInstaller`] | `debian-installer/ARCH/linux` and `initrd.gz` (or `ubuntu-installer/`) | `version.info`, the `ARCH` folder |
//! | [`Kind::Casper`] | `casper/vmlinuz` and `casper/initrd` | `.disk/info`, else the kernel's own header |
//!
//! The parsers ([`parse_ini`], [`Treeinfo::parse`], [`parse_version_info`],
//! [`DiskInfo::parse`], [`kernel_arch`]) take text or bytes and never
//! panic; [`detect`] reads a folder; [`run`] is the command.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use clap::Args;

use super::check::name_problem;
use super::model::{Arch, Distro, Family, Inventory};
use super::store::{FileStore, Store};

/// Debian's mirror redirector: a d-i tree's default install tree (the
/// preseed's mirror), since a netboot tree holds no packages.
pub const DEBIAN_MIRROR: &str = "http://deb.debian.org/debian";

/// Ubuntu's archive: the default install tree of an Ubuntu d-i tree.
pub const UBUNTU_MIRROR: &str = "http://archive.ubuntu.com/ubuntu";

/// `awl distro import`'s flags.
#[derive(Debug, Clone, Args)]
pub struct ImportFlags {
    /// The install tree: a folder, or where an ISO is mounted or
    /// extracted.
    // Not named `path`: that is `--inventory`'s id, and clap would not
    // give this command the global flag.
    #[arg(value_name = "PATH")]
    pub tree_path: PathBuf,
    /// The distro's name [default: PRODUCT-VERSION-ARCH from the tree's
    /// metadata, e.g. rocky-9.4-x86_64, debian-12-amd64].
    #[arg(long)]
    pub name: Option<String>,
    /// The files root: the folder `awl serve --tftp-root` serves (over
    /// HTTP under /boot/ too). Kernel and initrd paths are written
    /// relative to it.
    #[arg(long, value_name = "DIR", env = "AWL_TFTP_ROOT")]
    pub files_root: Option<PathBuf>,
    /// The install tree's URL: a Red Hat tree or Debian mirror, or an
    /// Ubuntu live-server ISO ("" leaves it unset).
    #[arg(long, value_name = "URL")]
    pub tree_url: Option<String>,
    /// The base URL awl serves HTTP at (e.g. http://10.0.0.1): a Red Hat
    /// tree under the files root then gets tree = URL/boot/PATH.
    #[arg(long, value_name = "URL", conflicts_with = "tree_url")]
    pub http_url: Option<String>,
    /// The architecture, when the tree has several or does not say
    /// (awl's or Debian's word: x86_64 or amd64, aarch64 or arm64, ...).
    #[arg(long, value_parser = parse_arch)]
    pub arch: Option<Arch>,
    /// Copy the kernel and initrd(s) into FILES_ROOT/distros/NAME/
    /// (needed when PATH is outside the files root).
    #[arg(long)]
    pub copy: bool,
}

/// What kind of tree was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A Red Hat family install tree or DVD (RHEL, Rocky, AlmaLinux,
    /// CentOS Stream, Fedora, ...): `.treeinfo`.
    Treeinfo,
    /// A debian-installer netboot tree: `debian-installer/ARCH/linux` and
    /// `initrd.gz` (`ubuntu-installer/` for Ubuntu up to 20.04).
    DebianInstaller,
    /// An Ubuntu live-server ISO: `casper/vmlinuz` and `casper/initrd`.
    Casper,
    /// A raw disk image with awl's deploy environment beside it
    /// (`deploy/vmlinuz`, `deploy/initrd.img`): see [`super::image`].
    Image,
}

impl Kind {
    /// Its word, as `import` prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Treeinfo => "treeinfo",
            Self::DebianInstaller => "debian-installer",
            Self::Casper => "casper",
            Self::Image => "image",
        }
    }

    /// What it is, for people.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Treeinfo => "a Red Hat family install tree",
            Self::DebianInstaller => "a debian-installer netboot tree",
            Self::Casper => "an Ubuntu live-server tree",
            Self::Image => "a disk image with awl's deploy environment",
        }
    }
}

/// What is looked for, in the message for a folder that has none of it.
pub const LOOKED_FOR: &str = concat!(
    "  .treeinfo (or treeinfo) with [images-ARCH] kernel= and initrd=: a Red Hat family tree ",
    "(RHEL, Rocky, AlmaLinux, CentOS Stream, Fedora, ...)\n",
    "  debian-installer/ARCH/linux and initrd.gz (or ubuntu-installer/ARCH/): a Debian or Ubuntu ",
    "netboot tree\n",
    "  casper/vmlinuz and casper/initrd: an Ubuntu live-server ISO\n",
    "  NAME.img (a raw disk image) with deploy/vmlinuz and deploy/initrd.img: a disk image and ",
    "awl's deploy environment (images/debian-image.sh, images/deploy-env.sh)",
);

/// A tree that was recognised, and what it says about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Which kind.
    pub kind: Kind,
    /// The tree's top: the folder of `.treeinfo`, the netboot tree's top
    /// (above `debian-installer/`), the ISO's root.
    pub root: PathBuf,
    /// The metadata file read, if there was one.
    pub metadata: Option<PathBuf>,
    /// The product as the tree names it ("Rocky Linux", "Debian",
    /// "Ubuntu-Server"), if it does.
    pub product: Option<String>,
    /// The word the default name starts with ("Rocky", "Debian",
    /// "Ubuntu-Server"; the kind's distribution when the tree says
    /// nothing).
    pub short: String,
    /// The version, if the tree says.
    pub version: Option<String>,
    /// The architecture in the tree's own word (`x86_64`, `amd64`).
    pub arch_word: String,
    /// The architecture.
    pub arch: Arch,
    /// Where the architecture came from.
    pub arch_from: String,
    /// The OS family.
    pub family: Family,
    /// The kernel (a path inside the tree).
    pub kernel: PathBuf,
    /// The initrd(s), in order.
    pub initrd: Vec<PathBuf>,
    /// The install tree this kind gets unless `--tree-url` says otherwise.
    pub default_tree: Option<String>,
    /// Kind image: the disk image.
    pub image: Option<PathBuf>,
}

impl Found {
    /// The name it gets without `--name`: PRODUCT-VERSION-ARCH in lower
    /// case, in the tree's own words, anything but letters, digits, `.`
    /// and `_` turned into `-` (`rocky-9.4-x86_64`, `debian-12-amd64`,
    /// `ubuntu-server-24.04.1-amd64`).
    pub fn default_name(&self) -> String {
        default_name(&self.short, self.version.as_deref(), &self.arch_word)
    }

    /// What `import` prints about it.
    pub fn report(&self) -> String {
        let mut out = format!(
            "{}: {} ({})\n",
            self.root.display(),
            self.kind.describe(),
            self.metadata
                .as_deref()
                .map(|m| format!("metadata {}", m.display()))
                .unwrap_or_else(|| "no metadata file".into()),
        );
        let mut line = |key: &str, value: &str| out += &format!("  {key:<8} {value}\n");
        line("kind", self.kind.as_str());
        line("product", self.product.as_deref().unwrap_or("(not said)"));
        line("version", self.version.as_deref().unwrap_or("(not said)"));
        line(
            "arch",
            &format!("{} ({}; {})", self.arch, self.arch_word, self.arch_from),
        );
        line("family", self.family.as_str());
        line("kernel", &self.relative(&self.kernel));
        for initrd in &self.initrd {
            line("initrd", &self.relative(initrd));
        }
        out
    }

    fn relative(&self, file: &Path) -> String {
        file.strip_prefix(&self.root)
            .unwrap_or(file)
            .display()
            .to_string()
    }
}

/// `PRODUCT-VERSION-ARCH`, lower case, other characters than letters,
/// digits, `.` and `_` as `-` (see [`Found::default_name`]).
pub fn default_name(product: &str, version: Option<&str>, arch_word: &str) -> String {
    let parts: Vec<String> = [Some(product), version, Some(arch_word)]
        .into_iter()
        .flatten()
        .map(slug)
        .filter(|p| !p.is_empty())
        .collect();
    match parts.join("-") {
        name if name.is_empty() => "distro".into(),
        name => name,
    }
}

fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.trim().chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_') {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches(['-', '.']).to_string()
}

/// The architecture a word names, in awl's, Red Hat's or Debian's
/// vocabulary (`x86_64`/`amd64`, `aarch64`/`arm64`, `ppc64le`/`ppc64el`,
/// `armhf`, `armhfp`, `i686`, ...).
pub fn arch_of_word(word: &str) -> Option<Arch> {
    Some(match word.trim().to_ascii_lowercase().as_str() {
        "x86_64" | "amd64" | "x86-64" => Arch::X86_64,
        "i386" | "i486" | "i586" | "i686" => Arch::I386,
        "aarch64" | "arm64" => Arch::Aarch64,
        "arm" | "armhf" | "armel" | "armhfp" | "armv7hl" => Arch::Arm,
        "ppc64le" | "ppc64el" => Arch::Ppc64le,
        "s390x" => Arch::S390x,
        "riscv64" => Arch::Riscv64,
        _ => return None,
    })
}

/// Debian's word for an architecture (`amd64` for x86_64).
pub fn debian_word(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 => "amd64",
        Arch::I386 => "i386",
        Arch::Aarch64 => "arm64",
        Arch::Arm => "armhf",
        Arch::Ppc64le => "ppc64el",
        Arch::S390x => "s390x",
        Arch::Riscv64 => "riscv64",
    }
}

/// Reads `--arch`: [`arch_of_word`].
pub fn parse_arch(text: &str) -> Result<Arch, String> {
    arch_of_word(text).ok_or_else(|| {
        format!(
            "{text:?}: expected x86_64 (amd64), i386, aarch64 (arm64), arm (armhf), \
             ppc64le (ppc64el), s390x or riscv64"
        )
    })
}

/// An INI file as Python's configparser reads it (`.treeinfo` is one):
/// sections by name, keys in lower case. `key = value` or `key: value`;
/// lines starting with `#` or `;` are comments; an indented line continues
/// the value before it; a repeated key or section merges, the later value
/// winning. Lines it cannot read are skipped.
pub type Ini = BTreeMap<String, BTreeMap<String, String>>;

/// Reads an INI file (see [`Ini`]).
pub fn parse_ini(text: &str) -> Ini {
    let mut ini = Ini::new();
    let mut section: Option<String> = None;
    let mut last_key: Option<String> = None;
    for raw in text.lines() {
        let line = raw.trim_end();
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with(['#', ';']) {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let (Some(s), Some(k)) = (&section, &last_key) {
                if let Some(v) = ini.get_mut(s).and_then(|keys| keys.get_mut(k)) {
                    v.push('\n');
                    v.push_str(trimmed);
                }
            }
            continue;
        }
        if let Some(name) = trimmed
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
        {
            let name = name.trim().to_string();
            ini.entry(name.clone()).or_default();
            section = Some(name);
            last_key = None;
            continue;
        }
        let Some(s) = &section else { continue };
        let Some(at) = trimmed.find(['=', ':']) else {
            continue;
        };
        let key = trimmed[..at].trim().to_ascii_lowercase();
        if key.is_empty() {
            continue;
        }
        let value = trimmed[at + 1..].trim().to_string();
        ini.entry(s.clone()).or_default().insert(key.clone(), value);
        last_key = Some(key);
    }
    ini
}

/// What a `.treeinfo` says (productmd 1.0 to 1.2, and the older format
/// with only `[general]`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Treeinfo {
    /// `[release] name` (`[product]` in productmd 1.0, else `[general]
    /// family`): "Rocky Linux".
    pub product: Option<String>,
    /// `[release] short`: "Rocky"; else the product.
    pub short: Option<String>,
    /// `[release] version`, else `[general] version`.
    pub version: Option<String>,
    /// `[tree] arch`, else `[general] arch`.
    pub arch: Option<String>,
    /// Every `[images-PLATFORM]` section's kernel and initrd, by platform.
    pub images: BTreeMap<String, Images>,
}

/// An `[images-PLATFORM]` section's boot files (paths relative to the
/// tree; either may be missing).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Images {
    /// `kernel =`.
    pub kernel: Option<String>,
    /// `initrd =`.
    pub initrd: Option<String>,
}

impl Treeinfo {
    /// Reads a `.treeinfo`'s text.
    pub fn parse(text: &str) -> Self {
        let ini = parse_ini(text);
        let get = |section: &str, key: &str| {
            ini.get(section)
                .and_then(|s| s.get(key))
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let first = |keys: &[(&str, &str)]| keys.iter().find_map(|(s, k)| get(s, k));
        let product = first(&[
            ("release", "name"),
            ("product", "name"),
            ("general", "family"),
        ]);
        let images = ini
            .iter()
            .filter_map(|(name, keys)| {
                let platform = name.strip_prefix("images-")?;
                let field = |k: &str| keys.get(k).map(|v| v.trim().to_string());
                Some((
                    platform.to_string(),
                    Images {
                        kernel: field("kernel").filter(|v| !v.is_empty()),
                        initrd: field("initrd").filter(|v| !v.is_empty()),
                    },
                ))
            })
            .collect();
        Self {
            short: first(&[("release", "short"), ("product", "short")]).or(product.clone()),
            product,
            version: first(&[
                ("release", "version"),
                ("product", "version"),
                ("general", "version"),
            ]),
            arch: first(&[("tree", "arch"), ("general", "arch")]),
            images,
        }
    }
}

/// A d-i netboot tree's `version.info` (`Debian version:  12 (bookworm)`):
/// the product and version of its first `PRODUCT version: VERSION` line.
pub fn parse_version_info(text: &str) -> Option<(String, String)> {
    text.lines().find_map(|line| {
        let (product, rest) = line.split_once(" version:")?;
        let product = product.trim();
        let version = rest.split_whitespace().next()?;
        (!product.is_empty() && !product.contains(char::is_whitespace))
            .then(|| (product.to_string(), version.to_string()))
    })
}

/// An ISO's `.disk/info`, one line: `Ubuntu-Server 24.04.1 LTS "Noble
/// Numbat" - Release amd64 (20240827)`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DiskInfo {
    /// Its first word: "Ubuntu-Server".
    pub product: Option<String>,
    /// The first word after it that starts with a digit: "24.04.1".
    pub version: Option<String>,
    /// The first word after the last " - " that names an architecture.
    pub arch: Option<String>,
}

impl DiskInfo {
    /// Reads the file's text.
    pub fn parse(text: &str) -> Self {
        let line = text.lines().next().unwrap_or_default().trim();
        let mut words = line.split_whitespace();
        let product = words.next().map(str::to_string);
        let version = words
            .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
            .map(str::to_string);
        let arch = line.rsplit_once(" - ").and_then(|(_, tail)| {
            tail.split_whitespace()
                .find(|w| arch_of_word(w).is_some())
                .map(str::to_string)
        });
        Self {
            product,
            version,
            arch,
        }
    }
}

/// The architecture a kernel image was built for, from its own header:
/// the PE/COFF machine of an EFI-stub or EFI zboot kernel, the x86 boot
/// protocol's 64-bit flag, or the arm64 and RISC-V Image magic. `None`
/// for what it cannot tell (a gzip-compressed Image, say).
pub fn kernel_arch(head: &[u8]) -> Option<Arch> {
    let u16_at = |at: usize| {
        head.get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |at: usize| {
        head.get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    if head.starts_with(b"MZ") {
        let pe = u32_at(0x3c).and_then(|o| usize::try_from(o).ok());
        if let Some(pe) = pe {
            if head.get(pe..pe.saturating_add(4)) == Some(b"PE\0\0") {
                match pe.checked_add(4).and_then(u16_at) {
                    Some(0x8664) => return Some(Arch::X86_64),
                    Some(0x014c) => return Some(Arch::I386),
                    Some(0xaa64) => return Some(Arch::Aarch64),
                    Some(0x01c2 | 0x01c4) => return Some(Arch::Arm),
                    Some(0x5064) => return Some(Arch::Riscv64),
                    _ => {}
                }
            }
        }
    }
    if head.get(0x202..0x206) == Some(b"HdrS") && u16_at(0x206).is_some_and(|v| v >= 0x020c) {
        // xloadflags bit 0: XLF_KERNEL_64.
        return Some(if u16_at(0x236).is_some_and(|f| f & 1 == 1) {
            Arch::X86_64
        } else {
            Arch::I386
        });
    }
    if head.get(0x38..0x3c) == Some(b"ARM\x64") {
        return Some(Arch::Aarch64);
    }
    if head.get(0x34..0x38) == Some(b"RSC\x05") {
        return Some(Arch::Riscv64);
    }
    None
}

/// Recognises the tree at `path`, or, when `path` holds none, the one tree
/// in a folder one level down (`text/` in Debian's netboot package).
/// `want` picks an architecture (it must agree with what the tree says).
pub fn detect(path: &Path, want: Option<Arch>) -> Result<Found> {
    let meta = fs::metadata(path).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    if !meta.is_dir() {
        bail!(
            "{}: a file, not a folder: mount an ISO first (mount -o loop,ro {} DIR) or extract it, \
             then import the folder",
            path.display(),
            path.display()
        );
    }
    if let Some(found) = detect_here(path, want)? {
        return Ok(found);
    }
    let mut subs: Vec<PathBuf> = fs::read_dir(path)
        .map_err(|e| anyhow!("{}: cannot list: {e}", path.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    subs.sort();
    let mut candidates: Vec<(PathBuf, Result<Found>)> = Vec::new();
    for sub in subs {
        match detect_here(&sub, want) {
            Ok(None) => {}
            Ok(Some(found)) => candidates.push((sub, Ok(found))),
            Err(e) => candidates.push((sub, Err(e))),
        }
    }
    match candidates.len() {
        0 => bail!(
            "{}: no install tree awl knows here or one folder down; it looked for\n{LOOKED_FOR}\n\
             (anything else: awl distro add NAME --kernel FILE --initrd FILE)",
            path.display()
        ),
        1 => candidates.remove(0).1,
        _ => {
            let list: Vec<String> = candidates
                .iter()
                .map(|(sub, found)| match found {
                    Ok(f) => format!("  {}: {} ({})", sub.display(), f.kind.describe(), f.arch),
                    Err(e) => format!("  {}: {e:#}", sub.display()),
                })
                .collect();
            bail!(
                "{}: {} install trees one folder down; import one of them:\n{}",
                path.display(),
                candidates.len(),
                list.join("\n")
            )
        }
    }
}

/// The tree at `dir` itself, if it is one.
fn detect_here(dir: &Path, want: Option<Arch>) -> Result<Option<Found>> {
    if let Some(found) = super::image::detect(dir, want)? {
        return Ok(Some(found));
    }
    for name in [".treeinfo", "treeinfo"] {
        let file = dir.join(name);
        if file.is_file() {
            return treeinfo(dir, &file, want).map(Some);
        }
    }
    if dir.join("casper").is_dir()
        && CASPER_KERNELS
            .iter()
            .any(|k| dir.join("casper").join(k).is_file())
    {
        return casper(dir, want).map(Some);
    }
    for installer in INSTALLER_DIRS {
        let sub = dir.join(installer);
        if sub.is_dir() {
            if let Some(found) = debian_installer(dir, &sub, None, want)? {
                return Ok(Some(found));
            }
        }
    }
    // The `debian-installer/ARCH` folder itself.
    let parent_is_installer = dir
        .parent()
        .and_then(Path::file_name)
        .and_then(|n| n.to_str())
        .is_some_and(|n| INSTALLER_DIRS.contains(&n));
    if parent_is_installer && dir.join("linux").is_file() {
        let installer = dir.parent().unwrap_or(dir);
        let root = installer.parent().unwrap_or(installer);
        let only = dir.file_name().and_then(|n| n.to_str());
        return debian_installer(root, installer, only, want);
    }
    Ok(None)
}

const INSTALLER_DIRS: [&str; 2] = ["debian-installer", "ubuntu-installer"];
const CASPER_KERNELS: [&str; 2] = ["vmlinuz", "vmlinuz.efi"];
const CASPER_INITRDS: [&str; 4] = ["initrd", "initrd.gz", "initrd.lz", "initrd.img"];

/// Reads a file's text (lossily: metadata is ASCII), naming it on error.
fn read_text(file: &Path) -> Result<String> {
    let bytes = fs::read(file).map_err(|e| anyhow!("{}: cannot read: {e}", file.display()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A path a metadata file gives, inside the tree: relative, no `..`.
fn inside(root: &Path, rel: &str, said_by: &str) -> Result<PathBuf> {
    let path = Path::new(rel);
    if path.is_absolute()
        || path
            .components()
            .any(|c| matches!(c, Component::ParentDir | Component::Prefix(_)))
    {
        bail!("{said_by}: {rel}: must be a path inside the tree");
    }
    let full = root.join(path);
    if !full.is_file() {
        bail!(
            "{}: {said_by} names it, but there is no such file",
            full.display()
        );
    }
    Ok(full)
}

/// A Red Hat family tree.
fn treeinfo(root: &Path, file: &Path, want: Option<Arch>) -> Result<Found> {
    let info = Treeinfo::parse(&read_text(file)?);
    let at = file.display();
    let platforms = || -> String {
        let names: Vec<&str> = info.images.keys().map(String::as_str).collect();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    };
    let (word, arch_from) = match &info.arch {
        Some(word) => (word.clone(), "[tree] arch".to_string()),
        None => {
            // No arch: the only images section that is not a platform
            // like xen, or the one --arch names.
            let arches: Vec<&String> = info
                .images
                .keys()
                .filter(|p| arch_of_word(p).is_some())
                .filter(|p| want.is_none_or(|w| arch_of_word(p) == Some(w)))
                .collect();
            match arches.as_slice() {
                [one] => ((*one).clone(), format!("[images-{one}]")),
                [] => bail!(
                    "{at}: says no architecture and has no [images-ARCH] section for one \
                     (it has: {})",
                    platforms()
                ),
                _ => bail!(
                    "{at}: says no architecture and has images for {}: give --arch",
                    platforms()
                ),
            }
        }
    };
    let arch = match (arch_of_word(&word), want) {
        (Some(a), Some(w)) if a != w => {
            bail!("{at}: the tree is {word} ({arch_from}), not {w}")
        }
        (Some(a), _) => a,
        (None, Some(w)) => w,
        (None, None) => bail!(
            "{at}: the tree is {word}, an architecture awl has no name for; give --arch ({})",
            Arch::choices()
        ),
    };
    let section = format!("images-{word}");
    let Some(images) = info.images.get(&word) else {
        bail!(
            "{at}: no [{section}] section with the kernel and initrd (it has images for: {})",
            platforms()
        );
    };
    let said = |key: &str| format!("{at} [{section}] {key}");
    let kernel = images
        .kernel
        .as_deref()
        .ok_or_else(|| anyhow!("{at}: [{section}] has no kernel ="))?;
    let initrd = images
        .initrd
        .as_deref()
        .ok_or_else(|| anyhow!("{at}: [{section}] has no initrd ="))?;
    let kernel = inside(root, kernel, &said("kernel"))?;
    let initrd = inside(root, initrd, &said("initrd"))?;
    let product = info.product.clone();
    let family = if product
        .as_deref()
        .is_some_and(|p| p.to_ascii_lowercase().contains("suse"))
    {
        Family::Suse
    } else {
        Family::RedHat
    };
    Ok(Found {
        kind: Kind::Treeinfo,
        root: root.to_path_buf(),
        metadata: Some(file.to_path_buf()),
        short: info.short.clone().unwrap_or_else(|| "redhat".into()),
        product,
        version: info.version.clone(),
        arch_word: word,
        arch,
        arch_from: format!(".treeinfo {arch_from}"),
        family,
        kernel,
        initrd: vec![initrd],
        default_tree: None,
        image: None,
    })
}

/// A d-i netboot tree at `root`, its kernels in `installer/ARCH/`; `None`
/// when no `ARCH/linux` is there.
/// `only`: the one `ARCH` folder to look at (PATH was that folder).
fn debian_installer(
    root: &Path,
    installer: &Path,
    only: Option<&str>,
    want: Option<Arch>,
) -> Result<Option<Found>> {
    let mut arches: Vec<String> = fs::read_dir(installer)
        .map_err(|e| anyhow!("{}: cannot list: {e}", installer.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("linux").is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|word| only.is_none_or(|o| o == word))
        .collect();
    arches.sort();
    if arches.is_empty() {
        return Ok(None);
    }
    let at = installer.display();
    let word = match want {
        Some(w) => arches
            .iter()
            .find(|a| arch_of_word(a) == Some(w))
            .cloned()
            .ok_or_else(|| anyhow!("{at}: no kernel for {w} (it has: {})", arches.join(", ")))?,
        None => match arches.as_slice() {
            [one] => one.clone(),
            _ => bail!("{at}: kernels for {}: give --arch", arches.join(", ")),
        },
    };
    let Some(arch) = arch_of_word(&word) else {
        bail!(
            "{}: {word} is an architecture awl has no name for ({})",
            installer.join(&word).display(),
            Arch::choices()
        );
    };
    let dir = installer.join(&word);
    let initrd = dir.join("initrd.gz");
    if !initrd.is_file() {
        bail!(
            "{}: missing (a netboot tree has linux and initrd.gz)",
            initrd.display()
        );
    }
    let ubuntu_dir = installer
        .file_name()
        .is_some_and(|n| n == "ubuntu-installer");
    let version_file = root.join("version.info");
    let (metadata, said) = if version_file.is_file() {
        let said = parse_version_info(&read_text(&version_file)?);
        (Some(version_file), said)
    } else {
        (None, None)
    };
    let (product, version) = match said {
        Some((p, v)) => (Some(p), Some(v)),
        None => (None, None),
    };
    let ubuntu = product
        .as_deref()
        .map_or(ubuntu_dir, |p| p.eq_ignore_ascii_case("ubuntu"));
    Ok(Some(Found {
        kind: Kind::DebianInstaller,
        root: root.to_path_buf(),
        metadata,
        short: product
            .clone()
            .unwrap_or_else(|| if ubuntu { "ubuntu" } else { "debian" }.into()),
        product,
        version,
        arch_from: format!("the folder {}", dir.display()),
        arch_word: word,
        arch,
        // d-i reads a preseed whatever it installs (Ubuntu's too).
        family: Family::Debian,
        kernel: dir.join("linux"),
        initrd: vec![initrd],
        default_tree: Some(if ubuntu { UBUNTU_MIRROR } else { DEBIAN_MIRROR }.into()),
        image: None,
    }))
}

/// An Ubuntu live-server tree.
fn casper(root: &Path, want: Option<Arch>) -> Result<Found> {
    let dir = root.join("casper");
    let pick = |names: &[&str]| names.iter().map(|n| dir.join(n)).find(|p| p.is_file());
    let kernel = pick(&CASPER_KERNELS).ok_or_else(|| anyhow!("{}: no vmlinuz", dir.display()))?;
    let initrd = pick(&CASPER_INITRDS).ok_or_else(|| {
        anyhow!(
            "{}: no initrd (looked for {})",
            dir.display(),
            CASPER_INITRDS.join(", ")
        )
    })?;
    let info_file = root.join(".disk/info");
    let (metadata, info) = if info_file.is_file() {
        (
            Some(info_file.clone()),
            DiskInfo::parse(&read_text(&info_file)?),
        )
    } else {
        (None, DiskInfo::default())
    };
    let said = match info
        .arch
        .as_deref()
        .and_then(|w| Some((w, arch_of_word(w)?)))
    {
        Some((word, arch)) => Some((word.to_string(), arch, format!("{}", info_file.display()))),
        None => {
            let mut head = Vec::new();
            File::open(&kernel)
                .and_then(|f| f.take(4096).read_to_end(&mut head))
                .map_err(|e| anyhow!("{}: cannot read: {e}", kernel.display()))?;
            kernel_arch(&head).map(|a| {
                (
                    debian_word(a).to_string(),
                    a,
                    format!("the header of {}", kernel.display()),
                )
            })
        }
    };
    let (arch_word, arch, arch_from) = match (said, want) {
        (Some((_, a, from)), Some(w)) if a != w => {
            bail!("{}: the tree is {a} ({from}), not {w}", root.display())
        }
        (Some(said), _) => said,
        (None, Some(w)) => (debian_word(w).to_string(), w, "--arch".to_string()),
        (None, None) => bail!(
            "{}: cannot tell the architecture (no .disk/info naming one, and the kernel's header \
             does not say): give --arch",
            root.display()
        ),
    };
    Ok(Found {
        kind: Kind::Casper,
        root: root.to_path_buf(),
        metadata,
        short: info.product.clone().unwrap_or_else(|| "ubuntu".into()),
        product: info.product,
        version: info.version,
        arch_word,
        arch,
        arch_from,
        family: Family::Ubuntu,
        kernel,
        initrd: vec![initrd],
        default_tree: None,
        image: None,
    })
}

/// Runs `awl distro import` on `store`.
pub fn run(store: &FileStore, flags: ImportFlags) -> Result<()> {
    let found = detect(&flags.tree_path, flags.arch)?;
    print!("{}", found.report());
    let name = flags.name.clone().unwrap_or_else(|| found.default_name());
    if let Some(why) = name_problem(&name) {
        bail!("--name {why}");
    }
    let Some(files_root) = &flags.files_root else {
        bail!(
            "{}: give --files-root DIR (the folder awl serve --tftp-root serves; or set \
             AWL_TFTP_ROOT)",
            flags.tree_path.display()
        );
    };
    let root = fs::canonicalize(files_root)
        .map_err(|e| anyhow!("--files-root {}: {e}", files_root.display()))?;
    if !root.is_dir() {
        bail!("--files-root {}: not a folder", files_root.display());
    }
    // With --copy, refuse a taken name before copying anything (the edit
    // checks again, under the lock).
    if flags.copy {
        if let Ok(inv) = store.load() {
            refuse_taken(&inv, &name)?;
        }
    }

    let placed = place(&found, &root, &name, flags.copy)?;
    let (tree, tree_note) = tree(&found, &root, &flags);
    // The checksum of the file awl will serve (the copy, with --copy).
    let image_sha256 = match placed.image.as_deref() {
        Some(rel) => {
            let image = root.join(rel);
            println!("{}: computing its SHA-256", image.display());
            match super::image::sha256_file(&image) {
                Ok(sum) => Some(sum),
                Err(e) => {
                    placed.undo();
                    return Err(e);
                }
            }
        }
        None => None,
    };
    let distro = Distro {
        name: name.clone(),
        kernel: placed.kernel.clone(),
        initrd: placed.initrd.clone(),
        tree: tree.clone(),
        arch: found.arch,
        family: found.family,
        kernel_args: String::new(),
        image: placed.image.clone(),
        image_sha256: image_sha256.clone(),
        place: Default::default(),
    };
    let added = store.update(&mut |inv| {
        refuse_taken(inv, &name)?;
        inv.distros.push(distro.clone());
        Ok(())
    });
    if let Err(e) = added {
        placed.undo();
        return Err(e);
    }
    for (from, to) in &placed.copied {
        println!("copied {} -> {}", from.display(), to.display());
    }
    println!("distro {name}: added");
    println!("  kernel   {}", placed.kernel);
    for initrd in &placed.initrd {
        println!("  initrd   {initrd}");
    }
    if let (Some(image), Some(sum)) = (&placed.image, &image_sha256) {
        println!("  image    {image}");
        println!("  sha256   {sum}");
    } else {
        match &tree {
            Some(t) => println!("  tree     {t}"),
            None => println!("  tree     (not set)"),
        }
    }
    if let Some(note) = tree_note {
        println!("  note     {note}");
    }
    println!("use it: awl profile add PROFILE --distro {name}");
    Ok(())
}

fn refuse_taken(inv: &Inventory, name: &str) -> Result<()> {
    if inv.distro(name).is_some() {
        bail!(
            "a distro named {name} already exists (awl distro show {name}; import under another \
             --name, or awl distro remove {name} first)"
        );
    }
    Ok(())
}

/// Where the kernel and initrd(s) are served from, and what was copied
/// (undone when the edit fails).
struct Placed {
    kernel: String,
    initrd: Vec<String>,
    image: Option<String>,
    copied: Vec<(PathBuf, PathBuf)>,
    created: Vec<PathBuf>,
    created_dir: Option<PathBuf>,
}

impl Placed {
    fn undo(&self) {
        for file in &self.created {
            let _ = fs::remove_file(file);
        }
        if let Some(dir) = &self.created_dir {
            let _ = fs::remove_dir(dir);
        }
    }
}

/// `file` relative to the (canonical) files root, when its real path is
/// inside it (the TFTP and HTTP servers follow symbolic links only while
/// they stay inside the root).
fn under_root(file: &Path, root: &Path) -> Result<Option<String>> {
    let real = fs::canonicalize(file).map_err(|e| anyhow!("{}: {e}", file.display()))?;
    let Ok(rel) = real.strip_prefix(root) else {
        return Ok(None);
    };
    let rel = rel
        .to_str()
        .ok_or_else(|| anyhow!("{}: not a UTF-8 path", real.display()))?;
    Ok(Some(rel.to_string()))
}

fn place(found: &Found, root: &Path, name: &str, copy: bool) -> Result<Placed> {
    let mut placed = place_files(found, root, name, copy)?;
    // The image was placed as the last "initrd".
    if found.image.is_some() {
        placed.image = placed.initrd.pop();
    }
    Ok(placed)
}

fn place_files(found: &Found, root: &Path, name: &str, copy: bool) -> Result<Placed> {
    let files: Vec<&PathBuf> = std::iter::once(&found.kernel)
        .chain(&found.initrd)
        .chain(&found.image)
        .collect();
    if !copy {
        let mut rels = Vec::new();
        for file in &files {
            match under_root(file, root)? {
                Some(rel) => rels.push(rel),
                None => bail!(
                    "{}: outside the files root {}, which is all awl serves: give --copy (copies \
                     the kernel and initrd into {}/distros/{name}/), or put the tree under {} \
                     and import it from there",
                    file.display(),
                    root.display(),
                    root.display(),
                    root.display()
                ),
            }
        }
        return Ok(Placed {
            kernel: rels.remove(0),
            initrd: rels,
            image: None,
            copied: Vec::new(),
            created: Vec::new(),
            created_dir: None,
        });
    }
    let dir = root.join("distros").join(name);
    let created_dir = (!dir.exists()).then(|| dir.clone());
    fs::create_dir_all(&dir).map_err(|e| anyhow!("{}: cannot create: {e}", dir.display()))?;
    let mut placed = Placed {
        kernel: String::new(),
        initrd: Vec::new(),
        image: None,
        copied: Vec::new(),
        created: Vec::new(),
        created_dir,
    };
    let result = (|| -> Result<()> {
        let mut names: Vec<&std::ffi::OsStr> = Vec::new();
        for (i, file) in files.iter().enumerate() {
            let base = file
                .file_name()
                .ok_or_else(|| anyhow!("{}: no file name", file.display()))?;
            let base_text = base
                .to_str()
                .ok_or_else(|| anyhow!("{}: not a UTF-8 name", file.display()))?;
            if names.contains(&base) {
                bail!(
                    "{}: two of the boot files are named {base_text}",
                    found.root.display()
                );
            }
            names.push(base);
            let dest = dir.join(base);
            if copy_file(file, &dest)? {
                placed.created.push(dest.clone());
            }
            placed.copied.push((file.to_path_buf(), dest));
            let rel = format!("distros/{name}/{base_text}");
            if i == 0 {
                placed.kernel = rel;
            } else {
                placed.initrd.push(rel);
            }
        }
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| anyhow!("{}: cannot sync: {e}", dir.display()))
    })();
    match result {
        Ok(()) => Ok(placed),
        Err(e) => {
            placed.undo();
            Err(e)
        }
    }
}

/// Copies `src` to `dest` through a temporary file and a link (a server
/// never sees half a kernel); `false` when `dest` already holds the same
/// bytes. A different file at `dest` is never overwritten, even by a
/// concurrent import: the link fails when `dest` exists.
fn copy_file(src: &Path, dest: &Path) -> Result<bool> {
    let exists = || -> Result<bool> {
        if same_contents(src, dest)? {
            return Ok(false);
        }
        bail!(
            "{}: already exists and differs from {}: remove it, or import under another --name",
            dest.display(),
            src.display()
        );
    };
    match fs::symlink_metadata(dest) {
        Ok(_) => return exists(),
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => bail!("{}: {e}", dest.display()),
    }
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(dest.file_name().unwrap_or_default());
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = dest.with_file_name(temp_name);
    let _ = fs::remove_file(&temp);
    let copied = (|| -> std::io::Result<()> {
        let mut from = File::open(src)?;
        let mut to = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&temp)?;
        std::io::copy(&mut from, &mut to)?;
        to.sync_all()?;
        fs::hard_link(&temp, dest)
    })();
    let _ = fs::remove_file(&temp);
    match copied {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => exists(),
        Err(e) => bail!("copying {} to {}: {e}", src.display(), dest.display()),
    }
}

fn same_contents(a: &Path, b: &Path) -> Result<bool> {
    let open = |p: &Path| File::open(p).map_err(|e| anyhow!("{}: {e}", p.display()));
    let (mut fa, mut fb) = (open(a)?, open(b)?);
    let len = |f: &File, p: &Path| {
        f.metadata()
            .map(|m| m.len())
            .map_err(|e| anyhow!("{}: {e}", p.display()))
    };
    if len(&fa, a)? != len(&fb, b)? {
        return Ok(false);
    }
    let (mut ba, mut bb) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let n = read_full(&mut fa, &mut ba).map_err(|e| anyhow!("{}: {e}", a.display()))?;
        let m = read_full(&mut fb, &mut bb).map_err(|e| anyhow!("{}: {e}", b.display()))?;
        if n != m || ba[..n] != bb[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

fn read_full(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match f.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// The install tree, and a note on it for the user.
fn tree(found: &Found, root: &Path, flags: &ImportFlags) -> (Option<String>, Option<String>) {
    if let Some(url) = &flags.tree_url {
        let url = url.trim();
        return ((!url.is_empty()).then(|| url.to_string()), None);
    }
    match found.kind {
        Kind::Image => (None, None),
        Kind::Treeinfo => {
            let served = under_root(&found.root, root).ok().flatten();
            match (served, &flags.http_url) {
                (Some(rel), Some(base)) => (
                    Some(format!("{}/boot/{rel}", base.trim_end_matches('/'))),
                    None,
                ),
                (Some(rel), None) => (
                    None,
                    Some(format!(
                        "awl serves this tree at HTTP-BASE/boot/{rel}: give --http-url \
                         http://SERVER to set it, or --tree-url URL (Anaconda needs it)"
                    )),
                ),
                (None, _) => (
                    None,
                    Some(format!(
                        "{} is outside the files root: give --tree-url URL (a mirror of this \
                         release; Anaconda needs it), or import the tree from under {}",
                        found.root.display(),
                        root.display()
                    )),
                ),
            }
        }
        Kind::DebianInstaller => (
            found.default_tree.clone(),
            Some("the preseed's mirror; --tree-url sets your own".into()),
        ),
        Kind::Casper => (
            None,
            Some(
                "the live installer fetches the ISO itself (url=): put the .iso under the files \
                 root and give --tree-url http://SERVER/boot/PATH.iso (or awl distro edit NAME \
                 --tree URL)"
                    .into(),
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CentOS Stream 9 aarch64 `.treeinfo` in productmd 1.2's shape
    /// (sections sorted, `[general]` repeating the rest for old readers).
    const STREAM: &str = "\
[checksums]
images/efiboot.img = sha256:00
images/install.img = sha256:11

[general]
; WARNING.0 = This section provides compatibility with pre-productmd treeinfos.
arch = aarch64
family = CentOS Stream
name = CentOS Stream 9
version = 9

[header]
type = productmd.treeinfo
version = 1.2

[images-aarch64]
efiboot.img = images/efiboot.img
initrd = images/pxeboot/initrd.img
kernel = images/pxeboot/vmlinuz

[release]
name = CentOS Stream
short = CentOS-Stream
version = 9

[stage2]
mainimage = images/install.img

[tree]
arch = aarch64
platforms = aarch64
variants = AppStream,BaseOS
";

    #[test]
    fn treeinfo_of_productmd_1_2() {
        let t = Treeinfo::parse(STREAM);
        assert_eq!(t.product.as_deref(), Some("CentOS Stream"));
        assert_eq!(t.short.as_deref(), Some("CentOS-Stream"));
        assert_eq!(t.version.as_deref(), Some("9"));
        assert_eq!(t.arch.as_deref(), Some("aarch64"));
        assert_eq!(t.images.keys().collect::<Vec<_>>(), ["aarch64"]);
        let images = &t.images["aarch64"];
        assert_eq!(images.kernel.as_deref(), Some("images/pxeboot/vmlinuz"));
        assert_eq!(images.initrd.as_deref(), Some("images/pxeboot/initrd.img"));
        let short = t.short.as_deref().unwrap();
        assert_eq!(
            default_name(short, t.version.as_deref(), "aarch64"),
            "centos-stream-9-aarch64"
        );
    }

    #[test]
    fn treeinfo_of_older_formats() {
        // productmd 1.0 called [release] [product].
        let t = Treeinfo::parse(
            "[product]\nname = Fedora\nshort = Fedora\nversion = 23\n[tree]\narch = aarch64\n\
             [images-aarch64]\nkernel = images/pxeboot/vmlinuz\n",
        );
        assert_eq!(t.short.as_deref(), Some("Fedora"));
        assert_eq!(t.version.as_deref(), Some("23"));
        assert_eq!(t.arch.as_deref(), Some("aarch64"));
        assert_eq!(t.images["aarch64"].initrd, None);
        // Before productmd: [general] only; keys in any case, ":" too.
        let t = Treeinfo::parse(
            "[general]\nFamily: CentOS\nversion = 6.10\narch = i386\n\n[images-i386]\n\
             kernel = images/pxeboot/vmlinuz\ninitrd = images/pxeboot/initrd.img\n",
        );
        assert_eq!(t.product.as_deref(), Some("CentOS"));
        assert_eq!(t.short.as_deref(), Some("CentOS"));
        assert_eq!(t.version.as_deref(), Some("6.10"));
        assert_eq!(t.arch.as_deref(), Some("i386"));
    }

    #[test]
    fn odd_ini_never_panics_and_keeps_what_it_can() {
        for text in [
            "",
            "=",
            "[",
            "]",
            "[]",
            "key = value before any section",
            "[a]\n = no key\n:\n  indented first\nk = v\n  more\n[a]\nj = w\n",
            "\u{feff}[release]\r\nname = X\r\n",
            "[images-]\nkernel =\n",
        ] {
            let _ = Treeinfo::parse(text);
        }
        let ini = parse_ini("[a]\n = no key\n  orphan\nk = v\n  more\n[a]\nj = w\nk: x\n");
        assert_eq!(ini["a"]["k"], "x");
        assert_eq!(ini["a"]["j"], "w");
        assert_eq!(ini["a"].len(), 2);
        let ini = parse_ini("[a]\nk = v\n  more\n");
        assert_eq!(ini["a"]["k"], "v\nmore");
        let t = Treeinfo::parse("[release]\nname =\nshort = \n[images-]\nkernel =\n");
        assert_eq!(t.product, None);
        assert_eq!(t.short, None);
        assert_eq!(t.images[""], Images::default());
    }

    #[test]
    fn version_info_of_debian_installer() {
        let text = "Debian version:  12 (bookworm)\nInstaller build: 20230607+deb12u15\n";
        assert_eq!(
            parse_version_info(text),
            Some(("Debian".into(), "12".into()))
        );
        assert_eq!(
            parse_version_info("Installer build: 1\nDebian version: 13 (trixie)\n"),
            Some(("Debian".into(), "13".into()))
        );
        for odd in [
            "",
            "Installer build: 20230607",
            " version: 12",
            "Debian version:",
        ] {
            assert_eq!(parse_version_info(odd), None, "{odd:?}");
        }
        assert_eq!(
            default_name("Debian", Some("12"), "amd64"),
            "debian-12-amd64"
        );
    }

    #[test]
    fn disk_info_of_ubuntu_and_debian_isos() {
        let ubuntu = DiskInfo::parse(
            "Ubuntu-Server 24.04.1 LTS \"Noble Numbat\" - Release amd64 (20240827)",
        );
        assert_eq!(ubuntu.product.as_deref(), Some("Ubuntu-Server"));
        assert_eq!(ubuntu.version.as_deref(), Some("24.04.1"));
        assert_eq!(ubuntu.arch.as_deref(), Some("amd64"));
        assert_eq!(
            default_name("Ubuntu-Server", Some("24.04.1"), "amd64"),
            "ubuntu-server-24.04.1-amd64"
        );
        let arm = DiskInfo::parse(
            "Ubuntu-Server 22.04.5 LTS \"Jammy Jellyfish\" - Release arm64 (20240911)\n",
        );
        assert_eq!(arm.arch.as_deref(), Some("arm64"));
        let debian = DiskInfo::parse(
            "Debian GNU/Linux 12.5.0 \"Bookworm\" - Official amd64 NETINST with firmware 20240210-11:27",
        );
        assert_eq!(debian.product.as_deref(), Some("Debian"));
        assert_eq!(debian.version.as_deref(), Some("12.5.0"));
        assert_eq!(debian.arch.as_deref(), Some("amd64"));
        assert_eq!(DiskInfo::parse(""), DiskInfo::default());
        let odd = DiskInfo::parse("Something - ");
        assert_eq!(odd.product.as_deref(), Some("Something"));
        assert_eq!((odd.version, odd.arch), (None, None));
    }

    #[test]
    fn arch_words_of_every_vocabulary() {
        for (word, arch) in [
            ("x86_64", Arch::X86_64),
            ("amd64", Arch::X86_64),
            ("i686", Arch::I386),
            ("arm64", Arch::Aarch64),
            ("aarch64", Arch::Aarch64),
            ("armhfp", Arch::Arm),
            ("ppc64el", Arch::Ppc64le),
            ("s390x", Arch::S390x),
            ("riscv64", Arch::Riscv64),
        ] {
            assert_eq!(arch_of_word(word), Some(arch), "{word}");
            assert_eq!(arch_of_word(debian_word(arch)), Some(arch));
            assert_eq!(parse_arch(arch.as_str()), Ok(arch));
        }
        assert_eq!(arch_of_word("xen"), None);
        assert_eq!(arch_of_word("loong64"), None);
        assert!(parse_arch("sparc").unwrap_err().contains("x86_64 (amd64)"));
    }

    #[test]
    fn names_are_slugs_the_inventory_accepts() {
        for (product, version, arch, name) in [
            ("Rocky", Some("9.4"), "x86_64", "rocky-9.4-x86_64"),
            (
                "CentOS-Stream",
                Some("9"),
                "x86_64",
                "centos-stream-9-x86_64",
            ),
            (
                "Red Hat Enterprise Linux",
                Some("10.0"),
                "aarch64",
                "red-hat-enterprise-linux-10.0-aarch64",
            ),
            ("  ..Odd//Name!! ", None, "amd64", "odd-name-amd64"),
            ("", Some(""), "", "distro"),
            ("ÉCOLE", Some("1 beta"), "x86_64", "cole-1-beta-x86_64"),
        ] {
            let got = default_name(product, version, arch);
            assert_eq!(got, name, "{product:?}");
            assert_eq!(name_problem(&got), None, "{got}");
        }
    }

    #[test]
    fn kernel_headers_say_their_architecture() {
        let mut x86 = vec![0u8; 0x300];
        x86[0x202..0x206].copy_from_slice(b"HdrS");
        x86[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
        x86[0x236] = 0x7f;
        assert_eq!(kernel_arch(&x86), Some(Arch::X86_64));
        x86[0x236] = 0;
        assert_eq!(kernel_arch(&x86), Some(Arch::I386));
        x86[0x206..0x208].copy_from_slice(&0x0200u16.to_le_bytes());
        assert_eq!(kernel_arch(&x86), None, "too old a boot protocol to tell");

        // An EFI zboot or EFI-stub kernel: the PE machine.
        let mut pe = vec![0u8; 0x100];
        pe[..2].copy_from_slice(b"MZ");
        pe[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
        pe[0x80..0x84].copy_from_slice(b"PE\0\0");
        pe[0x84..0x86].copy_from_slice(&0xaa64u16.to_le_bytes());
        assert_eq!(kernel_arch(&pe), Some(Arch::Aarch64));
        pe[0x3c..0x40].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(kernel_arch(&pe), None, "a PE offset past the end");

        let mut arm64 = vec![0u8; 0x40];
        arm64[0x38..0x3c].copy_from_slice(b"ARM\x64");
        assert_eq!(kernel_arch(&arm64), Some(Arch::Aarch64));
        assert_eq!(kernel_arch(&[0x1f, 0x8b, 8, 0]), None, "gzip");
        assert_eq!(kernel_arch(&[]), None);
        assert_eq!(kernel_arch(b"MZ"), None);
    }

    /// A folder of small files, removed on drop.
    struct Tree(PathBuf);

    impl Tree {
        fn new(files: &[(&str, &str)]) -> Self {
            static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "awl-import-unit-{}-{}",
                std::process::id(),
                N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ));
            for (path, text) in files {
                let file = dir.join(path);
                fs::create_dir_all(file.parent().unwrap()).unwrap();
                fs::write(file, text).unwrap();
            }
            fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn error(path: &Path, want: Option<Arch>) -> String {
        format!("{:#}", detect(path, want).unwrap_err())
    }

    #[test]
    fn treeinfo_trees_and_their_faults() {
        let t = Tree::new(&[
            (".treeinfo", STREAM),
            ("images/pxeboot/vmlinuz", "k"),
            ("images/pxeboot/initrd.img", "i"),
        ]);
        let found = detect(&t.0, None).unwrap();
        assert_eq!(found.kind, Kind::Treeinfo);
        assert_eq!(found.family, Family::RedHat);
        assert_eq!(found.kernel, t.0.join("images/pxeboot/vmlinuz"));
        assert_eq!(found.default_name(), "centos-stream-9-aarch64");
        assert_eq!(detect(&t.0, Some(Arch::Aarch64)).unwrap(), found);
        assert!(error(&t.0, Some(Arch::X86_64)).contains("the tree is aarch64"));

        let no_section = Tree::new(&[(".treeinfo", "[tree]\narch = aarch64\n[images-xen]\n")]);
        let e = error(&no_section.0, None);
        assert!(e.contains("no [images-aarch64] section"), "{e}");
        assert!(
            e.contains(&no_section.0.join(".treeinfo").display().to_string()),
            "{e}"
        );

        let no_kernel = Tree::new(&[(
            ".treeinfo",
            "[tree]\narch = x86_64\n[images-x86_64]\ninitrd = i\n",
        )]);
        assert!(error(&no_kernel.0, None).contains("[images-x86_64] has no kernel ="));

        let missing = Tree::new(&[(".treeinfo", STREAM), ("images/pxeboot/vmlinuz", "k")]);
        let e = error(&missing.0, None);
        assert!(
            e.contains("images/pxeboot/initrd.img: ") && e.contains("no such file"),
            "{e}"
        );

        let escape = Tree::new(&[(
            ".treeinfo",
            "[tree]\narch = x86_64\n[images-x86_64]\nkernel = ../../etc/passwd\ninitrd = /etc/passwd\n",
        )]);
        assert!(error(&escape.0, None).contains("must be a path inside the tree"));

        let no_arch = Tree::new(&[
            (
                ".treeinfo",
                "[images-xen]\nkernel = k\n[images-aarch64]\nkernel = k\ninitrd = i\n",
            ),
            ("k", ""),
            ("i", ""),
        ]);
        let found = detect(&no_arch.0, None).unwrap();
        assert_eq!(
            (found.arch, found.default_name().as_str()),
            (Arch::Aarch64, "redhat-aarch64")
        );
    }

    #[test]
    fn copies_keep_an_identical_file_and_never_overwrite_another() {
        let t = Tree::new(&[("src/linux", "kernel"), ("other", "another kernel")]);
        let (src, dest) = (t.0.join("src/linux"), t.0.join("linux"));
        assert!(copy_file(&src, &dest).unwrap(), "a new copy");
        assert_eq!(fs::read(&dest).unwrap(), b"kernel");
        assert!(!copy_file(&src, &dest).unwrap(), "the same bytes: kept");
        let e = format!("{:#}", copy_file(&t.0.join("other"), &dest).unwrap_err());
        assert!(e.contains("already exists and differs"), "{e}");
        assert_eq!(fs::read(&dest).unwrap(), b"kernel");
        let e = format!(
            "{:#}",
            copy_file(&t.0.join("nosuch"), &t.0.join("x")).unwrap_err()
        );
        assert!(e.contains("nosuch") && !t.0.join("x").exists(), "{e}");
        let left: Vec<_> = fs::read_dir(&t.0).unwrap().filter_map(|e| e.ok()).collect();
        assert_eq!(left.len(), 3, "no temporary file left: {left:?}");
    }

    #[test]
    fn netboot_and_casper_trees() {
        let two = Tree::new(&[
            ("debian-installer/amd64/linux", "k"),
            ("debian-installer/amd64/initrd.gz", "i"),
            ("debian-installer/i386/linux", "k"),
            ("debian-installer/i386/initrd.gz", "i"),
        ]);
        assert!(error(&two.0, None).contains("kernels for amd64, i386: give --arch"));
        let found = detect(&two.0, Some(Arch::I386)).unwrap();
        assert_eq!(
            (found.arch_word.as_str(), found.default_name().as_str()),
            ("i386", "debian-i386")
        );
        // The ARCH folder itself.
        let found = detect(&two.0.join("debian-installer/amd64"), None).unwrap();
        assert_eq!(
            (found.root.as_path(), found.arch),
            (two.0.as_path(), Arch::X86_64)
        );

        let no_initrd = Tree::new(&[("debian-installer/amd64/linux", "k")]);
        assert!(error(&no_initrd.0, None).contains("initrd.gz: missing"));

        let casper = Tree::new(&[("casper/vmlinuz", "k"), ("casper/initrd", "i")]);
        assert!(error(&casper.0, None).contains("cannot tell the architecture"));
        let found = detect(&casper.0, Some(Arch::Aarch64)).unwrap();
        assert_eq!(found.default_name(), "ubuntu-arm64");

        let unknown = Tree::new(&[("boot/vmlinuz", "k")]);
        let e = error(&unknown.0, None);
        assert!(
            e.contains(".treeinfo")
                && e.contains("debian-installer/ARCH/linux")
                && e.contains("casper/vmlinuz"),
            "{e}"
        );
        assert!(error(&unknown.0.join("nosuch"), None).contains("No such file"));
        assert!(error(&unknown.0.join("boot/vmlinuz"), None).contains("mount an ISO first"));
    }
}
