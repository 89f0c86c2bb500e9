//! What the build script (`awl-pack`) packs into flash: the appliance's
//! settings and its boot files, as `const` data the board crate includes
//! from `$OUT_DIR/appliance.rs`.

use core::net::Ipv4Addr;

/// How the appliance answers DHCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DhcpMode {
    /// The network's DHCP server: addresses and boot options.
    Full,
    /// proxyDHCP beside the network's DHCP server: boot options only.
    Proxy,
    /// No DHCP at all (TFTP and HTTP only).
    Off,
}

/// A file served from flash (TFTP, and HTTP under `/boot/`).
#[derive(Debug, Clone, Copy)]
pub struct File {
    /// Its name as clients ask for it (a normalised relative path).
    pub name: &'static str,
    /// Its bytes, in flash.
    pub bytes: &'static [u8],
    /// Served over HTTP as a boot-script template rendered for the client
    /// (`awl_core::script`); TFTP serves it as it is.
    pub render: bool,
}

/// The appliance's settings and files.
#[derive(Debug, Clone, Copy)]
pub struct Packed {
    /// The board's Ethernet address.
    pub mac: [u8; 6],
    /// This server's address.
    pub ip: Ipv4Addr,
    /// The subnet's prefix length.
    pub prefix_len: u8,
    /// The default gateway, if any.
    pub gateway: Option<Ipv4Addr>,
    /// Full DHCP, proxyDHCP, or none.
    pub dhcp: DhcpMode,
    /// First address handed out (full mode).
    pub pool_first: Ipv4Addr,
    /// Last address handed out (full mode).
    pub pool_last: Ipv4Addr,
    /// Routers (option 3).
    pub routers: &'static [Ipv4Addr],
    /// DNS servers (option 6).
    pub dns: &'static [Ipv4Addr],
    /// Domain name (option 15); empty: none.
    pub domain: &'static str,
    /// Lease time, seconds.
    pub lease_secs: u32,
    /// Boot file for BIOS PXE ROMs.
    pub bios: &'static str,
    /// Boot file for x64 UEFI.
    pub uefi_x64: &'static str,
    /// Boot file for 32-bit UEFI.
    pub uefi_ia32: &'static str,
    /// Boot file for ARM64 UEFI.
    pub uefi_arm64: &'static str,
    /// The iPXE script URL given to clients already running iPXE.
    pub ipxe_script: &'static str,
    /// The URL given to UEFI HTTP Boot clients.
    pub http_boot: &'static str,
    /// The HTTP mirror kernels and install trees come from.
    pub mirror: &'static str,
    /// The files in flash.
    pub files: &'static [File],
}

impl Packed {
    /// The subnet mask.
    pub fn netmask(&self) -> Ipv4Addr {
        let bits = u32::MAX
            .checked_shl(32 - u32::from(self.prefix_len.min(32)))
            .unwrap_or(0);
        Ipv4Addr::from(bits)
    }
}
