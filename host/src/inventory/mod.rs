//! The inventory: what awl knows about the machines it installs, in
//! Cobbler's terms (see `docs/inventory.md`).
//!
//! * a **distro** is a kernel and its initrd(s), an install tree, an
//!   architecture and an OS family;
//! * a **profile** is a distro (or a parent profile) with an answer-file
//!   template, kernel arguments and variables;
//! * a **system** is one machine: its interfaces (MAC, fixed address,
//!   hostname) and/or SMBIOS UUID, a profile, variables, secrets and a
//!   netboot flag. A system without a profile is only a DHCP reservation.
//!
//! It lives in one TOML file that people read and edit, and that the
//! `awl distro|profile|system` commands edit safely while `awl serve` runs:
//!
//! | module | what |
//! | --- | --- |
//! | [`model`] | the types, and lookups by name, MAC, UUID, address |
//! | [`file`](mod@file) | the TOML format: reading with every problem located, writing |
//! | [`kernel_args`] | kernel command lines: parsing and the merge rule |
//! | [`resolve`] | distro → profiles → system merged, with each value's origin |
//! | [`check`] | validation: [`Problem`], [`CheckContext`] |
//! | [`append`] | an added system appended to the file, and read alone by whoever read the rest; one system edited in its own lines |
//! | [`store`] | [`Store`], the file store (atomic, locked edits) and [`InventoryCache`] |
//! | [`import`] | `awl distro import`: a distro from an install tree, found by its content |
//! | [`image`] | the same for a disk image and awl's deploy environment (family `image`) |
//! | [`cli`] | the subcommands |
//!
//! A server reads it through an [`InventoryCache`], which costs one
//! `stat` per request and re-reads only a file that changed:
//!
//! ```no_run
//! use awl::inventory::{FileStore, InventoryCache};
//!
//! let cache = InventoryCache::new(FileStore::new("/var/lib/awl/inventory.toml"));
//! let inventory = cache.get(); // Arc<Inventory>, the last valid one
//! if let Some((system, _interface)) = inventory.system_by_mac([0x52, 0x54, 0, 0x12, 0x34, 0x56]) {
//!     let resolved = inventory.resolve(&system.name).unwrap();
//!     println!("{}", resolved.boot.map(|b| b.command_line()).unwrap_or_default());
//! }
//! ```

pub mod append;
pub mod check;
pub mod cli;
pub mod digest;
pub mod file;
pub mod find;
pub mod image;
pub mod import;
pub mod kernel_args;
pub mod model;
pub mod resolve;
pub mod splice;
pub mod store;

pub use check::{CheckContext, Problem, Problems, TemplateCheck};
pub use kernel_args::KernelArg;
pub use model::{
    Arch, Distro, Family, Interface, Inventory, Mac, Netboot, Place, Pos, Profile, System,
    UnknownAction, UnknownPolicy, Uuid, Vars,
};
pub use resolve::{Boot, Origin, Resolved, ResolvedProfile, Sourced};
pub use store::{FileStore, Generation, InventoryCache, Store};

/// Where the inventory lives unless `--inventory` or `AWL_INVENTORY` says
/// otherwise.
pub const DEFAULT_INVENTORY: &str = "/var/lib/awl/inventory.toml";
