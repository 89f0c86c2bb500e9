//! The install lifecycle (issue 12): each system's install state, learned
//! from awl's own answers, kept in one state file beside the inventory
//! (`STATE_DIR/installs`), and the install token that guards its answer
//! file and its callback. See docs/lifecycle.md.
//!
//! | state | when |
//! | --- | --- |
//! | `seen` | awl's DHCP answered one of its MACs (not during an install) |
//! | `armed` | a token was minted (first install boot, `awl system reinstall`) |
//! | `booting` | its iPXE script or boot config (install) was served |
//! | `installing` | its answer file was served (with its token) |
//! | `firstboot` | an image was written (`status=written`); its first boot reports |
//! | `installed` | its installer (or first boot) called back with its token |
//! | `local` | awl answered "boot from disk" |
//! | `failed` | `armed`/`booting`/`installing`/`firstboot` for longer than its timeout (seen when read), or reported failed |
//!
//! The state is a snapshot (`installs`, JSON) and a journal beside it
//! (`installs.journal`, one JSON line per changed record). Every write
//! holds an exclusive `flock` on `installs.lock`, appends the one record it
//! changed to the journal and `fsync`s it, so a write costs the record, not
//! the file (a boot storm of thousands of machines; BENCHMARKS.md). When the
//! journal outgrows the snapshot, the snapshot is written whole (temporary
//! file, `fsync`, rename, folder `fsync`) and the journal emptied. A
//! `kill -9` leaves whole records: a last journal line without its end of
//! line is a torn write, ignored by readers and cut by the next writer.
//! `awl serve` and `awl system reinstall` both write, through the lock; a
//! process keeps what it read while the files' identity (inode, size, time)
//! is unchanged. The files hold tokens: they are created mode 0600, and
//! nothing prints them.

pub(crate) mod cli;
mod watch;

pub use cli::{status_rows, EventsArgs, StatusArgs, StatusRow};
pub use watch::{publish_changes, Watcher};

use std::collections::{BTreeMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, Context, Result};
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

/// How long an install may go without progress before it counts as
/// failed, unless its profile's `install_timeout_minutes` says otherwise.
pub const DEFAULT_TIMEOUT_MINUTES: u64 = 60;

/// Events kept per system.
pub const KEEP_EVENTS: usize = 20;

/// A system's install state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// awl's DHCP answered one of its MACs (outside an install).
    Seen,
    /// A token was minted; nothing served since.
    Armed,
    /// Its boot script or boot config (install) was served.
    Booting,
    /// Its answer file was served.
    Installing,
    /// Its image was written and checked (the deploy environment's
    /// `status=written`): it boots from its disk, and its first boot
    /// (cloud-init's `phone_home`) reports the install done.
    #[serde(rename = "firstboot")]
    FirstBoot,
    /// Its installer called back.
    Installed,
    /// awl answered "boot from disk".
    Local,
    /// No progress within its timeout (only ever computed when read).
    Failed,
}

impl State {
    /// Every state, in the order of an install.
    pub const ALL: [Self; 8] = [
        Self::Seen,
        Self::Armed,
        Self::Booting,
        Self::Installing,
        Self::FirstBoot,
        Self::Installed,
        Self::Local,
        Self::Failed,
    ];

    /// Whether an install is under way (its timeout runs).
    pub fn under_way(self) -> bool {
        matches!(
            self,
            Self::Armed | Self::Booting | Self::Installing | Self::FirstBoot
        )
    }

    /// The state named `text` (as [`State::as_str`] writes it).
    pub fn parse(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|s| s.as_str()).collect();
                format!("{text}: not a state (one of {})", names.join(", "))
            })
    }

    /// Its name, as `awl status` prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Seen => "seen",
            Self::Armed => "armed",
            Self::Booting => "booting",
            Self::Installing => "installing",
            Self::FirstBoot => "firstboot",
            Self::Installed => "installed",
            Self::Local => "local",
            Self::Failed => "failed",
        }
    }
}

/// One thing that happened to a system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Unix seconds.
    pub at: u64,
    /// What, in a few words (never a token).
    pub what: String,
}

/// One system's install record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Its state as written.
    pub state: State,
    /// When it entered that state (unix seconds).
    pub since: u64,
    /// When its last install was reported done; cleared by re-arming.
    #[serde(default)]
    pub installed_at: Option<u64>,
    /// Its install token (hex), while one is armed; never printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Minutes without progress before `failed`.
    #[serde(default = "default_timeout")]
    pub timeout_minutes: u64,
    /// The same in seconds, when the profile gave a fraction of a minute
    /// (`install_timeout_minutes = 0.1`); wins over `timeout_minutes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    /// When its install was last armed (for the install-duration metric).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub armed_at: Option<u64>,
    /// The last [`KEEP_EVENTS`] events, oldest first.
    #[serde(default)]
    pub events: VecDeque<Event>,
}

fn default_timeout() -> u64 {
    DEFAULT_TIMEOUT_MINUTES
}

impl Record {
    fn new(now: u64) -> Self {
        Self {
            state: State::Local,
            since: now,
            installed_at: None,
            token: None,
            timeout_minutes: DEFAULT_TIMEOUT_MINUTES,
            timeout_seconds: None,
            armed_at: None,
            events: VecDeque::new(),
        }
    }

    /// Moves to `state` (its time kept only when it changes) and logs
    /// `what`.
    pub fn enter(&mut self, state: State, now: u64, what: impl Into<String>) {
        if self.state != state {
            self.state = state;
            self.since = now;
        }
        self.note(now, what);
    }

    /// Logs `what` without changing the state.
    pub fn note(&mut self, now: u64, what: impl Into<String>) {
        self.events.push_back(Event {
            at: now,
            what: what.into(),
        });
        while self.events.len() > KEEP_EVENTS {
            self.events.pop_front();
        }
    }

    /// The state as of `now`: `failed` for an install that made no
    /// progress within its timeout.
    pub fn effective(&self, now: u64) -> State {
        match self.fails_at() {
            Some(at) if now > at => State::Failed,
            _ => self.state,
        }
    }

    /// When an install under way counts as failed unless it makes
    /// progress first (unix seconds); `None` when none is under way.
    pub fn fails_at(&self) -> Option<u64> {
        let timeout = self
            .timeout_seconds
            .unwrap_or_else(|| self.timeout_minutes.saturating_mul(60));
        self.state
            .under_way()
            .then(|| self.since.saturating_add(timeout))
    }

    /// Sets the timeout from a profile's `install_timeout_minutes`
    /// (fractions allowed, at least one second).
    pub fn set_timeout(&mut self, minutes: f64) {
        let seconds = (minutes * 60.0).round().max(1.0) as u64;
        if seconds % 60 == 0 {
            self.timeout_minutes = seconds / 60;
            self.timeout_seconds = None;
        } else {
            self.timeout_minutes = seconds.div_ceil(60);
            self.timeout_seconds = Some(seconds);
        }
    }

    /// When it entered its state as the reader sees it: a failed
    /// install's time is when its timeout ran out.
    pub fn effective_since(&self, now: u64) -> u64 {
        match self.fails_at() {
            Some(at) if now > at => at,
            _ => self.since,
        }
    }

    /// Whether its last install was reported done (netboot once then
    /// boots from disk).
    pub fn installed(&self) -> bool {
        self.installed_at.is_some()
    }

    /// Whether its disk holds its install as of `now`: reported done, or
    /// an image written whose first boot has not yet timed out.
    pub fn disk_ready(&self, now: u64) -> bool {
        self.installed() || self.effective(now) == State::FirstBoot
    }

    /// Whether `token` is this record's armed token (constant time).
    pub fn token_matches(&self, token: &str) -> bool {
        self.token
            .as_deref()
            .is_some_and(|mine| constant_time_eq(mine.as_bytes(), token.as_bytes()))
    }

    /// A new token: the install armed again, its last report forgotten.
    pub fn arm(&mut self, now: u64, why: &str) -> Result<String> {
        let token = mint_token()?;
        self.token = Some(token.clone());
        self.installed_at = None;
        self.armed_at = Some(now);
        self.state = State::Armed;
        self.since = now;
        self.note(now, format!("armed ({why})"));
        Ok(token)
    }
}

/// Every system's record, by name.
pub type Installs = BTreeMap<String, Record>;

/// Equal bytes, in time that depends only on the lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// 128 random bits from the kernel, as 32 hex digits.
pub fn mint_token() -> Result<String> {
    let mut bytes = [0u8; 16];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("/dev/urandom")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Unix seconds now.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The state file (`DIR/installs`) and its lock (`DIR/installs.lock`).
#[derive(Debug, Clone)]
pub struct StateFile {
    dir: PathBuf,
    /// What this process last read or wrote, and the files' identity then.
    cache: Arc<Mutex<Option<Cached>>>,
}

#[derive(Debug)]
struct Cached {
    installs: Installs,
    id: FilesId,
}

/// The snapshot's identity (inode, size, modification time) and the
/// journal's size: a change by another process changes one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FilesId {
    snapshot: Option<(u64, u64, i64, i64)>,
    journal: u64,
}

/// One journal line: a system's record as it now is.
#[derive(Serialize, Deserialize)]
struct JournalLine {
    system: String,
    record: Record,
}

/// The journal is folded into the snapshot once it is larger than the
/// snapshot, and at least this large.
const COMPACT_FROM: u64 = 256 << 10;

impl StateFile {
    /// The state file in `dir` (created when first written).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            cache: Arc::new(Mutex::new(None)),
        }
    }

    /// The folder it is in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `DIR/installs`: the snapshot.
    pub fn path(&self) -> PathBuf {
        self.dir.join("installs")
    }

    /// `DIR/installs.journal`: records changed since the snapshot.
    pub fn journal_path(&self) -> PathBuf {
        self.dir.join("installs.journal")
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Option<Cached>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn files_id(&self) -> Result<FilesId> {
        use std::os::unix::fs::MetadataExt;
        let snapshot = match std::fs::metadata(self.path()) {
            Ok(m) => Some((m.ino(), m.size(), m.mtime(), m.mtime_nsec())),
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => {
                return Err(e).with_context(|| format!("{}: cannot read", self.path().display()))
            }
        };
        let journal = match std::fs::metadata(self.journal_path()) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == ErrorKind::NotFound => 0,
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("{}: cannot read", self.journal_path().display()))
            }
        };
        Ok(FilesId { snapshot, journal })
    }

    /// The snapshot with the journal replayed, and the length of the
    /// journal's whole lines; read again when a writer folded the journal
    /// in meanwhile (readers take no lock).
    fn read_files(&self) -> Result<(Installs, u64)> {
        let mut tries = 0;
        loop {
            let before = self.files_id()?;
            let read = self.read_files_once()?;
            tries += 1;
            if self.files_id()?.snapshot == before.snapshot || tries >= 5 {
                return Ok(read);
            }
        }
    }

    fn read_files_once(&self) -> Result<(Installs, u64)> {
        let mut installs = read(&self.path())?;
        let path = self.journal_path();
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).with_context(|| format!("{}: cannot read", path.display())),
        };
        // A last line without its end of line is a torn write: not read.
        // So is a last line that does not read (a power cut can keep its
        // end of line and lose a page before it); one before it is an
        // error.
        let mut whole = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let mut start = 0;
        let mut n = 0;
        while start < whole {
            let end = start
                + bytes[start..whole]
                    .iter()
                    .position(|&b| b == b'\n')
                    .unwrap_or(whole - start);
            let line = &bytes[start..end];
            n += 1;
            if !line.iter().all(u8::is_ascii_whitespace) {
                match serde_json::from_slice::<JournalLine>(line) {
                    Ok(entry) => {
                        installs.insert(entry.system, entry.record);
                    }
                    Err(_) if end + 1 >= whole => {
                        whole = start;
                        break;
                    }
                    Err(e) => {
                        return Err(e)
                            .with_context(|| format!("{}:{n}: not a journal line", path.display()))
                    }
                }
            }
            start = end + 1;
        }
        Ok((installs, whole as u64))
    }

    /// Every record; none when nothing was written yet.
    pub fn load(&self) -> Result<Installs> {
        let id = self.files_id()?;
        if let Some(cached) = self.cache().as_ref().filter(|c| c.id == id) {
            return Ok(cached.installs.clone());
        }
        Ok(self.read_files()?.0)
    }

    /// One system's record.
    pub fn get(&self, name: &str) -> Result<Option<Record>> {
        let id = self.files_id()?;
        if let Some(cached) = self.cache().as_ref().filter(|c| c.id == id) {
            return Ok(cached.installs.get(name).cloned());
        }
        Ok(self.read_files()?.0.remove(name))
    }

    /// Applies `edit` to `name`'s record (`None`: it has none; set it to
    /// make one) under the lock, and writes a change durably (synced before
    /// this returns); an `Err` from `edit` or from the write changes
    /// nothing.
    pub fn update<T>(
        &self,
        name: &str,
        edit: impl FnOnce(&mut Option<Record>) -> Result<T>,
    ) -> Result<T> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("{}: cannot create", self.dir.display()))?;
        let lock_path = self.dir.join("installs.lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .with_context(|| format!("{}: cannot open", lock_path.display()))?;
        let _lock = Flock::lock(lock, FlockArg::LockExclusive)
            .map_err(|(_, e)| anyhow!("{}: cannot lock: {e}", lock_path.display()))?;
        let mut cache = self.cache();
        let id = self.files_id()?;
        if cache.as_ref().is_none_or(|c| c.id != id) {
            *cache = None;
            let (installs, whole) = self.read_files()?;
            if whole < id.journal {
                self.cut_journal(whole)?;
            }
            *cache = Some(Cached {
                installs,
                id: self.files_id()?,
            });
        }
        let Some(cached) = cache.as_mut() else {
            return Err(anyhow!("{}: not read", self.path().display()));
        };
        let before = cached.installs.get(name).cloned();
        let mut slot = before.clone();
        let out = edit(&mut slot)?;
        if slot == before {
            return Ok(out);
        }
        let Some(record) = slot else {
            // Records are never removed.
            return Ok(out);
        };
        if let Err(e) = self.append(name, &record) {
            *cache = None; // what is on disk is read again
            return Err(e);
        }
        cached.installs.insert(name.to_string(), record);
        cached.id = self.files_id()?;
        let snapshot = cached.id.snapshot.map_or(0, |s| s.1);
        if cached.id.journal > snapshot.max(COMPACT_FROM) {
            // The record is safe in the journal: a snapshot that cannot be
            // written now is tried again at the next write.
            match self
                .write(&cached.installs)
                .and_then(|()| self.cut_journal(0))
            {
                Ok(()) => cached.id = self.files_id()?,
                Err(e) => {
                    tracing::warn!("lifecycle: {e:#}");
                    *cache = None;
                }
            }
        }
        Ok(out)
    }

    /// Appends `name`'s record to the journal, synced.
    fn append(&self, name: &str, record: &Record) -> Result<()> {
        let path = self.journal_path();
        let mut line = serde_json::to_vec(&JournalLine {
            system: name.to_string(),
            record: record.clone(),
        })?;
        line.push(b'\n');
        let new = !path.exists();
        (|| -> std::io::Result<()> {
            let mut file = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(&path)?;
            file.write_all(&line)?;
            file.sync_data()?;
            if new {
                File::open(&self.dir)?.sync_all()?;
            }
            Ok(())
        })()
        .with_context(|| format!("{}: cannot write", path.display()))
    }

    /// Cuts the journal to `len` bytes (a torn last line; or 0 once folded
    /// into the snapshot), synced.
    fn cut_journal(&self, len: u64) -> Result<()> {
        let path = self.journal_path();
        (|| -> std::io::Result<()> {
            let file = OpenOptions::new().write(true).open(&path)?;
            file.set_len(len)?;
            file.sync_all()
        })()
        .with_context(|| format!("{}: cannot cut", path.display()))
    }

    fn write(&self, installs: &Installs) -> Result<()> {
        let path = self.path();
        let temp = self.dir.join(".installs.tmp");
        let text = serde_json::to_vec_pretty(installs)?;
        let result = (|| -> std::io::Result<()> {
            let mut file = OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .mode(0o600)
                .open(&temp)?;
            file.write_all(&text)?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            std::fs::rename(&temp, &path)?;
            File::open(&self.dir)?.sync_all()
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&temp);
            return Err(e).with_context(|| format!("{}: cannot write", path.display()));
        }
        Ok(())
    }
}

fn read(path: &Path) -> Result<Installs> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("{}: not a state file", path.display())),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(Installs::new()),
        Err(e) => Err(e).with_context(|| format!("{}: cannot read", path.display())),
    }
}

/// Follows awl's DHCP answers on `events` (on a thread of its own, so
/// DHCP never waits for the state file): an answer to a system's MAC is
/// noted in its events, and marks it `seen` unless an install is under way.
pub fn watch_dhcp(
    events: &crate::events::Events,
    cache: Arc<crate::inventory::store::InventoryCache>,
    states: StateFile,
) -> std::io::Result<()> {
    use crate::events::{DhcpKind, Event as Happened};
    let (_, mut receiver) = events.subscribe();
    std::thread::Builder::new()
        .name("awl-lifecycle".into())
        .spawn(move || loop {
            let event = match receiver.blocking_recv() {
                Ok(event) => event,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            let Happened::Dhcp {
                mac: Some(mac),
                ip,
                kind,
                ..
            } = event
            else {
                continue;
            };
            let what = match kind {
                DhcpKind::Offer | DhcpKind::ProxyOffer => "offer",
                DhcpKind::Ack | DhcpKind::BootAck => "ack",
                _ => continue,
            };
            let inventory = cache.get();
            let Some((system, _)) = inventory.system_by_mac(mac.0) else {
                continue;
            };
            let what = match ip {
                Some(ip) => format!("dhcp: {what} {ip}"),
                None => format!("dhcp: {what}"),
            };
            let now = now();
            let noted = states.update(&system.name, |slot| {
                let record = record(slot, now);
                match record.state {
                    state if state.under_way() => record.note(now, what),
                    _ => record.enter(State::Seen, now, what),
                }
                Ok(())
            });
            if let Err(e) = noted {
                tracing::warn!("lifecycle: system {}: {e:#}", system.name);
            }
        })
        .map(drop)
}

/// The record in `slot`, made when missing.
pub fn record(slot: &mut Option<Record>, now: u64) -> &mut Record {
    slot.get_or_insert_with(|| Record::new(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("awl-lifecycle-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn tokens_are_random_and_compared_whole() {
        let (a, b) = (mint_token().unwrap(), mint_token().unwrap());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(constant_time_eq(a.as_bytes(), a.as_bytes()));
        assert!(!constant_time_eq(a.as_bytes(), b.as_bytes()));
        assert!(!constant_time_eq(a.as_bytes(), &a.as_bytes()[..31]));
    }

    #[test]
    fn a_written_image_boots_from_disk_until_its_first_boot_times_out() {
        let mut r = Record::new(100);
        r.arm(100, "test").unwrap();
        r.set_timeout(1.0);
        r.enter(State::Installing, 110, "answer file served");
        assert!(!r.disk_ready(110));
        r.enter(State::FirstBoot, 120, "written");
        assert!(r.token.is_some(), "its first boot still needs the token");
        assert!(r.disk_ready(120 + 60));
        assert_eq!(r.effective(120 + 61), State::Failed);
        assert!(
            !r.disk_ready(120 + 61),
            "a first boot that never reported installs again"
        );
        r.installed_at = Some(130);
        r.enter(State::Installed, 130, "done");
        assert!(r.disk_ready(10_000));
        assert_eq!(State::ALL.len(), 8);
        assert_eq!(
            serde_json::to_string(&State::FirstBoot).unwrap(),
            "\"firstboot\""
        );
    }

    #[test]
    fn updates_are_durable_and_events_bounded() {
        let dir = temp("update");
        let file = StateFile::new(&dir);
        assert!(file.load().unwrap().is_empty());
        let token = file
            .update("web1", |slot| record(slot, 100).arm(100, "test"))
            .unwrap();
        for i in 0..30 {
            file.update("web1", |slot| {
                record(slot, 0).note(200 + i, "x");
                Ok(())
            })
            .unwrap();
        }
        let all = file.load().unwrap();
        let web1 = &all["web1"];
        assert!(web1.token_matches(&token));
        assert_eq!(web1.events.len(), KEEP_EVENTS);
        assert_eq!(web1.state, State::Armed);
        assert_eq!(web1.effective(100 + 3600), State::Armed);
        assert_eq!(web1.effective(100 + 3601), State::Failed);
        // A refused edit changes nothing.
        let refused: Result<()> = file.update("web1", |slot| {
            *slot = None;
            Err(anyhow!("no"))
        });
        assert!(refused.is_err());
        assert_eq!(file.load().unwrap(), all);
        // Another process (a StateFile of its own) reads the same.
        assert_eq!(StateFile::new(&dir).load().unwrap(), all);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_journal_survives_a_torn_write_and_folds_into_the_snapshot() {
        let dir = temp("journal");
        let file = StateFile::new(&dir);
        file.update("a", |slot| {
            record(slot, 1).note(1, "one");
            Ok(())
        })
        .unwrap();
        // A write cut off by a kill: half a line, no end of line.
        let mut journal = OpenOptions::new()
            .append(true)
            .open(file.journal_path())
            .unwrap();
        journal.write_all(br#"{"system":"b","rec"#).unwrap();
        drop(journal);
        let other = StateFile::new(&dir);
        let seen = other.load().unwrap();
        assert_eq!(seen.len(), 1, "the torn line is not read");
        // The next writer cuts it, and its own line reads.
        other
            .update("c", |slot| {
                record(slot, 2).note(2, "two");
                Ok(())
            })
            .unwrap();
        let all = StateFile::new(&dir).load().unwrap();
        assert_eq!(all.keys().collect::<Vec<_>>(), ["a", "c"]);
        // A last line that does not read (a page lost to a power cut) is
        // torn too, and cut by the next writer.
        let mut journal = OpenOptions::new()
            .append(true)
            .open(file.journal_path())
            .unwrap();
        journal.write_all(b"\0\0\0\0\n").unwrap();
        drop(journal);
        assert_eq!(StateFile::new(&dir).load().unwrap().len(), 2);
        other
            .update("c", |slot| {
                record(slot, 3).note(3, "three");
                Ok(())
            })
            .unwrap();
        let bytes = std::fs::read(file.journal_path()).unwrap();
        assert!(!bytes.contains(&0), "the bad line was cut");
        // The first process sees the other's write.
        assert_eq!(file.get("c").unwrap().unwrap().events[1].what, "three");
        // Many writes: the journal is folded into the snapshot, nothing lost.
        for i in 0..4000u64 {
            file.update(&format!("m{}", i % 500), |slot| {
                record(slot, i).note(i, format!("event {i}"));
                Ok(())
            })
            .unwrap();
        }
        let snapshot = std::fs::metadata(file.path()).unwrap().len();
        let journal = std::fs::metadata(file.journal_path()).unwrap().len();
        assert!(
            snapshot > 0 && journal <= snapshot.max(COMPACT_FROM) + 4096,
            "{snapshot} {journal}"
        );
        let all = StateFile::new(&dir).load().unwrap();
        assert_eq!(all.len(), 502);
        assert_eq!(all["m499"].events.back().unwrap().what, "event 3999");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
