//! `awl`: the network-install server's command line.
//!
//! The protocol logic lives in `awl-core`; this binary moves bytes and reads
//! files.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Result};
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
    /// Print the DHCP and TFTP fields of every datagram in a pcap file
    /// (Ethernet, Linux cooked or raw IP link types).
    Decode {
        /// The capture to read.
        pcap: PathBuf,
    },
}

#[derive(Debug, Args)]
struct Serve {
    /// Files served over TFTP (a leading / in a request means this folder).
    #[arg(long, env = "AWL_TFTP_ROOT")]
    tftp_root: PathBuf,
    /// Where TFTP listens.
    #[arg(long, default_value = "0.0.0.0:69", env = "AWL_TFTP_LISTEN")]
    tftp_listen: SocketAddr,
    /// Path MTU used to cap the TFTP block size (MTU - 32 for IPv4), so
    /// blocks are never fragmented [default: 65536 on loopback, else 1500].
    #[arg(long)]
    tftp_mtu: Option<usize>,
    /// Largest TFTP window granted (RFC 7440).
    #[arg(long, default_value_t = 64)]
    tftp_max_windowsize: u16,
    /// Concurrent TFTP transfers; more are answered "server busy".
    #[arg(long, default_value_t = 256)]
    tftp_transfers: usize,
    /// Concurrent TFTP transfers from one IP address (0: no limit).
    #[arg(long, default_value_t = 64)]
    tftp_max_per_ip: u16,
    /// Accept TFTP uploads (write requests) into this directory, which is
    /// not the served root. Uploads never overwrite a file; incomplete ones
    /// are removed. Without it, write requests get ERROR 2.
    #[arg(long)]
    tftp_upload_dir: Option<PathBuf>,
    /// The largest TFTP upload accepted, in bytes.
    #[arg(long, default_value_t = 64 << 20)]
    tftp_max_upload: u64,
    /// Serve files only: no DHCP (today DHCP is not available, so this is
    /// what `serve` does either way).
    #[arg(long)]
    no_dhcp: bool,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Decode { pcap } => decode::run(&pcap),
        Command::Serve(serve) => run_serve(serve),
    }
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
    if serve.tftp_transfers == 0 || serve.tftp_transfers > usize::from(u16::MAX) {
        bail!("--tftp-transfers must be between 1 and 65535");
    }
    let mtu = serve
        .tftp_mtu
        .unwrap_or(if serve.tftp_listen.ip().is_loopback() {
            65_536
        } else {
            1500
        });
    let options = tftp::TftpOptions {
        root: serve.tftp_root,
        listen: serve.tftp_listen,
        mtu,
        max_windowsize: serve.tftp_max_windowsize.max(1),
        capacity: serve.tftp_transfers,
        max_per_ip: serve.tftp_max_per_ip,
        upload_dir: serve.tftp_upload_dir,
        max_upload: serve.tftp_max_upload,
    };
    let _ = serve.no_dhcp;
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
