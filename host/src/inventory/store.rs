//! Where the inventory is kept: behind [`Store`], so a shared database can
//! stand in for the file later, and [`FileStore`], the file.
//!
//! The file store's guarantees:
//!
//! * **Atomic writes.** A new version is written to a temporary file in
//!   the same folder, synced, renamed over the old one, and the folder is
//!   synced: a reader, a crash or `kill -9` sees the old file or the new
//!   one, never a mix. A full disk fails the edit and leaves the old file.
//! * **Edits serialise.** An edit holds an exclusive `flock` on
//!   `FILE.lock` beside the inventory from its read to its rename, so two
//!   concurrent edits (two `awl system add`) both survive.
//! * **Every edit is checked.** What an edit would write is read back and
//!   checked first; an edit that would leave the inventory invalid is
//!   refused with every reason, and the file is not touched.
//! * **Cheap freshness.** [`InventoryCache`] re-reads the file only when
//!   its identity (device, inode, size, modification and change times)
//!   changed: one `stat` per request.
//!
//! Readers take no lock: the rename makes every version whole.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, Context, Result};
use nix::fcntl::{Flock, FlockArg};

use super::check::{CheckContext, Problem, Problems};
use super::file;
use super::model::Source;
use super::model::{Inventory, System};
use super::{append, digest, splice};

/// Changes whenever the stored inventory may have changed. Opaque: only
/// compare two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Generation(pub [u64; 5]);

/// What a cache keeps beside the version it holds, so that its store can
/// read the next version as a change to that one ([`Store::read_changed`]):
/// the file store keeps the text (some 2.6 MB at 10,000 systems). Opaque
/// to the cache.
#[derive(Debug, Default)]
pub struct Held(Option<String>);

/// Why an edit was refused: what it would write has these problems (the
/// error of [`Store::update`] and [`Store::add_system`], to downcast to).
#[derive(Debug)]
pub struct Invalid(pub Problems);

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refused, the inventory would not be valid:\n{}", self.0)
    }
}

impl std::error::Error for Invalid {}

/// Somewhere an inventory is kept.
pub trait Store: Send + Sync {
    /// The inventory, or every problem with it. An inventory that does
    /// not exist yet is an empty one.
    fn load(&self) -> Result<Inventory, Problems>;

    /// The inventory and the generation it is, read together.
    fn load_versioned(&self) -> (Generation, Result<Inventory, Problems>) {
        let generation = self.generation().unwrap_or_default();
        (generation, self.load())
    }

    /// Read, `edit`, check, write, with no other edit in between. An error
    /// from `edit`, or a result that is not valid, leaves the store as it
    /// was. Returns what was written.
    fn update(&self, edit: &mut dyn FnMut(&mut Inventory) -> Result<()>) -> Result<Inventory>;

    /// Adds the system `make` returns for the inventory as it is, with no
    /// other edit in between; checked as [`Store::update`] checks. `make`
    /// may be shown an inventory whose systems lack their variables,
    /// secrets and kernel arguments (all it needs to refuse a name that is
    /// taken). The file store appends it ([`append`]): milliseconds at
    /// 10,000 systems where a whole edit takes a few hundred.
    fn add_system(&self, make: &mut dyn FnMut(&Inventory) -> Result<System>) -> Result<()> {
        self.update(&mut |inventory| {
            inventory.systems.push(make(inventory)?);
            Ok(())
        })
        .map(drop)
    }

    /// Changes system `name` into what `change` makes of it (`None`:
    /// removes it), with no other edit in between; checked as
    /// [`Store::update`] checks ("no system is named" when there is none).
    /// The file store rewrites only that system's lines when it can
    /// ([`splice::splice_system`]).
    fn replace_system(
        &self,
        name: &str,
        change: &mut dyn FnMut(System) -> Result<Option<System>>,
    ) -> Result<()> {
        self.update(&mut |inventory| replace_in(inventory, name, change))
            .map(drop)
    }

    /// [`Store::load_versioned`], also leaving in `held` what
    /// [`Store::read_changed`] needs to read the next version cheaply.
    fn load_held(&self, held: &mut Held) -> (Generation, Result<Inventory, Problems>) {
        *held = Held::default();
        self.load_versioned()
    }

    /// When the store now holds `current` with a few entries changed
    /// (entries appended, or some systems edited, removed or added among
    /// the others), applies that to `current`, updates `held` (what
    /// [`Store::load_held`] or the last call left) and returns the
    /// generation read; otherwise `None`, and `current` is as it was.
    fn read_changed(&self, current: &mut Inventory, held: &mut Held) -> Option<Generation> {
        let _ = (current, held);
        None
    }

    /// The current generation; cheap (no read of the inventory).
    fn generation(&self) -> std::io::Result<Generation>;

    /// Whether the inventory may have changed since `since` (when the
    /// store cannot tell, it says yes).
    fn changed(&self, since: Generation) -> bool {
        !self.generation().is_ok_and(|now| now == since)
    }

    /// What to call it in messages (the file's path).
    fn describe(&self) -> String;
}

/// [`Store::replace_system`] on an inventory in memory.
fn replace_in(
    inventory: &mut Inventory,
    name: &str,
    change: &mut dyn FnMut(System) -> Result<Option<System>>,
) -> Result<()> {
    let index = inventory
        .systems
        .iter()
        .position(|s| s.name == name)
        .ok_or_else(|| anyhow!("no system is named {name}"))?;
    let old = inventory.systems.remove(index);
    if let Some(new) = change(old)? {
        inventory.systems.insert(index, new);
    }
    Ok(())
}

/// The inventory in one TOML file.
#[derive(Debug, Clone)]
pub struct FileStore {
    path: PathBuf,
}

impl FileStore {
    /// The inventory at `path` (which need not exist yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The lock file edits hold: `FILE.lock`.
    pub fn lock_path(&self) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        self.path.with_file_name(name)
    }

    fn temp_path(&self) -> PathBuf {
        let mut name = std::ffi::OsString::from(".");
        name.push(self.path.file_name().unwrap_or_default());
        name.push(".tmp");
        self.path.with_file_name(name)
    }

    fn dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// The file's text and identity; `None` when there is no file.
    fn read(&self) -> std::io::Result<Option<(String, std::fs::Metadata)>> {
        let mut f = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let meta = f.metadata()?;
        let mut text = String::new();
        f.read_to_string(&mut text)?;
        Ok(Some((text, meta)))
    }

    fn parse(
        &self,
        read: std::io::Result<Option<(String, std::fs::Metadata)>>,
        ctx: &CheckContext<'_>,
    ) -> Result<Inventory, Problems> {
        match read {
            Ok(Some((text, _))) => file::parse_with(&text, Some(&self.path), ctx),
            Ok(None) => Ok(Inventory {
                path: Some(self.path.clone()),
                ..Inventory::default()
            }),
            Err(e) => Err(Problems::file(&self.path, format!("cannot read: {e}"))),
        }
    }

    /// Reads and checks in `ctx` (served subnets, files root, templates):
    /// every problem. A missing file is a problem here.
    pub fn check(&self, ctx: &CheckContext<'_>) -> Result<Inventory, Problems> {
        match self.read() {
            Ok(None) => Err(Problems::file(&self.path, "no such file")),
            read => self.parse(read, ctx),
        }
    }

    /// Writes `text` in place of the file, atomically (see the module
    /// docs); keeps the old file's permissions and owner (a new file is
    /// readable by its owner only: it may hold secrets).
    fn write(&self, text: &str, old: Option<&std::fs::Metadata>) -> Result<()> {
        let dir = self.dir();
        let temp = self.temp_path();
        let _ = std::fs::remove_file(&temp); // left by an edit that was killed
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)
            .with_context(|| format!("{}: cannot create", temp.display()))?;
        let written = (|| -> std::io::Result<()> {
            if let Some(old) = old {
                f.set_permissions(std::fs::Permissions::from_mode(old.mode() & 0o7777))?;
                // Only root may give a file away; anyone else keeps theirs.
                let _ = std::os::unix::fs::fchown(&f, Some(old.uid()), Some(old.gid()));
            }
            f.write_all(text.as_bytes())?;
            f.sync_all()
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temp);
            return Err(anyhow!(
                "{}: cannot write: {e} (the inventory is unchanged)",
                self.path.display()
            ));
        }
        drop(f);
        if let Err(e) = std::fs::rename(&temp, &self.path) {
            let _ = std::fs::remove_file(&temp);
            return Err(anyhow!(
                "{}: cannot replace: {e} (the inventory is unchanged)",
                self.path.display()
            ));
        }
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("{}: cannot sync the folder", dir.display()))
    }
    /// The lock every edit holds from its read to its rename.
    fn lock(&self) -> Result<Flock<File>> {
        let dir = self.dir();
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("{}: cannot create", dir.display()))?;
        let lock_path = self.lock_path();
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .with_context(|| format!("{}: cannot open", lock_path.display()))?;
        Flock::lock(lock, FlockArg::LockExclusive)
            .map_err(|(_, e)| anyhow!("{}: cannot lock: {e}", lock_path.display()))
    }

    /// The text and identity an edit starts from (none: no file yet).
    fn read_for_edit(&self) -> Result<Option<(String, std::fs::Metadata)>> {
        self.read()
            .with_context(|| format!("{}: cannot read", self.path.display()))
    }

    /// [`Store::update`] under the lock, from what [`FileStore::read_for_edit`] read.
    fn update_locked(
        &self,
        old: Option<(String, std::fs::Metadata)>,
        edit: &mut dyn FnMut(&mut Inventory) -> Result<()>,
    ) -> Result<Inventory> {
        let (old_text, old_meta) = match old {
            Some((text, meta)) => (Some(text), Some(meta)),
            None => (None, None),
        };
        let mut inventory = match &old_text {
            Some(text) => file::parse(text, Some(&self.path)).map_err(|p| {
                anyhow!(
                    "{} has problems; fix them first (awl inventory check):\n{p}",
                    self.path.display()
                )
            })?,
            None => Inventory {
                path: Some(self.path.clone()),
                ..Inventory::default()
            },
        };
        let before = old_text.as_ref().map(|_| inventory.clone());
        edit(&mut inventory)?;
        // Only the entries that changed, where that reads back as the
        // edit made it: the rest of the file (its comments) keeps its bytes.
        let path = Some(self.path.as_path());
        let spliced = old_text
            .as_deref()
            .zip(before.as_ref())
            .and_then(|(text, before)| splice::rewrite_entries(text, before, &inventory))
            .and_then(|text| {
                let read = file::parse(&text, path).ok()?;
                (read == inventory).then_some((text, read))
            });
        let (text, written) = match spliced {
            Some(done) => done,
            None => {
                let text = file::to_toml(&inventory)?;
                let written = file::parse(&text, path).map_err(|p| {
                    // Lines would point into a file that is never written.
                    Invalid(Problems(
                        p.0.into_iter()
                            .map(|q| Problem { pos: None, ..q })
                            .collect(),
                    ))
                })?;
                (text, written)
            }
        };
        if old_text.as_deref() != Some(text.as_str()) {
            self.write(&text, old_meta.as_ref())?;
        }
        self.write_digest(&written);
        Ok(written)
    }

    /// The digest beside the file: `.FILE.digest` (see [`append`]).
    pub fn digest_path(&self) -> PathBuf {
        let mut name = std::ffi::OsString::from(".");
        name.push(self.path.file_name().unwrap_or_default());
        name.push(".digest");
        self.path.with_file_name(name)
    }

    /// The digest's inventory and its bytes up to the end of its body,
    /// when there is a usable one (whether it describes the current file
    /// is for the caller to see).
    fn read_digest(&self) -> Option<(Inventory, Vec<u8>)> {
        let mut bytes = std::fs::read(self.digest_path()).ok()?;
        let (inventory, end) = digest::read(&bytes, &self.path)?;
        bytes.truncate(end);
        Some((inventory, bytes))
    }

    /// Leaves the digest of `written` (just written) beside the file. Best
    /// effort: a digest that could not be written, or describes another
    /// version, is not used; the file is what counts, so nothing is synced.
    fn write_digest(&self, written: &Inventory) {
        let path = self.digest_path();
        let Some(text) = digest::text(written) else {
            let _ = std::fs::remove_file(&path);
            return;
        };
        let mut temp = path.clone().into_os_string();
        temp.push(".tmp");
        let temp = PathBuf::from(temp);
        let done = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temp)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .and_then(|()| std::fs::rename(&temp, &path));
        if done.is_err() {
            let _ = std::fs::remove_file(&temp);
            let _ = std::fs::remove_file(&path);
        }
    }

    /// After an append: the digest `old` (header and body, as read) gets
    /// the lines of `all`'s systems from `from` on, then a header for
    /// `all` (in that order: see [`digest`]).
    fn append_digest(&self, old: &[u8], all: &Inventory, from: usize) {
        let path = self.digest_path();
        let done = (|| -> std::io::Result<()> {
            let source = all.source.as_ref().ok_or(ErrorKind::InvalidData)?;
            let lines = digest::lines(all.systems.get(from..).unwrap_or_default());
            let mut body = old.get(digest::HEADER_LEN..).unwrap_or_default().to_vec();
            body.extend_from_slice(lines.as_bytes());
            let f = OpenOptions::new().write(true).open(&path)?;
            f.write_all_at(lines.as_bytes(), old.len() as u64)?;
            f.write_all_at(digest::header(source, &body).as_bytes(), 0)
        })();
        if done.is_err() {
            let _ = std::fs::remove_file(&path);
        }
    }
}

impl Store for FileStore {
    fn load(&self) -> Result<Inventory, Problems> {
        self.parse(self.read(), &CheckContext::default())
    }

    fn load_held(&self, held: &mut Held) -> (Generation, Result<Inventory, Problems>) {
        *held = Held::default();
        match self.read() {
            Ok(Some((text, meta))) => {
                let loaded = file::parse_with(&text, Some(&self.path), &CheckContext::default());
                if loaded.as_ref().is_ok_and(|i| i.source.is_some()) {
                    held.0 = Some(text);
                }
                (generation_of(&meta), loaded)
            }
            read => (
                Generation::default(),
                self.parse(read, &CheckContext::default()),
            ),
        }
    }

    fn read_changed(&self, current: &mut Inventory, held: &mut Held) -> Option<Generation> {
        current.source.as_ref()?;
        let (text, meta) = self.read().ok()??;
        let ctx = CheckContext::default();
        let path = Some(self.path.as_path());
        let read = append::read_appended(current, &text, path, &ctx)
            || held
                .0
                .as_deref()
                .is_some_and(|old| splice::read_changed_systems(current, old, &text, path, &ctx));
        if !read {
            return None;
        }
        held.0 = current.source.is_some().then_some(text);
        Some(generation_of(&meta))
    }

    fn load_versioned(&self) -> (Generation, Result<Inventory, Problems>) {
        let read = self.read();
        let generation = match &read {
            Ok(Some((_, meta))) => generation_of(meta),
            _ => Generation::default(),
        };
        (generation, self.parse(read, &CheckContext::default()))
    }

    fn update(&self, edit: &mut dyn FnMut(&mut Inventory) -> Result<()>) -> Result<Inventory> {
        let _lock = self.lock()?;
        let old = self.read_for_edit()?;
        self.update_locked(old, edit)
    }

    fn add_system(&self, make: &mut dyn FnMut(&Inventory) -> Result<System>) -> Result<()> {
        let _lock = self.lock()?;
        let old = self.read_for_edit()?;
        if let (Some((text, meta)), Some((base, digest_bytes))) = (&old, self.read_digest()) {
            match make(&base) {
                Ok(system) => {
                    // read_appended sees whether the digest describes the
                    // text the system is appended to.
                    let new_text = format!("{text}\n{}", file::entry_toml("system", &system)?);
                    let ctx = CheckContext::default();
                    let path = Some(self.path.as_path());
                    let had = base.systems.len();
                    let mut all = base;
                    if append::read_appended(&mut all, &new_text, path, &ctx) {
                        self.write(&new_text, Some(meta))?;
                        self.append_digest(&digest_bytes, &all, had);
                        return Ok(());
                    }
                    // A problem, or an old digest: the slow way below
                    // names every problem with its line.
                }
                Err(e) if base.source == Source::of(text) => return Err(e),
                Err(_) => {} // an old digest: ask the file itself
            }
        }
        self.update_locked(old, &mut |inventory| {
            inventory.systems.push(make(inventory)?);
            Ok(())
        })
        .map(drop)
    }

    fn replace_system(
        &self,
        name: &str,
        change: &mut dyn FnMut(System) -> Result<Option<System>>,
    ) -> Result<()> {
        let _lock = self.lock()?;
        let old = self.read_for_edit()?;
        if let (Some((text, meta)), Some((mut base, _))) = (&old, self.read_digest()) {
            let ctx = CheckContext::default();
            let path = Some(self.path.as_path());
            match splice::splice_system(&mut base, text, name, change, path, &ctx) {
                Some(Ok(new_text)) => {
                    self.write(&new_text, Some(meta))?;
                    self.write_digest(&base);
                    return Ok(());
                }
                Some(Err(e)) => return Err(e),
                // A problem (the slow way names it with its line), an old
                // digest, or a file laid out otherwise.
                None => {}
            }
        }
        self.update_locked(old, &mut |inventory| replace_in(inventory, name, change))
            .map(drop)
    }

    fn generation(&self) -> std::io::Result<Generation> {
        match std::fs::metadata(&self.path) {
            Ok(meta) => Ok(generation_of(&meta)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Generation::default()),
            Err(e) => Err(e),
        }
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

fn generation_of(meta: &std::fs::Metadata) -> Generation {
    let nanos = |s: i64, ns: i64| {
        (s as u64)
            .wrapping_mul(1_000_000_000)
            .wrapping_add(ns as u64)
    };
    Generation([
        meta.dev(),
        meta.ino(),
        meta.size(),
        nanos(meta.mtime(), meta.mtime_nsec()),
        nanos(meta.ctime(), meta.ctime_nsec()),
    ])
}

/// The inventory as a running server sees it: re-read only when the
/// store's generation changed, shared as an `Arc` that stays valid while a
/// request uses it. When a new version has problems (a typo in a hand
/// edit), the last valid inventory stays in use, the problems are logged
/// once and kept for [`InventoryCache::problems`].
pub struct InventoryCache<S: Store = FileStore> {
    store: S,
    state: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    generation: Option<Generation>,
    inventory: Arc<Inventory>,
    /// What the store keeps of `inventory`'s version.
    held: Held,
    problems: Option<Arc<Problems>>,
}

impl<S: Store> InventoryCache<S> {
    /// A cache over `store`; nothing is read until [`InventoryCache::get`].
    pub fn new(store: S) -> Self {
        Self {
            store,
            state: Mutex::new(CacheState::default()),
        }
    }

    /// A cache over `store` that already holds `inventory`, read as
    /// `generation` (with `held`, from [`Store::load_held`]).
    pub fn holding(store: S, generation: Generation, inventory: Inventory, held: Held) -> Self {
        Self {
            store,
            state: Mutex::new(CacheState {
                generation: Some(generation),
                inventory: Arc::new(inventory),
                held,
                problems: None,
            }),
        }
    }

    /// The store (for edits).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The current inventory (the last valid one).
    pub fn get(&self) -> Arc<Inventory> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = match self.store.generation() {
            Ok(g) => g,
            Err(e) => {
                tracing::warn!("inventory {}: {e}", self.store.describe());
                return state.inventory.clone();
            }
        };
        if state.generation != Some(now) {
            // Only what an add appended or an edit changed, when that is
            // all: in place, unless requests still hold this version.
            if state.inventory.source.is_some() {
                let CacheState {
                    inventory, held, ..
                } = &mut *state;
                let generation = self.store.read_changed(Arc::make_mut(inventory), held);
                if generation.is_some() {
                    state.generation = generation;
                    state.problems = None;
                    return state.inventory.clone();
                }
            }
            let mut held = Held::default();
            let (generation, loaded) = self.store.load_held(&mut held);
            state.generation = Some(generation);
            match loaded {
                Ok(inventory) => {
                    state.inventory = Arc::new(inventory);
                    state.held = held;
                    state.problems = None;
                }
                Err(problems) => {
                    tracing::warn!(
                        "inventory {} has problems, still using the last valid one:\n{problems}",
                        self.store.describe()
                    );
                    state.problems = Some(Arc::new(problems));
                }
            }
        }
        state.inventory.clone()
    }

    /// The problems of the newest version, when it could not be used.
    pub fn problems(&self) -> Option<Arc<Problems>> {
        self.get();
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.problems.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::model::{Interface, System};

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("awl-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn reservation(name: &str, last: u8) -> System {
        System {
            name: name.into(),
            profile: None,
            netboot: None,
            uuid: None,
            boot_file: None,
            kernel_args: String::new(),
            interfaces: vec![Interface {
                mac: crate::inventory::Mac([0x52, 0x54, 0, 0, 0, last]),
                ip: None,
                hostname: None,
            }],
            vars: Default::default(),
            secrets: Default::default(),
            place: Default::default(),
        }
    }

    #[test]
    fn edits_are_written_checked_and_seen_by_the_cache() {
        let dir = temp("edits");
        let store = FileStore::new(dir.join("inventory.toml"));
        let cache = InventoryCache::new(store.clone());
        assert!(cache.get().systems.is_empty());
        store
            .update(&mut |inv| {
                inv.systems.push(reservation("a", 1));
                Ok(())
            })
            .unwrap();
        let seen = cache.get();
        assert_eq!(seen.systems.len(), 1);
        let now = store.generation().unwrap();
        assert!(!store.changed(now));
        // Nothing changed: the same Arc, no re-read.
        assert!(Arc::ptr_eq(&seen, &cache.get()));
        // A refused edit leaves the file as it was.
        let before = std::fs::read(store.path()).unwrap();
        let e = store
            .update(&mut |inv| {
                inv.systems.push(reservation("b", 1));
                Ok(())
            })
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("system[b].interface[0].mac: 52:54:00:00:00:01 is also system a's"),
            "{e}"
        );
        assert_eq!(std::fs::read(store.path()).unwrap(), before);
        // A broken hand edit: the cache keeps the last valid inventory.
        std::fs::write(store.path(), "[[system]]\nname = 1\n").unwrap();
        assert!(store.changed(now));
        assert_eq!(cache.get().systems.len(), 1);
        assert!(cache.problems().is_some());
        // And edits refuse to build on it.
        let e = store.update(&mut |_| Ok(())).unwrap_err().to_string();
        assert!(e.contains("fix them first"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_append_is_read_alone_by_the_cache_and_by_the_next_add() {
        let dir = temp("append");
        let store = FileStore::new(dir.join("inventory.toml"));
        let cache = InventoryCache::new(store.clone());
        let mut a = reservation("a", 1);
        a.secrets
            .insert("k".into(), toml::Value::String("v".into()));
        store
            .update(&mut |inv| {
                inv.systems.push(a.clone());
                Ok(())
            })
            .unwrap();
        assert_eq!(cache.get().systems, [a.clone()]);
        let held = Arc::as_ptr(&cache.get());
        // The add sees the digest's inventory: a's secrets are not there.
        let mut seen = None;
        store
            .add_system(&mut |inv| {
                seen = Some(inv.systems.clone());
                Ok(reservation("b", 2))
            })
            .unwrap();
        let seen = seen.unwrap();
        assert_eq!(seen.len(), 1);
        assert!(seen[0].secrets.is_empty());
        // The cache builds on what it holds, in place (no request holds
        // it): the same allocation, and a keeps its secrets.
        let now = cache.get();
        assert_eq!(Arc::as_ptr(&now), held, "read only the tail, in place");
        assert_eq!(now.systems, [a, reservation("b", 2)]);
        let whole = file::parse(&std::fs::read_to_string(store.path()).unwrap(), None).unwrap();
        assert_eq!(*now, whole);
        assert_eq!(now.source, whole.source);
        // A refused add names the problem, leaves the file.
        let before = std::fs::read(store.path()).unwrap();
        let e = store
            .add_system(&mut |_| Ok(reservation("c", 2)))
            .unwrap_err()
            .to_string();
        assert!(e.contains("is also system b's"), "{e}");
        assert_eq!(std::fs::read(store.path()).unwrap(), before);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_edit_or_removal_is_read_alone_by_the_cache() {
        let dir = temp("edit");
        let store = FileStore::new(dir.join("inventory.toml"));
        for (name, last) in [("a", 1), ("b", 2), ("c", 3)] {
            store
                .add_system(&mut |_| Ok(reservation(name, last)))
                .unwrap();
        }
        // Loaded as `awl serve` loads it.
        let mut held = Held::default();
        let (generation, loaded) = store.load_held(&mut held);
        let cache = InventoryCache::holding(store.clone(), generation, loaded.unwrap(), held);
        let before = Arc::as_ptr(&cache.get());
        let whole = || file::parse(&std::fs::read_to_string(store.path()).unwrap(), None).unwrap();
        store
            .replace_system("b", &mut |mut s| {
                s.interfaces[0].ip = Some("10.0.0.9".parse().unwrap());
                Ok(Some(s))
            })
            .unwrap();
        let now = cache.get();
        assert_eq!(Arc::as_ptr(&now), before, "read only b's lines, in place");
        assert_eq!(*now, whole());
        assert_eq!(now.source, whole().source);
        drop(now);
        store.replace_system("a", &mut |_| Ok(None)).unwrap();
        let now = cache.get();
        assert_eq!(
            Arc::as_ptr(&now),
            before,
            "read the removal alone, in place"
        );
        assert_eq!(now.systems.len(), 2);
        assert_eq!(*now, whole());
        // A request still holding this version keeps it: the next one
        // is a copy with the change.
        let kept = now;
        store.add_system(&mut |_| Ok(reservation("d", 4))).unwrap();
        assert_eq!(cache.get().systems.len(), 3);
        assert_eq!(kept.systems.len(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A store in a new folder `tag`, holding system a.
    fn with_a(tag: &str) -> (PathBuf, FileStore) {
        let dir = temp(tag);
        let store = FileStore::new(dir.join("inventory.toml"));
        store
            .update(&mut |inv| {
                inv.systems.push(reservation("a", 1));
                Ok(())
            })
            .unwrap();
        (dir, store)
    }

    #[test]
    fn an_edit_that_does_not_read_back_the_same_writes_the_whole_file() {
        let (dir, store) = with_a("whole");
        // A comment kept by an edit of its own lines, and a NaN, which is
        // never equal to itself: the rewrite of a's lines does not read
        // back equal, so the edit writes the whole file (and still works).
        let text = std::fs::read_to_string(store.path()).unwrap();
        let hand = format!("# by hand\n{text}\n[system.vars]\nx = nan\n");
        std::fs::write(store.path(), &hand).unwrap();
        store
            .update(&mut |inv| {
                inv.systems[0].kernel_args = "quiet".into();
                Ok(())
            })
            .unwrap();
        let now = std::fs::read_to_string(store.path()).unwrap();
        assert!(now.contains("quiet") && now.contains("nan"), "{now}");
        assert!(
            !now.contains("# by hand"),
            "the whole file, as the writer writes it:\n{now}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_new_file_is_private_and_an_old_one_keeps_its_mode() {
        let (dir, store) = with_a("mode");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o777;
        assert_eq!(mode(store.path()), 0o600);
        std::fs::set_permissions(store.path(), std::fs::Permissions::from_mode(0o640)).unwrap();
        store
            .update(&mut |inv| {
                inv.systems.push(reservation("b", 2));
                Ok(())
            })
            .unwrap();
        assert_eq!(mode(store.path()), 0o640);
        assert!(!store.temp_path().exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
