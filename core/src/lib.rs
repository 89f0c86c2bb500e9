/*! awl's protocol core: the DHCPv4/PXE and TFTP wire formats (and, as they
land, the servers as sans-IO state machines) shared by the Linux host binary
and the Cortex-M firmware.

* `#![no_std]`, no `alloc` anywhere in the dependency tree, no `unsafe`.
* No panics on any input: the crate denies `unwrap`, `expect`, `panic!`,
  indexing and slicing that can fail; packet data is read with checked
  accessors (see [`wire`] for the contract).
* Fuzzed: `fuzz/` holds a target for every parser.
*/
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unreachable,
    clippy::todo,
    clippy::unimplemented
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

pub mod boot;
pub mod dhcp;
pub mod http;
pub mod ipxe;
pub mod script;
pub mod tftp;
pub mod time;
pub mod wire;
