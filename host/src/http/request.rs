//! Reading request heads, bounded in size, in header lines and in time,
//! and parsing them (`httparse`).
//!
//! The head must arrive whole within the head timeout, counted from the
//! connection's accept (first request) or from the request's first byte
//! (later ones on a kept-alive connection, which may first sit idle for
//! the idle timeout). The end of a head is looked for only in the bytes
//! just read, so a client that drips one byte at a time costs linear time.

use std::io;

use tokio::net::TcpStream;
use tokio::time::Instant;

use super::Limits;

/// Why no head came.
#[derive(Debug)]
pub(super) enum HeadError {
    /// The client closed, or sat idle, between requests: nothing to say.
    Closed,
    /// Part of a head came, the rest not in time: 408.
    TimedOut,
    /// The head outgrew the size limit: 431.
    TooLarge,
    /// The connection failed.
    Io,
}

/// A parsed request head, borrowing the connection's buffer.
pub(super) struct Head<'b> {
    pub(super) method: &'b str,
    pub(super) target: &'b str,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub(super) minor: u8,
    pub(super) headers: Vec<(&'b str, &'b [u8])>,
}

/// Why a complete head is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Malformed {
    /// 400.
    Syntax,
    /// 431: more header lines than allowed.
    TooManyHeaders,
}

/// Reads into `buf` until it starts with a whole head; returns the head's
/// length. Blank lines before a request line are dropped (RFC 9112 §2.2).
/// `deadline` is when the head must be complete; `None` lets the
/// connection sit idle first (for up to the idle timeout).
pub(super) async fn read_head(
    stream: &TcpStream,
    buf: &mut Vec<u8>,
    limits: &Limits,
    mut deadline: Option<Instant>,
) -> Result<usize, HeadError> {
    if deadline.is_none() && !buf.is_empty() {
        deadline = Some(Instant::now() + limits.head_timeout);
    }
    let idle_until = Instant::now() + limits.idle_timeout;
    let mut scanned = 0;
    let mut chunk = [0u8; 4096];
    loop {
        let blank = buf
            .iter()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .count();
        if blank > 0 {
            buf.drain(..blank);
            scanned = 0;
        }
        if let Some(end) = head_end(buf, scanned) {
            return Ok(end);
        }
        scanned = buf.len();
        if buf.len() >= limits.max_head {
            return Err(HeadError::TooLarge);
        }
        let room = (limits.max_head - buf.len()).min(chunk.len());
        let until = deadline.unwrap_or(idle_until);
        let read = tokio::time::timeout_at(until, read_some(stream, &mut chunk[..room])).await;
        match read {
            Err(_) if buf.is_empty() => return Err(HeadError::Closed),
            Err(_) => return Err(HeadError::TimedOut),
            Ok(Ok(0)) => return Err(HeadError::Closed),
            Ok(Ok(n)) => {
                buf.extend_from_slice(&chunk[..n]);
                deadline.get_or_insert_with(|| Instant::now() + limits.head_timeout);
            }
            Ok(Err(_)) => return Err(HeadError::Io),
        }
    }
}

/// Reads until `buf` holds `want` bytes (a head and its body), by
/// `until`.
pub(super) async fn read_body(
    stream: &TcpStream,
    buf: &mut Vec<u8>,
    want: usize,
    until: Instant,
) -> Result<(), HeadError> {
    let mut chunk = [0u8; 8192];
    while buf.len() < want {
        let room = (want - buf.len()).min(chunk.len());
        match tokio::time::timeout_at(until, read_some(stream, &mut chunk[..room])).await {
            Err(_) => return Err(HeadError::TimedOut),
            Ok(Ok(0)) => return Err(HeadError::Closed),
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Ok(Err(_)) => return Err(HeadError::Io),
        }
    }
    Ok(())
}

async fn read_some(stream: &TcpStream, into: &mut [u8]) -> io::Result<usize> {
    loop {
        stream.readable().await?;
        match stream.try_read(into) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            other => return other,
        }
    }
}

/// Where the head in `buf` ends (just past its blank line), looking only
/// at bytes from `scanned` on (less the three a line end can span).
fn head_end(buf: &[u8], scanned: usize) -> Option<usize> {
    let from = scanned.saturating_sub(3);
    let tail = buf.get(from..)?;
    tail.iter().enumerate().find_map(|(i, &b)| {
        if b != b'\n' {
            return None;
        }
        match tail.get(i + 1..) {
            Some([b'\n', ..]) => Some(from + i + 2),
            Some([b'\r', b'\n', ..]) => Some(from + i + 3),
            _ => None,
        }
    })
}

/// Parses a whole head (as [`read_head`] found it).
pub(super) fn parse_head(head: &[u8], max_headers: usize) -> Result<Head<'_>, Malformed> {
    let mut headers = vec![httparse::EMPTY_HEADER; max_headers];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(Malformed::Syntax),
        Err(httparse::Error::TooManyHeaders) => return Err(Malformed::TooManyHeaders),
        Err(_) => return Err(Malformed::Syntax),
    }
    let (Some(method), Some(target), Some(minor)) = (req.method, req.path, req.version) else {
        return Err(Malformed::Syntax);
    };
    Ok(Head {
        method,
        target,
        minor,
        headers: req.headers.iter().map(|h| (h.name, h.value)).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_ends_are_found_across_reads() {
        let head = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /next";
        assert_eq!(head_end(head, 0), Some(27));
        // Found when only the last bytes are new.
        assert_eq!(head_end(head, 25), Some(27));
        assert_eq!(head_end(&head[..26], 0), None);
        assert_eq!(head_end(b"GET / HTTP/1.0\n\n", 14), Some(16));
        assert_eq!(head_end(b"GET / HTTP/1.0\r\nA: b\n\r\n", 0), Some(23));
    }

    #[test]
    fn heads_parse_or_are_refused() {
        let head = parse_head(
            b"GET /a?b HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\n\r\n",
            64,
        )
        .ok()
        .unwrap();
        assert_eq!((head.method, head.target, head.minor), ("GET", "/a?b", 1));
        assert_eq!(head.headers, [("Host", &b"x"[..]), ("Range", b"bytes=0-1")]);
        let many: String = (0..65).map(|i| format!("X-{i}: y\r\n")).collect();
        let too_many = format!("GET / HTTP/1.1\r\n{many}\r\n");
        assert_eq!(
            parse_head(too_many.as_bytes(), 64).err(),
            Some(Malformed::TooManyHeaders)
        );
        for bad in [
            &b"GET / HTTP/2.0\r\n\r\n"[..],
            b"GET / FTP/1.0\r\n\r\n",
            b"GET\r\n\r\n",
            b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
            b"G\0T / HTTP/1.1\r\n\r\n",
        ] {
            assert_eq!(parse_head(bad, 64).err(), Some(Malformed::Syntax));
        }
    }
}
