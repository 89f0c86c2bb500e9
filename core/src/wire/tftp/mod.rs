/*! TFTP (RFC 1350) with options (RFC 2347 OACK, 2348 blksize, 2349 timeout
and tsize, 7440 windowsize).

```text
RRQ/WRQ  | 01/02 | filename | 0 | mode | 0 | name | 0 | value | 0 | ...
DATA     | 03 | block | data (0..blksize bytes)
ACK      | 04 | block
ERROR    | 05 | code | message | 0
OACK     | 06 | name | 0 | value | 0 | ...
```

Parsing is strict about structure and lenient about content, the way
dnsmasq and tftp-hpa are: every string must end in NUL inside the datagram
(a missing NUL is [`Error::MissingNul`], never a read past the end), option
names are case-insensitive, the first of a duplicated option wins, unknown
options are kept out of [`TftpOptions`] (they are still visible through
[`OptionPairs`]), and a value that is not a plain decimal number is treated as
not asked for (see [`Request::invalid_options`]). Trailing NUL bytes after
the last option are accepted as padding. An ERROR whose message has no NUL
is accepted with the bytes it has (atftpd CVE-2019-11365 sent `00 05`).
*/

use crate::wire::{enum_with_unknown, read_u16, Error, Result, Writer};

/// The largest datagram TFTP can need: a DATA block of the largest blksize
/// (65464) plus its 4-byte header.
pub const MAX_DATAGRAM: usize = 65_468;

/// The largest block size RFC 2348 allows.
pub const MAX_BLKSIZE: u16 = 65_464;
/// The smallest block size RFC 2348 allows.
pub const MIN_BLKSIZE: u16 = 8;
/// The block size without options (RFC 1350).
pub const DEFAULT_BLKSIZE: u16 = 512;
/// The largest ERROR datagram awl sends (it fits the RFC 1350 512-byte
/// packet so every client can read it).
pub const MAX_ERROR_LEN: usize = 512;

enum_with_unknown! {
    /// TFTP opcode.
    pub enum Opcode(u16) {
        /// Read request.
        Rrq = 1,
        /// Write request.
        Wrq = 2,
        /// Data block.
        Data = 3,
        /// Acknowledgement.
        Ack = 4,
        /// Error.
        Error = 5,
        /// Option acknowledgement (RFC 2347).
        Oack = 6,
    }
}

enum_with_unknown! {
    /// TFTP error code.
    pub enum ErrorCode(u16) {
        /// Not defined, see the message.
        NotDefined = 0,
        /// File not found.
        FileNotFound = 1,
        /// Access violation.
        AccessViolation = 2,
        /// Disk full or allocation exceeded.
        DiskFull = 3,
        /// Illegal TFTP operation.
        IllegalOperation = 4,
        /// Unknown transfer ID.
        UnknownTid = 5,
        /// File already exists.
        FileExists = 6,
        /// No such user.
        NoSuchUser = 7,
        /// Option negotiation refused (RFC 2347); EDK II uses it to end a
        /// `tsize` probe.
        OptionRefused = 8,
    }
}

impl ErrorCode {
    /// Its meaning in words (`file not found`), as logs show it; `None`
    /// for a code RFC 1350 and RFC 2347 do not define.
    pub fn name(&self) -> Option<&'static str> {
        Some(match self {
            Self::NotDefined => "not defined",
            Self::FileNotFound => "file not found",
            Self::AccessViolation => "access violation",
            Self::DiskFull => "disk full",
            Self::IllegalOperation => "illegal operation",
            Self::UnknownTid => "unknown transfer ID",
            Self::FileExists => "file already exists",
            Self::NoSuchUser => "no such user",
            Self::OptionRefused => "option refused",
            Self::Unknown(_) => return None,
        })
    }
}

/// `file not found (1)`: the meaning, then the number on the wire; `code
/// N` for a code without a name.
impl core::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let code = u16::from(*self);
        match self.name() {
            Some(name) => write!(f, "{name} ({code})"),
            None => write!(f, "code {code}"),
        }
    }
}

/// Transfer mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Mode {
    /// `netascii`: text with CR LF line ends and CR NUL for a bare CR.
    Netascii,
    /// `octet`: bytes as they are.
    Octet,
    /// `mail`: obsolete; parsed so that it can be refused by name.
    Mail,
}

impl Mode {
    /// Parses a mode name, case-insensitively.
    pub fn parse(name: &[u8]) -> Result<Self> {
        if name.eq_ignore_ascii_case(b"octet") {
            Ok(Self::Octet)
        } else if name.eq_ignore_ascii_case(b"netascii") {
            Ok(Self::Netascii)
        } else if name.eq_ignore_ascii_case(b"mail") {
            Ok(Self::Mail)
        } else {
            Err(Error::BadMode)
        }
    }

    /// The mode's name on the wire.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Netascii => "netascii",
            Self::Octet => "octet",
            Self::Mail => "mail",
        }
    }
}

/// `octet`, `netascii` or `mail`: the name on the wire.
impl core::fmt::Display for Mode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The options awl knows, as numbers. In a request: what the client asked
/// for (`tsize` is 0 on a read request); in an OACK: what the server grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TftpOptions {
    /// `blksize` (RFC 2348).
    pub blksize: Option<u64>,
    /// `tsize` (RFC 2349).
    pub tsize: Option<u64>,
    /// `timeout` in seconds (RFC 2349).
    pub timeout: Option<u64>,
    /// `windowsize` (RFC 7440).
    pub windowsize: Option<u64>,
}

/// The options present, in words: `blksize 1468, windowsize 16, timeout 3
/// s, tsize 1048576`; `no options` when there are none.
impl core::fmt::Display for TftpOptions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut sep = "";
        for (name, value, unit) in [
            ("blksize", self.blksize, ""),
            ("windowsize", self.windowsize, ""),
            ("timeout", self.timeout, " s"),
            ("tsize", self.tsize, ""),
        ] {
            if let Some(value) = value {
                write!(f, "{sep}{name} {value}{unit}")?;
                sep = ", ";
            }
        }
        if sep.is_empty() {
            f.write_str("no options")?;
        }
        Ok(())
    }
}

/// Which known options were present with a value that is not a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct InvalidOptions {
    /// `blksize` had a bad value.
    pub blksize: bool,
    /// `tsize` had a bad value.
    pub tsize: bool,
    /// `timeout` had a bad value.
    pub timeout: bool,
    /// `windowsize` had a bad value.
    pub windowsize: bool,
}

impl InvalidOptions {
    /// Whether any option had a bad value.
    pub fn any(&self) -> bool {
        self.blksize || self.tsize || self.timeout || self.windowsize
    }
}

/// Parses a plain decimal number (ASCII digits only, no sign or spaces),
/// without wrapping: too many digits give `None`.
pub fn parse_decimal(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |acc, &d| {
        if !d.is_ascii_digit() {
            return None;
        }
        acc.checked_mul(10)?
            .checked_add(u64::from(d.wrapping_sub(b'0')))
    })
}

impl TftpOptions {
    /// Reads the known options from name/value pairs. The first instance of
    /// a name wins; names are case-insensitive.
    pub fn from_pairs(pairs: OptionPairs<'_>) -> (Self, InvalidOptions) {
        let mut options = Self::default();
        let mut invalid = InvalidOptions::default();
        let mut seen = [false; 4];
        for (name, value) in pairs {
            let slot = if name.eq_ignore_ascii_case(b"blksize") {
                0
            } else if name.eq_ignore_ascii_case(b"tsize") {
                1
            } else if name.eq_ignore_ascii_case(b"timeout") {
                2
            } else if name.eq_ignore_ascii_case(b"windowsize") {
                3
            } else {
                continue;
            };
            let Some(first) = seen.get_mut(slot) else {
                continue;
            };
            if *first {
                continue;
            }
            *first = true;
            let number = parse_decimal(value);
            let (field, bad) = match slot {
                0 => (&mut options.blksize, &mut invalid.blksize),
                1 => (&mut options.tsize, &mut invalid.tsize),
                2 => (&mut options.timeout, &mut invalid.timeout),
                _ => (&mut options.windowsize, &mut invalid.windowsize),
            };
            *field = number;
            *bad = number.is_none();
        }
        (options, invalid)
    }

    /// Whether no option is set.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    fn pairs(&self) -> impl Iterator<Item = (&'static str, u64)> {
        [
            ("blksize", self.blksize),
            ("tsize", self.tsize),
            ("timeout", self.timeout),
            ("windowsize", self.windowsize),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
    }

    fn wire_len(&self) -> usize {
        self.pairs().fold(0usize, |n, (name, value)| {
            n.saturating_add(name.len().saturating_add(2))
                .saturating_add(decimal_len(value))
        })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        for (name, value) in self.pairs() {
            w.bytes(name.as_bytes())?;
            w.u8(0)?;
            let mut digits = [0u8; 20];
            w.bytes(format_decimal(value, &mut digits))?;
            w.u8(0)?;
        }
        Ok(())
    }
}

fn decimal_len(value: u64) -> usize {
    let mut digits = [0u8; 20];
    format_decimal(value, &mut digits).len()
}

fn format_decimal(mut value: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut start = buf.len();
    while start > 0 {
        start = start.saturating_sub(1);
        if let Some(slot) = buf.get_mut(start) {
            // `value % 10` is below 10, so the sum stays a digit.
            *slot = b'0'.wrapping_add((value % 10) as u8);
        }
        value /= 10;
        if value == 0 {
            break;
        }
    }
    buf.get(start..).unwrap_or(&[])
}

/// Splits `data` at its first NUL: the string before it and the rest after
/// it; [`Error::MissingNul`] when there is none.
fn take_string(data: &[u8]) -> Result<(&[u8], &[u8])> {
    let nul = data.iter().position(|&b| b == 0).ok_or(Error::MissingNul)?;
    let (string, rest) = data.split_at_checked(nul).ok_or(Error::MissingNul)?;
    Ok((string, rest.get(1..).unwrap_or(&[])))
}

/// Validated `name\0value\0` pairs of an RRQ, WRQ or OACK, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionPairs<'a> {
    rest: &'a [u8],
}

impl<'a> OptionPairs<'a> {
    /// Checks the option area: every name and value ends in NUL, no name is
    /// empty, no name lacks a value. Trailing NULs are padding.
    pub fn new_checked(data: &'a [u8]) -> Result<Self> {
        let mut rest = data;
        while !rest.iter().all(|&b| b == 0) {
            let (name, after) = take_string(rest)?;
            if name.is_empty() {
                return Err(Error::BadOption);
            }
            if after.is_empty() {
                return Err(Error::BadOption);
            }
            let (_, after) = take_string(after)?;
            rest = after;
        }
        Ok(Self { rest: data })
    }

    /// The raw option bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.rest
    }
}

impl<'a> Iterator for OptionPairs<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.iter().all(|&b| b == 0) {
            return None;
        }
        let (name, after) = take_string(self.rest).ok()?;
        let (value, after) = take_string(after).ok()?;
        self.rest = after;
        Some((name, value))
    }
}

/// A read or write request.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The file asked for: non-empty UTF-8 without control characters. Not
    /// yet resolved against any root: see the path resolver.
    pub filename: &'a str,
    /// Transfer mode.
    pub mode: Mode,
    /// The known options and their values.
    pub options: TftpOptions,
    /// Known options whose value was not a number (they count as not asked).
    pub invalid_options: InvalidOptions,
    /// Every option pair, known or not, for logging.
    pub pairs: OptionPairs<'a>,
}

impl PartialEq for Request<'_> {
    /// Requests are equal when filename, mode and known options are.
    fn eq(&self, other: &Self) -> bool {
        self.filename == other.filename && self.mode == other.mode && self.options == other.options
    }
}

impl<'a> Request<'a> {
    /// A request with the given options and no others.
    pub fn new(filename: &'a str, mode: Mode, options: TftpOptions) -> Self {
        Self {
            filename,
            mode,
            options,
            invalid_options: InvalidOptions::default(),
            pairs: OptionPairs { rest: &[] },
        }
    }

    fn parse(body: &'a [u8]) -> Result<Self> {
        let (filename, rest) = take_string(body)?;
        if filename.is_empty() {
            return Err(Error::EmptyFilename);
        }
        let filename = core::str::from_utf8(filename).map_err(|_| Error::BadFilename)?;
        if filename.chars().any(char::is_control) {
            return Err(Error::BadFilename);
        }
        let (mode, rest) = take_string(rest)?;
        let mode = Mode::parse(mode)?;
        let pairs = OptionPairs::new_checked(rest)?;
        let (options, invalid_options) = TftpOptions::from_pairs(pairs);
        Ok(Self {
            filename,
            mode,
            options,
            invalid_options,
            pairs,
        })
    }
}

/// A parsed TFTP datagram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Repr<'a> {
    /// Read request.
    Rrq(Request<'a>),
    /// Write request.
    Wrq(Request<'a>),
    /// Data block.
    Data {
        /// Block number (wraps from 65535 to 0).
        block: u16,
        /// The block's bytes.
        data: &'a [u8],
    },
    /// Acknowledgement.
    Ack {
        /// Block number acknowledged.
        block: u16,
    },
    /// Error.
    Error {
        /// Error code.
        code: ErrorCode,
        /// Message, without its NUL (may be empty, may be any bytes).
        message: &'a [u8],
    },
    /// Option acknowledgement.
    Oack {
        /// The options granted.
        options: TftpOptions,
    },
}

impl<'a> Repr<'a> {
    /// Parses one datagram.
    pub fn parse(datagram: &'a [u8]) -> Result<Self> {
        if datagram.len() > MAX_DATAGRAM {
            return Err(Error::Oversize);
        }
        let opcode = read_u16(datagram, 0).ok_or(Error::Truncated)?;
        let body = datagram.get(2..).unwrap_or(&[]);
        match Opcode::from(opcode) {
            Opcode::Rrq => Request::parse(body).map(Self::Rrq),
            Opcode::Wrq => Request::parse(body).map(Self::Wrq),
            Opcode::Data => {
                let block = read_u16(body, 0).ok_or(Error::Truncated)?;
                Ok(Self::Data {
                    block,
                    data: body.get(2..).unwrap_or(&[]),
                })
            }
            Opcode::Ack => {
                let block = read_u16(body, 0).ok_or(Error::Truncated)?;
                Ok(Self::Ack { block })
            }
            Opcode::Error => {
                let code = read_u16(body, 0).ok_or(Error::Truncated)?;
                let text = body.get(2..).unwrap_or(&[]);
                let message = take_string(text).map_or(text, |(m, _)| m);
                Ok(Self::Error {
                    code: ErrorCode::from(code),
                    message,
                })
            }
            Opcode::Oack => {
                let pairs = OptionPairs::new_checked(body)?;
                Ok(Self::Oack {
                    options: TftpOptions::from_pairs(pairs).0,
                })
            }
            Opcode::Unknown(_) => Err(Error::UnknownOpcode),
        }
    }

    /// The opcode.
    pub fn opcode(&self) -> Opcode {
        match self {
            Self::Rrq(_) => Opcode::Rrq,
            Self::Wrq(_) => Opcode::Wrq,
            Self::Data { .. } => Opcode::Data,
            Self::Ack { .. } => Opcode::Ack,
            Self::Error { .. } => Opcode::Error,
            Self::Oack { .. } => Opcode::Oack,
        }
    }

    /// The exact length [`Repr::emit`] writes (an ERROR message longer than
    /// fits [`MAX_ERROR_LEN`] is cut).
    pub fn buffer_len(&self) -> usize {
        match self {
            Self::Rrq(r) | Self::Wrq(r) => r
                .filename
                .len()
                .saturating_add(r.mode.as_str().len())
                .saturating_add(4)
                .saturating_add(r.options.wire_len()),
            Self::Data { data, .. } => 4usize.saturating_add(data.len()),
            Self::Ack { .. } => 4,
            Self::Error { message, .. } => error_message(message).len().saturating_add(5),
            Self::Oack { options } => 2usize.saturating_add(options.wire_len()),
        }
    }

    /// Writes the datagram into `buf`; returns its length
    /// ([`Repr::buffer_len`]).
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(buf);
        w.u16(self.opcode().into())?;
        match self {
            Self::Rrq(r) | Self::Wrq(r) => {
                w.bytes(r.filename.as_bytes())?;
                w.u8(0)?;
                w.bytes(r.mode.as_str().as_bytes())?;
                w.u8(0)?;
                r.options.write(&mut w)?;
            }
            Self::Data { block, data } => {
                w.u16(*block)?;
                w.bytes(data)?;
            }
            Self::Ack { block } => w.u16(*block)?,
            Self::Error { code, message } => {
                w.u16((*code).into())?;
                w.bytes(error_message(message))?;
                w.u8(0)?;
            }
            Self::Oack { options } => options.write(&mut w)?,
        }
        Ok(w.position())
    }
}

/// The part of an ERROR message that is sent: up to its first NUL, and
/// short enough for the datagram to fit [`MAX_ERROR_LEN`].
fn error_message(message: &[u8]) -> &[u8] {
    let message = crate::wire::dhcp::until_nul(message);
    message.get(..MAX_ERROR_LEN - 5).unwrap_or(message)
}

/// Writes the 4-byte DATA header for `block` at the start of `buf`, so the
/// caller can read the block's bytes straight into `buf[4..]`.
pub fn emit_data_header(block: u16, buf: &mut [u8]) -> Result<()> {
    let mut w = Writer::new(buf);
    w.u16(Opcode::Data.into())?;
    w.u16(block)
}

#[cfg(test)]
mod tests;
