//! What a booting machine gets from the inventory: the DHCP server's view
//! of the machines ([`InventoryMachines`]), and the boot scripts, boot
//! configs and answer files rendered for each request ([`InstallSite`],
//! plugged into the HTTP service, and into TFTP for the names boot loaders
//! ask there). Nothing is written ahead of time: every
//! answer comes from the inventory as it is at that request.
//!
//! URLs (see docs/install.md):
//!
//! | path | what |
//! | --- | --- |
//! | `/boot.ipxe` | the first script: chains to `/ipxe` with iPXE's own MAC, UUID and platform |
//! | `/ipxe?mac=M&uuid=U&platform=P` | the machine's script: its installer, "boot from disk", or (unknown) the default profile or a menu |
//! | `/ipxe?profile=NAME&…` | the script of a profile picked from the menu |
//! | `/answer/system/NAME?token=T` | a system's answer file (autoinstall: `…/token/T/user-data`, `…/meta-data`); its install token is needed once it has one (docs/lifecycle.md) |
//! | `POST /callback/NAME?token=T` | the installer reports its install done (docs/lifecycle.md) |
//! | `/answer/profile/NAME` | a profile's answer file, for unknown machines |
//! | `/grub/grub.cfg-01-MAC`, `/grub/grub.cfg` | GRUB configs (also over TFTP) |
//! | `/pxelinux.cfg/01-MAC`, `/pxelinux.cfg/default` | pxelinux configs (also over TFTP) |
//! | `/boot/…` | the TFTP root (kernels, initrds, loaders) |

mod check;
mod context;
mod dhcp;
mod site;

pub use check::template_check;
pub use context::Server;
pub use dhcp::{clashes, InventoryMachines};
pub use site::InstallSite;
