//! `GET /api/v1/events`: the event bus as Server-Sent Events. The kept
//! events first, then each one as it is published; a comment every 15 s
//! so a client that left is noticed (its write fails) and proxies keep
//! the stream open.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use crate::events::{Event, Events, TftpOutcome};
use crate::http::Reply;

/// Event streams open at once, at most: each holds a connection, and the
/// boot clients need theirs.
pub(super) const MAX_STREAMS: usize = 32;

/// Counts an open stream while it lives.
struct Open(Arc<AtomicUsize>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The stream's reply; its producer runs on the HTTP runtime until the
/// client leaves. `None` when [`MAX_STREAMS`] are open (`open` counts
/// them).
pub(super) fn events(bus: &Events, open: &Arc<AtomicUsize>) -> Option<Reply> {
    if open.fetch_add(1, Ordering::Relaxed) >= MAX_STREAMS {
        open.fetch_sub(1, Ordering::Relaxed);
        return None;
    }
    let guard = Open(Arc::clone(open));
    let (kept, mut live) = bus.subscribe();
    let (tx, rx) = mpsc::channel::<Vec<u8>>(256);
    tokio::spawn(async move {
        let _open = guard;
        let mut first = String::from("retry: 2000\n\n");
        for event in &kept {
            first.push_str(&frame(event));
        }
        if tx.send(first.into_bytes()).await.is_err() {
            return;
        }
        loop {
            let next = tokio::time::timeout(Duration::from_secs(15), live.recv()).await;
            let chunk = match next {
                Err(_) => ": ping\n\n".to_string(),
                Ok(Ok(event)) => frame(&event),
                Ok(Err(RecvError::Lagged(n))) => {
                    format!("event: lagged\ndata: {}\n\n", json!({ "missed": n }))
                }
                Ok(Err(RecvError::Closed)) => return,
            };
            if tx.send(chunk.into_bytes()).await.is_err() {
                return;
            }
        }
    });
    let mut reply = Reply::new(200, "text/event-stream", Vec::new())
        .with_header("Cache-Control", "no-store")
        .with_header("X-Accel-Buffering", "no");
    reply.stream = Some(rx);
    Some(reply)
}

/// One event as an SSE frame: `event: KIND`, `data: JSON`.
fn frame(event: &Event) -> String {
    let (kind, data) = describe(event);
    format!("event: {kind}\ndata: {data}\n\n")
}

/// The event's kind and its JSON (every kind has `at`, unix
/// milliseconds, and `text`, the line logged).
pub(super) fn describe(event: &Event) -> (&'static str, Value) {
    let at = event
        .at()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let text = event.to_string();
    let (kind, mut data) = match event {
        Event::Dhcp { mac, ip, kind, .. } => (
            "dhcp",
            json!({ "mac": mac.map(|m| m.to_string()), "ip": ip, "type": format!("{kind:?}").to_lowercase() }),
        ),
        Event::TftpStart {
            peer,
            file,
            size,
            upload,
            ..
        } => (
            "transfer",
            json!({ "protocol": "tftp", "phase": "start", "peer": peer.ip(), "port": peer.port(), "file": file, "size": size, "upload": upload }),
        ),
        Event::TftpEnd {
            peer,
            file,
            bytes,
            outcome,
            ..
        } => (
            "transfer",
            json!({ "protocol": "tftp", "phase": "end", "peer": peer.ip(), "port": peer.port(), "file": file, "bytes": bytes, "ok": matches!(outcome, TftpOutcome::Done { .. }) }),
        ),
        Event::HttpStart {
            peer, path, size, ..
        } => (
            "transfer",
            json!({ "protocol": "http", "phase": "start", "peer": peer.ip(), "port": peer.port(), "file": path, "size": size }),
        ),
        Event::HttpProgress {
            peer,
            path,
            bytes,
            size,
            ..
        } => (
            "transfer",
            json!({ "protocol": "http", "phase": "progress", "peer": peer.ip(), "port": peer.port(), "file": path, "bytes": bytes, "size": size }),
        ),
        Event::HttpFetch {
            peer,
            method,
            path,
            status,
            bytes,
            ..
        } => (
            "http",
            json!({ "peer": peer.ip(), "port": peer.port(), "method": method, "file": path, "status": status, "bytes": bytes }),
        ),
        Event::Syslog {
            peer,
            system,
            severity,
            text,
            ..
        } => (
            "syslog",
            json!({ "peer": peer.ip(), "system": system, "severity": severity, "line": text }),
        ),
        Event::Install {
            system,
            state,
            since,
            what,
            ..
        } => (
            "install",
            json!({ "system": system, "state": state, "since": since, "what": what }),
        ),
    };
    data["at"] = json!(at);
    data["text"] = json!(text);
    (kind, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn streams_are_limited_and_counted_back() {
        let bus = Events::default();
        let open = Arc::new(AtomicUsize::new(0));
        let mut replies: Vec<Reply> = (0..MAX_STREAMS)
            .map(|_| events(&bus, &open).expect("a stream"))
            .collect();
        assert!(events(&bus, &open).is_none(), "one too many");
        // A client leaves: its producer ends, and a new stream may open.
        drop(replies.pop());
        for _ in 0..100 {
            if open.load(Ordering::Relaxed) < MAX_STREAMS {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(events(&bus, &open).is_some());
    }
}
