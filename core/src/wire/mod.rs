/*! Wire formats: checked, zero-copy views over received datagrams and
emitters that write into a caller's `&mut [u8]`.

# Panic-freedom contract

Every function in this module is total on arbitrary input:

* A view is made with `new_checked`, which validates every length the
  accessors later rely on. Accessors on a checked view never index out of
  bounds; they still use checked slicing (`get`) so that a missed check is a
  wrong answer, never a panic. `core` denies `clippy::indexing_slicing`.
* Emitters take the whole output buffer, return the number of bytes written,
  and return [`Error::BufferTooSmall`] instead of writing past the end. An
  emitter never leaves bytes of an earlier datagram inside the length it
  reports: every byte up to that length is written.
* Strings taken from the wire are borrowed, bounded by the datagram, and never
  assumed to end in NUL at the end of the datagram.
* Nothing allocates.
*/

#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]

pub mod dhcp;
pub mod http;
pub mod tftp;

use core::fmt;

/// Why a datagram could not be parsed, or a reply could not be written.
///
/// Small and `Copy` so that the state machines can log it and move on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// The datagram ends before a field the format requires.
    Truncated,
    /// The datagram is longer than the format allows.
    Oversize,
    /// DHCP: the magic cookie is not 99.130.83.99.
    BadCookie,
    /// DHCP: `hlen` is larger than the 16-byte `chaddr` field.
    BadHardwareLength,
    /// DHCP: an option's length runs past the end of its area.
    OptionOverrun,
    /// DHCP: the options field has no END (255) option.
    MissingEnd,
    /// DHCP: option 52 (overload) has a bad length or value, appears inside
    /// an overloaded `file`/`sname` field, or is given twice.
    BadOverload,
    /// DHCP: an option value is too long for the buffer given to hold it
    /// (RFC 3396 concatenation into a caller buffer).
    TooLong,
    /// DHCP: a known option has a length its type does not allow (for
    /// example a message type of length 0).
    BadLength,
    /// TFTP: the opcode is not one this implementation knows.
    UnknownOpcode,
    /// TFTP: a string field (filename, mode, option name or value) has no
    /// terminating NUL inside the datagram.
    MissingNul,
    /// TFTP: the filename is empty.
    EmptyFilename,
    /// TFTP: the filename holds control characters or is not UTF-8.
    BadFilename,
    /// TFTP: the transfer mode is not `octet`, `netascii` or `mail`.
    BadMode,
    /// TFTP: an option has an empty name or no value.
    BadOption,
    /// The caller's output buffer is too small for the message.
    BufferTooSmall,
    /// An emitter was asked to write a value the format cannot carry
    /// (for example a DHCP `chaddr` longer than 16 bytes).
    Unrepresentable,
    /// HTTP: the request does not follow the grammar (or its path holds a
    /// bad escape, a NUL, or bytes that are not UTF-8).
    Malformed,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Truncated => "datagram truncated",
            Self::Oversize => "datagram too long",
            Self::BadCookie => "bad DHCP magic cookie",
            Self::BadHardwareLength => "hardware address length over 16",
            Self::OptionOverrun => "option length runs past the end of its area",
            Self::MissingEnd => "options have no END option",
            Self::BadOverload => "bad option overload (52)",
            Self::BadLength => "option length not allowed for its type",
            Self::TooLong => "option value too long for the buffer",
            Self::UnknownOpcode => "unknown TFTP opcode",
            Self::MissingNul => "string field without terminating NUL",
            Self::EmptyFilename => "empty filename",
            Self::BadFilename => "filename has control characters or is not UTF-8",
            Self::BadMode => "unknown transfer mode",
            Self::BadOption => "option without a name or without a value",
            Self::BufferTooSmall => "output buffer too small",
            Self::Unrepresentable => "value cannot be represented on the wire",
            Self::Malformed => "malformed request",
        })
    }
}

impl core::error::Error for Error {}

/// A MAC address, shown as `aa:bb:cc:dd:ee:ff` (lower case, as `ip link`
/// and dnsmasq print them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Mac(pub [u8; 6]);

impl From<[u8; 6]> for Mac {
    fn from(bytes: [u8; 6]) -> Self {
        Self(bytes)
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// Result type of the wire layer.
pub type Result<T> = core::result::Result<T, Error>;

/// Declares a `u8`/`u16` enum whose unknown values are kept in `Unknown(n)`
/// instead of failing to parse (the smoltcp `enum_with_unknown!` habit).
macro_rules! enum_with_unknown {
    (
        $( #[$enum_attr:meta] )*
        pub enum $name:ident($ty:ty) {
            $(
              $( #[$variant_attr:meta] )*
              $variant:ident = $value:expr
            ),+ $(,)?
        }
    ) => {
        #[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Clone, Copy)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        $( #[$enum_attr] )*
        pub enum $name {
            $(
              $( #[$variant_attr] )*
              $variant
            ),*,
            /// A value this implementation has no name for.
            Unknown($ty)
        }

        impl ::core::convert::From<$ty> for $name {
            fn from(value: $ty) -> Self {
                match value {
                    $( $value => $name::$variant ),*,
                    other => $name::Unknown(other)
                }
            }
        }

        impl ::core::convert::From<$name> for $ty {
            fn from(value: $name) -> Self {
                match value {
                    $( $name::$variant => $value ),*,
                    $name::Unknown(other) => other
                }
            }
        }
    }
}
pub(crate) use enum_with_unknown;

/// A cursor that writes into a caller's buffer and fails instead of
/// overrunning it.
pub(crate) struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub(crate) fn at(buf: &'a mut [u8], pos: usize) -> Self {
        Self { buf, pos }
    }

    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn bytes(&mut self, data: &[u8]) -> Result<()> {
        let end = self
            .pos
            .checked_add(data.len())
            .ok_or(Error::BufferTooSmall)?;
        let dst = self
            .buf
            .get_mut(self.pos..end)
            .ok_or(Error::BufferTooSmall)?;
        dst.copy_from_slice(data);
        self.pos = end;
        Ok(())
    }

    pub(crate) fn u8(&mut self, value: u8) -> Result<()> {
        self.bytes(&[value])
    }

    pub(crate) fn u16(&mut self, value: u16) -> Result<()> {
        self.bytes(&value.to_be_bytes())
    }

    pub(crate) fn zeros(&mut self, count: usize) -> Result<()> {
        let end = self.pos.checked_add(count).ok_or(Error::BufferTooSmall)?;
        let dst = self
            .buf
            .get_mut(self.pos..end)
            .ok_or(Error::BufferTooSmall)?;
        dst.fill(0);
        self.pos = end;
        Ok(())
    }
}

/// Reads a big-endian `u16` at `at`, if the bytes are there.
pub(crate) fn read_u16(data: &[u8], at: usize) -> Option<u16> {
    let bytes = data.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([*bytes.first()?, *bytes.get(1)?]))
}

/// Reads a big-endian `u32` at `at`, if the bytes are there.
pub(crate) fn read_u32(data: &[u8], at: usize) -> Option<u32> {
    let bytes: [u8; 4] = data.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_be_bytes(bytes))
}
