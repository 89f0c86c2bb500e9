//! `awl distro import PATH` through the real `awl` binary: Debian's own
//! netboot tree (the package `debian-installer-12-netboot-amd64`, which
//! `./test.sh` installs), a Red Hat family tree with a productmd
//! `.treeinfo`, an Ubuntu live-server layout, and trees awl does not know.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use awl_tests::{awl_binary, pattern, TempDir};
use serde_json::{json, Value};

/// Where `debian-installer-12-netboot-amd64` puts its trees (`text/` and
/// `gtk/`, each a netboot tree with `version.info` and
/// `debian-installer/amd64/{linux,initrd.gz}`).
const DEBIAN_PACKAGE: &str = "/usr/lib/debian-installer/images/12/amd64";

/// `awl ARGS --inventory FILE`.
fn awl<S: AsRef<OsStr>>(inventory: &Path, args: &[S]) -> Output {
    Command::new(awl_binary())
        .args(args)
        .arg("--inventory")
        .arg(inventory)
        .env_remove("AWL_INVENTORY")
        .env_remove("AWL_TFTP_ROOT")
        .output()
        .expect("run awl")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs it; its standard output. Fails on a non-zero exit.
fn ok<S: AsRef<OsStr>>(inventory: &Path, args: &[S]) -> String {
    let out = awl(inventory, args);
    assert!(
        out.status.success(),
        "awl {:?} failed: {}{}",
        args.iter().map(|a| a.as_ref()).collect::<Vec<_>>(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Runs it expecting awl's own refusal (exit 1, never a panic); its
/// standard error.
fn refused<S: AsRef<OsStr>>(inventory: &Path, args: &[S]) -> String {
    let out = awl(inventory, args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "awl {:?}: expected a refusal (exit 1): {}{}",
        args.iter().map(|a| a.as_ref()).collect::<Vec<_>>(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stderr)
}

fn show(inventory: &Path, name: &str) -> Value {
    let out = ok(inventory, &["distro", "show", name, "--json"]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `distro import TREE --files-root ROOT EXTRA...`.
fn import<'a>(tree: &'a Path, root: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["distro", "import", s(tree), "--files-root", s(root)];
    args.extend_from_slice(extra);
    args
}

/// Each of `lines` is in `out`.
fn says(out: &str, lines: &[&str]) {
    for line in lines {
        assert!(out.contains(line), "{line:?} not in:\n{out}");
    }
}

/// Importing `args` again is refused because `name` is taken, and the
/// inventory stays as it was.
fn refused_again(inventory: &Path, args: &[&str], name: &str) {
    let before = std::fs::read(inventory).unwrap();
    let e = refused(inventory, args);
    says(&e, &[&format!("a distro named {name} already exists")]);
    assert_eq!(std::fs::read(inventory).unwrap(), before);
}

/// The inventory's files root passes `awl inventory check`: every kernel
/// and initrd is there.
fn check_files(inventory: &Path, root: &Path) {
    ok(inventory, &["inventory", "check", "--files-root", s(root)]);
}

#[test]
fn debian_netboot_package_imports_with_copy() {
    let package = Path::new(DEBIAN_PACKAGE);
    let tree = package.join("text");
    let kernel = tree.join("debian-installer/amd64/linux");
    let initrd = tree.join("debian-installer/amd64/initrd.gz");
    assert!(
        kernel.is_file() && initrd.is_file(),
        "{} is missing: ./test.sh installs debian-installer-12-netboot-amd64 (apt-get install)",
        kernel.display()
    );
    let dir = TempDir::new("import-debian");
    let (inv, root) = (dir.0.join("inventory.toml"), dir.0.join("tftp"));
    std::fs::create_dir_all(&root).unwrap();

    // The package's top holds two trees (text/ and gtk/): awl names both.
    let e = refused(&inv, &import(package, &root, &[]));
    says(
        &e,
        &[
            &format!("{DEBIAN_PACKAGE}: 2 install trees"),
            &format!("{DEBIAN_PACKAGE}/gtk"),
            &format!("{DEBIAN_PACKAGE}/text"),
        ],
    );

    // Outside the files root: refused without --copy, saying how to fix it.
    let e = refused(&inv, &import(&tree, &root, &[]));
    says(&e, &[s(&kernel), "outside the files root", "give --copy"]);
    assert!(!inv.exists(), "a refused import wrote the inventory");

    let out = ok(&inv, &import(&tree, &root, &["--copy"]));
    says(
        &out,
        &[
            "kind     debian-installer",
            "product  Debian",
            "version  12",
            "arch     x86_64 (amd64",
            "family   debian",
            "kernel   debian-installer/amd64/linux",
            "initrd   debian-installer/amd64/initrd.gz",
            "distro debian-12-amd64: added",
        ],
    );
    assert_eq!(
        show(&inv, "debian-12-amd64"),
        json!({
            "name": "debian-12-amd64",
            "kernel": "distros/debian-12-amd64/linux",
            "initrd": ["distros/debian-12-amd64/initrd.gz"],
            "tree": "http://deb.debian.org/debian",
            "arch": "x86_64",
            "family": "debian",
        })
    );
    let copied = root.join("distros/debian-12-amd64");
    same_file(&kernel, &copied.join("linux"));
    same_file(&initrd, &copied.join("initrd.gz"));
    check_files(&inv, &root);

    // Again under the same name: refused, and nothing is copied or changed.
    refused_again(&inv, &import(&tree, &root, &["--copy"]), "debian-12-amd64");

    // The ARCH folder itself is the same tree; another name, its own copy.
    let arch_dir = tree.join("debian-installer/amd64");
    let mirror = "http://mirror.example/debian";
    let extra = ["--copy", "--name", "bookworm", "--tree-url", mirror];
    ok(&inv, &import(&arch_dir, &root, &extra));
    let d = show(&inv, "bookworm");
    assert_eq!(
        (&d["kernel"], &d["tree"]),
        (&json!("distros/bookworm/linux"), &json!(mirror))
    );
    same_file(&kernel, &root.join("distros/bookworm/linux"));
    check_files(&inv, &root);
}

/// `copy` holds the same bytes as `original`.
fn same_file(original: &Path, copy: &Path) {
    assert!(
        std::fs::read(original).unwrap() == std::fs::read(copy).unwrap(),
        "{} differs from {}",
        copy.display(),
        original.display()
    );
}

/// Rocky Linux 9.4's `.treeinfo` as productmd 1.2 writes it (checksums
/// and variants shortened).
const ROCKY_TREEINFO: &str = "\
[checksums]
images/boot.iso = sha256:1111111111111111111111111111111111111111111111111111111111111111
images/efiboot.img = sha256:2222222222222222222222222222222222222222222222222222222222222222
images/install.img = sha256:3333333333333333333333333333333333333333333333333333333333333333
images/pxeboot/initrd.img = sha256:4444444444444444444444444444444444444444444444444444444444444444
images/pxeboot/vmlinuz = sha256:5555555555555555555555555555555555555555555555555555555555555555

[general]
; WARNING.0 = This section provides compatibility with pre-productmd treeinfos.
; WARNING.1 = Read productmd documentation for details about new format.
arch = x86_64
family = Rocky Linux
name = Rocky Linux 9.4
packagedir = AppStream/Packages
platforms = x86_64,xen
repository = AppStream
timestamp = 1715000000
variant = AppStream
variants = AppStream,BaseOS
version = 9.4

[header]
type = productmd.treeinfo
version = 1.2

[images-x86_64]
boot.iso = images/boot.iso
efiboot.img = images/efiboot.img
initrd = images/pxeboot/initrd.img
kernel = images/pxeboot/vmlinuz

[images-xen]
initrd = images/pxeboot/initrd.img
kernel = images/pxeboot/vmlinuz

[media]
discnum = 1
totaldiscs = 1

[release]
name = Rocky Linux
short = Rocky
version = 9.4

[stage2]
mainimage = images/install.img

[tree]
arch = x86_64
build_timestamp = 1715000000
platforms = x86_64,xen
variants = AppStream,BaseOS

[variant-AppStream]
id = AppStream
name = AppStream
packages = AppStream/Packages
repository = AppStream
type = variant
uid = AppStream

[variant-BaseOS]
id = BaseOS
name = BaseOS
packages = BaseOS/Packages
repository = BaseOS
type = variant
uid = BaseOS
";

/// A Rocky-like tree at `dir`: the `.treeinfo` and stand-in boot files.
fn rocky_tree(dir: &Path) -> (PathBuf, PathBuf) {
    write(&dir.join(".treeinfo"), ROCKY_TREEINFO.as_bytes());
    let (kernel, initrd) = (
        dir.join("images/pxeboot/vmlinuz"),
        dir.join("images/pxeboot/initrd.img"),
    );
    write(&kernel, &pattern(70_001, 1));
    write(&initrd, &pattern(150_003, 2));
    write(&dir.join("images/install.img"), &pattern(1000, 3));
    (kernel, initrd)
}

#[test]
fn red_hat_tree_inside_the_files_root_imports_in_place() {
    let dir = TempDir::new("import-redhat");
    let (inv, root) = (dir.0.join("inventory.toml"), dir.0.join("tftp"));
    let tree = root.join("rocky/9.4");
    rocky_tree(&tree);

    let out = ok(&inv, &import(&tree, &root, &[]));
    says(
        &out,
        &[
            "kind     treeinfo",
            "product  Rocky Linux",
            "version  9.4",
            "arch     x86_64",
            "family   redhat",
            "kernel   images/pxeboot/vmlinuz",
            "initrd   images/pxeboot/initrd.img",
            "distro rocky-9.4-x86_64: added",
            "HTTP-BASE/boot/rocky/9.4",
        ],
    );
    assert_eq!(
        show(&inv, "rocky-9.4-x86_64"),
        json!({
            "name": "rocky-9.4-x86_64",
            "kernel": "rocky/9.4/images/pxeboot/vmlinuz",
            "initrd": ["rocky/9.4/images/pxeboot/initrd.img"],
            "arch": "x86_64",
            "family": "redhat",
        })
    );
    assert!(!root.join("distros").exists(), "an import in place copied");
    check_files(&inv, &root);

    // The same name again: the edit is refused with the reason.
    refused_again(&inv, &import(&tree, &root, &[]), "rocky-9.4-x86_64");

    // --http-url fills in the tree awl serves it at.
    let extra = ["--name", "rocky9", "--http-url", "http://10.0.0.1/"];
    ok(&inv, &import(&tree, &root, &extra));
    let tree_url = &show(&inv, "rocky9")["tree"];
    assert_eq!(tree_url, "http://10.0.0.1/boot/rocky/9.4");

    // A link inside the root to a tree outside it is outside: the servers
    // follow links only while they stay in the root.
    let (outside, linked) = (dir.0.join("elsewhere"), root.join("linked"));
    rocky_tree(&outside);
    std::os::unix::fs::symlink(&outside, &linked).unwrap();
    let e = refused(&inv, &import(&linked, &root, &["--name", "linked"]));
    says(&e, &["outside the files root", "give --copy"]);

    // Odd trees: no section for the arch, a kernel it names but lacks.
    let odd = root.join("odd");
    let treeinfo = odd.join(".treeinfo");
    write(
        &treeinfo,
        b"[release]\nname = AlmaLinux\nshort = AlmaLinux\nversion = 10.0\n[tree]\narch = aarch64\n\
          [images-x86_64]\nkernel = images/pxeboot/vmlinuz\n",
    );
    let e = refused(&inv, &import(&odd, &root, &[]));
    says(
        &e,
        &[&format!("{}: no [images-aarch64] section", s(&treeinfo))],
    );
    write(
        &treeinfo,
        b"[tree]\narch = x86_64\n[images-x86_64]\nkernel = images/pxeboot/vmlinuz\n\
          initrd = images/pxeboot/initrd.img\n",
    );
    let e = refused(&inv, &import(&odd, &root, &[]));
    let kernel = odd.join("images/pxeboot/vmlinuz");
    says(&e, &[&format!("{}: ", s(&kernel)), "no such file"]);
    check_files(&inv, &root);
}

#[test]
fn ubuntu_live_server_layout_imports_with_copy() {
    let dir = TempDir::new("import-ubuntu");
    let (inv, root) = (dir.0.join("inventory.toml"), dir.0.join("tftp"));
    let iso = dir.0.join("noble");
    std::fs::create_dir_all(&root).unwrap();
    write(
        &iso.join(".disk/info"),
        b"Ubuntu-Server 24.04.1 LTS \"Noble Numbat\" - Release amd64 (20240827)",
    );
    let (kernel, initrd) = (iso.join("casper/vmlinuz"), iso.join("casper/initrd"));
    write(&kernel, &pattern(90_000, 4));
    write(&initrd, &pattern(200_000, 5));
    write(&iso.join("casper/ubuntu-server-minimal.squashfs"), b"sq");
    write(&iso.join("boot/grub/grub.cfg"), b"menuentry x {}\n");

    let iso_url = "http://10.0.0.1/boot/ubuntu-24.04.1-live-server-amd64.iso";
    let out = ok(
        &inv,
        &import(&iso, &root, &["--copy", "--tree-url", iso_url]),
    );
    says(
        &out,
        &[
            "kind     casper",
            "product  Ubuntu-Server",
            "version  24.04.1",
            "arch     x86_64 (amd64",
            "family   ubuntu",
            "kernel   casper/vmlinuz",
            "initrd   casper/initrd",
            "distro ubuntu-server-24.04.1-amd64: added",
        ],
    );
    assert_eq!(
        show(&inv, "ubuntu-server-24.04.1-amd64"),
        json!({
            "name": "ubuntu-server-24.04.1-amd64",
            "kernel": "distros/ubuntu-server-24.04.1-amd64/vmlinuz",
            "initrd": ["distros/ubuntu-server-24.04.1-amd64/initrd"],
            "tree": iso_url,
            "arch": "x86_64",
            "family": "ubuntu",
        })
    );
    let copied = root.join("distros/ubuntu-server-24.04.1-amd64");
    same_file(&kernel, &copied.join("vmlinuz"));
    same_file(&initrd, &copied.join("initrd"));
    check_files(&inv, &root);
}

#[test]
fn unknown_trees_are_refused_saying_what_was_looked_for() {
    let dir = TempDir::new("import-unknown");
    let (inv, root) = (dir.0.join("inventory.toml"), dir.0.join("tftp"));
    let tree = root.join("mystery");
    write(&tree.join("boot/vmlinuz"), b"k");
    write(&tree.join("boot/initrd.img"), b"i");
    write(&tree.join("README"), b"not an installer");

    let e = refused(&inv, &import(&tree, &root, &[]));
    says(
        &e,
        &[
            &format!("{}: no install tree awl knows", s(&tree)),
            ".treeinfo",
            "[images-ARCH] kernel= and initrd=",
            "debian-installer/ARCH/linux and initrd.gz",
            "casper/vmlinuz and casper/initrd",
            "awl distro add NAME --kernel FILE --initrd FILE",
        ],
    );

    let missing = dir.0.join("nosuch");
    let e = refused(&inv, &import(&missing, &root, &[]));
    says(&e, &[s(&missing)]);

    let iso = dir.0.join("image.iso");
    write(&iso, b"CD001");
    let e = refused(&inv, &import(&iso, &root, &[]));
    says(&e, &[s(&iso), "mount an ISO first"]);

    // A netboot tree without its initrd, and no --files-root at all.
    let half = root.join("half");
    write(&half.join("debian-installer/arm64/linux"), b"k");
    let e = refused(&inv, &import(&half, &root, &[]));
    says(&e, &[s(&half.join("debian-installer/arm64/initrd.gz"))]);
    write(&half.join("debian-installer/arm64/initrd.gz"), b"i");
    let e = refused(&inv, &["distro", "import", s(&half)]);
    says(&e, &["give --files-root"]);
    assert!(!inv.exists(), "a refused import wrote the inventory");
}
