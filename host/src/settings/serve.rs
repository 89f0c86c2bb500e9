//! `awl serve`'s settings, in one place: its flags (clap), the
//! configuration file's keys, and the defaults, merged here in that order
//! (a flag wins over the file, the file over the default) into
//! [`ServeSettings`], which is all the services get.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Result};
use clap::Args;

use super::{self as config, machines, ConfigFile, Loaded};
use crate::dhcp;
use crate::install::{InventoryMachines, Server};
use crate::inventory::store::{FileStore, Held, InventoryCache, Store};
use crate::render::{RenderConfig, Renderer};
use crate::tftp;

/// Everything `awl serve` runs with, merged and checked.
pub struct ServeSettings {
    /// TFTP.
    pub tftp: tftp::TftpOptions,
    /// DHCP, when `--interface` is given.
    pub dhcp: Option<dhcp::DhcpOptions>,
    /// The inventory, templates and HTTP.
    pub install: Install,
}

/// Merges `args` over the configuration file (`--config`) over the
/// defaults. Refuses to start on any problem in the file or the inventory.
pub fn resolve(args: ServeArgs) -> Result<ServeSettings> {
    let (file, file_machines) = load_config(args.config.as_deref())?;
    let install = install_settings(&args, &file)?;
    let dhcp = dhcp_options(&args.dhcp, file.dhcp, file_machines, &install)?;
    let tftp = tftp_options(args, file.tftp)?;
    Ok(ServeSettings {
        tftp,
        dhcp,
        install,
    })
}

/// Every flag also has a key in the configuration file (`[tftp]`,
/// `[http]`, `[inventory]`, `[dhcp]`); a flag given here wins.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Configuration file (TOML; see docs/config.md).
    #[arg(long, env = "AWL_CONFIG")]
    pub config: Option<PathBuf>,
    /// Files served over TFTP (a leading / in a request means this folder).
    #[arg(long, env = "AWL_TFTP_ROOT")]
    pub tftp_root: Option<PathBuf>,
    /// Where TFTP listens [default: 0.0.0.0:69].
    #[arg(long, env = "AWL_TFTP_LISTEN")]
    pub tftp_listen: Option<SocketAddr>,
    /// Path MTU used to cap the TFTP block size (MTU - 32 for IPv4), so
    /// blocks are never fragmented [default: 65536 on loopback, else 1500].
    #[arg(long)]
    pub tftp_mtu: Option<usize>,
    /// Largest TFTP window granted (RFC 7440) [default: 64].
    #[arg(long)]
    pub tftp_max_windowsize: Option<u16>,
    /// Concurrent TFTP transfers; more are answered "server busy"
    /// [default: 256].
    #[arg(long)]
    pub tftp_transfers: Option<usize>,
    /// Concurrent TFTP transfers from one IP address (0: no limit)
    /// [default: 64].
    #[arg(long)]
    pub tftp_max_per_ip: Option<u16>,
    /// Accept TFTP uploads (write requests) into this directory, which is
    /// not the served root. Uploads never overwrite a file; incomplete ones
    /// are removed. Without it, write requests get ERROR 2.
    #[arg(long)]
    pub tftp_upload_dir: Option<PathBuf>,
    /// The largest TFTP upload accepted, in bytes [default: 67108864].
    #[arg(long)]
    pub tftp_max_upload: Option<u64>,
    /// Where HTTP listens (boot scripts, answer files, the TFTP root under
    /// /boot/); no HTTP without it.
    #[arg(long, env = "AWL_HTTP_LISTEN")]
    pub http_listen: Option<SocketAddr>,
    /// Where installers' syslog is received (UDP, e.g. 0.0.0.0:514): filed
    /// under each system, and put on the kernel command lines awl renders
    /// (debian-installer's log_host/log_port, Anaconda's inst.syslog).
    #[arg(long, env = "AWL_SYSLOG_LISTEN")]
    pub syslog_listen: Option<SocketAddr>,
    /// The base of the URLs booting machines are given, e.g.
    /// http://10.0.0.1 [default: from --http-listen, or --interface's
    /// address when it listens on 0.0.0.0].
    #[arg(long)]
    pub http_url: Option<String>,
    /// The inventory (distros, profiles, systems; docs/inventory.md)
    /// [default: /var/lib/awl/inventory.toml, when it exists].
    #[arg(long, env = "AWL_INVENTORY")]
    pub inventory: Option<PathBuf>,
    /// Your templates and snippets (DIR/snippets/), over the built-in ones
    /// (docs/templates.md).
    #[arg(long)]
    pub templates: Option<PathBuf>,
    /// Where the install states are kept (the file `installs`; see
    /// docs/lifecycle.md) [default: the inventory's folder].
    #[arg(long, env = "AWL_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    #[command(flatten)]
    pub dhcp: DhcpArgs,
}

pub const DEFAULT_INVENTORY: &str = "/var/lib/awl/inventory.toml";

pub const DEFAULT_LEASE_FILE: &str = "/var/lib/awl/leases";

/// DHCP: given `--interface`, awl answers DHCP there, as the network's
/// server (`--dhcp-range`) or as a proxyDHCP (`--proxy`). Every flag has a
/// key in `[dhcp]` of the configuration file.
#[derive(Debug, Args)]
pub struct DhcpArgs {
    /// Interface where DHCP is served (ports 67 and 4011); its IPv4 address
    /// is the server's.
    #[arg(long)]
    pub interface: Option<String>,
    /// Be the network's DHCP server for this range: FIRST,LAST.
    #[arg(long, value_parser = config::parse_range, conflicts_with = "proxy")]
    pub dhcp_range: Option<(Ipv4Addr, Ipv4Addr)>,
    /// Be a proxyDHCP beside the network's DHCP server: boot options only.
    #[arg(long)]
    pub proxy: bool,
    /// Serve files only, no DHCP (the default without --interface).
    #[arg(long, conflicts_with_all = ["dhcp_range", "proxy"])]
    pub no_dhcp: bool,
    /// Routers (option 3) [default: this server].
    #[arg(long, value_delimiter = ',')]
    pub dhcp_router: Vec<Ipv4Addr>,
    /// DNS servers (option 6).
    #[arg(long, value_delimiter = ',')]
    pub dhcp_dns: Vec<Ipv4Addr>,
    /// Domain name (option 15).
    #[arg(long)]
    pub dhcp_domain: Option<String>,
    /// Lease time, seconds [default: 3600].
    #[arg(long)]
    pub dhcp_lease_time: Option<u64>,
    /// Clients remembered at once (offered, bound, declined) [default: 4096].
    #[arg(long)]
    pub dhcp_leases: Option<usize>,
    /// The lease journal (leases survive restarts and crashes)
    /// [default: /var/lib/awl/leases].
    #[arg(long)]
    pub lease_file: Option<PathBuf>,
    /// Boot file for BIOS PXE clients [default: undionly.kpxe].
    #[arg(long)]
    pub boot_bios: Option<String>,
    /// Boot file for x64 UEFI clients [default: ipxe.efi].
    #[arg(long)]
    pub boot_uefi_x64: Option<String>,
    /// Boot file for ARM64 UEFI clients [default: ipxe-arm64.efi].
    #[arg(long)]
    pub boot_uefi_arm64: Option<String>,
    /// What a client already running iPXE boots (an iPXE script URL);
    /// without it, such clients get no boot options.
    #[arg(long)]
    pub ipxe_script: Option<String>,
    /// What a UEFI HTTP Boot client boots (a URL); without it, nothing.
    #[arg(long)]
    pub http_boot: Option<String>,
    /// A subnet served through DHCP relay agents (repeatable):
    /// NETWORK/PREFIX,FIRST,LAST[,ROUTER...]. Requests relayed from inside
    /// it get addresses from FIRST..LAST.
    #[arg(long, value_parser = config::parse_relayed, conflicts_with = "proxy")]
    pub dhcp_relayed: Vec<config::Relayed>,
    /// A machine of its own (repeatable), as dnsmasq's --dhcp-host:
    /// MAC or id:CLIENT-ID, then any of a fixed ADDRESS, boot=FILE|URL
    /// (instead of its architecture's default) and netboot=no (an address,
    /// never boot options). E.g. 52:54:00:12:34:56,10.0.0.20
    #[arg(long, value_parser = machines::parse_machine)]
    pub dhcp_host: Vec<machines::Machine>,
}

fn dhcp_options(
    args: &DhcpArgs,
    file: config::DhcpSection,
    file_machines: Vec<machines::Machine>,
    install: &Install,
) -> Result<Option<dhcp::DhcpOptions>> {
    let range = match (args.dhcp_range, &file.range) {
        (Some(range), _) => Some(range),
        (None, Some(text)) => {
            Some(config::parse_range(text.get_ref()).map_err(anyhow::Error::msg)?)
        }
        (None, None) => None,
    };
    let proxy = args.proxy || (file.proxy.unwrap_or(false) && args.dhcp_range.is_none());
    let range = if args.proxy { None } else { range };
    let Some(interface) = args.interface.clone().or(file.interface) else {
        if range.is_some() || proxy {
            bail!("--dhcp-range and --proxy need --interface IF");
        }
        return Ok(None);
    };
    if args.no_dhcp {
        return Ok(None);
    }
    if range.is_none() && !proxy {
        bail!("--interface {interface}: give --dhcp-range FIRST,LAST (be the DHCP server) or --proxy (beside one), or --no-dhcp");
    }
    let lease_file = args
        .lease_file
        .clone()
        .or(file.lease_file)
        .unwrap_or_else(|| DEFAULT_LEASE_FILE.into());
    if let Some(dir) = lease_file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("--lease-file {}: {e}", lease_file.display()))?;
    }
    let pick = |flag: &Option<String>, key: Option<String>, default: &str| {
        flag.clone().or(key).unwrap_or_else(|| default.to_string())
    };
    let list = |flag: &Vec<Ipv4Addr>, key: Option<Vec<Ipv4Addr>>| {
        if flag.is_empty() {
            key.unwrap_or_default()
        } else {
            flag.clone()
        }
    };
    let relayed = if args.dhcp_relayed.is_empty() {
        file.relayed
            .iter()
            .map(|r| {
                config::relayed(r.network.get_ref(), r.range.get_ref(), r.routers.clone())
                    .map_err(|e| anyhow::anyhow!("[[dhcp.relayed]] {}: {e}", r.network.get_ref()))
            })
            .collect::<Result<Vec<_>>>()?
    } else {
        args.dhcp_relayed.clone()
    };
    // From the command line, else the file (checked where it was read).
    let machines = if args.dhcp_host.is_empty() {
        file_machines
    } else {
        args.dhcp_host.clone()
    };
    let from = if args.dhcp_host.is_empty() {
        "[[dhcp.host]]"
    } else {
        "--dhcp-host"
    };
    if let Some((_, why)) = machines::conflicts(&machines).into_iter().next() {
        bail!("{from}: {why}");
    }
    // One table of machines: what the inventory's systems name, the
    // configuration's must not (`awl check` says where, too).
    if let Some(cache) = &install.cache {
        let clashes = crate::install::clashes(&machines, &cache.get(), cache.store().path());
        if !clashes.is_empty() {
            let lines: Vec<String> = clashes
                .iter()
                .map(|(_, why)| format!("{from}: {why}"))
                .collect();
            bail!("{} problem(s):\n{}", lines.len(), lines.join("\n"));
        }
    }
    if relayed.len() >= awl_core::dhcp::MAX_POOLS {
        bail!(
            "--dhcp-relayed: at most {} relayed subnets",
            awl_core::dhcp::MAX_POOLS - 1
        );
    }
    Ok(Some(dhcp::DhcpOptions {
        interface,
        range,
        relayed,
        routers: list(&args.dhcp_router, file.routers),
        dns: list(&args.dhcp_dns, file.dns),
        domain: pick(&args.dhcp_domain, file.domain, ""),
        lease_secs: args
            .dhcp_lease_time
            .or(file.lease_time)
            .unwrap_or(3600)
            .max(60),
        lease_file,
        capacity: args.dhcp_leases.or(file.leases).unwrap_or(4096).max(1),
        bios: pick(&args.boot_bios, file.boot_bios, "undionly.kpxe"),
        uefi_x64: pick(&args.boot_uefi_x64, file.boot_uefi_x64, "ipxe.efi"),
        uefi_arm64: pick(
            &args.boot_uefi_arm64,
            file.boot_uefi_arm64,
            "ipxe-arm64.efi",
        ),
        // With HTTP on, iPXE chains to awl's own first script.
        ipxe_script: pick(
            &args.ipxe_script,
            file.ipxe_script,
            &install
                .server
                .as_ref()
                .map_or(String::new(), |s| format!("{}/boot.ipxe", s.http_base)),
        ),
        http_boot: pick(&args.http_boot, file.http_boot, ""),
        machines: Arc::new(InventoryMachines::new(install.cache.clone(), machines)),
    }))
}

/// Reads `--config` (when given) and refuses to start on any problem in
/// it; returns it with its `[[dhcp.host]]` machines read.
fn load_config(path: Option<&std::path::Path>) -> Result<(ConfigFile, Vec<machines::Machine>)> {
    let Some(path) = path else {
        return Ok((ConfigFile::default(), Vec::new()));
    };
    let loaded = Loaded::read(path)?;
    // Every problem, as `awl check` prints them.
    let problems = loaded.problems();
    if !problems.is_empty() {
        let lines: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        bail!("{} problem(s):\n{}", lines.len(), lines.join("\n"));
    }
    let machines = loaded.machines().unwrap_or_default();
    Ok((loaded.file, machines))
}

/// Command line over file over defaults.
fn tftp_options(serve: ServeArgs, file: config::TftpSection) -> Result<tftp::TftpOptions> {
    let Some(root) = serve.tftp_root.or(file.root.map(|v| v.into_inner())) else {
        bail!("no TFTP root: give --tftp-root DIR (or root in [tftp] of --config FILE)");
    };
    let listen = serve
        .tftp_listen
        .or(file.listen.map(|v| v.into_inner()))
        .unwrap_or(([0, 0, 0, 0], 69).into());
    let mtu = serve
        .tftp_mtu
        .or(file.mtu.map(|v| v.into_inner()))
        .unwrap_or(if listen.ip().is_loopback() {
            65_536
        } else {
            1500
        });
    let capacity = serve
        .tftp_transfers
        .or(file.transfers.map(|v| v.into_inner()))
        .unwrap_or(256);
    if capacity == 0 || capacity > usize::from(u16::MAX) {
        bail!("--tftp-transfers must be between 1 and 65535");
    }
    Ok(tftp::TftpOptions {
        root,
        listen,
        mtu,
        max_windowsize: serve
            .tftp_max_windowsize
            .or(file.max_windowsize.map(|v| v.into_inner()))
            .unwrap_or(64)
            .max(1),
        capacity,
        max_per_ip: serve
            .tftp_max_per_ip
            .or(file.max_per_ip.map(|v| v.into_inner()))
            .unwrap_or(64),
        upload_dir: serve
            .tftp_upload_dir
            .or(file.upload_dir.map(|v| v.into_inner())),
        max_upload: serve
            .tftp_max_upload
            .or(file.max_upload.map(|v| v.into_inner()))
            .unwrap_or(64 << 20),
    })
}

/// The inventory, the templates and where HTTP is: what the install layer
/// needs, from flags over the file over defaults.
pub struct Install {
    pub http_listen: Option<SocketAddr>,
    /// Where installers' syslog is received.
    pub syslog_listen: Option<SocketAddr>,
    pub server: Option<Server>,
    pub cache: Option<Arc<InventoryCache>>,
    pub renderer: Arc<Renderer>,
    /// The install states (with an inventory only).
    pub states: Option<crate::lifecycle::StateFile>,
}

fn install_settings(serve: &ServeArgs, file: &ConfigFile) -> Result<Install> {
    let http_listen = serve
        .http_listen
        .or(file.http.listen.as_ref().map(|v| *v.get_ref()));
    let syslog_listen = serve
        .syslog_listen
        .or(file.syslog.listen.as_ref().map(|v| *v.get_ref()));
    let inventory = serve.inventory.clone().or(file
        .inventory
        .file
        .as_ref()
        .map(|v| v.get_ref().clone()));
    let inventory = match inventory {
        Some(path) => Some(path),
        None => Some(PathBuf::from(DEFAULT_INVENTORY)).filter(|p| p.exists()),
    };
    let cache = match inventory {
        Some(path) => {
            let store = FileStore::new(&path);
            // Refuse to start on a broken inventory; later edits that break
            // it are logged and the last good one stays in use. What was
            // read here is what the first request gets (no second read).
            let cache = if path.exists() {
                let mut held = Held::default();
                let (generation, loaded) = store.load_held(&mut held);
                match loaded {
                    Ok(inventory) => InventoryCache::holding(store, generation, inventory, held),
                    Err(problems) => bail!("inventory {}:\n{problems}", path.display()),
                }
            } else {
                InventoryCache::new(store)
            };
            tracing::info!("inventory: {}", path.display());
            Some(Arc::new(cache))
        }
        None => None,
    };
    let templates = serve.templates.clone().or(file
        .inventory
        .templates
        .as_ref()
        .map(|v| v.get_ref().clone()));
    let renderer = Arc::new(Renderer::new(RenderConfig {
        snippets_dir: templates.as_ref().map(|t| t.join("snippets")),
        templates_dir: templates,
        ..Default::default()
    }));
    let server = match http_listen {
        None => None,
        Some(listen) => {
            let base = match (&serve.http_url, &file.http.url) {
                (Some(url), _) => url.trim_end_matches('/').to_string(),
                (None, Some(url)) => url.get_ref().trim_end_matches('/').to_string(),
                (None, None) => {
                    let ip = match listen.ip() {
                        std::net::IpAddr::V4(ip) if !ip.is_unspecified() => ip,
                        _ => match serve.dhcp.interface.as_deref().or(file.dhcp.interface.as_deref()) {
                            Some(interface) => dhcp::interface_address(interface)?.0,
                            None => bail!("--http-listen {listen}: give --http-url (what machines reach), or an address to listen on"),
                        },
                    };
                    if listen.port() == 80 {
                        format!("http://{ip}")
                    } else {
                        format!("http://{ip}:{}", listen.port())
                    }
                }
            };
            let ip = base
                .split("://")
                .nth(1)
                .and_then(|rest| rest.split(['/', ':']).next())
                .and_then(|host| host.parse().ok())
                .unwrap_or(Ipv4Addr::UNSPECIFIED);
            Some(Server {
                ip,
                http_base: base,
                syslog_port: syslog_listen.map(|l| l.port()),
                files_root: serve.tftp_root.clone().or(file
                    .tftp
                    .root
                    .as_ref()
                    .map(|v| v.get_ref().clone())),
            })
        }
    };
    let states = cache.as_ref().map(|cache| {
        let dir = serve.state_dir.clone().unwrap_or_else(|| {
            cache
                .store()
                .path()
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), PathBuf::from)
        });
        tracing::info!(
            "lifecycle: install states in {}",
            dir.join("installs").display()
        );
        crate::lifecycle::StateFile::new(dir)
    });
    Ok(Install {
        states,
        http_listen,
        syslog_listen,
        server,
        cache,
        renderer,
    })
}
