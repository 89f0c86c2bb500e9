//! The DHCP server's view of the inventory: asked per request (the core's
//! [`Machines`]), so `awl system add` reaches the very next answer.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, Weak};

use awl_core::dhcp::{Lease, Machine, Machines, Reservation, Who};

use crate::inventory::model::{Inventory, Netboot};
use crate::inventory::store::InventoryCache;

/// One inventory version, indexed for lookups that run per datagram
/// (reserved addresses are asked for each candidate address).
struct Index {
    /// MAC → (fixed address, gets boot options).
    by_mac: HashMap<[u8; 6], (Option<Ipv4Addr>, bool)>,
    /// SMBIOS UUID (both byte orders) → the same.
    by_uuid: HashMap<[u8; 16], (Option<Ipv4Addr>, bool)>,
    /// Fixed address → the MAC it is for.
    by_ip: HashMap<Ipv4Addr, [u8; 6]>,
}

impl Index {
    fn of(inventory: &Inventory) -> Self {
        let mut index = Self {
            by_mac: HashMap::new(),
            by_uuid: HashMap::new(),
            by_ip: HashMap::new(),
        };
        for system in &inventory.systems {
            // A system with a profile always gets boot options: its script
            // then says "install" or "boot from disk". One without a
            // profile is a reservation, with boot options unless `never`.
            let boots = system.profile.is_some() || system.netboot() != Netboot::Never;
            for interface in &system.interfaces {
                index.by_mac.insert(interface.mac.0, (interface.ip, boots));
                if let Some(ip) = interface.ip {
                    index.by_ip.insert(ip, interface.mac.0);
                }
            }
            if let Some(uuid) = system.uuid {
                let ip = system.interfaces.first().and_then(|i| i.ip);
                index.by_uuid.insert(uuid.0, (ip, boots));
                index.by_uuid.insert(uuid.swapped().0, (ip, boots));
            }
        }
        index
    }
}

/// The inventory (and the configuration file's `[[dhcp.host]]` entries,
/// which win) as the DHCP server asks it. Cheap to take per datagram: the
/// index is rebuilt only when the inventory changed.
pub struct InventoryMachines {
    cache: Option<Arc<InventoryCache>>,
    /// The version indexed, held weakly: a strong hold would make the
    /// cache copy the whole inventory to extend it after an add (its
    /// allocation stays while this is held, so the pointer is not reused).
    current: Mutex<Option<(Weak<Inventory>, Arc<Index>)>>,
}

impl std::fmt::Debug for InventoryMachines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.cache.is_some() {
            "InventoryMachines(inventory)"
        } else {
            "InventoryMachines(none)"
        })
    }
}

impl InventoryMachines {
    /// Over `cache` (none: only the configuration's reservations).
    pub fn new(cache: Option<Arc<InventoryCache>>) -> Self {
        Self {
            cache,
            current: Mutex::new(None),
        }
    }

    /// The lookup for one request, with the configuration's reservations.
    pub fn view<'m, 'a>(&self, reservations: &'m [Reservation<'a>]) -> View<'m, 'a> {
        View {
            reservations,
            index: self.index(),
        }
    }

    fn index(&self) -> Option<Arc<Index>> {
        let inventory = self.cache.as_ref()?.get();
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        match current.as_ref() {
            Some((seen, index)) if std::ptr::eq(seen.as_ptr(), Arc::as_ptr(&inventory)) => {
                Some(index.clone())
            }
            _ => {
                let index = Arc::new(Index::of(&inventory));
                *current = Some((Arc::downgrade(&inventory), index.clone()));
                Some(index)
            }
        }
    }
}

/// One request's view: the configuration's reservations, then the
/// inventory.
pub struct View<'m, 'a> {
    reservations: &'m [Reservation<'a>],
    index: Option<Arc<Index>>,
}

impl View<'_, '_> {
    fn inventory(&self, who: &Who<'_>) -> Option<(Option<Ipv4Addr>, bool)> {
        let index = self.index.as_ref()?;
        who.mac
            .and_then(|mac| index.by_mac.get(&mac))
            .or_else(|| who.uuid.and_then(|g| index.by_uuid.get(&g.0)))
            .copied()
    }
}

impl<'a> Machines<'a> for View<'_, 'a> {
    fn lookup(&self, who: &Who<'_>) -> Option<Machine<'a>> {
        let reservations = self.reservations;
        reservations.lookup(who).or_else(|| {
            self.inventory(who).map(|(ip, netboot)| Machine {
                ip,
                netboot,
                boot_file: "",
            })
        })
    }

    fn reserved_for_other(&self, ip: Ipv4Addr, who: &Who<'_>) -> bool {
        let reservations = self.reservations;
        reservations.reserved_for_other(ip, who)
            || self.index.as_ref().is_some_and(|index| {
                index.by_ip.get(&ip).is_some_and(|mac| {
                    Some(*mac) != who.mac && self.inventory(who).and_then(|(ip, _)| ip) != Some(ip)
                })
            })
    }

    fn holds(&self, lease: &Lease) -> bool {
        let reservations = self.reservations;
        reservations.holds(lease)
            || self
                .index
                .as_ref()
                .is_some_and(|index| index.by_ip.get(&lease.ip) == Some(&lease.mac))
    }
}
