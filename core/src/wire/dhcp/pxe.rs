//! PXE and iPXE structures carried inside DHCP options: client architecture
//! (93), network device interface (94), machine GUID (97), the PXE vendor
//! class string (60), PXE sub-options (43), user class (77), relay agent
//! sub-options (82) and iPXE's encapsulated options (175).

use crate::wire::{enum_with_unknown, read_u16, Error, Result, Writer};

enum_with_unknown! {
    /// Client system architecture (option 93, RFC 4578 and the IANA
    /// "Processor Architecture Types" registry).
    ///
    /// RFC 4578 had 7 and 9 the wrong way round (errata 4624): firmware in
    /// the field sends 7 for x64 UEFI and some sends 9; treat both as x64.
    pub enum ClientArch(u16) {
        /// x86 BIOS
        X86Bios = 0,
        /// NEC/PC98 (deprecated)
        NecPc98 = 1,
        /// Itanium
        Itanium = 2,
        /// DEC Alpha (deprecated)
        DecAlpha = 3,
        /// Arc x86 (deprecated)
        ArcX86 = 4,
        /// Intel Lean Client (deprecated)
        IntelLeanClient = 5,
        /// x86 (IA32) UEFI
        X86Uefi = 6,
        /// x64 UEFI
        X64Uefi = 7,
        /// Xscale UEFI
        XscaleUefi = 8,
        /// EFI Byte Code (sent by some x64 firmware, see above)
        Ebc = 9,
        /// ARM 32-bit UEFI
        Arm32Uefi = 10,
        /// ARM 64-bit UEFI
        Arm64Uefi = 11,
        /// x86 UEFI HTTP boot
        X86UefiHttp = 15,
        /// x64 UEFI HTTP boot
        X64UefiHttp = 16,
        /// EBC HTTP boot
        EbcHttp = 17,
        /// ARM 32-bit UEFI HTTP boot
        Arm32UefiHttp = 18,
        /// ARM 64-bit UEFI HTTP boot
        Arm64UefiHttp = 19,
        /// x86 BIOS HTTP boot
        X86BiosHttp = 20,
        /// ARM 32-bit U-Boot
        Arm32Uboot = 21,
        /// ARM 64-bit U-Boot
        Arm64Uboot = 22,
        /// RISC-V 32-bit UEFI
        RiscV32Uefi = 25,
        /// RISC-V 64-bit UEFI
        RiscV64Uefi = 27,
        /// RISC-V 64-bit UEFI HTTP boot
        RiscV64UefiHttp = 28,
        /// Raspberry Pi boot ROM (`arm rpiboot`)
        ArmRpiboot = 41,
    }
}

impl ClientArch {
    /// Its name in words (`x64 UEFI`), as logs show it; `None` for a value
    /// this implementation has no name for.
    pub fn name(&self) -> Option<&'static str> {
        Some(match self {
            Self::X86Bios => "x86 BIOS",
            Self::NecPc98 => "NEC PC98",
            Self::Itanium => "Itanium",
            Self::DecAlpha => "DEC Alpha",
            Self::ArcX86 => "Arc x86",
            Self::IntelLeanClient => "Intel Lean Client",
            Self::X86Uefi => "x86 UEFI",
            Self::X64Uefi => "x64 UEFI",
            Self::XscaleUefi => "XScale UEFI",
            Self::Ebc => "EFI BC",
            Self::Arm32Uefi => "ARM32 UEFI",
            Self::Arm64Uefi => "ARM64 UEFI",
            Self::X86UefiHttp => "x86 UEFI HTTP",
            Self::X64UefiHttp => "x64 UEFI HTTP",
            Self::EbcHttp => "EFI BC HTTP",
            Self::Arm32UefiHttp => "ARM32 UEFI HTTP",
            Self::Arm64UefiHttp => "ARM64 UEFI HTTP",
            Self::X86BiosHttp => "x86 BIOS HTTP",
            Self::Arm32Uboot => "ARM32 U-Boot",
            Self::Arm64Uboot => "ARM64 U-Boot",
            Self::RiscV32Uefi => "RISC-V 32 UEFI",
            Self::RiscV64Uefi => "RISC-V 64 UEFI",
            Self::RiscV64UefiHttp => "RISC-V 64 UEFI HTTP",
            Self::ArmRpiboot => "ARM rpiboot",
            Self::Unknown(_) => return None,
        })
    }
}

/// `x64 UEFI`, `ARM64 UEFI HTTP`, ...; `arch N` for a value without a name.
impl core::fmt::Display for ClientArch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "arch {}", u16::from(*self)),
        }
    }
}

/// A list of architectures: a slice when emitting, wire bytes (big-endian
/// `u16`s) when parsed. Equal when they hold the same values.
#[derive(Debug, Clone, Copy)]
pub enum Archs<'a> {
    /// Given by the caller.
    Slice(&'a [ClientArch]),
    /// As on the wire (an even number of bytes).
    Wire(&'a [u8]),
}

impl<'a> Archs<'a> {
    /// The architectures, in order.
    pub fn iter(&self) -> impl Iterator<Item = ClientArch> + 'a {
        let (slice, wire): (&'a [ClientArch], &'a [u8]) = match *self {
            Self::Slice(s) => (s, &[]),
            Self::Wire(w) => (&[], w),
        };
        slice.iter().copied().chain(
            wire.chunks_exact(2)
                .filter_map(|c| read_u16(c, 0))
                .map(ClientArch::from),
        )
    }

    /// Number of architectures.
    pub fn len(&self) -> usize {
        match *self {
            Self::Slice(s) => s.len(),
            Self::Wire(w) => w.len() / 2,
        }
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl PartialEq for Archs<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

/// Client network device interface (option 94): type 1 = UNDI, with its
/// version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Ndi {
    /// Interface type (1 = UNDI).
    pub kind: u8,
    /// Major version.
    pub major: u8,
    /// Minor version.
    pub minor: u8,
}

/// Client machine identifier (option 97): type 0 and a 16-byte GUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Guid(pub [u8; 16]);

impl Guid {
    /// Reads the 17-byte option value; `None` unless the type byte is 0.
    pub fn from_option(value: &[u8; 17]) -> Option<Self> {
        let (kind, rest) = value.split_first()?;
        if *kind != 0 {
            return None;
        }
        Some(Self(rest.try_into().ok()?))
    }

    /// The option value (type 0 followed by the GUID), for echoing.
    pub fn to_option(&self) -> [u8; 17] {
        let mut out = [0u8; 17];
        let (kind, rest) = out.split_at_mut(1);
        kind.fill(0);
        rest.copy_from_slice(&self.0);
        out
    }
}

/// What a vendor class identifier (option 60) says about a network-boot
/// client, e.g. `PXEClient:Arch:00000:UNDI:002001` or
/// `HTTPClient:Arch:00016:UNDI:003001`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct VendorClass {
    /// Which kind of boot client.
    pub kind: BootClient,
    /// The `Arch:` field, when present and numeric.
    pub arch: Option<ClientArch>,
    /// The `UNDI:` field (major, minor), when present and numeric.
    pub undi: Option<(u8, u8)>,
}

/// The prefix of a network-boot vendor class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BootClient {
    /// `PXEClient`: PXE ROM, UEFI PXE, iPXE.
    Pxe,
    /// `HTTPClient`: UEFI HTTP Boot.
    Http,
}

impl VendorClass {
    /// Parses option 60; `None` when it names neither PXE nor HTTP boot.
    pub fn parse(data: &[u8]) -> Option<Self> {
        let (kind, rest) = if let Some(rest) = data.strip_prefix(b"PXEClient") {
            (BootClient::Pxe, rest)
        } else if let Some(rest) = data.strip_prefix(b"HTTPClient") {
            (BootClient::Http, rest)
        } else {
            return None;
        };
        let mut class = Self {
            kind,
            arch: None,
            undi: None,
        };
        let mut fields = rest.split(|&b| b == b':').skip(1);
        while let Some(name) = fields.next() {
            let Some(value) = fields.next() else { break };
            match name {
                b"Arch" => {
                    class.arch = decimal(value)
                        .and_then(|v| u16::try_from(v).ok())
                        .map(ClientArch::from);
                }
                b"UNDI" if value.len() == 6 => {
                    let major = value.get(..3).and_then(decimal);
                    let minor = value.get(3..).and_then(decimal);
                    if let (Some(major), Some(minor)) = (major, minor) {
                        class.undi = u8::try_from(major).ok().zip(u8::try_from(minor).ok());
                    }
                }
                _ => {}
            }
        }
        Some(class)
    }
}

/// Parses a run of ASCII digits (at most 9 of them) as a number.
fn decimal(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || digits.len() > 9 {
        return None;
    }
    digits.iter().try_fold(0u32, |acc, &d| {
        d.is_ascii_digit().then(|| {
            acc.saturating_mul(10)
                .saturating_add(u32::from(d.wrapping_sub(b'0')))
        })
    })
}

/// User class (option 77). RFC 3004 makes it a list of length-prefixed
/// instances; iPXE and others send one plain string (`iPXE`). When the bytes
/// are not a valid RFC 3004 list they are taken as one plain instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserClass<'a> {
    data: &'a [u8],
    rfc3004: bool,
}

impl<'a> UserClass<'a> {
    /// Reads an option 77 value.
    pub fn new(data: &'a [u8]) -> Self {
        let mut rest = data;
        let mut rfc3004 = !data.is_empty();
        while let Some((&len, tail)) = rest.split_first() {
            let len = usize::from(len);
            if len == 0 || len > tail.len() {
                rfc3004 = false;
                break;
            }
            rest = tail.get(len..).unwrap_or(&[]);
        }
        Self { data, rfc3004 }
    }

    /// Whether the value is in RFC 3004 form.
    pub fn is_rfc3004(&self) -> bool {
        self.rfc3004
    }

    /// The class instances.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let mut rest = self.data;
        let mut plain = (!self.rfc3004).then_some(self.data);
        let rfc3004 = self.rfc3004;
        core::iter::from_fn(move || {
            if !rfc3004 {
                return plain.take();
            }
            let (&len, tail) = rest.split_first()?;
            let (item, after) = tail.split_at_checked(usize::from(len))?;
            rest = after;
            Some(item)
        })
    }

    /// Whether any instance equals `class`.
    pub fn contains(&self, class: &[u8]) -> bool {
        self.iter().any(|c| c == class)
    }
}

/// One sub-option inside option 43, 82 or 175.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubOption<'a> {
    /// Sub-option code.
    pub code: u8,
    /// Sub-option value.
    pub data: &'a [u8],
}

/// Iterator over code/length/value sub-options. For option 43 (PXE) and 175
/// (iPXE), 0 is PAD and 255 is END; relay agent sub-options (82) have
/// neither. Stops at the first sub-option that overruns the value; see
/// [`SubOptions::is_well_formed`].
#[derive(Debug, Clone, Copy)]
pub struct SubOptions<'a> {
    rest: &'a [u8],
    pad_end: bool,
    overrun: bool,
}

impl<'a> SubOptions<'a> {
    /// Sub-options of option 43 or 175 (PAD and END recognised).
    pub fn encapsulated(data: &'a [u8]) -> Self {
        Self {
            rest: data,
            pad_end: true,
            overrun: false,
        }
    }

    /// Sub-options of option 82 (no PAD or END).
    pub fn relay(data: &'a [u8]) -> Self {
        Self {
            rest: data,
            pad_end: false,
            overrun: false,
        }
    }

    /// Whether every sub-option ends inside the value.
    pub fn is_well_formed(self) -> bool {
        let mut it = self;
        for _ in it.by_ref() {}
        !it.overrun
    }
}

impl<'a> Iterator for SubOptions<'a> {
    type Item = SubOption<'a>;

    fn next(&mut self) -> Option<SubOption<'a>> {
        loop {
            let (&code, tail) = self.rest.split_first()?;
            if self.pad_end && code == 0 {
                self.rest = tail;
                continue;
            }
            if self.pad_end && code == 255 {
                self.rest = &[];
                return None;
            }
            let Some((&len, tail)) = tail.split_first() else {
                self.overrun = true;
                self.rest = &[];
                return None;
            };
            let Some((data, after)) = tail.split_at_checked(usize::from(len)) else {
                self.overrun = true;
                self.rest = &[];
                return None;
            };
            self.rest = after;
            return Some(SubOption { code, data });
        }
    }
}

/// PXE sub-option codes inside option 43 (PXE 2.1 spec, table 2-1).
pub mod pxe_code {
    /// PXE_DISCOVERY_CONTROL
    pub const DISCOVERY_CONTROL: u8 = 6;
    /// PXE_BOOT_SERVERS
    pub const BOOT_SERVERS: u8 = 8;
    /// PXE_BOOT_MENU
    pub const BOOT_MENU: u8 = 9;
    /// PXE_MENU_PROMPT
    pub const MENU_PROMPT: u8 = 10;
    /// PXE_BOOT_ITEM
    pub const BOOT_ITEM: u8 = 71;
}

/// Bits of PXE_DISCOVERY_CONTROL (sub-option 6).
pub mod discovery {
    /// Disable broadcast discovery.
    pub const NO_BROADCAST: u8 = 1;
    /// Disable multicast discovery.
    pub const NO_MULTICAST: u8 = 2;
    /// Only use and accept servers in PXE_BOOT_SERVERS.
    pub const SERVER_LIST_ONLY: u8 = 4;
    /// Boot the file in this reply directly: no prompt, no menu, no
    /// discovery (what dnsmasq sends for a single boot service).
    pub const BOOT_FILE_DIRECTLY: u8 = 8;
}

/// A PXE sub-option of option 43, typed where the PXE spec gives it a fixed
/// shape. Lists (boot servers, menu entries) stay as their wire bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PxeOption<'a> {
    /// 6: discovery control bits (see [`discovery`]).
    DiscoveryControl(u8),
    /// 8: boot servers: repeated (type u16, count u8, count × IPv4).
    BootServers(&'a [u8]),
    /// 9: boot menu: repeated (type u16, length u8, description).
    BootMenu(&'a [u8]),
    /// 10: menu prompt: timeout in seconds (255 = wait), then the prompt.
    MenuPrompt {
        /// Seconds before the first menu item is chosen.
        timeout: u8,
        /// Prompt text.
        prompt: &'a [u8],
    },
    /// 71: boot item (server type, layer).
    BootItem {
        /// Boot server type.
        server_type: u16,
        /// Layer.
        layer: u16,
    },
    /// Any other sub-option, or a known one with an unexpected length.
    Other(SubOption<'a>),
}

impl<'a> PxeOption<'a> {
    /// Types one sub-option.
    pub fn parse(sub: SubOption<'a>) -> Self {
        match (sub.code, sub.data) {
            (pxe_code::DISCOVERY_CONTROL, &[bits]) => Self::DiscoveryControl(bits),
            (pxe_code::BOOT_SERVERS, data) if !data.is_empty() => Self::BootServers(data),
            (pxe_code::BOOT_MENU, data) if !data.is_empty() => Self::BootMenu(data),
            (pxe_code::MENU_PROMPT, &[timeout, ref prompt @ ..]) => {
                Self::MenuPrompt { timeout, prompt }
            }
            (pxe_code::BOOT_ITEM, &[a, b, c, d]) => Self::BootItem {
                server_type: u16::from_be_bytes([a, b]),
                layer: u16::from_be_bytes([c, d]),
            },
            _ => Self::Other(sub),
        }
    }

    /// Reads every sub-option of an option 43 value.
    pub fn iter(data: &'a [u8]) -> impl Iterator<Item = Self> + 'a {
        SubOptions::encapsulated(data).map(Self::parse)
    }

    fn code(&self) -> u8 {
        match self {
            Self::DiscoveryControl(_) => pxe_code::DISCOVERY_CONTROL,
            Self::BootServers(_) => pxe_code::BOOT_SERVERS,
            Self::BootMenu(_) => pxe_code::BOOT_MENU,
            Self::MenuPrompt { .. } => pxe_code::MENU_PROMPT,
            Self::BootItem { .. } => pxe_code::BOOT_ITEM,
            Self::Other(sub) => sub.code,
        }
    }

    fn value_len(&self) -> usize {
        match self {
            Self::DiscoveryControl(_) => 1,
            Self::BootServers(d) | Self::BootMenu(d) => d.len(),
            Self::MenuPrompt { prompt, .. } => prompt.len().saturating_add(1),
            Self::BootItem { .. } => 4,
            Self::Other(sub) => sub.data.len(),
        }
    }

    /// Writes the sub-options, then END, into `buf` (an option 43 value);
    /// returns the length written.
    pub fn emit_all(options: &[Self], buf: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(buf);
        for opt in options {
            let len = u8::try_from(opt.value_len()).map_err(|_| Error::Unrepresentable)?;
            w.u8(opt.code())?;
            w.u8(len)?;
            match opt {
                Self::DiscoveryControl(bits) => w.u8(*bits)?,
                Self::BootServers(d) | Self::BootMenu(d) => w.bytes(d)?,
                Self::MenuPrompt { timeout, prompt } => {
                    w.u8(*timeout)?;
                    w.bytes(prompt)?;
                }
                Self::BootItem { server_type, layer } => {
                    w.u16(*server_type)?;
                    w.u16(*layer)?;
                }
                Self::Other(sub) => w.bytes(sub.data)?,
            }
        }
        w.u8(255)?;
        Ok(w.position())
    }
}

/// iPXE's encapsulated options (175) and feature indicators, from iPXE's
/// `include/ipxe/dhcp.h`.
pub mod ipxe_code {
    /// Boot priority.
    pub const PRIORITY: u8 = 1;
    /// Feature: PXE API extensions.
    pub const FEATURE_PXE_EXT: u8 = 0x10;
    /// Feature: iSCSI.
    pub const FEATURE_ISCSI: u8 = 0x11;
    /// Feature: AoE.
    pub const FEATURE_AOE: u8 = 0x12;
    /// Feature: HTTP.
    pub const FEATURE_HTTP: u8 = 0x13;
    /// Feature: HTTPS.
    pub const FEATURE_HTTPS: u8 = 0x14;
    /// Feature: TFTP.
    pub const FEATURE_TFTP: u8 = 0x15;
    /// Feature: DNS.
    pub const FEATURE_DNS: u8 = 0x17;
    /// Feature: bzImage.
    pub const FEATURE_BZIMAGE: u8 = 0x18;
    /// Feature: Multiboot.
    pub const FEATURE_MULTIBOOT: u8 = 0x19;
    /// Feature: PXE image format.
    pub const FEATURE_PXE: u8 = 0x21;
    /// Feature: ELF.
    pub const FEATURE_ELF: u8 = 0x22;
    /// Feature: EFI.
    pub const FEATURE_EFI: u8 = 0x24;
    /// Feature: menu.
    pub const FEATURE_MENU: u8 = 0x27;
    /// Bus id of the NIC.
    pub const BUS_ID: u8 = 0xb1;
    /// iPXE version (major, minor, patch).
    pub const VERSION: u8 = 0xeb;
}
