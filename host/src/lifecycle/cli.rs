//! `awl status`: every system's install state, from the state file (safe
//! while `awl serve` writes it: every version is whole).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use serde::Serialize;

use std::collections::BTreeMap;

use super::{now, Installs, StateFile};

/// `awl status [SYSTEM...] [--state STATE...] [--json]`
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only these systems.
    pub systems: Vec<String>,
    /// Only systems in these states (repeatable, or comma-separated:
    /// --state failed,installing).
    #[arg(long, value_delimiter = ',', value_parser = super::State::parse)]
    pub state: Vec<super::State>,
    #[command(flatten)]
    pub folder: StateFolder,
    /// One JSON object per system, on one array.
    #[arg(long)]
    pub json: bool,
}

/// One system's state as `awl status --json` and `/api/v1/status` show
/// it.
#[derive(Debug, Serialize)]
pub struct StatusRow<'a> {
    /// The system.
    pub system: &'a str,
    /// Its state (`failed` included).
    pub state: &'static str,
    /// When it entered that state (unix seconds).
    pub since: u64,
    /// When its last install was reported done.
    pub installed_at: Option<u64>,
    /// Its last event's words.
    pub last_event: Option<&'a str>,
    /// Its last events, oldest first.
    pub events: Vec<&'a super::Event>,
}

/// Every record's row as of `now`, by name.
pub fn status_rows(installs: &Installs, now: u64) -> Vec<StatusRow<'_>> {
    installs
        .iter()
        .map(|(name, r)| StatusRow {
            system: name,
            state: r.effective(now).as_str(),
            since: r.effective_since(now),
            installed_at: r.installed_at,
            last_event: r.events.back().map(|e| e.what.as_str()),
            events: r.events.iter().collect(),
        })
        .collect()
}

impl StatusArgs {
    /// Prints the table (or JSON).
    pub fn run(self) -> Result<()> {
        let installs = StateFile::new(self.folder.dir()).load()?;
        let mut rows = status_rows(&installs, now());
        rows.retain(|r| {
            (self.systems.is_empty() || self.systems.iter().any(|s| s == r.system))
                && (self.state.is_empty() || self.state.iter().any(|s| s.as_str() == r.state))
        });
        if self.json {
            println!("{}", serde_json::to_string_pretty(&rows)?);
            return Ok(());
        }
        println!(
            "{:<20} {:<11} {:<20} LAST EVENT",
            "SYSTEM", "STATE", "SINCE"
        );
        for row in rows {
            println!(
                "{:<20} {:<11} {:<20} {}",
                row.system,
                row.state,
                utc(row.since),
                row.last_event.unwrap_or("-")
            );
        }
        Ok(())
    }
}

/// `awl events [--follow]`
#[derive(Debug, Args)]
pub struct EventsArgs {
    #[command(flatten)]
    pub folder: StateFolder,
    /// Only this system's events.
    #[arg(long)]
    pub system: Option<String>,
    /// Keep printing events as they happen (until interrupted).
    #[arg(long, short)]
    pub follow: bool,
}

impl EventsArgs {
    /// Prints every system's kept events, oldest first, then (with
    /// `--follow`) each new one as the state file changes, and each
    /// install that fails by its timeout.
    pub fn run(self) -> Result<()> {
        let states = StateFile::new(self.folder.dir());
        let watcher = if self.follow {
            Some(super::Watcher::new(states.clone())?)
        } else {
            None
        };
        let mut printed: BTreeMap<String, Vec<super::Event>> = BTreeMap::new();
        let mut failed: BTreeMap<String, u64> = BTreeMap::new();
        loop {
            let installs = states.load()?;
            let now = now();
            let mut lines: Vec<(u64, String, String)> = Vec::new();
            for (name, record) in &installs {
                if self.system.as_ref().is_some_and(|only| only != name) {
                    continue;
                }
                let before = printed.get(name).map(Vec::as_slice).unwrap_or_default();
                let kept: Vec<super::Event> = record.events.iter().cloned().collect();
                for event in new_events(before, &kept) {
                    lines.push((event.at, name.clone(), event.what.clone()));
                }
                printed.insert(name.clone(), kept);
                match record.fails_at() {
                    Some(at) if now > at && failed.get(name) != Some(&at) => {
                        failed.insert(name.clone(), at);
                        lines.push((
                            at,
                            name.clone(),
                            "failed: no progress within its timeout".into(),
                        ));
                    }
                    _ => {}
                }
            }
            lines.sort();
            for (at, name, what) in lines {
                println!("{}  {name:<20} {what}", utc(at));
            }
            let Some(watcher) = &watcher else {
                return Ok(());
            };
            use std::io::Write;
            std::io::stdout().flush()?;
            let next = installs
                .values()
                .filter_map(|r| r.fails_at().filter(|at| *at >= now))
                .min()
                .map(|at| at + 1);
            watcher.wait(next);
        }
    }
}

/// The events of `now` not already in `before` (a record keeps its last
/// few: what follows the last one printed, or all when that one has been
/// dropped since).
fn new_events<'a>(before: &[super::Event], now: &'a [super::Event]) -> &'a [super::Event] {
    let Some(last) = before.last() else {
        return now;
    };
    match now.iter().rposition(|e| e == last) {
        Some(i) => &now[i + 1..],
        None => now,
    }
}

/// `--state-dir`, else the inventory's folder (as `awl serve` decides).
/// Where the state folder is, for the commands that read it: `--state-dir`,
/// else the inventory's folder (as `awl serve` has it).
#[derive(Debug, Args)]
pub struct StateFolder {
    /// Where the state file is (as `awl serve --state-dir`) [default: the
    /// inventory's folder].
    #[arg(long, env = "AWL_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    #[command(flatten)]
    pub inventory: crate::inventory::cli::InventoryFile,
}

impl StateFolder {
    /// The folder.
    pub fn dir(&self) -> PathBuf {
        self.state_dir.clone().unwrap_or_else(|| {
            self.inventory
                .path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), PathBuf::from)
        })
    }
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS` (UTC).
pub(crate) fn utc(secs: u64) -> String {
    let days = secs / 86_400;
    let rest = secs % 86_400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_new_events_print() {
        let e = |at, what: &str| super::super::Event {
            at,
            what: what.into(),
        };
        let before = [e(1, "a"), e(2, "b")];
        let now = [e(1, "a"), e(2, "b"), e(3, "c")];
        assert_eq!(super::new_events(&before, &now), &now[2..]);
        assert_eq!(super::new_events(&[], &now), &now[..]);
        assert_eq!(super::new_events(&now, &now), &[]);
        assert_eq!(super::new_events(&[e(0, "z")], &now), &now[..]);
    }

    #[test]
    fn times_print_as_utc() {
        assert_eq!(super::utc(0), "1970-01-01 00:00:00");
        assert_eq!(super::utc(1_700_000_000), "2023-11-14 22:13:20");
    }
}
