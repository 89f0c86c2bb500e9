//! `awl`: the network-install server's command line.
//!
//! The protocol logic lives in `awl-core`; this binary moves bytes and reads
//! files.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use awl::dhcp::{self, leases};
use awl::install::{InstallSite, InventoryMachines, Server};
use awl::inventory::store::{FileStore, InventoryCache, Store};
use awl::settings::{self as config, machines, ConfigFile, Loaded};
use awl::supervise::Services;
use awl::tftp;
use awl::tools::decode;
use clap::{Args, Parser, Subcommand};

/// awl: network-install server (DHCP/proxyDHCP with PXE, TFTP, HTTP, answer files).
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve: TFTP, HTTP (--http-listen: boot scripts, answer files, the
    /// TFTP root), and DHCP or proxyDHCP on --interface.
    Serve(Box<Serve>),
    /// Check a configuration file and the inventory (every distro,
    /// profile, system and template); exits non-zero on any problem, each
    /// named by file, line and field.
    Check {
        /// The configuration file.
        #[arg(long, env = "AWL_CONFIG")]
        config: Option<PathBuf>,
        /// The inventory [default: the configuration's [inventory] file,
        /// else /var/lib/awl/inventory.toml when it exists].
        #[arg(long, env = "AWL_INVENTORY")]
        inventory: Option<PathBuf>,
        /// Your templates (as `awl serve --templates`).
        #[arg(long)]
        templates: Option<PathBuf>,
        /// Where kernels and initrds are (as `awl serve --tftp-root`)
        /// [default: the configuration's [tftp] root].
        #[arg(long)]
        tftp_root: Option<PathBuf>,
    },
    /// List the leases in the lease journal.
    Leases {
        /// The lease journal.
        #[arg(long, default_value = DEFAULT_LEASE_FILE)]
        lease_file: PathBuf,
    },
    /// Print the DHCP and TFTP fields of every datagram in a pcap file
    /// (Ethernet, Linux cooked or raw IP link types).
    Decode {
        /// The capture to read.
        pcap: PathBuf,
    },
    /// Distros: a kernel, its initrd(s), an install tree (docs/inventory.md).
    Distro(awl::inventory::cli::DistroArgs),
    /// Profiles: a distro or parent, a template, kernel arguments, variables.
    Profile(awl::inventory::cli::ProfileArgs),
    /// Systems: machines by MAC or UUID, with a profile (or a reservation).
    System(awl::inventory::cli::SystemArgs),
    /// The inventory as a whole (check).
    Inventory(awl::inventory::cli::InventoryArgs),
}

/// Every flag also has a key in the configuration file (`[tftp]`,
/// `[http]`, `[inventory]`, `[dhcp]`); a flag given here wins.
#[derive(Debug, Args)]
struct Serve {
    /// Configuration file (TOML; see docs/config.md).
    #[arg(long, env = "AWL_CONFIG")]
    config: Option<PathBuf>,
    /// Files served over TFTP (a leading / in a request means this folder).
    #[arg(long, env = "AWL_TFTP_ROOT")]
    tftp_root: Option<PathBuf>,
    /// Where TFTP listens [default: 0.0.0.0:69].
    #[arg(long, env = "AWL_TFTP_LISTEN")]
    tftp_listen: Option<SocketAddr>,
    /// Path MTU used to cap the TFTP block size (MTU - 32 for IPv4), so
    /// blocks are never fragmented [default: 65536 on loopback, else 1500].
    #[arg(long)]
    tftp_mtu: Option<usize>,
    /// Largest TFTP window granted (RFC 7440) [default: 64].
    #[arg(long)]
    tftp_max_windowsize: Option<u16>,
    /// Concurrent TFTP transfers; more are answered "server busy"
    /// [default: 256].
    #[arg(long)]
    tftp_transfers: Option<usize>,
    /// Concurrent TFTP transfers from one IP address (0: no limit)
    /// [default: 64].
    #[arg(long)]
    tftp_max_per_ip: Option<u16>,
    /// Accept TFTP uploads (write requests) into this directory, which is
    /// not the served root. Uploads never overwrite a file; incomplete ones
    /// are removed. Without it, write requests get ERROR 2.
    #[arg(long)]
    tftp_upload_dir: Option<PathBuf>,
    /// The largest TFTP upload accepted, in bytes [default: 67108864].
    #[arg(long)]
    tftp_max_upload: Option<u64>,
    /// Where HTTP listens (boot scripts, answer files, the TFTP root under
    /// /boot/); no HTTP without it.
    #[arg(long, env = "AWL_HTTP_LISTEN")]
    http_listen: Option<SocketAddr>,
    /// The base of the URLs booting machines are given, e.g.
    /// http://10.0.0.1 [default: from --http-listen, or --interface's
    /// address when it listens on 0.0.0.0].
    #[arg(long)]
    http_url: Option<String>,
    /// The inventory (distros, profiles, systems; docs/inventory.md)
    /// [default: /var/lib/awl/inventory.toml, when it exists].
    #[arg(long, env = "AWL_INVENTORY")]
    inventory: Option<PathBuf>,
    /// Your templates and snippets (DIR/snippets/), over the built-in ones
    /// (docs/templates.md).
    #[arg(long)]
    templates: Option<PathBuf>,
    #[command(flatten)]
    dhcp: DhcpArgs,
}

const DEFAULT_INVENTORY: &str = "/var/lib/awl/inventory.toml";

const DEFAULT_LEASE_FILE: &str = "/var/lib/awl/leases";

/// DHCP: given `--interface`, awl answers DHCP there, as the network's
/// server (`--dhcp-range`) or as a proxyDHCP (`--proxy`). Every flag has a
/// key in `[dhcp]` of the configuration file.
#[derive(Debug, Args)]
struct DhcpArgs {
    /// Interface where DHCP is served (ports 67 and 4011); its IPv4 address
    /// is the server's.
    #[arg(long)]
    interface: Option<String>,
    /// Be the network's DHCP server for this range: FIRST,LAST.
    #[arg(long, value_parser = config::parse_range, conflicts_with = "proxy")]
    dhcp_range: Option<(Ipv4Addr, Ipv4Addr)>,
    /// Be a proxyDHCP beside the network's DHCP server: boot options only.
    #[arg(long)]
    proxy: bool,
    /// Serve files only, no DHCP (the default without --interface).
    #[arg(long, conflicts_with_all = ["dhcp_range", "proxy"])]
    no_dhcp: bool,
    /// Routers (option 3) [default: this server].
    #[arg(long, value_delimiter = ',')]
    dhcp_router: Vec<Ipv4Addr>,
    /// DNS servers (option 6).
    #[arg(long, value_delimiter = ',')]
    dhcp_dns: Vec<Ipv4Addr>,
    /// Domain name (option 15).
    #[arg(long)]
    dhcp_domain: Option<String>,
    /// Lease time, seconds [default: 3600].
    #[arg(long)]
    dhcp_lease_time: Option<u64>,
    /// Clients remembered at once (offered, bound, declined) [default: 4096].
    #[arg(long)]
    dhcp_leases: Option<usize>,
    /// The lease journal (leases survive restarts and crashes)
    /// [default: /var/lib/awl/leases].
    #[arg(long)]
    lease_file: Option<PathBuf>,
    /// Boot file for BIOS PXE clients [default: undionly.kpxe].
    #[arg(long)]
    boot_bios: Option<String>,
    /// Boot file for x64 UEFI clients [default: ipxe.efi].
    #[arg(long)]
    boot_uefi_x64: Option<String>,
    /// Boot file for ARM64 UEFI clients [default: ipxe-arm64.efi].
    #[arg(long)]
    boot_uefi_arm64: Option<String>,
    /// What a client already running iPXE boots (an iPXE script URL);
    /// without it, such clients get no boot options.
    #[arg(long)]
    ipxe_script: Option<String>,
    /// What a UEFI HTTP Boot client boots (a URL); without it, nothing.
    #[arg(long)]
    http_boot: Option<String>,
    /// A subnet served through DHCP relay agents (repeatable):
    /// NETWORK/PREFIX,FIRST,LAST[,ROUTER...]. Requests relayed from inside
    /// it get addresses from FIRST..LAST.
    #[arg(long, value_parser = config::parse_relayed, conflicts_with = "proxy")]
    dhcp_relayed: Vec<config::Relayed>,
    /// A machine of its own (repeatable), as dnsmasq's --dhcp-host:
    /// MAC or id:CLIENT-ID, then any of a fixed ADDRESS, boot=FILE|URL
    /// (instead of its architecture's default) and netboot=no (an address,
    /// never boot options). E.g. 52:54:00:12:34:56,10.0.0.20
    #[arg(long, value_parser = machines::parse_machine)]
    dhcp_host: Vec<machines::Machine>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Decode { pcap } => decode::run(&pcap),
        Command::Serve(serve) => run_serve(*serve),
        Command::Check {
            config,
            inventory,
            templates,
            tftp_root,
        } => check(config.as_deref(), inventory, templates, tftp_root),
        Command::Leases { lease_file } => leases::print(&lease_file),
        Command::Distro(args) => args.run(),
        Command::Profile(args) => args.run(),
        Command::System(args) => args.run(),
        Command::Inventory(args) => args.run(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("awl: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn check(
    config: Option<&std::path::Path>,
    inventory: Option<PathBuf>,
    templates: Option<PathBuf>,
    tftp_root: Option<PathBuf>,
) -> Result<()> {
    let mut problems = 0;
    let mut file = ConfigFile::default();
    if let Some(path) = config {
        let loaded = Loaded::read(path)?;
        let found = loaded.problems();
        for p in &found {
            eprintln!("{p}");
        }
        problems += found.len();
        if found.is_empty() {
            println!("{}: ok", path.display());
        }
        file = loaded.file;
    }
    let inventory = inventory
        .or(file.inventory.file.as_ref().map(|v| v.get_ref().clone()))
        .or_else(|| Some(PathBuf::from(DEFAULT_INVENTORY)).filter(|p| p.exists()));
    if let Some(path) = inventory {
        // Fixed addresses must be in a served subnet: the relayed ones, and
        // the interface's when it exists on this machine.
        let mut subnets: Vec<(Ipv4Addr, Ipv4Addr)> = file
            .dhcp
            .relayed
            .iter()
            .filter_map(|r| config::relayed(r.network.get_ref(), r.range.get_ref(), Vec::new()).ok())
            .map(|r| (r.network, r.mask))
            .collect();
        if let Some(interface) = file.dhcp.interface.as_deref() {
            if let Ok((ip, mask)) = dhcp::interface_address(interface) {
                subnets.push((ip, mask));
            }
        }
        let files_root = tftp_root.or(file.tftp.root.as_ref().map(|v| v.get_ref().clone()));
        let templates = templates.or(file.inventory.templates.as_ref().map(|v| v.get_ref().clone()));
        let renderer = awl::render::Renderer::new(awl::render::RenderConfig {
            snippets_dir: templates.as_ref().map(|t| t.join("snippets")),
            templates_dir: templates,
            ..Default::default()
        });
        let template = awl::install::template_check(std::sync::Arc::new(renderer));
        let ctx = awl::inventory::check::CheckContext {
            subnets: &subnets,
            files_root: files_root.as_deref(),
            template: Some(&template),
        };
        match FileStore::new(&path).check(&ctx) {
            Ok(_) => println!("{}: ok", path.display()),
            Err(found) => {
                eprintln!("{found}");
                problems += found.0.len();
            }
        }
    }
    if problems > 0 {
        bail!("{problems} problem(s)");
    }
    Ok(())
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
    if let Some((_, why)) = machines::conflicts(&machines).into_iter().next() {
        bail!("--dhcp-host: {why}");
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
        machines,
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
        inventory: install.machines.clone(),
    }))
}

/// Reads `--config` (when given) and refuses to start on any problem in
/// it; returns it with its `[[dhcp.host]]` machines read.
fn load_config(path: Option<&std::path::Path>) -> Result<(ConfigFile, Vec<machines::Machine>)> {
    let Some(path) = path else {
        return Ok((ConfigFile::default(), Vec::new()));
    };
    let loaded = Loaded::read(path)?;
    if let Some(first) = loaded.problems().into_iter().next() {
        return Err(first);
    }
    let machines = loaded.machines().unwrap_or_default();
    Ok((loaded.file, machines))
}

/// Command line over file over defaults.
fn tftp_options(serve: Serve, file: config::TftpSection) -> Result<tftp::TftpOptions> {
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

fn run_serve(serve: Serve) -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let (file, file_machines) = load_config(serve.config.as_deref())?;
    let install = install_settings(&serve, &file)?;
    let dhcp_options = dhcp_options(&serve.dhcp, file.dhcp, file_machines, &install)?;
    let options = tftp_options(serve, file.tftp)?;
    // Every service on a thread of its own (so file serving never delays
    // DHCP), all under one shutdown: the first to fail stops awl.
    let mut services = Services::default();
    let events = awl::events::Events::default();
    if let Some(dhcp_options) = dhcp_options {
        dhcp::start(dhcp_options, &events, &mut services)?;
    }
    if let (Some(listen), Some(server)) = (install.http_listen, install.server.clone()) {
        let settings = awl::http::HttpSettings::new(
            listen,
            vec![awl::http::Mount {
                prefix: "/boot/".into(),
                root: options.root.clone(),
            }],
        );
        let site: Option<std::sync::Arc<dyn awl::http::Dynamic>> =
            install.cache.clone().map(|cache| {
                std::sync::Arc::new(InstallSite::new(cache, install.renderer.clone(), server))
                    as std::sync::Arc<dyn awl::http::Dynamic>
            });
        let (run, stop) = awl::http::bind(settings, site)?;
        services.spawn("http", run, stop)?;
        tracing::info!("http: serving on {listen}");
    }
    tftp::start(options, &events, &mut services)?;
    services.supervise()
}

/// The inventory, the templates and where HTTP is: what the install layer
/// needs, from flags over the file over defaults.
struct Install {
    http_listen: Option<SocketAddr>,
    server: Option<Server>,
    cache: Option<std::sync::Arc<InventoryCache>>,
    renderer: std::sync::Arc<awl::render::Renderer>,
    machines: std::sync::Arc<InventoryMachines>,
}

fn install_settings(serve: &Serve, file: &ConfigFile) -> Result<Install> {
    let http_listen = serve
        .http_listen
        .or(file.http.listen.as_ref().map(|v| *v.get_ref()));
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
            // it are logged and the last good one stays in use.
            if path.exists() {
                if let Err(problems) = store.load() {
                    bail!("inventory {}:\n{problems}", path.display());
                }
            }
            tracing::info!("inventory: {}", path.display());
            Some(std::sync::Arc::new(InventoryCache::new(store)))
        }
        None => None,
    };
    let templates = serve.templates.clone().or(file
        .inventory
        .templates
        .as_ref()
        .map(|v| v.get_ref().clone()));
    let renderer = std::sync::Arc::new(awl::render::Renderer::new(awl::render::RenderConfig {
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
            })
        }
    };
    Ok(Install {
        http_listen,
        server,
        machines: std::sync::Arc::new(InventoryMachines::new(cache.clone())),
        cache,
        renderer,
    })
}
