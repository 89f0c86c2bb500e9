//! The `awl` host binary's library part: what the binary and the end-to-end
//! tests share.

pub mod capture;
pub mod clock;
pub mod config;
pub mod decode;
pub mod dhcp;
pub mod events;
pub mod files;
pub mod http;
pub mod install;
pub mod inventory;
pub mod leases;
pub mod machines;
pub mod render;
pub mod supervise;
pub mod tftp;
