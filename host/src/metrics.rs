//! Counters for `/metrics` (Prometheus text format 0.0.4), kept by the
//! event bus as each event is published: nothing is lost to a slow
//! reader, and reading them never waits for a protocol thread.
//!
//! What the counters cannot know (leases in use, installs by state) is
//! read when scraped, from the lease journal and the state file.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::events::{DhcpKind, Event, Tally, TftpOutcome};

/// Upper bounds of the install-duration histogram, seconds.
pub const INSTALL_BUCKETS: [u64; 10] = [60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 7200];

const DHCP_KINDS: [(DhcpKind, &str); 9] = [
    (DhcpKind::Offer, "offer"),
    (DhcpKind::ProxyOffer, "proxy_offer"),
    (DhcpKind::Ack, "ack"),
    (DhcpKind::BootAck, "boot_ack"),
    (DhcpKind::Nak, "nak"),
    (DhcpKind::Release, "release"),
    (DhcpKind::Decline, "decline"),
    (DhcpKind::PoolExhausted, "pool_exhausted"),
    (DhcpKind::Ignored, "ignored"),
];

const TFTP_OUTCOMES: [&str; 4] = ["done", "aborted", "timed_out", "failed"];

/// What the bus has counted since awl started.
#[derive(Debug, Default)]
pub struct Counters {
    dhcp: [AtomicU64; 9],
    tftp_started: AtomicU64,
    tftp_ended: [AtomicU64; 4],
    tftp_bytes: AtomicU64,
    /// By status class: 2xx, 3xx, 4xx, 5xx.
    http: [AtomicU64; 4],
    http_bytes: AtomicU64,
    install_buckets: [AtomicU64; INSTALL_BUCKETS.len()],
    install_count: AtomicU64,
    install_seconds: AtomicU64,
    /// Syslog lines: from a known system, from anyone else.
    syslog: [AtomicU64; 2],
}

impl Tally for Counters {
    fn count(&self, event: &Event) {
        match event {
            Event::Dhcp { kind, .. } => {
                if let Some(i) = DHCP_KINDS.iter().position(|(k, _)| k == kind) {
                    self.dhcp[i].fetch_add(1, Relaxed);
                }
            }
            Event::TftpStart { .. } => {
                self.tftp_started.fetch_add(1, Relaxed);
            }
            Event::TftpEnd { bytes, outcome, .. } => {
                let i = match outcome {
                    TftpOutcome::Done { .. } => 0,
                    TftpOutcome::Aborted { .. } => 1,
                    TftpOutcome::TimedOut { .. } => 2,
                    TftpOutcome::Failed { .. } => 3,
                };
                self.tftp_ended[i].fetch_add(1, Relaxed);
                self.tftp_bytes.fetch_add(*bytes, Relaxed);
            }
            Event::HttpFetch { status, bytes, .. } => {
                let class = usize::from((status / 100).clamp(2, 5) - 2);
                self.http[class].fetch_add(1, Relaxed);
                self.http_bytes.fetch_add(*bytes, Relaxed);
            }
            Event::Syslog { system, .. } => {
                self.syslog[usize::from(system.is_none())].fetch_add(1, Relaxed);
            }
            Event::Install {
                took: Some(seconds),
                ..
            } => self.observe_install(*seconds),
            Event::HttpStart { .. } | Event::HttpProgress { .. } | Event::Install { .. } => {}
        }
    }
}

impl Counters {
    /// Records one install that took `seconds` from arming to its
    /// callback.
    pub fn observe_install(&self, seconds: u64) {
        for (bound, bucket) in INSTALL_BUCKETS.iter().zip(&self.install_buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Relaxed);
            }
        }
        self.install_count.fetch_add(1, Relaxed);
        self.install_seconds.fetch_add(seconds, Relaxed);
    }

    /// The counters in Prometheus' text format.
    pub fn render(&self, out: &mut String) {
        family(
            out,
            "awl_dhcp_answers_total",
            "counter",
            "DHCP decisions, by type.",
        );
        for ((_, name), n) in DHCP_KINDS.iter().zip(&self.dhcp) {
            let _ = writeln!(
                out,
                "awl_dhcp_answers_total{{type=\"{name}\"}} {}",
                n.load(Relaxed)
            );
        }
        family(
            out,
            "awl_tftp_transfers_started_total",
            "counter",
            "TFTP transfers started.",
        );
        let _ = writeln!(
            out,
            "awl_tftp_transfers_started_total {}",
            self.tftp_started.load(Relaxed)
        );
        family(
            out,
            "awl_tftp_transfers_total",
            "counter",
            "TFTP transfers ended, by outcome.",
        );
        for (name, n) in TFTP_OUTCOMES.iter().zip(&self.tftp_ended) {
            let _ = writeln!(
                out,
                "awl_tftp_transfers_total{{outcome=\"{name}\"}} {}",
                n.load(Relaxed)
            );
        }
        family(
            out,
            "awl_tftp_bytes_total",
            "counter",
            "Bytes TFTP clients acknowledged (or uploaded).",
        );
        let _ = writeln!(
            out,
            "awl_tftp_bytes_total {}",
            self.tftp_bytes.load(Relaxed)
        );
        family(
            out,
            "awl_http_requests_total",
            "counter",
            "HTTP requests answered, by status class.",
        );
        for (class, n) in ["2xx", "3xx", "4xx", "5xx"].iter().zip(&self.http) {
            let _ = writeln!(
                out,
                "awl_http_requests_total{{code=\"{class}\"}} {}",
                n.load(Relaxed)
            );
        }
        family(
            out,
            "awl_http_bytes_total",
            "counter",
            "HTTP body bytes sent.",
        );
        let _ = writeln!(
            out,
            "awl_http_bytes_total {}",
            self.http_bytes.load(Relaxed)
        );
        family(
            out,
            "awl_install_duration_seconds",
            "histogram",
            "From arming an install to its callback.",
        );
        for (bound, n) in INSTALL_BUCKETS.iter().zip(&self.install_buckets) {
            let _ = writeln!(
                out,
                "awl_install_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                n.load(Relaxed)
            );
        }
        let count = self.install_count.load(Relaxed);
        let _ = writeln!(
            out,
            "awl_install_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "awl_install_duration_seconds_sum {}",
            self.install_seconds.load(Relaxed)
        );
        let _ = writeln!(out, "awl_install_duration_seconds_count {count}");
        family(
            out,
            "awl_syslog_lines_total",
            "counter",
            "Installers' syslog lines, by whether a system sent them.",
        );
        for (sender, n) in ["system", "unknown"].iter().zip(&self.syslog) {
            let _ = writeln!(
                out,
                "awl_syslog_lines_total{{sender=\"{sender}\"}} {}",
                n.load(Relaxed)
            );
        }
    }
}

/// A metric family's `HELP` and `TYPE` lines.
pub fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let c = Counters::default();
        let install = |state: &'static str, took: Option<u64>| Event::Install {
            at: std::time::SystemTime::now(),
            system: "web1".into(),
            state,
            took,
            since: 0,
            what: String::new(),
        };
        // Installs reported done, as the bus hands them over; other state
        // changes are not durations.
        c.count(&install("installed", Some(90)));
        c.count(&install("booting", None));
        c.count(&install("installed", Some(4000)));
        let mut out = String::new();
        c.render(&mut out);
        assert!(out.contains("awl_install_duration_seconds_bucket{le=\"60\"} 0\n"));
        assert!(out.contains("awl_install_duration_seconds_bucket{le=\"120\"} 1\n"));
        assert!(out.contains("awl_install_duration_seconds_bucket{le=\"7200\"} 2\n"));
        assert!(out.contains("awl_install_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(out.contains("awl_install_duration_seconds_sum 4090\n"));
        assert!(
            out.contains("awl_install_duration_seconds_count 2\n"),
            "{out}"
        );
    }
}
