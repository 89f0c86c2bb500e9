//! Every fixed capacity of the appliance, chosen at build time. This file is
//! also compiled into `awl-pack` (by `#[path]`), so the build script checks
//! the appliance TOML against the same numbers the firmware is built with.
//! Plain `const`s only: no imports.

/// Clients the DHCP server remembers at once (offered, bound, declined).
pub const LEASES: usize = 256;
/// The largest DHCP pool (addresses from first to last); its bitmap takes
/// one bit per address.
pub const MAX_POOL: usize = 1024;
/// Bytes of pool bitmap.
pub const POOL_BITMAP: usize = MAX_POOL.div_ceil(8);
/// Concurrent TFTP transfers; each has its own UDP socket (a new port per
/// transfer, RFC 1350). One more client is told "server busy".
pub const TRANSFERS: usize = 4;
/// Concurrent HTTP connections (TCP sockets listening on port 80).
pub const HTTP_CONNECTIONS: usize = 2;
/// The Ethernet MTU (IP packet size).
pub const MTU: usize = 1500;
/// The largest TFTP block: MTU - 20 (IPv4) - 8 (UDP) - 4 (TFTP), so no
/// block is ever fragmented.
pub const TFTP_MAX_BLKSIZE: u16 = 1468;
/// The largest TFTP window (RFC 7440) granted. Each transfer's socket holds
/// one datagram; the poll loop sends a window one datagram per pass.
pub const TFTP_MAX_WINDOWSIZE: u16 = 8;
/// The largest UDP payload sent or received (MTU - 28).
pub const UDP_MAX_PAYLOAD: usize = MTU - 28;
/// DHCP replies that may wait in the core between two polls (the loop
/// sends them after every datagram; about 0.5 KiB each).
pub const DHCP_REPLIES: usize = 4;
/// DHCP decisions (log lines, lease events) waiting between two polls; more
/// than 4, which the core keeps free so no lease event is ever dropped.
pub const DHCP_EVENTS: usize = 16;
/// TFTP log events waiting between two polls.
pub const TFTP_EVENTS: usize = 8;
/// DHCP requests buffered between two polls (port 67).
pub const DHCP_RX_DATAGRAMS: usize = 4;
/// TCP receive buffer of one HTTP connection (one request).
pub const HTTP_RX_BYTES: usize = 1024;
/// TCP send buffer of one HTTP connection.
pub const HTTP_TX_BYTES: usize = 2048;
/// Flash kept for the code when checking that boot files fit.
pub const CODE_BUDGET: u64 = 128 * 1024;
/// Distinct boot files packed into flash.
pub const MAX_FILES: usize = 32;
