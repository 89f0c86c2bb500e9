//! `awl`: the network-install server's command line.
//!
//! The protocol logic lives in `awl-core`; this binary moves bytes and reads
//! files.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use awl::dhcp::{self, leases};
use awl::inventory::store::{FileStore, Store};
use awl::settings::serve::{ServeArgs, DEFAULT_INVENTORY, DEFAULT_LEASE_FILE};
use awl::settings::{self as config, ConfigFile, Loaded};
use awl::tools::decode;
use clap::{Parser, Subcommand};

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
    Serve(Box<ServeArgs>),
    /// Quick mode, as pixiecore's boot: every PXE machine on --interface
    /// boots this kernel (proxyDHCP unless --dhcp-range), no inventory to
    /// write.
    Boot(awl::settings::quick::BootArgs),
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
    /// List the leases in the lease journal, with the system each MAC
    /// is (from the inventory)
    Leases {
        /// The lease journal.
        #[arg(long, default_value = DEFAULT_LEASE_FILE)]
        lease_file: PathBuf,
        #[command(flatten)]
        inventory: awl::inventory::cli::InventoryFile,
        /// Only machines no system names: the ones to add (`awl system
        /// add NAME --mac MAC`).
        #[arg(long)]
        unknown: bool,
        /// JSON (an array) instead of a table.
        #[arg(long)]
        json: bool,
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
    /// A distro from an install tree or a mounted ISO, found by its
    /// content (`awl distro import`).
    Import(awl::inventory::cli::ImportArgs),
    /// The inventory as a whole (check).
    Inventory(awl::inventory::cli::InventoryArgs),
    /// Every system's install state (docs/lifecycle.md): a table, or
    /// --json.
    Status(awl::lifecycle::StatusArgs),
    /// Install events from the state file, oldest first (`--follow`: then
    /// as they happen).
    Events(awl::lifecycle::EventsArgs),
    /// Machines that network-booted and that the inventory does not know
    /// (docs/discovery.md): the ones to add with `awl system add`.
    Discovered(awl::discovery::DiscoveredArgs),
}

/// Log lines to stdout, `info` and up unless `RUST_LOG` says otherwise.
fn logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Decode { pcap } => decode::run(&pcap),
        Command::Boot(args) => {
            logging();
            awl::settings::quick::settings(&args)
                .and_then(|(settings, _dir)| awl::serve::run(settings))
        }
        Command::Serve(args) => {
            logging();
            awl::settings::serve::resolve(*args).and_then(awl::serve::run)
        }
        Command::Check {
            config,
            inventory,
            templates,
            tftp_root,
        } => check(config.as_deref(), inventory, templates, tftp_root),
        Command::Leases {
            lease_file,
            inventory,
            unknown,
            json,
        } => Store::load(&FileStore::new(&inventory.path))
            .map_err(|p| anyhow::anyhow!("{} has problems:\n{p}", inventory.path.display()))
            .and_then(|inv| leases::print(&lease_file, &inv, unknown, json)),
        Command::Distro(args) => args.run(),
        Command::Import(args) => args.run(),
        Command::Profile(args) => args.run(),
        Command::System(args) => args.run(),
        Command::Inventory(args) => args.run(),
        Command::Status(args) => args.run(),
        Command::Events(args) => args.run(),
        Command::Discovered(args) => args.run(),
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
    let loaded = config.map(Loaded::read).transpose()?;
    if let Some(loaded) = &loaded {
        let found = loaded.problems();
        for p in &found {
            eprintln!("{p}");
        }
        problems += found.len();
    }
    let config_problems = problems;
    let mut clashing = 0;
    let none = ConfigFile::default();
    let file = loaded.as_ref().map_or(&none, |l| &l.file);
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
            .filter_map(|r| {
                config::relayed(r.network.get_ref(), r.range.get_ref(), Vec::new()).ok()
            })
            .map(|r| (r.network, r.mask))
            .collect();
        if let Some(interface) = file.dhcp.interface.as_deref() {
            if let Ok((ip, mask)) = dhcp::interface_address(interface) {
                subnets.push((ip, mask));
            }
        }
        let files_root = tftp_root.or(file.tftp.root.as_ref().map(|v| v.get_ref().clone()));
        let templates = templates.or(file
            .inventory
            .templates
            .as_ref()
            .map(|v| v.get_ref().clone()));
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
            Ok(inventory) => {
                // `[[dhcp.host]]` and the systems are one table of machines.
                let clashes = loaded
                    .as_ref()
                    .map(|l| l.clashes_with(&inventory, &path))
                    .unwrap_or_default();
                for p in &clashes {
                    eprintln!("{p}");
                }
                problems += clashes.len();
                clashing = clashes.len();
                if clashes.is_empty() {
                    println!("{}: ok", path.display());
                }
            }
            Err(found) => {
                eprintln!("{found}");
                problems += found.0.len();
            }
        }
    }
    // A clash is the configuration's and the inventory's problem.
    if let Some(loaded) = loaded.as_ref().filter(|_| config_problems + clashing == 0) {
        println!("{}: ok", loaded.path.display());
    }
    if problems > 0 {
        bail!("{problems} problem(s)");
    }
    Ok(())
}
