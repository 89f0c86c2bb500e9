//! HTTP/1.1 for boot clients: boot scripts and answer files rendered per
//! request ([`Dynamic`]), and static trees ([`Mount`]: kernels, initrds,
//! install trees, mirrors, ISOs) with `Range`, conditional requests and
//! file bodies sent by `sendfile(2)`.
//!
//! A small server of its own on tokio (no hyper): `sendfile` needs the raw
//! socket. Request heads are bounded in size, header lines and time
//! ([`Limits`]); connections are kept alive (HTTP/1.1, unless
//! `Connection: close`); `GET` and `HEAD` are served, and `POST` to
//! [`Dynamic`] only (the install callback). See
//! docs/http-host.md for every decision.
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! use std::sync::Arc;
//! use awl::http::{serve, HttpSettings, Mount};
//! let settings = HttpSettings::new(
//!     "0.0.0.0:80".parse()?,
//!     vec![Mount { prefix: "/boot/".into(), root: "/srv/tftp".into() }],
//! );
//! let listener = tokio::net::TcpListener::bind(settings.listen).await?;
//! serve(listener, Arc::new(settings), None).await
//! # }
//! ```

mod files;
#[doc(hidden)]
pub mod query;
pub mod range;
mod request;
mod send;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use awl_core::wire::http::decode_path;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::events::{Event, Events};
use crate::tools::decode::printable;
use files::{Refused, Site};
use request::{HeadError, Malformed};
use send::{write_response, write_response_with, Body, Response};

/// Where and what the HTTP service serves.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// The listening address (`--http-listen`); [`serve`] takes a listener
    /// already bound, this is for whoever binds it.
    pub listen: SocketAddr,
    /// Static trees. A path goes to the mount with the longest matching
    /// prefix.
    pub mounts: Vec<Mount>,
    /// Bounds on what one client may cost.
    pub limits: Limits,
    /// Where answered requests, and big bodies' progress, are published.
    pub events: Option<Events>,
}

impl HttpSettings {
    /// These mounts on `listen`, with the default [`Limits`].
    pub fn new(listen: SocketAddr, mounts: Vec<Mount>) -> Self {
        Self {
            listen,
            mounts,
            limits: Limits::default(),
            events: None,
        }
    }
}

/// A directory served under a URL prefix.
#[derive(Debug, Clone)]
pub struct Mount {
    /// Starts and ends with `/`, e.g. `/boot/` (`/` for the whole site).
    pub prefix: String,
    /// The directory; symbolic links in it are followed while they stay
    /// inside it.
    pub root: PathBuf,
}

/// Bounds on what one client may cost.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request head (request line and header lines), bytes; a
    /// larger one gets 431.
    pub max_head: usize,
    /// Most header lines; more get 431.
    pub max_headers: usize,
    /// A request head must arrive whole within this (from accept, or from
    /// its first byte on a kept-alive connection); else 408 and close.
    pub head_timeout: Duration,
    /// How long a kept-alive connection may sit idle between requests.
    pub idle_timeout: Duration,
    /// How long a client may take nothing of a response before it is
    /// dropped.
    pub send_timeout: Duration,
    /// Connections at once; more get 503 (`Retry-After: 1`) and a close.
    pub max_connections: usize,
    /// Most parts of a multi-range answer after merging; more get the
    /// whole file (200).
    pub max_ranges: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_head: 16 * 1024,
            max_headers: 64,
            head_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(15),
            send_timeout: Duration::from_secs(60),
            max_connections: 1024,
            max_ranges: 16,
        }
    }
}

/// A request method that reaches [`Dynamic`] and the mounts (others get
/// 405 before).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`: answered as `GET`, without the body.
    Head,
    /// `POST`: only [`Dynamic`] answers it (the install callback, the
    /// API); a mount answers 405.
    Post,
    /// `PUT`: [`Dynamic`] only (the API).
    Put,
    /// `PATCH`: [`Dynamic`] only (the API).
    Patch,
    /// `DELETE`: [`Dynamic`] only (the API).
    Delete,
}

impl Method {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "GET" => Self::Get,
            "HEAD" => Self::Head,
            "POST" => Self::Post,
            "PUT" => Self::Put,
            "PATCH" => Self::Patch,
            "DELETE" => Self::Delete,
            _ => return None,
        })
    }
}

/// The largest request body accepted (by `Content-Length`) for the API
/// (`/api/`); a larger one gets 413, one without a length (chunked) 411.
pub const MAX_BODY: u64 = 1 << 20;

/// The largest request body anywhere else (the install callback's POST).
pub const MAX_OTHER_BODY: u64 = 4096;

/// A request, as [`Dynamic`] sees it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `GET`, `HEAD` or `POST`.
    pub method: Method,
    /// Percent-decoded; starts with `/`; no `..` segment, backslash, NUL
    /// or control character.
    pub path: &'a str,
    /// What follows `?`, as sent (not decoded).
    pub query: Option<&'a str>,
    /// The client.
    pub peer: SocketAddr,
    /// Header lines as sent: name, value.
    pub headers: &'a [(&'a str, &'a [u8])],
    /// The body (at most [`MAX_BODY`] bytes; empty for none).
    pub body: &'a [u8],
}

impl<'a> Request<'a> {
    /// The first header called `name` (any case), trimmed; `None` when
    /// absent or not UTF-8.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        find_header(self.headers, name)
    }
}

/// A rendered answer.
#[derive(Debug)]
pub struct Reply {
    /// 200 to 599.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: String,
    /// The whole body (a `HEAD` gets its length, not the bytes).
    pub body: Vec<u8>,
    /// More fields (`Location`, `Cache-Control`…); framing fields
    /// (`Content-Length`, `Transfer-Encoding`, `Connection`) are dropped.
    pub headers: Vec<(String, String)>,
    /// A body that goes on (Server-Sent Events): sent after `body`, chunk
    /// by chunk until the sender is dropped or the client leaves; the
    /// connection closes after it.
    pub stream: Option<tokio::sync::mpsc::Receiver<Vec<u8>>>,
}

impl Reply {
    /// A reply with no extra fields.
    pub fn new(status: u16, content_type: impl Into<String>, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            content_type: content_type.into(),
            body: body.into(),
            headers: Vec::new(),
            stream: None,
        }
    }

    /// With this field added.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// Answers rendered per request: boot scripts, answer files (the
/// inventory plugs in here). Asked before the mounts.
pub trait Dynamic: Send + Sync + 'static {
    /// The answer for `request`, or `None` when the path is not this one's
    /// (the mounts are tried next). Runs on the server's runtime: it must
    /// not block for long.
    fn respond(&self, request: &Request<'_>) -> Option<Reply>;

    /// Asked before a request's body is read (`request.body` is empty):
    /// a reply refuses it unread, and the connection closes after it (an
    /// API write without its token costs no buffered body).
    fn refuse_body(&self, _request: &Request<'_>) -> Option<Reply> {
        None
    }
}

/// What every connection shares.
struct Shared {
    settings: Arc<HttpSettings>,
    site: Site,
    dynamic: Option<Arc<dyn Dynamic>>,
}

/// Binds `settings.listen` and checks the mounts, so a mistake stops awl
/// before anything runs. Returns the service and how to stop it: `run`
/// serves on the calling thread (with a runtime of its own, a few worker
/// threads, as `sendfile` may wait for the disk) until `stop` is called,
/// then returns `Ok`; it returns an error only as [`serve`] does.
pub fn bind(
    settings: HttpSettings,
    dynamic: Option<Arc<dyn Dynamic>>,
) -> Result<(
    impl FnOnce() -> Result<()> + Send + 'static,
    impl FnOnce() + Send + 'static,
)> {
    Site::new(&settings.mounts)?;
    let listener = std::net::TcpListener::bind(settings.listen)
        .with_context(|| format!("http: cannot listen on {}", settings.listen))?;
    listener.set_nonblocking(true)?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let run = move || {
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("awl-http")
            .enable_all()
            .build()
            .context("http: runtime")?;
        let result = runtime.block_on(async move {
            let listener = TcpListener::from_std(listener).context("http: listener")?;
            tokio::select! {
                result = serve(listener, Arc::new(settings), dynamic) => result,
                // Only a stop asked for stops (not a dropped handle).
                Ok(()) = stop_rx => Ok(()),
            }
        });
        // Connections still open end with the process.
        runtime.shutdown_background();
        result
    };
    let stop = move || {
        let _ = stop_tx.send(());
    };
    Ok((run, stop))
}

/// Serves `listener` until the task is dropped; returns an error only when
/// a mount's root is not a directory or accepting fails for good.
pub async fn serve(
    listener: TcpListener,
    settings: Arc<HttpSettings>,
    dynamic: Option<Arc<dyn Dynamic>>,
) -> Result<()> {
    let site = Site::new(&settings.mounts)?;
    let local = listener.local_addr().context("http: listener")?;
    let mounts: Vec<String> = settings
        .mounts
        .iter()
        .map(|m| format!("{} under {}", m.root.display(), m.prefix))
        .collect();
    info!("http: serving {} on {local}", mounts.join(", "));
    let slots = Arc::new(Semaphore::new(settings.limits.max_connections));
    let shared = Arc::new(Shared {
        settings,
        site,
        dynamic,
    });
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => match e.raw_os_error() {
                Some(libc::ECONNABORTED | libc::EINTR | libc::EPROTO) => continue,
                Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM) => {
                    warn!("http: cannot accept a connection: {e}; retrying in 100 ms");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
                _ => return Err(e).context("http: accept"),
            },
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            info!("http: {peer} 503: every connection is taken");
            let _ = stream.try_write(BUSY);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            connection(&stream, peer, &shared).await;
            drop(slot);
        });
    }
}

/// Sent, without reading the request, when every connection is taken.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nServer: awl\r\nContent-Length: 24\r\n\
Content-Type: text/plain\r\nRetry-After: 1\r\nConnection: close\r\n\r\n503 Service Unavailable\n";

/// Serves one connection: requests one after the other until the client
/// or a rule closes it.
async fn connection(stream: &TcpStream, peer: SocketAddr, shared: &Shared) {
    let limits = &shared.settings.limits;
    let mut buf = Vec::new();
    let mut deadline = Some(Instant::now() + limits.head_timeout);
    loop {
        let refusal = match request::read_head(stream, &mut buf, limits, deadline.take()).await {
            Ok(len) => {
                let Some(used) = exchange(stream, peer, &mut buf, len, shared).await else {
                    break;
                };
                buf.drain(..used);
                continue;
            }
            Err(HeadError::Closed | HeadError::Io) => return,
            Err(HeadError::TimedOut) => (408, "no whole request head in time"),
            Err(HeadError::TooLarge) => (431, "request head too large"),
        };
        refuse(stream, peer, refusal, limits).await;
        break;
    }
    linger(stream).await;
}

/// Answers a head that cannot be served at all (and will be closed).
async fn refuse(stream: &TcpStream, peer: SocketAddr, (status, why): (u16, &str), limits: &Limits) {
    info!("http: {peer} {status}: {why}");
    let response = Response::error(status);
    let _ = write_response(stream, response, false, true, limits.send_timeout).await;
}

/// Closes our side, then reads what the client still sends for a moment,
/// so a response is not lost to a reset when unread bytes remain.
async fn linger(stream: &TcpStream) {
    let _ = socket2::SockRef::from(stream).shutdown(std::net::Shutdown::Write);
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        for _ in 0..16 {
            if stream.readable().await.is_err() {
                return;
            }
            match stream.try_read(&mut sink) {
                Ok(0) => return,
                Err(e) if e.kind() != std::io::ErrorKind::WouldBlock => return,
                _ => {}
            }
        }
    })
    .await;
}

/// Answers the request whose head is `buf[..len]`, reading its body
/// first; returns how many bytes of `buf` it took when the connection
/// stays open.
async fn exchange(
    stream: &TcpStream,
    peer: SocketAddr,
    buf: &mut Vec<u8>,
    len: usize,
    shared: &Shared,
) -> Option<usize> {
    let limits = &shared.settings.limits;
    let body_len = match request::parse_head(&buf[..len], limits.max_headers) {
        Ok(head) => match body_length(&head.headers) {
            Ok(n) if n <= body_limit(head.target) => Ok(n as usize),
            Ok(_) => Err((413, "request body too large")),
            Err(BodyLength::Unsized) => Err((411, "a request body needs a Content-Length")),
            Err(BodyLength::Bad) => Err((400, "bad Content-Length")),
        },
        Err(Malformed::Syntax) => Err((400, "malformed request head")),
        Err(Malformed::TooManyHeaders) => Err((431, "too many header lines")),
    };
    let body_len = match body_len {
        Ok(n) => n,
        Err(refusal) => {
            refuse(stream, peer, refusal, limits).await;
            return None;
        }
    };
    if body_len > 0 {
        if let Some(refusal) = body_refusal(&buf[..len], peer, shared) {
            let status = refusal.status;
            let sent = write_response(stream, refusal, false, true, limits.send_timeout).await;
            let bytes = sent.as_ref().map_or(0, |n| *n);
            if let Ok(head) = request::parse_head(&buf[..len], limits.max_headers) {
                let target = shorten(&redact(&printable(head.target.as_bytes())));
                let method = printable(head.method.as_bytes());
                info!("http: {peer} {method} {target} {status} before its body, {bytes} bytes");
                publish_fetch(shared, peer, method, target, status, bytes);
            }
            return None;
        }
        let until = Instant::now() + limits.head_timeout;
        if request::read_body(stream, buf, len + body_len, until)
            .await
            .is_err()
        {
            refuse(stream, peer, (408, "no whole request body in time"), limits).await;
            return None;
        }
    }
    let head = request::parse_head(&buf[..len], limits.max_headers).ok()?;
    let body = &buf[len..len + body_len];
    let close = head.minor == 0 || wants_close(&head.headers);
    let method = Method::parse(head.method);
    let response = match method {
        Some(method) => route(method, &head, body, peer, shared),
        None => Response::error(405).with_headers(vec![("Allow".into(), "GET, HEAD".into())]),
    };
    let status = response.status;
    let streamed = matches!(response.body, Body::Stream(_));
    let close = close || streamed;
    let head_only = method == Some(Method::Head);
    let target = shorten(&redact(&printable(head.target.as_bytes())));
    let mut progress = Progress::new(shared, peer, &target, &response, head_only);
    let sent = write_response_with(
        stream,
        response,
        head_only,
        close,
        limits.send_timeout,
        &mut |n| progress.sent(n),
    )
    .await;
    let what = format!(
        "http: {peer} {} {target} {status}",
        printable(head.method.as_bytes())
    );
    let bytes = match &sent {
        Ok(bytes) => {
            info!("{what}, {bytes} bytes");
            *bytes
        }
        Err(e) => {
            info!("{what}, not sent whole: {e}");
            progress.last
        }
    };
    publish_fetch(
        shared,
        peer,
        printable(head.method.as_bytes()),
        target,
        status,
        bytes,
    );
    (sent.is_ok() && !close).then_some(len + body_len)
}

/// Publishes an answered request on the event bus, when there is one.
fn publish_fetch(
    shared: &Shared,
    peer: SocketAddr,
    method: String,
    path: String,
    status: u16,
    bytes: u64,
) {
    if let Some(events) = &shared.settings.events {
        events.publish(Event::HttpFetch {
            at: std::time::SystemTime::now(),
            peer,
            method,
            path,
            status,
            bytes,
        });
    }
}

/// Reports a big file body's progress to the event bus, at most every
/// [`Events::PROGRESS_EVERY`].
struct Progress {
    events: Option<(Events, SocketAddr, String, u64)>,
    reported: Instant,
    last: u64,
}

impl Progress {
    fn new(
        shared: &Shared,
        peer: SocketAddr,
        target: &str,
        response: &Response,
        head_only: bool,
    ) -> Self {
        let size = response.body.len().unwrap_or(0);
        let file = matches!(response.body, Body::File { .. } | Body::Parts { .. });
        let events = shared
            .settings
            .events
            .clone()
            .filter(|_| file && !head_only && size >= Events::PROGRESS_FROM)
            .map(|events| {
                events.publish(Event::HttpStart {
                    at: std::time::SystemTime::now(),
                    peer,
                    path: target.to_string(),
                    size,
                });
                (events, peer, target.to_string(), size)
            });
        Self {
            events,
            reported: Instant::now(),
            last: 0,
        }
    }

    fn sent(&mut self, bytes: u64) {
        self.last = bytes;
        let Some((events, peer, path, size)) = &self.events else {
            return;
        };
        if self.reported.elapsed() >= Events::PROGRESS_EVERY && bytes < *size {
            self.reported = Instant::now();
            events.publish(Event::HttpProgress {
                at: std::time::SystemTime::now(),
                peer: *peer,
                path: path.clone(),
                bytes,
                size: *size,
            });
        }
    }
}

/// [`Dynamic::refuse_body`]'s answer for the request whose head is `head`.
fn body_refusal(head: &[u8], peer: SocketAddr, shared: &Shared) -> Option<Response> {
    let dynamic = shared.dynamic.as_ref()?;
    let head = request::parse_head(head, shared.settings.limits.max_headers).ok()?;
    let method = Method::parse(head.method)?;
    let (path, query) = check_path(head.target).ok()?;
    let request = Request {
        method,
        path: &path,
        query,
        peer,
        headers: &head.headers,
        body: &[],
    };
    dynamic.refuse_body(&request).map(from_reply)
}

/// The answer to a request: refused paths, then [`Dynamic`], then the
/// mounts (`GET` and `HEAD` only).
fn route(
    method: Method,
    head: &request::Head<'_>,
    body: &[u8],
    peer: SocketAddr,
    shared: &Shared,
) -> Response {
    let (path, query) = match check_path(head.target) {
        Ok(checked) => checked,
        Err(status) => return Response::error(status),
    };
    if let Some(dynamic) = &shared.dynamic {
        let request = Request {
            method,
            path: &path,
            query,
            peer,
            headers: &head.headers,
            body,
        };
        if let Some(reply) = dynamic.respond(&request) {
            return from_reply(reply);
        }
    }
    if !matches!(method, Method::Get | Method::Head) {
        return Response::error(405).with_headers(vec![("Allow".into(), "GET, HEAD".into())]);
    }
    match shared.site.open(&path) {
        Ok(opened) => files::answer(
            opened,
            method,
            &head.headers,
            shared.settings.limits.max_ranges,
        ),
        Err(Refused::NotFound) => Response::error(404),
        Err(Refused::Forbidden) => Response::error(403),
    }
}

/// The decoded path of a request target, and its query; or the status
/// that refuses it: 400 for a bad escape, NUL, control character,
/// backslash or a target that is not a path; 403 for a `..` segment (also
/// encoded).
fn check_path(target: &str) -> Result<(String, Option<&str>), u16> {
    // The absolute form (`http://host/path`) that proxies send.
    let target = match target.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => {
            rest.find('/').map_or("/", |slash| &rest[slash..])
        }
        _ => target,
    };
    if !target.starts_with('/') {
        return Err(400);
    }
    let (raw, query) = match target.split_once('?') {
        Some((raw, query)) => (raw, Some(query)),
        None => (target, None),
    };
    let mut buf = vec![0u8; raw.len()];
    let path = decode_path(raw, &mut buf).map_err(|_| 400u16)?;
    if path.contains(|c: char| c == '\\' || c.is_control()) {
        return Err(400);
    }
    if path.split('/').any(|segment| segment == "..") {
        return Err(403);
    }
    Ok((path.to_string(), query))
}

/// A [`Dynamic`] reply as a response.
fn from_reply(reply: Reply) -> Response {
    if !(200..=599).contains(&reply.status) {
        warn!("http: a dynamic reply has status {}", reply.status);
        return Response::error(500);
    }
    let mut headers: Vec<(String, String)> = reply
        .headers
        .into_iter()
        .filter(|(name, _)| {
            ![
                "content-length",
                "transfer-encoding",
                "connection",
                "content-type",
            ]
            .iter()
            .any(|framing| name.eq_ignore_ascii_case(framing))
        })
        .collect();
    let body = if matches!(reply.status, 204 | 304) {
        Body::None
    } else {
        headers.push(("Content-Type".into(), reply.content_type));
        match reply.stream {
            Some(mut chunks) => {
                if !reply.body.is_empty() {
                    // The first chunk, ahead of the producer's.
                    let (tx, rx) = tokio::sync::mpsc::channel(64);
                    let first = reply.body;
                    tokio::spawn(async move {
                        if tx.send(first).await.is_err() {
                            return;
                        }
                        while let Some(chunk) = chunks.recv().await {
                            if tx.send(chunk).await.is_err() {
                                return;
                            }
                        }
                    });
                    Body::Stream(rx)
                } else {
                    Body::Stream(chunks)
                }
            }
            None => Body::Bytes(reply.body),
        }
    };
    Response::new(reply.status, headers, body)
}

/// The first header called `name` (any case), trimmed, if UTF-8.
fn find_header<'a>(headers: &[(&'a str, &'a [u8])], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| std::str::from_utf8(v).ok())
        .map(str::trim)
}

/// Whether any `Connection` field lists `close`.
fn wants_close(headers: &[(&str, &[u8])]) -> bool {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
        .filter_map(|(_, v)| std::str::from_utf8(v).ok())
        .flat_map(|v| v.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("close"))
}

/// The most body bytes a request to `target` may carry.
fn body_limit(target: &str) -> u64 {
    let path = target.split_once("://").map_or(target, |(_, rest)| {
        rest.find('/').map_or("/", |slash| &rest[slash..])
    });
    if path.starts_with("/api/") {
        MAX_BODY
    } else {
        MAX_OTHER_BODY
    }
}

/// Why a request's body length is not known.
#[doc(hidden)]
#[derive(Debug, PartialEq, Eq)]
pub enum BodyLength {
    /// `Transfer-Encoding`: a body without a length (411).
    Unsized,
    /// A `Content-Length` that is not one number (RFC 9112 §6.3): 400.
    Bad,
}

/// The request body's length: its `Content-Length`, or 0 (public for
/// the fuzz target).
#[doc(hidden)]
pub fn body_length(headers: &[(&str, &[u8])]) -> Result<u64, BodyLength> {
    let mut length = None;
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(BodyLength::Unsized);
        }
        if name.eq_ignore_ascii_case("content-length") {
            let text = std::str::from_utf8(value)
                .map_err(|_| BodyLength::Bad)?
                .trim();
            if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
                return Err(BodyLength::Bad);
            }
            let n: u64 = text.parse().map_err(|_| BodyLength::Bad)?;
            if length.is_some_and(|l| l != n) {
                return Err(BodyLength::Bad);
            }
            length = Some(n);
        }
    }
    Ok(length.unwrap_or(0))
}

/// A target with install tokens hidden (`token=…` in the query,
/// `/token/…/` in a path), for a log line: tokens are never logged.
pub(crate) fn redact(target: &str) -> String {
    let mut out = String::with_capacity(target.len());
    let mut rest = target;
    while let Some(at) = rest.find("token") {
        let after = &rest[at + 5..];
        out.push_str(&rest[..at + 5]);
        match after.chars().next() {
            Some(sep @ ('=' | '/')) => {
                out.push(sep);
                out.push_str("(hidden)");
                let end = after[1..]
                    .find(['&', '/', '#'])
                    .map_or(after.len(), |e| e + 1);
                rest = &after[end..];
            }
            _ => rest = after,
        }
    }
    out.push_str(rest);
    out
}

/// At most 200 characters of a target, for a log line.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests;
