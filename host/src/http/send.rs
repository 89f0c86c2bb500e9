//! Writing responses: the head from user space, file bodies with
//! `sendfile(2)` straight from the page cache.
//!
//! Writes wait for the socket's writability through tokio and give up when
//! the client takes nothing for the send timeout. A head that a file body
//! follows goes out with `MSG_MORE`, so it shares the body's first segment.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, SystemTime};

use nix::sys::sendfile::sendfile64;
use nix::sys::socket::{send, MsgFlags};
use tokio::io::Interest;
use tokio::net::TcpStream;

/// A response before it is written.
pub(super) struct Response {
    pub(super) status: u16,
    /// Fields besides `Server`, `Date`, `Content-Length` and `Connection`.
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Body,
}

/// What follows the head.
pub(super) enum Body {
    /// Nothing, and no `Content-Length` (204, 304).
    None,
    /// Bytes from memory: error texts, dynamic replies.
    Bytes(Vec<u8>),
    /// `len` bytes of `file` from `start`.
    File { file: File, start: u64, len: u64 },
    /// Chunks as a producer hands them over, until it drops its sender
    /// (Server-Sent Events); no `Content-Length`, the connection closes
    /// after it.
    Stream(tokio::sync::mpsc::Receiver<Vec<u8>>),
    /// `multipart/byteranges`: each part's head, then its bytes; then the
    /// closing delimiter.
    Parts {
        file: File,
        parts: Vec<Part>,
        tail: String,
    },
}

/// One part of a `multipart/byteranges` body.
pub(super) struct Part {
    /// The delimiter and the part's fields, up to its blank line.
    pub(super) head: String,
    pub(super) start: u64,
    pub(super) len: u64,
}

impl Body {
    /// The `Content-Length`; `None` for [`Body::None`].
    pub(super) fn len(&self) -> Option<u64> {
        match self {
            Self::None | Self::Stream(_) => None,
            Self::Bytes(b) => Some(b.len() as u64),
            Self::File { len, .. } => Some(*len),
            Self::Parts { parts, tail, .. } => Some(
                parts
                    .iter()
                    .map(|p| p.head.len() as u64 + p.len)
                    .sum::<u64>()
                    + tail.len() as u64,
            ),
        }
    }
}

impl Response {
    pub(super) fn new(status: u16, headers: Vec<(String, String)>, body: Body) -> Self {
        Self {
            status,
            headers,
            body,
        }
    }

    /// An error: the code and reason as a one-line text body
    /// ("404 Not Found").
    pub(super) fn error(status: u16) -> Self {
        Self::new(
            status,
            vec![("Content-Type".into(), "text/plain".into())],
            Body::Bytes(format!("{status} {}\n", reason(status)).into_bytes()),
        )
    }

    /// Adds fields.
    pub(super) fn with_headers(mut self, headers: Vec<(String, String)>) -> Self {
        self.headers.extend(headers);
        self
    }

    /// The head, as written.
    fn head(&self, close: bool) -> String {
        use std::fmt::Write;
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nServer: awl\r\nDate: {}\r\n",
            self.status,
            reason(self.status),
            httpdate::fmt_http_date(SystemTime::now())
        );
        if let Some(len) = self.body.len() {
            let _ = write!(head, "Content-Length: {len}\r\n");
        }
        for (name, value) in &self.headers {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        if close {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        head
    }
}

/// Writes `response` (its head only when `head_only`); returns the body
/// bytes sent. `idle` bounds how long the client may take nothing.
pub(super) async fn write_response(
    stream: &TcpStream,
    response: Response,
    head_only: bool,
    close: bool,
    idle: Duration,
) -> io::Result<u64> {
    write_response_with(stream, response, head_only, close, idle, &mut |_| {}).await
}

/// [`write_response`], telling `progress` the body bytes of a file sent so
/// far as they go.
pub(super) async fn write_response_with(
    stream: &TcpStream,
    response: Response,
    head_only: bool,
    close: bool,
    idle: Duration,
    progress: &mut (dyn FnMut(u64) + Send),
) -> io::Result<u64> {
    let head = response.head(close);
    let body_len = if head_only {
        0
    } else {
        response.body.len().unwrap_or(0)
    };
    match response.body {
        _ if head_only => write_all(stream, head.as_bytes(), false, idle).await?,
        Body::None => write_all(stream, head.as_bytes(), false, idle).await?,
        Body::Bytes(bytes) => {
            let mut all = head.into_bytes();
            all.extend_from_slice(&bytes);
            write_all(stream, &all, false, idle).await?;
        }
        Body::Stream(mut chunks) => {
            write_all(stream, head.as_bytes(), false, idle).await?;
            let mut sent = 0;
            while let Some(chunk) = chunks.recv().await {
                write_all(stream, &chunk, false, idle).await?;
                sent += chunk.len() as u64;
            }
            return Ok(sent);
        }
        Body::File { file, start, len } => {
            write_all(stream, head.as_bytes(), len > 0, idle).await?;
            send_file(stream, &file, start, len, idle, &mut |n| progress(n)).await?;
        }
        Body::Parts { file, parts, tail } => {
            write_all(stream, head.as_bytes(), true, idle).await?;
            let mut before = 0;
            for part in &parts {
                before += part.head.len() as u64;
                write_all(stream, part.head.as_bytes(), true, idle).await?;
                send_file(stream, &file, part.start, part.len, idle, &mut |n| {
                    progress(before + n)
                })
                .await?;
                before += part.len;
            }
            write_all(stream, tail.as_bytes(), false, idle).await?;
        }
    }
    Ok(body_len)
}

/// Waits until `stream` can take bytes, for at most `idle`.
async fn writable(stream: &TcpStream, idle: Duration) -> io::Result<()> {
    tokio::time::timeout(idle, stream.writable())
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the client takes nothing"))?
}

/// Writes all of `bytes`; `more` tells the kernel more follows at once
/// (`MSG_MORE`), so a short head does not go out in a segment of its own.
async fn write_all(
    stream: &TcpStream,
    mut bytes: &[u8],
    more: bool,
    idle: Duration,
) -> io::Result<()> {
    let flags = libc::MSG_NOSIGNAL | if more { libc::MSG_MORE } else { 0 };
    let flags = MsgFlags::from_bits_retain(flags);
    while !bytes.is_empty() {
        writable(stream, idle).await?;
        match stream.try_io(Interest::WRITABLE, || {
            send(stream.as_raw_fd(), bytes, flags).map_err(io::Error::from)
        }) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Most bytes one `sendfile` call moves (the kernel's own cap).
const SENDFILE_MAX: u64 = 0x7fff_f000;

/// Sends `len` bytes of `file` from `start` with `sendfile(2)`: from the
/// page cache to the socket, never through this process.
async fn send_file(
    stream: &TcpStream,
    file: &File,
    start: u64,
    len: u64,
    idle: Duration,
    progress: &mut (dyn FnMut(u64) + Send),
) -> io::Result<()> {
    let mut offset = i64::try_from(start).map_err(|_| io::ErrorKind::InvalidInput)?;
    let end = start.saturating_add(len);
    loop {
        let left = end.saturating_sub(offset as u64);
        if left == 0 {
            return Ok(());
        }
        writable(stream, idle).await?;
        let count = left.min(SENDFILE_MAX) as usize;
        match stream.try_io(Interest::WRITABLE, || {
            sendfile64(stream.as_fd(), file.as_fd(), Some(&mut offset), count)
                .map_err(io::Error::from)
        }) {
            // The file is shorter than it was when opened.
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file shrank while being sent",
                ))
            }
            Ok(_) => progress(offset as u64 - start),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
}

/// The reason phrase for `status`.
pub(super) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_and_lengths() {
        let r = Response::error(404);
        assert_eq!(r.body.len(), Some(14));
        let head = r.head(true);
        assert!(head.starts_with("HTTP/1.1 404 Not Found\r\nServer: awl\r\nDate: "));
        assert!(head.ends_with(
            "Content-Length: 14\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
        ));
        let r = Response::new(304, vec![("ETag".into(), "\"x\"".into())], Body::None);
        let head = r.head(false);
        assert!(!head.contains("Content-Length") && head.ends_with("ETag: \"x\"\r\n\r\n"));
        let file = File::open("/dev/null").unwrap();
        let parts = vec![
            Part {
                head: "ab".into(),
                start: 0,
                len: 10,
            },
            Part {
                head: "cde".into(),
                start: 20,
                len: 5,
            },
        ];
        let body = Body::Parts {
            file,
            parts,
            tail: "fg".into(),
        };
        assert_eq!(body.len(), Some(2 + 10 + 3 + 5 + 2));
    }
}
