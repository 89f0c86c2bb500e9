//! Discovery: the machines that network-booted against awl and that the
//! inventory does not know, as Foreman lists discovered hosts and MAAS
//! new machines. Each is a MAC, the SMBIOS UUID and firmware it sent, the
//! address it was offered (full DHCP; none from a proxy), how often and
//! when it was seen. `awl discovered` and `GET /api/v1/discovered` list
//! them; `awl system add NAME --mac MAC` adopts one. See docs/discovery.md.
//!
//! The list follows awl's DHCP offers ([`watch`], on a thread of its own,
//! so DHCP never waits for a disk) and is kept in `STATE_DIR/discovered`
//! (JSON), written whole and atomically (temporary file, `fsync`, rename,
//! folder `fsync`) at most once a second: a first sighting in a quiet
//! moment is on disk at once, a storm of new machines costs one write a
//! second. A write that fails (a full disk) leaves the previous file as it
//! was, is said in the log and is tried again. The list holds at most
//! [`MAX`] machines: past that, the one seen longest ago makes room
//! (forged MACs cannot grow it). A machine the inventory knows is never
//! listed: an offer to it removes it, and so does each write once it is
//! added.

mod cli;

pub use cli::{rows, DiscoveredArgs};

use std::collections::{BTreeMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::events::{Event, Events, Sighting};
use crate::inventory::model::{Inventory, Mac, Uuid};
use crate::inventory::store::InventoryCache;

/// The file's name in the state folder.
pub const FILE: &str = "discovered";

/// The most machines listed.
pub const MAX: usize = 4096;

/// Writes are at least this far apart.
const WRITE_EVERY: Duration = Duration::from_secs(1);

/// A full list or a failing write is said at most this often.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// One machine seen and not in the inventory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    /// Its MAC (`52:54:00:aa:91:01`).
    pub mac: String,
    /// The SMBIOS UUID it sent (option 97), as `dmidecode -s system-uuid`
    /// prints it.
    pub uuid: Option<String>,
    /// Its architecture (option 93), as awl names it (`x64 UEFI`).
    pub arch: Option<String>,
    /// What its firmware said, in the log's words (`x86 BIOS, iPXE`).
    pub firmware: String,
    /// The address last offered to it (full DHCP; a proxy offers none).
    pub address: Option<Ipv4Addr>,
    /// First seen (unix seconds).
    pub first_seen: u64,
    /// Last seen (unix seconds).
    pub last_seen: u64,
    /// Offers sent to it.
    pub offers: u64,
}

/// The MACs and UUIDs (in both byte orders) the inventory names its
/// systems by, gathered once for a pass over the list: asking the
/// inventory per machine would scan every system for each.
struct Names {
    macs: HashSet<[u8; 6]>,
    uuids: HashSet<[u8; 16]>,
}

impl Names {
    fn of(inventory: &Inventory) -> Self {
        let systems = inventory.systems.iter();
        Self {
            macs: systems
                .clone()
                .flat_map(|s| s.interfaces.iter().map(|i| i.mac.0))
                .collect(),
            uuids: systems
                .filter_map(|s| s.uuid)
                .flat_map(|u| [u.0, u.swapped().0])
                .collect(),
        }
    }

    /// Whether the inventory knows `machine` (by MAC, or by its UUID).
    fn know(&self, machine: &Machine) -> bool {
        let by_mac = machine
            .mac
            .parse::<Mac>()
            .is_ok_and(|m| self.macs.contains(&m.0));
        let by_uuid = machine
            .uuid
            .as_deref()
            .and_then(|u| u.parse::<Uuid>().ok())
            .is_some_and(|u| self.uuids.contains(&u.0));
        by_mac || by_uuid
    }
}

/// What [`List::note`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Noted {
    /// A machine not listed before.
    New,
    /// A machine listed already, seen again.
    Again,
    /// A new machine, for which the one seen longest ago was forgotten.
    Replaced(String),
    /// A machine the inventory knows: not listed (and no longer, if it
    /// was).
    Known {
        /// Whether it was listed until now.
        was_listed: bool,
    },
}

/// The list, by MAC.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct List {
    machines: BTreeMap<[u8; 6], Machine>,
}

impl List {
    /// The list in `STATE_DIR/discovered`; empty when there is none.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(FILE);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(e).with_context(|| format!("{}: cannot read", path.display())),
        };
        let rows: Vec<Machine> = serde_json::from_slice(&bytes)
            .with_context(|| format!("{}: not a list of discovered machines", path.display()))?;
        let machines = rows
            .into_iter()
            .filter_map(|m| Some((m.mac.parse::<Mac>().ok()?.0, m)))
            .collect();
        Ok(Self { machines })
    }

    /// Writes the list to `STATE_DIR/discovered`, whole and atomically.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join(FILE);
        let temp = dir.join(format!(".{FILE}.tmp"));
        let mut text = serde_json::to_vec_pretty(&self.rows())?;
        text.push(b'\n');
        let result = (|| -> std::io::Result<()> {
            let mut file = OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .open(&temp)?;
            file.write_all(&text)?;
            file.sync_all()?;
            std::fs::rename(&temp, &path)?;
            File::open(dir)?.sync_all()
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&temp);
            return Err(e).with_context(|| format!("{}: cannot write", path.display()));
        }
        Ok(())
    }

    /// Every machine, by MAC.
    pub fn rows(&self) -> Vec<&Machine> {
        self.machines.values().collect()
    }

    /// How many are listed.
    pub fn len(&self) -> usize {
        self.machines.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.machines.is_empty()
    }

    /// Notes an offer to `mac` at `now` (unix seconds), with the address
    /// offered, keeping at most `max` machines.
    pub fn note(
        &mut self,
        mac: [u8; 6],
        seen: &Sighting,
        address: Option<Ipv4Addr>,
        now: u64,
        max: usize,
    ) -> Noted {
        if seen.known {
            let was_listed = self.machines.remove(&mac).is_some();
            return Noted::Known { was_listed };
        }
        let arch = seen.facts.arch.map(|a| a.to_string());
        let firmware = seen.facts.to_string();
        // As `dmidecode -s system-uuid` prints it: firmware sends the
        // SMBIOS bytes, whose first three fields are little-endian. All
        // zeros (QEMU without -uuid) or all ones: none (SMBIOS).
        let uuid = seen
            .uuid
            .filter(|u| *u != [0; 16] && *u != [0xff; 16])
            .map(|u| Uuid(u).swapped().to_string());
        if let Some(m) = self.machines.get_mut(&mac) {
            m.last_seen = now;
            m.offers = m.offers.saturating_add(1);
            m.address = address.or(m.address);
            m.uuid = uuid.or(m.uuid.take());
            m.arch = arch.or(m.arch.take());
            m.firmware = firmware;
            return Noted::Again;
        }
        let mut noted = Noted::New;
        if self.machines.len() >= max.max(1) {
            let oldest = self
                .machines
                .iter()
                .min_by_key(|(_, m)| m.last_seen)
                .map(|(k, _)| *k);
            if let Some(gone) = oldest.and_then(|k| self.machines.remove(&k)) {
                noted = Noted::Replaced(gone.mac);
            }
        }
        let machine = Machine {
            mac: Mac(mac).to_string(),
            uuid,
            arch,
            firmware,
            address,
            first_seen: now,
            last_seen: now,
            offers: 1,
        };
        self.machines.insert(mac, machine);
        noted
    }

    /// Keeps the `max` machines seen last (a file written with a larger
    /// bound).
    pub fn trim(&mut self, max: usize) {
        while self.machines.len() > max {
            let oldest = self
                .machines
                .iter()
                .min_by_key(|(_, m)| m.last_seen)
                .map(|(k, _)| *k);
            match oldest {
                Some(k) => self.machines.remove(&k),
                None => break,
            };
        }
    }

    /// Forgets every machine `inventory` knows now; how many.
    pub fn forget_known(&mut self, inventory: &Inventory) -> usize {
        let before = self.machines.len();
        let names = Names::of(inventory);
        self.machines.retain(|_, m| !names.know(m));
        before - self.machines.len()
    }
}

/// The machines of `list` that `inventory` does not know, seen last first.
pub fn unknown_rows(list: &List, inventory: &Inventory) -> Vec<Machine> {
    let names = Names::of(inventory);
    let mut rows: Vec<Machine> = list
        .rows()
        .into_iter()
        .filter(|m| !names.know(m))
        .cloned()
        .collect();
    rows.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then(a.mac.cmp(&b.mac)));
    rows
}

/// The list `awl serve` keeps, shared by its watcher and the API. The
/// list's lock is held only to change or copy it; a write to disk holds
/// a lock of its own (writes one at a time, each of a copy taken after the
/// one before was written), so a reader never waits for a `fsync`.
#[derive(Clone)]
pub struct Discovered {
    dir: PathBuf,
    list: Arc<Mutex<List>>,
    writing: Arc<Mutex<()>>,
}

impl Discovered {
    fn new(dir: PathBuf, list: List) -> Self {
        Self {
            dir,
            list: Arc::new(Mutex::new(list)),
            writing: Arc::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, List> {
        // A thread that panicked while holding it left a whole list.
        self.list.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn writing(&self) -> MutexGuard<'_, ()> {
        self.writing.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets the machines `inventory` knows and writes the list.
    fn save(&self, inventory: &Inventory) -> Result<()> {
        let _writing = self.writing();
        let copy = {
            let mut list = self.lock();
            list.forget_known(inventory);
            list.clone()
        };
        copy.write(&self.dir)
    }

    /// The machines `inventory` does not know, seen last first (what is
    /// in memory: a sighting of the last second too).
    pub fn rows(&self, inventory: &Inventory) -> Vec<Machine> {
        unknown_rows(&self.lock(), inventory)
    }

    /// Forgets `mac` and writes the list at once; `false` when it was not
    /// listed. A write that fails keeps the machine listed.
    pub fn forget(&self, mac: [u8; 6]) -> Result<bool> {
        let _writing = self.writing();
        let (machine, copy) = {
            let mut list = self.lock();
            let Some(machine) = list.machines.remove(&mac) else {
                return Ok(false);
            };
            (machine, list.clone())
        };
        if let Err(e) = copy.write(&self.dir) {
            // Unless it was seen again meanwhile, as it was.
            self.lock().machines.entry(mac).or_insert(machine);
            return Err(e);
        }
        Ok(true)
    }
}

/// Follows awl's DHCP offers on `events` on a thread of its own, and keeps
/// the list of machines the inventory does not know in `dir`.
pub fn watch(
    events: &Events,
    cache: Arc<InventoryCache>,
    dir: PathBuf,
) -> std::io::Result<Discovered> {
    let (_, mut receiver) = events.subscribe();
    let mut list = match List::read(&dir) {
        Ok(list) => list,
        Err(e) => {
            // Kept aside, not lost: the next write would replace it.
            let aside = dir.join(format!("{FILE}.unreadable"));
            let _ = std::fs::rename(dir.join(FILE), &aside);
            tracing::warn!("discovery: {e:#}; set aside as {}", aside.display());
            List::default()
        }
    };
    list.trim(MAX);
    let shared = Discovered::new(dir, list);
    let handle = shared.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    std::thread::Builder::new()
        .name("awl-discovery".into())
        .spawn(move || {
            runtime.block_on(async move {
                let mut writer = Writer::new();
                loop {
                    let due = writer.due();
                    let next = match due {
                        Some(at) => tokio::time::timeout_at(at.into(), receiver.recv()).await,
                        None => Ok(receiver.recv().await),
                    };
                    use tokio::sync::broadcast::error::RecvError;
                    match next {
                        Err(_elapsed) => writer.write(&shared, &cache.get()),
                        Ok(Err(RecvError::Lagged(missed))) => writer.missed(missed),
                        Ok(Err(RecvError::Closed)) => {
                            if writer.dirty {
                                writer.write(&shared, &cache.get());
                            }
                            return;
                        }
                        Ok(Ok(event)) => writer.take(&mut shared.lock(), &event),
                    }
                }
            });
        })
        .map(|_| handle)
}

/// When the list is written, and what is said about it.
struct Writer {
    dirty: bool,
    last_write: Option<Instant>,
    /// Each warning is said at most once a [`WARN_EVERY`], on a clock of
    /// its own (a flood of new MACs must not hide a full disk).
    full: Warning,
    failed: Warning,
    lagged: Warning,
}

/// When a warning was last said.
#[derive(Default)]
struct Warning(Option<Instant>);

impl Warning {
    fn say(&mut self, what: std::fmt::Arguments<'_>) {
        if self.0.is_some_and(|at| at.elapsed() < WARN_EVERY) {
            return;
        }
        self.0 = Some(Instant::now());
        tracing::warn!("{what}");
    }
}

impl Writer {
    fn new() -> Self {
        Self {
            dirty: false,
            last_write: None,
            full: Warning::default(),
            failed: Warning::default(),
            lagged: Warning::default(),
        }
    }

    /// Events went by unread (the event bus holds the last
    /// [`Events::KEEP`]): the sightings among them come back at those
    /// machines' next offers.
    fn missed(&mut self, events: u64) {
        self.lagged.say(format_args!(
            "discovery: {events} events went by unread; their machines are listed at their next offer"
        ));
    }

    /// When the next write is due (`None`: nothing to write).
    fn due(&self) -> Option<Instant> {
        self.dirty.then(|| {
            let now = Instant::now();
            self.last_write
                .map_or(now, |at| (at + WRITE_EVERY).max(now))
        })
    }

    fn take(&mut self, list: &mut List, event: &Event) {
        let Event::Dhcp {
            mac: Some(mac),
            ip,
            seen: Some(seen),
            ..
        } = event
        else {
            return;
        };
        // Only network-booting machines are ones to add (a phone that got
        // an address is not), and one without an Ethernet MAC cannot be.
        if (!seen.known && !seen.facts.netboot) || mac.0 == [0; 6] {
            return;
        }
        let now = crate::lifecycle::now();
        match list.note(mac.0, seen, *ip, now, MAX) {
            Noted::New => tracing::info!(
                "discovery: {mac} ({}) is not in the inventory: listed (awl discovered)",
                seen.facts
            ),
            Noted::Replaced(gone) => {
                self.full.say(format_args!(
                    "discovery: {} machines listed already: {gone}, seen longest ago, makes room for {mac}",
                    MAX
                ));
            }
            Noted::Known { was_listed: false } => return,
            Noted::Again | Noted::Known { was_listed: true } => {}
        }
        self.dirty = true;
    }

    fn write(&mut self, shared: &Discovered, inventory: &Inventory) {
        self.last_write = Some(Instant::now());
        match shared.save(inventory) {
            Ok(()) => self.dirty = false,
            // Tried again a second later; the file on disk stays whole.
            Err(e) => self.failed.say(format_args!(
                "discovery: {e:#} (kept in memory, tried again)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use awl_core::boot::{ClientFacts, Firmware};
    use awl_core::wire::dhcp::pxe::ClientArch;

    fn seen(known: bool) -> Sighting {
        Sighting {
            uuid: Some([7; 16]),
            facts: ClientFacts {
                firmware: Firmware::UefiX64,
                arch: Some(ClientArch::X64Uefi),
                netboot: true,
                ipxe: false,
                http: false,
            },
            known,
        }
    }

    #[test]
    fn a_machine_is_listed_once_and_seen_again_and_known_ones_never() {
        let mut list = List::default();
        let mac = [0x52, 0x54, 0, 0xaa, 0, 1];
        assert_eq!(list.note(mac, &seen(false), None, 100, 8), Noted::New);
        let ip = Some(Ipv4Addr::new(10, 0, 0, 9));
        assert_eq!(list.note(mac, &seen(false), ip, 160, 8), Noted::Again);
        let m = list.rows()[0].clone();
        assert_eq!(
            (m.first_seen, m.last_seen, m.offers, m.address),
            (100, 160, 2, ip)
        );
        assert_eq!(
            m.uuid.as_deref(),
            Some("07070707-0707-0707-0707-070707070707")
        );
        assert_eq!(m.arch.as_deref(), Some("x64 UEFI"));
        assert_eq!(m.firmware, "x64 UEFI");
        // A UUID of zeros (QEMU's without -uuid) or ones is none.
        let mut zeros = seen(false);
        zeros.uuid = Some([0; 16]);
        list.note([2, 0, 0, 0, 0, 7], &zeros, None, 100, 8);
        let mut ones = seen(false);
        ones.uuid = Some([0xff; 16]);
        list.note([2, 0, 0, 0, 0, 8], &ones, None, 100, 8);
        let uuids: Vec<_> = list.rows().iter().map(|m| m.uuid.clone()).collect();
        assert_eq!(uuids, [None, None, m.uuid.clone()]);
        list.machines.retain(|k, _| *k == mac);
        // Known now (added to the inventory, or a configured host): gone.
        let known = list.note(mac, &seen(true), None, 170, 8);
        assert_eq!(known, Noted::Known { was_listed: true });
        assert!(list.is_empty());
        let again = list.note(mac, &seen(true), None, 180, 8);
        assert_eq!(again, Noted::Known { was_listed: false });
        assert!(list.is_empty());
    }

    fn offer(mac: [u8; 6], seen: Sighting) -> Event {
        Event::Dhcp {
            at: std::time::SystemTime::now(),
            mac: Some(awl_core::wire::Mac(mac)),
            ip: None,
            kind: crate::events::DhcpKind::ProxyOffer,
            seen: Some(seen),
            text: String::new(),
        }
    }

    #[test]
    fn the_watcher_lists_network_booting_strangers_and_drops_known_ones() {
        let mut writer = Writer::new();
        let shared = Discovered::new(PathBuf::from("/nonexistent"), List::default());
        let stranger = [0x52, 0x54, 0, 0xaa, 0, 1];
        let mut take = |event: Event| writer.take(&mut shared.lock(), &event);
        take(offer(stranger, seen(false)));
        // Not network-booting (a phone's DHCP), or no Ethernet MAC: not
        // machines to add.
        let mut phone = seen(false);
        phone.facts.netboot = false;
        take(offer([0x52, 0x54, 0, 0xaa, 0, 2], phone));
        take(offer([0; 6], seen(false)));
        assert_eq!(shared.lock().len(), 1);
        assert!(writer.dirty && writer.due().is_some());
        // The same machine, known now (an offer that found it): gone, and
        // the list is written again.
        writer.dirty = false;
        writer.take(&mut shared.lock(), &offer(stranger, seen(true)));
        assert!(shared.lock().is_empty() && writer.dirty);
        // A failed write keeps it to write, a second later; forgetting
        // fails the same way and keeps the machine listed.
        writer.take(&mut shared.lock(), &offer(stranger, seen(false)));
        writer.write(&shared, &Inventory::default());
        assert!(writer.dirty);
        let due = writer.due().unwrap();
        assert!(due > Instant::now() + Duration::from_millis(500), "{due:?}");
        assert!(shared.forget(stranger).is_err());
        assert_eq!(shared.rows(&Inventory::default()).len(), 1);
        assert!(!shared.forget([2, 0, 0, 0, 0, 1]).unwrap());
    }

    #[test]
    fn machines_the_inventory_names_by_mac_or_uuid_are_forgotten() {
        let mut list = List::default();
        let mut by_uuid = seen(false);
        by_uuid.uuid = Some(core::array::from_fn(|i| i as u8 + 1));
        list.note([2, 0, 0, 0, 0, 1], &seen(false), None, 100, 8);
        list.note([2, 0, 0, 0, 0, 2], &by_uuid, None, 100, 8);
        list.note([2, 0, 0, 0, 0, 3], &seen(false), None, 100, 8);
        // The UUID as listed (dmidecode's order), and a MAC.
        let uuid = list.rows()[1].uuid.clone().unwrap();
        let text = format!(
            "[[system]]\nname = \"a\"\nuuid = \"{uuid}\"\n\n\
             [[system]]\nname = \"b\"\n[[system.interface]]\nmac = \"02:00:00:00:00:03\"\n"
        );
        let inventory = crate::inventory::file::parse(&text, None).unwrap();
        assert_eq!(unknown_rows(&list, &inventory).len(), 1);
        assert_eq!(list.forget_known(&inventory), 2);
        let macs: Vec<&str> = list.rows().iter().map(|m| m.mac.as_str()).collect();
        assert_eq!(macs, ["02:00:00:00:00:01"]);
    }

    #[test]
    fn a_full_list_forgets_the_machine_seen_longest_ago() {
        let mut list = List::default();
        for i in 0..3u8 {
            list.note(
                [2, 0, 0, 0, 0, i],
                &seen(false),
                None,
                100 + u64::from(i),
                3,
            );
        }
        list.note([2, 0, 0, 0, 0, 0], &seen(false), None, 200, 3);
        let noted = list.note([2, 0, 0, 0, 0, 9], &seen(false), None, 201, 3);
        assert_eq!(noted, Noted::Replaced("02:00:00:00:00:01".into()));
        let macs: Vec<&str> = list.rows().iter().map(|m| m.mac.as_str()).collect();
        assert_eq!(
            macs,
            [
                "02:00:00:00:00:00",
                "02:00:00:00:00:02",
                "02:00:00:00:00:09"
            ]
        );
        // A file written with a larger bound is cut to the machines seen
        // last.
        list.trim(2);
        let macs: Vec<&str> = list.rows().iter().map(|m| m.mac.as_str()).collect();
        assert_eq!(macs, ["02:00:00:00:00:00", "02:00:00:00:00:09"]);
    }

    #[test]
    fn the_list_reads_back_what_was_written_and_leaves_no_temporary_file() {
        let dir = std::env::temp_dir().join(format!("awl-discovery-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        assert!(List::read(&dir).unwrap().is_empty());
        let mut list = List::default();
        list.note([2, 0, 0, 0, 0, 1], &seen(false), None, 100, 8);
        list.write(&dir).unwrap();
        assert_eq!(List::read(&dir).unwrap(), list);
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [FILE]);
        std::fs::write(dir.join(FILE), "{ torn").unwrap();
        let e = List::read(&dir).unwrap_err();
        assert!(
            format!("{e:#}").contains("not a list of discovered machines"),
            "{e:#}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
