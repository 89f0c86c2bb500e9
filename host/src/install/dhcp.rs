//! The DHCP server's view of the machines it knows: the inventory's
//! systems and the configuration's `[[dhcp.host]]` / `--dhcp-host`
//! machines, one table asked per request (the core's [`Machines`]), so
//! `awl system add` reaches the very next answer.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use awl_core::dhcp::{ClientKey, Lease, Machine, Machines, Who};

use crate::inventory::model::{Inventory, Netboot};
use crate::inventory::store::InventoryCache;
use crate::settings::machines::{Machine as Host, MachineId};

/// What DHCP knows of one machine.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Its fixed address; `None`: from the pool.
    ip: Option<Ipv4Addr>,
    /// Whether it gets boot options.
    netboot: bool,
    /// Its own boot file or URL (empty: its firmware's default).
    boot_file: &'static str,
}

/// Who a fixed address is for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Owner {
    Mac([u8; 6]),
    ClientId(Vec<u8>),
}

/// One inventory version with the configuration's machines, indexed for
/// lookups that run per datagram (reserved addresses are asked for each
/// candidate address).
#[derive(Default)]
struct Index {
    /// Machines known by client identifier: few (configured ones only),
    /// so searched without building a key per datagram.
    by_client_id: Vec<(Vec<u8>, Entry)>,
    by_mac: HashMap<[u8; 6], Entry>,
    /// SMBIOS UUID (both byte orders).
    by_uuid: HashMap<[u8; 16], Entry>,
    by_ip: HashMap<Ipv4Addr, Owner>,
}

impl Index {
    /// The inventory's systems, then the configuration's machines (which
    /// win where both name one: `awl check` and `serve` report that).
    fn of(inventory: Option<&Inventory>, hosts: &[Host]) -> Self {
        let mut index = Self::default();
        for system in inventory.into_iter().flat_map(|i| &i.systems) {
            // A system with a profile always gets boot options: its script
            // then says "install" or "boot from disk". One without a
            // profile gets them unless `never` (and is then answered as
            // an unknown machine).
            let netboot = system.profile.is_some() || system.netboot() != Netboot::Never;
            let boot_file = intern(system.boot_file.as_deref().unwrap_or_default());
            for interface in &system.interfaces {
                let entry = Entry {
                    ip: interface.ip,
                    netboot,
                    boot_file,
                };
                index.by_mac.insert(interface.mac.0, entry);
                if let Some(ip) = interface.ip {
                    index.by_ip.insert(ip, Owner::Mac(interface.mac.0));
                }
            }
            if let Some(uuid) = system.uuid {
                let entry = Entry {
                    ip: system.interfaces.first().and_then(|i| i.ip),
                    netboot,
                    boot_file,
                };
                index.by_uuid.insert(uuid.0, entry);
                index.by_uuid.insert(uuid.swapped().0, entry);
            }
        }
        for host in hosts {
            let entry = Entry {
                ip: host.ip,
                netboot: host.netboot,
                boot_file: intern(&host.boot),
            };
            if let MachineId::ClientId(id) = &host.id {
                index.by_client_id.push((id.clone(), entry));
            }
            // A MAC, or a client identifier that holds one (01:MAC): that
            // machine by its hardware address too, as a system would be.
            let owner = match (host.id.mac(), &host.id) {
                (Some(mac), _) => {
                    if index.by_mac.insert(mac, entry).is_some() {
                        tracing::warn!(
                            "dhcp: {} is both a configured machine and an inventory system's: the configuration's entry is used",
                            host.id
                        );
                    }
                    Owner::Mac(mac)
                }
                (None, MachineId::ClientId(id)) => Owner::ClientId(id.clone()),
                (None, MachineId::Mac(mac)) => Owner::Mac(*mac),
            };
            if let Some(ip) = host.ip {
                if let Some(Owner::Mac(mac)) = index.by_ip.insert(ip, owner.clone()) {
                    if owner != Owner::Mac(mac) {
                        index.unreserve(ip, mac, &host.id);
                    }
                }
            }
        }
        index
    }

    /// A system's fixed address `ip` (its interface `mac`'s) is also the
    /// configured machine `id`'s, as an edit made it while awl serves:
    /// the configuration's entry wins, the system gets a pool address.
    fn unreserve(&mut self, ip: Ipv4Addr, mac: [u8; 6], id: &MachineId) {
        tracing::warn!(
            "dhcp: {ip} is both configured machine {id}'s and an inventory system's ({}): the configuration's entry is used",
            crate::inventory::model::Mac(mac)
        );
        let entries = self.by_mac.get_mut(&mac).into_iter();
        for entry in entries.chain(self.by_uuid.values_mut()) {
            if entry.ip == Some(ip) {
                entry.ip = None;
            }
        }
    }

    /// The machine `who` is: by client identifier (for machines known by
    /// one), then MAC, then UUID.
    fn entry(&self, who: &Who<'_>) -> Option<Entry> {
        let by_id = || {
            let id = who.client_id?;
            self.by_client_id
                .iter()
                .find(|(known, _)| id.bytes().eq(known.iter().copied()))
                .map(|(_, entry)| entry)
        };
        by_id()
            .or_else(|| who.mac.and_then(|mac| self.by_mac.get(&mac)))
            .or_else(|| who.uuid.and_then(|g| self.by_uuid.get(&g.0)))
            .copied()
    }
}

/// Where `machines` name a machine or a fixed address that one of the
/// inventory's systems also names (`file`: the inventory's, for the
/// message): (index in `machines`, why). The configuration's entry is the
/// one the DHCP server uses, so a clash is an error for `awl check` and
/// `awl serve`, and a warning when an edit makes one while awl serves.
pub fn clashes(machines: &[Host], inventory: &Inventory, file: &Path) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, m) in machines.iter().enumerate() {
        for system in &inventory.systems {
            let at = system.place.table.map_or(String::new(), |p| {
                format!(" ({}:{})", file.display(), p.line)
            });
            let mut clash = |what: String| {
                out.push((i, format!("{what} is also system {}'s{at}", system.name)));
            };
            for interface in &system.interfaces {
                if m.id.mac() == Some(interface.mac.0) {
                    clash(m.id.to_string());
                }
                if let Some(ip) = m.ip.filter(|ip| interface.ip == Some(*ip)) {
                    clash(ip.to_string());
                }
            }
        }
    }
    out
}

/// `text` for the life of the process: boot files travel in the DHCP
/// server's events, which outlive one inventory version. Each distinct
/// boot file is kept once (a few bytes; an administrator writes few).
fn intern(text: &str) -> &'static str {
    static SEEN: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    if text.is_empty() {
        return "";
    }
    let mut seen = SEEN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(kept) = seen.get(text) {
        return kept;
    }
    let kept: &'static str = Box::leak(text.to_owned().into_boxed_str());
    seen.insert(kept);
    kept
}

/// The machines as the DHCP server asks them. Cheap to take per datagram:
/// the index is rebuilt only when the inventory changed.
pub struct InventoryMachines {
    cache: Option<Arc<InventoryCache>>,
    /// `[[dhcp.host]]` / `--dhcp-host`.
    hosts: Vec<Host>,
    /// The version indexed, held weakly: a strong hold would make the
    /// cache copy the whole inventory to extend it after an add (its
    /// allocation stays while this is held, so the pointer is not reused).
    current: Mutex<Option<Indexed>>,
}

/// The inventory version indexed (`None`: there is no inventory), and
/// its index.
type Indexed = (Option<Weak<Inventory>>, Arc<Index>);

impl std::fmt::Debug for InventoryMachines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "InventoryMachines({}, {} configured)",
            if self.cache.is_some() {
                "inventory"
            } else {
                "no inventory"
            },
            self.hosts.len()
        )
    }
}

impl InventoryMachines {
    /// Over `cache` (none: only `hosts`) and the configuration's `hosts`.
    pub fn new(cache: Option<Arc<InventoryCache>>, hosts: Vec<Host>) -> Self {
        Self {
            cache,
            hosts,
            current: Mutex::new(None),
        }
    }

    /// The configuration's machines.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// The lookup for one request.
    pub fn view(&self) -> View {
        View {
            index: self.index(),
        }
    }

    fn index(&self) -> Arc<Index> {
        let inventory = self.cache.as_ref().map(|c| c.get());
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let same = |seen: &Option<Weak<Inventory>>| match (seen, &inventory) {
            (None, None) => true,
            (Some(seen), Some(now)) => std::ptr::eq(seen.as_ptr(), Arc::as_ptr(now)),
            _ => false,
        };
        match current.as_ref() {
            Some((seen, index)) if same(seen) => index.clone(),
            _ => {
                let index = Arc::new(Index::of(inventory.as_deref(), &self.hosts));
                *current = Some((inventory.as_ref().map(Arc::downgrade), index.clone()));
                index
            }
        }
    }
}

/// One request's view of the machines.
pub struct View {
    index: Arc<Index>,
}

impl<'a> Machines<'a> for View {
    fn lookup(&self, who: &Who<'_>) -> Option<Machine<'a>> {
        self.index.entry(who).map(|e| Machine {
            ip: e.ip,
            netboot: e.netboot,
            boot_file: e.boot_file,
        })
    }

    fn reserved_for_other(&self, ip: Ipv4Addr, who: &Who<'_>) -> bool {
        // Each fixed address has one owner (a clash made while awl serves
        // is resolved in the configuration's favour), so `ip` is someone's,
        // and it is `who`'s exactly when `who`'s entry has it.
        self.index.by_ip.contains_key(&ip) && self.index.entry(who).and_then(|e| e.ip) != Some(ip)
    }

    fn holds(&self, lease: &Lease) -> bool {
        match self.index.by_ip.get(&lease.ip) {
            Some(Owner::Mac(mac)) => lease.mac == *mac,
            Some(Owner::ClientId(id)) => lease.client == ClientKey::from_client_id(id),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::file;

    const TEXT: &str = r#"
[[distro]]
name = "d"
kernel = "d/linux"
initrd = ["d/initrd"]

[[profile]]
name = "p"
distro = "d"

[[system]]
name = "web1"
profile = "p"
boot_file = "custom/grubx64.efi"

[[system.interface]]
mac = "52:54:00:00:00:01"
ip = "10.0.0.21"

[[system]]
name = "printer"

[[system.interface]]
mac = "52:54:00:00:00:02"
ip = "10.0.0.22"

[[system]]
name = "kiosk"
netboot = "always"

[[system.interface]]
mac = "52:54:00:00:00:03"
"#;

    fn who(last: u8) -> Who<'static> {
        Who {
            mac: Some([0x52, 0x54, 0, 0, 0, last]),
            client_id: None,
            uuid: None,
        }
    }

    fn view(hosts: &[Host]) -> View {
        let inventory = file::parse(TEXT, None).unwrap();
        View {
            index: Arc::new(Index::of(Some(&inventory), hosts)),
        }
    }

    #[test]
    fn systems_are_machines_with_their_own_boot_files() {
        let view = view(&[]);
        let web1 = view.lookup(&who(1)).unwrap();
        assert_eq!(
            (web1.ip, web1.netboot, web1.boot_file),
            (
                Some(Ipv4Addr::new(10, 0, 0, 21)),
                true,
                "custom/grubx64.efi"
            )
        );
        // Without a profile: an address only, unless `netboot = always`.
        let printer = view.lookup(&who(2)).unwrap();
        assert!(!printer.netboot && printer.boot_file.is_empty());
        assert!(view.lookup(&who(3)).unwrap().netboot);
        assert_eq!(view.lookup(&who(9)), None);
        // Fixed addresses are kept for their machines.
        let ip = Ipv4Addr::new(10, 0, 0, 21);
        assert!(view.reserved_for_other(ip, &who(2)));
        assert!(!view.reserved_for_other(ip, &who(1)));
        assert!(!view.reserved_for_other(Ipv4Addr::new(10, 0, 0, 99), &who(2)));
    }

    #[test]
    fn configured_machines_are_in_the_same_table_and_win() {
        let hosts = [
            crate::settings::machines::parse_machine("52:54:00:00:00:02,10.0.0.30,boot=x.efi")
                .unwrap(),
            crate::settings::machines::parse_machine("id:01:02:03,10.0.0.31").unwrap(),
        ];
        let view = view(&hosts);
        let printer = view.lookup(&who(2)).unwrap();
        assert_eq!(
            (printer.ip, printer.netboot, printer.boot_file),
            (Some(Ipv4Addr::new(10, 0, 0, 30)), true, "x.efi")
        );
        let lease = |last: u8, ip: [u8; 4], client: ClientKey| Lease {
            client,
            mac: [0x52, 0x54, 0, 0, 0, last],
            ip: ip.into(),
            state: awl_core::dhcp::LeaseState::Bound,
            expires: awl_core::time::Instant::from_millis(1),
        };
        let by_mac = |last| ClientKey::from_mac(1, &[0x52, 0x54, 0, 0, 0, last]);
        assert!(view.holds(&lease(2, [10, 0, 0, 30], by_mac(2))));
        assert!(!view.holds(&lease(4, [10, 0, 0, 30], by_mac(4))));
        let by_id = ClientKey::from_client_id(&[1, 2, 3]);
        assert!(view.holds(&lease(4, [10, 0, 0, 31], by_id)));
        assert!(!view.holds(&lease(4, [10, 0, 0, 31], by_mac(4))));
        assert!(view.reserved_for_other(Ipv4Addr::new(10, 0, 0, 31), &who(4)));
    }

    #[test]
    fn an_address_clash_made_while_serving_goes_to_the_configuration() {
        // web1's fixed address, also given to a configured machine (what
        // `awl system edit` can do while awl serves; check refuses it).
        let hosts =
            [crate::settings::machines::parse_machine("52:54:00:00:00:07,10.0.0.21").unwrap()];
        let view = view(&hosts);
        let ip = Ipv4Addr::new(10, 0, 0, 21);
        assert_eq!(view.lookup(&who(7)).unwrap().ip, Some(ip));
        assert_eq!(view.lookup(&who(1)).unwrap().ip, None, "from the pool");
        assert!(view.reserved_for_other(ip, &who(1)));
        assert!(!view.reserved_for_other(ip, &who(7)));
    }

    #[test]
    fn a_client_identifier_that_holds_a_mac_is_that_machine() {
        // The printer's MAC as a configured client identifier (01:MAC):
        // the configuration's entry, with or without option 61.
        let hosts = [crate::settings::machines::parse_machine(
            "id:01:52:54:00:00:00:02,10.0.0.30,boot=x.efi",
        )
        .unwrap()];
        let view = view(&hosts);
        // A request that carries option 61 = 01:MAC.
        use awl_core::wire::dhcp::{DhcpOption, MessageType, Op, Packet, Reply};
        let id = [1, 0x52, 0x54, 0, 0, 0, 2];
        let mut buf = [0u8; 576];
        let options = [
            DhcpOption::MessageType(MessageType::Discover),
            DhcpOption::ClientId(&id),
        ];
        let len = Reply {
            op: Op::Request,
            htype: 1,
            chaddr: &id[1..],
            xid: 1,
            required: &options,
            max_len: 548,
            ..Reply::default()
        }
        .emit(&mut buf)
        .unwrap();
        let packet = Packet::new_checked(&buf[..len]).unwrap();
        let with_id = Who::of(&packet);
        assert!(with_id.client_id.is_some());
        for asking in [who(2), with_id] {
            let printer = view.lookup(&asking).unwrap();
            assert_eq!(
                (printer.ip, printer.boot_file),
                (Some(Ipv4Addr::new(10, 0, 0, 30)), "x.efi")
            );
        }
        let ip = Ipv4Addr::new(10, 0, 0, 30);
        assert!(!view.reserved_for_other(ip, &who(2)));
        assert!(view.reserved_for_other(ip, &who(1)));
    }

    #[test]
    fn boot_files_are_kept_once() {
        let a = intern(&String::from("kept/once.efi"));
        let b = intern(&String::from("kept/once.efi"));
        assert!(std::ptr::eq(a, b));
        assert_eq!(intern(""), "");
    }
}
