//! Boot configs for the loaders that are not iPXE (iPXE scripts come from
//! the core): GRUB, as shim chainloads it on UEFI, and pxelinux on BIOS.
//!
//! Both look their config up by name, most specific first, over TFTP (or
//! HTTP for GRUB after UEFI HTTP Boot):
//!
//! | loader | asks for, in order |
//! |---|---|
//! | GRUB | `$prefix/grub.cfg-01-52-54-00-12-34-56`, `$prefix/grub.cfg-0A000015` ... `grub.cfg-0` (its address in hex, one digit less each time), `$prefix/grub.cfg` |
//! | pxelinux | `pxelinux.cfg/<uuid>`, `pxelinux.cfg/01-52-54-00-12-34-56`, `pxelinux.cfg/0A000015` ... `pxelinux.cfg/0`, `pxelinux.cfg/default` |
//!
//! [`parse_boot_config_path`] says which of these a request is, so the
//! server can answer a known machine's MAC with its config (install, or
//! local boot) and the rest with the menu or nothing. The configs
//! themselves are templates (`boot/*.cfg`), overridable like any other.

use serde::{Deserialize, Serialize};

use super::context::{DistroCtx, RenderContext, ServerCtx, UrlsCtx};
use super::{names, RenderError, Renderer};

/// Which boot loader asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loader {
    /// GRUB 2 (`grub.cfg-...`).
    Grub,
    /// pxelinux (`pxelinux.cfg/...`).
    Pxelinux,
}

/// Whose config a loader asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigKey {
    /// A MAC address (`01-52-54-00-12-34-56`).
    Mac([u8; 6]),
    /// An IPv4 address or a prefix of it, in upper-case hex (`0A000015`,
    /// `0A00`): a loader working down to `default`.
    IpHex(String),
    /// A machine UUID (pxelinux asks for it first), lower case.
    Uuid(String),
    /// The catch-all: `grub.cfg` or `pxelinux.cfg/default`.
    Default,
}

/// A boot-config request, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootConfigPath {
    /// Who asked.
    pub loader: Loader,
    /// For whom.
    pub key: ConfigKey,
}

/// Reads a requested path (`grub/grub.cfg-01-52-54-00-12-34-56`,
/// `/pxelinux.cfg/default`, ...) as a boot-config lookup; `None` for any
/// other file. Only the last segment counts for GRUB (its `$prefix` is
/// wherever its image was built to look), the last two for pxelinux.
pub fn parse_boot_config_path(path: &str) -> Option<BootConfigPath> {
    let mut segments = path.rsplit('/');
    let last = segments.next()?;
    if let Some(rest) = last.strip_prefix("grub.cfg") {
        let key = match rest.strip_prefix('-') {
            None if rest.is_empty() => ConfigKey::Default,
            None => return None,
            Some(suffix) => parse_key(suffix)?,
        };
        return Some(BootConfigPath {
            loader: Loader::Grub,
            key,
        });
    }
    if segments.next()? != "pxelinux.cfg" {
        return None;
    }
    let key = if last == "default" {
        ConfigKey::Default
    } else {
        parse_key(last)?
    };
    Some(BootConfigPath {
        loader: Loader::Pxelinux,
        key,
    })
}

/// `01-52-54-00-12-34-56`, `0A000015`, or a UUID.
fn parse_key(text: &str) -> Option<ConfigKey> {
    if let Some(mac) = text.strip_prefix("01-").and_then(parse_dashed_mac) {
        return Some(ConfigKey::Mac(mac));
    }
    let hex = |s: &str| s.chars().all(|c| c.is_ascii_hexdigit());
    if (1..=8).contains(&text.len()) && hex(text) {
        return Some(ConfigKey::IpHex(text.to_ascii_uppercase()));
    }
    let groups: Vec<&str> = text.split('-').collect();
    let uuid_shape = groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12]);
    if uuid_shape && groups.iter().all(|g| hex(g)) {
        return Some(ConfigKey::Uuid(text.to_ascii_lowercase()));
    }
    None
}

/// `52-54-00-12-34-56` (either case).
fn parse_dashed_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split('-');
    for byte in &mut mac {
        let part = parts.next()?;
        if part.len() != 2 {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// The MAC in a GRUB per-machine config path
/// (`grub/grub.cfg-01-52-54-00-12-34-56` → `52:54:00:12:34:56`).
pub fn grub_config_mac(path: &str) -> Option<[u8; 6]> {
    match parse_boot_config_path(path)? {
        BootConfigPath {
            loader: Loader::Grub,
            key: ConfigKey::Mac(mac),
        } => Some(mac),
        _ => None,
    }
}

/// The MAC in a pxelinux per-machine config path
/// (`pxelinux.cfg/01-52-54-00-12-34-56`).
pub fn pxelinux_config_mac(path: &str) -> Option<[u8; 6]> {
    match parse_boot_config_path(path)? {
        BootConfigPath {
            loader: Loader::Pxelinux,
            key: ConfigKey::Mac(mac),
        } => Some(mac),
        _ => None,
    }
}

fn dashed(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join("-")
}

/// The file name GRUB asks for first: `grub.cfg-01-52-54-00-12-34-56`.
pub fn grub_config_name(mac: [u8; 6]) -> String {
    format!("grub.cfg-01-{}", dashed(mac))
}

/// The path pxelinux asks for: `pxelinux.cfg/01-52-54-00-12-34-56`.
pub fn pxelinux_config_name(mac: [u8; 6]) -> String {
    format!("pxelinux.cfg/01-{}", dashed(mac))
}

/// A boot menu for machines awl does not know: local boot first (the
/// default when the timeout runs out), then one entry per profile.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MenuContext {
    /// The menu's title.
    pub title: String,
    /// Seconds before local boot starts; 0 waits forever.
    pub timeout_seconds: u32,
    /// This server.
    pub server: ServerCtx,
    /// The profiles offered.
    pub entries: Vec<MenuEntry>,
}

/// One profile in a menu.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MenuEntry {
    /// The profile's name (the entry's label).
    pub profile: String,
    /// Its distro (kernel and initrds over TFTP).
    pub distro: DistroCtx,
    /// Its kernel command line, answer file included.
    pub kernel_args: String,
    /// Its URLs (kernel and initrds over HTTP).
    pub urls: UrlsCtx,
}

impl From<&RenderContext> for MenuEntry {
    fn from(ctx: &RenderContext) -> Self {
        Self {
            profile: ctx.profile.clone(),
            distro: ctx.distro.clone(),
            kernel_args: ctx.kernel_args.clone(),
            urls: UrlsCtx {
                // A menu is for unknown machines: no callback.
                callback: None,
                ..ctx.urls.clone()
            },
        }
    }
}

impl MenuContext {
    /// A one-entry menu from a sample context, for checking menu templates.
    pub fn sample(ctx: &RenderContext) -> Self {
        Self {
            title: "awl".into(),
            timeout_seconds: 10,
            server: ctx.server.clone(),
            entries: vec![MenuEntry::from(ctx)],
        }
    }
}

impl Renderer {
    /// The GRUB config that installs this machine (`boot/grub.cfg`):
    /// `linux`/`initrd` over HTTP when `urls.kernel` is set, else TFTP.
    pub fn grub_config(&self, ctx: &RenderContext) -> Result<String, RenderError> {
        self.render(names::GRUB, ctx)
    }

    /// The GRUB config that boots the local disk (`boot/grub-local.cfg`):
    /// chainload the first EFI loader found on a disk (the removable-media
    /// path, then the distros' shims), else `exit` to the firmware's next
    /// boot option. `ctx` is only for comments.
    pub fn grub_local(&self, ctx: Option<&RenderContext>) -> Result<String, RenderError> {
        self.render_optional(names::GRUB_LOCAL, ctx)
    }

    /// The GRUB menu for unknown machines (`boot/grub-menu.cfg`).
    pub fn grub_menu(&self, menu: &MenuContext) -> Result<String, RenderError> {
        self.render_value(names::GRUB_MENU, menu)
    }

    /// The pxelinux config that installs this machine
    /// (`boot/pxelinux.cfg`): kernel and initrds over TFTP.
    pub fn pxelinux_config(&self, ctx: &RenderContext) -> Result<String, RenderError> {
        self.render(names::PXELINUX, ctx)
    }

    /// The pxelinux config that boots the local disk
    /// (`boot/pxelinux-local.cfg`: `LOCALBOOT 0`).
    pub fn pxelinux_local(&self, ctx: Option<&RenderContext>) -> Result<String, RenderError> {
        self.render_optional(names::PXELINUX_LOCAL, ctx)
    }

    /// The pxelinux menu for unknown machines (`boot/pxelinux-menu.cfg`,
    /// with `menu.c32`).
    pub fn pxelinux_menu(&self, menu: &MenuContext) -> Result<String, RenderError> {
        self.render_value(names::PXELINUX_MENU, menu)
    }

    fn render_optional(
        &self,
        name: &str,
        ctx: Option<&RenderContext>,
    ) -> Result<String, RenderError> {
        match ctx {
            Some(ctx) => self.render(name, ctx),
            None => self.render_value(name, &serde_json::Map::new()),
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

    #[test]
    fn grub_path_maps_to_its_mac() {
        assert_eq!(
            grub_config_mac("grub/grub.cfg-01-52-54-00-12-34-56"),
            Some(MAC)
        );
        assert_eq!(grub_config_mac("/grub.cfg-01-52-54-00-12-34-56"), Some(MAC));
        assert_eq!(
            grub_config_mac("EFI/BOOT/grub.cfg-01-52-54-00-12-34-5A"),
            Some([0x52, 0x54, 0, 0x12, 0x34, 0x5a])
        );
        assert_eq!(grub_config_name(MAC), "grub.cfg-01-52-54-00-12-34-56");
        let name = format!("grub/{}", grub_config_name(MAC));
        assert_eq!(grub_config_mac(&name), Some(MAC));
    }

    #[test]
    fn grub_paths_that_are_not_a_mac() {
        assert_eq!(grub_config_mac("grub/grub.cfg"), None);
        assert_eq!(grub_config_mac("grub/grub.cfg-01-52-54-00-12-34"), None);
        assert_eq!(
            grub_config_mac("grub/grub.cfg-01-52-54-00-12-34-56-78"),
            None
        );
        assert_eq!(grub_config_mac("grub/grub.cfg-01-52:54:00:12:34:56"), None);
        assert_eq!(grub_config_mac("grub/grub.cfgx"), None);
        assert_eq!(grub_config_mac("pxelinux.cfg/01-52-54-00-12-34-56"), None);
        let parse = |p| parse_boot_config_path(p).map(|b| (b.loader, b.key));
        assert_eq!(
            parse("grub/grub.cfg"),
            Some((Loader::Grub, ConfigKey::Default))
        );
        assert_eq!(
            parse("grub/grub.cfg-0a000015"),
            Some((Loader::Grub, ConfigKey::IpHex("0A000015".into())))
        );
        assert_eq!(parse("grub/grub.cfg-0A0000150"), None);
        assert_eq!(parse("grub/grub.cfg-"), None);
        assert_eq!(parse("grub/x86_64-efi/normal.mod"), None);
    }

    #[test]
    fn pxelinux_paths() {
        let parse = |p| parse_boot_config_path(p).map(|b| (b.loader, b.key));
        assert_eq!(
            pxelinux_config_mac("pxelinux.cfg/01-52-54-00-12-34-56"),
            Some(MAC)
        );
        assert_eq!(pxelinux_config_mac(&pxelinux_config_name(MAC)), Some(MAC));
        assert_eq!(
            parse("/pxelinux.cfg/default"),
            Some((Loader::Pxelinux, ConfigKey::Default))
        );
        assert_eq!(
            parse("pxelinux.cfg/4C4C4544-0042-3510-8052-B4C04F4E3732"),
            Some((
                Loader::Pxelinux,
                ConfigKey::Uuid("4c4c4544-0042-3510-8052-b4c04f4e3732".into())
            ))
        );
        assert_eq!(
            parse("pxelinux.cfg/0A0"),
            Some((Loader::Pxelinux, ConfigKey::IpHex("0A0".into())))
        );
        assert_eq!(parse("default"), None);
        assert_eq!(parse("other/default"), None);
        assert_eq!(parse("pxelinux.cfg/menu.c32"), None);
    }
}
