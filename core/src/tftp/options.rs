//! Option negotiation (RFC 2347/2348/2349/7440), for reads and writes.

use super::Config;
use crate::time::Duration;
use crate::wire::tftp::{Mode, Request, TftpOptions, MAX_BLKSIZE, MIN_BLKSIZE};

/// What was agreed with the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Negotiated {
    /// Block size.
    pub blksize: u16,
    /// Blocks sent before waiting for an ACK.
    pub windowsize: u16,
    /// The most the server waits before retransmitting.
    pub timeout: Duration,
    /// The options acknowledged in the OACK (`None`: no OACK, DATA 1 first).
    pub oack: Option<TftpOptions>,
}

/// What the transfer runs with, in words: `blksize 1468, windowsize 16,
/// tsize 1048576` (block size and window always; `timeout` and `tsize`
/// when the OACK carried them); `blksize 512, windowsize 1 (no options)`
/// when there was no OACK.
impl core::fmt::Display for Negotiated {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "blksize {}, windowsize {}",
            self.blksize, self.windowsize
        )?;
        let Some(oack) = self.oack else {
            return f.write_str(" (no options)");
        };
        if let Some(t) = oack.timeout {
            write!(f, ", timeout {t} s")?;
        }
        if let Some(n) = oack.tsize {
            write!(f, ", tsize {n}")?;
        }
        Ok(())
    }
}

/// Agrees options per RFC 2347/2348/2349/7440: only options the client
/// asked for, with values the server accepts, go into the OACK. `size` is
/// the file's size on a read; on a write, pass the size the client
/// declared (its `tsize`), which is echoed.
pub fn negotiate(request: &Request<'_>, size: u64, config: &Config) -> Negotiated {
    let asked = request.options;
    let mut oack = TftpOptions::default();
    let cap = config.max_blksize.clamp(MIN_BLKSIZE, MAX_BLKSIZE);
    let blksize = match asked.blksize {
        Some(b) if b >= u64::from(MIN_BLKSIZE) => {
            let granted = u16::try_from(b).unwrap_or(MAX_BLKSIZE).min(cap);
            oack.blksize = Some(u64::from(granted));
            granted
        }
        _ => crate::wire::tftp::DEFAULT_BLKSIZE,
    };
    let netascii = request.mode == Mode::Netascii;
    let windowsize = match asked.windowsize {
        // netascii is sent one block at a time (as dnsmasq does): the
        // conversion state is carried block to block.
        Some(w) if w >= 1 && !netascii => {
            let granted = u16::try_from(w)
                .unwrap_or(u16::MAX)
                .min(config.max_windowsize.max(1));
            oack.windowsize = Some(u64::from(granted));
            granted
        }
        _ => 1,
    };
    let timeout = match asked.timeout {
        Some(t @ 1..=255) => {
            oack.timeout = Some(t);
            Duration::from_secs(t)
        }
        _ => config.timeout,
    };
    // tsize on a read request: the file's size; on a write, the client's
    // own figure echoed. Not for netascii, whose size on the wire is not
    // known before sending (dnsmasq does the same).
    if asked.tsize.is_some() && !netascii {
        oack.tsize = Some(size);
    }
    Negotiated {
        blksize,
        windowsize,
        timeout,
        oack: (!oack.is_empty()).then_some(oack),
    }
}
