//! `awl`: the network-install server's command line.
//!
//! The protocol logic lives in `awl-core`; this binary moves bytes and reads
//! files. For now it knows `decode`, which reads a capture and prints what a
//! PXE server sees in each DHCP and TFTP datagram; `serve` arrives with the
//! TFTP and DHCP servers.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

use awl::decode;

/// awl: network-install server (DHCP/proxyDHCP with PXE, TFTP, HTTP, answer files).
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the DHCP and TFTP fields of every datagram in a pcap file
    /// (Ethernet, Linux cooked or raw IP link types).
    Decode {
        /// The capture to read.
        pcap: PathBuf,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Decode { pcap } => decode::run(&pcap),
    }
}
