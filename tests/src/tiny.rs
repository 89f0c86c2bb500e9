//! A machine's operating system for boot tests: Debian's cloud kernel
//! (unpacked into `target/test-kernel/` by `./test.sh`) and a small
//! initramfs built here around the static busybox. It does what an
//! installer's first minutes do on the network: it loads the NIC driver,
//! asks DHCP for an address (busybox udhcpc), fetches every URL named by an
//! `awl.fetch=URL` kernel argument or by an installer's answer-file
//! argument (`inst.ks=`, `url=`, `autoyast=`), and prints on its serial
//! console, for
//! each, `AWL-FETCHED <url> <size> <sha256>` (or `AWL-FETCH-FAILED <url>`),
//! then `AWL-TINY-DONE` and powers off.
//!
//! As an installer's last step would, it reports the install done, when
//! the kernel command line has `awl.report`: when a fetched answer file has the built-in callback snippet's line
//! (`awl_callback='URL'`, `snippets/callback.sh`), it POSTs to that URL
//! (busybox `wget --post-data=`) and prints `AWL-CALLBACK-OK` or
//! `AWL-CALLBACK-FAILED` (never the URL: it holds the install token).

use std::io::Write;
use std::path::{Path, PathBuf};

/// The kernel and the modules a virtio NIC needs.
pub struct TestKernel {
    /// The kernel image.
    pub vmlinuz: PathBuf,
    /// `lib/modules/VERSION/kernel` of the same kernel.
    modules: PathBuf,
    /// Its version (`uname -r`).
    version: String,
}

/// The modules QEMU's `virtio-net-pci` needs (busybox's depmod and
/// modprobe work out the order in the machine).
const MODULES: &[&str] = &[
    "drivers/virtio/virtio.ko",
    "drivers/virtio/virtio_ring.ko",
    "drivers/virtio/virtio_pci_modern_dev.ko",
    "drivers/virtio/virtio_pci_legacy_dev.ko",
    "drivers/virtio/virtio_pci.ko",
    "net/core/failover.ko",
    "drivers/net/net_failover.ko",
    "drivers/net/virtio_net.ko",
];

const INIT: &str = r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
depmod
for m in virtio_pci virtio_net; do
  modprobe $m || echo "AWL-TINY modprobe $m failed"
done
ip link set lo up
ip link set eth0 up
udhcpc -i eth0 -s /udhcpc.sh -q -n -t 20 -T 2 || echo "AWL-TINY no DHCP answer"
echo "AWL-TINY address $(ip -4 -o addr show eth0 | awk '{print $4}')"
# An installer's syslog, as debian-installer (log_host, log_port) and
# Anaconda (inst.syslog) forward theirs: busybox syslogd -R.
loghost=""; logport=514
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    log_host=*) loghost="${arg#*=}" ;;
    log_port=*) logport="${arg#*=}" ;;
    inst.syslog=*) loghost="${arg#*=}"; loghost="${loghost%:*}"; logport="${arg##*:}" ;;
  esac
done
if [ -n "$loghost" ]; then
  syslogd -n -R "$loghost:$logport" &
  # Until syslogd has its socket (at most 2 s).
  n=0; while [ ! -S /dev/log ] && [ $n -lt 200 ]; do usleep 10000; n=$((n + 1)); done
  logger -t awl-tiny "AWL-TINY-SYSLOG installing from $(ip -4 -o addr show eth0 | awk '{print $4}')"
  echo "AWL-TINY syslog to $loghost:$logport"
fi
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    awl.fetch=*|inst.ks=*|url=*|autoyast=*)
      url="${arg#*=}"
      if wget -q -O /fetched "$url"; then
        echo "AWL-FETCHED $url $(wc -c < /fetched) $(sha256sum /fetched | cut -d' ' -f1)"
        callback=$(sed -n "s/^awl_callback='\\(.*\\)'$/\\1/p" /fetched)
        if [ -n "$callback" ] && grep -qw awl.report /proc/cmdline; then
          if wget -q --post-data= -O /dev/null "$callback"; then
            echo AWL-CALLBACK-OK
          else
            echo AWL-CALLBACK-FAILED
          fi
        fi
      else
        echo "AWL-FETCH-FAILED $url"
      fi
      ;;
  esac
done
echo AWL-TINY-DONE
poweroff -f
"#;

const UDHCPC: &str = r#"#!/bin/sh
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$router" ] && ip route add default via "${router%% *}"
    ;;
esac
exit 0
"#;

/// The kernel `./test.sh` unpacked; panics (it is a missing install step,
/// not a reason to skip) when there is none.
pub fn test_kernel() -> TestKernel {
    let base = crate::repo_root().join("target/test-kernel");
    let package = std::fs::read_dir(&base)
        .ok()
        .and_then(|mut d| d.find_map(|e| e.ok()))
        .unwrap_or_else(|| {
            panic!(
                "no test kernel in {}: run ./test.sh, which unpacks it",
                base.display()
            )
        })
        .path();
    let vmlinuz = std::fs::read_dir(package.join("boot"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("vmlinuz-")
        })
        .expect("vmlinuz in the test kernel package");
    let version = vmlinuz.file_name().unwrap().to_string_lossy()["vmlinuz-".len()..].to_string();
    TestKernel {
        vmlinuz,
        modules: package.join("lib/modules").join(&version).join("kernel"),
        version,
    }
}

/// Writes the initramfs (an uncompressed newc cpio, which every Linux
/// kernel reads) to `out`.
pub fn write_initramfs(kernel: &TestKernel, out: &Path) {
    let busybox = which("busybox");
    let mut cpio = Cpio::default();
    for dir in [
        "bin",
        "dev",
        "proc",
        "sys",
        "lib",
        "lib/modules",
        "usr",
        "usr/bin",
        "sbin",
    ] {
        cpio.dir(dir);
    }
    let modules = format!("lib/modules/{}", kernel.version);
    cpio.dir(&modules);
    cpio.file("init", INIT.as_bytes(), 0o755);
    cpio.file("udhcpc.sh", UDHCPC.as_bytes(), 0o755);
    cpio.file("bin/busybox", &std::fs::read(&busybox).unwrap(), 0o755);
    let mut dirs = std::collections::BTreeSet::new();
    for module in MODULES {
        let path = Path::new("kernel").join(module);
        for dir in path
            .ancestors()
            .skip(1)
            .filter(|d| !d.as_os_str().is_empty())
        {
            dirs.insert(dir.to_path_buf());
        }
    }
    for dir in &dirs {
        cpio.dir(&format!("{modules}/{}", dir.display()));
    }
    for module in MODULES {
        let bytes = std::fs::read(kernel.modules.join(module))
            .unwrap_or_else(|e| panic!("{module} in the test kernel: {e}"));
        cpio.file(&format!("{modules}/kernel/{module}"), &bytes, 0o644);
    }
    std::fs::File::create(out)
        .unwrap()
        .write_all(&cpio.finish())
        .unwrap();
}

fn which(tool: &str) -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(tool))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{tool} not found (./test.sh installs busybox-static)"))
}

/// What the machine printed, parsed: every `AWL-FETCHED` line as
/// (url, size, sha256).
pub fn fetched(console: &str) -> Vec<(String, u64, String)> {
    console
        .lines()
        .filter_map(|l| {
            let rest = l.trim().strip_prefix("AWL-FETCHED ")?;
            let mut parts = rest.split(' ');
            Some((
                parts.next()?.to_string(),
                parts.next()?.parse().ok()?,
                parts.next()?.to_string(),
            ))
        })
        .collect()
}

/// A newc ("070701") cpio archive.
#[derive(Default)]
struct Cpio {
    bytes: Vec<u8>,
    inode: u32,
}

impl Cpio {
    fn entry(&mut self, name: &str, mode: u32, data: &[u8]) {
        self.inode += 1;
        let header = format!(
            "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            self.inode,
            mode,
            0,
            0,
            1,
            0,
            data.len(),
            0,
            0,
            0,
            0,
            name.len() + 1,
            0
        );
        self.bytes.extend_from_slice(header.as_bytes());
        self.bytes.extend_from_slice(name.as_bytes());
        self.bytes.push(0);
        self.pad();
        self.bytes.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.bytes.len().is_multiple_of(4) {
            self.bytes.push(0);
        }
    }

    fn dir(&mut self, name: &str) {
        self.entry(name, 0o040_755, &[]);
    }

    fn file(&mut self, name: &str, data: &[u8], perm: u32) {
        self.entry(name, 0o100_000 | perm, data);
    }

    fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, &[]);
        self.bytes
    }
}

/// `dir/root`, a files root holding the test kernel as `tiny/vmlinuz` and
/// the small OS as `tiny/initrd.cpio`.
pub fn files_root(dir: &Path) -> PathBuf {
    let kernel = test_kernel();
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("tiny")).unwrap();
    std::fs::copy(&kernel.vmlinuz, root.join("tiny/vmlinuz")).unwrap();
    write_initramfs(&kernel, &root.join("tiny/initrd.cpio"));
    root
}

/// `awl distro add tiny` into `inventory`: the files of [`files_root`],
/// family redhat (so its answer file comes by `inst.ks=`), with
/// `kernel_args`.
pub fn add_distro(inventory: &str, kernel_args: &str) {
    crate::awl_inventory(
        inventory,
        &[
            "distro",
            "add",
            "tiny",
            "--kernel",
            "tiny/vmlinuz",
            "--initrd",
            "tiny/initrd.cpio",
            "--family",
            "redhat",
            "--kernel-args",
            kernel_args,
        ],
    );
}
