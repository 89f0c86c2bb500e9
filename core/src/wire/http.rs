/*! HTTP/1.x request heads (parsed by `httparse`, which is `no_std` and
allocation-free) and response heads, for the appliance's small GET
responder ([`crate::http`]).

Only what a boot client sends is understood: the request line, and
nothing from the headers (every response closes the connection, so
`Connection:` does not matter; no ranges). A request path is
percent-decoded and stripped of its query before it is confined to the
served root.
*/

use super::{Error, Result, Writer};

/// Most header lines a request may carry.
pub const MAX_HEADERS: usize = 32;

/// A request method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Method {
    /// `GET`.
    Get,
    /// `HEAD`.
    Head,
    /// Anything else.
    Other,
}

/// A complete request head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestHead<'a> {
    /// The method.
    pub method: Method,
    /// The request target as sent (path, then maybe `?query`).
    pub target: &'a str,
    /// The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    /// Bytes of the head, up to and including the blank line.
    pub head_len: usize,
}

/// What [`parse_head`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// The head is not complete yet.
    Partial,
    /// A whole head.
    Complete(RequestHead<'a>),
}

/// Parses a request head from the start of `buf`.
pub fn parse_head(buf: &[u8]) -> Result<Parsed<'_>> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Partial) => Ok(Parsed::Partial),
        Ok(httparse::Status::Complete(head_len)) => {
            let method = match req.method {
                Some("GET") => Method::Get,
                Some("HEAD") => Method::Head,
                _ => Method::Other,
            };
            Ok(Parsed::Complete(RequestHead {
                method,
                target: req.path.ok_or(Error::Truncated)?,
                minor_version: req.version.unwrap_or(0),
                head_len,
            }))
        }
        Err(httparse::Error::TooManyHeaders) => Err(Error::Oversize),
        Err(_) => Err(Error::Malformed),
    }
}

/// Decodes the path of `target` (up to `?` or `#`) into `buf`:
/// `%XX` escapes become their bytes. A bad escape, a NUL, or a result that
/// is not UTF-8 is [`Error::Malformed`].
pub fn decode_path<'b>(target: &str, buf: &'b mut [u8]) -> Result<&'b str> {
    let path = target.split(['?', '#']).next().unwrap_or("");
    let mut bytes = path.bytes();
    let mut len = 0usize;
    while let Some(b) = bytes.next() {
        let b = if b == b'%' {
            let hi = bytes.next().and_then(hex).ok_or(Error::Malformed)?;
            let lo = bytes.next().and_then(hex).ok_or(Error::Malformed)?;
            hi.wrapping_shl(4) | lo
        } else {
            b
        };
        if b == 0 {
            return Err(Error::Malformed);
        }
        *buf.get_mut(len).ok_or(Error::TooLong)? = b;
        len = len.saturating_add(1);
    }
    core::str::from_utf8(buf.get(..len).unwrap_or(&[])).map_err(|_| Error::Malformed)
}

fn hex(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// A response status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Status {
    /// 200.
    Ok,
    /// 400.
    BadRequest,
    /// 403.
    Forbidden,
    /// 404.
    NotFound,
    /// 405.
    MethodNotAllowed,
    /// 414.
    UriTooLong,
    /// 431.
    HeadersTooLarge,
    /// 500.
    InternalError,
    /// 503.
    Unavailable,
}

impl Status {
    /// The code.
    pub fn code(self) -> u16 {
        match self {
            Self::Ok => 200,
            Self::BadRequest => 400,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::UriTooLong => 414,
            Self::HeadersTooLarge => 431,
            Self::InternalError => 500,
            Self::Unavailable => 503,
        }
    }

    /// The reason phrase.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::BadRequest => "Bad Request",
            Self::Forbidden => "Forbidden",
            Self::NotFound => "Not Found",
            Self::MethodNotAllowed => "Method Not Allowed",
            Self::UriTooLong => "URI Too Long",
            Self::HeadersTooLarge => "Request Header Fields Too Large",
            Self::InternalError => "Internal Server Error",
            Self::Unavailable => "Service Unavailable",
        }
    }
}

/// Writes a response head (status line, `Server`, `Content-Length`,
/// `Content-Type`, `Connection: close`, `Allow` for a 405, `Retry-After`
/// for a 503) into `buf`; returns its length.
pub fn emit_head(
    buf: &mut [u8],
    status: Status,
    content_length: u64,
    content_type: &str,
) -> Result<usize> {
    let mut w = Writer::new(buf);
    write_head(&mut w, status, content_length, content_type)?;
    Ok(w.position())
}

/// Writes a whole error response into `buf`: its head and a one-line text
/// body, the code and the reason ("404 Not Found\n"); returns its length.
pub fn emit_error(buf: &mut [u8], status: Status) -> Result<usize> {
    let mut w = Writer::new(buf);
    write_head(&mut w, status, error_text_len(status), "text/plain")?;
    put_decimal(&mut w, u64::from(status.code()))?;
    w.bytes(b" ")?;
    w.bytes(status.reason().as_bytes())?;
    w.bytes(b"\n")?;
    Ok(w.position())
}

/// The length of [`emit_error`]'s text body: three digits, a space, the
/// reason, a newline.
pub fn error_text_len(status: Status) -> u64 {
    status.reason().len().saturating_add(5) as u64
}

fn write_head(
    w: &mut Writer<'_>,
    status: Status,
    content_length: u64,
    content_type: &str,
) -> Result<()> {
    w.bytes(b"HTTP/1.1 ")?;
    put_decimal(w, u64::from(status.code()))?;
    w.bytes(b" ")?;
    w.bytes(status.reason().as_bytes())?;
    w.bytes(b"\r\nServer: awl\r\nContent-Length: ")?;
    put_decimal(w, content_length)?;
    w.bytes(b"\r\nContent-Type: ")?;
    w.bytes(content_type.as_bytes())?;
    if status == Status::MethodNotAllowed {
        w.bytes(b"\r\nAllow: GET, HEAD")?;
    }
    if status == Status::Unavailable {
        w.bytes(b"\r\nRetry-After: 1")?;
    }
    w.bytes(b"\r\nConnection: close\r\n\r\n")
}

fn put_decimal(w: &mut Writer<'_>, mut n: u64) -> Result<()> {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i = i.saturating_sub(1);
        if let Some(d) = digits.get_mut(i) {
            *d = b'0'.wrapping_add((n % 10) as u8);
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    w.bytes(digits.get(i..).unwrap_or(&[]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_ipxe_request() {
        // What iPXE 1.21 sends for `chain http://10.0.0.1/boot.ipxe`.
        let req = b"GET /boot.ipxe?mac=52%3A54%3A00%3A12%3A34%3A56 HTTP/1.1\r\n\
                    Connection: keep-alive\r\nUser-Agent: iPXE/1.21.1\r\nHost: 10.0.0.1\r\n\r\n";
        let Parsed::Complete(head) = parse_head(req).unwrap() else {
            panic!()
        };
        assert_eq!(head.method, Method::Get);
        assert_eq!(head.minor_version, 1);
        assert_eq!(head.head_len, req.len());
        let mut buf = [0u8; 64];
        assert_eq!(decode_path(head.target, &mut buf), Ok("/boot.ipxe"));
        assert_eq!(parse_head(&req[..20]), Ok(Parsed::Partial));
    }

    #[test]
    fn decodes_escapes_and_refuses_bad_ones() {
        let mut buf = [0u8; 32];
        assert_eq!(decode_path("/a%20b%2Fc", &mut buf), Ok("/a b/c"));
        assert_eq!(decode_path("/%2e%2e/x", &mut buf), Ok("/../x"));
        assert_eq!(decode_path("/a%2", &mut buf), Err(Error::Malformed));
        assert_eq!(decode_path("/a%zz", &mut buf), Err(Error::Malformed));
        assert_eq!(decode_path("/a%00", &mut buf), Err(Error::Malformed));
        assert_eq!(decode_path("/%ff", &mut buf), Err(Error::Malformed));
        assert_eq!(decode_path(&"/x".repeat(20), &mut buf), Err(Error::TooLong));
    }

    #[test]
    fn response_heads() {
        let mut buf = [0u8; 256];
        let n = emit_head(&mut buf, Status::Ok, 1234, "text/plain").unwrap();
        assert_eq!(
            core::str::from_utf8(&buf[..n]).unwrap(),
            "HTTP/1.1 200 OK\r\nServer: awl\r\nContent-Length: 1234\r\n\
             Content-Type: text/plain\r\nConnection: close\r\n\r\n"
        );
        let n = emit_head(&mut buf, Status::MethodNotAllowed, 0, "text/plain").unwrap();
        assert!(core::str::from_utf8(&buf[..n])
            .unwrap()
            .contains("Allow: GET, HEAD\r\n"));
        assert_eq!(
            emit_head(&mut buf[..10], Status::Ok, 0, "x"),
            Err(Error::BufferTooSmall)
        );
        let n = emit_head(&mut buf, Status::Ok, u64::MAX, "x").unwrap();
        assert!(core::str::from_utf8(&buf[..n])
            .unwrap()
            .contains("18446744073709551615"));
    }
}
