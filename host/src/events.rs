//! What happened, for the HTTP side: owned events (a DHCP answer, a TFTP
//! transfer's start and end with its file, an HTTP fetch) that travel from
//! the protocol threads to whoever listens, and the last
//! [`Events::KEEP`] of them for a listener that comes late.
//!
//! The protocol threads [`Events::publish`]; a web page or an install
//! tracker calls [`Events::subscribe`] and gets what is kept, then every
//! later event, in order, without a gap or a repeat. Publishing never
//! waits for a listener: with none, an event is only kept; a listener that
//! falls more than [`Events::KEEP`] events behind is told how many it
//! missed (`RecvError::Lagged`), and the protocols go on.
//!
//! Each event reads as the line the protocol logged (`Display`, without
//! the time), in the core's wording: `dhcp: 52:54:00:aa:71:01 offer
//! 10.77.71.1 (x86 BIOS, iPXE): boot tftp://10.77.71.1/boot.ipxe`.

use std::collections::VecDeque;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use awl_core::wire::tftp::ErrorCode;
use awl_core::wire::Mac;
use tokio::sync::broadcast;

/// What a DHCP event was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DhcpKind {
    /// An OFFER with an address (full DHCP).
    Offer,
    /// A proxyDHCP OFFER: boot options, no address.
    ProxyOffer,
    /// An ACK that bound a lease.
    Ack,
    /// A proxyDHCP boot server (port 4011) ACK.
    BootAck,
    /// A NAK.
    Nak,
    /// The client released its lease.
    Release,
    /// The client declined the address (in use on the network).
    Decline,
    /// No address left for the client.
    PoolExhausted,
    /// A datagram not answered.
    Ignored,
}

/// How a TFTP transfer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TftpOutcome {
    /// The client has every byte.
    Done {
        /// Blocks sent again.
        retransmits: u64,
        /// From the request to the last ACK.
        elapsed: Duration,
    },
    /// The client ended it with an ERROR (EDK II's `tsize` probe does,
    /// with 8, before the real download).
    Aborted {
        /// The client's code.
        code: ErrorCode,
        /// From the request to the ERROR.
        elapsed: Duration,
    },
    /// The client stopped answering.
    TimedOut {
        /// From the request to giving up.
        elapsed: Duration,
    },
    /// The server ended it with an ERROR (a read error, an upload too
    /// large).
    Failed {
        /// The code sent.
        code: ErrorCode,
        /// The message sent.
        reason: &'static str,
    },
}

/// What a DHCP offer showed of the machine it went to: who it is and
/// what its firmware said, and whether the inventory knew it (an unknown
/// one is discovered: `crate::discovery`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sighting {
    /// Its SMBIOS UUID (option 97), as sent.
    pub uuid: Option<[u8; 16]>,
    /// What it said of its firmware (architecture, iPXE, HTTP boot).
    pub facts: awl_core::boot::ClientFacts,
    /// Whether the inventory knew it.
    pub known: bool,
}

/// Something that happened, when (`at`, wall clock), and the line logged
/// for it (`Display`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A DHCP decision.
    Dhcp {
        /// When.
        at: SystemTime,
        /// The client's MAC, when known.
        mac: Option<Mac>,
        /// The address offered, bound, released, declined or NAKed.
        ip: Option<Ipv4Addr>,
        /// What it was.
        kind: DhcpKind,
        /// What an offer showed of the machine (offers only).
        seen: Option<Sighting>,
        /// The line logged, without `dhcp: `.
        text: String,
    },
    /// A TFTP transfer started.
    TftpStart {
        /// When.
        at: SystemTime,
        /// The client.
        peer: SocketAddr,
        /// The file, as the request named it (normalised).
        file: String,
        /// The file's size (an upload: the size the client declared, or
        /// 0).
        size: u64,
        /// Whether it is an upload.
        upload: bool,
        /// The line logged, without `tftp: `.
        text: String,
    },
    /// A TFTP transfer ended.
    TftpEnd {
        /// When.
        at: SystemTime,
        /// The client.
        peer: SocketAddr,
        /// The file.
        file: String,
        /// Bytes delivered (acknowledged), or received for an upload.
        bytes: u64,
        /// How it ended.
        outcome: TftpOutcome,
        /// The line logged, without `tftp: `.
        text: String,
    },
    /// A file body of at least [`Events::PROGRESS_FROM`] bytes started
    /// going out over HTTP (a kernel, an initrd, an image).
    HttpStart {
        /// When.
        at: SystemTime,
        /// The client.
        peer: SocketAddr,
        /// The request target, as logged.
        path: String,
        /// Bytes the body holds.
        size: u64,
    },
    /// How far such a body has gone (at most one every
    /// [`Events::PROGRESS_EVERY`] per transfer).
    HttpProgress {
        /// When.
        at: SystemTime,
        /// The client.
        peer: SocketAddr,
        /// The request target, as logged.
        path: String,
        /// Bytes sent so far.
        bytes: u64,
        /// Bytes the body holds.
        size: u64,
    },
    /// An installer's syslog line (`--syslog-listen`).
    Syslog {
        /// When it came.
        at: SystemTime,
        /// Its sender.
        peer: SocketAddr,
        /// The system that sender is, when known.
        system: Option<String>,
        /// 0 (emergency) to 7 (debug), when the line had a `<PRI>`.
        severity: Option<u8>,
        /// The line after its `<PRI>` (at most 1000 characters).
        text: String,
    },
    /// A system's install state changed (docs/lifecycle.md).
    Install {
        /// When it was seen to change.
        at: SystemTime,
        /// The system.
        system: String,
        /// Its state now (`failed` included), by name (`installed`).
        state: &'static str,
        /// An install reported done: seconds from arming to the callback.
        took: Option<u64>,
        /// When it entered that state (unix seconds).
        since: u64,
        /// Its last event's words.
        what: String,
    },
    /// An HTTP request answered.
    HttpFetch {
        /// When.
        at: SystemTime,
        /// The client.
        peer: SocketAddr,
        /// `GET` or `HEAD`.
        method: String,
        /// The request target, as logged (escaped, shortened).
        path: String,
        /// The response status.
        status: u16,
        /// Bytes sent.
        bytes: u64,
    },
}

impl Event {
    /// When it happened.
    pub fn at(&self) -> SystemTime {
        match self {
            Self::Dhcp { at, .. }
            | Self::TftpStart { at, .. }
            | Self::TftpEnd { at, .. }
            | Self::HttpStart { at, .. }
            | Self::HttpProgress { at, .. }
            | Self::Install { at, .. }
            | Self::Syslog { at, .. }
            | Self::HttpFetch { at, .. } => *at,
        }
    }

    /// The owned event for a core DHCP event, now.
    pub fn dhcp(event: &awl_core::dhcp::Event<'_>) -> Option<Self> {
        use awl_core::dhcp::Event as E;
        let (mac, ip, kind) = match *event {
            E::Offered { mac, ip, .. } if ip.is_unspecified() => {
                (Some(mac), None, DhcpKind::ProxyOffer)
            }
            E::Offered { mac, ip, .. } => (Some(mac), Some(ip), DhcpKind::Offer),
            E::Bound { lease, .. } => (Some(lease.mac), Some(lease.ip), DhcpKind::Ack),
            E::BootAck { mac, .. } => (Some(mac), None, DhcpKind::BootAck),
            E::Nak { mac, requested, .. } => (Some(mac), Some(requested), DhcpKind::Nak),
            E::Released { lease } => (Some(lease.mac), Some(lease.ip), DhcpKind::Release),
            E::Declined { mac, ip } => (Some(mac), Some(ip), DhcpKind::Decline),
            E::PoolExhausted { mac } => (Some(mac), None, DhcpKind::PoolExhausted),
            E::Ignored { mac, .. } => (mac, None, DhcpKind::Ignored),
            _ => return None,
        };
        let seen = match *event {
            E::Offered {
                facts, uuid, known, ..
            } => Some(Sighting {
                uuid: uuid.map(|g| g.0),
                facts,
                known,
            }),
            _ => None,
        };
        Some(Self::Dhcp {
            at: SystemTime::now(),
            mac: mac.map(Mac),
            ip,
            kind,
            seen,
            text: event.to_string(),
        })
    }

    /// The owned event for a core TFTP event about `file`, now; `None` for
    /// a refusal (no transfer, no file).
    pub fn tftp(event: &awl_core::tftp::Event, file: &str) -> Option<Self> {
        use awl_core::tftp::Event as E;
        let at = SystemTime::now();
        let text = event.display_with(file).to_string();
        let file = file.to_string();
        let elapsed = |d: awl_core::time::Duration| Duration::from_micros(d.total_micros());
        let (peer, bytes, outcome) = match *event {
            E::Started {
                peer, size, upload, ..
            } => {
                return Some(Self::TftpStart {
                    at,
                    peer,
                    file,
                    size,
                    upload,
                    text,
                })
            }
            E::Finished {
                peer,
                bytes,
                retransmits,
                elapsed: e,
                ..
            } => (
                peer,
                bytes,
                TftpOutcome::Done {
                    retransmits,
                    elapsed: elapsed(e),
                },
            ),
            E::Aborted {
                peer,
                code,
                bytes,
                elapsed: e,
                ..
            } => (
                peer,
                bytes,
                TftpOutcome::Aborted {
                    code,
                    elapsed: elapsed(e),
                },
            ),
            E::TimedOut {
                peer,
                bytes,
                elapsed: e,
                ..
            } => (
                peer,
                bytes,
                TftpOutcome::TimedOut {
                    elapsed: elapsed(e),
                },
            ),
            E::Failed {
                peer, code, reason, ..
            } => (peer, 0, TftpOutcome::Failed { code, reason }),
            _ => return None,
        };
        Some(Self::TftpEnd {
            at,
            peer,
            file,
            bytes,
            outcome,
            text,
        })
    }
}

/// The line logged for it: `dhcp: ..`, `tftp: ..`, `http: ..`.
impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dhcp { text, .. } => write!(f, "dhcp: {text}"),
            Self::TftpStart { text, .. } | Self::TftpEnd { text, .. } => {
                write!(f, "tftp: {text}")
            }
            Self::HttpFetch {
                peer,
                method,
                path,
                status,
                bytes,
                ..
            } => write!(f, "http: {peer} {method} {path} {status}, {bytes} bytes"),
            Self::HttpStart {
                peer, path, size, ..
            } => write!(f, "http: {peer} {path}: sending {size} bytes"),
            Self::HttpProgress {
                peer,
                path,
                bytes,
                size,
                ..
            } => write!(f, "http: {peer} {path}: {bytes} of {size} bytes sent"),
            Self::Install {
                system,
                state,
                what,
                ..
            } => write!(f, "install: {system} {state}: {what}"),
            Self::Syslog {
                peer, system, text, ..
            } => match system {
                Some(system) => write!(f, "syslog: {system} ({}): {text}", peer.ip()),
                None => write!(f, "syslog: {}: {text}", peer.ip()),
            },
        }
    }
}

/// The event bus: a handle every protocol thread and listener clones.
#[derive(Clone)]
pub struct Events {
    shared: Arc<Shared>,
}

struct Shared {
    sender: broadcast::Sender<Event>,
    /// The last `keep` events, oldest first.
    recent: Mutex<VecDeque<Event>>,
    keep: usize,
    tally: Option<Arc<dyn Tally>>,
}

/// What counts each event as it is published, before any listener sees
/// it (`/metrics`: `crate::metrics::Counters`): nothing is lost to a slow
/// listener.
pub trait Tally: Send + Sync {
    /// Counts `event`.
    fn count(&self, event: &Event);
}

impl Events {
    /// Events kept for late listeners, and the most a listener may fall
    /// behind, by default.
    pub const KEEP: usize = 1000;

    /// HTTP file bodies from this size on get [`Event::HttpStart`] and
    /// [`Event::HttpProgress`] events.
    pub const PROGRESS_FROM: u64 = 1 << 20;

    /// The most often one transfer reports progress.
    pub const PROGRESS_EVERY: Duration = Duration::from_millis(500);

    /// A bus that keeps the last `keep` events (at least one).
    pub fn new(keep: usize) -> Self {
        Self::with(keep, None)
    }

    /// A bus that keeps the last [`Events::KEEP`] events and has `tally`
    /// count each one.
    pub fn counted(tally: Arc<dyn Tally>) -> Self {
        Self::with(Self::KEEP, Some(tally))
    }

    fn with(keep: usize, tally: Option<Arc<dyn Tally>>) -> Self {
        let keep = keep.max(1);
        let (sender, _) = broadcast::channel(keep);
        Self {
            shared: Arc::new(Shared {
                sender,
                recent: Mutex::new(VecDeque::with_capacity(keep)),
                keep,
                tally,
            }),
        }
    }

    /// Keeps `event` and hands it to every listener. Never waits for a
    /// listener: the lock it takes is held only to push one event (or,
    /// by [`Events::subscribe`], to copy the kept ones).
    pub fn publish(&self, event: Event) {
        if let Some(tally) = &self.shared.tally {
            tally.count(&event);
        }
        if matches!(event, Event::HttpProgress { .. }) {
            // Only for who watches now: kept, it would crowd out the rest.
            let _ = self.shared.sender.send(event);
            return;
        }
        let mut recent = self.recent();
        if recent.len() >= self.shared.keep {
            recent.pop_front();
        }
        recent.push_back(event.clone());
        // Under the lock, so a subscriber sees each event exactly once.
        // An error only means nobody listens.
        let _ = self.shared.sender.send(event);
    }

    /// The events kept (oldest first), and a receiver for every event
    /// published after them.
    pub fn subscribe(&self) -> (Vec<Event>, broadcast::Receiver<Event>) {
        let recent = self.recent();
        (
            recent.iter().cloned().collect(),
            self.shared.sender.subscribe(),
        )
    }

    /// The events kept, oldest first.
    pub fn kept(&self) -> Vec<Event> {
        self.recent().iter().cloned().collect()
    }

    fn recent(&self) -> std::sync::MutexGuard<'_, VecDeque<Event>> {
        // A thread that panicked while holding it left a whole deque.
        self.shared
            .recent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for Events {
    fn default() -> Self {
        Self::new(Self::KEEP)
    }
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events")
            .field("keep", &self.shared.keep)
            .field("listeners", &self.shared.sender.receiver_count())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use awl_core::boot::{BootDecision, ClientFacts};
    use awl_core::tftp::Event as TftpEvent;

    fn http(n: u64) -> Event {
        Event::HttpFetch {
            at: SystemTime::UNIX_EPOCH,
            peer: "10.0.0.7:40000".parse().unwrap(),
            method: "GET".into(),
            path: format!("/f{n}"),
            status: 200,
            bytes: n,
        }
    }

    #[test]
    fn late_listeners_get_the_kept_events_then_the_new_ones() {
        let events = Events::new(3);
        for n in 0..5 {
            events.publish(http(n)); // nobody listens: kept only
        }
        let (kept, mut rx) = events.subscribe();
        assert_eq!(kept, [http(2), http(3), http(4)]);
        events.publish(http(5));
        assert_eq!(rx.try_recv().unwrap(), http(5));
        assert!(rx.try_recv().is_err());
        assert_eq!(events.kept(), [http(3), http(4), http(5)]);
    }

    #[test]
    fn a_listener_that_falls_behind_is_told_and_publishing_goes_on() {
        let events = Events::new(2);
        let (_, mut rx) = events.subscribe();
        for n in 0..5 {
            events.publish(http(n));
        }
        assert!(matches!(
            rx.try_recv(),
            Err(broadcast::error::TryRecvError::Lagged(3))
        ));
        assert_eq!(rx.try_recv().unwrap(), http(3));
    }

    #[test]
    fn an_event_reads_as_its_log_line() {
        let mac = [0x52, 0x54, 0, 0xaa, 0x71, 1];
        let facts = ClientFacts {
            firmware: awl_core::boot::Firmware::Bios,
            arch: Some(awl_core::wire::dhcp::pxe::ClientArch::X86Bios),
            netboot: true,
            ipxe: true,
            http: false,
        };
        let core = awl_core::dhcp::Event::Offered {
            mac,
            ip: Ipv4Addr::new(10, 77, 71, 1),
            facts,
            boot: BootDecision::Url {
                url: "tftp://10.77.71.1/boot.ipxe",
                http_client: false,
            },
            uuid: None,
            known: false,
        };
        let event = Event::dhcp(&core).unwrap();
        assert_eq!(
            event.to_string(),
            "dhcp: 52:54:00:aa:71:01 offer 10.77.71.1 (x86 BIOS, iPXE): boot tftp://10.77.71.1/boot.ipxe"
        );
        assert!(matches!(
            event,
            Event::Dhcp { mac: Some(Mac(m)), ip: Some(ip), kind: DhcpKind::Offer, .. }
                if m == mac && ip == Ipv4Addr::new(10, 77, 71, 1)
        ));

        // A whole transfer through the core's server.
        struct OneFile;
        impl awl_core::tftp::FileSource for OneFile {
            type Handle = ();
            fn open(&mut self, _: &str) -> Result<((), u64), awl_core::tftp::FileError> {
                Ok(((), 3))
            }
            fn read_at(
                &mut self,
                _: (),
                offset: u64,
                dst: &mut [u8],
            ) -> Result<usize, awl_core::tftp::FileError> {
                let rest = b"hi\n".get(offset as usize..).unwrap_or(&[]);
                dst[..rest.len()].copy_from_slice(rest);
                Ok(rest.len())
            }
        }
        let mut slots: [Option<awl_core::tftp::Transfer<()>>; 1] = Default::default();
        let mut server =
            awl_core::tftp::TftpServer::new(awl_core::tftp::Config::default(), &mut slots[..]);
        let client: SocketAddr = "10.0.0.7:2070".parse().unwrap();
        let t0 = awl_core::time::Instant::from_millis(0);
        let local = awl_core::tftp::Local::Listener;
        server.handle(t0, local, client, b"\0\x01hi.txt\0octet\0", &mut OneFile);
        let mut buf = [0u8; 516];
        let out = server.poll_transmit(t0, &mut OneFile, &mut buf).unwrap();
        let t1 = awl_core::time::Instant::from_millis(5);
        server.handle(t1, out.local, client, b"\0\x04\0\x01", &mut OneFile);
        let owned: Vec<Event> = std::iter::from_fn(|| server.poll_event())
            .filter_map(|e| Event::tftp(&e, "hi.txt"))
            .collect();
        assert_eq!(
            owned.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [
                "tftp: 10.0.0.7:2070 start \"hi.txt\" (3 bytes): blksize 512, windowsize 1 (no options)",
                "tftp: 10.0.0.7:2070 done \"hi.txt\" 3 bytes in 5 ms (600 B/s), 0 blocks resent",
            ]
        );
        assert!(matches!(
            &owned[1],
            Event::TftpEnd { file, bytes: 3, outcome: TftpOutcome::Done { retransmits: 0, elapsed }, .. }
                if file == "hi.txt" && *elapsed == Duration::from_millis(5)
        ));

        let core = TftpEvent::Refused {
            peer: "10.0.0.7:2070".parse().unwrap(),
            code: ErrorCode::FileNotFound,
            reason: "file not found",
        };
        assert_eq!(Event::tftp(&core, ""), None, "a refusal is no transfer");
        assert_eq!(
            http(151).to_string(),
            "http: 10.0.0.7:40000 GET /f151 200, 151 bytes"
        );
    }
}
