//! netascii on the fly (RFC 764 via RFC 1350): LF becomes CR LF and a bare
//! CR becomes CR NUL. One block is outstanding at a time, so the state is
//! where the current block starts in the file, plus the second byte of an
//! expansion cut by the previous block's end (FreeBSD PR 178055: a CR as the
//! last byte of a block must not lose its NUL).

use super::{FileError, FileSource};

/// Where a block starts: a file offset, and a byte left over from the
/// previous block's last expansion.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Position {
    offset: u64,
    carry: Option<u8>,
}

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Netascii {
    /// Start of the block awaiting its ACK (resends start here too).
    start: Position,
    /// Start of the block after it, found while filling.
    after: Position,
    /// Length on the wire of the block awaiting its ACK.
    pending: u64,
    acked: u64,
}

impl Netascii {
    /// Fills `dst` with the converted block that starts at `start`; returns
    /// its length (short only at the end of the file).
    pub(crate) fn fill<F: FileSource>(
        &mut self,
        files: &mut F,
        handle: F::Handle,
        dst: &mut [u8],
    ) -> Result<usize, FileError> {
        let mut pos = self.start;
        let mut out = 0usize;
        if let Some(c) = pos.carry.take() {
            if let Some(slot) = dst.get_mut(out) {
                *slot = c;
                out += 1;
            } else {
                pos.carry = Some(c);
            }
        }
        let mut chunk = [0u8; 256];
        'fill: while out < dst.len() {
            let got = files.read_at(handle, pos.offset, &mut chunk)?;
            if got == 0 {
                break;
            }
            for &byte in chunk.get(..got).unwrap_or(&[]) {
                let (first, second) = match byte {
                    b'\n' => (b'\r', Some(b'\n')),
                    b'\r' => (b'\r', Some(0)),
                    b => (b, None),
                };
                let Some(slot) = dst.get_mut(out) else {
                    break 'fill;
                };
                *slot = first;
                out += 1;
                pos.offset += 1;
                if let Some(second) = second {
                    match dst.get_mut(out) {
                        Some(slot) => {
                            *slot = second;
                            out += 1;
                        }
                        None => {
                            pos.carry = Some(second);
                            break 'fill;
                        }
                    }
                }
                if out == dst.len() {
                    break 'fill;
                }
            }
        }
        self.after = pos;
        self.pending = out as u64;
        Ok(out)
    }

    /// The block was acknowledged: the next one starts where it ended.
    pub(crate) fn advance(&mut self) {
        self.start = self.after;
        self.acked = self.acked.saturating_add(self.pending);
        self.pending = 0;
    }

    pub(crate) fn acked_bytes(&self) -> u64 {
        self.acked
    }
}
