//! `awl status`: every system's install state, from the state file (safe
//! while `awl serve` writes it: every version is whole).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use serde::Serialize;

use super::{now, StateFile, DEFAULT_STATE_DIR};

/// `awl status [--json]`
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Where the state file is (as `awl serve --state-dir`).
    #[arg(long, env = "AWL_STATE_DIR", default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// One JSON object per system, on one array.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Row<'a> {
    system: &'a str,
    state: &'static str,
    since: u64,
    installed_at: Option<u64>,
    last_event: Option<&'a str>,
    events: Vec<&'a super::Event>,
}

impl StatusArgs {
    /// Prints the table (or JSON).
    pub fn run(self) -> Result<()> {
        let installs = StateFile::new(&self.state_dir).load()?;
        let now = now();
        let rows: Vec<Row<'_>> = installs
            .iter()
            .map(|(name, r)| Row {
                system: name,
                state: r.effective(now).as_str(),
                since: r.since,
                installed_at: r.installed_at,
                last_event: r.events.back().map(|e| e.what.as_str()),
                events: r.events.iter().collect(),
            })
            .collect();
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

/// Unix seconds as `YYYY-MM-DD HH:MM:SS` (UTC).
pub(super) fn utc(secs: u64) -> String {
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
    fn times_print_as_utc() {
        assert_eq!(super::utc(0), "1970-01-01 00:00:00");
        assert_eq!(super::utc(1_700_000_000), "2023-11-14 22:13:20");
    }
}
