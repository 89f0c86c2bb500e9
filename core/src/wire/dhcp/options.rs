//! Walking DHCP option areas: PAD/END, overload (52) and RFC 3396
//! concatenation, without allocating.

use super::code;
use crate::wire::{Error, Result};

/// One option instance as it stands in the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawOption<'a> {
    /// The option code (never PAD or END).
    pub code: u8,
    /// The instance's bytes (one fragment of the value under RFC 3396).
    pub data: &'a [u8],
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum AreaKind {
    /// The options field: END is required and option 52 may appear.
    Main,
    /// `file` or `sname` carrying options: END is optional (the field's end
    /// also ends it) and option 52 is not allowed.
    Overloaded,
}

/// Which option codes a packet holds, and which of them more than once
/// (RFC 3396 pieces), recorded while checking it so accessors can skip a
/// walk for absent options and stop at the first piece of single ones.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct CodeSet {
    present: [u32; 8],
    repeated: [u32; 8],
}

impl CodeSet {
    fn bit(code: u8) -> (usize, u32) {
        (usize::from(code >> 5), 1u32 << (code & 31))
    }

    fn insert(&mut self, code: u8) {
        let (word, bit) = Self::bit(code);
        if let (Some(present), Some(repeated)) =
            (self.present.get_mut(word), self.repeated.get_mut(word))
        {
            if *present & bit != 0 {
                *repeated |= bit;
            }
            *present |= bit;
        }
    }

    pub(super) fn contains(&self, code: u8) -> bool {
        let (word, bit) = Self::bit(code);
        self.present.get(word).is_some_and(|w| w & bit != 0)
    }

    pub(super) fn is_repeated(&self, code: u8) -> bool {
        let (word, bit) = Self::bit(code);
        self.repeated.get(word).is_some_and(|w| w & bit != 0)
    }
}

/// Checks that every option in `area` ends inside it, recording the codes
/// in `codes`; returns the overload value found (0 when none).
pub(super) fn check_area(area: &[u8], kind: AreaKind, codes: &mut CodeSet) -> Result<u8> {
    let mut pos = 0usize;
    let mut overload: Option<u8> = None;
    loop {
        let Some(&op) = area.get(pos) else {
            return match kind {
                AreaKind::Main => Err(Error::MissingEnd),
                AreaKind::Overloaded => Ok(0),
            };
        };
        match op {
            code::PAD => pos = pos.saturating_add(1),
            code::END => return Ok(overload.unwrap_or(0)),
            op => {
                let len = usize::from(
                    *area
                        .get(pos.saturating_add(1))
                        .ok_or(Error::OptionOverrun)?,
                );
                let start = pos.saturating_add(2);
                let end = start.saturating_add(len);
                let value = area.get(start..end).ok_or(Error::OptionOverrun)?;
                codes.insert(op);
                if op == code::OVERLOAD {
                    if kind == AreaKind::Overloaded || overload.is_some() {
                        return Err(Error::BadOverload);
                    }
                    match value {
                        [v @ 1..=3] => overload = Some(*v),
                        _ => return Err(Error::BadOverload),
                    }
                }
                pos = end;
            }
        }
    }
}

/// Iterator over option instances across the options field and, when
/// overloaded, `file` and `sname` (RFC 3396 order). Stops an area silently at
/// END or at a truncated option (a checked packet has none).
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    areas: [&'a [u8]; 3],
    area: usize,
    pos: usize,
}

impl<'a> Options<'a> {
    pub(super) fn new(areas: [&'a [u8]; 3]) -> Self {
        Self {
            areas,
            area: 0,
            pos: 0,
        }
    }

    /// Iterates the options in a bare options area (no fixed header), such
    /// as the bytes after the magic cookie.
    pub fn in_area(area: &'a [u8]) -> Self {
        Self::new([area, &[], &[]])
    }

    fn next_area(&mut self) {
        self.area = self.area.saturating_add(1);
        self.pos = 0;
    }
}

impl<'a> Iterator for Options<'a> {
    type Item = RawOption<'a>;

    fn next(&mut self) -> Option<RawOption<'a>> {
        loop {
            let area = *self.areas.get(self.area)?;
            match area.get(self.pos) {
                None | Some(&code::END) => self.next_area(),
                Some(&code::PAD) => self.pos = self.pos.saturating_add(1),
                Some(&code) => {
                    let Some(&len) = area.get(self.pos.saturating_add(1)) else {
                        self.next_area();
                        continue;
                    };
                    let start = self.pos.saturating_add(2);
                    let end = start.saturating_add(usize::from(len));
                    let Some(data) = area.get(start..end) else {
                        self.next_area();
                        continue;
                    };
                    self.pos = end;
                    return Some(RawOption { code, data });
                }
            }
        }
    }
}

/// The value of one option: every instance of its code, in order, taken as
/// one value (RFC 3396). Borrowed from the packet; nothing is copied until
/// [`OptionData::copy_into`] is asked to.
#[derive(Debug, Clone, Copy)]
pub struct OptionData<'a> {
    options: Options<'a>,
    code: u8,
    first: &'a [u8],
    len: usize,
    pieces: usize,
}

impl<'a> OptionData<'a> {
    pub(super) fn find(options: Options<'a>, code: u8, codes: &CodeSet) -> Option<Self> {
        if !codes.contains(code) {
            return None;
        }
        if !codes.is_repeated(code) {
            let first = { options }.find(|o| o.code == code)?.data;
            return Some(Self {
                options,
                code,
                first,
                len: first.len(),
                pieces: 1,
            });
        }
        let mut first = None;
        let mut len = 0usize;
        let mut pieces = 0usize;
        for opt in options.filter(|o| o.code == code) {
            first.get_or_insert(opt.data);
            len = len.saturating_add(opt.data.len());
            pieces = pieces.saturating_add(1);
        }
        Some(Self {
            options,
            code,
            first: first?,
            len,
            pieces,
        })
    }

    /// The option code.
    pub fn code(&self) -> u8 {
        self.code
    }

    /// Total length of the value across its pieces.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the value is empty (every piece has length 0).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many instances make up the value.
    pub fn pieces(&self) -> usize {
        self.pieces
    }

    /// The pieces of the value, in order.
    pub fn fragments(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let code = self.code;
        let pieces = self.pieces;
        self.options
            .filter(move |o| o.code == code)
            .map(|o| o.data)
            .take(pieces)
    }

    /// The value byte by byte, across its pieces.
    pub fn bytes(&self) -> impl Iterator<Item = u8> + 'a {
        let (one, many) = match self.contiguous() {
            Some(one) => (one, None),
            None => (&[][..], Some(self.fragments())),
        };
        one.iter()
            .copied()
            .chain(many.into_iter().flatten().flat_map(|f| f.iter().copied()))
    }

    /// The value as one slice, when it is in one piece.
    pub fn contiguous(&self) -> Option<&'a [u8]> {
        (self.pieces == 1).then_some(self.first)
    }

    /// Concatenates the pieces into `buf`; [`Error::TooLong`] when the value
    /// does not fit (the packet itself stays usable).
    pub fn copy_into<'b>(&self, buf: &'b mut [u8]) -> Result<&'b [u8]> {
        if self.len > buf.len() {
            return Err(Error::TooLong);
        }
        let mut pos = 0usize;
        for piece in self.fragments() {
            let end = pos.saturating_add(piece.len());
            buf.get_mut(pos..end)
                .ok_or(Error::TooLong)?
                .copy_from_slice(piece);
            pos = end;
        }
        buf.get(..pos).ok_or(Error::TooLong)
    }

    /// The value as one slice: borrowed when it is in one piece, otherwise
    /// concatenated into `scratch`.
    pub fn contiguous_or_copy<'b>(&self, scratch: &'b mut [u8]) -> Result<&'b [u8]>
    where
        'a: 'b,
    {
        match self.contiguous() {
            Some(data) => Ok(data),
            None => self.copy_into(scratch),
        }
    }

    /// The value as exactly `N` bytes; `None` for any other length.
    pub fn fixed<const N: usize>(&self) -> Option<[u8; N]> {
        if self.len != N {
            return None;
        }
        if let Some(one) = self.contiguous() {
            return one.try_into().ok();
        }
        let mut out = [0u8; N];
        for (slot, byte) in out.iter_mut().zip(self.bytes()) {
            *slot = byte;
        }
        Some(out)
    }

    /// Whether the value contains `byte` (for example a code in the
    /// parameter request list).
    pub fn contains(&self, byte: u8) -> bool {
        self.bytes().any(|b| b == byte)
    }
}
