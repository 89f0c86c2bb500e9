//! Installers' syslog (UDP, RFC 3164 or 5424 lines), received and filed
//! under the system that sent it: debian-installer forwards its log with
//! `log_host`/`log_port` (its busybox `syslogd -R`), Anaconda with
//! `inst.syslog=`; awl puts both on the kernel command lines it renders
//! when this listens (`--syslog-listen`). Tinkerbell listens on 514 for the
//! same reason: an install's own words are the best progress report.
//!
//! A line is matched to a system by its sender's address (a fixed address
//! of the inventory, else the address awl's DHCP leased to one of its
//! MACs); it is appended to `STATE_DIR/logs/NAME.log` (no sync: a log, not
//! a state; at 32 MiB the file is rotated to `NAME.log.1`), published on
//! the event bus (the API's stream, the status page's last line), and an
//! error (severity 3 or worse) is also noted in the system's install
//! events. A line from an address no system has is only published.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use tracing::{info, warn};

use crate::events::{Event, Events};
use crate::inventory::store::InventoryCache;
use crate::lifecycle::{self, StateFile};
use crate::supervise::Services;

/// The largest datagram taken whole (RFC 5424 asks receivers for 2048 at
/// least; longer ones are cut).
const MAX_DATAGRAM: usize = 8192;
/// A system's log file is rotated past this.
const ROTATE_AT: u64 = 32 << 20;
/// How long a sender's address stays matched to a system without looking
/// again (leases and the inventory change).
const MATCH_TTL: Duration = Duration::from_secs(5);

/// One syslog line, as far as awl reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line<'a> {
    /// 0 (emergency) to 7 (debug); `None` without a `<PRI>`.
    pub severity: Option<u8>,
    /// The rest of the line after `<PRI>` (timestamp, host, tag, message
    /// as the sender wrote them), trailing line ends and NULs removed.
    pub text: &'a str,
}

/// Reads a datagram: `<PRI>` then text (RFC 3164 and 5424 alike); `None`
/// for one that is not text.
pub fn parse(datagram: &[u8]) -> Option<Line<'_>> {
    let text = std::str::from_utf8(datagram).ok()?;
    let text = text.trim_end_matches(['\n', '\r', '\0']);
    let (severity, rest) = match text.strip_prefix('<').and_then(|r| r.split_once('>')) {
        Some((pri, rest))
            if (1..=3).contains(&pri.len()) && pri.bytes().all(|b| b.is_ascii_digit()) =>
        {
            match pri.parse::<u16>() {
                Ok(p) if p <= 191 => (Some((p % 8) as u8), rest),
                _ => (None, text),
            }
        }
        _ => (None, text),
    };
    Some(Line {
        severity,
        text: rest,
    })
}

/// Where the syslog service files lines, and what it matches them with.
pub struct SyslogSettings {
    /// Where it listens (`--syslog-listen`).
    pub listen: SocketAddr,
    /// The inventory (fixed addresses, MACs).
    pub cache: Arc<InventoryCache>,
    /// The DHCP lease journal, when awl is the DHCP server.
    pub lease_file: Option<PathBuf>,
    /// The install states (`STATE_DIR/logs/` is beside them).
    pub states: StateFile,
}

/// Binds, then receives on a thread of its own under `services`.
pub fn start(settings: SyslogSettings, events: &Events, services: &mut Services) -> Result<()> {
    let socket = UdpSocket::bind(settings.listen)
        .with_context(|| format!("syslog: cannot listen on {}", settings.listen))?;
    let local = socket.local_addr()?;
    let logs = settings.states.dir().join("logs");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&logs)
        .with_context(|| format!("{}: cannot create", logs.display()))?;
    info!(
        "syslog: listening on {local}, filing under {}",
        logs.display()
    );
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = Arc::clone(&stop);
    let events = events.clone();
    let mut receiver = Receiver {
        settings,
        logs,
        events,
        matches: HashMap::new(),
        noted: HashMap::new(),
    };
    services.spawn(
        "syslog",
        move || {
            let mut buf = vec![0u8; MAX_DATAGRAM];
            loop {
                let (n, peer) = match socket.recv_from(&mut buf) {
                    Ok(got) => got,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e).context("syslog: receive"),
                };
                if stop.load(Ordering::Relaxed) {
                    return Ok(());
                }
                receiver.take(peer, &buf[..n]);
            }
        },
        move || {
            stopping.store(true, Ordering::Relaxed);
            // Wake the receive with a datagram to itself.
            let to = match local.ip() {
                IpAddr::V4(ip) if ip.is_unspecified() => {
                    SocketAddr::from(([127, 0, 0, 1], local.port()))
                }
                IpAddr::V6(ip) if ip.is_unspecified() => {
                    SocketAddr::from(([0u16, 0, 0, 0, 0, 0, 0, 1], local.port()))
                }
                _ => local,
            };
            let from = if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
            if let Ok(s) = UdpSocket::bind(from) {
                let _ = s.send_to(b"", to);
            }
        },
    )
}

struct Receiver {
    settings: SyslogSettings,
    logs: PathBuf,
    events: Events,
    /// Sender address → system, and when that was looked up.
    matches: HashMap<IpAddr, (Option<String>, Instant)>,
    /// When each system's last error was noted in its install events.
    noted: HashMap<String, Instant>,
}

impl Receiver {
    fn take(&mut self, peer: SocketAddr, datagram: &[u8]) {
        let Some(line) = parse(datagram) else {
            return;
        };
        if line.text.is_empty() {
            return;
        }
        let system = self.system_of(peer.ip());
        // One line (a newline inside cannot forge another), at most 1000
        // characters, and install tokens hidden: an installer may log its
        // command line, which carries the answer file's URL.
        let text = clean(line.text);
        if let Some(name) = &system {
            if let Err(e) = append(&self.logs, name, peer, line.severity, &text) {
                warn!("syslog: {name}: {e:#}");
            }
            // Errors are noted in the install events, at most one every
            // 10 s per system (a synced write each; UDP senders are cheap
            // to fake).
            let due = self
                .noted
                .get(name)
                .is_none_or(|at| at.elapsed() >= Duration::from_secs(10));
            if line.severity.is_some_and(|s| s <= 3) && due {
                self.noted.insert(name.clone(), Instant::now());
                let now = lifecycle::now();
                let noted = self.settings.states.update(name, |slot| {
                    lifecycle::record(slot, now).note(now, format!("syslog: {text}"));
                    Ok(())
                });
                if let Err(e) = noted {
                    warn!("syslog: {name}: {e:#}");
                }
            }
        }
        self.events.publish(Event::Syslog {
            at: SystemTime::now(),
            peer,
            system,
            severity: line.severity,
            text,
        });
    }

    fn system_of(&mut self, ip: IpAddr) -> Option<String> {
        if let Some((system, at)) = self.matches.get(&ip) {
            if at.elapsed() < MATCH_TTL {
                return system.clone();
            }
        }
        let IpAddr::V4(v4) = ip else {
            return None;
        };
        let inventory = self.settings.cache.get();
        let system = inventory
            .system_by_ip(v4)
            .map(|(s, _)| s.name.clone())
            .or_else(|| {
                let now = lifecycle::now();
                let leases = crate::dhcp::leases::load(self.settings.lease_file.as_deref()?);
                let lease = leases.iter().find(|l| l.ip == v4 && l.expires > now)?;
                inventory
                    .system_by_mac(lease.mac)
                    .map(|(s, _)| s.name.clone())
            });
        if self.matches.len() > 4096 {
            self.matches.clear();
        }
        self.matches.insert(ip, (system.clone(), Instant::now()));
        system
    }
}

/// A line as filed: at most 1000 characters, control characters (a
/// newline that would forge another line) as spaces, install tokens hidden
/// (an installer may log its command line, which carries its answer
/// file's URL).
pub fn clean(text: &str) -> String {
    let text: String = text
        .chars()
        .take(1000)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    crate::http::redact(&text)
}

/// `STATE_DIR/logs/NAME.log`.
pub fn log_path(logs: &Path, system: &str) -> PathBuf {
    logs.join(format!("{system}.log"))
}

/// Appends one line (`UNIX_SECONDS SENDER SEVERITY TEXT`), rotating the
/// file past [`ROTATE_AT`].
fn append(
    logs: &Path,
    system: &str,
    peer: SocketAddr,
    severity: Option<u8>,
    text: &str,
) -> Result<()> {
    let path = log_path(logs, system);
    if std::fs::metadata(&path).is_ok_and(|m| m.len() > ROTATE_AT) {
        let _ = std::fs::rename(&path, path.with_extension("log.1"));
    }
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("{}: cannot open", path.display()))?;
    let severity = severity.map_or_else(|| "-".to_string(), |s| s.to_string());
    writeln!(file, "{} {} {severity} {text}", lifecycle::now(), peer.ip())
        .with_context(|| format!("{}: cannot write", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_both_formats_parse() {
        let l = parse(b"<13>Dec  2 10:00:00 d-i main-menu[1]: INFO: Menu item 'netcfg' selected\n")
            .unwrap();
        assert_eq!(l.severity, Some(5));
        assert!(l.text.starts_with("Dec  2 10:00:00 d-i main-menu"));
        let l = parse(b"<11>1 2026-12-02T10:00:00Z host anaconda - - - error\0").unwrap();
        assert_eq!(
            (l.severity, l.text),
            (Some(3), "1 2026-12-02T10:00:00Z host anaconda - - - error")
        );
        assert_eq!(
            parse(b"no pri").unwrap(),
            Line {
                severity: None,
                text: "no pri"
            }
        );
        assert_eq!(parse(b"<999>x").unwrap().severity, None);
        assert_eq!(parse(b"<>x").unwrap().severity, None);
        assert!(parse(&[0xff, 0xfe]).is_none());
    }

    #[test]
    fn filed_lines_hide_tokens_and_stay_one_line() {
        let line = "Command line: url=http://10.0.0.1/answer/system/web1?token=0123abcd x\nforged";
        let filed = clean(line);
        assert!(
            !filed.contains("0123abcd") && filed.contains("token=(hidden)"),
            "{filed}"
        );
        assert!(!filed.contains('\n'));
        assert_eq!(clean(&"x".repeat(2000)).len(), 1000);
    }
}
