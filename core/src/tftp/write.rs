//! One write transfer (WRQ, an upload): receiving blocks in order, ACKing
//! each window, a size limit, and the dally after the last ACK.
//!
//! * Blocks are written as they arrive in order; a block past a gap is
//!   dropped and answered, once until progress resumes, with an ACK of the
//!   last block in order (RFC 7440), so the client resends from there.
//! * A block already received (its ACK was lost) is ACKed again; with the
//!   server's single gap ACK per stall this cannot grow into a storm.
//! * The size limit is checked against the client's declared `tsize` before
//!   anything is written, and against every block: past it, ERROR 3 and the
//!   partial file is dropped (`FileSource::finish(.., false)`).
//! * After the final (short) block is ACKed, the transfer stays for a while
//!   to ACK a retransmitted final block (RFC 1350's dally), then ends.

use core::net::SocketAddr;

use super::options::Negotiated;
use super::{Config, Ended, Event, FileError, FileSource, TransferId};
use crate::time::Instant;
use crate::wire::tftp::{ErrorCode, Repr};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Receiving,
    /// The final ACK is sent; ACK the final block again if it comes again.
    Dallying,
    Done,
}

pub(crate) struct Write<H> {
    pub(crate) peer: SocketAddr,
    handle: H,
    pub(crate) negotiated: Negotiated,
    max_size: u64,
    state: State,
    /// Blocks received in order (the last one ACKable).
    received: u64,
    /// Blocks received since the last ACK.
    in_window: u16,
    oack_pending: bool,
    ack_pending: bool,
    gap_acked: bool,
    error: Option<(ErrorCode, &'static str)>,
    deadline: Instant,
    retries: u8,
    pub(crate) bytes: u64,
    started: Instant,
    pub(crate) ended: Option<Ended>,
}

impl<H: Copy> Write<H> {
    pub(crate) fn new(
        now: Instant,
        peer: SocketAddr,
        handle: H,
        negotiated: Negotiated,
        max_size: u64,
    ) -> Self {
        let oack = negotiated.oack.is_some();
        Self {
            peer,
            handle,
            negotiated,
            max_size,
            state: State::Receiving,
            received: 0,
            in_window: 0,
            oack_pending: oack,
            ack_pending: !oack,
            gap_acked: false,
            error: None,
            deadline: now,
            retries: 0,
            bytes: 0,
            started: now,
            ended: None,
        }
    }

    pub(crate) fn handle(&self) -> H {
        self.handle
    }

    /// Whether the upload completed (its file is kept).
    pub(crate) fn complete(&self) -> bool {
        self.ended == Some(Ended::Finished)
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.state == State::Done && !self.wants_to_send()
    }

    pub(crate) fn wants_to_send(&self) -> bool {
        self.error.is_some() || self.oack_pending || self.ack_pending
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Done => None,
            _ if self.wants_to_send() => None,
            _ => Some(self.deadline),
        }
    }

    fn fail(&mut self, code: ErrorCode, message: &'static str) {
        self.error = Some((code, message));
        self.oack_pending = false;
        self.ack_pending = false;
        self.state = State::Done;
        self.ended = Some(Ended::Failed(code, message));
    }

    pub(crate) fn on_datagram<F: FileSource<Handle = H>>(
        &mut self,
        now: Instant,
        repr: &Repr<'_>,
        files: &mut F,
    ) {
        match *repr {
            Repr::Data { block, data } => self.on_data(now, block, data, files),
            Repr::Error { code, .. } => {
                self.state = State::Done;
                self.oack_pending = false;
                self.ack_pending = false;
                self.ended = Some(Ended::Aborted(code));
            }
            _ => {}
        }
    }

    fn on_data<F: FileSource<Handle = H>>(
        &mut self,
        now: Instant,
        block: u16,
        data: &[u8],
        files: &mut F,
    ) {
        let ahead = block.wrapping_sub(self.received as u16);
        match self.state {
            State::Done => {}
            // The final block again: its ACK was lost.
            State::Dallying if ahead == 0 => self.ack_pending = true,
            State::Dallying => {}
            State::Receiving if ahead == 1 => {
                let blksize = usize::from(self.negotiated.blksize);
                if data.len() > blksize {
                    return self.fail(
                        ErrorCode::IllegalOperation,
                        "block larger than the agreed blksize",
                    );
                }
                let offset = self.received.saturating_mul(blksize as u64);
                if offset.saturating_add(data.len() as u64) > self.max_size {
                    return self.fail(
                        ErrorCode::DiskFull,
                        "upload exceeds the server's size limit",
                    );
                }
                if let Err(e) = files.write_at(self.handle, offset, data) {
                    return match e {
                        FileError::Full => self.fail(ErrorCode::DiskFull, "disk full"),
                        _ => self.fail(ErrorCode::NotDefined, "write error on the server"),
                    };
                }
                self.received = self.received.saturating_add(1);
                self.bytes = self.bytes.saturating_add(data.len() as u64);
                self.oack_pending = false;
                self.gap_acked = false;
                self.retries = 0;
                self.in_window = self.in_window.saturating_add(1);
                if data.len() < blksize {
                    self.ack_pending = true;
                    self.state = State::Dallying;
                    self.ended = Some(Ended::Finished);
                    self.deadline = now + self.negotiated.timeout.saturating_mul(2);
                } else if self.in_window >= self.negotiated.windowsize {
                    self.in_window = 0;
                    self.ack_pending = true;
                } else {
                    self.deadline = now + self.negotiated.timeout;
                }
            }
            // Already have it (our ACK was lost): ACK again.
            State::Receiving if ahead == 0 || ahead >= 0x8000 => {
                if self.received > 0 {
                    self.ack_pending = true;
                }
            }
            // A gap: say once where we are.
            State::Receiving => {
                if !self.gap_acked {
                    self.gap_acked = true;
                    self.in_window = 0;
                    self.ack_pending = true;
                }
            }
        }
    }

    pub(crate) fn on_timeout(&mut self, now: Instant, config: &Config) {
        if self.state == State::Done || self.wants_to_send() || now < self.deadline {
            return;
        }
        if self.state == State::Dallying {
            self.state = State::Done;
            return;
        }
        self.retries = self.retries.saturating_add(1);
        if self.retries > config.max_retries {
            self.state = State::Done;
            self.ended = Some(Ended::TimedOut);
            return;
        }
        // Say again where we are (the OACK if nothing came yet).
        self.in_window = 0;
        if self.received == 0 && self.negotiated.oack.is_some() {
            self.oack_pending = true;
        } else {
            self.ack_pending = true;
        }
    }

    pub(crate) fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        let repr = if let Some((code, message)) = self.error.take() {
            Repr::Error {
                code,
                message: message.as_bytes(),
            }
        } else if self.oack_pending {
            self.oack_pending = false;
            Repr::Oack {
                options: self.negotiated.oack.unwrap_or_default(),
            }
        } else if self.ack_pending {
            self.ack_pending = false;
            Repr::Ack {
                block: self.received as u16,
            }
        } else {
            return None;
        };
        if self.state == State::Receiving {
            let backoff = self
                .negotiated
                .timeout
                .saturating_mul(1u64 << self.retries.min(2));
            self.deadline = now + backoff;
        }
        repr.emit(buf).ok()
    }

    pub(crate) fn event(&self, id: TransferId, now: Instant) -> Option<Event> {
        Some(
            self.ended?
                .event(id, self.peer, self.bytes, 0, now - self.started),
        )
    }
}
