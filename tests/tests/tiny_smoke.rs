//! The boot tests' small OS starts, loads its NIC driver and powers off.
use awl_tests::tiny;

#[test]
fn the_tiny_initramfs_boots_and_powers_off() {
    let kernel = tiny::test_kernel();
    let dir = awl_tests::TempDir::new("tiny");
    let initrd = dir.0.join("initrd.cpio");
    tiny::write_initramfs(&kernel, &initrd);
    let console = dir.0.join("console.log");
    let status = std::process::Command::new("timeout")
        .args([
            "120",
            "qemu-system-x86_64",
            "-m",
            "256",
            "-machine",
            "pc,accel=tcg",
        ])
        .args(["-display", "none", "-monitor", "none", "-no-reboot"])
        .arg("-serial")
        .arg(format!("file:{}", console.display()))
        .arg("-kernel")
        .arg(&kernel.vmlinuz)
        .arg("-initrd")
        .arg(&initrd)
        .args([
            "-append",
            "console=ttyS0 panic=-1 awl.fetch=http://127.0.0.1:9/none",
        ])
        .args([
            "-nic",
            "none",
            "-device",
            "virtio-net-pci,netdev=n0",
            "-netdev",
            "socket,id=n0,listen=127.0.0.1:0",
        ])
        .status()
        .unwrap();
    let out = std::fs::read_to_string(&console).unwrap_or_default();
    assert!(status.success(), "qemu: {status}\n{out}");
    assert!(out.contains("AWL-TINY-DONE"), "{out}");
    assert!(!out.contains("modprobe"), "{out}");
    assert!(
        out.contains("AWL-FETCH-FAILED http://127.0.0.1:9/none"),
        "{out}"
    );
}
