//! `awl`: the network-install server's command line.
//!
//! The protocol logic lives in `awl-core`; this binary moves bytes and reads
//! files.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use awl::config::Loaded;
use awl::{decode, tftp};
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
    /// Serve boot files (today: TFTP; DHCP/proxyDHCP and HTTP are coming).
    Serve(Serve),
    /// Check a configuration file; exits non-zero on any error, naming
    /// file, line and field.
    Check {
        /// The configuration file.
        #[arg(long, env = "AWL_CONFIG")]
        config: PathBuf,
    },
    /// Print the DHCP and TFTP fields of every datagram in a pcap file
    /// (Ethernet, Linux cooked or raw IP link types).
    Decode {
        /// The capture to read.
        pcap: PathBuf,
    },
}

/// Every flag also has a key in the configuration file (`[tftp]`); a flag
/// given here wins.
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
    /// Serve files only: no DHCP (today DHCP is not available, so this is
    /// what `serve` does either way).
    #[arg(long)]
    no_dhcp: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Decode { pcap } => decode::run(&pcap),
        Command::Serve(serve) => run_serve(serve),
        Command::Check { config } => check(&config),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("awl: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn check(path: &std::path::Path) -> Result<()> {
    let loaded = Loaded::read(path)?;
    let problems = loaded.problems();
    for p in &problems {
        eprintln!("{p}");
    }
    if !problems.is_empty() {
        bail!("{}: {} problem(s)", path.display(), problems.len());
    }
    println!("{}: ok", path.display());
    Ok(())
}

/// Command line over file over defaults.
fn tftp_options(serve: Serve) -> Result<tftp::TftpOptions> {
    let loaded = serve.config.as_deref().map(Loaded::read).transpose()?;
    if let Some(loaded) = &loaded {
        if let Some(first) = loaded.problems().into_iter().next() {
            return Err(first);
        }
    }
    let file = loaded.map(|l| l.file.tftp).unwrap_or_default();
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
    let _ = serve.no_dhcp;
    let options = tftp_options(serve)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        tokio::select! {
            result = tftp::serve(options) => result,
            _ = tokio::signal::ctrl_c() => {
                tracing::info!("awl: interrupted, stopping");
                Ok(())
            }
        }
    })
}
