//! The `awl` host binary's library part: what the binary and the end-to-end
//! tests share. The folders say what each part is:
//!
//! | module | what |
//! | --- | --- |
//! | [`settings`] | `awl serve`'s flags, the configuration file and the defaults, merged in one place; `--dhcp-host` machines |
//! | [`serve`] | `awl serve`: the services started under one supervisor |
//! | [`dhcp`], [`tftp`], [`http`], [`syslog`] | the services: drivers around the core's state machines (DHCP's lease journal, TFTP's files), awl's HTTP server, installers' syslog |
//! | [`supervise`], [`events`], [`clock`] | what the services share: one shutdown, the event bus, time |
//! | [`inventory`] | distros, profiles, systems: model, storage, CLI |
//! | [`render`] | answer files and boot configs from templates |
//! | [`install`] | the inventory as DHCP lookups and HTTP answers |
//! | [`lifecycle`] | install states, tokens and the callback's state file; `awl status`, `awl events` |
//! | [`api`] | the JSON API under `/api/v1`, the status page at `/`, `/metrics` |
//! | [`metrics`] | the counters `/metrics` shows |
//! | [`tools`] | offline tools: `awl decode`, capture reading |

pub mod api;
pub mod clock;
pub mod dhcp;
pub mod discovery;
pub mod events;
pub mod http;
pub mod install;
pub mod inventory;
pub mod lifecycle;
pub mod metrics;
pub mod render;
pub mod serve;
pub mod settings;
pub mod supervise;
pub mod syslog;
pub mod tftp;
pub mod tools;
