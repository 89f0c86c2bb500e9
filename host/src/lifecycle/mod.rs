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
//! | `installed` | its installer called back with its token |
//! | `local` | awl answered "boot from disk" |
//! | `failed` | `booting`/`installing` for longer than its timeout (seen when read, never written) |
//!
//! Every write holds an exclusive `flock` on `installs.lock`, writes a
//! temporary file, `fsync`s it, renames it over `installs` and `fsync`s
//! the folder, so `awl serve` and `awl system reinstall` can both write and
//! a `kill -9` leaves the old or the new file whole. The file holds tokens:
//! it is created mode 0600, and nothing prints them.

mod cli;
mod watch;

pub use cli::{status_rows, EventsArgs, StatusArgs, StatusRow};
pub use watch::{publish_changes, Watcher};

use std::collections::{BTreeMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
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
    /// Its installer called back.
    Installed,
    /// awl answered "boot from disk".
    Local,
    /// No progress within its timeout (only ever computed when read).
    Failed,
}

impl State {
    /// Its name, as `awl status` prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Seen => "seen",
            Self::Armed => "armed",
            Self::Booting => "booting",
            Self::Installing => "installing",
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
        matches!(
            self.state,
            State::Armed | State::Booting | State::Installing
        )
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
}

impl StateFile {
    /// The state file in `dir` (created when first written).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The folder it is in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `DIR/installs`.
    pub fn path(&self) -> PathBuf {
        self.dir.join("installs")
    }

    /// Every record; none when the file does not exist yet.
    pub fn load(&self) -> Result<Installs> {
        read(&self.path())
    }

    /// Applies `edit` to the records under the lock and writes the result
    /// durably (synced before this returns); an `Err` from `edit` or from
    /// the write leaves the file as it was.
    pub fn update<T>(&self, edit: impl FnOnce(&mut Installs) -> Result<T>) -> Result<T> {
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
        let mut installs = self.load()?;
        let before = installs.clone();
        let out = edit(&mut installs)?;
        if installs != before {
            self.write(&installs)?;
        }
        Ok(out)
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
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Installs::new()),
        Err(e) => Err(e).with_context(|| format!("{}: cannot read", path.display())),
    }
}

/// Follows awl's DHCP answers on `events` (on a thread of its own, so
/// DHCP never waits for the state file): an answer to a system's MAC is
/// noted in its events, and marks it `seen` unless an install is under way.
pub fn watch_dhcp(
    events: &crate::events::Events,
    cache: std::sync::Arc<crate::inventory::store::InventoryCache>,
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
            let noted = states.update(|all| {
                let record = record(all, &system.name, now);
                match record.state {
                    State::Armed | State::Booting | State::Installing => record.note(now, what),
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

/// The record of `name`, made when missing.
pub fn record<'a>(installs: &'a mut Installs, name: &str, now: u64) -> &'a mut Record {
    installs
        .entry(name.to_string())
        .or_insert_with(|| Record::new(now))
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
    fn updates_are_durable_and_events_bounded() {
        let dir = temp("update");
        let file = StateFile::new(&dir);
        assert!(file.load().unwrap().is_empty());
        let token = file
            .update(|all| record(all, "web1", 100).arm(100, "test"))
            .unwrap();
        for i in 0..30 {
            file.update(|all| {
                record(all, "web1", 0).note(200 + i, "x");
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
        let refused: Result<()> = file.update(|all| {
            all.clear();
            Err(anyhow!("no"))
        });
        assert!(refused.is_err());
        assert_eq!(file.load().unwrap(), all);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
