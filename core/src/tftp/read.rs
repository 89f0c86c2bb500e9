//! One read transfer (RRQ): windowed sending with cumulative ACKs,
//! block-number rollover, loss recovery and retransmission.
//!
//! Blocks are numbered absolutely from 1 (`u64`); the wire carries the low
//! 16 bits, so block 65536 goes out as 0 (the rollover every common client
//! expects). An ACK is mapped back to the one absolute block in
//! `acked..next` it can name, so a late ACK from before a wrap never
//! rewinds the transfer.
//!
//! Loss and duplicates:
//! * a duplicate ACK (the block already acknowledged) never causes a send:
//!   no Sorcerer's Apprentice;
//! * a new ACK short of the end of a fully sent window means the client saw
//!   a gap (RFC 7440): sending resumes at once from the block after it;
//! * otherwise the retransmission timer resends the window from the block
//!   after the last acknowledged one. The timer adapts to the measured round
//!   trip (4 x smoothed RTT, Karn's rule, between `min_rto` and the
//!   negotiated timeout), doubling on each retry, for at most `max_retries`
//!   tries in a row from a silent client (a repeated ACK shows the client
//!   is alive and restarts the count, without sending anything).
//!
//! Amplification (RELIABILITY T16, in the spirit of RFC 9000 §8): until the
//! peer's first ACK proves that it is really at its address, a request buys
//! at most its first answer and [`UNPROVEN_RETRIES`] retransmissions of it
//! (the first answer is an OACK, or DATA 1 of at most 512 bytes for a
//! request without options). A repeated request from the same address
//! renews that allowance: a real client that lost everything still gets
//! through, and a forger pays one datagram for every three at most.

use core::net::SocketAddr;

use super::netascii::Netascii;
use super::options::Negotiated;
use super::{Config, Ended, Event, FileError, FileSource, FromFile, TransferId};
use crate::time::{Duration, Instant};
use crate::wire::tftp::{emit_data_header, ErrorCode, Mode, Repr};

/// The retransmission timeout before any round trip is measured.
const INITIAL_RTO: Duration = Duration::from_millis(200);

/// Retries that follow the measured RTT before the negotiated timeout sets
/// the pace.
const FAST_RETRIES: u8 = 3;

/// Retransmissions to a peer that has not acknowledged anything yet.
pub(crate) const UNPROVEN_RETRIES: u8 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// OACK sent (or to send), waiting for ACK 0.
    Oack,
    /// Sending data.
    Sending,
    /// Ended: the slot can be freed once any final ERROR is sent.
    Done,
}

/// A read transfer's state.
pub(crate) struct Read<H> {
    pub(crate) peer: SocketAddr,
    handle: H,
    size: u64,
    pub(crate) negotiated: Negotiated,
    netascii: Option<Netascii>,
    state: State,
    /// Highest block acknowledged (0: none yet).
    acked: u64,
    /// Next block to send.
    next: u64,
    /// Last block of the window being sent.
    window_end: u64,
    /// The final block (known from the size for octet, found while
    /// reading for netascii).
    last: u64,
    /// Whether there is something to send now.
    send_now: bool,
    /// When to retransmit (or give up).
    deadline: Instant,
    retries: u8,
    /// The peer has acknowledged something: its address is real.
    proven: bool,
    rto: Duration,
    srtt: Option<Duration>,
    /// When the window (or OACK) went out, for an RTT sample.
    sent_at: Instant,
    /// The window being sent holds blocks sent before (no RTT sample).
    resending: bool,
    pub(crate) ended: Option<Ended>,
    started: Instant,
    pub(crate) retransmits: u64,
    pub(crate) bytes: u64,
}

impl<H: Copy> Read<H> {
    pub(crate) fn new(
        now: Instant,
        peer: SocketAddr,
        handle: H,
        size: u64,
        mode: Mode,
        negotiated: Negotiated,
    ) -> Self {
        let blksize = u64::from(negotiated.blksize.max(1));
        let netascii = (mode == Mode::Netascii).then(Netascii::default);
        let last = if netascii.is_some() {
            u64::MAX
        } else {
            (size / blksize).saturating_add(1)
        };
        Self {
            peer,
            handle,
            size,
            negotiated,
            netascii,
            state: if negotiated.oack.is_some() {
                State::Oack
            } else {
                State::Sending
            },
            acked: 0,
            next: 1,
            window_end: 1,
            last,
            send_now: true,
            deadline: now,
            retries: 0,
            proven: false,
            // Until the first RTT sample: short enough to beat clients
            // that abort after one lost handshake packet (atftp: 1 s).
            rto: negotiated.timeout.min(INITIAL_RTO),
            srtt: None,
            sent_at: now,
            resending: false,
            ended: None,
            started: now,
            retransmits: 0,
            bytes: 0,
        }
    }

    pub(crate) fn handle(&self) -> H {
        self.handle
    }

    /// Whether the slot can be freed.
    pub(crate) fn is_finished(&self) -> bool {
        self.state == State::Done
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Done => None,
            _ if self.send_now => None,
            _ => Some(self.deadline),
        }
    }

    pub(crate) fn wants_to_send(&self) -> bool {
        self.send_now && self.state != State::Done
    }

    fn end(&mut self, how: Ended) {
        self.state = State::Done;
        self.send_now = false;
        self.ended = Some(how);
    }

    /// Sets the retransmission deadline. The first retries follow the RTT
    /// (quick recovery from a lost window); later ones wait at least the
    /// negotiated timeout, doubling up to four times it, so a client that
    /// stays quiet until its own timeout (atftp waits about 5 s) is not
    /// given up on before it speaks: about 27 s of patience in all with the
    /// defaults, and still `max_retries` datagrams for a silent peer.
    fn arm(&mut self, now: Instant) {
        let fast = self.rto.saturating_mul(1u64 << self.retries.min(6));
        let slow = match self.retries.checked_sub(FAST_RETRIES) {
            Some(k) => self.negotiated.timeout.saturating_mul(1u64 << k.min(2)),
            None => Duration::ZERO,
        };
        self.deadline = now
            + fast
                .max(slow)
                .min(self.negotiated.timeout.saturating_mul(4));
    }

    fn sample_rtt(&mut self, now: Instant, config: &Config) {
        if self.resending {
            return; // Karn: no sample from a resent window
        }
        let sample = now - self.sent_at;
        let srtt = match self.srtt {
            None => sample,
            Some(s) => Duration::from_micros(
                (s.total_micros().saturating_mul(7) + sample.total_micros()) / 8,
            ),
        };
        self.srtt = Some(srtt);
        self.rto = srtt
            .saturating_mul(4)
            .max(config.min_rto)
            .min(self.negotiated.timeout);
    }

    /// An ACK (or ERROR) from the client.
    pub(crate) fn on_datagram(&mut self, now: Instant, repr: &Repr<'_>, config: &Config) {
        match *repr {
            Repr::Ack { block } => self.on_ack(now, block, config),
            Repr::Error { code, .. } => self.end(Ended::Aborted(code)),
            // A client sends nothing else on a read transfer; ignore it.
            _ => {}
        }
    }

    fn on_ack(&mut self, now: Instant, block: u16, config: &Config) {
        match self.state {
            State::Oack if block == 0 => {
                self.proven = true;
                self.sample_rtt(now, config);
                self.state = State::Sending;
                self.retries = 0;
                self.open_window(1);
            }
            State::Sending => {
                // The one block in acked+1..next this ACK can name.
                let ahead = u64::from(block.wrapping_sub(self.acked as u16));
                let abs = self.acked.saturating_add(ahead);
                if ahead == 0 {
                    // A repeated ACK sends nothing (no Sorcerer's Apprentice),
                    // but shows the client is alive: the give-up count is for
                    // silent peers, not for ones losing windows to the network.
                    self.retries = 0;
                    return;
                }
                if abs >= self.next {
                    return; // stale or not yet sent: no send
                }
                self.proven = true;
                let window_sent = self.next > self.window_end || self.next > self.last;
                if abs >= self.window_end.min(self.last) {
                    self.sample_rtt(now, config);
                }
                self.acked = abs;
                self.retries = 0;
                if let Some(n) = self.netascii.as_mut() {
                    n.advance();
                }
                if self.acked >= self.last {
                    self.end(Ended::Finished);
                    return;
                }
                if window_sent && abs < self.next.saturating_sub(1) {
                    // A gap: the client has everything up to `abs` only.
                    self.retransmits = self.retransmits.saturating_add(self.next - 1 - abs);
                    self.resending = true;
                    self.open_window(abs + 1);
                } else if window_sent {
                    self.resending = false;
                    self.open_window(abs + 1);
                } else {
                    // An early ACK while the window is still going out:
                    // slide its end, keep sending.
                    self.window_end = self
                        .window_end
                        .max(abs.saturating_add(u64::from(self.negotiated.windowsize)));
                }
            }
            _ => {}
        }
    }

    fn open_window(&mut self, from: u64) {
        self.next = from;
        self.window_end = from
            .saturating_add(u64::from(self.negotiated.windowsize))
            .saturating_sub(1);
        self.send_now = true;
    }

    pub(crate) fn on_timeout(&mut self, now: Instant, config: &Config) {
        if self.state == State::Done || self.send_now || now < self.deadline {
            return;
        }
        self.retries = self.retries.saturating_add(1);
        let limit = if self.proven {
            config.max_retries
        } else {
            config.max_retries.min(UNPROVEN_RETRIES)
        };
        if self.retries > limit {
            self.end(Ended::TimedOut);
            return;
        }
        self.resend_first_unacked();
    }

    /// The same request again from the same address while nothing is
    /// acknowledged: the client is there but lost what was sent, so the
    /// timer gets a new allowance of retransmissions. Nothing goes out at
    /// once (a second OACK right after a doubled request confuses some
    /// boot ROMs: Raspberry Pi #1041). Once the peer is proven, a repeated
    /// request changes nothing.
    pub(crate) fn on_repeated_request(&mut self) {
        if !self.proven {
            self.retries = 0;
        }
    }

    fn resend_first_unacked(&mut self) {
        self.resending = true;
        match self.state {
            State::Oack => self.send_now = true,
            _ => {
                self.retransmits = self
                    .retransmits
                    .saturating_add(self.next.saturating_sub(self.acked + 1));
                self.open_window(self.acked + 1);
            }
        }
    }

    /// Writes the next datagram for the client into `buf`.
    pub(crate) fn poll_transmit<F: FileSource<Handle = H>>(
        &mut self,
        now: Instant,
        files: &mut F,
        buf: &mut [u8],
    ) -> Option<(usize, Option<FromFile<H>>)> {
        if !self.send_now {
            return None;
        }
        match self.state {
            State::Done => None,
            State::Oack => {
                let options = self.negotiated.oack.unwrap_or_default();
                self.send_now = false;
                self.sent_at = now;
                self.arm(now);
                Repr::Oack { options }.emit(buf).ok().map(|len| (len, None))
            }
            State::Sending => {
                let block = self.next;
                let Ok((len, from_file)) = self.read_block(files, block, buf) else {
                    self.end(Ended::Failed(
                        ErrorCode::NotDefined,
                        "read error on the server",
                    ));
                    return Repr::Error {
                        code: ErrorCode::NotDefined,
                        message: b"read error on the server",
                    }
                    .emit(buf)
                    .ok()
                    .map(|len| (len, None));
                };
                if len < usize::from(self.negotiated.blksize) {
                    self.last = block; // a short block ends the file
                }
                self.bytes = self.bytes.saturating_add(len as u64);
                self.next = block.saturating_add(1);
                if self.next > self.window_end || self.next > self.last {
                    self.send_now = false;
                    self.sent_at = now;
                    self.arm(now);
                }
                if from_file.is_some() {
                    Some((4, from_file))
                } else {
                    Some((len.saturating_add(4), None))
                }
            }
        }
    }

    fn read_block<F: FileSource<Handle = H>>(
        &mut self,
        files: &mut F,
        block: u64,
        buf: &mut [u8],
    ) -> Result<(usize, Option<FromFile<H>>), FileError> {
        let blksize = usize::from(self.negotiated.blksize);
        emit_data_header(block as u16, buf).map_err(|_| FileError::Io)?;
        let dst = buf
            .get_mut(4..blksize.saturating_add(4))
            .ok_or(FileError::Io)?;
        if let Some(n) = self.netascii.as_mut() {
            return n.fill(files, self.handle, dst).map(|len| (len, None));
        }
        let offset = block.saturating_sub(1).saturating_mul(blksize as u64);
        if offset >= self.size {
            return Ok((0, None));
        }
        let want = usize::try_from(self.size - offset)
            .unwrap_or(usize::MAX)
            .min(blksize);
        if files.sends_from_file(self.handle, want) {
            let from_file = FromFile {
                handle: self.handle,
                offset,
                len: want,
            };
            return Ok((want, Some(from_file)));
        }
        let dst = dst.get_mut(..want).ok_or(FileError::Io)?;
        let mut done = 0usize;
        // A read may return less than asked; fill the block unless the file
        // really ends (shrank under us).
        while done < want {
            let Some(rest) = dst.get_mut(done..) else {
                break;
            };
            let got = files.read_at(self.handle, offset.saturating_add(done as u64), rest)?;
            if got == 0 {
                break;
            }
            done = done.saturating_add(got);
        }
        Ok((done, None))
    }

    pub(crate) fn event(&self, id: TransferId, now: Instant) -> Option<Event> {
        Some(self.ended?.event(
            id,
            self.peer,
            self.bytes_acked(),
            self.retransmits,
            now - self.started,
        ))
    }

    fn bytes_acked(&self) -> u64 {
        if let Some(n) = &self.netascii {
            return n.acked_bytes();
        }
        self.acked
            .saturating_mul(u64::from(self.negotiated.blksize))
            .min(self.size)
    }
}
