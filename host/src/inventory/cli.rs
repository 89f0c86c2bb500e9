//! `awl distro|profile|system add|list|show|edit|remove`, `awl distro
//! import` (see [`super::import`]) and `awl inventory check`: the
//! subcommands, as clap structs the binary embeds, each with a `run`.
//!
//! Every edit goes through [`FileStore::update`]: locked, checked, atomic,
//! safe while `awl serve` runs. A flag given an empty value (`--tree ""`)
//! clears that field. `--var NAME=VALUE` reads VALUE as TOML when it is
//! (`3`, `true`, `["a", "b"]`, `"quoted"`), else as plain text.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Result};
use clap::{Args, Subcommand};
use serde::Serialize;

use super::check::CheckContext;
use super::file;
use super::find::SystemFilter;
use super::import::{self, ImportFlags};
use super::model::{
    Arch, Distro, Family, Interface, Inventory, Mac, Netboot, Profile, System, Uuid, Vars,
};
use super::store::{FileStore, Store};
use super::DEFAULT_INVENTORY;

/// `--inventory FILE` (or `AWL_INVENTORY`).
#[derive(Debug, Clone, Args)]
pub struct InventoryFile {
    /// The inventory file (TOML; see docs/inventory.md).
    #[arg(long = "inventory", value_name = "FILE", env = "AWL_INVENTORY", default_value = DEFAULT_INVENTORY, global = true)]
    pub path: PathBuf,
}

impl InventoryFile {
    fn store(&self) -> FileStore {
        FileStore::new(&self.path)
    }
}

/// `awl distro ...`
#[derive(Debug, Args)]
pub struct DistroArgs {
    #[command(flatten)]
    file: InventoryFile,
    #[command(subcommand)]
    command: DistroCommand,
}

/// What to do with distros.
#[derive(Debug, Subcommand)]
pub enum DistroCommand {
    /// Add a distro: a kernel, its initrd(s), an install tree.
    Add {
        /// Its name.
        name: String,
        #[command(flatten)]
        flags: DistroFlags,
    },
    /// List the distros.
    List(ListFlags),
    /// Show one distro as it stands in the file.
    Show(ShowFlags),
    /// Change a distro's fields (the flags of `add`).
    Edit {
        /// Its name.
        name: String,
        #[command(flatten)]
        flags: DistroFlags,
    },
    /// Remove a distro that no profile uses.
    Remove {
        /// Its name.
        name: String,
    },
    /// Add a distro from an install tree or a mounted/extracted ISO, found
    /// by its content: .treeinfo (Red Hat family), debian-installer/ARCH/
    /// (Debian/Ubuntu netboot), casper/ (Ubuntu live-server).
    Import(ImportFlags),
}

/// `awl import PATH`: `awl distro import` as a command of its own.
#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    file: InventoryFile,
    #[command(flatten)]
    flags: ImportFlags,
}

impl ImportArgs {
    /// Runs the command.
    pub fn run(self) -> Result<()> {
        import::run(&self.file.store(), self.flags)
    }
}

/// A distro's fields.
#[derive(Debug, Args)]
pub struct DistroFlags {
    /// The kernel: a path under the files root, or a URL.
    #[arg(long)]
    kernel: Option<String>,
    /// An initrd (repeatable, in order); on edit, replaces them all.
    #[arg(long)]
    initrd: Vec<String>,
    /// The install tree's URL ("" removes it).
    #[arg(long)]
    tree: Option<String>,
    /// The architecture [add's default: x86_64].
    #[arg(long)]
    arch: Option<Arch>,
    /// The OS family [add's default: generic].
    #[arg(long)]
    family: Option<Family>,
    /// Kernel arguments, e.g. "console=tty0 quiet" ("" removes them).
    #[arg(long, allow_hyphen_values = true)]
    kernel_args: Option<String>,
    /// Family image: the raw disk image the deploy environment writes
    /// (a path under the files root, or a URL; "" removes it).
    #[arg(long)]
    image: Option<String>,
    /// Family image: the image's SHA-256, 64 hex digits ("" removes it).
    #[arg(long)]
    image_sha256: Option<String>,
}

/// `awl profile ...`
#[derive(Debug, Args)]
pub struct ProfileArgs {
    #[command(flatten)]
    file: InventoryFile,
    /// Your templates and snippets (as `awl serve --templates`): a profile's
    /// template is rendered against a sample machine before it is saved.
    #[arg(long, env = "AWL_TEMPLATES", global = true)]
    templates: Option<PathBuf>,
    #[command(subcommand)]
    command: ProfileCommand,
}

/// What to do with profiles.
#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Add a profile: a distro (or parent profile), a template, arguments.
    Add {
        /// Its name.
        name: String,
        #[command(flatten)]
        flags: ProfileFlags,
    },
    /// List the profiles.
    List(ListFlags),
    /// Show one profile as it stands in the file.
    Show(ShowFlags),
    /// Change a profile's fields (the flags of `add`, and --remove-var).
    Edit {
        /// Its name.
        name: String,
        #[command(flatten)]
        flags: ProfileFlags,
        /// Remove a variable (repeatable).
        #[arg(long, value_name = "NAME")]
        remove_var: Vec<String>,
    },
    /// Remove a profile that no profile, system or `[unknown]` uses.
    Remove {
        /// Its name.
        name: String,
    },
}

/// A profile's fields.
#[derive(Debug, Args)]
pub struct ProfileFlags {
    /// Its distro.
    #[arg(long, conflicts_with = "parent")]
    distro: Option<String>,
    /// The profile it inherits from (instead of a distro).
    #[arg(long)]
    parent: Option<String>,
    /// Answer-file template: kickstart, preseed, autoinstall, or a path
    /// ("" removes it: inherited).
    #[arg(long)]
    template: Option<String>,
    /// Kernel arguments over the parent's/distro's; -KEY removes one.
    #[arg(long, allow_hyphen_values = true)]
    kernel_args: Option<String>,
    /// A variable for the templates, NAME=VALUE (repeatable).
    #[arg(long, value_name = "NAME=VALUE", value_parser = parse_var)]
    var: Vec<(String, toml::Value)>,
}

/// `awl system ...`
#[derive(Debug, Args)]
pub struct SystemArgs {
    #[command(flatten)]
    file: InventoryFile,
    #[command(subcommand)]
    command: SystemCommand,
}

/// What to do with systems.
#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Add a system: a machine by MAC and/or UUID, with a profile (or
    /// without one: a DHCP reservation only).
    Add {
        /// Its name.
        name: String,
        #[command(flatten)]
        flags: SystemFlags,
    },
    /// List the systems, or those that match every filter given (as
    /// `cobbler system find`).
    List {
        #[command(flatten)]
        list: ListFlags,
        /// One of its interfaces has this MAC (colons or dashes).
        #[arg(long)]
        mac: Option<Mac>,
        /// One of its interfaces has this fixed address.
        #[arg(long)]
        ip: Option<Ipv4Addr>,
        /// One of its interfaces has this hostname (letter case aside).
        #[arg(long)]
        hostname: Option<String>,
        /// It has this profile ("": none, a DHCP reservation).
        #[arg(long)]
        profile: Option<String>,
        /// Its SMBIOS UUID, in either byte order.
        #[arg(long)]
        uuid: Option<Uuid>,
    },
    /// Show one system as it stands in the file (secrets hidden), or
    /// merged over its profiles and distro (--resolved).
    Show {
        #[command(flatten)]
        show: ShowFlags,
        /// The merged view, with where each value came from.
        #[arg(long)]
        resolved: bool,
        /// Print secrets instead of hiding them.
        #[arg(long)]
        show_secrets: bool,
    },
    /// Change a system's fields (the flags of `add`, and the --remove-*
    /// ones).
    Edit {
        /// Its name.
        name: String,
        #[command(flatten)]
        flags: SystemFlags,
        /// Remove a variable (repeatable).
        #[arg(long, value_name = "NAME")]
        remove_var: Vec<String>,
        /// Remove a secret (repeatable).
        #[arg(long, value_name = "NAME")]
        remove_secret: Vec<String>,
        /// Remove the interface with this MAC (repeatable).
        #[arg(long, value_name = "MAC")]
        remove_interface: Vec<Mac>,
    },
    /// Remove a system.
    Remove {
        /// Its name.
        name: String,
    },
    /// Arm a new install of a system (docs/lifecycle.md): a new install
    /// token, its last reported install forgotten, so netboot once
    /// installs again; the old token is refused from now on.
    Reinstall {
        /// Its name.
        name: String,
        /// Where the install states are (as `awl serve --state-dir`)
        /// [default: the inventory's folder].
        #[arg(long, env = "AWL_STATE_DIR")]
        state_dir: Option<PathBuf>,
    },
}

/// A system's fields.
#[derive(Debug, Args)]
pub struct SystemFlags {
    /// The first interface's MAC.
    #[arg(long)]
    mac: Option<Mac>,
    /// The first interface's fixed address ("" removes it).
    #[arg(long)]
    ip: Option<String>,
    /// The first interface's hostname ("" removes it).
    #[arg(long)]
    hostname: Option<String>,
    /// Another interface: MAC[,ip=IP][,hostname=NAME] (repeatable).
    #[arg(long, value_name = "MAC[,ip=IP][,hostname=NAME]", value_parser = parse_interface)]
    interface: Vec<Interface>,
    /// Its SMBIOS UUID, as dmidecode prints it ("" removes it).
    #[arg(long)]
    uuid: Option<String>,
    /// A boot file or URL DHCP gives it instead of its firmware's ("" removes it).
    #[arg(long)]
    boot_file: Option<String>,
    /// Its profile ("" removes it: a DHCP reservation only).
    #[arg(long)]
    profile: Option<String>,
    /// always, once or never [default: always with a profile, else never].
    #[arg(long)]
    netboot: Option<Netboot>,
    /// Kernel arguments over its profile's; -KEY removes one.
    #[arg(long, allow_hyphen_values = true)]
    kernel_args: Option<String>,
    /// A variable, NAME=VALUE (repeatable).
    #[arg(long, value_name = "NAME=VALUE", value_parser = parse_var)]
    var: Vec<(String, toml::Value)>,
    /// A secret only its answer file sees, NAME=VALUE (repeatable); note
    /// that command lines are visible to other local users.
    #[arg(long, value_name = "NAME=VALUE", value_parser = parse_var)]
    secret: Vec<(String, toml::Value)>,
}

/// `list`'s flags.
#[derive(Debug, Args)]
pub struct ListFlags {
    /// JSON (an array) instead of a table.
    #[arg(long)]
    json: bool,
}

/// `show`'s flags.
#[derive(Debug, Args)]
pub struct ShowFlags {
    /// Its name.
    name: String,
    /// JSON instead of TOML.
    #[arg(long)]
    json: bool,
}

/// `awl inventory ...`
#[derive(Debug, Args)]
pub struct InventoryArgs {
    #[command(flatten)]
    file: InventoryFile,
    #[command(subcommand)]
    command: InventoryCommand,
}

/// What to do with the whole inventory.
#[derive(Debug, Subcommand)]
pub enum InventoryCommand {
    /// Check the inventory: every problem, with file, line and field;
    /// exits non-zero on any.
    Check {
        /// Check that kernels and initrds exist under this folder (URLs
        /// are not fetched).
        #[arg(long)]
        files_root: Option<PathBuf>,
        /// A served subnet, NETWORK/PREFIX or NETWORK/MASK (repeatable):
        /// every fixed address must be inside one.
        #[arg(long, value_parser = parse_subnet)]
        subnet: Vec<(Ipv4Addr, Ipv4Addr)>,
    },
    /// Make the configuration file's `[[dhcp.host]]` machines systems
    /// without a profile (by MAC; a client identifier stays in the
    /// configuration), so the inventory is where machines are written.
    /// Remove their tables afterwards: `awl check` names them.
    ImportHosts {
        /// The configuration file.
        #[arg(long, env = "AWL_CONFIG")]
        config: PathBuf,
    },
}

/// Reads `NAME=VALUE`, VALUE as TOML when it is TOML, else as text.
pub fn parse_var(text: &str) -> Result<(String, toml::Value), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text}: expected NAME=VALUE"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("{text}: no name before ="));
    }
    let value = toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    Ok((name.to_string(), value))
}

/// Reads `MAC[,ip=IP][,hostname=NAME]`.
pub fn parse_interface(text: &str) -> Result<Interface, String> {
    let mut parts = text.split(',');
    let mac = parts.next().unwrap_or_default().parse()?;
    let mut ifc = Interface {
        mac,
        ip: None,
        hostname: None,
    };
    for part in parts {
        match part.split_once('=') {
            Some(("ip", ip)) => ifc.ip = Some(ip.parse().map_err(|e| format!("{ip}: {e}"))?),
            Some(("hostname", h)) => ifc.hostname = Some(h.to_string()),
            _ => return Err(format!("{part}: expected ip=IP or hostname=NAME")),
        }
    }
    Ok(ifc)
}

/// Reads `NETWORK/PREFIX` or `NETWORK/MASK`.
pub fn parse_subnet(text: &str) -> Result<(Ipv4Addr, Ipv4Addr), String> {
    let (net, mask) = text
        .split_once('/')
        .ok_or_else(|| format!("{text}: expected NETWORK/PREFIX or NETWORK/MASK"))?;
    if let Ok(mask) = mask.parse::<Ipv4Addr>() {
        let net: Ipv4Addr = net.parse().map_err(|e| format!("{net}: {e}"))?;
        return Ok((Ipv4Addr::from(u32::from(net) & u32::from(mask)), mask));
    }
    crate::settings::parse_network(text)
}

impl DistroArgs {
    /// Runs the command.
    pub fn run(self) -> Result<()> {
        let store = self.file.store();
        match self.command {
            DistroCommand::Add { name, flags } => {
                let Some(kernel) = flags.kernel.clone() else {
                    bail!("awl distro add {name}: give --kernel FILE|URL");
                };
                if flags.initrd.is_empty() {
                    bail!("awl distro add {name}: give --initrd FILE|URL (one or more)");
                }
                edit(&store, &mut |inv| {
                    if inv.distro(&name).is_some() {
                        bail!("a distro named {name} already exists (awl distro edit {name} changes it)");
                    }
                    let mut d = Distro {
                        name: name.clone(),
                        kernel: kernel.clone(),
                        initrd: Vec::new(),
                        tree: None,
                        arch: Arch::default(),
                        family: Family::default(),
                        kernel_args: String::new(),
                        image: None,
                        image_sha256: None,
                        place: Default::default(),
                    };
                    flags.apply(&mut d);
                    inv.distros.push(d);
                    Ok(())
                })?;
                println!("distro {name}: added");
            }
            DistroCommand::Edit { name, flags } => {
                edit(&store, &mut |inv| {
                    let d = inv
                        .distros
                        .iter_mut()
                        .find(|d| d.name == name)
                        .ok_or_else(|| anyhow!("no distro is named {name}"))?;
                    flags.apply(d);
                    Ok(())
                })?;
                println!("distro {name}: changed");
            }
            DistroCommand::Remove { name } => {
                edit(&store, &mut |inv| {
                    inv.distro(&name)
                        .ok_or_else(|| anyhow!("no distro is named {name}"))?;
                    let users = inv.users_of_distro(&name);
                    if !users.is_empty() {
                        bail!("distro {name} is used by {}", users.join(", "));
                    }
                    inv.distros.retain(|d| d.name != name);
                    Ok(())
                })?;
                println!("distro {name}: removed");
            }
            DistroCommand::List(list) => {
                let inv = load(&store)?;
                if list.json {
                    return print_json(&inv.distros);
                }
                let rows = inv.distros.iter().map(|d| {
                    vec![
                        d.name.clone(),
                        d.arch.to_string(),
                        d.family.to_string(),
                        d.kernel.clone(),
                        d.tree.clone().unwrap_or_default(),
                    ]
                });
                print_table(&["NAME", "ARCH", "FAMILY", "KERNEL", "TREE"], rows);
            }
            DistroCommand::Import(flags) => import::run(&store, flags)?,
            DistroCommand::Show(show) => {
                let inv = load(&store)?;
                let d = inv
                    .distro(&show.name)
                    .ok_or_else(|| anyhow!("no distro is named {}", show.name))?;
                print_entry("distro", d, show.json)?;
            }
        }
        Ok(())
    }
}

impl DistroFlags {
    fn apply(&self, d: &mut Distro) {
        if let Some(k) = &self.kernel {
            d.kernel = k.clone();
        }
        if !self.initrd.is_empty() {
            d.initrd = self.initrd.clone();
        }
        if let Some(t) = &self.tree {
            d.tree = non_empty(t);
        }
        if let Some(a) = self.arch {
            d.arch = a;
        }
        if let Some(f) = self.family {
            d.family = f;
        }
        if let Some(k) = &self.kernel_args {
            d.kernel_args = k.trim().to_string();
        }
        if let Some(i) = &self.image {
            d.image = non_empty(i);
        }
        if let Some(s) = &self.image_sha256 {
            d.image_sha256 = non_empty(&s.to_ascii_lowercase());
        }
    }
}

impl ProfileArgs {
    /// Runs the command.
    pub fn run(self) -> Result<()> {
        let store = self.file.store();
        // A template that would not render is refused here, not at the
        // first machine's boot.
        let renderer = crate::render::Renderer::new(crate::render::RenderConfig {
            snippets_dir: self.templates.as_ref().map(|t| t.join("snippets")),
            templates_dir: self.templates.clone(),
            ..Default::default()
        });
        let check_template = |p: &Profile| -> Result<()> {
            match p.template.as_deref() {
                Some(t) => renderer
                    .check_answer_template(t)
                    .map_err(|e| anyhow!("profile {}: template {t}: {e}", p.name)),
                None => Ok(()),
            }
        };
        match self.command {
            ProfileCommand::Add { name, flags } => {
                if flags.distro.is_none() && flags.parent.is_none() {
                    bail!("awl profile add {name}: give --distro NAME or --parent PROFILE");
                }
                edit(&store, &mut |inv| {
                    if inv.profile(&name).is_some() {
                        bail!("a profile named {name} already exists (awl profile edit {name} changes it)");
                    }
                    let mut p = Profile {
                        name: name.clone(),
                        distro: None,
                        parent: None,
                        template: None,
                        kernel_args: String::new(),
                        vars: Vars::new(),
                        place: Default::default(),
                    };
                    flags.apply(&mut p);
                    check_template(&p)?;
                    inv.profiles.push(p);
                    Ok(())
                })?;
                println!("profile {name}: added");
            }
            ProfileCommand::Edit {
                name,
                flags,
                remove_var,
            } => {
                edit(&store, &mut |inv| {
                    let p = inv
                        .profiles
                        .iter_mut()
                        .find(|p| p.name == name)
                        .ok_or_else(|| anyhow!("no profile is named {name}"))?;
                    flags.apply(p);
                    check_template(p)?;
                    remove_names(&mut p.vars, &remove_var, "variable")
                })?;
                println!("profile {name}: changed");
            }
            ProfileCommand::Remove { name } => {
                edit(&store, &mut |inv| {
                    inv.profile(&name)
                        .ok_or_else(|| anyhow!("no profile is named {name}"))?;
                    let users = inv.users_of_profile(&name);
                    if !users.is_empty() {
                        bail!("profile {name} is used by {}", users.join(", "));
                    }
                    inv.profiles.retain(|p| p.name != name);
                    Ok(())
                })?;
                println!("profile {name}: removed");
            }
            ProfileCommand::List(list) => {
                let inv = load(&store)?;
                if list.json {
                    return print_json(&inv.profiles);
                }
                let rows = inv.profiles.iter().map(|p| {
                    let from = match (&p.distro, &p.parent) {
                        (Some(d), _) => format!("distro {d}"),
                        (None, Some(parent)) => format!("profile {parent}"),
                        (None, None) => String::new(),
                    };
                    vec![p.name.clone(), from, p.template.clone().unwrap_or_default()]
                });
                print_table(&["NAME", "FROM", "TEMPLATE"], rows);
            }
            ProfileCommand::Show(show) => {
                let inv = load(&store)?;
                let p = inv
                    .profile(&show.name)
                    .ok_or_else(|| anyhow!("no profile is named {}", show.name))?;
                print_entry("profile", p, show.json)?;
            }
        }
        Ok(())
    }
}

impl ProfileFlags {
    fn apply(&self, p: &mut Profile) {
        if let Some(d) = &self.distro {
            p.distro = non_empty(d);
            p.parent = None;
        }
        if let Some(parent) = &self.parent {
            p.parent = non_empty(parent);
            p.distro = None;
        }
        if let Some(t) = &self.template {
            p.template = non_empty(t);
        }
        if let Some(k) = &self.kernel_args {
            p.kernel_args = k.trim().to_string();
        }
        p.vars.extend(self.var.iter().cloned());
    }
}

impl SystemArgs {
    /// Runs the command.
    pub fn run(self) -> Result<()> {
        let store = self.file.store();
        match self.command {
            SystemCommand::Add { name, flags } => {
                // Appended to the file (inventory::append): milliseconds
                // however many systems there are.
                store.add_system(&mut |inv| {
                    if inv.system(&name).is_some() {
                        bail!("a system named {name} already exists (awl system edit {name} changes it)");
                    }
                    let mut s = System {
                        name: name.clone(),
                        profile: None,
                        netboot: None,
                        uuid: None,
                        boot_file: None,
                        kernel_args: String::new(),
                        interfaces: Vec::new(),
                        vars: Vars::new(),
                        secrets: Vars::new(),
                        place: Default::default(),
                    };
                    flags.apply(&mut s)?;
                    Ok(s)
                })?;
                println!("system {name}: added");
            }
            SystemCommand::Edit {
                name,
                flags,
                remove_var,
                remove_secret,
                remove_interface,
            } => {
                store.replace_system(&name, &mut |mut s| {
                    for mac in &remove_interface {
                        let before = s.interfaces.len();
                        s.interfaces.retain(|i| i.mac != *mac);
                        if s.interfaces.len() == before {
                            bail!("system {name} has no interface {mac}");
                        }
                    }
                    flags.apply(&mut s)?;
                    remove_names(&mut s.vars, &remove_var, "variable")?;
                    remove_names(&mut s.secrets, &remove_secret, "secret")?;
                    Ok(Some(s))
                })?;
                println!("system {name}: changed");
            }
            SystemCommand::Reinstall { name, state_dir } => {
                let inventory = store.load().map_err(|e| anyhow!("{e}"))?;
                if inventory.system(&name).is_none() {
                    bail!("no system is named {name}");
                }
                let dir = state_dir.unwrap_or_else(|| {
                    self.file
                        .path
                        .parent()
                        .filter(|d| !d.as_os_str().is_empty())
                        .map_or_else(|| PathBuf::from("."), PathBuf::from)
                });
                let now = crate::lifecycle::now();
                crate::lifecycle::StateFile::new(dir).update(&name, |slot| {
                    crate::lifecycle::record(slot, now)
                        .arm(now, "awl system reinstall")
                        .map(drop)
                })?;
                println!("system {name}: armed for a new install");
            }
            SystemCommand::Remove { name } => {
                store.replace_system(&name, &mut |_| Ok(None))?;
                println!("system {name}: removed");
            }
            SystemCommand::List {
                list,
                mac,
                ip,
                hostname,
                profile,
                uuid,
            } => {
                let inv = load(&store)?;
                let filter = SystemFilter {
                    mac,
                    ip,
                    hostname,
                    profile,
                    uuid,
                };
                let systems: Vec<System> = inv
                    .systems
                    .iter()
                    .filter(|s| filter.matches(s))
                    .map(|s| hide_secrets(s.clone()))
                    .collect();
                if list.json {
                    return print_json(&systems);
                }
                let rows = systems.iter().map(|s| {
                    let first = s.interfaces.first();
                    vec![
                        s.name.clone(),
                        s.profile.clone().unwrap_or_else(|| "-".into()),
                        s.netboot().to_string(),
                        first.map(|i| i.mac.to_string()).unwrap_or_default(),
                        first
                            .and_then(|i| i.ip)
                            .map(|ip| ip.to_string())
                            .unwrap_or_default(),
                        s.hostname().unwrap_or_default().to_string(),
                    ]
                });
                print_table(
                    &["NAME", "PROFILE", "NETBOOT", "MAC", "IP", "HOSTNAME"],
                    rows,
                );
            }
            SystemCommand::Show {
                show,
                resolved,
                show_secrets,
            } => {
                let inv = load(&store)?;
                let s = inv
                    .system(&show.name)
                    .ok_or_else(|| anyhow!("no system is named {}", show.name))?;
                let s = if show_secrets {
                    s.clone()
                } else {
                    hide_secrets(s.clone())
                };
                if resolved {
                    print_resolved(&inv, &s, show.json)?;
                } else {
                    print_entry("system", &s, show.json)?;
                }
            }
        }
        Ok(())
    }
}

impl SystemFlags {
    fn apply(&self, s: &mut System) -> Result<()> {
        if let Some(mac) = self.mac {
            match s.interfaces.first_mut() {
                Some(first) => first.mac = mac,
                None => s.interfaces.push(Interface {
                    mac,
                    ip: None,
                    hostname: None,
                }),
            }
        }
        if self.ip.is_some() || self.hostname.is_some() {
            let Some(first) = s.interfaces.first_mut() else {
                bail!("--ip and --hostname are the first interface's: give --mac too");
            };
            if let Some(ip) = &self.ip {
                first.ip = match ip.trim() {
                    "" => None,
                    ip => Some(ip.parse().map_err(|e| anyhow!("--ip {ip}: {e}"))?),
                };
            }
            if let Some(h) = &self.hostname {
                first.hostname = non_empty(h);
            }
        }
        for ifc in &self.interface {
            if s.interfaces.iter().any(|i| i.mac == ifc.mac) {
                bail!("system {} already has an interface {}", s.name, ifc.mac);
            }
            s.interfaces.push(ifc.clone());
        }
        if let Some(uuid) = &self.uuid {
            s.uuid = match uuid.trim() {
                "" => None,
                text => Some(text.parse::<Uuid>().map_err(|e| anyhow!("--uuid {e}"))?),
            };
        }
        if let Some(f) = &self.boot_file {
            s.boot_file = non_empty(f);
        }
        if let Some(p) = &self.profile {
            s.profile = non_empty(p);
        }
        if let Some(n) = self.netboot {
            s.netboot = Some(n);
        }
        if let Some(k) = &self.kernel_args {
            s.kernel_args = k.trim().to_string();
        }
        s.vars.extend(self.var.iter().cloned());
        s.secrets.extend(self.secret.iter().cloned());
        Ok(())
    }
}

impl InventoryArgs {
    /// Runs the command.
    pub fn run(self) -> Result<()> {
        match self.command {
            InventoryCommand::Check { files_root, subnet } => {
                let ctx = CheckContext {
                    subnets: &subnet,
                    files_root: files_root.as_deref(),
                    template: None,
                };
                let path = &self.file.path;
                match self.file.store().check(&ctx) {
                    Ok(_) => {
                        println!("{}: ok", path.display());
                        Ok(())
                    }
                    Err(problems) => {
                        for p in &problems.0 {
                            eprintln!("{p}");
                        }
                        bail!("{}: {} problem(s)", path.display(), problems.0.len())
                    }
                }
            }
            InventoryCommand::ImportHosts { config } => import_hosts(&self.file.store(), &config),
        }
    }
}

/// `awl inventory import-hosts`: each `[[dhcp.host]]` by MAC becomes
/// system `host-52-54-00-12-34-56` (its address, boot file, and netboot
/// always, or never for `netboot = false`), in one checked write; a MAC a
/// system already has is left (so a second run adds nothing).
fn import_hosts(store: &FileStore, config: &std::path::Path) -> Result<()> {
    let loaded = crate::settings::Loaded::read(config)?;
    let hosts = loaded.machines().map_err(|problems| {
        let lines: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        anyhow!("{}", lines.join("\n"))
    })?;
    let mut said = Vec::new();
    let mut added = 0;
    edit(store, &mut |inv| {
        (said, added) = (Vec::new(), 0);
        for host in &hosts {
            // A client identifier of type 1 is a MAC: the system matches
            // that machine by its hardware address whether it sends the
            // identifier or not.
            let Some(mac) = host.id.mac().map(Mac) else {
                said.push(format!(
                    "{}: left in {} (only a client identifier that holds a MAC, 01:MAC, has a place in a system)",
                    host.id,
                    config.display()
                ));
                continue;
            };
            if let Some((s, _)) = inv.system_by_mac(mac.0) {
                said.push(format!("{mac}: already system {}", s.name));
                continue;
            }
            let name = format!("host-{}", mac.to_string().replace(':', "-"));
            said.push(format!("system {name}: added"));
            added += 1;
            inv.systems.push(System {
                name,
                profile: None,
                netboot: Some(if host.netboot {
                    Netboot::Always
                } else {
                    Netboot::Never
                }),
                uuid: None,
                boot_file: non_empty(&host.boot),
                kernel_args: String::new(),
                interfaces: vec![Interface {
                    mac,
                    ip: host.ip,
                    hostname: None,
                }],
                vars: Vars::new(),
                secrets: Vars::new(),
                place: Default::default(),
            });
        }
        Ok(())
    })?;
    for line in &said {
        println!("{line}");
    }
    if added > 0 {
        println!(
            "{added} system(s) added: remove their [[dhcp.host]] tables from {} (awl check --config {} names them)",
            config.display(),
            config.display()
        );
    }
    Ok(())
}

/// One locked, checked, atomic edit.
fn edit(store: &FileStore, change: &mut dyn FnMut(&mut Inventory) -> Result<()>) -> Result<()> {
    store.update(change).map(|_| ())
}

fn load(store: &FileStore) -> Result<Inventory> {
    store
        .load()
        .map_err(|p| anyhow!("{} has problems:\n{p}", store.path().display()))
}

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn remove_names(vars: &mut Vars, names: &[String], what: &str) -> Result<()> {
    for name in names {
        if vars.remove(name).is_none() {
            bail!("no {what} is named {name}");
        }
    }
    Ok(())
}

const HIDDEN: &str = "(hidden: --show-secrets)";

fn hide_secrets(mut s: System) -> System {
    for v in s.secrets.values_mut() {
        *v = toml::Value::String(HIDDEN.into());
    }
    s
}

fn print_json<T: Serialize + ?Sized>(value: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn print_entry<T: Serialize>(kind: &str, entry: &T, json: bool) -> Result<()> {
    if json {
        return print_json(entry);
    }
    print!("{}", file::entry_toml(kind, entry)?);
    Ok(())
}

fn print_table(header: &[&str], rows: impl Iterator<Item = Vec<String>>) {
    let rows: Vec<Vec<String>> = std::iter::once(header.iter().map(ToString::to_string).collect())
        .chain(rows)
        .collect();
    let mut widths = vec![0; header.len()];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
}

/// `system show --resolved`: the merged view, each value with its origin.
fn print_resolved(inv: &Inventory, system: &System, json: bool) -> Result<()> {
    let r = inv.resolve_system(system).map_err(anyhow::Error::msg)?;
    if json {
        #[derive(Serialize)]
        struct View<'a> {
            #[serde(flatten)]
            resolved: &'a super::Resolved,
            /// The kernel arguments as one line.
            command_line: Option<String>,
        }
        return print_json(&View {
            command_line: r.boot.as_ref().map(super::Boot::command_line),
            resolved: &r,
        });
    }
    let mut rows: Vec<[String; 3]> = Vec::new();
    let mut row = |field: &str, value: String, from: String| rows.push([field.into(), value, from]);
    let me = format!("system {}", r.name);
    row(
        "netboot",
        r.netboot.value.to_string(),
        r.netboot.from.to_string(),
    );
    for (i, ifc) in r.interfaces.iter().enumerate() {
        let mut v = ifc.mac.to_string();
        if let Some(ip) = ifc.ip {
            v += &format!(" ip={ip}");
        }
        if let Some(h) = &ifc.hostname {
            v += &format!(" hostname={h}");
        }
        row(&format!("interface[{i}]"), v, me.clone());
    }
    if let Some(uuid) = r.uuid {
        row("uuid", uuid.to_string(), me.clone());
    }
    if let Some(file) = &r.boot_file {
        row("boot_file", file.clone(), me.clone());
    }
    match &r.boot {
        None => row(
            "profile",
            "none: a DHCP reservation only".into(),
            me.clone(),
        ),
        Some(b) => {
            row("profiles", b.profiles.join(" -> "), me.clone());
            let distro = format!("distro {}", b.distro);
            row("kernel", b.kernel.clone(), distro.clone());
            for (i, initrd) in b.initrd.iter().enumerate() {
                row(&format!("initrd[{i}]"), initrd.clone(), distro.clone());
            }
            if let Some(tree) = &b.tree {
                row("tree", tree.clone(), distro.clone());
            }
            row("arch", b.arch.to_string(), distro.clone());
            row("family", b.family.to_string(), distro.clone());
            if let Some(t) = &b.template {
                row("template", t.value.clone(), t.from.to_string());
            }
            for a in &b.kernel_args {
                row("kernel_args", a.value.to_string(), a.from.to_string());
            }
        }
    }
    for (name, v) in &r.vars {
        row(
            &format!("vars.{name}"),
            v.value.to_string(),
            v.from.to_string(),
        );
    }
    let secrets: BTreeMap<_, _> = r.secrets.iter().collect();
    for (name, v) in secrets {
        row(&format!("secrets.{name}"), v.to_string(), me.clone());
    }
    if let Some(b) = &r.boot {
        println!("system {}: {}", r.name, b.command_line());
    }
    print_table(
        &["FIELD", "VALUE", "FROM"],
        rows.into_iter().map(|r| r.to_vec()),
    );
    Ok(())
}
