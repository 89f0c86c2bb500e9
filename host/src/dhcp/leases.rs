//! The lease journal: an append-only text file, one record a line, synced
//! to disk before the ACKs it covers go out, and compacted through a
//! temporary file and an atomic rename.
//!
//! ```text
//! bound 0152540000aa01 52:54:00:00:aa:01 10.0.0.100 1795000000
//! free 0152540000aa01 10.0.0.100
//! ```
//!
//! Fields: record kind, client key (hex: option 61, or 01 + MAC), MAC, IP
//! address, and for `bound` the expiry as Unix seconds. Loading keeps the
//! last record of each client; a line it cannot read is logged as
//! `file:line: reason` and skipped, and loading never refuses to start
//! (RELIABILITY D12).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration as StdDuration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use awl_core::dhcp::{ClientKey, Lease, LeaseState};
use awl_core::time::Instant;
use tracing::warn;

use crate::inventory::model::Inventory;

/// One lease as the journal stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Client key bytes.
    pub client: Vec<u8>,
    /// Hardware address.
    pub mac: [u8; 6],
    /// Address.
    pub ip: Ipv4Addr,
    /// Expiry, Unix seconds.
    pub expires: u64,
}

impl Record {
    fn line(&self) -> String {
        format!(
            "bound {} {} {} {}\n",
            hex(&self.client),
            mac_text(&self.mac),
            self.ip,
            self.expires
        )
    }
}

/// A MAC address as text.
pub fn mac_text(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 || text.is_empty() || text.len() > 64 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let parts: Vec<u8> = text
        .split(':')
        .map(|p| u8::from_str_radix(p, 16).ok())
        .collect::<Option<_>>()?;
    parts.try_into().ok()
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

fn parse_line(line: &str) -> Result<(bool, Record), &'static str> {
    let fields: Vec<&str> = line.split_ascii_whitespace().collect();
    match fields.as_slice() {
        ["bound", client, mac, ip, expires] => Ok((
            true,
            Record {
                client: unhex(client).ok_or("client key is not hex")?,
                mac: parse_mac(mac).ok_or("bad MAC address")?,
                ip: ip.parse().map_err(|_| "bad IP address")?,
                expires: expires.parse().map_err(|_| "bad expiry")?,
            },
        )),
        ["free", client, ip] => Ok((
            false,
            Record {
                client: unhex(client).ok_or("client key is not hex")?,
                mac: [0; 6],
                ip: ip.parse().map_err(|_| "bad IP address")?,
                expires: 0,
            },
        )),
        [] => Err("empty line"),
        _ => Err("not a lease record"),
    }
}

/// Reads a journal: the live leases (last record per client wins), with a
/// log line for each line that cannot be read. A missing file is empty. A
/// last line without its end of line is a torn write (awl stopped in the
/// middle of an append): skipped too, so a cut-off record never counts.
pub fn load(path: &Path) -> Vec<Record> {
    let Ok(file) = File::open(path) else {
        return Vec::new();
    };
    let mut reader = BufReader::new(file);
    let mut live: Vec<Record> = Vec::new();
    let mut line = Vec::new();
    for n in 1.. {
        line.clear();
        if !matches!(reader.read_until(b'\n', &mut line), Ok(read) if read > 0) {
            break;
        }
        let parsed = match line.strip_suffix(b"\n") {
            Some(text) => parse_line(&String::from_utf8_lossy(text)),
            None => Err("torn record (no end of line)"),
        };
        match parsed {
            Ok((bound, record)) => {
                live.retain(|r| r.client != record.client && (!bound || r.ip != record.ip));
                if bound {
                    live.push(record);
                }
            }
            Err(reason) => warn!("{}:{n}: {reason}: skipped", path.display()),
        }
    }
    let now = unix_now();
    live.retain(|r| r.expires > now);
    live
}

/// The open journal. A write or sync that fails (a full disk, a disk
/// gone read-only) returns an error naming the journal and the system's
/// reason, and leaves every record already in the file as it was.
pub struct Journal {
    path: PathBuf,
    file: File,
    /// The file's length, up to the end of its last whole record.
    len: u64,
    appended: usize,
    pending: bool,
}

impl Journal {
    /// Opens `path`, rewriting it with just `live` first (compaction).
    pub fn open(path: &Path, live: &[Record]) -> Result<Self> {
        let mut journal = Self {
            path: path.to_path_buf(),
            file: OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("lease journal {}: cannot open", path.display()))?,
            len: 0,
            appended: 0,
            pending: false,
        };
        journal.compact(live)?;
        Ok(journal)
    }

    /// Writes `live` to a temporary file, syncs it, renames it over the
    /// journal and syncs the directory: at every instant the journal on
    /// disk is either the old one or the new one. When that fails (a full
    /// disk), the old journal stays and the temporary file is removed.
    pub fn compact(&mut self, live: &[Record]) -> Result<()> {
        let tmp = self.path.with_extension("tmp");
        let text: String = live.iter().map(Record::line).collect();
        let replaced = File::create(&tmp)
            .and_then(|mut out| {
                out.write_all(text.as_bytes())?;
                out.sync_all()
            })
            .and_then(|()| std::fs::rename(&tmp, &self.path));
        if let Err(e) = replaced {
            let _ = std::fs::remove_file(&tmp);
            return Err(e).with_context(|| {
                format!(
                    "lease journal {}: cannot compact it through {}",
                    self.path.display(),
                    tmp.display()
                )
            });
        }
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .with_context(|| {
                    format!(
                        "lease journal {}: cannot sync its directory",
                        self.path.display()
                    )
                })?;
        }
        self.file = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .with_context(|| format!("lease journal {}: cannot open", self.path.display()))?;
        self.len = text.len() as u64;
        self.appended = 0;
        Ok(())
    }

    /// Appends a binding (not yet synced).
    pub fn bound(&mut self, record: &Record) -> Result<()> {
        self.append(&record.line())
    }

    /// Appends an end of lease (not yet synced).
    pub fn free(&mut self, client: &[u8], ip: Ipv4Addr) -> Result<()> {
        self.append(&format!("free {} {ip}\n", hex(client)))
    }

    /// Appends one record. A write that fails part-way (the disk filled up
    /// in the middle of the record) is cut off again, so the file ends
    /// with a whole record; were even that to fail, loading skips a torn
    /// last line.
    fn append(&mut self, line: &str) -> Result<()> {
        if let Err(e) = self.file.write_all(line.as_bytes()) {
            if let Err(cut) = self.file.set_len(self.len) {
                warn!(
                    "lease journal {}: cannot cut off a partial record: {cut}",
                    self.path.display()
                );
            }
            return Err(e)
                .with_context(|| format!("lease journal {}: cannot append", self.path.display()));
        }
        self.len += line.len() as u64;
        self.appended += 1;
        self.pending = true;
        Ok(())
    }

    /// Syncs what was appended; one call covers many clients.
    pub fn sync(&mut self) -> Result<()> {
        if self.pending {
            self.file
                .sync_data()
                .with_context(|| format!("lease journal {}: cannot sync", self.path.display()))?;
            self.pending = false;
        }
        Ok(())
    }

    /// Records appended since the last compaction.
    pub fn appended(&self) -> usize {
        self.appended
    }
}

/// A journal record for a core lease.
pub fn record_of(lease: &Lease, now: Instant) -> Record {
    let left = lease.expires.saturating_since(now).total_micros() / 1_000_000;
    Record {
        client: lease.client.as_bytes().to_vec(),
        mac: lease.mac,
        ip: lease.ip,
        expires: unix_now() + left,
    }
}

/// A core lease for a journal record.
pub fn lease_of(record: &Record, now: Instant) -> Lease {
    let left = record.expires.saturating_sub(unix_now());
    Lease {
        client: ClientKey::from_client_id(&record.client),
        mac: record.mac,
        ip: record.ip,
        state: LeaseState::Bound,
        expires: now + awl_core::time::Duration::from_secs(left),
    }
}

/// Prints the live leases of a journal (`awl leases`).
pub fn print(path: &Path, inventory: &Inventory, unknown: bool, json: bool) -> Result<()> {
    let now = unix_now();
    let system = |r: &Record| inventory.system_by_mac(r.mac).map(|(s, _)| s.name.as_str());
    let records: Vec<Record> = load(path)
        .into_iter()
        .filter(|r| !unknown || system(r).is_none())
        .collect();
    if json {
        let rows: Vec<serde_json::Value> = records
            .iter()
            .map(|r| {
                serde_json::json!({
                    "mac": mac_text(&r.mac),
                    "ip": r.ip.to_string(),
                    "expires": r.expires,
                    "system": system(r),
                    "client": hex(&r.client),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!(
        "{:<17} {:<15} {:>10}  {:<20} client",
        "mac", "address", "expires in", "system"
    );
    for r in &records {
        let left = StdDuration::from_secs(r.expires.saturating_sub(now));
        println!(
            "{:<17} {:<15} {:>9}s  {:<20} {}",
            mac_text(&r.mac),
            r.ip,
            left.as_secs(),
            system(r).unwrap_or("-"),
            hex(&r.client)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "awl-journal-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn record(n: u8, expires: u64) -> Record {
        Record {
            client: vec![1, 0x52, 0x54, 0, 0, 0, n],
            mac: [0x52, 0x54, 0, 0, 0, n],
            ip: Ipv4Addr::new(10, 0, 0, 100 + n),
            expires,
        }
    }

    #[test]
    fn cve_d12_every_lease_round_trips_and_bad_lines_are_skipped() {
        let path = dir().join("leases");
        let later = unix_now() + 3600;
        let mut j = Journal::open(&path, &[]).unwrap();
        for n in 0..5 {
            j.bound(&record(n, later)).unwrap();
        }
        j.free(&record(3, 0).client, record(3, 0).ip).unwrap();
        j.sync().unwrap();
        drop(j);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(
            "garbage line\nbound zz 52:54:00:00:00:09 10.0.0.1 1\nbound 0152 52:54 10.0.0.1 5\n",
        );
        text.push_str(&record(4, 5).line()); // expired: dropped
        text.push_str("bound 01525400000007 52:54:00:00:00:07 10.0.0.107 99"); // truncated tail
        std::fs::write(&path, text).unwrap();
        let live = load(&path);
        assert_eq!(live.iter().map(|r| r.mac[5]).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(live[0], record(0, later));
        // Compaction keeps exactly the live leases.
        let j = Journal::open(&path, &live).unwrap();
        drop(j);
        assert_eq!(load(&path), live);
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 3);
    }

    #[test]
    fn a_torn_last_record_is_skipped() {
        let path = dir().join("torn");
        let later = unix_now() + 3600;
        let mut j = Journal::open(&path, &[]).unwrap();
        j.bound(&record(7, later)).unwrap();
        j.sync().unwrap();
        drop(j);
        // A `free` cut off after its address's first digits still reads as
        // a record; without its end of line it must not free the lease.
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("free 01525400000007 10.0.0.1");
        std::fs::write(&path, text).unwrap();
        assert_eq!(load(&path), [record(7, later)]);
    }

    #[test]
    fn a_failed_compaction_leaves_the_journal_as_it_was() {
        let path = dir().join("kept");
        let later = unix_now() + 3600;
        let mut j = Journal::open(&path, &[record(1, later)]).unwrap();
        let before = std::fs::read(&path).unwrap();
        // The temporary file cannot be created where a directory stands.
        std::fs::create_dir_all(path.with_extension("tmp")).unwrap();
        let e = j.compact(&[]).unwrap_err();
        assert!(
            format!("{e:#}").contains(&path.display().to_string()),
            "{e:#}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), before);
        j.bound(&record(2, later)).unwrap();
        j.sync().unwrap();
        assert_eq!(load(&path), [record(1, later), record(2, later)]);
    }

    #[test]
    fn cve_d13_hostile_client_ids_round_trip() {
        let path = dir().join("hostile");
        let later = unix_now() + 60;
        let hostile = Record {
            client: b"\"\n\x00 bound 10.0.0.1 ".to_vec(),
            ..record(1, later)
        };
        let mut j = Journal::open(&path, &[]).unwrap();
        j.bound(&hostile).unwrap();
        j.sync().unwrap();
        assert_eq!(load(&path), [hostile]);
    }
}
