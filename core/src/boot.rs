//! Boot policy: which client gets which boot file, decided from what its
//! DHCP request says. A pure function, shared by full DHCP and proxyDHCP.
//!
//! * A client already running iPXE (option 77 `iPXE`, or option 175) gets
//!   the iPXE script URL, never the iPXE binary again: chainloading cannot
//!   loop.
//! * A UEFI HTTP Boot client (`HTTPClient` vendor class) gets a URL.
//! * Any other PXE client gets the iPXE binary for its firmware over TFTP:
//!   architecture from option 93, else from the `Arch:` of option 60, else
//!   BIOS. Types 7 and 9 both mean x64 UEFI (RFC 4578 errata 4624).
//! * A client that is not network-booting (no PXE/HTTP vendor class, no
//!   option 93, not iPXE) gets no boot options.

use core::net::Ipv4Addr;

use crate::wire::dhcp::pxe::{BootClient, ClientArch, VendorClass};
use crate::wire::dhcp::Packet;

/// The firmware family a boot file is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Firmware {
    /// Legacy BIOS PXE ROM.
    Bios,
    /// x86-64 UEFI.
    UefiX64,
    /// 32-bit x86 UEFI.
    UefiIa32,
    /// ARM 64-bit UEFI.
    UefiArm64,
    /// Anything else (the architecture as sent).
    Other(ClientArch),
}

impl Firmware {
    fn of(arch: ClientArch) -> Self {
        match arch {
            ClientArch::X86Bios | ClientArch::X86BiosHttp => Self::Bios,
            ClientArch::X64Uefi
            | ClientArch::Ebc
            | ClientArch::X64UefiHttp
            | ClientArch::EbcHttp => Self::UefiX64,
            ClientArch::X86Uefi | ClientArch::X86UefiHttp => Self::UefiIa32,
            ClientArch::Arm64Uefi | ClientArch::Arm64UefiHttp => Self::UefiArm64,
            other => Self::Other(other),
        }
    }
}

/// What a request says about the client's boot firmware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ClientFacts {
    /// Which boot file family it needs.
    pub firmware: Firmware,
    /// The architecture it sent (option 93, else option 60's `Arch:`).
    pub arch: Option<ClientArch>,
    /// It is network-booting (PXE or HTTP vendor class, or option 93).
    pub netboot: bool,
    /// It already runs iPXE.
    pub ipxe: bool,
    /// It is a UEFI HTTP Boot client.
    pub http: bool,
}

impl ClientFacts {
    /// Reads the facts from a request.
    pub fn of<T: AsRef<[u8]>>(packet: &Packet<T>) -> Self {
        let class = packet
            .vendor_class()
            .and_then(|v| v.contiguous())
            .and_then(VendorClass::parse);
        let arch = packet.client_arch().next().or(class.and_then(|c| c.arch));
        let ipxe = packet.is_ipxe();
        let http = class.is_some_and(|c| c.kind == BootClient::Http);
        Self {
            firmware: arch.map_or(Firmware::Bios, Firmware::of),
            arch,
            netboot: class.is_some() || arch.is_some() || ipxe,
            ipxe,
            http,
        }
    }
}

/// What the firmware said, in words: `x64 UEFI`, `x86 BIOS, iPXE`,
/// `x64 UEFI HTTP, HTTP boot`; `PXE, arch not sent` for a PXE client that
/// named no architecture, `not netbooting` for a plain DHCP client.
impl core::fmt::Display for ClientFacts {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if !self.netboot {
            return f.write_str("not netbooting");
        }
        match self.arch {
            Some(arch) => write!(f, "{arch}")?,
            None if !self.ipxe && !self.http => f.write_str("PXE, arch not sent")?,
            None => {}
        }
        let mut sep = if self.arch.is_some() { ", " } else { "" };
        for (on, what) in [(self.ipxe, "iPXE"), (self.http, "HTTP boot")] {
            if on {
                f.write_str(sep)?;
                f.write_str(what)?;
                sep = ", ";
            }
        }
        Ok(())
    }
}

/// Where boot files are and what they are called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootConfig<'a> {
    /// The TFTP server (`siaddr`, option 66): usually this server.
    pub tftp_server: Ipv4Addr,
    /// For BIOS PXE ROMs (Debian's ipxe package: `undionly.kpxe`).
    pub bios: &'a str,
    /// For x64 UEFI (`ipxe.efi`, or `snponly.efi`).
    pub uefi_x64: &'a str,
    /// For 32-bit UEFI.
    pub uefi_ia32: &'a str,
    /// For ARM64 UEFI (not in Debian's x86 ipxe package: supply it).
    pub uefi_arm64: &'a str,
    /// What a client already running iPXE fetches (an HTTP URL of the
    /// boot script); empty: iPXE clients get nothing.
    pub ipxe_script: &'a str,
    /// What a UEFI HTTP Boot client fetches (an HTTP URL of an EFI
    /// binary); empty: HTTP Boot clients get nothing.
    pub http_boot: &'a str,
}

impl Default for BootConfig<'_> {
    fn default() -> Self {
        Self {
            tftp_server: Ipv4Addr::UNSPECIFIED,
            bios: "undionly.kpxe",
            uefi_x64: "ipxe.efi",
            uefi_ia32: "ipxe-i386.efi",
            uefi_arm64: "ipxe-arm64.efi",
            ipxe_script: "",
            http_boot: "",
        }
    }
}

/// What a client is told to boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootDecision<'a> {
    /// A file over TFTP from `server`.
    Tftp {
        /// TFTP server.
        server: Ipv4Addr,
        /// File name.
        file: &'a str,
    },
    /// A URL (iPXE script, or UEFI HTTP Boot); the reply echoes
    /// `HTTPClient` in option 60 when `http_client` is set.
    Url {
        /// The URL.
        url: &'a str,
        /// The client is a UEFI HTTP Boot client.
        http_client: bool,
    },
    /// No boot options.
    None,
}

/// What the client was told, in words: `boot ipxe.efi from tftp
/// 10.0.0.1`, `boot http://10.0.0.1/boot.ipxe`, `no boot options`.
impl core::fmt::Display for BootDecision<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Tftp { server, file } => write!(f, "boot {file} from tftp {server}"),
            Self::Url { url, .. } => write!(f, "boot {url}"),
            Self::None => f.write_str("no boot options"),
        }
    }
}

/// Decides what `facts` boots under `config` for a machine the inventory
/// knows: `netboot` off gives no boot options; its own `boot_file` (a file
/// or a URL; empty: none) replaces the default one where the default would
/// boot at all.
pub fn decide_for<'a>(
    facts: &ClientFacts,
    config: &BootConfig<'a>,
    netboot: bool,
    boot_file: &'a str,
) -> BootDecision<'a> {
    let decision = decide(facts, config);
    if !netboot {
        return BootDecision::None;
    }
    if boot_file.is_empty() || decision == BootDecision::None {
        return decision;
    }
    if boot_file.contains("://") {
        BootDecision::Url {
            url: boot_file,
            http_client: facts.http,
        }
    } else {
        BootDecision::Tftp {
            server: config.tftp_server,
            file: boot_file,
        }
    }
}

/// Decides what `facts` boots under `config`.
pub fn decide<'a>(facts: &ClientFacts, config: &BootConfig<'a>) -> BootDecision<'a> {
    if !facts.netboot {
        return BootDecision::None;
    }
    if facts.ipxe {
        return if config.ipxe_script.is_empty() {
            BootDecision::None
        } else {
            BootDecision::Url {
                url: config.ipxe_script,
                http_client: false,
            }
        };
    }
    if facts.http {
        return if config.http_boot.is_empty() {
            BootDecision::None
        } else {
            BootDecision::Url {
                url: config.http_boot,
                http_client: true,
            }
        };
    }
    let file = match facts.firmware {
        Firmware::Bios => config.bios,
        Firmware::UefiX64 => config.uefi_x64,
        Firmware::UefiIa32 => config.uefi_ia32,
        Firmware::UefiArm64 => config.uefi_arm64,
        Firmware::Other(_) => return BootDecision::None,
    };
    BootDecision::Tftp {
        server: config.tftp_server,
        file,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn request(options: &[u8]) -> Vec<u8> {
        let mut p = vec![0u8; 240];
        p[0] = 1;
        p[1] = 1;
        p[2] = 6;
        p[236..240].copy_from_slice(&crate::wire::dhcp::MAGIC_COOKIE);
        p.extend_from_slice(&[53, 1, 1]);
        p.extend_from_slice(options);
        p.push(255);
        p
    }

    fn facts(options: &[u8]) -> ClientFacts {
        let bytes = request(options);
        ClientFacts::of(&Packet::new_checked(&bytes[..]).unwrap())
    }

    fn vendor(class: &str) -> Vec<u8> {
        let mut v = vec![60, class.len() as u8];
        v.extend_from_slice(class.as_bytes());
        v
    }

    const CONFIG: BootConfig<'static> = BootConfig {
        tftp_server: Ipv4Addr::new(10, 0, 0, 1),
        bios: "undionly.kpxe",
        uefi_x64: "ipxe.efi",
        uefi_ia32: "ipxe-i386.efi",
        uefi_arm64: "ipxe-arm64.efi",
        ipxe_script: "http://10.0.0.1/boot.ipxe",
        http_boot: "http://10.0.0.1/boot/ipxe.efi",
    };

    fn tftp(file: &'static str) -> BootDecision<'static> {
        BootDecision::Tftp {
            server: Ipv4Addr::new(10, 0, 0, 1),
            file,
        }
    }

    #[test]
    fn each_architecture_gets_its_ipxe_binary() {
        for (arch, file) in [
            (0u8, "undionly.kpxe"),
            (7, "ipxe.efi"),
            (9, "ipxe.efi"),
            (6, "ipxe-i386.efi"),
            (11, "ipxe-arm64.efi"),
        ] {
            let mut o = vendor(&format!("PXEClient:Arch:{arch:05}:UNDI:003000"));
            o.extend_from_slice(&[93, 2, 0, arch]);
            assert_eq!(decide(&facts(&o), &CONFIG), tftp(file), "arch {arch}");
        }
    }

    #[test]
    fn option_60_arch_is_used_without_option_93_and_bios_is_the_fallback() {
        assert_eq!(
            decide(&facts(&vendor("PXEClient:Arch:00007:UNDI:003000")), &CONFIG),
            tftp("ipxe.efi")
        );
        assert_eq!(
            decide(&facts(&vendor("PXEClient")), &CONFIG),
            tftp("undionly.kpxe")
        );
        // An unknown architecture gets nothing rather than a wrong binary.
        assert_eq!(decide(&facts(&[93, 2, 0, 25]), &CONFIG), BootDecision::None);
    }

    #[test]
    fn ipxe_gets_the_script_never_the_binary_again() {
        let mut o = vendor("PXEClient:Arch:00000:UNDI:002001");
        o.extend_from_slice(&[93, 2, 0, 0, 77, 4, b'i', b'P', b'X', b'E']);
        assert_eq!(
            decide(&facts(&o), &CONFIG),
            BootDecision::Url {
                url: "http://10.0.0.1/boot.ipxe",
                http_client: false
            }
        );
        // Option 175 alone also means iPXE.
        let mut o = vendor("PXEClient:Arch:00007:UNDI:003010");
        o.extend_from_slice(&[175, 3, 0x13, 1, 1]);
        assert!(matches!(
            decide(&facts(&o), &CONFIG),
            BootDecision::Url { .. }
        ));
        // No script configured: nothing, not the binary (that would loop).
        let no_script = BootConfig {
            ipxe_script: "",
            ..CONFIG
        };
        assert_eq!(decide(&facts(&o), &no_script), BootDecision::None);
    }

    #[test]
    fn http_boot_clients_get_a_url() {
        let mut o = vendor("HTTPClient:Arch:00016:UNDI:003001");
        o.extend_from_slice(&[93, 2, 0, 16]);
        assert_eq!(
            decide(&facts(&o), &CONFIG),
            BootDecision::Url {
                url: "http://10.0.0.1/boot/ipxe.efi",
                http_client: true
            }
        );
    }

    #[test]
    fn facts_and_decisions_read_as_words() {
        let text = |o: &[u8]| facts(o).to_string();
        let mut o = vendor("PXEClient:Arch:00000:UNDI:002001");
        o.extend_from_slice(&[93, 2, 0, 0, 77, 4, b'i', b'P', b'X', b'E']);
        assert_eq!(text(&o), "x86 BIOS, iPXE");
        assert_eq!(text(&[93, 2, 0, 7]), "x64 UEFI");
        assert_eq!(text(&[93, 2, 0, 9]), "EFI BC");
        assert_eq!(text(&[93, 2, 0, 11]), "ARM64 UEFI");
        let mut o = vendor("HTTPClient:Arch:00016:UNDI:003001");
        o.extend_from_slice(&[93, 2, 0, 16]);
        assert_eq!(text(&o), "x64 UEFI HTTP, HTTP boot");
        assert_eq!(text(&[93, 2, 0x01, 0x2c]), "arch 300");
        assert_eq!(text(&vendor("PXEClient")), "PXE, arch not sent");
        assert_eq!(text(&[175, 3, 0x13, 1, 1]), "iPXE");
        assert_eq!(text(&vendor("udhcp 1.35.0")), "not netbooting");

        assert_eq!(
            tftp("ipxe.efi").to_string(),
            "boot ipxe.efi from tftp 10.0.0.1"
        );
        let url = BootDecision::Url {
            url: "tftp://10.0.0.1/boot.ipxe",
            http_client: false,
        };
        assert_eq!(url.to_string(), "boot tftp://10.0.0.1/boot.ipxe");
        assert_eq!(BootDecision::None.to_string(), "no boot options");
    }

    #[test]
    fn ordinary_dhcp_clients_get_no_boot_options() {
        assert_eq!(
            decide(&facts(&vendor("udhcp 1.35.0")), &CONFIG),
            BootDecision::None
        );
        assert_eq!(decide(&facts(&[]), &CONFIG), BootDecision::None);
        assert_eq!(
            decide(&facts(&vendor("MSFT 5.0")), &CONFIG),
            BootDecision::None
        );
    }
}

/// How a system netboots (the inventory's `netboot`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Netboot {
    /// Installs at every network boot.
    #[default]
    Always,
    /// Installs once; after the install is reported, boots from its disk.
    Once,
    /// Never installs: every network boot is answered "boot from disk".
    Never,
}

/// What a known machine's boot script does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Target {
    /// Boot the installer (its profile's kernel and initrd).
    Install,
    /// Boot from the local disk.
    Local,
}

/// The rule that keeps a machine from installing itself forever: a
/// `once` machine that has reported its install, and a `never` machine,
/// boot from disk; nothing else does.
pub fn target(netboot: Netboot, installed: bool) -> Target {
    match (netboot, installed) {
        (Netboot::Always, _) | (Netboot::Once, false) => Target::Install,
        (Netboot::Once, true) | (Netboot::Never, _) => Target::Local,
    }
}

#[cfg(test)]
mod policy_tests {
    use super::*;

    #[test]
    fn installed_once_machines_and_never_machines_boot_from_disk() {
        assert_eq!(target(Netboot::Always, false), Target::Install);
        assert_eq!(target(Netboot::Always, true), Target::Install);
        assert_eq!(target(Netboot::Once, false), Target::Install);
        assert_eq!(target(Netboot::Once, true), Target::Local);
        assert_eq!(target(Netboot::Never, false), Target::Local);
        assert_eq!(target(Netboot::Never, true), Target::Local);
    }
}
