//! Following the state file as it changes: whoever wrote it (`awl serve`,
//! `awl system reinstall` in another process), and installs that turn
//! `failed` by the clock alone (no write marks them). One [`Watcher`]
//! waits on inotify for the file's replacement, or for the next install
//! timeout to run out, whichever comes first; nothing is polled.

use std::collections::BTreeMap;
use std::os::fd::AsFd;

use anyhow::{Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use super::{now, Installs, State, StateFile};
use crate::events::{Event, Events};

/// Wakes when the state file is replaced, or when asked to by a deadline.
pub struct Watcher {
    states: StateFile,
    inotify: Inotify,
}

impl Watcher {
    /// Watches `states`' folder (made when missing).
    pub fn new(states: StateFile) -> Result<Self> {
        let dir = states.dir.clone();
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("{}: cannot create", dir.display()))?;
        let inotify =
            Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK).context("inotify")?;
        inotify
            .add_watch(
                &dir,
                AddWatchFlags::IN_MOVED_TO | AddWatchFlags::IN_CLOSE_WRITE,
            )
            .with_context(|| format!("{}: cannot watch", dir.display()))?;
        Ok(Self { states, inotify })
    }

    /// The records now.
    pub fn load(&self) -> Result<Installs> {
        self.states.load()
    }

    /// Waits until the state changed (the snapshot replaced, the journal
    /// written), or until unix second
    /// `until` (at most a minute); returns whether it was replaced.
    pub fn wait(&self, until: Option<u64>) -> bool {
        let seconds = until.map_or(60, |u| u.saturating_sub(now()).clamp(1, 60));
        let timeout = PollTimeout::try_from(seconds * 1000).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(self.inotify.as_fd(), PollFlags::POLLIN)];
        if !matches!(poll(&mut fds, timeout), Ok(n) if n > 0) {
            return false;
        }
        let mut replaced = false;
        while let Ok(events) = self.inotify.read_events() {
            if events.is_empty() {
                break;
            }
            replaced |= events.iter().any(|e| {
                e.name
                    .as_deref()
                    .is_some_and(|n| n == "installs" || n == "installs.journal")
            });
        }
        replaced
    }
}

/// What a reader sees of one system: its state (failed included), since
/// when, and its last event.
pub(super) type Seen = BTreeMap<String, (State, u64, String)>;

/// What `installs` shows as of `now`.
pub(super) fn seen(installs: &Installs, now: u64) -> Seen {
    installs
        .iter()
        .map(|(name, r)| {
            let state = r.effective(now);
            let what = match state {
                State::Failed if r.state != State::Failed => {
                    format!(
                        "no progress for {} s: failed",
                        r.fails_at().unwrap_or(0) - r.since
                    )
                }
                _ => r.events.back().map(|e| e.what.clone()).unwrap_or_default(),
            };
            (name.clone(), (state, r.effective_since(now), what))
        })
        .collect()
}

/// Follows the state file on a thread of its own and publishes each
/// system's change of state on `events` (an [`Event::Install`]; one that
/// reports an install done carries how long it took, for the metrics).
pub fn publish_changes(states: StateFile, events: Events) -> Result<()> {
    let watcher = Watcher::new(states)?;
    let first = watcher.load().unwrap_or_default();
    let mut last = seen(&first, now());
    std::thread::Builder::new()
        .name("awl-states".into())
        .spawn(move || loop {
            let installs = match watcher.load() {
                Ok(installs) => installs,
                Err(e) => {
                    tracing::warn!("lifecycle: {e:#}");
                    watcher.wait(None);
                    continue;
                }
            };
            let now = now();
            let current = seen(&installs, now);
            for (name, (state, since, what)) in &current {
                if last.get(name).map(|(s, t, _)| (s, t)) == Some((state, since)) {
                    continue;
                }
                let record = &installs[name];
                let took = match (state, record.armed_at, record.installed_at) {
                    (State::Installed, Some(armed), Some(done)) => Some(done.saturating_sub(armed)),
                    _ => None,
                };
                events.publish(Event::Install {
                    at: std::time::SystemTime::now(),
                    system: name.clone(),
                    state: state.as_str(),
                    took,
                    since: *since,
                    what: what.clone(),
                });
            }
            last = current;
            let next = installs
                .values()
                .filter_map(|r| r.fails_at().filter(|at| *at >= now))
                .min()
                .map(|at| at + 1);
            watcher.wait(next);
        })
        .context("lifecycle: thread")?;
    Ok(())
}
