/*! The appliance's HTTP GET responder, one TCP connection at a time, as a
sans-IO state machine: the driver feeds it the bytes its TCP socket
received and asks it for bytes to send; the files and rendered scripts come
from a [`Site`] the driver implements.

```text
receive(site, peer, bytes) -> usize    bytes consumed (the request head)
poll_send(site, buf)       -> usize    response bytes written into buf
is_done()                              everything sent: close the socket
```

One request per connection: the response says `Connection: close` and the
driver closes after it, which every boot client (iPXE, UEFI HTTP Boot,
curl) handles. `GET` and `HEAD`; no ranges, no keep-alive. A request head
over [`HEAD_MAX`] bytes is answered 431; a bad request 400, a path with
`..` 403, anything else not served 404, another method 405. The driver
bounds how long a connection may stay idle (its TCP socket timeout).
*/

use core::net::SocketAddr;

use crate::tftp::path::{resolve, PathError};
use crate::wire::http::{
    decode_path, emit_error as wire_emit_error, emit_head, error_text_len, parse_head, Method,
    Parsed, Status,
};
use crate::wire::Error;

/// Longest request head accepted (iPXE's are about 150 bytes).
pub const HEAD_MAX: usize = 1024;
/// Longest decoded path.
const PATH_MAX: usize = 256;
/// Room for a response head.
const RESPONSE_HEAD_MAX: usize = 192;

/// A resource the site serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource<H> {
    /// What the site reads it by.
    pub handle: H,
    /// Its length.
    pub len: u64,
    /// Its `Content-Type`.
    pub content_type: &'static str,
}

/// Where the responses' bodies come from: files in flash or on disk, and
/// boot scripts rendered for the asking client ([`crate::script`]).
pub trait Site {
    /// What identifies an open resource.
    type Handle: Copy;
    /// Opens `path` (normalised, relative, without `..`: see
    /// [`resolve`]) for `peer`; `None`: 404.
    fn open(&mut self, path: &str, peer: SocketAddr) -> Option<Resource<Self::Handle>>;
    /// Copies the resource's bytes from `offset` into `buf`; returns how
    /// many (0 only at the end).
    fn read_at(&mut self, handle: Self::Handle, offset: u64, buf: &mut [u8]) -> usize;
    /// The response using `handle` is over.
    fn close(&mut self, handle: Self::Handle) {
        let _ = handle;
    }
}

/// What was answered, for the driver's log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Answered {
    /// The status.
    pub status: Status,
    /// The body's length (what a `HEAD` would have got).
    pub len: u64,
}

enum State<H> {
    /// Reading the request head.
    Reading,
    /// Sending the head, then `len` bytes of `body` (none for HEAD and
    /// errors, whose short text is in `head`).
    Sending {
        head_sent: usize,
        body: Option<H>,
        len: u64,
        sent: u64,
    },
    /// All sent.
    Done,
}

/// One connection.
pub struct Connection<H> {
    head: heapless::Vec<u8, HEAD_MAX>,
    /// The response head (and an error's text body).
    response: heapless::Vec<u8, RESPONSE_HEAD_MAX>,
    state: State<H>,
    answered: Option<Answered>,
}

impl<H: Copy> Default for Connection<H> {
    fn default() -> Self {
        Self::new()
    }
}

impl<H: Copy> Connection<H> {
    /// A connection waiting for its request.
    pub const fn new() -> Self {
        Self {
            head: heapless::Vec::new(),
            response: heapless::Vec::new(),
            state: State::Reading,
            answered: None,
        }
    }

    /// Forgets everything, for a new connection in the same place; a
    /// resource still open is closed.
    pub fn reset<S: Site<Handle = H>>(&mut self, site: &mut S) {
        if let State::Sending { body: Some(h), .. } = self.state {
            site.close(h);
        }
        *self = Self::new();
    }

    /// Whether the whole response has been handed out: the driver closes
    /// the connection (after its socket has sent what it holds).
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// The request line's target as received (for logs), once a head is
    /// complete; empty before.
    pub fn target(&self) -> &str {
        match parse_head(&self.head) {
            Ok(Parsed::Complete(head)) => head.target,
            _ => "",
        }
    }

    /// What the request was answered, once it has been.
    pub fn answered(&self) -> Option<Answered> {
        self.answered
    }

    /// Feeds bytes received from `peer`; returns how many were taken. Bytes
    /// after the request head are not taken (and not needed).
    pub fn receive<S: Site<Handle = H>>(
        &mut self,
        site: &mut S,
        peer: SocketAddr,
        data: &[u8],
    ) -> usize {
        if !matches!(self.state, State::Reading) {
            return 0;
        }
        let before = self.head.len();
        let room = HEAD_MAX.saturating_sub(before);
        let take = data.len().min(room);
        if self
            .head
            .extend_from_slice(data.get(..take).unwrap_or(&[]))
            .is_err()
        {
            self.error(Status::InternalError);
            return take;
        }
        match parse_head(&self.head) {
            Ok(Parsed::Partial) if self.head.len() >= HEAD_MAX => {
                let status = if self.head.contains(&b'\n') {
                    Status::HeadersTooLarge
                } else {
                    Status::UriTooLong
                };
                self.error(status);
                take
            }
            Ok(Parsed::Partial) => take,
            Ok(Parsed::Complete(head)) => {
                let used = head.head_len.saturating_sub(before).min(take);
                // The target is a slice of the head buffer: keep where.
                let target = Target {
                    start: (head.target.as_ptr() as usize)
                        .saturating_sub(self.head.as_ptr() as usize),
                    len: head.target.len(),
                };
                let method = head.method;
                self.respond(site, peer, method, target);
                used
            }
            Err(Error::Oversize) => {
                self.error(Status::HeadersTooLarge);
                take
            }
            Err(_) => {
                self.error(Status::BadRequest);
                take
            }
        }
    }

    fn respond<S: Site<Handle = H>>(
        &mut self,
        site: &mut S,
        peer: SocketAddr,
        method: Method,
        target: Target,
    ) {
        if method == Method::Other {
            return self.error(Status::MethodNotAllowed);
        }
        let mut decoded = [0u8; PATH_MAX];
        let Some(target) = target.get(&self.head) else {
            return self.error(Status::BadRequest);
        };
        let path = match decode_path(target, &mut decoded) {
            Ok(p) => p,
            Err(Error::TooLong) => return self.error(Status::UriTooLong),
            Err(_) => return self.error(Status::BadRequest),
        };
        let mut normal = [0u8; PATH_MAX];
        let path = match resolve(path, &mut normal) {
            Ok(p) => p,
            Err(PathError::ParentSegment) => return self.error(Status::Forbidden),
            Err(PathError::TooLong) => return self.error(Status::UriTooLong),
            Err(PathError::NoFile) => return self.error(Status::NotFound),
        };
        let Some(resource) = site.open(path, peer) else {
            return self.error(Status::NotFound);
        };
        let mut head = heapless::Vec::new();
        let _ = head.resize_default(RESPONSE_HEAD_MAX);
        let Ok(n) = emit_head(&mut head, Status::Ok, resource.len, resource.content_type) else {
            site.close(resource.handle);
            return self.error(Status::InternalError);
        };
        head.truncate(n);
        self.answered = Some(Answered {
            status: Status::Ok,
            len: resource.len,
        });
        let body = if method == Method::Head {
            site.close(resource.handle);
            None
        } else {
            Some(resource.handle)
        };
        self.response = head;
        self.state = State::Sending {
            head_sent: 0,
            body,
            len: if body.is_some() { resource.len } else { 0 },
            sent: 0,
        };
    }

    /// Answers with `status` and a one-line text body.
    fn error(&mut self, status: Status) {
        let mut response: heapless::Vec<u8, RESPONSE_HEAD_MAX> = heapless::Vec::new();
        let _ = response.resize_default(RESPONSE_HEAD_MAX);
        let n = emit_error(&mut response, status);
        response.truncate(n);
        self.answered = Some(Answered {
            status,
            len: error_text_len(status),
        });
        self.response = response;
        self.state = State::Sending {
            head_sent: 0,
            body: None,
            len: 0,
            sent: 0,
        };
    }

    /// Writes the next response bytes into `buf`; returns how many (0: none
    /// now, or all done: see [`Self::is_done`]).
    pub fn poll_send<S: Site<Handle = H>>(&mut self, site: &mut S, buf: &mut [u8]) -> usize {
        let head = &self.response;
        let State::Sending {
            head_sent,
            body,
            len,
            sent,
        } = &mut self.state
        else {
            return 0;
        };
        let mut written = 0usize;
        if let Some(rest) = head.get(*head_sent..) {
            let n = rest.len().min(buf.len());
            if let (Some(dst), Some(src)) = (buf.get_mut(..n), rest.get(..n)) {
                dst.copy_from_slice(src);
            }
            *head_sent = head_sent.saturating_add(n);
            written = n;
        }
        if let Some(h) = *body {
            let want = usize::try_from(len.saturating_sub(*sent)).unwrap_or(usize::MAX);
            let room = buf.len().saturating_sub(written).min(want);
            if room > 0 {
                let dst = buf
                    .get_mut(written..written.saturating_add(room))
                    .unwrap_or(&mut []);
                let n = site.read_at(h, *sent, dst).min(room);
                if n == 0 {
                    // The resource ended before its length: the client sees
                    // a short body and the closed connection.
                    *len = *sent;
                }
                *sent = sent.saturating_add(n as u64);
                written = written.saturating_add(n);
            }
        }
        if *head_sent >= head.len() && *sent >= *len {
            if let Some(h) = *body {
                site.close(h);
            }
            self.state = State::Done;
        }
        written
    }
}

/// Where the request target lies in the head buffer (so the head can be
/// borrowed again after `self` is changed).
#[derive(Clone, Copy)]
struct Target {
    start: usize,
    len: usize,
}

impl Target {
    fn get<'h>(&self, head: &'h [u8]) -> Option<&'h str> {
        let bytes = head.get(self.start..self.start.checked_add(self.len)?)?;
        core::str::from_utf8(bytes).ok()
    }
}

#[cfg(test)]
mod tests;

/// Room [`emit_error`] needs for any status.
pub const ERROR_RESPONSE_MAX: usize = RESPONSE_HEAD_MAX;

/// Writes a whole error response into `buf`: the head (`Connection:
/// close`; `Retry-After` for a 503) and a one-line text body with the code
/// and reason. Returns its length, 0 when `buf` is shorter than
/// [`ERROR_RESPONSE_MAX`]. A driver whose connections are all taken
/// answers the next one `emit_error(buf, Status::Unavailable)` without
/// reading its request.
pub fn emit_error(buf: &mut [u8], status: Status) -> usize {
    wire_emit_error(buf, status).unwrap_or(0)
}
