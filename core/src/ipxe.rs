/*! iPXE scripts, written without allocating into any [`core::fmt::Write`]
(a `heapless::String` on the appliance, a `String` on the host), so both
answer a booting machine with the same text.

* [`write_install`]: the installer's kernel, initrds and command line. Each
  initrd is loaded under a name (`initrd --name initrd0 URL`) and named on
  the command line (`initrd=initrd0`), which both BIOS and UEFI iPXE need.
* [`write_local`]: boot from the disk. iPXE's `exit` hands back to the
  firmware, which tries its next boot device; on BIOS `sanboot` of the
  first disk comes first (some BIOSes stop at a failed network boot).
* [`write_chain`]: the first script every iPXE gets (from DHCP), which
  chains to the per-machine one with iPXE's own view of the machine (MAC,
  SMBIOS UUID, firmware), as matchbox does; proxyDHCP knows no IP → MAC
  mapping, so the machine names itself.
* [`write_menu`]: a menu for machines the inventory does not know, with
  "boot from disk" as its default.

Values are written as given: a URL or kernel argument holding `${` would be
expanded by iPXE, which the host's inventory check refuses.
*/

use core::fmt::{self, Write};

/// Which firmware iPXE runs on (its `${platform}`: `pcbios` or `efi`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Platform {
    /// BIOS (`pcbios`).
    Bios,
    /// UEFI (`efi`).
    Efi,
}

impl Platform {
    /// From iPXE's `${platform}`; anything unknown is treated as UEFI, whose
    /// local-boot answer (`exit`) works everywhere.
    pub fn from_ipxe(platform: &str) -> Self {
        if platform == "pcbios" {
            Self::Bios
        } else {
            Self::Efi
        }
    }
}

/// What an install boots.
#[derive(Debug, Clone, Copy)]
pub struct Install<'a> {
    /// A label for the console (the system's name).
    pub name: &'a str,
    /// The kernel's URL.
    pub kernel: &'a str,
    /// The initrds' URLs, in order.
    pub initrds: &'a [&'a str],
    /// The kernel command line (without `initrd=`).
    pub args: &'a str,
}

/// The installer: kernel, initrds, command line, boot.
pub fn write_install(out: &mut impl Write, install: &Install<'_>) -> fmt::Result {
    out.write_str("#!ipxe\n")?;
    writeln!(out, "echo awl: installing {}", install.name)?;
    for (i, url) in install.initrds.iter().enumerate() {
        writeln!(out, "initrd --name initrd{i} {url} || goto failed")?;
    }
    write!(out, "kernel {}", install.kernel)?;
    for i in 0..install.initrds.len() {
        write!(out, " initrd=initrd{i}")?;
    }
    if !install.args.is_empty() {
        write!(out, " {}", install.args)?;
    }
    out.write_str(" || goto failed\nboot || goto failed\n")?;
    out.write_str(
        ":failed\necho awl: the installer did not boot; retrying in 10 s\nsleep 10\nreboot\n",
    )
}

/// Boot from the local disk.
pub fn write_local(out: &mut impl Write, platform: Platform) -> fmt::Result {
    out.write_str("#!ipxe\necho awl: booting from the local disk\n")?;
    if platform == Platform::Bios {
        out.write_str("sanboot --no-describe --drive 0x80 || exit\n")
    } else {
        out.write_str("exit\n")
    }
}

/// The first script: chain to `base` (for example
/// `http://10.0.0.1:8080/ipxe`) with the machine's own identity.
pub fn write_chain(out: &mut impl Write, base: &str) -> fmt::Result {
    out.write_str("#!ipxe\n")?;
    writeln!(
        out,
        "chain {base}?mac=${{net0/mac}}&uuid=${{uuid}}&platform=${{platform}}&buildarch=${{buildarch}} || goto failed"
    )?;
    out.write_str(":failed\necho awl: no boot script; booting from the local disk\nexit\n")
}

/// One menu entry: an id, a label, the URL of its script.
#[derive(Debug, Clone, Copy)]
pub struct MenuItem<'a> {
    /// A short id (letters, digits, `-`, `_`).
    pub id: &'a str,
    /// What the menu shows.
    pub label: &'a str,
    /// The script to chain to.
    pub url: &'a str,
}

/// A menu of `items` and "boot from disk", which is chosen after
/// `timeout_ms` without a key.
pub fn write_menu(
    out: &mut impl Write,
    title: &str,
    items: &[MenuItem<'_>],
    platform: Platform,
    timeout_ms: u32,
) -> fmt::Result {
    out.write_str("#!ipxe\n")?;
    writeln!(out, "menu {title}")?;
    for item in items {
        writeln!(out, "item {} {}", item.id, item.label)?;
    }
    out.write_str("item --default local Boot from the local disk\n")?;
    writeln!(
        out,
        "choose --timeout {timeout_ms} --default local target || goto local"
    )?;
    out.write_str("goto ${target}\n")?;
    for item in items {
        writeln!(out, ":{}\nchain {} || goto local", item.id, item.url)?;
    }
    out.write_str(":local\n")?;
    if platform == Platform::Bios {
        out.write_str("sanboot --no-describe --drive 0x80 || exit\n")
    } else {
        out.write_str("exit\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: impl FnOnce(&mut heapless::String<1024>) -> fmt::Result) -> heapless::String<1024> {
        let mut s = heapless::String::new();
        f(&mut s).unwrap();
        s
    }

    #[test]
    fn an_install_names_each_initrd_for_uefi() {
        let s = text(|o| {
            write_install(
                o,
                &Install {
                    name: "web1",
                    kernel: "http://10.0.0.1/d/linux",
                    initrds: &["http://10.0.0.1/d/initrd.gz", "http://10.0.0.1/d/fw.cpio"],
                    args: "auto=true url=http://10.0.0.1/a/web1",
                },
            )
        });
        assert!(s.starts_with("#!ipxe\n"));
        assert!(s.contains("initrd --name initrd0 http://10.0.0.1/d/initrd.gz"));
        assert!(s.contains("initrd --name initrd1 http://10.0.0.1/d/fw.cpio"));
        assert!(s.contains(
            "kernel http://10.0.0.1/d/linux initrd=initrd0 initrd=initrd1 auto=true url=http://10.0.0.1/a/web1 ||"
        ));
    }

    #[test]
    fn local_boot_fits_the_firmware() {
        assert!(
            text(|o| write_local(o, Platform::Bios)).contains("sanboot --no-describe --drive 0x80")
        );
        let efi = text(|o| write_local(o, Platform::Efi));
        assert!(efi.ends_with("exit\n") && !efi.contains("sanboot"));
        assert_eq!(Platform::from_ipxe("pcbios"), Platform::Bios);
        assert_eq!(Platform::from_ipxe("efi"), Platform::Efi);
    }

    #[test]
    fn the_chain_carries_the_machine_s_identity_and_a_menu_defaults_to_the_disk() {
        let c = text(|o| write_chain(o, "http://10.0.0.1:8080/ipxe"));
        assert!(c.contains(
            "chain http://10.0.0.1:8080/ipxe?mac=${net0/mac}&uuid=${uuid}&platform=${platform}"
        ));
        let m = text(|o| {
            write_menu(
                o,
                "awl",
                &[MenuItem {
                    id: "deb",
                    label: "Debian 12",
                    url: "http://s/ipxe?profile=deb",
                }],
                Platform::Efi,
                5000,
            )
        });
        assert!(m.contains("item deb Debian 12\n"));
        assert!(m.contains("choose --timeout 5000 --default local target"));
        assert!(m.contains(":deb\nchain http://s/ipxe?profile=deb || goto local"));
    }

    #[test]
    fn a_full_buffer_is_an_error_not_a_panic() {
        let mut small = heapless::String::<16>::new();
        assert!(write_local(&mut small, Platform::Bios).is_err());
    }
}
